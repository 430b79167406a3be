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
# # 05 · LLaVA: projecting vision into a language model
#
# LLaVA turns a language model into a vision-language model with one small trick: run the image
# through a frozen vision encoder, map each patch feature into the LM's word-embedding space with
# a small projector, and put those vectors into the prompt where an `<image>` placeholder stood.
# The LM then reads the image as if it were a few dozen (or a few thousand) extra words.
#
# **Learning goals.** After this notebook you can:
#
# 1. explain and build the projector path: vision tower (feature layer -2, class token dropped)
#    -> linear-GELU-linear projector -> LM embeddings, and check it against `transformers`;
# 2. say exactly how one `<image>` becomes N tokens, with a real `LlavaProcessor`, and what
#    error a mismatch raises;
# 3. train a tiny LLaVA in two stages on a laptop: stage 1 aligns the projector on captions,
#    stage 2 tunes projector and LM on questions, loss on answer tokens only, relation and colour
#    answers spelled out step by step, and read whether each step works;
# 4. measure when the model answers from the image and when from language priors (a blind
#    baseline, object hallucination), and whether it binds attributes to the right object;
# 5. size the visual-token and KV-cache budget of a real model (336 px crops, tiles, LLaVA-NeXT
#    AnyRes, grouped-query attention).
#
# **Why it matters.** Most open vision-language models (LLaVA, LLaVA-NeXT and many successors)
# are this recipe with bigger parts. Its costs are set by the number of visual tokens, and its
# failures often come from the LM answering without looking. Both are standard interview topics.

# %%
import json
from dataclasses import asdict

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from transformers import LlavaNextImageProcessorPil, LlavaNextProcessor, LlavaProcessor
from transformers.models.llava.modeling_llava import LlavaMultiModalProjector
from transformers.utils import logging as hf_logging

from course_lib import budgets, check, seed_everything
from course_lib import shapes_world as sw
from course_lib.base.paths import data_path
from course_lib.locality import REPRESENTATIONS, position_probes
from course_lib.models import llava as lv
from course_lib.models.causal_lm import complete, load_tiny_lm
from course_lib.models.clip import load_tiny_clip
from course_lib.models.dual_encoder import image_processor, to_pixel_values
from course_lib.plots import plot_images, plot_loss_curve
from course_lib.recipes import LLAVA_CHECKPOINT, LLAVA_LIVE, SEEDS
from course_lib.tools.bench import report
from course_lib.tools.checkpoints import load_metrics
from course_lib.widgets import explore

seed_everything(0)
hf_logging.set_verbosity_error()  # long <image> runs exceed the word tokenizer's nominal 64-token limit
hf_logging.disable_progress_bar()  # no "Loading weights" bars in checked cells

# %% [markdown]
# ## 1 · One number first
#
# LLaVA-1.5 feeds a 336 x 336 image to a CLIP ViT-L/14. How many tokens does that image cost the
# language model, and how much memory do they take in the LM's key-value cache?

# %%
# NBVAL_CHECK_OUTPUT
per_image = budgets.tokens_per_image(336, 14)
mha = budgets.LM_SHAPES["7B (MHA: 32 KV heads)"]
print(f"336 px / 14 px patches -> {336 // 14} x {336 // 14} = {per_image} visual tokens (class token dropped)")
print(f"KV cache of those tokens in a 7B LM (32 layers, 32 KV heads, head_dim 128, fp16): "
      f"{budgets.format_bytes(budgets.lm_kv_bytes(per_image, mha, 'fp16'))}")

# %% [markdown]
# One picture costs 576 tokens, about as many as a page of text, and 288 MiB of cache. The rest
# of this notebook builds the machine that consumes those tokens, then comes back to budgets.
#
# ## 2 · The architecture
#
# ```
# image (S x S) --> vision tower (frozen CLIP ViT) --> hidden states of layer -2, drop [CLS]
#       --> (S/P)^2 patch features of width Dv --> projector --> (S/P)^2 vectors of width Dt
#       --> spliced into the token embeddings where the <image> copies are --> causal LM
# ```
#
# Our parts are the course's own: the tiny CLIP from notebook 02 (48 px images, 8 px patches, so
# 6 x 6 = 36 patch tokens plus a class token) and a tiny Llama-style LM pre-trained on Shapes
# World text (captions and question-answer sentences, half of the latter after their scene's
# caption, so that it has answered from context), shipped in `data/tiny_lm`.

# %%
# NBVAL_CHECK_OUTPUT
clip, tokenizer = load_tiny_clip()
lm, lm_tokenizer = load_tiny_lm()
assert lm_tokenizer.get_vocab() == tokenizer.get_vocab()
model = lv.build_tiny_llava(clip, lm, tokenizer, seed=0)
vc, tc = model.config.vision_config, model.config.text_config
print(f"vision tower: {vc.num_hidden_layers} layers, width Dv = {vc.hidden_size}, image {vc.image_size} px, patch {vc.patch_size} px")
print(f"language model: {tc.num_hidden_layers} layers, width Dt = {tc.hidden_size}, {tc.num_attention_heads} heads, "
      f"{tc.num_key_value_heads} KV heads, vocabulary {tc.vocab_size}")
print(f"feature layer {model.config.vision_feature_layer}, strategy '{model.config.vision_feature_select_strategy}', "
      f"image_token_id {model.config.image_token_id} = {tokenizer.convert_ids_to_tokens(model.config.image_token_id)}")
for part, (total, trainable) in lv.count_parameters(model).items():
    print(f"{part:>15}: {total:>7,} parameters, {trainable:>7,} trainable in stage 1")

# %% [markdown]
# ## 3 · The projector from scratch
#
# LLaVA (Liu et al. 2023) used a single linear layer; LLaVA-1.5 (Liu et al. 2023, CVPR 2024) a two-layer MLP
# with a GELU. Both are a few lines, written here. Our `Projector` names its layers like the
# library's, so the library's weights load into it unchanged, and the two must agree to the last
# bit (as must `course_lib.models.llava.Projector`, the same class with input checks).

# %%
class Projector(nn.Module):
    """Vision features (B, N, Dv) -> LM embeddings (B, N, Dt): linear_1, then (kind "mlp") GELU and linear_2."""

    def __init__(self, vision_dim, text_dim, kind="mlp"):
        super().__init__()
        self.linear_1 = nn.Linear(vision_dim, text_dim)
        self.linear_2 = nn.Linear(text_dim, text_dim) if kind == "mlp" else None

    def forward(self, features):
        hidden = self.linear_1(features)
        return hidden if self.linear_2 is None else self.linear_2(nn.functional.gelu(hidden))


# %%
# NBVAL_CHECK_OUTPUT
hf_projector = model.model.multi_modal_projector
scratch = Projector(vc.hidden_size, tc.hidden_size, kind="mlp")
scratch.load_state_dict(hf_projector.state_dict())
features = torch.randn(2, 36, vc.hidden_size)
torch.testing.assert_close(scratch(features), hf_projector(features))
course_lib_projector = lv.Projector(vc.hidden_size, tc.hidden_size, kind="mlp")
course_lib_projector.load_state_dict(scratch.state_dict())
torch.testing.assert_close(course_lib_projector(features), scratch(features))
linear = Projector(vc.hidden_size, tc.hidden_size, kind="linear")
print(f"{type(hf_projector).__name__} == scratch MLP projector: output {tuple(scratch(features).shape)}")
print(f"MLP projector: {sum(p.numel() for p in scratch.parameters()):,} parameters; "
      f"linear projector: {sum(p.numel() for p in linear.parameters()):,}")

