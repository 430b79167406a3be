"""Exercises of notebook 01: ViT patches, token counts, raster order, patch embedding weights."""
import numpy as np
import torch

from ..patches import attention_cost, num_patches, patchify
from .core import Exercise, close, equal, register, same_function

register(Exercise(
    key="01.tokens_336",
    task="How many tokens does a CLIP ViT-L/14 vision tower see for a 336 x 336 image, class token included?",
    solution=lambda: num_patches(336, 14, cls_token=True),
    compare=equal,
    hint="N = (H / P) * (W / P) patch tokens, plus one class token.",
    mistakes=(
        (576, "That is the patch tokens only; CLIP also prepends one class token."),
        (25, "That is (336 / 14) + 1: the grid has 24 patches per side AND 24 rows, so square it."),
        (336 * 336 // 14 + 1, "You divided the area by P; each patch covers P * P pixels."),
    ),
))

register(Exercise(
    key="01.entries_ratio",
    task=("With 16 px patches and no class token, how many times more attention-matrix entries does a 448 px image "
          "make than a 224 px one?"),
    solution=lambda: (attention_cost(448, 16, cls_token=False).entries
                      // attention_cost(224, 16, cls_token=False).entries),
    compare=equal,
    hint="Count the tokens N at both sizes; the attention matrix has N x N entries per head.",
    mistakes=(
        (4, "4x is the ratio of tokens. The attention matrix is N x N: square that ratio."),
        (2, "2x is the ratio of image sides. Tokens grow with the area, entries with tokens squared."),
    ),
))


def _largest_side(budget: int = 1000, patch: int = 14) -> int:
    per_side = int(np.floor(np.sqrt(budget)))
    return per_side * patch


register(Exercise(
    key="01.max_side",
    task="Largest square image side (px) that a patch-14 ViT accepts without resizing or padding, "
         "with at most 1,000 patch tokens (no class token)?",
    solution=_largest_side,
    compare=equal,
    hint="The side must be a multiple of 14, and (side / 14)^2 must stay <= 1000.",
    mistakes=(
        (442, "14 * sqrt(1000) = 442.7 is not a multiple of 14: 442 / 14 is not a whole number of patches."),
        (448, "448 / 14 = 32 patches per side: 32^2 = 1024 tokens, over the budget."),
    ),
))


def _patch_index(row: int, col: int, image_size: int, patch_size: int) -> int:
    """Token index (class token = 0) of the patch holding pixel (row, col) of a square image."""
    return 1 + (row // patch_size) * (image_size // patch_size) + col // patch_size


def _index_cases() -> list[tuple]:
    return [(0, 0, 224, 16), (0, 17, 224, 16), (17, 0, 224, 16), (223, 223, 224, 16), (100, 30, 336, 14),
            (47, 8, 48, 8)]


register(Exercise(
    key="01.patch_index",
    task="Write patch_index(row, col, image_size, patch_size): the index in the ViT token sequence "
         "(class token first, at index 0) of the patch holding pixel (row, col) of a square image.",
    solution=lambda: _patch_index,
    compare=same_function(_index_cases, equal),
    hint="Patches are numbered row by row: patch row (row // P), patch column (col // P), "
         "image_size // P patches per row, then shift by one for the class token.",
    mistakes=(
        (lambda r, c, s, p: (r // p) * (s // p) + c // p,
         "Right raster order, but the class token sits at index 0 and shifts every patch by one."),
        (lambda r, c, s, p: 1 + (c // p) * (s // p) + r // p,
         "You numbered column by column; ViTs flatten the grid row by row (raster order)."),
        (lambda r, c, s, p: 1 + r * (s // p) + c,
         "Use the patch row and column (pixel // P), not the pixel row and column."),
    ),
))


def _conv_to_linear(weight: torch.Tensor) -> torch.Tensor:
    """Conv2d weight (D, C, P, P) -> (D, P*P*C) for patches flattened in (row, col, channel) order."""
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)


def _conv_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 3, 4, 4, generator=g),), (torch.randn(5, 3, 2, 2, generator=g),),
            (torch.randn(6, 1, 3, 3, generator=g),)]


def _applied_to_patches(linear_weight_fn):
    """weight -> the embeddings of a fixed (2P, 2P, C) image's patches under linear_weight_fn(weight)."""

    def run(weight: torch.Tensor) -> torch.Tensor:
        d, c, p, _ = weight.shape
        image = torch.arange(2 * p * 2 * p * c, dtype=torch.float32).reshape(2 * p, 2 * p, c) / 10
        return patchify(image, p) @ linear_weight_fn(weight).T

    return run


def _same_patch_embeddings(answer, reference) -> bool:
    """Judge a conv->linear function by the patch embeddings its matrix computes on test weights."""
    compare = same_function(_conv_cases, close(rel=1e-5, abs_=1e-5))
    return compare(_applied_to_patches(answer), _applied_to_patches(reference))


register(Exercise(
    key="01.conv_to_linear",
    task="Write conv_to_linear(weight): turn a Conv2d patch-embedding weight (D, C, P, P) into the "
         "(D, P*P*C) matrix W such that patchify(image_hwc, P) @ W.T equals the convolution's output.",
    solution=lambda: _conv_to_linear,
    compare=_same_patch_embeddings,
    hint="patchify on (H, W, C) flattens each patch as (row, col, channel); the weight is stored as "
         "(D, channel, row, col). Move the channel axis last before reshaping.",
    mistakes=(
        (lambda w: w.reshape(w.shape[0], -1),
         "weight.reshape(D, -1) flattens in (channel, row, col) order: that matches patchify(..., "
         "channels_first=True), not (H, W, C) patches. Permute first."),
        (lambda w: w.permute(0, 3, 2, 1).reshape(w.shape[0], -1),
         "Channels are last now, but rows and columns are swapped: permute to (D, row, col, channel)."),
    ),
))
