"""course_lib.patches: counts, patchify/unpatchify, size policies, attention cost, position
embeddings, plots and the explorer's render function (including bad input)."""

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from transformers import CLIPVisionConfig
from transformers.models.clip.modeling_clip import CLIPEncoderLayer, CLIPVisionEmbeddings

from course_lib import patches as pt
from course_lib.widgets import explore

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def rgb(h=32, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


# ---- counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size, p, n", [(224, 16, 196), (448, 16, 784), (224, 14, 256), (336, 14, 576), (48, 8, 36), ((32, 48), 16, 6)]
)
def test_num_patches(size, p, n):
    assert pt.num_patches(size, p) == n
    assert pt.num_patches(size, p, cls_token=True) == n + 1


def test_double_resolution_gives_four_times_the_tokens():
    assert pt.num_patches(448, 16) == 4 * pt.num_patches(224, 16)


def test_grid_shape_and_bad_sizes():
    assert pt.grid_shape((32, 48), 16) == (2, 3)
    with pytest.raises(
        ValueError, match="384x384 is not divisible by patch size 14: resize to 378x378 or pad to 392x392"
    ):
        pt.num_patches(384, 14)
    with pytest.raises(ValueError, match=r"patch_size must be in \[1, inf\], got 0"):
        pt.num_patches(224, 0)
    with pytest.raises(TypeError, match="patch_size must be an integer"):
        pt.num_patches(224, 16.0)
    with pytest.raises(TypeError, match="image_size must be an int or a"):
        pt.num_patches((224, 224, 3), 16)
    with pytest.raises(TypeError, match="image_size must be an int or a"):
        pt.num_patches(True, 16)
    with pytest.raises(TypeError, match="image_size \\(width\\) must be an integer"):
        pt.num_patches((224, 22.4), 16)
    with pytest.raises(ValueError, match="image_size \\(height\\) must be"):
        pt.grid_shape((0, 16), 16)


# ---- size policies -----------------------------------------------------------------------------


@pytest.mark.parametrize("policy, expected", [("pad", (392, 392)), ("crop", (378, 378)), ("resize", (378, 378))])
def test_fitted_size_policies_for_384_and_14(policy, expected):
    assert pt.fitted_size(384, 14, policy) == expected


def test_fitted_size_resize_rounds_to_nearest_and_keeps_one_patch():
    assert pt.fitted_size((230, 250), 16, "resize") == (224, 256)
    assert pt.fitted_size((5, 40), 16, "resize") == (16, 48)
    assert pt.fitted_size((224, 224), 16, "error") == (224, 224)


def test_fitted_size_bad_input():
    with pytest.raises(ValueError, match="not divisible"):
        pt.fitted_size(230, 16)
    with pytest.raises(ValueError, match=r"policy must be one of \['error', 'pad', 'crop', 'resize'\], got 'stretch'"):
        pt.fitted_size(230, 16, "stretch")
    with pytest.raises(ValueError, match="smaller than one 16x16 patch"):
        pt.fitted_size((8, 40), 16, "crop")


def test_fit_to_patches_pad_crop_resize():
    img = rgb(30, 50)
    padded = pt.fit_to_patches(img, 16, "pad")
    assert (
        padded.shape == (32, 64, 3)
        and np.array_equal(padded[:30, :50], img)
        and padded[30:].max() == 0
        and padded[:, 50:].max() == 0
    )
    cropped = pt.fit_to_patches(img, 16, "crop")
    assert cropped.shape == (16, 48, 3) and np.array_equal(cropped, img[7:23, 1:49])
    resized = pt.fit_to_patches(img, 16, "resize")
    assert resized.shape == (32, 48, 3) and resized.dtype == np.uint8
    same = rgb(32, 48)
    assert pt.fit_to_patches(same, 16) is same
    with pytest.raises(ValueError, match="not divisible"):
        pt.fit_to_patches(img, 16)
    with pytest.raises(TypeError, match="uint8"):
        pt.fit_to_patches(img.astype(np.float32), 16, "pad")
    with pytest.raises(ValueError, match="3-D"):
        pt.fit_to_patches(img[..., 0], 16, "pad")


