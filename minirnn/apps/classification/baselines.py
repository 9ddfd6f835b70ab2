"""Baselines for sequence classification: majority class, 1-NN Euclidean, 1-NN DTW.

These are the reference points of the UEA/UCR archive papers: a recurrent classifier is only
worth its training time if it beats 1-nearest-neighbour with Euclidean distance, and the usual
goal is to match 1-NN with dynamic time warping.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dtw_cost", "majority_class", "nn1_dtw", "nn1_euclidean", "resample",
           "stratified_split"]


def majority_class(y_train: np.ndarray, n: int) -> np.ndarray:
    """Predict the most frequent training class (the lowest index on a tie) ``n`` times."""
    return np.full(n, int(np.argmax(np.bincount(y_train))), dtype=np.int64)


def resample(x: np.ndarray, lengths: np.ndarray, steps: int) -> np.ndarray:
    """Stretch every sequence's valid part to ``steps`` steps by linear interpolation.

    Parameters
    ----------
    x : ndarray, shape (N, T, D)
    lengths : ndarray of int, shape (N,)
    steps : int

    Returns
    -------
    ndarray, shape (N, steps, D)
    """
    out = np.empty((x.shape[0], steps, x.shape[2]), dtype=np.float64)
    grid = np.linspace(0.0, 1.0, steps)
    for i, n in enumerate(lengths):
        n = int(n)
        if n == steps:
            out[i] = x[i, :n]
            continue
        source = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
        for d in range(x.shape[2]):
            out[i, :, d] = np.interp(grid, source, x[i, :n, d])
    return out


def _equal_length(x_train: np.ndarray, len_train: np.ndarray, x_test: np.ndarray,
                  len_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    steps = int(len_train.max())
    if np.all(len_train == steps) and np.all(len_test == steps):
        return x_train[:, :steps], x_test[:, :steps]
    return resample(x_train, len_train, steps), resample(x_test, len_test, steps)


def nn1_euclidean(x_train: np.ndarray, len_train: np.ndarray, y_train: np.ndarray,
                  x_test: np.ndarray, len_test: np.ndarray) -> np.ndarray:
    """Labels of the nearest training sequence in Euclidean distance over all steps and
    dimensions. Sequences of unequal lengths are first resampled to the longest training
    length (linear interpolation), a common convention for unequal-length archive sets.

    Returns
    -------
    ndarray of int64, shape (N_test,)
    """
    a, b = _equal_length(x_train, len_train, x_test, len_test)
    a2 = a.reshape(len(a), -1).astype(np.float64)
    b2 = b.reshape(len(b), -1).astype(np.float64)
    dist = (b2 ** 2).sum(1)[:, None] + (a2 ** 2).sum(1)[None, :] - 2.0 * b2 @ a2.T
    return y_train[np.argmin(dist, axis=1)]


def dtw_cost(n_train: int, n_test: int, t_train: int, t_test: int) -> float:
    """Cell updates :func:`nn1_dtw` needs (its running time is about proportional)."""
    return float(n_train) * n_test * t_train * t_test


def nn1_dtw(x_train: np.ndarray, len_train: np.ndarray, y_train: np.ndarray,
            x_test: np.ndarray, len_test: np.ndarray, *, chunk_cells: int = 4_000_000
            ) -> np.ndarray:
    """Labels of the nearest training sequence under dynamic time warping (full window,
    squared Euclidean step cost over all dimensions, i.e. "dependent" DTW), on each
    sequence's valid steps.

    The dynamic programme runs over (test step, train step) with numpy arrays over all
    (test, train) pairs of a chunk, so its cost is :func:`dtw_cost` cell updates.

    Returns
    -------
    ndarray of int64, shape (N_test,)
    """
    x_train = np.asarray(x_train, np.float64)
    x_test = np.asarray(x_test, np.float64)
    n_train, tb = len(x_train), int(len_train.max())
    ta = int(len_test.max())
    per = max(1, chunk_cells // max(n_train * tb, 1))
    best = np.empty(len(x_test), dtype=np.int64)
    b = x_train[:, :tb]  # (M, Tb, D)
    b_sq = (b ** 2).sum(-1)  # (M, Tb)
    last_b = len_train - 1
    for start in range(0, len(x_test), per):
        a = x_test[start:start + per, :ta]  # (K, Ta, D)
        la = len_test[start:start + per]
        k = len(a)
        prev = np.full((k, n_train, tb), np.inf)
        final = np.full((k, n_train), np.inf)
        for i in range(ta):
            # step costs of test step i against every train step: (K, M, Tb)
            cost = (a[:, i] ** 2).sum(-1)[:, None, None] + b_sq[None] - 2.0 * np.einsum(
                "kd,mtd->kmt", a[:, i], b)
            np.maximum(cost, 0.0, out=cost)
            cur = np.empty_like(prev)
            if i == 0:
                np.cumsum(cost, axis=2, out=cur)
            else:
                diag_up = np.minimum(prev[:, :, 1:], prev[:, :, :-1])
                cur[:, :, 0] = cost[:, :, 0] + prev[:, :, 0]
                for j in range(1, tb):
                    cur[:, :, j] = cost[:, :, j] + np.minimum(diag_up[:, :, j - 1],
                                                              cur[:, :, j - 1])
            ends = la - 1 == i
            if ends.any():
                final[ends] = cur[ends][:, np.arange(n_train), last_b]
            prev = cur
        best[start:start + k] = np.argmin(final, axis=1)
    return y_train[best]


def stratified_split(y: np.ndarray, fraction: float, seed: int | None = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation): about ``fraction`` of every class goes to validation.

    Each class with at least two samples gives at least one; a class with a single sample
    stays in training. Deterministic for a given ``seed``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    val: list[np.ndarray] = []
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        if len(members) < 2:
            continue
        take = min(max(1, round(len(members) * fraction)), len(members) - 1)
        val.append(members[:take])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    train_idx = np.setdiff1d(np.arange(len(y)), val_idx)
    return train_idx, val_idx
