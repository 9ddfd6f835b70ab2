"""The Solver's data preparation: checks, casts, validation split, masks (before training)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from minirnn.nn._validation import (
    check_lengths,
    check_mask,
    check_probability,
    check_sample_weight,
)
from minirnn.nn.model import check_data

if TYPE_CHECKING:
    from minirnn.train.solver import Solver

__all__ = ["as_array", "as_data", "as_lengths", "check_checkpoint_path", "make_mask",
           "prepare_data"]


def as_array(a: Any, name: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
            or a.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 0 or a.shape[0] == 0 or a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def as_data(x: Any, y: Any, dtype: np.dtype, what: str,
            integer_targets: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair (same first axis, finite, non-empty); cast x (and float y) to ``dtype``."""
    x = as_array(x, f"{what} x")
    y = as_array(y, f"{what} y")
    if x.ndim < 2:
        raise ValueError(f"{what} x must be at least 2-D (samples first), got shape {x.shape}")
    x = x.astype(dtype, copy=False)
    if not (integer_targets and np.issubdtype(y.dtype, np.integer)):
        y = y.astype(dtype, copy=False)
    for name, a in ((f"{what} x", x), (f"{what} y", y)):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or Inf")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what} x and y must have the same number of samples, "
                         f"got {x.shape[0]} and {y.shape[0]}")
    return x, y


def as_lengths(lengths: Any, n: int, steps: int | None, what: str) -> np.ndarray | None:
    return None if lengths is None else check_lengths(lengths, n, steps, f"{what} lengths")


def check_checkpoint_path(path: Any) -> str | os.PathLike[str] | None:
    """Refuse an unusable checkpoint path now, not after the first epoch was trained."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_path must be a str or PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    if not text:
        raise ValueError("checkpoint_path must not be empty")
    if os.path.isdir(text):
        raise ValueError(f"checkpoint_path {text!r} is a directory; give a file name")
    folder = os.path.dirname(text) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint_path {text!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"checkpoint_path {text!r}: folder {folder!r} is not writable")
    return path


def prepare_data(solver: Solver, x: Any, y: Any, validation_data: Any, validation_split: Any,
                  mask: Any, lengths: Any, weight: Any
                  ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """Check and split the data: ((x, y, mask, lengths, sample_weight),
    (x_val, y_val, lengths_val))."""
    integer_targets = solver._integer_targets
    x, y = as_data(x, y, solver.model.dtype, "training", integer_targets)
    steps = x.shape[1] if x.ndim == 3 else None
    lengths = as_lengths(lengths, x.shape[0], steps, "training")
    mask = make_mask(mask, lengths, x, y)
    if weight is not None:
        weight = check_sample_weight(weight, x.shape[0])
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, tuple) or len(validation_data) not in (2, 3):
            raise TypeError("validation_data must be a tuple (x_val, y_val) or "
                            "(x_val, y_val, lengths_val)")
        xv, yv = as_data(validation_data[0], validation_data[1], solver.model.dtype,
                          "validation", integer_targets)
        lv = as_lengths(validation_data[2] if len(validation_data) == 3 else None,
                         xv.shape[0], xv.shape[1] if xv.ndim == 3 else None, "validation")
        val = (xv, yv, lv)
    elif validation_split is not None and validation_split is not False:
        validation_split = check_probability(validation_split, "validation_split")
        if validation_split:
            n_val = round(x.shape[0] * validation_split)
            if n_val < 1 or n_val >= x.shape[0]:
                raise ValueError(
                    f"validation_split {validation_split} of {x.shape[0]} samples leaves "
                    f"{n_val} for validation: need at least 1 on each side")
            cut = x.shape[0] - n_val
            val = (x[cut:], y[cut:], None if lengths is None else lengths[cut:])
            x, y = x[:cut], y[:cut]
            lengths = None if lengths is None else lengths[:cut]
            mask = None if mask is None else mask[:cut]
            weight = None if weight is None else weight[:cut]
    # Shape problems in the user's terms (layer, whole-array shapes), before training.
    check_data(solver.model, x, y, solver.loss, lengths=lengths, what="training")
    if val is not None:
        check_data(solver.model, val[0], val[1], solver.loss, lengths=val[2],
                   what="validation")
    if solver.tbptt is not None and (x.ndim != 3 or y.ndim < 2 or y.shape[1] != x.shape[1]):
        raise ValueError(f"tbptt needs per-step targets y (N, T, ...) for x (N, T, D), "
                         f"got x {x.shape} and y {y.shape}")
    if solver.stateful and x.shape[0] % solver.batch_size and not solver.drop_last:
        raise ValueError(f"stateful=True needs equal batches: {x.shape[0]} samples are not "
                         f"a multiple of batch_size {solver.batch_size} (use drop_last=True)")
    return (x, y, mask, lengths, weight), val



def make_mask(mask: Any, lengths: np.ndarray | None, x: np.ndarray,
               y: np.ndarray) -> np.ndarray | None:
    if mask is not None:
        return check_mask(mask, y.shape)
    if lengths is not None and x.ndim == 3 and y.ndim >= 2 and y.shape[1] == x.shape[1]:
        return np.arange(x.shape[1])[None, :] < lengths[:, None]
    return None
