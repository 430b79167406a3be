"""Notebook 06's bridges: scratch cross-attention vs Blip2QFormerModel, which layers cross-attend, the BLIP-2
placeholder leak and its guard, the resampler's fixed output length, gated cross-attention identity at init and
gates-only gradients, the FLOP formula vs FlopCounterMode, one training step, and bad inputs."""

import copy

import pytest
import torch

from course_lib.models import bridges as br
from course_lib.models import cross_attention as xa
from course_lib.models import qformer as qf
from course_lib.models.causal_lm import build_tiny_lm
from course_lib.models.resampler import ResamplerBridge
from course_lib.tokenizer import build_tokenizer


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


@pytest.fixture(scope="module")
def lm(tok):
    return build_tiny_lm(tok, seed=0, hidden_size=32, layers=2, heads=4, kv_heads=2)


def test_scratch_qformer_equals_blip2_qformer_for_any_number_of_image_tokens():
    torch.manual_seed(0)
    config = qf.qformer_config(hidden_size=64, layers=2, encoder_hidden_size=96)
    library = qf.Blip2QFormerModel(config).eval()
    scratch = qf.ScratchQFormer(config)
    scratch.load_state_dict(library.state_dict())  # strict: the names match one to one
    queries = torch.randn(2, 8, 64)
    for n in (37, 500):
        features = torch.randn(2, n, 96)
        ours, maps = scratch(queries, features, return_cross_attention=True)
        torch.testing.assert_close(
            ours, library(query_embeds=queries, encoder_hidden_states=features).last_hidden_state
        )
        assert ours.shape == (2, 8, 64) and maps[0].shape == (2, 4, 8, n)
        torch.testing.assert_close(maps[0].sum(-1), torch.ones(2, 4, 8))


def test_which_layers_cross_attend():
    assert qf.cross_attending_layers(12, 2) == [0, 2, 4, 6, 8, 10]
    library = qf.Blip2QFormerModel(qf.qformer_config(hidden_size=16, layers=12, heads=2, cross_attention_frequency=2))
    assert [i for i, layer in enumerate(library.encoder.layer) if layer.has_cross_attention] == [0, 2, 4, 6, 8, 10]
    assert qf.cross_attending_layers(4, 1) == [0, 1, 2, 3] and qf.cross_attending_layers(5, 3) == [0, 3]


def test_bridges_give_k_tokens_whatever_the_input_length():
    for bridge in (qf.QFormerBridge(8, 64, 32), ResamplerBridge(8, 64, 32)):
        for n in (36, 500):
            assert bridge(torch.randn(3, n, 64)).shape == (3, 8, 32)


def test_bad_bridge_inputs_raise():
    with pytest.raises(ValueError, match="num_queries"):
        qf.QFormerBridge(0, 64, 32)
    with pytest.raises(ValueError, match="latents"):
        ResamplerBridge(0, 64, 32)
    with pytest.raises(ValueError, match=r"\(B, N, 64\)"):
        qf.QFormerBridge(4, 64, 32)(torch.randn(2, 36, 96))
    with pytest.raises(ValueError, match="3-D"):
        ResamplerBridge(4, 64, 32)(torch.randn(36, 64))


def test_blip2_default_image_token_index_fails_opaquely_and_the_guard_explains(tok, lm):
    ids = torch.tensor([[tok.bos_token_id] + [tok.image_token_id] * 4 + [10, 11]])
    pixels = torch.randn(1, 3, 48, 48)
    with pytest.raises(AttributeError, match="unsqueeze"):
        qf.tiny_blip2(lm, None, num_query_tokens=4)(input_ids=ids, pixel_values=pixels)
    with pytest.raises(ValueError, match="image_token_index is None"):
        qf.guarded_blip2_forward(qf.tiny_blip2(lm, None, num_query_tokens=4), input_ids=ids, pixel_values=pixels)


def test_blip2_leaks_query_outputs_across_samples_and_the_guard_raises(tok, lm):
    model = qf.tiny_blip2(lm, tok.image_token_id, num_query_tokens=4)
    pixels = torch.randn(2, 3, 48, 48)
    short = torch.tensor([[tok.bos_token_id] + [tok.image_token_id] * 2 + [10, 11]] * 2)  # K - 2 placeholders
    slots, features = qf.placeholder_contents(model, short, pixels)
    torch.testing.assert_close(slots[1], features[0, 2:4])  # row 1's slots hold image 0's queries 2 and 3
    with pytest.raises(ValueError, match="exactly 4 image placeholders"):
        qf.guarded_blip2_forward(model, input_ids=short, pixel_values=pixels)
    good = torch.tensor([[tok.bos_token_id] + [tok.image_token_id] * 4 + [10, 11]] * 2)
    assert qf.guarded_blip2_forward(model, input_ids=good, pixel_values=pixels).logits.shape == (2, 7, len(tok))
    with pytest.raises(ValueError, match="48 px"):
        qf.guarded_blip2_forward(model, input_ids=good, pixel_values=torch.randn(2, 3, 64, 64))


