"""Exercise checks for every notebook. Each `nbXX_*.py` module registers its exercises on import."""
from __future__ import annotations

import importlib
import pkgutil

from .core import Exercise, check, close, equal, exercises, register, same_function

for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("nb"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["Exercise", "check", "close", "equal", "exercises", "register", "same_function"]
