"""Regression losses."""

from __future__ import annotations

import numpy as np

from minirnn.losses.base import Loss

__all__ = ["L1", "MSE"]


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
