"""Exercises of notebook 04: zero-shot probabilities, prompt ensembling, abstention, recall@k."""
import numpy as np

from .core import Exercise, close, equal, register

# Cosines of one image to three class prompts, and a learned logit scale.
COSINES = np.array([0.31, 0.27, 0.05])
SCALE = 30.0


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


register(Exercise(
    key="04.probs",
    task=f"Turn the cosines {COSINES.tolist()} into class probabilities with logit scale {SCALE:g} (an array of 3).",
    solution=lambda: _softmax(SCALE * COSINES),
    compare=close(rel=1e-3, abs_=1e-4),
    hint="Multiply every cosine by the logit scale, then take a softmax over the classes.",
    mistakes=(
        (_softmax(COSINES), "You took the softmax of the raw cosines (scale 1): multiply by the logit scale first."),
        (COSINES / COSINES.sum(),
         "Dividing cosines by their sum is not a softmax: exponentiate scale * cosine, then normalise."),
    ),
))

# Two templates' text embeddings of the same class, before normalisation (one much longer).
TEMPLATE_A = np.array([3.0, 0.0, 4.0])
TEMPLATE_B = np.array([0.0, 1.0, 0.0])


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


register(Exercise(
    key="04.ensemble",
    task=(f"Ensemble the class embeddings {TEMPLATE_A.tolist()} and {TEMPLATE_B.tolist()} into one prototype (array "
          "of 3)."),
    solution=lambda: _unit((_unit(TEMPLATE_A) + _unit(TEMPLATE_B)) / 2),
    compare=close(rel=1e-3, abs_=1e-4),
    hint="Normalise each template's embedding to unit length, average them, then normalise the average.",
    mistakes=(
        (_unit((TEMPLATE_A + TEMPLATE_B) / 2),
         "You averaged the raw embeddings, so the longer one dominates: normalise each first."),
        ((_unit(TEMPLATE_A) + _unit(TEMPLATE_B)) / 2, "The average of unit vectors is shorter than 1: renormalise it."),
    ),
))

# Cosine scores of four images to three classes.
SCORES = np.array([
    [0.42, 0.40, 0.10],
    [0.35, 0.12, 0.05],
    [0.20, 0.19, 0.18],
    [0.50, 0.30, 0.45],
])
MIN_MARGIN = 0.1


def _margin_answers() -> np.ndarray:
    top = np.sort(SCORES, axis=1)[:, ::-1]
    return top[:, 0] - top[:, 1] >= MIN_MARGIN


register(Exercise(
    key="04.margin",
    task=f"With a minimum margin of {MIN_MARGIN}, which of the 4 images in SCORES are answered? (boolean array of 4)",
    solution=_margin_answers,
    compare=equal,
    hint="The margin of a row is its top score minus its second-best score; answer when it is >= the minimum.",
    mistakes=(
        (SCORES.max(axis=1) >= MIN_MARGIN, "That tests the top score, not the margin between the top two scores."),
        (SCORES.max(axis=1) - SCORES.min(axis=1) >= MIN_MARGIN,
         "The margin is top minus the runner-up, not top minus the lowest score."),
    ),
))

# Validation confidences (sorted high to low) and whether each prediction was right.
VAL_CONF = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4])
VAL_CORRECT = np.array([True, True, True, False, True, True, False, False])
TARGET_RISK = 0.2


def _threshold() -> float:
    for t in np.sort(VAL_CONF):
        keep = VAL_CONF >= t
        if (~VAL_CORRECT[keep]).mean() <= TARGET_RISK:
            return float(t)
    return float("inf")


register(Exercise(
    key="04.threshold",
    task=(f"Pick the lowest confidence threshold (answer when conf >= t) whose error rate on the validation "
          f"set is <= {TARGET_RISK}: one of VAL_CONF."),
    solution=_threshold,
    compare=close(rel=0, abs_=1e-9),
    hint="Try thresholds from low to high; for each, keep conf >= t and compute the error rate of what is kept.",
    mistakes=(
        (0.4, "Answering everything gives an error rate of 3/8 > 0.2: raise the threshold."),
        (0.85,
         "That meets the target but abstains more than needed: a lower threshold also keeps the error rate <= 0.2."),
    ),
))

# Text-to-image similarities: row i is caption i, column j is image j; caption i describes image i.
SIM = np.array([
    [0.9, 0.8, 0.1, 0.2],
    [0.88, 0.85, 0.1, 0.3],
    [0.1, 0.2, 0.8, 0.7],
    [0.2, 0.1, 0.75, 0.6],
])


def _recall_at_1() -> float:
    return float(np.mean(SIM.argmax(axis=1) == np.arange(len(SIM))))


register(Exercise(
    key="04.recall",
    task="Text-to-image recall@1 for SIM (rows are captions, columns images, caption i matches image i).",
    solution=_recall_at_1,
    compare=close(rel=0, abs_=1e-9),
    hint="For each caption (row), is its own image (column i) the highest-scoring column? Average over rows.",
    mistakes=(
        (float(np.mean(SIM.argmax(axis=0) == np.arange(len(SIM)))),
         "You ranked captions for each image (columns): text-to-image ranks images for each caption (rows)."),
        (float(np.mean((np.argsort(-SIM, axis=1)[:, :2] == np.arange(4)[:, None]).any(axis=1))),
         "That is recall@2; recall@1 counts only the top-ranked image."),
    ),
))
