"""Tiny LLaVA on Shapes World: the tiny CLIP's vision tower (frozen) -> a projector -> the tiny LM.

Pieces, in the order notebook 05 builds them:
- the processor (LlavaProcessor over the course tokenizer and a torchvision-free image processor)
  and the same <image> expansion from scratch;
- the projector from scratch (linear or linear-GELU-linear), equal to LlavaMultiModalProjector;
- the LlavaForConditionalGeneration builder from the shipped tiny CLIP and tiny LM;
- two-stage training through course_lib.training.train: stage 1 trains the projector on captions,
  stage 2 the projector and the LM on multi-turn conversations about each image (loss on the answers
  and their <eos> only); a blind baseline trains the same way with the image withheld;
- generation with generate(), exact-match evaluation per question type, hallucination yes-rate.

Taught in notebook 05, sections 2-7 (the visual-token count is budgets.tokens_per_image, section 4).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch import nn
from transformers import (
    CLIPModel,
    CLIPVisionConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from ..base.paths import data_path
from ..base.seeding import seed_everything
from ..base.validation import (
    describe,
    require_array,
    require_budget,
    require_choice,
    require_finite,
    require_instance,
    require_int,
    require_model,
    require_sequence,
    require_str,
    require_str_list,
    require_tokenizer,
    short_repr,
)
from ..budgets import tokens_per_image
from ..patches import num_patches
from ..shapes_world import (
    COLORS,
    MAX_SCENES,
    POSITIONS,
    QA,
    QUESTION_FORMS,
    QUESTION_TYPES,
    SHAPES,
    Scenes,
    cell_patches,
    generate_scenes,
    make_captions,
    make_vqa,
    require_scenes,
    true_answer,
)
from ..tokenizer import IMAGE, encode, require_known_words, unknown_words, unknown_words_message
from ..training import TrainResult, step_seed, train
from .causal_lm import lm_loss
from .dual_encoder import image_processor, to_pixel_values
from .shipped import load_shipped

N_CELLS = 9  # Shapes World's 3 x 3 grid of cells
TINY_LLAVA = "tiny_llava"  # data/tiny_llava: the shipped checkpoint
BLIND = "blind"  # data/tiny_llava/blind: its blind baseline
FEATURE_LAYER = -2  # LLaVA takes the vision tower's second-to-last hidden states
STRATEGY = "default"  # ... and drops the class token
PROJECTORS: tuple[str, ...] = ("mlp", "linear")
# the longest answer and its <eos>: "red circle and green cross and blue square is blue" (objects_first)
ANSWER_TOKENS = 11


# ---- processor and the <image> expansion ----------------------------------------------------


def build_processor(tokenizer: PreTrainedTokenizerFast, image_size: int = 48, patch_size: int = 8) -> LlavaProcessor:
    """LlavaProcessor over the course tokenizer (<image> is its special token) and a CLIPImageProcessorPil
    with the course's normalisation; a CLIP tower has a class token, hence num_additional_image_tokens=1."""
    require_tokenizer("tokenizer", tokenizer)
    num_patches(image_size, patch_size)  # validates the sizes
    return LlavaProcessor(
        image_processor=image_processor(image_size),
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy=STRATEGY,
        num_additional_image_tokens=1,
    )


def expand_image_token(text: str, n_tokens: int) -> str:
    """The processor's text step from scratch: each <image> becomes `n_tokens` copies of itself."""
    require_str("text", text, allow_empty=True)
    n_tokens = require_int("n_tokens", n_tokens, low=1)
    require_budget("n_tokens", 4 * len(IMAGE) * n_tokens * max(text.count(IMAGE), 1), f"expanding {IMAGE}")
    return text.replace(IMAGE, IMAGE * n_tokens)


# ---- projector --------------------------------------------------------------------------------


class Projector(nn.Module):
    """Vision features (B, N, Dv) -> LM embeddings (B, N, Dt): linear_1, then (kind "mlp") GELU and linear_2.

    Parameter names match LlavaMultiModalProjector, so state dicts load both ways.
    """

    def __init__(self, vision_dim: int, text_dim: int, kind: str = "mlp") -> None:
        super().__init__()
        self.kind = require_choice("kind", kind, PROJECTORS)
        self.linear_1 = nn.Linear(
            require_int("vision_dim", vision_dim, low=1), require_int("text_dim", text_dim, low=1)
        )
        self.linear_2 = nn.Linear(text_dim, text_dim) if kind == "mlp" else None

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        require_array("features", features, ndim=(2, 3), dtype="f")
        if features.shape[-1] != self.linear_1.in_features:
            raise ValueError(
                f"features must end in {self.linear_1.in_features} channels, got shape {tuple(features.shape)}"
            )
        hidden = self.linear_1(features)
        if self.linear_2 is None:
            return hidden
        return self.linear_2(nn.functional.gelu(hidden))


