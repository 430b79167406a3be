"""The scored quiz and the mock interview: pure functions the widgets call.

Grading never raises on what a learner types: empty, non-numeric or out-of-range input comes back
as a Grade with `valid=False` and a message saying what to type. Taught in notebook 08, sections 2 and 5.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .bank import DIFFICULTIES, TOPICS, Question, model_answer, numeric_answer, where_taught

# Multipliers a learner may append to a number: decimal (k, M, G, T) and binary byte units.
_SUFFIXES: dict[str, float] = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "b": 1,
                               "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
                               "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40, "%": 0.01}
_NUMBER = re.compile(r"^([-+]?(?:\d[\d,_]*\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*([a-z%]*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Grade:
    """valid: the input could be read (else `message` says what to type); correct: right within tolerance."""

    valid: bool
    correct: bool
    message: str


def parse_number(text: Any) -> float:
    """A number from what a learner typed: '2928', '2,928', '1.4e6', '1.43 GiB', '71.5%', '9.2 T'.
    Raises ValueError with a message saying what is accepted."""
    if isinstance(text, bool):
        raise ValueError(f"expected a number, got {text!r}")
    if isinstance(text, (int, float, np.integer, np.floating)):
        value = float(text)
    else:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("no answer given: type a number, e.g. 576, 2,928, 1.4e6 or 1.43 GiB")
        match = _NUMBER.match(text.strip())
        if not match or match.group(2).lower() not in _SUFFIXES:
            raise ValueError(f"{text!r} is not a number: type digits (commas allowed), optionally with e-notation "
                             f"or a unit such as k, M, G, KiB, MiB, GiB or %")
        value = float(match.group(1).replace(",", "").replace("_", "")) * _SUFFIXES[match.group(2).lower()]
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def grade_number(response: Any, answer: float, tolerance: float, unit: str = "") -> Grade:
    """Right if |response - answer| <= tolerance * |answer| (tolerance 0: exact after rounding to 1e-9)."""
    try:
        value = parse_number(response)
    except ValueError as err:
        return Grade(False, False, str(err))
    allowed = max(tolerance * abs(answer), 1e-9 * max(1.0, abs(answer)))
    right = abs(value - answer) <= allowed
    within = f"within {tolerance:.1%}" if tolerance else "exactly"
    unit = f" {unit}" if unit else ""
    if right:
        return Grade(True, True, f"right: {_fmt(answer)}{unit} ({within})")
    return Grade(True, False, f"not quite: you said {_fmt(value)}, the answer is {_fmt(answer)}{unit} "
                              f"(accepted {within})")


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:.4g}"


def grade_choice(response: Any, q: Question) -> Grade:
    """A multiple-choice answer given as a letter ('B'), an index (1) or the choice's text."""
    n = len(q.choices)
    letters = "".join(chr(65 + i) for i in range(n))
    index = None
    if isinstance(response, (int, np.integer)) and not isinstance(response, bool):
        index = int(response)
    elif isinstance(response, str) and response.strip():
        text = response.strip()
        if len(text) == 1 and text.upper() in letters:
            index = letters.index(text.upper())
        else:
            normalised = [" ".join(c.lower().split()) for c in q.choices]
            if " ".join(text.lower().split()) in normalised:
                index = normalised.index(" ".join(text.lower().split()))
    if index is None or not 0 <= index < n:
        return Grade(False, False, f"answer with one of the letters {', '.join(letters)} (got {response!r})")
    right = index == q.correct
    return Grade(True, right, ("right: " if right else f"not quite: the answer is {letters[q.correct]}, ")
                 + q.choices[q.correct])


def grade_answer(q: Question, response: Any) -> Grade:
    """Grade a quiz response to a numeric or multiple-choice question."""
    if q.kind == "numeric":
        return grade_number(response, numeric_answer(q), q.tolerance, q.unit)
    if q.choices:
        return grade_choice(response, q)
    return Grade(False, False, f"question {q.id} is open ({q.kind}): score it yourself against its rubric")


def select_questions(questions: Sequence[Question], *, topic: str | None = None, difficulty: str | None = None,
                     n: int = 5, seed: int = 0, quizzable: bool = True) -> list[Question]:
    """`n` questions drawn without replacement (seeded) from those matching topic and difficulty
    (None = any); only numeric and multiple-choice ones when `quizzable`. ValueError if none match."""
    if topic is not None and topic not in TOPICS:
        raise ValueError(f"topic must be one of {list(TOPICS)} or None, got {topic!r}")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be one of {list(DIFFICULTIES)} or None, got {difficulty!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a whole number >= 1, got {n!r}")
    pool = [q for q in questions if (topic is None or q.topic == topic)
            and (difficulty is None or q.difficulty == difficulty) and (q.quizzable or not quizzable)]
    if not pool:
        raise ValueError(f"no {'quiz ' if quizzable else ''}questions for topic {topic!r} and difficulty "
                         f"{difficulty!r}: widen the choice (None = any)")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(pool), size=min(int(n), len(pool)), replace=False)
    return [pool[i] for i in sorted(picked)]


