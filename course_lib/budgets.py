"""Token and memory budgets of vision-language models: visual tokens per image (single crop,
tiles, LLaVA-NeXT AnyRes) and the KV cache those tokens occupy in the language model.

Reused by notebook 05 (LLaVA) and notebook 07 (video): keep it free of model code.

Taught in notebook 05, sections 4 and 8-10 (notebook 07 adds the video budgets here).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .base.validation import describe, require_choice, require_finite, require_instance, require_int, require_positive
from .patches import num_patches

# The strategies of LLaVA's vision_feature_select_strategy: "default" drops the class token.
STRATEGIES: tuple[str, ...] = ("default", "full")
# LLaVA-NeXT (v1.6) AnyRes grid pinpoints, (height, width) in pixels, for 336 px crops.
LLAVA_NEXT_PINPOINTS: tuple[tuple[int, int], ...] = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))
DTYPE_BYTES: dict[str, float] = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int4": 0.5}
TILINGS: tuple[str, ...] = ("single", "2x2 tiles", "2x2 tiles + base", "anyres")


def tokens_per_image(image_size: int | tuple[int, int], patch_size: int, *, strategy: str = "default",
                     cls_token: bool = True) -> int:
    """Visual tokens one crop gives the LM: (H/P)(W/P), plus the class token only with strategy "full".

    E.g. 336 px crops with 14 px patches: 24 x 24 = 576 tokens (LLaVA-1.5).
    """
    require_choice("strategy", strategy, STRATEGIES)
    return num_patches(image_size, patch_size, cls_token=cls_token and strategy == "full")


def tiled_tokens(crop_size: int, patch_size: int, tiles: int, *, base_image: bool = False) -> int:
    """Tokens for `tiles` crops of crop_size px (+ one downscaled whole-image crop if base_image)."""
    tiles = require_int("tiles", tiles, low=1)
    return (tiles + int(bool(base_image))) * tokens_per_image(crop_size, patch_size)


def select_best_resolution(original_size: tuple[int, int], pinpoints: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The AnyRes canvas (height, width) for an image of original_size (height, width): the pinpoint
    that keeps the most of the image's pixels after an aspect-preserving resize, ties broken by the
    least padding."""
    if not isinstance(original_size, (tuple, list)) or len(original_size) != 2:
        raise TypeError(f"original_size must be a (height, width) pair, got {describe(original_size)}")
    h, w = (require_int("original_size (height)", original_size[0], low=1),
            require_int("original_size (width)", original_size[1], low=1))
    if len(pinpoints) == 0:
        raise ValueError("pinpoints is empty: give at least one (height, width) canvas")
    best, best_key = None, None
    for ph, pw in pinpoints:
        scale = min(pw / w, ph / h)
        effective = min(int(w * scale) * int(h * scale), w * h)
        key = (effective, -(ph * pw - effective))  # more kept pixels first, then less waste
        if best_key is None or key > best_key:
            best, best_key = (int(ph), int(pw)), key
    return best


@dataclass(frozen=True)
class AnyResTokens:
    """Token breakdown of one LLaVA-NeXT AnyRes image.

    canvas: chosen pinpoint (height, width); grid: tiles (rows, cols); base: tokens of the
    downscaled whole image; features: (rows, cols) of the tile feature map after removing the
    padding; newlines: one per feature row; total: what the processor inserts.
    """

    canvas: tuple[int, int]
    grid: tuple[int, int]
    base: int
    features: tuple[int, int]
    newlines: int

    @property
    def tile_tokens(self) -> int:
        return self.features[0] * self.features[1]

    @property
    def total(self) -> int:
        return self.base + self.tile_tokens + self.newlines


