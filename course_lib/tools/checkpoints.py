"""The checkpoints the course ships in data/, and the one command that rebuilds each.

    python -m course_lib.tools.checkpoints tiny_clip      # or: all   (make checkpoints)
    python -m course_lib.tools.checkpoints siglip_study   # notebook 03's small-batch study over seeds

Each builder trains deterministically with its recipe and thread count from recipes.CHECKPOINTS and
writes a save_pretrained folder data/<name>/ with safetensors weights, config, tokenizer and
metrics.json (the metrics of the run that made it, the command, the seconds it took).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..base.paths import DATA_DIR, data_path
from ..base.seeding import torch_threads
from ..models.causal_lm import (
    build_tiny_lm,
    load_reader_lm,
    load_tiny_lm,
    perplexity,
    pretrain_lm,
    text_corpus,
    train_reader,
)
from ..models.clip import build_tiny_clip, load_tiny_clip, save_tiny_clip
from ..models.dual_encoder import train_dual_encoder
from ..models.llava import (
    build_processor,
    build_tiny_llava,
    eval_set,
    evaluate,
    sliced_metrics,
    train_two_stages,
    vqa_metrics,
)
from ..recipes import CHECKPOINTS, CLIP_POSITION_WARMUP, CLIP_SCENE_VARIANTS, SEEDS, SIGLIP_STUDY, STUDY_SEEDS
from ..retrieval import retrieval_metrics
from ..shapes_world import generate_scenes, make_captions, make_descriptions
from ..studies import study_over_seeds
from ..tokenizer import build_tokenizer
from ..zero_shot import evaluate_zero_shot, hard_negative_accuracy, zero_shot_accuracy


def build_tiny_clip_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Train the shipped tiny CLIP deterministically, save it into `folder` and return its metrics
    (zero-shot seen/held-out, retrieval, final loss, steps, seconds)."""
    plan = CHECKPOINTS["tiny_clip"]
    tokenizer = build_tokenizer()
    model = build_tiny_clip(tokenizer, seed=plan.recipe.seed, **asdict(plan.size))
    with torch_threads(plan.threads):  # the same float sums everywhere, and no slow-down when cores are shared
        result = train_dual_encoder(model, tokenizer, **asdict(plan.recipe), desc="tiny CLIP (checkpoint)")
        save_tiny_clip(model, tokenizer, folder)
        test = generate_scenes(256, seed=SEEDS.clip_retrieval, split="all", max_objects=1)
        return {
            "recipe": {**asdict(plan.recipe), **asdict(plan.size), "threads": plan.threads},
            "zero_shot": evaluate_zero_shot(model, tokenizer, 1000, SEEDS.clip_zero_shot),
            "retrieval_256": retrieval_metrics(model, tokenizer, test, make_captions(test, seed=0, template=6)),
            "final_loss": round(float(np.mean(result.losses[-50:])), 4),
            "train_seconds": round(result.seconds, 1),
            "logit_scale": round(model.logit_scale.exp().item(), 3),
        }


