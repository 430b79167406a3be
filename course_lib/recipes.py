"""Every recipe of the course in one place: the live runs of the notebooks, the studies and the shipped
checkpoints, as frozen dataclasses, plus the named seeds of every held-out set.

A recipe's fields are the keyword arguments of the function that runs it, so
`train_dual_encoder(model, tok, **asdict(CLIP_LIVE))` runs notebook 02's live recipe, and
`dataclasses.replace(CLIP_LIVE, steps=300)` varies one field. A new recipe is a new instance here
(and, for a new kind of run, a new dataclass); notebooks and builders import it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .shapes_world import QUESTION_TYPES

# ---- tiny CLIP and tiny SigLIP (notebooks 02 and 03; the shipped tiny CLIP serves 01, 04, 05) ------------


@dataclass(frozen=True)
class DualEncoderSize:
    """Sizes of a tiny CLIP (tiny_clip_config) or, without projection_dim, a tiny SigLIP."""

    hidden_size: int
    layers: int
    heads: int
    projection_dim: int


# One size for the live run, the study and the checkpoint. Experiments behind the recipes: data/README.md.
TINY_CLIP_SIZE = DualEncoderSize(hidden_size=64, layers=2, heads=4, projection_dim=64)


@dataclass(frozen=True)
class DualEncoderRecipe:
    """Keyword arguments of models.dual_encoder.train_dual_encoder (CLIP's and SigLIP's trainer); the loss and
    the positives are left at the trainer's defaults ("clip", "described")."""

    steps: int
    batch_size: int
    lr: float
    # data options, see dual_encoder.image_text_batch
    multi_object_share: float = 0.0
    partial_share: float = 0.0
    repaint_share: float = 0.0
    position_share: float = 0.0
    hard_negatives: bool = False  # NegCLIP's extra text columns (needs multi_object_share > 0)
    weight_decay: float = 0.01
    no_decay: str = "standard"  # training.no_decay_parameters' rule
    unique_captions: bool = False
    seed: int = 0


# Notebook 02's live run: single-object batches, about a minute on 2 cores (the shipped recipe, shorter).
CLIP_LIVE = DualEncoderRecipe(steps=900, batch_size=64, lr=2e-3, partial_share=0.4, repaint_share=0.3,
                              weight_decay=0.2, no_decay="none", unique_captions=True, seed=0)
# The shipped checkpoint: the live recipe, twice as long. Built before the no-decay rule ("none": every parameter
# decays); it stays the tower of the shipped tiny LLaVA until that is rebuilt (issue 16).
CLIP_CHECKPOINT = DualEncoderRecipe(steps=1800, batch_size=64, lr=2e-3, multi_object_share=0.0, partial_share=0.4,
                                    repaint_share=0.3, weight_decay=0.2, no_decay="none", unique_captions=True, seed=0)


# The scene-trained CLIP (notebook 04, section 7; data/tiny_clip_scene) trains in two stages. Stage 1: single objects
# whose captions all name their cell, so that the image tower learns where things are before it must compare two
# positions (without it, relations stay at chance: data/README.md). Stage 2: half the scenes hold 2-3 objects, half
# the single-object captions name the cell, and hard negatives (NegCLIP). The builder also trains the two controls
# of CLIP_SCENE_VARIANTS: the same stage 1, size, steps, batch and seeds; only stage 2's data differ.
CLIP_POSITION_WARMUP = DualEncoderRecipe(steps=1500, batch_size=64, lr=2e-3, position_share=1.0, weight_decay=0.2,
                                         unique_captions=True, seed=0)
CLIP_SCENE_CHECKPOINT = DualEncoderRecipe(steps=7000, batch_size=64, lr=2e-3, multi_object_share=0.5,
                                          partial_share=0.4, repaint_share=0.3, position_share=0.5, hard_negatives=True,
                                          weight_decay=0.2, unique_captions=True, seed=1)
CLIP_SCENE_VARIANTS: dict[str, DualEncoderRecipe] = {  # built in this order, the shipped one first
    "scene_mix_hard_negatives": CLIP_SCENE_CHECKPOINT,  # (c), the one shipped
    "single_object": replace(CLIP_SCENE_CHECKPOINT, multi_object_share=0.0, hard_negatives=False),  # (a)
    "scene_mix": replace(CLIP_SCENE_CHECKPOINT, hard_negatives=False),  # (b)
}


