"""numba for the compiled kernels: the import (optional: the ``fast`` extra), the decorator
options, and the element-wise functions the compiled loops share.

Without numba (or with ``MINIRNN_NO_COMPILED=1``) :data:`njit` is a stand-in that leaves the
functions plain Python and ``_REASON`` says why; nothing here is then called
(:mod:`minirnn.nn.kernels.compiled` reports the reason instead).

Every compiled function uses ``_JIT``: ``cache=True`` (compiled code kept on disk: see
:mod:`minirnn.nn.kernels.compiled`), ``fastmath=False`` (the results must agree with the
numpy kernels), ``nogil=True`` (the batch split runs slices on threads) and
``error_model="numpy"`` (Python's error model checks every division for zero, which stops
the vectorizer).

The exponential: a compiled ``math.exp`` / ``math.tanh`` is a scalar libm call (5-30 ns an
element on the machine of docs/performance.md, against 0.3-1 ns for numpy's SIMD loops), so
the loops use polynomials the compiler vectorizes, the argument clamped to [-80, 80] (where
the sigmoid and tanh are already at their limits to below 1e-34): :func:`_exp`,
``exp(x) = 2^k p(r)`` with a Cody-Waite reduction and a degree-13 Taylor polynomial in
float64 (relative error about 2e-16), and :func:`_exp32`, ``2^k p(r)`` in float32
arithmetic (relative error about 2e-7; twice the vector lanes). :func:`_sigmoid`,
:func:`_tanh_t`, :func:`_relu` and the LSTM's :func:`_sigmoid_scaled` /
:func:`_tanh_scaled` pick the one of the argument's precision when compiled (numba
overloads), so one loop serves float32 and float64 arrays.

A compiled function's disk cache is checked against its own file only: after editing this
module, delete the cached ``compiled_*`` entries (``__pycache__/*.nbi``, ``*.nbc``) of
the modules that use it.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np

from minirnn.nn.kernels.numba_status import DISABLE_ENV as _DISABLE_ENV
from minirnn.nn.kernels.numba_status import switched_off

__all__ = ["njit"]

_REASON: str | None = None
numba: Any = None
njit: Any
try:
    if switched_off():
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


_JIT: dict[str, Any] = {"cache": True, "fastmath": False, "nogil": True, "error_model": "numpy"}

# float64: exp(x) = 2^k p(r), x = k ln2 + r (Cody-Waite: ln2 in two parts, fdlibm's; the
# high part has 32 bits, so k ln2_hi is exact for |k| < 2^20), |r| <= ln2/2, p the degree-13
# Taylor polynomial (truncation below 1e-17 relative), 2^k written into the exponent bits.
_INV_LN2 = 1.4426950408889634
_LN2_HI_64 = 6.93147180369123816490e-01
_LN2_LO_64 = 1.90821492927058770002e-10
_D = [1.0 / math.factorial(k) for k in range(14)]
_D13, _D12, _D11, _D10, _D9, _D8, _D7, _D6, _D5, _D4, _D3 = (_D[13], _D[12], _D[11], _D[10],
                                                             _D[9], _D[8], _D[7], _D[6],
                                                             _D[5], _D[4], _D[3])


@njit(inline="always", **_JIT)
def _exp(x: float) -> float:
    """exp(x) for x clamped to [-80, 80] (NaN stays NaN), in a form the compiler
    vectorizes (no libm call): relative error about 2e-16 (a few units in the last place,
    as numpy's: smooth enough for central-difference gradient checks)."""
    # (a new name, not the argument reassigned: numba's inliner loses a reassigned argument)
    if x > 80.0:
        xc = 80.0
    elif x < -80.0:
        xc = -80.0
    else:
        xc = x
    kf = np.floor(xc * _INV_LN2 + 0.5)
    r = (xc - kf * _LN2_HI_64) - kf * _LN2_LO_64
    p = _D13
    p = p * r + _D12
    p = p * r + _D11
    p = p * r + _D10
    p = p * r + _D9
    p = p * r + _D8
    p = p * r + _D7
    p = p * r + _D6
    p = p * r + _D5
    p = p * r + _D4
    p = p * r + _D3
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * np.int64((np.int64(kf) + 1023) << 52).view(np.float64)


@njit(inline="always", **_JIT)
def _tanh(x: float) -> float:
    """tanh(x) = 2 / (1 + exp(-2x)) - 1 through :func:`_exp`."""
    return 2.0 / (1.0 + _exp(-2.0 * x)) - 1.0


@njit(inline="always", **_JIT)
def _take_output_grad(dh: np.ndarray, dy: np.ndarray, k: int, use_dy: bool,
                      hidden_grads: np.ndarray, t: int,
                      use_hg: bool) -> None:  # pragma: no cover (compiled)
    """The first work of a backward step: add the output gradient dy[k] (H, N) to the
    carried dh (H, N) and, when asked, record dh as step t's hidden gradient (N, H)."""
    if use_dy:
        for j in range(dh.shape[0]):
            for n in range(dh.shape[1]):
                dh[j, n] += dy[k, j, n]
    if use_hg:
        for n in range(dh.shape[1]):
            for j in range(dh.shape[0]):
                hidden_grads[t, n, j] = dh[j, n]


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


def _sigmoid_scaled(a: Any) -> Any:
    """sigmoid(-a) = 1 / (1 + exp(a)), in the precision of a: the sigmoid of a gate whose
    pre-activation was scaled by -1 in the weights (the LSTM kernel's exp form)."""
    return 1.0 / (1.0 + np.exp(a))


def _tanh_scaled(a: Any) -> Any:
    """tanh(-a/2) = 2 / (1 + exp(a)) - 1, in the precision of a: the tanh of a gate whose
    pre-activation was scaled by -2 in the weights (the LSTM kernel's ``g``)."""
    return 2.0 / (1.0 + np.exp(a)) - 1.0


def _one_like(x: Any) -> Any:
    """1 in the precision of x (a float64 literal would turn float32 arithmetic into
    float64)."""
    return 1.0


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

    @_overload(_sigmoid_scaled)
    def _sigmoid_scaled_impl(a: Any) -> Any:  # pragma: no cover (compiled)
        if a == _FLOAT32:
            def sig32(a: Any) -> Any:
                return _ONE / (_ONE + _exp32(a))
            return sig32

        def sig64(a: Any) -> Any:
            return 1.0 / (1.0 + _exp(a))
        return sig64

    @_overload(_tanh_scaled)
    def _tanh_scaled_impl(a: Any) -> Any:  # pragma: no cover (compiled)
        if a == _FLOAT32:
            def tanh32(a: Any) -> Any:
                return _TWO / (_ONE + _exp32(a)) - _ONE
            return tanh32

        def tanh64(a: Any) -> Any:
            return 2.0 / (1.0 + _exp(a)) - 1.0
        return tanh64

    @_overload(_one_like)
    def _one_like_impl(x: Any) -> Any:  # pragma: no cover (compiled)
        if x == _FLOAT32:
            def one32(x: Any) -> Any:
                return _ONE
            return one32

        def one64(x: Any) -> Any:
            return 1.0
        return one64

    @_overload(_relu)
    def _relu_impl(x: Any) -> Any:  # pragma: no cover (compiled)
        if x == _FLOAT32:
            def relu32(x: Any) -> Any:
                return x if not x < _ZERO else _ZERO
            return relu32

        def relu64(x: Any) -> Any:
            return x if not x < 0.0 else 0.0
        return relu64
