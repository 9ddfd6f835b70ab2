"""Compiled step loops (numba) for the fused kernels: the ``"compiled"`` kernel mode.

Optional: needs the ``fast`` extra (``pip install "minirnn[fast]"``, numba). Without numba
nothing here is compiled and :func:`compiled_available` says why; the numpy kernels
(:mod:`~minirnn.nn.kernels.lstm`, ...) stay the reference the compiled ones are tested
against (``tests/test_compiled_kernels.py``: 1e-12 in float64, 1e-5 in float32).

What runs compiled (``@njit(cache=True, fastmath=False, nogil=True)``):

- LSTM forward (inference and training): the whole time loop is one compiled call. A step
  is one BLAS product ``[W_hh | W_ih | b] @ [h_{t-1}; x_t; 1]`` (``np.dot`` inside the
  compiled loop calls the BLAS directly, without a Python round trip) and one pass over
  the gate block that computes the four gate nonlinearities, the cell, its tanh and the
  output (and the masked h of the next step) element by element;
- LSTM backward: the recursion of each chunk of steps is one compiled call (one pass per
  step over the gate block, then ``dh = W_hh^T dA`` in BLAS); the parameter gradients and
  dx stay the numpy kernel's per-chunk BLAS products (:func:`chunks.chunk_param_grads`).

The forward keeps exactly what the numpy kernel keeps (gate activations and cells, in the
same layout), so the two backward passes are interchangeable.

The exponential: a compiled ``math.exp`` / ``math.tanh`` is a scalar libm call (5-30 ns an
element on the machine of docs/performance.md, against 0.3-1 ns for numpy's SIMD loops), so
the loops use polynomials the compiler vectorizes, the argument clamped to [-80, 80] (where
the sigmoid and tanh are already at their limits to below 1e-34): :func:`_exp`,
``exp(x) = exp(x/256)^256`` with a degree-12 Taylor polynomial on ``|x/256| <= 0.3125`` in
float64 (relative error about 5e-14; float64 kernels and the float32 backward), and
:func:`_exp32`, ``2^k p(r)`` in float32 arithmetic (relative error about 2e-7; the float32
forward, twice the vector lanes).

``kernel="auto"`` does not choose these kernels yet (docs/performance.md, *Compiled
kernels*: faster than or equal to the numpy kernel on the project machine, measured on one
machine only).

Cache: the compiled code is cached on disk (numba's ``cache=True``) next to this file, in
``__pycache__``; where that folder is not writable, set ``NUMBA_CACHE_DIR`` (for example
to ``~/.cache/minirnn/numba``) before minirnn is imported. The first call of each kernel
and dtype in a fresh environment compiles (docs/performance.md gives the cost); later
processes load the cache.
"""

from __future__ import annotations

import importlib
import os
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
from minirnn.nn.kernels.pool import Workspace

__all__ = ["COMPILED_KERNELS", "compiled_available", "compiled_reason", "lstm_backward",
           "lstm_forward"]

#: ``MINIRNN_NO_COMPILED=1`` turns the compiled kernels off even with numba installed.
_DISABLE_ENV = "MINIRNN_NO_COMPILED"

_REASON: str | None = None
numba: Any = None
njit: Any
try:
    if os.environ.get(_DISABLE_ENV, "").strip() not in ("", "0"):
        raise ImportError
    numba = importlib.import_module("numba")  # untyped on purpose: mypy sees Any
    njit = numba.njit
except ImportError as error:  # numba absent (or switched off): nothing is compiled
    _REASON = (f"switched off by {_DISABLE_ENV}" if numba is None and not str(error)
               else f"numba is not importable ({error}); install the extra: "
               'pip install "minirnn[fast]"')

    def njit(*args: Any, **kwargs: Any) -> Any:
        """Stand-in for numba's decorator: the functions stay plain Python (never called
        through the kernel switch, which reports :func:`compiled_reason` instead)."""
        def wrap(f: Any) -> Any:
            return f
        return wrap


def _follow_numpy_blas_threads() -> None:
    """Give the BLAS that ``np.dot`` calls inside numba (scipy's OpenBLAS, a second library
    next to numpy's) numpy's BLAS thread count, now that it is loaded: a thread limit set
    before (minirnn's thread policy) covered only the libraries loaded then, and two batch
    slices each starting its own BLAS threads oversubscribe the CPUs. Later limits
    (``threadpool_limits(user_api="blas")``) cover both."""
    try:
        importlib.import_module("scipy.linalg.cython_blas")  # what numba's np.dot calls
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return
    controller = ThreadpoolController()
    numpy_pools = [p for p in controller.lib_controllers
                   if p.user_api == "blas" and "numpy" in p.filepath]
    if not numpy_pools:
        return
    threads = numpy_pools[0].num_threads
    for pool in controller.lib_controllers:
        if pool.user_api == "blas" and "numpy" not in pool.filepath:
            pool.set_num_threads(threads)


