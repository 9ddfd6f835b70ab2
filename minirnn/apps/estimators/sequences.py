"""Turning what a user passes as ``X`` and ``y`` into padded sequences and class indices,
with scikit-learn's error types and wording where its checks look for them."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np

from minirnn.apps.estimators.base import DataConversionWarning

__all__ = ["Sequences", "as_sequences", "encode_labels"]


class Sequences(NamedTuple):
    """Padded sequences: ``x`` (N, T, D) float64 (zero past each length), ``lengths`` (N,)
    int64, and whether the lengths came from the caller (a list of sequences or
    ``lengths=``) rather than from the width of an array."""

    x: np.ndarray
    lengths: np.ndarray
    variable: bool


def _reshape_hint(shape: tuple[int, ...]) -> str:
    return (f"X must be 2-D (n_samples, n_timesteps), 3-D (n_samples, n_timesteps, "
            f"n_features) or a list of (T_i, n_features) arrays, got an array of shape "
            f"{shape}. Reshape your data: X.reshape(1, -1) if it is one sequence, "
            f"X.reshape(-1, 1) if each sample is one value")


def _numeric(value: Any, what: str) -> np.ndarray:
    """``value`` as float64; complex, string and non-number values refused by type."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr) or (arr.dtype == object and any(
            isinstance(v, complex) for v in arr.ravel()[:1000])):
        raise ValueError(f"Complex data not supported: {what} holds complex numbers")
    if arr.dtype.kind in "US":
        raise ValueError(f"{what} must hold numbers, got strings (dtype {arr.dtype})")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:  # numpy's own message names the bad value
        raise type(exc)(f"{what} must hold numbers: {exc}") from None


def _ragged(items: list[Any]) -> bool:
    """Whether a list holds sequences of different shapes (not one rectangular array)."""
    if not items or not all(isinstance(s, (np.ndarray, list, tuple)) for s in items):
        return False
    try:
        shapes = {np.shape(s) for s in items}
    except ValueError:  # an item is itself ragged
        return True
    return len(shapes) > 1


