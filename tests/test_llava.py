"""Tiny LLaVA: projector equality, <image> expansion vs LlavaProcessor, label masking, stages,
generation on the shipped model, evaluation metrics, and bad inputs."""

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch
from transformers.models.llava.modeling_llava import LlavaMultiModalProjector

from course_lib.base.paths import data_path
from course_lib.budgets import tokens_per_image
from course_lib.models import llava
from course_lib.models.causal_lm import build_tiny_lm
from course_lib.models.clip import tiny_clip_config
from course_lib.models.dual_encoder import image_processor, to_pixel_values
from course_lib.recipes import LLAVA_CHECKPOINT, SEEDS, LLaVARecipe
from course_lib.shapes_world import (
    COLORS,
    COUNT_WORDS,
    POSITIONS,
    QA,
    RELATIONS,
    SHAPES,
    SIZES,
    generate_scenes,
    make_vqa,
)
from course_lib.shapes_world import cell_patches as sw_cell_patches
from course_lib.shapes_world import vocabulary as sw_vocabulary
from course_lib.tokenizer import build_tokenizer

ANSWERS = set(COLORS) | set(SHAPES) | set(SIZES) | set(POSITIONS) | set(COUNT_WORDS) | set(RELATIONS) | {"yes", "no"}


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


@pytest.fixture(scope="module")
def random_llava(tok):
    """A tiny LLaVA with a random tower and a random LM: enough for shapes and plumbing."""
    return llava.build_tiny_llava(
        tiny_clip_config(tok).vision_config,
        build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1),
        tok,
    )


@pytest.fixture(scope="module")
def shipped():
    return llava.load_tiny_llava()


def test_scratch_projector_equals_llava_projector(random_llava):
    hf = random_llava.model.multi_modal_projector
    assert isinstance(hf, LlavaMultiModalProjector)
    scratch = llava.Projector(hf.linear_1.in_features, hf.linear_2.out_features, kind="mlp")
    scratch.load_state_dict(hf.state_dict())
    x = torch.randn(3, 36, hf.linear_1.in_features)
    torch.testing.assert_close(scratch(x), hf(x))
    linear = llava.Projector(96, 32, kind="linear")
    assert linear(x[..., :96]).shape == (3, 36, 32) and sum(p.numel() for p in linear.parameters()) == 96 * 32 + 32
    with pytest.raises(ValueError, match="channels"):
        scratch(torch.randn(2, 36, 7))
    with pytest.raises(ValueError, match="kind"):
        llava.Projector(4, 4, kind="conv")


