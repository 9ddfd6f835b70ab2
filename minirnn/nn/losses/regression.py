"""Regression losses."""

from __future__ import annotations

import numpy as np

from minirnn.nn._validation import check_finite_float
from minirnn.nn.losses.base import Loss

__all__ = ["L1", "MSE", "Huber"]


class MSE(Loss):
    """Mean squared error, ``mean((pred - target)^2)`` (PyTorch ``MSELoss``)."""

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        diff = pred - target
        return diff * diff

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return 2.0 * (pred - target)


class L1(Loss):
    """Mean absolute error, ``mean(|pred - target|)`` (PyTorch ``L1Loss``).

    The gradient at ``pred == target`` is 0 (``sign``), as in PyTorch.
    """

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.abs(pred - target)

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.sign(pred - target)


class Huber(Loss):
    """Huber loss (PyTorch ``HuberLoss``): quadratic within ``delta``, linear outside.

    ``0.5 d^2`` if ``|d| <= delta`` else ``delta (|d| - 0.5 delta)``, with ``d = pred - target``.
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        self.delta = check_finite_float(delta, "delta", positive=True)

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        # 0.5 q^2 + delta (d - q) with q = min(d, delta): the quadratic never sees a large d,
        # so it cannot overflow where the linear branch applies (np.where would compute both).
        d = np.abs(pred - target)
        q = np.minimum(d, self.delta)
        return 0.5 * q * q + self.delta * (d - q)

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.clip(pred - target, -self.delta, self.delta)

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta})"
