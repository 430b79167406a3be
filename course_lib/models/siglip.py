"""Tiny SigLIP on Shapes World: a real transformers SiglipModel with the paper's initial scale and
bias, and a tokenizer that pads as SigLIP needs. Its loss ("siglip" in dual_encoder.LOSSES) trains it
with the trainer CLIP uses (dual_encoder.train_dual_encoder).

Taught in notebook 03, sections 3-4 and 7.
"""

from __future__ import annotations

import math

import torch
from transformers import SiglipConfig, SiglipModel, SiglipTextConfig, SiglipVisionConfig

from ..base.seeding import seed_everything
from ..base.validation import require_finite, require_int, require_model, require_positive
from ..sigmoid_loss import PAPER_BIAS, PAPER_SCALE
from ..tokenizer import build_tokenizer
from .dual_encoder import tower_sizes

SIGLIP_TEXT_LENGTH = 24  # every caption is padded to this many tokens (longest Shapes World caption: ~17)


class FixedLengthTokenizer:
    """Wraps a tokenizer so that every call pads to `length` tokens (padding="max_length").

    SiglipTextModel pools the hidden state of the LAST position, as the original SigLIP does with
    texts padded to a fixed length. With padding=True (pad to the longest caption in the batch) the
    last position moves with the batch and a caption's embedding depends on its neighbours."""

    def __init__(self, tokenizer, length: int = SIGLIP_TEXT_LENGTH) -> None:
        self.tokenizer = tokenizer
        self.length = require_int("length", length, low=2)

    def __call__(self, texts, **kwargs):
        kwargs.update(padding="max_length", max_length=self.length)
        return self.tokenizer(texts, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)

    def __len__(self) -> int:
        return len(self.tokenizer)


def tiny_siglip_config(tokenizer=None, *, hidden_size: int = 96, layers: int = 3, heads: int = 4, image_size: int = 48,
                       patch_size: int = 8, text_length: int = SIGLIP_TEXT_LENGTH) -> SiglipConfig:
    """A tiny SiglipConfig matching tiny_clip_config's sizes: a ViT of (image_size / patch_size)^2
    tokens with an attention-pooling head, and a bidirectional text transformer that pools its last
    position; both embed into hidden_size dimensions."""
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    common = tower_sizes(hidden_size, layers, heads, image_size, patch_size)
    text = SiglipTextConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=require_int("text_length", text_length, low=2),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        projection_size=common["hidden_size"],
        **common,
    )
    vision = SiglipVisionConfig(image_size=image_size, patch_size=patch_size, **common)
    return SiglipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())


def set_paper_init(model: SiglipModel, scale: float = PAPER_SCALE, bias: float = PAPER_BIAS) -> SiglipModel:
    """Set logit_scale = log(scale) and logit_bias = bias in place (the paper: t' = log 10, b = -10).
    SiglipModel's own initialisation puts both at 0, i.e. t = 1 and b = 0."""
    require_model("model", model, "SiglipModel", "set_paper_init is for SigLIP (a CLIP has no logit_bias)")
    scale = require_positive("scale", scale)
    if not math.isfinite(float(bias)):
        raise ValueError(f"bias must be finite, got {bias}")
    with torch.no_grad():
        model.logit_scale.fill_(math.log(scale))
        model.logit_bias.fill_(require_finite("bias", bias))
    return model


def build_tiny_siglip(tokenizer=None, seed: int = 0, paper_init: bool = True, **config) -> SiglipModel:
    """A freshly initialised (seeded) SiglipModel from tiny_siglip_config; paper_init sets t = 10, b = -10."""
    seed_everything(seed, threads=None)
    model = SiglipModel(tiny_siglip_config(tokenizer, **config)).eval()
    return set_paper_init(model) if paper_init else model
