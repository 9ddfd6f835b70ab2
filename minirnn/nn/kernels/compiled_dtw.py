"""Banded dynamic time warping compiled by numba (the ``fast`` extra; issue 31).

:func:`dtw_distances` computes exactly what
:func:`minirnn.apps.classification.neighbors.dtw_distances` computes in numpy (the same
operations in the same order: identical distances for D < 8, where numpy's sum over the
dimensions is sequential; to rounding above), a block of b's sequences side by side. The
classifier's neighbour evidence calls it when
:func:`~minirnn.nn.kernels.compiled.compiled_available` (numba importable, not switched
off by ``MINIRNN_NO_COMPILED``). Compiled code is cached on disk as for the kernels
(:mod:`minirnn.nn.kernels.compiled`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import numpy as np

from minirnn.nn.kernels.jit import _JIT, njit

__all__ = ["dtw_distances"]


#: Sequences of b run side by side in blocks of this many (the vector lanes of the inner
#: loop; the two rows of the programme, (T, block) each, stay in the cache).
BLOCK = 64


@njit(**_JIT)
def _dtw_sums(a: np.ndarray, b_t: np.ndarray, window: int,
              out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """Total DTW costs (not divided by T) of every pair (a[p], b[q]) into out (Na, Nb);
    a (Na, T, D) and b_t (T, D, Nb) (b with its sequences last) float64, 0 < window < T.

    The programme of one a against a block of b's sequences runs with the block along the
    innermost loop: the serial dependency of a row (cell j needs cell j - 1) runs in
    parallel over the block's sequences, and the compiler vectorizes that loop."""
    Na, T, D = a.shape
    Nb = b_t.shape[2]
    inf = np.inf
    prev = np.empty((T, BLOCK))
    cur = np.empty((T, BLOCK))
    c = np.empty(BLOCK)
    for p in range(Na):
        for q0 in range(0, Nb, BLOCK):
            Q = min(BLOCK, Nb - q0)
            for j in range(T):
                for q in range(Q):
                    prev[j, q] = inf
                    cur[j, q] = inf
            for i in range(T):
                lo = max(0, i - window)
                hi = min(T, i + window + 1)
                for j in range(lo, hi):
                    if D == 1 and i > 0 and j > lo:  # the common case in one pass
                        x = a[p, i, 0]
                        for q in range(Q):
                            diff = x - b_t[j, 0, q0 + q]
                            cq = diff * diff
                            best = min(prev[j, q], prev[j - 1, q]) + cq
                            cur[j, q] = min(best, cur[j - 1, q] + cq)
                        continue
                    x = a[p, i, 0]
                    for q in range(Q):  # (numpy's sum starts from 0: 0 + x is x)
                        diff = x - b_t[j, 0, q0 + q]
                        c[q] = diff * diff
                    for d in range(1, D):
                        x = a[p, i, d]
                        for q in range(Q):
                            diff = x - b_t[j, d, q0 + q]
                            c[q] += diff * diff
                    if i == 0:
                        if j == lo:
                            for q in range(Q):
                                cur[j, q] = c[q]
                        else:
                            for q in range(Q):
                                cur[j, q] = cur[j - 1, q] + c[q]
                    elif j == lo:
                        for q in range(Q):
                            dg = prev[j - 1, q] if j > 0 else inf
                            cur[j, q] = min(prev[j, q], dg) + c[q]
                    else:
                        for q in range(Q):
                            best = min(prev[j, q], prev[j - 1, q]) + c[q]
                            cur[j, q] = min(best, cur[j - 1, q] + c[q])
                prev, cur = cur, prev
            for q in range(Q):
                out[p, q0 + q] = prev[T - 1, q]


def dtw_distances(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """DTW distances (Na, Nb) between a (Na, T, D) and b (Nb, T, D) with a Sakoe-Chiba band
    of ``window`` steps (0 < window < T; checked by the caller), divided by T."""
    a = np.ascontiguousarray(a, np.float64)
    b_t = np.ascontiguousarray(np.transpose(np.asarray(b, np.float64), (1, 2, 0)))
    out = np.empty((len(a), len(b)))
    # The compiled loop releases the GIL (nogil): rows of a split over threads, one per
    # CPU (at most 4), each writing its own rows of out.
    workers = min(os.cpu_count() or 1, 4, len(a))
    if workers <= 1 or len(a) * len(b) * a.shape[1] * (2 * window + 1) < 1_000_000:
        _dtw_sums(a, b_t, int(window), out)
    else:
        bounds = np.linspace(0, len(a), workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            done = [pool.submit(_dtw_sums, a[lo:hi], b_t, int(window), out[lo:hi])
                    for lo, hi in pairwise(bounds) if hi > lo]
            for f in done:
                f.result()
    return out / a.shape[1]
