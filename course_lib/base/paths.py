"""Where the course's folders are, from any working directory."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # course_lib/
REPO_DIR = PACKAGE_DIR.parent
DATA_DIR = REPO_DIR / "data"
NOTEBOOKS_DIR = REPO_DIR / "notebooks"


def data_path(*parts: str) -> Path:
    """Path to a shipped file or folder under `data/`; raises FileNotFoundError if it is missing."""
    for part in parts:
        if not isinstance(part, (str, Path)):
            raise TypeError(f"parts must be names of entries under data/ (strings), got {type(part).__name__} {part!r}")
    path = DATA_DIR.joinpath(*parts)
    if DATA_DIR.resolve() not in (path.resolve(), *path.resolve().parents):
        raise ValueError(
            f"parts {parts!r} point outside the course's data folder ({path.resolve()}); "
            "pass names relative to data/, e.g. data_path('tiny_clip')"
        )
    if not path.exists():
        shipped = sorted(p.name for p in DATA_DIR.iterdir()) if DATA_DIR.exists() else []
        raise FileNotFoundError(
            f"{path} is not in the course's data folder; shipped entries are {shipped}. "
            "See data/README.md for the command that rebuilds each one."
        )
    return path


# Checkpoint folders the course ships in data/ (each a save_pretrained folder); doctor() checks them.
SHIPPED: tuple[str, ...] = ("tiny_clip", "tiny_lm", "tiny_llava", "tiny_lm_reader")
