"""Exercise checks: print a pass or a specific hint; never raise on an unattempted answer.

An `Exercise` knows its reference solution and its common mistakes (a wrong answer and the
hint it earns). The tests call every registered exercise with the solution and with each
mistake, so adding an exercise here is enough to have it tested.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

_REGISTRY: dict[str, "Exercise"] = {}


def _load_all() -> None:
    """Import every notebook's exercise module (each registers its exercises); cheap after the first call."""
    package = importlib.import_module(__package__)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("nb"):
            importlib.import_module(f"{__package__}.{module.name}")


def _unattempted(answer: Any) -> bool:
    return answer is None or answer is Ellipsis


@dataclass(frozen=True)
class Exercise:
    """One checked exercise.

    key: e.g. "01.tokens_336"; task: one line saying what to compute;
    solution: a zero-argument callable returning the reference answer;
    compare: (answer, reference) -> True if the answer is right (may raise: counts as wrong);
    mistakes: (wrong answer, hint) pairs for the common errors; hint: the hint for any other error.
    """

    key: str
    task: str
    solution: Callable[[], Any]
    compare: Callable[[Any, Any], bool]
    hint: str
    mistakes: tuple[tuple[Any, str], ...] = field(default_factory=tuple)

    def grade(self, answer: Any) -> tuple[str, str]:
        """('pass' | 'todo' | 'hint', message) for an answer."""
        if _unattempted(answer):
            return "todo", f"[TODO] {self.key}: not attempted yet. {self.task} Hint: {self.hint}"
        reference = self.solution()
        try:
            right = bool(self.compare(answer, reference))
        except Exception as err:  # a learner's function may fail in any way: report, don't raise
            return "hint", f"[HINT] {self.key}: {_mismatch(answer, reference, err)} Hint: {self.hint}"
        if right:
            return "pass", f"[PASS] {self.key}: correct."
        for wrong, hint in self.mistakes:
            try:
                if self.compare(answer, wrong) and not self.compare(wrong, reference):
                    return "hint", f"[HINT] {self.key}: not yet. {hint}"
            except Exception:
                continue
        return "hint", f"[HINT] {self.key}: not yet. {self.hint}"


def _kind(x: Any) -> str:
    """What a value is, in a learner's words."""
    if callable(x):
        return "a function"
    if isinstance(x, (bool, np.bool_)):
        return "True/False"
    if isinstance(x, (int, float, np.integer, np.floating)):
        return "a number"
    if isinstance(x, str):
        return "a string"
    if hasattr(x, "shape"):
        return f"an array of shape {tuple(x.shape)}"
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)} items"
    return f"a {type(x).__name__}"


def _mismatch(answer: Any, reference: Any, err: Exception) -> str:
    """Why an answer could not be compared, about its value or type rather than the grader's internals."""
    got, want = _kind(answer), _kind(reference)
    if got != want:
        return f"your answer is {got} ({_short(answer)}), but this exercise expects {want}."
    if callable(answer):
        return f"your function failed when called: {type(err).__name__}: {err}."
    return f"your answer ({_short(answer)}) cannot be compared with the expected {want}."


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (keys are unique)."""
    if exercise.key in _REGISTRY:
        raise ValueError(f"exercise key {exercise.key!r} is registered twice")
    if not exercise.mistakes:
        raise ValueError(f"exercise {exercise.key!r} needs at least one common mistake with its hint")
    _REGISTRY[exercise.key] = exercise
    return exercise


def exercises(prefix: str = "") -> dict[str, Exercise]:
    """Registered exercises whose key starts with `prefix` (e.g. "01.")."""
    _load_all()
    return {k: v for k, v in sorted(_REGISTRY.items()) if k.startswith(prefix)}


class CheckResult:
    """Truthy only on a pass; shows nothing as a cell result (the message is already printed)."""

    def __init__(self, passed: bool) -> None:
        self.passed = passed

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass


def check(key: str, answer: Any) -> CheckResult:
    """Print whether `answer` solves exercise `key`; the result is truthy only on a pass."""
    _load_all()
    if not isinstance(key, str) or (key not in _REGISTRY and isinstance(answer, str) and answer in _REGISTRY):
        if isinstance(answer, str) and answer in _REGISTRY:
            print(f"[HINT] the arguments are swapped: call check({answer!r}, your_answer), the exercise name first")
        else:
            print(f"[HINT] the first argument must be an exercise name such as {next(iter(_REGISTRY))!r}, "
                  f"got {_kind(key)} ({_short(key)})")
        return CheckResult(False)
    if key not in _REGISTRY:
        print(f"[HINT] no exercise called {key!r}; known: {', '.join(_REGISTRY)}")
        return CheckResult(False)
    status, message = _REGISTRY[key].grade(answer)
    print(message)
    return CheckResult(status == "pass")


# ---- comparisons -------------------------------------------------------------------------


def close(rel: float = 1e-3, abs_: float = 1e-6) -> Callable[[Any, Any], bool]:
    """Compare numbers or arrays within a tolerance (shapes must match)."""

    def compare(answer: Any, reference: Any) -> bool:
        a = np.asarray(answer.detach() if hasattr(answer, "detach") else answer, dtype=float)
        b = np.asarray(reference.detach() if hasattr(reference, "detach") else reference, dtype=float)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=rel, atol=abs_))

    return compare


def equal(answer: Any, reference: Any) -> bool:
    """Exact equality; strings compare case- and space-insensitively."""
    if isinstance(answer, str) and isinstance(reference, str):
        return " ".join(answer.lower().split()) == " ".join(reference.lower().split())
    if isinstance(answer, (bool, np.bool_)) != isinstance(reference, (bool, np.bool_)):
        return False
    if isinstance(answer, float) and math.isnan(answer):
        return False
    result = answer == reference
    return bool(np.all(result)) if isinstance(result, np.ndarray) else bool(result)


def same_function(
    cases: Callable[[], list[tuple]], outputs_equal: Callable[[Any, Any], bool] = close()
) -> Callable[[Any, Any], bool]:
    """Compare two functions by their outputs on the argument tuples `cases()` returns."""

    def compare(answer: Any, reference: Any) -> bool:
        if not callable(answer):
            raise TypeError(f"expected a function, got {type(answer).__name__}")
        return all(outputs_equal(answer(*args), reference(*args)) for args in cases())

    return compare
