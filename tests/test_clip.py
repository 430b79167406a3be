"""Tiny CLIP: config, batches and their positives, the trainer (loss goes down, scale clamped,
generic over the loss), save/load round-trip, the shipped checkpoint, bad input."""

import json

import numpy as np
import pytest
import torch

from course_lib.base.paths import data_path
from course_lib.contrastive import MAX_LOGIT_SCALE
from course_lib.models import clip
from course_lib.models import dual_encoder as de
from course_lib.recipes import SEEDS
from course_lib.shapes_world import is_held_out
from course_lib.tokenizer import build_tokenizer
from course_lib.zero_shot import evaluate_zero_shot

SMALL = dict(hidden_size=32, layers=1, heads=2, projection_dim=16)


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def test_config_follows_the_tokenizer(tok):
    cfg = clip.tiny_clip_config(tok)
    assert cfg.text_config.eos_token_id == tok.eos_token_id == 3
    assert cfg.text_config.vocab_size == len(tok)
    assert cfg.vision_config.image_size == 48 and cfg.vision_config.patch_size == 8


@pytest.mark.parametrize(
    "kwargs, words", [(dict(hidden_size=30, heads=4), "divisible"), (dict(image_size=50), "divisible")]
)
def test_config_rejects_bad_sizes(tok, kwargs, words):
    with pytest.raises(ValueError, match=words):
        clip.tiny_clip_config(tok, **kwargs)


def test_batch_is_seeded_train_only_and_positives_are_true_captions():
    a = de.image_text_batch(32, 5, multi_object_share=0.25)
    b = de.image_text_batch(32, 5, multi_object_share=0.25)
    assert a.captions == b.captions and np.array_equal(a.scenes.images, b.scenes.images)
    assert len(a) == 32 and (a.scenes.n_objects > 1).sum() == 8
    present = a.scenes.colors >= 0
    assert not is_held_out(a.scenes.colors[present], a.scenes.shapes[present]).any()
    assert a.positives.diagonal().all()
    for i, j in a.positives.nonzero().tolist():  # every positive caption names the image's colour and shape
        if a.scenes.n_objects[i] == 1:
            obj = a.scenes.objects(i)[0]
            assert obj["color"] in a.captions[j] and obj["shape"] in a.captions[j]


def test_unique_captions_and_positive_modes():
    batch = de.image_text_batch(48, 1, unique_captions=True, positives="identical")
    assert len(set(batch.captions)) == 48 and batch.positives.sum().item() == 48
    assert de.image_text_batch(48, 1, positives="diagonal").positives.sum().item() == 48
    assert de.image_text_batch(48, 1, positives="described").positives.sum().item() > 48


def test_repainted_images_are_captioned_by_shape_and_never_matched_by_a_colour():
    batch = de.image_text_batch(64, 2, unique_captions=True, partial_share=0.4, repaint_share=0.3)
    rows = np.nonzero(batch.repainted)[0]
    assert 8 < len(rows) < 32
    for i in rows:
        assert batch.captions[i] == "a " + batch.scenes.objects(i)[0]["shape"]
        named = [j for j in batch.positives[i].nonzero().flatten().tolist()]
        assert all(batch.captions[j] == batch.captions[i] for j in named)  # only "a <shape>" captions
    plain = de.image_text_batch(64, 2, unique_captions=True, partial_share=0.4)
    keep = ~batch.repainted
    assert np.array_equal(plain.scenes.images[keep], batch.scenes.images[keep])
    assert not np.array_equal(plain.scenes.images[rows], batch.scenes.images[rows])


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(batch_size=1), ValueError),
        (dict(multi_object_share=1.5), ValueError),
        (dict(positives="all"), ValueError),
        (dict(repaint_share=-0.1), ValueError),
        (dict(batch_size=2.5), TypeError),
    ],
)
def test_batch_bad_input(kwargs, error):
    args = dict(batch_size=8, seed=0) | kwargs
    with pytest.raises(error):
        de.image_text_batch(**args)


def test_trainer_decreases_loss_and_clamps_scale(tok):
    model = clip.build_tiny_clip(tok, seed=0, **SMALL)
    with torch.no_grad():
        model.logit_scale.fill_(6.0)  # exp(6) = 403 > 100
    result = de.train_dual_encoder(model, tok, steps=30, batch_size=16, lr=3e-3, progress=False)
    assert result.steps == 30
    assert np.mean(result.losses[-5:]) < np.mean(result.losses[:5])
    assert model.logit_scale.exp().item() <= MAX_LOGIT_SCALE + 1e-3


def test_trainer_is_generic_over_the_loss(tok):
    calls = []

    def loss_fn(image, text, model, positives):
        calls.append((image.shape, text.shape, positives.shape))
        return de.LOSSES["clip_plain"](image, text, model, positives)

    de.train_dual_encoder(clip.build_tiny_clip(tok, **SMALL), tok, steps=2, batch_size=8, loss=loss_fn, progress=False)
    assert calls == [((8, 16), (8, 16), (8, 8))] * 2
    with pytest.raises(ValueError, match="loss"):
        de.train_dual_encoder(clip.build_tiny_clip(tok, **SMALL), tok, steps=1, loss="nope", progress=False)


