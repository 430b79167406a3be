"""docs/teaching.md: its generated numbers match BENCHMARKS.md, data/*/metrics.json and the
exercise checks within the stated tolerance; every notebook has a section; the lesson plans of
every notebook fill 50-90 minutes and assign every exercise once."""
import re

import pytest

from course_lib.base.paths import NOTEBOOKS_DIR, REPO_DIR
from course_lib.exercises import exercises
from course_lib.tools import teaching

GUIDE = teaching.GUIDE.read_text()
WRITTEN = ["00", "01", "02", "03", "04", "05", "06", "07", "08"]  # notebooks whose lesson plan is written


def section(number: str) -> str:
    match = re.search(rf"^## Notebook {number} · .*?(?=^## |\Z)", GUIDE, re.MULTILINE | re.DOTALL)
    assert match, f"docs/teaching.md has no section '## Notebook {number} · ...': run `make teaching`"
    return match.group(0)


def test_generated_numbers_match_their_sources():
    problems = teaching.stale_blocks(GUIDE, teaching.render(GUIDE))
    assert not problems, "docs/teaching.md is out of date, run `make teaching`:\n" + "\n".join(problems)


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.name[:2])
def test_every_notebook_has_a_section_with_its_generated_block(notebook):
    text = section(notebook.name[:2])
    assert f"<!-- BEGIN GENERATED facts {notebook.name[:2]} -->" in text


@pytest.mark.parametrize("number", WRITTEN)
def test_lesson_plan_fills_50_to_90_minutes_and_assigns_every_exercise_once(number):
    text = section(number)
    heading = re.search(r"^### Lesson plan \((\d+) min\)$", text, re.MULTILINE)
    assert heading, f"notebook {number}: no '### Lesson plan (N min)' heading"
    rows = re.findall(r"^\| (\d+) \| .+ \| .+ \| .+ \|$", text, re.MULTILINE)
    assert sum(map(int, rows)) == int(heading[1]), f"notebook {number}: the plan's rows do not add up to its heading"
    assert 50 <= int(heading[1]) <= 90
    in_class = re.findall(r"`(\d\d\.\w+)`", re.search(r"\*\*In class:\*\*(.*?)\*\*Homework", text, re.DOTALL)[1])
    homework = re.findall(r"`(\d\d\.\w+)`", re.search(r"\*\*Homework:\*\*(.*?)\n\n", text, re.DOTALL)[1])
    assert in_class and homework
    assert sorted(in_class + homework) == sorted(exercises(f"{number}.")), f"notebook {number}: assign each once"
    questions = re.search(r"\*\*Discussion questions\*\*\n((?:\d\. .*\n)+)", text)
    assert questions and len(questions[1].splitlines()) >= 3
    assert "**Watch for:**" in text


def test_registered_mistakes_are_in_the_guide():
    for number in WRITTEN:
        text = section(number)
        for key, ex in exercises(f"{number}.").items():
            for _, hint in ex.mistakes:
                assert hint in text, f"{key}: a registered mistake is missing from the guide"


def test_a_stale_number_is_caught_and_the_tolerance_is_as_stated():
    fresh = teaching.render(GUIDE)
    held_out = re.search(r"\(zero_shot\.held_out\): (\d\.\d+)", fresh)
    off = fresh.replace(held_out[0], held_out[0].replace(held_out[1], f"{float(held_out[1]) - 0.05:.3f}"), 1)
    assert any("is now" in p for p in teaching.stale_blocks(off, fresh))
    close = fresh.replace(held_out[0], held_out[0].replace(held_out[1], f"{float(held_out[1]) - 0.005:.3f}"), 1)
    assert teaching.stale_blocks(close, fresh) == []
    whole = re.search(r"\*\*Whole notebook:\*\* (\d+) s", fresh)
    slower = fresh.replace(whole[0], f"**Whole notebook:** {int(whole[1]) * 3 + 10} s", 1)
    assert teaching.stale_blocks(slower, fresh)
    assert teaching.stale_blocks(fresh.replace("*Mistake:*", "*Error:*", 1), fresh)


def test_a_new_notebook_gets_a_section_from_the_same_generator(tmp_path):
    import shutil

    for nb in NOTEBOOKS_DIR.glob("0[0-1]_*.ipynb"):
        shutil.copy(nb, tmp_path / nb.name)
    shutil.copy(NOTEBOOKS_DIR / "00_start_here.ipynb", tmp_path / "06_qformer.ipynb")
    text = teaching.render("# Guide\n", notebooks_dir=tmp_path)
    assert "## Notebook 00 · Start here" in text and "<!-- BEGIN GENERATED facts 06 -->" in text
    assert "Lesson plan not written yet" in text
    assert "not in BENCHMARKS.md yet" in text.split("facts 06 -->")[1]


def test_readme_points_to_the_guide_the_grader_and_the_site():
    readme = (REPO_DIR / "README.md").read_text()
    part = readme.split("## Teaching with this course", 1)[1].split("\n## ", 1)[0]
    for needle in ("docs/teaching.md", "python -m course_lib.grade", "make site", "make student"):
        assert needle in part
