"""Vision-to-LM bridges on one task: notebook 05's tiny LM reads cached tiny-CLIP features through an MLP
(36 tokens), a Q-Former (K tokens; InstructBLIP's reads the question too), a Perceiver Resampler (K tokens) or
gated cross-attention (0 tokens).

Taught in notebook 06, sections 6-8: one recipe per regime (same cached features and data; the LM frozen, or
trained with the bridge) through `course_lib.training.train`, the same held-out questions as notebook 05
(`llava.eval_set`), the costs a designer compares (visual tokens, trainable parameters, prefill FLOPs checked
with FlopCounterMode, measured prefill time, KV-cache bytes), and where instruction-aware queries look; and the
levers that let a pooling bridge keep where an object is (section 7): 2-D positions added to the features
(add_positions) and a DETR-style slot loss on its K tokens (slot_targets, train_bridge(slot_loss=)), learned first
in a slot stage without the LM (train_bridge(slot_steps=)); and what a frozen LM can read (caption_answers)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from transformers import CLIPModel, LlamaForCausalLM, PreTrainedTokenizerFast

from ..base.seeding import seed_everything
from ..base.validation import require_array, require_choice, require_finite, require_int
from ..budgets import config_kv_bytes
from ..patches import sincos_position_embeddings
from ..shapes_world import QA, QUESTION_TYPES, SHAPES, Scenes, cell_patches
from ..tokenizer import encode
from ..training import TrainResult, step_seed, train
from .causal_lm import lm_loss
from .cross_attention import build_tiny_idefics, gates, idefics_inputs
from .dual_encoder import to_pixel_values
from .llava import (
    FEATURE_LAYER,
    AttributeHead,
    Projector,
    Turn,
    conversation_batch,
    vqa_conversations,
    vqa_metrics,
    vqa_scenes,
)
from .qformer import InstructQFormerBridge, QFormerBridge, require_features, require_image_placeholders
from .resampler import ResamplerBridge

KINDS: tuple[str, ...] = ("mlp", "qformer", "perceiver", "xattn", "instructblip")
POOLING_KINDS: tuple[str, ...] = ("qformer", "perceiver", "instructblip")  # K learned queries pool the patches


# ---- cached vision features ---------------------------------------------------------------------


@torch.no_grad()
def vision_features(clip: CLIPModel, images: np.ndarray, batch_size: int = 500) -> torch.Tensor:
    """The frozen tiny-CLIP tower's patch features, as LLaVA takes them (layer -2, class token dropped):
    uint8 images (B, S, S, 3) -> (B, (S/P)^2, Dv)."""
    size = clip.config.vision_config.image_size
    require_array("images", images, ndim=4, dtype="uint8")
    if images.shape[1:] != (size, size, 3):
        raise ValueError(
            f"images must be (B, {size}, {size}, 3) for this vision tower, got {tuple(images.shape)}; "
            f"generate them with image_size={size}"
        )
    out = [
        clip.vision_model(to_pixel_values(images[i : i + batch_size]), output_hidden_states=True).hidden_states[
            FEATURE_LAYER
        ][:, 1:]
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


def add_positions(features: torch.Tensor, scale: float) -> torch.Tensor:
    """features (B, N, Dv) + scale x each patch's fixed 2-D sin-cos position (patches.sincos_position_embeddings;
    N patches in raster order on a square grid): an object's cell written into its patches' content, which a
    pooling bridge keeps (notebook 06, section 7). scale 0 returns the features unchanged."""
    require_array("features", features, ndim=3, dtype="f")
    scale = require_finite("scale", scale)
    n, width = features.shape[1:]
    grid = math.isqrt(n)
    if grid * grid != n or width % 4:
        raise ValueError(f"features must be (B, N, Dv) with N a square grid of patches and Dv a multiple of 4, "
                         f"got {tuple(features.shape)}")
    if not scale:
        return features
    return features + scale * torch.from_numpy(sincos_position_embeddings(grid, grid, width)).to(features.dtype)


@dataclass
class FeaturePool:
    """Training examples with their image features computed once: features (P, N, Dv), one conversation per
    scene, and each scene's objects (P, MAX_OBJECTS, 3): colour, shape and cell indices, -1 where absent."""

    features: torch.Tensor
    conversations: list[list[Turn]]
    objects: torch.Tensor

    def __len__(self) -> int:
        return len(self.conversations)