def test_resize_and_crop_is_centre_square():
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[:, 50:150] = 255  # the centre square is white, the sides black
    out = pt.resize_and_crop(img, 50)
    assert out.shape == (50, 50, 3) and out.dtype == np.uint8 and out.flags.writeable
    assert out[5:-5, 5:-5].min() == 255
    with pytest.raises(ValueError, match="size must be"):
        pt.resize_and_crop(img, 0)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        pt.resize_and_crop([[1]], 10)


# ---- patchify / unpatchify ---------------------------------------------------------------------


def test_patchify_raster_order_numpy():
    img = rgb(32, 48)
    p = pt.patchify(img, 16)
    assert p.shape == (6, 16 * 16 * 3) and isinstance(p, np.ndarray)
    # patch 4 is row 1, column 1; flattened (row, col, channel)
    assert np.array_equal(p[4].reshape(16, 16, 3), img[16:32, 16:32])
    assert np.array_equal(pt.unpatchify(p, 16, (32, 48)), img)


def test_patchify_batched_and_torch_channels_first():
    x = torch.randn(2, 3, 32, 48)
    p = pt.patchify(x, 16, channels_first=True)
    assert p.shape == (2, 6, 3 * 16 * 16) and isinstance(p, torch.Tensor)
    torch.testing.assert_close(p[1, 2].reshape(3, 16, 16), x[1, :, 0:16, 32:48], rtol=0, atol=0)
    assert torch.equal(pt.unpatchify(p, 16, (32, 48), channels_first=True), x)
    hwc = x.permute(0, 2, 3, 1)  # non-contiguous view
    assert torch.equal(pt.unpatchify(pt.patchify(hwc, 16), 16, (32, 48)), hwc)


def test_channels_first_order_matches_conv2d():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, kernel_size=4, stride=4)
    x = torch.randn(2, 3, 12, 8)
    with torch.no_grad():
        ref = conv(x).flatten(2).transpose(1, 2)
        ours = pt.patchify(x, 4, channels_first=True) @ conv.weight.reshape(8, -1).T + conv.bias
    torch.testing.assert_close(ours, ref)


def test_patchify_unpatchify_bad_input():
    with pytest.raises(ValueError, match="not divisible by patch size 16"):
        pt.patchify(rgb(30, 48), 16)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        pt.patchify(np.zeros((4, 4)), 2)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        pt.patchify([[1, 2]], 1)
    p = pt.patchify(rgb(32, 48), 16)
    with pytest.raises(ValueError, match="hold 6 patches but a 32x32 image has 2x2 = 4"):
        pt.unpatchify(p, 16, 32)
    with pytest.raises(ValueError, match="not a multiple of P\\*P = 100"):
        pt.unpatchify(np.zeros((6, 768)), 10, (20, 30))
    with pytest.raises(ValueError, match="2-D or 3-D"):
        pt.unpatchify(np.zeros(6), 16, 32)


def test_tile_mosaic():
    img = rgb(32, 48)
    m = pt.tile_mosaic(img, 16, gap=2, fill=200)
    assert m.shape == (34, 52, 3) and m.dtype == np.uint8
    assert np.array_equal(m[18:34, 36:52], img[16:32, 32:48]) and (m[16:18] == 200).all()
    with pytest.raises(ValueError, match="gap must be"):
        pt.tile_mosaic(img, 16, gap=-1)
    with pytest.raises(ValueError, match="fill must be"):
        pt.tile_mosaic(img, 16, fill=256)


# ---- attention cost ----------------------------------------------------------------------------