if _REASON is None:
    _follow_numpy_blas_threads()


def compiled_reason() -> str | None:
    """Why the compiled kernels do not run here (None: they do)."""
    return _REASON


def compiled_available() -> bool:
    """Whether ``kernel="compiled"`` can run here (numba importable and not switched off
    by ``MINIRNN_NO_COMPILED``); :func:`compiled_reason` says why not."""
    return _REASON is None


def version_line() -> str:
    """One line for ``--version``-style reports: which kernels run and why."""
    if _REASON is None:
        return f"compiled kernels: available (numba {numba.__version__}; LSTM, GRU, RNN)"
    return f"compiled kernels: off ({_REASON})"


_JIT: dict[str, Any] = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}

# exp(x) = p(x/256)^256, p the degree-12 Taylor polynomial: 1/k! for k = 12 ... 0.
_C12 = 1.0 / 479001600.0
_C11 = 1.0 / 39916800.0
_C10 = 1.0 / 3628800.0
_C9 = 1.0 / 362880.0
_C8 = 1.0 / 40320.0
_C7 = 1.0 / 5040.0
_C6 = 1.0 / 720.0
_C5 = 1.0 / 120.0
_C4 = 1.0 / 24.0
_C3 = 1.0 / 6.0


@njit(inline="always", **_JIT)
def _exp(x: float) -> float:
    """exp(x) for x clamped to [-80, 80] (NaN stays NaN), in a form the compiler
    vectorizes (no libm call): relative error about 5e-14."""
    # (a new name, not the argument reassigned: numba's inliner loses a reassigned argument)
    if x > 80.0:
        xc = 80.0
    elif x < -80.0:
        xc = -80.0
    else:
        xc = x
    y = xc * 0.00390625  # x / 256, exact
    p = _C12
    p = p * y + _C11
    p = p * y + _C10
    p = p * y + _C9
    p = p * y + _C8
    p = p * y + _C7
    p = p * y + _C6
    p = p * y + _C5
    p = p * y + _C4
    p = p * y + _C3
    p = p * y + 0.5
    p = p * y + 1.0
    p = p * y + 1.0
    for _ in range(8):
        p = p * p
    return p


@njit(inline="always", **_JIT)
def _tanh(x: float) -> float:
    """tanh(x) = 2 / (1 + exp(-2x)) - 1 through :func:`_exp`."""
    return 2.0 / (1.0 + _exp(-2.0 * x)) - 1.0


@njit(**_JIT)
def _lstm_forward_loop(W: np.ndarray, x_tm: np.ndarray, order: np.ndarray, S: np.ndarray,
                       c: np.ndarray, mask: np.ndarray, use_mask: bool, keep: bool,
                       A: np.ndarray, C: np.ndarray, h: np.ndarray,
                       ys: np.ndarray) -> None:  # pragma: no cover (compiled)
    """The LSTM forward's time loop. W (4H, H + D (+1)) in kernel order [o, i, f, g],
    scaled by the exp form's factors (-1 on the sigmoid rows, -2 on g:
    :func:`minirnn.nn.kernels.lstm._weights`); S (H + D (+1), N) the stacked
    [h_{t-1} (masked); x_t; 1] with h_0 (masked) and the ones row written; c (H, N) the
    cell, updated in place; h (H, N) a work array. A (T or 1, 4H, N) and C (T or 1, H, N)
    receive the activations and cells (step t at index t with ``keep``, else 0)."""
    H = c.shape[0]
    N = c.shape[1]
    D = x_tm.shape[2]
    for step in range(order.shape[0]):
        t = order[step]
        for n in range(N):
            for d in range(D):
                S[H + d, n] = x_tm[t, n, d]
        slot = t if keep else 0
        a = A[slot]
        np.dot(W, S, a)
        cs = C[slot]
        for j in range(H):
            for n in range(N):
                o = 1.0 / (1.0 + _exp(a[j, n]))
                i = 1.0 / (1.0 + _exp(a[H + j, n]))
                f = 1.0 / (1.0 + _exp(a[2 * H + j, n]))
                g = 2.0 / (1.0 + _exp(a[3 * H + j, n])) - 1.0
                ct = f * c[j, n] + i * g
                a[j, n] = o
                a[H + j, n] = i
                a[2 * H + j, n] = f
                a[3 * H + j, n] = g
                c[j, n] = ct
                cs[j, n] = ct
                ht = o * _tanh(ct)
                h[j, n] = ht
                S[j, n] = ht * mask[j, n] if use_mask else ht
        for n in range(N):
            for j in range(H):
                ys[t, n, j] = h[j, n]


