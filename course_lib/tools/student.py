"""`make student`: the student edition, copies of the notebooks without the exercise solutions.

    python -m course_lib.tools.student build/student      # what `make student` runs

Each exercise's collapsed "Solution" block (`<details><summary>Solution</summary> ... </details>`
in a markdown cell) is replaced by one line saying it is not in this edition. Code cells, the
interview corner's collapsed answers and the saved outputs stay as they are, so every `check(...)`
still prints its [TODO] or its hint. The reference answers still live in `course_lib/exercises/`
(the checks need them): the edition hides solutions from the notebooks, not from a determined reader.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

from ..base.paths import NOTEBOOKS_DIR

SOLUTION_BLOCK = re.compile(r"<details>\s*<summary>\s*Solution\s*</summary>.*?</details>[ \t]*", re.DOTALL)
PLACEHOLDER = "*Solution: not in the student edition; ask your teacher.*"


def strip_solutions(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of `nb` without exercise solution blocks, and how many it removed."""
    nb = copy.deepcopy(nb)
    removed = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source, n = SOLUTION_BLOCK.subn(PLACEHOLDER, cell.source)
            removed += n
    return nb, removed


def write_student_edition(out_dir: Path, notebooks_dir: Path = NOTEBOOKS_DIR) -> dict[Path, int]:
    """Write the student edition of every course notebook into `out_dir`: {written path: blocks removed}."""
    out_dir = Path(out_dir)
    sources = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no course notebooks (NN_name.ipynb) in {notebooks_dir}")
    if out_dir.resolve() == notebooks_dir.resolve():
        raise ValueError(f"out_dir must not be the course's notebooks folder ({notebooks_dir}): "
                         "the student edition would overwrite the solutions; pass e.g. build/student")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for source in sources:
        nb, removed = strip_solutions(nbformat.read(source, as_version=4))
        target = out_dir / source.name
        nbformat.write(nb, target)
        written[target] = removed
    (out_dir / "README.md").write_text(
        "# Student edition\n\nThe course's notebooks without the exercise solutions (written by `make student`).\n"
        "They need the course installed (`make lab` in a clone of the course sets it up): put them in place of\n"
        "the clone's `notebooks/` folder, or open them from anywhere in the course's JupyterLab. Each exercise's\n"
        "`check(...)` still prints a hint for a wrong answer.\n")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.tools.student", description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("build/student"),
                        help="where to write the notebooks (default build/student)")
    args = parser.parse_args(argv)
    try:
        written = write_student_edition(args.out_dir)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"make student: {err}") from None
    for path, removed in written.items():
        print(f"{path}: {removed} solution(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
