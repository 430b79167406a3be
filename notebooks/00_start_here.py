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
# # 00 · Start here
#
# This course teaches how vision-language models work by building them. Every number is computed
# in front of you, every model is a real `transformers` class that you train in a minute or two
# on a laptop CPU, and every from-scratch piece is checked against the library. Nothing downloads:
# the course runs offline.
#
# **Learning goals.** After this notebook you can:
#
# 1. check that your machine is ready (CPU, offline, widgets, shipped checkpoints);
# 2. use the exercise checks: `[TODO]`, `[HINT]` and `[PASS]`;
# 3. read Shapes World, the lab bench every model in the course trains on: scenes, captions,
#    held-out compositions, questions and clips;
# 4. load the real photographs used for the patch and resolution lessons;
# 5. find your way through the course and its interview topics.

# %%
import numpy as np

import course_lib
from course_lib import check, seed_everything
from course_lib import shapes_world as sw
from course_lib.photos import list_photos, load_photo
from course_lib.plots import plot_images, plot_scene_gallery
from course_lib.tokenizer import build_tokenizer, encode

rng = seed_everything(0)

# %% [markdown]
# ## 1 · Is your machine ready?
#
# `doctor()` prints one line per check. Every line should say `[OK]`. A `[FAIL]` line says what
# is missing; the README's troubleshooting section says how to fix it.

# %%
course_lib.doctor()

# %% [markdown]
# ## 2 · How exercises work
#
# Each exercise leaves a blank, `answer = ...`, and then calls `check(key, answer)`. The check
# never raises: it prints `[TODO]` while the blank is empty, `[HINT]` with a specific hint when
# the answer is wrong, and `[PASS]` when it is right. Here is an untouched exercise:

# %%
# NBVAL_CHECK_OUTPUT
answer = ...
check("00.batch_numbers", answer)

# %% [markdown]
# Solutions sit under a collapsed **Solution** line after each exercise. Try first: the hints
# are written for the mistakes people actually make.
#
# ## 3 · Shapes World
#
# Real image-text data sets are too big to train on in a minute. Shapes World is small on
# purpose: coloured shapes on a black canvas, with captions and questions generated from the
# same seed, so every experiment can be repeated exactly. These are its ingredients:

# %%
# NBVAL_CHECK_OUTPUT
print("colours  :", ", ".join(sw.COLORS))
print("shapes   :", ", ".join(sw.SHAPES))
print("sizes    :", ", ".join(sw.SIZES))
print("positions:", ", ".join(sw.POSITIONS))
print(f"{len(sw.COLORS)} colours x {len(sw.SHAPES)} shapes = {len(sw.ALL_COMPOSITIONS)} colour-shape compositions")

# %% [markdown]
# A batch of scenes is a handful of arrays. Images are `(N, H, W, 3)` `uint8`; each object slot
# (up to 3 per scene) has a colour, shape, size and grid-cell index, with `-1` for an empty slot.

# %%
# NBVAL_CHECK_OUTPUT
scenes = sw.generate_scenes(8, seed=0, max_objects=3)
print("images:", scenes.images.shape, scenes.images.dtype)
print("colors:", scenes.colors.shape, "first scene:", scenes.colors[0])
print("objects per scene:", scenes.n_objects)
for obj in scenes.objects(0):
    print(obj)

# %%
plot_scene_gallery(n=8, seed=0, max_objects=3);

# %% [markdown]
# Within one scene, no two objects share a colour or a shape, so "the red object" or "the
# circle" always names exactly one thing. That keeps the questions of later notebooks
# unambiguous.
#
# ### Captions
#
# A single-object scene can be described with several templates. Training on paraphrases makes
# a text encoder robust to wording; notebook 04 measures how much.

# %%
# NBVAL_CHECK_OUTPUT
one = sw.generate_scenes(1, seed=3)
for t in range(len(sw.CAPTION_TEMPLATES)):
    print(f"template {t}: {sw.make_captions(one, template=t)[0]}")

# %% [markdown]
# ### Held-out compositions
#
# One shape per colour is never shown by the `train` split. Every colour and every shape still
# appears in training, just not in those pairs, so a model tested on them must **compose**
# colour and shape rather than memorise pairs.

# %%
# NBVAL_CHECK_OUTPUT
print("held out:", ", ".join(f"{c} {s}" for c, s in sw.HELD_OUT))
train = sw.generate_scenes(5000, seed=1, max_objects=3, split="train")
present = train.colors >= 0
n_held = int(sw.is_held_out(train.colors[present], train.shapes[present]).sum())
print(f"objects in 5000 train scenes: {int(present.sum())}, of which held-out compositions: {n_held}")

