"""Flash cards with Leitner boxes, progress in ONE small JSON file outside the repository.

Where progress lives: `$COURSE_PROGRESS_FILE` if set, else `~/.multimodal-course/flashcards.json`.
Delete it, or call `reset_progress()`, to start over. Nothing is ever written inside the course's
repository (a path there is refused). The file holds {"version": 1, "session": n, "boxes": {id: box}}.

Leitner: every card starts in box 1. Right -> one box up (at most 5); wrong -> back to box 1.
Box b is reviewed every 2^(b-1) sessions (box 1 every session, box 5 every 16th).
Taught in notebook 08, section 3.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from ..base.paths import REPO_DIR
from .bank import Question

BOXES = 5
ENV_VAR = "COURSE_PROGRESS_FILE"
VERSION = 1


def default_store() -> Path:
    """The documented progress file: $COURSE_PROGRESS_FILE, else ~/.multimodal-course/flashcards.json."""
    return Path(os.environ.get(ENV_VAR) or Path.home() / ".multimodal-course" / "flashcards.json")


def _checked_path(path: str | Path | None) -> Path:
    path = Path(path) if path is not None else default_store()
    resolved = path.expanduser().resolve()
    if resolved == REPO_DIR or REPO_DIR in resolved.parents:
        raise ValueError(f"progress file {path} is inside the course repository ({REPO_DIR}): keep it outside, e.g. "
                         f"the default {Path.home() / '.multimodal-course' / 'flashcards.json'} or a temporary folder")
    return resolved


def empty_progress() -> dict[str, Any]:
    return {"version": VERSION, "session": 0, "boxes": {}}


def load_progress(path: str | Path | None = None) -> dict[str, Any]:
    """The saved progress, or an empty one if the file does not exist. A corrupt file raises a
    ValueError naming it and how to reset."""
    path = _checked_path(path)
    if not path.exists():
        return empty_progress()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        boxes = data["boxes"]
        ok = data.get("version") == VERSION and isinstance(data["session"], int) and isinstance(boxes, dict) and \
            all(isinstance(b, int) and 1 <= b <= BOXES for b in boxes.values())
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ValueError(f"{path} is not a flash-card progress file of version {VERSION}: delete it or call "
                         "reset_progress() to start over")
    return data


def save_progress(progress: dict[str, Any], path: str | Path | None = None) -> Path:
    """Write progress (atomically: a temporary file, then a rename); returns the path."""
    path = _checked_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(progress, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def reset_progress(path: str | Path | None = None) -> bool:
    """Delete the progress file; True if there was one."""
    path = _checked_path(path)
    existed = path.exists()
    if existed:
        path.unlink()
    return existed


def next_box(box: int, correct: bool) -> int:
    """Leitner move: right -> box + 1 (at most BOXES), wrong -> 1."""
    if isinstance(box, bool) or not isinstance(box, int) or not 1 <= box <= BOXES:
        raise ValueError(f"box must be an integer in [1, {BOXES}], got {box!r}")
    return min(box + 1, BOXES) if correct else 1


def is_due(box: int, session: int) -> bool:
    """Box b is reviewed in sessions that are multiples of 2^(b-1)."""
    return session % (2 ** (box - 1)) == 0


def due_cards(cards: Sequence[Question], progress: dict[str, Any], limit: int | None = None) -> list[Question]:
    """Cards due in the current session, lowest box first (bank order within a box)."""
    session, boxes = progress["session"], progress["boxes"]
    due = [q for q in cards if is_due(boxes.get(q.id, 1), session)]
    due.sort(key=lambda q: boxes.get(q.id, 1))
    return due if limit is None else due[:limit]


def record_answer(progress: dict[str, Any], card_id: str, correct: bool) -> dict[str, Any]:
    """A new progress dict with the card moved (the input is not modified)."""
    boxes = dict(progress["boxes"])
    boxes[card_id] = next_box(boxes.get(card_id, 1), bool(correct))
    return {**progress, "boxes": boxes}


def next_session(progress: dict[str, Any]) -> dict[str, Any]:
    return {**progress, "session": progress["session"] + 1}


def box_counts(cards: Sequence[Question], progress: dict[str, Any]) -> dict[int, int]:
    """How many of `cards` sit in each box."""
    counts = {b: 0 for b in range(1, BOXES + 1)}
    for q in cards:
        counts[progress["boxes"].get(q.id, 1)] += 1
    return counts


def review(cards: Sequence[Question], answers: dict[str, bool], path: str | Path | None = None) -> dict[str, Any]:
    """One whole session, for scripts and tests: load, move each answered card, advance the
    session counter, save. `answers` maps card id -> right/wrong (self-graded)."""
    progress = load_progress(path)
    known = {q.id for q in cards}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise KeyError(f"answers for cards not in the deck: {unknown[:5]}")
    for card_id, correct in answers.items():
        progress = record_answer(progress, card_id, correct)
    progress = next_session(progress)
    save_progress(progress, path)
    return progress
