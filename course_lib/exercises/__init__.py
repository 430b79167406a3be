"""Exercise checks for every notebook. Each `nbXX_*.py` module registers its exercises when it is
imported; `check` and `exercises` import them all on first use, so `import course_lib` stays light."""

from __future__ import annotations

from .core import Exercise, check, close, equal, exercises, register, same_function

__all__ = ["Exercise", "check", "close", "equal", "exercises", "register", "same_function"]
