"""The checkpoints the course ships in data/, and the one command that rebuilds each.

    python -m course_lib.checkpoints tiny_clip      # or: all   (make checkpoints)

Each builder trains deterministically (seed_everything, 1 thread) and writes a
save_pretrained folder data/<name>/ with safetensors weights, config, tokenizer and
metrics.json (the metrics of the run that made it, the command, the seconds it took).
"""
from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path
from typing import Any

from .paths import DATA_DIR, data_path

# name -> "module:function"; the function takes the output folder and returns a metrics dict.
BUILDERS: dict[str, str] = {
    "tiny_clip": "course_lib.clip_model:build_checkpoint",
    "tiny_lm": "course_lib.causal_lm:build_checkpoint",
    "tiny_llava": "course_lib.llava:build_checkpoint",  # needs tiny_clip and tiny_lm
}


def load_metrics(name: str) -> dict[str, Any]:
    """The metrics.json shipped with checkpoint `name`."""
    return json.loads((data_path(name) / "metrics.json").read_text())


def build(name: str) -> dict[str, Any]:
    """Rebuild checkpoint `name` into data/<name>/ and write its metrics.json."""
    if name not in BUILDERS:
        raise ValueError(f"unknown checkpoint {name!r}; known: {sorted(BUILDERS)}")
    module, function = BUILDERS[name].split(":")
    folder = DATA_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    metrics = getattr(importlib.import_module(module), function)(folder)
    import torch
    import transformers

    metrics = {
        **metrics,
        "build_seconds": round(time.perf_counter() - start, 1),
        "command": f"python -m course_lib.checkpoints {name}",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help=f"checkpoints to rebuild: {sorted(BUILDERS)} or 'all'")
    args = parser.parse_args(argv)
    names = list(BUILDERS) if args.names == ["all"] else args.names
    for name in names:  # BUILDERS is ordered so that upstream models are built first
        print(f"== {name}")
        print(json.dumps(build(name), indent=2))


if __name__ == "__main__":
    main()
