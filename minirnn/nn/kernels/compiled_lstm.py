"""The LSTM kernel with its step loops compiled by numba: the ``"compiled"`` kernel mode for
:class:`~minirnn.nn.cells.lstm.LSTMCell` (the ``fast`` extra; :mod:`minirnn.nn.kernels.compiled`
has the switch and the cache, :mod:`minirnn.nn.kernels.jit` the exponential).

- forward (inference and training): the weight packing is one compiled call and the
  whole time loop another (with the initial and final states' transposes; FMA
  contraction allowed: :data:`_JIT_FMA`). A step is
  one BLAS product ``[W_hh | W_ih | b] @ [h_{t-1}; x_t; 1]`` (``np.dot`` inside the
  compiled loop calls the BLAS directly, without a Python round trip) and one pass over
  the gate block that computes the four gate nonlinearities, the cell, its tanh and the
  output (and the masked h of the next step) element by element (inference stores neither
  the gates nor the cells); one loop for both dtypes, float32 arrays in float32 arithmetic
  (:func:`_lstm_forward_loop`);
- backward: the recursion of each chunk of steps is one compiled call (one pass per step
  over the gate block, then ``dh = W_hh^T dA`` in BLAS); the parameter gradients and dx
  stay the numpy kernel's per-chunk BLAS products (:func:`chunks.chunk_param_grads`).

The forward keeps exactly what the numpy kernel (:mod:`minirnn.nn.kernels.lstm`, the
reference these are tested against) keeps, in the same layout, so the two backward passes
are interchangeable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import State
from minirnn.nn.kernels import lstm as _lstm
from minirnn.nn.kernels.chunks import (
    Grads,
    chunk_output_grads,
    chunk_param_grads,
    initial_grads,
    span,
)
from minirnn.nn.kernels.chunks import chunks as chunk_steps
from minirnn.nn.kernels.jit import (
    _JIT,
    _one_like,
    _sigmoid_scaled,
    _take_output_grad,
    _tanh_scaled,
    _tanh_t,
    njit,
)
from minirnn.nn.kernels.pool import Workspace

__all__ = ["lstm_backward", "lstm_forward"]


#: The forward loop's options: ``_JIT`` with floating-point contraction allowed (and nothing
#: else of fastmath), so that LLVM fuses the exponentials' polynomial steps into FMAs: one
#: rounding instead of two (as accurate or more), 10-15 % of the loop on the machine of
#: docs/performance.md. Only here: the DTW sums must stay bit-identical to numpy's (and
#: in the LSTM backward, without exponentials but the cell's tanh, no gain was measured).
_JIT_FMA: dict[str, Any] = {**_JIT, "fastmath": {"contract"}}


@njit(**_JIT)
def _pack_weights(w_hh: np.ndarray, w_ih: np.ndarray, b_ih: np.ndarray, b_hh: np.ndarray,
                  bias: bool, W: np.ndarray) -> None:  # pragma: no cover (compiled)
    """:func:`minirnn.nn.kernels.lstm._weights` (exp form) in one compiled call: W
    (4H, H + D (+1)) = ``[W_hh | W_ih | b_ih + b_hh]`` in kernel order [o, i, f, g], the
    sigmoid rows times -1 and g's times -2 (exact: the same numbers as the numpy
    function's, without its dozen calls of 1-2 us at the smallest size)."""
    H = w_hh.shape[1]
    D = w_ih.shape[1]
    for k in range(4):
        cb = 3 if k == 0 else k - 1  # kernel block k holds cell block cb ([i, f, g, o])
        factor = -2.0 if k == 3 else -1.0  # (exact products, also in float64)
        for r in range(H):
            src = cb * H + r
            dst = k * H + r
            for col in range(H):
                W[dst, col] = w_hh[src, col] * factor
            for col in range(D):
                W[dst, H + col] = w_ih[src, col] * factor
            if bias:
                W[dst, H + D] = (b_ih[src] + b_hh[src]) * factor


