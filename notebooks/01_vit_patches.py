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
# # 01 · Vision Transformer patches: from pixels to tokens
#
# A Vision Transformer (ViT) never sees an image. It sees a **sequence of vectors**: the image
# cut into a grid of P x P patches, each patch flattened and multiplied by one matrix, plus a
# class token and position embeddings. Every vision-language model in this course (CLIP,
# SigLIP, LLaVA, ...) starts with exactly this step.
#
# **Learning goals.** After this notebook you can:
#
# 1. turn any image into the token sequence a ViT sees (patchify), and back (unpatchify);
# 2. count the tokens for any resolution and patch size, with or without the class token, and
#    say what happens when the size does not divide by the patch size;
# 3. show that the patch embedding is one linear map, i.e. a `Conv2d` with kernel = stride = P,
#    and rebuild `transformers`' `CLIPVisionEmbeddings` output from scratch;
# 4. explain learned vs 2-D sin-cos position embeddings;
# 5. explain, with numbers, why the cost of self-attention grows quadratically with the token
#    count, and so with the fourth power of the image side.
#
# **Why it matters.** The token count decides the memory and the latency of every vision
# transformer and of every multimodal LLM that feeds image tokens to a language model. "Why not
# just use a higher resolution?" is answered by the arithmetic in this notebook.

# %%
import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
import torch
from transformers import CLIPVisionConfig
from transformers.models.clip.modeling_clip import CLIPEncoderLayer, CLIPVisionEmbeddings

from course_lib import check, seed_everything
from course_lib import patches as pt
from course_lib.models.dual_encoder import to_pixel_values
from course_lib.photos import load_photo
from course_lib.widgets import explore

rng = seed_everything(0)
plt.rcParams["figure.dpi"] = 80  # photo-heavy figures: keep the notebook file small

# %% [markdown]
# ## 1 · Worked example: one photo, one grid of tokens
#
# Take the astronaut photo, bring it to 224 x 224 the way CLIP's preprocessing does (shorter side
# to 224, then the centre square), and cut it into 16 x 16 patches:

# %%
# NBVAL_CHECK_OUTPUT
photo = load_photo("astronaut")
image = pt.resize_and_crop(photo, 224)
P = 16
tokens = pt.patchify(image, P)
gh, gw = pt.grid_shape(image.shape[:2], P)
print(f"photo {photo.shape} -> model input {image.shape}")
print(f"grid: {gh} rows x {gw} columns = {gh * gw} patches")
print(f"token matrix: {tokens.shape} = (patches, {P}*{P}*3 numbers per patch)")
print(f"with the class token: {pt.num_patches(224, P, cls_token=True)} tokens")

# %% [markdown]
# So a 224 px image with 16 px patches is a 14 x 14 grid: **196 patch tokens**, each a vector of
# 768 pixel values, and 197 tokens once the class token is prepended. The same cut on the five
# photos the course uses:

# %%
names = ["astronaut", "coffee", "chelsea", "rocket", "page"]
squares = {name: pt.resize_and_crop(load_photo(name), 224) for name in names}
fig, axes = plt.subplots(1, 5, figsize=(14, 3.2))
for ax, (name, img) in zip(axes, squares.items()):
    pt.plot_patch_grid(img, P, ax=ax, title=f"{name}: 224 px, {P} px patches")
fig.tight_layout()

# %% [markdown]
# Pulled apart, the grid is a set of tiles; read row by row (raster order) it is the sequence
# the transformer receives. Token 14 is the first patch of the second row:

# %%
pt.plot_patch_tiles(image, P, n_sequence=16);

# %% [markdown]
# ## 2 · From scratch: patchify and unpatchify are two reshapes and a transpose
#
# An (H, W, C) array is already a grid of patches if you split each axis: H = gh * P and
# W = gw * P. Reshape to (gh, P, gw, P, C), bring the two grid axes to the front
# (gh, gw, P, P, C), and flatten: (gh * gw, P * P * C). No pixel is changed or copied twice.

