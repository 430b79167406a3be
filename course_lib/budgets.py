"""Token and memory budgets of vision-language models: visual tokens per image (single crop,
tiles, LLaVA-NeXT AnyRes) and the KV cache those tokens occupy in the language model.

Reused by notebook 05 (LLaVA) and notebook 07 (video): keep it free of model code.

Taught in notebook 05, sections 4 and 8-10 (notebook 07 adds the video budgets here).
"""
from __future__ import annotations

import math
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


# ---- video: frames, tokens per frame, prefill compute (taught in notebook 07) ----------------

# Parameters and model width of each LM_SHAPES entry, for prefill FLOPs (2 x params x tokens + attention).
LM_SIZES: dict[str, tuple[float, int]] = {
    "7B (MHA: 32 KV heads)": (7e9, 4096),
    "7B (GQA: 8 KV heads)": (7e9, 4096),
    "70B (GQA: 8 KV heads)": (70e9, 8192),
}
# The GPU the time estimate assumes: an A100's dense fp16/bf16 tensor-core peak, and the share of it prefill reaches.
GPU_NAME, GPU_PEAK_FLOPS, GPU_UTILISATION = "A100 (312 TFLOP/s fp16 dense)", 312e12, 0.5
# Qwen2-VL: 14 px patches merged 2 x 2 (factor 28), 2 frames per 3-D patch; image and video processor pixel limits.
QWEN_FACTOR, QWEN_TEMPORAL_PATCH, QWEN_MERGE = 28, 2, 2
QWEN_IMAGE_PIXELS = (56 * 56, 28 * 28 * 1280)  # Qwen2VLImageProcessorPil: (min_pixels, max_pixels)
QWEN_VIDEO_PIXELS = (128 * 28 * 28, 28 * 28 * 768)  # Qwen2VLVideoProcessor (needs torchvision, so not imported here)
POOLINGS: tuple[str, ...] = ("none", "2x2 average", "pixel shuffle 2", "pixel shuffle 4")


def frames_in(duration_s: float, fps: float) -> int:
    """Frames a clip of duration_s seconds gives at fps frames per second: floor(duration x fps), at least 1."""
    duration_s, fps = require_positive("duration_s", duration_s), require_positive("fps", fps)
    return max(1, int(duration_s * fps + 1e-9))


def video_tokens(frames: int, tokens_per_frame: int, *, extra: int = 0) -> int:
    """Visual tokens of a video: frames x tokens_per_frame (+ extra, e.g. OneVision's one newline token)."""
    frames = require_int("frames", frames, low=1)
    tokens_per_frame = require_int("tokens_per_frame", tokens_per_frame, low=1)
    return frames * tokens_per_frame + require_int("extra", extra, low=0)


