"""Wire a pure function to ipywidgets controls. The function does the work, so headless runs
and tests can call it directly; the widget only re-calls it when a control changes."""
from __future__ import annotations

from typing import Any, Callable

import ipywidgets as widgets
from IPython.display import display


def explore(render: Callable[..., Any], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Return a box of `controls` above an output area showing `render(**values)`.

    `render` is called once now with the controls' initial values and again on every change.
    Whatever it prints, or returns (a figure, a string, an object), lands in the output area.
    """
    if not controls:
        raise ValueError("explore needs at least one control, e.g. n=IntSlider(...)")
    for name, control in controls.items():
        if not isinstance(control, widgets.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")
    out = widgets.Output()

    def call() -> Any:
        box.result = render(**{name: c.value for name, c in controls.items()})  # for tests: the latest return value
        return box.result

    def update(_change: Any = None) -> None:
        import matplotlib.pyplot as plt

        with out:
            out.clear_output(wait=True)
            result = call()
            if result is not None:
                display(result)
            plt.close("all")

    box = widgets.VBox([widgets.HBox(list(controls.values())), out])
    for control in controls.values():
        control.observe(update, names="value")
    # The first render is stored in the output area's state, not captured with `with out:`:
    # headless executors (nbclient, hence nbconvert) can hang on output captured before the
    # widget is displayed. What render prints goes to the cell's own output.
    import matplotlib.pyplot as plt

    result = call()
    if result is not None:
        out.append_display_data(result)
    plt.close("all")
    return box
