"""Wire a pure function to ipywidgets controls. The function does the work, so headless runs
and tests can call it directly; the widget only re-calls it when a control changes.

A saved widget is only a reference to live kernel state: an untrusted JupyterLab, GitHub and an
HTML export cannot draw it and fall back to the output's other formats. So the explorer's output
also carries its first render as a static view (an image and/or the printed text), never the
`VBox(children=...)` repr ipywidgets would put there.
"""
from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from IPython.display import display


def _format(result: Any) -> dict[str, Any]:
    """The mimebundle a notebook would display for `result` (a figure gives image/png)."""
    from IPython import get_ipython

    if hasattr(result, "savefig"):  # a matplotlib figure, drawn as the inline backend does
        from IPython.core.pylabtools import print_figure

        return {"image/png": print_figure(result, "png", bbox_inches="tight", base64=True), "text/plain": repr(result)}
    shell = get_ipython()
    if shell is not None:
        return shell.display_formatter.format(result)[0]
    if hasattr(result, "_repr_mimebundle_"):
        return dict(result._repr_mimebundle_())
    return {"text/plain": repr(result)}


def static_view(printed: str, result: Any) -> dict[str, Any]:
    """A render's static mimebundle: what it printed as text/plain, plus the image (or rich text)
    of what it returned. A returned `str` counts as printed text, not as a repr with quotes."""
    bundle: dict[str, Any] = {}
    text = printed
    if isinstance(result, str):
        text += result if result.endswith("\n") else result + "\n"
    elif result is not None:
        rich = _format(result)
        bundle.update({k: v for k, v in rich.items() if k != "text/plain"})
        if not text and "text/plain" in rich and not bundle:
            text = rich["text/plain"]
    if not bundle and not text:
        text = "(the explorer's function printed and returned nothing)"
    if text:
        bundle["text/plain"] = text.rstrip("\n")
    else:
        kind = next(iter(bundle))
        bundle["text/plain"] = f"[explorer: its first render is stored as {kind}; run the cell to move its controls]"
    return bundle


class Explorer(widgets.VBox):
    """Controls above an output area. Displayed live it is the widget; saved, its output also holds
    `static`, the first render, which every viewer without the kernel's widget state shows."""

    def __init__(self, children: list[widgets.Widget], static: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(children, **kwargs)
        self.static = static
        self.result: Any = None  # for tests: the latest return value of the render function

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle.pop("text/plain", None)  # the `VBox(children=...)` repr
        bundle.update(self.static)
        return bundle


def explore(render: Callable[..., Any], **controls: widgets.ValueWidget) -> Explorer:
    """Return a box of `controls` (wrapped onto several rows when the window is narrow) above an
    output area showing `render(**values)`.

    `render` is called once now with the controls' initial values and again on every change.
    What it prints, or returns (a figure, a string, an object), lands in the output area; a
    returned string is printed as text.
    """
    if not controls:
        raise ValueError("explore needs at least one control, e.g. n=IntSlider(...)")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")
    import matplotlib.pyplot as plt

    out = widgets.Output()

    def call() -> tuple[str, Any]:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            box.result = render(**{name: c.value for name, c in controls.items()})
        return printed.getvalue(), box.result

    def show(printed: str, result: Any) -> None:
        text = printed + (result if isinstance(result, str) else "")
        if text:
            print(text, end="" if text.endswith("\n") else "\n")
        if result is not None and not isinstance(result, str):
            display(result)

    def update(_change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            show(*call())
            plt.close("all")

    # Fixed-width controls that wrap onto more rows keep every slider track usable in a narrow
    # output area; in one row, flexbox would shrink the tracks to nothing.
    for control in controls.values():
        control.layout.width = control.layout.width or "300px"
        control.layout.flex = "0 0 auto"
        if getattr(control, "description", "") and len(control.description) > 10:
            control.style.description_width = "initial"
    row = widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap", width="100%"))
    box = Explorer([row, out], static={})
    for control in controls.values():
        control.observe(update, names="value")
    # The first render is stored in the output area's state, not captured with `with out:`:
    # headless executors (nbclient, hence nbconvert) can hang on output captured before the
    # widget is displayed.
    printed, result = call()
    if printed or isinstance(result, str):
        out.append_stdout(printed + (result if isinstance(result, str) else ""))
    if result is not None and not isinstance(result, str):
        out.append_display_data(result)
    box.static = static_view(printed, result)
    plt.close("all")
    return box


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def drop_widget_views(nb: dict) -> int:
    """Remove the widget format from a saved notebook's outputs that also hold a static view, and
    the saved widget state, and return how many outputs changed. A trusted JupyterLab with no
    kernel prefers the widget format and can only say "Error displaying widget: model not found",
    and nbconvert's HTML draws saved state with scripts from a CDN; without them every viewer
    shows the static view. Running the cell displays the live widget again. `make execute` applies it."""
    nb.get("metadata", {}).pop("widgets", None)
    dropped = 0
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and set(data) - {WIDGET_VIEW}:
                del data[WIDGET_VIEW]
                dropped += 1
    return dropped


if __name__ == "__main__":  # python -m course_lib.widgets notebooks/00_start_here.ipynb ...
    import sys

    import nbformat

    for path in sys.argv[1:]:
        notebook = nbformat.read(path, as_version=4)
        print(f"{path}: {drop_widget_views(notebook)} widget views dropped (their static views stay)")
        nbformat.write(notebook, path)
