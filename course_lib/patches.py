"""Vision Transformer patches: how an image becomes a sequence of tokens, and what that costs.

Cut an image into a grid of P x P patches, flatten each patch into one vector, order the patches
row by row (raster order): that (N, P*P*C) matrix is what a ViT's patch embedding sees. This
module counts the tokens, patchifies and unpatchifies (numpy or torch), fits sizes that do not
divide by P (an explicit policy), estimates the attention cost, builds 2-D sin-cos position
embeddings and draws the patch grid.

Taught in notebook 01, sections 1-8.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from .base.validation import require_array, require_choice, require_int, require_positive
from .plots import legend_with_colours

# How to make a size that does not divide by the patch size fit (see `fitted_size`).
POLICIES: tuple[str, ...] = ("error", "pad", "crop", "resize")


def _size_pair(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise TypeError(f"image_size must be an int or a (height, width) pair, got {image_size!r}")
    return require_int("height", image_size[0], low=1), require_int("width", image_size[1], low=1)


def grid_shape(image_size: int | tuple[int, int], patch_size: int) -> tuple[int, int]:
    """(H / P, W / P): patch rows and columns. Raises ValueError when a side is not a multiple of P."""
    h, w = _size_pair(image_size)
    p = require_int("patch_size", patch_size, low=1)
    if h % p or w % p:
        raise ValueError(
            f"image size {h}x{w} is not divisible by patch size {p}: resize to "
            f"{h // p * p}x{w // p * p} or pad to {-(-h // p) * p}x{-(-w // p) * p} first"
        )
    return h // p, w // p


def num_patches(image_size: int | tuple[int, int], patch_size: int, *, cls_token: bool = False) -> int:
    """N = (H / P) * (W / P) patch tokens (+1 with a class token).

    Raises ValueError when a side is not a multiple of the patch size (resize or pad first).
    """
    gh, gw = grid_shape(image_size, patch_size)
    return gh * gw + int(cls_token)


# ---- non-divisible sizes: an explicit policy ---------------------------------------------------

def fitted_size(image_size: int | tuple[int, int], patch_size: int, policy: str = "error") -> tuple[int, int]:
    """(H', W') that divide by P, per side, under `policy`:

    - "error": H, W unchanged if they divide by P, else ValueError (the default: no silent change);
    - "pad": round up to the next multiple of P (zero pixels added at the bottom and right);
    - "crop": round down to the previous multiple (a centred crop; Conv2d(stride=P) keeps the same
      count but silently drops the bottom and right remainder instead);
    - "resize": round to the nearest multiple (halves round up; at least P) and resample the whole image.
    """
    h, w = _size_pair(image_size)
    p = require_int("patch_size", patch_size, low=1)
    require_choice("policy", policy, POLICIES)
    if policy == "error":
        grid_shape((h, w), p)
        return h, w
    if policy == "pad":
        return -(-h // p) * p, -(-w // p) * p
    if max(h, w) < p or (policy == "crop" and min(h, w) < p):
        raise ValueError(f"image size {h}x{w} is smaller than one {p}x{p} patch: policy {policy!r} cannot keep a patch")
    if policy == "crop":
        return h // p * p, w // p * p
    return max(int(h / p + 0.5), 1) * p, max(int(w / p + 0.5), 1) * p


def fit_to_patches(image: np.ndarray, patch_size: int, policy: str = "error") -> np.ndarray:
    """(H, W, 3) uint8 image -> (H', W', 3) uint8 with H', W' multiples of P, per `fitted_size`.

    "pad" adds black (0) pixels at the bottom and right; "crop" keeps the centre; "resize" uses
    bicubic resampling of the whole image.
    """
    require_array("image", image, ndim=3, dtype="uint8")
    h, w = image.shape[:2]
    nh, nw = fitted_size((h, w), patch_size, policy)
    if (nh, nw) == (h, w):
        return image
    if policy == "pad":
        return np.pad(image, ((0, nh - h), (0, nw - w), (0, 0)))
    if policy == "crop":
        top, left = (h - nh) // 2, (w - nw) // 2
        return image[top : top + nh, left : left + nw]
    return np.array(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))


def resize_and_crop(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 photo -> (size, size, 3) uint8 the way CLIP's preprocessing does it:
    resize the shorter side to `size` (bicubic, aspect ratio kept), then crop the centre square."""
    require_array("image", image, ndim=3, dtype="uint8")
    size = require_int("size", size, low=1)
    h, w = image.shape[:2]
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    top, left = (nh - size) // 2, (nw - size) // 2
    return resized[top : top + size, left : left + size].copy()


