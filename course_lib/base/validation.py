"""Input checks shared by every public function: say what was expected and what came."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# Refuse any request whose estimated memory is above this, before allocating (issue 20).
MAX_BYTES = 2 << 30


def short_repr(x: Any, limit: int = 60) -> str:
    """repr(x) cut to `limit` characters."""
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(x: Any) -> str:
    """A short description of a value for error messages: type, and shape/dtype for arrays."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, (int, float, str, bool, np.integer, np.floating, list, tuple, dict, Path)) or x is None:
        return f"{type(x).__name__} {short_repr(x)}"
    return type(x).__name__


def require_instance(name: str, value: Any, types: type | tuple[type, ...], expected: str, fix: str = "") -> Any:
    """Return `value` if it is an instance of `types`, else raise TypeError naming `expected` (in words)."""
    if not isinstance(value, types):
        raise TypeError(f"{name} must be {expected}, got {describe(value)}" + (f"; {fix}" if fix else ""))
    return value


def require_model(name: str, model: Any, class_name: str | tuple[str, ...], fix: str = "") -> Any:
    """Raise TypeError unless `model`'s class (or a base class) has one of the given names
    (e.g. "CLIPModel"); by name so that this base layer imports no transformers."""
    names = (class_name,) if isinstance(class_name, str) else tuple(class_name)
    if not any(c.__name__ in names for c in type(model).__mro__):
        want = " or ".join(f"a {n}" for n in names)
        raise TypeError(f"{name} must be {want}, got {describe(model)}" + (f"; {fix}" if fix else ""))
    return model


def require_tokenizer(name: str, tokenizer: Any) -> Any:
    """Raise TypeError unless `tokenizer` is a transformers tokenizer (has encode and a vocabulary)."""
    if not (callable(getattr(tokenizer, "encode", None)) and hasattr(tokenizer, "get_vocab")):
        raise TypeError(
            f"{name} must be a tokenizer (e.g. the second value of load_tiny_clip()), got {describe(tokenizer)}; "
            "check the argument order: model first, then tokenizer"
        )
    return tokenizer


def require_finite(name: str, value: Any) -> float:
    """Return `value` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        if hasattr(value, "ndim") and value.ndim == 0 and not str(value.dtype).endswith("bool"):
            value = float(value)
        else:
            raise TypeError(f"{name} must be a number, got {describe(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}; pass an ordinary number")
    return value


def require_str(name: str, value: Any, *, allow_empty: bool = False) -> str:
    """Return `value` if it is a string (non-empty unless allowed)."""
    if not isinstance(value, str):
        hint = "; pass one string at a time (loop over a list yourself)" if isinstance(value, (list, tuple)) else ""
        raise TypeError(f"{name} must be a string, got {describe(value)}{hint}")
    if not allow_empty and not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value


def require_str_list(name: str, value: Any, *, allow_empty: bool = False) -> list[str]:
    """Return `value` as a list of strings; a lone string is refused (it would iterate over its characters)."""
    if isinstance(value, str):
        raise TypeError(
            f"{name} must be a list of strings, got the single string {short_repr(value)}; wrap it: [{value!r}]"
        )
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        value = value.tolist()
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of strings, got {describe(value)}")
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{name} must be a list of strings, but it holds {describe(bad[0])}")
    if not allow_empty and not value:
        raise ValueError(f"{name} must not be empty, got {value!r}; pass at least one string")
    return list(value)


def require_sequence(name: str, value: Any, *, allow_empty: bool = False) -> list:
    """Return `value` as a list; strings are refused (they would iterate over their characters)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, range, np.ndarray)):
        raise TypeError(f"{name} must be a list or tuple, got {describe(value)}")
    if not allow_empty and len(value) == 0:
        raise ValueError(f"{name} must not be empty, got {short_repr(value)}")
    return list(value)


def as_float_array(name: str, x: Any) -> np.ndarray:
    """`x` (a list, numpy array or torch tensor of numbers) as a float numpy array, else TypeError naming `name`."""
    try:
        return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numbers (a list, array or tensor), got {describe(x)}") from None


def require_index(name: str, value: Any, size: int, what: str = "items") -> int:
    """Return `value` as an int in [0, size), naming the range in the message."""
    if size <= 0:
        raise ValueError(f"{name}={short_repr(value)} cannot index: there are no {what}")
    return require_int(name, value, low=0, high=size - 1)