# float32: exp(x) = 2^k p(r), x = k ln2 + r (Cody-Waite: ln2 in two parts), p the
# degree-6 Taylor polynomial on |r| <= ln2/2, 2^k written into a float32's exponent bits;
# relative error about 2e-7 (float32 rounding), all in float32.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_F6 = np.float32(1.0 / 720.0)
_F5 = np.float32(1.0 / 120.0)
_F4 = np.float32(1.0 / 24.0)
_F3 = np.float32(1.0 / 6.0)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_TWO = np.float32(2.0)
_MINUS_TWO = np.float32(-2.0)
_CLAMP = np.float32(80.0)
_ZERO = np.float32(0.0)


@njit(inline="always", **_JIT)
def _exp32(x: Any) -> Any:
    """float32 exp(x) for x clamped to [-80, 80] (NaN stays NaN), vectorizable."""
    if x > _CLAMP:
        xc = _CLAMP
    elif x < -_CLAMP:
        xc = -_CLAMP
    else:
        xc = x
    kf = np.floor(xc * _LOG2E + _HALF)
    r = xc - kf * _LN2_HI - kf * _LN2_LO
    p = _F6
    p = p * r + _F5
    p = p * r + _F4
    p = p * r + _F3
    p = p * r + _HALF
    p = p * r + _ONE
    p = p * r + _ONE
    return p * np.int32((np.int32(kf) + 127) << 23).view(np.float32)


def _sigmoid(x: Any) -> Any:
    """sigmoid(x) in the precision of x (a float32 stays float32: twice the vector lanes),
    through :func:`_exp32` / :func:`_exp`. Compiled code only (a numba overload)."""
    return 1.0 / (1.0 + np.exp(-x))


def _tanh_t(x: Any) -> Any:
    """tanh(x) in the precision of x, as :func:`_sigmoid`."""
    return np.tanh(x)


def _relu(x: Any) -> Any:
    """max(x, 0) in the precision of x (NaN stays NaN, as ``np.maximum``)."""
    return x if not x < 0 else x * 0


if _REASON is None:  # the dtype dispatch of the three, at compile time
    _overload = importlib.import_module("numba.extending").overload
    _FLOAT32 = numba.types.float32

    @_overload(_sigmoid)
    def _sigmoid_impl(x: Any) -> Any:  # pragma: no cover (compiled)
        if x == _FLOAT32:
            def sig32(x: Any) -> Any:
                return _ONE / (_ONE + _exp32(-x))
            return sig32

        def sig64(x: Any) -> Any:
            return 1.0 / (1.0 + _exp(-x))
        return sig64

    @_overload(_tanh_t)
    def _tanh_impl(x: Any) -> Any:  # pragma: no cover (compiled)
        if x == _FLOAT32:
            def tanh32(x: Any) -> Any:
                return _TWO / (_ONE + _exp32(_MINUS_TWO * x)) - _ONE
            return tanh32

        def tanh64(x: Any) -> Any:
            return _tanh(x)
        return tanh64

    @_overload(_relu)
    def _relu_impl(x: Any) -> Any:  # pragma: no cover (compiled)
        if x == _FLOAT32:
            def relu32(x: Any) -> Any:
                return x if not x < _ZERO else _ZERO
            return relu32

        def relu64(x: Any) -> Any:
            return x if not x < 0.0 else 0.0
        return relu64


