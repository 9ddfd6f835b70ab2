"""Forecast accuracy: RMSE, MAE and MASE (Hyndman & Koehler 2006)."""

from __future__ import annotations

import numpy as np

from minirnn.apps.data.baselines import root_mean_square

__all__ = ["mae", "mase", "mase_scale", "rmse"]


def _pair(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"predictions and truth must have the same shape, got {p.shape} and "
                         f"{t.shape}")
    return p - t


def rmse(pred: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error over all elements (shapes must match); finite for errors
    beyond 1e154 too (:func:`minirnn.apps.data.baselines.root_mean_square`)."""
    return root_mean_square(_pair(pred, true))


def mae(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean absolute error over all elements (shapes must match)."""
    return float(np.mean(np.abs(_pair(pred, true))))


def mase_scale(train: np.ndarray, season: int = 0) -> float:
    """In-sample MAE of the (seasonal) naive forecast on the training span: MASE's denominator.

    Uses lag ``season`` when it is >= 2 and the span is longer than it, else lag 1.
    """
    y = np.asarray(train, dtype=np.float64)
    m = season if season >= 2 and len(y) > season + 1 else 1
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    return scale if scale > 0 else 1.0


def mase(pred: np.ndarray, true: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error: MAE / ``scale`` (from :func:`mase_scale`); < 1 beats the
    in-sample naive forecast."""
    return mae(pred, true) / scale
