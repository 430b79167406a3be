"""Locality: where a representation keeps an object's position, read by linear probes of its cell.

One-object scenes; a probe (zero_shot.fit_linear_probe) learns the object's cell (9-way) from the patch
tokens in raster order (the slot of each patch kept, as the MLP bridge hands them to the LM), from the
object's own patches averaged (their content alone), from all patches averaged, and from any bridge's K
output tokens. Taught in notebook 06, section 7 (why the pooling bridges lose position), and used in notebook 05,
section 7 (where the tiny LLaVA keeps an object's cell).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from .base.validation import require_array, require_choice, require_int, require_sequence
from .shapes_world import cell_patches
from .zero_shot import fit_linear_probe, probe_predict

N_CELLS = 9  # Shapes World's 3 x 3 grid
# what position_probes reads from the patch features: their slots kept, one object's content, everything pooled
REPRESENTATIONS = ("patch tokens, raster order", "the object's own patches, averaged", "all patches, averaged")


def _probe_accuracy(x: torch.Tensor, cells: torch.Tensor, n_train: int) -> float:
    probe = fit_linear_probe(x[:n_train], cells[:n_train], N_CELLS)
    return float((probe_predict(probe, x[n_train:]) == cells[n_train:]).float().mean())


def position_probes(
    features: torch.Tensor,
    cells: np.ndarray,
    bridges: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    n_train: int | None = None,
    representations: Sequence[str] = REPRESENTATIONS,
) -> dict[str, float]:
    """Held-out accuracy of a linear probe of the object's cell, per representation of one-object scenes.

    features (B, N, Dv): the tower's patch features (N a square number of patches, its side a multiple of 3);
    cells (B,): each scene's object cell, 0-8; bridges: name -> callable (B, N, Dv) -> (B, K, Dt), probed on
    its flattened output; n_train: scenes the probes fit on (default three quarters), the rest score them;
    representations: which of REPRESENTATIONS of the features to probe (default all three).
    """
    require_array("features", features, ndim=3, dtype="f", finite=True, torch_only=True)
    b, n = features.shape[:2]
    grid = math.isqrt(n)
    if grid * grid != n or grid % 3:
        raise ValueError(f"features must hold a square grid of patches whose side is a multiple of 3 "
                         f"(36 for the tiny tower), got N = {n}; pass vision_features(clip, images)")
    cells = np.asarray(cells)
    require_array("cells", cells, ndim=1, shape=(b,), dtype="i")
    if cells.size and (cells.min() < 0 or cells.max() >= N_CELLS):
        raise ValueError(f"cells must be the object cells 0-8 (scenes.cells[:, 0] of one-object scenes), "
                         f"got values from {cells.min()} to {cells.max()}")
    n_train = require_int("n_train", 3 * b // 4 if n_train is None else n_train, low=N_CELLS, high=b - 1)
    y = torch.from_numpy(cells.astype(np.int64))
    own = torch.stack([features[i, cell_patches(int(c), grid)].mean(0) for i, c in enumerate(cells)])
    for name in require_sequence("representations", representations):
        require_choice("representations", name, REPRESENTATIONS)
    views = dict(zip(REPRESENTATIONS, (features.flatten(1), own, features.mean(1))))
    inputs = {name: views[name] for name in representations}
    for name, bridge in (bridges or {}).items():
        if not callable(bridge):
            raise TypeError(f"bridges[{name!r}] must be a callable (B, N, Dv) -> (B, K, Dt), e.g. model.bridge, "
                            f"got {type(bridge).__name__}")
        with torch.no_grad():
            out = bridge(features)
        require_array(f"bridges[{name!r}](features)", out, ndim=3, shape=(b, None, None), dtype="f")
        inputs[name] = out.flatten(1)
    return {name: _probe_accuracy(x.float(), y, n_train) for name, x in inputs.items()}
