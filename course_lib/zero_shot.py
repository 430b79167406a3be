"""Zero-shot classification and retrieval with a dual encoder: prompts -> text prototypes -> argmax cosine."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .clip_model import encode_images, encode_texts
from .shapes_world import Scenes, is_held_out, prompts
from .validation import check_array, check_int


def text_prototypes(model, tokenizer, class_prompts: Sequence[str]) -> torch.Tensor:
    """(C, D) L2-normalised text embedding of one prompt per class."""
    return encode_texts(model, tokenizer, class_prompts)


def zero_shot_predict(image_embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(N,) index of the most similar prototype for each (N, D) image embedding."""
    check_array("image_embeddings", image_embeddings, ndim=2)
    check_array("prototypes", prototypes, ndim=2)
    if image_embeddings.shape[1] != prototypes.shape[1]:
        raise ValueError(f"embedding sizes differ: images {image_embeddings.shape[1]}, prototypes {prototypes.shape[1]}")
    return (image_embeddings @ prototypes.T).argmax(dim=1)


def zero_shot_accuracy(model, tokenizer, scenes: Scenes, template: str = "a photo of a {color} {shape}") -> dict[str, float]:
    """Top-1 accuracy over all colour x shape prompts on single-object scenes, split into
    seen and held-out compositions: {'seen': ..., 'held_out': ..., 'n_seen': ..., 'n_held_out': ...}."""
    if (scenes.n_objects != 1).any():
        raise ValueError("zero_shot_accuracy needs single-object scenes (generate_scenes(..., max_objects=1))")
    pred = zero_shot_predict(encode_images(model, scenes.images), text_prototypes(model, tokenizer, prompts(template))).numpy()
    right = pred == scenes.labels
    held = is_held_out(scenes.colors[:, 0], scenes.shapes[:, 0])
    result = {}
    for name, mask in (("seen", ~held), ("held_out", held)):
        result[name] = float(right[mask].mean()) if mask.any() else float("nan")
        result[f"n_{name}"] = int(mask.sum())
    return result


def recall_at_k(similarity: torch.Tensor | np.ndarray, k: int) -> float:
    """Fraction of rows whose matching column (the diagonal) is among the row's top k.

    similarity: (N, N) with queries as rows and the match of row i in column i. Use the
    transpose for the other direction.
    """
    s = torch.as_tensor(similarity)
    check_array("similarity", s, ndim=2)
    if s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity must be square (query i matches item i), got {tuple(s.shape)}")
    k = check_int("k", k, low=1, high=s.shape[1])
    topk = s.topk(k, dim=1).indices
    return float((topk == torch.arange(len(s))[:, None]).any(dim=1).float().mean())
