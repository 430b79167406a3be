"""Tiny SigLIP on Shapes World: a real transformers SiglipModel with the paper's initial scale and
bias, a tokenizer that pads as SigLIP needs, the SigLIP batch loss for the shared dual-encoder
trainer (clip_model.train_dual_encoder), and the small-batch study CLIP vs SigLIP.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
from transformers import SiglipConfig, SiglipModel, SiglipTextConfig, SiglipVisionConfig

from .clip_model import LIVE_CONFIG, LIVE_RECIPE, LOSSES, build_tiny_clip, train_dual_encoder
from .seeding import seed_everything
from .shapes_world import ALL_COMPOSITIONS, generate_scenes
from .sigmoid_loss import PAPER_BIAS, PAPER_SCALE, sigmoid_loss
from .tokenizer import build_tokenizer
from .validation import check_int, check_positive

SIGLIP_TEXT_LENGTH = 24  # every caption is padded to this many tokens (longest Shapes World caption: ~17)


class FixedLengthTokenizer:
    """Wraps a tokenizer so that every call pads to `length` tokens (padding="max_length").

    SiglipTextModel pools the hidden state of the LAST position, as the original SigLIP does with
    texts padded to a fixed length. With padding=True (pad to the longest caption in the batch) the
    last position moves with the batch and a caption's embedding depends on its neighbours."""

    def __init__(self, tokenizer, length: int = SIGLIP_TEXT_LENGTH) -> None:
        self.tokenizer = tokenizer
        self.length = check_int("length", length, low=2)

    def __call__(self, texts, **kwargs):
        kwargs.update(padding="max_length", max_length=self.length)
        return self.tokenizer(texts, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.tokenizer, name)

    def __len__(self) -> int:
        return len(self.tokenizer)


def tiny_siglip_config(tokenizer=None, *, hidden_size: int = 96, layers: int = 3, heads: int = 4,
                       image_size: int = 48, patch_size: int = 8, text_length: int = SIGLIP_TEXT_LENGTH) -> SiglipConfig:
    """A tiny SiglipConfig matching tiny_clip_config's sizes: a ViT of (image_size / patch_size)^2
    tokens with an attention-pooling head, and a bidirectional text transformer that pools its last
    position; both embed into hidden_size dimensions."""
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    hidden_size, heads = check_int("hidden_size", hidden_size, low=8), check_int("heads", heads, low=1)
    if hidden_size % heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by heads ({heads})")
    image_size, patch_size = check_int("image_size", image_size, low=8), check_int("patch_size", patch_size, low=1)
    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be divisible by patch_size ({patch_size})")
    common = dict(hidden_size=hidden_size, intermediate_size=4 * hidden_size,
                  num_hidden_layers=check_int("layers", layers, low=1), num_attention_heads=heads)
    text = SiglipTextConfig(vocab_size=len(tokenizer), max_position_embeddings=check_int("text_length", text_length, low=2),
                            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                            eos_token_id=tokenizer.eos_token_id, projection_size=hidden_size, **common)
    vision = SiglipVisionConfig(image_size=image_size, patch_size=patch_size, **common)
    return SiglipConfig(text_config=text.to_dict(), vision_config=vision.to_dict())


def set_paper_init(model: SiglipModel, scale: float = PAPER_SCALE, bias: float = PAPER_BIAS) -> SiglipModel:
    """Set logit_scale = log(scale) and logit_bias = bias in place (the paper: t' = log 10, b = -10).
    SiglipModel's own initialisation puts both at 0, i.e. t = 1 and b = 0."""
    scale = check_positive("scale", scale)
    if not math.isfinite(float(bias)):
        raise ValueError(f"bias must be finite, got {bias}")
    with torch.no_grad():
        model.logit_scale.fill_(math.log(scale))
        model.logit_bias.fill_(float(bias))
    return model


def build_tiny_siglip(tokenizer=None, seed: int = 0, paper_init: bool = True, **config) -> SiglipModel:
    """A freshly initialised (seeded) SiglipModel from tiny_siglip_config; paper_init sets t = 10, b = -10."""
    seed_everything(seed)
    model = SiglipModel(tiny_siglip_config(tokenizer, **config)).eval()
    return set_paper_init(model) if paper_init else model


def siglip_batch_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None) -> torch.Tensor:
    """The sigmoid loss at the model's t = exp(logit_scale) and b = logit_bias, for train_dual_encoder.
    Duplicate captions (positives off the diagonal) are simply more +1 labels."""
    return sigmoid_loss(image_emb, text_emb, model.logit_scale.exp(), model.logit_bias, positives)


LOSSES["siglip"] = siglip_batch_loss


# ---- the small-batch study -------------------------------------------------------------------------

