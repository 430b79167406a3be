"""Flamingo's Perceiver Resampler as a bridge: n learned latents cross-attend to the image features (the
latents join the keys and values, as in Flamingo) -> a fixed n visual tokens, then a linear map to the LM width.

Taught in notebook 06, section 5 (the library class `IdeficsPerceiverResampler`, output shape whatever the
input length, trained as a bridge on the notebook-05 task).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import IdeficsConfig
from transformers.models.idefics.perceiver import IdeficsPerceiverResampler

from ..base.validation import require_int
from .qformer import require_features


def resampler_config(
    vision_width: int, *, latents: int, depth: int = 2, heads: int = 4, head_dim: int = 16
) -> IdeficsConfig:
    """The IdeficsConfig fields IdeficsPerceiverResampler reads: the vision width and the perceiver shape."""
    return IdeficsConfig(
        vision_config={"embed_dim": require_int("vision_width", vision_width, low=1)},
        perceiver_config={
            "use_resampler": True,
            "resampler_n_latents": require_int("latents", latents, low=1),
            "resampler_depth": require_int("depth", depth, low=1),
            "resampler_n_heads": require_int("heads", heads, low=1),
            "resampler_head_dim": require_int("head_dim", head_dim, low=1),
        },
    )


class ResamplerBridge(nn.Module):
    """`IdeficsPerceiverResampler` (latents (n, Dv)) -> Linear(Dv, Dt). forward: features (B, N, Dv) -> (B, n, Dt)."""

    def __init__(
        self,
        num_latents: int,
        vision_width: int,
        text_width: int,
        *,
        depth: int = 2,
        heads: int = 4,
        head_dim: int = 16,
    ) -> None:
        super().__init__()
        config = resampler_config(vision_width, latents=num_latents, depth=depth, heads=heads, head_dim=head_dim)
        p = config.perceiver_config
        self.vision_width = vision_width
        self.resampler = IdeficsPerceiverResampler(
            config, vision_width, p.resampler_depth, p.resampler_n_heads, p.resampler_head_dim, p.resampler_n_latents
        )
        with torch.no_grad():  # the library draws latents from N(0, 1); scale them like the other bridges' queries
            self.resampler.latents.mul_(0.02)
        self.projection = nn.Linear(vision_width, require_int("text_width", text_width, low=1))

    @property
    def num_tokens(self) -> int:
        return self.resampler.n_latents

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.projection(self.resampler(require_features(features, self.vision_width)))
