"""Tiny CLIP on Shapes World: a real transformers CLIPModel at a tiny size, built, saved and loaded.
Batches, losses and the trainer it shares with SigLIP are in dual_encoder.py.

Taught in notebook 02, section 8; the shipped checkpoint is used by notebooks 01, 04 and 05, the scene-trained
one by notebook 04, section 7.
"""

from __future__ import annotations

from pathlib import Path

from transformers import CLIPConfig, CLIPModel, CLIPTextConfig, CLIPVisionConfig, PreTrainedTokenizerFast

from ..base.seeding import seed_everything
from ..base.validation import require_int, require_model, require_tokenizer
from ..tokenizer import build_tokenizer, save_tokenizer
from .dual_encoder import image_processor, tower_sizes
from .shipped import load_shipped

TINY_CLIP = "tiny_clip"  # data/tiny_clip: the shipped checkpoint (single-object scenes)
TINY_CLIP_SCENE = "tiny_clip_scene"  # data/tiny_clip_scene: trained on 1-3-object scenes with hard negatives
TEXT_LENGTH = 32  # longest Shapes World caption is well below this


def tiny_clip_config(
    tokenizer=None,
    *,
    hidden_size: int = 96,
    layers: int = 3,
    heads: int = 4,
    projection_dim: int = 64,
    image_size: int = 48,
    patch_size: int = 8,
) -> CLIPConfig:
    """A tiny CLIPConfig for Shapes World: a ViT of (image_size / patch_size)^2 + 1 tokens and a
    text transformer over the course tokenizer's vocabulary (eos id from the tokenizer)."""
    tokenizer = require_tokenizer("tokenizer", tokenizer) if tokenizer is not None else build_tokenizer()
    common = dict(
        **tower_sizes(hidden_size, layers, heads, image_size, patch_size),
        projection_dim=require_int("projection_dim", projection_dim, low=2),
        hidden_act="gelu",
    )
    text = CLIPTextConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=TEXT_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **common,
    )
    vision = CLIPVisionConfig(image_size=image_size, patch_size=patch_size, **common)
    return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=projection_dim)


def build_tiny_clip(tokenizer=None, seed: int = 0, **config) -> CLIPModel:
    """A freshly initialised (seeded) CLIPModel from tiny_clip_config(tokenizer, **config).
    Seeds only: the torch thread count is left as it is."""
    seed_everything(seed, threads=None)
    return CLIPModel(tiny_clip_config(tokenizer, **config)).eval()


def save_tiny_clip(model: CLIPModel, tokenizer: PreTrainedTokenizerFast, folder: str | Path) -> Path:
    """save_pretrained the model (safetensors), the tokenizer and the image processor into `folder`."""
    require_model("model", model, "CLIPModel")
    folder = save_tokenizer(tokenizer, folder)  # checks the tokenizer and that folder is not a file
    model.save_pretrained(folder)
    image_processor(model.config.vision_config.image_size).save_pretrained(folder)
    return folder


def load_tiny_clip(folder: str | Path | None = None) -> tuple[CLIPModel, PreTrainedTokenizerFast]:
    """(model, tokenizer) from a local save_pretrained folder (default: the shipped data/tiny_clip)."""
    return load_shipped(CLIPModel, TINY_CLIP, folder)


def load_tiny_clip_scene() -> tuple[CLIPModel, PreTrainedTokenizerFast]:
    """(model, tokenizer) of the shipped scene-trained tiny CLIP, data/tiny_clip_scene (notebook 04, section 7)."""
    return load_shipped(CLIPModel, TINY_CLIP_SCENE)