# %%
held = sw.generate_scenes(6, seed=0, split="held_out")
plot_images(held.images, sw.make_captions(held, template=0), cols=6, size=1.8);

# %% [markdown]
# ### Questions and answers
#
# Visual question answering (notebook 05) needs questions with short, exact answers. There are
# seven kinds; `relation` needs two objects.

# %%
# NBVAL_CHECK_OUTPUT
for qa in sw.make_vqa(scenes.subset(slice(0, 1)), seed=0):
    print(f"{qa.kind:9s} {qa.question:55s} -> {qa.answer}")

# %% [markdown]
# **The rule behind relation answers** (and the relation in multi-object captions): objects sit
# in a 3 x 3 grid of cells; if the two objects are in different **columns** the answer is "left"
# or "right", and only if they share a column is it "above" or "below". Columns first, then rows:
# a cross in the centre relative to a circle in the bottom left is "right", not "above", even
# though it is also higher. `sw.relation(cell_a, cell_b)`:

# %%
# NBVAL_CHECK_OUTPUT
for a, b in [("center", "bottom left"), ("center", "bottom"), ("top", "bottom"), ("top left", "bottom right")]:
    print(f"an object {a:8s} relative to one {b:12s} -> {sw.relation(sw.POSITIONS.index(a), sw.POSITIONS.index(b))}")

# %% [markdown]
# ### Clips
#
# Video notebooks need events in time. A clip is one object moving in a straight line; it
# touches a wall at a labelled frame and bounces back, and sometimes changes colour once.

# %%
# NBVAL_CHECK_OUTPUT
clips = sw.generate_clips(4, seed=0, n_frames=16)
print("frames:", clips.frames.shape)
print("first wall contact at frame:", clips.contact_frame)
print("colour change at frame (-1 = never):", clips.color_change_frame)

# %%
frames = clips.frames[0, ::2]
plot_images(frames, [f"frame {2 * i}: {sw.COLORS[clips.colors[0, 2 * i]]}" + (" (wall)" if 2 * i == clips.contact_frame[0] else "")
                     for i in range(len(frames))], cols=8);

# %% [markdown]
# ### Speed and determinism
#
# Generation is vectorised numpy, so thousands of scenes take a fraction of a second, and the
# same seed gives byte-identical arrays on any machine.

# %%
import time

start = time.perf_counter()
big = sw.generate_scenes(5000, seed=0, max_objects=3)
print(f"5000 scenes in {time.perf_counter() - start:.2f} s")

# %%
# NBVAL_CHECK_OUTPUT
again = sw.generate_scenes(5000, seed=0, max_objects=3)
other = sw.generate_scenes(5000, seed=1, max_objects=3)
print("same seed, identical bytes:", np.array_equal(big.images, again.images))
print("other seed, identical bytes:", np.array_equal(big.images, other.images))

# %% [markdown]
# ### The course tokenizer
#
# The text side of every model uses one word-level tokenizer over the Shapes World vocabulary,
# built with the `tokenizers` library and wrapped as a real `PreTrainedTokenizerFast`. The special
# tokens come first, and `<image>` is the placeholder notebook 05 expands into visual tokens.

# %%
# NBVAL_CHECK_OUTPUT
tokenizer = build_tokenizer()
print(f"vocabulary: {len(tokenizer)} tokens, of which special: {tokenizer.all_special_tokens}")
ids = encode(tokenizer, "a photo of an orange circle")
print(ids, "->", tokenizer.convert_ids_to_tokens(ids))
try:
    encode(tokenizer, "a photo of a zebra")
except ValueError as err:
    print("ValueError:", str(err)[:60], "...")

# %% [markdown]
# ## 4 · Real photographs
#
# Patch grids and resolution are easier to feel on real images. These ship inside scikit-image,
# so they load with no network. `load_photo` always returns `(H, W, 3)` `uint8` RGB.

# %%
# NBVAL_CHECK_OUTPUT
names = ["astronaut", "coffee", "chelsea", "rocket", "page"]
photos = {name: load_photo(name) for name in names}
for name, img in photos.items():
    print(f"{name:10s} {img.shape} {img.dtype}")
print("all offline photos:", ", ".join(list_photos()))

# %%
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 5, figsize=(12, 2.4), dpi=72)
for ax, (name, img) in zip(axes, photos.items()):
    ax.imshow(img[::2, ::2])  # every other pixel: enough for a thumbnail
    ax.set_title(f"{name} {img.shape[1]}x{img.shape[0]}")
    ax.axis("off")

# %% [markdown]
# ## 5 · Explore Shapes World
#
# The explorer below calls `plot_scene_gallery` whenever you move a control. Here it is once,
# statically, so the notebook also shows it when run without a browser:

# %%
plot_scene_gallery(n=8, seed=7, max_objects=2, split="held_out");

# %%
import ipywidgets as w

from course_lib.widgets import explore

explore(
    plot_scene_gallery,
    seed=w.IntSlider(value=0, min=0, max=50, description="seed"),
    max_objects=w.IntSlider(value=3, min=1, max=3, description="objects"),
    split=w.Dropdown(options=list(sw.SPLITS), value="train", description="split"),
)

# %% [markdown]
# ## 6 · Exercises
#
# **Exercise 1.** How many colour-shape compositions does the train split never show?

# %%
answer = ...  # your answer: an integer
check("00.held_out_count", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `len(sw.HELD_OUT)`: one shape per colour, so 6 of the 30 compositions.
# </details>
#
# **Exercise 2.** How many `uint8` numbers does a batch of 16 scenes of 48 x 48 pixels hold?
# (You met this check in section 2.)

# %%
answer = ...  # your answer: an integer
check("00.batch_numbers", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `16 * 48 * 48 * 3`, or `sw.generate_scenes(16).images.size`.
# </details>
#
# **Exercise 3.** In `sw.generate_scenes(100, seed=0, max_objects=3)`, how many scenes contain
# a red object? Use the arrays, not the pictures.

# %%
answer = ...  # your answer: an integer
check("00.red_scenes", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# s = sw.generate_scenes(100, seed=0, max_objects=3)
# answer = int((s.colors == sw.COLORS.index("red")).any(axis=1).sum())
# ```
# </details>
#
# ## 7 · Map of the course
#
# Run times are measured on 2 CPU cores by `make bench` (`BENCHMARKS.md`); the cell below reads
# them, rounded up to the minute. Study times are our estimate for a first careful pass,
# reading, running and doing the exercises.

# %%
# NBVAL_CHECK_OUTPUT
import math
import re

from course_lib import REPO_DIR

bench_rows = re.findall(r"^\| (\d\d)_\w+\.ipynb \| ([\d.]+) \|", (REPO_DIR / "BENCHMARKS.md").read_text(), re.M)
run_minutes = {nb: math.ceil(float(sec) / 60) for nb, sec in bench_rows}
print("minutes to run (make bench, 2 cores):", ", ".join(f"{nb}: {m}" for nb, m in run_minutes.items()))

# %% [markdown]
# | notebook | what you build | interview topics | run | study |
# |---|---|---|---:|---:|
# | 00 Start here | environment check, Shapes World tour | - | 1 min | 30 min |
# | 01 ViT patches | patchify real photos, patch embedding = Conv2d, reproduce `CLIPVisionEmbeddings` | token counts, position embeddings, quadratic attention cost | 1 min | 60 min |
# | 02 CLIP | the 4x4 softmax walkthrough, InfoNCE = `CLIPModel` loss, a tiny CLIP trained live | contrastive loss, temperature, negatives, retrieval metrics | 2 min | 90 min |
# | 03 SigLIP | sigmoid loss, chunked and truly distributed over processes | all-gather vs ring, initialisation, small-batch training | 2 min | 90 min |
# | 04 Zero-shot | prompts, ensembling, abstention, failure modes | calibration, prompt engineering, linear probes | 1 min | 75 min |
# | 05 LLaVA | projector, `<image>` expansion, a tiny LLaVA trained in two stages | visual token budgets, KV cache, hallucination | 3 min | 90 min |
# | 06 Q-Former | learned queries, Perceiver resampler, gated cross-attention | fixed-size visual tokens, fusion designs | 2 min | 90 min |
# | 07 Video | sampling, pooling, temporal grounding | token budgets for video, factorised attention | 2 min | 90 min |
# | 08 Interview review | flash cards, quiz, drills | everything above | 1 min | 60 min or more |
#
# ## Summary
#
# - `doctor()` checks the machine; exercises print `[TODO]`, `[HINT]` or `[PASS]` and never raise.
# - Shapes World scenes are seeded arrays: images plus colour, shape, size and cell per object.
# - Captions use several templates; some colour-shape pairs are held out of training to test
#   composition; questions have short exact answers; clips carry event frames.
# - Real photos from scikit-image load offline as `uint8` RGB.
#
# ## References
#
# - Johnson et al. 2017, *CLEVR: A Diagnostic Dataset for Compositional Language and Elementary
#   Visual Reasoning*, arXiv:1612.06890 (the idea of a synthetic, fully labelled visual world).
# - Kuhnle and Copestake 2017, *ShapeWorld: A new test methodology for multimodal language
#   understanding*, arXiv:1704.04517 (shapes, colours and captions with held-out combinations).