# %% [markdown]
# Where do the 36 features come from? The tower returns every layer's hidden states; LLaVA takes
# layer -2 (the last layer is tuned for CLIP's pooled contrastive output, the one before keeps
# more local detail) and, with strategy `"default"`, drops the class token at position 0.

# %%
# NBVAL_CHECK_OUTPUT
scenes = sw.generate_scenes(4, seed=7, min_objects=1, max_objects=3)
pixels = to_pixel_values(scenes.images)
with torch.no_grad():
    hidden = model.model.vision_tower(pixels, output_hidden_states=True).hidden_states
    chosen = hidden[-2][:, 1:]
    library = model.model.get_image_features(pixel_values=pixels).pooler_output
torch.testing.assert_close(torch.stack(library), hf_projector(chosen))
print(f"{len(hidden)} hidden states (embeddings + {vc.num_hidden_layers} layers), each {tuple(hidden[-2].shape)}")
print(f"layer -2 without [CLS]: {tuple(chosen.shape)} -> projected: {tuple(torch.stack(library).shape)}")

# %% [markdown]
# ## 4 · How `<image>` becomes N tokens
#
# The model does not expand the placeholder: the **processor** does. `LlavaProcessor` computes the
# image's token count from the processed pixel size, (S/P)^2 plus any extra tokens, minus the class
# token for strategy `"default"`, and repeats `<image>` that many times. Our processor uses the
# course tokenizer (where `<image>` is a special token, id 4) and `CLIPImageProcessorPil` (no
# torchvision needed) with the course's normalisation.

# %%
# NBVAL_CHECK_OUTPUT
processor = lv.build_processor(tokenizer)
inputs = processor(images=list(scenes.images[:1]), text=["<image> how many objects are there ?"], return_tensors="pt")
ids = inputs["input_ids"][0]
n_image = int((ids == tokenizer.image_token_id).sum())
print(f"prompt '<image> how many objects are there ?' -> {len(ids)} ids, {n_image} of them <image>")
print(f"(S/P)^2 = ({vc.image_size}/{vc.patch_size})^2 = {budgets.tokens_per_image(vc.image_size, vc.patch_size)}")
print("tokens:", " ".join(tokenizer.convert_ids_to_tokens(ids[:3].tolist())), "...",
      " ".join(tokenizer.convert_ids_to_tokens(ids[-8:].tolist())))
scratch_ids = tokenizer(lv.expand_image_token("<image> how many objects are there ?", n_image), return_tensors="pt")["input_ids"][0]
assert torch.equal(scratch_ids, ids) and torch.equal(inputs["pixel_values"], pixels[:1])
print("scratch expansion == processor ids; processor pixels == to_pixel_values")

# %% [markdown]
# The count must match the features exactly. A CLIP tower outputs 37 tokens; the processor must be
# told about the class token (`num_additional_image_tokens=1`) before the `"default"` strategy
# subtracts it. Forget it and the processor inserts 35 copies; the model refuses. This cell is
# meant to raise, so it catches and prints the error:

# %%
# NBVAL_CHECK_OUTPUT
wrong = LlavaProcessor(image_processor=image_processor(48), tokenizer=tokenizer, patch_size=8,
                       vision_feature_select_strategy="default")  # num_additional_image_tokens forgotten
bad = wrong(images=list(scenes.images[:1]), text=["<image> how many objects are there ?"], return_tensors="pt")
print("copies inserted:", int((bad["input_ids"] == tokenizer.image_token_id).sum()))
try:
    model(**bad)
except ValueError as err:
    print("ValueError:", err)
n_feat, lm_width = n_image, model.config.text_config.hidden_size
print(f"'features' counts numbers, not tokens: {n_feat} projected patch tokens x width {lm_width} = {n_feat * lm_width}")

# %% [markdown]
# A prompt with an image but no `<image>` placeholder is caught one step earlier, by the processor:

# %%
# NBVAL_CHECK_OUTPUT
try:
    processor(images=list(scenes.images[:1]), text=["how many objects are there ?"])
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# Read the message with care: "tokens: 35" counts `<image>` tokens, but "features: 4608" counts
# the *elements* of the projected image features, 36 patch tokens x 128 (the LM's width) = 4608,
# as the last line prints. The real mismatch is 35 tokens against 36 features.
#
# ## 5 · The tiny language model and its priors
#
# The LM was pre-trained on Shapes World sentences only: captions and "question answer" text,
# never an image. It speaks the language and knows the answer formats; any answer it gives is a
# guess shaped by how often answers occur. Its shipped metrics, and a few completions:

# %%
# NBVAL_CHECK_OUTPUT
lm_metrics = load_metrics("tiny_lm")
print(f"tiny LM: {lm_metrics['parameters']:,} parameters, held-out perplexity {lm_metrics['held_out_perplexity']:.3f}, "
      f"rebuilt by: {lm_metrics['command']}")
for prompt in ["how many objects are there ?", "is there a red circle ?", "what color is the circle ?", "where is the red square ?"]:
    print(f"{prompt!r:>34} -> {complete(lm, tokenizer, prompt)!r}")

# %% [markdown]
# ## 6 · Train a tiny LLaVA, live
#
# **Stage 1 (feature alignment).** Freeze the tower and the LM; train only the projector to make
# the LM predict each image's caption. The LM learns nothing new: the projector learns to speak
# the LM's embedding language. **Stage 2 (instruction tuning).** Unfreeze the LM and train it with
# the projector on **conversations**: like LLaVA's instruction data, each image comes with several
# questions and answers in one sequence, every answer closed by an end-of-turn token (`<eos>`
# here). Our conversations ask all of a scene's questions (six or seven) in a random order, so one
# pass over the 36 visual tokens teaches six or seven answers instead of one. The loss covers only
# the answers and their `<eos>`; labels are -100 on the image, the questions and the padding. The
# vision tower stays frozen. A catch: a later question can name an earlier answer ("what size is
# the red circle ?" tells the colour and the shape), which the model may copy from the text; in
# example 0 below, the first question names the red triangle whose shape the second asks. Our
# evaluation asks every question first, with nothing to copy.
# **Three additions of ours** (section 7 measures them). Stage 2 also trains a linear head on the
# projector's 36 tokens to name, for each patch, the colour, shape and cell of the object it
# belongs to, or background (`lv.AttributeHead`); its loss is added to the answer loss with
# weight 1 and the head is then dropped, so the saved model is a plain
# `LlavaForConditionalGeneration`. And a relation answer spells out its steps: the first
# object's cell, the second's, then the relation ("bottom left and center is left",
# `lv.relation_steps`, the recipe's `cells_first`), a short chain of thought in the answer. A
# colour answer likewise first lists every object of the scene by colour and shape, in palette
# order ("red triangle and orange diamond is orange", `lv.colour_steps`, `objects_first`).
# Evaluation scores the last word of both (`lv.final_answer`). Both stages run through the
# course's one training loop, `course_lib.training.train`.

# %%
# NBVAL_CHECK_OUTPUT
batch = lv.vqa_batch(tokenizer, 2, seed=11, turns=LLAVA_CHECKPOINT.turns, cells_first=LLAVA_CHECKPOINT.cells_first,
                     objects_first=LLAVA_CHECKPOINT.objects_first)
ids, row = batch["input_ids"][0], batch["labels"][0]
print(f"batch: input_ids {tuple(batch['input_ids'].shape)}, pixel_values {tuple(batch['pixel_values'].shape)}")
text = ids[(batch["attention_mask"][0] == 1) & (ids != tokenizer.image_token_id)]
print("example 0 without its 36 <image> tokens:", tokenizer.decode(text.tolist()))
print("labelled tokens of example 0:", tokenizer.decode(row[row != -100].tolist()),
      f"({int((row != -100).sum())} of {int(batch['attention_mask'][0].sum())} tokens)")