def scene_clip_metrics(model, tokenizer) -> dict[str, Any]:
    """What notebook 04 section 7 compares, on fixed held-out sets of 1,000 (recipes.SEEDS): zero-shot on single
    objects of held-out compositions (and the tiny CLIP's own zero-shot set); binding (colour and shape swaps) and
    relation (relation swap) on 2-3-object scenes of unseen seeds ("train": seen compositions) and of held-out
    compositions, and relation on 2-object scenes; recall@1/5 over 1,000 scenes of 2-3 objects and their captions."""
    objects = generate_scenes(1000, seed=SEEDS.clip_held_out_objects, split="held_out")
    out: dict[str, Any] = {
        "zero_shot_held_out_objects": round(zero_shot_accuracy(model, tokenizer, objects)["held_out"], 4),
        "zero_shot": evaluate_zero_shot(model, tokenizer, 1000, SEEDS.clip_zero_shot)}
    for split in ("train", "held_out"):
        scenes = generate_scenes(1000, seed=SEEDS.clip_scenes, min_objects=2, max_objects=3, split=split)
        pairs = generate_scenes(1000, seed=SEEDS.clip_pairs, min_objects=2, max_objects=2, split=split)
        out[f"scenes_2_3_{split}"] = {k: round(v, 4)
                                      for k, v in hard_negative_accuracy(model, tokenizer, scenes).items()}
        out[f"relation_2_{split}"] = round(hard_negative_accuracy(model, tokenizer, pairs)["relation swap"], 4)
    gallery = generate_scenes(1000, seed=SEEDS.clip_scene_retrieval, min_objects=2, max_objects=3)
    recall = retrieval_metrics(model, tokenizer, gallery, make_captions(gallery))
    out["retrieval_scenes_1000"] = {k: round(v, 4) for k, v in recall.items()}
    return out


def build_tiny_clip_scene_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Train the three CLIPs of recipes.CLIP_SCENE_VARIANTS, each after the same position warm-up
    (CLIP_POSITION_WARMUP; same size, steps, batch, seeds: only stage 2's data differ), measure each with
    scene_clip_metrics, save the shipped one (scene mix with hard negatives) into `folder`."""
    plan = CHECKPOINTS["tiny_clip_scene"]
    variants: dict[str, Any] = {}
    for name, recipe in CLIP_SCENE_VARIANTS.items():
        tokenizer = build_tokenizer()
        model = build_tiny_clip(tokenizer, seed=CLIP_POSITION_WARMUP.seed, **asdict(plan.size))
        with torch_threads(plan.threads):
            warm = train_dual_encoder(model, tokenizer, **asdict(CLIP_POSITION_WARMUP), desc=f"{name}: stage 1")
            result = train_dual_encoder(model, tokenizer, **asdict(recipe), desc=f"{name}: stage 2")
            variants[name] = {"recipe": asdict(recipe), "train_seconds": round(warm.seconds + result.seconds, 1),
                              "final_loss": round(float(np.mean(result.losses[-50:])), 4),
                              "logit_scale": round(model.logit_scale.exp().item(), 3),
                              **scene_clip_metrics(model, tokenizer)}
        if recipe == plan.recipe:
            save_tiny_clip(model, tokenizer, folder)
    return {"recipe": {"stage1": asdict(CLIP_POSITION_WARMUP), "stage2": asdict(plan.recipe), **asdict(plan.size),
                       "threads": plan.threads},
            "shipped": next(k for k, r in CLIP_SCENE_VARIANTS.items() if r == plan.recipe), "variants": variants}


def lm_config_fields(model: Any) -> dict[str, int]:
    """The sizes of a tiny LM's config that its metrics.json records."""
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "vocab_size")
    return {k: getattr(model.config, k) for k in keys}


def build_lm_checkpoint(name: str, folder: str | Path, train_fn: Callable[..., Any],
                        measure: Callable[[Any, Any], dict[str, Any]]) -> dict[str, Any]:
    """A fresh seeded LM of checkpoint `name`'s size, trained by train_fn(model, tokenizer, **recipe), saved (with
    the tokenizer) into `folder`; its metrics: recipe and config, parameters, measure(model, tokenizer), final
    loss and seconds."""
    plan = CHECKPOINTS[name]
    tokenizer = build_tokenizer()
    model = build_tiny_lm(tokenizer, seed=plan.recipe.seed, **asdict(plan.size))
    with torch_threads(plan.threads):
        result = train_fn(model, tokenizer, **asdict(plan.recipe), desc=f"{name} (checkpoint)")
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {
            "recipe": {**asdict(plan.recipe), "config": lm_config_fields(model), "threads": plan.threads},
            "parameters": sum(p.numel() for p in model.parameters()),
            **measure(model, tokenizer),
            "final_loss": round(float(np.mean(result.losses[-50:])), 4),
            "train_seconds": round(result.seconds, 1),
        }


