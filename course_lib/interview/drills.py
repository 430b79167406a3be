"""Numeric drills with fresh random parameters, each answered by the course function that teaches it
(`course_lib.patches` and `course_lib.budgets`) and graded with the quiz's tolerance rules.
Taught in notebook 08, section 4.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import budgets, patches
from .quiz import Grade, grade_number

DRILL_KINDS: tuple[str, ...] = ("image tokens", "anyres tokens", "kv bytes", "prefill flops", "q-former vs mlp",
                                "video tokens")


@dataclass(frozen=True)
class Drill:
    """One generated drill: the prompt, the computed answer, its unit and tolerance, and the working."""

    kind: str
    prompt: str
    answer: float
    unit: str
    tolerance: float
    working: str
    params: dict[str, Any]


def _pick(rng: np.random.Generator, options: tuple) -> Any:
    return options[int(rng.integers(len(options)))]


def make_drill(kind: str, seed: int | None = None) -> Drill:
    """A drill of `kind` with parameters drawn from a seeded generator (seed None = fresh each call)."""
    if kind not in DRILL_KINDS:
        raise ValueError(f"kind must be one of {list(DRILL_KINDS)}, got {kind!r}")
    rng = np.random.default_rng(seed)
    if kind == "image tokens":
        p = _pick(rng, (8, 14, 16, 32))
        side = p * int(rng.integers(7, 49))
        cls = bool(rng.integers(2))
        n = patches.num_patches(side, p, cls_token=cls)
        return Drill(kind, f"A {side} x {side} px image, {p} px patches{', plus a class token' if cls else ''}: "
                           "how many tokens?", n, "tokens", 0.0,
                     f"({side} / {p})^2{' + 1' if cls else ''} = {n:,}", {"side": side, "patch": p, "cls": cls})
    if kind == "anyres tokens":
        h, w = int(rng.integers(100, 1400)), int(rng.integers(100, 1400))
        t = budgets.anyres_tokens(h, w)
        return Drill(kind, f"LLaVA-NeXT AnyRes (336 px crops, 14 px patches): how many visual tokens for a {h} x {w} "
                           "(height x width) image?", t.total, "tokens", 0.0,
                     f"canvas {t.canvas[0]} x {t.canvas[1]}: base {t.base} + tiles {t.tile_tokens:,} "
                     f"({t.features[0]} x {t.features[1]} after unpadding) + {t.newlines} newlines = {t.total:,}",
                     {"height": h, "width": w})
    if kind == "kv bytes":
        layers, kv_heads = _pick(rng, (24, 32, 40, 48, 80)), _pick(rng, (1, 4, 8, 16, 32))
        head_dim, dtype = _pick(rng, (64, 128)), _pick(rng, ("fp16", "int8", "fp32"))
        tokens = int(rng.integers(1, 65)) * 512
        b = budgets.kv_cache_bytes(tokens, layers=layers, kv_heads=kv_heads, head_dim=head_dim,
                                   bytes_per_element=budgets.DTYPE_BYTES[dtype])
        return Drill(kind, f"KV cache of {tokens:,} tokens: {layers} layers, {kv_heads} KV heads, head_dim {head_dim}, "
                           f"{dtype}. How many bytes?", b, "bytes", 0.01,
                     f"2 x {layers} x {kv_heads} x {head_dim} x {tokens:,} x {budgets.DTYPE_BYTES[dtype]:g} = "
                     f"{b:,.0f} bytes ({budgets.format_bytes(b)})",
                     {"tokens": tokens, "layers": layers, "kv_heads": kv_heads, "head_dim": head_dim, "dtype": dtype})
    if kind == "prefill flops":
        params_b, layers, width = _pick(rng, ((1, 16, 2048), (7, 32, 4096), (13, 40, 5120), (70, 80, 8192)))
        tokens = int(rng.integers(1, 33)) * 256
        f = budgets.prefill_flops(tokens, params=params_b * 1e9, layers=layers, hidden_size=width)
        return Drill(kind, f"Prefill FLOPs of {tokens:,} tokens through a {params_b}B LM ({layers} layers, width "
                           f"{width}), counting 2 x params x tokens plus the full attention term?", f, "FLOPs", 0.02,
                     f"2 x {params_b}e9 x {tokens:,} + 4 x {layers} x {tokens:,}^2 x {width} = {f:.3g} FLOPs",
                     {"tokens": tokens, "params": params_b * 1e9, "layers": layers, "hidden_size": width})
    if kind == "q-former vs mlp":
        p = _pick(rng, (14, 16))
        side = p * int(rng.integers(16, 65))
        k = _pick(rng, (16, 32, 64))
        mlp = budgets.tokens_per_image(side, p)
        return Drill(kind, f"A {side} px image, {p} px patches: an MLP projector passes every patch (class token "
                           f"dropped), a Q-Former passes {k} queries. How many times more tokens does the MLP "
                           "give the LM?",
                     mlp / k, "x", 0.01, f"{mlp:,} / {k} = {mlp / k:.4g}", {"side": side, "patch": p, "queries": k})
    seconds, fps = int(rng.integers(10, 601)), _pick(rng, (0.5, 1, 2, 4))
    side, p, pool = _pick(rng, ((224, 14), (336, 14), (384, 16))) + (_pick(rng, (1, 2)),)
    per_frame = budgets.tokens_per_image(side, p) // pool**2
    frames = int(seconds * fps)
    return Drill(kind, f"A {seconds} s video sampled at {fps:g} fps, {side} px frames with {p} px patches, "
                       f"{pool} x {pool} spatial pooling: how many visual tokens?", frames * per_frame, "tokens", 0.0,
                 f"{frames:,} frames x ({side}/{p})^2 / {pool**2} = {frames:,} x {per_frame} = {frames * per_frame:,}",
                 {"seconds": seconds, "fps": fps, "side": side, "patch": p, "pool": pool})


def check_drill(drill: Drill, response: Any) -> Grade:
    """Grade a response to a drill; bad input gets a message, never an exception."""
    grade = grade_number(response, drill.answer, drill.tolerance, drill.unit)
    if grade.valid:
        return Grade(True, grade.correct, f"{grade.message}\nworking: {drill.working}")
    return grade
