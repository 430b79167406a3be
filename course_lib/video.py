"""Video as tokens: the levers that cut a video's visual tokens, the cost of attention over space
and time, and the temporal-grounding questions asked about Shapes World clips.

Taught in notebook 07 (sections 3-5). Token *counts* live in `budgets`; this module holds the
operations on token tensors and clips that the counts describe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .base.validation import require_array, require_int
from .shapes_world import Clips

QUESTIONS: tuple[str, ...] = ("contact", "color change")
QUESTION_TEXT: dict[str, str] = {
    "contact": "at which frame does the object first touch a wall?",
    "color change": "at which frame does the object change colour? (or never)",
}


# ---- frame sampling ----------------------------------------------------------------------------


def uniform_frame_indices(total: int, keep: int) -> np.ndarray:
    """Indices of `keep` frames spread evenly over `total`: i x total // keep (the rule of
    transformers' default_sample_indices_fn). E.g. total 16, keep 4 -> [0, 4, 8, 12]."""
    total = require_int("total", total, low=1)
    keep = require_int("keep", keep, low=1)
    if keep > total:
        raise ValueError(f"keep ({keep}) cannot exceed the clip's {total} frames: sample at most every frame")
    return np.arange(keep) * total // keep


# ---- spatial levers on a square token grid ------------------------------------------------------


def _grid_side(name: str, x: torch.Tensor, multiple: int) -> int:
    require_array(name, x, ndim=3)
    side = math.isqrt(x.shape[1])
    if side * side != x.shape[1]:
        raise ValueError(
            f"{name} must hold a square grid of tokens (B, side*side, D), got {x.shape[1]} tokens "
            f"(shape {tuple(x.shape)}); e.g. 1024 = 32 x 32"
        )
    if side % multiple:
        raise ValueError(f"the grid side ({side}) of {name} must be a multiple of {multiple}")
    return side


def average_pool_tokens(x: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """(B, S*S, D) -> (B, (S/stride)^2, D): average each stride x stride block (LLaVA-NeXT-Video, 576 -> 144)."""
    stride = require_int("stride", stride, low=1)
    side = _grid_side("x", x, stride)
    grid = x.reshape(x.shape[0], side, side, -1).permute(0, 3, 1, 2)
    return F.avg_pool2d(grid, stride).flatten(2).transpose(1, 2)


def bilinear_pool_tokens(x: torch.Tensor) -> torch.Tensor:
    """(B, S*S, D) -> (B, ceil(S/2)^2, D) by bilinear resizing (LLaVA-OneVision's video frames, 729 -> 196)."""
    side = _grid_side("x", x, 1)
    grid = x.reshape(x.shape[0], side, side, -1).permute(0, 3, 1, 2)
    out = F.interpolate(grid, size=(math.ceil(side / 2), math.ceil(side / 2)), mode="bilinear")
    return out.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[-1])