def build_tiny_lm_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Pre-train the shipped tiny LM into `folder`; its metrics include the held-out perplexity."""
    return build_lm_checkpoint("tiny_lm", folder, pretrain_lm, lambda model, tokenizer: {
        "held_out_perplexity": round(perplexity(model, tokenizer, text_corpus(512, SEEDS.lm_held_out)), 4)})


def reading_metrics(lm: Any, tokenizer: Any) -> dict[str, dict[str, float]]:
    """Exact match per question type of the LM alone on notebook 05's held-out questions, each asked after its
    scene's full description, after its caption, and with no context."""
    from ..models.bridges import caption_answers

    scenes, qa = eval_set(1000, SEEDS.llava_eval)
    contexts = {"description": make_descriptions(scenes, seed=0),
                "caption": make_captions(scenes, seed=0), "none": [""] * len(scenes)}
    questions = [q.question for q in qa]
    return {name: {k: round(v, 4) for k, v in vqa_metrics(
        qa, caption_answers(lm, tokenizer, [texts[q.scene] for q in qa], questions)).items()}
        for name, texts in contexts.items()}


def build_tiny_lm_reader_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Train the reading LM (the tiny LM's architecture, from scratch, on answers after a scene's description)
    into `folder`; its metrics: how it answers with a description, a caption and no context, and the same
    for the shipped tiny LM of notebook 05."""
    return build_lm_checkpoint("tiny_lm_reader", folder, train_reader, lambda model, tokenizer: {
        "reading": reading_metrics(model, tokenizer), "tiny_lm_reading": reading_metrics(*load_tiny_lm())})


def build_tiny_llava_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Train the shipped tiny LLaVA (shipped tiny CLIP tower + the LM of its recipe) and its blind baseline,
    save the LLaVA (and tokenizer, processor) into `folder` and the blind baseline into folder/blind, and return
    both evaluations: on notebook 05's 1,000 held-out questions, and on 3,000 others with every slice by question
    type and object count (sliced_metrics: large enough to judge a slice of about 150 questions)."""
    plan = CHECKPOINTS["tiny_llava"]
    r = plan.recipe
    clip, _ = load_tiny_clip()
    sets = {"eval_1000": eval_set(1000, SEEDS.llava_eval), "eval_3000": eval_set(3000, SEEDS.llava_eval_large)}
    results: dict[str, Any] = {}
    for blind in (False, True):
        lm, tokenizer = load_tiny_lm()
        model = build_tiny_llava(clip, lm, tokenizer, seed=r.seed)
        name = "blind" if blind else "llava"
        with torch_threads(plan.threads):
            first, second = train_two_stages(model, tokenizer, **asdict(r), blind=blind)
            for key, (scenes, qa) in sets.items():
                metrics, predictions = evaluate(model, tokenizer, scenes, qa, blind=blind)
                results.setdefault(key, {})[name] = {k: round(v, 4) for k, v in metrics.items()}
                if key == "eval_3000":
                    results[key][f"{name}_slices"] = sliced_metrics(scenes, qa, predictions)
        results[f"{name}_train_seconds"] = round((first.seconds if first else 0.0) + second.seconds, 1)
        if not blind:
            results["stage1_final_loss"] = round(float(np.mean(first.losses[-20:])), 4)
            results["stage2_final_loss"] = round(float(np.mean(second.losses[-20:])), 4)
        out = Path(folder) / ("blind" if blind else "")
        model.save_pretrained(out)
        build_processor(tokenizer).save_pretrained(out)
    notebook = results.pop("eval_1000")  # top level: what notebook 05 re-measures
    large = {"questions": len(sets["eval_3000"][1]), "seed": SEEDS.llava_eval_large, **results.pop("eval_3000")}
    return {"recipe": asdict(r), "eval": {"questions": len(sets["eval_1000"][1]), "seed": SEEDS.llava_eval},
            **notebook, "eval_3000": large, **results}