@dataclass(frozen=True)
class BatchStudy:
    """Keyword arguments of studies.small_batch_study (notebook 03: CLIP vs SigLIP at TINY_CLIP_SIZE).

    The same data and optimiser for both arms: full captions only (partial_share 0, so the only positive of an
    image is its own caption and a batch of N holds N positives among N^2 pairs), CLIP_LIVE's repainting and
    weight decay on the weights, no decay on t and b (decay_logit False), and SigLIP's b started at the batch's
    prior -log(N - 1) (bias_init "prior") instead of the paper's -10."""

    batch_sizes: tuple[int, ...]
    steps: int
    lr: float
    n_test: int
    partial_share: float = 0.0
    repaint_share: float = 0.3
    weight_decay: float = 0.2
    no_decay: str = "none"  # the study predates the no-decay rule: biases and norm gains decay too
    decay_logit: bool = False
    bias_init: str = "prior"
    threads: int = 1


# The notebook's live cell runs one seed; `python -m course_lib.tools.checkpoints siglip_study` runs
# STUDY_SEEDS and ships the spread in data/siglip_study/metrics.json.
SIGLIP_STUDY = BatchStudy(batch_sizes=(16, 64), steps=300, lr=2e-3, n_test=600, threads=2)
STUDY_SEEDS = (0, 1, 2)

# ---- tiny LM (shipped for notebook 05; why 4 layers and 300 steps: data/README.md) ------------------------


@dataclass(frozen=True)
class LMSize:
    """Sizes of the tiny causal LM (models.causal_lm.tiny_lm_config): grouped-query attention with kv_heads
    key-value heads shared by the heads query heads."""

    hidden_size: int
    layers: int
    heads: int
    kv_heads: int


LM_SIZE = LMSize(hidden_size=128, layers=4, heads=4, kv_heads=2)  # 4 layers, not 2: see data/README.md


@dataclass(frozen=True)
class LMRecipe:
    """Keyword arguments of models.causal_lm.pretrain_lm (next-token pre-training on Shapes World text)."""

    steps: int
    batch_size: int
    lr: float
    seed: int = 0
    no_decay: str = "standard"  # training.no_decay_parameters' rule
    context_share: float = 0.0  # share of question-answer texts that follow their scene's caption (text_corpus)


# Half the question-answer texts follow their caption, meant to teach answering from what came before; it learns
# the formats but not the look-up (notebook 06, section 7, and LM_READER below).
LM_CHECKPOINT = LMRecipe(steps=600, batch_size=64, lr=3e-3, seed=0, context_share=0.5)


@dataclass(frozen=True)
class ReaderRecipe:
    """Keyword arguments of models.causal_lm.train_reader (a question after its scene's description, the loss
    on the answer only)."""

    steps: int
    batch_size: int
    lr: float
    seed: int = 0


# The LM of notebook 06's bridges: the tiny LM's architecture, trained from scratch to answer from a description,
# at 5e-4: the same run at the tiny LM's 3e-3 put nearly all of each head's weight on one key and still read colour
# at chance after 4,000 steps (data/README.md, "a reading LM").
LM_READER = ReaderRecipe(steps=1500, batch_size=64, lr=5e-4, seed=0)

# ---- tiny LLaVA (notebook 05) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLaVARecipe:
    """Keyword arguments of models.llava.train_two_stages."""

    stage1_steps: int  # stage 1: the projector alone, on captions, at lr1
    stage2_steps: int  # stage 2: projector and LM, on conversations of `turns` questions, at lr2
    batch_size: int
    lr1: float
    lr2: float
    turns: int
    seed: int = 0
    no_decay: str = "standard"  # training.no_decay_parameters' rule
    patch_loss: float = 0.0  # stage 2's auxiliary per-patch attribute loss (llava.AttributeHead), its weight
    cells_first: bool = False  # stage 2's relation answers name both objects' cells first (llava.relation_steps)
    objects_first: bool = False  # its colour answers list the scene's objects first (llava.colour_steps)


