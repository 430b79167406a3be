"""Exercises of notebook 05: visual tokens, AnyRes, KV-cache bytes, projector size, hallucination rate."""
import numpy as np

from .. import budgets
from .core import Exercise, close, equal, register

register(Exercise(
    key="05.tokens_336",
    task="How many <image> tokens does LLaVA-1.5 insert for one 336 px image with 14 px patches (strategy 'default')?",
    solution=lambda: budgets.tokens_per_image(336, 14),
    compare=equal,
    hint=("Count patches per side (336 / 14), square it, and remember what the 'default' strategy does with the "
          "class token."),
    mistakes=(
        (577, "The 'default' strategy drops the class token: only the patch tokens reach the LM."),
        (24, "24 is the number of patches per side; the grid has 24 x 24 patches."),
        (256, "That is a 224 px image; this one is 336 px."),
    ),
))

register(Exercise(
    key="05.anyres_672",
    task="How many visual tokens does LLaVA-NeXT AnyRes give a 672 x 672 image (336 px crops, 14 px patches)?",
    solution=lambda: budgets.anyres_tokens(672, 672).total,
    compare=equal,
    hint="Base image (one 336 crop) + the 2 x 2 tiles as one 48 x 48 feature grid + one newline token per grid row.",
    mistakes=(
        (2880, "You forgot the newline token that ends each of the 48 feature rows."),
        (2352, "You forgot the downscaled base image: it adds one crop's worth of tokens."),
        (2304, "That is the tiles alone: add the base image and one newline per feature row."),
    ),
))

TOKENS = 2928


register(Exercise(
    key="05.kv_bytes",
    task=(f"KV-cache bytes for {TOKENS} visual tokens in a 7B-class LM: 32 layers, 32 KV heads, head_dim 128, fp16 "
          "(an integer)."),
    solution=lambda: budgets.kv_cache_bytes(TOKENS, layers=32, kv_heads=32, head_dim=128, bytes_per_element=2),
    compare=close(rel=1e-9, abs_=0.5),
    hint="bytes = 2 (keys and values) x layers x kv_heads x head_dim x tokens x bytes per element.",
    mistakes=(
        (32 * 32 * 128 * TOKENS * 2, "The cache stores keys AND values: multiply by 2."),
        (2 * 32 * 8 * 128 * TOKENS * 2, "This model has 32 KV heads (no grouped-query attention), not 8."),
        (2 * 32 * 32 * 128 * TOKENS * 4, "fp16 takes 2 bytes per element, not 4."),
    ),
))

VISION_DIM, TEXT_DIM = 1024, 4096


def _mlp_params(dv: int, dt: int) -> int:
    return dv * dt + dt + dt * dt + dt


register(Exercise(
    key="05.projector_params",
    task=(f"Parameters of LLaVA-1.5's projector (linear-GELU-linear with biases) from a {VISION_DIM}-d vision "
          f"tower to a {TEXT_DIM}-d LM."),
    solution=lambda: _mlp_params(VISION_DIM, TEXT_DIM),
    compare=equal,
    hint="linear_1 maps vision_dim -> text_dim, linear_2 maps text_dim -> text_dim; count weights and biases of both.",
    mistakes=(
        (VISION_DIM * TEXT_DIM + TEXT_DIM,
         "That is the linear projector of LLaVA-1; the MLP adds a second text_dim x text_dim layer."),
        (VISION_DIM * TEXT_DIM + TEXT_DIM * TEXT_DIM, "Don't forget the two bias vectors (text_dim each)."),
    ),
))

# A model's answers to "is there a ...?" questions, and the true answers.
EXISTS_TRUE = np.array(["no", "yes", "no", "no", "yes", "no", "no", "yes"])
EXISTS_PRED = np.array(["yes", "yes", "no", "yes", "yes", "no", "yes", "no"])


register(Exercise(
    key="05.yes_rate",
    task="Hallucination yes-rate: the share of questions about ABSENT objects (true answer 'no') answered 'yes'.",
    solution=lambda: float(np.mean(EXISTS_PRED[EXISTS_TRUE == "no"] == "yes")),
    compare=close(rel=0, abs_=1e-9),
    hint="Keep only the questions whose true answer is 'no', then count how often the model said 'yes'.",
    mistakes=(
        (float(np.mean(EXISTS_PRED == "yes")), "That is the yes-rate over all questions; count only absent objects."),
        (float(np.mean(EXISTS_PRED != EXISTS_TRUE)),
         "That is the error rate; hallucination counts 'yes' on absent objects only."),
    ),
))