# ---- the model ----------------------------------------------------------------------------------


def tiny_llava_config(vision_config: CLIPVisionConfig, text_config: Any, image_token_id: int) -> LlavaConfig:
    """LlavaConfig for a CLIP vision tower and a Llama LM: feature layer -2, class token dropped,
    GELU MLP projector, image_seq_length = (S/P)^2."""
    require_instance("vision_config", vision_config, CLIPVisionConfig, "a CLIPVisionConfig",
                     "pass clip.config.vision_config, not the full CLIP config")
    if not hasattr(text_config, "to_dict") or not hasattr(text_config, "tie_word_embeddings"):
        raise TypeError(f"text_config must be a language model's config (e.g. lm.config), got {describe(text_config)}")
    n = tokens_per_image(vision_config.image_size, vision_config.patch_size, strategy=STRATEGY)
    return LlavaConfig(
        vision_config=vision_config.to_dict(),
        text_config=text_config.to_dict(),
        image_token_id=require_int("image_token_id", image_token_id, low=0),
        vision_feature_layer=FEATURE_LAYER,
        vision_feature_select_strategy=STRATEGY,
        projector_hidden_act="gelu",
        image_seq_length=n,
        tie_word_embeddings=text_config.tie_word_embeddings,
    )


def build_tiny_llava(
    vision: CLIPModel | CLIPVisionConfig, lm: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, seed: int = 0
) -> LlavaForConditionalGeneration:
    """LlavaForConditionalGeneration with the vision tower copied from a trained CLIPModel `vision` (or, given a
    CLIPVisionConfig, a random tower of exactly that config), the LM copied from `lm` and a fresh seeded
    projector; the tower is frozen. Seeds only: the torch thread count is left as it is."""
    if not isinstance(vision, (CLIPModel, CLIPVisionConfig)):
        raise TypeError(
            f"vision must be a trained CLIPModel (e.g. load_tiny_clip()[0]) or a CLIPVisionConfig, "
            f"got {type(vision).__name__}"
        )
    require_model("lm", lm, "LlamaForCausalLM", "pass the tiny LM from load_tiny_lm()[0]")
    require_tokenizer("tokenizer", tokenizer)
    seed_everything(seed, threads=None)
    clip = vision if isinstance(vision, CLIPModel) else None
    vision_config = clip.config.vision_config if clip is not None else vision
    model = LlavaForConditionalGeneration(tiny_llava_config(vision_config, lm.config, tokenizer.image_token_id))
    if clip is not None:
        model.model.vision_tower.load_state_dict(clip.vision_model.state_dict())
    model.model.language_model.load_state_dict(lm.model.state_dict())
    model.lm_head.load_state_dict(lm.lm_head.state_dict())
    set_stage(model, 1)
    return model.eval()


def require_llava(name: str, model: Any) -> None:
    """Raise TypeError unless `model` is a LlavaForConditionalGeneration."""
    require_model(name, model, "LlavaForConditionalGeneration", "pass the tiny LLaVA (load_tiny_llava()[0])")


def set_stage(model: LlavaForConditionalGeneration, stage: int) -> list[nn.Parameter]:
    """Freeze and unfreeze for a training stage; return the trainable parameters.

    The vision tower is always frozen; stage 1 trains the projector only; stage 2 the projector and the LM.
    """
    require_llava("model", model)
    require_choice("stage", stage, (1, 2))
    model.model.vision_tower.requires_grad_(False)
    model.model.multi_modal_projector.requires_grad_(True)
    model.model.language_model.requires_grad_(stage == 2)
    model.lm_head.requires_grad_(stage == 2)
    return [p for p in model.parameters() if p.requires_grad]


def count_parameters(model: LlavaForConditionalGeneration) -> dict[str, tuple[int, int]]:
    """(total, trainable) parameters of the vision tower, projector and LM (embeddings tied to the head)."""
    require_llava("model", model)
    parts = {
        "vision tower": model.model.vision_tower,
        "projector": model.model.multi_modal_projector,
        "language model": model.model.language_model,
    }
    return {
        k: (sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.parameters() if p.requires_grad))
        for k, m in parts.items()
    }