# ---- patchify / unpatchify (numpy or torch) ----------------------------------------------------

def _permute(x: Any, axes: tuple[int, ...]) -> Any:
    return x.transpose(axes) if isinstance(x, np.ndarray) else x.permute(*axes)


def patchify(images: Any, patch_size: int, *, channels_first: bool = False) -> Any:
    """Images -> flattened patches in raster order (row by row, left to right).

    channels_first=False: (H, W, C) or (B, H, W, C) -> (N, P*P*C) or (B, N, P*P*C), each patch
    flattened in (row, col, channel) order, as in the ViT paper.
    channels_first=True: (C, H, W) or (B, C, H, W) -> (N, C*P*P) or (B, N, C*P*P), flattened in
    (channel, row, col) order, which is the order of Conv2d's weight (D, C, P, P).reshape(D, -1).
    Works on numpy arrays and torch tensors (returns the same kind).
    """
    require_array("images", images, ndim=(3, 4))
    batched = images.ndim == 4
    x = images if batched else images[None]
    b, c, h, w = ((x.shape[0], x.shape[1], x.shape[2], x.shape[3]) if channels_first
                  else (x.shape[0], x.shape[3], x.shape[1], x.shape[2]))
    gh, gw = grid_shape((h, w), patch_size)
    p = patch_size
    if channels_first:
        x = _permute(x.reshape(b, c, gh, p, gw, p), (0, 2, 4, 1, 3, 5))
    else:
        x = _permute(x.reshape(b, gh, p, gw, p, c), (0, 1, 3, 2, 4, 5))
    x = x.reshape(b, gh * gw, p * p * c)
    return x if batched else x[0]


def unpatchify(patches: Any, patch_size: int, image_size: int | tuple[int, int], *,
               channels_first: bool = False) -> Any:
    """Inverse of `patchify`: (N, P*P*C) or (B, N, P*P*C) -> (H, W, C) or (B, H, W, C)
    ((C, H, W) or (B, C, H, W) with channels_first=True). Exact: no value changes."""
    require_array("patches", patches, ndim=(2, 3))
    gh, gw = grid_shape(image_size, patch_size)
    p = patch_size
    batched = patches.ndim == 3
    x = patches if batched else patches[None]
    b, n, d = x.shape
    if n != gh * gw:
        raise ValueError(f"patches hold {n} patches but a {gh * p}x{gw * p} image has {gh}x{gw} = {gh * gw} "
                         f"patches of {p}x{p}")
    if d % (p * p):
        raise ValueError(f"patch vectors have {d} values, not a multiple of P*P = {p * p}: wrong patch size?")
    c = d // (p * p)
    if channels_first:
        x = _permute(x.reshape(b, gh, gw, c, p, p), (0, 3, 1, 4, 2, 5)).reshape(b, c, gh * p, gw * p)
    else:
        x = _permute(x.reshape(b, gh, gw, p, p, c), (0, 1, 3, 2, 4, 5)).reshape(b, gh * p, gw * p, c)
    return x if batched else x[0]