two_objects = lv.vqa_scenes(8, seed=11)
spelled = lv.vqa_conversations(two_objects, 11, cells_first=True, objects_first=True)
print("a relation turn, its cells first:", next(t for c in spelled for t in c if "relative" in t[0]))
print("a colour turn, the objects first:", next(t for c in spelled for t in c if t[0].startswith("what color")))

# %%
first, second = lv.train_two_stages(model, tokenizer, **asdict(LLAVA_LIVE))  # the shipped recipe, shorter
live_seconds = first.seconds + second.seconds
print(f"stage 1: {first.steps} steps in {first.seconds:.0f} s; stage 2: {second.steps} steps in {second.seconds:.0f} s")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
plot_loss_curve(first.losses, title="stage 1: projector only, captions", ax=axes[0])
plot_loss_curve(second.losses, title="stage 2: projector + LM, answer tokens", ax=axes[1])
fig.tight_layout()

# %%
eval_scenes, eval_qa = lv.eval_set(1000, SEEDS.llava_eval)
live_metrics, _ = lv.evaluate(model, tokenizer, eval_scenes, eval_qa[:300])
print(f"live model on 300 held-out questions: overall exact match {live_metrics['overall']:.3f}")
report("llava_live", seconds=round(live_seconds, 1), overall=round(live_metrics["overall"], 3))

# %% [markdown]
# Answers come from `generate()` (greedy, stopping at `<eos>`), asked about scenes from a seed the
# training never used:

# %%
show = [q for q in eval_qa if q.kind == sw.QUESTION_TYPES[q.scene % len(sw.QUESTION_TYPES)]][:8]  # one per scene, mixed types
answers = lv.generate_answers(model, tokenizer, eval_scenes.images[[q.scene for q in show]], [q.question for q in show])
captions = sw.make_captions(eval_scenes, template=0)  # the scene in words: colours named for every reader
plot_images(eval_scenes.images[[q.scene for q in show]],
            [f"{captions[q.scene]}\nQ: {q.question}\n-> {a} ({'ok' if a == q.answer else 'truth: ' + q.answer})"
             for q, a in zip(show, answers)],
            cols=4, size=2.6);

# %% [markdown]
# ## 7 · Image or prior? The full evaluation
#
# The shipped tiny LLaVA (`data/tiny_llava`, rebuilt by `python -m course_lib.tools.checkpoints
# tiny_llava`) trained with the same recipe, 5,000 stage-2 steps instead of 600. Its builder also
# trained a **blind baseline**: the same LM, the same stage-2 recipe, with the image withheld.
# Whatever the blind model gets right comes from language priors alone. **Hallucination** is the
# yes-rate on "is there a ...?" questions about objects that are absent.


# %%
# NBVAL_CHECK_OUTPUT
shipped, _ = lv.load_tiny_llava()
shipped_metrics, shipped_predictions = lv.evaluate(shipped, tokenizer, eval_scenes, eval_qa)
blank = lv.evaluate(shipped, tokenizer, sw.Scenes(np.zeros_like(eval_scenes.images), *(
    getattr(eval_scenes, f) for f in ("colors", "shapes", "sizes", "cells"))), eval_qa)[0]
llava_metrics = load_metrics("tiny_llava")
print(f"{len(eval_qa)} questions about {len(eval_scenes)} held-out scenes; chance: colour 1/{len(sw.COLORS)}, "
      f"shape 1/{len(sw.SHAPES)}, size 1/{len(sw.SIZES)}, position 1/{len(sw.POSITIONS)}, existence 1/2")
print(lv.metrics_table({"tiny LLaVA": shipped_metrics, "blind (trained)": llava_metrics["blind"],
                         "LLaVA, black image": blank}))
margin = {k: shipped_metrics[k] - llava_metrics["blind"][k] for k in sw.QUESTION_TYPES}
print("LLaVA minus blind:", ", ".join(f"{k} {v:+.3f}" for k, v in margin.items()))
print("relation questions here:", sum(q.kind == "relation" for q in eval_qa))
assert min(margin[k] for k in ("shape", "size", "position", "count")) > 0.5 and margin["relation"] > 0.3

# %% [markdown]
# Read the table by column, against chance: 1/6 for colour, 1/5 for shape, 1/2 for size and
# existence, 1/9 for position. A column where the blind model already scores well is answered from
# priors (the answer distribution alone); only the margin of the LLaVA row over the blind row is
# evidence that the image was used. The black-image row asks the same of the trained LLaVA: what
# does it say when the picture carries no information? The last column is the hallucination
# rate, the share of "is there a ...?" questions about absent objects answered "yes": a model
# that never looks and always says "yes" scores 1.0 there and still gets half the existence
# questions right. Ours: the tiny LLaVA says "yes" to 0.039 of absent objects, the blind model
# to 0.662 of them, and the LLaVA shown a black image to none (0.000). Looking at the image
# lowers the false "yes" rate from 0.662 to 0.039; the black image shows the other side of the
# prior: with nothing in the picture the model says "no". The
# absent objects here are drawn at random from the shapes and colours not in the scene; POPE also
# samples *popular* (frequent in the data) and *adversarial* (frequently co-occurring with what is
# there) absent objects, which are harder, so these rates are the easy end of POPE. Which columns
# of our tiny model beat its blind twin, and which do not, is exactly the diagnosis to run on a
# real VLM before trusting its benchmark score. Ours: every column but relation gains over 0.5
# from the image, relation 0.464 (on only 97 questions; the 3,000-question slices below say
# more). Position shows where the image information lives: a linear
# probe cannot read an object's cell from this tower's *pooled* vector (the shipped single-object
# `tiny_clip`; notebook 04, section 7: chance), yet the LM, which reads the 36 *patch* tokens of
# the same tower in raster order, answers position questions far above its blind twin (the end of
# this section finds where it keeps the cell).
#
# **Binding.** The colour column hides a sharper failure. Split the colour and shape questions by the
# number of objects in the scene, and count how often the answer is right and how often it at
# least names a colour (or shape) that is in the picture:

# %%
# NBVAL_CHECK_OUTPUT
binding = {}
for kind, names, table in [("color", sw.COLORS, eval_scenes.colors), ("shape", sw.SHAPES, eval_scenes.shapes)]:
    for n in (1, 2, 3):
        asked = [i for i, q in enumerate(eval_qa) if q.kind == kind and eval_scenes.n_objects[q.scene] == n]
        right = np.mean([shipped_predictions[i] == eval_qa[i].answer for i in asked])
        # a scene's n objects fill the first n slots of its colour and shape rows (the rest are -1)
        in_scene = np.mean([shipped_predictions[i] in {names[j] for j in table[eval_qa[i].scene, :n]} for i in asked])
        binding[kind, n] = right, in_scene
        print(f"{kind}, {n} object(s), {len(asked)} questions: right {right:.3f}, names one in the scene {in_scene:.3f}, "
              f"a random one of the scene would be right {1 / n:.3f}")
assert abs(binding["color", 3][0] - 1 / 3) < 0.1 and binding["color", 3][1] > 0.9 and binding["shape", 3][0] > 0.8

# %% [markdown]
# **Enough questions to decide a slice.** Split 1,000 questions by type and object count and a
# slice holds about 50 of them: a standard error near 0.07, too coarse to tell 0.80 from 0.90. The
# builder therefore also evaluated both models on 3,000 other held-out questions (their own seed);
# each slice with its count:

