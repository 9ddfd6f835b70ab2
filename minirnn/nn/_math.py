"""Element-wise functions used in hot loops, in the form this CPU computes fastest.

numpy's ``tanh`` and ``exp`` are vectorized differently on different CPUs and builds (which
of the two is faster depends on the CPU and the dtype: docs/performance.md, "How the fused
kernels are built"). So sigmoid and tanh come in two forms with the same results up to
rounding:

- *tanh form*: ``tanh(x)``, and ``sigmoid(x) = tanh(x/2)/2 + 1/2``;
- *exp form*: ``tanh(x) = 2 / (1 + exp(-2x)) - 1``, ``sigmoid(x) = 1 / (1 + exp(-x))``
  (more numpy calls, each cheap; exp's overflow to inf gives the exact limits).

Which form a dtype uses is measured once per process (at the first call) by
:func:`exp_faster` (sigmoid, the fused gate nonlinearities) and :func:`exp_tanh_faster`
(a standalone tanh: five passes against one, so a stricter test);
``MINIRNN_ACTIVATIONS=tanh`` or ``exp`` fixes both (the two forms differ in the last
bits, so a fixed form makes runs bit-identical across machines).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

#: The exp forms are used where ``np.tanh`` measures at least this many times slower per
#: element than ``np.exp``. The fused gate activations break even a little above 1 (the
#: exp form's extra passes are cheap); the margin keeps a machine from flipping between
#: processes.
EXP_FORM_RATIO = 1.2

#: Below this many elements a standalone float32 tanh stays ``np.tanh`` even where exp is
#: faster: the exp form's four extra numpy calls outweigh its gain (float64 gains at
#: every size).
_TANH_EXP_MIN_FLOAT32 = 8192


class Constants(NamedTuple):
    """0-d arrays of one dtype for the hot loops: a ufunc takes a 0-d array faster than a
    Python float (the float's type is resolved on every call), which counts at small
    sizes where a step is a few microseconds per numpy call."""

    half: np.ndarray
    one: np.ndarray
    two: np.ndarray
    minus_two: np.ndarray


_CONSTANTS: dict[np.dtype, Constants] = {}


def constants(dtype: np.dtype) -> Constants:
    """:class:`Constants` of ``dtype`` (read-only, made once)."""
    found = _CONSTANTS.get(dtype)
    if found is None:
        values = []
        for v in (0.5, 1.0, 2.0, -2.0):
            a = np.array(v, dtype)
            a.setflags(write=False)
            values.append(a)
        found = _CONSTANTS[np.dtype(dtype)] = Constants(*values)
    return found


def _exp_form_tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    k = constants(x.dtype)
    np.multiply(x, k.minus_two, out=out)
    np.exp(out, out=out)
    out += k.one
    np.divide(k.two, out, out=out)
    out -= k.one
    return out


def exp_faster(dtype: np.dtype | type) -> bool:
    """Whether this process uses the exp forms of the gate nonlinearities and sigmoid for
    ``dtype`` (a standalone tanh also asks :func:`exp_tanh_faster`).

    Measured once per dtype: ``np.tanh`` and ``np.exp`` over 16384 elements,
    best of 7 blocks of calls; True where tanh is :data:`EXP_FORM_RATIO` times slower.
    ``MINIRNN_ACTIVATIONS`` = ``tanh`` / ``exp`` overrides the measurement.
    """
    dt = np.dtype(dtype)
    decided = _EXP_FASTER.get(dt)
    if decided is None:
        with _EXP_FASTER_LOCK:  # the halves of a batch split may ask at once
            decided = _EXP_FASTER.get(dt)
            if decided is None:
                decided = _EXP_FASTER[dt] = _measure_exp_faster(dt)
    return decided


_EXP_FASTER: dict[np.dtype, bool] = {}
_EXP_FASTER_LOCK = threading.Lock()


def _measure_exp_faster(dtype: np.dtype) -> bool:
    forced = os.environ.get("MINIRNN_ACTIVATIONS", "").strip().lower()
    if forced in ("tanh", "exp"):
        return forced == "exp"
    if forced:
        raise ValueError(f"MINIRNN_ACTIVATIONS must be 'tanh' or 'exp' (or unset), got "
                         f"{os.environ['MINIRNN_ACTIVATIONS']!r}")
    tanh_time, exp_time = _best_times((np.tanh, np.exp), dtype)
    return tanh_time > EXP_FORM_RATIO * exp_time


def _best_times(functions: tuple[Callable[[np.ndarray, np.ndarray], object], ...],
                dtype: np.dtype) -> list[float]:
    """Best time of each ``f(x, out)`` over 16384 elements: 7 blocks of 3 calls, after a
    warm-up call (the measurements behind the two form decisions)."""
    x = np.random.default_rng(0).uniform(-3.0, 3.0, 16384).astype(dtype)
    out = np.empty_like(x)
    best = []
    with np.errstate(over="ignore"):
        for fn in functions:
            fn(x, out)  # warm-up
            fastest = float("inf")
            for _ in range(7):
                start = time.perf_counter()
                for _ in range(3):
                    fn(x, out)
                fastest = min(fastest, time.perf_counter() - start)
            best.append(fastest)
    return best


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function in this CPU's faster form (module docstring), stable in both
    tails: ``exp(-x)`` overflows to inf for x below -88 (float32) / -709 (float64), which
    gives the exact limit 0; the overflow warning is silenced.
    """
    with np.errstate(over="ignore"):
        return sigmoid_unchecked(x, out)


def sigmoid_unchecked(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`sigmoid` without the ``np.errstate`` block, for loops already inside one."""
    if x.dtype.kind != "f":  # integers and booleans: computed in float64, as np.exp would
        x = x.astype(np.float64)
    k = constants(x.dtype)
    if not exp_faster(x.dtype):
        out = np.multiply(x, k.half, out=out)
        np.tanh(out, out=out)
        out *= k.half
        out += k.half
        return out
    out = np.negative(x, out=out)
    np.exp(out, out=out)
    out += k.one
    return np.reciprocal(out, out=out)


def tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) into ``out`` in this CPU's faster form (module docstring). The exp form
    may overflow to inf for x < -44 (float32) / -354 (float64), which gives the exact
    limit -1: call it under ``np.errstate(over="ignore")``.
    """
    return tanh_function(x.dtype, x.size)(x, out)


def tanh_function(dtype: np.dtype, size: int) -> Callable[[np.ndarray, np.ndarray],
                                                          np.ndarray]:
    """The function :func:`tanh` uses for arrays of this dtype and size: ``np.tanh`` or
    the exp form, called as ``f(x, out)``. A time loop looks it up once, not per step."""
    if (dtype == np.float32 and size < _TANH_EXP_MIN_FLOAT32) or not exp_tanh_faster(dtype):
        return np.tanh
    return _exp_form_tanh


def exp_tanh_faster(dtype: np.dtype | type) -> bool:
    """Whether a standalone tanh (:func:`tanh`) takes the exp form for ``dtype``.

    Five passes (``-2x``, ``exp``, ``+1``, ``2/``, ``-1``) against ``np.tanh``'s one: the
    exp form wins only where ``np.tanh`` is several times slower than ``np.exp``, a
    stricter test than :func:`exp_faster`'s (which decides the fused gate nonlinearities,
    three passes either way): a CPU where ``exp`` beats ``tanh`` per element may still run
    the exp form of tanh slower than ``np.tanh``. So: :func:`exp_faster`, and the exp form
    measured :data:`EXP_FORM_RATIO` times faster than ``np.tanh`` over 16384 elements (once
    per process and dtype), unless ``MINIRNN_ACTIVATIONS`` fixes the form.
    """
    dt = np.dtype(dtype)
    decided = _EXP_TANH.get(dt)
    if decided is None:
        gates = exp_faster(dt)  # (before the lock, which exp_faster takes too)
        with _EXP_FASTER_LOCK:
            decided = _EXP_TANH.get(dt)
            if decided is None:
                forced = os.environ.get("MINIRNN_ACTIVATIONS", "").strip().lower()
                decided = gates and (forced == "exp" or _measure_exp_tanh_faster(dt))
                _EXP_TANH[dt] = decided
    return decided


_EXP_TANH: dict[np.dtype, bool] = {}


def _measure_exp_tanh_faster(dtype: np.dtype) -> bool:
    tanh_time, exp_form_time = _best_times((np.tanh, _exp_form_tanh), dtype)
    return tanh_time > EXP_FORM_RATIO * exp_form_time
