"""A tiny causal language model (LlamaForCausalLM) pre-trained on Shapes World text.

The corpus mixes captions ("a small red circle left of a large blue square") and question-answer
text ("what color is the circle ? red"). The LM learns the language and the answer formats, but
not the images: whatever it answers without an image is a language prior.

Taught in notebook 05, section 5; it is the language model of the tiny LLaVA (models/llava.py). The reading LM
(train_reader, data/tiny_lm_reader) has the same architecture, trained to answer a question from the scene's
description before it: the LM of notebook 06's bridges (section 7 says why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from ..base.seeding import seed_everything
from ..base.validation import require_int, require_model, require_str, require_str_list, require_tokenizer
from ..shapes_world import MAX_SCENES, generate_scenes, make_captions, make_descriptions, make_vqa
from ..tokenizer import build_tokenizer, encode, require_known_words
from ..training import TrainResult, step_seed, train
from .shipped import load_shipped

TINY_LM = "tiny_lm"  # data/tiny_lm: the shipped checkpoint
READER_LM = "tiny_lm_reader"  # data/tiny_lm_reader: the same architecture trained to answer from a description
MAX_POSITIONS = 128  # room for 36 visual tokens + the longest question and answer in LLaVA


def tiny_lm_config(
    tokenizer: PreTrainedTokenizerFast | None = None,
    *,
    hidden_size: int = 128,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate_size: int | None = None,
) -> LlamaConfig:
    """A tiny LlamaConfig over the course tokenizer (grouped-query attention: kv_heads <= heads)."""
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    hidden_size, heads = require_int("hidden_size", hidden_size, low=8), require_int("heads", heads, low=1)
    kv_heads = require_int("kv_heads", kv_heads, low=1, high=heads)
    if hidden_size % heads or heads % kv_heads:
        raise ValueError(
            f"need hidden_size % heads == 0 and heads % kv_heads == 0, got {hidden_size}, {heads}, {kv_heads}"
        )
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 2 * hidden_size,
        num_hidden_layers=require_int("layers", layers, low=1),
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )


def build_tiny_lm(tokenizer: PreTrainedTokenizerFast | None = None, seed: int = 0, **config: Any) -> LlamaForCausalLM:
    """A freshly initialised (seeded) LlamaForCausalLM from tiny_lm_config(tokenizer, **config).
    Seeds only: the torch thread count is left as it is."""
    seed_everything(seed, threads=None)
    return LlamaForCausalLM(tiny_lm_config(tokenizer, **config)).eval()


def text_corpus(n_scenes: int, seed: int, qa_share: float = 0.5, context_share: float = 0.0) -> list[str]:
    """Shapes World sentences from `n_scenes` seeded scenes (1-3 objects): roughly `qa_share` of them
    question-answer text "<question> <answer>", the rest captions; order shuffled by `seed`. With
    context_share > 0, that share of the question-answer texts follow their scene's caption
    ("<caption> <question> <answer>"): the answer is then in the text, to be looked up by name."""
    n_scenes = require_int("n_scenes", n_scenes, low=1, high=MAX_SCENES)
    for name, share in (("qa_share", qa_share), ("context_share", context_share)):
        if not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {share}")
    scenes = generate_scenes(n_scenes, seed=seed, min_objects=1, max_objects=3, split="all")
    rng = np.random.default_rng(seed)
    captions = make_captions(scenes, seed=seed)
    qa = make_vqa(scenes, seed=seed)
    picks = rng.integers(0, len(qa), size=n_scenes)
    texts = [
        f"{qa[j].question} {qa[j].answer}" if rng.random() < qa_share else captions[i] for i, j in enumerate(picks)
    ]
    if context_share > 0:  # a second generator: the corpus without context stays what it was
        ctx = np.random.default_rng([seed, 1])
        texts = [f"{captions[qa[j].scene]} {t}" if t != captions[i] and ctx.random() < context_share else t
                 for i, (j, t) in enumerate(zip(picks, texts))]
    return [texts[i] for i in rng.permutation(len(texts))]


def text_batch(tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> dict[str, torch.Tensor]:
    """<bos> text <eos>, right-padded: input_ids, attention_mask (B, T) and labels (-100 on padding)."""
    require_tokenizer("tokenizer", tokenizer)
    texts = require_str_list("texts", texts)
    for text in texts:
        require_known_words(tokenizer, text, "texts")
    enc = tokenizer(list(texts), padding=True, return_tensors="pt")
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "labels": labels}


def lm_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy over the labelled positions (the model shifts the labels)."""
    if not isinstance(batch, dict) or "labels" not in batch:
        raise TypeError(f"batch must be a dict with input_ids, attention_mask and labels (from text_batch), "
                        f"got {type(batch).__name__}")
    return model(**batch).loss


