"""Tiny CLIP on Shapes World: image preprocessing and embedding helpers (builder and trainer below)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTextConfig, CLIPVisionConfig

from .contrastive import MAX_LOGIT_SCALE, clamp_logit_scale, clip_logits, multi_positive_loss, positive_mask, symmetric_info_nce
from .paths import data_path
from .seeding import seed_everything
from .shapes_world import CAPTION_TEMPLATES, Scenes, describe_object, generate_scenes, make_captions, off_palette_colors, repaint
from .tokenizer import build_tokenizer, load_tokenizer, unknown_words
from .training import TrainResult, train
from .validation import check_array, check_choice, check_int

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


def to_pixel_values(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) images -> float32 (N, 3, H, W) in [-1, 1]: (x/255 - 0.5) / 0.5."""
    check_array("images", images, ndim=4, dtype="uint8")
    if images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) RGB, got shape {tuple(images.shape)}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_images(model, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """L2-normalised image embeddings (N, D) from a CLIP/SigLIP-style model's get_image_features."""
    model.eval()
    out = [_as_tensor(model.get_image_features(pixel_values=to_pixel_values(images[i : i + batch_size])))
           for i in range(0, len(images), batch_size)]
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


@torch.no_grad()
def encode_texts(model, tokenizer, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    """L2-normalised text embeddings (N, D); raises ValueError naming words outside the vocabulary."""
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError("texts must be a list of strings")
    if len(texts) == 0:
        raise ValueError("texts is empty")
    for text in texts:
        missing = unknown_words(tokenizer, text)
        if missing:
            raise ValueError(f"unknown word(s) {missing} in {text!r}: the tiny model only knows Shapes World words")
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i : i + batch_size]), padding=True, return_tensors="pt")
        out.append(_as_tensor(model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])))
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


def _as_tensor(features) -> torch.Tensor:
    # transformers 5 may return a ModelOutput with pooler_output instead of a bare tensor
    return features if isinstance(features, torch.Tensor) else features.pooler_output


# ---- tiny CLIP: config, batches, trainer, shipped checkpoint --------------------------------

TINY_CLIP = "tiny_clip"  # data/tiny_clip: the shipped checkpoint
TEXT_LENGTH = 32  # longest Shapes World caption is well below this


def tiny_clip_config(
    tokenizer=None,
    *,
    hidden_size: int = 96,
    layers: int = 3,
    heads: int = 4,
    projection_dim: int = 64,
    image_size: int = 48,
    patch_size: int = 8,
) -> CLIPConfig:
    """A tiny CLIPConfig for Shapes World: a ViT of (image_size / patch_size)^2 + 1 tokens and a
    text transformer over the course tokenizer's vocabulary (eos id from the tokenizer)."""
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    hidden_size = check_int("hidden_size", hidden_size, low=8)
    heads = check_int("heads", heads, low=1)
    if hidden_size % heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by heads ({heads})")
    image_size, patch_size = check_int("image_size", image_size, low=8), check_int("patch_size", patch_size, low=1)
    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be divisible by patch_size ({patch_size})")
    common = dict(hidden_size=hidden_size, intermediate_size=4 * hidden_size, num_hidden_layers=check_int("layers", layers, low=1),
                  num_attention_heads=heads, projection_dim=check_int("projection_dim", projection_dim, low=2), hidden_act="gelu")
    text = CLIPTextConfig(vocab_size=len(tokenizer), max_position_embeddings=TEXT_LENGTH, pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **common)
    vision = CLIPVisionConfig(image_size=image_size, patch_size=patch_size, **common)
    return CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=projection_dim)


def build_tiny_clip(tokenizer=None, seed: int = 0, **config) -> CLIPModel:
    """A freshly initialised (seeded) CLIPModel from tiny_clip_config(tokenizer, **config)."""
    seed_everything(seed)
    return CLIPModel(tiny_clip_config(tokenizer, **config)).eval()


@dataclass(frozen=True)
class ImageTextBatch:
    """One contrastive batch: images (B, S, S, 3) uint8 in `scenes`, one caption per scene, the
    caption template of each single-object scene (index into TEMPLATES, -1 for multi-object scenes),
    positives (B, B) bool: True where caption j is a correct description of image i (the diagonal
    always), and repainted (B,) bool: images whose object was repainted in an off-palette colour
    (their scenes.colors still hold the original palette index)."""

    scenes: Scenes
    captions: list[str]
    templates: np.ndarray
    positives: torch.Tensor
    repainted: np.ndarray

    def __len__(self) -> int:
        return len(self.captions)


