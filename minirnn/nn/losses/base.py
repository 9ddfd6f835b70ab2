"""The :class:`Loss` contract: a scalar from predictions and targets, and its gradient."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from minirnn.nn._validation import check_array, check_mask, check_sample_weight

__all__ = ["Loss", "loss_weights"]


def loss_weights(mask: Any, sample_weight: Any, shape: tuple[int, ...],
                 dtype: np.dtype) -> np.ndarray | None:
    """Weights of the loss elements from a 0/1 ``mask`` (leading shape of ``shape``) and
    per-sample weights (N,), shaped to broadcast against ``shape``; None for a plain mean.
    Raises if they select nothing."""
    if mask is None and sample_weight is None:
        return None
    weights = np.ones((shape[0],) + (1,) * (len(shape) - 1), dtype)
    if mask is not None:
        m = check_mask(mask, shape)
        weights = weights * m.astype(dtype).reshape(m.shape + (1,) * (len(shape) - m.ndim))
    if sample_weight is not None:
        w = check_sample_weight(sample_weight, shape[0])
        weights = weights * w.astype(dtype).reshape((shape[0],) + (1,) * (len(shape) - 1))
    if not np.broadcast_to(weights, shape).any():
        what = "mask" if sample_weight is None else "mask with sample_weight"
        raise ValueError(f"{what} selects no element: the loss is undefined")
    return weights


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
        self, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, *,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        """Mean loss.

        Parameters
        ----------
        pred : ndarray, shape (N, ...)
        target : ndarray, same shape as ``pred``
        mask : ndarray of bool or 0/1, shape ``pred.shape[:k]`` for some k, optional
            Which elements count. Other values (0.5, 2, -1, NaN) are refused with
            ValueError: weights go in ``sample_weight``.
        sample_weight : ndarray, shape (N,), optional
            Finite non-negative weight per sample: the loss is the weighted mean
            ``sum(w l) / sum(w)`` (PyTorch's ``weight=``, Keras's ``sample_weight``).

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
        weights = loss_weights(mask, sample_weight, pred.shape, pred.dtype)
        count = float(pred.size) if weights is None else float(
            np.broadcast_to(weights, pred.shape).sum())
        if weights is not None:
            weights = np.broadcast_to(weights, pred.shape)
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
        self, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None, *,
        sample_weight: np.ndarray | None = None,
    ) -> float:
        return self.forward(pred, target, mask, sample_weight=sample_weight)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