@dataclass(frozen=True)
class QuizReport:
    """Per-question grades, the score, and the score by topic with what to revisit."""

    questions: tuple[Question, ...]
    grades: tuple[Grade, ...]

    @property
    def score(self) -> int:
        return sum(g.correct for g in self.grades)

    def by_topic(self) -> dict[str, tuple[int, int]]:
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for q, g in zip(self.questions, self.grades):
            out[q.topic][0] += int(g.correct)
            out[q.topic][1] += 1
        return {t: (r, n) for t, (r, n) in out.items()}

    def revisit(self) -> list[str]:
        """Where each missed question is taught, once each, in quiz order."""
        seen: list[str] = []
        for q, g in zip(self.questions, self.grades):
            if not g.correct and where_taught(q) not in seen:
                seen.append(where_taught(q))
        return seen

    def text(self) -> str:
        lines = [f"score: {self.score} / {len(self.grades)}"]
        for topic, (right, n) in self.by_topic().items():
            lines.append(f"  {topic:12s} {right} / {n}" + ("" if right == n else "  <- revisit"))
        if self.revisit():
            lines.append("revisit:")
            lines += [f"  - {w}" for w in self.revisit()]
        return "\n".join(lines)


def score_quiz(questions: Sequence[Question], responses: Sequence[Any]) -> QuizReport:
    """Grade every response (invalid input counts as wrong, with its message kept)."""
    if len(questions) != len(responses):
        raise ValueError(f"got {len(responses)} responses for {len(questions)} questions: give one per question "
                         "(None for a skipped one)")
    return QuizReport(tuple(questions), tuple(grade_answer(q, r) for q, r in zip(questions, responses)))


def feedback(q: Question, grade: Grade) -> str:
    """What the quiz shows after an answer: the verdict, the model answer and where it is taught."""
    return f"{grade.message}\n\nModel answer: {model_answer(q)}\n\nTaught in: {where_taught(q)}"


# ---- mock interview --------------------------------------------------------------------------

def mock_interview(questions: Sequence[Question], *, n: int = 5, seed: int = 0) -> list[Question]:
    """`n` questions from `n` different topics (seeded), at least one open design or debugging
    question when the bank has one, in a mixed order."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(TOPICS):
        raise ValueError(f"n must be a whole number in [1, {len(TOPICS)}] (one question per topic), got {n!r}")
    rng = np.random.default_rng(seed)
    topics = [t for t in TOPICS if any(q.topic == t for q in questions)]
    if len(topics) < n:
        raise ValueError(f"the bank covers {len(topics)} topics, fewer than n={n}")
    chosen_topics = [topics[i] for i in rng.choice(len(topics), size=n, replace=False)]
    picked = []
    for t in chosen_topics:
        pool = [q for q in questions if q.topic == t]
        picked.append(pool[int(rng.integers(len(pool)))])
    if not any(q.kind in ("design", "debugging") for q in picked):
        open_pool = [q for q in questions if q.kind in ("design", "debugging") and q.topic in chosen_topics]
        if open_pool:
            swap = open_pool[int(rng.integers(len(open_pool)))]
            picked[chosen_topics.index(swap.topic)] = swap
    return picked


def mock_report(questions: Sequence[Question], seconds: Sequence[float] | None = None,
                minutes_per_question: float = 4.0) -> str:
    """The end of a mock interview: each question with the time taken, the model answer, the
    follow-up and the rubric to score yourself (one point per rubric item)."""
    if seconds is not None and len(seconds) != len(questions):
        raise ValueError(f"got {len(seconds)} timings for {len(questions)} questions")
    lines = [f"Mock interview: {len(questions)} question{'s' if len(questions) != 1 else ''}, "
             f"{minutes_per_question:g} minutes each suggested."]
    for i, q in enumerate(questions, start=1):
        took = "" if seconds is None else f" (you took {seconds[i - 1] / 60:.1f} min"
        took += "" if seconds is None else (", over time)" if seconds[i - 1] > 60 * minutes_per_question else ")")
        lines += ["", f"Q{i} [{q.topic}, {q.kind}, {q.difficulty}]{took}: {q.question}",
                  f"  Model answer: {model_answer(q)}", f"  Follow-up: {q.follow_up}"]
        if q.rubric:
            lines.append("  Score yourself, one point each: " + " | ".join(q.rubric))
        lines.append(f"  Taught in: {where_taught(q)}")
    return "\n".join(lines)