POSITIVES: tuple[str, ...] = ("diagonal", "identical", "described")
# Partial captions name one attribute only; with a multi-positive target they teach colour and
# shape as separate directions of the embedding space (see partial_share).
PARTIAL_TEMPLATES: tuple[str, ...] = ("a {color} object", "a {shape}")
TEMPLATES: tuple[str, ...] = CAPTION_TEMPLATES + PARTIAL_TEMPLATES


def described_by(scenes: Scenes, templates: np.ndarray, captions: Sequence[str], repainted: np.ndarray | None = None) -> torch.Tensor:
    """(B, B) bool: caption j is true of image i. A single-object caption is true of every
    single-object image that has each attribute it names (colour, shape, size, position);
    a multi-object caption only of images with the identical caption; a caption naming a colour
    is never true of a repainted image (repainted: (B,) bool, default none).
    templates: (B,) index into TEMPLATES of each caption, -1 for multi-object captions."""
    single = scenes.n_objects == 1
    true = single[:, None] & single[None, :]
    for field, values in (("{color}", scenes.colors), ("{shape}", scenes.shapes), ("{size}", scenes.sizes), ("{where}", scenes.cells)):
        named = np.array([field in t for t in TEMPLATES])[templates]  # does caption j name this attribute?
        v = values[:, 0]
        true &= (v[:, None] == v[None, :]) | ~named[None, :]
        if field == "{color}" and repainted is not None:
            true &= ~(np.asarray(repainted)[:, None] & named[None, :])
    return torch.from_numpy(true) | positive_mask(captions)


def image_text_batch(
    batch_size: int,
    seed: int,
    *,
    multi_object_share: float = 0.0,
    unique_captions: bool = False,
    positives: str = "described",
    partial_share: float = 0.0,
    repaint_share: float = 0.0,
    split: str = "train",
    image_size: int = 48,
) -> ImageTextBatch:
    """A seeded batch of Shapes World scenes, each with a caption from a random template.

    multi_object_share: fraction of scenes with 2-3 objects (the rest have one);
    unique_captions: draw extra scenes and keep the first of each caption, so no two captions
    in the batch are identical; positives: which pairs count as matches, "diagonal" (only pair i,
    the plain CLIP assumption), "identical" (also identical captions) or "described" (every
    caption that is true of the image, see described_by); partial_share: fraction of single-object
    scenes captioned by colour or shape alone (PARTIAL_TEMPLATES); repaint_share: fraction of
    single-object scenes repainted in a random off-palette colour (shapes_world.off_palette_colors)
    and captioned by their shape alone, a colour augmentation that teaches shape apart from colour.
    """
    batch_size = check_int("batch_size", batch_size, low=2)
    check_choice("positives", positives, POSITIVES)
    for name, share in (("multi_object_share", multi_object_share), ("partial_share", partial_share), ("repaint_share", repaint_share)):
        if not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {share}")
    n = 4 * batch_size if unique_captions else batch_size  # room for duplicates among partial captions
    n_multi = int(round(multi_object_share * n))
    parts = []
    if n - n_multi:
        parts.append(generate_scenes(n - n_multi, seed=seed, image_size=image_size, max_objects=1, split=split))
    if n_multi:
        parts.append(generate_scenes(n_multi, seed=seed + 1, image_size=image_size, min_objects=2, max_objects=3, split=split))
    rng = np.random.default_rng(seed)
    scenes = concat_scenes(parts).subset(rng.permutation(n))
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=n)
    partial = rng.random(n) < partial_share
    templates = np.where(partial, len(CAPTION_TEMPLATES) + rng.integers(0, len(PARTIAL_TEMPLATES), size=n), templates)
    templates = np.where(scenes.n_objects == 1, templates, -1)
    multi = iter(make_captions(scenes.subset(np.nonzero(templates < 0)[0])))
    captions = [describe_object(scenes, i, 0, TEMPLATES[t]) if t >= 0 else next(multi) for i, t in enumerate(templates)]
    if unique_captions:
        first = np.array(sorted({c: i for i, c in reversed(list(enumerate(captions)))}.values()))[:batch_size]
        if len(first) < batch_size:
            raise ValueError(f"only {len(first)} distinct captions among {n} scenes; use a smaller batch_size")
        scenes, templates, captions = scenes.subset(first), templates[first], [captions[i] for i in first]
    # repaint after the unique-caption filter: repainted images share captions ("a circle")
    repainted = (scenes.n_objects == 1) & (rng.random(batch_size) < repaint_share)
    if repainted.any():
        rows = np.nonzero(repainted)[0]
        images = scenes.images.copy()
        images[rows] = repaint(images[rows], off_palette_colors(scenes.shapes[rows, 0], seed))
        scenes = Scenes(images, scenes.colors, scenes.shapes, scenes.sizes, scenes.cells)
        templates = np.where(repainted, TEMPLATES.index("a {shape}"), templates)
        captions = [describe_object(scenes, i, 0, "a {shape}") if r else c for i, (c, r) in enumerate(zip(captions, repainted))]
    mask = {"diagonal": lambda: torch.eye(batch_size, dtype=torch.bool), "identical": lambda: positive_mask(captions),
            "described": lambda: described_by(scenes, templates, captions, repainted)}[positives]()
    return ImageTextBatch(scenes, captions, templates, mask, repainted)


