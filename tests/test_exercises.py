"""Every registered exercise: the reference solution passes, each common mistake earns its own
hint, an unattempted answer prints a TODO, and nothing ever raises."""

import re

import pytest

from course_lib.base.paths import NOTEBOOKS_DIR
from course_lib.exercises import check, exercises

ALL = exercises()


def test_exercises_are_registered():
    assert len(ALL) >= 2


@pytest.mark.parametrize("key", sorted(ALL))
def test_reference_solution_passes(key, capsys):
    assert check(key, ALL[key].solution())
    assert capsys.readouterr().out.startswith(f"[PASS] {key}")


@pytest.mark.parametrize("key", sorted(ALL))
def test_each_common_mistake_gets_its_hint(key, capsys):
    ex = ALL[key]
    for wrong, hint in ex.mistakes:
        assert not ex.compare(wrong, ex.solution()), f"mistake {wrong!r} of {key} is actually right"
        assert not check(key, wrong)
        assert hint in capsys.readouterr().out


@pytest.mark.parametrize("key", sorted(ALL))
@pytest.mark.parametrize("answer", [None, ...])
def test_unattempted_answer_prints_todo(key, answer, capsys):
    assert not check(key, answer)
    assert capsys.readouterr().out.startswith(f"[TODO] {key}")


@pytest.mark.parametrize("key", sorted(ALL))
def test_nonsense_answer_gets_the_general_hint_without_raising(key, capsys):
    assert not check(key, object())
    out = capsys.readouterr().out
    assert out.startswith(f"[HINT] {key}") and ALL[key].hint in out


def test_unknown_key_is_a_hint_not_an_error(capsys):
    assert not check("99.nope", 1)
    assert "no exercise called '99.nope'" in capsys.readouterr().out


def test_a_learner_function_that_raises_is_reported():
    from course_lib.exercises import Exercise, same_function

    ex = Exercise(
        "zz.f",
        "write f",
        lambda: lambda x: x,
        same_function(lambda: [(1,)]),
        "return x",
        ((lambda x: x + 1, "off by one"),),
    )
    status, message = ex.grade(lambda x: 1 / 0)
    assert status == "hint" and "ZeroDivisionError" in message


@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py")), ids=lambda p: p.name)
def test_each_notebook_uses_its_registered_exercises(notebook):
    number = notebook.name[:2]
    used = set(re.findall(r'check\(\s*"(\d\d\.[\w.]+)"', notebook.read_text()))
    registered = set(exercises(f"{number}."))
    assert used == registered, (
        f"used but not registered: {used - registered}; registered but unused: {registered - used}"
    )
    assert len(registered) >= (2 if number == "00" else 4)
