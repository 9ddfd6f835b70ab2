"""Baselines for sequence classification: majority class, 1-NN Euclidean, 1-NN DTW and
MiniRocket.

These are the reference points of the UEA/UCR archive papers: a recurrent classifier is only
worth its training time if it beats 1-nearest-neighbour with Euclidean distance, the usual
goal is to match 1-NN with dynamic time warping, and the strongest honest baseline that runs
in seconds is MiniRocket (Dempster et al. 2021; from aeon, the ``rocket`` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

__all__ = ["dtw_cost", "majority_class", "minirocket", "nn1_dtw", "nn1_euclidean",
           "resample", "rocket_unavailable", "stratified_split"]

#: Shortest series MiniRocket takes (its kernels span 9 steps): shorter ones are stretched.
MINIROCKET_MIN_STEPS = 9


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


def _past(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise TimeoutError("1-NN DTW stopped at its deadline")


def _compiled_dtw() -> Callable[[np.ndarray, np.ndarray, int], np.ndarray] | None:
    """The numba DTW of the ``fast`` extra, or None where it does not run."""
    from minirnn.nn.kernels import compiled

    if not compiled.compiled_available():
        return None
    from minirnn.nn.kernels.compiled_dtw import dtw_distances

    return dtw_distances


def nn1_dtw(x_train: np.ndarray, len_train: np.ndarray, y_train: np.ndarray,
            x_test: np.ndarray, len_test: np.ndarray, *, chunk_cells: int = 4_000_000,
            deadline: float | None = None, compiled_dtw: bool = True) -> np.ndarray:
    """Labels of the nearest training sequence under dynamic time warping (full window,
    squared Euclidean step cost over all dimensions, i.e. "dependent" DTW), on each
    sequence's valid steps.

    The dynamic programme runs over (test step, train step) with numpy arrays over all
    (test, train) pairs of a chunk, so its cost is :func:`dtw_cost` cell updates. When every
    series has the same length and the ``fast`` extra (numba) is installed, the compiled
    programme of :mod:`minirnn.nn.kernels.compiled_dtw` runs instead (the same distances,
    many times faster; ``compiled_dtw=False`` keeps numpy).

    Parameters
    ----------
    x_train : ndarray, shape (M, Tb, D)
    len_train : ndarray of int, shape (M,)
    y_train : ndarray of int, shape (M,)
    x_test : ndarray, shape (N, Ta, D)
    len_test : ndarray of int, shape (N,)
    deadline : float, optional
        A ``time.perf_counter()`` value: past it, :class:`TimeoutError` is raised (checked
        every step of the programme, so the overshoot is one step of one chunk).

    Returns
    -------
    ndarray of int64, shape (N_test,)
    """
    x_train = np.asarray(x_train, np.float64)
    x_test = np.asarray(x_test, np.float64)
    n_train, tb = len(x_train), int(len_train.max())
    ta = int(len_test.max())
    dtw = _compiled_dtw() if compiled_dtw else None
    if dtw is not None and ta == tb > 1 and np.all(len_train == tb) and \
            np.all(len_test == tb):
        # Full window = a band of T - 1 steps; rows of the test set in chunks of about
        # 2e7 cell updates, so that a deadline is checked often.
        per = max(1, int(2e7 // max(n_train * tb * tb, 1)))
        nearest = np.empty(len(x_test), dtype=np.int64)
        for start in range(0, len(x_test), per):
            _past(deadline)
            dist = dtw(x_test[start:start + per, :tb], x_train[:, :tb], tb - 1)
            nearest[start:start + per] = np.argmin(dist, axis=1)
        return y_train[nearest]
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
            _past(deadline)
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


def rocket_unavailable() -> str | None:
    """Why :func:`minirocket` and the MiniRocket member cannot run here (aeon not installed:
    the ``rocket`` extra), or None when they can."""
    try:  # the modules they use: aeon itself imports without scikit-learn, these do not
        import aeon.classification.convolution_based
        import aeon.transformations.collection.convolution_based  # noqa: F401
    except ImportError as exc:
        return f"needs aeon: pip install 'minirnn[rocket]' ({exc})"
    return None


def minirocket(x_train: np.ndarray, len_train: np.ndarray, y_train: np.ndarray,
               x_test: np.ndarray, len_test: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Labels predicted by MiniRocket (Dempster, Schmidt and Webb 2021: 10,000 random
    convolution features and a ridge classifier), aeon's ``MiniRocketClassifier`` with its
    defaults. Sequences of unequal lengths are first resampled to the longest training
    length, as for :func:`nn1_euclidean` (at least 9 steps).

    Parameters
    ----------
    x_train : ndarray, shape (M, T, D)
    len_train : ndarray of int, shape (M,)
    y_train : ndarray of int, shape (M,)
    x_test : ndarray, shape (N, T', D)
    len_test : ndarray of int, shape (N,)
    seed : int

    Returns
    -------
    ndarray of int64, shape (N,)

    Raises
    ------
    ImportError
        Without aeon (the ``rocket`` extra); :func:`rocket_unavailable` says so first.
    """
    from aeon.classification.convolution_based import MiniRocketClassifier

    steps = max(int(len_train.max()), MINIROCKET_MIN_STEPS)
    a = resample(np.asarray(x_train, np.float64), len_train, steps)
    b = resample(np.asarray(x_test, np.float64), len_test, steps)
    model = MiniRocketClassifier(random_state=seed, n_jobs=1)
    # aeon's layout is (N, D, T)
    model.fit(np.ascontiguousarray(a.transpose(0, 2, 1)), np.asarray(y_train))
    return np.asarray(model.predict(np.ascontiguousarray(b.transpose(0, 2, 1))), np.int64)


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
