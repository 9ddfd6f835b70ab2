"""Nearest-neighbour evidence for sequence classification: distance matrices (Euclidean and
banded dynamic time warping) and calibrated class probabilities from them.

The archive's strongest simple classifiers are nearest-neighbour ones; a recurrent network
trained on a few dozen series often misses a local shape that 1-NN matches exactly. These
pieces turn distances into class probabilities that :class:`SequenceClassifier` blends with
the network's (see ``docs/classification.md``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from minirnn.apps.classification.baselines import resample

__all__ = ["class_distances", "dtw_distances", "dtw_self_distances", "euclidean_distances",
           "fit_temperature", "neighbor_proba", "paa", "to_common_length"]


def to_common_length(x: np.ndarray, lengths: np.ndarray, steps: int) -> np.ndarray:
    """Every sequence's valid part stretched to ``steps`` steps (linear interpolation), as
    :func:`~minirnn.apps.classification.nn1_euclidean` does: (N, T, D) -> (N, steps, D)."""
    if np.all(lengths == steps) and x.shape[1] >= steps:
        return np.asarray(x[:, :steps], np.float64)
    return resample(np.asarray(x, np.float64), lengths, steps)


def paa(x: np.ndarray, max_steps: int) -> np.ndarray:
    """Piecewise aggregate approximation: average groups of consecutive steps so that at
    most ``max_steps`` remain, (N, T, D) -> (N, ceil(T / f), D) with f = ceil(T / max_steps)
    (the last group may be shorter)."""
    n, t, d = x.shape
    factor = max(1, math.ceil(t / max_steps))
    if factor == 1:
        return x
    groups = math.ceil(t / factor)
    padded = np.zeros((n, groups * factor, d))
    padded[:, :t] = x
    counts = np.minimum(factor, t - factor * np.arange(groups))
    return padded.reshape(n, groups, factor, d).sum(axis=2) / counts[None, :, None]


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances over all steps and dimensions, divided by the number of
    steps: (Na, T, D), (Nb, T, D) -> (Na, Nb)."""
    a2 = a.reshape(len(a), -1)
    b2 = b.reshape(len(b), -1)
    dist = (a2 ** 2).sum(1)[:, None] + (b2 ** 2).sum(1)[None, :] - 2.0 * a2 @ b2.T
    return np.maximum(dist, 0.0) / a.shape[1]


