"""The batch split: one fused kernel call as slices of the batch on several Python threads.

numpy's element-wise work (the gate nonlinearities, about a third of a large LSTM step)
runs on one thread whatever the BLAS does, so a large kernel call can run as independent
slices of the batch on several threads (numpy releases the GIL in its loops and in the
BLAS). The slices are independent sequences: they meet once per layer call, where the
parameter gradients of the other slices are added to the cell's.

This module holds only the mechanism and its one setting, :func:`batch_threads` (1: no
split, the default). Deciding it, together with the BLAS thread count, is the thread
policy's job (:mod:`minirnn.train.threads`); a layer's forward never changes it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

__all__ = ["SINGLE_THREAD_MACS", "SPLIT_MIN_BATCH", "batch_parts", "batch_slices",
           "batch_threads", "run_parts", "set_batch_threads"]

#: Per-step matrix products below this many multiply-adds run best on one thread: such a
#: call is never split (and the thread policy gives it one BLAS thread).
SINGLE_THREAD_MACS = 1_000_000

#: Smallest batch that a fused kernel call is split at: halves of 32 rows and more keep
#: the BLAS efficient (docs/performance.md, "Threads").
SPLIT_MIN_BATCH = 64

_LOCK = threading.Lock()
_parts = 1  # Python threads a large kernel call is split over (1: no split)


def _check_count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return int(n)


def batch_threads() -> int:
    """Python threads a large enough fused kernel call is split over (1: no split)."""
    return _parts


def set_batch_threads(n: int) -> int:
    """Split every fused kernel call with a batch of at least :data:`SPLIT_MIN_BATCH` and a
    step of at least :data:`SINGLE_THREAD_MACS` over ``n`` threads (1: no split); returns
    the previous setting (to restore it).

    A process-wide setting: the thread policy (:mod:`minirnn.train.threads`) sets it
    around training and restores it. It leaves the BLAS thread count alone.
    """
    global _parts
    n = _check_count(n)
    with _LOCK:
        previous, _parts = _parts, n
    return previous


def batch_parts(batch: int, macs_per_step: int) -> int:
    """How many threads a fused kernel call of this batch and step size is split over."""
    parts = _parts
    if parts > 1 and batch >= SPLIT_MIN_BATCH and macs_per_step >= SINGLE_THREAD_MACS:
        return min(parts, batch // (SPLIT_MIN_BATCH // 2))
    return 1


def batch_slices(N: int, macs_per_step: int) -> list[slice] | None:
    """The batch slices of a kernel call on N rows, one per thread (None: no split)."""
    parts = batch_parts(N, macs_per_step)
    if parts == 1:
        return None
    bounds = [N * p // parts for p in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


_POOL: ThreadPoolExecutor | None = None
_POOL_WORKERS = 0


def run_parts(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``fn(*args)`` for every args in ``calls``: the first in this thread, the others on a
    pool of worker threads (made once, grown when more are needed). Every call has ended
    when this returns or raises; a worker's exception is raised here."""
    global _POOL, _POOL_WORKERS
    with _LOCK:
        if _POOL is None or len(calls) - 1 > _POOL_WORKERS:
            _POOL_WORKERS = len(calls) - 1
            _POOL = ThreadPoolExecutor(_POOL_WORKERS, thread_name_prefix="minirnn-batch")
        pool = _POOL
    futures = [pool.submit(fn, *args) for args in calls[1:]]
    try:
        first = fn(*calls[0])
    finally:
        wait(futures)  # they write into arrays shared with this call: never leave them running
    return [first] + [f.result() for f in futures]


def rows(arrays: Any, s: slice) -> Any:
    """Rows ``s`` (the batch axis 0) of an array, of each array of a tuple, or None."""
    if arrays is None:
        return None
    if isinstance(arrays, tuple):
        return tuple(a[s] for a in arrays)
    return arrays[s]


def cols(a: np.ndarray | None, s: slice) -> np.ndarray | None:
    """The batch slice ``s`` (axis 1) of a time-major (T, N, ...) array, or None."""
    return None if a is None else a[:, s]