# %%
# NBVAL_CHECK_OUTPUT
large = llava_metrics["eval_3000"]
print(f"{large['questions']} held-out questions (seed {large['seed']}): exact match (questions) per slice")
print(f"{'slice':>22} {'LLaVA':>7} {'blind':>7} {'n':>5}")
for name, cell in large["llava_slices"].items():
    print(f"{name:>22} {cell['accuracy']:>7.3f} {large['blind_slices'][name]['accuracy']:>7.3f} {cell['questions']:>5}")
n_relation = sum(c["questions"] for k, c in large["llava_slices"].items() if k.startswith("relation"))
print(f"{'relation, all':>22} {large['llava']['relation']:>7.3f} {large['blind']['relation']:>7.3f} {n_relation:>5}")
print(f"{'overall':>22} {large['llava']['overall']:>7.3f} {large['blind']['overall']:>7.3f} {large['questions']:>5}")

# %% [markdown]
# With three objects the colour answer is right about as often as naming a random object of the
# scene would be (0.397 against 0.333 here, 0.326 on the 3,000 questions), yet every one of those
# answers names a colour that is there: the answer draws on *which* colours the image holds, not
# on *which goes with the named shape*. The other attributes bind. Asked by colour ("what shape is the red
# object ?"), shape is right 0.983 with three objects here (0.993 on the 3,000); asked by the
# full name ("what size is the red circle ?"), size is right 1.000 and position 0.858 with three
# objects (3,000 questions; blind 0.482 and 0.114), existence 0.986 (blind 0.454), and relation,
# which names both objects in full, 0.766 (blind 0.347). What differs is the key: a colour
# question names only the shape ("what color is the circle ?"), and looking an object up by its
# shape is what this model has not learned. Where the look-up fails, the answer comes from a bag
# of attributes, though the model pairs each colour with its shape when it looks the object up by
# colour (the colour list below). Contrastive and image-text matching models fail the same way: the ARO benchmark (Yuksekgonul et al. 2023) shows CLIP-style models scoring a caption
# and its attribute-swapped version alike. For generative VLMs, question sets that need
# compositional reasoning over several objects, such as GQA (Hudson and Manning 2019), probe the
# same failure; test it with multi-object scenes, not single ones.


# %% [markdown]
# ### What made it work
#
# The course's target for this model is 0.90 overall and 0.85 on relations and on colour and
# shape with three objects. Each shipped build so far, one recipe change apart (seed 0, stage 2
# 5,000 steps): the two-stage recipe with the no-decay rule (no weight decay on biases and norm
# gains); then the auxiliary patch loss added; then relation answers that name both cells
# first; then colour answers that list the objects first. The earlier builds' metrics are kept
# in `data/tiny_llava/ablation.json` (copied from their commits; a test checks that each row
# differs from the next recipe in one field), the runs that chose each change in
# `data/README.md`.

# %%
# NBVAL_CHECK_OUTPUT
earlier = json.loads((data_path(lv.TINY_LLAVA) / "ablation.json").read_text())["rows"]
builds = {r["label"]: (r["llava"], r["eval_3000"], r["llava_train_seconds"]) for r in earlier}
builds["+ objects first"] = (llava_metrics["llava"], large, llava_metrics["llava_train_seconds"])
print("1,000 questions:")
print(lv.metrics_table({label: m for label, (m, _, _) in builds.items()}))
print(f"\n3,000 questions: {'colour 3':>9} {'shape 3':>9} {'relation 3':>10} {'overall':>9} {'train s':>9}")
for label, (_, big, seconds) in builds.items():
    cut = {k: big["llava_slices"][f"{k}, 3 objects"]["accuracy"] for k in ("color", "shape", "relation")}
    print(f"{label:<16} {cut['color']:>9.3f} {cut['shape']:>9.3f} {cut['relation']:>10.3f} "
          f"{big['llava']['overall']:>9.3f} {seconds:>9.0f}")

# %% [markdown]
# The auxiliary patch loss moved shape (with three objects 0.482 to 0.929 on the 3,000) and
# position (0.607 to 0.893), and overall from 0.723 to 0.852. Spelling out the relation's steps
# moved relation from 0.423 to 0.825 (with three objects, on the 3,000: 0.340 to 0.823), but
# existence fell from 0.967 to 0.840 (false "yes" 0.039 to 0.312), though that chain does not
# touch existence questions. Listing the objects in every colour answer brought existence back
# (0.980, false "yes" 0.039) and overall to 0.907 here and 0.911 on the 3,000: over the 0.90
# target, as shape with three objects (0.993) is over its 0.85. Colour with three objects did not
# rise (0.326 on the 3,000), and relation, 0.845 here, is 0.822 on the 3,000 (with three objects
# 0.766, against 0.823 in the build before): both short of 0.85. Each row is one build, seed 0,
# so a swing like existence's may be run-to-run variation as much as the change; the list, an
# inventory of the scene in every colour answer, is a plausible cause of its return, not a proven
# one. The seconds compare build days as
# much as recipes.
#
# Why does the chain help? Without it, the relation answer must come out of one forward pass:
# find both objects, carry both cells to the last token, compare them. With it, each step is one
# the model already does well: two position look-ups (position 0.880), each written down as
# words, and then a comparison of two words it can attend to. Read the shipped model's chains on
# the 97 relation questions:

# %%
# NBVAL_CHECK_OUTPUT
asked = [q for q in eval_qa if q.kind == "relation"]
spelled = lv.generate_answers(shipped, tokenizer, eval_scenes.images[[q.scene for q in asked]], [q.question for q in asked])
truth = [lv.relation_steps(eval_scenes, q) for q in asked]
cells_right = np.array([a.rsplit(" is ", 1)[0] == t.rsplit(" is ", 1)[0] for a, t in zip(spelled, truth)])
right = np.array([lv.final_answer(q.question, a) == q.answer for q, a in zip(asked, spelled)])
named = [a.rsplit(" is ", 1)[0].split(" and ") for a in spelled]
follows = [sw.relation(sw.POSITIONS.index(c[0]), sw.POSITIONS.index(c[1])) == a.split()[-1]
           for c, a in zip(named, spelled) if len(c) == 2 and c[0] != c[1] and set(c) <= set(sw.POSITIONS)]
print(f"{len(asked)} relation questions, e.g. {asked[0].question!r} -> {spelled[0]!r} (truth {truth[0]!r})")
print(f"both cells named right: {cells_right.mean():.3f}; the relation right when they are {right[cells_right].mean():.3f}, "
      f"when they are not {right[~cells_right].mean():.3f}")
print(f"the last word is the relation of the two cells the model named: {np.mean(follows):.3f} of {len(follows)} answers")

# %% [markdown]
# When both cells are named right, the relation is always right; when a cell is wrong, the
# relation is right about as often as a guess among four would be (0.286 against 0.25). And
# the last word always follows from the two cells the model wrote, right or wrong: the comparison has been learned,
# the look-ups are what fail. Relation accuracy is now set by position accuracy. This is chain of
# thought (Wei et al. 2022) in miniature, with the intermediate steps grounded in the image, as
# Shikra (Chen et al. 2023) writes coordinates into its answers. The cost is tokens: 5-7 per
# relation answer instead of one.
#
# **The colour list.** The last build tried the same trick on colour: list every object by colour
# and shape (each a look-up by colour, which works), and the answer is then in the text. Read the
# chains on the colour questions about three-object scenes:

# %%
# NBVAL_CHECK_OUTPUT
asked = [q for q in eval_qa if q.kind == "color" and eval_scenes.n_objects[q.scene] == 3]
listed = lv.generate_answers(shipped, tokenizer, eval_scenes.images[[q.scene for q in asked]], [q.question for q in asked])
truth = [lv.colour_steps(eval_scenes, q) for q in asked]
list_right = np.array([a.rsplit(" is ", 1)[0] == t.rsplit(" is ", 1)[0] for a, t in zip(listed, truth)])
right = np.array([lv.final_answer(q.question, a) == q.answer for q, a in zip(asked, listed)])
colours = [[o.split()[0] for o in a.rsplit(" is ", 1)[0].split(" and ")] for a in listed]  # in listed order
picked = [c.index(a.split()[-1]) + 1 if a.split()[-1] in c else 0 for c, a, ok in zip(colours, listed, list_right) if ok]
print(f"{len(asked)} colour questions, three objects, e.g. {asked[0].question!r} -> {listed[0]!r}")
print(f"all three objects listed right (colour with shape): {list_right.mean():.3f}; "
      f"the answer right when they are {right[list_right].mean():.3f}")
print("where in its own list the answer comes from (1st / 2nd / 3rd object / not listed):",
      " / ".join(f"{picked.count(k) / len(picked):.2f}" for k in (1, 2, 3, 0)))

# %% [markdown]
# The model lists all three objects right, each colour bound to its shape, in 0.948 of these
# questions, and then answers right in only 0.400 of those: it takes the 1st, 2nd or 3rd listed
# colour about equally often (0.36, 0.35, 0.29), as a pick of one in three would. Reading the
# answer off its own list is a look-up by shape, in the text this time: the look-up it never
# learned on the image. A chain helps when each step is one the model can do; this one ends on
# the step it cannot. A variant that stops the list at the asked shape, so that the last step is a
# comparison of the shape just written with the question's and a copy of the colour before it,
# lifted colour with three objects well above a random object's rate in one 5,000-step run; in
# that run the look-ups by colour and by full name did not form and overall fell (the numbers are
# in `data/README.md`). That is the next lever, not yet a recipe.
#
# **Where the cell lives.** The auxiliary loss asks every projected token, one at a time, to name
# its object's colour, shape and cell. Which of the three did the LM get? A linear probe of a lone
# object's cell from the average of its own four patches (the probe of notebook 06, section 7)
# follows the cell through the model:

# %%
# NBVAL_CHECK_OUTPUT
one_object = sw.generate_scenes(1200, seed=SEEDS.position_probe, min_objects=1, max_objects=1, split="all")
OWN_CELL = REPRESENTATIONS[1]  # "the object's own patches, averaged"
ids = torch.full((len(one_object), 37), tokenizer.image_token_id)
ids[:, 0] = tokenizer.bos_token_id  # <bos> and the 36 image slots, no question
with torch.no_grad():
    pixels = to_pixel_values(one_object.images)
    patches = shipped.model.vision_tower(pixels, output_hidden_states=True).hidden_states[lv.FEATURE_LAYER][:, 1:]
    states = shipped(input_ids=ids, pixel_values=pixels, output_hidden_states=True).hidden_states
reads = {"tower features (the projector's input)": patches, "projected tokens (the LM's input)": states[0][:, 1:],
         **{f"LM states after layer {k}": states[k][:, 1:] for k in range(1, len(states))}}
print("a lone object's cell from its own four patches, averaged (linear probe, 300 scenes, chance 0.11):")
for name, x in reads.items():
    print(f"  {name:40s} {position_probes(x, one_object.cells[:, 0], representations=[OWN_CELL])[OWN_CELL]:.2f}")

# %% [markdown]
# The projector does not hand the LM the cell: its tokens keep less of it than the tower's
# features (0.14 against 0.47). It maps one token at a time, so it never sees a token's slot,
# and the little the content held did not survive it. The LM writes the cell into each image
# token's state itself, layer by layer (0.44, 0.86, then 0.97). Its likely source is the token's
# place in the sequence: RoPE in causal attention lets a state depend on where its token sits,
# and the 36 tokens arrive in raster order. The same probe on the previous model (logged in
# `data/README.md`) found the cell in its states too, so position failed there for want of
# finding the named object, not of the cell. What the auxiliary loss most likely bought is that
# *look-up*: each token names its object's shape and colour, so a question that names an object
# finds its tokens, and their states hold the cell. The slices above agree: shape with three
# objects 0.993 (looked up by colour), position 0.911 and 0.858 with two and three objects.
# Colour with three objects stays near the rate of naming a random object of the scene (0.326
# against 0.333): a colour question names only the shape, and that look-up still fails. It is
# still open (`data/README.md` logs the levers tried on it).


# %% [markdown]
# ### Ask your own question
#
# `lv.render_answers` asks one held-out scene a question of your own, in the Shapes World
# vocabulary, and shows the tiny LLaVA's answer beside the blind baseline's (shipped in
# `data/tiny_llava/blind`, asked without the image). When the question has one of the course's
# forms ("what color is the circle ?", "where is the red square relative to the blue cross ?", ...)
# the true answer is read from the scene; a word outside the vocabulary gets a message, not an error.

# %%
blind_model, _ = lv.load_blind_baseline()
askers = {"tiny LLaVA": (shipped, True), "blind baseline": (blind_model, False)}
first_question = next(q.question for q in eval_qa if q.scene == 3 and q.kind == "color")
lv.render_answers(askers, tokenizer, eval_scenes, 3, first_question);

# %%
explore(
    lambda scene, question: lv.render_answers(askers, tokenizer, eval_scenes, scene, question),
    scene=ipywidgets.IntSlider(value=3, min=0, max=len(eval_scenes) - 1, description="scene"),
    question=ipywidgets.Text(value=first_question, description="question", continuous_update=False),
)

# %% [markdown]
#
# ## 8 · Token budgets of real models
#
# Back to real sizes. A single crop costs (S/P)^2 tokens. Tiling cuts a large image into crops
# and pays for each. LLaVA-NeXT's **AnyRes** picks the best grid for the image's aspect ratio from
# a list of canvases, encodes a downscaled copy (the base) plus every tile, removes the feature
# rows or columns that only cover padding, and ends each feature row with a learned newline token.

# %%
# NBVAL_CHECK_OUTPUT
print(f"224/14 single crop: {budgets.tokens_per_image(224, 14)} tokens")
print(f"336/14 single crop: {budgets.tokens_per_image(336, 14)} tokens")
print(f"4 tiles of 336/14: {budgets.tiled_tokens(336, 14, 4)} tokens; with a base image: "
      f"{budgets.tiled_tokens(336, 14, 4, base_image=True)}")

# %% [markdown]
# The AnyRes formula against the real `LlavaNextProcessor` (with `LlavaNextImageProcessorPil`,
# sizes set explicitly: its default crop is 224 px, not LLaVA-NeXT's 336):

# %%
# NBVAL_CHECK_OUTPUT
next_processor = LlavaNextProcessor(
    image_processor=LlavaNextImageProcessorPil(size={"shortest_edge": 336}, crop_size={"height": 336, "width": 336},
                                               image_grid_pinpoints=[list(p) for p in budgets.LLAVA_NEXT_PINPOINTS]),
    tokenizer=tokenizer, patch_size=14, vision_feature_select_strategy="default", num_additional_image_tokens=1)
print(f"{'image HxW':>10} {'canvas':>10} {'grid':>5} {'base':>5} {'tiles':>6} {'newl':>5} {'formula':>8} {'processor':>9}")
for h, w in [(672, 672), (336, 336), (480, 640), (1000, 300), (100, 1000), (800, 1200)]:
    parts = budgets.anyres_tokens(h, w)
    out = next_processor(images=np.zeros((h, w, 3), np.uint8), text="<image> is there a red circle ?", return_tensors="pt")
    counted = int((out["input_ids"] == tokenizer.image_token_id).sum())
    assert counted == parts.total
    print(f"{h:>4}x{w:<5} {parts.canvas[0]:>4}x{parts.canvas[1]:<5} {parts.grid[0]}x{parts.grid[1]:<3} {parts.base:>5} "
          f"{parts.tile_tokens:>6} {parts.newlines:>5} {parts.total:>8} {counted:>9}")