def concat_scenes(parts: Sequence[Scenes]) -> Scenes:
    """Stack several Scenes batches into one."""
    if not parts:
        raise ValueError("nothing to concatenate")
    fields = ("images", "colors", "shapes", "sizes", "cells")
    return Scenes(*(np.concatenate([getattr(p, f) for p in parts]) for f in fields))


def clip_softmax_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None) -> torch.Tensor:
    """CLIP's symmetric softmax loss at the model's scale exp(logit_scale); with a positives mask
    that marks more than the diagonal, the multi-positive version."""
    logits = clip_logits(image_emb, text_emb, model.logit_scale.exp())
    if positives is None or int(positives.sum()) == len(positives):
        return symmetric_info_nce(logits)
    return multi_positive_loss(logits, positives)


def clip_ignore_duplicates_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None) -> torch.Tensor:
    """Plain CLIP loss that treats duplicate captions as negatives (the false-negative baseline)."""
    return symmetric_info_nce(clip_logits(image_emb, text_emb, model.logit_scale.exp()))


# loss name -> fn(image_emb (B, D), text_emb (B, D), model, positives (B, B) bool) -> scalar.
# Embeddings are L2-normalised. Other modules add theirs (e.g. notebook 03's "siglip").
LOSSES: dict[str, Callable[..., torch.Tensor]] = {"clip": clip_softmax_loss, "clip_plain": clip_ignore_duplicates_loss}