# ---- batches ------------------------------------------------------------------------------------

Turn = tuple[str, str]  # (prompt, answer): one exchange of a conversation about an image


def llava_batch(
    tokenizer: PreTrainedTokenizerFast,
    images: np.ndarray | None,
    conversations: Sequence[Sequence[Turn]],
    n_image_tokens: int = 36,
) -> dict[str, torch.Tensor]:
    """Training batch, one row per conversation: "<bos> <image>xN prompt1 answer1 <eos> prompt2 answer2 <eos> ...",
    right-padded (LLaVA's multi-turn format: every answer ends with <eos>). Labels are -100 everywhere but
    the answers and their <eos>. images: (B, S, S, 3) uint8, or None for a blind batch (no <image>)."""
    require_tokenizer("tokenizer", tokenizer)
    if isinstance(conversations, str) or len(conversations) == 0:
        raise ValueError("conversations must be a non-empty list, one list of (prompt, answer) turns per image")
    if images is not None:
        require_array("images", images, ndim=4, dtype="uint8", shape=(len(conversations), None, None, 3))
    batch = conversation_batch(tokenizer, conversations, 0 if images is None else n_image_tokens)
    if images is not None:
        batch["pixel_values"] = to_pixel_values(images)
    return batch


def conversation_batch(tokenizer: PreTrainedTokenizerFast, conversations: Sequence[Sequence[Turn]],
                       n_image_tokens: int) -> dict[str, torch.Tensor]:
    """The token side of llava_batch: input_ids, attention_mask, labels (B, T) with `n_image_tokens` <image>
    copies after <bos> (0: none). Notebook 06's bridges fill those slots from cached image features."""
    if isinstance(conversations, str) or len(conversations) == 0:
        raise ValueError("conversations must be a non-empty list, one list of (prompt, answer) turns per image")
    n = require_int("n_image_tokens", n_image_tokens, low=0)
    rows, labels = [], []
    for turns in conversations:
        if len(turns) == 0 or any(
            not (isinstance(t, tuple) and len(t) == 2 and all(isinstance(x, str) for x in t)) for t in turns
        ):
            raise ValueError(
                f"each conversation must be a non-empty list of (prompt, answer) string pairs, got {turns!r}"
            )
        ids = [tokenizer.bos_token_id] + [tokenizer.image_token_id] * n
        row_labels = [-100] * len(ids)
        for prompt, answer in turns:
            if not answer.strip():
                raise ValueError(f"empty answer to {prompt!r}")
            prompt_ids = encode(tokenizer, prompt, add_special_tokens=False)  # raises on unknown words
            answer_ids = encode(tokenizer, answer, add_special_tokens=False) + [tokenizer.eos_token_id]
            ids += prompt_ids + answer_ids
            row_labels += [-100] * len(prompt_ids) + answer_ids
        rows.append(ids)
        labels.append(row_labels)
    width = max(len(r) for r in rows)
    batch = {
        "input_ids": torch.tensor([r + [tokenizer.pad_token_id] * (width - len(r)) for r in rows]),
        "attention_mask": torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows]),
        "labels": torch.tensor([r + [-100] * (width - len(r)) for r in labels]),
    }
    return batch


def caption_examples(n_scenes: int, seed: int) -> tuple[np.ndarray, list[list[Turn]]]:
    """(images, conversations) for captioning: seeded scenes of 1-3 objects, each one turn (empty prompt, caption)."""
    scenes = generate_scenes(
        require_int("n_scenes", n_scenes, low=1, high=MAX_SCENES), seed=seed, min_objects=1, max_objects=3, split="all"
    )
    return scenes.images, [[("", caption)] for caption in make_captions(scenes, seed=seed)]


def vqa_scenes(n_scenes: int, seed: int) -> Scenes:
    """The seeded scenes (1-3 objects, any composition) of the VQA conversations (vqa_conversations)."""
    return generate_scenes(
        require_int("n_scenes", n_scenes, low=1, high=MAX_SCENES), seed=seed, min_objects=1, max_objects=3, split="all"
    )


