"""Real photographs and scans that ship inside scikit-image: usable with no network.

Taught in notebook 00, section 4; notebook 01 cuts them into patches.
"""
from __future__ import annotations

import numpy as np

# Names of skimage.data loaders whose files are bundled with the package (no download).
PHOTOS: tuple[str, ...] = (
    "astronaut", "camera", "chelsea", "coffee", "rocket", "page", "text", "horse", "coins",
    "moon", "brick", "grass", "gravel", "logo", "colorwheel", "immunohistochemistry",
)


def list_photos() -> list[str]:
    """Names accepted by `load_photo`."""
    return list(PHOTOS)


def load_photo(name: str) -> np.ndarray:
    """Load a bundled scikit-image photo as an (H, W, 3) uint8 RGB array.

    Greyscale and binary images are repeated across 3 channels; an alpha channel is dropped.
    """
    if not isinstance(name, str):
        raise TypeError(f"photo name must be a string, got {type(name).__name__}")
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; photos available offline: {', '.join(PHOTOS)}")
    from skimage import data, util

    image = np.asarray(getattr(data, name)())
    if image.dtype != np.uint8:
        image = util.img_as_ubyte(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])
