"""The :class:`Loss` contract: a scalar from predictions and targets, and its gradient."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from minirnn._validation import check_array, check_mask

__all__ = ["Loss"]


class Loss(ABC):
    """Mean of an element-wise loss over every (unmasked) element.

    Subclasses write :meth:`_elementwise` (loss per element) and
    :meth:`_elementwise_grad` (its derivative in ``pred``); the base class
    handles shapes, the optional mask and the mean.

    ``forward(pred, target, mask=None)`` returns a float; ``backward()``
    returns dL/d(pred) for the last forward.

    The mask (optional) has the leading shape of ``pred`` -- (N,) or (N, T) --
    or its full shape; masked-out elements contribute neither loss nor gradient,
    and the mean is over the kept elements.
    """

    def __init__(self) -> None:
        self._cache: Any = None

    @abstractmethod
    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Loss per element, shape of ``pred``."""

    @abstractmethod
    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        """d(loss per element)/d(pred), shape of ``pred``."""

    def forward(
        self, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
    ) -> float:
        """Mean loss.

        Parameters
        ----------
        pred : ndarray, shape (N, ...)
        target : ndarray, same shape as ``pred``
        mask : ndarray of bool or 0/1, shape ``pred.shape[:k]`` for some k, optional
            Other values (0.5, 2, -1, NaN) are refused with ValueError.

        Returns
        -------
        float
        """
        check_array(pred, "pred", ndim=(1, 2, 3), finite=False)
        if not isinstance(target, np.ndarray):
            raise TypeError(f"target must be a numpy ndarray, got {type(target).__name__}")
        if target.shape != pred.shape:
            raise ValueError(
                f"target must have the shape of pred {pred.shape}, got {target.shape}"
            )
        check_array(target, "target", ndim=pred.ndim)
        weights = None
        if mask is not None:
            mask = check_mask(mask, pred.shape)
            weights = mask.astype(pred.dtype).reshape(mask.shape + (1,) * (pred.ndim - mask.ndim))
            weights = np.broadcast_to(weights, pred.shape)
            count = float(weights.sum())
            if count == 0:
                raise ValueError("mask selects no element: the loss is undefined")
        else:
            count = float(pred.size)
        self._cache = (pred, target, weights, count)
        per_element = self._elementwise(pred, target)
        if weights is not None:
            per_element = per_element * weights
        return float(per_element.sum() / count)

    def backward(self) -> np.ndarray:
        """dL/d(pred) for the last forward, shape and dtype of ``pred``."""
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        pred, target, weights, count = self._cache
        grad = self._elementwise_grad(pred, target)
        if weights is not None:
            grad = grad * weights
        grad /= count
        return grad.astype(pred.dtype, copy=False)

    def __call__(
        self, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
    ) -> float:
        return self.forward(pred, target, mask)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
