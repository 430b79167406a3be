"""The grader (`python -m course_lib.grade`) on copies of the committed notebooks that the tests
fill in as students would: solved, unattempted, and answered with each registered mistake.
Only notebook 00 is executed (about 10 s); notebook 05 is graded from its source."""
from __future__ import annotations

import ast
import csv
import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_lib.base.paths import NOTEBOOKS_DIR
from course_lib.exercises import exercises
from course_lib.tools import grade

NB00 = NOTEBOOKS_DIR / "00_start_here.ipynb"
NB05 = NOTEBOOKS_DIR / "05_llava.ipynb"


def literal_source(value) -> str:
    """Python source a student could type for a value."""
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r})"
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def _cells_by_key(nb: dict) -> dict[str, dict]:
    """The last code cell that checks each key (the exercise cell, not a demo above it)."""
    found = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            for key in re.findall(r'check\("(\d\d\.[\w.]+)"', "".join(cell["source"])):
                found[key] = cell
    return found


def student_copy(src: Path, dest: Path, answers: dict[str, str], outputs: dict[str, str] | None = None) -> Path:
    """Copy a committed notebook, writing `answer = <source>` into each named exercise cell.

    outputs: {key: text} replaces that cell's saved output (to forge one).
    """
    nb = json.loads(src.read_text())
    cells = _cells_by_key(nb)
    for key, source in answers.items():
        cell = cells[key]
        text = "".join(cell["source"])
        text, n = re.subn(r"^answer = .*$", lambda m: f"answer = {source}", text, count=1, flags=re.MULTILINE)
        assert n == 1, f"no `answer = ...` line in the cell of {key}"
        cell["source"] = text
    for key, text in (outputs or {}).items():
        cells[key]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb))
    return dest


def solved(prefix: str) -> dict[str, str]:
    return {k: literal_source(ex.solution()) for k, ex in exercises(prefix).items()}


def mistaken(prefix: str) -> dict[str, str]:
    return {k: literal_source(ex.mistakes[0][0]) for k, ex in exercises(prefix).items()}


def by_student(grades: list[grade.Grade]) -> dict[tuple[str, str], grade.Grade]:
    return {(g.student, g.exercise): g for g in grades}


@pytest.mark.parametrize("notebook", [NB00, NB05], ids=lambda p: p.name[:2])
def test_solved_unattempted_and_mistaken_copies_are_graded_from_their_source(notebook, tmp_path):
    prefix = notebook.name[:2] + "."
    student_copy(notebook, tmp_path / "alice" / notebook.name, solved(prefix))
    (tmp_path / "bob").mkdir()
    shutil.copy(notebook, tmp_path / "bob" / notebook.name)  # handed in untouched
    student_copy(notebook, tmp_path / "carol" / notebook.name, mistaken(prefix))
    grades, notes = grade.grade_paths([tmp_path])
    assert notes == {} and len(exercises(prefix)) >= 3
    results = by_student(grades)
    for key, ex in exercises(prefix).items():
        assert results["alice", key].status == "pass" and results["alice", key].source == "re-checked"
        assert results["bob", key].status == "not attempted"
        carol = results["carol", key]
        assert carol.status == "wrong" and ex.mistakes[0][1] in carol.message, carol
    assert len(grades) == 3 * len(exercises(prefix))


