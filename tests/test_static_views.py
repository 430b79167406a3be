"""Committed notebooks show true static views: no widget repr, no stale progress bar, in any
viewer that lacks the kernel's widget state (untrusted JupyterLab, GitHub, nbconvert HTML)."""
import copy
import json
import re

import pytest
from notebook_views import BROKEN_OUTPUTS, WIDGET_MIME, notebook_problems, problems_in_text

from course_lib.base.paths import NOTEBOOKS_DIR

IPYNB = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_committed_outputs_have_true_static_views(ipynb):
    nb = json.loads(ipynb.read_text())
    assert not notebook_problems(nb), f"{ipynb.name}: re-execute it (make execute NB=...): {notebook_problems(nb)}"


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_explorers_are_saved_as_their_first_render(ipynb):
    """Each explorer's saved output is its first render (an image, or the printed text), with no
    widget format left, which a trusted JupyterLab without a kernel could not draw."""
    nb = json.loads(ipynb.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        assert not [o for o in cell["outputs"] if WIDGET_MIME in o.get("data", {})], f"{ipynb.name}: make execute"
        if re.search(r"^explore\(", "".join(cell["source"]), re.MULTILINE):
            data = [o["data"] for o in cell["outputs"] if "data" in o]
            assert data, f"{ipynb.name}: the explorer cell has no saved view"
            plain = "".join(data[-1].get("text/plain", ""))
            assert "image/png" in data[-1] or (plain and not plain.startswith("[explorer")), f"{ipynb.name}: {data[-1]}"


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_saved_as_jupyterlab_saves(ipynb):
    """JupyterLab merges consecutive stream outputs when it loads a notebook, so a committed file
    with two in a row changes as soon as it is trusted or saved (`make execute` merges them)."""
    nb = json.loads(ipynb.read_text())
    for i, cell in enumerate(nb["cells"]):
        outs = cell.get("outputs", [])
        pairs = [(a.get("name"), b.get("name")) for a, b in zip(outs, outs[1:])
                 if a["output_type"] == b["output_type"] == "stream" and a["name"] == b["name"]]
        assert not pairs, f"{ipynb.name} cell {i}: consecutive {pairs[0][0]} outputs; re-run make execute"
    assert ipynb.read_text() == json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", (
        f"{ipynb.name} is not in nbformat's serialisation")


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_no_saved_widget_state(ipynb):
    """With widget state in the metadata, nbconvert's HTML draws widgets with scripts from a CDN
    (a blank box offline) instead of the static views; `make execute` does not store it."""
    nb = json.loads(ipynb.read_text())
    assert "widgets" not in nb["metadata"], f"{ipynb.name} stores widget state: re-run make execute"


@pytest.mark.parametrize("ipynb", IPYNB, ids=lambda p: p.name)
def test_html_export_shows_the_static_views(ipynb):
    """nbconvert's HTML (what a learner gets from File > Save and Export) draws no widget from a CDN
    and shows no widget repr or stale bar: each explorer appears as its first render."""
    import nbformat
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(nbformat.read(ipynb, as_version=4))
    assert WIDGET_MIME not in html.split("</head>", 1)[1], f"{ipynb.name}: the HTML draws a widget from saved state"
    assert not problems_in_text(html), f"{ipynb.name}: {problems_in_text(html)[:3]}"


def _broken(nb: dict) -> dict:
    """A copy of `nb` with what the issue saw: a saved explorer and a training bar, reprs only."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["outputs"] = copy.deepcopy(BROKEN_OUTPUTS)
    return nb


def test_check_fails_on_a_deliberately_broken_copy():
    nb = json.loads(IPYNB[0].read_text())
    found = notebook_problems(_broken(nb))
    assert any("0/100" in p for p in found), found
    assert any("VBox(children=" in p for p in found), found
    assert any("40/100" in p for p in found), found


def test_finished_bars_and_prose_pass():
    assert not problems_in_text("stage 1: 100%|##########| 100/100 [00:07<00:00, 14.2it/s]")
    assert not problems_in_text("stage 1: 100 steps in 7.0 s, final loss 0.512")
    assert not problems_in_text("Text(0.5, 1.0, 'a title')")  # matplotlib's Text is not a widget
    assert problems_in_text("Dropdown(description='dtype', options=('fp16',), value='fp16')")
