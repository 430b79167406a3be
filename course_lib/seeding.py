"""One call that makes a run repeatable: seeds and thread count."""
from __future__ import annotations

import os
import random

import numpy as np
import torch

from .validation import check_int

DEFAULT_THREADS = 2


def seed_everything(seed: int = 0, threads: int | None = DEFAULT_THREADS) -> np.random.Generator:
    """Seed python, numpy and torch, fix torch's CPU thread count, and return a numpy Generator.

    A fixed thread count matters: float sums are reordered across threads, so the same seed
    with another thread count can give (slightly) different trained weights.
    """
    seed = check_int("seed", seed, low=0, high=2**32 - 1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        threads = check_int("threads", threads, low=1, high=os.cpu_count() or 1_000)
        torch.set_num_threads(threads)
    return np.random.default_rng(seed)