def tile_mosaic(image: np.ndarray, patch_size: int, gap: int = 2, fill: int = 255) -> np.ndarray:
    """(H, W, 3) uint8 -> the same patches pulled apart by `gap` pixels of value `fill`:
    (gh*P + (gh-1)*gap, gw*P + (gw-1)*gap, 3) uint8."""
    require_array("image", image, ndim=3, dtype="uint8")
    gap = require_int("gap", gap, low=0)
    fill = require_int("fill", fill, low=0, high=255)
    gh, gw = grid_shape(image.shape[:2], patch_size)
    p = patch_size
    out = np.full((gh * p + (gh - 1) * gap, gw * p + (gw - 1) * gap, image.shape[2]), fill, dtype=np.uint8)
    for i in range(gh):
        for j in range(gw):
            top, left = i * (p + gap), j * (p + gap)
            out[top : top + p, left : left + p] = image[i * p : (i + 1) * p, j * p : (j + 1) * p]
    return out


# ---- attention cost ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AttentionCost:
    """Cost of one transformer layer on the tokens of one image (see `attention_cost`)."""

    image_size: tuple[int, int]
    patch_size: int
    tokens: int            # N (with the class token if counted)
    entries: int           # N^2 attention scores per head
    attention_flops: int   # 4 N^2 D: Q K^T and (scores) V
    linear_flops: int      # 2 N D^2 (4 + 2 * mlp_ratio): Q, K, V, output projection and MLP
    total_flops: int       # attention_flops + linear_flops


def attention_cost(
    image_size: int | tuple[int, int], patch_size: int, *, hidden_size: int = 768, mlp_ratio: int = 4,
    cls_token: bool = True,
) -> AttentionCost:
    """Tokens, attention-matrix entries and FLOPs of ONE ViT layer (multiply + add = 2 FLOPs).

    With N tokens of width D: Q, K, V and output projections 4 * 2 N D^2; MLP of width
    mlp_ratio * D: 2 * 2 N D (mlp_ratio D); scores Q K^T 2 N^2 D and weighted sum of V 2 N^2 D
    (summed over heads, so the head count drops out). Softmax, norms, biases and activations
    (O(N^2) or O(N D)) are left out. Total = 2 N D^2 (4 + 2 mlp_ratio) + 4 N^2 D;
    with mlp_ratio 4: 24 N D^2 + 4 N^2 D. Multiply by the layer count for the whole encoder.
    Papers often quote multiply-adds as "FLOPs": half of these numbers.
    """
    d = require_int("hidden_size", hidden_size, low=1)
    r = require_int("mlp_ratio", mlp_ratio, low=1)
    n = num_patches(image_size, patch_size, cls_token=cls_token)
    attention = 4 * n * n * d
    linear = 2 * n * d * d * (4 + 2 * r)
    return AttentionCost(_size_pair(image_size), patch_size, n, n * n, attention, linear, attention + linear)


def cost_table(image_sizes: Sequence[int], patch_size: int, *, hidden_size: int = 768, cls_token: bool = True) -> str:
    """A text table of `attention_cost` per square resolution, with ratios to the first row."""
    if isinstance(image_sizes, (int, str)) or len(image_sizes) == 0:
        raise ValueError(f"image_sizes must be a non-empty list of sizes, got {image_sizes!r}")
    costs = [attention_cost(s, patch_size, hidden_size=hidden_size, cls_token=cls_token) for s in image_sizes]
    first = costs[0]
    lines = [f"{'size':>9} {'tokens N':>9} {'N^2':>12} {'GFLOPs/layer':>13} {'attention share':>16} "
             f"{'x tokens':>9} {'x N^2':>7} {'x FLOPs':>8}"]
    for c in costs:
        lines.append(
            f"{c.image_size[0]:>4}x{c.image_size[1]:<4} {c.tokens:>9,} {c.entries:>12,} {c.total_flops / 1e9:>13.2f} "
            f"{c.attention_flops / c.total_flops:>16.1%} {c.tokens / first.tokens:>9.2f} "
            f"{c.entries / first.entries:>7.2f} "
            f"{c.total_flops / first.total_flops:>8.2f}"
        )
    return "\n".join(lines)


