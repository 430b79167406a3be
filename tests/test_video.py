"""Video budgets and levers (notebook 07) against the transformers objects that produce them; the
clip questions' answers against the clips' own geometry and colours; the temporal model's shapes."""

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import Idefics3Config, LlamaConfig, LlamaForCausalLM, Qwen2VLImageProcessorPil
from transformers.models.idefics3.modeling_idefics3 import Idefics3Connector
from transformers.models.qwen2_vl import image_processing_pil_qwen2_vl
from transformers.video_utils import VideoMetadata, default_sample_indices_fn

from course_lib import budgets
from course_lib import shapes_world as sw
from course_lib import video as vd
from course_lib.models import temporal as tm


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_naive_minute_and_errors():
    assert budgets.video_tokens(budgets.frames_in(60, 30), 576) == 1_036_800
    assert budgets.video_tokens(budgets.frames_in(60, 1), 196) == 11_760
    mha = budgets.LM_SHAPES["7B (MHA: 32 KV heads)"]
    assert budgets.lm_kv_bytes(1_036_800, mha) == 1_036_800 * 524_288
    for fps in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="fps"):
            budgets.frames_in(60, fps)
    with pytest.raises(ValueError, match="keep"):
        vd.uniform_frame_indices(16, 17)
    with pytest.raises(ValueError, match="square"):
        budgets.pooled_tokens(1000, 2)
    with pytest.raises(ValueError, match="multiple of stride"):
        budgets.pooled_tokens(729, 2)
    with pytest.raises(ValueError, match="divisible"):
        budgets.tokens_per_image(300, 14)
    with pytest.raises(ValueError, match="multiple of 28"):
        budgets.qwen2vl_grid(2, 300, 448)
    with pytest.raises(ValueError, match="temporal_patch_size"):
        budgets.qwen2vl_grid(3, 448, 448)


@pytest.mark.parametrize("keep", [1, 5, 8, 16, 30])
def test_uniform_sampling_matches_transformers(keep):
    meta = VideoMetadata(total_num_frames=30, fps=30)
    assert np.array_equal(vd.uniform_frame_indices(30, keep), default_sample_indices_fn(meta, num_frames=keep))


def test_prefill_flops_match_flop_counter():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config).eval()
    model.config._attn_implementation = "eager"
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    for n in (5, 33):
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.randint(0, 40, (1, n)))
        assert counter.get_total_flops() == budgets.prefill_flops(n, params=weights, layers=2, hidden_size=32)


def test_video_models_token_counts():
    next_video = tm.tiny_video_vlm("llava-next-video")
    assert (
        len(tm.library_video_features(next_video, torch.randn(1, 2, 3, 336, 336)))
        == 2 * budgets.pooled_tokens(576, 2)
        == 288
    )
    video_llava = tm.tiny_video_vlm("video-llava")
    per_frame = budgets.tokens_per_image(224, 14, strategy="full")
    assert len(tm.library_video_features(video_llava, torch.randn(1, 8, 3, 224, 224))) == 8 * per_frame == 2056
    onevision = tm.tiny_video_vlm("llava-onevision")
    expected = budgets.video_tokens(3, budgets.pooled_tokens(729, 2, mode="bilinear"), extra=1)
    assert len(tm.library_video_features(onevision, torch.randn(1, 3, 3, 384, 384))) == expected == 589


def test_scratch_pooling_equals_library_paths():
    model = tm.tiny_video_vlm("llava-next-video")
    video = torch.randn(1, 2, 3, 336, 336)
    with torch.no_grad():
        hidden = model.model.vision_tower(video[0], output_hidden_states=True).hidden_states[-2][:, 1:]
        scratch = model.model.multi_modal_projector(vd.average_pool_tokens(hidden, 2)).reshape(-1, 32)
    torch.testing.assert_close(scratch, tm.library_video_features(model, video))
    onevision = tm.tiny_video_vlm("llava-onevision")
    x = torch.randn(3, 729, 8)
    torch.testing.assert_close(vd.bilinear_pool_tokens(x), onevision.model.apply_pooling(x))