def scene_objects(scenes: Scenes) -> torch.Tensor:
    """(B, MAX_OBJECTS, 3) long: colour, shape and cell of each object of each scene, -1 where absent."""
    return torch.from_numpy(np.stack([scenes.colors, scenes.shapes, scenes.cells], axis=-1).astype(np.int64))


def feature_pool(clip: CLIPModel, n_scenes: int, seed: int, turns: int = len(QUESTION_TYPES),
                 positions: float = 0.0) -> FeaturePool:
    """Seeded scenes (1-3 objects) with `turns` questions each (llava.vqa_conversations), features cached, with
    add_positions(features, positions)."""
    scenes = vqa_scenes(require_int("n_scenes", n_scenes, low=1), seed)
    features = add_positions(vision_features(clip, scenes.images), positions)
    return FeaturePool(features, vqa_conversations(scenes, seed, turns), scene_objects(scenes))


# ---- the two ways in: tokens in the sequence, or cross-attention inside the LM ------------------------


class PrefixVLM(nn.Module):
    """A causal LM (frozen unless train_language_model) whose <image> placeholders are filled with a bridge's
    output (B, K, Dt).

    forward(features (B, N, Dv), input_ids (B, T) with exactly K placeholders per row, attention_mask, labels;
    instruction_ids / instruction_mask (B, L): the question, for a bridge that reads it (InstructBLIP))."""

    def __init__(self, bridge: nn.Module, lm: LlamaForCausalLM, image_token_id: int, num_tokens: int) -> None:
        super().__init__()
        self.bridge, self.lm = bridge, lm.requires_grad_(False)
        self.image_token_id = require_int("image_token_id", image_token_id, low=0)
        self.num_image_tokens = require_int("num_tokens", num_tokens, low=1)

    def forward(
        self,
        features: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        instruction_ids: torch.Tensor | None = None,
        instruction_mask: torch.Tensor | None = None,
    ) -> Any:
        require_image_placeholders(input_ids, self.image_token_id, self.num_image_tokens)
        if reads_instruction(self):
            if instruction_ids is None:
                raise ValueError("this bridge reads the question (InstructBLIP): pass instruction_ids (B, L)")
            visual = self.bridge(features, instruction_ids, instruction_mask)
        else:
            visual = self.bridge(features)
        if visual.shape[1] != self.num_image_tokens:
            raise ValueError(f"the bridge gave {visual.shape[1]} tokens per image, expected {self.num_image_tokens}")
        embeds = self.lm.get_input_embeddings()(input_ids)
        embeds = embeds.masked_scatter((input_ids == self.image_token_id)[..., None], visual.to(embeds.dtype))
        return self.lm(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels)


class CrossAttentionVLM(nn.Module):
    """A Flamingo-style LM (tiny IdeficsForVisionText2Text): no visual tokens in the sequence; text tokens
    attend to the features in gated cross-attention layers. Same forward signature as PrefixVLM."""

    num_image_tokens = 0

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        features: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> Any:
        require_features(features, self.model.config.vision_config.embed_dim)
        return self.model(
            input_ids=input_ids, attention_mask=attention_mask, labels=labels, **idefics_inputs(input_ids, features)
        )