def plot_attention_cost(image_sizes: Sequence[int], patch_size: int, *, hidden_size: int = 768) -> plt.Figure:
    """Tokens, attention entries and FLOPs per layer vs square resolution (log scales), each as a
    multiple of its value at the smallest size; plus the share of FLOPs spent in attention."""
    sizes = sorted(image_sizes)
    costs = [attention_cost(s, patch_size, hidden_size=hidden_size) for s in sizes]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, values, marker in (
        ("tokens N", [c.tokens for c in costs], "o"),
        ("attention entries N^2", [c.entries for c in costs], "s"),
        ("FLOPs per layer", [c.total_flops for c in costs], "^"),
    ):
        ax.plot(sizes, np.array(values) / values[0], marker=marker, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel(f"image side (px), patch {patch_size}")
    ax.set_ylabel(f"multiple of the {sizes[0]} px value")
    ax.set_title("cost grows with resolution")
    ax.grid(alpha=0.3)
    legend_with_colours(ax, fontsize=8)
    ax2.plot(sizes, [100 * c.attention_flops / c.total_flops for c in costs], marker="o", color="C3")
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(sizes, [str(s) for s in sizes])
    ax2.set_xlabel(f"image side (px), patch {patch_size}")
    ax2.set_ylabel("% of layer FLOPs")
    ax2.set_title(f"share of FLOPs in Q K^T and (scores) V, D = {hidden_size}")
    ax2.set_ylim(0, 100)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


# ---- position embeddings -----------------------------------------------------------------------

def sincos_position_embeddings(grid_h: int, grid_w: int, dim: int, temperature: float = 10000.0) -> np.ndarray:
    """Fixed 2-D sin-cos position embeddings, (grid_h * grid_w, dim) float32 in raster order.

    The first dim/2 values encode the patch row, the last dim/2 the column, each as
    [sin(pos * w_k), cos(pos * w_k)] with frequencies w_k = temperature^(-k / (dim/4)),
    k = 0 .. dim/4 - 1 (as in MAE and MoCo v3). `dim` must be a multiple of 4.
    """
    gh, gw = require_int("grid_h", grid_h, low=1), require_int("grid_w", grid_w, low=1)
    dim = require_int("dim", dim, low=4)
    if dim % 4:
        raise ValueError(f"dim must be a multiple of 4 (sin and cos for rows and for columns), got {dim}")
    temperature = require_positive("temperature", temperature)
    omega = temperature ** (-np.arange(dim // 4) / (dim // 4))
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")

    def encode(pos: np.ndarray) -> np.ndarray:
        angles = pos.reshape(-1, 1) * omega
        return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)

    return np.concatenate([encode(rows), encode(cols)], axis=1).astype(np.float32)


def vision_position_embeddings(model: Any) -> np.ndarray:
    """(gh * gw, D) learned patch position embeddings of a CLIP-style vision tower, class position
    dropped. Accepts a CLIPModel, a CLIPVisionModel/CLIPVisionTransformer or CLIPVisionEmbeddings."""
    emb = model
    for attr in ("vision_model", "embeddings"):
        emb = getattr(emb, attr, emb)
    if not hasattr(emb, "position_embedding") or not hasattr(emb, "num_patches"):
        raise TypeError("expected a CLIP-style vision model with embeddings.position_embedding, "
                        f"got {type(model).__name__}")
    weight = emb.position_embedding.weight.detach().cpu().numpy()
    return weight[weight.shape[0] - emb.num_patches :]


def position_similarity(pos_emb: Any, grid_h: int, grid_w: int) -> np.ndarray:
    """(grid_h * grid_w, D) position embeddings -> (grid_h, grid_w, grid_h, grid_w) cosine
    similarities: [i, j] is the map of patch (i, j) against every patch position."""
    e = np.asarray(pos_emb.detach().cpu() if hasattr(pos_emb, "detach") else pos_emb, dtype=np.float64)
    require_array("pos_emb", e, ndim=2)
    gh, gw = require_int("grid_h", grid_h, low=1), require_int("grid_w", grid_w, low=1)
    if e.shape[0] != gh * gw:
        raise ValueError(f"pos_emb has {e.shape[0]} rows but a {gh}x{gw} grid has {gh * gw} positions "
                         "(drop the class position?)")
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    return (e @ e.T).reshape(gh, gw, gh, gw)


def similarity_by_relation(pos_emb: Any, grid_h: int, grid_w: int) -> dict[str, float]:
    """Mean cosine similarity between two DIFFERENT positions, by how they relate on the grid:
    "neighbours" (one step along a row or a column), "same row", "same column", and "other"
    (neither the same row nor the same column). Structure = the first three above "other"."""
    sim = position_similarity(pos_emb, grid_h, grid_w).reshape(grid_h * grid_w, grid_h * grid_w)
    rows, cols = (a.reshape(-1) for a in np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij"))
    same_row, same_col = rows[:, None] == rows[None, :], cols[:, None] == cols[None, :]
    distance = np.abs(rows[:, None] - rows[None, :]) + np.abs(cols[:, None] - cols[None, :])
    masks = {"neighbours": distance == 1, "same row": same_row & (distance > 0),
             "same column": same_col & (distance > 0), "other": ~same_row & ~same_col}
    return {name: float(sim[mask].mean()) if mask.any() else float("nan") for name, mask in masks.items()}


def plot_position_similarity(pos_emb: Any, grid_h: int, grid_w: int, title: str = "") -> plt.Figure:
    """A grid_h x grid_w grid of small maps: map (i, j) is the cosine similarity of patch (i, j)'s
    position embedding with every position (bright = similar). One colour scale for all maps,
    from the lowest similarity to the highest between two different positions; a position's
    similarity with itself (1) saturates."""
    sim = position_similarity(pos_emb, grid_h, grid_w)
    flat = sim.reshape(grid_h * grid_w, grid_h * grid_w)
    others = flat[~np.eye(len(flat), dtype=bool)]
    low, high = float(flat.min()), float(others.max()) if others.size else 1.0
    fig, axes = plt.subplots(grid_h, grid_w, figsize=(1.0 * grid_w + 1.6, 1.0 * grid_h + 0.6), squeeze=False)
    for i in range(grid_h):
        for j in range(grid_w):
            im = axes[i, j].imshow(sim[i, j], vmin=low, vmax=max(high, low + 1e-6), cmap="viridis")
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(f"row {i}", fontsize=7)
            if i == grid_h - 1:
                axes[i, j].set_xlabel(f"col {j}", fontsize=7)
    fig.subplots_adjust(left=0.06, right=0.8, wspace=0.08, hspace=0.08)
    fig.colorbar(im, cax=fig.add_axes([0.83, 0.15, 0.025, 0.7]), label="cosine similarity")
    fig.suptitle(title or f"position-embedding similarity, {grid_h}x{grid_w} patches", fontsize=10)
    return fig


# ---- pictures ----------------------------------------------------------------------------------

def plot_patch_grid(
    image: np.ndarray, patch_size: int, ax: plt.Axes | None = None, title: str | None = None, color: str = "yellow",
) -> plt.Axes:
    """Draw `image` (H, W, 3) with its P x P patch grid. A bottom/right remainder that no whole
    patch covers (H or W not a multiple of P) is shaded red: Conv2d(stride=P) would drop it."""
    require_array("image", image, ndim=3)
    p = require_int("patch_size", patch_size, low=1)
    h, w = image.shape[:2]
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4 * h / w))
    ax.imshow(image, interpolation="nearest", extent=(0, w, h, 0))
    gh, gw = h // p, w // p
    lw = 0.8 if max(gh, gw) <= 32 else 0.4
    ax.vlines(np.arange(0, gw + 1) * p, 0, gh * p, colors=color, linewidth=lw)
    ax.hlines(np.arange(0, gh + 1) * p, 0, gw * p, colors=color, linewidth=lw)
    if h % p:
        ax.axhspan(gh * p, h, color="red", alpha=0.45)
    if w % p:
        ax.axvspan(gw * p, w, color="red", alpha=0.45)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    dropped = f"; red: {h % p}x{w % p} px left over" if h % p or w % p else ""
    default = f"{w}x{h} px, {p} px patches: {gh}x{gw} = {gh * gw}{dropped}"
    ax.set_title(title if title is not None else default, fontsize=9)
    return ax


def plot_patch_tiles(image: np.ndarray, patch_size: int, n_sequence: int = 16) -> plt.Figure:
    """The patches pulled apart (left) and the first `n_sequence` of them in token order (right),
    as the transformer receives them: one row of tokens."""
    require_array("image", image, ndim=3, dtype="uint8")
    n_sequence = require_int("n_sequence", n_sequence, low=1)
    p = patch_size
    tiles = patchify(image, p).reshape(-1, p, p, image.shape[2])
    n_sequence = min(n_sequence, len(tiles))
    fig = plt.figure(figsize=(11, 4.2))
    left = fig.add_axes([0.0, 0.02, 0.36, 0.86])
    left.imshow(tile_mosaic(image, p))
    left.set_title(f"{len(tiles)} patches of {p}x{p}x{image.shape[2]}", fontsize=9)
    left.axis("off")
    width = 0.6 / n_sequence
    for k in range(n_sequence):
        ax = fig.add_axes([0.39 + k * width, 0.42, width * 0.9, width * 0.9 * 11 / 4.2])
        ax.imshow(tiles[k], interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(str(k), fontsize=7)
    fig.text(0.69, 0.82, f"token sequence: patches 0..{n_sequence - 1} (of {len(tiles)}), row by row",
             ha="center", fontsize=9)
    fig.text(0.69, 0.30,
             f"each token = {p}*{p}*{image.shape[2]} = {p * p * image.shape[2]} numbers before the patch embedding",
             ha="center", fontsize=9)
    return fig


def render_patch_explorer(photo: str = "astronaut", resolution: int = 224, patch_size: int = 16, hidden_size: int = 768,
                          policy: str = "pad") -> plt.Figure:
    """Widget view: the photo resized and centre-cropped to `resolution` px (as CLIP does), fitted
    to the patch size with `policy` if needed, its patch grid, and the token count and per-layer
    attention cost next to a 224 px / 16 px reference."""
    from .photos import load_photo

    resolution = require_int("resolution", resolution, low=1)
    p = require_int("patch_size", patch_size, low=1)
    if policy == "error":
        raise ValueError("the explorer needs a policy that always fits: 'pad', 'crop' or 'resize'")
    image = fit_to_patches(resize_and_crop(load_photo(photo), resolution), p, policy)
    cost = attention_cost(image.shape[:2], p, hidden_size=hidden_size)
    ref = attention_cost(224, 16, hidden_size=hidden_size)
    fig, (ax, text) = plt.subplots(1, 2, figsize=(9, 4.2), gridspec_kw={"width_ratios": [1, 0.9]})
    plot_patch_grid(image, p, ax=ax)
    gh, gw = grid_shape(image.shape[:2], p)
    fitted = ("" if image.shape[0] == resolution
              else f"\n{resolution} is not a multiple of {p}: {policy} -> {image.shape[0]} px\n")
    lines = (
        f"{photo}: {resolution} px, patch {p} px\n{fitted}\n"
        f"grid {gh} x {gw} = {gh * gw} patches\n"
        f"tokens with class token N = {cost.tokens:,}\n"
        f"attention entries N^2 = {cost.entries:,} per head\n"
        f"FLOPs per layer (D = {hidden_size}) = {cost.total_flops / 1e9:.2f} G\n"
        f"  of which attention: {cost.attention_flops / cost.total_flops:.0%}\n\n"
        f"vs 224 px / 16 px ({ref.tokens} tokens):\n"
        f"  tokens x{cost.tokens / ref.tokens:.2f}, N^2 x{cost.entries / ref.entries:.2f}, "
        f"FLOPs x{cost.total_flops / ref.total_flops:.2f}"
    )
    text.text(0.0, 0.95, lines, va="top", family="monospace", fontsize=9)
    text.axis("off")
    fig.tight_layout()
    return fig
