"""Input checks shared by every public function: say what was expected and what came."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def describe(x: Any) -> str:
    """A short description of a value for error messages: type, and shape/dtype for arrays."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}" if isinstance(x, (int, float, str, bool)) else type(x).__name__


def require_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return `value` as an int, or raise if it is not an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
    return value


def require_positive(name: str, value: Any) -> float:
    """Return `value` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return value


def require_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return `value` if it is one of `choices`, else raise naming the choices."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def require_array(
    name: str,
    x: Any,
    *,
    ndim: int | Sequence[int] | None = None,
    dtype: str | None = None,
    shape: Sequence[int | None] | None = None,
) -> None:
    """Raise unless `x` is a numpy array or torch tensor with the given ndim, dtype kind and shape.

    `dtype` is a numpy kind string: "u" unsigned int, "i" int, "f" float, "b" bool,
    or "uint8" for exactly uint8. `shape` may use None for "any size".
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        raise TypeError(f"{name} must be a numpy array or torch tensor, got {describe(x)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(f"{name} must be {want}, got shape {tuple(x.shape)}")
    if shape is not None:
        if len(shape) != x.ndim or any(s is not None and s != t for s, t in zip(shape, x.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{name} must have shape {want}, got {tuple(x.shape)}")
    if dtype is not None:
        kind = _dtype_kind(x)
        ok = str(x.dtype).endswith("uint8") if dtype == "uint8" else kind == dtype
        if not ok:
            names = {"u": "unsigned integer", "i": "integer", "f": "floating-point", "b": "boolean", "uint8": "uint8"}
            raise TypeError(f"{name} must have a {names.get(dtype, dtype)} dtype, got {x.dtype}")


def require_pair(
    name_a: str, a: Any, name_b: str, b: Any, *, same_rows: bool = False, dtype: str | None = None
) -> None:
    """Raise unless `a` (N, D) and `b` (M, D) are 2-D arrays or tensors with the same D (and N == M if
    `same_rows`: row i of `a` pairs with row i of `b`); `dtype` as in require_array."""
    require_array(name_a, a, ndim=2, dtype=dtype)
    require_array(name_b, b, ndim=2, dtype=dtype)
    if same_rows and a.shape[0] != b.shape[0]:
        raise ValueError(
            f"batch sizes differ: {a.shape[0]} rows in {name_a} but {b.shape[0]} in {name_b} (pair i is row i of each)"
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {name_a} has {a.shape[1]}, {name_b} has {b.shape[1]}")


def _dtype_kind(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return x.dtype.kind
    if x.dtype.is_floating_point:  # torch
        return "f"
    if str(x.dtype) == "torch.bool":
        return "b"
    return "u" if str(x.dtype) == "torch.uint8" else "i"
