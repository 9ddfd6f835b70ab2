"""The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_float_dtype, check_positive_int

__all__ = ["ADDING_BASELINE_MSE", "adding_problem"]

#: The bar quoted by the MinPy seed and later papers for "always predict 1".
#: (On data drawn exactly as below, always predicting 1 gives MSE = Var(u1 + u2) = 1/6.)
ADDING_BASELINE_MSE = 0.1767


def adding_problem(
    n_samples: int,
    seq_len: int,
    *,
    seed: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a batch of the adding problem.

    Each sequence has two input channels: values uniform in [0, 1), and a
    mask that is 0 everywhere except at exactly two distinct positions, drawn
    uniformly at random, where it is 1. The target is the sum of the two
    marked values (Le, Jaitly & Hinton 2015, section 4.1).

    Parameters
    ----------
    n_samples : int
        N.
    seq_len : int
        T, at least 2.
    seed : int or numpy.random.Generator, optional
    dtype : float32 or float64

    Returns
    -------
    x : ndarray, shape (N, T, 2)
        ``x[..., 0]`` the values, ``x[..., 1]`` the mask.
    y : ndarray, shape (N, 1)
        The sum of the two marked values.
    """
    n = check_positive_int(n_samples, "n_samples")
    t = check_positive_int(seq_len, "seq_len")
    if t < 2:
        raise ValueError(f"seq_len must be at least 2 (two marked positions), got {t}")
    dt = check_float_dtype(dtype, "dtype")
    rng = np.random.default_rng(seed)
    values = rng.random((n, t))
    # Two distinct positions per row: the first two columns of a random permutation.
    positions = np.argsort(rng.random((n, t)), axis=1)[:, :2]
    mask = np.zeros((n, t))
    np.put_along_axis(mask, positions, 1.0, axis=1)
    x = np.stack([values, mask], axis=2).astype(dt)
    y = (values * mask).sum(axis=1, keepdims=True).astype(dt)
    return x, y