def test_scratch_gated_block_equals_idefics_layer(lm):
    model = xa.build_tiny_idefics(lm, vision_width=64)
    layer = model.model.gated_cross_attn_layers[0]
    with torch.no_grad():
        layer.alpha_cross_attn.fill_(0.3)
        layer.alpha_dense.fill_(-0.2)
    scratch = xa.GatedCrossAttentionBlock(32, 64, 4, lm.config.intermediate_size)
    scratch.load_state_dict(layer.state_dict())
    x, image = torch.randn(2, 5, 32), torch.randn(2, 36, 64)
    library = layer(
        x, None, image, image_attention_mask=torch.zeros(2, 1, 5, 36), cross_attention_gate=torch.ones(2, 5)
    )
    torch.testing.assert_close(scratch(x, image), library)


def test_gated_lm_is_the_frozen_lm_at_init_and_only_gates_get_a_gradient(tok, lm):
    model = br.build_bridge_vlm("xattn", lm, tok, vision_width=64)
    ids = torch.tensor([[tok.bos_token_id, 10, 11, 12, 13]] * 2)
    reference = lm(input_ids=ids).logits
    for features in (torch.randn(2, 36, 64), torch.zeros(2, 36, 64)):
        torch.testing.assert_close(model(features=features, input_ids=ids).logits, reference, rtol=0, atol=0)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("gated_cross_attn_layers" in n for n in trainable)
    model(features=torch.randn(2, 36, 64), input_ids=ids, labels=ids).loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    nonzero = {n for n, g in grads.items() if g is not None and g.abs().max() > 0}
    assert nonzero and all(n.split(".")[-1] in ("alpha_cross_attn", "alpha_dense") for n in nonzero)


def test_kv_repeat_matches_grouped_query_attention():
    w = torch.arange(4 * 3 * 2, dtype=torch.float).view(4 * 3, 2)  # 4 KV heads of dim 3
    out = xa.repeat_kv_weight(w, 4, 8)
    assert out.shape == (8 * 3, 2) and torch.equal(out[3:6], w[0:3]) and torch.equal(out[6:9], w[3:6])
    with pytest.raises(ValueError, match="multiple"):
        xa.repeat_kv_weight(w, 3, 8)


def test_flop_formula_matches_flop_counter(tok, lm):
    from transformers import LlamaForCausalLM

    eager_lm = LlamaForCausalLM(lm.config).eval()
    eager_lm.set_attn_implementation("eager")
    for t in (7, 45):
        ids = torch.randint(5, len(tok), (1, t))
        assert br.count_flops(lambda ids=ids: eager_lm(input_ids=ids)) == br.lm_prefill_flops(lm.config, t)


def test_prefix_vlm_guards_placeholders_and_trains_one_step(tok, lm):
    model = br.build_bridge_vlm("qformer", lm, tok, num_tokens=4, vision_width=64)
    assert br.trainable_parameters(model) == sum(p.numel() for p in model.bridge.parameters())
    pool = br.FeaturePool(torch.randn(6, 36, 64), [[("how many objects are there ?", "two")]] * 6,
                          torch.full((6, 3, 3), -1))
    result = br.train_bridge(model, tok, pool, steps=2, batch_size=3, lr=1e-3, progress=False)
    assert result.steps == 2 and all(torch.isfinite(torch.tensor(result.losses)))
    bad = torch.tensor([[tok.bos_token_id] + [tok.image_token_id] * 3 + [10]])
    with pytest.raises(ValueError, match="exactly 4 image placeholders"):
        model(features=torch.randn(1, 36, 64), input_ids=bad)
    answers = br.answer_questions(
        model, tok, torch.randn(2, 36, 64), ["how many objects are there ?", "is there a red circle ?"]
    )
    assert len(answers) == 2
    with pytest.raises(ValueError, match="one question per feature row"):
        br.answer_questions(model, tok, torch.randn(2, 36, 64), ["how many objects are there ?"])
    with pytest.raises(ValueError, match="kind"):
        br.build_bridge_vlm("conv", lm, tok)