def pretrain_lm(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, *, steps: int, batch_size: int = 64,
                lr: float = 3e-3, seed: int = 0, no_decay: str = "standard", context_share: float = 0.0,
                progress: bool = True, desc: str = "tiny LM") -> TrainResult:
    """Next-token pre-training on seeded text_corpus batches (batch of step s: step_seed(seed, s), `context_share`
    of the question-answer texts after their caption); no_decay: the rule of training.no_decay_parameters."""
    require_model("model", model, "LlamaForCausalLM", "pass the tiny LM from build_tiny_lm() or load_tiny_lm()[0]")
    require_tokenizer("tokenizer", tokenizer)
    batch_size = require_int("batch_size", batch_size, low=1, high=MAX_SCENES)
    seed = require_int("seed", seed, low=0)
    text_corpus(1, seed, context_share=context_share)  # validates the share before training starts

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        return text_batch(tokenizer, text_corpus(batch_size, step_seed(seed, step), context_share=context_share))

    return train(model, batch_fn, lm_loss, steps=steps, lr=lr, no_decay=no_decay, progress=progress, desc=desc)


def reading_corpus(n_scenes: int, seed: int) -> tuple[list[str], list[str]]:
    """(prompts, answers) from `n_scenes` seeded scenes (1-3 objects): one question per scene, asked after the
    scene's full description (shapes_world.make_descriptions), "<description> <question>", and its answer."""
    n_scenes = require_int("n_scenes", n_scenes, low=1, high=MAX_SCENES)
    scenes = generate_scenes(n_scenes, seed=seed, min_objects=1, max_objects=3, split="all")
    descriptions = make_descriptions(scenes, seed=seed)
    qa = make_vqa(scenes, seed=seed)
    picks = np.random.default_rng(seed).integers(0, len(qa), size=n_scenes)
    return [f"{descriptions[qa[j].scene]} {qa[j].question}" for j in picks], [qa[j].answer for j in picks]


def answer_batch(tokenizer: PreTrainedTokenizerFast, prompts: Sequence[str], answers: Sequence[str]
                 ) -> dict[str, torch.Tensor]:
    """<bos> prompt answer <eos>, right-padded, labelled on the answer and <eos> only (-100 elsewhere): the loss
    of supervised fine-tuning, which spends no gradient on predicting the prompt."""
    prompts, answers = require_str_list("prompts", prompts), require_str_list("answers", answers)
    if len(prompts) != len(answers):
        raise ValueError(f"prompts and answers must pair up one to one, got {len(prompts)} prompts and "
                         f"{len(answers)} answers")
    batch = text_batch(tokenizer, [f"{p} {a}" for p, a in zip(prompts, answers)])
    for row, prompt in enumerate(prompts):
        batch["labels"][row, : 1 + len(encode(tokenizer, prompt, add_special_tokens=False))] = -100
    return batch


def train_reader(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, *, steps: int, batch_size: int = 64,
                 lr: float = 5e-4, seed: int = 0, progress: bool = True, desc: str = "reading LM") -> TrainResult:
    """Train the LM to answer from context: seeded reading_corpus batches (batch of step s: step_seed(seed, s)),
    the loss on the answers only (answer_batch). Taught in notebook 06, section 7."""
    require_model("model", model, "LlamaForCausalLM", "pass the tiny LM from build_tiny_lm()")
    require_tokenizer("tokenizer", tokenizer)
    batch_size = require_int("batch_size", batch_size, low=1, high=MAX_SCENES)
    seed = require_int("seed", seed, low=0)

    def batch_fn(step: int) -> dict[str, torch.Tensor]:
        return answer_batch(tokenizer, *reading_corpus(batch_size, step_seed(seed, step)))

    return train(model, batch_fn, lm_loss, steps=steps, lr=lr, progress=progress, desc=desc)


@torch.no_grad()
def perplexity(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, texts: Sequence[str]) -> float:
    """exp(mean next-token loss) over `texts` (one batch)."""
    require_model("model", model, "LlamaForCausalLM", "pass the tiny LM from load_tiny_lm()[0]")
    model.eval()
    return float(torch.exp(lm_loss(model, text_batch(tokenizer, texts))))


@torch.no_grad()
def complete(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, prompt: str, max_new_tokens: int = 4) -> str:
    """Greedy continuation of `prompt` (without its <eos>) until <eos>, as text."""
    require_model("model", model, "LlamaForCausalLM", "pass the tiny LM from load_tiny_lm()[0]")
    require_tokenizer("tokenizer", tokenizer)
    require_known_words(tokenizer, require_str("prompt", prompt), "prompt")
    max_new_tokens = require_int("max_new_tokens", max_new_tokens, low=1, high=64)
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"][:, :-1]
    out = model.generate(
        input_ids=ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True).strip()


def load_tiny_lm(folder: str | Path | None = None) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """(model, tokenizer) from a local save_pretrained folder (default: the shipped data/tiny_lm)."""
    return load_shipped(LlamaForCausalLM, TINY_LM, folder)


def load_reader_lm(folder: str | Path | None = None) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """(model, tokenizer) of the reading LM (default: the shipped data/tiny_lm_reader; notebook 06, section 7)."""
    return load_shipped(LlamaForCausalLM, READER_LM, folder)