def as_sequences(X: Any, lengths: Any = None) -> Sequences:
    """``X`` as padded sequences.

    Parameters
    ----------
    X : array_like (N, T) or (N, T, D), or a list of N arrays (T_i,) or (T_i, D)
        A 2-D array is N univariate sequences of T steps. A list of arrays of different
        lengths is padded to the longest; its lengths are the arrays' lengths.
    lengths : array_like of int (N,), optional
        Valid steps of each sequence of a padded array (values past them are ignored, NaN
        included); not with a list, whose lengths are known.

    Raises
    ------
    TypeError
        Sparse matrices, values that are not numbers.
    ValueError
        Wrong number of dimensions, no samples or no steps, complex numbers, NaN or infinity
        in a valid step, lengths out of range.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise TypeError(f"sparse input ({type(X).__name__}) is not supported: sequences "
                        "are dense; pass X.toarray()")
    items = list(X) if isinstance(X, (list, tuple)) or (
        isinstance(X, np.ndarray) and X.dtype == object and X.ndim == 1) else None
    if items is not None and lengths is not None:
        raise ValueError("lengths are taken from the list of sequences; pass lengths "
                         "only with a padded array")
    if items is not None and _ragged(items):
        seqs = []
        for i, item in enumerate(items):
            s = _numeric(item, f"sequence {i} of X")
            if s.ndim == 1:
                s = s[:, None]
            if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
                raise ValueError(f"each sequence of X must be (T_i,) or (T_i, n_features) "
                                 f"with T_i >= 1, got shape {s.shape} for sequence {i}")
            seqs.append(s)
        widths = {s.shape[1] for s in seqs}
        if len(widths) > 1:
            raise ValueError(f"the sequences of X have different numbers of features "
                             f"{sorted(widths)}; every step must have the same")
        lens = np.array([len(s) for s in seqs], dtype=np.int64)
        x = np.zeros((len(seqs), int(lens.max()), seqs[0].shape[1]))
        for i, s in enumerate(seqs):
            x[i, :len(s)] = s
        _check_finite(x)
        return Sequences(x, lens, True)
    x = _numeric(X, "X")
    shape = x.shape
    if x.ndim == 2:
        x = x[:, :, None]
    elif x.ndim != 3:
        raise ValueError(_reshape_hint(x.shape))
    n, t, d = x.shape
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 "
                         "is required.")
    if t == 0 or d == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of "
                         f"1 is required: each sequence needs at least one step of at least "
                         f"one value.")
    variable = lengths is not None or items is not None
    if lengths is None:
        lens = np.full(n, t, dtype=np.int64)
    else:
        raw = np.asarray(lengths)
        if raw.shape != (n,) or raw.dtype.kind not in "iu":
            raise ValueError(f"lengths must be {n} ints in [1, {t}] (one per sequence), got "
                             f"{raw.dtype} of shape {raw.shape}")
        if raw.min() < 1 or raw.max() > t:
            raise ValueError(f"lengths must be {n} ints in [1, {t}] (one per sequence), got "
                             f"values from {raw.min()} to {raw.max()}")
        lens = raw.astype(np.int64)
        x = np.where((np.arange(t)[None, :] < lens[:, None])[:, :, None], x, 0.0)
    _check_finite(x)
    return Sequences(x, lens, variable)


def _check_finite(x: np.ndarray) -> None:
    """NaN or infinity anywhere in x (padding is 0 by now) is refused."""
    bad = ~np.isfinite(x)
    if bad.any():
        seq = int(np.flatnonzero(bad.any(axis=(1, 2)))[0])
        raise ValueError(f"X contains NaN or infinity ({int(bad.sum())} values, the first in "
                         f"sequence {seq}); fill gaps first, e.g. with "
                         "minirnn.data.fill_missing")


def encode_labels(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct labels (``classes_``) and each sample's index into them.

    ``y`` holds any labels: ints, strings, or floats with whole values. A column vector
    (N, 1) is flattened with a :class:`DataConversionWarning`.

    Raises
    ------
    ValueError
        Not N labels, NaN or infinity, continuous values ("Unknown label type"), complex
        numbers, or fewer than two classes.
    """
    if y is None:
        raise ValueError("a classifier requires y to be passed, but the target y is None: "
                         "fit(X, y) needs one label per sequence")
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected; it is "
                      "flattened to (n_samples,), as y.ravel() does", DataConversionWarning,
                      stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, one label per sample (n_samples,), got shape "
                         f"{arr.shape}")
    if len(arr) != n:
        raise ValueError(f"X has {n} samples but y has {len(arr)} labels")
    if np.iscomplexobj(arr):
        raise ValueError("Complex data not supported: y holds complex numbers")
    if arr.dtype.kind == "O":
        kinds = {_label_kind(v) for v in arr}
        if kinds == {"float"} or kinds == {"float", "int"}:
            arr = _float_labels(np.asarray(arr, dtype=np.float64))
        elif len(kinds) > 1:
            raise ValueError(f"Unknown label type: y mixes {sorted(kinds)} labels; use labels "
                             "of one type")
    elif arr.dtype.kind == "f":
        arr = _float_labels(arr)
    elif arr.dtype.kind not in "iubUS":
        raise ValueError(f"Unknown label type: y has dtype {arr.dtype}; use ints or strings")
    try:
        classes, index = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise ValueError(f"Unknown label type: the labels of y cannot be sorted ({exc})") \
            from None
    if len(classes) < 2:
        raise ValueError(f"y holds one class ({classes[0]!r}); a classifier needs at least "
                         "two classes")
    return classes, index.reshape(-1).astype(np.int64)


def _label_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    return "str" if isinstance(value, str) else type(value).__name__


def _float_labels(arr: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(arr)):
        raise ValueError("Input y contains NaN or infinity; labels must be finite")
    if not np.all(arr == np.round(arr)):
        raise ValueError("Unknown label type: 'continuous' (y holds fractional values such "
                         f"as {arr[arr != np.round(arr)][0]!r}); a classifier needs class "
                         "labels, ints or strings")
    return arr
