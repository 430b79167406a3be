"""The sigmoid loss: pair values, the N x N loss against SiglipModel, chunked against full,
the initialisation analysis, the tiny SigLIP builder and tokenizer, the widget, bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.sigmoid_loss import (
    PAIR_EXAMPLES,
    block_loss_sum,
    initial_loss,
    pair_labels,
    pair_loss,
    pair_loss_table,
    prior_bias,
    prior_loss,
    render_sigmoid_explorer,
    sigmoid_logits,
    sigmoid_loss,
    sigmoid_loss_chunked,
)


def _pairs(n=12, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = F.normalize(torch.randn(n, d, generator=g), dim=-1)
    text = F.normalize(image + torch.randn(n, d, generator=g), dim=-1)
    return image, text


def test_pair_losses_of_the_syllabus():
    values = {name: round(pair_loss(logit, label), 4) for name, logit, label in PAIR_EXAMPLES}
    assert values == {"matching pair": 0.0400, "non-matching pair": 0.1155, "hard negative": 0.9130}
    assert "0.9130" in pair_loss_table()


def test_pair_loss_is_stable_for_large_logits():
    assert pair_loss(1000.0, 1) == 0.0
    assert pair_loss(1000.0, -1) == pytest.approx(1000.0)


def test_loss_matches_a_direct_formula():
    image, text = _pairs()
    logits = 3.0 * image @ text.T - 1.0
    labels = 2 * torch.eye(12) - 1
    expected = -torch.log(torch.sigmoid(labels * logits)).sum() / 12
    torch.testing.assert_close(sigmoid_loss(image, text, 3.0, -1.0), expected)


def test_loss_equals_siglip_model_loss():
    from course_lib.models.dual_encoder import image_text_batch, to_pixel_values
    from course_lib.models.siglip import FixedLengthTokenizer, build_tiny_siglip
    from course_lib.tokenizer import build_tokenizer

    tok = build_tokenizer()
    model = build_tiny_siglip(tok, seed=0, layers=1)
    batch = image_text_batch(8, seed=5, unique_captions=True)
    enc = FixedLengthTokenizer(tok)(batch.captions, return_tensors="pt")
    with torch.no_grad():
        for scale, bias in ((10.0, -10.0), (3.0, 1.5)):
            model.logit_scale.fill_(math.log(scale))
            model.logit_bias.fill_(bias)
            out = model(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                pixel_values=to_pixel_values(batch.scenes.images),
                return_loss=True,
            )
            mine = sigmoid_loss(out.image_embeds, out.text_embeds, model.logit_scale.exp(), model.logit_bias)
            torch.testing.assert_close(mine, out.loss)


def test_siglip_model_default_init_and_paper_init():
    from transformers import SiglipModel

    from course_lib.models.siglip import set_paper_init, tiny_siglip_config

    torch.manual_seed(0)
    model = SiglipModel(tiny_siglip_config(layers=1))
    assert model.logit_scale.item() == 0.0 and model.logit_bias.item() == 0.0
    set_paper_init(model)
    assert model.logit_scale.exp().item() == pytest.approx(10.0)
    assert model.logit_bias.item() == -10.0
    with pytest.raises(ValueError):
        set_paper_init(model, scale=-1.0)


@pytest.mark.parametrize("chunk", [1, 5, 7, 12, 100])
def test_chunked_equals_full_loss_and_gradients(chunk):
    image, text = _pairs()
    image.requires_grad_(True)
    text.requires_grad_(True)
    scale, bias = torch.tensor(4.0, requires_grad=True), torch.tensor(-2.0, requires_grad=True)
    full = sigmoid_loss(image, text, scale, bias)
    grads_full = torch.autograd.grad(full, (image, text, scale, bias))
    chunked = sigmoid_loss_chunked(image, text, scale, bias, chunk)
    grads_chunked = torch.autograd.grad(chunked, (image, text, scale, bias))
    torch.testing.assert_close(chunked, full)
    for a, b in zip(grads_chunked, grads_full):
        torch.testing.assert_close(a, b)


def test_block_sums_add_up_to_the_full_loss():
    image, text = _pairs(n=9)
    total = sum(
        block_loss_sum(image[r : r + 3], text[c : c + 3], 5.0, -3.0, r, c)
        for r in range(0, 9, 3)
        for c in range(0, 9, 3)
    )
    torch.testing.assert_close(total / 9, sigmoid_loss(image, text, 5.0, -3.0))


def test_multi_positive_labels():
    image, text = _pairs(n=4)
    positives = torch.eye(4, dtype=torch.bool)
    positives[0, 1] = positives[1, 0] = True
    assert pair_labels(4, positives)[0, 1] == 1
    assert sigmoid_loss(image, text, 5.0, -3.0, positives) != sigmoid_loss(image, text, 5.0, -3.0)


def test_initial_loss_numbers():
    init = initial_loss(32768)
    assert init.positive == pytest.approx(math.log1p(math.exp(10.0)))
    assert init.negative == pytest.approx(math.log1p(math.exp(-10.0)))
    assert init.loss == pytest.approx(init.positive + 32767 * init.negative)
    default = initial_loss(32768, scale=1.0, bias=0.0)
    assert default.loss == pytest.approx(32768 * math.log(2))
    assert prior_bias(32768) == pytest.approx(-math.log(32767))
    assert abs(init.loss - prior_loss(32768)) < 0.2


def test_bad_input_is_rejected_with_clear_errors():
    image, text = _pairs(n=4)
    with pytest.raises(ValueError, match="batch sizes differ"):
        sigmoid_loss(image, text[:3], 1.0, 0.0)
    with pytest.raises(ValueError, match="embedding sizes differ"):
        sigmoid_loss(image, text[:, :5], 1.0, 0.0)
    with pytest.raises(ValueError, match="scale"):
        sigmoid_loss(image, text, -1.0, 0.0)
    with pytest.raises(ValueError, match="bias"):
        sigmoid_loss(image, text, 1.0, float("nan"))
    with pytest.raises(ValueError, match="2-D"):
        sigmoid_logits(image[0], text, 1.0, 0.0)
    with pytest.raises(TypeError, match="floating-point"):
        sigmoid_loss(image.long(), text, 1.0, 0.0)
    with pytest.raises(ValueError, match="chunk_size"):
        sigmoid_loss_chunked(image, text, 1.0, 0.0, 0)
    with pytest.raises(ValueError, match="label"):
        pair_loss(1.0, 0)
    with pytest.raises(ValueError, match="logit"):
        pair_loss(float("inf"), 1)
    with pytest.raises(ValueError, match="cosine"):
        initial_loss(8, cosine=2.0)


def test_fixed_length_tokenizer_makes_text_embeddings_batch_independent():
    from course_lib.models.siglip import FixedLengthTokenizer, build_tiny_siglip
    from course_lib.tokenizer import build_tokenizer

    tok = build_tokenizer()
    model = build_tiny_siglip(tok, layers=1)
    texts = ["red circle", "an image of a large red circle in the bottom right"]
    fixed = FixedLengthTokenizer(tok)
    with torch.no_grad():
        alone = model.get_text_features(**fixed(texts[:1], return_tensors="pt")).pooler_output
        batched = model.get_text_features(**fixed(texts, return_tensors="pt")).pooler_output[:1]
        loose = model.get_text_features(**tok(texts, padding=True, return_tensors="pt")).pooler_output[:1]
    torch.testing.assert_close(alone, batched, atol=1e-5, rtol=1e-5)
    assert (alone - loose).abs().max() > 1e-3  # padding to the longest caption moves the pooled position
    assert len(fixed) == len(tok) and fixed.pad_token_id == tok.pad_token_id


def test_siglip_trains_with_the_shared_trainer():
    from course_lib.studies import train_tiny

    model, tok, result = train_tiny("siglip", batch_size=8, steps=3, progress=False)
    assert result.steps == 3 and all(np.isfinite(result.losses))
    with pytest.raises(ValueError, match="kind"):
        train_tiny("blip", 8, 1)


def test_study_models_have_notebook_02_sizes_and_their_own_loss():
    from course_lib.models.siglip import FixedLengthTokenizer
    from course_lib.recipes import TINY_CLIP_SIZE
    from course_lib.studies import build_study_model

    clip, _, clip_loss = build_study_model("clip")
    siglip, siglip_tok, siglip_loss = build_study_model("siglip")
    for m in (clip, siglip):
        v = m.config.vision_config
        assert (v.hidden_size, v.num_hidden_layers, v.num_attention_heads) == (
            TINY_CLIP_SIZE.hidden_size,
            TINY_CLIP_SIZE.layers,
            TINY_CLIP_SIZE.heads,
        )
    assert (clip_loss, siglip_loss) == ("clip", "siglip")
    assert isinstance(siglip_tok, FixedLengthTokenizer)
    assert siglip.logit_bias.item() == pytest.approx(-10.0) and siglip.logit_scale.exp().item() == pytest.approx(10.0)
    with pytest.raises(ValueError, match="kind must be 'clip' or 'siglip'"):
        build_study_model("blip")


def test_widget_render_and_callback():
    import ipywidgets

    from course_lib.widgets import explore

    fig = render_sigmoid_explorer(math.log(10), -10.0)
    assert len(fig.axes) >= 2
    slider = ipywidgets.FloatSlider(value=math.log(10), min=-1, max=4)
    box = explore(render_sigmoid_explorer, log_scale=slider, bias=ipywidgets.FloatSlider(value=-10, min=-15, max=5))
    slider.value = 0.0
    assert "t = 1.00" in box.result.axes[0].get_title()
    with pytest.raises(ValueError):
        render_sigmoid_explorer(0.0, 0.0, cosines=np.zeros((2, 3)))


def test_small_batch_study_rows_table_and_plot():
    from course_lib.studies import plot_study, small_batch_study, study_table

    rows = small_batch_study(batch_sizes=(4,), steps=1, n_test=12, progress=False)
    assert [(r["kind"], r["batch_size"]) for r in rows] == [("clip", 4), ("siglip", 4)]
    assert all(0.0 <= r["seen"] <= 1.0 for r in rows)
    assert "held-out acc" in study_table(rows)
    assert len(plot_study(rows).axes) == 2


def test_no_decay_parameters_are_not_shrunk_by_weight_decay():
    from course_lib.training import train

    model = torch.nn.Module()
    model.w = torch.nn.Parameter(torch.ones(3))
    model.t = torch.nn.Parameter(torch.ones(1))
    model.used = torch.nn.Parameter(torch.zeros(1))

    def run(no_decay):
        with torch.no_grad():
            model.w.fill_(1.0)
            model.t.fill_(1.0)
        # the loss ignores w and t: only weight decay can move them
        train(model, lambda s: None, lambda m, b: (m.used - 1.0).pow(2).sum() + 0.0 * (m.w.sum() + m.t.sum()), steps=5,
              lr=0.1, weight_decay=0.5, no_decay=no_decay, progress=False)
        return model.w.detach().clone(), model.t.item()

    w, t = run([model.t])
    assert t == pytest.approx(1.0) and (w < 1.0).all()
    _, t = run([])
    assert t < 1.0


def test_study_over_seeds_reports_spread_and_the_clean_recipe():
    from dataclasses import replace

    from course_lib.recipes import SIGLIP_STUDY
    from course_lib.sigmoid_loss import prior_bias
    from course_lib.studies import seeds_table, study_over_seeds, train_tiny

    assert SIGLIP_STUDY.partial_share == 0 and not SIGLIP_STUDY.decay_logit and SIGLIP_STUDY.bias_init == "prior"
    model, _, _ = train_tiny("siglip", batch_size=8, steps=1, progress=False)
    assert abs(model.logit_bias.item() - prior_bias(8)) < 0.05  # started at the batch prior, one small step away
    out = study_over_seeds([0, 1], batch_sizes=(4,), steps=1, n_test=12, progress=False)
    assert out["seeds"] == [0, 1] and len(out["runs"]) == 4
    entry = out["summary"][0]
    assert entry["seeds"] == 2 and entry["seen"]["min"] <= entry["seen"]["mean"] <= entry["seen"]["max"]
    assert "+-" in seeds_table(out["summary"])
    with pytest.raises(ValueError, match="bias_init"):
        train_tiny("siglip", 4, 1, progress=False, study=replace(SIGLIP_STUDY, bias_init="zero"))
