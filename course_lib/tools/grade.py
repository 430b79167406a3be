"""Grade students' notebooks: re-run every exercise check on the answers they contain.

    python -m course_lib.grade submissions/                 # read the answers, run no student code
    python -m course_lib.grade submissions/ --execute       # run each notebook first (network off)
    python -m course_lib.grade a.ipynb b.ipynb --csv out.csv --timeout 300

Without --execute nothing a student wrote is run. An answer that is a value written in the cell
(`answer = 3072`, `answer = 16 * 48 * 48 * 3`, `answer = [True, False]`, `math.log(256)`) is
evaluated by a small literal-only evaluator and re-checked. An answer computed by code (a
function, `len(sw.HELD_OUT)`, ...) cannot be re-checked without running the notebook: the grader
then reports what the notebook's saved output says, marked "saved output (unverified)": a
student can edit saved outputs, so only --execute verifies such answers.

With --execute each notebook runs in a fresh kernel, in a child process and a temporary folder,
with the network off (a private network namespace via `unshare -rn` where Linux allows it, and
the course's loopback-only Python guard in any case), HF offline and a per-notebook time limit; a
cell that raises does not stop the run (later exercises are still graded), and a timeout is
reported. Every `check(...)` the notebook calls is recorded with the grade the registered exercise
gives its answer.

Student code is untrusted: --execute runs it with your permissions, and code that runs in the
same process as the check can forge the check's result. Run it in a throwaway container or
user account. Taught nowhere: this is the teacher's tool (docs/teaching.md, "Grading").
"""
from __future__ import annotations

import argparse
import ast
import csv
import functools
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..base.paths import REPO_DIR

NETWORK_GUARD_DIR = REPO_DIR / "tests" / "network_guard"
KEY = re.compile(r"^\d\d\.[\w.]+$")
SAVED_LINE = re.compile(r"^\[(PASS|HINT|TODO)\] (\S+?):(.*)$", re.MULTILINE)
CHECK_STATUS = {"pass": "pass", "hint": "wrong", "todo": "not attempted"}
SAVED_STATUS = {"PASS": "pass", "HINT": "wrong", "TODO": "not attempted"}
SHORT = {"pass": "pass", "wrong": "WRONG", "not attempted": "-", "not graded": "?", "missing": "missing",
         "error": "ERROR", "timeout": "TIMEOUT"}


@dataclass(frozen=True)
class Grade:
    """One student's result on one exercise (one row of the CSV)."""

    student: str
    notebook: str
    exercise: str
    status: str  # pass, wrong, not attempted, not graded, missing, error or timeout
    source: str  # "re-checked", "executed", "saved output (unverified)" or "-"
    message: str  # the check's message (its hint when wrong), or what went wrong


# ---- finding notebooks and their exercise cells ---------------------------------------------