def test_command_prints_a_table_and_writes_a_csv(tmp_path, capsys):
    student_copy(NB00, tmp_path / "subs" / "alice" / NB00.name, solved("00."))
    student_copy(NB00, tmp_path / "subs" / "carol" / NB00.name, {"00.batch_numbers": "16 * 48 * 48"})
    out = tmp_path / "grades.csv"
    assert grade.main([str(tmp_path / "subs"), "--csv", str(out)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^alice\s+pass\s+pass\s+pass\s+3/3$", table, re.MULTILINE), table
    assert re.search(r"^carol\s+WRONG\s+-\s+-\s+0/3$", table, re.MULTILINE), table
    assert "carol 00.batch_numbers [wrong]: [HINT] 00.batch_numbers: not yet. Each pixel holds 3 numbers" in table
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 6 and set(rows[0]) == {"student", "notebook", "exercise", "status", "source", "message",
                                                "notebook_note"}
    assert {(r["student"], r["exercise"], r["status"]) for r in rows} >= {
        ("alice", "00.red_scenes", "pass"), ("carol", "00.batch_numbers", "wrong"), ("carol", "00.red_scenes",
                                                                                      "not attempted")}


def test_code_answers_are_not_trusted_without_execute(tmp_path):
    forged = "[PASS] 00.held_out_count: correct.\n"
    student_copy(NB00, tmp_path / "dave" / NB00.name, {"00.held_out_count": "len(sw.HELD_OUT)",
                                                       "00.red_scenes": "count_red(scenes)"},
                 outputs={"00.held_out_count": forged, "00.red_scenes": ""})
    results = by_student(grade.grade_paths([tmp_path])[0])
    saved = results["dave", "00.held_out_count"]
    assert saved.status == "pass" and saved.source == "saved output (unverified)"
    unknown = results["dave", "00.red_scenes"]
    assert unknown.status == "not graded" and "--execute" in unknown.message
    table = grade.format_table(list(results.values()), {})
    assert "pass*" in table and "?" in table


def test_missing_and_broken_exercise_cells_are_reported(tmp_path):
    nb = json.loads(NB00.read_text())
    cells = _cells_by_key(nb)
    nb["cells"].remove(cells["00.red_scenes"])
    cells["00.held_out_count"]["source"] = 'answer = (6\ncheck("00.held_out_count", answer)'
    cells["00.batch_numbers"]["source"] = 'check("00.batch_numbers", my_answer)'
    (tmp_path / "erin").mkdir()
    (tmp_path / "erin" / NB00.name).write_text(json.dumps(nb))
    (tmp_path / "notes.ipynb").write_text("{not json")
    grades, notes = grade.grade_paths([tmp_path])
    results = by_student(grades)
    assert results["erin", "00.red_scenes"].status == "missing"
    assert results["erin", "00.held_out_count"].status == "error"
    assert "SyntaxError" in results["erin", "00.held_out_count"].message
    assert results["erin", "00.batch_numbers"].status == "error"
    assert "never assigned" in results["erin", "00.batch_numbers"].message
    assert "could not read the notebook" in notes[str(tmp_path / "notes.ipynb")]


def test_bad_paths_are_clear_errors(tmp_path):
    with pytest.raises(SystemExit, match="is not a notebook"):
        grade.find_notebooks([tmp_path / "nope.txt"])
    with pytest.raises(SystemExit, match="no .ipynb files"):
        grade.find_notebooks([tmp_path])
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        grade.grade_paths([NB00], timeout=0)


@pytest.mark.parametrize("source, value", [
    ("3072", 3072), ("16 * 48 * 48 * 3", 110592), ("-(2 ** 10) // 3", -342), ("[True, False]", [True, False]),
    ("math.log(256)", np.log(256)), ("np.array([0.5, 0.25])", np.array([0.5, 0.25])), ("...", ...),
])
def test_literal_answers_are_evaluated(source, value):
    np.testing.assert_equal(grade.literal_value(ast.parse(source, mode="eval").body), value)


@pytest.mark.parametrize("source", ["len(sw.HELD_OUT)", "x + 1", "__import__('os').system('true')",
                                    "open('/etc/passwd').read()", "10 ** 10 ** 10", "(lambda: 1)()",
                                    "'a' * 10 ** 9", "math.factorial(10 ** 7)"])
def test_code_is_never_evaluated(source):
    with pytest.raises(grade.NotALiteral):
        grade.literal_value(ast.parse(source, mode="eval").body)


def test_execute_runs_each_notebook_with_the_network_off_and_reports_errors_and_timeouts(tmp_path):
    # One copy of notebook 00 answered in code: right, a registered mistake, not attempted; its saved
    # output is forged and must be ignored.
    student_copy(NB00, tmp_path / "alice" / NB00.name,
                 {"00.held_out_count": "len(sw.HELD_OUT)",
                  "00.batch_numbers": "sw.generate_scenes(16).images.size // 3"},
                 outputs={"00.red_scenes": "[PASS] 00.red_scenes: correct.\n"})
    def small(name: str, *sources: str) -> None:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        (tmp_path / name).mkdir()
        nbformat.write(nb, tmp_path / name / NB00.name)

    small("bob", "from course_lib import check",
          "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=3)",
          # code that undoes the guard: only a private network namespace stops it
          "import socket, network_guard\nsock = socket.socket()\nsock.settimeout(5)\n"
          "network_guard._original_connect(sock, ('10.255.255.1', 80))",
          'answer = 6\ncheck("00.held_out_count", answer)',
          'answer = undefined_name\ncheck("00.batch_numbers", answer)')
    grades, notes = grade.grade_paths([tmp_path], execute=True, timeout=300)
    results = by_student(grades)
    assert results["alice", "00.held_out_count"].status == "pass"
    assert results["alice", "00.held_out_count"].source == "executed"
    wrong = results["alice", "00.batch_numbers"]
    assert wrong.status == "wrong" and "Each pixel holds 3 numbers" in wrong.message
    assert results["alice", "00.red_scenes"].status == "not attempted"  # the forged [PASS] is ignored
    assert str(tmp_path / "alice" / NB00.name) not in notes
    # bob: the network is off, a failing cell does not stop the notebook, a failed check is an error.
    bob = notes[str(tmp_path / "bob" / NB00.name)]
    assert "blocked in the course's tests" in bob
    if grade.network_sandbox():
        assert "network is unreachable" in bob.lower(), bob
    assert results["bob", "00.held_out_count"].status == "pass"
    assert results["bob", "00.batch_numbers"].status == "error"
    assert "NameError" in results["bob", "00.batch_numbers"].message
    assert results["bob", "00.red_scenes"].status == "missing"
    # carol: the time limit stops the notebook; what ran before it still counts.
    small("carol", "from course_lib import check", 'answer = 6\ncheck("00.held_out_count", answer)',
          "import time\ntime.sleep(120)", 'check("00.batch_numbers", 3)')
    grades, notes = grade.grade_paths([tmp_path / "carol"], execute=True, timeout=8)
    results = by_student(grades)
    assert notes[str(tmp_path / "carol" / NB00.name)].startswith("timeout")
    assert results["carol", "00.held_out_count"].status == "pass"
    assert results["carol", "00.batch_numbers"].status == "timeout"