def test_processor_inserts_s_over_p_squared_tokens(tok):
    processor = llava.build_processor(tok)
    scenes = generate_scenes(3, seed=1, max_objects=3)
    out = processor(images=list(scenes.images), text=["<image> how many objects are there ?"] * 3, return_tensors="pt")
    n = (48 // 8) ** 2
    assert tokens_per_image(48, 8) == n == 36 and tokens_per_image(48, 8, strategy="full") == 37
    assert ((out["input_ids"] == tok.image_token_id).sum(1) == n).all()
    torch.testing.assert_close(out["pixel_values"], to_pixel_values(scenes.images))
    # the training batch builds the same ids without the processor
    batch = llava.llava_batch(tok, scenes.images, [[("how many objects are", "there ?")]] * 3)
    assert torch.equal(batch["input_ids"], out["input_ids"])
    expanded = tok(llava.expand_image_token("<image> how many objects are there ?", n), return_tensors="pt")[
        "input_ids"
    ]
    assert torch.equal(expanded[0], out["input_ids"][0])


def test_labels_cover_only_the_answers_and_their_eos(tok):
    batch = llava.llava_batch(
        tok,
        generate_scenes(2, seed=0).images,
        [
            [("where is the red circle ?", "top left")],
            [("is there a red circle ?", "no"), ("what color is the circle ?", "red")],
        ],
    )
    labelled = [row[row != -100].tolist() for row in batch["labels"]]
    assert tok.decode(labelled[0]) == "top left <eos>" and tok.decode(labelled[1]) == "no <eos> red <eos>"
    assert batch["attention_mask"][0].sum() == 1 + 36 + 9 and batch["input_ids"].shape == (2, 1 + 36 + 16)
    blind = llava.llava_batch(tok, None, [[("is there a red circle ?", "no")]])
    assert "pixel_values" not in blind and tok.image_token_id not in blind["input_ids"]
    for bad in ([], [[]], [["is there a red circle ?"]], [[("is there a red circle ?", "")]]):
        with pytest.raises(ValueError, match="conversation|answer"):
            llava.llava_batch(tok, None, bad)
    with pytest.raises(ValueError, match="unknown word"):
        llava.llava_batch(tok, None, [[("is there a red elephant ?", "no")]])


def test_conversations_ask_every_question_type_once(tok):
    scenes = llava.vqa_scenes(6, seed=5)
    conversations = llava.vqa_conversations(scenes, seed=5, turns=7)
    assert np.array_equal(scenes.images, generate_scenes(6, seed=5, min_objects=1, max_objects=3, split="all").images)
    for conversation, n in zip(conversations, scenes.n_objects):
        assert len(conversation) == (7 if n >= 2 else 6)  # relation needs two objects
        assert len({q for q, _ in conversation}) == len(conversation)
    assert [len(c) for c in llava.vqa_conversations(scenes, seed=5, turns=2)] == [2] * 6
    batch = llava.vqa_batch(tok, 6, seed=5, turns=7)
    eos_labels = (batch["labels"] == tok.eos_token_id).sum(1)
    assert eos_labels.tolist() == [len(c) for c in conversations]
    with pytest.raises(ValueError, match="turns"):
        llava.vqa_conversations(scenes, seed=5, turns=8)


def test_cells_first_spells_out_only_relation_answers_and_final_answer_reads_them_back():
    scenes = llava.vqa_scenes(40, seed=6)
    plain = llava.vqa_conversations(scenes, seed=6)
    steps = llava.vqa_conversations(scenes, seed=6, cells_first=True)
    relations = [(q, a, b) for c, d in zip(plain, steps) for (q, a), (_, b) in zip(c, d) if " relative to " in q]
    assert relations and all(a == b for c, d in zip(plain, steps) for (q, a), (_, b) in zip(c, d)
                             if " relative to " not in q)
    for q, answer, spelled in relations:
        first, second = spelled.rsplit(" is ", 1)[0].split(" and ")
        assert first in POSITIONS and second in POSITIONS and first != second
        assert llava.final_answer(q, spelled) == answer and spelled.endswith(" is " + answer)
    qa = next(q for q in make_vqa(scenes, seed=6) if q.kind == "relation")
    i = qa.scene
    a = [k for k in range(3) if f"{COLORS[scenes.colors[i, k]]} {SHAPES[scenes.shapes[i, k]]}" in qa.question]
    cells = {POSITIONS[scenes.cells[i, k]] for k in a}
    assert set(llava.relation_steps(scenes, qa).rsplit(" is ", 1)[0].split(" and ")) == cells
    assert llava.final_answer("what color is the circle ?", "red") == "red"
    assert llava.final_answer(qa.question, "") == ""  # a model that stops at once answers nothing
    with pytest.raises(ValueError, match="relation question of make_vqa"):
        llava.relation_steps(generate_scenes(2, seed=99), qa)
    with pytest.raises(TypeError, match="cells_first"):
        llava.vqa_conversations(scenes, seed=6, cells_first="yes")


def test_objects_first_lists_the_objects_by_colour_only_in_colour_answers():
    scenes = llava.vqa_scenes(60, seed=8)
    plain = llava.vqa_conversations(scenes, seed=8, cells_first=True)
    steps = llava.vqa_conversations(scenes, seed=8, cells_first=True, objects_first=True)
    pairs = [(q, a, b) for c, d in zip(plain, steps) for (q, a), (_, b) in zip(c, d)]
    colour = [(q, a, b) for q, a, b in pairs if q.startswith("what color")]
    assert colour and all(a == b for q, a, b in pairs if not q.startswith("what color"))
    for q, answer, spelled in colour:
        named = [tuple(o.split()) for o in spelled.rsplit(" is ", 1)[0].split(" and ")]
        i = next(k for k, conversation in enumerate(steps) if (q, spelled) in conversation)
        n = int(scenes.n_objects[i])
        objects = zip(scenes.colors[i, :n], scenes.shapes[i, :n])
        assert sorted(named) == sorted((COLORS[c], SHAPES[s]) for c, s in objects)
        assert (answer, q.split()[4]) in named  # the asked object is listed with its colour
        assert [COLORS.index(c) for c, _ in named] == sorted(COLORS.index(c) for c, _ in named)  # palette order
        assert llava.final_answer(q, spelled) == answer and len(spelled.split()) < llava.ANSWER_TOKENS
    qa = next(q for q in make_vqa(scenes, seed=8) if q.kind == "color")
    with pytest.raises(ValueError, match="colour question of make_vqa"):
        llava.colour_steps(generate_scenes(2, seed=99), qa)
    with pytest.raises(TypeError, match="objects_first"):
        llava.vqa_conversations(scenes, seed=8, objects_first=1)


def test_token_mismatch_raises(tok, random_llava):
    scenes = generate_scenes(1, seed=0)
    wrong = llava.LlavaProcessor(
        image_processor=image_processor(48), tokenizer=tok, patch_size=8, vision_feature_select_strategy="default"
    )  # forgot num_additional_image_tokens=1
    out = wrong(images=list(scenes.images), text=["<image> how many objects are there ?"], return_tensors="pt")
    assert int((out["input_ids"] == tok.image_token_id).sum()) == 35
    with pytest.raises(ValueError, match="do not match"):
        random_llava(**out)
    with pytest.raises(ValueError, match="number of <image> tokens"):  # a prompt without <image>
        llava.build_processor(tok)(images=list(scenes.images), text=["how many objects are there ?"])
    text_only = tok(["how many objects are there ?"], return_tensors="pt")
    with pytest.raises(ValueError, match="do not match"):  # pixel values but no placeholder in the ids
        random_llava(**text_only, pixel_values=to_pixel_values(scenes.images))


def test_stages_freeze_the_right_parts(random_llava):
    llava.set_stage(random_llava, 1)
    counts = llava.count_parameters(random_llava)
    assert counts["vision tower"][1] == 0 and counts["language model"][1] == 0 and counts["projector"][1] > 0
    llava.set_stage(random_llava, 2)
    counts = llava.count_parameters(random_llava)
    assert counts["vision tower"][1] == 0 and counts["language model"][1] == counts["language model"][0]
    with pytest.raises(ValueError, match="stage"):
        llava.set_stage(random_llava, 3)


def test_one_training_step_through_the_shared_loop(tok, random_llava):
    result = llava.train_stage(random_llava, tok, 2, steps=2, batch_size=4, progress=False)
    assert result.steps == 2 and all(np.isfinite(result.losses))


def test_patch_targets_label_each_objects_cell_and_nothing_else():
    scenes = generate_scenes(20, seed=3, min_objects=1, max_objects=3, split="all")
    targets = llava.patch_targets(scenes)
    assert targets.shape == (20, 36, 3)
    for i in range(20):
        labelled = (targets[i, :, 2] < 9).nonzero().flatten().tolist()
        assert len(labelled) == 4 * scenes.n_objects[i]
        for k in range(scenes.n_objects[i]):
            cell = int(scenes.cells[i, k])
            for p in sw_cell_patches(cell):
                assert targets[i, p].tolist() == [scenes.colors[i, k], scenes.shapes[i, k], cell]
    assert (targets[:, :, 0] <= len(COLORS)).all() and (targets[:, :, 1] <= len(SHAPES)).all()


def test_patch_loss_adds_the_heads_loss_and_leaves_the_saved_model_unchanged(tok):
    def fresh():
        return llava.build_tiny_llava(tiny_clip_config(tok).vision_config,
                                      build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1), tok)

    plain, with_head = fresh(), fresh()
    keys = set(plain.state_dict())
    a = llava.train_stage(plain, tok, 2, steps=2, batch_size=4, lr=1e-3, progress=False)
    b = llava.train_stage(with_head, tok, 2, steps=2, batch_size=4, lr=1e-3, patch_loss=1.0, progress=False)
    # same batches and weights at step 0: the difference is the head's loss at initialisation, about
    # ln 7 + ln 6 + ln 10 = 6.1 for three uniform guesses
    assert 4.0 < b.losses[0] - a.losses[0] < 8.0
    assert set(with_head.state_dict()) == keys  # the head is not part of the model
    assert not with_head.model.multi_modal_projector._forward_hooks  # the capture hook is removed


