"""Dual encoders (CLIP, SigLIP) on Shapes World: pixels, embeddings, contrastive image-text batches,
the loss registry and the one dual-encoder trainer. Model-specific configs live in clip.py and siglip.py.

Taught in notebook 02, sections 7-8 (batches, positives, training) and notebook 03, section 7 (the same
trainer with SigLIP's loss).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from transformers import CLIPImageProcessorPil

from ..base.validation import (
    describe,
    require_array,
    require_budget,
    require_choice,
    require_int,
    require_str_list,
    require_tokenizer,
)
from ..contrastive import (
    MAX_LOGIT_SCALE,
    clamp_logit_scale,
    clip_logits,
    multi_positive_loss,
    positive_mask,
    symmetric_info_nce,
)
from ..shapes_world import (
    CAPTION_TEMPLATES,
    HARD_NEGATIVES,
    Scenes,
    concat_scenes,
    describe_object,
    generate_scenes,
    hard_negative_captions,
    make_captions,
    names_held_out,
    off_palette_colors,
    repaint,
    require_scenes,
)
from ..sigmoid_loss import sigmoid_loss
from ..tokenizer import require_known_words
from ..training import TrainResult, no_decay_parameters, step_seed, train

IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.5, 0.5, 0.5)


def to_pixel_values(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) images -> float32 (N, 3, H, W) in [-1, 1]: (x/255 - 0.5) / 0.5."""
    require_array("images", images, ndim=4, dtype="uint8")
    if images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3) RGB, got shape {tuple(images.shape)}")
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGE_STD).view(1, 3, 1, 1)
    return (x - mean) / std


@torch.no_grad()
def encode_images(model, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
    """L2-normalised image embeddings (N, D) from a CLIP/SigLIP-style model's get_image_features."""
    require_dual_encoder("model", model)
    require_array("images", images, ndim=4, dtype="uint8", nonempty=True)
    batch_size = require_int("batch_size", batch_size, low=1)
    model.eval()
    out = [
        _as_tensor(model.get_image_features(pixel_values=to_pixel_values(images[i : i + batch_size])))
        for i in range(0, len(images), batch_size)
    ]
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


@torch.no_grad()
def encode_texts(model, tokenizer, texts: Sequence[str], batch_size: int = 512) -> torch.Tensor:
    """L2-normalised text embeddings (N, D); raises ValueError naming words outside the vocabulary."""
    require_dual_encoder("model", model)
    require_tokenizer("tokenizer", tokenizer)
    texts = require_str_list("texts", texts)
    batch_size = require_int("batch_size", batch_size, low=1)
    for text in texts:
        require_known_words(tokenizer, text, "texts")
    model.eval()
    out = []
    for i in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[i : i + batch_size]), padding=True, return_tensors="pt")
        out.append(
            _as_tensor(model.get_text_features(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]))
        )
    return torch.nn.functional.normalize(torch.cat(out), dim=-1)


def require_dual_encoder(name: str, model) -> None:
    """Raise TypeError unless `model` is a dual encoder (a CLIP- or SigLIP-style model with image and text towers)."""
    towers = ("get_image_features", "get_text_features")
    if not all(callable(getattr(model, t, None)) for t in towers):
        raise TypeError(
            f"{name} must be a CLIP- or SigLIP-style model (e.g. load_tiny_clip()[0]), got {describe(model)}; "
            "check the argument order: model first, then tokenizer"
        )


def _as_tensor(features) -> torch.Tensor:
    # transformers 5 may return a ModelOutput with pooler_output instead of a bare tensor
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def tower_sizes(hidden_size: int, layers: int, heads: int, image_size: int, patch_size: int) -> dict[str, Any]:
    """Validated sizes shared by both towers of a tiny dual encoder (CLIP or SigLIP): hidden_size divisible
    by heads, image_size by patch_size; returns the common config fields (MLP 4x wide)."""
    hidden_size, heads = require_int("hidden_size", hidden_size, low=8), require_int("heads", heads, low=1)
    if hidden_size % heads:
        raise ValueError(f"hidden_size ({hidden_size}) must be divisible by heads ({heads})")
    image_size, patch_size = require_int("image_size", image_size, low=8), require_int("patch_size", patch_size, low=1)
    if image_size % patch_size:
        raise ValueError(f"image_size ({image_size}) must be divisible by patch_size ({patch_size})")
    return dict(
        hidden_size=hidden_size,
        intermediate_size=4 * hidden_size,
        num_hidden_layers=require_int("layers", layers, low=1),
        num_attention_heads=heads,
    )


