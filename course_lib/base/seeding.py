"""Repeatable runs: seeding, and thread counts changed only inside a `with` block."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import torch

from .validation import require_int

DEFAULT_THREADS = 2


def seed_everything(seed: int = 0, threads: int | None = DEFAULT_THREADS) -> np.random.Generator:
    """Seed python, numpy and torch and return a numpy Generator; with `threads`, also fix torch's CPU
    thread count for the rest of the session (notebooks call it once at the top).

    Library code passes threads=None (seeding only) and changes threads with `torch_threads`.
    A fixed thread count matters: float sums are reordered across threads, so the same seed
    with another thread count can give (slightly) different trained weights.
    """
    seed = require_int("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(require_int("threads", threads, low=1, high=os.cpu_count() or 1_000))
    return np.random.default_rng(seed)


@contextmanager
def torch_threads(n: int) -> Iterator[int]:
    """Run the block with `n` torch CPU threads and restore the previous count afterwards (also on error)."""
    n = require_int("threads", n, low=1)
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)
