"""The GRU kernel (``reset_after=True``) with its step loops compiled by numba: the
``"compiled"`` kernel mode for :class:`~minirnn.nn.cells.gru.GRUCell` (the ``fast``
extra; :mod:`minirnn.nn.kernels.compiled` has the switch and the cache,
:mod:`minirnn.nn.kernels.jit` the exponential).

Computes what :mod:`minirnn.nn.kernels.gru` computes (the reference it is tested against)
and keeps the same arrays for backward in the same layout, so the two kernels' forward and
backward passes are interchangeable:

- forward: the whole time loop is one compiled call. A step is two BLAS products,
  ``[W_ih | b] @ [x_t; 1]`` and ``[W_hh | b_hn] @ [h_{t-1}; 1]`` (``np.dot`` inside the
  loop calls the BLAS directly), and one pass over the gate block that computes r, z, n
  and h element by element;
- backward: the recursion of each chunk of steps is one compiled call (one pass per step
  over the gate block, then ``W_hh^T [da_r; da_z; dhn]`` in BLAS); the parameter gradients
  and dx stay the numpy kernel's per-chunk products (:func:`chunks.chunk_param_grads`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import State
from minirnn.nn.kernels import gru as _gru
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
    _sigmoid,
    _take_output_grad,
    _tanh_t,
    njit,
)
from minirnn.nn.kernels.pool import Workspace

__all__ = ["gru_backward", "gru_forward"]


@njit(**_JIT)
def _gru_forward_loop(w_ih: np.ndarray, w_hh: np.ndarray, x_tm: np.ndarray,
                      order: np.ndarray, Sx: np.ndarray, Sh: np.ndarray, hm: np.ndarray,
                      mask: np.ndarray, use_mask: bool, keep: bool, A: np.ndarray,
                      HN: np.ndarray, hp: np.ndarray,
                      ys: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The GRU forward's time loop, gate-major. w_ih (3H, D (+1)) = [W_ih | b] (b: b_ih,
    plus b_hh on the r and z rows); w_hh (3H, H (+1)) = [W_hh | b_hn] (b_hn on the n rows
    only: it must stay inside r * (W_hn h + b_hn)). Sx (D (+1), N) and Sh (H (+1), N) hold
    [x_t; 1] and [h_{t-1}; 1] with the ones rows written, Sh starting at h_0; hm a work
    array like Sh for the masked h (its ones row written). A (T or 1, 3H, N) receives
    r, z, n and HN (T or 1, H, N) ``W_hn h + b_hn`` (step t at index t with ``keep``)."""
    H = hp.shape[0] // 3
    N = hp.shape[1]
    D = x_tm.shape[2]
    for step in range(order.shape[0]):
        t = order[step]
        for n in range(N):
            for d in range(D):
                Sx[d, n] = x_tm[t, n, d]
        slot = t if keep else 0
        a = A[slot]
        np.dot(w_ih, Sx, a)
        if use_mask:
            for j in range(H):
                for n in range(N):
                    hm[j, n] = Sh[j, n] * mask[j, n]
            np.dot(w_hh, hm, hp)
        else:
            np.dot(w_hh, Sh, hp)
        hn_t = HN[slot]
        for j in range(H):
            for n in range(N):
                r = _sigmoid(a[j, n] + hp[j, n])
                z = _sigmoid(a[H + j, n] + hp[H + j, n])
                hn = hp[2 * H + j, n]
                nv = _tanh_t(a[2 * H + j, n] + r * hn)
                a[j, n] = r
                a[H + j, n] = z
                a[2 * H + j, n] = nv
                hn_t[j, n] = hn
                h_prev = Sh[j, n]
                Sh[j, n] = nv + z * (h_prev - nv)  # h_t = n + z (h_{t-1} - n)
        for n in range(N):
            for j in range(H):
                ys[t, n, j] = Sh[j, n]