# The LLaVA recipe: the no-decay rule, the auxiliary patch loss, relation answers that name both cells first and
# colour answers that list the objects first (each a shipped build, data/tiny_llava/ablation.json); the levers
# tried towards issue 16's target, each a measured run, are in data/README.md.
LLAVA_CHECKPOINT = LLaVARecipe(stage1_steps=200, stage2_steps=5000, batch_size=32, lr1=3e-3, lr2=2e-3,
                               turns=len(QUESTION_TYPES), seed=0, patch_loss=1.0, cells_first=True,
                               objects_first=True)
# The notebook's live run: the shipped recipe, shorter (146 s of training on a slow two-core machine, 2026-12-08;
# BENCHMARKS.md).
LLAVA_LIVE = LLaVARecipe(stage1_steps=100, stage2_steps=600, batch_size=32, lr1=3e-3, lr2=2e-3,
                         turns=len(QUESTION_TYPES), seed=0, patch_loss=1.0, cells_first=True, objects_first=True)

# ---- bridges (notebook 06) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeRecipe:
    """One recipe for the bridge rows of notebook 06 (models.bridges.train_bridge): the same cached features
    (a pool of `pool_scenes` scenes with `turns` questions each), steps, batch and learning rate; the vision
    tower frozen; the LM frozen (only the bridge trains) unless train_lm. positions: scale of the 2-D sin-cos
    positions added to the cached features (bridges.add_positions); slot_loss: weight of the auxiliary slot loss
    on the tokens of the bridges that pool with K queries (bridges.POOLING_KINDS, bridges.slot_targets); slot_steps:
    a first stage in which those bridges learn the slots alone, before they meet the LM (as BLIP-2 trains its
    Q-Former before connecting the LLM)."""

    steps: int = 1000
    batch_size: int = 32
    lr: float = 3e-3
    pool_scenes: int = 4000
    turns: int = 4
    seed: int = 0
    train_lm: bool = False
    positions: float = 3.0
    slot_loss: float = 1.0
    slot_steps: int = 500


# Two regimes over the same rows, both over the reading LM (LM_READER): the LM frozen, as BLIP-2 and Flamingo keep
# their LLM, and the LM trained with the bridge, as LLaVA's stage 2 (why not notebook 05's LM: notebook 06, section 7).
BRIDGES_CHECKPOINT = BridgeRecipe()
BRIDGES_LM_TRAINED = BridgeRecipe(steps=1300, lr=2e-3, train_lm=True)
# (name, kind, visual tokens asked for) of the shipped comparison, in both regimes
BRIDGE_ROWS: tuple[tuple[str, str, int], ...] = (
    ("qformer_8", "qformer", 8), ("mlp_36", "mlp", 36), ("xattn", "xattn", 0), ("perceiver_8", "perceiver", 8),
    ("qformer_4", "qformer", 4), ("qformer_16", "qformer", 16), ("qformer_32", "qformer", 32))
# InstructBLIP and its control, LM trained, one question per image (the question is the Q-Former's instruction):
# 2,500 steps of 32 questions, about half the training questions of the LM-trained rows (build time)
BRIDGES_ONE_TURN = BridgeRecipe(steps=2500, lr=2e-3, train_lm=True)
BRIDGE_ONE_TURN_ROWS: tuple[tuple[str, str, int], ...] = (
    ("instructblip_8", "instructblip", 8), ("qformer_8_one_turn", "qformer", 8))
# what each lever buys, LM trained: the recipe with one lever removed, (row, recipe) pairs
BRIDGE_ABLATIONS: tuple[tuple[tuple[str, str, int], BridgeRecipe], ...] = (
    (("qformer_8_no_positions", "qformer", 8), replace(BRIDGES_LM_TRAINED, positions=0.0)),
    (("qformer_8_no_slots", "qformer", 8), replace(BRIDGES_LM_TRAINED, slot_loss=0.0, slot_steps=0)))
# notebook 06's live run: Q-Former K=8 with the LM-trained recipe, both stages shorter
BRIDGES_LIVE = BridgeRecipe(steps=850, lr=2e-3, train_lm=True, slot_steps=300)


# ---- temporal grounding on Shapes World clips (notebook 07) -------------------------------------------------


@dataclass(frozen=True)
class TemporalRecipe:
    """Keyword arguments of models.temporal.train_grounder."""

    steps: int
    batch_size: int
    lr: float
    keep: int  # frames kept per 16-frame clip, uniformly sampled
    seed: int = 0