def test_training_is_deterministic(tok):
    runs = [
        de.train_dual_encoder(
            clip.build_tiny_clip(tok, seed=0, **SMALL), tok, steps=5, batch_size=8, progress=False
        ).losses
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_save_and_load_round_trip(tok, tmp_path):
    model = clip.build_tiny_clip(tok, seed=1, **SMALL)
    clip.save_tiny_clip(model, tok, tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "preprocessor_config.json").is_file()
    loaded, tok2 = clip.load_tiny_clip(tmp_path)
    captions = ["a photo of a red circle", "a small blue square on the left"]
    torch.testing.assert_close(de.encode_texts(loaded, tok2, captions), de.encode_texts(model, tok, captions))
    images = de.image_text_batch(4, 0).scenes.images
    torch.testing.assert_close(de.encode_images(loaded, images), de.encode_images(model, images))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        clip.load_tiny_clip(tmp_path / "missing")


def test_image_processor_matches_to_pixel_values():
    images = de.image_text_batch(3, 0).scenes.images
    pixels = de.image_processor()(list(images), return_tensors="pt")["pixel_values"]
    torch.testing.assert_close(pixels, de.to_pixel_values(images), atol=1e-6, rtol=0)


def test_shipped_checkpoint_loads_and_meets_its_metrics():
    model, tok = clip.load_tiny_clip()
    metrics = json.loads((data_path(clip.TINY_CLIP) / "metrics.json").read_text())
    assert metrics["command"] == "python -m course_lib.tools.checkpoints tiny_clip"
    acc = evaluate_zero_shot(
        model, tok, 1000, SEEDS.clip_zero_shot
    )  # the same 1,000 test scenes build_checkpoint scored
    assert acc == pytest.approx(metrics["zero_shot"], abs=1e-9)
    assert acc["seen"] > 0.95 and acc["held_out"] > 0.75
    size = sum(f.stat().st_size for f in data_path(clip.TINY_CLIP).iterdir())
    assert size < 5e6


def test_encoders_reject_unknown_words(tok):
    model = clip.build_tiny_clip(tok, **SMALL)
    with pytest.raises(ValueError, match="unknown word"):
        de.encode_texts(model, tok, ["a photo of a dog"])


def test_hard_negative_batch_adds_false_text_columns(tok):
    from course_lib.shapes_world import HARD_NEGATIVES, POSITION_PHRASES, caption_is_true, names_held_out

    train = de.image_text_batch(64, 3, multi_object_share=0.5, hard_negatives=True)
    assert train.hard_negatives and not any(names_held_out(c) for c in train.hard_negatives)
    batch = de.image_text_batch(16, 3, multi_object_share=0.5, hard_negatives=True, split="all")  # nothing dropped
    multi = np.nonzero(batch.scenes.n_objects > 1)[0]
    h, swaps = len(batch.hard_negatives), len(HARD_NEGATIVES) * len(multi)
    where = [i for i, t in enumerate(batch.templates) if t >= 0 and "{where}" in de.TEMPLATES[t]]
    assert len(multi) > 0 and where and h == swaps + len(where)
    assert batch.positives.shape == (16, 16 + h)
    owners = [int(i) for _ in HARD_NEGATIVES for i in multi]  # kind-major, then scene
    assert not any(caption_is_true(batch.scenes, i, c) for i, c in zip(owners, batch.hard_negatives))
    for i, moved in zip(where, batch.hard_negatives[swaps:]):  # the same caption, the object in another cell
        true_where = POSITION_PHRASES[batch.scenes.cells[i, 0]]
        assert batch.captions[i].endswith(true_where) and not moved.endswith(true_where)
        assert moved.split()[:3] == batch.captions[i].split()[:3]
    assert not batch.positives[:, 16:].any()  # no hard negative equals a caption of this batch
    plain = de.image_text_batch(16, 3, multi_object_share=0.5, split="all")
    assert plain.captions == batch.captions and torch.equal(plain.positives, batch.positives[:, :16])
    image, text = de.embed_batch(clip.build_tiny_clip(tok, **SMALL), tok, batch)
    assert image.shape == (16, 16) and text.shape == (16 + h, 16)


def test_hard_negatives_train_with_the_clip_loss_only(tok):
    model = clip.build_tiny_clip(tok, **SMALL)
    result = de.train_dual_encoder(model, tok, steps=3, batch_size=8, multi_object_share=0.5, hard_negatives=True,
                                   progress=False)
    assert result.steps == 3 and all(np.isfinite(result.losses))
    with pytest.raises(ValueError, match="loss='clip'"):
        de.train_dual_encoder(model, tok, steps=1, multi_object_share=0.5, hard_negatives=True, loss="siglip",
                              progress=False)
    with pytest.raises(ValueError, match="multi_object_share > 0"):
        de.image_text_batch(8, 0, hard_negatives=True)


def test_shipped_scene_clip_reproduces_its_metrics_and_meets_its_targets():
    from course_lib.tools.checkpoints import load_metrics, scene_clip_metrics

    model, tok = clip.load_tiny_clip_scene()
    metrics = load_metrics(clip.TINY_CLIP_SCENE)
    assert metrics["command"] == "python -m course_lib.tools.checkpoints tiny_clip_scene"
    measured = scene_clip_metrics(model, tok)
    shipped = metrics["variants"][metrics["shipped"]]
    assert measured == {k: shipped[k] for k in measured}  # the same 1,000-scene sets, the same answers
    assert measured["zero_shot_held_out_objects"] >= 0.92
    for split in ("train", "held_out"):
        assert min(measured[f"scenes_2_3_{split}"].values()) >= 0.90  # binding and relation, 2-3 objects
        assert measured[f"relation_2_{split}"] >= 0.90
    assert shipped["train_seconds"] <= 600  # the shipped CLIP trains within 10 minutes (both stages)