def test_attention_cost_formula_and_vit_b16():
    c = pt.attention_cost(224, 16)
    assert (c.tokens, c.entries) == (197, 197**2)
    assert c.attention_flops == 4 * 197**2 * 768 and c.linear_flops == 24 * 197 * 768**2
    assert c.total_flops == c.attention_flops + c.linear_flops
    # ViT-B/16 at 224: ~17.5 G multiply-adds for 12 layers, the figure usually quoted
    assert 12 * c.total_flops / 2 / 1e9 == pytest.approx(17.45, abs=0.01)
    assert (
        pt.attention_cost(448, 16, cls_token=False).entries == 16 * pt.attention_cost(224, 16, cls_token=False).entries
    )


@pytest.mark.parametrize("hidden, tokens_side", [(32, 6), (48, 4)])
def test_attention_cost_matches_flop_counter_on_a_real_clip_layer(hidden, tokens_side):
    from torch.utils.flop_counter import FlopCounterMode

    cfg = CLIPVisionConfig(
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_attention_heads=4,
        num_hidden_layers=1,
        image_size=8 * tokens_side,
        patch_size=8,
    )
    cfg._attn_implementation = "eager"
    layer = CLIPEncoderLayer(cfg).eval()
    cost = pt.attention_cost(8 * tokens_side, 8, hidden_size=hidden)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        layer(torch.randn(1, cost.tokens, hidden), attention_mask=None)
    assert counter.get_total_flops() == cost.total_flops


def test_attention_cost_bad_input():
    with pytest.raises(ValueError, match="hidden_size must be"):
        pt.attention_cost(224, 16, hidden_size=0)
    with pytest.raises(ValueError, match="not divisible"):
        pt.attention_cost(230, 16)


def test_cost_table_rows_and_ratios():
    text = pt.cost_table([224, 448], 16, cls_token=False)
    lines = text.splitlines()
    assert len(lines) == 3 and "tokens N" in lines[0]
    assert "784" in lines[2] and "614,656" in lines[2] and " 4.00 " in lines[2] and " 16.00 " in lines[2]
    with pytest.raises(ValueError, match="non-empty list"):
        pt.cost_table([], 16)
    with pytest.raises(ValueError, match="non-empty list"):
        pt.cost_table(224, 16)


def test_plot_attention_cost():
    fig = pt.plot_attention_cost([448, 224, 336], 14)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and ax.get_xlabel().startswith("image side")
    assert ax.lines[1].get_ydata()[-1] == pytest.approx((1025 / 257) ** 2)


# ---- position embeddings -----------------------------------------------------------------------


def test_sincos_position_embeddings():
    e = pt.sincos_position_embeddings(3, 4, 16)
    assert e.shape == (12, 16) and e.dtype == np.float32
    # first half depends only on the row, second half only on the column
    assert np.array_equal(e[0, :8], e[3, :8]) and not np.array_equal(e[0, :8], e[4, :8])
    assert np.array_equal(e[0, 8:], e[4, 8:]) and not np.array_equal(e[0, 8:], e[1, 8:])
    assert np.allclose(
        e[5],
        np.r_[
            np.sin(1 * 1.0),
            np.sin(10**-1),
            np.sin(10**-2),
            np.sin(10**-3),
            np.cos([1, 0.1, 0.01, 0.001]),
            np.sin([1, 0.1, 0.01, 0.001]),
            np.cos([1, 0.1, 0.01, 0.001]),
        ],
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="multiple of 4"):
        pt.sincos_position_embeddings(3, 4, 18)
    with pytest.raises(ValueError, match="grid_h must be"):
        pt.sincos_position_embeddings(0, 4, 16)
    with pytest.raises(ValueError, match="temperature must be"):
        pt.sincos_position_embeddings(3, 4, 16, temperature=-1.0)


def test_position_similarity_and_plot():
    e = pt.sincos_position_embeddings(4, 5, 32)
    sim = pt.position_similarity(torch.from_numpy(e), 4, 5)
    assert sim.shape == (4, 5, 4, 5)
    assert np.allclose([sim[i, j, i, j] for i in range(4) for j in range(5)], 1.0)
    assert sim[1, 1, 1, 2] > sim[1, 1, 1, 4]  # nearer positions are more similar
    fig = pt.plot_position_similarity(e, 4, 5, title="t")
    assert len(fig.axes) == 4 * 5 + 1
    with pytest.raises(ValueError, match="21 rows but a 4x5 grid has 20 positions"):
        pt.position_similarity(np.zeros((21, 8)), 4, 5)
    with pytest.raises(ValueError, match="2-D"):
        pt.position_similarity(np.zeros(20), 4, 5)