# %%
def patchify_from_scratch(img: np.ndarray, p: int) -> np.ndarray:
    h, w, c = img.shape
    grid = img.reshape(h // p, p, w // p, p, c)         # (gh, P, gw, P, C)
    grid = grid.transpose(0, 2, 1, 3, 4)                # (gh, gw, P, P, C)
    return grid.reshape((h // p) * (w // p), p * p * c)  # (N, P*P*C)


def unpatchify_from_scratch(tok: np.ndarray, p: int, h: int, w: int) -> np.ndarray:
    c = tok.shape[1] // (p * p)
    grid = tok.reshape(h // p, w // p, p, p, c)          # (gh, gw, P, P, C)
    return grid.transpose(0, 2, 1, 3, 4).reshape(h, w, c)


assert np.array_equal(patchify_from_scratch(image, P), pt.patchify(image, P))
assert np.array_equal(patchify_from_scratch(image, P)[14].reshape(P, P, 3), image[16:32, 0:16])  # row 1, column 0

# %% [markdown]
# `course_lib.patches.patchify` does the same for numpy arrays and torch tensors, batched or not.
# The round trip is exact, for every photo, in numpy and in torch (channels-last and
# channels-first):

# %%
# NBVAL_CHECK_OUTPUT
exact = []
for name, img in squares.items():
    exact.append(np.array_equal(unpatchify_from_scratch(patchify_from_scratch(img, P), P, 224, 224), img))
    exact.append(np.array_equal(pt.unpatchify(pt.patchify(img, P), P, 224), img))
    px = to_pixel_values(img[None])  # (1, 3, 224, 224) float32
    exact.append(torch.equal(pt.unpatchify(pt.patchify(px, P, channels_first=True), P, 224, channels_first=True), px))
assert all(exact)
print(f"exact round trips: {sum(exact)} of {len(exact)} (5 photos x numpy scratch, numpy, torch)")

# %% [markdown]
# ## 3 · Counting tokens
#
# N = (H / P) x (W / P). The class token adds one. Here are the configurations you meet most
# often (ViT-B/16 at 224; CLIP ViT-L/14 at 224 and at 336, the tower of LLaVA-1.5):

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'image':>7} {'patch':>5} {'grid':>7} {'patch tokens':>12} {'+ class token':>13}")
for size, p in [(224, 16), (448, 16), (224, 14), (336, 14)]:
    g = pt.grid_shape(size, p)
    print(f"{size:>7} {p:>5} {g[0]:>3}x{g[1]:<3} {pt.num_patches(size, p):>12} {pt.num_patches(size, p, cls_token=True):>13}")
ratio = pt.num_patches(448, 16) / pt.num_patches(224, 16)
print(f"448 vs 224 px (patch 16): side x2, patch tokens x{ratio:.2f}")

# %% [markdown]
# **Doubling the side quadruples the tokens**: 784 patch tokens at 448 px against 196 at 224 px.
# Tokens grow with the *area*.
#
# ### Sizes that do not divide by the patch size
#
# 384 is not a multiple of 14: no whole number of patches fits. `num_patches` refuses, and says
# what to do:

# %%
# NBVAL_CHECK_OUTPUT
try:
    pt.num_patches(384, 14)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# The course makes the choice explicit with a **policy** (`pt.fitted_size`, `pt.fit_to_patches`):
# `"error"` (the default) refuses; `"pad"` adds black pixels at the bottom and right up to the
# next multiple of P; `"crop"` keeps the centre, down to the previous multiple; `"resize"`
# resamples to the nearest multiple. For 384 px and 14 px patches:

# %%
# NBVAL_CHECK_OUTPUT
for policy in ["pad", "crop", "resize"]:
    h, w_ = pt.fitted_size(384, 14, policy)
    print(f"{policy:>6}: 384 -> {h} px, {pt.num_patches((h, w_), 14)} patch tokens, "
          f"{pt.num_patches((h, w_), 14, cls_token=True)} with the class token")

# %% [markdown]
# A `Conv2d` patch embedding makes a choice too, silently: with stride 14 it fits 27 windows
# per side and **drops the last 6 pixel rows and columns** (the red strips below). That is how
# SigLIP's 384 px, patch-14 towers end up with 27 x 27 patches. Same count as the centred
# crop, but the lost pixels are all on one side.

# %%
# NBVAL_CHECK_OUTPUT
conv14 = torch.nn.Conv2d(3, 8, kernel_size=14, stride=14)
rocket384 = pt.resize_and_crop(load_photo("rocket"), 384)
with torch.no_grad():
    out = conv14(to_pixel_values(rocket384[None]))
print(f"Conv2d(kernel=14, stride=14) on 384x384 -> feature map {tuple(out.shape[2:])} = {out.shape[2] * out.shape[3]} patches; "
      f"pixels never seen per side: {384 - 14 * out.shape[2]}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4.4))
pt.plot_patch_grid(rocket384, 14, ax=axes[0], title="384 px, patch 14: Conv2d drops the red strips")
pt.plot_patch_grid(pt.fit_to_patches(rocket384, 14, "pad"), 14, ax=axes[1], title="policy 'pad': 392 px, black border")
fig.tight_layout()

# %% [markdown]
# ## 4 · The patch embedding is a linear map, and a linear map on patches is a Conv2d
#
# Each flattened patch x (P * P * C numbers) becomes a D-dimensional token z = W x + b, with
# the **same** W for every patch. A convolution with kernel P and stride P computes exactly
# that: windows that do not overlap, one weight tensor shared by all windows. The conv stores
# its weight as (D, C, P, P), so flatten the patches channels-first, in (channel, row, col)
# order, and `weight.reshape(D, -1)` is W:

# %%
# NBVAL_CHECK_OUTPUT
D = 64
conv = torch.nn.Conv2d(3, D, kernel_size=P, stride=P)
pixel_values = to_pixel_values(image[None])  # (1, 3, 224, 224)
with torch.no_grad():
    conv_tokens = conv(pixel_values).flatten(2).transpose(1, 2)  # (1, D, 14, 14) -> (1, 196, D)
    linear_tokens = pt.patchify(pixel_values, P, channels_first=True) @ conv.weight.reshape(D, -1).T + conv.bias
torch.testing.assert_close(linear_tokens, conv_tokens)
print(f"Conv2d: {tuple(conv_tokens.shape)}, patchify + matmul: {tuple(linear_tokens.shape)}, equal (float32 tolerance): True")
print(f"weights: {P}*{P}*3*{D} + {D} bias = {conv.weight.numel() + conv.bias.numel():,} parameters, shared by all {gh * gw} patches")

# %% [markdown]
# ## 5 · Reproducing `CLIPVisionEmbeddings` exactly
#
# CLIP's vision tower adds two things to the patch tokens: a learned **class token**
# prepended to the sequence (its final state becomes the image embedding) and learned
# **position embeddings**, one vector per position, added to every token. Its patch conv has no
# bias. Build a real `CLIPVisionEmbeddings` from a tiny config, copy its three weight tensors
# out, and recompute its output by hand:

# %%
config = CLIPVisionConfig(hidden_size=D, intermediate_size=4 * D, num_attention_heads=4, num_hidden_layers=1,
                          image_size=224, patch_size=P)
library = CLIPVisionEmbeddings(config).eval()
W_patch = library.patch_embedding.weight.detach().clone()      # (D, 3, P, P)
class_token = library.class_embedding.detach().clone()         # (D,)
positions = library.position_embedding.weight.detach().clone()  # (N + 1, D)


def clip_embeddings_from_scratch(pixel_values, W_patch, class_token, positions):
    """(B, 3, H, W) -> (B, 1 + N, D): [class token; patches @ W^T] + position embeddings."""
    d = W_patch.shape[0]
    patch_tokens = pt.patchify(pixel_values, P, channels_first=True) @ W_patch.reshape(d, -1).T  # (B, N, D)
    cls = class_token.expand(pixel_values.shape[0], 1, d)                                       # (B, 1, D)
    return torch.cat([cls, patch_tokens], dim=1) + positions                                    # (B, 1 + N, D)


# %%
# NBVAL_CHECK_OUTPUT
weights = (W_patch, class_token, positions)
batch = to_pixel_values(np.stack([squares[n] for n in names]))  # (5, 3, 224, 224)
with torch.no_grad():
    ours, theirs = clip_embeddings_from_scratch(batch, *weights), library(batch)
    ours64 = clip_embeddings_from_scratch(batch.double(), *(t.double() for t in weights))
    theirs64 = library.double()(batch.double())
library.float()
torch.testing.assert_close(ours, theirs)
print(f"CLIPVisionEmbeddings: {tuple(theirs.shape)}; from scratch: {tuple(ours.shape)}; equal (float32 tolerance): True")
print(f"in float64 the largest difference is below 1e-12: {(ours64 - theirs64).abs().max().item() < 1e-12}")

# %% [markdown]
# The two agree to float32 rounding; in float64 the only differences left are the order of
# additions inside the convolution, far below 1e-12. One learned position vector per
# position means the model is tied to its training grid. At 336 px the library refuses, unless
# you ask it to resample (bicubic) the 14 x 14 position grid to the new one:

# %%
# NBVAL_CHECK_OUTPUT
bigger = to_pixel_values(pt.resize_and_crop(photo, 336)[None])
try:
    library(bigger)
except ValueError as err:
    print("ValueError:", err)
with torch.no_grad():
    print("with interpolate_pos_encoding=True:", tuple(library(bigger, interpolate_pos_encoding=True).shape))

# %% [markdown]
# ## 6 · Position embeddings: learned or 2-D sin-cos
#
# Why have them at all? Self-attention treats its input as a **set**: shuffle the tokens and the
# outputs are shuffled the same way, nothing else changes. A real CLIP encoder layer shows it:

# %%
# NBVAL_CHECK_OUTPUT
config._attn_implementation = "eager"  # plain matmuls, so PyTorch's FLOP counter sees them in section 7
layer = CLIPEncoderLayer(config).eval()
x = torch.randn(1, 197, D)
perm = torch.randperm(197)
with torch.no_grad():
    shuffle_then_layer = layer(x[:, perm], attention_mask=None)
    layer_then_shuffle = layer(x, attention_mask=None)[:, perm]
torch.testing.assert_close(shuffle_then_layer, layer_then_shuffle)
print("shuffle the tokens, then the layer == the layer, then shuffle:", True)

# %% [markdown]
# So without position embeddings, a ViT could not tell the sky at the top from the sky
# reflected at the bottom. Two common choices:
#
# - **Learned** (ViT, CLIP): a table of (N + 1) x D numbers, trained with everything else.
#   Flexible, but tied to the training grid (interpolated at other resolutions) and it starts
#   as noise: any 2-D structure must be learned from data.
# - **2-D sin-cos** (MAE, MoCo v3, many recent ViTs): fixed. Half the dimensions encode the patch
#   row, half the column, each as sin and cos of the position at geometric frequencies. No
#   parameters, defined for any grid.

# %%
# NBVAL_CHECK_OUTPUT
print(f"learned table of ViT-B/16 at 224 px: {pt.num_patches(224, 16, cls_token=True)} x 768 = "
      f"{pt.num_patches(224, 16, cls_token=True) * 768:,} parameters")
grid6 = 6  # the course's tiny CLIP: 48 px images, 8 px patches
sincos = pt.sincos_position_embeddings(grid6, grid6, 96)
sim = pt.position_similarity(sincos, grid6, grid6)
print(f"sin-cos table for a {grid6}x{grid6} grid: {sincos.shape}, 0 trained parameters")
print(f"cosine similarity, patch (2, 2) vs (2, 3): {sim[2, 2, 2, 3]:.3f}; vs (2, 5): {sim[2, 2, 2, 5]:.3f}; vs (5, 5): {sim[2, 2, 5, 5]:.3f}")
print(f"farthest pair, (0, 0) vs (5, 5): {sim[0, 0, 5, 5]:.3f} (the lowest in the table: {sim.min():.3f})")
omega = 10000.0 ** (-np.arange(96 // 4) / (96 // 4))  # the frequencies of each axis (pt.sincos_position_embeddings)
slow = 5 * omega < 0.5  # a shift of 5 patches turns these by less than half a radian
print(f"per axis {len(omega)} frequencies; {slow.sum()} turn by < 0.5 rad over 5 patches (mean cos "
      f"{np.cos(5 * omega[slow]).mean():.3f}), the {(~slow).sum()} fastest average cos {np.cos(5 * omega[~slow]).mean():.3f}; "
      f"all together: {np.cos(5 * omega).mean():.3f}")

# %% [markdown]
# Why is even the farthest pair, corner (0, 0) against corner (5, 5), at 0.734? The cosine of
# two sin-cos embeddings is the average, over frequencies and the two axes, of
# cos(w_k · distance). The frequencies are geometric, from 1 down to 10000^(-23/24), so most are
# far too low to turn much over a 6-patch grid: 17 of the 24 per axis turn by less than half a
# radian over 5 patches and contribute cosines near 1 (0.994 on average), and only the 7 fastest
# really vary (average 0.103). Together that is 0.734. The slow components exist for grids of
# hundreds or thousands of positions; on a small grid they are a large constant shared by every
# position, which is also why the "other" column below sits at 0.860.
#
# With sin-cos embeddings, near patches are more similar than distant ones by construction. The
# plot shows, for each of the 6 x 6 positions, a small map of its cosine similarity with every
# position: each map is brightest at its own position and fades with distance along rows and
# columns.

# %%
pt.plot_position_similarity(sincos, grid6, grid6, title="2-D sin-cos position embeddings (fixed, 6x6 grid, D = 96)");

# %% [markdown]
# Now **learned** embeddings after training: the vision tower of the course's tiny CLIP
# (`data/tiny_clip`, the Shapes World checkpoint of notebook 02: 48 px images, 8 px patches, so the
# same 6 x 6 grid). Same plot, the class position left out:

# %%
from transformers.utils import logging as hf_logging

from course_lib.models.clip import load_tiny_clip, load_tiny_clip_scene

hf_logging.disable_progress_bar()
tiny_clip, _ = load_tiny_clip()
vision = tiny_clip.config.vision_config
trained = pt.vision_position_embeddings(tiny_clip)
pt.plot_position_similarity(trained, vision.image_size // vision.patch_size, vision.image_size // vision.patch_size,
                            title=f"learned position embeddings of the trained tiny CLIP (6x6 grid, D = {vision.hidden_size})");

# %% [markdown]
# Is there structure? Average the similarity over pairs of different positions by how they sit
# on the grid, and compare with the same tower's embeddings **before** training (random
# initialisation, as `CLIPVisionEmbeddings` creates them):

# %%
# NBVAL_CHECK_OUTPUT
torch.manual_seed(0)
untrained = pt.vision_position_embeddings(CLIPVisionEmbeddings(vision))
print(f"{'mean cosine similarity':<34}" + "".join(f"{k:>12}" for k in ["neighbours", "same row", "same column", "other"]))
relations = {}
scene_clip, _ = load_tiny_clip_scene()  # notebook 04's scene-trained CLIP: it must place objects to read relations
scene_trained = pt.vision_position_embeddings(scene_clip)
tables = [("2-D sin-cos (fixed)", sincos), ("learned, before training", untrained), ("learned, trained tiny CLIP", trained),
          ("learned, scene tiny CLIP", scene_trained)]
for label, emb in tables:
    relations[label] = pt.similarity_by_relation(emb, grid6, grid6)
    print(f"{label:<34}" + "".join(f"{v:>12.3f}" for v in relations[label].values()))
for label, short in [("2-D sin-cos (fixed)", "sin-cos"), ("learned, trained tiny CLIP", "trained tiny CLIP"),
                     ("learned, scene tiny CLIP", "scene tiny CLIP")]:
    rel = relations[label]
    for name in ["neighbours", "same row", "same column"]:
        gap = rel[name] - rel["other"]
        verdict = "more similar than" if gap > 0.02 else "NOT clearly more similar than"
        print(f"{short}: {name} are {verdict} unrelated positions ({gap:+.3f})")

# %% [markdown]
# Read the table against the "other" column (pairs in different rows and columns). Before
# training, the learned table is noise: every relation averages about 0. The sin-cos table is
# local by construction: neighbours +0.121 and same row or column +0.070 above unrelated pairs
# (on a high baseline of 0.860, the slow frequencies above). The shipped tiny CLIP (`data/tiny_clip`,
# trained on single objects) learned some structure from the data alone: **rows** (same row
# +0.137, a larger gap than sin-cos's +0.070), columns less (+0.054), and **no locality**: adjacent
# patches are no more similar than unrelated ones (-0.037). Structure in the table is not position
# in the output, though: notebook 04 (section 7) finds that this model's pooled image vector holds
# no position at all (a linear probe for the cell is at chance): its training batches almost never
# needed one (notebook 04 counts them).
# The scene-trained CLIP of notebook 04 (`data/tiny_clip_scene`) was trained first on captions that
# all name the cell, then on "left of" and "right of", which Shapes World decides by columns first.
# Its table holds **columns** (same column +0.633) and **locality** (neighbours +0.616), rows hardly
# at all (+0.076), and its pooled vector reads an object's column (notebook 04). Which of its two
# stages made the columns is not separated here. Large ViTs trained on hundreds of millions of
# images learn clear local row/column patterns (the ViT paper plots them); fixed 2-D sin-cos
# embeddings give small models and small data that structure for free.

# %% [markdown]
# ## 7 · Attention cost grows with N squared
#
# One transformer layer on N tokens of width D does (a multiply-add counted as 2 FLOPs):
#
# | part | FLOPs |
# |---|---|
# | Q, K, V and output projections | 4 x 2 N D^2 = 8 N D^2 |
# | MLP (width 4D) | 2 x 2 N D (4D) = 16 N D^2 |
# | scores Q K^T and the weighted sum of V | 2 N^2 D + 2 N^2 D = 4 N^2 D |
#
# so 24 N D^2 + 4 N^2 D per layer, and the attention matrix holds N^2 entries per head. The
# formula is a count, so check it against PyTorch's FLOP counter on a real `CLIPEncoderLayer`:

# %%
# NBVAL_CHECK_OUTPUT
from torch.utils.flop_counter import FlopCounterMode

predicted = pt.attention_cost(224, P, hidden_size=D)
with FlopCounterMode(display=False) as counter, torch.no_grad():
    layer(torch.randn(1, predicted.tokens, D), attention_mask=None)
print(f"one CLIPEncoderLayer, N = {predicted.tokens}, D = {D}: counted {counter.get_total_flops():,} FLOPs, "
      f"formula {predicted.total_flops:,}")
assert counter.get_total_flops() == predicted.total_flops

# %% [markdown]
# Now the real widths. ViT-L/14 (D = 1024) and ViT-B (D = 768) across resolutions, one layer,
# class token included; the last three columns are multiples of the first row:

# %%
# NBVAL_CHECK_OUTPUT
print("patch 14, D = 1024 (ViT-L/14)")
print(pt.cost_table([224, 336, 448, 672, 896], 14, hidden_size=1024))
print("\npatch 16, D = 768 (ViT-B/16), no class token")
print(pt.cost_table([224, 448, 896], 16, hidden_size=768, cls_token=False))
vit_b = pt.attention_cost(224, 16, hidden_size=768)
print(f"\nViT-B/16 at 224 px, 12 layers: {12 * vit_b.total_flops / 1e9:.1f} GFLOPs = {12 * vit_b.total_flops / 2e9:.1f} G multiply-adds")
print(f"attention FLOPs overtake the linear layers when 4 N^2 D > 24 N D^2, i.e. N > 6 D = {6 * 768:,} tokens for D = 768")

# %% [markdown]
# Read the ViT-B/16 rows: doubling the side gives 4.00x tokens and 16.00x attention entries;
# doubling again gives 16x tokens and 256x entries. At 224 px the quadratic term is a small
# share of the FLOPs (the linear layers dominate), but it grows with every step, and the
# N^2 score matrix per head and layer is what runs out of memory first without fused
# attention kernels. Past N = 6D tokens the quadratic term dominates the FLOPs too.

# %%
pt.plot_attention_cost([224, 336, 448, 672, 896], 14, hidden_size=1024);

# %% [markdown]
# ## 8 · Explorer: photo, resolution, patch size
#
# `pt.render_patch_explorer` resizes the photo to the resolution, fits it to the patch size with
# a policy when needed (pad by default), draws the grid and prints the token count and the
# cost of one layer (D = 768) next to the 224 px / 16 px reference. Here once, statically:

# %%
pt.render_patch_explorer("page", 336, 14);

# %%
explore(
    pt.render_patch_explorer,
    photo=w.Dropdown(options=names, value="astronaut", description="photo"),
    resolution=w.IntSlider(value=224, min=64, max=672, step=8, description="pixels"),
    patch_size=w.Dropdown(options=[8, 14, 16, 32], value=16, description="patch"),
    policy=w.Dropdown(options=["pad", "crop", "resize"], value="pad", description="if not divisible"),
)

# %% [markdown]
# Things to try: the `page` scan at 112 px with 32 px patches (could a model read that text?);
# `pixels` at 232 with patch 16 under each policy; patch 8 at 448 px (how many tokens?).
#
# ## 9 · Exercises
#
# **Exercise 1.** How many tokens does a CLIP ViT-L/14 vision tower see for a 336 x 336 image,
# class token included?

# %%
answer = ...  # your answer: an integer
check("01.tokens_336", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `pt.num_patches(336, 14, cls_token=True)`: (336 / 14)^2 = 24^2 = 576 patch tokens, plus the
# class token.
# </details>
#
# **Exercise 2.** With 16 px patches and no class token, how many times more attention-matrix
# entries does a 448 px image make than a 224 px image?

# %%
answer = ...  # your answer: an integer
check("01.entries_ratio", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# `pt.attention_cost(448, 16, cls_token=False).entries // pt.attention_cost(224, 16, cls_token=False).entries`:
# the tokens grow 4x, the N x N matrix 4^2 = 16x.
# </details>
#
# **Exercise 3.** What is the largest square image side (in pixels) that a patch-14 ViT accepts
# without resizing or padding, if you can afford at most 1,000 patch tokens (no class token)?

# %%
answer = ...  # your answer: an integer (pixels)
check("01.max_side", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# The side must be 14 k with k^2 <= 1000, so k = floor(sqrt(1000)):
# `int(np.floor(np.sqrt(1000))) * 14`.
# </details>
#
# **Exercise 4.** Write `patch_index(row, col, image_size, patch_size)`: the position in the
# token sequence (class token first, at index 0) of the patch that holds pixel (row, col) of a
# square image.

# %%
def patch_index(row: int, col: int, image_size: int, patch_size: int) -> int:
    ...  # your code


answer = ...  # your answer: patch_index, once it works
check("01.patch_index", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def patch_index(row, col, image_size, patch_size):
#     return 1 + (row // patch_size) * (image_size // patch_size) + col // patch_size
# ```
# Raster order: whole patch rows first, then the column within the row; +1 for the class token.
# </details>
#
# **Exercise 5.** Section 4 used channels-first patches, whose order matches the conv weight.
# Write `conv_to_linear(weight)` for **channels-last** patches: given a Conv2d weight
# (D, C, P, P), return the (D, P * P * C) matrix W such that `pt.patchify(image_hwc, P) @ W.T`
# equals the convolution's output tokens.

# %%
def conv_to_linear(weight: torch.Tensor) -> torch.Tensor:
    ...  # your code


answer = ...  # your answer: conv_to_linear, once it works
check("01.conv_to_linear", answer)

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def conv_to_linear(weight):
#     return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)  # (D, P, P, C) -> (D, P*P*C)
# ```
# `pt.patchify(image, P)` flattens each patch as (row, col, channel), so the weight's channel
# axis must move last before flattening.
# </details>
#
# ## 10 · Interview corner
#
# <details><summary><b>Q1. How many visual tokens does a 336 px image give a ViT-L/14, and what happens at 672 px?</b></summary>
#
# (336 / 14)^2 = 576 patch tokens, 577 with the class token (computed in section 3). At 672 px
# the side doubles, so the tokens quadruple (2,305 with the class token in the section 7 table)
# and the attention matrix per head and layer grows about 16x (the ViT-L/14 rows of that
# table, 672 vs 336 px: 2,305 / 577 = 3.99x tokens, 80.44 / 5.04 = 15.96x entries). That is why LLaVA-style models either keep 336 px or tile the image into 336 px
# crops and often pool or merge tokens afterwards.
# </details>
#
# <details><summary><b>Q2. Why is the patch embedding a Conv2d, and could it be an nn.Linear?</b></summary>
#
# It is one linear map applied to every non-overlapping P x P x C patch. A convolution with
# kernel P and stride P is exactly that, computed efficiently without materialising the patch
# matrix. An `nn.Linear(P*P*C, D)` on the patchified image gives the same numbers (section 4)
# provided the flattening order of the patches matches the order of the weight.
# </details>
#
# <details><summary><b>Q3. Why does self-attention cost grow quadratically, and does that dominate a ViT's FLOPs?</b></summary>
#
# Every token attends to every token: Q K^T is N x N per head, and multiplying the scores by V
# costs as much again, 4 N^2 D FLOPs per layer in total, against 24 N D^2 for the projections and
# the MLP. Since N grows with the square of the image side, the attention term grows with its
# fourth power. At 224 px the linear layers still dominate (N is much smaller than 6 D); at high
# resolution, or for video, the quadratic term takes over, and the N^2 score matrices dominate
# memory even earlier unless a fused kernel (FlashAttention-style) avoids storing them.
# </details>
#
# <details><summary><b>Q4. Learned vs sin-cos position embeddings: trade-offs? How do you run a ViT at a new resolution?</b></summary>
#
# Learned embeddings are a free (N + 1) x D table: flexible, but tied to the training grid and
# they must learn the 2-D structure from data. 2-D sin-cos embeddings are fixed functions of
# (row, column): no parameters, defined for any grid, with built-in locality. At a new
# resolution the patch grid changes, so learned position embeddings are interpolated
# (bicubic over the 2-D grid, keeping the class position as is), usually followed by a short
# fine-tune; `interpolate_pos_encoding=True` does this in `transformers` (section 5).
# </details>
#
# <details><summary><b>Q5. Your image is 384 px and the patch is 14. What happens?</b></summary>
#
# 384 is not a multiple of 14. A Conv2d with stride 14 silently keeps 27 x 27 windows and never
# sees the last 6 pixel rows and columns (section 3). Choose explicitly instead: resize to a
# multiple (378 px), crop the centre, or pad (392 px gives 28 x 28 = 784 patches). Whatever the
# choice, do the same at training and at inference.
# </details>
#
# <details><summary><b>Q6. What is the class token for, and what are the alternatives?</b></summary>
#
# A learned vector prepended to the patch tokens; after the last layer its state summarises the
# image (CLIP projects it into the joint embedding space). Alternatives: average the patch tokens
# (global average pooling) or attention pooling with a learned query (SigLIP's MAP head). It adds
# one token, which matters for exact counts (576 vs 577) when a multimodal LLM reserves slots
# for the image tokens.
# </details>
#
# ## 11 · Common pitfalls
#
# - **Flattening order.** Patches flattened (row, col, channel) need the conv weight permuted to
#   (D, P, P, C) before the reshape; channels-first patches match `weight.reshape(D, -1)`. The
#   wrong order runs without error and gives wrong numbers (exercise 5).
# - **Forgetting the class token** in counts: 576 vs 577 decides how many `<image>` slots a
#   LLaVA-style processor inserts.
# - **Silent truncation.** A Conv2d patch embedding on a size that does not divide by P drops the
#   bottom/right remainder without a warning. Choose a policy.
# - **A new resolution without interpolating position embeddings.** `transformers` refuses
#   (section 5); hand-written code may just index out of range or broadcast wrongly.
# - **Confusing FLOPs with multiply-adds.** Papers often quote multiply-adds as "FLOPs": a factor
#   of 2 (section 7 prints both).
# - **Thinking attention FLOPs are the bottleneck at 224 px.** They are not yet; memory for the
#   N^2 scores and the MLP/projection FLOPs matter first. The quadratic term wins at high
#   resolution and for long video sequences.
#
# ## 12 · Summary
#
# - A ViT sees an image as N = (H / P)(W / P) flattened patches (+1 class token), in raster order.
#   Patchify and unpatchify are a reshape, a transpose and a reshape: exact and invertible.
# - The patch embedding is one shared linear map = Conv2d(kernel = stride = P). We rebuilt
#   `CLIPVisionEmbeddings` from its three weight tensors: patch weight, class token, positions.
# - Sizes must divide by P: refuse, pad, crop or resize, explicitly.
# - Position embeddings break the permutation symmetry of attention: learned tables (tied to a
#   grid, interpolated when it changes) or fixed 2-D sin-cos.
# - Tokens grow with the square of the side and attention entries with the fourth power; per
#   layer FLOPs = 24 N D^2 + 4 N^2 D.
#
# ## 13 · References
#
# - Dosovitskiy et al. 2020, *An Image is Worth 16x16 Words: Transformers for Image Recognition
#   at Scale*, arXiv:2010.11929 (ViT: patches, class token, learned position embeddings).
# - Radford et al. 2021, *Learning Transferable Visual Models From Natural Language
#   Supervision*, arXiv:2103.00020 (CLIP and its ViT-B/16, ViT-L/14 and ViT-L/14@336 towers).
# - Vaswani et al. 2017, *Attention Is All You Need*, arXiv:1706.03762 (sinusoidal position
#   encodings, attention cost).
# - He et al. 2021, *Masked Autoencoders Are Scalable Vision Learners*, arXiv:2111.06377 (2-D
#   sin-cos position embeddings for ViTs).
# - Zhai et al. 2023, *Sigmoid Loss for Language Image Pre-Training*, arXiv:2303.15343 (SigLIP,
#   patch-14 towers at 384 px).
# - Chen, Xie, He 2021, *An Empirical Study of Training Self-Supervised Vision Transformers*,
#   arXiv:2104.02057 (MoCo v3: fixed 2-D sin-cos position embeddings for ViTs).
# - Liu et al. 2023, *Improved Baselines with Visual Instruction Tuning*, arXiv:2310.03744
#   (arXiv 2023, CVPR 2024; LLaVA-1.5: CLIP ViT-L/14 at 336 px, 576 visual tokens).