def pooled_tokens(tokens: int, stride: int, *, mode: str = "average") -> int:
    """Tokens of a square side x side grid after spatial pooling by `stride`: (side/stride)^2 for
    LLaVA-NeXT-Video's average pooling (side must divide), ceil(side/stride)^2 for LLaVA-OneVision's
    bilinear resize. E.g. 576 -> 144 (average, 2); 729 -> 196 (bilinear, 2)."""
    tokens, stride = require_int("tokens", tokens, low=1), require_int("stride", stride, low=1)
    require_choice("mode", mode, ("average", "bilinear"))
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ValueError(f"tokens must form a square grid (side x side), got {tokens}; e.g. 576 = 24 x 24")
    if mode == "average":
        if side % stride:
            raise ValueError(f"the grid side ({side}) must be a multiple of stride ({stride}) for average pooling")
        return (side // stride) ** 2
    return math.ceil(side / stride) ** 2


def smart_resize(height: int, width: int, *, factor: int = QWEN_FACTOR, min_pixels: int = QWEN_IMAGE_PIXELS[0],
                 max_pixels: int = QWEN_IMAGE_PIXELS[1]) -> tuple[int, int]:
    """Qwen2-VL's resize rule: round each side to a multiple of `factor`, then scale both (keeping the
    aspect ratio) until min_pixels <= h x w <= max_pixels (floor when shrinking, ceil when growing)."""
    height, width = require_int("height", height, low=1), require_int("width", width, low=1)
    factor = require_int("factor", factor, low=1)
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio must be below 200, got {height}x{width}")
    h, w = round(height / factor) * factor, round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


def qwen2vl_grid(frames: int, height: int, width: int, *, patch_size: int = 14,
                 temporal_patch_size: int = QWEN_TEMPORAL_PATCH) -> tuple[int, int, int]:
    """Qwen2-VL's grid (t, h, w) of 3-D patches for frames of an already resized height x width:
    t = frames / temporal_patch_size (1 for a single image), h = height / P, w = width / P."""
    frames = require_int("frames", frames, low=1)
    patch_size = require_int("patch_size", patch_size, low=1)
    for name, side in (("height", height), ("width", width)):
        side = require_int(name, side, low=1)
        if side % (2 * patch_size):
            raise ValueError(f"{name} ({side}) must be a multiple of {2 * patch_size} (patch {patch_size} x merge 2): "
                             "resize it first with smart_resize")
    if frames > 1 and frames % temporal_patch_size:
        raise ValueError(f"frames ({frames}) must be a multiple of temporal_patch_size ({temporal_patch_size}); "
                         "the video processor repeats the last frame to pad")
    return max(1, frames // temporal_patch_size), height // patch_size, width // patch_size


def qwen2vl_tokens(frames: int, height: int, width: int, *, video: bool | None = None) -> int:
    """LM tokens Qwen2-VL gives `frames` frames of height x width: smart_resize (image or video pixel
    limits), 3-D patches of 2 x 14 x 14, then 2 x 2 merging: t x h x w / 4."""
    video = frames > 1 if video is None else video
    lo, hi = QWEN_VIDEO_PIXELS if video else QWEN_IMAGE_PIXELS
    h, w = smart_resize(height, width, min_pixels=lo, max_pixels=hi)
    t, gh, gw = qwen2vl_grid(frames, h, w)
    return t * gh * gw // (QWEN_MERGE * QWEN_MERGE)


def format_flops(n: float) -> str:
    """Human-readable FLOPs, e.g. '1.23 PFLOP'."""
    for unit, scale in (("EFLOP", 1e18), ("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} FLOP"


def pooling_factor(pooling: str) -> int:
    """How many tokens a pooling in POOLINGS merges into one: 1, 4 (2x2 average, shuffle 2) or 16."""
    require_choice("pooling", pooling, POOLINGS)
    return {"none": 1, "2x2 average": 4, "pixel shuffle 2": 4, "pixel shuffle 4": 16}[pooling]


def render_video_budget(duration_s: float = 60, fps: float = 1, max_frames: int = 64, tokens_per_frame: int = 576,
                        pooling: str = "2x2 average", lm: str = "7B (GQA: 8 KV heads)", dtype: str = "fp16") -> str:
    """Duration, fps, the most frames the model keeps (sampled uniformly), tokens per frame, pooling and
    LM shape -> total visual tokens, share of the context window, KV cache, prefill FLOPs and a time
    estimate on GPU_NAME, as text."""
    require_choice("lm", lm, list(LM_SHAPES))
    frames = frames_in(duration_s, fps)
    kept = min(frames, require_int("max_frames", max_frames, low=1))
    factor = pooling_factor(pooling)
    if require_int("tokens_per_frame", tokens_per_frame, low=1) % factor:
        raise ValueError(f"tokens_per_frame ({tokens_per_frame}) must be a multiple of {factor} "
                         f"for pooling '{pooling}'")
    per_frame = tokens_per_frame // factor
    tokens = video_tokens(kept, per_frame)
    shape, (params, d_model) = LM_SHAPES[lm], LM_SIZES[lm]
    flops = prefill_flops(tokens, params=params, layers=shape.layers, hidden_size=d_model)
    seconds = flops / (GPU_PEAK_FLOPS * GPU_UTILISATION)
    share = tokens / shape.context
    return "\n".join([
        (f"{duration_s:g} s at {fps:g} fps = {frames:,} frames; {kept:,} kept (one every {duration_s / kept:.2f} s); "
         f"{tokens_per_frame} tokens/frame, pooling '{pooling}' -> {per_frame} per frame"),
        f"{tokens:,} visual tokens = {100 * share:.1f}% of a {shape.context:,}-token context"
        + ("  (does not fit!)" if share > 1 else ""),
        f"KV cache ({shape.name}, {dtype}): {format_bytes(lm_kv_bytes(tokens, shape, dtype))}",
        (f"prefill: {format_flops(flops)}, about {seconds:.2f} s on one {GPU_NAME} "
         f"at {GPU_UTILISATION:.0%} utilisation"),
    ])
