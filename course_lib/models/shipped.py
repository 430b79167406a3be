"""The one loader of the checkpoints the course ships in data/ (tiny CLIP, tiny LM, tiny LLaVA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerFast

from ..base.paths import data_path
from ..tokenizer import load_tokenizer


def load_shipped(model_class: Any, name: str, folder: str | Path | None = None) -> tuple[Any, PreTrainedTokenizerFast]:
    """(model in eval mode, tokenizer) from a local save_pretrained folder, by default the shipped data/<name>.

    model_class: the transformers class to load (e.g. CLIPModel); nothing is downloaded."""
    folder = Path(folder) if folder is not None else data_path(name)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"no config.json in {folder}: not a save_pretrained folder "
            f"(rebuild: python -m course_lib.tools.checkpoints {name})"
        )
    return model_class.from_pretrained(str(folder), local_files_only=True).eval(), load_tokenizer(folder)
