"""Classification losses: binary cross-entropy (probabilities or logits), softmax cross-entropy."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_array
from minirnn.nn.functional import log_softmax, sigmoid
from minirnn.nn.losses.base import Loss, loss_weights

__all__ = ["BCE", "BCEWithLogits", "CrossEntropy"]


class BCE(Loss):
    """Binary cross-entropy from probabilities (PyTorch ``BCELoss``).

    ``-[y log p + (1-y) log(1-p)]``.

    As in PyTorch, each log is clamped at -100 so p = 0 or 1 gives a finite
    loss; the gradient uses ``p`` clipped to [eps, 1 - eps]. Prefer
    :class:`BCEWithLogits` on raw scores: it is exact where this saturates.
    """

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(pred), -100.0)
            log_q = np.maximum(np.log1p(-pred), -100.0)
        return -(target * log_p + (1.0 - target) * log_q)

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        eps = np.finfo(pred.dtype).eps
        p = np.clip(pred, eps, 1.0 - eps)
        return (p - target) / (p * (1.0 - p))

    def forward(self, pred: np.ndarray, target: np.ndarray,
                mask: np.ndarray | None = None, *,
                sample_weight: np.ndarray | None = None) -> float:
        check_array(pred, "pred", ndim=(1, 2, 3))
        if np.any((pred < 0) | (pred > 1)):
            raise ValueError("BCE expects probabilities in [0, 1] as pred; use BCEWithLogits "
                             f"for raw scores (got min {pred.min():.3g}, max {pred.max():.3g})")
        return super().forward(pred, target, mask, sample_weight=sample_weight)


class BCEWithLogits(Loss):
    """Binary cross-entropy on logits, computed stably (PyTorch ``BCEWithLogitsLoss``).

    ``max(x, 0) - x y + log(1 + exp(-|x|))``; gradient ``sigmoid(x) - y``.
    Finite for any finite logit (also +-1e4 and beyond).
    """

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        return sigmoid(pred) - target


class CrossEntropy(Loss):
    """Softmax cross-entropy over the last axis, integer class targets (``CrossEntropyLoss``).

    Parameters
    ----------
    (forward) pred : ndarray, shape (N, C) or (N, T, C)
        Unnormalized scores (logits).
    (forward) target : ndarray of int, shape (N,) or (N, T)
        Class indices in [0, C).
    (forward) mask : ndarray of bool or 0/1, shape of ``target``, optional
        Positions to include (padding excluded); the mean is over kept positions. One
        entry per target, exactly: a mask of shape (N,) for targets (N, T) is refused
        (PyTorch has no such broadcast; per-sequence weights go in ``sample_weight``).
    (forward) sample_weight : ndarray, shape (N,), optional
        Per-sample weights (e.g. class weights ``w[target]``): a weighted mean.

    Notes
    -----
    Uses log-sum-exp with the maximum subtracted, so any finite logits give a
    finite loss; the gradient is ``(softmax(pred) - onehot(target)) / count``.
    """

    def _elementwise(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # forward/backward are overridden

    def _elementwise_grad(self, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward(self, pred: np.ndarray, target: np.ndarray,
                mask: np.ndarray | None = None, *,
                sample_weight: np.ndarray | None = None) -> float:
        check_array(pred, "pred", ndim=(2, 3))
        if not isinstance(target, np.ndarray):
            raise TypeError(f"target must be a numpy ndarray, got {type(target).__name__}")
        if target.shape != pred.shape[:-1]:
            raise ValueError(f"target must hold class indices of shape {pred.shape[:-1]} "
                             f"(pred without its class axis), got {target.shape}")
        if not np.issubdtype(target.dtype, np.integer):
            if not (np.issubdtype(target.dtype, np.floating)
                    and np.all(np.isfinite(target)) and np.all(target == np.round(target))):
                raise TypeError(f"target must hold integer class indices, got dtype "
                                f"{target.dtype}")
            target = target.astype(np.int64)
        if mask is not None and np.shape(mask) != target.shape:
            raise ValueError(f"mask must have the shape of target {target.shape} (one entry "
                             f"per target), got {np.shape(mask)}; per-sample weights go in "
                             "sample_weight")
        classes = pred.shape[-1]
        if target.size and (target.min() < 0 or target.max() >= classes):
            raise ValueError(f"target class indices must be in [0, {classes}), got "
                             f"min {target.min()} max {target.max()}")
        weights: Any = loss_weights(mask, sample_weight, target.shape, pred.dtype)
        if weights is not None:
            weights = np.broadcast_to(weights, target.shape)
        count = float(target.size) if weights is None else float(weights.sum())
        log_probs = log_softmax(pred, axis=-1)
        picked = np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
        losses = -picked if weights is None else -picked * weights
        self._cache = (log_probs, target, weights, count)
        return float(losses.sum() / count)

    def backward(self) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("CrossEntropy.backward called before forward")
        log_probs, target, weights, count = self._cache
        grad = np.exp(log_probs)
        np.put_along_axis(grad, target[..., None],
                          np.take_along_axis(grad, target[..., None], axis=-1) - 1.0, axis=-1)
        if weights is not None:
            grad *= weights[..., None]
        grad /= count
        return grad
