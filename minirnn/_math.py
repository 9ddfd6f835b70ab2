"""Element-wise functions used in hot loops."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function as ``0.5 * tanh(0.5 x) + 0.5``.

    Stable for any finite input (no overflow in exp) and, measured on the
    project machine, about 4x faster than ``scipy.special.expit``.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


#: Below this many elements, float32 ``np.tanh`` beats the exp formulation (measured).
_TANH_EXP_MIN_FLOAT32 = 8192


def tanh(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh(x) into ``out``, as ``2 / (1 + exp(-2x)) - 1`` where that is faster.

    numpy's ``exp`` is vectorized on this machine's numpy build while ``tanh`` is not:
    measured 2.2x faster in float64 at every size and 1.4x in float32 from (256, 512)
    up; small float32 arrays keep ``np.tanh``. ``exp`` may overflow to inf for
    x < -44 (float32) / -354 (float64), which gives the exact limit -1: call it under
    ``np.errstate(over="ignore")``.
    """
    if x.dtype == np.float32 and x.size < _TANH_EXP_MIN_FLOAT32:
        return np.tanh(x, out=out)
    np.multiply(x, -2.0, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.divide(2.0, out, out=out)
    out -= 1.0
    return out
