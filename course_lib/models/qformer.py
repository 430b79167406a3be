"""BLIP-2's Q-Former: K learned queries cross-attend to frozen image features -> K visual tokens.

Taught in notebook 06: section 2 (cross-attention from scratch, equal to `Blip2QFormerModel`, which
layers cross-attend), section 3 (a real tiny `Blip2ForConditionalGeneration`, its placeholder-count
leak and the course's guard), section 5 (the Q-Former bridge trained on the notebook-05 task).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from transformers import (
    Blip2Config,
    Blip2ForConditionalGeneration,
    Blip2QFormerConfig,
    Blip2QFormerModel,
    Blip2VisionConfig,
    InstructBlipQFormerConfig,
    InstructBlipQFormerModel,
    LlamaForCausalLM,
)

from ..base.validation import require_array, require_int


def require_features(features: torch.Tensor, width: int, name: str = "features") -> torch.Tensor:
    """Raise unless `features` is a float (B, N, width) tensor of image features (N >= 1)."""
    require_array(name, features, ndim=3, dtype="f")
    if features.shape[-1] != width or features.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (B, N, {width}) with N >= 1 (the width this module was built for), "
            f"got {tuple(features.shape)}; pass the vision tower's features or rebuild with that width"
        )
    return features


def qformer_config(
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    encoder_hidden_size: int = 64,
    cross_attention_frequency: int = 1,
    intermediate_size: int | None = None,
) -> Blip2QFormerConfig:
    """A tiny Blip2QFormerConfig with every dropout at 0 (the library's default is 0.1)."""
    hidden_size, heads = require_int("hidden_size", hidden_size, low=1), require_int("heads", heads, low=1)
    if hidden_size % heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by heads ({heads})")
    return Blip2QFormerConfig(
        hidden_size=hidden_size,
        num_hidden_layers=require_int("layers", layers, low=1),
        num_attention_heads=heads,
        intermediate_size=intermediate_size or 2 * hidden_size,
        encoder_hidden_size=require_int("encoder_hidden_size", encoder_hidden_size, low=1),
        cross_attention_frequency=require_int("cross_attention_frequency", cross_attention_frequency, low=1),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )


def cross_attending_layers(layers: int, cross_attention_frequency: int) -> list[int]:
    """Indices of the Q-Former layers with a cross-attention block: i % frequency == 0."""
    layers = require_int("layers", layers, low=1)
    frequency = require_int("cross_attention_frequency", cross_attention_frequency, low=1)
    return [i for i in range(layers) if i % frequency == 0]


# ---- from scratch ---------------------------------------------------------------------------------


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, return_weights: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Multi-head scaled dot-product attention without a mask: q (B, K, D), k and v (B, N, D) -> (B, K, D)
    (and the weights (B, heads, K, N) if asked)."""
    b, n_q, d = q.shape

    def split(x: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, heads, T, D / heads)
        return x.view(b, x.shape[1], heads, d // heads).transpose(1, 2)

    weights = torch.softmax(split(q) @ split(k).transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    out = (weights @ split(v)).transpose(1, 2).reshape(b, n_q, d)
    return (out, weights) if return_weights else out


class _Linear(nn.Module):
    """The library's post-LayerNorm residual: LayerNorm(dense(x) + residual)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.dense, self.LayerNorm = nn.Linear(d_in, d_out), nn.LayerNorm(d_out, eps=1e-12)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class _Attention(nn.Module):
    """Multi-head attention (query from x, key/value from `context`) + post-LN residual; names as the library's."""

    def __init__(self, hidden: int, kv_width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention = nn.Module()
        self.attention.query = nn.Linear(hidden, hidden)
        self.attention.key, self.attention.value = nn.Linear(kv_width, hidden), nn.Linear(kv_width, hidden)
        self.output = _Linear(hidden, hidden)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self.attention
        out, weights = attention(a.query(x), a.key(context), a.value(context), self.heads, return_weights=True)
        return self.output(out, x), weights


class ScratchQFormer(nn.Module):
    """The Q-Former from scratch: LayerNorm on the queries, then per layer self-attention among the queries,
    cross-attention to the image features (layers i % frequency == 0), and a feed-forward block; all post-LN.

    Parameter names follow `Blip2QFormerModel`, so its state dict loads here (queries-only path).
    forward: queries (B, K, H), features (B, N, Dv) -> (B, K, H), whatever N.
    """

    def __init__(self, config: Blip2QFormerConfig) -> None:
        super().__init__()
        h, kv = config.hidden_size, config.encoder_hidden_size
        self.config = config
        self.layernorm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList()
        for i in range(config.num_hidden_layers):
            layer = nn.Module()
            layer.attention = _Attention(h, h, config.num_attention_heads)
            if i % config.cross_attention_frequency == 0:
                layer.crossattention = _Attention(h, kv, config.num_attention_heads)
            layer.intermediate_query = nn.Module()
            layer.intermediate_query.dense = nn.Linear(h, config.intermediate_size)
            layer.output_query = _Linear(config.intermediate_size, h)
            self.encoder.layer.append(layer)

    def forward(
        self, queries: torch.Tensor, features: torch.Tensor, return_cross_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        require_array("queries", queries, ndim=3, dtype="f")
        require_features(features, self.config.encoder_hidden_size)
        x, maps = self.layernorm(queries), []
        for layer in self.encoder.layer:
            x, _ = layer.attention(x, x)
            if hasattr(layer, "crossattention"):
                x, weights = layer.crossattention(x, features)
                maps.append(weights)
            x = layer.output_query(nn.functional.gelu(layer.intermediate_query.dense(x)), x)
        return (x, maps) if return_cross_attention else x


# ---- the bridge -----------------------------------------------------------------------------------


class QFormerBridge(nn.Module):
    """BLIP-2's bridge: `query_tokens` (1, K, H) -> `Blip2QFormerModel` over the image features -> a linear
    `language_projection` to the LM width. forward: features (B, N, Dv) -> (B, K, Dt).

    Parameter names follow `Blip2ForConditionalGeneration` (query_tokens, qformer.*, language_projection.*).
    """

    def __init__(
        self, num_queries: int, vision_width: int, text_width: int, config: Blip2QFormerConfig | None = None
    ) -> None:
        super().__init__()
        k = require_int("num_queries", num_queries, low=1)
        config = (
            config
            if config is not None
            else qformer_config(encoder_hidden_size=require_int("vision_width", vision_width, low=1))
        )
        if config.encoder_hidden_size != vision_width:
            raise ValueError(
                f"config.encoder_hidden_size ({config.encoder_hidden_size}) must equal vision_width ({vision_width})"
            )
        self._build(k, vision_width, text_width, config, Blip2QFormerModel)

    def _build(self, k: int, vision_width: int, text_width: int, config: Any, qformer_class: type) -> None:
        """query_tokens (1, K, H), then the Q-Former, then language_projection (this order: seeded weights)."""
        self.vision_width = vision_width
        self.query_tokens = nn.Parameter(torch.randn(1, k, config.hidden_size) * config.initializer_range)
        self.qformer = qformer_class(config)
        self.language_projection = nn.Linear(config.hidden_size, require_int("text_width", text_width, low=1))

    @property
    def num_tokens(self) -> int:
        return self.query_tokens.shape[1]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        require_features(features, self.vision_width)
        queries = self.query_tokens.expand(features.shape[0], -1, -1)
        out = self.qformer(query_embeds=queries, encoder_hidden_states=features).last_hidden_state
        return self.language_projection(out)


class InstructQFormerBridge(QFormerBridge):
    """InstructBLIP's bridge: the K queries and the instruction's tokens share self-attention in an
    `InstructBlipQFormerModel`, only the queries cross-attend to the image, and only the K query outputs go
    through `language_projection`. forward: features (B, N, Dv), instruction_ids and instruction_mask (B, L)
    -> (B, K, Dt), so the visual tokens depend on the question."""

    reads_instruction = True

    def __init__(
        self, num_queries: int, vision_width: int, text_width: int, vocab_size: int, pad_token_id: int
    ) -> None:
        nn.Module.__init__(self)
        k = require_int("num_queries", num_queries, low=1)
        base = qformer_config(encoder_hidden_size=require_int("vision_width", vision_width, low=1)).to_dict()
        base = {key: base[key] for key in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                           "intermediate_size", "encoder_hidden_size", "cross_attention_frequency",
                                           "hidden_dropout_prob", "attention_probs_dropout_prob")}
        config = InstructBlipQFormerConfig(vocab_size=require_int("vocab_size", vocab_size, low=1),
                                           pad_token_id=require_int("pad_token_id", pad_token_id, low=0), **base)
        self._build(k, vision_width, text_width, config, InstructBlipQFormerModel)

    def forward(  # type: ignore[override]  # the question comes with the features
        self, features: torch.Tensor, instruction_ids: torch.Tensor, instruction_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.language_projection(self.query_outputs(features, instruction_ids, instruction_mask)[0])

    def query_outputs(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor,
        instruction_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, Any]:
        """The K query outputs (B, K, H) and the library's output (with cross_attentions (B, heads, K, N) per
        layer when output_attentions and eager attention)."""
        require_features(features, self.vision_width)
        require_array("instruction_ids", instruction_ids, ndim=2, dtype="i")
        if instruction_ids.shape[0] != features.shape[0]:
            raise ValueError(f"need one instruction per image: {features.shape[0]} images, "
                             f"instruction_ids has {instruction_ids.shape[0]} rows")
        b, k = features.shape[0], self.num_tokens
        if instruction_mask is None:
            instruction_mask = torch.ones_like(instruction_ids)
        mask = torch.cat([torch.ones(b, k, dtype=instruction_mask.dtype), instruction_mask], dim=1)
        queries = self.query_tokens.expand(b, -1, -1)
        out = self.qformer(input_ids=instruction_ids, attention_mask=mask, query_embeds=queries,
                           encoder_hidden_states=features, output_attentions=output_attentions)
        return out.last_hidden_state[:, :k], out


# ---- a real BLIP-2 and the placeholder guard ----------------------------------------------------


def tiny_blip2(
    lm: LlamaForCausalLM,
    image_token_index: int | None,
    *,
    num_query_tokens: int = 8,
    image_size: int = 48,
    patch_size: int = 8,
    vision_width: int = 64,
    vision_layers: int = 2,
    seed: int = 0,
) -> Blip2ForConditionalGeneration:
    """A tiny Blip2ForConditionalGeneration: a BLIP-2 vision tower of the tiny CLIP's shape (random weights: its
    class has no pre-LayerNorm, so CLIP weights do not transfer exactly), a tiny Q-Former, and the LM `lm` (copied).

    `image_token_index` None reproduces the library default (the forward then fails opaquely)."""
    torch.manual_seed(seed)
    vision = Blip2VisionConfig(
        hidden_size=vision_width,
        intermediate_size=2 * vision_width,
        num_hidden_layers=vision_layers,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch_size,
    )
    config = Blip2Config(
        vision_config=vision.to_dict(),
        qformer_config=qformer_config(encoder_hidden_size=vision_width).to_dict(),
        text_config=lm.config.to_dict(),
        num_query_tokens=require_int("num_query_tokens", num_query_tokens, low=1),
        image_token_index=image_token_index,
    )
    model = Blip2ForConditionalGeneration(config)
    model.language_model.load_state_dict(lm.state_dict())  # here the whole LlamaForCausalLM
    with torch.no_grad():  # the library initialises query_tokens to zeros: every query would be the same one
        model.query_tokens.normal_(0.0, config.qformer_config.initializer_range)
    return model.eval()


def require_image_placeholders(input_ids: torch.Tensor, image_token_id: int, num_tokens: int) -> None:
    """The course's guard: every row of `input_ids` must hold exactly `num_tokens` image placeholders.

    BLIP-2's forward does not check this: `masked_scatter` fills the placeholders in order, so with too few
    per row the later rows receive the query outputs of earlier images."""
    require_array("input_ids", input_ids, ndim=2, dtype="i")
    counts = (input_ids == image_token_id).sum(dim=1).tolist()
    bad = [(row, c) for row, c in enumerate(counts) if c != num_tokens]
    if bad:
        rows = ", ".join(f"row {r}: {c}" for r, c in bad[:5])
        raise ValueError(
            f"each row of input_ids must contain exactly {num_tokens} image placeholders (id {image_token_id}), "
            f"one per visual token; got {rows}. Expand the placeholder to {num_tokens} copies "
            f"(e.g. llava.expand_image_token(text, {num_tokens}))"
        )


def guarded_blip2_forward(model: Blip2ForConditionalGeneration, **inputs: torch.Tensor):
    """model(**inputs) after require_image_placeholders and an image-size check: a clear error instead of a leak."""
    if model.config.image_token_index is None:
        raise ValueError(
            "model.config.image_token_index is None: set it to the tokenizer's <image> id "
            "(Blip2Config(image_token_index=...)); the library then fails with an opaque AttributeError"
        )
    size = model.config.vision_config.image_size
    pixels = inputs.get("pixel_values")
    require_array("pixel_values", pixels, ndim=4, dtype="f")
    if tuple(pixels.shape[1:]) != (3, size, size):
        raise ValueError(
            f"pixel_values must have shape (B, 3, {size}, {size}) for this vision tower, got {tuple(pixels.shape)}; "
            f"resize the images to {size} px"
        )
    require_image_placeholders(inputs["input_ids"], model.config.image_token_index, model.config.num_query_tokens)
    return model(**inputs)


@torch.no_grad()
def placeholder_contents(
    model: Blip2ForConditionalGeneration, input_ids: torch.Tensor, pixel_values: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run `model` unguarded and return (per row, the LM input embeddings at its placeholder slots; the query
    outputs (B, K, Dt) of every image): what the LM really received where each row's image should be."""
    seen: dict[str, torch.Tensor] = {}

    def grab(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen["embeds"] = kwargs["inputs_embeds"]

    hook = model.language_model.register_forward_pre_hook(grab, with_kwargs=True)
    try:
        model(input_ids=input_ids, pixel_values=pixel_values)
    finally:
        hook.remove()
    mask = input_ids == model.config.image_token_index
    slots = [seen["embeds"][row][mask[row]] for row in range(len(input_ids))]
    return slots, model.get_image_features(pixel_values=pixel_values).pooler_output
