"""Notebook 03's small-batch study: tiny CLIP and tiny SigLIP trained with the same steps, learning rate
and batches at each batch size, compared by zero-shot accuracy on seen and held-out compositions.

Taught in notebook 03, section 7.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any, Sequence

import numpy as np

from .base.seeding import torch_threads
from .base.validation import require_choice, require_int, require_sequence
from .models.clip import build_tiny_clip
from .models.dual_encoder import train_dual_encoder
from .models.siglip import FixedLengthTokenizer, build_tiny_siglip, set_paper_init
from .recipes import SEEDS, SIGLIP_STUDY, TINY_CLIP_SIZE, BatchStudy
from .shapes_world import ALL_COMPOSITIONS, generate_scenes
from .sigmoid_loss import PAPER_SCALE, prior_bias
from .tokenizer import build_tokenizer
from .zero_shot import zero_shot_accuracy


def build_study_model(kind: str, seed: int = 0, bias: float | None = None):
    """A fresh tiny 'clip' or 'siglip' at notebook 02's sizes (recipes.TINY_CLIP_SIZE), for the small-batch study.
    bias: SigLIP's starting b (None: the paper's -10; t starts at the paper's 10 either way).
    Returns (model, tokenizer, loss name); the tokenizer pads as the model needs."""
    tokenizer = build_tokenizer()
    if kind == "clip":
        return build_tiny_clip(tokenizer, seed=seed, **asdict(TINY_CLIP_SIZE)), tokenizer, "clip"
    if kind == "siglip":
        sizes = {
            k: v for k, v in asdict(TINY_CLIP_SIZE).items() if k != "projection_dim"
        }  # SigLIP embeds into hidden_size
        model = build_tiny_siglip(tokenizer, seed=seed, **sizes)
        if bias is not None:
            set_paper_init(model, PAPER_SCALE, bias)
        return model, FixedLengthTokenizer(tokenizer), "siglip"
    raise ValueError(f"kind must be 'clip' or 'siglip', got {kind!r}")


def train_tiny(
    kind: str,
    batch_size: int,
    steps: int,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    threads: int = 1,
    study: BatchStudy = SIGLIP_STUDY,
):
    """Build (build_study_model) and train a tiny 'clip' or 'siglip' with train_dual_encoder and the study's
    data and optimiser options (study: a recipes.BatchStudy; unique captions, its partial and repaint shares,
    weight decay on the weights, none on t and b, SigLIP's b from the batch's prior): only the loss and the
    model class differ between the two kinds. Returns (model, tokenizer, TrainResult).

    threads: torch threads while training. One by default, which does not stall when other
    processes share the cores; alone on two cores, threads=2 trains about a quarter faster."""
    batch_size = require_int("batch_size", batch_size, low=2)
    prior = require_choice("bias_init", study.bias_init, ("prior", "paper")) == "prior"
    bias = prior_bias(batch_size) if prior else None
    model, tok, loss = build_study_model(kind, seed, bias)
    options = {k: getattr(study, k)
               for k in ("partial_share", "repaint_share", "weight_decay", "no_decay", "decay_logit")}
    with torch_threads(threads):
        result = train_dual_encoder(model, tok, steps=steps, batch_size=batch_size, lr=lr, loss=loss, seed=seed,
                                    unique_captions=True, **options, progress=progress,
                                    desc=f"tiny {kind}, batch {batch_size}")
    return model, tok, result


def small_batch_study(
    batch_sizes: Sequence[int] = (16, 64),
    steps: int = 200,
    lr: float = 2e-3,
    seed: int = 0,
    n_test: int = 600,
    progress: bool = True,
    threads: int = 1,
    partial_share: float = SIGLIP_STUDY.partial_share,
    repaint_share: float = SIGLIP_STUDY.repaint_share,
    weight_decay: float = SIGLIP_STUDY.weight_decay,
    no_decay: str = SIGLIP_STUDY.no_decay,
    decay_logit: bool = SIGLIP_STUDY.decay_logit,
    bias_init: str = SIGLIP_STUDY.bias_init,
) -> list[dict[str, Any]]:
    """Train tiny CLIP and tiny SigLIP with the same steps, learning rate and batches at each batch
    size (threads: see train_tiny; partial_share ... bias_init: the data and optimiser fields of
    recipes.BatchStudy, default SIGLIP_STUDY's); one row per run with zero-shot accuracy (seen and
    held-out compositions), final loss, the learned t (and b) and seconds."""
    steps, n_test = require_int("steps", steps, low=1), require_int("n_test", n_test, low=10)
    study = replace(SIGLIP_STUDY, partial_share=partial_share, repaint_share=repaint_share, weight_decay=weight_decay,
                    no_decay=no_decay, decay_logit=decay_logit, bias_init=bias_init)
    test = generate_scenes(n_test, seed=SEEDS.batch_study, split="all", max_objects=1)
    rows = []
    for batch_size in batch_sizes:
        for kind in ("clip", "siglip"):
            model, tok, result = train_tiny(kind, batch_size, steps, lr, seed, progress, threads, study)
            acc = zero_shot_accuracy(model, tok, test)
            bias = getattr(model, "logit_bias", None)
            rows.append(
                {
                    "kind": kind,
                    "batch_size": batch_size,
                    "steps": steps,
                    "seed": seed,
                    "seen": acc["seen"],
                    "held_out": acc["held_out"],
                    "final_loss": float(np.mean(result.losses[-10:])),
                    "t": float(model.logit_scale.detach().exp()),
                    "b": None if bias is None else float(bias.detach()),
                    "seconds": result.seconds,
                }
            )
    return rows


def study_over_seeds(seeds: Sequence[int], progress: bool = True, **study: Any) -> dict[str, Any]:
    """small_batch_study(**study) once per seed; returns the rows of every run and, per (kind, batch size),
    the mean, sample standard deviation, min and max over seeds of seen and held-out accuracy."""
    rows = [r for seed in seeds for r in small_batch_study(seed=int(seed), progress=progress, **study)]
    summary = []
    for kind, batch_size in dict.fromkeys((r["kind"], r["batch_size"]) for r in rows):
        runs = [r for r in rows if (r["kind"], r["batch_size"]) == (kind, batch_size)]
        entry: dict[str, Any] = {"kind": kind, "batch_size": batch_size, "seeds": len(runs)}
        for split in ("seen", "held_out"):
            values = np.array([r[split] for r in runs])
            entry[split] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                            "min": float(values.min()), "max": float(values.max())}
        summary.append(entry)
    return {"seeds": [int(s) for s in seeds], "runs": rows, "summary": summary}


def seeds_table(summary: Sequence[dict[str, Any]]) -> str:
    """study_over_seeds' summary as a table: mean +- standard deviation (min-max) over seeds."""
    lines = [f"{'model':7s} {'batch':>5s} {'seeds':>5s} {'seen acc':>26s} {'held-out acc':>26s}"]
    for e in summary:
        cells = [f"{e[s]['mean']:.3f} +- {e[s]['std']:.3f} ({e[s]['min']:.2f}-{e[s]['max']:.2f})"
                 for s in ("seen", "held_out")]
        lines.append(f"{e['kind']:7s} {e['batch_size']:5d} {e['seeds']:5d} {cells[0]:>26s} {cells[1]:>26s}")
    return "\n".join(lines)


def study_table(rows: Sequence[dict[str, Any]]) -> str:
    """The study as a table: zero-shot accuracy on seen and held-out compositions per model and batch size."""
    rows = require_sequence("rows", rows)
    lines = [f"{'model':7s} {'batch':>5s} {'steps':>5s} {'seen acc':>8s} {'held-out acc':>12s}"]
    lines += [
        f"{r['kind']:7s} {r['batch_size']:5d} {r['steps']:5d} {r['seen']:8.3f} {r['held_out']:12.3f}" for r in rows
    ]
    return "\n".join(lines)


def plot_study(rows: Sequence[dict[str, Any]]):
    """Zero-shot accuracy (seen, held-out) against batch size, one line per model."""
    rows = require_sequence("rows", rows)
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