def embed_batch(model, tokenizer, batch: ImageTextBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised (B, D) image and text embeddings of a batch, with gradients."""
    pixels = to_pixel_values(batch.scenes.images)
    enc = tokenizer(batch.captions, padding=True, return_tensors="pt")
    image = _as_tensor(model.get_image_features(pixel_values=pixels))
    text = _as_tensor(model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]))
    return F.normalize(image, dim=-1), F.normalize(text, dim=-1)


def train_dual_encoder(
    model,
    tokenizer,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-3,
    loss: str | Callable[..., torch.Tensor] = "clip",
    seed: int = 0,
    multi_object_share: float = 0.0,
    unique_captions: bool = False,
    positives: str = "described",
    partial_share: float = 0.0,
    repaint_share: float = 0.0,
    weight_decay: float = 0.01,
    max_scale: float | None = MAX_LOGIT_SCALE,
    progress: bool = True,
    desc: str = "tiny CLIP",
) -> TrainResult:
    """Train a dual encoder (CLIPModel, or any model with get_image_features/get_text_features and
    logit_scale, e.g. SiglipModel) contrastively on seeded train-split Shapes World batches.

    loss: a name in LOSSES or fn(image_emb, text_emb, model, positives) -> scalar; positives,
    multi_object_share, partial_share, repaint_share: see image_text_batch; weight_decay: AdamW's
    (a strong 0.2 helps the held-out compositions);
    max_scale: clamp exp(logit_scale) after every step (None: no clamp). Batch of step s uses seed
    seed * 1_000_003 + s, so runs are repeatable.
    """
    loss_fn = LOSSES[check_choice("loss", loss, list(LOSSES))] if isinstance(loss, str) else loss
    if not callable(loss_fn):
        raise TypeError(f"loss must be a name in {list(LOSSES)} or a callable, got {type(loss).__name__}")

    def batch_fn(step: int) -> ImageTextBatch:
        return image_text_batch(batch_size, seed * 1_000_003 + step, multi_object_share=multi_object_share,
                                unique_captions=unique_captions, positives=positives,
                                partial_share=partial_share, repaint_share=repaint_share, split="train")

    def step_loss(m, batch: ImageTextBatch) -> torch.Tensor:
        image, text = embed_batch(m, tokenizer, batch)
        return loss_fn(image, text, m, batch.positives)

    after = None if max_scale is None else (lambda m: clamp_logit_scale(m, max_scale))
    return train(model, batch_fn, step_loss, steps=steps, lr=lr, weight_decay=weight_decay, after_step=after,
                 progress=progress, desc=desc)


def image_processor(image_size: int = 48) -> CLIPImageProcessorPil:
    """The preprocessing to_pixel_values does, as a transformers image processor (no resize for
    image_size inputs): rescale by 1/255, normalise with mean = std = 0.5."""
    image_size = check_int("image_size", image_size, low=8)
    return CLIPImageProcessorPil(size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
                                 image_mean=list(IMAGE_MEAN), image_std=list(IMAGE_STD))


def save_tiny_clip(model, tokenizer, folder: str | Path) -> Path:
    """save_pretrained the model (safetensors), the tokenizer and the image processor into `folder`."""
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    image_processor(model.config.vision_config.image_size).save_pretrained(folder)
    return folder


def load_tiny_clip(folder: str | Path | None = None) -> tuple[CLIPModel, "PreTrainedTokenizerFast"]:
    """(model, tokenizer) from a local save_pretrained folder (default: the shipped data/tiny_clip)."""
    folder = Path(folder) if folder is not None else data_path(TINY_CLIP)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"no config.json in {folder}: not a save_pretrained folder (rebuild: python -m course_lib.checkpoints {TINY_CLIP})")
    model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
    return model, load_tokenizer(folder)


def retrieval_metrics(model, tokenizer, scenes: Scenes, captions: Sequence[str]) -> dict[str, float]:
    """Recall@1 and @5 in both directions for paired scenes and captions (pair i = scene i, caption i)."""
    from .zero_shot import recall_at_k  # zero_shot imports this module

    sim = encode_images(model, scenes.images) @ encode_texts(model, tokenizer, captions).T
    k5 = min(5, len(captions))
    return {"i2t_r1": recall_at_k(sim, 1), "i2t_r5": recall_at_k(sim, k5), "t2i_r1": recall_at_k(sim.T, 1), "t2i_r5": recall_at_k(sim.T, k5)}


# The notebook's live run: a small model, single-object batches, about a minute on 2 cores.
LIVE_CONFIG = dict(hidden_size=64, layers=2, heads=4, projection_dim=64)
LIVE_RECIPE = dict(steps=900, batch_size=64, lr=2e-3, unique_captions=True, partial_share=0.4, repaint_share=0.3,
                   weight_decay=0.2, seed=0)
# The shipped checkpoint (build_checkpoint): the live recipe, longer. A 0.2 share of 2-3-object
# scenes (2,000 steps) cut held-out zero-shot accuracy to 0.69, so there is none.
CHECKPOINT_CONFIG = dict(hidden_size=64, layers=2, heads=4, projection_dim=64)
CHECKPOINT_RECIPE = dict(steps=1800, batch_size=64, lr=2e-3, multi_object_share=0.0, partial_share=0.4, repaint_share=0.3,
                         weight_decay=0.2, unique_captions=True, seed=0)
TEST_SEED = 1234  # zero-shot test scenes: generate_scenes(1000, seed=TEST_SEED, split="all")


def evaluate_zero_shot(model, tokenizer, n: int = 1000, seed: int = TEST_SEED) -> dict[str, float]:
    """zero_shot_accuracy on `n` seeded single-object test scenes over all compositions."""
    from .zero_shot import zero_shot_accuracy  # zero_shot imports this module

    return zero_shot_accuracy(model, tokenizer, generate_scenes(n, seed=seed, split="all"))


def build_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Train the shipped tiny CLIP deterministically with CHECKPOINT_RECIPE, save it into `folder`
    and return its metrics (zero-shot seen/held-out, retrieval, final loss, steps, seconds)."""
    tokenizer = build_tokenizer()
    model = build_tiny_clip(tokenizer, seed=CHECKPOINT_RECIPE["seed"], **CHECKPOINT_CONFIG)
    torch.set_num_threads(1)  # one thread: the same float sums everywhere, and no slow-down when cores are shared
    result = train_dual_encoder(model, tokenizer, **CHECKPOINT_RECIPE, desc="tiny CLIP (checkpoint)")
    save_tiny_clip(model, tokenizer, folder)
    test = generate_scenes(256, seed=TEST_SEED + 1, split="all", max_objects=1)
    metrics = {
        "recipe": {**CHECKPOINT_RECIPE, **CHECKPOINT_CONFIG, "threads": 1},
        "zero_shot": evaluate_zero_shot(model, tokenizer),
        "retrieval_256": retrieval_metrics(model, tokenizer, test, make_captions(test, seed=0, template=6)),
        "final_loss": round(float(np.mean(result.losses[-50:])), 4),
        "train_seconds": round(result.seconds, 1),
        "logit_scale": round(model.logit_scale.exp().item(), 3),
    }
    return metrics
