"""Notebook pairs: every .ipynb has its py:percent twin with the same cells (no jupytext drift),
and holds executed outputs for the cells CI checks."""

import re

import jupytext
import nbformat
import pytest

from course_lib.base.paths import NOTEBOOKS_DIR

PY = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
IPYNB = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _body(text: str) -> str:
    """py:percent text without the YAML header jupytext writes (versions differ across machines)."""
    return re.sub(r"\A# ---\n(#.*\n)*?# ---\n\n?", "", text).strip()


def test_notebooks_exist_in_pairs():
    assert PY, "no notebooks found"
    assert {p.stem for p in PY} == {p.stem for p in IPYNB}


@pytest.mark.parametrize("py", PY, ids=lambda p: p.name)
def test_no_jupytext_drift(py):
    nb = jupytext.read(py.with_suffix(".ipynb"))
    assert _body(jupytext.writes(nb, fmt="py:percent")) == _body(py.read_text()), (
        f"{py.name} and its .ipynb differ: run `make sync` (or make execute NB={py.relative_to(NOTEBOOKS_DIR.parent)})"
    )


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_checked_cells_hold_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    checked = [c for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, f"{ipynb.name} has no '# NBVAL_CHECK_OUTPUT' cell: CI would check none of its numbers"
    empty = [c.source.splitlines()[1:2] for c in checked if not c.outputs]
    assert not empty, f"checked cells without stored outputs (execute the notebook): {empty}"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