def find_notebooks(paths: Iterable[str | Path]) -> list[Path]:
    """Every .ipynb named or found (recursively) under the given folders, checkpoints skipped."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"grade: PATH {str(raw)!r} is not a notebook (.ipynb) or a folder of notebooks; "
                             "pass the students' .ipynb files or the folder that holds them.")
    if not found:
        raise SystemExit(f"grade: no .ipynb files under {[str(p) for p in paths]}; pass the students' notebooks.")
    return found


def student_name(path: Path) -> str:
    """The folder name for `alice/00_start_here.ipynb` (a course notebook's name), else the file stem."""
    return path.parent.name if re.match(r"^\d\d_", path.name) and path.parent.name else path.stem


def _source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def _parse(source: str) -> ast.Module | None:
    """The cell's code without IPython magics and shell lines; None if it does not parse."""
    lines = [("pass" if line.lstrip().startswith(("%", "!")) else line) for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _check_calls(tree: ast.Module) -> list[tuple[int, str, ast.Call]]:
    """(top-level statement index, key, call) for every check("KEY", ...) call in a cell."""
    calls = []
    for index, statement in enumerate(tree.body):
        for node in ast.walk(statement):
            if (isinstance(node, ast.Call) and node.args
                    and (getattr(node.func, "id", None) == "check" or getattr(node.func, "attr", None) == "check")
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                calls.append((index, node.args[0].value, node))
    return calls


def exercises(prefix: str = "") -> dict:
    """The registered exercises (imported here, not at the top, so that the worker process stays light)."""
    from ..exercises import exercises as registered

    return registered(prefix)


def _missing(student: str, path: Path, key: str) -> Grade:
    return Grade(student, str(path), key, "missing", "-", f"no check({key!r}, ...) call in the notebook")


def notebook_numbers(path: Path, keys: Iterable[str]) -> set[str]:
    """Which course notebooks this file is a copy of: from its check keys and its file name."""
    numbers = {key[:2] for key in keys if KEY.match(key)}
    if re.match(r"^\d\d_", path.name):
        numbers.add(path.name[:2])
    return numbers


# ---- reading answers without running them ----------------------------------------------------

class NotALiteral(ValueError):
    """The answer is computed by code, so it cannot be evaluated without running the notebook."""


_FUNCTIONS: dict[str, Callable] = {
    **{f"math.{name}": getattr(math, name) for name in (
        "log", "log2", "log10", "log1p", "exp", "sqrt", "floor", "ceil")},
    **{f"{m}.{name}": getattr(np, name) for m in ("np", "numpy") for name in (
        "array", "asarray", "log", "exp", "sqrt", "float32", "float64", "int64")},
    **{name: f for name, f in (("int", int), ("float", float), ("abs", abs), ("round", round), ("min", min),
                               ("max", max), ("sum", sum), ("len", len), ("bool", bool), ("list", list),
                               ("tuple", tuple))},
}
_CONSTANTS = {"math.pi": math.pi, "math.e": math.e, "np.pi": np.pi, "numpy.pi": np.pi, "np.e": np.e,
              "math.inf": math.inf, "np.inf": np.inf}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
           ast.Pow: lambda a, b: a ** b}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: +a, ast.Not: lambda a: not a}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise NotALiteral("not a name")


def _refuse_huge(op: ast.operator, left: Any, right: Any) -> None:
    """Refuse arithmetic whose result would be huge (a student's `10 ** 10 ** 10` must not hang the grader)."""
    if isinstance(op, ast.Pow) and np.size(left) == 1 and np.size(right) == 1:
        base, exponent = abs(complex(left)), abs(complex(right))
        if base > 1 and exponent * math.log10(base) > 10_000:
            raise NotALiteral("a power too large to evaluate")
    if isinstance(op, ast.Mult) and any(isinstance(x, (str, list, tuple)) for x in (left, right)):
        if any(isinstance(x, int) and x > 100_000 for x in (left, right)):
            raise NotALiteral("a repetition too long to evaluate")


def literal_value(node: ast.AST) -> Any:
    """Evaluate an answer written as a value: literals, arithmetic, and a few pure math/numpy calls.

    Raises NotALiteral for anything else (names, attribute look-ups, other calls): that is code.
    """
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [literal_value(e) for e in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {literal_value(k): literal_value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](literal_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = literal_value(node.left), literal_value(node.right)
        _refuse_huge(node.op, left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _dotted(node)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise NotALiteral(f"uses the name {name!r}")
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name not in _FUNCTIONS:
            raise NotALiteral(f"calls {name}()")
        args = [literal_value(a) for a in node.args]
        kwargs = {k.arg: literal_value(k.value) for k in node.keywords if k.arg is not None}
        return _FUNCTIONS[name](*args, **kwargs)
    raise NotALiteral(f"contains a {type(node).__name__} expression")


def _assigned(statements: list[ast.stmt], name: str) -> ast.AST | None:
    """The value of the last top-level `name = value` among `statements`, else None."""
    for statement in reversed(statements):
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return statement.value
        if isinstance(statement, ast.AnnAssign) and getattr(statement.target, "id", None) == name and statement.value:
            return statement.value
        if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(statement)):
            return statement  # assigned some other way (a loop, a with, ...): code
    return None


def _answer_node(call: ast.Call, before: list[ast.stmt], earlier_cells: list[ast.Module]) -> ast.AST | None:
    """The expression that gives the checked answer: the call's argument, or the last assignment to it."""
    argument = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "answer"), None)
    if not isinstance(argument, ast.Name):
        return argument
    for statements in [before] + [tree.body for tree in reversed(earlier_cells)]:
        value = _assigned(statements, argument.id)
        if value is not None:
            return value
    return None


def _saved_verdict(cell: dict, key: str) -> tuple[str, str] | None:
    """The last [PASS]/[HINT]/[TODO] line the cell's saved output printed for `key`."""
    text = "".join(_source({"source": o.get("text", "")}) for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")
    found = [m for m in SAVED_LINE.finditer(text) if m.group(2) == key]
    if not found:
        return None
    return SAVED_STATUS[found[-1].group(1)], found[-1].group(0).strip()


def grade_static(path: Path, nb: dict) -> tuple[list[Grade], str]:
    """Grade a notebook from its source, running none of its code. Returns (grades, notebook-level note)."""
    student, trees, latest = student_name(path), [], {}
    registry = exercises()
    note = ""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tree = _parse(_source(cell))
        if tree is None:
            if "check(" in _source(cell):
                keys = re.findall(r'check\(\s*["\'](\d\d\.[\w.]+)["\']', _source(cell))
                for key in keys:
                    latest[key] = Grade(student, str(path), key, "error", "-",
                                        "the exercise cell is not valid Python (SyntaxError)")
            continue
        for index, key, call in _check_calls(tree):
            latest[key] = _grade_call(student, path, registry, key, call, tree.body[:index + 1], trees, cell)
        trees.append(tree)
    results = dict(latest)
    expected = [k for number in sorted(notebook_numbers(path, results)) for k in exercises(f"{number}.")]
    for key in expected:
        if key not in results:
            results[key] = _missing(student, path, key)
    if not results:
        note = "no exercise checks found"
    return [results[k] for k in sorted(results)], note


def _grade_call(student: str, path: Path, registry: dict, key: str, call: ast.Call, before: list[ast.stmt],
                earlier: list[ast.Module], cell: dict) -> Grade:
    if key not in registry:
        return Grade(student, str(path), key, "error", "-", f"no exercise called {key!r} is registered")
    node = _answer_node(call, before, earlier)
    if node is None:
        return Grade(student, str(path), key, "error", "-", "the checked answer is never assigned (NameError when run)")
    try:
        value = literal_value(node)
    except NotALiteral as why:
        saved = _saved_verdict(cell, key)
        if saved is None:
            return Grade(student, str(path), key, "not graded", "-",
                         f"the answer is computed by code ({why}) and the cell has no saved output: "
                         "grade with --execute")
        return Grade(student, str(path), key, saved[0], "saved output (unverified)", saved[1])
    except Exception as err:  # a literal that fails to evaluate (1 / 0, a bad array): the student's error
        return Grade(student, str(path), key, "wrong", "re-checked", f"the answer raised {type(err).__name__}: {err}")
    status, message = registry[key].grade(value)
    return Grade(student, str(path), key, CHECK_STATUS[status], "re-checked", message)


# ---- running a notebook first ----------------------------------------------------------------

RECORDER = '''\
import json as _grade_json
import course_lib as _grade_cl
import course_lib.exercises as _grade_ex
import course_lib.exercises.core as _grade_core

def _grade_check(key, answer, _orig=_grade_core.check, _file={path!r}):
    result = _orig(key, answer)
    exercise = _grade_ex.exercises().get(key)
    status, message = exercise.grade(answer) if exercise else ("error", f"no exercise called {{key!r}} is registered")
    with open(_file, "a") as out:
        out.write(_grade_json.dumps({{"key": key, "status": status, "message": message}}) + "\\n")
    return result

_grade_cl.check = _grade_ex.check = _grade_core.check = _grade_check
_grade_ex.exercises()  # load every exercise now: this cell's time is not the student's
'''


def _kernel_env() -> dict[str, str]:
    """The kernel's environment: loopback-only network guard, Hugging Face offline."""
    if not (NETWORK_GUARD_DIR / "sitecustomize.py").exists():
        raise SystemExit(f"grade --execute: the network guard {NETWORK_GUARD_DIR} is missing; run the grader "
                         "from a clone of the course (it runs student code only with the network off).")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETWORK_GUARD_DIR), env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg",
               GRADE_NETWORK="namespace" if network_sandbox() else "guard")
    return env