STUDY_SEED = 4321  # zero-shot test scenes of the study


def build_study_model(kind: str, seed: int = 0):
    """A fresh tiny 'clip' or 'siglip' at notebook 02's LIVE_CONFIG sizes, for the small-batch study.
    Returns (model, tokenizer, loss name); the tokenizer pads as the model needs."""
    tokenizer = build_tokenizer()
    if kind == "clip":
        return build_tiny_clip(tokenizer, seed=seed, **LIVE_CONFIG), tokenizer, "clip"
    if kind == "siglip":
        sizes = {k: v for k, v in LIVE_CONFIG.items() if k != "projection_dim"}  # SigLIP embeds into hidden_size
        return build_tiny_siglip(tokenizer, seed=seed, **sizes), FixedLengthTokenizer(tokenizer), "siglip"
    raise ValueError(f"kind must be 'clip' or 'siglip', got {kind!r}")


def train_tiny(kind: str, batch_size: int, steps: int, lr: float = 2e-3, seed: int = 0, progress: bool = True, threads: int = 1):
    """Build (build_study_model) and train a tiny 'clip' or 'siglip' with train_dual_encoder and
    notebook 02's live recipe (unique captions, partial captions, repainting, weight decay from
    LIVE_RECIPE): only the loss and the model class differ between the two kinds.
    Returns (model, tokenizer, TrainResult).

    threads: torch threads while training. One by default, which does not stall when other
    processes share the cores; alone on two cores, threads=2 trains about a quarter faster."""
    model, tok, loss = build_study_model(kind, seed)
    previous = torch.get_num_threads()
    torch.set_num_threads(check_int("threads", threads, low=1))
    try:
        recipe = {k: LIVE_RECIPE[k] for k in ("unique_captions", "partial_share", "repaint_share", "weight_decay")}
        result = train_dual_encoder(model, tok, steps=steps, batch_size=batch_size, lr=lr, loss=loss, seed=seed,
                                    **recipe, progress=progress, desc=f"tiny {kind}, batch {batch_size}")
    finally:
        torch.set_num_threads(previous)
    return model, tok, result


def small_batch_study(batch_sizes: Sequence[int] = (16, 64), steps: int = 200, lr: float = 2e-3, seed: int = 0,
                      n_test: int = 600, progress: bool = True, threads: int = 1) -> list[dict[str, Any]]:
    """Train tiny CLIP and tiny SigLIP with the same steps, learning rate and batches at each batch
    size (threads: see train_tiny); one row per run with zero-shot accuracy (seen and held-out
    compositions), final loss and seconds."""
    steps, n_test = check_int("steps", steps, low=1), check_int("n_test", n_test, low=10)
    from .zero_shot import zero_shot_accuracy  # zero_shot imports clip_model: keep this module's import light

    test = generate_scenes(n_test, seed=STUDY_SEED, split="all", max_objects=1)
    rows = []
    for batch_size in batch_sizes:
        for kind in ("clip", "siglip"):
            model, tok, result = train_tiny(kind, check_int("batch_size", batch_size, low=2), steps, lr, seed, progress, threads)
            acc = zero_shot_accuracy(model, tok, test)
            rows.append({"kind": kind, "batch_size": batch_size, "steps": steps, "seen": acc["seen"], "held_out": acc["held_out"],
                         "final_loss": float(np.mean(result.losses[-10:])), "seconds": result.seconds})
    return rows


def study_text(rows: Sequence[dict[str, Any]]) -> str:
    """The study as a table: zero-shot accuracy on seen and held-out compositions per model and batch size."""
    lines = [f"{'model':7s} {'batch':>5s} {'steps':>5s} {'seen acc':>8s} {'held-out acc':>12s}"]
    lines += [f"{r['kind']:7s} {r['batch_size']:5d} {r['steps']:5d} {r['seen']:8.3f} {r['held_out']:12.3f}" for r in rows]
    return "\n".join(lines)


def study_plot(rows: Sequence[dict[str, Any]]):
    """Zero-shot accuracy (seen, held-out) against batch size, one line per model."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    for ax, split in zip(axes, ("seen", "held_out")):
        for kind, style in (("clip", "o-"), ("siglip", "s--")):
            pts = sorted((r["batch_size"], r[split]) for r in rows if r["kind"] == kind)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=kind)
        ax.axhline(1 / len(ALL_COMPOSITIONS), color="gray", linestyle=":", label="chance")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size (same steps and lr)")
        ax.set_title(f"zero-shot accuracy, {split.replace('_', '-')} compositions")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"top-1 accuracy ({len(ALL_COMPOSITIONS)} classes)")
    axes[0].legend()
    fig.tight_layout()
    return fig