def anyres_tokens(height: int, width: int, *, crop_size: int = 336, patch_size: int = 14,
                  pinpoints: Sequence[tuple[int, int]] = LLAVA_NEXT_PINPOINTS) -> AnyResTokens:
    """LLaVA-NeXT AnyRes tokens for a height x width image (strategy "default": no class token).

    base = (crop/P)^2; the canvas is tiled into crops; the tile feature map, (rows*crop/P,
    cols*crop/P), is cropped back to the image's aspect ratio (the padding carries no tokens);
    then one newline token ends each feature row.
    """
    height, width = require_int("height", height, low=1), require_int("width", width, low=1)
    base = tokens_per_image(crop_size, patch_size)  # validates crop_size % patch_size == 0
    side = crop_size // patch_size
    canvas = select_best_resolution((height, width), pinpoints)
    for c in canvas:
        if c % crop_size:
            raise ValueError(f"pinpoint {canvas} is not a multiple of crop_size {crop_size}")
    grid = (canvas[0] // crop_size, canvas[1] // crop_size)
    rows, cols = grid[0] * side, grid[1] * side
    if width / height > cols / rows:  # wider than the canvas: padding above and below
        kept = int(round(height * (cols / width), 7))
        rows -= 2 * ((rows - kept) // 2)
    else:  # taller (or equal): padding left and right
        kept = int(round(width * (rows / height), 7))
        cols -= 2 * ((cols - kept) // 2)
    return AnyResTokens(canvas, grid, base, (rows, cols), rows)


# ---- KV cache ------------------------------------------------------------------------------

@dataclass(frozen=True)
class LMShape:
    """The attention shape of a decoder LM that sets its KV-cache size."""

    name: str
    layers: int
    kv_heads: int
    head_dim: int
    context: int = 4096


LM_SHAPES: dict[str, LMShape] = {
    "7B (MHA: 32 KV heads)": LMShape("7B (MHA: 32 KV heads)", 32, 32, 128, 4096),
    "7B (GQA: 8 KV heads)": LMShape("7B (GQA: 8 KV heads)", 32, 8, 128, 8192),
    "70B (GQA: 8 KV heads)": LMShape("70B (GQA: 8 KV heads)", 80, 8, 128, 8192),
}


def kv_cache_bytes(tokens: int, *, layers: int, kv_heads: int, head_dim: int,
                   bytes_per_element: float = 2, batch: int = 1) -> float:
    """KV-cache size: 2 (keys and values) x layers x kv_heads x head_dim x tokens x bytes x batch."""
    tokens = require_int("tokens", tokens, low=0)
    layers, kv_heads = require_int("layers", layers, low=1), require_int("kv_heads", kv_heads, low=1)
    head_dim, batch = require_int("head_dim", head_dim, low=1), require_int("batch", batch, low=1)
    bytes_per_element = require_positive("bytes_per_element", bytes_per_element)
    total = 2 * layers * kv_heads * head_dim * tokens * bytes_per_element * batch
    return int(total) if float(total).is_integer() else total


def lm_kv_bytes(tokens: int, lm: LMShape, dtype: str = "fp16", batch: int = 1) -> float:
    """kv_cache_bytes for an LMShape and a dtype name in DTYPE_BYTES."""
    require_instance("lm", lm, LMShape, f"an LMShape (e.g. LM_SHAPES[{next(iter(LM_SHAPES))!r}])",
                     f"look the name up first: LM_SHAPES[{lm!r}]" if isinstance(lm, str) else "")
    require_choice("dtype", dtype, list(DTYPE_BYTES))
    return kv_cache_bytes(tokens, layers=lm.layers, kv_heads=lm.kv_heads, head_dim=lm.head_dim,
                          bytes_per_element=DTYPE_BYTES[dtype], batch=batch)


def config_kv_bytes(config: Any, tokens: int, bytes_per_element: float = 4, batch: int = 1) -> float:
    """kv_cache_bytes from a transformers decoder config (num_hidden_layers, num_key_value_heads,
    head_dim or hidden_size / num_attention_heads)."""
    if not all(hasattr(config, a) for a in ("num_hidden_layers", "num_attention_heads", "hidden_size")):
        raise TypeError(f"config must be a decoder LM config (e.g. lm.config), got {describe(config)}; "
                        "for a LLaVA pass model.config.text_config")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    return kv_cache_bytes(tokens, layers=config.num_hidden_layers, kv_heads=kv_heads, head_dim=head_dim,
                          bytes_per_element=bytes_per_element, batch=batch)


def cache_nbytes(cache: Any) -> int:
    """Bytes held by the key and value tensors of a transformers cache (e.g. a DynamicCache)."""
    layers = getattr(cache, "layers", None)
    if layers is None:
        raise TypeError(f"cache must be a transformers Cache with .layers (e.g. out.past_key_values), "
                        f"got {describe(cache)}")
    return sum(t.numel() * t.element_size() for layer in layers for t in (layer.keys, layer.values) if t is not None)


def format_bytes(n: float) -> str:
    """Human-readable bytes in binary units, e.g. '1.00 GiB'."""
    n = require_finite("n", n)
    if n < 0:
        raise ValueError(f"n must be a number of bytes >= 0, got {n}")
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# ---- the budget widget's render function ----------------------------------------------------

def visual_tokens(height: int, width: int, tiling: str, *, crop_size: int = 336, patch_size: int = 14) -> int:
    """Visual tokens of one image under a tiling in TILINGS ("single" resizes to one crop)."""
    require_choice("tiling", tiling, TILINGS)
    if tiling == "single":
        return tokens_per_image(crop_size, patch_size)
    if tiling == "anyres":
        return anyres_tokens(height, width, crop_size=crop_size, patch_size=patch_size).total
    return tiled_tokens(crop_size, patch_size, 4, base_image=tiling.endswith("base"))


def render_budget(height: int = 672, width: int = 672, tiling: str = "anyres", lm: str = "7B (GQA: 8 KV heads)",
                dtype: str = "fp16", images: int = 1, crop_size: int = 336, patch_size: int = 14) -> str:
    """One image size, tiling, LM shape and dtype -> visual tokens, share of the context window and
    KV-cache memory, as a few lines of text."""
    require_choice("lm", lm, list(LM_SHAPES))
    images = require_int("images", images, low=1)
    shape = LM_SHAPES[lm]
    per_image = visual_tokens(height, width, tiling, crop_size=crop_size, patch_size=patch_size)
    tokens = per_image * images
    kv = lm_kv_bytes(tokens, shape, dtype)
    share = tokens / shape.context
    lines = [
        f"image {height}x{width}, tiling '{tiling}', crop {crop_size}/{patch_size}: {per_image} visual tokens per "
        "image",
        f"{images} image(s): {tokens} visual tokens = {100 * share:.1f}% of a {shape.context}-token context"
        + ("  (does not fit!)" if share > 1 else ""),
        f"LM {shape.name}, {shape.layers} layers x {shape.kv_heads} KV heads x head_dim {shape.head_dim}, {dtype}:",
        f"KV cache for the visual tokens = {format_bytes(kv)} ({format_bytes(lm_kv_bytes(1, shape, dtype))} per token)",
    ]
    return "\n".join(lines)


# ---- prefill compute ---------------------------------------------------------------------------

def prefill_flops(tokens: int, *, params: float, layers: int, hidden_size: int) -> float:
    """FLOPs to prefill `tokens` tokens through a decoder LM (multiply + add = 2 FLOPs):
    2 x params x tokens for the weight matrices, plus 4 x layers x tokens^2 x hidden_size for the
    attention scores Q K^T and the weighted sum of V, computed in full as eager attention does
    (a causal kernel that skips the masked half does about half of that term)."""
    tokens = require_int("tokens", tokens, low=0)
    params = require_positive("params", params)
    layers, hidden_size = require_int("layers", layers, low=1), require_int("hidden_size", hidden_size, low=1)
    return 2 * params * tokens + 4 * layers * tokens * tokens * hidden_size
