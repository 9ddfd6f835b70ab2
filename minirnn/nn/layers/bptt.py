"""Backpropagation through time for one layer and one direction: the one home of BPTT.

:func:`forward` / :func:`backward` run a cell over a time-major sequence x (T, N, D).
Two ways:

- the generic loop calls the cell's own methods step by step (``project_hidden``,
  ``step``, ``step_backward``, ``hidden_input_grad``): any :class:`~minirnn.Cell`, with
  variable lengths and recurrent dropout;
- a fused kernel runs the same equations for a whole sequence with fewer numpy calls per
  step, preallocated buffers and the gate-major layout (state (H, N), gates (G*H, N)) that
  OpenBLAS runs fastest here. A cell asks for one through its class attribute
  :attr:`~minirnn.Cell.fused_kernel` (``"lstm"``, ``"gru"``, ``"rnn"``), which is switched
  off automatically for a subclass that overrides the step math, and
  :meth:`~minirnn.Cell.fused_kernel_applies` (the options a kernel covers). Recurrent
  dropout runs on the kernels too; variable lengths use the generic loop.

A kernel call with a large enough batch runs as slices of the batch on several threads
(:func:`minirnn.train.threads.batch_parts`): the slices are independent sequences, so they meet
only at the end, where the parameter gradients of the other slices are added to the cell's.

The generic loop projects the input of all steps in one GEMM and ends in :func:`_finish`,
which accumulates the parameter gradients through the cell's ``project_hidden_backward`` /
``project_input_backward`` with all steps stacked. The kernels work a chunk of steps at a
time (input projection, parameter gradients) so that only one chunk of gate gradients exists
at once, and keep only what BPTT needs (docs/architecture.md, "The fused kernels").
"""

from __future__ import annotations

import itertools
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np

from minirnn.nn._math import constants, exp_faster, tanh_function
from minirnn.nn._math import tanh as _tanh
from minirnn.nn.cells.base import Cell, State
from minirnn.train.threads import batch_parts

__all__ = ["backward", "forward", "kernel_name"]

Cache = tuple[Any, ...]
#: A kernel's gradient accumulators: (weight_ih, weight_hh, bias_ih, bias_hh).
Grads = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]


def kernel_name(cell: Cell) -> str | None:
    """The fused kernel that will run ``cell`` (None: the generic per-step loop)."""
    name = type(cell).fused_kernel
    return name if name in _KERNELS and cell.fused_kernel_applies() else None


def forward(
    cell: Cell,
    x_tm: np.ndarray,
    state0: State,
    reverse: bool,
    step_mask: np.ndarray | None = None,
    rec_mask: np.ndarray | None = None,
    *,
    fused: bool = True,
    record: list[np.ndarray] | None = None,
    keep: bool = True,
) -> tuple[np.ndarray, State, Cache | None]:
    """One layer, one direction: x_tm (T, N, D) -> outputs (T, N, H), final state, cache.

    ``step_mask`` (T, N, 1) marks valid steps (None: all valid); ``rec_mask`` (N, H) is
    the recurrent-dropout mask applied to h before the recurrent projection. ``fused=False``
    forces the generic loop (tests compare the two). ``record``, if a list, receives one
    (T, N, size) array per state entry: every state of every step. ``keep=False``
    (inference) stores nothing for backward and returns None as the cache.
    """
    name = kernel_name(cell) if fused and step_mask is None else None
    if name is not None and record is not None:
        name = None  # (the generic loop keeps every state; the kernels keep only some)
    if name is not None:
        kernel_forward, _ = _KERNELS[name]
        T, N, _ = x_tm.shape
        parts = _batch_slices(cell, N)
        if parts is None:
            ys, final, saved = kernel_forward(cell, x_tm, state0, reverse, rec_mask, keep)
        else:
            ys = np.empty((T, N, cell.hidden_size), x_tm.dtype)
            results = _run_parts(kernel_forward, [
                (cell, x_tm[:, s], _rows(state0, s), reverse, _rows(rec_mask, s), keep, p,
                 ys[:, s]) for p, s in enumerate(parts)])
            finals = zip(*(r[1] for r in results), strict=True)
            final = tuple(np.concatenate(f, axis=0) for f in finals)
            saved = [r[2] for r in results]
        cache = (name, x_tm, state0, reverse, rec_mask, ys, saved, parts) if keep else None
        return ys, final, cache
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
    name, x_tm, state0, reverse, rec_mask, ys, saved, parts = cache
    _, kernel_backward = _KERNELS[name]
    T, N, D = x_tm.shape
    dx = (np.empty((N, T, D), x_tm.dtype).transpose(1, 0, 2) if dx_batch_first
          else np.empty((T, N, D), x_tm.dtype))
    if parts is None:
        dstate0 = kernel_backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys,
                                  saved, hidden_grads, dx)
        return dx, dstate0
    # The first slice accumulates into the cell's gradients, the others into their own
    # arrays (no two threads add into one array), summed below.
    sinks = [_cell_grads(cell)] + [
        tuple(None if g is None else np.zeros_like(g) for g in _cell_grads(cell))
        for _ in parts[1:]]
    results = _run_parts(kernel_backward, [
        (cell, _cols(dys, s), _rows(dfinal, s), x_tm[:, s], _rows(state0, s), reverse,
         _rows(rec_mask, s), ys[:, s], saved[p], _cols(hidden_grads, s), dx[:, s], sinks[p],
         p) for p, s in enumerate(parts)])
    for sink in sinks[1:]:
        for total, extra in zip(sinks[0], sink, strict=True):
            if total is not None:
                total += extra
    return dx, tuple(np.concatenate(d, axis=0) for d in zip(*results, strict=True))