def test_vision_features_and_budget_text_check_their_inputs():
    from course_lib.models.clip import load_tiny_clip
    from course_lib.shapes_world import generate_scenes

    clip, _ = load_tiny_clip()
    assert br.vision_features(clip, generate_scenes(2, seed=0).images).shape == (2, 36, 64)
    with pytest.raises(ValueError, match="48, 48"):
        br.vision_features(clip, generate_scenes(1, seed=0, image_size=64).images)
    text = br.render_bridge_budget(32, 336, 14, "7B (GQA: 8 KV heads)", measured={8: 0.5})
    assert "576 visual tokens" in text and "32 visual tokens" in text and "K=8: 0.500" in text
    with pytest.raises(ValueError, match="queries"):
        br.render_bridge_budget(0)
    with pytest.raises(ValueError, match="lm"):
        br.render_bridge_budget(8, lm="13B")


def test_instructblip_queries_read_the_question_and_only_they_look_at_the_image(tok, lm):
    model = br.build_bridge_vlm("instructblip", lm, tok, num_tokens=4, vision_width=64)
    assert br.reads_instruction(model) and not br.reads_instruction(br.build_bridge_vlm("qformer", lm, tok))
    features = torch.randn(2, 36, 64)
    questions = ["what color is the circle ?", "how many objects are there ?"]
    inputs = br.instruction_inputs(tok, questions)
    padded = br.instruction_inputs(tok, ["is there a circle ?", "what color is the circle ?"])
    assert padded["instruction_mask"].tolist() == [[1] * 5 + [0], [1] * 6]  # the shorter question is padded
    out = model.bridge(features[[0, 0]], inputs["instruction_ids"], inputs["instruction_mask"])
    assert out.shape == (2, 4, lm.config.hidden_size) and not torch.allclose(out[0], out[1])
    maps = br.query_maps(model, tok, features, questions)
    assert maps.shape == (2, 4, 36) and torch.allclose(maps.sum(-1), torch.ones(2, 4))
    ids = torch.tensor([[tok.bos_token_id] + [tok.image_token_id] * 4 + [10]])
    with pytest.raises(ValueError, match="instruction_ids"):
        model(features=features[:1], input_ids=ids)
    pool = br.FeaturePool(torch.randn(6, 36, 64), [[("how many objects are there ?", "two"),
                                                    ("what color is the circle ?", "red")]] * 6,
                          torch.full((6, 3, 3), -1))
    with pytest.raises(ValueError, match="one question per image"):
        br.bridge_batch(model, tok, pool, [0, 1])
    batch = br.bridge_batch(model, tok, pool, [0, 1], turns=[0, 1])
    assert tok.decode(batch["instruction_ids"][1][batch["instruction_mask"][1] == 1]) == "what color is the circle ?"
    result = br.train_bridge(model, tok, pool, steps=2, batch_size=3, lr=1e-3, progress=False, one_turn=True)
    assert result.steps == 2
    assert len(br.answer_questions(model, tok, features, questions)) == 2
    with pytest.raises(ValueError, match="instructblip"):
        br.query_maps(br.build_bridge_vlm("qformer", lm, tok), tok, features, questions)


@pytest.mark.parametrize("kind", ["mlp", "xattn"])
def test_train_lm_makes_the_language_model_trainable_and_keeps_the_vision_tower_frozen(tok, lm, kind):
    frozen = br.build_bridge_vlm(kind, lm, tok, num_tokens=4, vision_width=64)
    trained = br.build_bridge_vlm(kind, copy.deepcopy(lm), tok, num_tokens=4, vision_width=64, train_lm=True)
    lm_params = sum(p.numel() for n, p in lm.named_parameters() if "embed_tokens" not in n and "lm_head" not in n)
    assert br.trainable_parameters(trained) > br.trainable_parameters(frozen) + lm_params
    if kind == "xattn":
        assert not any(p.requires_grad for p in trained.model.model.vision_model.parameters())


