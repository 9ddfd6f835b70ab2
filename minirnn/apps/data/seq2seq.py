"""Unsynchronised sequence-to-sequence data (R rnn's ``seq_to_seq_unsync``) and a toy task.

An input sequence of length Tx is read first; an output sequence of length Ty is produced
AFTER the input ends. :func:`seq_to_seq_unsync` lays both out on one time axis of
Tx + Ty steps -- inputs zero-padded after step Tx, targets zero before it -- and returns
the loss mask that keeps only the last Ty steps, so any many-to-many model and masked loss
(every minirnn loss takes ``mask``) learns it with ``Solver.fit(x, y, mask=mask)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_float_dtype, check_positive_int

__all__ = ["reverse_sequence_task", "seq_to_seq_unsync", "unsync_outputs"]


def _check_3d(a: Any, name: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
    if a.ndim != 3 or 0 in a.shape:
        raise ValueError(f"{name} must have shape ({'N, Tx, D' if name == 'x' else 'N, Ty, F'})"
                         f" with no empty axis, got {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return a


def seq_to_seq_unsync(
    x: np.ndarray, y: np.ndarray, *, go_flag: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lay out an input sequence followed by an output sequence on one time axis.

    Parameters
    ----------
    x : ndarray, shape (N, Tx, D)
        Input sequences, read during the first Tx steps.
    y : ndarray, shape (N, Ty, F)
        Target sequences, to be produced during the Ty steps after the input ends.
    go_flag : bool
        Add one input feature that is 0 while the input is read and 1 while the output
        is produced (R rnn has none: its inputs are only zero-padded). It tells the model
        when to answer even if an input value can itself be 0.

    Returns
    -------
    x_full : ndarray, shape (N, Tx + Ty, D) (D + 1 with ``go_flag``)
        ``x`` followed by Ty steps of zeros.
    y_full : ndarray, shape (N, Tx + Ty, F)
        Tx steps of zeros followed by ``y``.
    mask : ndarray of float, shape (N, Tx + Ty)
        1 on the last Ty steps, 0 before: pass it to ``Solver.fit(..., mask=mask)`` or a
        loss's ``mask`` so that only the output steps count (R rnn sets the error of the
        first part to 0 in backpropagation; this is the same).

    Examples
    --------
    >>> x, y = np.ones((2, 3, 1)), np.full((2, 2, 1), 5.0)
    >>> xf, yf, mask = seq_to_seq_unsync(x, y)
    >>> xf[0, :, 0], yf[0, :, 0], mask[0]
    (array([1., 1., 1., 0., 0.]), array([0., 0., 0., 5., 5.]), array([0., 0., 0., 1., 1.]))
    """
    x = _check_3d(x, "x")
    y = _check_3d(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of sequences N, got "
                         f"{x.shape[0]} and {y.shape[0]}")
    n, tx, d = x.shape
    ty = y.shape[1]
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    x_full = np.zeros((n, tx + ty, d + int(go_flag)), dtype=dtype)
    x_full[:, :tx, :d] = x
    if go_flag:
        x_full[:, tx:, d] = 1.0
    y_full = np.zeros((n, tx + ty, y.shape[2]), dtype=y.dtype)
    y_full[:, tx:] = y
    mask = np.zeros((n, tx + ty), dtype=dtype)
    mask[:, tx:] = 1.0
    return x_full, y_full, mask


def unsync_outputs(pred: np.ndarray, ty: int) -> np.ndarray:
    """The output part of a model's prediction on :func:`seq_to_seq_unsync` data.

    Parameters
    ----------
    pred : ndarray, shape (N, Tx + Ty, F)
        The model's per-step outputs.
    ty : int
        Ty, the length of the output sequence.

    Returns
    -------
    ndarray, shape (N, Ty, F)
        The last ``ty`` steps of ``pred``.
    """
    ty = check_positive_int(ty, "ty")
    if not isinstance(pred, np.ndarray) or pred.ndim != 3 or pred.shape[1] < ty:
        raise ValueError(f"pred must have shape (N, Tx + Ty, F) with at least Ty = {ty} steps, "
                         f"got {getattr(pred, 'shape', type(pred).__name__)}")
    return pred[:, -ty:]


def reverse_sequence_task(
    n_samples: int, length: int = 5, *, seed: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of values uniform in [0, 1) and the same values in reverse order.

    Returns
    -------
    x, y : ndarray, shape (N, length, 1)
        ``y[:, t] = x[:, -1 - t]``.

    Notes
    -----
    The targets come only after the whole input is read, so it is an unsynchronised
    sequence-to-sequence task for :func:`seq_to_seq_unsync`. Predicting 0.5 everywhere
    gives MSE 1/12 ~ 0.0833, the baseline a model must beat.
    """
    n = check_positive_int(n_samples, "n_samples")
    length = check_positive_int(length, "length")
    dt = check_float_dtype(dtype, "dtype")
    rng = np.random.default_rng(seed)
    x = rng.random((n, length, 1)).astype(dt)
    return x, x[:, ::-1].copy()