def pixel_shuffle(x: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """Space-to-depth on tokens: (B, S*S, D) -> (B, (S/scale)^2, D*scale^2). Each output token
    concatenates a scale x scale block, so nothing is lost (Idefics3 / SmolVLM connector)."""
    scale = require_int("scale", scale, low=1)
    side = _grid_side("x", x, scale)
    b, _, d = x.shape
    blocks = x.reshape(b, side // scale, scale, side // scale, scale, d)
    # (B, block row, row offset, block column, column offset, D) -> channels ordered (row offset, column offset, D)
    return blocks.permute(0, 1, 3, 2, 4, 5).reshape(b, (side // scale) ** 2, scale * scale * d)


def pixel_unshuffle(x: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """The inverse of pixel_shuffle: (B, (S/scale)^2, D*scale^2) -> (B, S*S, D)."""
    scale = require_int("scale", scale, low=1)
    side = _grid_side("x", x, 1)
    b, _, wide = x.shape
    if wide % (scale * scale):
        raise ValueError(f"width {wide} of x must be a multiple of scale^2 = {scale * scale}")
    d = wide // (scale * scale)
    blocks = x.reshape(b, side, side, scale, scale, d).permute(0, 1, 3, 2, 4, 5)
    return blocks.reshape(b, (side * scale) ** 2, d)


# ---- attention over space and time --------------------------------------------------------------


@dataclass(frozen=True)
class SpaceTimeCost:
    """Attention-score entries and FLOPs (QK^T plus scores x V, one layer) for T frames of N tokens, width D."""

    joint_entries: int
    factorised_entries: int
    joint_flops: int
    factorised_flops: int


def space_time_cost(frames: int, tokens: int, dim: int) -> SpaceTimeCost:
    """Joint attention over all T x N tokens: (TN)^2 entries. Factorised (spatial within each frame,
    then temporal across frames at each position, TimeSformer / ViViT): T N^2 + N T^2.
    FLOPs = 4 x entries x D (2 for QK^T, 2 for scores x V)."""
    t, n, d = require_int("frames", frames, low=1), require_int("tokens", tokens, low=1), require_int("dim", dim, low=1)
    joint, factorised = (t * n) ** 2, t * n * n + n * t * t
    return SpaceTimeCost(joint, factorised, 4 * joint * d, 4 * factorised * d)


def _attend(q: torch.Tensor) -> torch.Tensor:
    scores = torch.softmax(q @ q.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return scores @ q


def joint_attention(x: torch.Tensor) -> torch.Tensor:
    """Parameter-free self-attention over every token of (B, T, N, D) at once (queries = keys = values = x)."""
    require_array("x", x, ndim=4)
    b, t, n, d = x.shape
    return _attend(x.reshape(b, t * n, d)).reshape(b, t, n, d)


def factorised_attention(x: torch.Tensor) -> torch.Tensor:
    """Spatial attention within each frame, then temporal attention across frames at each position, (B, T, N, D)."""
    require_array("x", x, ndim=4)
    spatial = _attend(x)  # (B, T, N, D): each frame on its own
    return _attend(spatial.transpose(1, 2)).transpose(1, 2)  # (B, N, T, D): each position over time


# ---- temporal-grounding questions about clips ----------------------------------------------------


def clip_answers(clips: Clips) -> np.ndarray:
    """(N, 2) int answers to QUESTIONS for each clip: the first frame that touches a wall, and the
    first frame with the new colour, or T (= "never", T = frames per clip) if the colour never changes."""
    if not isinstance(clips, Clips):
        raise TypeError(f"clips must be a shapes_world.Clips, got {type(clips).__name__}")
    never = clips.frames.shape[1]
    change = np.where(clips.color_change_frame < 0, never, clips.color_change_frame)
    return np.stack([clips.contact_frame, change], axis=1).astype(np.int64)


def grounding_accuracy(predicted: np.ndarray, true: np.ndarray, never: int) -> tuple[float, float]:
    """(exact, within +-1 frame) accuracy of predicted frame indices; "never" (= never) counts only when exact."""
    predicted, true = np.asarray(predicted), np.asarray(true)
    require_array("true", true, ndim=1, dtype="i")
    require_array("predicted", predicted, shape=true.shape, dtype="i")
    exact = predicted == true
    near = np.where((predicted == never) | (true == never), exact, np.abs(predicted - true) <= 1)
    return float(exact.mean()), float(near.mean())


def nearest_kept(answers: np.ndarray, kept: np.ndarray, never: int) -> np.ndarray:
    """Answers moved to the nearest kept frame (the earlier one on a tie); `never` stays. What a model
    that can only point at kept frames should be trained to say."""
    answers, kept = np.asarray(answers), np.asarray(kept)
    nearest = kept[np.abs(answers[..., None] - kept).argmin(-1)]
    return np.where(answers == never, never, nearest)


def reachable_share(answers: np.ndarray, n_frames: int, keep: int) -> dict[str, float]:
    """The ceiling of a model that can only point at kept frames: for each question, the share of
    answers within one frame of one of `keep` uniformly sampled frames ("never" is always reachable)."""
    require_array("answers", answers, shape=(None, len(QUESTIONS)), dtype="i")
    kept = uniform_frame_indices(n_frames, keep)
    near = (np.abs(answers[..., None] - kept) <= 1).any(-1) | (answers == n_frames)
    return {q: float(near[:, i].mean()) for i, q in enumerate(QUESTIONS)}


# ---- figures ---------------------------------------------------------------------------------------


def plot_filmstrip(frames: np.ndarray, rows: list[dict[str, int]], titles: list[str], every: int = 1):
    """One row per clip (frames: (N, T, S, S, 3) uint8), every `every`-th frame; rows[i] maps a label
    to a frame index to outline (e.g. {"true": 7, "predicted": 8}): green for "true", red otherwise."""
    import matplotlib.pyplot as plt

    require_array("frames", frames, ndim=5, dtype="uint8")
    n, t = frames.shape[:2]
    shown = list(range(0, t, require_int("every", every, low=1)))
    fig, axes = plt.subplots(n, len(shown), figsize=(0.75 * len(shown), 0.95 * n), squeeze=False)
    for i in range(n):
        for j, f in enumerate(shown):
            ax = axes[i, j]
            ax.imshow(frames[i, f])
            ax.set_xticks([])
            ax.set_yticks([])
            marks = [label for label, frame in rows[i].items() if frame == f]
            for side in ax.spines.values():
                side.set_linewidth(3 if marks else 0.5)
                side.set_color("limegreen" if "true" in marks else ("red" if marks else "gray"))
            if i == 0:
                ax.set_title(str(f), fontsize=8)
        axes[i, 0].set_ylabel(titles[i], fontsize=7, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.2)
    return fig


def plot_sampling_curve(curves: dict[str, dict[int, float]], baselines: dict[str, float], title: str, ax=None):
    """Accuracy (y) against frames kept (x, log scale) for each curve {label: {kept: accuracy}}, with
    horizontal lines for baselines {label: accuracy}."""
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(5, 3.2))[1]
    for label, points in curves.items():
        kept = sorted(points)
        ax.plot(kept, [points[k] for k in kept], marker="o", label=label)
    for (label, value), style in zip(baselines.items(), (":", "--", "-.")):
        ax.axhline(value, color="gray", linestyle=style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("frames kept of 16")
    ax.set_ylabel("accuracy within +-1 frame")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return ax