def test_named_object_share_and_example_maps_read_the_scenes(tok, lm):
    from course_lib.shapes_world import generate_scenes

    scenes = generate_scenes(12, seed=3, min_objects=1, max_objects=3)
    model = br.build_bridge_vlm("instructblip", lm, tok, num_tokens=4, vision_width=64)
    features = torch.randn(12, 36, 64)
    share = br.named_object_share(model, tok, scenes, features)
    assert share["uniform"] == 4 / 36 and 0 < share["named"] < 1 and share["questions"] > 0
    example = br.example_maps(model, tok, scenes, features)
    assert scenes.n_objects[example["scene"]] == 2 and len(example["questions"]) == 2
    assert torch.tensor(example["maps"]).shape == (2, 4, 36)
    single = generate_scenes(3, seed=3, min_objects=1, max_objects=1)
    with pytest.raises(ValueError, match="different shapes"):
        br.named_object_share(model, tok, single, features[:3])


def test_shipped_bridges_follow_the_recipes():
    from dataclasses import asdict

    from course_lib.recipes import (
        BRIDGE_ABLATIONS,
        BRIDGE_ONE_TURN_ROWS,
        BRIDGE_ROWS,
        BRIDGES_CHECKPOINT,
        BRIDGES_LM_TRAINED,
        BRIDGES_ONE_TURN,
    )
    from course_lib.tools.checkpoints import load_metrics

    shipped = load_metrics("bridges")
    for part, recipe, rows in ((shipped, BRIDGES_CHECKPOINT, BRIDGE_ROWS),
                               (shipped["lm_trained"], BRIDGES_LM_TRAINED, BRIDGE_ROWS),
                               (shipped["one_turn"], BRIDGES_ONE_TURN, BRIDGE_ONE_TURN_ROWS)):
        assert {k: part["recipe"][k] for k in asdict(recipe)} == asdict(recipe)
        assert list(part["rows"]) == [name for name, _, _ in rows]
        assert all(part["rows"][name]["kind"] == kind for name, kind, _ in rows)
        for name, kind, _ in rows:  # the slot loss goes to the pooling bridges only
            assert part["rows"][name]["positions"] == recipe.positions
            assert part["rows"][name]["slot_loss"] == (recipe.slot_loss if kind in br.POOLING_KINDS else 0.0)
            assert part["rows"][name]["slot_steps"] == (recipe.slot_steps if kind in br.POOLING_KINDS else 0)
    ablation = shipped["ablation"]["rows"]
    assert list(ablation) == [name for (name, _, _), _ in BRIDGE_ABLATIONS]
    for (name, kind, _), recipe in BRIDGE_ABLATIONS:
        assert (ablation[name]["kind"], ablation[name]["positions"], ablation[name]["slot_loss"],
                ablation[name]["slot_steps"]) == (kind, recipe.positions, recipe.slot_loss, recipe.slot_steps)


def test_building_a_bridge_keeps_the_callers_thread_count(tok, lm):
    from course_lib.base.seeding import torch_threads

    with torch_threads(1):  # a build at a fixed count must stay there whatever the machine's load
        br.build_bridge_vlm("qformer", lm, tok, num_tokens=2)
        assert torch.get_num_threads() == 1


def test_add_positions_writes_each_patchs_grid_position_into_its_features():
    from course_lib.patches import sincos_position_embeddings

    features = torch.randn(2, 36, 64)
    out = br.add_positions(features, 3.0)
    expected = 3.0 * torch.from_numpy(sincos_position_embeddings(6, 6, 64)).expand(2, -1, -1)
    assert torch.allclose(out - features, expected, atol=1e-6)
    assert br.add_positions(features, 0.0) is features
    with pytest.raises(ValueError, match="square grid"):
        br.add_positions(torch.randn(2, 35, 64), 1.0)
    with pytest.raises(ValueError, match="scale"):
        br.add_positions(features, float("nan"))


def test_slot_targets_give_each_object_its_own_token_by_the_cheapest_assignment():
    import itertools

    from course_lib.models.llava import AttributeHead

    torch.manual_seed(0)
    head, tokens = AttributeHead(16), torch.randn(3, 5, 16)
    objects = torch.tensor([[[0, 1, 4], [2, 3, 8], [-1, -1, -1]],
                            [[5, 0, 0], [1, 2, 3], [3, 4, 6]],
                            [[4, 4, 2], [-1, -1, -1], [-1, -1, -1]]])
    targets = br.slot_targets(head, tokens, objects)
    background = torch.tensor([s - 1 for s in head.sizes])
    logp = head.log_probs(tokens)
    for i in range(3):
        present = objects[i][objects[i, :, 0] >= 0]
        slots = [k for k in range(5) if not torch.equal(targets[i, k], background)]
        assert len(slots) == len(present)  # one token per object, background elsewhere
        assert sorted(targets[i, slots].tolist()) == sorted(present.tolist())

        def cost(assign, i=i, present=present):
            return -sum(float(logp[j][i, k, present[n, j]]) for n, k in enumerate(assign) for j in range(3))

        best = min(itertools.permutations(range(5), len(present)), key=cost)
        chosen = [next(k for k in slots if torch.equal(targets[i, k], present[n])) for n in range(len(present))]
        assert cost(chosen) == pytest.approx(cost(best))
    with pytest.raises(ValueError, match="one token per object"):
        br.slot_targets(head, tokens[:, :2], objects)


