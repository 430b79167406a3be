"""Flamingo-style gated cross-attention: the frozen LM's text tokens attend to image features inside the LM,
through layers whose output enters as `x + tanh(alpha) * layer(x)` with alpha = 0 at initialisation.

Taught in notebook 06, section 4 (a scratch gated block equal to `IdeficsGatedCrossAttentionLayer`; a tiny
`IdeficsForVisionText2Text` carrying the course's tiny Llama, identity at initialisation, gates-only gradient on
the first step) and section 5 (trained on the notebook-05 task).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import IdeficsConfig, IdeficsForVisionText2Text, LlamaForCausalLM

from ..base.validation import require_int
from .qformer import require_features


class GatedCrossAttentionBlock(nn.Module):
    """From scratch: x (B, T, D), image (B, N, Dv) -> x + tanh(a_attn) * XAttn(RMSNorm(x), image), then
    + tanh(a_ffw) * SwiGLU(RMSNorm(.)). Names follow IdeficsGatedCrossAttentionLayer, so its weights load here."""

    def __init__(self, hidden: int, vision_width: int, heads: int, intermediate: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.heads = require_int("heads", heads, low=1)
        self.input_layernorm, self.post_attention_layernorm = nn.RMSNorm(hidden, eps=eps), nn.RMSNorm(hidden, eps=eps)
        self.cross_attn = nn.Module()
        self.cross_attn.q_proj, self.cross_attn.o_proj = (
            nn.Linear(hidden, hidden, bias=False),
            nn.Linear(hidden, hidden, bias=False),
        )
        self.cross_attn.k_proj = nn.Linear(vision_width, hidden, bias=False)
        self.cross_attn.v_proj = nn.Linear(vision_width, hidden, bias=False)
        self.mlp = nn.Module()
        self.mlp.gate_proj, self.mlp.up_proj = (
            nn.Linear(hidden, intermediate, bias=False),
            nn.Linear(hidden, intermediate, bias=False),
        )
        self.mlp.down_proj = nn.Linear(intermediate, hidden, bias=False)
        self.alpha_cross_attn, self.alpha_dense = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        from .qformer import attention

        require_features(image, self.cross_attn.k_proj.in_features, "image")
        a, h = self.cross_attn, self.input_layernorm(x)
        x = x + torch.tanh(self.alpha_cross_attn) * a.o_proj(
            attention(a.q_proj(h), a.k_proj(image), a.v_proj(image), self.heads)
        )
        h, m = self.post_attention_layernorm(x), self.mlp
        return x + torch.tanh(self.alpha_dense) * m.down_proj(nn.functional.silu(m.gate_proj(h)) * m.up_proj(h))


def tiny_idefics_config(
    lm_config, vision_width: int = 64, cross_layer_interval: int = 2, image_size: int = 48, patch_size: int = 8
) -> IdeficsConfig:
    """An IdeficsConfig with the LM shape of `lm_config` (full multi-head attention: IdeficsAttention has no
    grouped KV heads), gated cross-attention every `cross_layer_interval` layers over features of width
    `vision_width`, no resampler, tanh gates initialised at 0 (float), text layers, LM head and vision frozen."""
    c = lm_config
    return IdeficsConfig(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        intermediate_size=c.intermediate_size,
        num_hidden_layers=c.num_hidden_layers,
        num_attention_heads=c.num_attention_heads,
        rms_norm_eps=c.rms_norm_eps,
        max_position_embeddings=c.max_position_embeddings,
        pad_token_id=c.pad_token_id,
        bos_token_id=c.bos_token_id,
        eos_token_id=c.eos_token_id,
        tie_word_embeddings=True,
        alpha_initializer="zeros",
        alpha_type="float",
        cross_layer_interval=require_int("cross_layer_interval", cross_layer_interval, low=1, high=c.num_hidden_layers),
        freeze_text_layers=True,
        freeze_lm_head=True,
        freeze_vision_layers=True,
        use_resampler=False,
        vision_config={
            "embed_dim": require_int("vision_width", vision_width, low=1),
            "image_size": image_size,
            "patch_size": patch_size,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "intermediate_size": 2 * vision_width,
        },
        perceiver_config={"use_resampler": False},
    )


def repeat_kv_weight(weight: torch.Tensor, kv_heads: int, heads: int) -> torch.Tensor:
    """A grouped-query k_proj/v_proj weight (kv_heads * d, D) -> the equivalent multi-head one (heads * d, D):
    each KV head is repeated for the heads / kv_heads query heads that share it (Llama's repeat_kv)."""
    if heads % kv_heads:
        raise ValueError(f"heads ({heads}) must be a multiple of kv_heads ({kv_heads})")
    d = weight.shape[0] // kv_heads
    return weight.view(kv_heads, d, -1).repeat_interleave(heads // kv_heads, dim=0).reshape(heads * d, -1)


def build_tiny_idefics(
    lm: LlamaForCausalLM, vision_width: int = 64, cross_layer_interval: int = 2, seed: int = 0
) -> IdeficsForVisionText2Text:
    """IdeficsForVisionText2Text carrying the weights of the Llama `lm` (k/v duplicated per query head, so the
    text path computes exactly what `lm` does) and fresh, seeded gated cross-attention layers (gates at 0)."""
    torch.manual_seed(seed)
    c = lm.config
    model = IdeficsForVisionText2Text(tiny_idefics_config(c, vision_width, cross_layer_interval))
    state = {}
    for key, value in lm.model.state_dict().items():
        if key.endswith(("k_proj.weight", "v_proj.weight")):
            value = repeat_kv_weight(value, c.num_key_value_heads, c.num_attention_heads)
        state[key] = value
    missing, unexpected = model.model.load_state_dict(state, strict=False)
    if unexpected or any(k.startswith(("layers.", "norm.")) for k in missing):
        raise RuntimeError(f"LM weights did not map onto IDEFICS: missing {missing}, unexpected {unexpected}")
    model.lm_head.weight = model.model.embed_tokens.weight  # tied, as in the tiny LM
    return model.eval()


def gates(model: IdeficsForVisionText2Text) -> dict[str, float]:
    """tanh of every gate: {'layer 0 attn': ..., 'layer 0 ffw': ...} (0 at initialisation)."""
    out = {}
    interval = model.config.cross_layer_interval
    for i, layer in enumerate(model.model.gated_cross_attn_layers):
        out[f"layer {i * interval} attn"] = float(torch.tanh(layer.alpha_cross_attn.detach()).mean())
        out[f"layer {i * interval} ffw"] = float(torch.tanh(layer.alpha_dense.detach()).mean())
    return out


def idefics_inputs(input_ids: torch.Tensor, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """The IDEFICS image arguments for one image per row: image_encoder_embeddings (B, 1, N, Dv) and an
    image_attention_mask (B, T, 1) letting every text token see it."""
    return {
        "image_encoder_embeddings": features[:, None],
        "image_attention_mask": torch.ones(*input_ids.shape, 1, dtype=torch.long),
    }