@pytest.mark.parametrize(
    "kwargs, error, match",
    [({"patch_loss": -1.0}, ValueError, "patch_loss must be a weight"),
     ({"patch_loss": "1"}, TypeError, "patch_loss must be a number"),
     ({"patch_loss": 1.0, "blind": True}, ValueError, "stage 2 with the image")],
)
def test_patch_loss_refuses_bad_weights_and_the_blind_model(tok, random_llava, kwargs, error, match):
    with pytest.raises(error, match=match):
        llava.train_stage(random_llava, tok, 2, steps=1, batch_size=2, progress=False, **kwargs)
    with pytest.raises(ValueError, match="stage 2 with the image"):
        llava.train_stage(random_llava, tok, 1, steps=1, batch_size=2, progress=False, patch_loss=1.0)


def test_patch_loss_needs_one_image_token_per_patch(tok):
    model = llava.build_tiny_llava(tiny_clip_config(tok).vision_config,
                                   build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1), tok)
    model.config.image_seq_length = 37  # the class token kept (strategy "full")
    with pytest.raises(ValueError, match="one image token per patch"):
        llava.train_stage(model, tok, 2, steps=1, batch_size=2, progress=False, patch_loss=1.0)


def test_generation_on_shipped_model_answers_from_the_vocabulary(shipped):
    model, tok = shipped
    scenes, qa = llava.eval_set(60, SEEDS.llava_eval)
    metrics, predictions = llava.evaluate(model, tok, scenes, qa)
    vocabulary = set(sw_vocabulary())
    assert all(predictions) and all(set(p.split()) <= vocabulary for p in predictions)
    assert np.mean([p in ANSWERS for p in predictions]) >= 0.9  # nearly always a well-formed answer
    single = [llava.generate_answers(model, tok, scenes.images[[q.scene]], [q.question])[0] for q in qa[:8]]
    assert [llava.final_answer(q.question, a) for q, a in zip(qa, single)] == predictions[:8]  # left padding
    relation = [q for q in qa if q.kind == "relation"]
    spelled = llava.generate_answers(model, tok, scenes.images[[q.scene for q in relation]],
                                     [q.question for q in relation])
    assert all(a.split(" is ")[0].split(" and ")[0] in POSITIONS for a in spelled)  # trained with cells_first


