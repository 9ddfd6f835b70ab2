"""The fused GRU kernel (``reset_after=True``, PyTorch's form) over a whole sequence.

It computes exactly what :class:`minirnn.nn.cells.gru.GRUCell` computes through the
generic loop (``tests/test_bptt.py`` compares the two), gate-major like the LSTM kernel
(:mod:`minirnn.nn.kernels.lstm`): state (H, N), gates (3H, N) in the cell's order
[r, z, n].
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import constants, exp_faster, tanh_function
from minirnn.nn.cells.base import State
from minirnn.nn.kernels.chunks import (
    Grads,
    add_output_grad,
    chunk_output_grads,
    chunk_param_grads,
    initial_grads,
    project_gate_major,
    span,
)
from minirnn.nn.kernels.chunks import chunks as chunk_steps
from minirnn.nn.kernels.pool import Workspace

__all__ = ["backward", "forward"]


def forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
            rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
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
    if N == 0:  # an empty batch (as PyTorch runs it): nothing to compute, no step loop
        return (np.empty((T, 0, H), dt) if out is None else out,
                tuple(s.copy() for s in state0), (() if keep else None))
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
    chunks = chunk_steps(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    A = ws.take("A", (T if keep else K_max, 3 * H, N), dt)
    HN = ws.take("HN", (T, H, N), dt) if keep else None
    ys = np.empty((T, N, H), dt) if out is None else out
    rows = H + has_bias
    # The h of a chunk's steps, Hs[0] the chunk's h_{t-1}: step k reads Hs[k] and writes
    # Hs[k + 1]; the chunk's outputs leave in one transposed copy. Row H (with biases)
    # stays 1.
    Hs = ws.take("Hs", (K_max + 1, rows, N), dt)
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
            sl = span(steps)
            K = len(steps)
            a_chunk = A[sl] if keep else A[:K]
            project_gate_major(w_ih, x_tm[sl], a_chunk)
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


def backward(cell: Any, dys: np.ndarray | None, dfinal: State | None, x_tm: np.ndarray,
             state0: State, reverse: bool, rec_mask: np.ndarray | None, ys: np.ndarray,
                  saved: Any, hidden_grads: np.ndarray | None, dx: np.ndarray,
                  ws: Workspace, grads: Grads | None = None) -> State:
    """BPTT of :func:`forward`, a chunk of steps at a time (latest chunk first).

    With the chunk's step-independent factors computed at once,
    ``F_n = (1 - z)(1 - n^2)``, ``F_z = (h_{t-1} - n) z (1 - z)``, ``F_r = hn r (1 - r)``:

    da_n = dh F_n, da_z = dh F_z, da_r = da_n F_r, dhn = da_n r,
    dh_{t-1} = W_hh^T [da_r; da_z; dhn] (masked) + dh z

    A step writes E_t = [da_n; da_r; da_z; dhn] (4H, N): the recurrent product's gradient
    [da_r, da_z, dhn] is one row range, the input projection's [da_r, da_z, da_n] two. The
    chunk's E is copied gate-major (4H, K, N) once (whole rows) for its parameter products
    (:func:`_chunk_param_grads`). Writes dx; returns dL/d(state0).
    """
    if x_tm.shape[1] == 0:  # an empty batch: no gradient to add, dx (T, 0, D) is empty
        return tuple(np.zeros((0, k), x_tm.dtype) for k in cell.state_sizes)
    A, HN = saved
    T, N, _ = x_tm.shape
    H = cell.hidden_size
    dt = x_tm.dtype
    (dh0,) = initial_grads(dfinal, cell.state_sizes, N, dt)
    dh = np.ascontiguousarray(dh0.T)
    mask = None if rec_mask is None else np.ascontiguousarray(rec_mask.T)
    w_hh_t = np.ascontiguousarray(cell.weight_hh.data.T)  # (H, 3H)
    h0 = state0[0] if rec_mask is None else state0[0] * rec_mask
    h0_t = state0[0].T
    chunks = chunk_steps(T, N, reverse)
    K_max = max(len(c) for c in chunks)
    # F's memory holds the factors during a chunk's steps, then its gate-major copy dG.
    F_mem = ws.take("dA", (K_max * 4 * H * N,), dt)
    F = F_mem[: K_max * 3 * H * N].reshape(K_max, 3 * H, N)
    E_buf = ws.take("E", (K_max, 4 * H, N), dt)
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
        sl = span(steps)
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
        dy_chunk = chunk_output_grads(ws, dys, sl, K_max)
        for t in reversed(steps):
            k = t - sl.start
            add_output_grad(dh, dy_chunk, k, hidden_grads, t)
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
        chunk_param_grads(cell, grads, dG, hh_rows, ih_rows, bhh_rows, w_ih_e, x_tm, ys, h0,
                          steps, first, reverse, rec_mask, dx)
    return (np.ascontiguousarray(dh.T),)
