"""Contrastive losses: the walkthrough, InfoNCE in numpy and torch against F.cross_entropy and
CLIPModel's own loss, the gradient, the logit scale, false negatives, and bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib import contrastive as c


def test_walkthrough_matrix_is_as_the_syllabus_says():
    m = c.WALKTHROUGH_COSINES
    assert m.shape == (4, 4) and list(m[0]) == [0.9, 0.1, 0.2, 0.0]
    assert all(m[i].argmax() == i for i in range(4)) and all(m[:, j].argmax() == j for j in range(4))


def test_walkthrough_first_row_by_hand():
    w = c.walkthrough(tau=1.0)
    exps = [math.exp(v) for v in (0.9, 0.1, 0.2, 0.0)]
    assert np.allclose(w.exps[0], exps)
    assert w.row_sums[0] == pytest.approx(sum(exps))
    assert w.row_probs[0, 0] == pytest.approx(exps[0] / sum(exps))
    assert w.row_ce[0] == pytest.approx(-math.log(exps[0] / sum(exps)))
    assert f"{w.row_sums[0]:.4f}" == "5.7862" and f"{w.row_ce[0]:.4f}" == "0.8555"


@pytest.mark.parametrize("tau", [1.0, 0.07])
def test_walkthrough_equals_cross_entropy_both_directions(tau):
    w = c.walkthrough(tau=tau)
    logits = torch.tensor(c.WALKTHROUGH_COSINES / tau)
    rows, cols = c.reference_cross_entropy(logits)
    assert w.loss_image_to_text == pytest.approx(rows.item())
    assert w.loss_text_to_image == pytest.approx(cols.item())
    assert w.loss == pytest.approx((rows.item() + cols.item()) / 2)


def test_rounding_intermediates_moves_the_loss_a_little():
    exact, rounded = c.walkthrough(tau=1.0), c.walkthrough(tau=1.0, decimals=2)
    assert rounded.loss != exact.loss and abs(rounded.loss - exact.loss) < 0.01


def test_lower_temperature_sharpens():
    warm, cold = c.walkthrough(tau=1.0), c.walkthrough(tau=0.07)
    assert np.diag(cold.row_probs).min() > np.diag(warm.row_probs).max()
    assert cold.loss < warm.loss


def test_walkthrough_text_has_every_row_and_column():
    text = c.walkthrough_table(c.walkthrough(tau=1.0))
    assert text.count("\nrow ") == 4 and text.count("\ncol ") == 4 and "symmetric CLIP loss" in text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_info_nce_numpy_torch_and_cross_entropy_agree(seed):
    logits = torch.randn(8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 5
    expected = F.cross_entropy(logits, torch.arange(8))
    assert c.info_nce_numpy(logits.numpy()) == pytest.approx(expected.item())
    torch.testing.assert_close(c.info_nce_torch(logits), expected)
    torch.testing.assert_close(c.info_nce_torch(logits.T), F.cross_entropy(logits.T, torch.arange(8)))


def test_info_nce_numpy_is_stable_for_large_logits():
    assert np.isfinite(c.info_nce_numpy(np.eye(4) * 1e4))


def test_clip_loss_equals_clipmodel_return_loss():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    sizes = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, projection_dim=8)
    text = dict(vocab_size=20, max_position_embeddings=8, eos_token_id=3, **sizes)
    config = CLIPConfig(text_config=text, vision_config=dict(image_size=16, patch_size=8, **sizes), projection_dim=8)
    model = CLIPModel(config).eval()
    ids = torch.tensor([[2, 5, 6, 3], [2, 7, 3, 0], [2, 9, 8, 3], [2, 11, 3, 0]])
    pixels = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=(ids > 0).long(), pixel_values=pixels, return_loss=True)
        ours = c.clip_loss(out.image_embeds, out.text_embeds, model.logit_scale.exp())
    torch.testing.assert_close(ours, out.loss)
    torch.testing.assert_close(
        c.clip_logits(out.image_embeds, out.text_embeds, model.logit_scale.exp()), out.logits_per_image
    )


def test_gradient_is_softmax_minus_onehot():
    logits = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    c.info_nce_torch(logits).backward()
    np.testing.assert_allclose(logits.grad.numpy(), c.softmax_minus_onehot(logits), atol=1e-12)
    g = c.softmax_minus_onehot(logits)
    assert (np.diag(g) < 0).all() and (g[~np.eye(5, dtype=bool)] > 0).all()


def test_logit_scale_init_and_clamp():
    assert c.logit_scale_init() == pytest.approx(math.log(1 / 0.07))
    assert math.exp(c.logit_scale_init()) == pytest.approx(1 / 0.07)
    model = torch.nn.Module()
    model.logit_scale = torch.nn.Parameter(torch.tensor(7.0))
    c.clamp_logit_scale(model)
    assert model.logit_scale.exp().item() == pytest.approx(100.0)
    with pytest.raises(TypeError, match="logit_scale"):
        c.clamp_logit_scale(torch.nn.Linear(2, 2))


def test_duplicate_audit_and_positive_mask():
    keys = ["red circle", "blue square", "red circle", "green cross", "red circle"]
    audit = c.duplicate_audit(keys)
    assert audit == {"n": 5, "unique": 3, "in_duplicates": 3, "false_negative_pairs": 6}
    mask = c.positive_mask(keys)
    assert mask.diagonal().all() and mask.sum().item() == 5 + 6 and mask[0, 2] and not mask[0, 1]


def test_multi_positive_loss_reduces_to_infonce_and_rewards_duplicates():
    logits = torch.randn(6, 6, dtype=torch.float64)
    torch.testing.assert_close(
        c.multi_positive_loss(logits, torch.eye(6, dtype=torch.bool)), c.symmetric_info_nce(logits)
    )
    # two identical captions scored equally: the plain loss pushes the duplicate pair apart,
    # the multi-positive loss leaves it alone
    mask = c.positive_mask(["a", "a", "b"])
    grads = []
    for loss in (c.symmetric_info_nce, lambda x: c.multi_positive_loss(x, mask)):
        logits = torch.tensor([[5.0, 5.0, 0.0], [5.0, 5.0, 0.0], [0.0, 0.0, 5.0]], requires_grad=True)
        loss(logits).backward()
        grads.append(logits.grad[0, 1].item())
    assert grads[0] > 0.1 and abs(grads[1]) < 0.01


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: c.clip_loss(torch.randn(4, 8), torch.randn(3, 8), 10.0), ValueError, "batch sizes differ"),
        (lambda: c.clip_loss(torch.randn(4, 8), torch.randn(4, 6), 10.0), ValueError, "embedding sizes differ"),
        (lambda: c.clip_loss(torch.randn(4, 8, 2), torch.randn(4, 8), 10.0), ValueError, "2-D"),
        (lambda: c.cosine_matrix(np.ones(4), np.ones((4, 1))), ValueError, "2-D"),
        (lambda: c.clip_loss(torch.randn(4, 8), torch.randn(4, 8), 0.0), ValueError, "> 0"),
        (lambda: c.clip_loss(torch.randn(4, 8), torch.randn(4, 8), torch.tensor(-1.0)), ValueError, "> 0"),
        (lambda: c.walkthrough(tau=0), ValueError, "tau"),
        (lambda: c.walkthrough(tau=-0.5), ValueError, "tau"),
        (lambda: c.walkthrough(np.ones((3, 4))), ValueError, "square"),
        (lambda: c.info_nce_numpy(np.ones((2, 3))), ValueError, "square"),
        (lambda: c.info_nce_torch(torch.ones(3)), ValueError, "2-D"),
        (lambda: c.logit_scale_init(0), ValueError, "tau"),
        (lambda: c.l2_normalize([1.0, 2.0]), TypeError, "array"),
        (lambda: c.multi_positive_loss(torch.ones(3, 3), torch.zeros(3, 3, dtype=torch.bool)), ValueError, "diagonal"),
        (lambda: c.duplicate_audit([]), ValueError, "empty"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_hard_negative_columns_join_the_image_to_text_softmax_only():
    torch.manual_seed(0)
    logits = torch.randn(4, 4 + 3, dtype=torch.float64)
    positives = torch.zeros(4, 7, dtype=torch.bool)
    positives[:, :4] = torch.eye(4, dtype=torch.bool)
    rows = F.cross_entropy(logits, torch.arange(4))  # NegCLIP: image -> text over all 7 texts
    cols = F.cross_entropy(logits[:, :4].T, torch.arange(4))  # text -> image over the 4 captions only
    torch.testing.assert_close(c.multi_positive_loss(logits, positives), (rows + cols) / 2)
    far = torch.cat([logits[:, :4], torch.full((4, 3), -1e4, dtype=torch.float64)], dim=1)
    torch.testing.assert_close(c.multi_positive_loss(far, positives), c.symmetric_info_nce(logits[:, :4]))
    with pytest.raises(ValueError, match="hard-negative columns last"):
        c.multi_positive_loss(torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.bool))