def require_budget(name: str, nbytes: float, what: str = "this request") -> None:
    """Raise ValueError if `nbytes` (an estimate made before allocating) is above MAX_BYTES (2 GiB)."""
    if nbytes > MAX_BYTES:
        raise ValueError(
            f"{what} would need about {nbytes / 2**30:,.1f} GiB (> {MAX_BYTES / 2**30:.0f} GiB allowed); "
            f"lower {name}"
        )


def require_folder(name: str, folder: Any, must_contain: Sequence[str] = ()) -> Path:
    """Return `folder` as a Path to an existing directory holding each of `must_contain`."""
    if not isinstance(folder, (str, Path)):
        raise TypeError(f"{name} must be a folder path (str or Path), got {describe(folder)}")
    path = Path(folder)
    if not path.exists():
        raise FileNotFoundError(f"{name}={str(folder)!r} does not exist; pass a folder made by save_pretrained")
    if not path.is_dir():
        raise FileNotFoundError(f"{name}={str(folder)!r} is a file, not a folder; pass the folder that holds it")
    missing = [f for f in must_contain if not (path / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"{name}={str(folder)!r} has no {', '.join(missing)}; pass a folder made by save_pretrained"
        )
    return path


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
    torch_only: bool = False,
    finite: bool = False,
    nonempty: bool = False,
) -> None:
    """Raise unless `x` is a numpy array or torch tensor with the given ndim, dtype kind and shape.

    `dtype` is a numpy kind string: "u" unsigned int, "i" int, "f" float, "b" bool,
    or "uint8" for exactly uint8. `shape` may use None for "any size". `torch_only`: refuse numpy;
    `finite`: refuse NaN/inf values; `nonempty`: refuse arrays with no elements.
    """
    if not (hasattr(x, "shape") and hasattr(x, "dtype")):
        want = "a torch tensor" if torch_only else "a numpy array or torch tensor"
        raise TypeError(f"{name} must be {want}, got {describe(x)}")
    if torch_only and isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a torch tensor, got {describe(x)}; convert it with torch.from_numpy({name})")
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
            fix = "; convert it with .float()" if dtype == "f" else ""
            article = "an" if names.get(dtype, dtype) == "unsigned integer" or dtype == "i" else "a"
            raise TypeError(f"{name} must have {article} {names.get(dtype, dtype)} dtype, got {x.dtype}{fix}")
    if nonempty and math.prod(x.shape) == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if finite and _dtype_kind(x) == "f" and not bool(np.isfinite(np.asarray(_to_numpy(x))).all()):
        raise ValueError(f"{name} holds NaN or infinite values ({describe(x)}); check what produced it")


def require_pair(
    name_a: str, a: Any, name_b: str, b: Any, *, same_rows: bool = False, dtype: str | None = None,
    torch_only: bool = False, finite: bool = False,
) -> None:
    """Raise unless `a` (N, D) and `b` (M, D) are 2-D arrays or tensors with the same D (and N == M if
    `same_rows`: row i of `a` pairs with row i of `b`); `dtype`, `torch_only`, `finite` as in require_array.
    Both must be the same kind (numpy or torch) and, if floating, the same precision."""
    require_array(name_a, a, ndim=2, dtype=dtype, torch_only=torch_only, finite=finite)
    require_array(name_b, b, ndim=2, dtype=dtype, torch_only=torch_only, finite=finite)
    if isinstance(a, np.ndarray) != isinstance(b, np.ndarray):
        raise TypeError(f"{name_a} and {name_b} must both be numpy arrays or both torch tensors, "
                        f"got {type(a).__name__} and {type(b).__name__}")
    if a.dtype != b.dtype and _dtype_kind(a) == _dtype_kind(b) == "f":
        raise TypeError(f"{name_a} and {name_b} must have the same dtype, got {a.dtype} and {b.dtype}; "
                        f"convert both with .float()")
    if same_rows and a.shape[0] != b.shape[0]:
        raise ValueError(
            f"batch sizes differ: {a.shape[0]} rows in {name_a} but {b.shape[0]} in {name_b} (pair i is row i of each)"
        )
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embedding sizes differ: {name_a} has {a.shape[1]}, {name_b} has {b.shape[1]}")


def _to_numpy(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else x.detach().float().cpu().numpy()


def _dtype_kind(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return x.dtype.kind
    if x.dtype.is_floating_point:  # torch
        return "f"
    if str(x.dtype) == "torch.bool":
        return "b"
    return "u" if str(x.dtype) == "torch.uint8" else "i"
