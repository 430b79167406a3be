"""Plots reused across notebooks: image grids, heatmaps, training curves."""
from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .base.validation import require_array


def plot_images(images: np.ndarray, titles: Sequence[str] | None = None, cols: int = 8,
                size: float = 1.6) -> plt.Figure:
    """Grid of (N, H, W, 3) uint8 images with optional titles."""
    require_array("images", images, ndim=4)
    n = len(images)
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles")
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * size, rows * size * 1.15), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:n]):
        ax.imshow(images[i], interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=7, wrap=True)
    fig.tight_layout()
    return fig


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
    ax.plot(y, alpha=0.35 if len(y) > 50 else 1.0, label=None if len(y) > 50 else label)
    if len(y) > 50:
        k = max(len(y) // 30, 2)
        ax.plot(np.arange(k - 1, len(y)), np.convolve(y, np.ones(k) / k, mode="valid"), label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    if label:
        ax.legend()
    return ax


def plot_scene_gallery(n: int = 8, seed: int = 0, max_objects: int = 3, split: str = "train") -> plt.Figure:
    """Generate `n` Shapes World scenes and show them with their captions."""
    from .shapes_world import generate_scenes, make_captions

    scenes = generate_scenes(n, seed=seed, max_objects=max_objects, split=split)
    captions = make_captions(scenes, seed=seed)
    return plot_images(scenes.images, [textwrap.fill(c, 30) for c in captions], cols=4, size=2.4)