# name -> builder (takes the output folder, returns a metrics dict); ordered so upstream models come first.
def build_bridges_checkpoint(folder: str | Path) -> dict[str, Any]:
    """Notebook 06's comparison (metrics only) over the shipped tiny CLIP tower (frozen, features cached) and the
    reading LM (data/tiny_lm_reader), evaluated on notebook 05's held-out questions: every row of
    recipes.BRIDGE_ROWS with the LM frozen (BRIDGES_CHECKPOINT, "rows"), the same rows with the LM trained
    (BRIDGES_LM_TRAINED, "lm_trained"), BRIDGE_ONE_TURN_ROWS (BRIDGES_ONE_TURN, "one_turn": InstructBLIP, its
    attention maps, and its control), BRIDGE_ABLATIONS ("ablation": the Q-Former K = 8, LM trained, without
    positions or without the slot loss); also the frozen LM without an image (IDEFICS at initialisation is
    exactly that LM). The results so far are written to folder/metrics.partial.json after every row."""
    from ..models import bridges as br
    from ..recipes import BRIDGE_ABLATIONS, BRIDGE_ONE_TURN_ROWS, BRIDGE_ROWS, BRIDGES_LM_TRAINED, BRIDGES_ONE_TURN

    spec = CHECKPOINTS["bridges"]
    r = spec.recipe
    partial = Path(folder) / "metrics.partial.json"
    with torch_threads(spec.threads):
        clip, _ = load_tiny_clip()
        raw_pool = br.feature_pool(clip, r.pool_scenes, SEEDS.bridges_pool, r.turns)
        scenes, qa = eval_set(1000, SEEDS.llava_eval)
        raw_features = br.vision_features(clip, scenes.images)

        def recipe(rec: Any) -> dict[str, Any]:
            return {**asdict(rec), "pool_seed": SEEDS.bridges_pool, "lm": "trained" if rec.train_lm else "frozen",
                    "vision tower": "frozen, features cached"}

        results: dict[str, Any] = {"recipe": recipe(r), "eval": {"questions": len(qa), "seed": SEEDS.llava_eval},
                                   "rows": {}, "lm_trained": {"recipe": recipe(BRIDGES_LM_TRAINED), "rows": {}},
                                   "one_turn": {"recipe": recipe(BRIDGES_ONE_TURN), "rows": {}},
                                   "ablation": {"recipe": recipe(BRIDGES_LM_TRAINED), "rows": {}}}
        plan = [(rows, rec, False, results[key]["rows"] if key else results["rows"])
                for key, rows, rec in (("", BRIDGE_ROWS, r), ("lm_trained", BRIDGE_ROWS, BRIDGES_LM_TRAINED))]
        plan.append((BRIDGE_ONE_TURN_ROWS, BRIDGES_ONE_TURN, True, results["one_turn"]["rows"]))
        plan += [((row,), rec, False, results["ablation"]["rows"]) for row, rec in BRIDGE_ABLATIONS]
        for rows, rec, one_turn, out in plan:
            pool = replace(raw_pool, features=br.add_positions(raw_pool.features, rec.positions))
            scene_features = br.add_positions(raw_features, rec.positions)
            for name, kind, tokens in rows:
                lm, tokenizer = load_reader_lm()
                model = br.build_bridge_vlm(kind, lm, tokenizer, num_tokens=max(tokens, 1), seed=rec.seed,
                                            train_lm=rec.train_lm)
                if kind == "xattn" and not rec.train_lm:
                    results["frozen_lm_no_image"] = {
                        k: round(v, 4) for k, v in br.evaluate_bridge(model, tokenizer, scene_features, qa).items()}
                history: list[dict[str, float]] = []
                slots = {"slot_loss": rec.slot_loss, "slot_steps": rec.slot_steps} if kind in br.POOLING_KINDS else {
                    "slot_loss": 0.0, "slot_steps": 0}
                run = br.train_bridge(model, tokenizer, pool, steps=rec.steps, batch_size=rec.batch_size, lr=rec.lr,
                                      seed=rec.seed, desc=name, one_turn=one_turn, **slots,
                                      after_step=br.gate_history_hook(history) if kind == "xattn" else None)
                row = {"kind": kind, "visual_tokens": model.num_image_tokens, "one_turn": one_turn,
                       "positions": rec.positions, **slots,
                       "trainable_parameters": br.trainable_parameters(model),
                       "metrics": {k: round(v, 4)
                                   for k, v in br.evaluate_bridge(model, tokenizer, scene_features, qa).items()},
                       "final_loss": round(float(np.mean(run.losses[-20:])), 4),
                       "train_seconds": round(run.seconds, 1), "losses": [round(x, 4) for x in run.losses[::10]]}
                if history:
                    row["gates"] = history
                if br.reads_instruction(model):  # does the question steer the queries? (notebook 06, section 8)
                    share = br.named_object_share(model, tokenizer, scenes, scene_features)
                    row["named_object_share"] = {k: round(v, 4) for k, v in share.items()}
                    row["example_maps"] = br.example_maps(model, tokenizer, scenes, scene_features)
                out[name] = row
                partial.write_text(json.dumps(results, indent=2) + "\n")
    partial.unlink()
    return results


