"""What a learner sees in a committed notebook without a live kernel: the texts that betray a
widget or a progress bar saved without a static view. Used on the .ipynb files
(tests/test_static_views.py) and on the page JupyterLab draws (tests/browser/)."""
from __future__ import annotations

import re
from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"

# ipywidgets' repr: a widget class name and keyword arguments, e.g. `VBox(children=(HBox(...`,
# `IntSlider(value=0, description='seed', max=50)`, `FloatProgress(value=0.0, max=100.0)`.
WIDGET_REPR = re.compile(
    r"\b(?:VBox|HBox|GridBox|Box|Output|IntSlider|FloatSlider|FloatLogSlider|IntRangeSlider|FloatRangeSlider|"
    r"Dropdown|Text|Textarea|Checkbox|ToggleButtons?|RadioButtons|SelectionSlider|Select|Button|Label|HTML|"
    r"IntProgress|FloatProgress|Play|Tab|Accordion)\(\w+="
)
# tqdm's text: `stage 1:   0%|          | 0/100 [00:00<?, ?it/s]`; a bar is stale below 100 %.
BAR = re.compile(r"(\d{1,3})%\|[^|\n]*\|\s*(\d+)/(\d+)")


def _widget_output(model_id: str, text: str, kind: str = "display_data") -> dict:
    view = {"version_major": 2, "version_minor": 0, "model_id": model_id}
    return {"output_type": kind, "metadata": {}, "data": {WIDGET_MIME: view, "text/plain": text}}


# What the issue saw in committed notebooks, for tests that must catch it: a training bar saved at
# 0 %, an explorer saved as its repr, and an overwritten text bar on stderr.
BROKEN_OUTPUTS = [
    _widget_output("0" * 32, "stage 1:   0%|          | 0/100 [00:00<?, ?it/s]"),
    _widget_output("1" * 32, "VBox(children=(HBox(children=(IntSlider(value=0, description='seed', max=50), …"),
    {"output_type": "stream", "name": "stderr", "text": "training:  40%|####      | 40/100 [00:02<00:03, 19.9it/s]"},
]


def problems_in_text(text: str) -> list[str]:
    """The widget reprs and unfinished progress bars in `text`, each as a short quote."""
    found = [f"widget repr: {m.group(0)}..." for m in WIDGET_REPR.finditer(text)]
    for m in BAR.finditer(text):
        percent, done, total = (int(g) for g in m.groups())
        if percent < 100 or done < total:
            found.append(f"unfinished progress bar: {m.group(0)}")
    return found


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_problems(output: dict) -> list[str]:
    """Problems of one saved output: a widget view needs another, static format that is not a
    widget repr, and no text (stream or text/plain) may show a repr or an unfinished bar."""
    found: list[str] = []
    data = output.get("data", {})
    if WIDGET_MIME in data and not (set(data) - {WIDGET_MIME}):
        found.append("widget view with no static format beside it")
    texts = [_text(output.get("text", ""))] + [_text(data[m]) for m in ("text/plain", "text/html") if m in data]
    for text in texts:
        found += problems_in_text(text)
    if output.get("output_type") == "stream" and "\r" in _text(output.get("text", "")):
        found.append("carriage returns in a stream (an overwritten text bar)")
    return found


def notebook_problems(nb: dict) -> list[str]:
    """Every problem of a notebook's saved outputs, prefixed with the cell number (0-based)."""
    return [
        f"cell {i}: {p}"
        for i, cell in enumerate(nb["cells"])
        if cell.get("cell_type") == "code"
        for output in cell.get("outputs", [])
        for p in output_problems(output)
    ]
