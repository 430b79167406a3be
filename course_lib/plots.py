"""Plots reused across notebooks: image grids, heatmaps, training curves."""
from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .base.validation import require_array

TITLE_FONTSIZE = 7


def plot_images(images: np.ndarray, titles: Sequence[str] | None = None, cols: int = 8,
                size: float = 1.6) -> plt.Figure:
    """Grid of (N, H, W, 3) uint8 images with optional titles, wrapped to the image width; each row
    is as tall as its image plus its longest title, so titles never cover the image above."""
    require_array("images", images, ndim=4)
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    width = max(12, int(size * 72 / (TITLE_FONTSIZE * 0.6)))  # characters of a 7 pt title across one image
    wrapped = ["\n".join(w for line in t.split("\n") for w in textwrap.wrap(line, width) or [""]) for t in titles] \
        if titles is not None else [""] * n
    lines = max(t.count("\n") + 1 for t in wrapped) if titles is not None else 0
    title_height = lines * TITLE_FONTSIZE * 1.35 / 72  # inches
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * (size + title_height) + 0.1), squeeze=False,
                             layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(images[i], interpolation="nearest")
        if titles is not None:
            ax.set_title(wrapped[i], fontsize=TITLE_FONTSIZE)
    return fig


# matplotlib's default colour cycle, by name: legends say which colour is which line, so a reader
# who cannot tell red from green (the Shapes World palette has both) can still follow a plot.
CYCLE_NAMES = {"#1f77b4": "blue", "#ff7f0e": "orange", "#2ca02c": "green", "#d62728": "red", "#9467bd": "purple",
               "#8c564b": "brown", "#e377c2": "pink", "#7f7f7f": "grey", "#bcbd22": "olive", "#17becf": "cyan"}


def legend_with_colours(ax: plt.Axes, **kwargs) -> None:
    """`ax.legend(**kwargs)` with each line's colour named in its label, e.g. "clip (blue)"."""
    from matplotlib.colors import to_hex

    for line in ax.get_lines():
        name = CYCLE_NAMES.get(to_hex(line.get_color()))
        label = line.get_label()
        if name and not label.startswith("_") and f"({name}" not in label:
            line.set_label(f"{label} ({name})")
    ax.legend(**kwargs)


def plot_heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str = "",
    fmt: str | None = ".2f",
    ax: plt.Axes | None = None,
    cmap: str = "viridis",
) -> plt.Axes:
    """Annotated heatmap of a 2-D matrix (annotations only when it is small)."""
    m = np.asarray(matrix.detach() if hasattr(matrix, "detach") else matrix, dtype=float)
    require_array("matrix", m, ndim=2)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(0.6 * m.shape[1] + 2, 9), min(0.5 * m.shape[0] + 1.5, 8)))
    im = ax.imshow(m, cmap=cmap)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if row_labels is not None:
        ax.set_yticks(range(m.shape[0]), row_labels, fontsize=8)
    if col_labels is not None:
        ax.set_xticks(range(m.shape[1]), col_labels, fontsize=8, rotation=45, ha="right")
    if fmt and m.size <= 100:
        mid = (np.nanmax(m) + np.nanmin(m)) / 2
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=8, color="black" if v > mid else "white")
    ax.set_title(title)
    return ax


def plot_loss_curve(losses: Sequence[float], title: str = "training loss", ax: plt.Axes | None = None,
                    label: str | None = None) -> plt.Axes:
    """Loss per step, with a moving average when there are many steps."""
    y = np.asarray(losses, dtype=float)
    require_array("losses", y, ndim=1)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    ax.plot(y, alpha=0.35 if len(y) > 50 else 1.0, label="each step" if len(y) > 50 else label)
    if len(y) > 50:
        k = max(len(y) // 30, 2)
        ax.plot(np.arange(k - 1, len(y)), np.convolve(y, np.ones(k) / k, mode="valid"),
                label=f"{label + ': ' if label else ''}mean of {k} steps")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if label or len(y) > 50:
        legend_with_colours(ax, fontsize=8)
    return ax


def plot_scene_gallery(n: int = 8, seed: int = 0, max_objects: int = 3, split: str = "train") -> plt.Figure:
    """Generate `n` Shapes World scenes and show them with their captions."""
    from .shapes_world import generate_scenes, make_captions

    scenes = generate_scenes(n, seed=seed, max_objects=max_objects, split=split)
    captions = make_captions(scenes, seed=seed)
    return plot_images(scenes.images, captions, cols=4, size=2.4)
