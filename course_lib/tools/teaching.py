"""`make teaching`: write the generated parts of the instructor guide, docs/teaching.md.

    python -m course_lib.tools.teaching            # rewrite the generated blocks (what `make teaching` runs)
    python -m course_lib.tools.teaching --check    # exit 1 if a number is stale beyond the tolerance

The guide is hand-written prose (lesson plans, discussion questions, the syllabus) around blocks
this command owns, one per notebook, between `<!-- BEGIN GENERATED facts NN -->` and
`<!-- END GENERATED facts NN -->`. Each block holds every number the guide quotes, with its
source: run times and peak memory from BENCHMARKS.md (`make bench`), the live training runs
from BENCHMARKS.md, each section's share of the run time (from the committed notebook's cell
timings, scaled to the benchmark total), the shipped checkpoints' metrics (data/*/metrics.json),
and the exercises with the hints of their registered mistakes (course_lib.exercises).

A notebook without a section in the guide (06-08 as they land) gets one appended: its heading,
a line saying its lesson plan is not written yet, and its generated block. The tolerance used
by --check and the tests: run times within a factor of 2 (or 5 s), memory within 25 %, every
other number within 0.01; any other difference in a block is stale.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat

from ..base.paths import DATA_DIR, NOTEBOOKS_DIR, REPO_DIR
from ..exercises import exercises

GUIDE = REPO_DIR / "docs" / "teaching.md"
BENCHMARKS = REPO_DIR / "BENCHMARKS.md"
BLOCK = re.compile(r"<!-- BEGIN GENERATED facts (\d\d) -->\n(.*?)<!-- END GENERATED facts \1 -->", re.DOTALL)
# Shipped-checkpoint metrics each notebook shows its learners: (checkpoint, dotted key in metrics.json, meaning).
# A new notebook that loads a checkpoint adds its line here.
CHECKPOINT_FACTS: dict[str, list[tuple[str, str, str]]] = {
    "02": [("tiny_clip", "zero_shot.seen", "zero-shot accuracy, seen colour-shape compositions"),
           ("tiny_clip", "zero_shot.held_out", "zero-shot accuracy, held-out compositions"),
           ("tiny_clip", "retrieval_256.i2t_r1", "image-to-text recall@1 among 256 pairs"),
           ("tiny_clip", "train_seconds", "training time of the checkpoint (s, 1 thread)")],
    "04": [("tiny_clip", "zero_shot.seen", "zero-shot accuracy, seen compositions"),
           ("tiny_clip", "zero_shot.held_out", "zero-shot accuracy, held-out compositions"),
           ("tiny_clip_scene", "variants.scene_mix_hard_negatives.relation_2_held_out",
            "scene CLIP (hard negatives): relation swap, 2-object scenes of held-out compositions"),
           ("tiny_clip_scene", "variants.scene_mix.relation_2_held_out",
            "the same recipe without hard negatives: relation swap, same scenes"),
           ("tiny_clip_scene", "variants.scene_mix_hard_negatives.train_seconds",
            "training time of the scene CLIP (s, 1 thread, both stages)")],
    "05": [("tiny_lm", "held_out_perplexity", "tiny LM held-out perplexity"),
           ("tiny_llava", "llava.overall", "tiny LLaVA exact match, all question types"),
           ("tiny_llava", "blind.overall", "the same LM trained without the image (blind baseline)"),
           ("tiny_llava", "llava.yes_rate_absent", "tiny LLaVA 'yes' rate on absent objects"),
           ("tiny_llava", "blind.yes_rate_absent", "blind baseline 'yes' rate on absent objects"),
           ("tiny_llava", "llava_train_seconds", "training time of the checkpoint (s)")],
    "06": [("tiny_lm_reader", "reading.description.color",
            "the reading LM: colour, answered from the scene's description in text"),
           ("tiny_lm_reader", "tiny_lm_reading.description.color",
            "notebook 05's tiny LM: colour, from the same description"),
           ("bridges", "rows.qformer_8.metrics.overall",
            "Q-Former K=8 (reading LM frozen, 1,000 steps) exact match, all question types"),
           ("bridges", "lm_trained.rows.qformer_8.metrics.overall",
            "Q-Former K=8 (reading LM trained, 1,300 steps) exact match, all question types"),
           ("bridges", "lm_trained.rows.qformer_8.metrics.position",
            "Q-Former K=8 (LM trained): position, with 2-D positions, the slot loss and its stage"),
           ("bridges", "ablation.rows.qformer_8_no_slots.metrics.position",
            "the same without the slot loss: position"),
           ("bridges", "ablation.rows.qformer_8_no_positions.metrics.position",
            "the same without the positions: position"),
           ("bridges", "lm_trained.rows.qformer_16.metrics.position",
            "Q-Former K=16 (LM trained): position, with both levers and the slot stage"),
           ("tiny_llava", "blind.overall", "the blind baseline they are compared with")],
}
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s?(?:s|MB)\b)?")


@dataclass(frozen=True)
class Bench:
    """What BENCHMARKS.md says: {notebook stem: (seconds, peak MB)}, live runs, and its date."""

    notebooks: dict[str, tuple[float, float]]
    live: dict[str, list[tuple[str, dict[str, str]]]]
    date: str


def read_benchmarks(path: Path = BENCHMARKS) -> Bench:
    """Parse the notebook and live-training tables of BENCHMARKS.md."""
    text = path.read_text()
    notebooks = {m[1]: (float(m[2]), float(m[3]))
                 for m in re.finditer(r"^\| (\d\d_\w+)\.ipynb \| ([\d.]+) \| ([\d.]+) \| ok \|$", text, re.MULTILINE)}
    live: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for m in re.finditer(r"^\| (\d\d_\w+)\.ipynb \| ([\w.-]+) \| ((?:\w+=[^,|]+,? ?)+)\|$", text, re.MULTILINE):
        live.setdefault(m[1], []).append((m[2], dict(kv.split("=", 1) for kv in m[3].strip().split(", "))))
    date = re.search(r"\d{4}-\d\d-\d\d", text)
    return Bench(notebooks, live, date.group(0) if date else "undated")


def section_shares(nb: nbformat.NotebookNode) -> dict[str, float]:
    """Each `## ` section's share of the notebook's recorded cell time (empty if no timings were saved)."""
    seconds: dict[str, float] = {}
    section = "setup"
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("## "):
                    section = line[3:].strip()
        elif cell.cell_type == "code":
            timing = cell.metadata.get("execution", {})
            start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
            if start and end:
                spent = (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z")))
                seconds[section] = seconds.get(section, 0.0) + spent.total_seconds()
    total = sum(seconds.values())
    return {k: v / total for k, v in seconds.items()} if total > 0 else {}


def _short(section: str) -> str:
    """'7 · Batch size, ...' -> '§7'; unnumbered sections keep their name."""
    number = re.match(r"(\d+) · ", section)
    return f"§{number[1]}" if number else section


def _metric(name: str, dotted: str) -> float:
    value = json.loads((DATA_DIR / name / "metrics.json").read_text())
    for part in dotted.split("."):
        value = value[part]
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def facts_block(notebook: Path, bench: Bench) -> str:
    """The generated block of one notebook (markdown, ends with a newline)."""
    number, stem = notebook.name[:2], notebook.stem
    lines = [f"*Generated by `make teaching` from BENCHMARKS.md ({bench.date}, 2 CPU cores), data/*/metrics.json "
             "and the exercise checks; do not edit by hand.*", ""]
    if stem in bench.notebooks:
        seconds, peak = bench.notebooks[stem]
        lines.append(f"- **Whole notebook:** {seconds:.0f} s, peak {peak:.0f} MB (Run All, fresh kernel).")
        shares = section_shares(nbformat.read(notebook, as_version=4))
        if shares:
            times = " · ".join(f"{_short(name)} {share * seconds:.0f} s" for name, share in shares.items())
            lines.append(f"- **Seconds per section** (its share of the committed run, applied to that total): {times}.")
    else:
        lines.append("- **Whole notebook:** not in BENCHMARKS.md yet (run `make bench`).")
    for run, values in bench.live.get(stem, []):
        shown = ", ".join(f"{v} s" if k == "seconds" else f"{k} {v}" for k, v in values.items())
        lines.append(f"- **Live training `{run}`:** {shown}.")
    for name, key, meaning in CHECKPOINT_FACTS.get(number, []):
        lines.append(f"- **Shipped `{name}`** ({key}): {_fmt(_metric(name, key))}, {meaning}.")
    registered = exercises(f"{number}.")
    if registered:
        lines += ["", "**Exercises and the mistakes their checks recognise** (each with the hint it prints):", ""]
        for key, ex in registered.items():
            lines.append(f"- `{key}`: {ex.task}")
            lines += [f"  - *Mistake:* {hint}" for _, hint in ex.mistakes]
    else:
        lines += ["", "No exercise checks are registered for this notebook yet."]
    return "\n".join(lines) + "\n"


def render(guide_text: str, notebooks_dir: Path = NOTEBOOKS_DIR, bench: Bench | None = None) -> str:
    """The guide with every generated block rewritten, and a section appended for each notebook without one."""
    bench = bench or read_benchmarks()
    notebooks = {p.name[:2]: p for p in sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))}

    def fill(m: re.Match) -> str:
        notebook = notebooks.get(m[1])
        body = facts_block(notebook, bench) if notebook else "*This notebook is not in the course yet.*\n"
        return f"<!-- BEGIN GENERATED facts {m[1]} -->\n{body}<!-- END GENERATED facts {m[1]} -->"

    text = BLOCK.sub(fill, guide_text)
    present = {number for number, _ in BLOCK.findall(text)}
    for number, notebook in notebooks.items():
        if number not in present:
            title = _title(notebook)
            text = text.rstrip("\n") + (
                f"\n\n## Notebook {title}\n\n*Lesson plan not written yet: write it above this notebook's generated "
                f"block, following the sections of notebooks 00-05.*\n\n<!-- BEGIN GENERATED facts {number} -->\n"
                f"{facts_block(notebook, bench)}<!-- END GENERATED facts {number} -->\n")
    return text


def _title(notebook: Path) -> str:
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return notebook.stem


def _close(old: str, new: str, unit: str) -> bool:
    a, b = float(old), float(new)
    if unit.strip() == "s":
        return abs(a - b) <= 5 or max(a, b) <= 2 * min(a, b)
    if unit.strip() == "MB":
        return abs(a - b) <= 0.25 * max(a, b)
    return abs(a - b) <= 0.01


def stale_blocks(guide_text: str, fresh_text: str) -> list[str]:
    """Why the guide's blocks differ from freshly generated ones beyond the tolerance ([] if they do not)."""
    old, new = dict(BLOCK.findall(guide_text)), dict(BLOCK.findall(fresh_text))
    problems = [f"notebook {n}: no generated block in the guide" for n in sorted(set(new) - set(old))]
    for number in sorted(set(old) & set(new)):
        a, b = old[number], new[number]
        if NUMBER.sub("#", a) != NUMBER.sub("#", b):
            problems.append(f"notebook {number}: the block's text changed")
            continue
        for x, y in zip(NUMBER.finditer(a), NUMBER.finditer(b)):
            if not _close(x[1], y[1], y[2] or ""):
                problems.append(f"notebook {number}: {x[0].strip()} is now {y[0].strip()}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.teaching", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale numbers instead of rewriting the guide")
    args = parser.parse_args(argv)
    current = GUIDE.read_text()
    fresh = render(current)
    if args.check:
        problems = stale_blocks(current, fresh)
        for problem in problems:
            print(problem)
        if problems:
            print("docs/teaching.md is out of date: run `make teaching`.")
        return 1 if problems else 0
    GUIDE.write_text(fresh)
    print(f"wrote {GUIDE.relative_to(REPO_DIR)} ({len(BLOCK.findall(fresh))} generated blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
