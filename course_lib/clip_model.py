"""Tiny CLIP on Shapes World: image preprocessing and embedding helpers (builder and trainer below)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .tokenizer import unknown_words
from .validation import check_array

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


def to_pixel_values(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) images -> float32 (N, 3, H, W) in [-1, 1]: (x/255 - 0.5) / 0.5."""
    check_array("images", images, ndim=4, dtype="uint8")
    if images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) RGB, got shape {tuple(images.shape)}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_images(model, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """L2-normalised image embeddings (N, D) from a CLIP/SigLIP-style model's get_image_features."""
    model.eval()
    out = [model.get_image_features(pixel_values=to_pixel_values(images[i : i + batch_size]))
           for i in range(0, len(images), batch_size)]
    return torch.nn.functional.normalize(_as_tensor(torch.cat(out)), dim=-1)


@torch.no_grad()
def encode_texts(model, tokenizer, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    """L2-normalised text embeddings (N, D); raises ValueError naming words outside the vocabulary."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of strings")
    if len(texts) == 0:
        raise ValueError("texts is empty")
    for text in texts:
        missing = unknown_words(tokenizer, text)
        if missing:
            raise ValueError(f"unknown word(s) {missing} in {text!r}: the tiny model only knows Shapes World words")
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i : i + batch_size]), padding=True, return_tensors="pt")
        out.append(model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]))
    return torch.nn.functional.normalize(_as_tensor(torch.cat(out)), dim=-1)


def _as_tensor(features) -> torch.Tensor:
    # transformers 5 may return a ModelOutput with pooler_output instead of a bare tensor
    return features if isinstance(features, torch.Tensor) else features.pooler_output