@dataclass(frozen=True)
class VideoClips:
    """Notebook 07's clips: generate_clips(train, train_seed, image_size=48) for training; the held-out
    clips use SEEDS.video_held_out."""

    train: int = 2000
    held_out: int = 500
    train_seed: int = 7001


VIDEO_CLIPS = VideoClips()
# 800 steps: with frame differences as input, colour change reaches 0.98 in 600 steps (1,500 without them).
TEMPORAL_LIVE = TemporalRecipe(steps=800, batch_size=64, lr=3e-3, keep=16, seed=0)
TEMPORAL_LOW_RATE = TemporalRecipe(steps=800, batch_size=64, lr=3e-3, keep=4, seed=0)  # trained on every 4th frame

# ---- the shipped checkpoints and the held-out seeds ---------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """How a shipped checkpoint data/<name> is built: its recipe, its model size (None: built from other
    checkpoints) and the torch threads of the build, fixed because float sums depend on the thread count:
    a rebuild is bit-identical only with the same count."""

    name: str
    recipe: DualEncoderRecipe | LMRecipe | ReaderRecipe | LLaVARecipe | BridgeRecipe
    size: DualEncoderSize | LMSize | None
    threads: int


@dataclass(frozen=True)
class Seeds:
    """Named seeds of the held-out sets; every value distinct (a test checks) and none a training seed
    (training batches use training.step_seed(seed, step) with small seeds)."""

    clip_zero_shot: int = 1234  # tiny CLIP's zero-shot test scenes: generate_scenes(1000, seed, split="all")
    clip_retrieval: int = 1235  # tiny CLIP's 256 retrieval test scenes (metrics.json "retrieval_256")
    clip_held_out_objects: int = 4_000_000_007  # scene CLIPs: 1,000 single objects of held-out compositions
    clip_scenes: int = 4_000_000_009  # scene CLIPs: 1,000 scenes of 2-3 objects per split (binding, relation)
    clip_pairs: int = 4_000_000_013  # scene CLIPs: 1,000 two-object scenes per split (relation)
    clip_scene_retrieval: int = 4_000_000_019  # scene CLIPs: 1,000 scenes of 2-3 objects for recall@k
    lm_held_out: int = 3_000_000_017  # tiny LM's held-out text: text_corpus(512, seed)
    batch_study: int = 4321  # zero-shot test scenes of notebook 03's small-batch study
    llava_eval: int = 2_000_000_011  # tiny LLaVA's held-out questions: models.llava.eval_set (1,000, notebook 05)
    llava_eval_large: int = 2_000_000_033  # ... and the 3,000 of its shipped metrics (slices large enough to judge)
    bridges_pool: int = 1_000_000_007  # notebook 06's training pool of scenes with cached features (feature_pool)
    position_probe: int = 1_000_000_009  # notebook 06: 1,200 one-object scenes whose cell linear probes read (locality)
    video_held_out: int = 7002  # notebook 07's held-out clips: generate_clips(VIDEO_CLIPS.held_out, seed, ...)


SEEDS = Seeds()

# ---- the shipped checkpoints, in build order (each needs only those above it) ------------------------
CHECKPOINTS: dict[str, Checkpoint] = {
    "tiny_clip": Checkpoint("tiny_clip", CLIP_CHECKPOINT, TINY_CLIP_SIZE, threads=1),
    # one thread: the recipe sits near the step where relations are learned, and float sums decide on which side
    # (data/README.md); with one thread the build is the run that chose the recipe
    "tiny_clip_scene": Checkpoint("tiny_clip_scene", CLIP_SCENE_CHECKPOINT, TINY_CLIP_SIZE, threads=1),
    "tiny_lm": Checkpoint("tiny_lm", LM_CHECKPOINT, LM_SIZE, threads=1),
    "tiny_llava": Checkpoint("tiny_llava", LLAVA_CHECKPOINT, None, threads=2),  # built alone on the two cores
    "tiny_lm_reader": Checkpoint("tiny_lm_reader", LM_READER, LM_SIZE, threads=2),
    # metrics only, no weights; two threads: the shipped file was built so (build_bridge_vlm then let
    # seed_everything pick the count by machine load, which made a rebuild beside another job differ)
    "bridges": Checkpoint("bridges", BRIDGES_CHECKPOINT, None, threads=2),
}
