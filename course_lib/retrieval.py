"""Retrieval with a dual encoder: rank a gallery for each query, and recall@k in both directions.

Taught in notebook 02, section 9 (recall@k of the tiny CLIP) and notebook 04, section 9 (text-to-image search).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .base.validation import require_array, require_int, require_pair, require_str_list
from .models.dual_encoder import encode_images, encode_texts
from .shapes_world import Scenes, require_scenes


def rank_gallery(
    query_embeddings: torch.Tensor, gallery_embeddings: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k gallery items per query by cosine: (indices (Q, k), scores (Q, k)), best first."""
    require_pair("query_embeddings", query_embeddings, "gallery_embeddings", gallery_embeddings, dtype="f",
                 torch_only=True)
    k = require_int("k", k, low=1, high=gallery_embeddings.shape[0])
    top = (query_embeddings @ gallery_embeddings.T).topk(k, dim=1)
    return top.indices, top.values


def recall_at_k(similarity: torch.Tensor | np.ndarray, k: int) -> float:
    """Fraction of rows whose matching column (the diagonal) is among the row's top k.

    similarity: (N, N) with queries as rows and the match of row i in column i. Use the
    transpose for the other direction.
    """
    require_array("similarity", similarity, ndim=2, finite=True, nonempty=True)
    s = torch.as_tensor(similarity)
    if s.shape[0] != s.shape[1]:
        raise ValueError(f"similarity must be square (query i matches item i), got {tuple(s.shape)}")
    k = require_int("k", k, low=1, high=s.shape[1])
    topk = s.topk(k, dim=1).indices
    return float((topk == torch.arange(len(s))[:, None]).any(dim=1).float().mean())


def label_recall_at_k(similarity: torch.Tensor | np.ndarray, query_labels, gallery_labels, k: int) -> float:
    """Fraction of (Q, N) query rows with at least one gallery item of the query's label in the top k
    (search for a class: any matching image counts, not one designated item)."""
    require_array("similarity", similarity, ndim=2, finite=True, nonempty=True)
    s = torch.as_tensor(similarity)
    q, g = torch.as_tensor(np.asarray(query_labels)), torch.as_tensor(np.asarray(gallery_labels))
    require_array("query_labels", q, shape=(s.shape[0],))
    require_array("gallery_labels", g, shape=(s.shape[1],))
    k = require_int("k", k, low=1, high=s.shape[1])
    top = s.topk(k, dim=1).indices
    return float((g[top] == q[:, None]).any(dim=1).float().mean())


def retrieval_metrics(model, tokenizer, scenes: Scenes, captions: Sequence[str]) -> dict[str, float]:
    """Recall@1 and @5 in both directions for paired scenes and captions (pair i = scene i, caption i)."""
    require_scenes("scenes", scenes)
    captions = require_str_list("captions", captions)
    if len(captions) != len(scenes):
        raise ValueError(f"captions must hold one caption per scene: got {len(captions)} for {len(scenes)} scenes")
    sim = encode_images(model, scenes.images) @ encode_texts(model, tokenizer, captions).T
    k5 = min(5, len(captions))
    return {
        "i2t_r1": recall_at_k(sim, 1),
        "i2t_r5": recall_at_k(sim, k5),
        "t2i_r1": recall_at_k(sim.T, 1),
        "t2i_r5": recall_at_k(sim.T, k5),
    }
