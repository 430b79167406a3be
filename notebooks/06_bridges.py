# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     notebook_metadata_filter: kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Q-Former, Perceiver Resampler and gated cross-attention: three other bridges
#
# LLaVA (notebook 05) hands the language model one token per image patch: 36 for our tiny tower,
# 576 for a 336 px image, thousands for tiled images. The three classic alternatives spend fewer
# tokens. **BLIP-2's Q-Former** and **Flamingo's Perceiver Resampler** let K learned queries read
# the patch features through cross-attention and hand the LM exactly K tokens, whatever the
# resolution. **Flamingo's gated cross-attention** puts no visual token in the LM's sequence at
# all: new layers inside the LM let the text tokens look at the image.
#
# **Learning goals.** After this notebook you can:
#
# 1. build cross-attention from learned queries to image features, and check it against the
#    library's `Blip2QFormerModel` (and say which of its layers cross-attend);
# 2. run a real `Blip2ForConditionalGeneration`, know its two traps (`image_token_index` and the
#    unchecked placeholder count) and guard against them;
# 3. explain why a tanh gate at 0 makes a new cross-attention layer harmless at initialisation, and
#    show it on a tiny `IdeficsForVisionText2Text` carrying the course's LM;
# 4. train bridges on notebook 05's task with the LM frozen and with the LM trained, and compare
#    what a designer needs: visual tokens, trainable parameters, prefill FLOPs, time, KV cache,
#    accuracy per question type (section 7: which rows beat the blind baseline, and on what), and
#    say why pooling by content loses where an object is and what brings it back;
# 5. place LLaVA, BLIP-2, Flamingo and CLIP on the early / middle / late fusion axis.
#
# **Why it matters.** Every vision-language model chooses a bridge, and the choice sets its cost
# per image and what it can read (small text, counts). These trade-offs are standard interview
# material, and the library classes have traps that fail silently.

# %%

import ipywidgets
import matplotlib.pyplot as plt
import torch
from transformers import (
    InstructBlipQFormerConfig,
    InstructBlipQFormerModel,
    LlamaForCausalLM,
)
from transformers.utils import logging as hf_logging

from course_lib import check, seed_everything
from course_lib.base.seeding import choose_threads, torch_threads
from course_lib.locality import REPRESENTATIONS, position_probes
from course_lib.models import bridges as br
from course_lib.models import cross_attention as xa
from course_lib.models import llava as lv
from course_lib.models import qformer as qf
from course_lib.models.causal_lm import load_reader_lm, load_tiny_lm
from course_lib.models.clip import load_tiny_clip
from course_lib.models.resampler import ResamplerBridge
from course_lib.plots import plot_loss_curve
from course_lib.recipes import BRIDGES_CHECKPOINT, BRIDGES_LIVE, SEEDS
from course_lib.shapes_world import generate_scenes, make_descriptions
from course_lib.tools.bench import report
from course_lib.tools.checkpoints import load_metrics
from course_lib.widgets import explore

seed_everything(0)
torch.set_num_threads(1)  # one thread for the checks and the timings below; training uses the free cores
hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

# %% [markdown]
# ## 1 · One number first
#
# A 336 px image with 14 px patches gives 576 patch features. LLaVA puts all 576 into the LM's
# sequence; BLIP-2 puts 32 query outputs there; Flamingo none. What does that do to the prefill
# of a 7B LM with a 32-token question?

# %%
# NBVAL_CHECK_OUTPUT
print(br.render_bridge_budget(queries=32, image_size=336, patch_size=14, lm="7B (GQA: 8 KV heads)", text_tokens=32))

# %% [markdown]
# The patch path costs about ten times the compute and cache of 32 queries. The rest of the
# notebook asks what the queries lose for it.
#
# ## 2 · Cross-attention from learned queries, from scratch
#
# A Q-Former layer holds K **learned query vectors** (K, D). They first attend to each other
# (self-attention), then **cross-attend** to the frozen image features (B, N, Dv): queries from the
# query vectors, keys and values from the features. Softmax over the N image tokens, so the output
# is (B, K, D) **whatever N**: 37 tokens of our tiny tower or 500 of a big one. A feed-forward
# block follows; all blocks are BERT-style (post-LayerNorm residuals).
#
# `course_lib.qformer.ScratchQFormer` writes this in a few lines with the library's parameter
# names, so a `Blip2QFormerModel` (hidden 64, 2 layers, dropout 0) loads into it. The library
# model owns no queries: it takes them as `query_embeds`, and the image as `encoder_hidden_states`.

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
config = qf.qformer_config(hidden_size=64, layers=2, heads=4, encoder_hidden_size=96)
library_qformer = qf.Blip2QFormerModel(config).eval()
scratch_qformer = qf.ScratchQFormer(config)
scratch_qformer.load_state_dict(library_qformer.state_dict())  # strict: every name matches
queries = torch.randn(2, 8, 64)  # B = 2 images, K = 8 queries of width 64
for n in (37, 500):
    features = torch.randn(2, n, 96)
    ours, maps = scratch_qformer(queries, features, return_cross_attention=True)
    theirs = library_qformer(query_embeds=queries, encoder_hidden_states=features).last_hidden_state
    torch.testing.assert_close(ours, theirs)
    print(f"N = {n:>3} image tokens -> output {tuple(ours.shape)}; cross-attention map {tuple(maps[0].shape)} "
          f"(B, heads, K, N); max |scratch - Blip2QFormerModel| = {(ours - theirs).abs().max():.1e}")

# %% [markdown]
# **Which layers cross-attend?** Not necessarily all. `cross_attention_frequency` f gives layer i
# a cross-attention block when i % f == 0; BLIP-2 uses 12 layers and f = 2. Read it off a real
# 12-layer library model:

# %%
# NBVAL_CHECK_OUTPUT
twelve = qf.Blip2QFormerModel(qf.qformer_config(hidden_size=16, layers=12, heads=2, cross_attention_frequency=2))
library_layers = [i for i, layer in enumerate(twelve.encoder.layer) if layer.has_cross_attention]
assert library_layers == qf.cross_attending_layers(12, 2)
print("12 layers, frequency 2 -> cross-attention in layers", library_layers)
print("4 layers, frequency 1 (our bridges) ->", qf.cross_attending_layers(4, 1))

# %% [markdown]
# ## 3 · A real BLIP-2, and two traps
#
# `Blip2ForConditionalGeneration` = vision tower + Q-Former + linear `language_projection` + LM.
# Ours: a BLIP-2 vision tower of the tiny CLIP's shape (48 px, patch 8, width 64; its class has no
# pre-LayerNorm, so CLIP's weights do not transfer exactly and it stays random here), a tiny
# Q-Former with K = 4 queries, and the course's tiny Llama (weights copied). The prompt carries K
# `<image>` placeholders, which the model overwrites with the K projected query outputs.
#
# **Trap 1.** `Blip2Config.image_token_index` defaults to `None`. The forward then fails far from
# the cause. This cell is meant to fail, so it catches and prints the error:

