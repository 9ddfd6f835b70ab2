"""Element-wise activation layers. Each caches its output, whose derivative needs nothing else."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn._math import sigmoid
from minirnn._validation import check_array
from minirnn.layers.base import Layer

__all__ = ["Activation", "Identity", "ReLU", "Sigmoid", "Tanh"]


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
        return 1.0 - y * y


class Sigmoid(Activation):
    """Logistic ``1 / (1 + exp(-x))``, computed stably; derivative ``y (1 - y)``."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return sigmoid(x)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return y * (1.0 - y)


class ReLU(Activation):
    """``max(x, 0)``; derivative ``[y > 0]`` (0 at the kink, as PyTorch)."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return (y > 0).astype(y.dtype)


class Identity(Activation):
    """``x`` unchanged (a linear output, named for readability)."""

    def _apply(self, x: np.ndarray) -> np.ndarray:
        return x

    def _derivative(self, y: np.ndarray) -> np.ndarray:
        return np.ones_like(y)
