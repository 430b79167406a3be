"""Property-based tests (hypothesis) of issue 20: bad input gets a clear error everywhere.

Each class of learner mistake is generated; the call must raise TypeError / ValueError / FileNotFoundError
from course_lib whose message names the caller's argument and shows the value received. Good inputs of the
same functions must not raise. Bounded examples and no training, so the file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import math
import traceback

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course_lib import budgets, contrastive, distributed, patches, retrieval, shapes_world, sigmoid_loss, zero_shot
from course_lib.base import paths, validation
from course_lib.exercises.core import check
from course_lib.models import dual_encoder, llava
from course_lib.tokenizer import build_tokenizer, encode, save_tokenizer

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CLEAR = (TypeError, ValueError, FileNotFoundError)
SCENES = shapes_world.generate_scenes(6, seed=0)
TOKENIZER = build_tokenizer()
FIELDS = ("color", "shape")


def raises_clear(fn, *args, arg: str, value: str | None = None, **kwargs) -> str:
    """Call fn; assert a clear course_lib error naming `arg` (and showing `value` if given). Returns the message."""
    with pytest.raises(CLEAR) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    frames = traceback.extract_tb(info.tb)
    assert "course_lib" in frames[-1].filename, f"raised outside course_lib: {frames[-1].filename}: {message}"
    assert arg in message, f"message does not name {arg!r}: {message}"
    if value is not None:
        assert value in message, f"message does not show the value {value!r}: {message}"
    return message


# ---- generators of bad values -----------------------------------------------------------------

non_finite = st.sampled_from([float("nan"), float("inf"), float("-inf")])
wrong_object = st.one_of(st.integers(), st.text(max_size=8), st.none(), st.just(np.zeros((2, 2))),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
words = st.sampled_from(shapes_world.vocabulary())
unknown = st.text(alphabet="qxzj", min_size=3, max_size=8).filter(lambda w: w not in TOKENIZER.get_vocab())


# ---- objects never type-checked -------------------------------------------------------------------


@FAST
@given(bad=wrong_object)
def test_scene_functions_refuse_non_scenes(bad):
    for fn in (shapes_world.make_captions, shapes_world.make_vqa):
        raises_clear(fn, bad, arg="scenes", value=type(bad).__name__)
    raises_clear(shapes_world.make_captions, SCENES.images, arg="scenes", value="ndarray")


@FAST
@given(bad=st.one_of(st.text(max_size=20), st.integers(), st.none()))
def test_lm_kv_bytes_refuses_a_name_or_number(bad):
    raises_clear(budgets.lm_kv_bytes, 100, bad, arg="lm", value=type(bad).__name__)


@FAST
@given(bad=wrong_object)
def test_model_entry_points_refuse_non_models(bad):
    raises_clear(dual_encoder.encode_images, bad, SCENES.images, arg="model")
    raises_clear(llava.set_stage, bad, 1, arg="model")
    raises_clear(budgets.config_kv_bytes, bad, 10, arg="config")
    raises_clear(budgets.cache_nbytes, bad, arg="cache")


def test_llava_config_refuses_the_full_clip_config():
    from transformers import CLIPConfig, LlamaConfig

    raises_clear(llava.tiny_llava_config, CLIPConfig(), LlamaConfig(), 3, arg="vision_config", value="CLIPConfig")


# ---- numpy where torch is needed; dtypes --------------------------------------------------------


@FAST
@given(n=st.integers(1, 5), d=st.integers(1, 6))
def test_torch_only_functions_refuse_numpy(n, d):
    a = np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)
    raises_clear(zero_shot.ensemble_prototypes, a[None], arg="embeddings", value="ndarray")
    raises_clear(retrieval.rank_gallery, a, a, 1, arg="query_embeddings", value="ndarray")
    raises_clear(contrastive.info_nce_torch, np.eye(n), arg="logits", value="ndarray")
    raises_clear(contrastive.multi_positive_loss, np.eye(n), torch.eye(n, dtype=torch.bool), arg="logits")
    raises_clear(zero_shot.zero_shot_predict, a, a, arg="image_embeddings", value="ndarray")


@FAST
@given(n=st.integers(1, 5), d=st.integers(1, 6), dtype=st.sampled_from([torch.float64, torch.int64, torch.int32]))
def test_mixed_or_integer_dtypes_are_refused(n, d, dtype):
    a, b = torch.ones(n, d, dtype=dtype), torch.ones(n, d)
    raises_clear(contrastive.cosine_matrix, a, b, arg="image_emb", value=str(dtype).replace("torch.", ""))
    if dtype != torch.float64:
        raises_clear(contrastive.info_nce_torch, torch.ones(n, n, dtype=dtype), arg="logits")


# ---- indices and keys ---------------------------------------------------------------------------------


@FAST
@given(i=st.one_of(st.integers(max_value=-7), st.integers(min_value=6)))
def test_scene_indices_are_checked(i):
    raises_clear(SCENES.subset, [i], arg="index", value=str(i))
    raises_clear(shapes_world.describe_object, SCENES, i, 0, "a {color} {shape}", arg="i", value=str(i))


@FAST
@given(a=st.integers(-20, 20), b=st.integers(-20, 20))
def test_relation_needs_two_distinct_cells(a, b):
    if 0 <= a < 9 and 0 <= b < 9 and a != b:
        assert shapes_world.relation(a, b) in shapes_world.RELATIONS
    else:
        raises_clear(shapes_world.relation, a, b, arg="cell_")


@FAST
@given(c=st.integers(-10, 10), s=st.integers(-10, 10))
def test_composition_label_checks_ranges(c, s):
    if 0 <= c < len(shapes_world.COLORS) and 0 <= s < len(shapes_world.SHAPES):
        assert 0 <= int(shapes_world.composition_label(c, s)) < len(shapes_world.COLORS) * len(shapes_world.SHAPES)
    else:
        raises_clear(shapes_world.composition_label, c, s, arg="colors" if not 0 <= c < 6 else "shapes")


@FAST
@given(field=st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(lambda f: f not in FIELDS))
def test_template_typos_name_the_template(field):
    raises_clear(shapes_world.prompts, "a {" + field + "} {shape}", arg="template", value=field)


def test_empty_slot_is_not_described():
    one = shapes_world.generate_scenes(2, seed=0, max_objects=1)
    raises_clear(shapes_world.describe_object, one, 0, 2, "a {color} {shape}", arg="k", value="k=2")


# ---- empty inputs ---------------------------------------------------------------------------------------


@FAST
@given(cols=st.integers(-3, 0))
def test_empty_and_zero_inputs(cols):
    from course_lib import plots

    raises_clear(plots.plot_images, SCENES.images, cols=cols, arg="cols", value=str(cols))
    raises_clear(plots.plot_images, SCENES.images[:0], arg="images", value="(0,")
    empty = torch.zeros(0, 4)
    raises_clear(sigmoid_loss.sigmoid_loss_chunked, empty, empty, 10.0, -10.0, 2, arg="image_emb")
    raises_clear(zero_shot.zero_shot_predict, torch.randn(3, 4), torch.zeros(0, 4), arg="prototypes")


# ---- numerics ---------------------------------------------------------------------------------------------


@FAST
@given(tau=st.floats(1e-4, 1e3))
def test_walkthrough_is_finite_at_any_temperature(tau):
    w = contrastive.walkthrough(tau=tau)
    assert math.isfinite(w.loss) and w.loss >= 0
    ref = contrastive.info_nce_numpy(contrastive.WALKTHROUGH_COSINES / tau)
    assert w.loss_image_to_text == pytest.approx(ref, rel=1e-9, abs=1e-9)


@FAST
@given(logit=st.floats(-1e4, 1e4), label=st.sampled_from([1, -1]))
def test_pair_loss_and_table_are_stable(logit, label):
    loss = sigmoid_loss.pair_loss(logit, label)
    assert math.isfinite(loss) and loss >= 0
    assert "loss" in sigmoid_loss.pair_loss_table([("x", logit, label)])


@FAST
@given(bad=non_finite)
def test_non_finite_values_are_refused(bad):
    raises_clear(contrastive.l2_normalize, np.array([[bad, 1.0]]), arg="x", value="NaN or infinite")
    raises_clear(retrieval.recall_at_k, torch.full((3, 3), bad), 1, arg="similarity")
    raises_clear(zero_shot.aurc, torch.tensor([bad, 0.5]), torch.tensor([True, False]), arg="conf")
    raises_clear(budgets.format_bytes, bad, arg="n", value=str(bad))
    raises_clear(sigmoid_loss.pair_loss, bad, 1, arg="logit", value=str(bad))
    labels = torch.tensor([0, 1, 0, 1])
    raises_clear(zero_shot.fit_linear_probe, torch.full((4, 3), bad), labels, 2, arg="features")


# ---- strings where sequences are expected -------------------------------------------------------------


@FAST
@given(text=st.lists(words, min_size=1, max_size=3).map(" ".join))
def test_a_lone_string_is_not_a_list(text):
    raises_clear(build_tokenizer, text, arg="extra_words", value=text[:20])
    raises_clear(contrastive.duplicate_audit, text, arg="keys", value=text[:20])
    raises_clear(contrastive.positive_mask, text, arg="keys")


@FAST
@given(word=unknown)
def test_unknown_words_are_refused_naming_the_argument(word):
    raises_clear(encode, TOKENIZER, f"a {word}", arg="text", value=word)


# ---- loaders and paths ----------------------------------------------------------------------------------


def test_loaders_refuse_wrong_folders(tmp_path):
    from course_lib.models.clip import load_tiny_clip

    raises_clear(load_tiny_clip, paths.data_path("tiny_lm"), arg="folder", value="tiny_lm")
    (tmp_path / "config.json").write_text(paths.data_path("tiny_clip", "config.json").read_text())
    raises_clear(load_tiny_clip, tmp_path, arg="folder", value=str(tmp_path))
    raises_clear(load_tiny_clip, tmp_path / "config.json", arg="folder", value="config.json")
    raises_clear(save_tokenizer, TOKENIZER, tmp_path / "config.json", arg="folder", value="config.json")
    raises_clear(paths.data_path, "/etc", arg="parts", value="/etc")


# ---- sizes checked before allocating ------------------------------------------------------------------


@FAST
@given(n=st.integers(60_000, 1_000_000))
def test_huge_requests_are_refused_before_allocating(n):
    raises_clear(shapes_world.generate_scenes, n, image_size=512, arg="n", value=str(n))
    raises_clear(llava.expand_image_token, "<image>", n * 10_000, arg="n_tokens")
    raises_clear(distributed.global_batch, 0, n, 1, 1, arg="world_size", value=str(n))


def test_budget_allows_ordinary_sizes():
    assert len(shapes_world.generate_scenes(4, image_size=48)) == 4
    assert llava.expand_image_token("<image>", 3).count("<image>") == 3
    validation.require_budget("n", validation.MAX_BYTES, "exactly the budget")


# ---- misleading messages ---------------------------------------------------------------------------------


@FAST
@given(size=st.sampled_from([32, 48, 64]))
def test_patchify_says_which_layout(size):
    raises_clear(patches.patchify, np.zeros((size, size, 3), np.uint8), 16, channels_first=True, arg="channels_first")


# ---- good inputs do not raise ----------------------------------------------------------------------------


@FAST
@given(n=st.integers(1, 6), d=st.integers(1, 8), seed=st.integers(0, 100))
def test_good_inputs_pass(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(n, d, generator=g), torch.randn(n, d, generator=g)
    cos = contrastive.cosine_matrix(a, b)
    assert cos.shape == (n, n)
    assert torch.isfinite(contrastive.clip_loss(a, b, 10.0))
    assert torch.isfinite(sigmoid_loss.sigmoid_loss_chunked(a, b, 10.0, -10.0, max(1, n // 2)))
    assert 0.0 <= retrieval.recall_at_k(cos, 1) <= 1.0
    assert zero_shot.zero_shot_predict(a, b).shape == (n,)
    assert contrastive.positive_mask([str(i % 2) for i in range(n)]).shape == (n, n)


# ---- graders never raise -------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(answer=st.one_of(st.integers(), st.floats(), st.text(max_size=5), st.lists(st.integers(), max_size=3),
                        st.just(lambda *a: 0)))
def test_check_never_raises_in_any_argument_order(answer):
    key = "01.tokens_336"
    with contextlib.redirect_stdout(io.StringIO()) as out:
        swapped = check(answer, key)
        check(key, answer)
    assert not swapped, "a swapped call never passes"
    text = out.getvalue()
    assert "swapped" in text.splitlines()[0]
    assert "raised" not in text and "float() argument" not in text, text