# %%
# NBVAL_CHECK_OUTPUT
lm, tokenizer = load_tiny_lm()
K = 4
pixels = torch.randn(2, 3, 48, 48)
prompt = torch.tensor([[tokenizer.bos_token_id] + [tokenizer.image_token_id] * K
                       + tokenizer.encode("how many objects are there ?", add_special_tokens=False)] * 2)
try:
    qf.tiny_blip2(lm, None, num_query_tokens=K)(input_ids=prompt, pixel_values=pixels)
except AttributeError as err:
    print("AttributeError:", err)
blip2 = qf.tiny_blip2(lm, tokenizer.image_token_id, num_query_tokens=K)
print(f"image_token_index = {tokenizer.image_token_id}: logits {tuple(blip2(input_ids=prompt, pixel_values=pixels).logits.shape)}")

# %% [markdown]
# **Trap 2.** The model does not check that each row has K placeholders. `masked_scatter` fills
# the placeholder slots of the whole batch in order with the batch's query outputs. Give each row
# K - 2 = 2 placeholders and watch where image 0's queries end up:

# %%
# NBVAL_CHECK_OUTPUT
short = torch.tensor([[tokenizer.bos_token_id] + [tokenizer.image_token_id] * (K - 2)
                      + tokenizer.encode("how many objects are there ?", add_special_tokens=False)] * 2)
slots, image_tokens = qf.placeholder_contents(blip2, short, pixels)  # what the LM received, and each image's K tokens
for row in range(2):
    for s, slot in enumerate(slots[row]):
        distances = [(img, q, float((slot - image_tokens[img, q]).abs().max())) for img in range(2) for q in range(K)]
        img, q, d = min(distances, key=lambda x: x[2])
        print(f"row {row}, slot {s}: holds image {img}'s query {q} (max difference {d:.1e})")
torch.testing.assert_close(slots[1], image_tokens[0, 2:4])  # row 1 reads image 0: a silent leak

# %% [markdown]
# No error, no warning: row 1 answers about image 0, and image 1 is never seen. In a training
# batch that is label noise you would never find. The course's guard checks the count (and the
# image size, and `image_token_index`) before calling the model:

# %%
# NBVAL_CHECK_OUTPUT
for bad_inputs in ({"input_ids": short, "pixel_values": pixels},
                   {"input_ids": prompt, "pixel_values": torch.randn(2, 3, 64, 64)}):
    try:
        qf.guarded_blip2_forward(blip2, **bad_inputs)
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# ## 4 · Gated cross-attention: Flamingo's way in
#
# Flamingo keeps the LM's sequence text-only and inserts new layers between the frozen LM layers.
# Each new block lets the text tokens cross-attend to the image, and enters through a **tanh
# gate**: `x + tanh(alpha) * XAttn(x, image)`, then `+ tanh(alpha') * FFW(.)`, with alpha = 0 at
# initialisation. `GatedCrossAttentionBlock` writes it from scratch; IDEFICS (the open Flamingo
# reproduction) has the same layer, `IdeficsGatedCrossAttentionLayer`. With gates set to non-zero
# values the two must agree:

# %%
# NBVAL_CHECK_OUTPUT
idefics = xa.build_tiny_idefics(lm, vision_width=64)
layer = idefics.model.gated_cross_attn_layers[0]
with torch.no_grad():
    layer.alpha_cross_attn.fill_(0.3)
    layer.alpha_dense.fill_(-0.2)
scratch_block = xa.GatedCrossAttentionBlock(128, 64, 4, lm.config.intermediate_size)
scratch_block.load_state_dict(layer.state_dict())
x, image = torch.randn(2, 5, 128), torch.randn(2, 36, 64)
theirs = layer(x, None, image, image_attention_mask=torch.zeros(2, 1, 5, 36), cross_attention_gate=torch.ones(2, 5))
torch.testing.assert_close(scratch_block(x, image), theirs)
print(f"scratch gated block == IdeficsGatedCrossAttentionLayer: max difference {(scratch_block(x, image) - theirs).abs().max():.1e}")

# %% [markdown]
# Our Flamingo-style model is a tiny `IdeficsForVisionText2Text` whose text layers **are** the
# course's tiny Llama. One difference needs care: the tiny Llama has 4 query heads sharing 2 KV
# heads (grouped-query attention) and `IdeficsAttention` has no grouped KV heads. Repeating each
# KV head's weights for the two query heads that share it (`repeat_kv_weight`, what Llama's
# `repeat_kv` does at run time) gives an equivalent full multi-head layer. Gated layers sit before
# LM layers 0 and 2 (`cross_layer_interval=2`); `freeze_text_layers`, `freeze_lm_head` and
# `freeze_vision_layers` freeze the rest at construction. At initialisation, with every gate at 0,
# the model must compute exactly what the frozen LM computes, whatever the image:

# %%
# NBVAL_CHECK_OUTPUT
flamingo = br.build_bridge_vlm("xattn", lm, tokenizer, vision_width=64)
text = torch.tensor([[tokenizer.bos_token_id] + tokenizer.encode("what color is the circle ?", add_special_tokens=False)] * 2)
reference = lm(input_ids=text).logits
for name, feats in (("random image", torch.randn(2, 36, 64)), ("black image", torch.zeros(2, 36, 64))):
    out = flamingo(features=feats, input_ids=text).logits
    assert torch.equal(out, reference)
    print(f"{name}: IDEFICS logits == tiny Llama logits, bit for bit (max difference {(out - reference).abs().max():.1f})")
print("gates at init:", xa.gates(flamingo.model))
trainable = sorted({n.split(".")[2] for n, p in flamingo.named_parameters() if p.requires_grad})
print(f"trainable: {trainable} -> {br.trainable_parameters(flamingo):,} parameters; "
      f"frozen: {sum(p.numel() for p in flamingo.parameters() if not p.requires_grad):,}")

# %% [markdown]
# On the first training step, which parameters receive a gradient? The cross-attention weights sit
# behind `tanh(0) = 0`, so their gradient is 0; only the gates (whose derivative is tanh'(0) = 1
# times the block's output) move. The frozen LM has no gradient at all.

# %%
# NBVAL_CHECK_OUTPUT
batch = lv.conversation_batch(tokenizer, [[("what color is the circle ?", "red")], [("how many objects are there ?", "two")]], 0)
flamingo(features=torch.randn(2, 36, 64), **batch).loss.backward()
grads = {n: p.grad for n, p in flamingo.named_parameters() if p.requires_grad}
nonzero = sorted(n.replace("model.model.gated_cross_attn_layers.", "gated layer ") for n, g in grads.items() if g is not None and g.abs().max() > 0)
print(f"{len(grads)} trainable tensors, {len(nonzero)} with a non-zero gradient:", nonzero)
assert all(n.endswith(("alpha_cross_attn", "alpha_dense")) for n in nonzero)
flamingo.zero_grad(set_to_none=True)

