"""Zero-shot classification with a dual encoder: prompts -> text prototypes -> argmax cosine.

Also: prompt ensembling, softmax probabilities with the logit scale, abstention (thresholds
calibrated on a validation split, risk-coverage), failure-mode probes (relation swap, attribute
binding, counting), linear probe and few-shot baselines on the same image features, and the
text-to-image search widget's view (ranking and recall@k are in retrieval.py).

Taught in notebook 04 (sections 1-9); zero_shot_accuracy also scores notebooks 02 and 03.
"""

from __future__ import annotations

import string
from dataclasses import replace
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown

from .base.seeding import torch_threads
from .base.validation import (
    describe,
    require_array,
    require_choice,
    require_finite,
    require_int,
    require_pair,
    require_positive,
    require_str_list,
)
from .models.dual_encoder import encode_images, encode_texts
from .plots import legend_with_colours, plot_images
from .retrieval import rank_gallery
from .shapes_world import (
    CAPTION_TEMPLATES,
    COLORS,
    COUNT_WORDS,
    HARD_NEGATIVES,
    MAX_OBJECTS,
    POSITIONS,
    Scenes,
    caption_is_true,
    fill_template,
    generate_scenes,
    hard_negative_captions,
    is_held_out,
    make_captions,
    prompts,
    require_scenes,
    swap_caption,
)
from .tokenizer import unknown_words, unknown_words_message
from .training import train

CONFIDENCES: tuple[str, ...] = ("max_score", "margin")


# ---- prompts and prototypes ------------------------------------------------------------------


def text_prototypes(model, tokenizer, class_prompts: Sequence[str]) -> torch.Tensor:
    """(C, D) L2-normalised text embedding of one prompt per class."""
    return encode_texts(model, tokenizer, require_str_list("class_prompts", class_prompts))


def require_template(template: str) -> str:
    """Return `template` if it is a string whose only fields are {color} and {shape} (both present)."""
    if not isinstance(template, str):
        raise TypeError(
            f"template must be a string such as 'a photo of a {{color}} {{shape}}', got {type(template).__name__}"
        )
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise ValueError(f"template {template!r} is not a valid format string: {err}") from None
    if fields != {"color", "shape"}:
        raise ValueError(
            f"template must contain exactly the fields {{color}} and {{shape}}, got {sorted(fields)} in {template!r}"
        )
    return template


def template_embeddings(model, tokenizer, templates: Sequence[str]) -> torch.Tensor:
    """(T, C, D) normalised text prototypes: the C class prompts of each of the T templates."""
    templates = require_str_list("templates", templates)
    return torch.stack([text_prototypes(model, tokenizer, prompts(require_template(t))) for t in templates])


def ensemble_prototypes(embeddings: torch.Tensor) -> torch.Tensor:
    """Prompt ensembling: (T, C, D) per-template embeddings -> (C, D) mean of the L2-normalised
    embeddings over templates, renormalised to unit length."""
    require_array("embeddings", embeddings, ndim=3, dtype="f", torch_only=True)
    if embeddings.shape[0] == 0:
        raise ValueError("embeddings holds no template (T = 0)")
    return F.normalize(F.normalize(embeddings, dim=-1).mean(dim=0), dim=-1)


# ---- scores, probabilities, accuracy ---------------------------------------------------------