@njit(**_JIT_FMA)
def _lstm_forward_loop(W: np.ndarray, x_tm: np.ndarray, reverse: bool, S: np.ndarray,
                       h0: np.ndarray, c0: np.ndarray, c: np.ndarray, mask: np.ndarray,
                       use_mask: bool, keep: bool, A: np.ndarray, C: np.ndarray,
                       h: np.ndarray, ys: np.ndarray, h_n: np.ndarray,
                       c_n: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The LSTM forward's time loop. W (4H, H + D (+1)) in kernel order [o, i, f, g],
    scaled by the exp form's factors (-1 on the sigmoid rows, -2 on g:
    :func:`_pack_weights`); S (H + D (+1), N) the stacked [h_{t-1} (masked); x_t; 1] with
    the ones row written; h0, c0 (N, H) the initial state (h0 unmasked); c (H, N) the cell
    and h (H, N) work arrays. A (T or 1, 4H, N) and C (T or 1, H, N) receive the
    activations and cells (step t at index t with ``keep``, else 0); h_n, c_n (N, H) the
    final state.

    One loop for float32 and float64: :func:`_sigmoid_scaled`, :func:`_tanh_scaled` and
    :func:`_tanh_t` compute in the arrays' precision (float32 in float32 arithmetic, twice
    the vector lanes)."""
    H = c.shape[0]
    N = c.shape[1]
    T = x_tm.shape[0]
    D = x_tm.shape[2]
    for n in range(N):  # the initial state, transposed (and h masked) here: no numpy calls
        for j in range(H):
            c[j, n] = c0[n, j]
            S[j, n] = h0[n, j] * mask[j, n] if use_mask else h0[n, j]
    t = 0
    for step in range(T):
        t = T - 1 - step if reverse else step
        for n in range(N):
            for d in range(D):
                S[H + d, n] = x_tm[t, n, d]
        slot = t if keep else 0
        a = A[slot]
        np.dot(W, S, a)
        cs = C[slot]
        if keep:
            for j in range(H):
                for n in range(N):
                    o = _sigmoid_scaled(a[j, n])
                    i = _sigmoid_scaled(a[H + j, n])
                    f = _sigmoid_scaled(a[2 * H + j, n])
                    g = _tanh_scaled(a[3 * H + j, n])
                    ct = f * c[j, n] + i * g
                    a[j, n] = o
                    a[H + j, n] = i
                    a[2 * H + j, n] = f
                    a[3 * H + j, n] = g
                    c[j, n] = ct
                    cs[j, n] = ct
                    ht = o * _tanh_t(ct)
                    h[j, n] = ht
                    S[j, n] = ht * mask[j, n] if use_mask else ht
        else:  # inference keeps nothing: the gates and cells are not stored
            for j in range(H):
                for n in range(N):
                    # the same expressions as above (same FMA contractions: inference
                    # and training give the same numbers)
                    o = _sigmoid_scaled(a[j, n])
                    i = _sigmoid_scaled(a[H + j, n])
                    f = _sigmoid_scaled(a[2 * H + j, n])
                    g = _tanh_scaled(a[3 * H + j, n])
                    ct = f * c[j, n] + i * g
                    c[j, n] = ct
                    ht = o * _tanh_t(ct)
                    h[j, n] = ht
                    S[j, n] = ht * mask[j, n] if use_mask else ht
        for n in range(N):
            for j in range(H):
                ys[t, n, j] = h[j, n]
    for n in range(N):  # the final state: the last step's h (unmasked) and c
        for j in range(H):
            h_n[n, j] = ys[t, n, j]
            c_n[n, j] = c[j, n]


@njit(**_JIT)
def _lstm_backward_steps(A: np.ndarray, C: np.ndarray, c0: np.ndarray, start: int,
                         stop: int, reverse: bool, T: int, dy: np.ndarray, use_dy: bool,
                         hidden_grads: np.ndarray, use_hg: bool, mask: np.ndarray,
                         use_mask: bool, w_hh_t: np.ndarray, dh: np.ndarray, dc: np.ndarray,
                         dA: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The recursion of one chunk of the LSTM backward (steps ``start`` .. ``stop - 1`` in
    time, visited latest-in-forward-order first): writes dL/d(pre-activations) of each
    step into dA (K, 4H, N) (kernel order [o, i, f, g]) and carries dh, dc (H, N) in
    place. dy (K, H, N): the chunk's output gradients, transposed."""
    H = dh.shape[0]
    N = dh.shape[1]
    K = stop - start
    for s in range(K):
        k = s if reverse else K - 1 - s
        t = start + k
        _take_output_grad(dh, dy, k, use_dy, hidden_grads, t, use_hg)
        a = A[t]
        ct_all = C[t]
        prev = t + 1 if reverse else t - 1  # the step before t in the forward's order
        cp = c0 if prev < 0 or prev >= T else C[prev]
        d = dA[k]
        one = _one_like(dh[0, 0])  # float32 arrays in float32 arithmetic
        for j in range(H):
            for n in range(N):
                o = a[j, n]
                i = a[H + j, n]
                f = a[2 * H + j, n]
                g = a[3 * H + j, n]
                tc = _tanh_t(ct_all[j, n])
                dhv = dh[j, n]
                dcv = dc[j, n] + dhv * o * (one - tc * tc)
                d[j, n] = dhv * tc * o * (one - o)
                d[H + j, n] = dcv * g * i * (one - i)
                d[2 * H + j, n] = dcv * cp[j, n] * f * (one - f)
                d[3 * H + j, n] = dcv * i * (one - g * g)
                dc[j, n] = dcv * f
        np.dot(w_hh_t, d, dh)
        if use_mask:
            for j in range(H):
                for n in range(N):
                    dh[j, n] *= mask[j, n]


