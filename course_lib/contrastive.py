"""Contrastive image-text losses: the CLIP softmax (InfoNCE) loss by hand, in numpy and torch,
the learned logit scale, and false negatives (duplicate captions) with a multi-positive fix.

Conventions: a similarity or logit matrix is (B, B) with images as rows and texts as columns,
and the match of row i is column i. Rows give the image->text loss, columns the text->image loss.

Taught in notebook 02, sections 1-7.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base.validation import (
    as_float_array,
    require_array,
    require_index,
    require_pair,
    require_positive,
    require_sequence,
)

# The 4x4 walkthrough: 4 images (rows) x 4 captions (columns), first row [0.9, 0.1, 0.2, 0.0],
# each row's largest cosine on the diagonal.
WALKTHROUGH_COSINES = np.array(
    [
        [0.9, 0.1, 0.2, 0.0],
        [0.2, 0.8, 0.3, 0.1],
        [0.1, 0.3, 0.7, 0.2],
        [0.0, 0.2, 0.4, 0.6],
    ]
)
CLIP_INIT_TAU = 0.07
MAX_LOGIT_SCALE = 100.0


def _require_square(name: str, m, torch_only: bool = False) -> None:
    require_array(name, m, ndim=2, torch_only=torch_only, finite=True)
    if torch_only and not m.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {m.dtype}; convert it with .float()")
    if m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty square (B, B) matrix (pair i is row i, column i), got shape {tuple(m.shape)}"
        )


def l2_normalize(x: np.ndarray | torch.Tensor, eps: float = 1e-12) -> np.ndarray | torch.Tensor:
    """Rows of a (B, D) numpy array or tensor scaled to unit length."""
    require_array("x", x, ndim=2, finite=True)
    if isinstance(x, torch.Tensor):
        return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)
    x = as_float_array("x", x)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)


def cosine_matrix(
    image_emb: np.ndarray | torch.Tensor, text_emb: np.ndarray | torch.Tensor
) -> np.ndarray | torch.Tensor:
    """(B, B) cosine similarities of (B, D) image and text embeddings: normalise, then dot."""
    require_pair("image_emb", image_emb, "text_emb", text_emb, same_rows=True, dtype="f")
    return l2_normalize(image_emb) @ l2_normalize(text_emb).T


# ---- the walkthrough ------------------------------------------------------------------------


@dataclass(frozen=True)
class Walkthrough:
    """Every intermediate of the symmetric InfoNCE loss on a (B, B) cosine matrix at temperature tau.

    logits = cosines / tau, exps = exp(logits); rows: softmax over each row (image -> texts),
    cols: softmax over each column (text -> images); *_ce: -log p(correct) per row/column.
    """

    cosines: np.ndarray
    tau: float
    logits: np.ndarray
    exps: np.ndarray
    row_sums: np.ndarray
    row_probs: np.ndarray
    row_ce: np.ndarray
    col_sums: np.ndarray
    col_probs: np.ndarray
    col_ce: np.ndarray

    @property
    def loss_image_to_text(self) -> float:
        return float(self.row_ce.mean())

    @property
    def loss_text_to_image(self) -> float:
        return float(self.col_ce.mean())

    @property
    def loss(self) -> float:
        """Symmetric CLIP loss: the mean of the two directional losses."""
        return (self.loss_image_to_text + self.loss_text_to_image) / 2


def walkthrough(
    cosines: np.ndarray = WALKTHROUGH_COSINES, tau: float = 1.0, decimals: int | None = None
) -> Walkthrough:
    """Compute the loss step by step. `decimals` rounds every intermediate (exps, sums,
    probabilities, cross-entropies) as a hand calculation would; None keeps full precision."""
    cosines = as_float_array("cosines", cosines)
    _require_square("cosines", cosines)
    tau = require_positive("tau", tau)
    r = (lambda a: a) if decimals is None else (lambda a: np.round(a, decimals))
    logits = cosines / tau
    with np.errstate(over="ignore"):
        exps = r(np.exp(logits))  # shown as a hand calculation; may overflow to inf at tiny tau
    row_sums = r(exps.sum(axis=1))
    col_sums = r(exps.sum(axis=0))
    if decimals is not None and np.isfinite(exps).all() and (np.diag(exps) > 0).all():
        row_probs = r(exps / row_sums[:, None])
        col_probs = r(exps / col_sums[None, :])
        row_ce = r(-np.log(np.diag(row_probs)))
        col_ce = r(-np.log(np.diag(col_probs)))
    else:  # log-sum-exp: subtract each row's (column's) max before exponentiating, so nothing overflows
        lse_rows = _logsumexp(logits, axis=1)
        lse_cols = _logsumexp(logits, axis=0)
        row_probs = r(np.exp(logits - lse_rows[:, None]))
        col_probs = r(np.exp(logits - lse_cols[None, :]))
        row_ce = r(lse_rows - np.diag(logits))
        col_ce = r(lse_cols - np.diag(logits))
    return Walkthrough(cosines, tau, logits, exps, row_sums, row_probs, row_ce, col_sums, col_probs, col_ce)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def _require_walkthrough(w) -> None:
    if not isinstance(w, Walkthrough):
        raise TypeError(f"w must be the Walkthrough returned by walkthrough(), got {type(w).__name__}")


def walkthrough_table(w: Walkthrough, rows: Sequence[int] | None = None) -> str:
    """The walkthrough as text, 4 decimals: per row (image i -> texts) and per column
    (text j -> images) the exps, their sum, p(correct) and the cross-entropy; then the losses."""
    _require_walkthrough(w)
    n = len(w.cosines)
    if rows is not None:
        rows = [require_index("rows", i, n, "rows") for i in require_sequence("rows", rows)]
    lines = [f"tau = {w.tau:g}  (logits = cosine / tau)"]
    for axis, name in ((1, "row"), (0, "col")):
        sums, probs, ce = (w.row_sums, w.row_probs, w.row_ce) if axis == 1 else (w.col_sums, w.col_probs, w.col_ce)
        for i in range(n) if rows is None else rows:
            e = w.exps[i] if axis == 1 else w.exps[:, i]
            exps = " ".join(f"{v:9.4f}" for v in e)
            p = probs[i, i]
            lines.append(f"{name} {i}: exp = [{exps}]  sum = {sums[i]:9.4f}  p(correct) = {p:.4f}  CE = {ce[i]:.4f}")
    lines.append(f"image->text loss (mean of row CE)    = {w.loss_image_to_text:.4f}")
    lines.append(f"text->image loss (mean of column CE) = {w.loss_text_to_image:.4f}")
    lines.append(f"symmetric CLIP loss                  = {w.loss:.4f}")
    return "\n".join(lines)


# ---- InfoNCE from scratch ------------------------------------------------------------------


def info_nce_numpy(logits: np.ndarray) -> float:
    """Mean cross-entropy of each row of (B, B) logits with the diagonal as target (log-sum-exp, stable)."""
    logits = as_float_array("logits", logits)
    _require_square("logits", logits)
    return float(np.mean(_logsumexp(logits, axis=1) - np.diag(logits)))


def info_nce_torch(logits: torch.Tensor) -> torch.Tensor:
    """Same as info_nce_numpy for a (B, B) tensor, differentiable: mean over rows of -log_softmax[i, i]."""
    _require_square("logits", logits, torch_only=True)
    return -torch.log_softmax(logits, dim=1).diagonal().mean()


def symmetric_info_nce(logits: torch.Tensor) -> torch.Tensor:
    """(image->text + text->image) / 2 for (B, B) logits with images as rows."""
    _require_square("logits", logits, torch_only=True)
    return (info_nce_torch(logits) + info_nce_torch(logits.T)) / 2


def clip_logits(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """(B, B) logits_per_image = scale * cos(image i, text j); scale = 1 / tau = exp(logit_scale). text_emb may
    hold H hard-negative rows after its B captions: then (B, B + H)."""
    require_pair("image_emb", image_emb, "text_emb", text_emb, dtype="f", torch_only=True)
    if text_emb.shape[0] < image_emb.shape[0]:
        raise ValueError(f"batch sizes differ: {image_emb.shape[0]} rows in image_emb but {text_emb.shape[0]} in "
                         "text_emb (pair i is row i of each; hard-negative captions may follow as extra text rows)")
    if not isinstance(scale, torch.Tensor):
        scale = require_positive("scale", scale)
    elif not bool(torch.isfinite(scale).all()):
        raise ValueError(f"scale (the logit scale, 1 / temperature) is {scale.detach()}: training diverged; lower lr")
    elif not bool((scale > 0).all()):
        raise ValueError(f"scale must be > 0 (it is 1 / temperature), got {scale}")
    return scale * l2_normalize(image_emb) @ l2_normalize(text_emb).T


def clip_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, scale: float | torch.Tensor) -> torch.Tensor:
    """Symmetric CLIP loss of (B, D) image and text embeddings (normalised here) at scale = 1 / tau."""
    return symmetric_info_nce(clip_logits(image_emb, text_emb, scale))


def softmax_minus_onehot(logits: np.ndarray | torch.Tensor, axis: int = 1) -> np.ndarray:
    """Gradient of the mean image->text InfoNCE loss w.r.t. (B, B) logits: (softmax - I) / B.
    Negative on the diagonal (pull the pair together), positive elsewhere (push negatives apart)."""
    logits = as_float_array("logits", logits)
    _require_square("logits", logits)
    p = np.exp(logits - logits.max(axis=axis, keepdims=True))
    p = p / p.sum(axis=axis, keepdims=True)
    return (p - np.eye(len(logits))) / len(logits)


# ---- the learned logit scale ----------------------------------------------------------------


def logit_scale_init(tau: float = CLIP_INIT_TAU) -> float:
    """Initial value of CLIP's logit_scale parameter: log(1 / tau) (the model multiplies by its exp)."""
    return math.log(1.0 / require_positive("tau", tau))


