"""Argument checks shared by the data helpers; messages name the argument, expected and given."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_finite_float_array", "check_bits"]

#: Widest bit string that still fits a non-negative int64.
MAX_BITS = 63


def as_finite_float_array(
    value: Any, name: str, *, ndim: tuple[int, ...] | None = None
) -> np.ndarray:
    """Return ``value`` as a float32 or float64 array, rejecting non-numeric, NaN and Inf.

    float32 and float64 input keeps its dtype; integer input (and other float widths) becomes
    float64. Booleans, strings and objects are rejected with a ``TypeError``.

    Parameters
    ----------
    value : array_like
        The argument to check.
    name : str
        The argument's name, used in error messages.
    ndim : tuple of int, optional
        Accepted numbers of dimensions; ``None`` accepts any array of at least 1 dimension.
    """
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(
            f"{name} must be a numeric array (integer or float), got dtype {arr.dtype}"
        )
    if ndim is None and arr.ndim == 0:
        raise ValueError(f"{name} must be an array of at least 1 dimension, got a scalar")
    if ndim is not None and arr.ndim not in ndim:
        expected = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name} must be {expected}, got {arr.ndim}-D array of shape {arr.shape}")
    if arr.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        arr = arr.astype(np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(f"{name} contains NaN or Inf (first at index {where}: {arr[where]})")
    return arr


def check_bits(bits: Any, name: str = "bits") -> int:
    """Return ``bits`` as an int in [1, 63], else raise naming ``name``."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(bits).__name__} ({bits!r})")
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"{name} must be between 1 and {MAX_BITS} (int64), got {bits}")
    return int(bits)