def execute_notebook(path: Path, timeout: float) -> tuple[dict, list[dict], str]:
    """Run a copy of the notebook in a fresh kernel with a recording check, in this process.

    Returns (executed notebook, recorded checks in call order, notebook-level note: "" if it ran to
    the end, else what stopped it). `run_isolated` calls this inside a child process.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="grade-") as workdir:
        record = Path(workdir) / ".checks.jsonl"
        nb.cells.insert(0, nbformat.v4.new_code_cell(RECORDER.format(path=str(record))))
        deadline: list[float] = []

        def remaining(cell: Any) -> int:
            if cell is nb.cells[0]:
                return 300  # the grader's own cell (imports course_lib): not the student's time
            if not deadline:
                deadline.append(time.monotonic() + timeout)
            return max(1, math.ceil(deadline[0] - time.monotonic()))

        client = NotebookClient(nb, timeout=None, timeout_func=remaining, allow_errors=True, kernel_name="python3",
                                shutdown_kernel="immediate", resources={"metadata": {"path": workdir}})
        note = ""
        try:
            client.execute(env=_kernel_env())
        except CellTimeoutError:
            note = f"timeout: stopped after {timeout:g} s"
        except DeadKernelError as err:
            note = f"error: the kernel died ({str(err).strip()[:200]})"
        except Exception as err:  # the kernel failed to start, a broken notebook, ...: report, don't stop grading
            note = f"error: {type(err).__name__}: {str(err).strip()[:200]}"
        checks = [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    nb.cells.pop(0)
    return nb, checks, note


@functools.lru_cache(maxsize=1)
def network_sandbox() -> list[str]:
    """`unshare -rn --` if this machine lets us run a process with a private network namespace
    (loopback only, no route out, whatever the code does), else [] (the Python-level guard only)."""
    unshare = shutil.which("unshare")
    if not unshare or not sys.platform.startswith("linux"):
        return []
    try:
        ok = subprocess.run([unshare, "-rn", "--", "true"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    return [unshare, "-rn", "--"] if ok else []


def _bring_up_loopback() -> None:
    """In a fresh network namespace the loopback interface is down: bring it up (the kernel talks over it)."""
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def run_isolated(path: Path, timeout: float) -> tuple[dict, list[dict], str]:
    """`execute_notebook` in a child process (in a private network namespace when possible), killed with
    its kernel if it overruns the time limit by a minute."""
    import nbformat

    with tempfile.TemporaryDirectory(prefix="grade-out-") as out:
        command = [*network_sandbox(), sys.executable, "-m", "course_lib.tools.grade", "--worker", str(path.resolve()),
                   out, "--timeout", str(timeout)]
        proc = subprocess.Popen(command, env=_kernel_env(), start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            log, _ = proc.communicate(timeout=timeout + 60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"cells": []}, [], f"timeout: killed after {timeout + 60:g} s"
        result = Path(out) / "result.json"
        if not result.exists():
            tail = " ".join(log.strip().splitlines()[-3:])[:300]
            return {"cells": []}, [], f"error: the grading process failed (exit {proc.returncode}): {tail}"
        found = json.loads(result.read_text())
        return nbformat.read(Path(out) / "executed.ipynb", as_version=4), found["checks"], found["note"]


def _worker(path: Path, out: Path, timeout: float) -> None:
    if os.environ.get("GRADE_NETWORK") == "namespace":
        _bring_up_loopback()
    import nbformat

    nb, checks, note = execute_notebook(path, timeout)
    nbformat.write(nb, out / "executed.ipynb")
    (out / "result.json").write_text(json.dumps({"checks": checks, "note": note}))


def _first_error(cells: list[dict], upto: int) -> str:
    """The error of cell `upto` itself, else the first error above it ("" if none)."""
    for cell in [cells[upto], *cells[:upto]] if upto < len(cells) else cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("output_type") == "error":
                return f"{output.get('ename')}: {output.get('evalue')}"[:300]
    return ""


def grade_executed(path: Path, timeout: float) -> tuple[list[Grade], str]:
    """Run the notebook, then grade every exercise from the checks it actually called."""
    student = student_name(path)
    nb, checks, note = run_isolated(path, timeout)
    recorded = {c["key"]: c for c in checks}  # the last call of each key counts, as when a student re-runs a cell
    cells = nb.get("cells", [])
    located: dict[str, int] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") == "code":
            for key in re.findall(r'check\(\s*["\'](\d\d\.[\w.]+)["\']', _source(cell)):
                located[key] = index
    keys = set(recorded) | set(located)
    keys |= {k for number in notebook_numbers(path, keys) for k in exercises(f"{number}.")}
    results = []
    for key in sorted(keys):
        if key in recorded:
            status = recorded[key]["status"]
            results.append(Grade(student, str(path), key, CHECK_STATUS.get(status, "error"), "executed",
                                 recorded[key]["message"]))
        elif key not in located:
            results.append(_missing(student, path, key))
        elif note.startswith("timeout"):
            results.append(Grade(student, str(path), key, "timeout", "executed", f"not reached: {note}"))
        else:
            error = _first_error(cells, located[key]) or note or "the check was never called"
            results.append(Grade(student, str(path), key, "error", "executed", f"the check did not run: {error}"))
    errors = [f"cell {i + 1}: {_first_error([c], 0)}" for i, c in enumerate(cells) if _first_error([c], 0)]
    if errors and not note:
        note = f"{len(errors)} cell(s) raised an error: " + "; ".join(errors[:3]) + ("; ..." if len(errors) > 3 else "")
    if not results and not note:
        note = "no exercise checks found"
    return results, note


# ---- reporting -------------------------------------------------------------------------------

def grade_paths(paths: Iterable[str | Path], execute: bool = False, timeout: float = 300,
                progress: Callable[[str], None] = lambda s: None) -> tuple[list[Grade], dict[str, str]]:
    """Grade every notebook under `paths`: (all grades, {notebook: note about the whole notebook})."""
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    grades: list[Grade] = []
    notes: dict[str, str] = {}
    for path in find_notebooks(paths):
        progress(f"grading {path}{' (executing)' if execute else ''}")
        try:
            if execute:
                found, note = grade_executed(path, timeout)
            else:
                import nbformat

                found, note = grade_static(path, nbformat.read(path, as_version=4))
        except SystemExit:
            raise
        except Exception as err:  # an unreadable file must not stop the class's grading
            found, note = [], f"error: could not read the notebook ({type(err).__name__}: {str(err)[:200]})"
        grades += found
        if note:
            notes[str(path)] = note
    return grades, notes


def format_table(grades: list[Grade], notes: dict[str, str]) -> str:
    """Text report: one table per course notebook (rows: students; columns: exercises), then the hints."""
    lines: list[str] = []
    by_number: dict[str, list[Grade]] = {}
    for g in grades:
        by_number.setdefault(g.exercise[:2], []).append(g)
    for number, group in sorted(by_number.items()):
        keys = sorted({g.exercise for g in group})
        rows: dict[tuple[str, str], dict[str, Grade]] = {}
        for g in group:
            rows.setdefault((g.student, g.notebook), {})[g.exercise] = g
        header = ["student", *keys, "passed"]
        table = [header]
        for (student, _), row in sorted(rows.items()):
            cells = [SHORT[row[k].status] + ("*" if row[k].source.startswith("saved") else "") if k in row else ""
                     for k in keys]
            table.append([student, *cells, f"{sum(row[k].status == 'pass' for k in row)}/{len(keys)}"])
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        lines.append(f"Notebook {number}")
        for i, r in enumerate(table):
            lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        lines.append("")
    lines.append("pass = right; WRONG = a hint was given; - = not attempted; ? = computed by code, not graded "
                 "(use --execute); * = read from the saved output, which a student can edit")
    details = [g for g in grades if g.status not in ("pass", "not attempted")]
    if details:
        lines += ["", "Details"]
        lines += [f"  {g.student} {g.exercise} [{g.status}]: {g.message}" for g in details]
    if notes:
        lines += ["", "Notebooks"]
        lines += [f"  {path}: {note}" for path, note in sorted(notes.items())]
    return "\n".join(lines)


def write_csv(grades: list[Grade], notes: dict[str, str], out: Path) -> None:
    """One row per student and exercise: student, notebook, exercise, status, source, message, notebook_note."""
    with open(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([f.name for f in fields(Grade)] + ["notebook_note"])
        for g in grades:
            writer.writerow([*astuple(g), notes.get(g.notebook, "")])
        for path, note in sorted(notes.items()):
            if not any(g.notebook == path for g in grades):
                writer.writerow([student_name(Path(path)), path, "", "error", "-", "", note])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Re-run every exercise check on the answers in students' notebooks; print a table, write a CSV.",
        epilog="Student code is untrusted: --execute runs it with your permissions (network off, time-limited) "
               "and it can forge its own results; saved outputs can be edited. See docs/teaching.md.")
    parser.add_argument("paths", nargs="*", metavar="PATH", help="students' .ipynb files or folders of them")
    parser.add_argument("--execute", action="store_true", help="run each notebook first (fresh kernel, network off)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook with --execute (default 300)")
    parser.add_argument("--csv", type=Path, default=Path("grades.csv"),
                        help="where to write the CSV (default grades.csv)")
    parser.add_argument("--worker", nargs=2, metavar=("NOTEBOOK", "OUT_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(Path(args.worker[0]), Path(args.worker[1]), args.timeout)
        return 0
    if args.timeout <= 0:
        parser.error(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if not args.paths:
        parser.error("give the students' notebooks or the folder that holds them: python -m course_lib.grade PATH...")
    if args.execute:
        print("network while executing: " + ("off (a private network namespace: loopback only)" if network_sandbox()
              else "blocked by a Python-level guard only (unshare is not available here): code can undo it"),
              file=sys.stderr)
    grades, notes = grade_paths(args.paths, execute=args.execute, timeout=args.timeout,
                                progress=lambda s: print(s, file=sys.stderr))
    print(format_table(grades, notes))
    write_csv(grades, notes, args.csv)
    print(f"\nCSV: {args.csv} ({len(grades)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
