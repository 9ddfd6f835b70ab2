"""The Elman RNN kernel (tanh or ReLU) with its step loops compiled by numba: the
``"compiled"`` kernel mode for :class:`~minirnn.nn.cells.rnn.RNNCell` (the ``fast``
extra; :mod:`minirnn.nn.kernels.compiled` has the switch and the cache,
:mod:`minirnn.nn.kernels.jit` the exponential).

Computes what :mod:`minirnn.nn.kernels.rnn` computes (the reference it is tested against)
and, like it, keeps nothing but the outputs for backward:

- forward: the whole time loop is one compiled call; a step is one BLAS product
  ``[h_{t-1} | x_t | 1] @ [W_hh^T; W_ih^T; b]`` (batch-major, as the numpy kernel) and one
  pass that applies the nonlinearity and writes the output and the masked h of the next
  step;
- backward: the recursion of each chunk of steps is one compiled call (``dz = dh act'``
  from the outputs, then ``dh = dz W_hh`` in BLAS); the parameter gradients and dx stay
  the numpy kernel's per-chunk products (:func:`chunks.chunk_param_grads`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import State
from minirnn.nn.kernels import rnn as _rnn
from minirnn.nn.kernels.chunks import Grads, chunk_param_grads, initial_grads, span
from minirnn.nn.kernels.chunks import chunks as chunk_steps
from minirnn.nn.kernels.jit import _JIT, _one_like, _relu, _tanh_t, njit
from minirnn.nn.kernels.pool import Workspace

__all__ = ["rnn_backward", "rnn_forward"]


@njit(**_JIT)
def _rnn_forward_loop(W: np.ndarray, x_tm: np.ndarray, order: np.ndarray, S: np.ndarray,
                      mask: np.ndarray, use_mask: bool, relu: bool, y: np.ndarray,
                      ys: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The RNN forward's time loop. W (H + D (+1), H) = [W_hh^T; W_ih^T; b]; S (N, H + D
    (+1)) the stacked [h_{t-1} (masked) | x_t | 1] with h_0 (masked) and the ones column
    written; y (N, H) a work array for the pre-activations."""
    N, H = y.shape
    D = x_tm.shape[2]
    for step in range(order.shape[0]):
        t = order[step]
        for n in range(N):
            for d in range(D):
                S[n, H + d] = x_tm[t, n, d]
        np.dot(S, W, y)
        for n in range(N):
            for j in range(H):
                v = _relu(y[n, j]) if relu else _tanh_t(y[n, j])
                ys[t, n, j] = v
                S[n, j] = v * mask[n, j] if use_mask else v


