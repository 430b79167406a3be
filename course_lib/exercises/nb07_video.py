"""Exercises of notebook 07: a minute of video, pooled frames, Qwen2-VL video tokens, pixel shuffle,
factorised attention."""

import torch

from .. import budgets
from ..video import pixel_shuffle, space_time_cost
from .core import Exercise, close, equal, register, same_function

register(
    Exercise(
        key="07.naive_minute",
        task="How many visual tokens is one minute of video at 30 fps with 576 tokens per frame?",
        solution=lambda: budgets.video_tokens(budgets.frames_in(60, 30), 576),
        compare=equal,
        hint="frames = seconds x fps; tokens = frames x tokens per frame.",
        mistakes=(
            (60 * 576, "That is one frame per second; this video has 30 per second."),
            (30 * 576, "That is one second of video; the clip lasts 60 seconds."),
        ),
    )
)

register(
    Exercise(
        key="07.next_video_32",
        task="LLaVA-NeXT-Video: 32 frames of 336 px, 14 px patches, each frame pooled 2 x 2. How many visual tokens?",
        solution=lambda: budgets.video_tokens(32, budgets.pooled_tokens(budgets.tokens_per_image(336, 14), 2)),
        compare=equal,
        hint="Patches per frame: (336 / 14)^2; 2 x 2 average pooling keeps a quarter of them; multiply by the frames.",
        mistakes=(
            (32 * 576, "You forgot the 2 x 2 pooling: it keeps one token per 2 x 2 block."),
            (32 * 288, "2 x 2 pooling halves each side of the grid, so it keeps a quarter of the tokens, not half."),
            (144, "That is one frame; there are 32."),
        ),
    )
)


def _qwen_video_224() -> int:
    lo, hi = budgets.QWEN_VIDEO_PIXELS
    h, w = budgets.smart_resize(224, 224, min_pixels=lo, max_pixels=hi)
    return (32 // 2) * (h // 14) * (w // 14) // 4


register(
    Exercise(
        key="07.qwen_video_224",
        task=(
            "Qwen2-VL video: how many LM tokens for 32 frames of 224 x 224 "
            "(video pixel limits budgets.QWEN_VIDEO_PIXELS)?"
        ),
        solution=_qwen_video_224,
        compare=equal,
        hint="smart_resize first (224 x 224 is below the video minimum of 128 x 28 x 28 pixels), then "
        "t = frames / 2, h = w = side / 14, tokens = t x h x w / 4.",
        mistakes=(
            (
                16 * 16 * 16 // 4,
                "224 px is below the video processor's minimum pixel count: the frames are upscaled first.",
            ),
            (32 * 16 * 16 // 4, "3-D patches span 2 frames: t = 32 / 2; and 224 px frames are upscaled first."),
            (16 * 24 * 24, "Each 2 x 2 group of patches is merged into one LM token: divide by 4."),
        ),
    )
)


def _shuffle_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(7)
    return [
        (torch.randn(2, 16, 3, generator=g), 2),
        (torch.randn(1, 1024, 4, generator=g), 4),
        (torch.randn(3, 36, 2, generator=g), 3),
    ]


def _column_first(x: torch.Tensor, s: int) -> torch.Tensor:
    b, n, d = x.shape
    side = int(n**0.5)
    return x.reshape(b, side // s, s, side // s, s, d).permute(0, 1, 3, 4, 2, 5).reshape(b, (side // s) ** 2, s * s * d)


register(
    Exercise(
        key="07.pixel_shuffle",
        task=(
            "Write shuffle(x, s): (B, S*S, D) -> (B, (S/s)^2, D*s^2), each output token an s x s block, "
            "block rows first."
        ),
        solution=lambda: pixel_shuffle,
        compare=same_function(_shuffle_cases, close(rel=0, abs_=0)),
        hint=(
            "Reshape to (B, S/s, s, S/s, s, D), bring the two block indices together: "
            "permute(0, 1, 3, 2, 4, 5), then flatten."
        ),
        mistakes=(
            (
                _column_first,
                "Right blocks, but the channels are ordered column-first: put the row offset before the column offset.",
            ),
            (
                lambda x, s: x.reshape(x.shape[0], x.shape[1] // (s * s), -1),
                "Consecutive tokens are a row strip, not a square block: reshape to the 2-D grid first.",
            ),
        ),
    )
)

register(
    Exercise(
        key="07.factorised_ratio",
        task="How many times fewer attention-score entries does factorised space-time attention compute than joint "
        "attention for 16 frames of 196 tokens?",
        solution=lambda: space_time_cost(16, 196, 1).joint_entries / space_time_cost(16, 196, 1).factorised_entries,
        compare=close(rel=1e-3),
        hint="Joint: (T N)^2. Factorised: T N^2 (space, per frame) + N T^2 (time, per position).",
        mistakes=(
            (
                (16 * 196) ** 2 / (16 * 196**2),
                "You counted only the spatial attention; add the temporal one (N x T^2).",
            ),
            (
                (16 * 196) ** 2 / (196 * 16**2),
                "You counted only the temporal attention; add the spatial one (T x N^2).",
            ),
        ),
    )
)