# %% [markdown]
# ## 9 · The KV cache those tokens occupy
#
# During generation every token keeps a key and a value vector per layer and per KV head:
# **bytes = 2 x layers x kv_heads x head_dim x tokens x bytes per element**. Grouped-query
# attention (GQA) shares each KV head among several query heads and shrinks the cache.

# %%
# NBVAL_CHECK_OUTPUT
gqa = budgets.LM_SHAPES["7B (GQA: 8 KV heads)"]
anyres_672 = budgets.anyres_tokens(672, 672).total
for shape in (mha, gqa):
    print(f"{shape.name}: {budgets.format_bytes(budgets.lm_kv_bytes(1, shape, 'fp16'))} per token, "
          f"{budgets.format_bytes(budgets.lm_kv_bytes(576, shape, 'fp16'))} for 576 tokens, "
          f"{budgets.format_bytes(budgets.lm_kv_bytes(anyres_672, shape, 'fp16'))} for one AnyRes 672x672 image")

# %% [markdown]
# The formula against a real cache: run the shipped tiny LLaVA on one prompt with `use_cache=True`
# and measure the `DynamicCache` it returns (float32, 4 bytes per element).

# %%
# NBVAL_CHECK_OUTPUT
with torch.no_grad():
    out = shipped(**inputs, use_cache=True)
cache, n_tokens = out.past_key_values, inputs["input_ids"].shape[1]
real = budgets.cache_nbytes(cache)
formula = budgets.config_kv_bytes(shipped.config.text_config, n_tokens, bytes_per_element=4)
print(f"{type(cache).__name__}: {n_tokens} tokens, {len(cache.layers)} layers, keys {tuple(cache.layers[0].keys.shape)}")
print(f"measured {real:,} bytes == formula {formula:,} bytes: {real == formula}")

# %% [markdown]
# The cache is the memory cost; the **prefill** is the compute cost: every prompt token goes once
# through every weight, about 2 x parameters FLOPs per token (plus attention, which grows with
# tokens squared). At a sustained 100 TFLOP/s (an A100 at about a third of its 312 TFLOP/s
# dense bf16 peak), a 7B LM:

# %%
# NBVAL_CHECK_OUTPUT
for label, n in (("one 336 px crop", 576), ("AnyRes 672x672", anyres_672)):
    flops = budgets.prefill_flops(n, params=7e9, layers=32, hidden_size=4096)
    print(f"prefill of {label} ({n:,} visual tokens): {flops / 1e12:.1f} TFLOPs (2 x 7e9 x {n:,} = "
          f"{2 * 7e9 * n / 1e12:.1f} without attention), {flops / 100e12:.2f} s at 100 TFLOP/s")

# %% [markdown]
# ## 10 · Budget explorer
#
# Pick an image size, a tiling, an LM shape and a dtype; read off the visual tokens, their share of
# the context window and their KV-cache memory. The static call first, then the widget.

# %%
# NBVAL_CHECK_OUTPUT
print(budgets.render_budget(672, 672, "anyres", "7B (GQA: 8 KV heads)", "fp16", images=1))

# %%
explore(
    budgets.render_budget,
    height=ipywidgets.IntSlider(value=672, min=112, max=2016, step=56, description="height"),
    width=ipywidgets.IntSlider(value=672, min=112, max=2016, step=56, description="width"),
    tiling=ipywidgets.Dropdown(options=list(budgets.TILINGS), value="anyres", description="tiling"),
    lm=ipywidgets.Dropdown(options=list(budgets.LM_SHAPES), value="7B (GQA: 8 KV heads)", description="LM"),
    dtype=ipywidgets.Dropdown(options=list(budgets.DTYPE_BYTES), value="fp16", description="dtype"),
    images=ipywidgets.IntSlider(value=1, min=1, max=8, description="images"),
)

