"""Regression losses."""

from __future__ import annotations

import numpy as np

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
        if not delta > 0:
            raise ValueError(f"delta must be greater than zero, got {delta}")
        self.delta = float(delta)

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        d = np.abs(pred - target)
        return np.where(d <= self.delta, 0.5 * d * d, self.delta * (d - 0.5 * self.delta))

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.clip(pred - target, -self.delta, self.delta)

    def __repr__(self) -> str:
        return f"Huber(delta={self.delta})"