def vqa_conversations(scenes: Scenes, seed: int, turns: int = len(QUESTION_TYPES),
                      cells_first: bool = False, objects_first: bool = False) -> list[list[Turn]]:
    """One conversation per scene: `turns` of make_vqa's questions about it, in a seeded random order;
    cells_first: relation answers name both objects' cells first (relation_steps); objects_first: colour
    answers list the scene's objects by colour first (colour_steps)."""
    turns = require_int("turns", turns, low=1, high=len(QUESTION_TYPES))
    require_instance("cells_first", cells_first, bool, "True or False")
    require_instance("objects_first", objects_first, bool, "True or False")

    def answer(qa: QA) -> str:
        if cells_first and qa.kind == "relation":
            return relation_steps(scenes, qa)
        return colour_steps(scenes, qa) if objects_first and qa.kind == "color" else qa.answer

    by_scene: dict[int, list[QA]] = {}
    for q in make_vqa(scenes, seed=seed):
        by_scene.setdefault(q.scene, []).append(q)
    rng = np.random.default_rng(seed)
    conversations = []
    for i in range(len(scenes)):
        order = rng.permutation(len(by_scene[i]))[:turns]
        conversations.append([(by_scene[i][j].question, answer(by_scene[i][j])) for j in order])
    return conversations


def relation_steps(scenes: Scenes, qa: QA) -> str:
    """qa's answer with its steps written out when it is a relation: the first object's cell, the second's, then
    the relation ("bottom left and center is left"); any other answer as it is. The recipe's `cells_first`
    answer format, a short chain of thought; final_answer reads the relation back. Taught in notebook 05, section 7."""
    require_scenes("scenes", scenes)
    require_instance("qa", qa, QA, "a QA item from make_vqa() or eval_set()")
    if qa.kind != "relation":
        return qa.answer
    i, slots = qa.scene, QUESTION_FORMS["relation"].fullmatch(qa.question)
    names = [] if not 0 <= i < len(scenes) else [
        (COLORS[scenes.colors[i, k]], SHAPES[scenes.shapes[i, k]]) for k in range(int(scenes.n_objects[i]))]
    if slots is None or not {(slots["c"], slots["s"]), (slots["c2"], slots["s2"])} <= set(names):
        raise ValueError(f"qa must be a relation question of make_vqa about scene {i} of these {len(scenes)} scenes, "
                         f"got {qa.question!r}; pass the scenes that make_vqa asked about")
    first, second = (POSITIONS[scenes.cells[i, names.index((slots[c], slots[s]))]]
                     for c, s in (("c", "s"), ("c2", "s2")))
    return f"{first} and {second} is {qa.answer}"


def colour_steps(scenes: Scenes, qa: QA) -> str:
    """qa's answer with its steps written out when it is a colour question: every object of the scene by colour
    and shape, in palette order (COLORS), then the asked one's colour ("red diamond and orange triangle is
    orange"); any other answer as it is. The recipe's `objects_first` answer format: each listed object is a
    look-up by colour (which the model does well); the answer is then in the text. Taught in notebook 05, section 7."""
    require_scenes("scenes", scenes)
    require_instance("qa", qa, QA, "a QA item from make_vqa() or eval_set()")
    if qa.kind != "color":
        return qa.answer
    i, slots = qa.scene, QUESTION_FORMS["color"].fullmatch(qa.question)
    n = int(scenes.n_objects[i]) if 0 <= i < len(scenes) else 0
    order = sorted(range(n), key=lambda k: int(scenes.colors[i, k]))
    names = [(COLORS[scenes.colors[i, k]], SHAPES[scenes.shapes[i, k]]) for k in order]
    if slots is None or (qa.answer, slots["s"]) not in names:
        raise ValueError(f"qa must be a colour question of make_vqa about scene {i} of these {len(scenes)} scenes, "
                         f"got {qa.question!r} (answer {qa.answer!r}); pass the scenes that make_vqa asked about")
    return " and ".join(f"{c} {s}" for c, s in names) + f" is {qa.answer}"


def final_answer(question: str, text: str) -> str:
    """The answer a generated text gives to `question`: for a relation or colour question its last word (a model
    trained with cells_first or objects_first writes its steps first: relation_steps, colour_steps), for any
    other the text itself."""
    question, text = require_str("question", question), require_str("text", text, allow_empty=True)  # may be empty
    asked = " ".join(question.lower().replace("?", " ?").split())
    stepped = any(QUESTION_FORMS[kind].fullmatch(asked) for kind in ("relation", "color"))
    return text.split()[-1] if stepped and text.split() else text