def test_slot_loss_trains_a_pooling_bridge_and_refuses_the_others(tok, lm):
    from course_lib.shapes_world import generate_scenes

    scenes = generate_scenes(6, seed=1, min_objects=1, max_objects=3)
    pool = br.FeaturePool(torch.randn(6, 36, 64), [[("how many objects are there ?", "two")]] * 6,
                          br.scene_objects(scenes))
    model = br.build_bridge_vlm("qformer", lm, tok, num_tokens=4, vision_width=64)
    keys = set(model.state_dict())
    plain = br.train_bridge(copy.deepcopy(model), tok, pool, steps=1, batch_size=3, lr=1e-3, progress=False)
    slots = br.train_bridge(model, tok, pool, steps=1, batch_size=3, lr=1e-3, progress=False, slot_loss=1.0)
    assert slots.losses[0] > plain.losses[0] + 1.0  # the head's initial loss (about ln 7 + ln 6 + ln 10) is added
    assert set(model.state_dict()) == keys and not model.bridge._forward_hooks  # the head is dropped
    with pytest.raises(ValueError, match="slot_loss"):
        br.train_bridge(model, tok, pool, steps=1, batch_size=3, lr=1e-3, progress=False, slot_loss=-1.0)
    mlp = br.build_bridge_vlm("mlp", lm, tok, vision_width=64)
    with pytest.raises(ValueError, match="K learned queries"):
        br.train_bridge(mlp, tok, pool, steps=1, batch_size=3, lr=1e-3, progress=False, slot_loss=1.0)


def test_a_slot_stage_trains_the_slots_before_the_lm_and_refuses_without_a_slot_loss(tok, lm):
    from course_lib.shapes_world import generate_scenes

    scenes = generate_scenes(6, seed=1, min_objects=1, max_objects=3)
    pool = br.FeaturePool(torch.randn(6, 36, 64), [[("how many objects are there ?", "two")]] * 6,
                          br.scene_objects(scenes))
    model = br.build_bridge_vlm("qformer", lm, tok, num_tokens=4, vision_width=64)
    lm_before = copy.deepcopy(model.lm.state_dict())
    common = dict(steps=1, batch_size=3, lr=1e-2, progress=False, slot_loss=1.0)
    cold = br.train_bridge(copy.deepcopy(model), tok, pool, **common)
    warm = br.train_bridge(model, tok, pool, slot_steps=40, **common)
    assert warm.steps == 1  # the result is the answer stage's
    assert warm.losses[0] < cold.losses[0] - 1.0  # the slots were learned before the LM saw them
    assert all(torch.equal(v, lm_before[k]) for k, v in model.lm.state_dict().items())  # frozen LM untouched
    assert not model.bridge._forward_hooks
    instruct = br.build_bridge_vlm("instructblip", lm, tok, num_tokens=4, vision_width=64)
    br.train_bridge(instruct, tok, pool, one_turn=True, slot_steps=2, **common)  # the question is its instruction
    with pytest.raises(ValueError, match="slot_steps"):
        br.train_bridge(model, tok, pool, steps=1, batch_size=3, lr=1e-3, progress=False, slot_steps=5)
    with pytest.raises(ValueError, match="slot_steps"):
        br.train_bridge(model, tok, pool, slot_steps=-1, **common)


def test_caption_answers_equal_the_lms_own_generate(tok, lm):
    from course_lib.models.causal_lm import complete

    captions = ["a small red circle", "a large blue square left of a small green triangle"]
    questions = ["what color is the circle ?", "how many objects are there ?"]
    answers = br.caption_answers(lm, tok, captions, questions)
    assert answers == [complete(lm, tok, f"{c} {q}") for c, q in zip(captions, questions)]
    with pytest.raises(ValueError, match="one question per caption"):
        br.caption_answers(lm, tok, captions, questions[:1])
