"""The one loader of the checkpoints the course ships in data/ (tiny CLIP, tiny LM, tiny LLaVA)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerFast

from ..base.paths import data_path
from ..base.validation import require_folder
from ..tokenizer import load_tokenizer


def load_shipped(model_class: Any, name: str, folder: str | Path | None = None) -> tuple[Any, PreTrainedTokenizerFast]:
    """(model in eval mode, tokenizer) from a local save_pretrained folder, by default the shipped data/<name>.

    model_class: the transformers class to load (e.g. CLIPModel); nothing is downloaded."""
    folder = require_folder("folder", folder) if folder is not None else data_path(name)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"folder={str(folder)!r} has no config.json: not a save_pretrained folder "
            f"(rebuild: python -m course_lib.tools.checkpoints {name})"
        )
    if not any((folder / w).is_file() for w in ("model.safetensors", "pytorch_model.bin")):
        raise FileNotFoundError(f"folder={str(folder)!r} has a config.json but no weights (model.safetensors); "
                                f"pass a folder written by save_pretrained, or rebuild {name}")
    model_type = json.loads((folder / "config.json").read_text()).get("model_type")
    expected = getattr(getattr(model_class, "config_class", None), "model_type", None)
    if expected and model_type != expected:
        raise ValueError(f"folder={str(folder)!r} holds a {model_type!r} checkpoint, but {model_class.__name__} "
                         f"needs a {expected!r} one (the {name} folder); pass the right folder")
    return model_class.from_pretrained(str(folder), local_files_only=True).eval(), load_tokenizer(folder)