def build_bridge_vlm(
    kind: str,
    lm: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    *,
    num_tokens: int = 8,
    vision_width: int = 64,
    n_patches: int = 36,
    seed: int = 0,
    train_lm: bool = False,
) -> PrefixVLM | CrossAttentionVLM:
    """One bridge over `lm` (seeded; the LM frozen unless train_lm): "mlp" (LLaVA's projector, one token per
    patch), "qformer", "instructblip" or "perceiver" (num_tokens tokens), "xattn" (gated cross-attention
    every 2nd LM layer, no tokens)."""
    require_choice("kind", kind, KINDS)
    num_tokens = require_int("num_tokens", num_tokens, low=1)
    seed_everything(seed, threads=None)  # seeding only: the caller owns the thread count (torch_threads)
    width = lm.config.hidden_size
    if kind == "xattn":
        model: PrefixVLM | CrossAttentionVLM = CrossAttentionVLM(build_tiny_idefics(lm, vision_width, seed=seed))
    else:
        if kind == "mlp":
            bridge, num_tokens = Projector(vision_width, width, kind="mlp"), n_patches
        elif kind == "qformer":
            bridge = QFormerBridge(num_tokens, vision_width, width)
        elif kind == "instructblip":
            bridge = InstructQFormerBridge(num_tokens, vision_width, width, len(tokenizer), tokenizer.pad_token_id)
        else:
            bridge = ResamplerBridge(num_tokens, vision_width, width)
        model = PrefixVLM(bridge, lm, tokenizer.image_token_id, num_tokens)
    return train_language_model(model) if train_lm else model


def train_language_model(model: PrefixVLM | CrossAttentionVLM) -> PrefixVLM | CrossAttentionVLM:
    """Make the LM's own weights trainable too (embeddings, layers, norm; the head is tied), as LLaVA's stage 2
    does; IDEFICS' vision tower stays frozen (the features are cached). Returns model."""
    if isinstance(model, CrossAttentionVLM):
        for part in (model.model.model.embed_tokens, model.model.model.layers, model.model.model.norm):
            part.requires_grad_(True)
    else:
        model.lm.requires_grad_(True)
    return model


def reads_instruction(model: nn.Module) -> bool:
    """True when the model's bridge takes the question too (InstructBLIP)."""
    return bool(getattr(getattr(model, "bridge", None), "reads_instruction", False))


def instruction_inputs(tokenizer: PreTrainedTokenizerFast, questions: Sequence[str]) -> dict[str, torch.Tensor]:
    """instruction_ids and instruction_mask (B, L), right-padded: the questions as the Q-Former reads them."""
    rows = [encode(tokenizer, q, add_special_tokens=False) for q in questions]
    width = max(len(r) for r in rows)
    return {"instruction_ids": torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows]),
            "instruction_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])}


