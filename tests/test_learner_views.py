"""What a learner sees: explorers' static views and layout, progress summaries, titles that fit and
say what the slider says, the thread choice and what doctor() reports about it."""
import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from notebook_views import WIDGET_MIME, problems_in_text  # noqa: E402

from course_lib import budgets, doctor  # noqa: E402
from course_lib.base.seeding import busy_cores, choose_threads  # noqa: E402
from course_lib.contrastive import render_temperature  # noqa: E402
from course_lib.plots import plot_scene_gallery  # noqa: E402
from course_lib.training import train  # noqa: E402
from course_lib.widgets import explore  # noqa: E402


def test_text_explorer_prints_text_and_carries_it_as_its_static_view():
    box = explore(budgets.render_budget, height=w.IntSlider(value=672, min=112, max=2016, step=56),
                  dtype=w.Dropdown(options=list(budgets.DTYPE_BYTES), value="fp16"))
    bundle = box._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    text = bundle["text/plain"]
    assert text.startswith("image 672x672") and "\n" in text and not text.startswith("'")
    assert not problems_in_text(text)
    out = box.children[1]
    assert out.outputs[0]["output_type"] == "stream" and out.outputs[0]["text"].startswith("image 672x672")
    box.children[0].children[1].value = "fp32"
    assert "fp32" in box.result


def test_figure_explorer_carries_its_first_render_as_png():
    split = w.Dropdown(options=["train", "held_out"])
    box = explore(plot_scene_gallery, seed=w.IntSlider(value=2, max=50), split=split)
    bundle = box._repr_mimebundle_()
    assert bundle["image/png"] and not problems_in_text(bundle["text/plain"])
    assert "VBox" not in bundle["text/plain"]


def test_explorer_controls_wrap_and_keep_their_width():
    sliders = {k: w.IntSlider(value=672, min=112, max=2016, step=56) for k in ("height", "width")}
    box = explore(budgets.render_budget, **sliders)
    row = box.children[0]
    assert row.layout.flex_flow == "row wrap"
    assert all(c.layout.width == "300px" and c.layout.flex == "0 0 auto" for c in row.children)


def test_training_outside_a_notebook_still_trains():
    model = torch.nn.Linear(3, 1)
    result = train(model, lambda s: torch.ones(4, 3), lambda m, x: m(x).pow(2).mean(), steps=5, lr=0.01, progress=False)
    assert result.steps == 5 and result.seconds >= 0


def test_temperature_title_says_what_the_slider_shows():
    fig = render_temperature(10 ** 0.1)  # a FloatLogSlider at 0.1 reads "1.26"
    assert fig._suptitle.get_text().startswith("tau = 1.26:")


def test_gallery_titles_never_cover_the_image_above():
    fig = plot_scene_gallery(n=8, seed=2, max_objects=3, split="held_out")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.images]
    cols = 4
    for i, ax in enumerate(axes[cols:], start=cols):
        above = axes[i - cols].get_window_extent(renderer)
        title = ax.title.get_window_extent(renderer)
        assert title.y1 <= above.y0 + 1, f"title of image {i} overlaps the image above"


def test_thread_choice(monkeypatch):
    assert busy_cores(window=0.05) >= 0
    assert 1 <= choose_threads() <= 2
    monkeypatch.setenv("COURSE_THREADS", "1")
    assert choose_threads() == 1
    monkeypatch.setenv("COURSE_THREADS", "0")
    with pytest.raises(ValueError, match="COURSE_THREADS"):
        choose_threads()


def test_doctor_reports_load_and_a_relative_data_path(capsys):
    doctor()
    out = capsys.readouterr().out
    assert "machine load:" in out and "torch thread(s)" in out
    assert "data folder at data/" in out and "/data" not in out.split("data folder at")[1].splitlines()[0][:6]


def test_drop_widget_views_keeps_the_static_view_only():
    import copy

    from notebook_views import BROKEN_OUTPUTS

    from course_lib.widgets import drop_widget_views

    box = explore(budgets.render_budget, height=w.IntSlider(value=672, min=112, max=2016, step=56))
    saved = {"output_type": "execute_result", "execution_count": 1, "metadata": {}, "data": box._repr_mimebundle_()}
    bare = {"output_type": "display_data", "metadata": {}, "data": {WIDGET_MIME: {"model_id": "2" * 32}}}
    nb = {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}}},
          "cells": [{"cell_type": "code", "outputs": [saved, bare, *copy.deepcopy(BROKEN_OUTPUTS[:1])]}]}
    assert drop_widget_views(nb) == 2  # the explorer, and the bar (whose repr the file tests then catch)
    assert "widgets" not in nb["metadata"]
    assert set(saved["data"]) == {"text/plain"} and saved["data"]["text/plain"].startswith("image 672x672")
    assert WIDGET_MIME in bare["data"]  # nothing static beside it: left for the file tests to flag
