"""Helpers shared by the fused kernels: chunks of steps and the per-chunk parameter
gradients.

The kernels work a chunk of consecutive steps at a time (input projection, parameter
gradients), so that only one chunk of gate gradients exists at once and every product
still has enough rows to keep the BLAS efficient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import State
from minirnn.nn.kernels.pool import Workspace

__all__ = ["CHUNK_ROWS", "Grads", "Rows", "add_output_grad", "cell_grads", "chunk_output_grads",
           "chunk_param_grads", "chunks", "initial_grads", "input_grad", "order",
           "project_gate_major", "span"]

#: A kernel's gradient accumulators: (weight_ih, weight_hh, bias_ih, bias_hh).
Grads = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]
#: Pairs (cell rows, kernel rows) of the row blocks of a weight and of its gradient.
Rows = tuple[tuple[slice, slice], ...]

#: Rows (steps x batch) per chunk of the fused kernels: the input projection and the
#: parameter gradients are computed a chunk of steps at a time (products of at least this
#: many rows keep the BLAS efficient; the chunk buffers stay a fraction of the cache).
CHUNK_ROWS = 256


def order(T: int, reverse: bool) -> range:
    """Time indices in the order the forward pass visits them."""
    return range(T - 1, -1, -1) if reverse else range(T)


def chunks(T: int, N: int, reverse: bool) -> list[range]:
    """The time indices in forward-visit order, cut into chunks of consecutive steps.

    A chunk holds at least :data:`CHUNK_ROWS` rows (steps x N) and there are at most
    about 8 (so the per-chunk buffers stay near 1/8 of what the sequence keeps).
    """
    k = max(-(-T // 8), -(-CHUNK_ROWS // max(N, 1)), 1)
    visit = list(order(T, reverse))
    step = -1 if reverse else 1
    return [range(visit[j], visit[min(j + k, T) - 1] + step, step) for j in range(0, T, k)]


def span(r: range) -> slice:
    """The slice of the steps of a chunk, in increasing time."""
    return slice(min(r[0], r[-1]), max(r[0], r[-1]) + 1)


def initial_grads(dfinal: State | None, sizes: tuple[int, ...], N: int,
                  dtype: np.dtype) -> list[np.ndarray]:
    """Writable copies of dL/d(final state) (zeros where not given)."""
    if dfinal is None:
        return [np.zeros((N, k), dtype) for k in sizes]
    return [d.copy() for d in dfinal]


def cell_grads(cell: Any) -> Grads:
    """The gradient arrays of the cell's fused weights and biases."""
    return (cell.weight_ih.grad, cell.weight_hh.grad,
            None if cell.bias_ih is None else cell.bias_ih.grad,
            None if cell.bias_hh is None else cell.bias_hh.grad)


def input_grad(dZ: np.ndarray, w_ih: np.ndarray, out: np.ndarray) -> None:
    """dx of a chunk, dZ (K, N, G H) @ W_ih (G H, D), into out (K, N, D) (any strides;
    dZ's K and N axes mergeable, as for a gate-major array seen transposed)."""
    K, N, GH = dZ.shape
    if out.flags.c_contiguous:
        np.matmul(dZ.reshape(K * N, GH), w_ih, out=out.reshape(K * N, -1))
    else:  # one product per step, each into its (N, D) rows of a strided dx
        np.matmul(dZ, w_ih, out=out)


def chunk_param_grads(cell: Any, grads: Grads | None, dG: np.ndarray, hh_rows: Rows,
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
    g_ih, g_hh, g_bih, g_bhh = cell_grads(cell) if grads is None else grads
    sl = span(steps)
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
    batch_major = dG.transpose(1, 2, 0)
    if batch_major.flags.c_contiguous:
        # The RNN's (K, N, H) array seen transposed: the products take its transposed
        # views (BLAS transposes), where a (R, K N) reshape would copy the chunk twice
        # (two chunk-sized temporaries: the RNN's training peak, docs/performance.md).
        d_rows = batch_major[rows].reshape(-1, R).T
        d_all = batch_major.reshape(K * N, R).T
    else:
        d_rows = dG[:, rows].reshape(R, -1)
        d_all = dG.reshape(R, K * N)
    xs = x_tm[sl].reshape(K * N, x_tm.shape[2])
    for cb, gb in hh_rows:
        g_hh[cb] += d_rows[gb] @ hprev
    for cb, gb in ih_rows:
        g_ih[cb] += d_all[gb] @ xs
    if g_bih is not None or g_bhh is not None:
        # A product with ones: several times faster than d_all.sum(axis=1).
        sums = d_all @ np.ones(K * N, dG.dtype)
        for g_b, pairs in ((g_bih, ih_rows), (g_bhh, bhh_rows)):
            if g_b is not None:
                for cb, gb in pairs:
                    g_b[cb] += sums[gb]
    input_grad(dG[: w_ih.shape[0]].transpose(1, 2, 0), w_ih, dx[sl])


def project_gate_major(w_ih: np.ndarray, xs: np.ndarray, out: np.ndarray) -> None:
    """Pre-activations ``[W_ih | b] [x_t; 1]`` of a chunk of steps xs (K, N, D) into out
    (K, G*H, N): one batched product that writes the gate-major layout directly (cheaper
    than one (K N, D) product followed by a transposed copy)."""
    K, N, D = xs.shape
    xt = np.empty((K, w_ih.shape[1], N), xs.dtype)
    xt[:, :D] = xs.transpose(0, 2, 1)
    xt[:, D:] = 1.0  # the bias row, if any
    np.matmul(w_ih, xt, out=out)


def chunk_output_grads(ws: Workspace, dys: np.ndarray | None, sl: slice,
                       K_max: int) -> np.ndarray | None:
    """Gate-major kernels' backward: dL/dy (T, N, H) of a chunk's steps transposed to
    (K, H, N), one copy per chunk (a transposed add at every step costs more)."""
    if dys is None:
        return None
    _, N, H = dys.shape
    buf = ws.take("dyT", (K_max, H, N), dys.dtype)[: sl.stop - sl.start]
    np.copyto(buf, dys[sl].transpose(0, 2, 1))
    return buf


def add_output_grad(dh: np.ndarray, dy_chunk: np.ndarray | None, k: int,
                    hidden_grads: np.ndarray | None, t: int) -> None:
    """Gate-major kernels' backward, step t (k-th of its chunk): dh (H, N) += dL/dy_t;
    record dL/dh_t."""
    if dy_chunk is not None:
        dh += dy_chunk[k]
    if hidden_grads is not None:
        hidden_grads[t] = dh.T
