"""Locality probes (notebook 06, section 7): which representation keeps an object's cell linearly readable."""

import numpy as np
import pytest
import torch

from course_lib.locality import position_probes
from course_lib.shapes_world import cell_patches


def synthetic(n: int = 360, slot: bool = True, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """(n, 36, 16) features of one-object scenes: the object's 4 patches carry a fixed 'object' vector plus,
    when not slot, a code of their cell; background patches are zero. With slot=True the cell is only in
    which patches are lit (the raster order), never in their content."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 9, n)
    f = torch.zeros(n, 36, 16)
    for i, c in enumerate(cells):
        f[i, cell_patches(int(c)), 0] = 1.0
        if not slot:
            f[i, cell_patches(int(c)), 1 + int(c)] = 1.0
    return f + 0.01 * torch.randn(n, 36, 16, generator=torch.Generator().manual_seed(seed)), cells


def test_slot_only_position_is_lost_by_pooling_but_kept_in_raster_order():
    f, cells = synthetic(slot=True)
    acc = position_probes(f, cells)
    assert acc["patch tokens, raster order"] == 1.0
    assert acc["the object's own patches, averaged"] < 0.3  # content alone: no cell (chance 1/9)


def test_position_in_content_survives_averaging_the_object():
    f, cells = synthetic(slot=False)
    assert position_probes(f, cells)["the object's own patches, averaged"] == 1.0


def test_only_the_representations_asked_for_are_probed():
    f, cells = synthetic(slot=True)
    assert list(position_probes(f, cells, representations=["all patches, averaged"])) == ["all patches, averaged"]


def test_bridges_are_probed_on_their_flattened_output():
    f, cells = synthetic(slot=True)
    acc = position_probes(f, cells, {"identity": lambda x: x, "mean": lambda x: x.mean(1, keepdim=True)})
    assert acc["identity"] == acc["patch tokens, raster order"]
    assert acc["mean"] == acc["all patches, averaged"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"features": torch.zeros(20, 37, 8)}, "square grid"),
        ({"cells": np.full(20, 9)}, "cells must be the object cells"),
        ({"cells": np.zeros(19, dtype=int)}, "cells must have shape"),
        ({"bridges": {"b": 3}}, "must be a callable"),
        ({"bridges": {"b": lambda x: x.flatten(1)}}, "must be 3-D"),
        ({"n_train": 20}, "n_train"),
        ({"representations": ["mean"]}, "representations must be one of"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(kwargs, match):
    args = {"features": torch.zeros(20, 36, 8), "cells": np.zeros(20, dtype=int), **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        position_probes(**args)