def clamp_logit_scale(model: torch.nn.Module, max_scale: float = MAX_LOGIT_SCALE) -> None:
    """Clamp model.logit_scale in place so that exp(logit_scale) <= max_scale (tau >= 1 / max_scale).
    Call it after each optimiser step: CLIPModel's forward does not clamp."""
    max_scale = require_positive("max_scale", max_scale)
    if not hasattr(model, "logit_scale"):
        raise TypeError(
            f"model must be a CLIP-style model with a logit_scale (load_tiny_clip()[0]), got {type(model).__name__}"
        )
    with torch.no_grad():
        model.logit_scale.clamp_(max=math.log(max_scale))


# ---- false negatives -------------------------------------------------------------------------


def duplicate_audit(keys: Sequence[str]) -> dict[str, int]:
    """Count false negatives in a batch where items with equal keys (e.g. identical captions) match.

    Returns n, unique (distinct keys), in_duplicates (items whose key occurs more than once) and
    false_negative_pairs (ordered off-diagonal pairs (i, j) with equal keys, treated as negatives).
    """
    keys = require_sequence("keys", keys)
    counts = Counter(keys)
    return {
        "n": len(keys),
        "unique": len(counts),
        "in_duplicates": sum(c for c in counts.values() if c > 1),
        "false_negative_pairs": sum(c * (c - 1) for c in counts.values()),
    }