def test_bad_inputs_raise(shipped):
    model, tok = shipped
    big = generate_scenes(1, seed=0, image_size=64).images
    with pytest.raises(ValueError, match="48x48"):
        llava.generate_answers(model, tok, big, ["how many objects are there ?"])
    with pytest.raises(ValueError, match="2 images but 1 questions"):
        llava.generate_answers(model, tok, generate_scenes(2, seed=0).images, ["how many objects are there ?"])
    with pytest.raises(TypeError, match="list"):
        llava.generate_answers(model, tok, None, "is there a red circle ?")


def test_vqa_metrics_and_yes_rate():
    qa = [
        QA(0, "exists", "is there a red circle ?", "no"),
        QA(0, "exists", "is there a blue square ?", "no"),
        QA(0, "exists", "is there a green cross ?", "yes"),
        QA(0, "count", "how many objects are there ?", "two"),
    ]
    m = llava.vqa_metrics(qa, ["yes", "no", "yes", "two"])
    assert m["exists"] == pytest.approx(2 / 3) and m["count"] == 1.0 and m["overall"] == 0.75
    assert m["yes_rate_absent"] == 0.5
    with pytest.raises(ValueError, match="predictions"):
        llava.vqa_metrics(qa, ["yes"])
    assert "overall" in llava.metrics_table({"llava": m, "blind": m})


def test_shipped_model_reproduces_its_metrics_and_beats_the_blind_baseline(shipped):
    model, tok = shipped
    recorded = json.loads((data_path(llava.TINY_LLAVA) / "metrics.json").read_text())
    scenes, qa = llava.eval_set(1000, SEEDS.llava_eval)
    metrics, _ = llava.evaluate(model, tok, scenes, qa)
    assert {k: round(v, 4) for k, v in metrics.items()} == pytest.approx(recorded["llava"], abs=1e-4)
    assert metrics["overall"] > recorded["blind"]["overall"] + 0.15  # the image is used, not only priors


def test_shipped_metrics_hold_every_slice_of_the_large_evaluation():
    recorded = json.loads((data_path(llava.TINY_LLAVA) / "metrics.json").read_text())
    large = recorded["eval_3000"]
    assert large["questions"] >= 3000 and large["seed"] == SEEDS.llava_eval_large != SEEDS.llava_eval
    for name in ("llava", "blind"):
        slices = large[f"{name}_slices"]
        assert sum(s["questions"] for s in slices.values()) == large["questions"]
        assert all(s["questions"] >= 100 for s in slices.values())  # each slice can be judged to about +-0.08