@pytest.mark.parametrize(("size", "expected"), [((448, 448), 256), ((224, 224), 64), ((1000, 700), 900), ((32, 32), 4)])
def test_qwen_image_tokens_match_processor(size, expected):
    out = Qwen2VLImageProcessorPil()(images=np.zeros((*size, 3), np.uint8), return_tensors="pt")
    assert budgets.qwen2vl_tokens(1, *size) == int(out["image_grid_thw"].prod()) // 4 == expected


def test_smart_resize_matches_library_on_many_sizes():
    rng = np.random.default_rng(0)
    for h, w in rng.integers(10, 3000, size=(200, 2)):
        h, w = int(h), int(w)
        if max(h, w) / min(h, w) > 200:
            continue
        for lo, hi in (budgets.QWEN_IMAGE_PIXELS, budgets.QWEN_VIDEO_PIXELS):
            ours = budgets.smart_resize(h, w, min_pixels=lo, max_pixels=hi)
            assert ours == image_processing_pil_qwen2_vl.smart_resize(h, w, 28, lo, hi), (h, w)


def test_video_pixel_limits_are_the_video_processors():
    """The video processor cannot be imported here (torchvision), so read its class attribute from the source."""
    source = Path(inspect.getfile(image_processing_pil_qwen2_vl)).with_name("video_processing_qwen2_vl.py").read_text()
    size = next(
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Assign)
        and getattr(node.targets[0], "id", "") == "size"
        and isinstance(node.value, ast.Dict)
    )
    limits = {
        ast.literal_eval(k): eval(compile(ast.Expression(v), "size", "eval")) for k, v in zip(size.keys, size.values)
    }
    assert (limits["shortest_edge"], limits["longest_edge"]) == budgets.QWEN_VIDEO_PIXELS


@pytest.mark.parametrize(("frames", "side"), [(16, 448), (4, 32), (2, 112)])
def test_qwen_video_tokens_through_the_model(frames, side):
    model = tm.tiny_video_vlm("qwen2-vl")
    lo, hi = budgets.QWEN_VIDEO_PIXELS
    grid = budgets.qwen2vl_grid(frames, *budgets.smart_resize(side, side, min_pixels=lo, max_pixels=hi))
    tokens, logits = tm.qwen2vl_video_forward(model, grid)
    assert tokens == budgets.qwen2vl_tokens(frames, side, side) and logits.shape[1] == tokens + 4
    with pytest.raises(ValueError, match="do not match"):
        tm.qwen2vl_video_forward(model, grid, n_placeholders=tokens + 1)


def test_small_frames_cost_as_much_as_336():
    assert budgets.qwen2vl_tokens(16, 32, 32) == budgets.qwen2vl_tokens(16, 336, 336) == 8 * 24 * 24 // 4


def test_pixel_shuffle_matches_idefics3_and_is_lossless():
    connector = Idefics3Connector(
        Idefics3Config(
            scale_factor=4, vision_config={"hidden_size": 8}, text_config={"hidden_size": 32, "vocab_size": 32}
        )
    )
    x = torch.randn(2, 1024, 8)
    for scale in (2, 4):
        y = vd.pixel_shuffle(x, scale)
        assert torch.equal(y, connector.pixel_shuffle(x, scale))
        assert torch.equal(vd.pixel_unshuffle(y, scale), x)
    assert vd.pixel_shuffle(x, 4).shape == (2, 64, 128)
    with pytest.raises(ValueError, match="square grid"):
        vd.pixel_shuffle(torch.randn(1, 1000, 8), 4)
    with pytest.raises(ValueError, match="multiple of 3"):
        vd.pixel_shuffle(x, 3)


def test_space_time_cost_matches_flop_counter():
    cost = vd.space_time_cost(4, 9, 8)
    assert (cost.joint_entries, cost.factorised_entries) == (36 * 36, 4 * 81 + 9 * 16)
    x = torch.randn(1, 4, 9, 8)
    for block, expected in ((vd.joint_attention, cost.joint_flops), (vd.factorised_attention, cost.factorised_flops)):
        with FlopCounterMode(display=False) as counter:
            block(x)
        assert counter.get_total_flops() == expected