def trainable_parameters(model: nn.Module) -> int:
    """Parameters with requires_grad (the bridge, or IDEFICS' gated layers); tied weights counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


# ---- training -------------------------------------------------------------------------------------


def bridge_batch(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    pool: FeaturePool,
    indices: Sequence[int],
    turns: Sequence[int] | None = None,
) -> dict[str, torch.Tensor]:
    """Conversations of the pool rows `indices` with the model's number of <image> slots, plus their features;
    with `turns`, only turn turns[j] of row j (one question per image, and it is the bridge's instruction)."""
    conversations = [pool.conversations[i] for i in indices]
    if turns is not None:
        conversations = [[c[t]] for c, t in zip(conversations, turns)]
    elif reads_instruction(model):
        raise ValueError("a bridge that reads the question trains on one question per image: pass turns")
    batch = conversation_batch(tokenizer, conversations, model.num_image_tokens)
    batch["features"] = pool.features[list(indices)]
    if reads_instruction(model):
        batch.update(instruction_inputs(tokenizer, [c[0][0] for c in conversations]))
    return batch


@torch.no_grad()
def slot_targets(head: AttributeHead, tokens: torch.Tensor, objects: torch.Tensor) -> torch.Tensor:
    """(B, K, 3) targets that make a pooling bridge's K tokens (B, K, D) object slots: each object of `objects`
    (B, M, 3: colour, shape, cell; -1 where absent) goes to its own token, the one-to-one assignment under which
    the head finds the objects most likely (DETR's Hungarian matching, scipy's linear_sum_assignment); every
    other token gets the background classes. Taught in notebook 06, section 7."""
    require_array("tokens", tokens, ndim=3, dtype="f")
    require_array("objects", objects, ndim=3)
    if objects.shape[0] != tokens.shape[0] or objects.shape[2] != 3:
        raise ValueError(f"objects must be (B, M, 3) for tokens {tuple(tokens.shape)}, got {tuple(objects.shape)}")
    most = int((objects[..., 0] >= 0).sum(1).max())
    if most > tokens.shape[1]:
        raise ValueError(f"a scene has {most} objects but the bridge gives {tokens.shape[1]} tokens: one token per "
                         f"object is needed; use num_tokens >= {most} or slot_loss=0")
    logp = head.log_probs(tokens)
    targets = torch.tensor([size - 1 for size in head.sizes]).repeat(*tokens.shape[:2], 1)
    for i in range(len(tokens)):
        present = objects[i][objects[i, :, 0] >= 0]  # (n, 3)
        cost = -sum(logp[j][i][:, present[:, j]] for j in range(3))  # (K, n)
        rows, cols = linear_sum_assignment(cost.numpy())
        targets[i, torch.as_tensor(rows)] = present[torch.as_tensor(cols)]
    return targets


def slot_stage_batch(
    model: nn.Module, tokenizer: PreTrainedTokenizerFast, pool: FeaturePool, indices: Sequence[int], seed: int
) -> dict[str, torch.Tensor]:
    """A slot-stage batch (no LM): the features and objects of pool rows `indices`; for a bridge that reads the
    question (InstructBLIP), one of each row's questions, drawn with `seed`, as its instruction."""
    batch = {"features": pool.features[list(indices)], "objects": pool.objects[list(indices)]}
    if reads_instruction(model):
        rng = np.random.default_rng(seed)
        turns = [pool.conversations[i][int(rng.integers(len(pool.conversations[i])))] for i in indices]
        batch.update(instruction_inputs(tokenizer, [question for question, _ in turns]))
    return batch


def train_bridge(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    pool: FeaturePool,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    progress: bool = True,
    desc: str = "bridge",
    after_step: Callable[[nn.Module], None] | None = None,
    one_turn: bool = False,
    slot_loss: float = 0.0,
    slot_steps: int = 0,
) -> TrainResult:
    """Train what is trainable (the bridge, and the LM if train_language_model) with course_lib.training.train
    on batches drawn from the pool (rows of step s: a permutation seeded by training.step_seed(seed, s));
    one_turn: each row keeps one of its questions, drawn with the same seed (required by InstructBLIP);
    slot_loss: weight of an auxiliary AttributeHead loss (seeded by `seed`, dropped after training) on a pooling
    bridge's tokens with slot_targets (0: none); slot_steps: a first stage of that many steps in which the bridge
    and the head train on the slot loss alone, without the LM (BLIP-2 also trains its Q-Former before connecting
    the LLM; notebook 06, section 7). Returns the result of the answer stage; its seconds include both stages."""
    batch_size = require_int("batch_size", batch_size, low=1, high=len(pool))
    slot_loss = require_finite("slot_loss", slot_loss)
    slot_steps = require_int("slot_steps", slot_steps, low=0)
    if slot_loss < 0:
        raise ValueError(f"slot_loss must be a weight >= 0 (0: no auxiliary loss), got {slot_loss}")
    if slot_loss and not isinstance(getattr(model, "bridge", None), (QFormerBridge, ResamplerBridge)):
        raise ValueError(f"slot_loss applies to a bridge of K learned queries ({', '.join(POOLING_KINDS)}), got "
                         f"{type(getattr(model, 'bridge', model)).__name__}; pass slot_loss=0 for this model")
    if slot_steps and not slot_loss:
        raise ValueError(f"slot_steps={slot_steps} trains the slot loss alone first, so it needs slot_loss > 0; "
                         f"pass slot_steps=0 or a slot_loss weight")

    def rows_of(step: int) -> tuple[np.random.Generator, list[int]]:
        rng = np.random.default_rng(step_seed(seed, step))
        return rng, rng.choice(len(pool), batch_size, replace=False).tolist()

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        rng, rows = rows_of(step)
        turns = [int(rng.integers(len(pool.conversations[i]))) for i in rows] if one_turn else None
        batch = bridge_batch(model, tokenizer, pool, rows, turns)
        if slot_loss:
            batch["objects"] = pool.objects[rows]
        return batch

    common = dict(lr=lr, progress=progress)
    if not slot_loss:
        return train(model, batch_fn, lm_loss, steps=steps, desc=desc, after_step=after_step, **common)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = AttributeHead(model.lm.config.hidden_size)
    tokens: list[torch.Tensor] = []
    hook = model.bridge.register_forward_hook(lambda module, args, out: tokens.append(out))

    def head_loss(head: AttributeHead, objects: torch.Tensor) -> torch.Tensor:
        return head.loss(tokens[-1], slot_targets(head, tokens[-1], objects))

    def slot_stage_loss(pair: nn.ModuleDict, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens.clear()
        pair["bridge"](batch["features"], *(batch[k] for k in ("instruction_ids", "instruction_mask") if k in batch))
        return head_loss(pair["head"], batch["objects"])

    def loss_fn(pair: nn.ModuleDict, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        objects = batch.pop("objects")
        tokens.clear()
        return lm_loss(pair["model"], batch) + slot_loss * head_loss(pair["head"], objects)

    try:  # the pairs train together; only the model is kept
        seconds = 0.0
        if slot_steps:  # stage 1: the bridge learns object slots before it meets the LM
            def slot_batch_fn(step: int) -> dict[str, torch.Tensor]:
                return slot_stage_batch(model, tokenizer, pool, rows_of(step)[1], step_seed(seed, step))

            seconds = train(nn.ModuleDict({"bridge": model.bridge, "head": head}), slot_batch_fn, slot_stage_loss,
                            steps=slot_steps, desc=f"{desc}: slots", **common).seconds
        result = train(nn.ModuleDict({"model": model, "head": head}), batch_fn, loss_fn, steps=steps, desc=desc,
                       after_step=None if after_step is None else (lambda pair: after_step(pair["model"])), **common)
        result.seconds += seconds
        return result
    finally:
        hook.remove()


# ---- answers and evaluation ---------------------------------------------------------------------------


def prompt_ids(tokenizer: PreTrainedTokenizerFast, question: str, num_image_tokens: int) -> list[int]:
    """<bos>, `num_image_tokens` <image> slots, the question (no <eos>): the prompt the model answers."""
    return (
        [tokenizer.bos_token_id]
        + [tokenizer.image_token_id] * num_image_tokens
        + encode(tokenizer, question, add_special_tokens=False)
    )


def greedy_answers(
    tokenizer: PreTrainedTokenizerFast,
    prompts: Sequence[list[int]],
    next_logits: Callable[[torch.Tensor, list[int]], torch.Tensor],
    max_new_tokens: int = 4,
    batch_size: int = 250,
) -> list[str]:
    """Greedy answers to token-id `prompts`: next_logits(ids (B, T), prompt indices) -> (B, V), the logits of
    the next token. Prompts of equal length run together, so no padding is needed; decoding stops at <eos>."""
    answers: list[str] = [""] * len(prompts)
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    for rows in by_length.values():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ids = torch.tensor([prompts[i] for i in chunk])
            for _ in range(max_new_tokens):
                ids = torch.cat([ids, next_logits(ids, chunk).argmax(-1, keepdim=True)], dim=1)
            for i, row in zip(chunk, ids[:, -max_new_tokens:].tolist()):
                row = row[: row.index(tokenizer.eos_token_id)] if tokenizer.eos_token_id in row else row
                answers[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
    return answers


def require_one_per_row(rows: int, questions: Sequence[str], what: str) -> None:
    """Refuse anything but one question per row (`what` names the rows)."""
    if isinstance(questions, str) or len(questions) != rows:
        raise ValueError(f"need one question per {what}: {rows} {what}s, got "
                         f"{'a string' if isinstance(questions, str) else len(questions)} questions")


@torch.no_grad()
def answer_questions(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    features: torch.Tensor,
    questions: Sequence[str],
    *,
    max_new_tokens: int = 4,
    batch_size: int = 250,
) -> list[str]:
    """Greedy answers (greedy_answers), one question per feature row (B, N, Dv)."""
    require_one_per_row(len(features), questions, "feature row")
    model.eval()

    def next_logits(ids: torch.Tensor, rows: list[int]) -> torch.Tensor:
        extra = instruction_inputs(tokenizer, [questions[i] for i in rows]) if reads_instruction(model) else {}
        return model(features=features[rows], input_ids=ids, **extra).logits[:, -1]

    prompts = [prompt_ids(tokenizer, q, model.num_image_tokens) for q in questions]
    return greedy_answers(tokenizer, prompts, next_logits, max_new_tokens, batch_size)


@torch.no_grad()
def caption_answers(
    lm: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, captions: Sequence[str], questions: Sequence[str]
) -> list[str]:
    """The LM alone answering each question after a text of its scene ("<bos> caption question"; a caption, a
    full description, or "" for none): what a prefix bridge whose tokens read exactly as that text could get
    from a frozen LM (notebook 06, section 7)."""
    require_one_per_row(len(captions), questions, "caption")
    lm.eval()
    prompts = [[tokenizer.bos_token_id] + encode(tokenizer, f"{c} {q}", add_special_tokens=False)
               for c, q in zip(captions, questions)]
    return greedy_answers(tokenizer, prompts, lambda ids, rows: lm(input_ids=ids).logits[:, -1])


def evaluate_bridge(
    model: nn.Module, tokenizer: PreTrainedTokenizerFast, scene_features: torch.Tensor, qa: Sequence[QA]
) -> dict[str, float]:
    """vqa_metrics (exact match per question type, overall, yes-rate on absent objects) on questions `qa`,
    given the features of their scenes (scene_features[q.scene])."""
    answers = answer_questions(model, tokenizer, scene_features[[q.scene for q in qa]], [q.question for q in qa])
    return vqa_metrics(qa, answers)


# ---- where instruction-aware queries look ----------------------------------------------------------------


@torch.no_grad()
def query_maps(
    model: PrefixVLM, tokenizer: PreTrainedTokenizerFast, features: torch.Tensor, questions: Sequence[str]
) -> torch.Tensor:
    """Last-layer cross-attention of an instruction-aware bridge's K queries over the N patches, heads averaged:
    (B, K, N), one question per feature row. Switches the bridge to eager attention (SDPA returns no maps)."""
    if not reads_instruction(model):
        raise ValueError("query_maps needs a bridge that reads the question (kind='instructblip')")
    require_one_per_row(len(features), questions, "feature row")
    bridge = eager(model.bridge)
    extra = instruction_inputs(tokenizer, questions)
    _, out = bridge.query_outputs(features, extra["instruction_ids"], extra["instruction_mask"], output_attentions=True)
    return out.cross_attentions[-1].mean(1)


def named_object_share(
    model: PrefixVLM, tokenizer: PreTrainedTokenizerFast, scenes: Scenes, features: torch.Tensor
) -> dict[str, float]:
    """Does the question steer the queries? On the scenes with 2-3 objects of different shapes, ask
    "what color is the <shape> ?" about each object; `named`: the queries' mean attention share on the named
    object's cell (cell_patches); `other`: on another object's cell under the same question (mean over the
    others); `uniform`: a cell's share under uniform attention; `questions`: how many questions were asked."""
    grid = int(round(features.shape[1] ** 0.5))
    named, other = [], []
    for k in range(3):
        rows = [i for i in range(len(scenes)) if scenes.n_objects[i] > max(k, 1)
                and len(set(scenes.shapes[i, : scenes.n_objects[i]])) == scenes.n_objects[i]]
        if not rows:
            continue
        asked = [f"what color is the {SHAPES[scenes.shapes[i, k]]} ?" for i in rows]
        maps = query_maps(model, tokenizer, features[rows], asked).mean(1)  # (S, N): queries averaged
        for j, i in enumerate(rows):
            named.append(float(maps[j, cell_patches(int(scenes.cells[i, k]), grid)].sum()))
            others = [o for o in range(scenes.n_objects[i]) if o != k]
            other.append(float(np.mean([maps[j, cell_patches(int(scenes.cells[i, o]), grid)].sum() for o in others])))
    if not named:
        raise ValueError("scenes holds no scene with 2-3 objects of different shapes")
    return {"named": float(np.mean(named)), "other": float(np.mean(other)), "uniform": (grid // 3) ** 2 / grid**2,
            "questions": len(named)}


def example_maps(
    model: PrefixVLM, tokenizer: PreTrainedTokenizerFast, scenes: Scenes, features: torch.Tensor
) -> dict[str, Any]:
    """query_maps for the first scene with two objects of different shapes, asked the colour of each:
    {"scene": index, "questions": [2], "maps": (2, K, N) as nested lists rounded to 4 decimals}."""
    scene = next((i for i in range(len(scenes)) if scenes.n_objects[i] == 2
                  and scenes.shapes[i, 0] != scenes.shapes[i, 1]), None)
    if scene is None:
        raise ValueError("scenes holds no two-object scene with two different shapes")
    asked = [f"what color is the {SHAPES[scenes.shapes[scene, k]]} ?" for k in (0, 1)]
    maps = query_maps(model, tokenizer, features[[scene, scene]], asked)
    return {"scene": scene, "questions": asked, "maps": [[[round(float(x), 4) for x in q] for q in m] for m in maps]}


# ---- costs ------------------------------------------------------------------------------------------


def lm_prefill_flops(config: Any, tokens: int) -> int:
    """Matmul FLOPs of a Llama-style LM's prefill over `tokens` positions (logits at every position):
    2 x (linear parameters, LM head included, embeddings excluded) x tokens + 4 x layers x tokens^2 x width
    (scores QK^T and the weighted sum AV over all T x T pairs, as eager attention computes them)."""
    t = require_int("tokens", tokens, low=1)
    d, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    head_dim = getattr(config, "head_dim", None) or d // config.num_attention_heads
    kv = (getattr(config, "num_key_value_heads", None) or config.num_attention_heads) * head_dim
    per_layer = 2 * d * d + 2 * d * kv + 3 * d * inter
    return 2 * t * (layers * per_layer + d * config.vocab_size) + 4 * layers * t * t * d


def count_flops(fn: Callable[[], Any]) -> int:
    """Total FLOPs torch's FlopCounterMode counts while fn() runs (matmuls; SDPA is not counted on CPU, so
    models must run with attn_implementation='eager')."""
    counter = FlopCounterMode(display=False)
    with counter:  # not under no_grad: the counter's module tracker then fails on expanded parameters
        fn()
    return counter.get_total_flops()


def eager(model: nn.Module) -> nn.Module:
    """Switch every transformers sub-model to eager attention (what FlopCounterMode can count); returns model."""
    for module in model.modules():
        if hasattr(module, "set_attn_implementation") and hasattr(module, "config"):
            module.set_attn_implementation("eager")
    return model


def prefill_inputs(
    model: nn.Module, tokenizer: PreTrainedTokenizerFast, features: torch.Tensor, question: str
) -> dict[str, torch.Tensor]:
    """One prompt per feature row, all with `question`: the inputs of a prefill."""
    ids = torch.tensor([prompt_ids(tokenizer, question, model.num_image_tokens)] * len(features))
    extra = instruction_inputs(tokenizer, [question] * len(features)) if reads_instruction(model) else {}
    return {"features": features, "input_ids": ids, **extra}


def prefill_seconds(model: nn.Module, inputs: dict[str, torch.Tensor], repeats: int = 5) -> float:
    """Median wall time of one no-grad forward over `inputs` (after one warm-up run)."""
    model.eval()
    times = []
    with torch.no_grad():
        for _ in range(require_int("repeats", repeats, low=1) + 1):
            start = time.perf_counter()
            model(**inputs)
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def kv_cache_bytes_of(
    model: nn.Module, prompt_tokens: int, lm_config: Any, n_patches: int, bytes_per_element: int = 4
) -> int:
    """KV-cache bytes for one prompt: the LM's self-attention cache over its sequence (visual tokens included)
    with the tiny LM's grouped KV heads, plus, for gated cross-attention, the keys and values of the image
    features in each gated layer (computed once per image and kept)."""
    total = config_kv_bytes(lm_config, prompt_tokens, bytes_per_element=bytes_per_element)
    if isinstance(model, CrossAttentionVLM):
        layers = len(model.model.model.gated_cross_attn_layers)
        total += 2 * layers * lm_config.hidden_size * n_patches * bytes_per_element
    return int(total)


def gate_history_hook(history: list[dict[str, float]], every: int = 25) -> Callable[[nn.Module], None]:
    """An after_step hook for train(): record the IDEFICS gates (tanh alpha) every `every` steps."""
    step = {"n": 0}

    def hook(model: nn.Module) -> None:
        if step["n"] % every == 0:
            history.append({"step": step["n"], **gates(model.model)})
        step["n"] += 1

    return hook


# ---- the designer's widget ---------------------------------------------------------------------------

# Real LM sizes for the widget: (parameters, width, layers, KV heads, head dim).
LM_SIZES: dict[str, tuple[float, int, int, int, int]] = {
    "7B (MHA: 32 KV heads)": (7e9, 4096, 32, 32, 128),
    "7B (GQA: 8 KV heads)": (7e9, 4096, 32, 8, 128),
    "70B (GQA: 8 KV heads)": (70e9, 8192, 80, 8, 128),
}


def prefill_flops_estimate(parameters: float, width: int, layers: int, tokens: int) -> float:
    """2 x parameters x tokens + 4 x layers x tokens^2 x width: lm_prefill_flops without the config details."""
    tokens = require_int("tokens", tokens, low=0)
    return 2 * float(parameters) * tokens + 4 * layers * tokens * tokens * width


def render_bridge_budget(
    queries: int = 32,
    image_size: int = 336,
    patch_size: int = 14,
    lm: str = "7B (GQA: 8 KV heads)",
    text_tokens: int = 32,
    tflops: float = 100.0,
    measured: dict[int, float] | None = None,
) -> str:
    """Patch tokens (LLaVA's MLP) vs K queries (Q-Former / resampler) vs none (cross-attention) for one image:
    visual tokens, LM prefill FLOPs and time at `tflops` TFLOP/s, KV-cache bytes (fp16), plus the measured
    tiny-task accuracy of the trained K values (`measured`: {K: overall exact match})."""
    from ..budgets import format_bytes, kv_cache_bytes, tokens_per_image

    queries = require_int("queries", queries, low=1)
    require_choice("lm", lm, list(LM_SIZES))
    params, width, layers, kv_heads, head_dim = LM_SIZES[lm]
    patches = tokens_per_image(image_size, patch_size)
    head = f"image {image_size} px, patch {patch_size} px -> {patches} patch features; LM {lm}; "
    head += f"{text_tokens} text tokens; "
    lines = [head + f"time at {tflops:g} TFLOP/s"]
    for name, visual in (
        ("MLP projector (every patch)", patches),
        (f"Q-Former / resampler, K={queries}", queries),
        ("gated cross-attention", 0),
    ):
        t = visual + text_tokens
        flops = prefill_flops_estimate(params, width, layers, t)
        kv = kv_cache_bytes(t, layers=layers, kv_heads=kv_heads, head_dim=head_dim, bytes_per_element=2)
        lines.append(
            f"{name:<32} {visual:>6} visual tokens  {flops / 1e12:>8.2f} TFLOPs  "
            f"{1e3 * flops / (tflops * 1e12):>8.2f} ms"
            f"  KV {format_bytes(kv)}"
        )
    lines.append(
        "(cross-attention adds its own FLOPs and cached image keys/values in the gated layers; not counted here)"
    )
    if measured:
        lines.append(
            "tiny task, measured exact match: " + ", ".join(f"K={k}: {v:.3f}" for k, v in sorted(measured.items()))
        )
    return "\n".join(lines)