# %% [markdown]
# This is what the gate protects: a randomly initialised cross-attention block would add noise to
# every hidden state of a pre-trained LM and wreck its outputs on the first step. With the gate
# closed, training starts from the LM exactly, and the gates open only as far as the image helps.
#
# ## 5 · The Perceiver Resampler
#
# Flamingo's resampler is the same idea as the Q-Former's queries, without the BERT baggage: n
# learned latents cross-attend to the features **concatenated with the latents themselves**, then
# a feed-forward block, a few times. `IdeficsPerceiverResampler` is the library's version; a
# linear map takes its output to the LM width. Output length is n, whatever the input length:

# %%
# NBVAL_CHECK_OUTPUT
resampler = ResamplerBridge(8, vision_width=64, text_width=128)
for n in (36, 500):
    print(f"{n:>3} input tokens -> {tuple(resampler(torch.randn(2, n, 64)).shape)}")
try:
    resampler(torch.randn(2, 36, 96))
except ValueError as err:
    print("ValueError:", err)
try:
    qf.QFormerBridge(0, 64, 128)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 6 · One task, two regimes
#
# Now the bridges meet notebook 05's task: questions about Shapes World scenes. Every row uses
# the shipped tiny CLIP tower, frozen, with its layer -2 patch features **computed once and
# cached** (36 x 64 per scene) and the same pool of training conversations; within a regime,
# every row has the same steps, batch and learning rate.
#
# **The LM.** BLIP-2 and Flamingo could freeze an LLM that already answers from what precedes a
# question (BLIP-2's best rows froze the instruction-tuned Flan-T5). Notebook 05's tiny LM does
# not: given a scene's description as text, it answers colour as with no text at all (section 7
# measures it). So every row here uses the **reading LM** (`data/tiny_lm_reader`): the same
# architecture, trained from scratch to answer a question after a description of its scene
# ("a small red circle on the left and a large blue square in the center what color is the
# square ?"), the loss on the answer only. It has never seen an image. The two regimes:
#
# - **LM frozen** (`recipes.BRIDGES_CHECKPOINT`, 1,000 steps): only the bridge trains, as BLIP-2
#   and Flamingo keep their LLM frozen;
# - **LM trained** (`recipes.BRIDGES_LM_TRAINED`, 1,300 steps): the bridge and the LM train
#   together, as LLaVA's stage 2 does (notebook 05).
#
# Two more parts of the recipe, both for one thing, *where* an object is, and both explained with
# measurements in section 7: every row's cached features get each patch's fixed 2-D sin-cos
# position added (`bridges.add_positions`, x 3), and the bridges that pool with K queries also
# train an auxiliary **slot loss** that asks each object of the scene to be named (colour, shape,
# cell) by a token of its own (`bridges.slot_targets`), first alone for 500 steps (a **slot
# stage**: the bridge learns its slots before it meets the LM, as BLIP-2 trains its Q-Former
# before connecting the LLM), then beside the answer loss. The loss's small head is dropped after
# training.
#
# The rows:
#
# - **MLP (36 tokens)**: LLaVA's linear-GELU-linear projector, one token per patch;
# - **Q-Former (K tokens)**: `query_tokens` + a 2-layer `Blip2QFormerModel` (hidden 64,
#   cross-attention in every layer) + `language_projection`, K in {4, 8, 16, 32};
# - **Perceiver Resampler (8 tokens)**: `IdeficsPerceiverResampler`, 2 blocks, + a linear map;
# - **gated cross-attention (0 tokens)**: the tiny IDEFICS of section 4; with the LM frozen only
#   its gated layers train.
#
# The placeholders in the prompt are filled from the bridge (with the course's count guard); the
# Flamingo row has none. Evaluation asks notebook 05's 1,000 held-out questions, one per prompt.
# The blind baseline is notebook 05's: its tiny LM trained on the same kind of conversations
# without the image, the answers a model can give from the question alone. The rows are shipped
# (`data/bridges/metrics.json`, rebuilt by `python -m course_lib.tools.checkpoints bridges`); the
# notebook trains one live.

# %%
clip, _ = load_tiny_clip()
recipe = BRIDGES_CHECKPOINT
pool = br.feature_pool(clip, recipe.pool_scenes, SEEDS.bridges_pool, recipe.turns, positions=recipe.positions)
eval_scenes, eval_qa = lv.eval_set(1000, SEEDS.llava_eval)
eval_features = br.add_positions(br.vision_features(clip, eval_scenes.images), recipe.positions)
print(f"cached features: training pool {tuple(pool.features.shape)}, held-out scenes {tuple(eval_features.shape)}")

# %% [markdown]
# The live run: the Q-Former with K = 8 in the LM-trained regime, shorter (`recipes.BRIDGES_LIVE`).

# %%
lm, tokenizer = load_reader_lm()
live_recipe = BRIDGES_LIVE
live = br.build_bridge_vlm("qformer", lm, tokenizer, num_tokens=8, seed=live_recipe.seed, train_lm=live_recipe.train_lm)
with torch_threads(choose_threads()):  # the free cores: two on an idle two-core machine
    run = br.train_bridge(live, tokenizer, pool, steps=live_recipe.steps, batch_size=live_recipe.batch_size,
                          lr=live_recipe.lr, seed=live_recipe.seed, slot_loss=live_recipe.slot_loss,
                          slot_steps=live_recipe.slot_steps, desc="Q-Former K=8")
print(f"{run.steps} steps in {run.seconds:.0f} s; trainable parameters {br.trainable_parameters(live):,} (bridge and LM)")
plot_loss_curve(run.losses, title="Q-Former K=8, LM trained: answer loss + slot loss");

# %%
live_metrics = br.evaluate_bridge(live, tokenizer, eval_features, eval_qa[:300])
report("qformer8_live", seconds=round(run.seconds, 1), overall=round(live_metrics["overall"], 3))

# %%
# NBVAL_CHECK_OUTPUT
shipped = load_metrics("bridges")
llava_metrics = load_metrics("tiny_llava")
blind = llava_metrics["blind"]
trained = shipped["lm_trained"]["rows"]
print(f"live K=8 on 300 held-out questions beats the blind baseline overall ({blind['overall']:.3f}) by more than 0.1: "
      f"{live_metrics['overall'] > blind['overall'] + 0.1}")
print(f"live K=8 within 0.1 of the shipped K=8 row, LM trained ({trained['qformer_8']['metrics']['overall']:.3f}): "
      f"{abs(live_metrics['overall'] - trained['qformer_8']['metrics']['overall']) < 0.1}")

# %% [markdown]
# ## 7 · The comparison a designer needs
#
# Accuracies are exact match per question type on the 1,000 held-out questions of notebook 05,
# beside the blind baseline and the reading LM with no image at all (trained only on questions
# after a description, it answers almost none without one). Notebook 05's tiny LLaVA (36
# tokens, LM trained, a longer recipe with a captioning stage) is quoted for reference, not
# compared.

