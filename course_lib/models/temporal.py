"""A tiny temporal-grounding model on frozen tiny-CLIP frame features (taught in notebook 07, section 5).

Each frame of a Shapes World clip goes through the frozen CLIP vision tower once; its patch tokens,
pooled spatially or not, are flattened into one frame vector, joined by its difference from the
previous frame the model was given (a motion cue, as in two-stream and TSN video models). A small BERT encoder (a real
`transformers` class) reads the question token and the frame vectors, each with the position of
its frame in the clip (so subsampled frames keep their timestamps). The answer is a pointer: one
score per frame, plus a "never" score read from the question token.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import BertConfig, BertModel

from ..base.validation import require_array, require_int
from ..training import ProgressBar, TrainResult, train
from ..video import QUESTIONS, average_pool_tokens, grounding_accuracy, nearest_kept, uniform_frame_indices
from .dual_encoder import to_pixel_values

POOLS: tuple[str, ...] = ("2x2 average", "none")


@torch.no_grad()
def frame_features(
    tower: nn.Module, frames: np.ndarray, *, batch_size: int = 1024, progress: bool = True
) -> torch.Tensor:
    """Patch tokens of every frame from a CLIP vision tower's last layer: (N, T, S, S, 3) uint8 ->
    (N, T, P, D) float32 (class token dropped; P = 36 for the tiny CLIP's 48 px, 8 px patches)."""
    require_array("frames", frames, ndim=5, dtype="uint8")
    n, t = frames.shape[:2]
    flat = frames.reshape(n * t, *frames.shape[2:])
    tower.eval()
    out, start = [], time.perf_counter()
    bar = ProgressBar(len(flat), "frame features", enabled=progress)  # replaced by a one-line summary at the end
    for i in range(0, len(flat), batch_size):
        out.append(tower(to_pixel_values(flat[i : i + batch_size])).last_hidden_state[:, 1:])
        bar.update(len(out[-1]))
    bar.finish(f"frame features: {len(flat):,} frames in {time.perf_counter() - start:.1f} s")
    features = torch.cat(out)
    return features.reshape(n, t, *features.shape[1:])


def pool_frames(features: torch.Tensor, pool: str) -> torch.Tensor:
    """(N, T, P, D) -> (N, T, P', D): "2x2 average" (36 -> 9 tokens per frame) or "none"."""
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {list(POOLS)}, got {pool!r}")
    require_array("features", features, ndim=4)
    if pool == "none":
        return features
    n, t = features.shape[:2]
    pooled = average_pool_tokens(features.reshape(n * t, *features.shape[2:]), 2)
    return pooled.reshape(n, t, *pooled.shape[1:])


class TemporalGrounder(nn.Module):
    """Question + frames -> logits over frame indices 0..T-1 and "never" (index T).

    forward(features (B, T', P, D), question (B,) index into QUESTIONS, frames (T',) frame indices of
    the T' kept frames) -> (B, T + 1); frames that were not kept get a score of -1e4.
    """

    def __init__(
        self,
        tokens_per_frame: int,
        feature_dim: int,
        n_frames: int,
        *,
        hidden: int = 64,
        layers: int = 2,
        heads: int = 4,
    ) -> None:
        super().__init__()
        self.n_frames = require_int("n_frames", n_frames, low=2)
        tokens = require_int("tokens_per_frame", tokens_per_frame, low=1)
        width = 2 * tokens * require_int("feature_dim", feature_dim, low=1)  # the frame and its difference
        self.norm = nn.LayerNorm(width)
        self.frame_proj = nn.Linear(width, hidden)
        self.question = nn.Embedding(len(QUESTIONS), hidden)
        config = BertConfig(
            vocab_size=1,
            hidden_size=hidden,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            intermediate_size=2 * hidden,
            max_position_embeddings=n_frames + 1,
            type_vocab_size=1,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
        self.encoder = BertModel(config, add_pooling_layer=False)
        self.frame_score = nn.Linear(hidden, 1)
        self.never_score = nn.Linear(hidden, 1)

    def forward(
        self, features: torch.Tensor, question: torch.Tensor, frames: torch.Tensor | None = None
    ) -> torch.Tensor:
        b, kept = features.shape[:2]
        frames = torch.arange(kept) if frames is None else torch.as_tensor(frames, dtype=torch.long)
        q = self.question(question)[:, None]  # (B, 1, H)
        flat = features.flatten(2)  # (B, T', P*D)
        change = flat - torch.cat([flat[:, :1], flat[:, :-1]], dim=1)  # difference from the previous kept frame
        frames_in = self.frame_proj(self.norm(torch.cat([flat, change], dim=-1)))
        x = torch.cat([q, frames_in + q], dim=1)  # (B, 1 + T', H)
        positions = torch.cat([torch.zeros(1, dtype=torch.long), frames + 1])[None].expand(b, -1)
        h = self.encoder(inputs_embeds=x, position_ids=positions).last_hidden_state
        logits = torch.full((b, self.n_frames + 1), -1e4, dtype=h.dtype)
        logits[:, frames] = self.frame_score(h[:, 1:]).squeeze(-1)
        logits[:, self.n_frames] = self.never_score(h[:, 0]).squeeze(-1)
        return logits


def train_grounder(
    model: TemporalGrounder,
    features: torch.Tensor,
    answers: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    keep: int,
    seed: int = 0,
    progress: bool = True,
    desc: str = "temporal model",
) -> TrainResult:
    """Train on cached features (N, T, P, D) and answers (N, 2) through course_lib.training.train:
    `steps` batches of `batch_size` random (clip, question) pairs (seeded), `keep` uniformly sampled
    frames per clip (recipes.TEMPORAL_LIVE / TEMPORAL_LOW_RATE)."""
    require_array("features", features, ndim=4)
    require_array("answers", answers, shape=(len(features), len(QUESTIONS)), dtype="i")
    n_frames = features.shape[1]
    kept = uniform_frame_indices(n_frames, keep)
    frames = torch.from_numpy(kept)
    # a pointer can only name a kept frame: aim at the nearest one (all answers when every frame is kept)
    targets = torch.from_numpy(nearest_kept(np.asarray(answers, dtype=np.int64), kept, n_frames))
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)

    def batch_fn(step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        clip = torch.randint(0, len(features), (batch_size,), generator=generator)
        question = torch.randint(0, len(QUESTIONS), (batch_size,), generator=generator)
        return features[clip][:, frames], question, targets[clip, question]

    def loss_fn(m: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(m(batch[0], batch[1], frames), batch[2])

    return train(model, batch_fn, loss_fn, steps=steps, lr=lr, progress=progress, desc=desc)


@torch.no_grad()
def predict(model: TemporalGrounder, features: torch.Tensor, question: str, keep: int | None = None) -> np.ndarray:
    """(N,) predicted frame index (T = never) for one question, from `keep` uniformly sampled frames."""
    if question not in QUESTIONS:
        raise ValueError(f"question must be one of {list(QUESTIONS)}, got {question!r}")
    frames = torch.from_numpy(uniform_frame_indices(features.shape[1], keep or features.shape[1]))
    q = torch.full((len(features),), QUESTIONS.index(question))
    model.eval()
    return model(features[:, frames], q, frames).argmax(-1).numpy()


def evaluate_grounder(
    model: TemporalGrounder, features: torch.Tensor, answers: np.ndarray, keep: int | None = None
) -> dict[str, tuple[float, float]]:
    """{question: (exact, within +-1)} on held-out clips, from `keep` frames per clip."""
    never = features.shape[1]
    return {
        q: grounding_accuracy(predict(model, features, q, keep), answers[:, i], never) for i, q in enumerate(QUESTIONS)
    }


def baselines(
    train_answers: np.ndarray, test_answers: np.ndarray, n_frames: int
) -> dict[str, dict[str, tuple[float, float]]]:
    """Two models that never look: "blind" answers each question with its most frequent training
    answer; "middle frame" always answers frame T // 2."""
    out: dict[str, dict[str, tuple[float, float]]] = {"blind": {}, "middle frame": {}}
    for i, q in enumerate(QUESTIONS):
        common = np.bincount(train_answers[:, i], minlength=n_frames + 1).argmax()
        for name, guess in (("blind", common), ("middle frame", n_frames // 2)):
            out[name][q] = grounding_accuracy(np.full(len(test_answers), guess), test_answers[:, i], n_frames)
    return out


# ---- tiny video VLMs: real transformers classes, only to count the tokens they produce -----------

VLM_KINDS: tuple[str, ...] = ("llava-next-video", "video-llava", "llava-onevision", "qwen2-vl")
IMAGE_TOKEN_ID, VIDEO_TOKEN_ID, VISION_START_ID, VISION_END_ID = 60, 61, 62, 63
_TEXT = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)


def _vision(model_type: str, image_size: int) -> dict:
    return dict(
        model_type=model_type,
        image_size=image_size,
        patch_size=14,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
    )


def tiny_video_vlm(kind: str, seed: int = 0) -> nn.Module:
    """A randomly initialised, tiny (width 16-32, one layer) video VLM of a real class, with the real
    model's frame size and patch size, so that its token counts are the real model's:
    "llava-next-video" (CLIP 336 px / 14, 2 x 2 average pooling), "video-llava" (CLIP 224 px / 14),
    "llava-onevision" (SigLIP 384 px / 14), "qwen2-vl" (3-D patches 2 x 14 x 14, 2 x 2 merge)."""
    from transformers import (
        LlavaNextVideoConfig,
        LlavaNextVideoForConditionalGeneration,
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        VideoLlavaConfig,
        VideoLlavaForConditionalGeneration,
    )

    if kind not in VLM_KINDS:
        raise ValueError(f"kind must be one of {list(VLM_KINDS)}, got {kind!r}")
    torch.manual_seed(require_int("seed", seed, low=0))
    ids = dict(image_token_index=IMAGE_TOKEN_ID, video_token_index=VIDEO_TOKEN_ID)
    if kind == "llava-next-video":
        config = LlavaNextVideoConfig(
            vision_config=_vision("clip_vision_model", 336),
            text_config=dict(_TEXT, model_type="llama"),
            spatial_pool_mode="average",
            spatial_pool_stride=2,
            **ids,
        )
        return LlavaNextVideoForConditionalGeneration(config).eval()
    if kind == "video-llava":
        config = VideoLlavaConfig(
            vision_config=_vision("clip_vision_model", 224), text_config=dict(_TEXT, model_type="llama"), **ids
        )
        return VideoLlavaForConditionalGeneration(config).eval()
    if kind == "llava-onevision":
        config = LlavaOnevisionConfig(
            vision_config=_vision("siglip_vision_model", 384), text_config=dict(_TEXT, model_type="qwen2"), **ids
        )
        return LlavaOnevisionForConditionalGeneration(config).eval()
    text = dict(_TEXT, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]})
    config = Qwen2VLConfig(
        text_config=text,
        vision_config=dict(depth=1, embed_dim=16, hidden_size=32, num_heads=1, mlp_ratio=2),
        image_token_id=IMAGE_TOKEN_ID,
        video_token_id=VIDEO_TOKEN_ID,
        vision_start_token_id=VISION_START_ID,
        vision_end_token_id=VISION_END_ID,
    )
    return Qwen2VLForConditionalGeneration(config).eval()


@torch.no_grad()
def library_video_features(model: nn.Module, video: torch.Tensor) -> torch.Tensor:
    """The LM-ready tokens `model` (a tiny_video_vlm other than qwen2-vl) makes of one video (1, T, 3, S, S):
    get_video_features' output as (tokens, D), with the config's feature layer and selection strategy."""
    require_array("video", video, ndim=5)
    config = model.config
    kwargs = {"vision_feature_layer": config.vision_feature_layer}
    if "VideoLlava" not in type(model).__name__:  # Video-LLaVA takes no strategy: its videos keep the class token
        kwargs["vision_feature_select_strategy"] = config.vision_feature_select_strategy
    out = model.model.get_video_features(video, **kwargs).pooler_output  # (1, tokens, D) or (T, 257, D)
    return out.reshape(-1, out.shape[-1])


@torch.no_grad()
def qwen2vl_video_forward(
    model: nn.Module, grid_thw: tuple[int, int, int], n_placeholders: int | None = None
) -> tuple[int, torch.Tensor]:
    """Run a tiny Qwen2-VL on random 3-D patches of a video grid (t, h, w) in units of 2 x 14 x 14 patches:
    returns (tokens from get_video_features, logits of a full forward whose prompt holds n_placeholders
    <video> tokens, default: that count). The full forward needs mm_token_type_ids (2 = video) in 5.x."""
    t, h, w = (require_int(n, v, low=1) for n, v in zip(("t", "h", "w"), grid_thw))
    vc = model.config.vision_config
    pixels = torch.randn(t * h * w, vc.in_channels * vc.temporal_patch_size * vc.patch_size**2)
    grid = torch.tensor([[t, h, w]])
    tokens = sum(
        len(x) for x in model.model.get_video_features(pixel_values_videos=pixels, video_grid_thw=grid).pooler_output
    )
    n = tokens if n_placeholders is None else require_int("n_placeholders", n_placeholders, low=0)
    ids = torch.tensor([[1, VISION_START_ID] + [VIDEO_TOKEN_ID] * n + [VISION_END_ID, 2]])
    logits = model(
        input_ids=ids,
        pixel_values_videos=pixels,
        video_grid_thw=grid,
        mm_token_type_ids=(ids == VIDEO_TOKEN_ID).int() * 2,
    ).logits
    return tokens, logits
