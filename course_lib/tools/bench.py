"""Benchmark command (not a test): run every notebook in a fresh kernel and report wall time and
peak memory, plus the training time and metrics of each tiny model; write BENCHMARKS.md.

    python -m course_lib.tools.bench                  # all notebooks (make bench)
    python -m course_lib.tools.bench 02_clip 04       # only notebooks whose name starts so

Notebooks report live-training numbers by calling `report(...)`, which prints one line
"[bench] <name>: key=value ..." that this command collects from the executed outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..base.paths import DATA_DIR, NOTEBOOKS_DIR, REPO_DIR

BENCH_LINE = re.compile(r"^\[bench\] (?P<name>[\w.-]+): (?P<values>.*)$", re.MULTILINE)


def report(name: str, **metrics: Any) -> None:
    """Print one benchmark line for the bench command to collect, e.g. report("clip_live", seconds=61.2)."""
    if not re.fullmatch(r"[\w.-]+", name):
        raise ValueError(f"benchmark name must be letters, digits, '_', '.' or '-', got {name!r}")
    values = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
    print(f"[bench] {name}: {values}")


def parse_reports(text: str) -> dict[str, dict[str, str]]:
    """Collect the `report` lines in `text`: {name: {key: value}}."""
    return {m["name"]: dict(kv.split("=", 1) for kv in m["values"].split()) for m in BENCH_LINE.finditer(text)}


def _execute_one(path: Path, timeout: int) -> dict[str, Any]:
    """Run in a child process: execute one notebook, measure it, print JSON."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    error = ""
    try:
        client.execute()
    except Exception as err:  # report the failure in the table instead of stopping the benchmark
        error = f"{type(err).__name__}: {str(err).strip().splitlines()[-1][:200] if str(err).strip() else ''}"
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, once reaped
    text = "\n".join(
        o.get("text", "") if o.get("output_type") == "stream" else str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    return {
        "notebook": path.name,
        "seconds": round(seconds, 1),
        "peak_mb": round(peak_kb / 1024),
        "error": error,
        "reports": parse_reports(text),
    }


def run_notebook(path: Path, timeout: int = 1200) -> dict[str, Any]:
    """Execute `path` in a fresh kernel started by a fresh process; return time, peak RSS and reports."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.bench", "--one", str(path), "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_DIR,
    )
    if out.returncode != 0:
        return {
            "notebook": path.name,
            "seconds": float("nan"),
            "peak_mb": 0,
            "error": out.stderr.strip()[-300:],
            "reports": {},
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def shipped_models() -> list[dict[str, Any]]:
    """metrics.json of every shipped checkpoint in data/."""
    rows = []
    for metrics in sorted(DATA_DIR.glob("*/metrics.json")):
        rows.append({"name": metrics.parent.name, **json.loads(metrics.read_text())})
    return rows


def _fmt(value: Any) -> str:
    """A metric for the table: floats to 4 digits, dicts as k=v (without recipes), lists (loss curves, runs) by
    their length."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):  # recipes are in course_lib/recipes.py; the table keeps the measures
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items() if k != "recipe")
    if isinstance(value, list):
        return f"({len(value)} values)"
    return str(value)


def markdown(results: list[dict[str, Any]], models: list[dict[str, Any]]) -> str:
    """The BENCHMARKS.md text for these results."""
    import torch

    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` (`python -m course_lib.tools.bench`) on {os.cpu_count()} CPU cores, "
        f"python {platform.python_version()}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}.",
        "Each notebook runs in a fresh kernel; peak memory is the kernel's peak resident set size.",
        "",
        "## Notebooks",
        "",
        "| notebook | seconds | peak MB | status |",
        "|---|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r['notebook']} | {r['seconds']} | {r['peak_mb']} | {r['error'] or 'ok'} |")
    lines += ["", f"Total: {sum(r['seconds'] for r in results if r['seconds'] == r['seconds']):.0f} s.", ""]
    live = [(r["notebook"], name, values) for r in results for name, values in r["reports"].items()]
    if live:
        lines += ["## Live training inside the notebooks", "", "| notebook | run | measured |", "|---|---|---|"]
        lines += [
            f"| {nb} | {name} | {', '.join(f'{k}={v}' for k, v in values.items())} |" for nb, name, values in live
        ]
        lines.append("")
    if models:
        lines += [
            "## Shipped checkpoints (from data/*/metrics.json)",
            "",
            "| checkpoint | build seconds | metrics (recipes: `course_lib/recipes.py`) |",
            "|---|---:|---|",
        ]
        for m in models:
            shown = {k: v for k, v in m.items() if k not in ("name", "build_seconds", "command", "versions")}
            lines.append(f"| {m['name']} | {m.get('build_seconds', '')} | {_fmt(shown)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefixes", nargs="*", help="only notebooks whose file name starts with one of these")
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell before giving up")
    parser.add_argument("--output", type=Path, default=REPO_DIR / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_execute_one(args.one, args.timeout)))
        return
    notebooks = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
    if args.prefixes:
        notebooks = [p for p in notebooks if p.name.startswith(tuple(args.prefixes))]
    results = []
    for path in notebooks:
        print(f"running {path.name} ...", flush=True)
        results.append(run_notebook(path, args.timeout))
        r = results[-1]
        print(f"  {r['seconds']} s, peak {r['peak_mb']} MB {r['error'] or 'ok'} {r['reports'] or ''}", flush=True)
    text = markdown(results, shipped_models())
    if not args.prefixes:
        args.output.write_text(text)
        print(f"wrote {args.output}")
    print(text)


if __name__ == "__main__":
    main()