def zero_shot_predict(image_embeddings: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
    """(N,) index of the most similar prototype for each (N, D) image embedding."""
    _require_scores_inputs(image_embeddings, prototypes)
    return (image_embeddings @ prototypes.T).argmax(dim=1)


def _require_scores_inputs(image_embeddings, prototypes) -> None:
    require_pair("image_embeddings", image_embeddings, "prototypes", prototypes, dtype="f", torch_only=True)
    if prototypes.shape[0] == 0:
        raise ValueError(f"prototypes holds no class (shape {tuple(prototypes.shape)}); pass one row per class")


def logit_scale_of(model) -> float:
    """The model's learned temperature as a multiplier: exp(logit_scale)."""
    if not hasattr(model, "logit_scale"):
        raise TypeError(f"model must be a CLIP-style model with a logit_scale (e.g. load_tiny_clip()[0]), "
                        f"got {describe(model)}")
    return float(model.logit_scale.detach().exp())


def zero_shot_logits(image_embeddings: torch.Tensor, prototypes: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(N, C) logits = logit_scale * cosine, for normalised (N, D) images and (C, D) prototypes."""
    _require_scores_inputs(image_embeddings, prototypes)
    return require_positive("logit_scale", logit_scale) * (image_embeddings @ prototypes.T)


def zero_shot_probs(image_embeddings: torch.Tensor, prototypes: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(N, C) class probabilities: softmax over classes of logit_scale * cosine."""
    return zero_shot_logits(image_embeddings, prototypes, logit_scale).softmax(dim=1)


def split_accuracy(predictions: torch.Tensor | np.ndarray, scenes: Scenes) -> dict[str, float]:
    """Top-1 accuracy of (N,) class predictions against the first object's colour-shape label,
    split into seen and held-out compositions: {'seen', 'held_out', 'n_seen', 'n_held_out'}."""
    require_scenes("scenes", scenes)
    require_array("predictions", predictions, ndim=1, shape=(len(scenes),), dtype="i")
    pred = np.asarray(predictions)
    right = pred == scenes.labels
    held = is_held_out(scenes.colors[:, 0], scenes.shapes[:, 0])
    result: dict[str, float] = {}
    for name, mask in (("seen", ~held), ("held_out", held)):
        result[name] = float(right[mask].mean()) if mask.any() else float("nan")
        result[f"n_{name}"] = int(mask.sum())
    return result


def zero_shot_accuracy(
    model, tokenizer, scenes: Scenes, template: str = "a photo of a {color} {shape}"
) -> dict[str, float]:
    """Top-1 accuracy over all colour x shape prompts on single-object scenes, split into
    seen and held-out compositions: {'seen': ..., 'held_out': ..., 'n_seen': ..., 'n_held_out': ...}."""
    if (require_scenes("scenes", scenes).n_objects != 1).any():
        raise ValueError("zero_shot_accuracy needs single-object scenes (generate_scenes(..., max_objects=1))")
    pred = zero_shot_predict(encode_images(model, scenes.images), text_prototypes(model, tokenizer, prompts(template)))
    return split_accuracy(pred.numpy(), scenes)


def evaluate_zero_shot(model, tokenizer, n: int, seed: int) -> dict[str, float]:
    """zero_shot_accuracy on `n` seeded single-object test scenes over all compositions
    (the shipped tiny CLIP's metrics use recipes.SEEDS.clip_zero_shot)."""
    return zero_shot_accuracy(model, tokenizer, generate_scenes(n, seed=seed, split="all"))


# ---- abstention --------------------------------------------------------------------------------


def confidence(scores: torch.Tensor, kind: str = "max_score") -> torch.Tensor:
    """(N,) confidence of each row of (N, C) class scores (cosines or probabilities):
    'max_score' = the top score, 'margin' = top score minus runner-up."""
    require_array("scores", scores, ndim=2, dtype="f")
    require_choice("kind", kind, CONFIDENCES)
    if kind == "margin" and scores.shape[1] < 2:
        raise ValueError(f"a margin needs at least 2 classes, got scores of shape {tuple(scores.shape)}")
    top = torch.as_tensor(scores).topk(min(2, scores.shape[1]), dim=1).values
    return top[:, 0] if kind == "max_score" else top[:, 0] - top[:, 1]


def _require_conf_correct(conf, correct) -> tuple[np.ndarray, np.ndarray]:
    try:
        conf, correct = np.asarray(conf.detach() if hasattr(conf, "detach") else conf, dtype=float), np.asarray(correct)
    except (TypeError, ValueError):
        raise TypeError(f"conf must be a list, array or tensor of numbers, got {describe(conf)}") from None
    require_array("conf", conf, ndim=1, finite=True)
    require_array("correct", correct, ndim=1, shape=(len(conf),), dtype="b")
    if len(conf) == 0:
        raise ValueError("conf is empty: pass at least one confidence")
    return conf, correct


def risk_coverage(conf: torch.Tensor | np.ndarray, correct: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accept the most confident predictions first: (coverage, risk) arrays of length N, where
    coverage[i] = (i + 1) / N and risk[i] = error rate among the i + 1 most confident."""
    conf, correct = _require_conf_correct(conf, correct)
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(~correct[order])
    accepted = np.arange(1, len(conf) + 1)
    return accepted / len(conf), errors / accepted


def aurc(conf: torch.Tensor | np.ndarray, correct: torch.Tensor | np.ndarray) -> float:
    """Area under the risk-coverage curve (mean selective risk over all coverages; lower is better)."""
    return float(risk_coverage(conf, correct)[1].mean())


def calibrate_threshold(
    conf: torch.Tensor | np.ndarray, correct: torch.Tensor | np.ndarray, target_risk: float
) -> float:
    """Lowest threshold t such that predictions with confidence >= t have an error rate <= target_risk
    on this (validation) set, i.e. the largest coverage meeting the target; +inf if none does."""
    conf, correct = _require_conf_correct(conf, correct)
    if not 0.0 <= require_finite("target_risk", target_risk) < 1.0:
        raise ValueError(f"target_risk must be in [0, 1), got {target_risk}")
    best = float("inf")
    for t in np.unique(conf):  # ascending: the first that meets the target keeps the most
        keep = conf >= t
        if (~correct[keep]).mean() <= target_risk:
            best = float(t)
            break
    return best


def selective_metrics(
    conf: torch.Tensor | np.ndarray, correct: torch.Tensor | np.ndarray, threshold: float
) -> dict[str, float]:
    """Answer when confidence >= threshold, abstain otherwise:
    {'coverage': answered fraction, 'risk': error rate among answered (nan if none), 'answered': count}."""
    conf, correct = _require_conf_correct(conf, correct)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) or np.isnan(threshold):
        raise TypeError(f"threshold must be a number, got {threshold!r}")
    keep = conf >= threshold
    return {
        "coverage": float(keep.mean()),
        "risk": float((~correct[keep]).mean()) if keep.any() else float("nan"),
        "answered": int(keep.sum()),
    }


def plot_risk_coverage(curves: dict[str, tuple], ax: plt.Axes | None = None, title: str = "risk-coverage") -> plt.Axes:
    """One risk-coverage line per entry of {label: (confidences, correct)}; lower is better."""
    if not isinstance(curves, dict) or not curves:
        raise ValueError(f"curves must be a non-empty dict {{label: (confidences, correct)}}, got {describe(curves)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    for label, (conf, correct) in curves.items():
        cov, risk = risk_coverage(conf, correct)
        ax.plot(cov, risk, label=f"{label} (AURC {risk.mean():.4f})")
    ax.set_xlabel("coverage (fraction answered)")
    ax.set_ylabel("risk (error rate of answered)")
    ax.set_xlim(0, 1)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    legend_with_colours(ax, fontsize=8)
    ax.figure.tight_layout()
    return ax


# ---- failure-mode probes ------------------------------------------------------------------------


def recolor_captions(scenes: Scenes) -> tuple[list[str], list[str]]:
    """(true, recoloured) captions where the second object gets the first colour absent from the
    scene: a control whose false caption has different words (a bag of words can tell them apart)."""
    if len(require_scenes("scenes", scenes)) == 0 or (scenes.n_objects < 2).any():
        raise ValueError("the control needs scenes with at least 2 objects (generate_scenes(..., min_objects=2))")
    colors = scenes.colors.copy()
    for i, row in enumerate(colors):
        colors[i, 1] = next(c for c in range(len(COLORS)) if c not in row)
    return make_captions(scenes), make_captions(replace(scenes, colors=colors))


def hard_negative_accuracy(model, tokenizer, scenes: Scenes, seed: int = 0) -> dict[str, float]:
    """For each kind of shapes_world.HARD_NEGATIVES, the fraction of multi-object scenes whose image scores its
    true caption (make_captions) above that hard negative (preference_accuracy; chance 0.5). The colour and
    shape swaps measure attribute binding, the relation swap ('Y left of X') the relation."""
    images = encode_images(model, require_scenes("scenes", scenes).images)
    true = encode_texts(model, tokenizer, make_captions(scenes))
    return {kind: preference_accuracy(images, true,
                                      encode_texts(model, tokenizer, hard_negative_captions(scenes, kind, seed)))
            for kind in HARD_NEGATIVES}


def caption_variants(caption: str) -> dict[str, str]:
    """A multi-object caption and its hard negatives: {"as typed": caption, kind: swap_caption(caption, kind)} for
    every kind of shapes_world.HARD_NEGATIVES (the attribute swaps exchange the first two objects)."""
    return {"as typed": caption, **{kind: swap_caption(caption, kind) for kind in HARD_NEGATIVES}}


def render_caption_probe(models: dict[str, tuple], scenes: Scenes, index: int, caption: str) -> plt.Figure | Markdown:
    """The binding widget's view: scene `index` beside the cosine of each model's image embedding with the typed
    caption and with its colour-swapped, shape-swapped and relation-swapped versions (caption_variants), each
    labelled [true] or [false] for the scene (shapes_world.caption_is_true). models: {name: (model, tokenizer)},
    at least one.

    Returns a Markdown message instead of raising when the caption cannot be parsed or has unknown words."""
    require_scenes("scenes", scenes)
    index = require_int("index", index, low=0, high=len(scenes) - 1)
    if not isinstance(models, dict) or not models or not all(isinstance(v, tuple) and len(v) == 2
                                                             for v in models.values()):
        raise TypeError(f"models must be a non-empty dict {{name: (model, tokenizer)}}, got {describe(models)}; "
                        "e.g. {'tiny CLIP': load_tiny_clip()}")
    if not isinstance(caption, str) or not caption.strip():
        return Markdown("Type a caption such as `a red circle left of a blue square` and press Enter.")
    try:
        variants = caption_variants(caption.strip().lower())
    except ValueError as err:
        return Markdown(f"**Cannot score this caption.** {err}")
    for model, tokenizer in models.values():
        missing = unknown_words(tokenizer, caption)
        if missing:
            return Markdown(unknown_words_message(tokenizer, caption, missing))
    texts = list(variants.values())
    labels = [f"{'[true] ' if caption_is_true(scenes, index, t) else '[false] '}{k}: {t}" for k, t in variants.items()]
    fig, (ax_img, ax) = plt.subplots(1, 2, figsize=(11, 3.1), gridspec_kw={"width_ratios": [1, 4]},
                                     layout="constrained")
    ax_img.imshow(scenes.images[index])
    ax_img.set_axis_off()
    ax_img.set_title(f"scene {index}", fontsize=9)
    width = 0.8 / len(models)
    y = np.arange(len(texts))
    for j, (name, (model, tokenizer)) in enumerate(models.items()):
        image = encode_images(model, scenes.images[index : index + 1])
        cos = (encode_texts(model, tokenizer, texts) @ image.T)[:, 0].numpy()
        ax.barh(y + j * width, cos, height=width, label=name)
        for yi, c in zip(y, cos):
            ax.text(c, yi + j * width, f" {c:.2f}", va="center", fontsize=7)
    ax.set_yticks(y + width * (len(models) - 1) / 2, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("cosine with the image")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=len(models), frameon=False)
    return fig


def preference_accuracy(
    image_embeddings: torch.Tensor, true_embeddings: torch.Tensor, false_embeddings: torch.Tensor
) -> float:
    """Fraction of images whose cosine to their true caption beats the cosine to the false one
    (ties count half; chance is 0.5). All inputs (N, D), row i belongs to image i."""
    require_array("image_embeddings", image_embeddings, ndim=2, dtype="f", torch_only=True)
    n, d = image_embeddings.shape
    require_array("true_embeddings", true_embeddings, shape=(n, d), dtype="f", torch_only=True)
    require_array("false_embeddings", false_embeddings, shape=(n, d), dtype="f", torch_only=True)
    s_true = (image_embeddings * true_embeddings).sum(dim=1)
    s_false = (image_embeddings * false_embeddings).sum(dim=1)
    return float(((s_true > s_false).float() + 0.5 * (s_true == s_false).float()).mean())


def position_captions(scenes: Scenes, template: int = 2) -> list[list[str]]:
    """Captions of single-object scenes with the object moved to each of the 9 grid cells:
    9 lists of N captions (training template `template` must mention {where}; default
    'a {color} {shape} {where}'). Caption list c is true for the scenes whose object is in cell c."""
    require_scenes("scenes", scenes)
    template = require_int("template", template, low=0, high=len(CAPTION_TEMPLATES) - 1)
    if "{where}" not in CAPTION_TEMPLATES[template]:
        raise ValueError(f"template {template} ({CAPTION_TEMPLATES[template]!r}) does not mention the position")
    if len(scenes) == 0 or (scenes.n_objects != 1).any():
        raise ValueError("position_captions needs single-object scenes (generate_scenes(..., max_objects=1))")
    out = []
    for cell in range(len(POSITIONS)):
        cells = scenes.cells.copy()
        cells[:, 0] = cell
        out.append(make_captions(replace(scenes, cells=cells), template=template))
    return out


def candidate_accuracy(image_embeddings: torch.Tensor, candidate_embeddings: torch.Tensor, answers) -> float:
    """Fraction of images whose most similar candidate is the right one.

    image_embeddings: (N, D); candidate_embeddings: (K, N, D), candidate k of image i in [k, i];
    answers: (N,) index of the true candidate of each image."""
    require_array("image_embeddings", image_embeddings, ndim=2, dtype="f", torch_only=True)
    n, d = image_embeddings.shape
    require_array("candidate_embeddings", candidate_embeddings, shape=(None, n, d), dtype="f", torch_only=True)
    answers = np.asarray(answers)
    require_array("answers", answers, shape=(n,), dtype="i")
    if answers.size and (answers.min() < 0 or answers.max() >= candidate_embeddings.shape[0]):
        raise ValueError(f"answers must be candidate indices in [0, {candidate_embeddings.shape[0] - 1}], "
                         f"got values {answers.min()}..{answers.max()}")
    scores = (candidate_embeddings * image_embeddings[None]).sum(dim=-1)  # (K, N)
    return float((scores.argmax(dim=0).numpy() == answers).mean())


def count_prompts(template: str = "there {is} {count} object{s}") -> list[str]:
    """One prompt per object count 1..MAX_OBJECTS, e.g. 'there is one object', 'there are two objects'.
    template: contains {count}; {is} and {s} (optional) agree with it: 'is'/'are' and ''/'s'."""
    if not isinstance(template, str) or "{count}" not in template:
        raise ValueError(f"template must be a string containing {{count}}, got {template!r}")
    agree = {n: {"is": "is" if n == 1 else "are", "s": "" if n == 1 else "s"} for n in range(1, MAX_OBJECTS + 1)}
    return [fill_template(template, count=COUNT_WORDS[n], **agree[n]) for n in range(1, MAX_OBJECTS + 1)]


# ---- linear probe and few-shot ------------------------------------------------------------------


def _require_features_labels(features, labels, n_classes: int) -> int:
    require_array("features", features, ndim=2, dtype="f", finite=True, torch_only=True)
    require_array("labels", labels, ndim=1, shape=(len(features),))
    n_classes = require_int("n_classes", n_classes, low=2)
    labels = torch.as_tensor(labels)
    if labels.is_floating_point() or len(labels) == 0 or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must be integers in [0, {n_classes - 1}] and not empty")
    return n_classes


def k_shot_indices(labels: np.ndarray, k: int, n_classes: int, seed: int = 0) -> np.ndarray:
    """(n_classes * k,) indices: k examples of each class drawn without replacement (seeded)."""
    labels = np.asarray(labels)
    require_array("labels", labels, ndim=1, dtype="i")
    k = require_int("k", k, low=1)
    n_classes = require_int("n_classes", n_classes, low=1)
    rng = np.random.default_rng(require_int("seed", seed, low=0))
    picks = []
    for c in range(n_classes):
        pool = np.flatnonzero(labels == c)
        if len(pool) < k:
            raise ValueError(f"class {c} has {len(pool)} examples, fewer than k = {k}")
        picks.append(rng.choice(pool, size=k, replace=False))
    return np.concatenate(picks)


def class_prototypes(features: torch.Tensor, labels: torch.Tensor | np.ndarray, n_classes: int) -> torch.Tensor:
    """(C, D) few-shot prototypes: mean of each class's normalised (N, D) features, renormalised."""
    n_classes = _require_features_labels(features, labels, n_classes)
    labels = torch.as_tensor(labels).long()
    counts = torch.bincount(labels, minlength=n_classes)
    if (counts == 0).any():
        raise ValueError(f"classes {torch.nonzero(counts == 0).flatten().tolist()} have no examples")
    sums = torch.zeros(n_classes, features.shape[1], dtype=features.dtype).index_add_(
        0, labels, F.normalize(torch.as_tensor(features), dim=-1)
    )
    return F.normalize(sums, dim=-1)


def fit_linear_probe(
    features: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    n_classes: int,
    *,
    steps: int = 300,
    lr: float = 0.05,
    weight_decay: float = 1e-4,
    seed: int = 0,
    progress: bool = False,
) -> torch.nn.Linear:
    """Multinomial logistic regression on frozen (N, D) features, trained full-batch with the
    course's training loop (AdamW, cosine schedule) on one CPU thread. Returns the fitted (D -> C) layer."""
    n_classes = _require_features_labels(features, labels, n_classes)
    torch.manual_seed(require_int("seed", seed, low=0))
    x, y = torch.as_tensor(features).float(), torch.as_tensor(labels).long()
    probe = torch.nn.Linear(x.shape[1], n_classes)
    with torch_threads(1):  # a tiny problem: one thread is fastest, and the fit no longer depends on the thread count
        train(
            probe,
            lambda step: (x, y),
            lambda m, b: F.cross_entropy(m(b[0]), b[1]),
            steps=steps,
            lr=lr,
            weight_decay=weight_decay,
            progress=progress,
            desc="linear probe",
        )
    return probe


@torch.no_grad()
def probe_predict(probe: torch.nn.Linear, features: torch.Tensor) -> torch.Tensor:
    """(N,) argmax class of a fitted linear probe on (N, D) features."""
    if not isinstance(probe, torch.nn.Linear):
        raise TypeError(f"probe must be a torch.nn.Linear from fit_linear_probe, got {type(probe).__name__}")
    require_array("features", features, ndim=2, shape=(None, probe.in_features), dtype="f", torch_only=True)
    return probe(torch.as_tensor(features).float()).argmax(dim=1)


# ---- text-to-image search ----------------------------------------------------------------------


def render_search(
    model,
    tokenizer,
    gallery_images: np.ndarray,
    gallery_embeddings: torch.Tensor,
    prompt: str,
    k: int = 8,
    titles: Sequence[str] | None = None,
) -> plt.Figure | Markdown:
    """The search widget's view: the top-k gallery images for a typed prompt, with their cosines.

    Returns a figure, or a Markdown message when the prompt is empty or has words the tiny model
    does not know (it never raises on what a learner types)."""
    require_array("gallery_images", gallery_images, ndim=4, dtype="uint8")
    require_array("gallery_embeddings", gallery_embeddings, ndim=2, shape=(len(gallery_images), None))
    if titles is not None and len(titles) != len(gallery_images):
        raise ValueError(f"got {len(gallery_images)} gallery images but {len(titles)} titles")
    if not isinstance(prompt, str) or not prompt.strip():
        return Markdown("Type a prompt, e.g. `a red circle`, and press Enter.")
    missing = unknown_words(tokenizer, prompt)
    if missing:
        return Markdown(unknown_words_message(tokenizer, prompt, missing))
    k = require_int("k", k, low=1, high=len(gallery_images))
    idx, scores = rank_gallery(encode_texts(model, tokenizer, [prompt]), gallery_embeddings, k)
    idx, scores = idx[0].tolist(), scores[0].tolist()
    labels = [
        f"#{r + 1} cos {s:.2f}" + (f"\n{titles[i]}" if titles is not None else "")
        for r, (i, s) in enumerate(zip(idx, scores))
    ]
    fig = plot_images(gallery_images[idx], labels, cols=min(k, 8), size=1.5)
    fig.suptitle(f"top {k} of {len(gallery_images)} for {prompt!r}", fontsize=10)
    return fig