def patch_targets(scenes: Scenes, grid: int = 6) -> torch.Tensor:
    """(B, grid * grid, 3) long: per patch, the colour, shape and cell of the object whose cell holds it, or each
    one's background class (len(COLORS), len(SHAPES), 9): the targets of stage 2's auxiliary patch loss."""
    require_scenes("scenes", scenes)
    background = torch.tensor([len(COLORS), len(SHAPES), N_CELLS])
    out = background.repeat(len(scenes), grid * grid, 1)
    for i in range(len(scenes)):
        for k in range(int(scenes.n_objects[i])):
            cell = int(scenes.cells[i, k])
            out[i, cell_patches(cell, grid)] = torch.tensor([int(scenes.colors[i, k]), int(scenes.shapes[i, k]), cell])
    return out


class AttributeHead(nn.Module):
    """An auxiliary probe: a linear map from each visual token (B, N, D) to its object's colour, shape and cell,
    each with a background class. It trains beside the model and is then dropped, so the saved model keeps its
    own class. Taught in notebook 05, sections 6-7 (one token per patch, targets from patch_targets) and notebook
    06, section 7 (a pooling bridge's tokens as object slots, targets from bridges.slot_targets)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.sizes = (len(COLORS) + 1, len(SHAPES) + 1, N_CELLS + 1)
        self.linear = nn.Linear(require_int("width", width, low=1), sum(self.sizes))

    def log_probs(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Colour, shape and cell log-probabilities of each token: tokens (B, N, D) -> three (B, N, classes)."""
        return [z.log_softmax(-1) for z in self.linear(tokens).split(self.sizes, dim=-1)]

    def loss(self, tokens: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Sum of the three cross-entropies over every token: tokens (B * N, D) or (B, N, D), targets (B, N, 3)."""
        logp = self.log_probs(tokens.reshape(*targets.shape[:2], -1))
        return sum(F.nll_loss(z.reshape(-1, z.shape[-1]), targets[..., j].reshape(-1)) for j, z in enumerate(logp))


def caption_batch(
    tokenizer: PreTrainedTokenizerFast, batch_size: int, seed: int, n_image_tokens: int = 36
) -> dict[str, torch.Tensor]:
    """Stage-1 batch: seeded scenes (1-3 objects) and their captions as targets (empty prompt)."""
    batch_size = require_int("batch_size", batch_size, low=1, high=MAX_SCENES)
    return llava_batch(tokenizer, *caption_examples(batch_size, seed), n_image_tokens)


def vqa_batch(
    tokenizer: PreTrainedTokenizerFast,
    batch_size: int,
    seed: int,
    n_image_tokens: int = 36,
    blind: bool = False,
    turns: int = len(QUESTION_TYPES),
    targets: bool = False,
    cells_first: bool = False,
    objects_first: bool = False,
) -> dict[str, torch.Tensor]:
    """Stage-2 batch: one conversation of `turns` questions and answers per seeded scene (blind: no image);
    targets: also the scenes' patch_targets (B, 36, 3), for the auxiliary patch loss; cells_first: relation
    answers name both cells first (relation_steps); objects_first: colour answers list the objects first
    (colour_steps)."""
    scenes = vqa_scenes(require_int("batch_size", batch_size, low=1, high=MAX_SCENES), seed)
    batch = llava_batch(tokenizer, None if blind else scenes.images,
                        vqa_conversations(scenes, seed, turns, cells_first, objects_first), n_image_tokens)
    if targets:
        batch["patch_targets"] = patch_targets(scenes, grid=math.isqrt(n_image_tokens))
    return batch


def train_stage(model: LlavaForConditionalGeneration, tokenizer: PreTrainedTokenizerFast, stage: int, *, steps: int,
                batch_size: int = 64, lr: float = 3e-3, seed: int = 0, blind: bool = False,
                turns: int = len(QUESTION_TYPES), no_decay: str = "standard", patch_loss: float = 0.0,
                cells_first: bool = False, objects_first: bool = False, progress: bool = True,
                desc: str | None = None) -> TrainResult:
    """Run one stage with course_lib.training.train: 1 = projector on captions, 2 = projector + LM on
    conversations of `turns` questions per image (blind=True withholds the image); no_decay: the rule of
    training.no_decay_parameters; patch_loss: weight of the auxiliary loss of an AttributeHead (seeded by
    `seed`) on the projector's tokens, added in stage 2 (0: none); cells_first: stage 2's relation answers name
    both objects' cells first (relation_steps); objects_first: stage 2's colour answers list the scene's objects
    first (colour_steps). Batch of step s uses seed step_seed(seed, s) * 4 + stage."""
    params = set_stage(model, stage)
    require_tokenizer("tokenizer", tokenizer)
    batch_size = require_int("batch_size", batch_size, low=1, high=MAX_SCENES)
    seed, turns = require_int("seed", seed, low=0), require_int("turns", turns, low=1, high=len(QUESTION_TYPES))
    patch_loss = require_finite("patch_loss", patch_loss)
    if patch_loss < 0:
        raise ValueError(f"patch_loss must be a weight >= 0 (0: no auxiliary loss), got {patch_loss}")
    if patch_loss and (stage != 2 or blind):
        raise ValueError(f"patch_loss applies to stage 2 with the image (got stage={stage}, blind={blind}); "
                         f"pass patch_loss=0 here")
    n = model.config.image_seq_length
    if patch_loss and math.isqrt(n) ** 2 != n:
        raise ValueError(f"patch_loss needs one image token per patch (vision_feature_select_strategy 'default'), "
                         f"got image_seq_length {n}; pass patch_loss=0 for this model")

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        s = step_seed(seed, step) * 4 + stage
        return (
            caption_batch(tokenizer, batch_size, s, n)
            if stage == 1
            else vqa_batch(tokenizer, batch_size, s, n, blind, turns, targets=bool(patch_loss),
                           cells_first=cells_first, objects_first=objects_first)
        )

    desc = desc or f"stage {stage}" + (" (blind)" if blind else "")
    if not patch_loss:
        return train(model, batch_fn, lm_loss, steps=steps, lr=lr, params=params, no_decay=no_decay,
                     progress=progress, desc=desc)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        head = AttributeHead(model.config.text_config.hidden_size)
    tokens: list[torch.Tensor] = []
    hook = model.model.multi_modal_projector.register_forward_hook(lambda module, args, out: tokens.append(out))

    def loss_fn(pair: nn.ModuleDict, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        targets = batch.pop("patch_targets")
        tokens.clear()
        loss = lm_loss(pair["llava"], batch)
        return loss + patch_loss * pair["head"].loss(tokens[-1], targets)

    try:  # the pair trains together; only the LLaVA is kept
        return train(nn.ModuleDict({"llava": model, "head": head}), batch_fn, loss_fn, steps=steps, lr=lr,
                     params=params + list(head.parameters()), no_decay=no_decay, progress=progress, desc=desc)
    finally:
        hook.remove()


# ---- generation and evaluation ----------------------------------------------------------------------


@torch.no_grad()
def generate_answers(
    model: LlavaForConditionalGeneration,
    tokenizer: PreTrainedTokenizerFast,
    images: np.ndarray | None,
    questions: Sequence[str],
    *,
    max_new_tokens: int = ANSWER_TOKENS,
    batch_size: int = 250,
) -> list[str]:
    """Greedy generate() answers to one question per image (images None: blind, text only), left-padded."""
    require_llava("model", model)
    require_tokenizer("tokenizer", tokenizer)
    questions = require_str_list("questions", questions)
    for q in questions:
        require_known_words(tokenizer, q, "questions")
    batch_size = require_int("batch_size", batch_size, low=1)
    max_new_tokens = require_int("max_new_tokens", max_new_tokens, low=1, high=64)
    if images is not None:
        require_array("images", images, ndim=4, dtype="uint8")
        if len(images) != len(questions):
            raise ValueError(f"got {len(images)} images but {len(questions)} questions: pass one question per image")
        require_array("images", images, shape=(len(questions), None, None, 3))
        size = model.config.vision_config.image_size
        if images.shape[1:3] != (size, size):
            raise ValueError(
                f"images must be {size}x{size} for this vision tower, got {images.shape[1]}x{images.shape[2]}"
            )
    model.eval()
    head = "" if images is None else expand_image_token(IMAGE, model.config.image_seq_length) + " "
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    answers: list[str] = []
    try:
        for i in range(0, len(questions), batch_size):
            chunk = [f"{head}{q}" for q in questions[i : i + batch_size]]
            enc = tokenizer(chunk, padding=True, return_tensors="pt")
            ids, mask = enc["input_ids"][:, :-1], enc["attention_mask"][:, :-1]  # drop the trailing <eos>
            kwargs = {} if images is None else {"pixel_values": to_pixel_values(images[i : i + batch_size])}
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                **kwargs,
            )
            answers += [a.strip() for a in tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
    return answers


def eval_set(n_questions: int, seed: int) -> tuple[Scenes, list[QA]]:
    """Held-out scenes (1-3 objects) and the first `n_questions` of make_vqa over them (every type);
    the shipped metrics use 1,000 questions and recipes.SEEDS.llava_eval (never a training seed)."""
    n_questions = require_int("n_questions", n_questions, low=1, high=5 * MAX_SCENES)
    scenes = generate_scenes(n_questions // 5 + 1, seed=seed, min_objects=1, max_objects=3, split="all")
    return scenes, make_vqa(scenes, seed=seed)[:n_questions]


def vqa_metrics(qa: Sequence[QA], predictions: Sequence[str]) -> dict[str, float]:
    """Exact-match accuracy per question type and overall, and the hallucination yes-rate:
    the share of 'is there a ...' questions about absent objects answered 'yes'."""
    qa, predictions = require_sequence("qa", qa), require_str_list("predictions", predictions)
    if not all(isinstance(q, QA) for q in qa):
        raise TypeError(f"qa must be a list of QA items from make_vqa() or eval_set(), got {short_repr(qa)}")
    if len(qa) != len(predictions):
        raise ValueError(f"got {len(qa)} questions (qa) but {len(predictions)} predictions")
    right = np.array([p == q.answer for q, p in zip(qa, predictions)])
    kinds = np.array([q.kind for q in qa])
    metrics = {k: float(right[kinds == k].mean()) for k in QUESTION_TYPES if (kinds == k).any()}
    metrics["overall"] = float(right.mean())
    absent = [p for q, p in zip(qa, predictions) if q.kind == "exists" and q.answer == "no"]
    metrics["yes_rate_absent"] = float(np.mean([p == "yes" for p in absent])) if absent else float("nan")
    return metrics


def evaluate(
    model: LlavaForConditionalGeneration,
    tokenizer: PreTrainedTokenizerFast,
    scenes: Scenes,
    qa: Sequence[QA],
    *,
    blind: bool = False,
) -> tuple[dict[str, float], list[str]]:
    """(vqa_metrics, predictions) of `model` on questions `qa` about `scenes` (blind: without images); each
    prediction is the generated text's final_answer (the last word of a relation or colour answer)."""
    require_scenes("scenes", scenes)
    images = None if blind else scenes.images[[q.scene for q in qa]]
    texts = generate_answers(model, tokenizer, images, [q.question for q in qa])
    predictions = [final_answer(q.question, text) for q, text in zip(qa, texts)]
    return vqa_metrics(qa, predictions), predictions


def sliced_metrics(scenes: Scenes, qa: Sequence[QA], predictions: Sequence[str]) -> dict[str, dict[str, float]]:
    """Exact match per question type and number of objects in the scene: {"color, 3 objects": {"accuracy": a,
    "questions": n}} for every slice that has questions (binding shows in colour and shape with 2-3 objects)."""
    require_scenes("scenes", scenes)
    vqa_metrics(qa, predictions)  # validates qa and predictions
    out: dict[str, dict[str, float]] = {}
    objects = scenes.n_objects
    for kind in QUESTION_TYPES:
        for n in range(1, int(objects.max()) + 1):
            right = [p == q.answer for q, p in zip(qa, predictions) if q.kind == kind and objects[q.scene] == n]
            if right:
                out[f"{kind}, {n} object{'s' if n > 1 else ''}"] = {"accuracy": round(float(np.mean(right)), 4),
                                                                       "questions": len(right)}
    return out


def render_answers(models: dict[str, tuple[LlavaForConditionalGeneration, bool]], tokenizer: PreTrainedTokenizerFast,
                   scenes: Scenes, index: int, question: str) -> plt.Figure | Markdown:
    """The ask-your-own-question view: scene `index`, the question, each model's greedy answer and the true answer
    read from the scene (shapes_world.true_answer) when the question is in one of the course's forms.
    models: {name: (model, sees_image)}; sees_image False asks without the image (the blind baseline).

    Returns a Markdown message instead of raising when the question is empty or has unknown words."""
    require_scenes("scenes", scenes)
    index = require_int("index", index, low=0, high=len(scenes) - 1)
    if not isinstance(models, dict) or not models or not all(
        isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], bool) for v in models.values()
    ):
        raise TypeError(f"models must be a non-empty dict {{name: (model, sees_image)}}, got {describe(models)}; "
                        "e.g. {'tiny LLaVA': (load_tiny_llava()[0], True)}")
    for model, _ in models.values():
        require_llava("models", model)
    if not isinstance(question, str) or not question.strip():
        return Markdown("Type a question such as `what color is the circle ?` and press Enter.")
    question = " ".join(question.strip().lower().replace("?", " ?").split())
    missing = unknown_words(tokenizer, question)
    if missing:
        return Markdown(f"**Cannot ask this.** {unknown_words_message(tokenizer, question, missing)}")
    truth, note = true_answer(scenes, index, question)
    lines = [f"Q: {question}", f"true answer: {truth if truth is not None else '(none: ' + note + ')'}"]
    for name, (model, sees_image) in models.items():
        image = scenes.images[index : index + 1] if sees_image else None
        answer = generate_answers(model, tokenizer, image, [question])[0]
        mark = "" if truth is None else ("  [right]" if final_answer(question, answer) == truth else "  [wrong]")
        lines.append(f"{name}{'' if sees_image else ' (no image)'}: {answer}{mark}")
    fig, (ax_img, ax) = plt.subplots(1, 2, figsize=(9, 2.4), gridspec_kw={"width_ratios": [1, 3]},
                                     layout="constrained")
    ax_img.imshow(scenes.images[index])
    ax_img.set_title(f"held-out scene {index}", fontsize=9)
    for a in (ax_img, ax):
        a.set_axis_off()
    ax.text(0, 0.5, "\n".join(lines), va="center", family="monospace", fontsize=9, wrap=True)
    return fig