# %%
# NBVAL_CHECK_OUTPUT
names = {"mlp_36": "MLP, 36 tokens", "qformer_4": "Q-Former K=4", "qformer_8": "Q-Former K=8", "qformer_16": "Q-Former K=16",
         "qformer_32": "Q-Former K=32", "perceiver_8": "Perceiver K=8", "xattn": "gated x-attn"}
regimes = {"LM frozen": shipped["rows"], "LM trained": trained}
steps = {"LM frozen": shipped["recipe"]["steps"], "LM trained": shipped["lm_trained"]["recipe"]["steps"]}
trained_one_turn = shipped["one_turn"]["rows"]
four = ("color", "shape", "position", "count")
beats = {}
for regime, rows in regimes.items():
    table = {names[k]: rows[k]["metrics"] for k in names}
    print(f"{regime} ({steps[regime]:,} steps):")
    print(lv.metrics_table({**table, "blind (nb05)": blind, "reading LM, no image": shipped["frozen_lm_no_image"],
                            "LLaVA nb05 (ref.)": llava_metrics["llava"]}))
    beats[regime] = {name: [t for t in four if m[t] <= blind[t]] for name, m in table.items()}
    print("types where a row does not beat the blind baseline:", beats[regime], "\n")

# %% [markdown]
# **Read the rows against the blind row** (types where a row does not beat it are listed above).
#
# *LM frozen.* Over the reading LM, every row beats the blind row on colour, shape, position and
# count. The Q-Former rows with 4 and 8 tokens score lowest overall (0.496, 0.492), the Perceiver
# with 8 next (0.525); the Q-Former with 16 or 32 scores with the MLP's 36 tokens and the gated
# row (0.547 to 0.557). With the LM frozen, fewer tokens cost accuracy here, but these are single
# runs, so read it as a hint. The gated row reads position best (0.607): its text attends to the
# 36 features directly.
#
# *LM trained.* Every row rises, and every row beats the blind row on all four types. The
# Q-Former at K = 8 and 16 scores highest (0.667, 0.690), above the MLP's 36 tokens (0.623); the
# gated row gains least from training the LM (0.553 to 0.560). More queries do not keep helping:
# K = 32 (0.615) is below K = 8 and 16, by differences of the size one run to the next can move
# (`data/README.md` logs two seeds of a K = 16 row).

# %% [markdown]
# **Why the reading LM?** A prefix bridge hands a frozen LM tokens in front of the question; at
# best they say what a text description of the scene says. So give each LM the true description
# of each held-out scene, as text, before the question (`bridges.caption_answers`): the best
# prefix of that kind. The reading LM must also reproduce its shipped metrics.

# %%
# NBVAL_CHECK_OUTPUT
descriptions = make_descriptions(eval_scenes, seed=0)
in_text = [descriptions[q.scene] for q in eval_qa]
eval_questions = [q.question for q in eval_qa]
lms = {"nb05 tiny LM": load_tiny_lm()[0], "reading LM": load_reader_lm()[0]}
reading = {f"{name}, {context}": lv.vqa_metrics(eval_qa, br.caption_answers(model, tokenizer, texts, eval_questions))
           for name, model in lms.items() for context, texts in (("description in text", in_text),
                                                                  ("no text", [""] * len(eval_qa)))}
shipped_reading = load_metrics("tiny_lm_reader")["reading"]
assert {k: round(v, 4) for k, v in reading["reading LM, description in text"].items()} == shipped_reading["description"]
print(f'e.g. "{in_text[0]} {eval_qa[0].question}" -> {eval_qa[0].answer}')
print(lv.metrics_table({**reading, "blind (nb05)": blind}))

# %% [markdown]
# Given the scene's full description, notebook 05's tiny LM answers colour 0.172, its rate with no
# text at all, and shape and position within 0.07 of the blind row. It was pre-trained on captions
# followed by questions about them, yet it never learned to find "the circle" in its context and
# read off the colour in front of it. The reading LM, the same architecture and tokenizer, reads
# colour, shape and position from the same text. What made the difference, in single runs logged
# in `data/README.md`: the loss on the answers only, and a learning rate of 5e-4 instead of the
# tiny LM's 3e-3 (at 3e-3 the same training put nearly all of each head's weight on one key and
# left colour near the rate of one fixed answer after 4,000 steps).
#
# Over notebook 05's LM, the frozen rows of the previous build answered colour and shape exactly
# as that LM with no image (same file): we found no prefix that made it look a colour up. Over the
# reading LM, every frozen row beats the blind baseline on all four types. BLIP-2 makes the same
# point at scale: a frozen LM brings only the skills it already has, and BLIP-2's rows that froze
# the instruction-tuned Flan-T5 beat those that froze OPT on zero-shot VQAv2.
#
# **Where does position go?** A linear probe asks whether a representation holds an object's
# cell where a linear map can read it. On 1,200 one-object scenes (900 fit the probe, 300 score
# it; chance 1/9) we probe the tower's features three ways: the patch tokens in raster order
# (what the MLP hands the LM, one token per patch), the object's own four patches averaged
# (their content without their slot), and all 36 patches averaged. Then the same features with
# the positions added, and the live Q-Former's 8 tokens, which were trained on those.

# %%
one_object = generate_scenes(1200, seed=SEEDS.position_probe, min_objects=1, max_objects=1, split="all")
one_features = br.vision_features(clip, one_object.images)
probes = position_probes(one_features, one_object.cells[:, 0])
probes_positions = position_probes(br.add_positions(one_features, recipe.positions), one_object.cells[:, 0],
                                   {"live Q-Former K=8": live.bridge}, representations=REPRESENTATIONS[1:])
report("position_probe_live_qformer8", accuracy=round(probes_positions["live Q-Former K=8"], 3))

# %%
# NBVAL_CHECK_OUTPUT
print("the tower's features:")
for name in REPRESENTATIONS:
    print(f"  {name:35s} {probes[name]:.2f}")
print(f"with 2-D positions added (x {recipe.positions:g}):")
for name in REPRESENTATIONS[1:]:
    print(f"  {name:35s} {probes_positions[name]:.2f}")
print(f"  live Q-Former K=8 tokens above 0.5 (chance 0.11): {probes_positions['live Q-Former K=8'] > 0.5}")

# %% [markdown]
# An object drawn in another cell gives its patches the same pixels (up to a small jitter inside
# the cell), so whatever they know of the cell came from the tower's position embeddings, and
# they keep it only partly (0.47). The cell is in *which slot* the object's patches occupy (1.00
# in raster order); averaged over all patches, almost nothing is left (0.16). The MLP maps each
# patch on its own, so the slots reach the LM as token positions. A pooling bridge sums patches
# with weights set by their content: it keeps what the content says and drops the slot.
#
# Hence the first lever: **write the cell into the content.** With each patch's 2-D sin-cos
# position added to its features, the object's own patches averaged give the cell at 1.00:
# it now survives pooling over them (averaged over all patches it still cannot: 0.13). The
# second lever: **one token per object.** A pooling bridge is free to spread an object over
# several tokens, or to mix several objects into one; then no single token says "red circle, top
# left" for the LM to find. The slot loss asks for that token: a linear head
# (`llava.AttributeHead`, notebook 05's auxiliary probe) must read each object's colour, shape and
# cell from a token of its own, and every other token must read as background. Which token is
# whose is not fixed in advance: each step assigns objects to tokens by the cheapest one-to-one
# matching under the head's current predictions (the Hungarian algorithm), as DETR matches its
# object queries to the objects of an image. The live Q-Former, trained with both, keeps the cell
# in its tokens (above). What each lever does alone, from the shipped build (same recipe, one
# lever removed):