# ------------------------------------------------------------------ batch split
_POOL: ThreadPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_LOCK = threading.Lock()


def _batch_slices(cell: Cell, N: int) -> list[slice] | None:
    """The batch slices a kernel call runs on, one per thread (None: no split)."""
    H = cell.hidden_size
    parts = batch_parts(N, N * H * cell.num_chunks * H)
    if parts == 1:
        return None
    bounds = [N * p // parts for p in range(parts + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def _run_parts(fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """``fn(*args)`` for every args in ``calls``: the first here, the others on the pool."""
    global _POOL, _POOL_WORKERS
    with _POOL_LOCK:
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


def _rows(arrays: Any, s: slice) -> Any:
    """Rows ``s`` (the batch axis 0) of an array, of each array of a tuple, or None."""
    if arrays is None:
        return None
    if isinstance(arrays, tuple):
        return tuple(a[s] for a in arrays)
    return arrays[s]


def _cols(a: np.ndarray | None, s: slice) -> np.ndarray | None:
    """The batch slice ``s`` (axis 1) of a time-major (T, N, ...) array, or None."""
    return None if a is None else a[:, s]


def _cell_grads(cell: Any) -> Grads:
    return (cell.weight_ih.grad, cell.weight_hh.grad,
            None if cell.bias_ih is None else cell.bias_ih.grad,
            None if cell.bias_hh is None else cell.bias_hh.grad)


# ------------------------------------------------------------------ shared set-up and tail
def _order(T: int, reverse: bool) -> range:
    """Time indices in the order the forward pass visits them."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _project_all(cell: Cell, x_tm: np.ndarray) -> np.ndarray:
    """The input projection of every step in one GEMM: (T, N, D) -> (T, N, G*H)."""
    T, N, D = x_tm.shape
    return cell.project_input(x_tm.reshape(T * N, D)).reshape(T, N, -1)


def _initial_grads(dfinal: State | None, sizes: tuple[int, ...], N: int,
                   dtype: np.dtype) -> list[np.ndarray]:
    """Writable copies of dL/d(final state) (zeros where not given)."""
    if dfinal is None:
        return [np.zeros((N, k), dtype) for k in sizes]
    return [d.copy() for d in dfinal]


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
    if h_in is not None:
        cell.project_hidden_backward(dHP.reshape(T * N, R), h_in.reshape(T * N, -1))
    else:
        mid, prev, first = split_at_first_step(dHP, ys, reverse)
        if rec_mask is not None:
            prev = prev * rec_mask
            h0 = h0 * rec_mask
        cell.project_hidden_backward(mid.reshape(-1, R), prev.reshape(-1, ys.shape[2]))
        cell.project_hidden_backward(first, h0)
    dx = cell.project_input_backward(dXP.reshape(T * N, -1), x_tm.reshape(T * N, D))
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
    return ys, state, ("steps", x_tm, h_in, ys, state0[0], steps, reverse, step_mask, rec_mask)


def _generic_backward(
    cell: Cell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: Cache,
    hidden_grads: np.ndarray | None,
) -> tuple[np.ndarray, State]:
    _, x_tm, h_in, ys, h0, steps, reverse, step_mask, rec_mask = cache
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


# ------------------------------------------------------------------ fused kernels
# Each kernel is a pair (forward, backward). forward(cell, x_tm, state0, reverse, rec_mask,
# keep, part, out) returns (outputs, final state, saved), the outputs written into `out`
# if given; backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys, saved,
# hidden_grads, dx, grads, part) accumulates the parameter gradients (into `grads`, None:
# the cell's), writes dx into the given (T, N, D) array and returns dL/d(state0). `part`
# names the batch slice the call runs (its own buffers). Nothing in `saved` is written by
# backward (a second backward must give the same gradients).


# The LSTM kernel works gate-major: the state is (H, N) and the gates (4H, N), the batch
# along the columns. OpenBLAS runs the recurrent product fastest so here: W_hh (4H, H) @ h
# (H, N) took 100 us against 173 us for h (N, H) @ W_hh^T at N, H = 32, 256 (float32, two
# threads; 185 vs 269 us on one), its threads splitting the long 4H axis, and every gate
# block is a contiguous row range. Inside the kernel the blocks are ordered [o, i, f, g]
# (the cell's are [i, f, g, o]): the sigmoid blocks o, i, f are one range for the forward
# nonlinearity, and i, f, g (the blocks scaled by dc in backward) another.
def _lstm_blocks(H: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(cell rows, kernel rows) of the two row blocks the kernel order permutes: o, and
    i, f, g."""
    return (slice(3 * H, 4 * H), slice(0, H)), (slice(0, 3 * H), slice(H, 4 * H))


def _lstm_factors(exp_form: bool) -> tuple[float, float]:
    """Row factors (sigmoid rows, tanh rows) folded into the weights for the forward's
    gate nonlinearity: exact powers of two, so the products are exactly scaled."""
    return (-1.0, -2.0) if exp_form else (0.5, 1.0)


_BUFFERS: weakref.WeakKeyDictionary[Cell, dict[tuple[str, int], np.ndarray]] = (
    weakref.WeakKeyDictionary())


def _buffer(cell: Cell, name: str, shape: tuple[int, ...], dtype: np.dtype,
            part: int = 0) -> np.ndarray:
    """An uninitialised array for ``cell``'s kernel (on batch slice ``part``), reused across
    calls when free.

    A fresh multi-megabyte array costs page faults (and, with transparent huge pages,
    sometimes a compaction stall) on every training step; reusing the previous step's
    array avoids them. An array is reused only when nothing but this pool refers to it
    (the cache of the previous forward has been dropped, no view of it is alive), so a
    cache somebody still holds is never overwritten.
    """
    with _POOL_LOCK:  # slices of one cell run in threads of their own
        pool = _BUFFERS.setdefault(cell, {})
    buf = pool.get((name, part))
    # References: the pool, `buf`, and getrefcount's argument. Views hold their base.
    if buf is None or buf.shape != shape or buf.dtype != dtype or sys.getrefcount(buf) > 3:
        buf = pool[(name, part)] = np.empty(shape, dtype)
    return buf


#: Rows (steps x batch) per chunk of the fused kernels: the input projection and the
#: parameter gradients are computed a chunk of steps at a time (products of at least this
#: many rows keep the BLAS efficient; the chunk buffers stay a fraction of the cache).
CHUNK_ROWS = 256


def _chunks(T: int, N: int, reverse: bool) -> list[range]:
    """The time indices in forward-visit order, cut into chunks of consecutive steps.

    A chunk holds at least :data:`CHUNK_ROWS` rows (steps x N) and there are at most
    about 8 (so the per-chunk buffers stay near 1/8 of what the sequence keeps).
    """
    k = max(-(-T // 8), -(-CHUNK_ROWS // max(N, 1)), 1)
    order = list(_order(T, reverse))
    step = -1 if reverse else 1
    return [range(order[j], order[min(j + k, T) - 1] + step, step) for j in range(0, T, k)]


def _span(r: range) -> slice:
    """The slice of the steps of a chunk, in increasing time."""
    return slice(min(r[0], r[-1]), max(r[0], r[-1]) + 1)


def _lstm_weights(cell: Any, dt: np.dtype, H: int, exp_form: bool) -> np.ndarray:
    """``[W_hh | W_ih | b]`` (4H, H + D (+1 with biases)) in kernel order, scaled by
    :func:`_lstm_factors`: a step's pre-activations are one product of it with the stacked
    ``[h_{t-1}; x_t; 1]`` (the input projection inside the recurrent product: no separate
    projection of a chunk, no addition of the two per step). Written block by block (the
    kernel's three row blocks are cell row blocks) without temporaries."""
    D = cell.input_size
    bias = cell.bias_ih is not None and cell.bias_hh is not None
    W = np.empty((4 * H, H + D + bias), dt)
    sig, tnh = _lstm_factors(exp_form)
    # (kernel rows, cell rows, factor): o; i, f; g.
    for kb, cb, factor in ((slice(0, H), slice(3 * H, 4 * H), sig),
                           (slice(H, 3 * H), slice(0, 2 * H), sig),
                           (slice(3 * H, 4 * H), slice(2 * H, 3 * H), tnh)):
        np.multiply(cell.weight_hh.data[cb], factor, out=W[kb, :H])
        np.multiply(cell.weight_ih.data[cb], factor, out=W[kb, H : H + D])
        if bias:
            b = W[kb, H + D]
            np.add(cell.bias_ih.data[cb], cell.bias_hh.data[cb], out=b)
            b *= factor
    return W


def _input_grad(dZ: np.ndarray, w_ih: np.ndarray, out: np.ndarray) -> None:
    """dx of a chunk, dZ (K, N, G H) @ W_ih (G H, D), into out (K, N, D) (any strides;
    dZ's K and N axes mergeable, as for a gate-major array seen transposed)."""
    K, N, GH = dZ.shape
    if out.flags.c_contiguous:
        np.matmul(dZ.reshape(K * N, GH), w_ih, out=out.reshape(K * N, -1))
    else:  # one product per step, each into its (N, D) rows of a strided dx
        np.matmul(dZ, w_ih, out=out)


#: Pairs (cell rows, kernel rows) of the row blocks of a weight and of its gradient.
Rows = tuple[tuple[slice, slice], ...]


def _chunk_param_grads(cell: Any, grads: Grads | None, dG: np.ndarray, hh_rows: Rows,
                      ih_rows: Rows, bhh_rows: Rows, w_ih: np.ndarray, x_tm: np.ndarray,
                      ys: np.ndarray, h0: np.ndarray, steps: range, first: int, reverse: bool,
                      rec_mask: np.ndarray | None, dx: np.ndarray) -> None:
    """Parameter gradients (added into ``grads``, None: the cell's) and dx of one chunk of
    a kernel's backward.

    dG (R, K, N) holds dL/d(pre-activations) of the chunk's steps (in time order) with the
    kernel's rows first (gate-major for the LSTM and GRU; the RNN passes its (K, N, H)
    array as a transposed view), its rows in the kernel's order:
    ``hh_rows``, ``ih_rows`` and ``bhh_rows`` pair row blocks of the cell's ``W_hh``,
    ``W_ih`` (and ``b_ih``) and ``b_hh`` with the rows of dG that are their gradients
    (cell rows, dG rows), so each weight gradient is one product of a (rows, K N) block
    straight into the cell's rows (nothing transposed or permuted). dx is
    ``dG[:G H]^T @ w_ih``, ``w_ih`` being W_ih's rows in dG's order. The recurrent
    product of step t saw the previous output (``h0`` at the first step), masked by
    recurrent dropout.
    """
    g_ih, g_hh, g_bih, g_bhh = _cell_grads(cell) if grads is None else grads
    sl = _span(steps)
    R, K, N = dG.shape
    H = ys.shape[2]
    if first in steps:  # its previous output is h0
        d_first = dG[:, first - sl.start]
        for cb, gb in hh_rows:
            g_hh[cb] += d_first[gb] @ h0
        rows = slice(0, K - 1) if reverse else slice(1, K)
        prev = slice(sl.start + 1, sl.stop) if reverse else slice(sl.start, sl.stop - 1)
    else:
        rows = slice(0, K)
        prev = (slice(sl.start + 1, sl.stop + 1) if reverse
                else slice(sl.start - 1, sl.stop - 1))
    hprev = (ys[prev] if rec_mask is None else ys[prev] * rec_mask).reshape(-1, H)
    d_rows = dG[:, rows].reshape(R, -1)
    d_all = dG.reshape(R, K * N)
    xs = x_tm[sl].reshape(K * N, x_tm.shape[2])
    for cb, gb in hh_rows:
        g_hh[cb] += d_rows[gb] @ hprev
    for cb, gb in ih_rows:
        g_ih[cb] += d_all[gb] @ xs
    if g_bih is not None or g_bhh is not None:
        # A product with ones: 3-4x faster than d_all.sum(axis=1) (measured).
        sums = d_all @ np.ones(K * N, dG.dtype)
        for g_b, pairs in ((g_bih, ih_rows), (g_bhh, bhh_rows)):
            if g_b is not None:
                for cb, gb in pairs:
                    g_b[cb] += sums[gb]
    _input_grad(dG[: w_ih.shape[0]].transpose(1, 2, 0), w_ih, dx[sl])


def _project_gate_major(w_ih: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    """Pre-activations ``[W_ih | b] [x_t; 1]`` of a chunk of steps xs (K, N, D) into out
    (K, G*H, N): one batched product that writes the gate-major layout directly (a single
    (K N, D) @ (D, 4H) product plus a transposed copy took 2-4x longer)."""
    K, N, D = xs.shape
    xt = np.empty((K, w_ih.shape[1], N), xs.dtype)
    xt[:, :D] = xs.transpose(0, 2, 1)
    xt[:, D:] = 1.0  # the bias row, if any
    np.matmul(w_ih, xt, out=out)


def _chunk_output_grads(cell: Cell, dys: np.ndarray | None, sl: slice, K_max: int,
                        part: int) -> np.ndarray | None:
    """Gate-major kernels' backward: dL/dy (T, N, H) of a chunk's steps transposed to
    (K, H, N), one copy per chunk (a transposed add per step cost 3-4x a contiguous one)."""
    if dys is None:
        return None
    _, N, H = dys.shape
    buf = _buffer(cell, "dyT", (K_max, H, N), dys.dtype, part)[: sl.stop - sl.start]
    np.copyto(buf, dys[sl].transpose(0, 2, 1))
    return buf


def _add_output_grad(dh: np.ndarray, dy_chunk: np.ndarray | None, k: int,
                     hidden_grads: np.ndarray | None, t: int) -> None:
    """Gate-major kernels' backward, step t (k-th of its chunk): dh (H, N) += dL/dy_t;
    record dL/dh_t."""
    if dy_chunk is not None:
        dh += dy_chunk[k]
    if hidden_grads is not None:
        hidden_grads[t] = dh.T


def _lstm_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                  rec_mask: np.ndarray | None, keep: bool = True, part: int = 0,
                  out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """LSTM over a sequence, gate-major; nine numpy calls per step (tanh form).

    A step is one product ``[W_hh | W_ih | b] @ [h_{t-1}; x_t; 1]`` (:func:`_lstm_weights`)
    into its gates. The stacked inputs of a chunk live in S (K + 1, H + D (+1), N): the x
    rows of all its steps are written at once (one transposed copy per chunk), and step k
    writes its h straight into the h rows of S[k + 1] (masked by recurrent dropout).

    Saved for backward: the gate activations A (T, 4H, N) and the cells C (T, H, N).
    Without ``keep`` (inference) A holds one step and C two.
    """
    T, N, D = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    exp_form = exp_faster(dt)
    W = _lstm_weights(cell, dt, H, exp_form)
    chunks = _chunks(T, N, reverse)
    A = _buffer(cell, "A", (T if keep else 1, 4 * H, N), dt, part)
    C = _buffer(cell, "C", (T if keep else 2, H, N), dt, part)
    S = _buffer(cell, "S", (max(len(c) for c in chunks) + 1, W.shape[1], N), dt, part)
    S[:, H + D :] = 1.0  # the bias row, if any
    ys = np.empty((T, N, H), dt) if out is None else out
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    ig = np.empty((H, N), dt)
    tc = np.empty((H, N), dt)
    h_out = np.empty((H if mask is not None else 0, N), dt)  # h before the mask
    np.copyto(S[0, :H], state0[0].T)
    if mask is not None:
        S[0, :H] *= mask
    c = np.ascontiguousarray(state0[1].T)
    # The step below is the whole cost at small sizes, where each numpy call costs about
    # a microsecond: functions bound to locals, out= passed by position, the tanh of c
    # chosen once, and every view of a buffer made before the loop where it is reused
    # (inference reuses one gate block and two cell blocks).
    k_ = constants(dt)
    one, two, half = k_.one, k_.two, k_.half
    mul, add, sub, div, exp, tanh = (np.multiply, np.add, np.subtract, np.divide, np.exp,
                                     np.tanh)
    matmul = np.matmul
    tanh_c = tanh_function(dt, H * N)
    stacked = list(S)  # [h_{t-1}; x_t; 1] of the chunk's steps
    h_rows = [s_k[:H] for s_k in stacked]

    def views(a: np.ndarray) -> tuple[np.ndarray, ...]:
        """A step's gate block and its [o, i, f, g] and sigmoid (o, i, f) rows."""
        return a, a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], a[: 3 * H]

    reused = None if keep else views(A[0])
    cells = list(C)
    with np.errstate(over="ignore"):
        for steps in chunks:
            sl = _span(steps)
            K = len(steps)
            xs = x_tm[sl] if not reverse else x_tm[sl][::-1]  # in visiting order
            np.copyto(S[:K, H : H + D], xs.transpose(0, 2, 1))
            for k, t in enumerate(steps):
                a, o, i, f, g, sig = reused if reused is not None else views(A[t])
                matmul(W, stacked[k], a)
                # The gate nonlinearity in one pass over the block, its rows pre-scaled
                # by _lstm_factors: sigmoid on o, i, f and tanh on g, in this CPU's
                # faster form (minirnn.nn._math). tanh form: tanh(a') with a' = a/2 on the
                # sigmoid rows, then * 0.5 + 0.5 (sigmoid(a) = tanh(a/2)/2 + 1/2). exp
                # form: num / (1 + exp(a')) (- 1 on g) with a' = -a (sigmoid) and -2a
                # (tanh); an overflow of exp to inf gives the exact limits 0 and -1.
                if exp_form:
                    exp(a, a)
                    add(a, one, a)
                    div(one, sig, sig)
                    div(two, g, g)
                    sub(g, one, g)
                else:
                    tanh(a, a)
                    mul(sig, half, sig)
                    add(sig, half, sig)
                ct = cells[t if keep else t % 2]
                mul(f, c, ct)
                mul(i, g, ig)
                add(ct, ig, ct)
                tanh_c(ct, tc)
                if mask is None:
                    mul(o, tc, h_rows[k + 1])
                else:
                    mul(o, tc, h_out)
                    mul(h_out, mask, h_rows[k + 1])
                    np.copyto(ys[t], h_out.T)  # the output in the layer's (N, H) layout
                c = ct
            if mask is None:  # the chunk's outputs are its h rows of S: one copy
                np.copyto(ys[sl] if not reverse else ys[sl][::-1],
                          S[1 : K + 1, :H].transpose(0, 2, 1))
            np.copyto(S[0, :H], S[K, :H])  # the next chunk starts from the last h
    final = (ys[chunks[-1][-1]].copy(), np.ascontiguousarray(c.T))
    return ys, final, ((A, C) if keep else None)


def _lstm_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                   state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                   saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                   grads: Grads | None = None, part: int = 0) -> State:
    """BPTT of :func:`_lstm_forward`, a chunk of steps at a time (latest chunk first).

    For a chunk, every factor that does not depend on the recursion is computed for all
    its steps at once, so a step is eight numpy calls (kernel order [o, i, f, g]):

    dA_t = [dh_t tanh(c_t) sig'_o,  dc_t * (g, c_{t-1}, i) * (sig'_i, sig'_f, tanh'_g)]
    dc_t = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c_t)^2),  dh_{t-1} = W_hh^T dA_t

    The chunk's dA (K, 4H, N) is then copied gate-major (4H, K, N), and its parameter
    gradients and dx are products over its K x N columns (:func:`_chunk_param_grads`), so
    the gate gradients of only one chunk exist at a time (peak memory). Writes dx
    (T, N, D) into ``dx``; returns dL/d(state0).
    """
    A, C = saved
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    dh, dc = (np.ascontiguousarray(d.T) for d in _initial_grads(dfinal, cell.state_sizes, N,
                                                                 dt))
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    blocks = _lstm_blocks(H)
    w_hh_t = np.ascontiguousarray(
        np.concatenate([cell.weight_hh.data[cb] for cb, _ in blocks]).T)  # (H, 4H)
    w_ih_k = np.concatenate([cell.weight_ih.data[cb] for cb, _ in blocks])
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    c0 = np.ascontiguousarray(state0[1].T)
    b1 = np.empty((H, N), dt)
    chunks = _chunks(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    dA_buf = _buffer(cell, "dA", (K_max, 4 * H, N), dt, part)
    # The chunk's gradients gate-major (4H, K, N), read by its parameter products as one
    # (4H, K N) matrix: one copy of whole (N,) rows per chunk (an element-wise transpose
    # to (K N, 4H) per step cost a quarter of the step at N, H = 32, 256).
    dG_buf = _buffer(cell, "dG", (4 * H, K_max, N), dt, part)
    Q_buf = _buffer(cell, "Q", (K_max, H, N), dt, part)
    first = chunks[0][0]  # the step whose previous state is state0
    mul, add, matmul = np.multiply, np.add, np.matmul
    for steps in reversed(chunks):
        sl = _span(steps)
        K = len(steps)
        a = A[sl]
        o, i, f, g = (a[:, k * H : (k + 1) * H] for k in range(4))
        # dA starts as the step-independent factors of each block.
        dA = np.subtract(1.0, a, out=dA_buf[:K])
        dA *= a  # sigmoid' = s (1 - s)
        d_o, d_i, d_f, d_g = (dA[:, k * H : (k + 1) * H] for k in range(4))
        np.multiply(g, g, out=d_g)
        np.subtract(1.0, d_g, out=d_g)  # tanh' = 1 - g^2
        d_i *= g
        d_g *= i
        # c_{t-1} of each step: the cells of the neighbouring steps, c0 before the first.
        if reverse:
            d_f[:-1] *= C[sl.start + 1 : sl.stop]
            d_f[-1] *= c0 if sl.stop == T else C[sl.stop]
        else:
            d_f[1:] *= C[sl.start : sl.stop - 1]
            d_f[0] *= c0 if sl.start == 0 else C[sl.start - 1]
        # Q = dc_t/dh_t = o (1 - tanh(c_t)^2); tanh(c_t) is recomputed, not cached.
        with np.errstate(over="ignore"):
            Q = _tanh(C[sl], out=Q_buf[:K])
        d_o *= Q
        Q *= Q
        np.subtract(1.0, Q, out=Q)
        Q *= o
        dA3 = dA[:, H:].reshape(K, 3, H, N)  # blocks i, f, g
        dy_chunk = _chunk_output_grads(cell, dys, sl, K_max, part)
        with np.errstate(over="ignore"):
            for t in reversed(steps):  # (bound functions, out= by position: the forward's)
                k = t - sl.start
                if dy_chunk is not None:
                    add(dh, dy_chunk[k], dh)
                if hidden_grads is not None:
                    hidden_grads[t] = dh.T
                mul(dh, Q[k], b1)
                add(dc, b1, dc)
                dA_k = dA[k]
                dA3_k = dA3[k]
                mul(dA3_k, dc, dA3_k)
                o_rows = dA_k[:H]
                mul(o_rows, dh, o_rows)
                mul(dc, f[k], dc)
                matmul(w_hh_t, dA_k, dh)
                if mask is not None:
                    mul(dh, mask, dh)
        dG = dG_buf[:, :K]
        np.copyto(dG.transpose(1, 0, 2), dA)
        # The cell's project_*_backward compute the same; a subclass overriding them
        # loses the kernel. Done here so that the bias gradient is one sum, not two.
        _chunk_param_grads(cell, grads, dG, blocks, blocks, blocks, w_ih_k, x_tm, ys, h0,
                           steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T))


def _rnn_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                 rec_mask: np.ndarray | None, keep: bool = True, part: int = 0,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """Elman RNN over a sequence; three numpy calls per step, each writing the output.

    The kernel exists for memory: the derivative of the nonlinearity and the previous
    output of every step are read back from the outputs, so nothing but the outputs is
    kept for backward (the generic loop keeps each step's h a second time, and its
    backward the gradients of all steps: a training step peaked near 3x the outputs).
    The input projection is computed a chunk of steps at a time.
    """
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    w_hh_t = np.ascontiguousarray(cell.weight_hh.data.T)  # (H, H)
    chunks = _chunks(T, N, reverse)
    xp_buf = _buffer(cell, "XP", (max(len(c) for c in chunks), N, H), dt, part)
    ys = np.empty((T, N, H), dt) if out is None else out
    hm = np.empty((N, H), dt)
    h = state0[0]
    relu = cell.nonlinearity == "relu"
    tanh_y = tanh_function(dt, N * H)
    bias = (cell.bias_ih.data + cell.bias_hh.data
            if cell.bias_ih is not None and cell.bias_hh is not None else None)
    with np.errstate(over="ignore"):
        for steps in chunks:
            sl = _span(steps)
            xp = xp_buf[: len(steps)]
            np.matmul(x_tm[sl], cell.weight_ih.data.T, out=xp)
            if bias is not None:
                xp += bias
            for t in steps:
                y = ys[t]
                np.matmul(h if rec_mask is None else np.multiply(h, rec_mask, out=hm), w_hh_t,
                          out=y)
                y += xp[t - sl.start]
                if relu:
                    np.maximum(y, 0, out=y)
                else:
                    tanh_y(y, y)
                h = y
    return ys, (ys[chunks[-1][-1]].copy(),), (() if keep else None)


def _rnn_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                  state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                  saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                  grads: Grads | None = None, part: int = 0) -> State:
    """BPTT of :func:`_rnn_forward`, a chunk of steps at a time (latest chunk first):
    dz_t = dh_t act'(h_t), dh_{t-1} = dz_t W_hh; the chunk's parameter gradients and dx
    are products over its K x N rows. Writes dx into ``dx``; returns dL/d(state0)."""
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh,) = _initial_grads(dfinal, cell.state_sizes, N, dt)
    w_hh = cell.weight_hh.data
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    chunks = _chunks(T, N, reverse)
    dz_buf = _buffer(cell, "DZ", (max(len(c) for c in chunks), N, H), dt, part)
    whole = ((slice(0, H), slice(0, H)),)  # (cell rows, dZ rows)
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = _span(steps)
        K = len(steps)
        dZ = dz_buf[:K]
        y = ys[sl]
        if cell.nonlinearity == "relu":
            np.greater(y, 0, out=dZ)
        else:
            np.multiply(y, y, out=dZ)
            np.subtract(1.0, dZ, out=dZ)
        for t in reversed(steps):
            k = t - sl.start
            if dys is not None:
                dh += dys[t]
            if hidden_grads is not None:
                hidden_grads[t] = dh
            dz = dZ[k]
            dz *= dh
            np.matmul(dz, w_hh, out=dh)
            if rec_mask is not None:
                dh *= rec_mask
        _chunk_param_grads(cell, grads, dZ.transpose(2, 0, 1), whole, whole, whole,
                           cell.weight_ih.data, x_tm, ys, h0, steps, first, reverse, rec_mask,
                           dx)
    return (dh,)