BUILDERS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "tiny_clip": build_tiny_clip_checkpoint,
    "tiny_clip_scene": build_tiny_clip_scene_checkpoint,
    "tiny_lm": build_tiny_lm_checkpoint,
    "tiny_llava": build_tiny_llava_checkpoint,  # needs tiny_clip and tiny_lm
    "tiny_lm_reader": build_tiny_lm_reader_checkpoint,  # its metrics read tiny_lm too
    "bridges": build_bridges_checkpoint,  # metrics only; needs tiny_clip, tiny_lm_reader
}


def build_siglip_study(folder: str | Path) -> dict[str, Any]:
    """Notebook 03's small-batch study (recipes.SIGLIP_STUDY) over recipes.STUDY_SEEDS on one thread: no
    weights, only the metrics (every run and the mean, spread, min and max over seeds). A few minutes."""
    study = {**asdict(SIGLIP_STUDY), "threads": 1}
    return {"recipe": study, **study_over_seeds(STUDY_SEEDS, progress=False, **study)}


# Studies ship only their metrics.json in data/<name>/ (not checkpoints: `all` does not rebuild them).
STUDY_BUILDERS: dict[str, Callable[[Path], dict[str, Any]]] = {"siglip_study": build_siglip_study}


def load_metrics(name: str) -> dict[str, Any]:
    """The metrics.json shipped with checkpoint `name`."""
    return json.loads((data_path(name) / "metrics.json").read_text())


def build(name: str) -> dict[str, Any]:
    """Rebuild checkpoint `name` into data/<name>/ and write its metrics.json."""
    builders = {**BUILDERS, **STUDY_BUILDERS}
    if name not in builders:
        raise ValueError(f"unknown checkpoint or study {name!r}; known: {sorted(builders)}")
    folder = DATA_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    metrics = builders[name](folder)
    import torch
    import transformers

    metrics = {
        **metrics,
        "build_seconds": round(time.perf_counter() - start, 1),
        "command": f"python -m course_lib.tools.checkpoints {name}",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    known = f"checkpoints to rebuild: {sorted(BUILDERS)} or 'all'; studies: {sorted(STUDY_BUILDERS)}"
    parser.add_argument("names", nargs="+", help=known)
    args = parser.parse_args(argv)
    names = list(BUILDERS) if args.names == ["all"] else args.names
    for name in names:
        print(f"== {name}")
        print(json.dumps(build(name), indent=2))


if __name__ == "__main__":
    main()