@njit(**_JIT)
def _lstm_forward_loop32(W: np.ndarray, x_tm: np.ndarray, order: np.ndarray, S: np.ndarray,
                       c: np.ndarray, mask: np.ndarray, use_mask: bool, keep: bool,
                       A: np.ndarray, C: np.ndarray, h: np.ndarray,
                       ys: np.ndarray) -> None:  # pragma: no cover (compiled)
    """:func:`_lstm_forward_loop` for float32 arrays, in float32 arithmetic (twice the
    vector lanes) with :func:`_exp32`; the same arguments."""
    H = c.shape[0]
    N = c.shape[1]
    D = x_tm.shape[2]
    for step in range(order.shape[0]):
        t = order[step]
        for n in range(N):
            for d in range(D):
                S[H + d, n] = x_tm[t, n, d]
        slot = t if keep else 0
        a = A[slot]
        np.dot(W, S, a)
        cs = C[slot]
        for j in range(H):
            for n in range(N):
                o = _ONE / (_ONE + _exp32(a[j, n]))
                i = _ONE / (_ONE + _exp32(a[H + j, n]))
                f = _ONE / (_ONE + _exp32(a[2 * H + j, n]))
                g = _TWO / (_ONE + _exp32(a[3 * H + j, n])) - _ONE
                ct = f * c[j, n] + i * g
                a[j, n] = o
                a[H + j, n] = i
                a[2 * H + j, n] = f
                a[3 * H + j, n] = g
                c[j, n] = ct
                cs[j, n] = ct
                ht = o * (_TWO / (_ONE + _exp32(_MINUS_TWO * ct)) - _ONE)
                h[j, n] = ht
                S[j, n] = ht * mask[j, n] if use_mask else ht
        for n in range(N):
            for j in range(H):
                ys[t, n, j] = h[j, n]


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
        if use_dy:
            for j in range(H):
                for n in range(N):
                    dh[j, n] += dy[k, j, n]
        if use_hg:
            for n in range(N):
                for j in range(H):
                    hidden_grads[t, n, j] = dh[j, n]
        a = A[t]
        ct_all = C[t]
        prev = t + 1 if reverse else t - 1  # the step before t in the forward's order
        cp = c0 if prev < 0 or prev >= T else C[prev]
        d = dA[k]
        for j in range(H):
            for n in range(N):
                o = a[j, n]
                i = a[H + j, n]
                f = a[2 * H + j, n]
                g = a[3 * H + j, n]
                tc = _tanh(ct_all[j, n])
                dhv = dh[j, n]
                dcv = dc[j, n] + dhv * o * (1.0 - tc * tc)
                d[j, n] = dhv * tc * o * (1.0 - o)
                d[H + j, n] = dcv * g * i * (1.0 - i)
                d[2 * H + j, n] = dcv * cp[j, n] * f * (1.0 - f)
                d[3 * H + j, n] = dcv * i * (1.0 - g * g)
                dc[j, n] = dcv * f
        np.dot(w_hh_t, d, dh)
        if use_mask:
            for j in range(H):
                for n in range(N):
                    dh[j, n] *= mask[j, n]


def lstm_forward(cell: Any, x_tm: np.ndarray, state0: State, reverse: bool,
                 rec_mask: np.ndarray | None, keep: bool, ws: Workspace,
                 out: np.ndarray | None = None) -> tuple[np.ndarray, State, Any]:
    """The LSTM forward of :func:`minirnn.nn.kernels.lstm.forward` with its time loop
    compiled (:func:`_lstm_forward_loop`); same arguments, results and saved arrays."""
    T, N, D = x_tm.shape
    if N == 0 or T == 0:  # nothing to loop over: the numpy kernel's handling
        return _lstm.forward(cell, x_tm, state0, reverse, rec_mask, keep, ws, out)
    H = cell.hidden_size
    dt = x_tm.dtype
    W = _lstm._weights(cell, dt, H, True)
    A = ws.take("A", (T if keep else 1, 4 * H, N), dt)
    C = ws.take("C", (T if keep else 1, H, N), dt)
    S = ws.take("S", (1, W.shape[1], N), dt)[0]
    S[H + D :] = 1.0  # the bias row, if any
    ys = np.empty((T, N, H), dt) if out is None else out
    use_mask = rec_mask is not None
    mask = (np.ascontiguousarray(rec_mask.T) if rec_mask is not None
            else np.empty((0, 0), dt))
    np.copyto(S[:H], state0[0].T)
    if rec_mask is not None:
        S[:H] *= mask
    c = np.ascontiguousarray(state0[1].T)
    h = np.empty((H, N), dt)
    order = np.arange(T - 1, -1, -1) if reverse else np.arange(T)
    loop = _lstm_forward_loop32 if dt == np.float32 else _lstm_forward_loop
    loop(W, x_tm, order, S, c, mask, use_mask, keep, A, C, h, ys)
    final = (ys[order[-1]].copy(), c.T.copy())
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


# The GRU and RNN kernels live in their own modules, which import the helpers above (so
# they are imported here, at the end, once those exist).
from minirnn.nn.kernels.compiled_gru import gru_backward, gru_forward  # noqa: E402
from minirnn.nn.kernels.compiled_rnn import rnn_backward, rnn_forward  # noqa: E402

#: The compiled kernels by the fused kernel's name they replace (same signatures as
#: :data:`minirnn.nn.kernels.run.KERNELS`); the dtypes they cover.
COMPILED_KERNELS: dict[str, tuple[Any, Any]] = {"lstm": (lstm_forward, lstm_backward),
                                                "gru": (gru_forward, gru_backward),
                                                "rnn": (rnn_forward, rnn_backward)}
COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
