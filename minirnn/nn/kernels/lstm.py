"""The fused LSTM kernel: PyTorch's LSTM (no peepholes, no projection) over a whole sequence.

It computes exactly what :class:`minirnn.nn.cells.lstm.LSTMCell` computes through the
generic loop (``tests/test_bptt.py`` compares the two), with fewer numpy calls per step.

The kernel works gate-major: the state is (H, N) and the gates (4H, N), the batch along
the columns, because OpenBLAS runs ``W_hh (4H, H) @ h (H, N)`` faster than
``h (N, H) @ W_hh^T`` (its threads split the long 4H axis) and every gate block is then a
contiguous row range. Inside the kernel the blocks are ordered [o, i, f, g] (the cell's
are [i, f, g, o]): the sigmoid blocks o, i, f are one range for the forward nonlinearity,
and i, f, g (the blocks scaled by dc in backward) another. docs/performance.md tells
what each choice gained.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import constants, exp_faster, tanh_function
from minirnn.nn._math import tanh as _tanh
from minirnn.nn.cells.base import State
from minirnn.nn.kernels.chunks import (
    Grads,
    chunk_output_grads,
    chunk_param_grads,
    initial_grads,
    span,
)
from minirnn.nn.kernels.chunks import chunks as chunk_steps
from minirnn.nn.kernels.pool import Workspace

__all__ = ["backward", "forward"]


def _blocks(H: int) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """(cell rows, kernel rows) of the two row blocks the kernel order permutes: o, and
    i, f, g."""
    return (slice(3 * H, 4 * H), slice(0, H)), (slice(0, 3 * H), slice(H, 4 * H))


def _factors(exp_form: bool) -> tuple[float, float]:
    """Row factors (sigmoid rows, tanh rows) folded into the weights for the forward's
    gate nonlinearity: exact powers of two, so the products are exactly scaled."""
    return (-1.0, -2.0) if exp_form else (0.5, 1.0)


def _weights(cell: Any, dt: np.dtype, H: int, exp_form: bool) -> np.ndarray:
    """``[W_hh | W_ih | b]`` (4H, H + D (+1 with biases)) in kernel order, scaled by
    :func:`_factors`: a step's pre-activations are one product of it with the stacked
    ``[h_{t-1}; x_t; 1]`` (the input projection inside the recurrent product: no separate
    projection of a chunk, no addition of the two per step). Written block by block (the
    kernel's three row blocks are cell row blocks) without temporaries."""
    D = cell.input_size
    bias = cell.bias_ih is not None and cell.bias_hh is not None
    W = np.empty((4 * H, H + D + bias), dt)
    sig, tnh = _factors(exp_form)
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


def forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                  rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
                  out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """LSTM over a sequence, gate-major; nine numpy calls per step (tanh form).

    A step is one product ``[W_hh | W_ih | b] @ [h_{t-1}; x_t; 1]`` (:func:`_weights`)
    into its gates. The stacked inputs of a chunk live in S (K + 1, H + D (+1), N): the x
    rows of all its steps are written at once (one transposed copy per chunk), and step k
    writes its h straight into the h rows of S[k + 1] (masked by recurrent dropout).

    Saved for backward: the gate activations A (T, 4H, N) and the cells C (T, H, N).
    Without ``keep`` (inference) A holds one step and C two.
    """
    T, N, D = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    if N == 0:  # an empty batch (as PyTorch runs it): nothing to compute, no step loop
        return (np.empty((T, 0, H), dt) if out is None else out,
                tuple(s.copy() for s in state0), (() if keep else None))
    exp_form = exp_faster(dt)
    W = _weights(cell, dt, H, exp_form)
    chunks = chunk_steps(T, N, reverse)
    A = ws.take("A", (T if keep else 1, 4 * H, N), dt)
    C = ws.take("C", (T if keep else 2, H, N), dt)
    S = ws.take("S", (max(len(c) for c in chunks) + 1, W.shape[1], N), dt)
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
            sl = span(steps)
            K = len(steps)
            xs = x_tm[sl] if not reverse else x_tm[sl][::-1]  # in visiting order
            np.copyto(S[:K, H : H + D], xs.transpose(0, 2, 1))
            for k, t in enumerate(steps):
                a, o, i, f, g, sig = reused if reused is not None else views(A[t])
                matmul(W, stacked[k], a)
                # The gate nonlinearity in one pass over the block, its rows pre-scaled
                # by _factors: sigmoid on o, i, f and tanh on g, in this CPU's
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
    final = (ys[chunks[-1][-1]].copy(), c.T.copy())  # (c is a view of C: copied)
    return ys, final, ((A, C) if keep else None)


def backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
                   state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                   saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                   ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`forward`, a chunk of steps at a time (latest chunk first).

    For a chunk, every factor that does not depend on the recursion is computed for all
    its steps at once, so a step is eight numpy calls (kernel order [o, i, f, g]):

    dA_t = [dh_t tanh(c_t) sig'_o,  dc_t * (g, c_{t-1}, i) * (sig'_i, sig'_f, tanh'_g)]
    dc_t = dc_{t+1} f_{t+1} + dh_t o (1 - tanh(c_t)^2),  dh_{t-1} = W_hh^T dA_t

    The chunk's dA (K, 4H, N) is then copied gate-major (4H, K, N), and its parameter
    gradients and dx are products over its K x N columns (:func:`_chunk_param_grads`), so
    the gate gradients of only one chunk exist at a time (peak memory). Writes dx
    (T, N, D) into ``dx``; returns dL/d(state0).
    """
    if x_tm.shape[1] == 0:  # an empty batch: no gradient to add, dx (T, 0, D) is empty
        return tuple(np.zeros((0, k), x_tm.dtype) for k in cell.state_sizes)
    A, C = saved
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    dh, dc = (np.ascontiguousarray(d.T) for d in initial_grads(dfinal, cell.state_sizes, N,
                                                                 dt))
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    blocks = _blocks(H)
    w_hh_t = np.ascontiguousarray(
        np.concatenate([cell.weight_hh.data[cb] for cb, _ in blocks]).T)  # (H, 4H)
    w_ih_k = np.concatenate([cell.weight_ih.data[cb] for cb, _ in blocks])
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    c0 = np.ascontiguousarray(state0[1].T)
    b1 = np.empty((H, N), dt)
    chunks = chunk_steps(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    dA_buf = ws.take("dA", (K_max, 4 * H, N), dt)
    # The chunk's gradients gate-major (4H, K, N), read by its parameter products as one
    # (4H, K N) matrix: one copy of whole (N,) rows per chunk, not a transpose per step.
    dG_buf = ws.take("dG", (4 * H, K_max, N), dt)
    Q_buf = ws.take("Q", (K_max, H, N), dt)
    first = chunks[0][0]  # the step whose previous state is state0
    mul, add, matmul = np.multiply, np.add, np.matmul
    for steps in reversed(chunks):
        sl = span(steps)
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
        dy_chunk = chunk_output_grads(ws, dys, sl, K_max)
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
        chunk_param_grads(cell, grads, dG, blocks, blocks, blocks, w_ih_k, x_tm, ys, h0,
                          steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T))
