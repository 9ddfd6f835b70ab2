"""Element-wise activations and softmax for writing cells and layers (``minirnn.functional``).

The public home of the functions a research cell needs: :func:`sigmoid`, :func:`tanh`,
:func:`relu`, :func:`softmax` and :func:`log_softmax`, with their derivatives expressed
through the *outputs* a forward pass caches (``sigmoid_grad(y) = y (1 - y)``,
``tanh_grad(y) = 1 - y^2``, ``relu_grad(y) = [y > 0]``), so a ``step_backward`` needs no
recomputation. Softmax has no element-wise derivative; :func:`softmax_grad` and
:func:`log_softmax_grad` are its vector-Jacobian products.

Every function is numerically stable over all finite inputs (no overflow warning, exact
limits in the tails), keeps float32 and float64 (integers and bools are computed in
float64, as numpy's ``exp`` does), and is the one implementation minirnn itself uses:
sigmoid and tanh take the form this CPU computes faster (``minirnn/nn/_math.py``), the
metrics and the cross-entropy loss use this softmax.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn import _math

__all__ = [
    "log_softmax", "log_softmax_grad", "relu", "relu_grad", "sigmoid", "sigmoid_grad",
    "softmax", "softmax_grad", "tanh", "tanh_grad",
]


def _floating(x: Any) -> np.ndarray:
    """``x`` as an array of a floating dtype (float64 for integers, bools and lists)."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float64)


def sigmoid(x: Any, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-x))``, element-wise.

    Parameters
    ----------
    x : array_like, any shape
    out : ndarray, optional
        Array of ``x``'s shape and floating dtype to write into (may be ``x`` itself).

    Returns
    -------
    ndarray, shape of ``x``
        Values in [0, 1]; the dtype of ``x`` if floating, else float64.

    Notes
    -----
    Stable in both tails: for ``x`` below about -88 (float32) / -709 (float64) ``exp(-x)``
    overflows to inf, which gives the exact limit 0, and no warning is raised.
    """
    x = _floating(x)
    return _math.sigmoid(x, np.empty_like(x) if out is None else out)


def sigmoid_grad(y: Any) -> np.ndarray:
    """Derivative of :func:`sigmoid` from its output: ``dy/dx = y (1 - y)``.

    Parameters
    ----------
    y : array_like, any shape
        ``sigmoid(x)``.

    Returns
    -------
    ndarray, shape of ``y``
        Values in [0, 1/4], the dtype of ``y``.
    """
    y = _floating(y)
    return y * (1 - y)


def tanh(x: Any, out: np.ndarray | None = None) -> np.ndarray:
    """Hyperbolic tangent, element-wise.

    Parameters
    ----------
    x : array_like, any shape
    out : ndarray, optional
        Array of ``x``'s shape and floating dtype to write into (may be ``x`` itself).

    Returns
    -------
    ndarray, shape of ``x``
        Values in [-1, 1]; the dtype of ``x`` if floating, else float64.

    Notes
    -----
    Where this CPU computes ``exp`` much faster than ``tanh``, large arrays take the form
    ``2 / (1 + exp(-2x)) - 1``; its overflow for ``x`` below about -44 (float32) / -354
    (float64) gives the exact limit -1 and raises no warning. The two forms agree to
    rounding.
    """
    x = _floating(x)
    if out is None:
        out = np.empty_like(x)
    with np.errstate(over="ignore"):
        return _math.tanh(x, out)


def tanh_grad(y: Any) -> np.ndarray:
    """Derivative of :func:`tanh` from its output: ``dy/dx = 1 - y^2``.

    Parameters
    ----------
    y : array_like, any shape
        ``tanh(x)``.

    Returns
    -------
    ndarray, shape of ``y``
        Values in [0, 1], the dtype of ``y``.
    """
    y = _floating(y)
    return 1 - y * y


def relu(x: Any) -> np.ndarray:
    """Rectified linear unit ``max(x, 0)``, element-wise.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    ndarray, shape of ``x``
        The dtype of ``x`` if floating, else float64.
    """
    return np.maximum(_floating(x), 0)


def relu_grad(y: Any) -> np.ndarray:
    """Derivative of :func:`relu` from its output: ``1`` where ``y > 0``, else ``0``.

    At the kink (``x = 0``) the derivative is taken as 0, as PyTorch does.

    Parameters
    ----------
    y : array_like, any shape
        ``relu(x)``.

    Returns
    -------
    ndarray, shape of ``y``
        Zeros and ones of ``y``'s dtype.
    """
    y = _floating(y)
    return (y > 0).astype(y.dtype)


def log_softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """Log of :func:`softmax`: ``z - log(sum(exp(z)))`` along ``axis``.

    Parameters
    ----------
    logits : array_like, e.g. shape (N, C) or (N, T, C)
        Unnormalised scores.
    axis : int
        The class axis.

    Returns
    -------
    ndarray, shape of ``logits``
        Log-probabilities (<= 0); the dtype of ``logits`` if floating, else float64.

    Notes
    -----
    The maximum along ``axis`` is subtracted first (log-sum-exp), so every ``exp`` is of
    a number <= 0 and nothing overflows: finite logits give finite results, except a
    log-probability below the dtype's range (logits ~1e308 apart in float64), which is
    -inf without a warning.
    """
    z = _floating(logits)
    with np.errstate(over="ignore"):  # z - max below the dtype's range: -inf, the limit
        shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: Any, axis: int = -1) -> np.ndarray:
    """Probabilities ``exp(z) / sum(exp(z))`` along ``axis``.

    Parameters
    ----------
    logits : array_like, e.g. shape (N, C) or (N, T, C)
        Unnormalised scores.
    axis : int
        The class axis.

    Returns
    -------
    ndarray, shape of ``logits``
        Values in [0, 1] summing to 1 along ``axis``; the dtype of ``logits`` if
        floating, else float64. Finite for any finite input (see :func:`log_softmax`).
    """
    return np.exp(log_softmax(logits, axis=axis))


def softmax_grad(y: Any, dy: Any, axis: int = -1) -> np.ndarray:
    """Backward of :func:`softmax`: dL/dz from its output ``y`` and dL/dy.

    Parameters
    ----------
    y : array_like, shape (..., C, ...)
        ``softmax(z, axis)``.
    dy : array_like, shape of ``y``
        Upstream gradient dL/dy.
    axis : int
        The class axis used in the forward pass.

    Returns
    -------
    ndarray, shape of ``y``
        ``y * (dy - sum(dy * y, axis))`` (the Jacobian ``diag(y) - y y^T`` applied to
        ``dy``, without forming it).
    """
    y, dy = _floating(y), _floating(dy)
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax_grad(log_y: Any, dy: Any, axis: int = -1) -> np.ndarray:
    """Backward of :func:`log_softmax`: dL/dz from its output and dL/d(log_softmax).

    Parameters
    ----------
    log_y : array_like, shape (..., C, ...)
        ``log_softmax(z, axis)``.
    dy : array_like, shape of ``log_y``
        Upstream gradient.
    axis : int
        The class axis used in the forward pass.

    Returns
    -------
    ndarray, shape of ``log_y``
        ``dy - exp(log_y) * sum(dy, axis)``.
    """
    log_y, dy = _floating(log_y), _floating(dy)
    return dy - np.exp(log_y) * dy.sum(axis=axis, keepdims=True)
