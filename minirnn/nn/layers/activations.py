"""Element-wise activation layers. Each caches its output, whose derivative needs nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_array, check_finite_float
from minirnn.nn.functional import relu_grad, sigmoid, sigmoid_grad, tanh_grad
from minirnn.nn.layers.base import Layer

__all__ = ["Activation", "Gompertz", "Identity", "Logistic", "ReLU", "Sigmoid", "Tanh"]


class Activation(Layer):
    """Base of parameter-free element-wise layers: write ``_apply`` and ``_derivative``."""

    def __init__(self) -> None:
        super().__init__()
        self._y: np.ndarray | None = None

    def _apply(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        """dy/dx expressed through the cached output y."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Any shape -> same shape."""
        check_array(x, "input", ndim=(1, 2, 3, 4))
        self._y = self._apply(x)
        return self._y

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._y is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if not isinstance(dy, np.ndarray) or dy.shape != self._y.shape:
            raise ValueError(
                f"dy: expected shape {self._y.shape}, got {getattr(dy, 'shape', type(dy))}"
            )
        return dy * self._derivative(self._y)

    def get_config(self) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Tanh(Activation):
    """``tanh(x)``; derivative ``1 - y^2``."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return tanh_grad(y)


class Sigmoid(Activation):
    """Logistic ``1 / (1 + exp(-x))``, computed stably; derivative ``y (1 - y)``.

    R rnn's ``sigmoid = "logistic"`` output; also available as :data:`Logistic`.
    """

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return sigmoid_grad(y)


class ReLU(Activation):
    """``max(x, 0)``; derivative ``[y > 0]`` (0 at the kink, as PyTorch)."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return relu_grad(y)


class Identity(Activation):
    """``x`` unchanged (a linear output, named for readability)."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return np.ones_like(y)


#: R rnn's name for :class:`Sigmoid` (``sigmoid = "logistic"``).
Logistic = Sigmoid


class Gompertz(Activation):
    """Gompertz function ``a * exp(-b * exp(-c * x))`` (R rnn's ``sigmoid = "Gompertz"``).

    An asymmetric S-curve from 0 to ``a``: it approaches ``a`` faster than it leaves 0.
    The defaults ``a = b = c = 1`` are those of R's ``sigmoid::Gompertz`` used by rnn.

    Parameters
    ----------
    a, b, c : float
        Upper asymptote ``a``, displacement ``b > 0`` and growth rate ``c > 0``.

    Notes
    -----
    With ``u = b * exp(-c * x)``: ``y = a * exp(-u)`` and ``dy/dx = c * u * y``. The
    layer caches ``u`` next to ``y`` so the derivative needs no recomputation and stays
    exact where ``y`` underflows to 0 (there ``u`` is huge and the derivative is 0).
    """

    def __init__(self, a: float = 1.0, b: float = 1.0, c: float = 1.0) -> None:
        super().__init__()
        self.a = check_finite_float(a, "Gompertz: a")
        self.b = check_finite_float(b, "Gompertz: b", positive=True)
        self.c = check_finite_float(c, "Gompertz: c", positive=True)
        self._u: np.ndarray | None = None

    def _apply(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # exp(-c x) -> inf for very negative x: y -> 0
            u = self.b * np.exp(-self.c * x)
        self._u = u
        return self.a * np.exp(-u)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        assert self._u is not None
        u = self._u
        with np.errstate(invalid="ignore", over="ignore"):
            d = self.c * u * y
        return np.where(np.isfinite(u), d, 0.0).astype(y.dtype, copy=False)

    def get_config(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "c": self.c}

    def __repr__(self) -> str:
        return f"Gompertz(a={self.a:g}, b={self.b:g}, c={self.c:g})"
