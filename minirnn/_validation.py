"""Small checks shared by every public boundary; messages name expected vs given."""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(dtype: Any, what: str) -> np.dtype:
    """Return ``dtype`` as an ``np.dtype`` if it is float32 or float64, else raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{what}: expected float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{what}: expected dtype float32 or float64, got {dt}")
    return dt


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an int greater than zero, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")
    return int(value)


def check_probability(value: Any, name: str, *, allow_one: bool = False) -> float:
    """Return ``value`` as float if it lies in [0, 1) ([0, 1] with ``allow_one``), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if allow_one:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    elif not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def check_finite_output(y: np.ndarray, layer: str, x: np.ndarray) -> np.ndarray:
    """Raise FloatingPointError if finite inputs overflowed to a non-finite output."""
    if not np.isfinite(y).all():
        raise FloatingPointError(
            f"{layer} produced NaN/Inf from finite input (largest |input| "
            f"{float(np.max(np.abs(x))):.3g}): the values overflow {y.dtype}; scale the input"
        )
    return y


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...],
    dtype: np.dtype | None = None,
    last_dim: int | None = None,
    finite: bool = True,
) -> np.ndarray:
    """Validate a floating array argument and return it unchanged.

    Parameters
    ----------
    x : Any
        The value to check.
    name : str
        Name used in error messages (``"input"``, ``"h0"``...).
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    dtype : np.dtype, optional
        Required dtype (the model's). ``None`` accepts float32 or float64.
    last_dim : int, optional
        Required size of the last axis.
    finite : bool
        Reject NaN and Inf.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in ndims:
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {expected}, got {x.ndim}-D array of shape {x.shape}")
    if dtype is not None:
        if x.dtype != dtype:
            raise TypeError(
                f"{name} must have dtype {dtype} (the model's dtype), got {x.dtype}; "
                f"convert with x.astype(np.{dtype})"
            )
    else:
        check_float_dtype(x.dtype, name)
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(
            f"{name} must have {last_dim} features on its last axis, got shape {x.shape}"
        )
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if finite and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x
