"""`make student`: every exercise solution block is gone, nothing else changes, and the checks
in the student edition still give their hints."""
import json

import nbformat
import pytest

from course_lib.base.paths import NOTEBOOKS_DIR
from course_lib.exercises import exercises
from course_lib.tools import grade, student

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return out, student.write_student_edition(out)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_solutions_are_removed_and_everything_else_is_kept(edition, source):
    out, written = edition
    copy, original = nbformat.read(out / source.name, as_version=4), nbformat.read(source, as_version=4)
    assert written[out / source.name] == len(exercises(source.name[:2] + ".")), "one solution block per exercise"
    assert len(copy.cells) == len(original.cells)
    for new, old in zip(copy.cells, original.cells):
        if new.cell_type == "code":
            assert new.source == old.source and new.outputs == old.outputs
        else:
            assert "<summary>Solution</summary>" not in new.source
            if "<summary>Solution</summary>" not in old.source:
                assert new.source == old.source  # interview answers and prose stay


def test_checks_in_the_student_edition_still_give_hints(edition, tmp_path):
    out, _ = edition
    nb = json.loads((out / "00_start_here.ipynb").read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code" and 'check("00.batch_numbers"' in "".join(c["source"])]
    cell = cells[-1]  # the exercise, not the demo in section 2
    cell["source"] = "".join(cell["source"]).replace("answer = ...", "answer = 16 * 48 * 48", 1)
    (tmp_path / "zoe").mkdir()
    (tmp_path / "zoe" / "00_start_here.ipynb").write_text(json.dumps(nb))
    results = {g.exercise: g for g in grade.grade_paths([tmp_path])[0]}
    assert results["00.batch_numbers"].status == "wrong"
    assert "Each pixel holds 3 numbers" in results["00.batch_numbers"].message
    assert results["00.red_scenes"].status == "not attempted"


def test_the_course_notebooks_are_never_overwritten():
    with pytest.raises(ValueError, match="must not be the course's notebooks folder"):
        student.write_student_edition(NOTEBOOKS_DIR)
