"""Running a fused kernel on a layer's sequence: the registry, the batch split and the
work arrays.

Each kernel module (:mod:`~minirnn.nn.kernels.lstm`, :mod:`~minirnn.nn.kernels.gru`,
:mod:`~minirnn.nn.kernels.rnn`) has a pair:

- ``forward(cell, x_tm, state0, reverse, rec_mask, keep, ws, out=None)`` returns
  (outputs (T, N, H), final state, saved), the outputs written into ``out`` if given;
- ``backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys, saved, hidden_grads,
  dx, ws, grads=None)`` adds the parameter gradients (into ``grads``, None: the cell's),
  writes dx into the given (T, N, D) array and returns dL/d(state0). Nothing in ``saved``
  is written (a second backward gives the same gradients).

``ws`` is the call's :class:`~minirnn.nn.kernels.pool.Workspace`; what ``saved`` holds is
leased to the cache (:func:`release` gives it back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell, State
from minirnn.nn.kernels import gru, lstm, rnn, split
from minirnn.nn.kernels.chunks import cell_grads
from minirnn.nn.kernels.pool import Lease, workspace

__all__ = ["COMPILED_PREFIX", "KERNELS", "KernelCache", "backward", "forward", "lookup",
           "release"]

#: The fused kernels by the name a cell gives in :attr:`~minirnn.Cell.fused_kernel`.
KERNELS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "lstm": (lstm.forward, lstm.backward),
    "gru": (gru.forward, gru.backward),
    "rnn": (rnn.forward, rnn.backward),
}

#: Registry names ``"compiled:<name>"`` run the compiled (numba) kernel of ``<name>``
#: (:mod:`minirnn.nn.kernels.compiled`, imported only when one is asked for).
COMPILED_PREFIX = "compiled:"


def lookup(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(forward, backward) of the kernel registered as ``name`` (a :data:`KERNELS` key,
    or :data:`COMPILED_PREFIX` + a key of the compiled kernels)."""
    found = KERNELS.get(name)
    if found is not None:
        return found
    from minirnn.nn.kernels.compiled import COMPILED_KERNELS

    return COMPILED_KERNELS[name[len(COMPILED_PREFIX):]]


#: What a kernel's forward keeps: (name, x_tm, state0, reverse, rec_mask, ys, saved,
#: parts, leases); ``saved`` is a list with one entry per batch slice when ``parts`` is set.
KernelCache = tuple[Any, ...]


def _saved_arrays(saved: Any) -> tuple[Any, ...]:
    return tuple(saved) if isinstance(saved, tuple) else ()


def forward(name: str, cell: Cell, x_tm: np.ndarray, state0: State, reverse: bool,
            rec_mask: np.ndarray | None, keep: bool) -> tuple[np.ndarray, State,
                                                              KernelCache | None]:
    """Kernel ``name`` over x_tm (T, N, D): outputs (T, N, H), final state, and the cache
    (None without ``keep``). A large enough call runs as batch slices on several threads
    (:func:`minirnn.nn.kernels.split.batch_slices`)."""
    kernel_forward, _ = lookup(name)
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    parts = split.batch_slices(N, N * H * cell.num_chunks * H)
    if parts is None:
        ws = workspace(cell)
        try:
            ys, final, saved = kernel_forward(cell, x_tm, state0, reverse, rec_mask, keep, ws)
        except BaseException:
            ws.finish()
            raise
        lease = ws.finish(_saved_arrays(saved) if keep else ())
        leases = [] if lease is None else [lease]
    else:
        ys = np.empty((T, N, H), x_tm.dtype)
        spaces = [workspace(cell, p) for p in range(len(parts))]
        try:
            results = split.run_parts(kernel_forward, [
                (cell, x_tm[:, s], split.rows(state0, s), reverse, split.rows(rec_mask, s),
                 keep, spaces[p], ys[:, s]) for p, s in enumerate(parts)])
        except BaseException:
            for ws in spaces:
                ws.finish()
            raise
        finals = zip(*(r[1] for r in results), strict=True)
        final = tuple(np.concatenate(f, axis=0) for f in finals)
        saved = [r[2] for r in results]
        leases = [lease for ws, r in zip(spaces, results, strict=True)
                  if (lease := ws.finish(_saved_arrays(r[2]) if keep else ())) is not None]
    if not keep:
        return ys, final, None
    return ys, final, (name, x_tm, state0, reverse, rec_mask, ys, saved, parts, leases)


def backward(cell: Cell, dys: np.ndarray | None, dfinal: State | None, cache: KernelCache,
             hidden_grads: np.ndarray | None, dx_batch_first: bool) -> tuple[np.ndarray, State]:
    """BPTT of :func:`forward` from its cache (read only): dx (T, N, D), dL/d(state0)."""
    name, x_tm, state0, reverse, rec_mask, ys, saved, parts, _ = cache
    _, kernel_backward = lookup(name)
    T, N, D = x_tm.shape
    dx = (np.empty((N, T, D), x_tm.dtype).transpose(1, 0, 2) if dx_batch_first
          else np.empty((T, N, D), x_tm.dtype))
    if parts is None:
        ws = workspace(cell)
        try:
            dstate0 = kernel_backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys,
                                      saved, hidden_grads, dx, ws)
        finally:
            ws.finish()
        return dx, dstate0
    # The first slice accumulates into the cell's gradients, the others into their own
    # arrays (no two threads add into one array), summed below.
    sinks = [cell_grads(cell)] + [
        tuple(None if g is None else np.zeros_like(g) for g in cell_grads(cell))
        for _ in parts[1:]]
    spaces = [workspace(cell, p) for p in range(len(parts))]
    try:
        results = split.run_parts(kernel_backward, [
            (cell, split.cols(dys, s), split.rows(dfinal, s), x_tm[:, s],
             split.rows(state0, s), reverse, split.rows(rec_mask, s), ys[:, s], saved[p],
             split.cols(hidden_grads, s), dx[:, s], spaces[p], sinks[p])
            for p, s in enumerate(parts)])
    finally:
        for ws in spaces:
            ws.finish()
    for sink in sinks[1:]:
        for total, extra in zip(sinks[0], sink, strict=True):
            if total is not None:
                total += extra
    return dx, tuple(np.concatenate(d, axis=0) for d in zip(*results, strict=True))


def release(cache: KernelCache) -> None:
    """Give the arrays a kernel cache keeps back to the pool; the cache is dead afterwards.
    Only the cache's owner may call it (the recurrent layer, when it drops its caches)."""
    leases: list[Lease] = cache[8]
    for lease in leases:
        lease.release()
