"""Backpropagation through time for one layer and one direction: the one home of BPTT.

:func:`forward` / :func:`backward` run a cell over a time-major sequence x (T, N, D).
Two ways, one set-up and one tail:

- the generic loop calls the cell's own methods step by step (``project_hidden``,
  ``step``, ``step_backward``, ``hidden_input_grad``): any :class:`~minirnn.Cell`, with
  variable lengths and recurrent dropout;
- a fused kernel runs the same equations for a whole sequence with fewer numpy calls per
  step and preallocated buffers. A cell asks for one through its class attribute
  :attr:`~minirnn.Cell.fused_kernel` (today ``"lstm"``), which is switched
  off automatically for a subclass that overrides the step math, and
  :meth:`~minirnn.Cell.fused_kernel_applies` (the options a kernel covers). Recurrent
  dropout runs on the kernels too; variable lengths use the generic loop.

Both paths start from one input projection for all steps (one GEMM) and end in
:func:`_finish`, which accumulates the parameter gradients through the cell's
``project_hidden_backward`` / ``project_input_backward`` with all steps stacked.

A kernel stays only while it beats the generic loop by more than ~1.15x (measured with
float32 training steps on the project machine, one BLAS thread: the RNN and GRU kernels ran
0.88-1.31x and 0.95-1.03x the generic loop's time and were deleted; docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minirnn.cells.base import Cell, State

__all__ = ["backward", "forward", "kernel_name"]

Cache = tuple[Any, ...]


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
        ys, final, saved = kernel_forward(cell, x_tm, state0, reverse, rec_mask, keep)
        return ys, final, (name, x_tm, state0, reverse, rec_mask, ys, saved) if keep else None
    ys, final, cache = _generic_forward(cell, x_tm, state0, reverse, step_mask, rec_mask,
                                        record, keep)
    return ys, final, cache if keep else None


def backward(
    cell: Cell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: Cache,
    hidden_grads: np.ndarray | None = None,
) -> tuple[np.ndarray, State]:
    """BPTT of :func:`forward`; returns dx (T, N, D) and dL/d(state0). The cache is read only.

    ``dys`` (T, N, H) is dL/d(outputs) (None: zero), ``dfinal`` dL/d(final state);
    ``hidden_grads`` (T, N, H), if given, receives dL/dh_t of every step (diagnostics).
    """
    if cache[0] == "steps":
        return _generic_backward(cell, dys, dfinal, cache, hidden_grads)
    name, x_tm, state0, reverse, rec_mask, ys, saved = cache
    _, kernel_backward = _KERNELS[name]
    dXP, dHP, dstate0 = kernel_backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask,
                                        ys, saved, hidden_grads)
    return _finish(cell, dXP, dHP, x_tm, ys, state0[0], reverse, rec_mask), dstate0


# ------------------------------------------------------------------ shared set-up and tail
def _order(T: int, reverse: bool) -> range:
    """Time indices in the order the forward pass visits them."""
    return range(T - 1, -1, -1) if reverse else range(T)


def _project_all(cell: Cell, x_tm: np.ndarray, scale: np.ndarray | None = None,
                 bias: bool = False) -> np.ndarray:
    """The input projection of every step in one GEMM: (T, N, D) -> (T, N, G*H).

    Fused kernels pass ``scale`` (per output column, exact powers of two) to fold a sign
    or factor of their gate nonlinearities into the weights, and ``bias=True`` to fold
    ``bias_ih + bias_hh`` into the same GEMM as a column of ones appended to x (cheaper
    than a separate pass over the (T, N, G*H) result: 3.4 vs 4.0 ms at T,N,D,H =
    100,64,32,128 in float32).
    """
    T, N, D = x_tm.shape
    if scale is None:
        return cell.project_input(x_tm.reshape(T * N, D)).reshape(T, N, -1)
    w = cell.weight_ih.data.T * scale  # (D, G*H), C-contiguous
    x = x_tm.reshape(T * N, D)
    if bias and cell.bias_ih is not None and cell.bias_hh is not None:
        b = (cell.bias_ih.data + cell.bias_hh.data) * scale
        w = np.concatenate([w, b[None]], axis=0)
        x = np.concatenate([x, np.ones((T * N, 1), x.dtype)], axis=1)
    return (x @ w).reshape(T, N, -1)


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
# Each kernel is a pair (forward, backward). forward(cell, x_tm, state0, reverse, rec_mask)
# returns (outputs, final state, saved); backward(cell, dys, dfinal, x_tm, state0, reverse,
# rec_mask, ys, saved, hidden_grads) returns (dXP, dHP, dstate0) for _finish. Nothing in
# `saved` is written by backward (a second backward must give the same gradients).


def _masked(h: np.ndarray, rec_mask: np.ndarray | None, buf: np.ndarray) -> np.ndarray:
    return h if rec_mask is None else np.multiply(h, rec_mask, out=buf)


def _lstm_gates(dtype: np.dtype, H: int) -> tuple[np.ndarray, Callable[[np.ndarray], None]]:
    """(scale, activate): the LSTM gate nonlinearity over all four blocks [i, f, g, o].

    The rows of the weights and biases are pre-multiplied by ``scale`` (exact powers of
    two), so that one pass over the pre-activations gives sigmoid on i, f, o and tanh on g:

    - float32: ``tanh(a')`` with a' = a/2 on the sigmoid blocks, then ``* m + s``
      (sigmoid(a) = tanh(a/2)/2 + 1/2): three calls; this build's float32 ``tanh`` is
      faster than its ``exp`` (3.4 vs 4.3 us at (32, 256), 49 vs 61 at (128, 1024)).
    - float64: ``num / (1 + exp(a')) - shift`` with a' = -a (sigmoid) and -2a (tanh):
      four calls; the vectorized float64 ``exp`` is about 2x faster than ``tanh``. An
      overflow of exp to inf gives the exact limits 0 and -1.
    """
    sig = np.r_[0:2 * H, 3 * H:4 * H]
    if dtype == np.float32:
        scale = np.ones(4 * H, dtype)
        scale[sig] = 0.5
        shift = np.zeros(4 * H, dtype)
        shift[sig] = 0.5

        def activate(a: np.ndarray) -> None:
            np.tanh(a, out=a)
            a *= scale
            a += shift

        return scale, activate
    scale = np.full(4 * H, -1.0, dtype)
    scale[2 * H : 3 * H] = -2.0
    num = np.ones(4 * H, dtype)
    num[2 * H : 3 * H] = 2.0

    def activate_exp(a: np.ndarray) -> None:
        np.exp(a, out=a)
        a += 1.0
        np.divide(num, a, out=a)
        a[:, 2 * H : 3 * H] -= 1.0

    return scale, activate_exp


def _lstm_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                  rec_mask: np.ndarray | None, keep: bool = True
                  ) -> tuple[np.ndarray, State, Any]:
    """Ten numpy calls per step. A: gate activations (over the input projection), C: c_t.
    Without ``keep`` (inference) C is two rolling (N, H) buffers."""
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    scale, activate = _lstm_gates(dt, H)
    A = _project_all(cell, x_tm, scale, bias=cell.bias_ih is not None)
    # C-contiguous: OpenBLAS ran (32, 64) @ (64, 256) in 10.6 us so, 20 us on a transposed view.
    w_hh = np.ascontiguousarray((cell.weight_hh.data * scale[:, None]).T)
    Y = np.empty((T, N, H), dt)
    C = np.empty((T if keep else 2, N, H), dt)
    tc = np.empty((N, H), dt)  # tanh(c_t): backward recomputes it for all steps at once
    hp = np.empty((N, 4 * H), dt)
    ig = np.empty((N, H), dt)
    hm = np.empty((N, H), dt)
    h, c = state0
    with np.errstate(over="ignore"):
        for j, t in enumerate(_order(T, reverse)):
            a = A[t]
            np.matmul(_masked(h, rec_mask, hm), w_hh, out=hp)
            a += hp
            activate(a)
            ct = C[t] if keep else C[j % 2]
            np.multiply(a[:, H : 2 * H], c, out=ct)
            np.multiply(a[:, :H], a[:, 2 * H : 3 * H], out=ig)
            ct += ig
            np.tanh(ct, out=tc)
            h = np.multiply(a[:, 3 * H :], tc, out=Y[t])
            c = ct
    return Y, (h, c), ((A, C) if keep else None)


def _lstm_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                   state0: State, reverse: bool, rec_mask: np.ndarray | None, Y: np.ndarray,
                   saved: Any, hidden_grads: np.ndarray | None) -> tuple[Any, Any, State]:
    """Every factor that does not depend on the recursion is computed for all steps at
    once before the loop, so a step is six numpy calls:

    dA_t = [dc_t * (g, c_{t-1}, i) * (sig'_i, sig'_f, tanh'_g),  dh_t * tanh(c_t) sig'_o]
    dc_t = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c_t)^2),  dh_{t-1} = dA_t W_hh
    """
    A, C = saved
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    dh, dc = _initial_grads(dfinal, cell.state_sizes, N, dt)
    i, f, g, o = (A[:, :, k * H : (k + 1) * H] for k in range(4))
    # dA starts as the step-independent factors of each block.
    dA = np.subtract(1.0, A)
    dA *= A  # sigmoid' = s (1 - s)
    dA4 = dA.reshape(T, N, 4, H)  # a view (dA is contiguous): blocks i, f, g as one axis
    d_i, d_f, d_g, d_o = (dA[:, :, k * H : (k + 1) * H] for k in range(4))
    np.multiply(g, g, out=d_g)
    np.subtract(1.0, d_g, out=d_g)  # tanh' = 1 - g^2
    d_i *= g
    d_g *= i
    f_mid, c_prev, f_first = split_at_first_step(d_f, C, reverse)
    f_mid *= c_prev
    f_first *= state0[1]
    # tanh(c_t) of every step in one call (not cached: peak memory), then in place
    # Q = dc_t/dh_t = o (1 - tanh(c_t)^2).
    Q = np.tanh(C)
    d_o *= Q
    Q *= Q
    np.subtract(1.0, Q, out=Q)
    Q *= o
    w_hh = cell.weight_hh.data
    b1 = np.empty((N, H), dt)
    dc3 = dc[:, None, :]
    for t in reversed(_order(T, reverse)):
        if dys is not None:
            dh += dys[t]
        if hidden_grads is not None:
            hidden_grads[t] = dh
        np.multiply(dh, Q[t], out=b1)
        dc += b1
        np.multiply(dA4[t, :, :3], dc3, out=dA4[t, :, :3])
        da = dA[t]
        da[:, 3 * H :] *= dh
        dc *= f[t]
        np.matmul(da, w_hh, out=dh)
        if rec_mask is not None:
            dh *= rec_mask
    return dA, dA, (dh, dc)


_KERNELS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "lstm": (_lstm_forward, _lstm_backward),
}