def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    """A text table: one row per model, one column per question type, overall and yes-rate on absent objects."""
    if not isinstance(rows, dict) or not rows:
        raise ValueError(f"rows must be a non-empty dict of {{model name: vqa_metrics(...)}}, got {short_repr(rows)}")
    cols = [c for c in (*QUESTION_TYPES, "overall", "yes_rate_absent") if any(c in r for r in rows.values())]
    width = max(len(n) for n in rows) + 2
    lines = [" " * width + " ".join(f"{c[:9]:>9}" for c in cols)]
    for name, r in rows.items():
        lines.append(f"{name:<{width}}" + " ".join(f"{r.get(c, float('nan')):>9.3f}" for c in cols))
    return "\n".join(lines)


# ---- shipped checkpoint ---------------------------------------------------------------------------


def load_tiny_llava(folder: str | Path | None = None) -> tuple[LlavaForConditionalGeneration, PreTrainedTokenizerFast]:
    """(model, tokenizer) from a local save_pretrained folder (default: the shipped data/tiny_llava)."""
    return load_shipped(LlavaForConditionalGeneration, TINY_LLAVA, folder)


def load_blind_baseline() -> tuple[LlavaForConditionalGeneration, PreTrainedTokenizerFast]:
    """(model, tokenizer) of the shipped blind baseline, data/tiny_llava/blind: trained like the tiny LLaVA with
    the image withheld; ask it without images (generate_answers(model, tokenizer, None, questions))."""
    return load_shipped(LlavaForConditionalGeneration, TINY_LLAVA, data_path(TINY_LLAVA, BLIND))