# %%
# NBVAL_CHECK_OUTPUT
ablation = {"Q-Former K=8, both": trained["qformer_8"]["metrics"]}
for key, label in (("qformer_8_no_positions", "no positions"), ("qformer_8_no_slots", "no slot loss")):
    ablation[f"Q-Former K=8, {label}"] = shipped["ablation"]["rows"][key]["metrics"]
print(f"LM trained, {steps['LM trained']:,} steps, one lever removed at a time:")
print(lv.metrics_table({**ablation, "blind (nb05)": blind}))

# %% [markdown]
# Without the positions, position falls to chance (0.093): the slot loss cannot find the cell in
# the content (its head learns colour and shape but not the cell: `data/README.md`). Without the
# slot loss, position is read, less well (0.567 against 0.713 with both), and colour and shape
# fall (0.431 and 0.298 against 0.656 and 0.503). Over notebook 05's LM (the previous build), the
# row without the slot loss stayed near the blind row on position and fell below it on colour and
# shape (same file): what the slot loss buys depends on the LM that reads the tokens. The gated
# cross-attention row needs only the first lever: its text attends to the features themselves,
# so there is no pooled token to find (without the positions it stayed at chance:
# `data/README.md`). The MLP needs neither (its slots are the LM's positions); it gets the
# positions because every row shares the cached features. The price: a second objective, and
# labels for it. The slot loss needs each training scene's objects (colour, shape, cell), which
# Shapes World gives for free and image-text pairs do not. Qwen-VL and Honeybee (Cha et al. 2024,
# its C-Abstractor) keep locality in other ways.
#
# **A slot stage first.** The two levers were not always enough: in the build before this
# recipe, two of the six Q-Former runs with both (the K = 16 row and section 8's one-question
# control) still answered position at chance. Not noise (rerun alone, the K = 16 row gave the
# same numbers) and not over-fitting (it was at chance on its own training scenes too); trained
# twice as long, it read position. The LM learned the read late, at a step that varied from run
# to run. Hence the slot stage of section 6: 500 steps of the slot loss alone, without the LM
# (seconds per row), so the slots are formed when the LM first sees them and the LM has only to
# learn to read them. BLIP-2 also trains its Q-Former before connecting the LLM (its stage 1,
# interview Q2), with other objectives. Every Q-Former run of this build has all three parts:

# %%
# NBVAL_CHECK_OUTPUT
qformer_runs = {names[k]: trained[k] for k in ("qformer_4", "qformer_8", "qformer_16", "qformer_32")}
qformer_runs["InstructBLIP K=8 (section 8)"] = trained_one_turn["instructblip_8"]
qformer_runs["its control, Q-Former K=8 (section 8)"] = trained_one_turn["qformer_8_one_turn"]
for name, row in qformer_runs.items():
    assert row["positions"] > 0 and row["slot_loss"] > 0 and row["slot_steps"] > 0  # all three
    p = row["metrics"]["position"]
    print(f"{name:40s} slot stage {row['slot_steps']} steps; position {p:.3f}; "
          f"above the blind baseline ({blind['position']:.3f}): {p > blind['position']}")

# %% [markdown]
# On the K = 16 row over two seeds (over notebook 05's LM), the stage made the difference:
# position read with it in both, in neither without it (the four runs are in `data/README.md`;
# this build has no row without the stage). Single runs still differ by several points, so read
# any one row of these tables with care.

# %% [markdown]
# Costs do not depend on the trained weights, so we measure them here on fresh models of each
# design: visual tokens in the LM's sequence, trainable parameters, prefill FLOPs counted by
# `torch.utils.flop_counter.FlopCounterMode` (eager attention: it does not count SDPA on CPU), the
# LM's share of them by formula, and the KV cache of one prompt ("what color is the circle ?").
# For the LM part, the formula is 2 x (linear parameters) x tokens + 4 x layers x tokens² x width;
# it must equal the counter exactly:

# %%
# NBVAL_CHECK_OUTPUT
question = "what color is the circle ?"
designs = {"mlp_36": ("mlp", 36), "qformer_4": ("qformer", 4), "qformer_8": ("qformer", 8), "qformer_16": ("qformer", 16),
           "qformer_32": ("qformer", 32), "perceiver_8": ("perceiver", 8), "xattn": ("xattn", 0)}
costs = {}
one = eval_features[:1]
for key, (kind, k) in designs.items():
    model = br.eager(br.build_bridge_vlm(kind, load_tiny_lm()[0], tokenizer, num_tokens=max(k, 1)))
    inputs = br.prefill_inputs(model, tokenizer, one, question)
    tokens = inputs["input_ids"].shape[1]
    total = br.count_flops(lambda model=model, inputs=inputs: model(**inputs))
    lm_part = br.lm_prefill_flops(lm.config, tokens)
    costs[key] = {"model": model, "tokens": tokens, "visual": model.num_image_tokens, "trainable": br.trainable_parameters(model),
                  "flops": total, "lm_flops": lm_part, "kv": br.kv_cache_bytes_of(model, tokens, lm.config, 36)}
eager_lm = LlamaForCausalLM(lm.config).eval()
eager_lm.set_attn_implementation("eager")
for t in (costs["mlp_36"]["tokens"], costs["qformer_8"]["tokens"]):
    counted = br.count_flops(lambda t=t: eager_lm(inputs_embeds=torch.randn(1, t, 128)))
    assert counted == br.lm_prefill_flops(lm.config, t)
    print(f"LM prefill over {t} tokens: formula {br.lm_prefill_flops(lm.config, t):,} == FlopCounterMode {counted:,}")
print(f"{'design':<16}{'visual':>7}{'trainable':>11}{'prefill FLOPs':>15}{'of which LM':>13}{'KV bytes':>10}")
for key, c in costs.items():
    lm_share = f"{c['lm_flops']:,}" if c["visual"] else "-"  # the gated LM's layers are not the formula's
    print(f"{names[key]:<16}{c['visual']:>7}{c['trainable']:>11,}{c['flops']:>15,}{lm_share:>13}{c['kv']:>10,}")

# %% [markdown]
# Two readings. The Q-Former's own FLOPs are small next to the LM's, so prefill cost follows the
# visual tokens; the gated row has the fewest tokens but the most trainable parameters. Its KV
# bytes equal the MLP row's here by coincidence of shapes: 2 gated layers cache full-width (128)
# keys and values for 36 image features, as many numbers as 4 LM layers with 2 KV heads of 32
# caching 36 visual tokens.
#
# Prefill time is measured, so it depends on the machine (a batch of 64 prompts, median of 5
# runs); it is printed here but not checked:

# %%
batch64 = eval_features[:64]
for key, c in costs.items():
    c["seconds"] = br.prefill_seconds(c["model"], br.prefill_inputs(c["model"], tokenizer, batch64, question))
    print(f"{names[key]:<16} prefill of 64 prompts: {1e3 * c['seconds']:.1f} ms")

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, (xlabel, value) in zip(axes[:2], (("visual tokens in the LM sequence", "visual"), ("prefill time, 64 prompts (ms)", "seconds"))):
    for (regime, rows), marker in zip(regimes.items(), ("o", "s")):
        xs = [costs[k][value] * (1e3 if value == "seconds" else 1) for k in names]
        ax.scatter(xs, [rows[k]["metrics"]["overall"] for k in names], marker=marker, label=regime)
    for k, x in zip(names, xs):
        ax.annotate(names[k], (x, regimes["LM trained"][k]["metrics"]["overall"]), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.axhline(blind["overall"], color="grey", ls="--", label="blind baseline")
    ax.set(xlabel=xlabel, ylabel="held-out exact match")
    ax.legend(loc="center right", fontsize=8)
history = shipped["rows"]["xattn"]["gates"]
for gate in [g for g in history[0] if g != "step"]:
    axes[2].plot([h["step"] for h in history], [h[gate] for h in history], label=gate)
axes[2].set(xlabel="training step", ylabel="tanh(alpha)", title="gated x-attn, LM frozen: gate values")
axes[2].legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 8 · Instruction-aware queries (InstructBLIP)
#
# BLIP-2's queries do not know the question: they extract the same K tokens for "what colour?" and
# "how many?". InstructBLIP feeds the instruction into the Q-Former too: the instruction tokens join
# the queries in **self-attention**, and only the queries **cross-attend** to the image, so the
# image tokens the LM receives depend on the question. `InstructBlipQFormerModel` takes the
# instruction as `qformer_input_ids`-style `input_ids` beside `query_embeds`:

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
iconfig = InstructBlipQFormerConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=128, encoder_hidden_size=64, cross_attention_frequency=1,
                                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=tokenizer.pad_token_id)
instruct = InstructBlipQFormerModel(iconfig).eval()
instruct.set_attn_implementation("eager")  # SDPA returns no attention maps
queries8 = torch.randn(1, 8, 64)
scene = eval_features[:1]
outs = {}
for instruction in ("what color is the circle ?", "how many objects are there ?"):
    ids = torch.tensor([tokenizer.encode(instruction, add_special_tokens=False)])
    out = instruct(input_ids=ids, query_embeds=queries8, encoder_hidden_states=scene, output_attentions=True)
    outs[instruction] = out.last_hidden_state[:, :8]
    print(f"{instruction!r}: output {tuple(out.last_hidden_state.shape)} (8 queries + {ids.shape[1]} instruction tokens); "
          f"cross-attention maps {tuple(out.cross_attentions[0].shape)}: only the 8 queries read the image")
a, b = outs.values()
print(f"the 8 query outputs differ between the two instructions: {not torch.allclose(a, b)}")

# %% [markdown]
# Untrained, that difference means nothing yet. The shipped build trains an instruction-aware
# Q-Former with K = 8 (`kind="instructblip"`, LM trained, the same positions and slot loss as
# section 7) on one question per image, which is also its instruction (`recipes.BRIDGES_ONE_TURN`:
# 2,500 steps of 32 questions, about half the questions the LM-trained rows see), and as its
# control a plain Q-Former K = 8 trained on the same samples. Where do its queries look? Its
# cross-attention maps (last layer, heads averaged) over the 6 x 6 patch grid for one held-out
# scene, asked about each of its two objects, are kept in the shipped file:

# %%
example = trained_one_turn["instructblip_8"]["example_maps"]
maps = torch.tensor(example["maps"]).view(2, 8, 6, 6)
fig, axes = plt.subplots(2, 10, figsize=(16, 3.6))
for row, question in enumerate(example["questions"]):
    axes[row, 0].imshow(eval_scenes.images[example["scene"]])
    axes[row, 0].set_title(question.replace("what color is ", "colour of "), fontsize=8)
    for q in range(8):
        axes[row, q + 1].imshow(maps[row, q], cmap="magma", vmin=0)
        axes[row, q + 1].set_title(f"query {q}", fontsize=8)
    axes[row, 9].imshow(maps[row].mean(0), cmap="magma", vmin=0)
    axes[row, 9].set_title("mean of 8", fontsize=8)
for ax in axes.flat:
    ax.axis("off")
fig.tight_layout()

# %% [markdown]
# One scene is an anecdote; the build also measures it over every held-out scene with two or
# three objects of different shapes (`bridges.named_object_share`): the queries' mean attention
# share on the named object's 4 patches, against another object's 4 patches under the same
# question (uniform attention gives each 4/36 = 0.111). And what it buys: the InstructBLIP row
# against its control.

# %%
# NBVAL_CHECK_OUTPUT
share = trained_one_turn["instructblip_8"]["named_object_share"]
one_turn = shipped["one_turn"]["recipe"]
print(f"one question per image: {one_turn['steps']:,} steps of {one_turn['batch_size']} questions, LM {one_turn['lm']}")
print(f"shipped InstructBLIP K=8, {share['questions']} questions: attention share on the named object's cell "
      f"{share['named']:.3f}, on another object's {share['other']:.3f} (uniform {share['uniform']:.3f})")
print(f"the example scene's maps for its two questions differ by at most {(maps[0] - maps[1]).abs().max():.4f}")
print(lv.metrics_table({"InstructBLIP K=8": trained_one_turn["instructblip_8"]["metrics"],
                        "Q-Former K=8 (control)": trained_one_turn["qformer_8_one_turn"]["metrics"], "blind (nb05)": blind}))