@njit(**_JIT)
def _gru_backward_steps(A: np.ndarray, HN: np.ndarray, ys: np.ndarray, h0: np.ndarray,
                        start: int, stop: int, reverse: bool, T: int, dy: np.ndarray,
                        use_dy: bool, hidden_grads: np.ndarray, use_hg: bool,
                        mask: np.ndarray, use_mask: bool, w_hh_t: np.ndarray,
                        dh: np.ndarray, nxt: np.ndarray,
                        E: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The recursion of one chunk of the GRU backward (steps ``start`` .. ``stop - 1``,
    latest-in-forward-order first): writes E_t = [da_n; da_r; da_z; dhn] (the numpy
    kernel's layout) of each step into E (K, 4H, N) and carries dh (H, N) in place.
    dy (K, H, N): the chunk's output gradients, transposed; h0 (N, H) the initial state
    (unmasked: it enters h_t = n + z (h_{t-1} - n))."""
    H = dh.shape[0]
    N = dh.shape[1]
    K = stop - start
    for s in range(K):
        k = s if reverse else K - 1 - s
        t = start + k
        _take_output_grad(dh, dy, k, use_dy, hidden_grads, t, use_hg)
        a = A[t]
        hn_t = HN[t]
        e = E[k]
        prev = t + 1 if reverse else t - 1  # the step before t in the forward's order
        first = prev < 0 or prev >= T
        one = _one_like(dh[0, 0])  # float32 arrays in float32 arithmetic
        for j in range(H):
            for n in range(N):
                r = a[j, n]
                z = a[H + j, n]
                nv = a[2 * H + j, n]
                h_prev = h0[n, j] if first else ys[prev, n, j]
                dhv = dh[j, n]
                da_n = dhv * (one - z) * (one - nv * nv)
                e[j, n] = da_n
                e[H + j, n] = da_n * (hn_t[j, n] * r * (one - r))
                e[2 * H + j, n] = dhv * ((h_prev - nv) * z * (one - z))
                e[3 * H + j, n] = da_n * r
                dh[j, n] = dhv * z
        np.dot(w_hh_t, e[H:], nxt)
        for j in range(H):
            for n in range(N):
                dh[j, n] += nxt[j, n] * mask[j, n] if use_mask else nxt[j, n]


def gru_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
                out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """The GRU forward of :func:`minirnn.nn.kernels.gru.forward` with its time loop
    compiled (:func:`_gru_forward_loop`); same arguments, results and saved arrays:
    x_tm (T, N, D), outputs (T, N, H), saved r, z, n (T, 3H, N) and ``W_hn h + b_hn``
    (T, H, N)."""
    T, N, D = x_tm.shape
    if N == 0 or T == 0:  # nothing to loop over: the numpy kernel's handling
        return _gru.forward(cell, x_tm, state0, reverse, rec_mask, keep, ws, out)
    H = cell.hidden_size
    dt = x_tm.dtype
    bias = cell.bias_ih is not None and cell.bias_hh is not None
    w_ih = np.empty((3 * H, D + bias), dt)
    w_ih[:, :D] = cell.weight_ih.data
    w_hh = np.empty((3 * H, H + bias), dt)
    w_hh[:, :H] = cell.weight_hh.data
    if bias:
        np.add(cell.bias_ih.data, cell.bias_hh.data, out=w_ih[:, D])
        w_ih[2 * H :, D] = cell.bias_ih.data[2 * H :]
        w_hh[:, H] = 0.0
        w_hh[2 * H :, H] = cell.bias_hh.data[2 * H :]
    A = ws.take("A", (T if keep else 1, 3 * H, N), dt)
    HN = ws.take("HN", (T if keep else 1, H, N), dt)
    Sx = ws.take("Sx", (D + bias, N), dt)
    Sx[D:] = 1.0
    Sh = ws.take("Hs", (H + bias, N), dt)
    Sh[H:] = 1.0
    np.copyto(Sh[:H], state0[0].T)
    hm = ws.take("HM", (H + bias, N), dt)
    hm[H:] = 1.0
    hp = ws.take("HP", (3 * H, N), dt)
    ys = np.empty((T, N, H), dt) if out is None else out
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask.T) if rec_mask is not None
            else np.empty((0, 0), dt))
    order = np.arange(T - 1, -1, -1) if reverse else np.arange(T)
    _gru_forward_loop(w_ih, w_hh, x_tm, order, Sx, Sh, hm, mask, use_mask, keep, A, HN,
                      hp, ys)
    final = (ys[order[-1]].copy(),)
    return ys, final, ((A, HN) if keep else None)


def gru_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                 state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                 saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                 ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`gru_forward` (also of the numpy forward: the saved arrays are the
    same), the recursion of each chunk compiled (:func:`_gru_backward_steps`), the
    parameter gradients and dx the numpy kernel's per-chunk products. Writes dx
    (T, N, D); returns dL/d(state0)."""
    T, N, _ = x_tm.shape
    if N == 0 or T == 0:  # the numpy kernel's handling (its forward ran: see gru_forward)
        return _gru.backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys, saved,
                             hidden_grads, dx, ws, grads)
    A, HN = saved
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh0,) = initial_grads(dfinal, cell.state_sizes, N, dt)
    dh = np.ascontiguousarray(dh0.T)
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask.T) if rec_mask is not None
            else np.empty((0, 0), dt))
    w_hh_t = np.ascontiguousarray(cell.weight_hh.data.T)  # (H, 3H)
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    h0_plain = np.ascontiguousarray(state0[0])
    W_ih = cell.weight_ih.data
    w_ih_e = np.concatenate([W_ih[2 * H :], W_ih[: 2 * H]])  # rows n, r, z: E's order
    # (cell rows, E rows), as in the numpy kernel.
    rz, n_x, rzn_h = slice(H, 3 * H), slice(0, H), slice(H, 4 * H)
    hh_rows = ((slice(0, 3 * H), rzn_h),)
    ih_rows = ((slice(0, 2 * H), rz), (slice(2 * H, 3 * H), n_x))
    bhh_rows = ((slice(0, 2 * H), rz), (slice(2 * H, 3 * H), slice(3 * H, 4 * H)))
    chunks = chunk_steps(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    E_buf = ws.take("E", (K_max, 4 * H, N), dt)
    dG_mem = ws.take("dA", (K_max * 4 * H * N,), dt)
    nxt = np.empty((H, N), dt)
    no_dy = np.empty((0, 0, 0), dt)
    hg = hidden_grads if hidden_grads is not None else np.empty((0, 0, 0), dt)
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = span(steps)
        K = len(steps)
        E = E_buf[:K]
        dy_chunk = chunk_output_grads(ws, dys, sl, K_max)
        _gru_backward_steps(A, HN, ys, h0_plain, sl.start, sl.stop, reverse, T,
                            no_dy if dy_chunk is None else dy_chunk, dy_chunk is not None,
                            hg, hidden_grads is not None, mask, use_mask, w_hh_t, dh, nxt,
                            E)
        dG = dG_mem[: 4 * H * K * N].reshape(4 * H, K, N)
        np.copyto(dG.transpose(1, 0, 2), E)
        chunk_param_grads(cell, grads, dG, hh_rows, ih_rows, bhh_rows, w_ih_e, x_tm, ys, h0,
                          steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T),)
