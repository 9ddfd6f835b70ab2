"""Reusable work arrays of the fused kernels, with an explicit ownership rule.

A fresh multi-megabyte array costs page faults (and, with transparent huge pages,
sometimes a compaction stall) at every training step; reusing the previous step's array
avoids them. The rule that makes reuse safe:

- A kernel call takes its arrays from its cell's pool through a :class:`Workspace`. What
  the call needs only while it runs (scratch) goes back to the pool when it ends.
- What a forward keeps for backward is *leased* to the cache: the pool forgets it until
  the cache's owner calls :meth:`Lease.release` (``bptt.release(cache)``). The recurrent
  layer owns its caches and releases them when it drops them, at its next forward; a
  cache that is never released (held by a caller of ``bptt.forward``, say) keeps its
  arrays, and they are freed with it. So a cache somebody still holds is never
  overwritten, and the pool never keeps an array alive that a cache uses.

A pool keeps one free array per name and batch slice (``part``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

__all__ = ["Lease", "Workspace", "workspace"]

_LOCK = threading.Lock()
#: Free arrays of each cell, by (name, part).
_FREE: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], np.ndarray]] = (
    weakref.WeakKeyDictionary())


class Lease:
    """Arrays a cache keeps; :meth:`release` gives them back to the pool (once)."""

    __slots__ = ("_arrays", "_free")

    def __init__(self, free: dict[tuple[str, int], np.ndarray],
                 arrays: list[tuple[tuple[str, int], np.ndarray]]) -> None:
        self._free: dict[tuple[str, int], np.ndarray] | None = free
        self._arrays = arrays

    def release(self) -> None:
        """Return the arrays to the pool; the cache must not be used afterwards."""
        free, self._free = self._free, None
        if free is not None:
            free.update(self._arrays)
        self._arrays = []


class Workspace:
    """The arrays one kernel call (on one batch slice) takes from its cell's pool.

    The pool is a plain dict per cell: its single-key operations are atomic under the
    GIL, so the batch slices of one call (each with keys of its own part) share it
    without a lock.
    """

    __slots__ = ("_free", "_part", "_taken")

    def __init__(self, cell: Any, part: int = 0) -> None:
        free = _FREE.get(cell)
        if free is None:
            with _LOCK:
                free = _FREE.setdefault(cell, {})
        self._free = free
        self._part = part
        self._taken: dict[tuple[str, int], np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An uninitialised array: the one this call already took under ``name``, else the
        pool's free one if it fits, else a new one."""
        key = (name, self._part)
        buf = self._taken.get(key)
        if buf is None:
            buf = self._free.pop(key, None)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = np.empty(shape, dtype)
        self._taken[key] = buf
        return buf

    def finish(self, kept: tuple[Any, ...] = ()) -> Lease | None:
        """End the call: every taken array not in ``kept`` goes back to the pool; those in
        ``kept`` (compared by identity) are leased to the cache (None if there are none)."""
        taken, self._taken = self._taken, {}
        free = self._free
        if not kept:
            free.update(taken)
            return None
        ids = {id(a) for a in kept if a is not None}
        leased = []
        for key, a in taken.items():
            if id(a) in ids:
                leased.append((key, a))
            else:
                free[key] = a
        return Lease(free, leased) if leased else None


def workspace(cell: Any, part: int = 0) -> Workspace:
    """A :class:`Workspace` on ``cell``'s pool for batch slice ``part``."""
    return Workspace(cell, part)