# %% [markdown]
# **What we measured.** The trained queries look at objects: their share on an object's cell is
# above uniform. But not at the object the question names: over 330 questions the share on the
# named object equals the share on another one (to 0.002). In the example scene the two questions'
# maps do differ (printed above), but not toward the named object on average. Yet the answers
# changed a lot: the InstructBLIP row answers colour and position far better than its control
# (compare the columns), 0.791 against 0.607 overall. So the question did not move where the
# queries look, on average; it changed what their outputs carry. Through self-attention the
# instruction tokens meet what the queries gathered, so the 8 tokens can carry the named object's
# colour or cell rather than a summary of the scene (a likely route; we did not measure it). A
# single run, and the recipe matters: in the previous build (notebook 05's LM, 4,000 steps), the
# two rows answered about as well as each other, 0.573 against 0.562 (`data/README.md`).
# InstructBLIP also trains its Q-Former on instruction data across many tasks from BLIP-2's
# pre-trained one, not from scratch. What it buys there, in the paper's ablation: removing the
# instruction from the Q-Former lowered its held-out scores, most on spatial (ScienceQA) and
# temporal (iVQA) reasoning, where the question says which region matters.
#
# ## 9 · Early, middle and late fusion
#
# **Late fusion** (CLIP, notebook 02): image and text are encoded separately and meet only as two
# pooled vectors in a dot product: cheap, great for retrieval, but the text can never ask the
# image a question. **Early fusion** (LLaVA, and the MLP and Q-Former rows here): visual tokens
# enter the LM's input sequence, and every LM layer mixes them with the words; the cost grows with
# the number of tokens (36 vs 8 in the table's prefill FLOPs and KV bytes). **Middle fusion**
# (Flamingo, the gated x-attn row): the sequence stays text-only and dedicated layers inside the
# LM look at the image; no visual tokens in the KV cache, only the image keys and values of the
# gated layers, but new parameters inside the LM. Section 7 measures those costs side by side, and
# what each read on our task: early fusion over every patch (the MLP) hands the LM each patch's
# place as a token position; the early-fusion Q-Former and the middle-fusion gated layers, which
# both attend over patches by content, answered position only once the positions were written into
# the features (and the Q-Former read it best once each object also had a token of its own). With
# the LM frozen, every design read the scene once the LM could read a description (the reading
# LM); over notebook 05's tiny LM, which cannot, only middle fusion did: new layers inside the LM
# were the one way past it (the previous build, `data/README.md`).
#
# ## 10 · Designer's explorer
#
# Pick the number of queries, the image resolution and an LM shape: visual tokens, prefill FLOPs,
# time at an assumed throughput and KV cache for the three designs, with the tiny task's measured
# accuracy for the trained K values. The static call first, then the widget.

# %%
# NBVAL_CHECK_OUTPUT
measured = {int(k.split("_")[1]): trained[k]["metrics"]["overall"] for k in ("qformer_4", "qformer_8", "qformer_16", "qformer_32")}
print(br.render_bridge_budget(32, 336, 14, "7B (GQA: 8 KV heads)", measured=measured))

# %%
explore(
    lambda queries, image_size, lm_shape: br.render_bridge_budget(queries, image_size, 14, lm_shape, measured=measured),
    queries=ipywidgets.IntSlider(value=32, min=1, max=256, description="K queries"),
    image_size=ipywidgets.IntSlider(value=336, min=112, max=1344, step=112, description="image px"),
    lm_shape=ipywidgets.Dropdown(options=list(br.LM_SIZES), value="7B (GQA: 8 KV heads)", description="LM"),
)