def test_similarity_by_relation():
    rel = pt.similarity_by_relation(pt.sincos_position_embeddings(4, 4, 32), 4, 4)
    assert list(rel) == ["neighbours", "same row", "same column", "other"]
    assert rel["neighbours"] > rel["same row"] > rel["other"]
    assert rel["same row"] == pytest.approx(rel["same column"])
    # rows only: every pair of different positions in one row is "same row"; no "other" pair exists
    one_row = pt.similarity_by_relation(np.eye(3), 1, 3)
    assert one_row["same row"] == 0.0 and np.isnan(one_row["other"]) and np.isnan(one_row["same column"])
    with pytest.raises(ValueError, match="grid has 4 positions"):
        pt.similarity_by_relation(np.eye(3), 2, 2)


def test_vision_position_embeddings_drop_the_class_position():
    cfg = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_attention_heads=2, num_hidden_layers=1, image_size=24, patch_size=8
    )
    emb = CLIPVisionEmbeddings(cfg)
    got = pt.vision_position_embeddings(emb)
    assert got.shape == (9, 16)
    assert np.array_equal(got, emb.position_embedding.weight.detach().numpy()[1:])
    with pytest.raises(TypeError, match="CLIP-style vision model"):
        pt.vision_position_embeddings(torch.nn.Linear(2, 2))


# ---- pictures and the explorer -----------------------------------------------------------------


def test_plot_patch_grid_lines_and_remainder():
    ax = pt.plot_patch_grid(rgb(32, 48), 16)
    assert "3x2" not in ax.get_title() and "2x3 = 6" in ax.get_title()
    assert len(ax.collections) == 2 and not ax.patches
    ax = pt.plot_patch_grid(rgb(40, 48), 16)
    assert "red: 8x0 px left over" in ax.get_title() and len(ax.patches) == 1
    with pytest.raises(ValueError, match="patch_size must be"):
        pt.plot_patch_grid(rgb(), 0)


def test_plot_patch_tiles():
    fig = pt.plot_patch_tiles(rgb(32, 48), 16, n_sequence=4)
    assert len(fig.axes) == 1 + 4 and "6 patches of 16x16x3" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="not divisible"):
        pt.plot_patch_tiles(rgb(30, 48), 16)


def test_render_patch_explorer_text_and_policies():
    fig = pt.render_patch_explorer("coffee", 230, 16)
    text = fig.axes[1].texts[0].get_text()
    assert "230 is not a multiple of 16: pad -> 240 px" in text and "N = 226" in text
    fig = pt.render_patch_explorer("astronaut", 224, 16)
    assert "N = 197" in fig.axes[1].texts[0].get_text() and "not a multiple" not in fig.axes[1].texts[0].get_text()
    with pytest.raises(ValueError, match="needs a policy that always fits"):
        pt.render_patch_explorer(policy="error")
    with pytest.raises(ValueError, match="unknown photo"):
        pt.render_patch_explorer("eagle")
    with pytest.raises(ValueError, match="policy must be one of"):
        pt.render_patch_explorer(policy="stretch")


def test_explorer_callback_rerenders():
    slider = ipywidgets.IntSlider(value=224, min=112, max=448, step=8)
    box = explore(
        pt.render_patch_explorer,
        photo=ipywidgets.Dropdown(options=["astronaut", "rocket"]),
        resolution=slider,
        patch_size=ipywidgets.Dropdown(options=[16, 14], value=16),
    )
    assert "N = 197" in box.result.axes[1].texts[0].get_text()
    slider.value = 448
    assert "N = 785" in box.result.axes[1].texts[0].get_text()