def _gru_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                 rec_mask: np.ndarray | None, keep: bool = True, part: int = 0,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """GRU (``reset_after``, PyTorch's form) over a sequence, gate-major like the LSTM
    kernel: state (H, N), gates (3H, N) in the cell's order [r, z, n].

    ``b_hn`` enters the recurrent product as a column of the weights against a row of
    ones under h (it must stay inside ``r * (W_hn h + b_hn)``); the other biases join the
    input projection. Saved for backward: the activations r, z, n (T, 3H, N) and
    ``W_hn h + b_hn`` (T, H, N): the BPTT minimum with the outputs.
    """
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    exp_form = exp_faster(dt)
    scale = np.ones(3 * H, dt)
    scale[: 2 * H] = -1.0 if exp_form else 0.5  # the sigmoid's forms, in the loop
    has_bias = cell.bias_ih is not None and cell.bias_hh is not None
    w_hh = cell.weight_hh.data * scale[:, None]
    w_ih = cell.weight_ih.data * scale[:, None]
    if has_bias:
        b_hn = np.zeros(3 * H, dt)
        b_hn[2 * H :] = cell.bias_hh.data[2 * H :]
        w_hh = np.concatenate([w_hh, b_hn[:, None]], axis=1)
        b = cell.bias_ih.data.copy()
        b[: 2 * H] += cell.bias_hh.data[: 2 * H]
        w_ih = np.concatenate([w_ih, (b * scale)[:, None]], axis=1)
    chunks = _chunks(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    A = _buffer(cell, "A", (T if keep else K_max, 3 * H, N), dt, part)
    HN = _buffer(cell, "HN", (T, H, N), dt, part) if keep else None
    ys = np.empty((T, N, H), dt) if out is None else out
    rows = H + has_bias
    # The h of a chunk's steps, Hs[0] the chunk's h_{t-1}: step k reads Hs[k] and writes
    # Hs[k + 1]; the chunk's outputs leave in one transposed copy. Row H (with biases)
    # stays 1.
    Hs = _buffer(cell, "Hs", (K_max + 1, rows, N), dt, part)
    Hs[:, H:] = 1.0
    Hs[0, :H] = state0[0].T
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    hm = np.ones((rows, N), dt)
    hp = np.empty((3 * H, N), dt)
    tmp = np.empty((H, N), dt)
    # As in the LSTM forward: functions bound to locals, out= by position, the tanh chosen
    # once and the views of reused buffers made before the loop.
    k_ = constants(dt)
    one, half = k_.one, k_.half
    mul, add, sub, div, exp, tanh, matmul, copyto = (
        np.multiply, np.add, np.subtract, np.divide, np.exp, np.tanh, np.matmul, np.copyto)
    tanh_n = tanh_function(dt, H * N)
    hp_rz, hn = hp[: 2 * H], hp[2 * H :]
    hm_h = hm[:H]
    stacked = list(Hs)
    h_rows = [h[:H] for h in stacked]

    def views(a: np.ndarray) -> tuple[np.ndarray, ...]:
        """A step's [r, z] rows, r, z and n of its gate block."""
        return a[: 2 * H], a[:H], a[H : 2 * H], a[2 * H :]

    # Inference reuses A's first K_max blocks for every chunk: their views are made once.
    reused = None if keep else [views(a) for a in A]
    with np.errstate(over="ignore"):
        for steps in chunks:
            sl = _span(steps)
            K = len(steps)
            a_chunk = A[sl] if keep else A[:K]
            _project_gate_major(w_ih, x_tm[sl], a_chunk)
            for k, t in enumerate(steps):
                rz, r, z, n = (reused[t - sl.start] if reused is not None
                               else views(a_chunk[t - sl.start]))
                if mask is not None:
                    mul(h_rows[k], mask, hm_h)
                matmul(w_hh, stacked[k] if mask is None else hm, hp)
                add(rz, hp_rz, rz)
                # sigmoid over rows pre-scaled by 1/2 (tanh form: tanh(a/2)/2 + 1/2) or
                # -1 (exp form: 1 / (1 + exp(-a))); minirnn.nn._math says which this CPU runs.
                if exp_form:
                    exp(rz, rz)
                    add(rz, one, rz)
                    div(one, rz, rz)
                else:
                    tanh(rz, rz)
                    mul(rz, half, rz)
                    add(rz, half, rz)
                if HN is not None:
                    copyto(HN[t], hn)
                mul(r, hn, tmp)
                add(n, tmp, n)
                tanh_n(n, n)
                # h_t = n + z (h_{t-1} - n)
                sub(h_rows[k], n, tmp)
                mul(tmp, z, tmp)
                add(n, tmp, h_rows[k + 1])
            copyto(ys[sl] if not reverse else ys[sl][::-1],
                   Hs[1 : K + 1, :H].transpose(0, 2, 1))
            copyto(Hs[0, :H], Hs[K, :H])  # the next chunk starts from the last h
    return ys, (ys[chunks[-1][-1]].copy(),), ((A, HN) if keep else None)


def _gru_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                  state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                  saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                  grads: Grads | None = None, part: int = 0) -> State:
    """BPTT of :func:`_gru_forward`, a chunk of steps at a time (latest chunk first).

    With the chunk's step-independent factors computed at once,
    ``F_n = (1 - z)(1 - n^2)``, ``F_z = (h_{t-1} - n) z (1 - z)``, ``F_r = hn r (1 - r)``:

    da_n = dh F_n, da_z = dh F_z, da_r = da_n F_r, dhn = da_n r,
    dh_{t-1} = W_hh^T [da_r; da_z; dhn] (masked) + dh z

    A step writes E_t = [da_n; da_r; da_z; dhn] (4H, N): the recurrent product's gradient
    [da_r, da_z, dhn] is one row range, the input projection's [da_r, da_z, da_n] two. The
    chunk's E is copied gate-major (4H, K, N) once (whole rows) for its parameter products
    (:func:`_chunk_param_grads`). Writes dx; returns dL/d(state0).
    """
    A, HN = saved
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh0,) = _initial_grads(dfinal, cell.state_sizes, N, dt)
    dh = np.ascontiguousarray(dh0.T)
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    w_hh_t = np.ascontiguousarray(cell.weight_hh.data.T)  # (H, 3H)
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    h0_t = state0[0].T
    chunks = _chunks(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    # F's memory holds the factors during a chunk's steps, then its gate-major copy dG.
    F_mem = _buffer(cell, "dA", (K_max * 4 * H * N,), dt, part)
    F = F_mem[: K_max * 3 * H * N].reshape(K_max, 3 * H, N)
    E_buf = _buffer(cell, "E", (K_max, 4 * H, N), dt, part)
    W_ih = cell.weight_ih.data
    w_ih_e = np.concatenate([W_ih[2 * H :], W_ih[: 2 * H]])  # rows n, r, z: E's order
    # (cell rows, E rows): W_hh and b_hh get [da_r, da_z, dhn], W_ih and b_ih [da_r, da_z]
    # and da_n.
    rz, n_x, rzn_h = slice(H, 3 * H), slice(0, H), slice(H, 4 * H)
    hh_rows = ((slice(0, 3 * H), rzn_h),)
    ih_rows = ((slice(0, 2 * H), rz), (slice(2 * H, 3 * H), n_x))
    bhh_rows = ((slice(0, 2 * H), rz), (slice(2 * H, 3 * H), slice(3 * H, 4 * H)))
    nxt = np.empty((H, N), dt)
    tmp = np.empty((H, N), dt)
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = _span(steps)
        K = len(steps)
        a = A[sl]
        r, z, n = (a[:, k * H : (k + 1) * H] for k in range(3))
        hn = HN[sl]
        f = F[:K]
        f_r, f_z, f_n = (f[:, k * H : (k + 1) * H] for k in range(3))
        # F_r = hn r (1 - r)
        np.subtract(1.0, r, out=f_r)
        f_r *= r
        f_r *= hn
        # F_z = (h_{t-1} - n) z (1 - z): h_{t-1} read (transposed) from the outputs.
        if reverse:
            np.subtract(ys[sl.start + 1 : sl.stop].transpose(0, 2, 1), n[:-1], out=f_z[:-1])
            np.subtract(h0_t if sl.stop == T else ys[sl.stop].T, n[-1], out=f_z[-1])
        else:
            np.subtract(ys[sl.start : sl.stop - 1].transpose(0, 2, 1), n[1:], out=f_z[1:])
            np.subtract(h0_t if sl.start == 0 else ys[sl.start - 1].T, n[0], out=f_z[0])
        f_z *= z
        np.subtract(1.0, z, out=f_n)  # (1 - z), reused below
        f_z *= f_n
        # F_n = (1 - z)(1 - n^2)
        E = E_buf[:K]
        scratch = E[:, :H]  # (K, H, N), overwritten below
        np.multiply(n, n, out=scratch)
        np.subtract(1.0, scratch, out=scratch)
        f_n *= scratch
        dy_chunk = _chunk_output_grads(cell, dys, sl, K_max, part)
        for t in reversed(steps):
            k = t - sl.start
            _add_output_grad(dh, dy_chunk, k, hidden_grads, t)
            e = E[k]
            np.multiply(f_n[k], dh, out=e[:H])  # da_n
            np.multiply(f_z[k], dh, out=e[2 * H : 3 * H])  # da_z
            np.multiply(e[:H], f_r[k], out=e[H : 2 * H])  # da_r
            np.multiply(e[:H], r[k], out=e[3 * H :])  # dhn
            np.matmul(w_hh_t, e[H:], out=nxt)
            if mask is not None:
                nxt *= mask
            np.multiply(dh, z[k], out=tmp)
            np.add(nxt, tmp, out=dh)
        dG = F_mem[: 4 * H * K * N].reshape(4 * H, K, N)  # the factors are used up
        np.copyto(dG.transpose(1, 0, 2), E)
        _chunk_param_grads(cell, grads, dG, hh_rows, ih_rows, bhh_rows, w_ih_e, x_tm, ys, h0,
                           steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T),)


_KERNELS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "lstm": (_lstm_forward, _lstm_backward),
    "rnn": (_rnn_forward, _rnn_backward),
    "gru": (_gru_forward, _gru_backward),
}