def positive_mask(keys: Sequence) -> torch.Tensor:
    """(B, B) boolean: item i and item j are a positive pair (equal keys). The diagonal is always True."""
    keys = require_sequence("keys", keys)
    try:
        codes = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    except TypeError:
        raise TypeError(f"keys must hold hashable items (strings or ints), got {type(keys[0]).__name__}") from None
    ids = torch.tensor([codes[k] for k in keys])
    return ids[:, None] == ids[None, :]


def multi_positive_loss(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy of (B, B) logits against soft targets spread evenly over each
    row's (and column's) positives. With only the diagonal positive it equals symmetric_info_nce.

    Hard negatives (NegCLIP, notebook 04 section 7): logits (B, B + H) whose last H columns are extra
    captions, false for the image they were made from. They join the image -> text softmax of every row;
    the text -> image direction uses the first B columns only (a hard negative has no image of its own)."""
    require_array("logits", logits, ndim=2, torch_only=True, finite=True)
    if not logits.is_floating_point():
        raise TypeError(f"logits must have a floating-point dtype, got {logits.dtype}; convert it with .float()")
    b = logits.shape[0]
    if b == 0 or logits.shape[1] < b:
        raise ValueError(f"logits must be (B, B) or (B, B + H) with hard-negative columns last (pair i is row i, "
                         f"column i), got shape {tuple(logits.shape)}")
    require_array("positives", positives, shape=tuple(logits.shape), dtype="b", torch_only=True)
    if not bool(positives[:, :b].diagonal().all()):
        raise ValueError("positives must include the diagonal (each image matches its own caption)")
    target = positives.float()
    rows = -(target / target.sum(1, keepdim=True) * torch.log_softmax(logits, dim=1)).sum(1).mean()
    square = target[:, :b]
    cols = -(square / square.sum(0, keepdim=True) * torch.log_softmax(logits[:, :b], dim=0)).sum(0).mean()
    return (rows + cols) / 2


def reference_cross_entropy(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The library's view: F.cross_entropy on rows and on columns with targets arange(B)."""
    _require_square("logits", logits, torch_only=True)
    target = torch.arange(len(logits))
    return F.cross_entropy(logits, target), F.cross_entropy(logits.T, target)


# ---- pictures ----------------------------------------------------------------------------------


def plot_walkthrough(w: Walkthrough, labels: Sequence[str] | None = None):
    """Three heatmaps: the cosine matrix, its row softmax (image -> text) and column softmax
    (text -> image) at the walkthrough's temperature; the title gives the three losses."""
    _require_walkthrough(w)
    import matplotlib.pyplot as plt

    from .plots import plot_heatmap

    n = len(w.cosines)
    labels = list(labels) if labels is not None else [f"{i}" for i in range(n)]
    rows, cols = [f"image {x}" for x in labels], [f"text {x}" for x in labels]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    plot_heatmap(w.cosines, rows, cols, title="cosine similarity", ax=axes[0], cmap="magma")
    plot_heatmap(w.row_probs, rows, cols, title="row softmax: p(text | image)", ax=axes[1])
    plot_heatmap(w.col_probs, rows, cols, title="column softmax: p(image | text)", ax=axes[2])
    fig.suptitle(
        f"tau = {w.tau:g}: image->text loss {w.loss_image_to_text:.4f}, text->image {w.loss_text_to_image:.4f}, "
        f"symmetric {w.loss:.4f}"
    )
    fig.tight_layout()
    return fig


def render_temperature(tau: float = 1.0, cosines: np.ndarray = WALKTHROUGH_COSINES):
    """Widget render: the walkthrough's heatmaps at temperature `tau`, rounded to the 3 significant
    digits a FloatLogSlider shows (10**0.1 = 1.2589... is computed and titled as 1.26)."""
    return plot_walkthrough(walkthrough(cosines, tau=float(f"{require_positive('tau', tau):.3g}")))
