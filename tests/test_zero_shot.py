"""course_lib.zero_shot: prompts, ensembling, probabilities, abstention, probes, few-shot, search, widget."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from IPython.display import Markdown

from course_lib import retrieval
from course_lib import shapes_world as sw
from course_lib import zero_shot as zs
from course_lib.models.clip import build_tiny_clip
from course_lib.models.dual_encoder import encode_images, encode_texts
from course_lib.tokenizer import build_tokenizer
from course_lib.widgets import explore


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


@pytest.fixture(scope="module")
def model(tok):
    """A randomly initialised tiny CLIPModel (the functions must work on any CLIP-style model)."""
    return build_tiny_clip(tok, seed=0, hidden_size=32, layers=1, heads=2, projection_dim=16)


def unit(*shape, seed=0):
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


# ---- prompts and prototypes --------------------------------------------------------------------


def test_text_prototypes_are_unit_vectors_one_per_class(model, tok):
    protos = zs.text_prototypes(model, tok, sw.prompts())
    assert protos.shape == (len(sw.ALL_COMPOSITIONS), 16)
    torch.testing.assert_close(protos.norm(dim=1), torch.ones(len(protos)))


def test_check_template_accepts_color_and_shape_only():
    assert zs.require_template("a {shape} that is {color}") == "a {shape} that is {color}"
    for bad in ("a {color} thing", "a {size} {color} {shape}", "a {color} {shape", "plain"):
        with pytest.raises(ValueError, match="template"):
            zs.require_template(bad)
    with pytest.raises(TypeError, match="template must be a string"):
        zs.require_template(3)


def test_template_embeddings_shape_and_unknown_word(model, tok):
    emb = zs.template_embeddings(model, tok, ["{color} {shape}", "a photo of a {color} {shape}"])
    assert emb.shape == (2, 30, 16)
    torch.testing.assert_close(emb[1], zs.text_prototypes(model, tok, sw.prompts("a photo of a {color} {shape}")))
    with pytest.raises(ValueError, match="unknown word"):
        zs.template_embeddings(model, tok, ["a drawing of a {color} {shape}"])
    with pytest.raises(TypeError, match="templates must be a list of strings, got the single string"):
        zs.template_embeddings(model, tok, "a {color} {shape}")
    with pytest.raises(ValueError, match="templates must not be empty"):
        zs.template_embeddings(model, tok, [])


def test_ensemble_is_renormalised_mean_of_normalised_embeddings():
    e = torch.randn(3, 5, 8, generator=torch.Generator().manual_seed(1)) * torch.tensor([1.0, 5.0, 0.2])[:, None, None]
    out = zs.ensemble_prototypes(e)
    manual = sum(e[t] / e[t].norm(dim=1, keepdim=True) for t in range(3)) / 3
    torch.testing.assert_close(out, manual / manual.norm(dim=1, keepdim=True))
    torch.testing.assert_close(zs.ensemble_prototypes(e[:1]), F.normalize(e[0], dim=-1))  # one template: itself
    with pytest.raises(ValueError, match="3-D"):
        zs.ensemble_prototypes(e[0])
    with pytest.raises(TypeError, match="floating-point"):
        zs.ensemble_prototypes(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="T = 0"):
        zs.ensemble_prototypes(torch.ones(0, 3, 4))


# ---- scores and accuracy -------------------------------------------------------------------------


def test_predict_logits_and_probs():
    img, protos = unit(6, 8, seed=2), unit(4, 8, seed=3)
    logits = zs.zero_shot_logits(img, protos, 50.0)
    torch.testing.assert_close(logits, 50.0 * img @ protos.T)
    probs = zs.zero_shot_probs(img, protos, 50.0)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(6))
    assert torch.equal(probs.argmax(1), zs.zero_shot_predict(img, protos))
    # a larger scale sharpens: the top probability grows, the ranking stays
    assert (zs.zero_shot_probs(img, protos, 100.0).max(1).values >= probs.max(1).values).all()
    with pytest.raises(ValueError, match="> 0"):
        zs.zero_shot_logits(img, protos, 0.0)
    with pytest.raises(ValueError, match="embedding sizes differ"):
        zs.zero_shot_predict(img, unit(4, 7))
    with pytest.raises(TypeError, match="must be a torch tensor"):
        zs.zero_shot_predict([[1.0]], protos)


def test_logit_scale_of_matches_model_forward(model, tok):
    scale = zs.logit_scale_of(model)
    assert scale == pytest.approx(float(model.logit_scale.detach().exp()))
    scenes = sw.generate_scenes(3, seed=0)
    from course_lib.models.dual_encoder import to_pixel_values

    texts = sw.prompts()[:4]
    enc = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(
            input_ids=enc["input_ids"],
            attention_mask=enc["attention_mask"],
            pixel_values=to_pixel_values(scenes.images),
        )
    ours = zs.zero_shot_logits(encode_images(model, scenes.images), encode_texts(model, tok, texts), scale)
    torch.testing.assert_close(ours, out.logits_per_image, atol=1e-5, rtol=1e-4)
    with pytest.raises(TypeError, match="logit_scale"):
        zs.logit_scale_of(torch.nn.Linear(2, 2))


def test_split_accuracy_and_zero_shot_accuracy(model, tok):
    scenes = sw.generate_scenes(60, seed=0, split="all")
    acc = zs.split_accuracy(scenes.labels, scenes)  # perfect predictions
    assert acc["seen"] == 1.0 and acc["held_out"] == 1.0 and acc["n_seen"] + acc["n_held_out"] == 60
    wrong = (scenes.labels + 1) % 30
    assert zs.split_accuracy(wrong, scenes)["seen"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        zs.split_accuracy(scenes.labels[:5], scenes)
    res = zs.zero_shot_accuracy(model, tok, scenes)
    assert set(res) == {"seen", "held_out", "n_seen", "n_held_out"} and 0 <= res["seen"] <= 1
    with pytest.raises(ValueError, match="single-object"):
        zs.zero_shot_accuracy(model, tok, sw.generate_scenes(4, seed=0, min_objects=2, max_objects=2))


# ---- abstention ------------------------------------------------------------------------------------


def test_confidence_kinds():
    scores = torch.tensor([[0.9, 0.1, 0.5], [0.3, 0.2, 0.25]])
    torch.testing.assert_close(zs.confidence(scores, "max_score"), torch.tensor([0.9, 0.3]))
    torch.testing.assert_close(zs.confidence(scores, "margin"), torch.tensor([0.4, 0.05]))
    with pytest.raises(ValueError, match="kind must be one of"):
        zs.confidence(scores, "entropy")
    with pytest.raises(ValueError, match="at least 2 classes"):
        zs.confidence(scores[:, :1], "margin")
    with pytest.raises(ValueError, match="2-D"):
        zs.confidence(scores[0])


def test_risk_coverage_hand_example():
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, False, True, True])
    cov, risk = zs.risk_coverage(conf, correct)
    np.testing.assert_allclose(cov, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.5, 1 / 3, 0.25])
    assert zs.aurc(conf, correct) == pytest.approx((0 + 0.5 + 1 / 3 + 0.25) / 4)
    # a perfect ranking puts every error last
    assert zs.aurc(np.array([0.9, 0.8, 0.7, 0.1]), np.array([True, True, True, False])) == pytest.approx(0.0625)
    with pytest.raises(TypeError, match="boolean"):
        zs.risk_coverage(conf, np.array([1, 0, 1, 1]))
    with pytest.raises(ValueError, match="shape"):
        zs.risk_coverage(conf, correct[:2])
    with pytest.raises(ValueError, match="empty"):
        zs.risk_coverage(np.array([]), np.array([], dtype=bool))


def test_calibrate_threshold_and_selective_metrics():
    conf = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([True, True, False, True, False])
    t = zs.calibrate_threshold(conf, correct, target_risk=0.0)
    assert t == 0.8
    assert zs.selective_metrics(conf, correct, t) == {"coverage": 0.4, "risk": 0.0, "answered": 2}
    t = zs.calibrate_threshold(conf, correct, target_risk=0.25)
    assert t == 0.6 and zs.selective_metrics(conf, correct, t)["risk"] == 0.25
    assert zs.calibrate_threshold(conf, correct, target_risk=0.5) == 0.5  # everything
    assert zs.calibrate_threshold(conf, np.zeros(5, bool), target_risk=0.1) == float("inf")
    none = zs.selective_metrics(conf, correct, float("inf"))
    assert none["coverage"] == 0.0 and np.isnan(none["risk"])
    with pytest.raises(ValueError, match="target_risk"):
        zs.calibrate_threshold(conf, correct, target_risk=1.5)
    with pytest.raises(TypeError, match="threshold"):
        zs.selective_metrics(conf, correct, "0.5")


def test_plot_risk_coverage():
    conf, correct = np.array([0.9, 0.2, 0.5]), np.array([True, False, True])
    ax = zs.plot_risk_coverage({"max score": (conf, correct)})
    assert ax.get_xlabel().startswith("coverage") and len(ax.lines) == 1
    plt.close("all")
    with pytest.raises(ValueError, match="empty"):
        zs.plot_risk_coverage({})


# ---- probes ------------------------------------------------------------------------------------------


def test_hard_negative_accuracy_scores_each_swap_and_the_widget_view(model, tok):
    scenes = sw.generate_scenes(30, seed=0, min_objects=2, max_objects=3)
    acc = zs.hard_negative_accuracy(model, tok, scenes, seed=1)
    assert list(acc) == list(sw.HARD_NEGATIVES) and all(0.0 <= v <= 1.0 for v in acc.values())
    variants = zs.caption_variants("a red circle left of a blue square")
    assert variants == {"as typed": "a red circle left of a blue square",
                        "color swap": "a blue circle left of a red square",
                        "shape swap": "a red square left of a blue circle",
                        "relation swap": "a blue square left of a red circle"}
    caption = sw.make_captions(scenes)[0]
    fig = zs.render_caption_probe({"shipped": (model, tok)}, scenes, 0, caption)
    assert isinstance(fig, plt.Figure)
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert labels[0].startswith("[true] as typed") and all(x.startswith("[false]") for x in labels[1:])
    plt.close("all")
    for bad, words in (("a red circle", "exactly one relation"), ("a red circle left of a fluffy dog", "not an object"),
                       ("", "Type a caption")):
        view = zs.render_caption_probe({"shipped": (model, tok)}, scenes, 0, bad)
        assert words in view.data
    for models in ({}, [model], {"shipped": model}):
        with pytest.raises(TypeError, match=r"models must be a non-empty dict \{name: \(model, tokenizer\)\}"):
            zs.render_caption_probe(models, scenes, 0, caption)


def test_preference_accuracy():
    img = unit(4, 6, seed=5)
    assert zs.preference_accuracy(img, img, unit(4, 6, seed=6)) == 1.0
    assert zs.preference_accuracy(img, unit(4, 6, seed=6), img) == 0.0
    assert zs.preference_accuracy(img, img, img) == 0.5  # ties count half
    with pytest.raises(ValueError, match="shape"):
        zs.preference_accuracy(img, img, img[:2])


def test_count_prompts():
    assert zs.count_prompts() == ["there is one object", "there are two objects", "there are three objects"]
    assert zs.count_prompts("{count}") == ["one", "two", "three"]
    with pytest.raises(ValueError, match="count"):
        zs.count_prompts("how many")


# ---- linear probe and few-shot ---------------------------------------------------------------------


def clusters(n_per_class=30, n_classes=3, d=8, seed=0, noise=0.3):
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(n_classes, d, generator=g), dim=-1)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    feats = F.normalize(centres[labels] + noise * torch.randn(len(labels), d, generator=g), dim=-1)
    return feats, labels, centres


def test_k_shot_indices():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    idx = zs.k_shot_indices(labels, 2, 3, seed=0)
    assert len(idx) == 6 and np.bincount(labels[idx]).tolist() == [2, 2, 2] and len(set(idx)) == 6
    np.testing.assert_array_equal(idx, zs.k_shot_indices(labels, 2, 3, seed=0))  # seeded
    with pytest.raises(ValueError, match="fewer than k"):
        zs.k_shot_indices(labels, 4, 3)
    with pytest.raises(TypeError, match="integer"):
        zs.k_shot_indices(labels.astype(float), 1, 3)


def test_class_prototypes_and_probe_separate_clusters():
    feats, labels, centres = clusters()
    protos = zs.class_prototypes(feats, labels, 3)
    torch.testing.assert_close(protos.norm(dim=1), torch.ones(3))
    assert (zs.zero_shot_predict(feats, protos) == labels).float().mean() > 0.9
    probe = zs.fit_linear_probe(feats, labels, 3, steps=150, lr=0.1)
    assert (zs.probe_predict(probe, feats) == labels).float().mean() > 0.9
    again = zs.fit_linear_probe(feats, labels, 3, steps=150, lr=0.1)
    torch.testing.assert_close(probe.weight, again.weight)  # deterministic
    with pytest.raises(ValueError, match="no examples"):
        zs.class_prototypes(feats[:30], labels[:30], 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        zs.fit_linear_probe(feats, labels + 5, 3)
    with pytest.raises(ValueError, match="shape"):
        zs.class_prototypes(feats, labels[:10], 3)
    with pytest.raises(TypeError, match="torch.nn.Linear"):
        zs.probe_predict(lambda x: x, feats)
    with pytest.raises(ValueError, match="shape"):
        zs.probe_predict(probe, feats[:, :4])


# ---- search and the widget -------------------------------------------------------------------------


def test_rank_gallery_and_recalls():
    gallery = unit(10, 6, seed=7)
    idx, scores = retrieval.rank_gallery(gallery[[3, 5]], gallery, 3)
    assert idx[:, 0].tolist() == [3, 5] and (scores[:, :-1] >= scores[:, 1:]).all()
    with pytest.raises(ValueError, match="k must be in"):
        retrieval.rank_gallery(gallery, gallery, 11)
    sim = gallery @ gallery.T
    assert retrieval.recall_at_k(sim, 1) == 1.0
    assert retrieval.recall_at_k(-sim, 10) == 1.0 and retrieval.recall_at_k(-sim, 1) == 0.0
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    assert retrieval.label_recall_at_k(sim, labels, labels, 1) == 1.0
    assert retrieval.label_recall_at_k(sim[:2], np.array([9, 9]), labels, 5) == 0.0
    with pytest.raises(ValueError, match="square"):
        retrieval.recall_at_k(sim[:3], 1)
    with pytest.raises(ValueError, match="shape"):
        retrieval.label_recall_at_k(sim, labels[:3], labels, 1)


def test_render_search_figure_and_messages(model, tok):
    scenes = sw.generate_scenes(12, seed=0, split="all")
    emb = encode_images(model, scenes.images)
    fig = zs.render_search(model, tok, scenes.images, emb, "a red circle", k=4, titles=sw.make_captions(scenes))
    assert isinstance(fig, plt.Figure) and "a red circle" in fig._suptitle.get_text()
    plt.close("all")
    msg = zs.render_search(model, tok, scenes.images, emb, "a red dog", k=4)
    assert isinstance(msg, Markdown) and "dog" in msg.data and "circle" in msg.data
    assert "Type a prompt" in zs.render_search(model, tok, scenes.images, emb, "   ").data
    with pytest.raises(ValueError, match="titles"):
        zs.render_search(model, tok, scenes.images, emb, "red", titles=["x"])
    with pytest.raises(ValueError, match="shape"):
        zs.render_search(model, tok, scenes.images, emb[:3], "red")


def test_search_widget_callback(model, tok):
    scenes = sw.generate_scenes(12, seed=0, split="all")
    emb = encode_images(model, scenes.images)
    prompt = ipywidgets.Text(value="a blue square", continuous_update=False)
    k = ipywidgets.IntSlider(value=4, min=1, max=8)
    box = explore(lambda prompt, k: zs.render_search(model, tok, scenes.images, emb, prompt, k), prompt=prompt, k=k)
    assert isinstance(box.result, plt.Figure)
    prompt.value = "a purple unicorn"
    assert isinstance(box.result, Markdown) and "unicorn" in box.result.data
    prompt.value = "green"
    k.value = 2
    assert isinstance(box.result, plt.Figure) and len([a for a in box.result.axes if a.images]) == 2
    plt.close("all")


def test_recolor_control_changes_one_colour_word():
    scenes = sw.generate_scenes(10, seed=1, min_objects=2, max_objects=3, split="all")
    true, recoloured = zs.recolor_captions(scenes)
    for i, (t, r) in enumerate(zip(true, recoloured)):
        changed = [(a, b) for a, b in zip(t.split(), r.split()) if a != b]
        assert len(changed) <= 2 and t != r  # the colour word (and maybe its article: a/an)
        new = [b for a, b in changed if b in sw.COLORS][0]
        assert sw.COLORS.index(new) not in scenes.colors[i]
    with pytest.raises(ValueError, match="at least 2 objects"):
        zs.recolor_captions(sw.generate_scenes(2, seed=0))


def test_linear_probe_restores_the_thread_count():
    feats, labels, _ = clusters()
    before = torch.get_num_threads()
    zs.fit_linear_probe(feats, labels, 3, steps=5)
    assert torch.get_num_threads() == before


def test_position_captions_move_the_object_to_every_cell():
    scenes = sw.generate_scenes(5, seed=2)
    caps = zs.position_captions(scenes)
    assert len(caps) == 9 and all(len(c) == 5 for c in caps)
    for i in range(5):
        assert caps[scenes.cells[i, 0]][i] == sw.make_captions(scenes, template=2)[i]
        assert len({caps[c][i] for c in range(9)}) == 9
        assert all(c[i].endswith(p) for c, p in zip(caps, sw.POSITION_PHRASES))
    with pytest.raises(ValueError, match="does not mention the position"):
        zs.position_captions(scenes, template=0)
    with pytest.raises(ValueError, match="single-object"):
        zs.position_captions(sw.generate_scenes(3, seed=0, min_objects=2, max_objects=2))


def test_candidate_accuracy():
    img = unit(5, 4, seed=8)
    cands = torch.stack([unit(5, 4, seed=9), img, unit(5, 4, seed=10)])  # candidate 1 is the image itself
    assert zs.candidate_accuracy(img, cands, np.ones(5, dtype=int)) == 1.0
    assert zs.candidate_accuracy(img, cands, np.zeros(5, dtype=int)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        zs.candidate_accuracy(img, cands[:, :3], np.ones(5, dtype=int))
    with pytest.raises(TypeError, match="integer"):
        zs.candidate_accuracy(img, cands, np.ones(5))


def test_text_prototypes_bad_input(model, tok):
    with pytest.raises(TypeError, match="list of strings"):
        zs.text_prototypes(model, tok, "a red circle")
    with pytest.raises(ValueError, match="empty"):
        zs.text_prototypes(model, tok, [])