# %% [markdown]
# ## 11 · Exercises
#
# Each check prints `[TODO]` until you fill in `answer`, a hint when it is wrong, and `[PASS]`
# when it is right.
#
# **Exercise 1.** Parameters of one Q-Former cross-attention block (`Blip2QFormerAttention` with
# `is_cross_attention=True`) at BLIP-2's sizes: hidden 768, image features of width 1408 (ViT-g).

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: an integer
check("06.cross_attention_params", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# h, v = 768, 1408
# answer = (h * h + h) + 2 * (v * h + h) + (h * h + h) + 2 * h   # query, key+value, output dense, LayerNorm
# ```
# </details>
#
# **Exercise 2.** A BLIP-2 with K = 32 queries, ViT patches of 14 px: how many visual tokens does
# the LM read for a 224 px image and for a 448 px image? Answer a tuple.

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: (tokens_224, tokens_448)
check("06.tokens_any_resolution", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = (32, 32)   # the Q-Former outputs K tokens; resolution only changes what they read
# ```
# </details>
#
# **Exercise 3.** Which layers of a 12-layer Q-Former with `cross_attention_frequency = 3` have a
# cross-attention block?

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: a list of layer indices
check("06.cross_layers", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = [i for i in range(12) if i % 3 == 0]   # [0, 3, 6, 9]
# ```
# </details>
#
# **Exercise 4.** Prefill FLOPs saved (linear layers only: 2 x parameters x tokens) when a 7B LM
# reads 32 query tokens instead of 576 patch tokens.

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: a number
check("06.flops_saved", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = 2 * 7e9 * (576 - 32)
# ```
# </details>
#
# ## 12 · Interview corner
#
# **Q1. Why did BLIP-2 freeze both the image encoder and the LLM?**
# <details><summary>Model answer</summary>
# Cost and preservation. Both are large pre-trained models; training only the Q-Former (188M
# parameters in BLIP-2) is cheap, and freezing keeps the LLM's language ability and the encoder's
# features intact (no catastrophic forgetting). The price: everything the LM sees must pass
# through K = 32 query tokens, which a frozen LM must learn to read as a soft prompt, and the LM
# can only use skills it already has. It works because the LLM already answers from what
# precedes a question. Notebook 05's tiny LM does not (given the scene's description in text, it
# answers colour as with no text), and frozen, it capped every prefix bridge; over the reading
# LM, every frozen bridge beats the blind baseline (section 7). In BLIP-2, the rows that froze the
# instruction-tuned Flan-T5 beat those that froze OPT on zero-shot VQAv2.
# </details>
#
# **Q2. What are BLIP-2's stage-1 objectives?**
# <details><summary>Model answer</summary>
# With the image encoder frozen and no LLM, the Q-Former learns three objectives with different
# self-attention masks: image-text contrastive (ITC: queries and text do not see each other;
# align pooled query and text features), image-text matching (ITM: full attention; binary
# match/no-match with hard negatives), and image-grounded text generation (ITG: causal text sees
# the queries). Stage 2 connects the queries to the frozen LLM through a linear projection and
# trains with the language-modelling loss.
# </details>
#
# **Q3. Why did many later open models (LLaVA-1.5 and its successors) go back to MLP projectors
# over patch tokens?**
# <details><summary>Model answer</summary>
# With the LLM unfrozen and plenty of instruction data, a simple projector over all patches gives
# the LM the most information and trains easily; a Q-Former is an information bottleneck that needs
# its own pre-training stage. Compute for more tokens became affordable, and tasks such as OCR and
# documents need fine detail. Token count is then reduced in simpler ways (pixel shuffle, pooling,
# a resampler only when tokens must be few).
# </details>
#
# **Q4. What does a Q-Former lose for OCR and counting?**
# <details><summary>Model answer</summary>
# K fixed queries must summarise the whole image whatever its content: fine detail (small text,
# many small objects) competes for a few vectors, and the queries do not know the question
# (unless instruction-aware). Counting needs one slot per object or an aggregate the queries were
# trained to compute; OCR needs many high-resolution tokens. Section 7 saw a cousin of this:
# pooling by content drops *where* each patch was: our Q-Former answered position at chance
# without the positions added to its features, and best with a slot loss giving each object a
# token of its own, learned first in a slot stage.
# </details>
#
# **Q5. What does Flamingo's tanh gate protect, and what would happen without it?**
# <details><summary>Model answer</summary>
# The frozen LM. With tanh(0) = 0 the new cross-attention layers are exactly the identity at
# initialisation, so the model starts as the pre-trained LM and training is stable; the gates open
# gradually (section 4 showed only the gates get a gradient on step one). Without them, random
# cross-attention outputs added to every hidden state would perturb the LM and could destroy its
# language ability early in training.
# </details>
#
# **Q6. You have a 4k-token context and want 8 images per prompt. LLaVA-style, Q-Former or
# Flamingo-style?**
# <details><summary>Model answer</summary>
# 8 x 576 patch tokens = 4608 already overflow the context. A Q-Former or resampler spends K per
# image (8 x 64 = 512 with Flamingo's 64 latents); Flamingo-style cross-attention spends none of
# the sequence, only cross-attention compute and cached image keys/values. Patch-token designs
# need token reduction (pooling, pixel shuffle) to fit.
# </details>
#
# **Q7. What do BLIP-2 and InstructBLIP differ in?**
# <details><summary>Model answer</summary>
# InstructBLIP feeds the instruction into the Q-Former: instruction tokens share self-attention
# with the queries (only the queries cross-attend to the image), so the extracted visual tokens
# depend on the question. It is trained on instruction data across many tasks.
# </details>
#
# **Q8. A Q-Former bridge answers "what color is the circle?" well but "where is the red
# circle?" at chance, while an MLP bridge over the same features answers both. Why, and what
# would you change?**
# <details><summary>Model answer</summary>
# Pooling by content drops place. The MLP hands the LM one token per patch in raster order, so
# the LM's own positions say where each patch is. A Q-Former's queries sum patches with weights
# set by what they contain: the cell survives only as far as the content encodes it (partly,
# through the ViT's position embeddings). Fixes: write 2-D positions into what the queries read
# (the features, or the cross-attention keys as in Qwen-VL); give each object a token of its own
# (a DETR-style set loss with Hungarian matching, if object labels exist); or keep locality in
# the bridge (Honeybee's C-Abstractor, neighbour pooling, pixel shuffle). In section 7, without
# the positions position stayed at chance, and without the slot loss it was read less well;
# together they brought it back, in every run once the slots were learned in a stage of their
# own before the LM joined.
# </details>
#
# ## 13 · Common pitfalls
#
# - **`image_token_index` left at None** in `Blip2Config`: an `AttributeError` about a `bool`
#   deep inside the forward. Set it to the tokenizer's `<image>` id.
# - **Wrong placeholder count**: BLIP-2 (and any `masked_scatter` splice) fills slots in order
#   across the batch; too few per row leaks one image's tokens into another row. Check per row.
# - **`num_query_tokens` lives on `Blip2Config`**, not on the Q-Former config, and `Blip2Config`
#   overwrites the Q-Former's `encoder_hidden_size` with the vision width.
# - **Q-Former dropout defaults to 0.1**: set 0 for tiny training and for equality checks.
# - **IDEFICS and grouped KV heads**: `IdeficsAttention` is full multi-head; copy a GQA LM by
#   repeating KV weights, and check the logits match bit for bit.
# - **Calling the gated layer without an image mask**: with `image_attention_mask=None` the SDPA
#   path applies a *causal* mask to the cross-attention (text position t sees image tokens 0..t);
#   pass a zero mask, as `IdeficsModel` does.
# - **`alpha_initializer="normal"` with `alpha_type="float"`** crashes on this version; keep
#   `"zeros"` (the identity at initialisation is the point).
# - **Counting FLOPs with SDPA**: `FlopCounterMode` does not count it on CPU; use eager attention.
#
# ## 14 · Summary
#
# - Learned queries cross-attending to image features give K tokens whatever the resolution; our
#   scratch Q-Former equals `Blip2QFormerModel`, and layer i cross-attends when i % f == 0.
# - A real `Blip2ForConditionalGeneration` needs `image_token_index`, and silently leaks query
#   outputs across the batch when a row has too few placeholders: guard the count.
# - Gated cross-attention with tanh gates at 0 leaves the frozen LM exactly unchanged; only the
#   gates get a gradient on the first step.
# - The cost table shows, per bridge design, visual tokens, trainable parameters, prefill FLOPs
#   (formula == FlopCounterMode), time and KV bytes.
# - A frozen LM brings only the skills it has. Notebook 05's tiny LM does not look a colour up
#   in a description of the scene (0.172, as with no text); a reading LM of the same size, trained
#   from scratch on answers after descriptions, does (0.609). Over it, with the LM frozen as
#   BLIP-2 and Flamingo freeze theirs, every bridge beats the blind baseline on colour, shape,
#   position and count; trained with the LM, every bridge does too, and scores higher.
# - Pooling by content drops an object's place: the cell lives in which slot a patch occupies
#   (probe 1.00), only partly in its content (0.47). Writing 2-D positions into the features and
#   a DETR-style slot loss (one token per object, Hungarian matching) brought position back to
#   the Q-Former: without the positions it stayed at chance, without the slot loss it was read
#   less well and colour and shape fell. Learning the slots first, before the LM joins (a slot
#   stage, as BLIP-2 trains its Q-Former first), made the read take: every Q-Former run of the
#   build reads position.
# - An instruction-aware Q-Former (InstructBLIP) lets the question into the queries'
#   self-attention; section 8 measured that it did not steer where they look, and the row
#   answered far better than its control (0.791 against 0.607 overall), colour and position most.
#
# ## References
#
# - Li, Li, Savarese, Hoi (2023). *BLIP-2: Bootstrapping Language-Image Pre-training with Frozen
#   Image Encoders and Large Language Models*. arXiv:2301.12597.
# - Dai et al. (2023). *InstructBLIP: Towards General-purpose Vision-Language Models with
#   Instruction Tuning*. arXiv:2305.06500.
# - Alayrac et al. (2022). *Flamingo: a Visual Language Model for Few-Shot Learning*.
#   arXiv:2204.14198.
# - Jaegle et al. (2021). *Perceiver: General Perception with Iterative Attention*.
#   arXiv:2103.03206.
# - Laurençon et al. (2023). *OBELICS: An Open Web-Scale Filtered Dataset of Interleaved
#   Image-Text Documents* (IDEFICS). arXiv:2306.16527.
# - Laurençon, Tronchon, Cord, Sanh (2024). *What matters when building vision-language models?*
#   (Idefics2). arXiv:2405.02246.
# - Bai et al. (2023). *Qwen-VL: A Versatile Vision-Language Model for Understanding,
#   Localization, Text Reading, and Beyond*. arXiv:2308.12966.
# - Cha, Kang, Mun, Roh (2024). *Honeybee: Locality-enhanced Projector for Multimodal LLM*.
#   arXiv:2312.06742.
# - Carion et al. (2020). *End-to-End Object Detection with Transformers* (DETR: object queries,
#   Hungarian matching). arXiv:2005.12872.
# - Liu, Li, Wu, Lee (2023). *Visual Instruction Tuning* (LLaVA). arXiv:2304.08485.