def test_clip_answers_are_right_by_construction():
    clips = sw.generate_clips(300, seed=5, image_size=48)
    answers = vd.clip_answers(clips)
    n, t = len(clips), clips.frames.shape[1]
    r, high = 48 / 10, 48 - 48 / 10
    on_wall = np.isclose(clips.centers, r) | np.isclose(clips.centers, high)  # (N, T, 2)
    moving = np.argmax(clips.centers.std(axis=1), axis=1)  # the axis the object moves along
    along = on_wall[np.arange(n), :, moving]  # (N, T)
    assert along[np.arange(n), answers[:, 0]].all()
    assert all(not along[i, : answers[i, 0]].any() for i in range(n))
    for i in range(n):
        if answers[i, 1] == t:
            assert (clips.colors[i] == clips.colors[i, 0]).all()
        else:
            assert (clips.colors[i, : answers[i, 1]] == clips.colors[i, 0]).all()
            assert clips.colors[i, answers[i, 1]] != clips.colors[i, 0]
    # and in the pixels: the frame's dominant colour changes exactly at the answer
    i = int(np.argmax(answers[:, 1] < t))
    frame_color = [sw.nearest_palette_color(f[(f > 0).any(-1)].mean(0, keepdims=True))[0] for f in clips.frames[i]]
    assert frame_color[answers[i, 1]] != frame_color[answers[i, 1] - 1]
    with pytest.raises(TypeError, match="Clips"):
        vd.clip_answers(clips.frames)


def test_grounding_accuracy_and_reachable_share():
    true = np.array([3, 5, 16, 16, 7])
    pred = np.array([4, 5, 16, 7, 16])
    assert vd.grounding_accuracy(pred, true, 16) == (0.4, 0.6)
    answers = np.array([[2, 16], [5, 9]])
    assert vd.reachable_share(answers, 16, 4) == {"contact": 0.5, "color change": 1.0}  # 2 is two frames from 0 and 4
    assert vd.nearest_kept(answers, vd.uniform_frame_indices(16, 4), 16).tolist() == [[0, 16], [4, 8]]


def test_temporal_model_points_only_at_kept_frames():
    model = tm.TemporalGrounder(9, 8, 16, hidden=16, layers=1, heads=2)
    frames = torch.tensor([0, 4, 8, 12])
    logits = model(torch.randn(3, 4, 9, 8), torch.tensor([0, 1, 0]), frames)
    assert logits.shape == (3, 17)
    kept = torch.zeros(17, dtype=torch.bool)
    kept[frames], kept[16] = True, True
    assert (logits[:, ~kept] == -1e4).all() and (logits[:, kept] > -1e4).all()


def test_temporal_model_learns_a_little():
    clips = sw.generate_clips(64, seed=3, image_size=48)
    features = torch.randn(64, 16, 9, 8)
    features[np.arange(64), clips.contact_frame] += 3.0  # make the answer frames stand out
    model = tm.TemporalGrounder(9, 8, 16, hidden=32, layers=1, heads=2)
    result = tm.train_grounder(
        model, features, vd.clip_answers(clips), steps=60, batch_size=32, lr=3e-3, keep=16, progress=False
    )
    assert np.mean(result.losses[-10:]) < np.mean(result.losses[:10])
    with pytest.raises(ValueError, match="question"):
        tm.predict(model, features, "where")


def test_render_video_budget():
    text = budgets.render_video_budget(60, 30, 1800, 576, "none", "7B (MHA: 32 KV heads)")
    assert "1,036,800 visual tokens" in text and "506.25 GiB" in text and "does not fit" in text
    assert "8,640 visual tokens" in budgets.render_video_budget(60, 1, 64, 576, "2x2 average")
    assert "64 kept" in budgets.render_video_budget(600, 1, 64, 576, "2x2 average")
    with pytest.raises(ValueError, match="fps"):
        budgets.render_video_budget(60, 0)
    with pytest.raises(ValueError, match="multiple of 16"):
        budgets.render_video_budget(60, 1, 64, 196, "pixel shuffle 4")