def train_two_stages(
    model: LlavaForConditionalGeneration,
    tokenizer: PreTrainedTokenizerFast,
    *,
    stage1_steps: int,
    stage2_steps: int,
    batch_size: int,
    lr1: float,
    lr2: float,
    seed: int,
    turns: int = len(QUESTION_TYPES),
    blind: bool = False,
    no_decay: str = "standard",
    patch_loss: float = 0.0,
    cells_first: bool = False,
    objects_first: bool = False,
    progress: bool = True,
) -> tuple[TrainResult | None, TrainResult]:
    """Stage 1 (skipped when blind: there is no image to align) then stage 2; no_decay: training.no_decay_parameters'
    rule; patch_loss: stage 2's auxiliary patch loss (train_stage), not used when blind (no image tokens);
    cells_first: stage 2's relation answers name both cells first (relation_steps); objects_first: its colour
    answers list the scene's objects first (colour_steps)."""
    first = (
        None
        if blind
        else train_stage(
            model, tokenizer, 1, steps=stage1_steps, batch_size=batch_size, lr=lr1, seed=seed, no_decay=no_decay,
            progress=progress,
        )
    )
    second = train_stage(model, tokenizer, 2, steps=stage2_steps, batch_size=batch_size, lr=lr2, seed=seed,
                         blind=blind, turns=turns, no_decay=no_decay, patch_loss=0.0 if blind else patch_loss,
                         cells_first=cells_first, objects_first=objects_first, progress=progress)
    return first, second
