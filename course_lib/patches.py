"""Vision Transformer patches: how an image becomes a sequence of tokens."""
from __future__ import annotations

from .validation import check_int


def num_patches(image_size: int | tuple[int, int], patch_size: int, *, cls_token: bool = False) -> int:
    """N = (H / P) * (W / P) patch tokens (+1 with a class token).

    Raises ValueError when a side is not a multiple of the patch size (resize or pad first).
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    h, w = check_int("height", h, low=1), check_int("width", w, low=1)
    p = check_int("patch_size", patch_size, low=1)
    if h % p or w % p:
        raise ValueError(
            f"image size {h}x{w} is not divisible by patch size {p}: resize to "
            f"{h // p * p}x{w // p * p} or pad to {-(-h // p) * p}x{-(-w // p) * p} first"
        )
    return (h // p) * (w // p) + int(cls_token)
