"""course_lib: the shared helpers of the hands-on multimodal AI course.

Importing the package is light (no torch, matplotlib or data): the names below load on first use.
The layers, bottom to top, are listed in tests/test_layers.py and README.md ("How it fits together").
"""

import os
from importlib import import_module
from typing import Any

# The course runs offline: make the Hugging Face libraries fail fast instead of trying the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
# Tiny checkpoints load in milliseconds: no "Loading weights" bars, whose saved widget reads 0 %.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# public name -> module that defines it, imported on first access
_LAZY = {
    "DATA_DIR": "course_lib.base.paths",
    "REPO_DIR": "course_lib.base.paths",
    "seed_everything": "course_lib.base.seeding",
    "check": "course_lib.exercises",
    "doctor": "course_lib.tools.doctor",
}

__all__ = sorted(_LAZY)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")
