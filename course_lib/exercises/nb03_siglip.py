"""Exercises of notebook 03: the sigmoid loss, its initialisation and its distributed cost."""
import math

import torch
import torch.nn.functional as F

from ..sigmoid_loss import initial_loss, pair_loss, prior_bias, sigmoid_loss
from .core import Exercise, close, register, same_function

register(Exercise(
    key="03.hard_negative_loss",
    task="The loss -log sigmoid(label * logit) of a hard negative: a NON-matching pair the model scores 0.4.",
    solution=lambda: pair_loss(0.4, -1),
    compare=close(1e-3),
    hint="A non-matching pair has label -1, so the loss is -log sigmoid(-0.4) = log(1 + exp(0.4)).",
    mistakes=(
        (pair_loss(0.4, 1), "You used label +1; a hard negative is a non-matching pair: label -1."),
        (1 / (1 + math.exp(-0.4)), "That is sigmoid(0.4), the model's probability of 'match', not the loss."),
    ),
))

register(Exercise(
    key="03.init_loss",
    task="The SigLIP loss at initialisation for a batch of N = 1024 with t = 10, b = -10 and every cosine 0.",
    solution=lambda: initial_loss(1024, 10.0, -10.0).loss,
    compare=close(1e-3),
    hint="Every logit is 10 * 0 - 10 = -10. Add N positive losses log(1 + e^10) and N^2 - N negative "
         "losses log(1 + e^-10), then divide by N.",
    mistakes=(
        (initial_loss(1024, 10.0, -10.0).loss / 1024,
         "You divided by N^2 (a mean over pairs); the paper divides the sum by N."),
        (initial_loss(1024, 10.0, -10.0).positive,
         "You counted only the positives; the N^2 - N negatives add about (N - 1) * 4.5e-5."),
    ),
))


def _loss_cases() -> list[tuple]:
    g = torch.Generator().manual_seed(3)
    cases = []
    for n, d, t, b in ((4, 8, 10.0, -10.0), (6, 5, 2.0, 0.5), (3, 16, 1.0, 0.0)):
        image = F.normalize(torch.randn(n, d, generator=g), dim=-1)
        text = F.normalize(image + 0.5 * torch.randn(n, d, generator=g), dim=-1)
        cases.append((image, text, t, b))
    return cases


def _mean_over_pairs(image, text, t, b):
    logits = t * image @ text.T + b
    return F.binary_cross_entropy_with_logits(logits, torch.eye(len(logits)))


register(Exercise(
    key="03.sigmoid_loss_fn",
    task="Write my_loss(image_emb, text_emb, t, b) for L2-normalised (N, D) embeddings: "
         "-sum_ij log sigmoid(label_ij * (t * cos_ij + b)) / N, labels +1 on the diagonal and -1 elsewhere.",
    solution=lambda: (lambda image, text, t, b: sigmoid_loss(image, text, t, b)),
    compare=same_function(_loss_cases),
    hint="logits = t * image @ text.T + b; labels = 2 * torch.eye(N) - 1; "
         "return -F.logsigmoid(labels * logits).sum() / N.",
    mistakes=(
        (_mean_over_pairs,
         "binary_cross_entropy_with_logits averages over all N^2 pairs; the paper sums and divides by N "
         "(use reduction='sum' and divide by N)."),
        (lambda image, text, t, b: -F.logsigmoid(t * image @ text.T + b).sum() / len(image),
         "Every pair got label +1; the off-diagonal pairs are negatives: multiply their logits by -1."),
    ),
))

RING = dict(world_size=8, b=512, dim=768)  # float32 embeddings

register(Exercise(
    key="03.ring_bytes",
    task="Ring SigLIP with W = 8 ranks, b = 512 pairs per rank, D = 768 float32: how many bytes does each rank send?",
    solution=lambda: (RING["world_size"] - 1) * RING["b"] * RING["dim"] * 4,
    compare=close(1e-9, 0.5),
    hint="Each of the W - 1 hops sends one (b, D) text block of 4-byte floats; the images never move.",
    mistakes=(
        (RING["world_size"] * RING["b"] * RING["dim"] * 4,
         "There are W - 1 hops, not W: the rank's own block never leaves it."),
        (2 * (RING["world_size"] - 1) * RING["b"] * RING["dim"] * 4,
         "That is CLIP's all-gather of images AND texts; the ring only passes texts."),
        ((RING["world_size"] - 1) * RING["b"] * RING["dim"], "Count bytes, not numbers: a float32 takes 4 bytes."),
    ),
))

register(Exercise(
    key="03.prior_bias",
    task="With N = 32768 pairs per batch, which bias b makes sigmoid(b) equal the share of positive pairs, 1/N?",
    solution=lambda: prior_bias(32768),
    compare=close(1e-3),
    hint="Solve sigmoid(b) = p for p = 1/N: b = log(p / (1 - p)) = -log(N - 1).",
    mistakes=(
        (-prior_bias(32768), "Check the sign: a probability below 1/2 needs a negative logit."),
        (-math.log(32768**2 - 32768), "The share of positives is N out of N^2 pairs, i.e. 1/N, not 1/(N^2 - N)."),
    ),
))
