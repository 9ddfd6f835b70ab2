"""The copy (memory) task (Hochreiter & Schmidhuber 1997; Arjovsky, Shah & Bengio 2016)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minirnn.nn._validation import check_float_dtype, check_positive_int

__all__ = ["COPY_BLANK", "copy_task", "copy_task_baseline"]

#: Class of the blank symbol, in inputs and targets.
COPY_BLANK = 0


def _check_sizes(seq_len: Any, delay: Any, n_symbols: Any) -> tuple[int, int, int]:
    return (
        check_positive_int(seq_len, "seq_len"),
        check_positive_int(delay, "delay"),
        check_positive_int(n_symbols, "n_symbols"),
    )


def copy_task(
    n_samples: int,
    seq_len: int = 10,
    delay: int = 100,
    n_symbols: int = 8,
    *,
    seed: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a batch of the copy task: remember ``seq_len`` symbols over ``delay`` steps.

    Parameters
    ----------
    n_samples : int
        N.
    seq_len : int
        S, the number of symbols to remember (10 in Arjovsky et al. 2016).
    delay : int
        The gap between the last symbol and the first output, delimiter included (Arjovsky
        et al.'s T; they use T = 100 to 500).
    n_symbols : int
        A, the alphabet size (8 in Arjovsky et al.).
    seed : int or numpy.random.Generator, optional
    dtype : float32 or float64
        dtype of the one-hot inputs.

    Returns
    -------
    x : ndarray, shape (N, S + delay + S, A + 2)
        One-hot inputs over ``A + 2`` classes.
    y : ndarray of int64, shape (N, S + delay + S)
        Target class at every step, in ``0 .. A``.

    Notes
    -----
    Classes: 0 is the blank, ``1 .. A`` are the symbols, ``A + 1`` the delimiter. With
    T_total = S + delay + S, each sequence is laid out in time as::

        step      0 .. S-1    S .. S+delay-2   S+delay-1   S+delay .. T_total-1
        input     s_1 .. s_S  blank            delimiter   blank
        target    blank       blank            blank       s_1 .. s_S

    The symbols ``s_i`` are drawn uniformly from ``1 .. A``, independently. The delimiter
    tells the network to start writing the symbols back, in the same order. The targets
    never use the delimiter class, so a classifier head needs ``A + 1`` outputs (``A + 2``
    also works). A memoryless model that outputs blank and then guesses uniformly has
    cross-entropy :func:`copy_task_baseline`.
    """
    n = check_positive_int(n_samples, "n_samples")
    s, d, a = _check_sizes(seq_len, delay, n_symbols)
    dt = check_float_dtype(dtype, "dtype")
    rng = np.random.default_rng(seed)
    t_total = s + d + s
    symbols = rng.integers(1, a + 1, size=(n, s), dtype=np.int64)
    inputs = np.full((n, t_total), COPY_BLANK, dtype=np.int64)
    inputs[:, :s] = symbols
    inputs[:, s + d - 1] = a + 1
    targets = np.full((n, t_total), COPY_BLANK, dtype=np.int64)
    targets[:, s + d:] = symbols
    x = np.eye(a + 2, dtype=dt)[inputs]
    return x, targets


def copy_task_baseline(seq_len: int = 10, delay: int = 100, n_symbols: int = 8) -> float:
    """Mean cross-entropy (nats per step) of the memoryless strategy on :func:`copy_task`.

    Predicting blank for the first ``S + delay`` steps and a uniform guess over the ``A``
    symbols for the last ``S`` gives ``S log(A) / (2 S + delay)`` (Arjovsky et al. 2016:
    ``10 log 8 / (T + 20)``). A model that has learned the task goes well below it.

    Parameters
    ----------
    seq_len, delay, n_symbols : int
        As in :func:`copy_task`.

    Returns
    -------
    float
    """
    s, d, a = _check_sizes(seq_len, delay, n_symbols)
    return s * math.log(a) / (2 * s + d)
