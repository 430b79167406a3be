"""SigLIP's pairwise sigmoid loss (Zhai et al. 2023): every image-text pair of a batch is its own
yes/no question, so there is no softmax over the batch and no normaliser to share.

Conventions as in contrastive.py: logits are (N, N) with images as rows and texts as columns,
pair i = (row i, column i). logits = t * cos + b with t = exp(t') the learned scale and b the
learned bias; labels are +1 for the N matching pairs and -1 for the N^2 - N others, and

    loss = -(1 / N) * sum_ij log sigmoid(label_ij * logit_ij)

(summed over all pairs, divided by the number of images, as in the paper's pseudocode).

Taught in notebook 03, sections 1-5 and 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base.validation import (
    require_array,
    require_budget,
    require_finite,
    require_int,
    require_pair,
    require_positive,
    require_sequence,
    short_repr,
)

if TYPE_CHECKING:
    import matplotlib.figure
from .contrastive import WALKTHROUGH_COSINES, l2_normalize

PAPER_SCALE = 10.0  # t = exp(t') with t' = log 10 at initialisation
PAPER_BIAS = -10.0
# The syllabus' three pairs: (name, logit t * cos + b, label).
PAIR_EXAMPLES: tuple[tuple[str, float, int], ...] = (
    ("matching pair", 3.2, 1),
    ("non-matching pair", -2.1, -1),
    ("hard negative", 0.4, -1),
)


# ---- one pair ----------------------------------------------------------------------------------


def _require_label(label) -> int:
    if label not in (1, -1) or isinstance(label, bool):
        raise ValueError(f"label must be +1 (matching pair) or -1 (non-matching pair), got {label!r}")
    return int(label)


def pair_loss(logit: float, label: int) -> float:
    """-log sigmoid(label * logit) of one pair, computed stably as log(1 + exp(-label * logit))."""
    logit = require_finite("logit", logit)
    return float(np.logaddexp(0.0, -_require_label(label) * logit))


def stable_sigmoid(x: float) -> float:
    """sigmoid(x) = 1 / (1 + exp(-x)) without overflow for large |x| (exp of a non-positive number only)."""
    x = require_finite("x", x)
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def pair_loss_table(pairs: Sequence[tuple[str, float, int]] = PAIR_EXAMPLES) -> str:
    """The loss of each (name, logit, label) pair as text, 4 decimals, with sigmoid(logit)."""
    lines = []
    for row in require_sequence("pairs", pairs):
        if not isinstance(row, (tuple, list)) or len(row) != 3:
            raise TypeError(f"pairs must hold (name, logit, label) triples, got {short_repr(row)}")
        name, logit, label = str(row[0]), require_finite("pairs logit", row[1]), _require_label(row[2])
        p = stable_sigmoid(logit)
        lines.append(
            f"{name:18s} logit {logit:+.1f}  label {label:+d}  sigmoid(logit) = {p:.4f}  "
            f"loss = -log sigmoid({label:+d} x {logit:+.1f}) = {pair_loss(logit, label):.4f}"
        )
    return "\n".join(lines)


# ---- the N x N loss ----------------------------------------------------------------------------


def _require_scale_bias(scale, bias) -> None:
    if isinstance(scale, torch.Tensor):
        if scale.numel() != 1 or not bool(scale.detach() > 0):
            raise ValueError(f"scale must be one number > 0 (it is t = exp(t')), got {scale}")
    else:
        require_positive("scale", scale)
    if isinstance(bias, torch.Tensor):
        ok = bias.numel() == 1 and bool(torch.isfinite(bias.detach()).all())
    else:
        ok = (
            not isinstance(bias, bool)
            and isinstance(bias, (int, float, np.integer, np.floating))
            and math.isfinite(bias)
        )
    if not ok:
        raise ValueError(f"bias must be one finite number, got {bias!r}")


def _require_embeddings(image_emb: torch.Tensor, text_emb: torch.Tensor, same_rows: bool = False,
                        names: tuple[str, str] = ("image_emb", "text_emb")) -> None:
    require_pair(names[0], image_emb, names[1], text_emb, dtype="f", torch_only=True, same_rows=same_rows)
    for name, x in zip(names, (image_emb, text_emb)):
        if x.shape[0] == 0:
            raise ValueError(f"{name} is empty: shape {tuple(x.shape)}")


def pair_labels(n: int, positives: torch.Tensor | None = None) -> torch.Tensor:
    """(N, N) float labels: +1 on the diagonal (or wherever the bool `positives` mask is True), -1 elsewhere."""
    n = require_int("n", n, low=1)
    require_budget("n", 4 * n * n, f"a ({n}, {n}) label matrix")
    if positives is None:
        return 2 * torch.eye(n) - 1
    require_array("positives", positives, shape=(n, n), dtype="b")
    return positives.float() * 2 - 1


def sigmoid_logits(image_emb: torch.Tensor, text_emb: torch.Tensor, scale, bias) -> torch.Tensor:
    """(N_img, N_txt) logits t * cos(image i, text j) + b of (N, D) embeddings (normalised here)."""
    _require_embeddings(image_emb, text_emb)
    _require_scale_bias(scale, bias)
    return scale * l2_normalize(image_emb) @ l2_normalize(text_emb).T + bias


def sigmoid_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, scale, bias, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """SigLIP loss of N pairs, materialising the (N, N) logits: -sum log sigmoid(labels * logits) / N.

    scale: t = exp(t') > 0 and bias: b, floats or one-element tensors (gradients flow through);
    positives: optional (N, N) bool mask of matching pairs (default: the diagonal).
    """
    _require_embeddings(image_emb, text_emb, same_rows=True)
    logits = sigmoid_logits(image_emb, text_emb, scale, bias)
    labels = pair_labels(len(logits), positives).to(logits.dtype)
    return -F.logsigmoid(labels * logits).sum() / len(logits)


def block_loss_sum(
    image_block: torch.Tensor, text_block: torch.Tensor, scale, bias, row_start: int = 0, col_start: int = 0
) -> torch.Tensor:
    """Sum (not mean) of the pair losses of one block of the N x N matrix: images row_start.. against
    texts col_start.. A pair is positive where the global indices agree (row_start + i == col_start + j).
    Chunked and ring computations add these sums up and divide by N once."""
    row_start, col_start = require_int("row_start", row_start, low=0), require_int("col_start", col_start, low=0)
    _require_embeddings(image_block, text_block, names=("image_block", "text_block"))
    logits = sigmoid_logits(image_block, text_block, scale, bias)
    rows = torch.arange(row_start, row_start + logits.shape[0])[:, None]
    cols = torch.arange(col_start, col_start + logits.shape[1])[None, :]
    labels = torch.where(rows == cols, 1.0, -1.0).to(logits.dtype)
    return -F.logsigmoid(labels * logits).sum()


def sigmoid_loss_chunked(image_emb: torch.Tensor, text_emb: torch.Tensor, scale, bias, chunk_size: int) -> torch.Tensor:
    """The same loss as sigmoid_loss, but over blocks of `chunk_size` texts: (N, chunk_size) logits at a
    time instead of (N, N). Pair losses are independent, so the blocks' sums add up to the full sum."""
    _require_embeddings(image_emb, text_emb, same_rows=True)
    chunk_size = require_int("chunk_size", chunk_size, low=1)
    n = image_emb.shape[0]
    total = sum(
        block_loss_sum(image_emb, text_emb[c : c + chunk_size], scale, bias, 0, c) for c in range(0, n, chunk_size)
    )
    return total / n


# ---- why t = 10, b = -10 -----------------------------------------------------------------------


@dataclass(frozen=True)
class InitialLoss:
    """The loss at initialisation when every cosine is `cosine` (e.g. 0 for random embeddings):
    per positive and per negative pair, their totals over a batch of N, and the loss (total / N)."""

    n: int
    scale: float
    bias: float
    cosine: float
    positive: float
    negative: float

    @property
    def positives_total(self) -> float:
        return self.n * self.positive

    @property
    def negatives_total(self) -> float:
        return (self.n * self.n - self.n) * self.negative

    @property
    def loss(self) -> float:
        return (self.positives_total + self.negatives_total) / self.n

    @property
    def bias_gradient(self) -> float:
        """dL/db: each positive contributes sigmoid(z) - 1, each negative sigmoid(z); divided by N.
        Positive means gradient descent lowers b."""
        p = 1.0 / (1.0 + math.exp(-(self.scale * self.cosine + self.bias)))
        return (self.n * (p - 1.0) + (self.n * self.n - self.n) * p) / self.n


def initial_loss(n: int, scale: float = PAPER_SCALE, bias: float = PAPER_BIAS, cosine: float = 0.0) -> InitialLoss:
    """Loss at initialisation for a batch of n pairs whose logits all equal scale * cosine + bias."""
    n = require_int("n", n, low=1)
    scale = require_positive("scale", scale)
    _require_scale_bias(scale, bias)
    if not -1.0 <= float(cosine) <= 1.0:
        raise ValueError(f"cosine must be in [-1, 1], got {cosine}")
    z = scale * float(cosine) + float(bias)
    return InitialLoss(n, scale, float(bias), float(cosine), pair_loss(z, 1), pair_loss(z, -1))


def prior_bias(n: int) -> float:
    """The bias b with sigmoid(b) = 1 / n, the share of positive pairs in a batch: b = -log(n - 1)."""
    n = require_int("n", n, low=2)
    return -math.log(n - 1)


def prior_loss(n: int) -> float:
    """Loss (sum over n^2 pairs / n) of the best constant guess sigmoid(b) = 1/n: n * H(1/n),
    H the binary entropy in nats. Training starts near it when b is near prior_bias(n)."""
    n = require_int("n", n, low=2)
    p = 1.0 / n
    return n * -(p * math.log(p) + (1 - p) * math.log(1 - p))


# ---- widget ------------------------------------------------------------------------------------


def render_sigmoid_explorer(
    log_scale: float = math.log(PAPER_SCALE), bias: float = PAPER_BIAS, cosines: np.ndarray = WALKTHROUGH_COSINES
) -> "matplotlib.figure.Figure":
    """Per-pair losses of a (N, N) cosine matrix (rows images, columns texts, diagonal matching) at
    t = exp(log_scale) and bias b, and the loss landscape over (log t, b) with the current point."""
    import matplotlib.pyplot as plt  # here, not at import: spawned distributed workers import this module

    from .plots import plot_heatmap

    cosines = np.asarray(cosines, dtype=float)
    require_array("cosines", cosines, ndim=2)
    if cosines.shape[0] != cosines.shape[1] or cosines.shape[0] < 2:
        raise ValueError(f"cosines must be a square (N, N) matrix with N >= 2, got shape {cosines.shape}")
    if not (np.isfinite(log_scale) and np.isfinite(bias)):
        raise ValueError(f"log_scale and bias must be finite, got {log_scale}, {bias}")
    n = len(cosines)
    labels = 2 * np.eye(n) - 1

    def losses(t, b):
        return np.logaddexp(0.0, -labels * (t * cosines + b))

    per_pair = losses(math.exp(log_scale), bias)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [f"{i}" for i in range(n)]
    plot_heatmap(
        per_pair,
        [f"image {i}" for i in range(n)],
        [f"text {i}" for i in names],
        fmt=".3f",
        ax=ax0,
        title=f"pair losses at t = {math.exp(log_scale):.2f}, b = {bias:.1f}\n"
        f"positives {np.trace(per_pair):.3f} + negatives {per_pair.sum() - np.trace(per_pair):.3f}; "
        f"loss = {per_pair.sum() / n:.3f}",
    )
    log_t = np.linspace(-1.0, 4.0, 81)
    b = np.linspace(-15.0, 5.0, 81)
    grid = np.array([[losses(math.exp(lt), bb).sum() / n for lt in log_t] for bb in b])
    cs = ax1.contourf(log_t, b, np.log10(grid), levels=30, cmap="viridis")
    fig.colorbar(cs, ax=ax1, label="log10(loss)")
    ax1.plot([log_scale], [bias], "r*", markersize=14, label="current (t', b)")
    ax1.plot([math.log(PAPER_SCALE)], [PAPER_BIAS], "wo", markersize=7, label="paper init (log 10, -10)")
    ax1.set_xlabel("t' = log t (the parameter SiglipModel.logit_scale)")
    ax1.set_ylabel("b (SiglipModel.logit_bias)")
    ax1.set_title(f"loss landscape of this {n} x {n} matrix")
    ax1.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