# %% [markdown]
# ## 11 · Exercises
#
# Each check prints `[TODO]` until you fill in `answer`, a hint when it is wrong, and `[PASS]`
# when it is right.
#
# **Exercise 1.** How many `<image>` tokens does LLaVA-1.5 insert for one 336 px image with 14 px
# patches (strategy `"default"`)?

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: an integer
check("05.tokens_336", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = (336 // 14) ** 2   # 576: the class token is dropped
# ```
# </details>
#
# **Exercise 2.** How many visual tokens does AnyRes give a 672 x 672 image (336 px crops, 14 px
# patches)? Count the base image, the tiles and the newline tokens.

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: an integer
check("05.anyres_672", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# side = 336 // 14                      # 24 features per crop side
# rows = cols = 2 * side                # 2 x 2 tiles -> a 48 x 48 feature grid
# answer = side * side + rows * cols + rows   # base + tiles + one newline per row = 2928
# ```
# </details>
#
# **Exercise 3.** KV-cache bytes for those 2928 tokens in a 7B-class LM with 32 layers, 32 KV
# heads, head_dim 128, in fp16.

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: a number of bytes
check("05.kv_bytes", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = 2 * 32 * 32 * 128 * 2928 * 2   # keys and values, fp16 = 2 bytes
# ```
# </details>
#
# **Exercise 4.** How many parameters has LLaVA-1.5's projector (linear-GELU-linear, with
# biases) from a 1024-d vision tower to a 4096-d LM?

# %%
# NBVAL_CHECK_OUTPUT
answer = ...  # your code: an integer
check("05.projector_params", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = (1024 * 4096 + 4096) + (4096 * 4096 + 4096)   # linear_1 + linear_2
# ```
# </details>
#
# **Exercise 5.** `ex.EXISTS_TRUE` holds the true answers to eight "is there a ...?" questions and
# `ex.EXISTS_PRED` a model's answers. Compute the hallucination yes-rate.

# %%
# NBVAL_CHECK_OUTPUT
from course_lib.exercises import nb05_llava as ex

print("true:", ex.EXISTS_TRUE.tolist())
print("pred:", ex.EXISTS_PRED.tolist())
answer = ...  # your code: a float
check("05.yes_rate", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer = float(np.mean(ex.EXISTS_PRED[ex.EXISTS_TRUE == "no"] == "yes"))
# ```
# </details>
#
# ## 12 · Interview corner
#
# **Q1. Walk through how LLaVA consumes an image.**
# <details><summary>Model answer</summary>
# The processor resizes and normalises the image and repeats the <code>&lt;image&gt;</code>
# placeholder once per visual token. The frozen CLIP tower encodes the image; LLaVA takes the
# hidden states of the second-to-last layer and drops the class token, leaving (S/P)^2 patch
# features. A projector (linear in LLaVA, a two-layer GELU MLP in LLaVA-1.5) maps each to the LM's
# embedding width, and the model writes these vectors into the embedding sequence at the
# placeholder positions. The LM then runs as usual, attending to visual and text tokens alike.
# </details>
#
# **Q2. Why two training stages, and what is frozen in each?**
# <details><summary>Model answer</summary>
# Stage 1 trains only the projector on image-caption pairs, with tower and LM frozen: it aligns
# visual features with the LM's embedding space cheaply and without damaging the LM. Stage 2
# unfreezes the LM (the tower usually stays frozen) and trains on instruction or QA data, with the
# loss on the answer tokens only, so the model learns to follow questions about images. Skipping
# stage 1 makes stage 2 start from random visual embeddings, which can disturb the LM early on.
# </details>
#
# **Q3. How many tokens does a 672 x 672 image cost in LLaVA-1.5 and in LLaVA-NeXT, and what does
# that do to memory?**
# <details><summary>Model answer</summary>
# LLaVA-1.5 resizes it to one 336 crop: 576 tokens. LLaVA-NeXT AnyRes picks a 2 x 2 grid: 576 base
# + 2304 tile + 48 newline tokens = 2928, about five times more. At 2 x 32 x 32 x 128 x 2 bytes =
# 512 KiB per token in a 7B fp16 LM without GQA, that is about 1.43 GiB of KV cache per image
# (a quarter of it with 8 KV heads), on top of the prefill compute: about 2 x parameters x tokens
# FLOPs, 2 x 7e9 x 2928 = 41.0 TFLOPs (45.5 with attention, section 9) against 8.1 (8.2) for 576
# tokens, about 0.45 s instead of 0.08 s of time to first token at a sustained 100 TFLOP/s
# (an A100 at a third of its bf16 peak).
# </details>
#
# **Q4. How would you tell whether a VLM answers from the image or from language priors?**
# <details><summary>Model answer</summary>
# Compare with a blind baseline: the same model and training recipe with the image withheld, per
# question type. Types where the blind score is far above chance are prior-driven. Also probe with
# uninformative images (blank, shuffled), and measure hallucination as the yes-rate on questions
# about absent objects (POPE-style), with balanced yes/no sets so that "always yes" cannot score.
# </details>
#
# **Q5. Why feature layer -2 and not the last layer?**
# <details><summary>Model answer</summary>
# CLIP's last layer is shaped by the contrastive objective, which only uses the pooled class token;
# the layer before keeps more general, spatially local patch information. LLaVA found it works
# slightly better, and the choice must match between the processor, the config and training.
# </details>
#
# **Q6. A VLM answers "what colour is the car?" well on photos of one car and badly on street
# scenes. What is going on, and how do you test it?**
# <details><summary>Model answer</summary>
# Probably attribute binding: the model detects which colours and which objects are present but
# does not tie each colour to its object, so with several objects it names a colour that is in the
# picture, often the wrong one. Test with multi-object images and questions whose answer is an
# attribute of one named object; split accuracy by object count and compare with "a random object's
# attribute" (1/n) and with "some attribute in the scene". Bag-of-words behaviour shows as the
# second near 1 and the first near 1/n (the ARO benchmark measures it for contrastive and
# image-text matching models; for generative VLMs, compositional question sets such as GQA probe it).
# </details>
#
# **Q7. Your VLM hallucinates absent objects. List mitigations and how you would know each
# helped.**
# <details><summary>Model answer</summary>
# Data: add negative questions ('is there a dog?' -> 'no') and remove captions that mention
# objects not visible; higher resolution or more visual tokens so small objects can be
# confirmed; training tricks such as preference tuning on hallucinated vs grounded answers;
# decoding-time checks (contrastive decoding against a blind or perturbed-image model, or
# verifying named objects with a detector). Measure each with POPE-style balanced probes (yes-
# rate on absent objects) and a captioning metric (CHAIR) beside task accuracy, so that a
# model that just says 'no' more cannot win.
# </details>
#
# **Q8. Budget the latency of a 7B LLaVA-1.5 answering one 336 px image question with a
# 20-token answer: vision encoder, prefill, decode.**
# <details><summary>Model answer</summary>
# Encoder: a ViT-L/14 at 336 px is about 24 x 15.9 = 381 GFLOPs (notebook 01's table), a few
# ms at 100 TFLOP/s. Prefill: about 2 x 7e9 x (576 + ~40) tokens = 8.6 TFLOPs, about 0.09 s at
# a sustained 100 TFLOP/s. Decode: each new token reads all 14 GB of fp16 weights (plus the KV
# cache), so on a 2 TB/s GPU about 7 ms per token, 20 tokens = 0.14 s. Total about a quarter
# of a second, prefill and decode similar; with AnyRes (2,928 visual tokens) prefill grows
# five-fold and dominates, so cut visual tokens first; for long answers decode dominates, so
# quantise weights or decode speculatively.
# </details>
#
# **Q9. How do you mix data in visual instruction tuning, and how do you detect and prevent
# forgetting?**
# <details><summary>Model answer</summary>
# Mix task families (conversation, VQA with short answers, OCR, grounding) with response-
# format prompts ('answer with one word') so short-answer data does not teach the model to be
# terse everywhere, and keep a share of text-only instruction data (LLaVA-1.5 mixes ShareGPT)
# so the LM keeps its language and instruction-following ability. Detect forgetting with a
# fixed text-only suite (the base LM's benchmarks) and per-family evals before and after;
# prevent it with replay of text data, lower learning rates or LoRA on the LM, and by tuning
# mixture weights on those evals.
# </details>
#
# **Q10. In a LLaVA-style recipe, which parts are frozen, which are trained, and where does
# LoRA fit?**
# <details><summary>Model answer</summary>
# The vision tower is usually frozen throughout; the projector trains in both stages; the LM
# is frozen in stage 1 and fully fine-tuned in stage 2 (LLaVA, LLaVA-1.5). LoRA replaces full
# LM tuning in stage 2 by low-rank updates W + BA on the attention and MLP matrices: a small
# fraction of trainable parameters and optimiser memory, close to full fine-tuning quality in
# the LLaVA-1.5 report, and the base LM can be shared across adapters. Unfreezing the tower
# (later models do, with a low learning rate) helps OCR and fine detail at the risk of
# damaging its features.
# </details>
#
# **Q11. When would you add a dedicated OCR stage in front of a VLM?**
# <details><summary>Model answer</summary>
# When documents are dense or high-resolution (small fonts, many pages) so the VLM's visual
# tokens cannot resolve them within budget, when exact strings matter (invoice numbers, codes)
# and a specialised OCR engine is more accurate and cheaper, or when you need text positions
# for grounding and audit. Feed the OCR text (with layout) to the LM beside a low-resolution
# image. The cost: another system to maintain, OCR errors that the LM trusts, and lost visual
# context (charts, handwriting) unless the image stays in the prompt. Decide by measuring both
# pipelines on your documents.
# </details>
#
# **Q12. Draw the benchmark map: what do VQAv2/GQA, TextVQA, DocVQA, ChartQA, MMMU, MMBench
# and POPE each measure?**
# <details><summary>Model answer</summary>
# VQAv2: open-ended questions on natural images, balanced with complementary image pairs so
# priors score less; GQA: compositional questions generated from scene graphs (relations,
# attributes), with consistency metrics. TextVQA: reading scene text in natural images.
# DocVQA: reading and locating answers in document scans (ANLS metric). ChartQA: reasoning
# over charts (values, comparisons, arithmetic). MMMU: college-level multi-discipline
# questions needing expert knowledge plus images. MMBench: multiple-choice perception and
# reasoning skills with circular evaluation (the answer must survive shuffled options). POPE:
# object hallucination via yes/no probes.
# </details>
#
# **Q13. Your VLM locates each object well but answers "where is A relative to B?" near chance.
# What would you change, and what does it cost?**
# <details><summary>Model answer</summary>
# Let the model write its steps: train relation answers that first name both objects' positions
# and then the relation ("bottom left and center is left"), a short chain of thought grounded in
# the image, and score the final word. Without it, one forward pass must find both objects, carry
# both positions to the last token and compare them; with it, each step is one the model already
# does (a position look-up), and the comparison reads two words it has just written. Check the
# chain: how often both positions are right, and whether the last word follows from them. Costs:
# 5-7 output tokens instead of 1, longer training sequences, and relation accuracy capped by
# position accuracy. In section 7 it moved relation from 0.423 to 0.825.
# </details>
#
# **Q14. Your VLM lists every object of a scene right ("red square and green circle and purple
# triangle") and still answers "what colour is the circle?" wrong more often than right. Why, and
# what would you try?**
# <details><summary>Model answer</summary>
# The list shows that perception and the look-up by colour work; the last step does not. To answer
# from the list the model must find "circle" in its own text and copy the word before it: a
# look-up keyed by shape, the one that already failed on the image, now in text. A chain of
# thought helps only when every step is one the model can do. Diagnose it by scoring each step
# separately: is the list right, and which listed colour does the answer take? Picking the 1st,
# 2nd and 3rd about equally is a guess among them. Then make the last step one the model can do:
# stop the list at the asked shape, so the answer is a comparison with the question and a copy of
# the colour just written. In notebook 05 the list was right for 0.948 of the three-object colour
# questions and the answer right for 0.400 of those; a single run with the stopped list lifted it
# well above a random pick, but in that run the other look-ups did not form.
# </details>
#
# ## 13 · Common pitfalls
#
# - **Token-count mismatch.** The processor's count must equal the tower's features: a CLIP tower
#   needs `num_additional_image_tokens=1` with strategy `"default"`, or you get the ValueError
#   above. Changing `image_size`, `patch_size` or the strategy on one side only does the same.
# - **The placeholder must be a special token.** A word-level or BPE tokenizer that splits
#   `<image>` cannot find its copies; add it as a special token and set `image_token_id`.
# - **Processor defaults.** `CLIPImageProcessorPil` and `LlavaNextImageProcessorPil` default to
#   224 px crops and OpenAI CLIP's statistics (`OPENAI_CLIP_MEAN` = (0.4815, 0.4578, 0.4082),
#   `OPENAI_CLIP_STD` = (0.2686, 0.2613, 0.2758) in `transformers.utils.constants`), not
#   ImageNet's (0.485, 0.456, 0.406) and not the course's 0.5: set size, crop size, mean and std
#   to the tower's (the next cell prints the defaults).
# - **Frozen vs trained parts.** Stage 1 trains the projector only; forgetting to freeze the LM
#   there erodes its language, and forgetting to unfreeze it in stage 2 caps accuracy. Check with a
#   parameter count, as in section 2.
# - **Loss on the whole sequence.** Without -100 labels on image and question tokens the model
#   spends its capacity predicting questions and padding.
# - **No end-of-turn token in multi-turn data.** If answers are not closed by `<eos>` (LLaVA's
#   `</s>` separator) and labelled, `generate()` never learns to stop and runs on into the next
#   question.
# - **Answers given away by other turns.** A question that names an answer ("what size is the red
#   circle ?") lets later turns copy it from the text instead of reading the image; evaluate with
#   the question asked first.
# - **Scoring a spelled-out answer whole.** A model trained to write its steps ("bottom left and
#   center is left") must be scored on the final word (`lv.final_answer`), and given enough new
#   tokens to reach it (`generate_answers` allows 11).
# - **A chain whose last step is the hard one.** Writing steps helps only if each step is one the
#   model can do. Our colour list is right, and the answer read from it is not: reading it is a
#   look-up by shape, the step the model could not do on the image either (section 7).
# - **Left padding for generation.** Batched `generate()` needs left padding (and an attention
#   mask) so that every prompt ends where the new tokens begin.

# %%
# NBVAL_CHECK_OUTPUT
from transformers import CLIPImageProcessorPil, LlavaNextImageProcessorPil
from transformers.utils.constants import IMAGENET_DEFAULT_MEAN, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

for cls in (CLIPImageProcessorPil, LlavaNextImageProcessorPil):
    d = cls()
    print(f"{cls.__name__} defaults: crop {d.crop_size.height} px, mean {tuple(round(v, 4) for v in d.image_mean)}, "
          f"std {tuple(round(v, 4) for v in d.image_std)}; OpenAI CLIP's: "
          f"{tuple(d.image_mean) == tuple(OPENAI_CLIP_MEAN) and tuple(d.image_std) == tuple(OPENAI_CLIP_STD)}, "
          f"ImageNet's: {tuple(d.image_mean) == tuple(IMAGENET_DEFAULT_MEAN)}")

# %% [markdown]
# ## 14 · Summary
#
# - LLaVA = frozen vision tower (layer -2, class token dropped) + projector + causal LM; the
#   processor expands `<image>` into (S/P)^2 copies and the model splices projected features there.
# - Our scratch projector equals `LlavaMultiModalProjector`; our expansion equals `LlavaProcessor`.
# - Two stages trained a tiny LLaVA on a laptop, stage 2 on multi-turn conversations (several
#   answers per pass over the image); a blind baseline and a black-image probe show which
#   question types lean on priors, and the yes-rate on absent objects measures hallucination.
# - Split by object count, colour answers show a binding failure: with three objects they are
#   right about a third of the time, as a random object's colour would be, while all of them name
#   a colour that is present. Looked up by colour or by full name, shape, size and position bind
#   (0.993, 1.000, 0.858 with three objects); looked up by shape alone, colour does not.
# - An auxiliary loss that makes each projected token name its object's colour, shape and cell
#   moved shape and position. The projector still does not pass the cell (0.14); the LM writes it
#   into each image token's state (0.97), most likely from the tokens' order.
# - Relation answers that first name both objects' cells (a short chain of thought) moved relation
#   from 0.423 to 0.825: the model compares the two cells it wrote without error, so relation is
#   now as good as its position look-ups.
# - Colour answers that first list every object were written right (0.948 with three objects)
#   but not read: the answer picks a listed colour about one time in three, because reading the
#   list is a look-up by shape. The build with them is the first over 0.90 overall (0.911).
# - Visual tokens dominate the budget: 576 per 336 px crop, 2928 for a 672 px AnyRes image, and
#   each costs 2 x layers x kv_heads x head_dim x bytes of KV cache.
#
# ## References
#
# - Liu, Li, Wu, Lee (2023). *Visual Instruction Tuning* (LLaVA). arXiv:2304.08485.
# - Liu, Li, Li, Lee (2023). *Improved Baselines with Visual Instruction Tuning* (LLaVA-1.5).
#   arXiv:2310.03744 (arXiv 2023, CVPR 2024).
# - Hudson, Manning (2019). *GQA: A New Dataset for Real-World Visual Reasoning and
#   Compositional Question Answering*. arXiv:1902.09506.
# - Liu, Li, Li, Li, Zhang, Shen, Lee (2024). *LLaVA-NeXT: Improved reasoning, OCR, and world
#   knowledge* (AnyRes). Blog post, January 2024.
# - Ainslie et al. (2023). *GQA: Training Generalized Multi-Query Transformer Models from
#   Multi-Head Checkpoints*. arXiv:2305.13245.
# - Wei et al. (2022). *Chain-of-Thought Prompting Elicits Reasoning in Large Language Models*.
#   arXiv:2201.11903.
# - Chen, Zhang, Zhang, Wang, Zhu, Zhao (2023). *Shikra: Unleashing Multimodal LLM's Referential
#   Dialogue Magic*. arXiv:2306.15195.
# - Yuksekgonul, Bianchi, Kalluri, Jurafsky, Zou (2023). *When and why vision-language models
#   behave like bags-of-words, and what to do about it?* (ARO). arXiv:2210.01936.
# - Li et al. (2023). *Evaluating Object Hallucination in Large Vision-Language Models* (POPE).
#   arXiv:2305.10355.
# - Radford et al. (2021). *Learning Transferable Visual Models From Natural Language
#   Supervision* (CLIP). arXiv:2103.00020.