def test_ablation_rows_are_earlier_builds_one_change_apart():
    """data/tiny_llava/ablation.json: each earlier build's recipe differs from the next (the last from the shipped
    recipe) in exactly one field, so each row of notebook 05's table names one change."""
    rows = json.loads((data_path(llava.TINY_LLAVA) / "ablation.json").read_text())["rows"]
    recipes = [asdict(LLaVARecipe(**r["recipe"])) for r in rows] + [asdict(LLAVA_CHECKPOINT)]
    for before, after in zip(recipes, recipes[1:]):
        assert sum(before[k] != after[k] for k in after) == 1
    recorded = json.loads((data_path(llava.TINY_LLAVA) / "metrics.json").read_text())
    for r in rows:
        assert r["label"] and set(r["llava"]) == set(recorded["llava"])
        assert r["eval_3000"]["llava_slices"].keys() == recorded["eval_3000"]["llava_slices"].keys()


def test_shipped_blind_baseline_reproduces_its_metrics():
    model, tok = llava.load_blind_baseline()
    recorded = json.loads((data_path(llava.TINY_LLAVA) / "metrics.json").read_text())
    scenes, qa = llava.eval_set(1000, SEEDS.llava_eval)
    metrics, _ = llava.evaluate(model, tok, scenes, qa, blind=True)
    assert {k: round(v, 4) for k, v in metrics.items()} == pytest.approx(recorded["blind"], abs=1e-4, nan_ok=True)


def test_sliced_metrics_split_by_type_and_objects():
    scenes = generate_scenes(60, seed=4)
    qa = make_vqa(scenes, seed=4)
    truth = [q.answer for q in qa]
    wrong_on_3 = [("zzz" if scenes.n_objects[q.scene] == 3 else q.answer) for q in qa]
    perfect = llava.sliced_metrics(scenes, qa, truth)
    assert all(v["accuracy"] == 1.0 for v in perfect.values())
    assert sum(v["questions"] for v in perfect.values()) == len(qa) and "relation, 1 object" not in perfect
    split = llava.sliced_metrics(scenes, qa, wrong_on_3)
    assert all(v["accuracy"] == (0.0 if k.endswith("3 objects") else 1.0) for k, v in split.items())
    with pytest.raises(ValueError, match="predictions"):
        llava.sliced_metrics(scenes, qa, truth[:-1])


def test_ask_your_own_question_view(shipped):
    import matplotlib.pyplot as plt
    from IPython.display import Markdown

    model, tok = shipped
    scenes = generate_scenes(3, seed=9)
    fig = llava.render_answers({"tiny LLaVA": (model, True), "no image": (model, False)}, tok, scenes, 0,
                               "How many objects are there?")
    text = "".join(t.get_text() for t in fig.axes[1].texts)
    plt.close(fig)
    assert "true answer: " + COUNT_WORDS[scenes.n_objects[0]] in text and "(no image)" in text
    assert "[right]" in text or "[wrong]" in text
    refused = llava.render_answers({"m": (model, True)}, tok, scenes, 0, "what colour is the zebra ?")
    assert isinstance(refused, Markdown) and "zebra" in refused.data and "colour" in refused.data
    assert isinstance(llava.render_answers({"m": (model, True)}, tok, scenes, 0, "  "), Markdown)
    free = llava.render_answers({"m": (model, True)}, tok, scenes, 0, "is the circle red")
    assert "not one of the course's question forms" in "".join(t.get_text() for t in free.axes[1].texts)
    plt.close(free)
    with pytest.raises(TypeError, match="models must be a non-empty dict"):
        llava.render_answers({"m": model}, tok, scenes, 0, "how many objects are there ?")
    with pytest.raises(ValueError, match="index must be"):
        llava.render_answers({"m": (model, True)}, tok, scenes, 3, "how many objects are there ?")


def test_build_tiny_llava_needs_a_tower_or_its_config(tok, random_llava):
    assert random_llava.config.vision_config.hidden_size == tiny_clip_config(tok).vision_config.hidden_size
    with pytest.raises(TypeError, match="vision must be a trained CLIPModel"):
        llava.build_tiny_llava(None, build_tiny_lm(tok, seed=0, hidden_size=32, layers=1, heads=2, kv_heads=1), tok)