@njit(**_JIT)
def _rnn_backward_steps(ys: np.ndarray, start: int, stop: int, reverse: bool,
                        dys: np.ndarray, use_dy: bool, hidden_grads: np.ndarray,
                        use_hg: bool, mask: np.ndarray, use_mask: bool, relu: bool,
                        w_hh: np.ndarray, dh: np.ndarray,
                        dZ: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The recursion of one chunk of the RNN backward (steps ``start`` .. ``stop - 1``,
    latest-in-forward-order first): dz_t = dh_t act'(h_t) into dZ (K, N, H), and
    dh_{t-1} = dz_t W_hh (masked), dh (N, H) carried in place; act' read from the
    outputs ys (T, N, H)."""
    N, H = dh.shape
    K = stop - start
    one = _one_like(dh[0, 0])  # float32 arrays in float32 arithmetic
    for s in range(K):
        k = s if reverse else K - 1 - s
        t = start + k
        dz = dZ[k]
        for n in range(N):
            for j in range(H):
                g = dh[n, j] + dys[t, n, j] if use_dy else dh[n, j]
                if use_hg:
                    hidden_grads[t, n, j] = g
                yv = ys[t, n, j]
                if relu:
                    dz[n, j] = g if yv > 0 else 0.0
                else:
                    dz[n, j] = g * (one - yv * yv)
        np.dot(dz, w_hh, dh)
        if use_mask:
            for n in range(N):
                for j in range(H):
                    dh[n, j] *= mask[n, j]


def rnn_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
                out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """The RNN forward of :func:`minirnn.nn.kernels.rnn.forward` with its time loop
    compiled (:func:`_rnn_forward_loop`); same arguments and results: x_tm (T, N, D),
    outputs (T, N, H); nothing saved but the outputs."""
    T, N, D = x_tm.shape
    if N == 0 or T == 0:  # nothing to loop over: the numpy kernel's handling
        return _rnn.forward(cell, x_tm, state0, reverse, rec_mask, keep, ws, out)
    H = cell.hidden_size
    dt = x_tm.dtype
    bias = cell.bias_ih is not None and cell.bias_hh is not None
    # Fresh, not the workspace's (as the backward's dZ): held in the pool it would count
    # toward the backward's peak, with the batch split once per slice (the float32 RNN
    # at 50 x 128 x 128 x 256 measured 1.51x the BPTT minimum with it).
    W = np.empty((H + D + bias, H), dt)
    W[:H] = cell.weight_hh.data.T
    W[H : H + D] = cell.weight_ih.data.T
    if bias:
        np.add(cell.bias_ih.data, cell.bias_hh.data, out=W[H + D])
    S = ws.take("S", (N, H + D + bias), dt)
    S[:, H + D :] = 1.0
    use_mask = rec_mask is not None
    if rec_mask is not None:
        np.multiply(state0[0], rec_mask, out=S[:, :H])
        mask = np.ascontiguousarray(rec_mask, dtype=dt)
    else:
        S[:, :H] = state0[0]
        mask = np.empty((0, 0), dt)
    y = ws.take("Y", (N, H), dt)
    ys = np.empty((T, N, H), dt) if out is None else out
    order = np.arange(T - 1, -1, -1) if reverse else np.arange(T)
    _rnn_forward_loop(W, x_tm, order, S, mask, use_mask, cell.nonlinearity == "relu", y, ys)
    return ys, (ys[order[-1]].copy(),), (() if keep else None)


def rnn_backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                 state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                 saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                 ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`rnn_forward` (and of the numpy forward), the recursion of each chunk
    compiled (:func:`_rnn_backward_steps`), the parameter gradients and dx the numpy
    kernel's per-chunk products. Writes dx (T, N, D); returns dL/d(state0)."""
    T, N, _ = x_tm.shape
    if N == 0 or T == 0:  # the numpy kernel's handling
        return _rnn.backward(cell, dys, dfinal, x_tm, state0, reverse, rec_mask, ys, saved,
                             hidden_grads, dx, ws, grads)
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh,) = initial_grads(dfinal, cell.state_sizes, N, dt)
    dh = np.ascontiguousarray(dh)
    w_hh = np.ascontiguousarray(cell.weight_hh.data)
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask, dtype=dt) if rec_mask is not None
            else np.empty((0, 0), dt))
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    chunks = chunk_steps(T, N, reverse)
    # A fresh array, not the workspace's: kept in the pool between training steps it
    # would count toward the next forward's peak (the float32 adding size measured 1.54x
    # the BPTT minimum with it, 1.38x without; docs/performance.md); one allocation a call.
    dz_buf = np.empty((max(len(c) for c in chunks), N, H), dt)
    whole = ((slice(0, H), slice(0, H)),)  # (cell rows, dZ rows)
    no_d = np.empty((0, 0, 0), dt)
    relu = cell.nonlinearity == "relu"
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = span(steps)
        K = len(steps)
        dZ = dz_buf[:K]
        _rnn_backward_steps(ys, sl.start, sl.stop, reverse,
                            no_d if dys is None else dys, dys is not None,
                            no_d if hidden_grads is None else hidden_grads,
                            hidden_grads is not None, mask, use_mask, relu, w_hh, dh, dZ)
        chunk_param_grads(cell, grads, dZ.transpose(2, 0, 1), whole, whole, whole,
                          cell.weight_ih.data, x_tm, ys, h0, steps, first, reverse, rec_mask,
                          dx)
    return (dh,)