def lstm_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                 rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """The LSTM forward of :func:`minirnn.nn.kernels.lstm.forward` with its weight packing
    (:func:`_pack_weights`) and time loop (:func:`_lstm_forward_loop`) compiled; same
    arguments, results and saved arrays."""
    T, N, D = x_tm.shape
    if N == 0 or T == 0:  # nothing to loop over: the numpy kernel's handling
        return _lstm.forward(cell, x_tm, state0, reverse, rec_mask, keep, ws, out)
    H = cell.hidden_size
    dt = x_tm.dtype
    # The whole call is one compiled packing, one compiled loop and a few allocations: at
    # the smallest benchmark size the numpy calls around the loop cost ~10 % of it.
    bias = cell.bias_ih is not None and cell.bias_hh is not None
    W = np.empty((4 * H, H + D + bias), dt)
    no_bias = np.empty(0, dt)
    _pack_weights(cell.weight_hh.data, cell.weight_ih.data,
                  cell.bias_ih.data if bias else no_bias,
                  cell.bias_hh.data if bias else no_bias, bias, W)
    A = ws.take("A", (T if keep else 1, 4 * H, N), dt)
    C = ws.take("C", (T if keep else 1, H, N), dt)
    S = ws.take("S", (1, W.shape[1], N), dt)[0]
    S[H + D :] = 1.0  # the bias row, if any
    ys = np.empty((T, N, H), dt) if out is None else out
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask.T) if rec_mask is not None
            else np.empty((0, 0), dt))
    c = np.empty((H, N), dt)
    h = np.empty((H, N), dt)
    final = (np.empty((N, H), dt), np.empty((N, H), dt))
    _lstm_forward_loop(W, x_tm, reverse, S, state0[0], state0[1], c, mask, use_mask, keep,
                       A, C, h, ys, final[0], final[1])
    return ys, final, ((A, C) if keep else None)


def lstm_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                  state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                  saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                  ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`lstm_forward` (also of the numpy forward: the saved arrays are the
    same), the recursion of each chunk compiled (:func:`_lstm_backward_steps`), the
    parameter gradients and dx the numpy kernel's per-chunk products."""
    T, N, _ = x_tm.shape
    if N == 0 or T == 0:  # the numpy kernel's handling (its forward ran: see lstm_forward)
        return _lstm.backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys, saved,
                              hidden_grads, dx, ws, grads)
    A, C = saved
    H = cell.hidden_size
    dt = x_tm.dtype
    dh, dc = (np.ascontiguousarray(d.T) for d in initial_grads(dfinal, cell.state_sizes, N,
                                                                 dt))
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask.T) if rec_mask is not None
            else np.empty((0, 0), dt))
    blocks = _lstm._blocks(H)
    w_hh_t = np.ascontiguousarray(
        np.concatenate([cell.weight_hh.data[cb] for cb, _ in blocks]).T)  # (H, 4H)
    w_ih_k = np.concatenate([cell.weight_ih.data[cb] for cb, _ in blocks])
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    c0 = np.ascontiguousarray(state0[1].T)
    chunks = chunk_steps(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    dA_buf = ws.take("dA", (K_max, 4 * H, N), dt)
    dG_buf = ws.take("dG", (4 * H, K_max, N), dt)
    no_dy = np.empty((0, 0, 0), dt)
    hg = hidden_grads if hidden_grads is not None else np.empty((0, 0, 0), dt)
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = span(steps)
        K = len(steps)
        dA = dA_buf[:K]
        dy_chunk = chunk_output_grads(ws, dys, sl, K_max)
        _lstm_backward_steps(A, C, c0, sl.start, sl.stop, reverse, T,
                             no_dy if dy_chunk is None else dy_chunk, dy_chunk is not None,
                             hg, hidden_grads is not None, mask, use_mask, w_hh_t, dh, dc,
                             dA)
        dG = dG_buf[:, :K]
        np.copyto(dG.transpose(1, 0, 2), dA)
        chunk_param_grads(cell, grads, dG, blocks, blocks, blocks, w_ih_k, x_tm, ys, h0,
                          steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T))
