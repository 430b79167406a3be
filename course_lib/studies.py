"""Notebook 03's small-batch study: tiny CLIP and tiny SigLIP trained with the same steps, learning rate
and batches at each batch size, compared by zero-shot accuracy on seen and held-out compositions.

Taught in notebook 03, section 7.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Sequence

import numpy as np

from .base.seeding import torch_threads
from .base.validation import require_int
from .models.clip import build_tiny_clip
from .models.dual_encoder import train_dual_encoder
from .models.siglip import FixedLengthTokenizer, build_tiny_siglip
from .recipes import CLIP_LIVE, SEEDS, TINY_CLIP_SIZE
from .shapes_world import ALL_COMPOSITIONS, generate_scenes
from .tokenizer import build_tokenizer
from .zero_shot import zero_shot_accuracy


def build_study_model(kind: str, seed: int = 0):
    """A fresh tiny 'clip' or 'siglip' at notebook 02's sizes (recipes.TINY_CLIP_SIZE), for the small-batch study.
    Returns (model, tokenizer, loss name); the tokenizer pads as the model needs."""
    tokenizer = build_tokenizer()
    if kind == "clip":
        return build_tiny_clip(tokenizer, seed=seed, **asdict(TINY_CLIP_SIZE)), tokenizer, "clip"
    if kind == "siglip":
        sizes = {
            k: v for k, v in asdict(TINY_CLIP_SIZE).items() if k != "projection_dim"
        }  # SigLIP embeds into hidden_size
        return build_tiny_siglip(tokenizer, seed=seed, **sizes), FixedLengthTokenizer(tokenizer), "siglip"
    raise ValueError(f"kind must be 'clip' or 'siglip', got {kind!r}")


def train_tiny(
    kind: str, batch_size: int, steps: int, lr: float = 2e-3, seed: int = 0, progress: bool = True, threads: int = 1
):
    """Build (build_study_model) and train a tiny 'clip' or 'siglip' with train_dual_encoder and
    notebook 02's live recipe (unique captions, partial captions, repainting, weight decay from
    recipes.CLIP_LIVE): only the loss and the model class differ between the two kinds.
    Returns (model, tokenizer, TrainResult).

    threads: torch threads while training. One by default, which does not stall when other
    processes share the cores; alone on two cores, threads=2 trains about a quarter faster."""
    model, tok, loss = build_study_model(kind, seed)
    options = {k: getattr(CLIP_LIVE, k) for k in ("unique_captions", "partial_share", "repaint_share", "weight_decay")}
    with torch_threads(threads):
        result = train_dual_encoder(model, tok, steps=steps, batch_size=batch_size, lr=lr, loss=loss, seed=seed,
                                    **options, progress=progress, desc=f"tiny {kind}, batch {batch_size}")
    return model, tok, result


def small_batch_study(
    batch_sizes: Sequence[int] = (16, 64),
    steps: int = 200,
    lr: float = 2e-3,
    seed: int = 0,
    n_test: int = 600,
    progress: bool = True,
    threads: int = 1,
) -> list[dict[str, Any]]:
    """Train tiny CLIP and tiny SigLIP with the same steps, learning rate and batches at each batch
    size (threads: see train_tiny); one row per run with zero-shot accuracy (seen and held-out
    compositions), final loss and seconds."""
    steps, n_test = require_int("steps", steps, low=1), require_int("n_test", n_test, low=10)
    test = generate_scenes(n_test, seed=SEEDS.batch_study, split="all", max_objects=1)
    rows = []
    for batch_size in batch_sizes:
        for kind in ("clip", "siglip"):
            model, tok, result = train_tiny(
                kind, require_int("batch_size", batch_size, low=2), steps, lr, seed, progress, threads
            )
            acc = zero_shot_accuracy(model, tok, test)
            rows.append(
                {
                    "kind": kind,
                    "batch_size": batch_size,
                    "steps": steps,
                    "seen": acc["seen"],
                    "held_out": acc["held_out"],
                    "final_loss": float(np.mean(result.losses[-10:])),
                    "seconds": result.seconds,
                }
            )
    return rows


def study_table(rows: Sequence[dict[str, Any]]) -> str:
    """The study as a table: zero-shot accuracy on seen and held-out compositions per model and batch size."""
    lines = [f"{'model':7s} {'batch':>5s} {'steps':>5s} {'seen acc':>8s} {'held-out acc':>12s}"]
    lines += [
        f"{r['kind']:7s} {r['batch_size']:5d} {r['steps']:5d} {r['seen']:8.3f} {r['held_out']:12.3f}" for r in rows
    ]
    return "\n".join(lines)


def plot_study(rows: Sequence[dict[str, Any]]):
    """Zero-shot accuracy (seen, held-out) against batch size, one line per model."""
    import matplotlib.pyplot as plt

    from .plots import legend_with_colours

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
    legend_with_colours(axes[0])
    fig.tight_layout()
    return fig
