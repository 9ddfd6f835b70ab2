"""The fused Elman RNN kernel (tanh or ReLU) over a whole sequence.

It computes exactly what :class:`minirnn.nn.cells.rnn.RNNCell` computes through the
generic loop (``tests/test_bptt.py`` compares the two). It works in the layer's (N, H)
layout and keeps nothing but the outputs for backward.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import tanh_function
from minirnn.nn.cells.base import State
from minirnn.nn.kernels.chunks import (
    Grads,
    chunk_param_grads,
    initial_grads,
    span,
)
from minirnn.nn.kernels.chunks import chunks as chunk_steps
from minirnn.nn.kernels.pool import Workspace

__all__ = ["backward", "forward"]


def forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
            rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
            out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """Elman RNN over a sequence; three numpy calls per step, each writing the output.

    The kernel exists for memory: the derivative of the nonlinearity and the previous
    output of every step are read back from the outputs, so nothing but the outputs is
    kept for backward (the generic loop keeps each step's h a second time, and its
    backward the gradients of all steps).
    The input projection is computed a chunk of steps at a time.
    """
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    if N == 0:  # an empty batch (as PyTorch runs it): nothing to compute, no step loop
        return (np.empty((T, 0, H), dt) if out is None else out,
                tuple(s.copy() for s in state0), (() if keep else None))
    w_hh_t = np.ascontiguousarray(cell.weight_hh.data.T)  # (H, H)
    chunks = chunk_steps(T, N, reverse)
    xp_buf = ws.take("XP", (max(len(c) for c in chunks), N, H), dt)
    ys = np.empty((T, N, H), dt) if out is None else out
    hm = np.empty((N, H), dt)
    h = state0[0]
    relu = cell.nonlinearity == "relu"
    tanh_y = tanh_function(dt, N * H)
    bias = (cell.bias_ih.data + cell.bias_hh.data
            if cell.bias_ih is not None and cell.bias_hh is not None else None)
    with np.errstate(over="ignore"):
        for steps in chunks:
            sl = span(steps)
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


def backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
             state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                  saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                  ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`forward`, a chunk of steps at a time (latest chunk first):
    dz_t = dh_t act'(h_t), dh_{t-1} = dz_t W_hh; the chunk's parameter gradients and dx
    are products over its K x N rows. Writes dx into ``dx``; returns dL/d(state0)."""
    if x_tm.shape[1] == 0:  # an empty batch: no gradient to add, dx (T, 0, D) is empty
        return tuple(np.zeros((0, k), x_tm.dtype) for k in cell.state_sizes)
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh,) = initial_grads(dfinal, cell.state_sizes, N, dt)
    w_hh = cell.weight_hh.data
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    chunks = chunk_steps(T, N, reverse)
    dz_buf = ws.take("DZ", (max(len(c) for c in chunks), N, H), dt)
    whole = ((slice(0, H), slice(0, H)),)  # (cell rows, dZ rows)
    first = chunks[0][0]
    for steps in reversed(chunks):
        sl = span(steps)
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
        chunk_param_grads(cell, grads, dZ.transpose(2, 0, 1), whole, whole, whole,
                          cell.weight_ih.data, x_tm, ys, h0, steps, first, reverse, rec_mask,
                          dx)
    return (dh,)
