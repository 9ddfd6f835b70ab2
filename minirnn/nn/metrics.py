"""Classification metrics: functions on labels and scores, and streaming metrics for the Solver.

``Solver(..., metrics=["accuracy"])`` records ``accuracy`` (training batches, as Keras does:
predictions in training mode while the epoch runs) and ``val_accuracy`` in the history, where
:class:`~minirnn.callbacks.EarlyStopping` and :class:`~minirnn.callbacks.ModelCheckpoint` can
monitor them. Names: ``"accuracy"`` (``"acc"``), ``"top_k_accuracy"`` (k = 5, Keras's default;
``TopKAccuracy(k)`` for another k), ``"f1_macro"`` (``"macro_f1"``).

Predictions are the model's scores: (N, C) or (N, T, C) logits (or probabilities) with integer
targets (N,) or (N, T); a single output column (N, 1) with 0/1 targets of the same shape is a
binary classifier whose logit is thresholded at 0 (``threshold=0.5`` for probabilities).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_positive_int

# softmax and log_softmax live in minirnn.nn.functional; this module's names stay importable.
from minirnn.nn.functional import log_softmax, softmax

__all__ = [
    "Accuracy", "F1Macro", "Metric", "TopKAccuracy", "accuracy", "confusion_matrix",
    "f1_macro", "get_metric", "log_softmax", "precision_recall_f1", "softmax", "top_k_accuracy",
]


def _labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D array of integer class indices, got "
                         f"{arr.dtype} {arr.shape}")
    return arr


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of labels predicted exactly."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape or t.size == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of one shape, got {t.shape} "
                         f"and {p.shape}")
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Any, scores: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores (N, C)."""
    t = _labels(y_true, "y_true")
    s = np.asarray(scores)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"scores must be (N, C) with N = {t.shape[0]}, got {s.shape}")
    k = min(int(k), s.shape[1])
    # A tie with the k-th score counts as a hit: strictly better scores decide.
    better = (s > np.take_along_axis(s, t[:, None], axis=1)).sum(axis=1)
    return float(np.mean(better < k))


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of samples of class i predicted as j, shape (C, C)."""
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have one shape, got {t.shape} and {p.shape}")
    c = int(num_classes if num_classes is not None else max(t.max(initial=-1),
                                                            p.max(initial=-1)) + 1)
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= c):
        raise ValueError(f"class indices must be in [0, {c})")
    return np.bincount(t * c + p, minlength=c * c).reshape(c, c)


def precision_recall_f1(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined, as
    scikit-learn's ``zero_division=0``)."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return precision, recall, f1


def f1_macro(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """Unweighted mean of the per-class F1 over the classes present in ``y_true`` or
    ``y_pred`` (scikit-learn's ``f1_score(average="macro")``)."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    return float(precision_recall_f1(cm)[2][present].mean())


# ------------------------------------------------------------------- streaming metrics
class Metric:
    """A metric accumulated over batches: ``reset()``, ``update(pred, target, mask)``,
    ``result()``. ``name`` is its key in the history (``val_`` + name on validation data)."""

    name = "metric"
    #: True if a larger value is better (EarlyStopping's ``mode="auto"`` reads it).
    higher_is_better = True

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = float(threshold)
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, pred: np.ndarray, target: np.ndarray,
               mask: np.ndarray | None = None) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def _flatten(self, pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Scores (M, C) and integer targets (M,) of the kept positions."""
        pred = np.asarray(pred)
        target = np.asarray(target)
        if pred.shape[-1] == 1 and target.shape == pred.shape:  # binary, one logit
            scores = np.concatenate([np.full_like(pred, self.threshold), pred], axis=-1)
            target = target[..., 0]
        else:
            scores = pred
            if target.shape != pred.shape[:-1]:
                raise ValueError(f"{self.name}: targets must be class indices of shape "
                                 f"{pred.shape[:-1]} for scores {pred.shape}, got "
                                 f"{target.shape}")
        scores = scores.reshape(-1, scores.shape[-1])
        labels = np.rint(target.reshape(-1)).astype(np.int64)
        if mask is not None:
            keep = np.asarray(mask).reshape(-1) > 0
            if keep.shape != labels.shape:
                raise ValueError(f"{self.name}: mask of {np.shape(mask)} does not match "
                                 f"targets {target.shape}")
            scores, labels = scores[keep], labels[keep]
        return scores, labels


class Accuracy(Metric):
    """Fraction of positions whose highest score is the target class (Keras ``accuracy``)."""

    name = "accuracy"

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, pred: np.ndarray, target: np.ndarray,
               mask: np.ndarray | None = None) -> None:
        scores, labels = self._flatten(pred, target, mask)
        self.correct += int(np.sum(np.argmax(scores, axis=1) == labels))
        self.total += len(labels)

    def result(self) -> float:
        return self.correct / self.total if self.total else float("nan")


class TopKAccuracy(Accuracy):
    """Fraction of positions whose target is among the ``k`` highest scores."""

    def __init__(self, k: int = 5) -> None:
        self.k = check_positive_int(k, "k")
        self.name = f"top{k}_accuracy"
        super().__init__()

    def update(self, pred: np.ndarray, target: np.ndarray,
               mask: np.ndarray | None = None) -> None:
        scores, labels = self._flatten(pred, target, mask)
        if len(labels):
            self.correct += round(top_k_accuracy(labels, scores, self.k) * len(labels))
        self.total += len(labels)


class F1Macro(Metric):
    """Mean per-class F1 over the classes seen (scikit-learn's ``average="macro"``)."""

    name = "f1_macro"

    def reset(self) -> None:
        self.cm: np.ndarray | None = None

    def update(self, pred: np.ndarray, target: np.ndarray,
               mask: np.ndarray | None = None) -> None:
        scores, labels = self._flatten(pred, target, mask)
        c = scores.shape[1]
        cm = confusion_matrix(labels, np.argmax(scores, axis=1), c)
        self.cm = cm if self.cm is None else self.cm + cm

    def result(self) -> float:
        if self.cm is None or self.cm.sum() == 0:
            return float("nan")
        present = (self.cm.sum(axis=0) + self.cm.sum(axis=1)) > 0
        return float(precision_recall_f1(self.cm)[2][present].mean())


_NAMES: dict[str, Any] = {
    "accuracy": Accuracy, "acc": Accuracy, "top_k_accuracy": lambda: TopKAccuracy(5),
    "f1_macro": F1Macro, "macro_f1": F1Macro,
}


def get_metric(spec: str | Metric) -> Metric:
    """A :class:`Metric` from a name (``"accuracy"``, ``"top_k_accuracy"``, ``"f1_macro"``)
    or an instance (returned as is)."""
    if isinstance(spec, Metric):
        return spec
    if isinstance(spec, str) and spec.lower() in _NAMES:
        metric: Metric = _NAMES[spec.lower()]()
        return metric
    raise ValueError(f"unknown metric {spec!r}; expected one of {sorted(_NAMES)} or a "
                     "minirnn.nn.metrics.Metric")
