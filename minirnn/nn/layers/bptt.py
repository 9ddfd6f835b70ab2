"""Backpropagation through time for one layer and one direction: the reference loop.

:func:`forward` / :func:`backward` run a cell over a time-major sequence x (T, N, D),
one of two ways, chosen by the layer's ``kernel`` argument
(:mod:`minirnn.nn.kernels.select`):

- the generic loop here calls the cell's own methods step by step (``project_hidden``,
  ``step``, ``step_backward``, ``hidden_input_grad``): any :class:`~minirnn.Cell`, with
  variable lengths and recurrent dropout. It is the reference path (``kernel="reference"``)
  and the only one for custom cells;
- a fused kernel (:mod:`minirnn.nn.kernels`) runs a built-in cell's equations for a whole
  sequence with fewer numpy calls per step (``kernel="fused"``, and ``"auto"`` where one
  applies).

The generic loop runs the cell's :meth:`~minirnn.Cell.prepare` once per call, projects the
input of all steps in one GEMM, and its backward ends in :func:`_finish`, which
accumulates the parameter gradients through the cell's ``project_hidden_backward`` /
``project_input_backward`` with all steps stacked.

Caches: a cache belongs to whoever called :func:`forward`. A fused kernel's cache leases
reusable work arrays; its owner gives them back with :func:`release` when it drops the
cache (the recurrent layer does at its next forward). A cache that is never released keeps
its arrays, so nothing still held is ever overwritten.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell, State
from minirnn.nn.kernels import run as kernels
from minirnn.nn.kernels.chunks import initial_grads as _initial_grads
from minirnn.nn.kernels.chunks import order as _order
from minirnn.nn.kernels.select import choose, kernel_name, resolve

__all__ = ["backward", "forward", "kernel_name", "release"]

Cache = tuple[Any, ...]


def forward(
    cell: Cell,
    x_tm: np.ndarray,
    state0: State,
    reverse: bool,
    step_mask: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
    *,
    kernel: str = "auto",
    fused: bool = True,
    record: list[np.ndarray] | None = None,
    keep: bool = True,
) -> tuple[np.ndarray, State, Cache | None]:
    """One layer, one direction: x_tm (T, N, D) -> outputs (T, N, H), final state, cache.

    Parameters
    ----------
    cell : Cell
    x_tm : ndarray, shape (T, N, D)
        Time-major input (a view of the caller's array is fine: it is not written).
    state0 : tuple of ndarray, each (N, size)
    reverse : bool
        Run from the last step to the first.
    step_mask : ndarray of bool, shape (T, N, 1), optional
        Valid steps (None: all valid); needs the generic loop.
    rec_mask : ndarray, shape (N, H), optional
        Recurrent-dropout mask applied to h before the recurrent projection.
    kernel : {"auto", "fused", "reference"}
        Which recurrence runs (:mod:`minirnn.nn.kernels.select`); ``"auto"`` follows
        :func:`~minirnn.nn.kernels.use_kernel`. ``"fused"`` raises ValueError when no
        kernel applies, before anything is computed.
    fused : bool
        False is ``kernel="reference"`` (older spelling).
    record : list, optional
        Receives one (T, N, size) array per state entry: every state of every step
        (generic loop only).
    keep : bool
        False (inference) stores nothing for backward and returns None as the cache.

    Returns
    -------
    ys : ndarray, shape (T, N, H)
    final : tuple of ndarray, each (N, size)
    cache : tuple or None
        For :func:`backward`; a fused kernel's cache is given back with :func:`release`.
    """
    mode = "reference" if not fused else resolve(kernel)
    name = choose(cell, mode, lengths=step_mask is not None, record=record is not None)
    if name is not None:
        return kernels.forward(name, cell, x_tm, state0, reverse, rec_mask, keep)
    ys, final, cache = _generic_forward(cell, x_tm, state0, reverse, step_mask, rec_mask,
                                        record, keep)
    return ys, final, cache if keep else None


def backward(
    cell: Cell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: Cache,
    hidden_grads: np.ndarray | None = None,
    *,
    dx_batch_first: bool = False,
) -> tuple[np.ndarray, State]:
    """BPTT of :func:`forward`; returns dx (T, N, D) and dL/d(state0). The cache is read only.

    ``dys`` (T, N, H) is dL/d(outputs) (None: zero), ``dfinal`` dL/d(final state);
    ``hidden_grads`` (T, N, H), if given, receives dL/dh_t of every step (diagnostics).
    ``dx_batch_first``: a fused kernel stores dx in (N, T, D) memory (returning its
    (T, N, D) transposed view), so a batch-first layer hands it out without a copy.
    """
    if cache[0] == "steps":
        return _generic_backward(cell, dys, dfinal, cache, hidden_grads)
    return kernels.backward(cell, dys, dfinal, cache, hidden_grads, dx_batch_first)


def release(cache: Cache | None) -> None:
    """Give back the work arrays a cache of :func:`forward` keeps (a fused kernel's) to be
    reused by later calls. Only the cache's owner calls it, when it drops the cache; the
    cache must not be used afterwards. None and generic-loop caches are accepted."""
    if cache is not None and cache[0] != "steps":
        kernels.release(cache)


# ------------------------------------------------------------------ shared set-up and tail
def _project_all(cell: Cell, x_tm: np.ndarray) -> np.ndarray:
    """The input projection of every step in one GEMM: (T, N, D) -> (T, N, G*H)."""
    T, N, D = x_tm.shape
    xp = cell.project_input(x_tm.reshape(T * N, D))
    return xp.reshape(T, N, xp.shape[1])  # (no -1: N may be 0, an empty batch)


def split_at_first_step(
    d: np.ndarray, Y: np.ndarray, reverse: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair per-step gradients d (T, ...) with the previous output of each step.

    Returns ``(d at the T-1 steps that have a previous output, those outputs, d at the
    first step)``; the first step's previous output is the initial state. The first step is
    t = 0 forward and t = T-1 in the reverse direction.
    """
    return (d[:-1], Y[1:], d[-1]) if reverse else (d[1:], Y[:-1], d[0])


def _finish(
    cell: Cell,
    dXP: np.ndarray,
    dHP: np.ndarray,
    x_tm: np.ndarray,
    ys: np.ndarray,
    h0: np.ndarray,
    reverse: bool,
    rec_mask: np.ndarray | None,
    h_in: np.ndarray | None = None,
) -> np.ndarray:
    """Parameter gradients from all steps at once; returns dx (T, N, D).

    dXP (T, N, G*H) and dHP (T, N, R) are dL/dxp and dL/dhp of every step (possibly the
    same array). What entered the recurrent projection at step t is ``h_in[t]`` if given,
    else the previous output (``h0`` first) times the recurrent-dropout mask.
    """
    T, N, D = x_tm.shape
    R = dHP.shape[2]
    # Shapes spelled out (no -1), so that an empty batch (N = 0) reshapes too.
    if h_in is not None:
        cell.project_hidden_backward(dHP.reshape(T * N, R),
                                     h_in.reshape(T * N, h_in.shape[2]))
    else:
        mid, prev, first = split_at_first_step(dHP, ys, reverse)
        if rec_mask is not None:
            prev = prev * rec_mask
            h0 = h0 * rec_mask
        cell.project_hidden_backward(mid.reshape((T - 1) * N, R),
                                     prev.reshape((T - 1) * N, ys.shape[2]))
        cell.project_hidden_backward(first, h0)
    dx = cell.project_input_backward(dXP.reshape(T * N, dXP.shape[2]), x_tm.reshape(T * N, D))
    return dx.reshape(T, N, D)


# ------------------------------------------------------------------ the generic loop
def _generic_forward(
    cell: Cell,
    x_tm: np.ndarray,
    state0: State,
    reverse: bool,
    step_mask: np.ndarray | None,
    rec_mask: np.ndarray | None,
    record: list[np.ndarray] | None = None,
    keep: bool = True,
) -> tuple[np.ndarray, State, Cache]:
    with cell.sequence() as prepared:
        ys, state, steps, h_in = _generic_steps(cell, x_tm, state0, reverse, step_mask,
                                                rec_mask, record, keep)
    return ys, state, ("steps", x_tm, h_in, ys, state0[0], steps, reverse, step_mask, rec_mask,
                       prepared)


def _generic_steps(
    cell: Cell,
    x_tm: np.ndarray,
    state0: State,
    reverse: bool,
    step_mask: np.ndarray | None,
    rec_mask: np.ndarray | None,
    record: list[np.ndarray] | None,
    keep: bool,
) -> tuple[np.ndarray, State, list[Any], np.ndarray | None]:
    T, N, _ = x_tm.shape
    xp = _project_all(cell, x_tm)
    ys = np.empty((T, N, cell.output_size), dtype=x_tm.dtype)
    # What entered the recurrent projection at each step, for its gradient after the loop.
    # Without a step mask it is the previous output (times the dropout mask): not stored.
    h_in = None if step_mask is None else np.empty_like(ys)
    steps: list[Any] = []
    state = state0
    if record is not None:
        record.extend(np.empty((T, *s.shape), dtype=s.dtype) for s in state0)
    # exp-form gates overflow to their exact limits (0, 1, -1): no warning wanted.
    with np.errstate(over="ignore"):
        for t in _order(T, reverse):
            h_rec = state[0] if rec_mask is None else state[0] * rec_mask
            if h_in is not None:
                h_in[t] = h_rec
            new_state, step_cache = cell.step(xp[t], cell.project_hidden(h_rec), state)
            if step_mask is not None:
                # Padding carries the state through unchanged and outputs zeros.
                valid = step_mask[t]
                new_state = tuple(np.where(valid, new, old)
                                  for new, old in zip(new_state, state, strict=True))
                ys[t] = np.where(valid, new_state[0], 0.0)
            else:
                ys[t] = new_state[0]
            state = new_state
            if record is not None:
                for kept, s in zip(record, state, strict=True):
                    kept[t] = s
            if keep:
                steps.append(step_cache)
    return ys, state, steps, h_in


def _generic_backward(
    cell: Cell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: Cache,
    hidden_grads: np.ndarray | None,
) -> tuple[np.ndarray, State]:
    prepared = cache[9]
    with cell.sequence(prepared, backward=True):
        return _generic_steps_backward(cell, dys, dfinal, cache, hidden_grads)


def _generic_steps_backward(
    cell: Cell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: Cache,
    hidden_grads: np.ndarray | None,
) -> tuple[np.ndarray, State]:
    _, x_tm, h_in, ys, h0, steps, reverse, step_mask, rec_mask, _ = cache
    T, N, _ = x_tm.shape
    sizes = cell.state_sizes
    dstate = _initial_grads(dfinal, sizes, N, x_tm.dtype)
    dXP: np.ndarray | None = None
    dHP: np.ndarray | None = None
    # steps[j] belongs to time index order[j]; walk them in reverse.
    order = _order(T, reverse)
    for j in range(T - 1, -1, -1):
        t = order[j]
        carried: list[np.ndarray] | None = None
        if step_mask is not None:
            valid = step_mask[t]
            if dys is not None:
                dstate[0] += np.where(valid, dys[t], 0.0)
            # Padding passed the state through: its gradient bypasses the cell.
            carried = [np.where(valid, 0.0, d) for d in dstate]
            dstate = [np.where(valid, d, 0.0) for d in dstate]
        elif dys is not None:
            dstate[0] += dys[t]
        if hidden_grads is not None:
            hidden_grads[t] = dstate[0]
        dxp, dhp, partial = cell.step_backward(tuple(dstate), steps[j])
        if dXP is None:
            dXP = np.empty((T, N, dxp.shape[1]), dtype=dxp.dtype)
            dHP = dXP if dhp is dxp else np.empty((T, N, dhp.shape[1]), dtype=dhp.dtype)
        assert dHP is not None
        dXP[t] = dxp
        if dHP is not dXP:
            dHP[t] = dhp
        dh_prev = cell.hidden_input_grad(dhp)
        if rec_mask is not None:
            dh_prev *= rec_mask
        if partial[0] is not None:
            dh_prev += partial[0]
        dstate = [dh_prev] + [np.zeros((N, k), x_tm.dtype) if d is None else d
                              for k, d in zip(sizes[1:], partial[1:], strict=True)]
        if carried is not None:
            dstate = [d + c for d, c in zip(dstate, carried, strict=True)]
    assert dXP is not None and dHP is not None
    dx = _finish(cell, dXP, dHP, x_tm, ys, h0, reverse, rec_mask, h_in)
    return dx, tuple(dstate)