@dataclass(frozen=True)
class ImageTextBatch:
    """One contrastive batch: images (B, S, S, 3) uint8 in `scenes`, one caption per scene, the
    caption template of each single-object scene (index into TEMPLATES, -1 for multi-object scenes),
    positives (B, B + H) bool: True where caption j is a correct description of image i (the diagonal
    always), repainted (B,) bool: images whose object was repainted in an off-palette colour
    (their scenes.colors still hold the original palette index), and H hard-negative captions
    (text columns B.. of positives; empty unless image_text_batch(hard_negatives=True))."""

    scenes: Scenes
    captions: list[str]
    templates: np.ndarray
    positives: torch.Tensor
    repainted: np.ndarray
    hard_negatives: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.captions)


POSITIVES: tuple[str, ...] = ("diagonal", "identical", "described")
# Partial captions name one attribute only; with a multi-positive target they teach colour and
# shape as separate directions of the embedding space (see partial_share).
PARTIAL_TEMPLATES: tuple[str, ...] = ("a {color} object", "a {shape}")
TEMPLATES: tuple[str, ...] = CAPTION_TEMPLATES + PARTIAL_TEMPLATES


def described_by(
    scenes: Scenes, templates: np.ndarray, captions: Sequence[str], repainted: np.ndarray | None = None
) -> torch.Tensor:
    """(B, B) bool: caption j is true of image i. A single-object caption is true of every
    single-object image that has each attribute it names (colour, shape, size, position);
    a multi-object caption only of images with the identical caption; a caption naming a colour
    is never true of a repainted image (repainted: (B,) bool, default none).
    templates: (B,) index into TEMPLATES of each caption, -1 for multi-object captions."""
    require_scenes("scenes", scenes)
    single = scenes.n_objects == 1
    true = single[:, None] & single[None, :]
    for field, values in (
        ("{color}", scenes.colors),
        ("{shape}", scenes.shapes),
        ("{size}", scenes.sizes),
        ("{where}", scenes.cells),
    ):
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
    position_share: float = 0.0,
    hard_negatives: bool = False,
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
    and captioned by their shape alone, a colour augmentation that teaches shape apart from colour;
    position_share: fraction of scenes whose caption template is one that names the cell (for
    single-object scenes; drawn only when > 0); hard_negatives: add, for every multi-object scene, its
    three hard-negative captions (shapes_world.HARD_NEGATIVES: colours swapped, shapes swapped,
    relation reversed), and for every single-object caption that names the cell, the same caption
    with another cell, as extra text columns, positive only for an image whose own caption they equal
    (NegCLIP, notebook 04 section 7; a moved-cell caption that happens to describe another image of
    the batch still counts as its negative: about 0.7 such false negatives per batch of the scene
    CLIP's recipe, among about 80 hard negatives); in the train split a swap that
    names a held-out composition is dropped (training never mentions one).
    """
    batch_size = require_int("batch_size", batch_size, low=2, high=100_000)
    image_size = require_int("image_size", image_size, low=24, high=512)
    require_budget("batch_size", batch_size * (4 if unique_captions else 1) * image_size**2 * 3,
                   f"a batch of {batch_size} images of {image_size}x{image_size}")
    require_choice("positives", positives, POSITIVES)
    for name, share in (
        ("multi_object_share", multi_object_share),
        ("partial_share", partial_share),
        ("repaint_share", repaint_share),
        ("position_share", position_share),
    ):
        if not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {share}")
    if hard_negatives and not multi_object_share:
        raise ValueError("hard_negatives are made from multi-object scenes: set multi_object_share > 0 (e.g. 0.5)")
    n = 4 * batch_size if unique_captions else batch_size  # room for duplicates among partial captions
    n_multi = int(round(multi_object_share * n))
    parts = []
    if n - n_multi:
        parts.append(generate_scenes(n - n_multi, seed=seed, image_size=image_size, max_objects=1, split=split))
    if n_multi:
        parts.append(
            generate_scenes(n_multi, seed=seed + 1, image_size=image_size, min_objects=2, max_objects=3, split=split)
        )
    rng = np.random.default_rng(seed)
    scenes = concat_scenes(parts).subset(rng.permutation(n))
    templates = rng.integers(0, len(CAPTION_TEMPLATES), size=n)
    if position_share:  # drawn only when asked, so other recipes keep their batches
        where = np.array([i for i, t in enumerate(CAPTION_TEMPLATES) if "{where}" in t])
        templates = np.where(rng.random(n) < position_share, where[rng.integers(0, len(where), size=n)], templates)
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
        captions = [
            describe_object(scenes, i, 0, "a {shape}") if r else c for i, (c, r) in enumerate(zip(captions, repainted))
        ]
    mask = {
        "diagonal": lambda: torch.eye(batch_size, dtype=torch.bool),
        "identical": lambda: positive_mask(captions),
        "described": lambda: described_by(scenes, templates, captions, repainted),
    }[positives]()
    negatives: list[str] = []
    multi = np.nonzero(scenes.n_objects > 1)[0]
    if hard_negatives and len(multi):
        negatives = [c for kind in HARD_NEGATIVES for c in hard_negative_captions(scenes.subset(multi), kind, seed)]
        negatives = [c for c in negatives if split != "train" or not names_held_out(c)]
        # a single object whose caption names its cell: the same caption with the object in another cell
        names_cell = np.array(["{where}" in t for t in TEMPLATES])[templates] & (templates >= 0)
        cells = scenes.cells.copy()
        cells[:, 0] = (cells[:, 0] + 1 + rng.integers(0, 8, size=batch_size)) % 9
        moved = Scenes(scenes.images, scenes.colors, scenes.shapes, scenes.sizes, cells)
        negatives += [describe_object(moved, int(i), 0, TEMPLATES[templates[i]]) for i in np.nonzero(names_cell)[0]]
        extra = torch.tensor([[c == neg for neg in negatives] for c in captions], dtype=torch.bool)
        mask = torch.cat([mask, extra.reshape(batch_size, len(negatives))], dim=1)
    return ImageTextBatch(scenes, captions, templates, mask, repainted, tuple(negatives))


def clip_softmax_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """CLIP's symmetric softmax loss at the model's scale exp(logit_scale); with a positives mask
    that marks more than the diagonal, or hard-negative text rows after the B captions, the
    multi-positive version (contrastive.multi_positive_loss)."""
    require_dual_encoder("model", model)
    logits = clip_logits(image_emb, text_emb, model.logit_scale.exp())
    square = logits.shape[0] == logits.shape[1]
    if positives is None or (square and int(positives.sum()) == len(positives)):
        return symmetric_info_nce(logits)
    return multi_positive_loss(logits, positives)


def clip_ignore_duplicates_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """Plain CLIP loss that treats duplicate captions as negatives (the false-negative baseline)."""
    require_dual_encoder("model", model)
    return symmetric_info_nce(clip_logits(image_emb, text_emb, model.logit_scale.exp()))


def siglip_batch_loss(
    image_emb: torch.Tensor, text_emb: torch.Tensor, model, positives: torch.Tensor | None = None
) -> torch.Tensor:
    """The sigmoid loss at the model's t = exp(logit_scale) and b = logit_bias (a SiglipModel).
    Duplicate captions (positives off the diagonal) are simply more +1 labels."""
    require_dual_encoder("model", model)
    return sigmoid_loss(image_emb, text_emb, model.logit_scale.exp(), model.logit_bias, positives)


# Every loss train_dual_encoder knows, in one place (nothing registers itself at import):
# name -> fn(image_emb (B, D), text_emb (B, D), model, positives (B, B) bool) -> scalar; embeddings L2-normalised.
LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "clip": clip_softmax_loss,
    "clip_plain": clip_ignore_duplicates_loss,
    "siglip": siglip_batch_loss,
}


def embed_batch(model, tokenizer, batch: ImageTextBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised image embeddings (B, D) and text embeddings (B + H, D) of a batch (its captions, then its
    H hard negatives), with gradients."""
    require_dual_encoder("model", model)
    require_tokenizer("tokenizer", tokenizer)
    if not isinstance(batch, ImageTextBatch):
        raise TypeError(f"batch must be an ImageTextBatch from image_text_batch(), got {describe(batch)}")
    pixels = to_pixel_values(batch.scenes.images)
    enc = tokenizer(batch.captions + list(batch.hard_negatives), padding=True, return_tensors="pt")
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
    position_share: float = 0.0,
    hard_negatives: bool = False,
    weight_decay: float = 0.01,
    no_decay: str = "standard",
    decay_logit: bool = True,
    max_scale: float | None = MAX_LOGIT_SCALE,
    progress: bool = True,
    desc: str = "tiny CLIP",
) -> TrainResult:
    """Train a dual encoder (CLIPModel, or any model with get_image_features/get_text_features and
    logit_scale, e.g. SiglipModel) contrastively on seeded train-split Shapes World batches.

    loss: a name in LOSSES or fn(image_emb, text_emb, model, positives) -> scalar; positives,
    multi_object_share, partial_share, repaint_share, hard_negatives: see image_text_batch (hard
    negatives need the "clip" loss); weight_decay: AdamW's (a strong 0.2 helps the held-out
    compositions); no_decay: the rule of training.no_decay_parameters ("standard": no decay on biases,
    norm gains, logit_scale and logit_bias); decay_logit: False also exempts logit_scale (t' = log t)
    and SigLIP's logit_bias under the rule "none" (decay pulls them towards 0: t towards 1, b towards 0);
    max_scale: clamp exp(logit_scale) after every step (None: no clamp). Batch of step s uses seed
    step_seed(seed, s), so runs are repeatable.
    """
    require_dual_encoder("model", model)
    require_tokenizer("tokenizer", tokenizer)
    steps, seed = require_int("steps", steps, low=1), require_int("seed", seed, low=0)
    batch_size = require_int("batch_size", batch_size, low=2, high=100_000)
    loss_fn = LOSSES[require_choice("loss", loss, list(LOSSES))] if isinstance(loss, str) else loss
    if not callable(loss_fn):
        raise TypeError(f"loss must be a name in {list(LOSSES)} or a callable, got {type(loss).__name__}")
    if hard_negatives and loss_fn is not clip_softmax_loss:
        raise ValueError(f"hard_negatives add text columns to CLIP's softmax: use loss='clip', got {loss!r}")

    def batch_fn(step: int) -> ImageTextBatch:
        return image_text_batch(
            batch_size,
            step_seed(seed, step),
            multi_object_share=multi_object_share,
            unique_captions=unique_captions,
            positives=positives,
            partial_share=partial_share,
            repaint_share=repaint_share,
            position_share=position_share,
            hard_negatives=hard_negatives,
            split="train",
        )

    def step_loss(m, batch: ImageTextBatch) -> torch.Tensor:
        image, text = embed_batch(m, tokenizer, batch)
        return loss_fn(image, text, m, batch.positives)

    after = None if max_scale is None else (lambda m: clamp_logit_scale(m, max_scale))
    logit = [getattr(model, n) for n in ("logit_scale", "logit_bias") if hasattr(model, n)]
    exempt = no_decay_parameters(model, no_decay) + ([] if decay_logit else logit)
    return train(model, batch_fn, step_loss, steps=steps, lr=lr, weight_decay=weight_decay, after_step=after,
                 no_decay=exempt, progress=progress, desc=desc)


def image_processor(image_size: int = 48) -> CLIPImageProcessorPil:
    """The preprocessing to_pixel_values does, as a transformers image processor (no resize for
    image_size inputs): rescale by 1/255, normalise with mean = std = 0.5."""
    image_size = require_int("image_size", image_size, low=8)
    return CLIPImageProcessorPil(
        size={"shortest_edge": image_size},
        crop_size={"height": image_size, "width": image_size},
        image_mean=list(IMAGE_MEAN),
        image_std=list(IMAGE_STD),
    )