def dtw_distances(a: np.ndarray, b: np.ndarray, window: int, *,
                  chunk_cells: int = 4_000_000, compiled_dtw: bool = True,
                  deadline: float | None = None) -> np.ndarray:
    """Dynamic time warping distances between equal-length sequences, with a Sakoe-Chiba
    band: step i of one may only be matched to steps i - window .. i + window of the other.

    The step cost is the squared Euclidean distance over all dimensions ("dependent" DTW);
    the total is divided by the number of steps. ``window=0`` is the Euclidean distance.

    Parameters
    ----------
    a : ndarray, shape (Na, T, D)
    b : ndarray, shape (Nb, T, D)
    window : int, >= 0
    compiled_dtw : bool
        Run the numba-compiled programme (:mod:`minirnn.nn.kernels.compiled_dtw`, the
        ``fast`` extra) where numba is importable: the same distances, far faster
        (docs/performance.md). False: always this numpy code.
    deadline : float, optional
        A ``time.perf_counter()`` value: past it, :class:`TimeoutError` is raised (checked
        between chunks of rows of ``a``, and at every step of the numpy programme).

    Returns
    -------
    ndarray, shape (Na, Nb)
    """
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"dtw_distances needs equal shapes (T, D), got {a.shape[1:]} and "
                         f"{b.shape[1:]}")
    if window < 0:
        raise ValueError(f"window must be >= 0, got {window}")
    t = a.shape[1]
    window = min(int(window), t - 1)
    if window == 0:
        return euclidean_distances(a, b)
    if compiled_dtw:  # numba (the fast extra): the same programme compiled, same distances
        from minirnn.nn.kernels import compiled

        if compiled.compiled_available():
            from minirnn.nn.kernels.compiled_dtw import dtw_distances as dtw_compiled

            if deadline is None:
                return dtw_compiled(a, b, window)
            # rows of a in chunks of about 2e7 cell updates, the deadline checked between
            rows = max(1, int(2e7 // max(len(b) * t * (2 * window + 1), 1)))
            parts = []
            for start in range(0, len(a), rows):
                _past(deadline)
                parts.append(dtw_compiled(a[start:start + rows], b, window))
            return np.concatenate(parts, axis=0)
    out = np.empty((len(a), len(b)))
    per = max(1, chunk_cells // max(len(b) * t, 1))
    b_t = np.ascontiguousarray(np.moveaxis(b, 1, 0))  # (T, Nb, D)
    for start in range(0, len(a), per):
        a_c = a[start:start + per]  # (K, T, D)
        k = len(a_c)
        # Two rows of the programme, swapped each step. Step i reads row i-1 on
        # [lo - 1, hi), i.e. its band plus one cell past its end; bands only move up, so
        # cells past a band were never written (still inf) and stale cells lie below it.
        prev = np.full((k, len(b), t), np.inf)
        cur = np.full_like(prev, np.inf)
        for i in range(t):
            _past(deadline)
            lo, hi = max(0, i - window), min(t, i + window + 1)
            # step costs of a's step i against b's steps lo..hi-1: (K, Nb, hi - lo)
            diff = a_c[:, None, None, i, :] - np.moveaxis(b_t[lo:hi], 0, 1)[None]
            cost = (diff ** 2).sum(-1)
            if i == 0:
                cur[:, :, lo:hi] = np.cumsum(cost, axis=2)
            else:
                # best of (i-1, j) and (i-1, j-1) for every j of the band, vectorised;
                # the (i, j-1) term needs the loop over j.
                up = prev[:, :, lo:hi]
                diag = np.full_like(up, np.inf)
                diag[:, :, 1:] = prev[:, :, lo:hi - 1]
                if lo > 0:
                    diag[:, :, 0] = prev[:, :, lo - 1]
                best = np.minimum(up, diag) + cost
                cur[:, :, lo] = best[:, :, 0]
                for j in range(1, hi - lo):
                    cur[:, :, lo + j] = np.minimum(best[:, :, j],
                                                   cur[:, :, lo + j - 1] + cost[:, :, j])
            prev, cur = cur, prev
        out[start:start + k] = prev[:, :, t - 1]
    return out / t


def dtw_self_distances(a: np.ndarray, window: int, *, blocks: int = 8,
                       compiled_dtw: bool = True, deadline: float | None = None) -> np.ndarray:
    """:func:`dtw_distances` of ``a`` against itself, (Na, Na), for about half the work.

    The band is symmetric, so the distance of p to q is that of q to p: the rows are cut into
    ``blocks`` groups and only the blocks on and above the diagonal are computed
    (``(blocks + 1) / (2 blocks)`` of the cell updates), the rest mirrored.

    Parameters
    ----------
    a : ndarray, shape (Na, T, D)
    window : int, >= 0
    blocks : int, >= 1
    compiled_dtw, deadline
        As for :func:`dtw_distances`.

    Returns
    -------
    ndarray, shape (Na, Na), symmetric
    """
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    n = len(a)
    bounds = np.linspace(0, n, min(blocks, n) + 1).astype(int)
    out = np.empty((n, n))
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        # this block of rows against itself and every later block, in one call
        part = dtw_distances(a[lo:hi], a[lo:], window, compiled_dtw=compiled_dtw,
                             deadline=deadline)
        out[lo:hi, lo:] = part
        out[lo:, lo:hi] = part.T
    return out


def _past(deadline: float | None) -> None:
    if deadline is not None and time.perf_counter() > deadline:
        raise TimeoutError("DTW distances stopped at their deadline")


def class_distances(dist: np.ndarray, y_ref: np.ndarray, num_classes: int) -> np.ndarray:
    """Distance of every query to the nearest reference series of each class, (Nq, C);
    ``inf`` for a class without reference series."""
    out = np.full((dist.shape[0], num_classes), np.inf)
    for c in range(num_classes):
        members = y_ref == c
        if members.any():
            out[:, c] = dist[:, members].min(axis=1)
    return out


def neighbor_proba(class_dist: np.ndarray, temperature: float) -> np.ndarray:
    """Class probabilities from class distances: softmax of ``-log(d_c) / temperature``,
    i.e. ``p_c`` proportional to ``d_c ** (-1 / temperature)`` (scale-free: multiplying every
    distance by a constant changes nothing). As the temperature goes to 0 this is 1-NN.

    Parameters
    ----------
    class_dist : ndarray, shape (N, C)
    temperature : float, > 0

    Returns
    -------
    ndarray, shape (N, C), rows summing to 1
    """
    finite = np.where(np.isfinite(class_dist), class_dist, np.nan)
    scale = np.nanmax(finite, axis=1, keepdims=True)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    logd = np.log(class_dist / scale + 1e-12)  # exact duplicates: a large finite score
    logits = -logd / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(class_dist: np.ndarray, y: np.ndarray) -> float:
    """The temperature of :func:`neighbor_proba` that minimises the log loss of ``y`` (e.g.
    leave-one-out class distances of the training set), searched over [0.01, 10]."""
    from scipy.optimize import minimize_scalar  # heavy: imported when a fit needs it

    def loss(log_t: float) -> float:
        p = neighbor_proba(class_dist, math.exp(log_t))
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    res = minimize_scalar(loss, bounds=(math.log(0.01), math.log(10.0)), method="bounded",
                          options={"xatol": 1e-3})
    return float(math.exp(res.x))
