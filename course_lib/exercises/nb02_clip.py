"""Exercises of notebook 02: the CLIP loss by hand, negatives, the logit scale, false negatives."""
import math

import numpy as np
import torch

from ..contrastive import WALKTHROUGH_COSINES, duplicate_audit, info_nce_torch, walkthrough
from .core import Exercise, close, equal, register, same_function

register(Exercise(
    key="02.row_ce",
    task="At tau = 1, what is the cross-entropy of row 2 (the third image) of the 4x4 walkthrough matrix?",
    solution=lambda: float(walkthrough(tau=1.0).row_ce[2]),
    compare=close(rel=1e-3),
    hint="Exponentiate the row, divide the diagonal entry's exp by the row sum, take -ln of that probability.",
    mistakes=(
        (float(walkthrough(tau=1.0).row_probs[2, 2]), "That is p(correct); the cross-entropy is -ln p(correct)."),
        (float(-np.log10(walkthrough(tau=1.0).row_probs[2, 2])), "Use the natural logarithm, not log10."),
        (float(walkthrough(tau=1.0).col_ce[2]), "That is column 2 (text -> images); the task asks for row 2."),
    ),
))

register(Exercise(
    key="02.chance_loss",
    task="A freshly initialised CLIP scores every pair alike. What is its loss on a batch of 256 pairs?",
    solution=lambda: math.log(256),
    compare=close(rel=1e-3),
    hint="Equal logits make the softmax uniform: p(correct) = 1/N for every row and column.",
    mistakes=(
        (math.log2(256), "Cross-entropy uses the natural logarithm: ln N, not log2 N."),
        (1 / 256, "1/N is p(correct); the loss is -ln(1/N)."),
        (256.0, "The loss grows with the logarithm of the batch size, not the batch size itself."),
    ),
))


def _cases() -> list[tuple]:
    g = torch.Generator().manual_seed(2)
    return [(torch.randn(n, n, generator=g, dtype=torch.float64) * 3,) for n in (2, 5, 8)]


register(Exercise(
    key="02.info_nce",
    task=("Write info_nce(logits) -> the mean image->text InfoNCE loss of a (B, B) tensor (rows are images, targets "
          "the diagonal)."),
    solution=lambda: info_nce_torch,
    compare=same_function(_cases),
    hint="-torch.log_softmax(logits, dim=1) gives -log p for every entry; keep the diagonal and average.",
    mistakes=(
        (lambda x: -torch.log_softmax(x, dim=0).diagonal().mean(),
         "You normalised over columns (dim=0): that is the text->image direction."),
        (lambda x: -torch.log_softmax(x, dim=1).diagonal().sum(), "Average over the batch instead of summing."),
        (lambda x: -torch.softmax(x, dim=1).diagonal().mean(),
         "Take the log of the probability: cross-entropy is -log p."),
    ),
))

register(Exercise(
    key="02.logit_scale",
    task="CLIP stores log(1/tau) as its logit_scale parameter. What value does it hold when tau = 0.02?",
    solution=lambda: math.log(1 / 0.02),
    compare=close(rel=1e-3),
    hint="The model multiplies cosines by exp(logit_scale) = 1/tau; invert that.",
    mistakes=(
        (1 / 0.02, "That is the multiplier exp(logit_scale) = 1/tau; the parameter is its natural log."),
        (math.log10(1 / 0.02), "Use the natural logarithm: the model applies exp(), not 10**."),
        (math.log(0.02), "Sign: the parameter is log(1/tau) = -log(tau), a positive number."),
    ),
))

_CAPTIONS = ["red circle", "blue square", "red circle", "a green cross", "red circle", "blue square", "yellow diamond"]

register(Exercise(
    key="02.false_negatives",
    task=(f"In a batch with captions {_CAPTIONS}, how many ordered pairs (i, j), i != j, does the plain CLIP loss "
          "treat as negatives although the captions are identical?"),
    solution=lambda: duplicate_audit(_CAPTIONS)["false_negative_pairs"],
    compare=equal,
    hint="A caption that occurs c times gives c * (c - 1) ordered pairs; add over captions.",
    mistakes=(
        (duplicate_audit(_CAPTIONS)["false_negative_pairs"] // 2,
         "Count ordered pairs: (i, j) and (j, i) are both entries of the similarity matrix."),
        (duplicate_audit(_CAPTIONS)["in_duplicates"],
         "That counts captions that have a duplicate; count the pairs of them."),
    ),
))

register(Exercise(
    key="02.walkthrough_cold",
    task="At tau = 0.07, what is the symmetric CLIP loss of the 4x4 walkthrough matrix?",
    solution=lambda: walkthrough(WALKTHROUGH_COSINES, tau=0.07).loss,
    compare=close(rel=1e-3),
    hint=("Divide every cosine by 0.07, then run the same row and column softmaxes and average the two directional "
          "losses."),
    mistakes=(
        (walkthrough(WALKTHROUGH_COSINES, tau=1.0).loss,
         "That is the loss at tau = 1; divide the cosines by 0.07 first."),
        (walkthrough(WALKTHROUGH_COSINES, tau=0.07).loss_image_to_text,
         "That is only the image->text direction; average it with text->image."),
    ),
))
