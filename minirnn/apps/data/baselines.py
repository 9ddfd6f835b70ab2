"""Baselines a forecasting model has to beat: persistence, seasonal naive and a linear
autoregression (the one home of the naive forecasts: the forecaster uses them too).

All take the windows of :func:`minirnn.data.sliding_windows` (the last ``L`` values before
each forecast origin) and return predictions shaped like its targets, so
``rmse(persistence_forecast(x), y)`` just works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.apps.data._checks import as_finite_float_array
from minirnn.nn._validation import check_positive_int

__all__ = ["INTERMITTENT_METHODS", "NAIVE_METHODS", "LinearAR", "croston_path",
           "fit_linear_ar", "is_intermittent", "naive_forecasts", "persistence_forecast",
           "predict_linear_ar", "rmse", "root_mean_square", "seasonal_naive_forecast",
           "tsb_path"]

#: The naive forecasts of :func:`naive_forecasts` for intermittent counts only.
INTERMITTENT_METHODS = ("croston (SBA)", "TSB", "zero")
#: Every naive forecast of :func:`naive_forecasts`.
NAIVE_METHODS = ("persistence", "seasonal naive", "drift", "mean", *INTERMITTENT_METHODS)


def _windows(x: Any, name: str = "x") -> np.ndarray:
    """Windows as (N, L, F); (N, L) is a univariate batch."""
    arr = as_finite_float_array(x, name, ndim=(2, 3))
    return arr[:, :, None] if arr.ndim == 2 else arr


def persistence_forecast(x_windows: Any, horizon: int = 1) -> np.ndarray:
    """Predict that every future step equals the last observed one ("naive" forecast).

    Parameters
    ----------
    x_windows : array_like, shape (N, L, F) or (N, L)
        Input windows, as returned by :func:`minirnn.data.sliding_windows`.
    horizon : int
        K, the number of steps predicted.

    Returns
    -------
    ndarray, shape (N, K) if F == 1, else (N, K, F)
        ``x_windows[:, -1]`` repeated K times: the layout of ``sliding_windows``' targets.
        float32 for float32 input, float64 otherwise.
    """
    k = check_positive_int(horizon, "horizon")
    x = _windows(x_windows, "x_windows")
    last = np.repeat(x[:, -1:, :], k, axis=1)  # (N, K, F)
    return last[:, :, 0] if x.shape[2] == 1 else last


def seasonal_naive_forecast(x_windows: Any, season: int, horizon: int = 1) -> np.ndarray:
    """Predict that every future step equals the value one season before it (the last
    season repeated).

    Parameters
    ----------
    x_windows : array_like, shape (N, L, F) or (N, L)
        Input windows with L >= ``season``.
    season : int
        S, the seasonal period in steps.
    horizon : int
        K, the number of steps predicted.

    Returns
    -------
    ndarray, shape (N, K) if F == 1, else (N, K, F)
        Step ``k`` (1-based) is ``x_windows[:, L - 1 + k - S * ceil(k / S)]``.
    """
    k = check_positive_int(horizon, "horizon")
    s = check_positive_int(season, "season")
    x = _windows(x_windows, "x_windows")
    if x.shape[1] < s:
        raise ValueError(f"x_windows must hold at least one season ({s} steps), got windows "
                         f"of {x.shape[1]}")
    steps = np.arange(1, k + 1)
    out = x[:, x.shape[1] - 1 + steps - s * np.ceil(steps / s).astype(np.int64), :]
    return out[:, :, 0] if x.shape[2] == 1 else out


@dataclass(frozen=True)
class LinearAR:
    """A fitted linear autoregression ``y = flatten(x) @ coef + intercept``.

    Attributes
    ----------
    coef : ndarray, shape (L * F, M)
        One column per predicted value; rows follow ``x.reshape(N, -1)`` (time-major, so row
        ``l * F + f`` is lag ``L - l`` of feature ``f``).
    intercept : ndarray, shape (M,)
    window_shape : tuple of int
        ``x.shape[1:]`` seen by :func:`fit_linear_ar`; ``predict_linear_ar`` requires it.
    target_shape : tuple of int
        ``y.shape[1:]`` seen by the fit; predictions have shape ``(N, *target_shape)``.
    """

    coef: np.ndarray
    intercept: np.ndarray
    window_shape: tuple[int, ...]
    target_shape: tuple[int, ...]


def fit_linear_ar(x: Any, y: Any) -> LinearAR:
    """Least-squares linear autoregression with intercept (``numpy.linalg.lstsq``).

    Parameters
    ----------
    x : array_like, shape (N, L, F) or (N, L)
        Input windows (every lag of every feature is a regressor).
    y : array_like, shape (N,), (N, K) or (N, K, F)
        Targets; each value gets its own regression on all ``L * F`` lags.

    Returns
    -------
    LinearAR

    Notes
    -----
    Solves ``min ||[x 1] w - y||`` in float64. With fewer than ``L * F + 1`` windows the
    system is underdetermined and ``lstsq`` returns the minimum-norm solution.
    """
    xa = as_finite_float_array(x, "x", ndim=(2, 3))
    ya = as_finite_float_array(y, "y", ndim=(1, 2, 3))
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(
            f"x and y must have the same number of windows N on axis 0, "
            f"got {xa.shape[0]} and {ya.shape[0]}"
        )
    n = xa.shape[0]
    design = np.empty((n, int(np.prod(xa.shape[1:])) + 1))
    design[:, :-1] = xa.reshape(n, -1)
    design[:, -1] = 1.0
    weights = np.linalg.lstsq(design, ya.reshape(n, -1).astype(np.float64), rcond=None)[0]
    return LinearAR(
        coef=weights[:-1],
        intercept=weights[-1],
        window_shape=tuple(xa.shape[1:]),
        target_shape=tuple(ya.shape[1:]),
    )


def predict_linear_ar(model: LinearAR, x: Any) -> np.ndarray:
    """Apply a :class:`LinearAR` to windows shaped like those it was fitted on.

    Parameters
    ----------
    model : LinearAR
        From :func:`fit_linear_ar`.
    x : array_like, shape (N, *model.window_shape)

    Returns
    -------
    ndarray, shape (N, *model.target_shape)
        float32 for float32 input, float64 otherwise.
    """
    if not isinstance(model, LinearAR):
        raise TypeError(
            f"model must be a LinearAR (from fit_linear_ar), got {type(model).__name__}"
        )
    xa = as_finite_float_array(x, "x", ndim=(len(model.window_shape) + 1,))
    if xa.shape[1:] != model.window_shape:
        raise ValueError(
            f"x must have windows of shape {model.window_shape} (as in fit_linear_ar), "
            f"got x of shape {xa.shape}"
        )
    pred = xa.reshape(xa.shape[0], -1) @ model.coef + model.intercept
    return pred.reshape((xa.shape[0], *model.target_shape)).astype(xa.dtype, copy=False)


def rmse(y_pred: Any, y_true: Any) -> float:
    """Root mean squared error over all elements; the shapes must match exactly.

    Exact shapes guard against silent broadcasting: ``(N, 1) - (N,)`` would otherwise give
    an ``(N, N)`` difference.

    Parameters
    ----------
    y_pred, y_true : array_like, same shape

    Returns
    -------
    float
    """
    pred = as_finite_float_array(y_pred, "y_pred")
    true = as_finite_float_array(y_true, "y_true")
    if pred.shape != true.shape:
        raise ValueError(
            f"y_pred and y_true must have the same shape, got {pred.shape} and {true.shape}"
        )
    return root_mean_square(pred.astype(np.float64) - true.astype(np.float64))


def root_mean_square(d: np.ndarray) -> float:
    """sqrt(mean(d**2)) over all elements, computed on d scaled by its largest magnitude, so
    that elements beyond 1e154 (whose squares overflow float64) still give a finite result
    where it is representable, and elements below 1e-154 (whose squares underflow to 0) a
    non-zero one. NaN and inf propagate; an empty array gives NaN (as
    ``np.mean`` does, with its warning)."""
    if d.size == 0:
        return float(np.sqrt(np.mean(d * d)))
    biggest = float(np.max(np.abs(d)))
    if biggest == 0.0 or not np.isfinite(biggest):
        return biggest
    scaled = d / biggest
    return biggest * float(np.sqrt(np.mean(scaled * scaled)))


def is_intermittent(y: Any, min_zeros: float = 0.3) -> bool:
    """True for non-negative whole numbers with at least ``min_zeros`` of them zero: an
    intermittent count (demand), where Croston's method or a zero forecast can win.

    Parameters
    ----------
    y : array_like, shape (T,)
    min_zeros : float
        Least share of zeros.
    """
    a = as_finite_float_array(y, "y", ndim=(1,))
    return bool(len(a) and np.all(a >= 0) and np.all(a == np.round(a))
                and np.mean(a == 0) >= min_zeros)


def croston_path(y: Any, alpha: float = 0.1, sba: bool = True) -> np.ndarray:
    """Croston's forecast of an intermittent series made after each value.

    Parameters
    ----------
    y : array_like, shape (T,)
        Non-negative values (demand per period).
    alpha : float
        Smoothing weight of the demand sizes and of the intervals between demands.
    sba : bool
        Syntetos-Boylan approximation: times ``1 - alpha / 2`` (Croston's own forecast is
        biased upwards).

    Returns
    -------
    ndarray, shape (T,)
        Element t is the forecast of every later value, made from ``y[:t + 1]`` only (0
        before the first demand).

    Notes
    -----
    The demand size ``z`` and the interval ``p`` between demands are smoothed only when a
    demand occurs; the forecast is ``z / p`` (Croston 1972; Syntetos and Boylan 2005).
    """
    a = as_finite_float_array(y, "y", ndim=(1,)).astype(np.float64)
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    if np.any(a < 0):
        raise ValueError("y must be non-negative for Croston's method")
    out = np.zeros(len(a))
    z = p = 0.0
    since = 0
    seen = False
    factor = 1 - alpha / 2 if sba else 1.0
    for t, v in enumerate(a):  # a loop: each state depends on the one before
        since += 1
        if v > 0:
            if seen:
                z += alpha * (v - z)
                p += alpha * (since - p)
            else:  # the first demand starts both averages
                z, p, seen = v, float(since), True
            since = 0
        out[t] = factor * z / p if seen else 0.0
    return out


def tsb_path(y: Any, alpha: float = 0.1, beta: float = 0.1) -> np.ndarray:
    """The Teunter-Syntetos-Babai forecast of an intermittent series made after each value.

    Parameters
    ----------
    y : array_like, shape (T,)
        Non-negative values (demand per period).
    alpha : float
        Smoothing weight of the demand sizes (updated when a demand occurs).
    beta : float
        Smoothing weight of the probability of a demand (updated every period).

    Returns
    -------
    ndarray, shape (T,)
        Element t is the forecast of every later value, made from ``y[:t + 1]`` only (0
        before the first demand).

    Notes
    -----
    Unlike Croston's method, the demand probability decays in every period without a
    demand, so the forecast falls towards 0 when demand dies out (Teunter, Syntetos and
    Babai 2011).
    """
    a = as_finite_float_array(y, "y", ndim=(1,)).astype(np.float64)
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0 < value <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    if np.any(a < 0):
        raise ValueError("y must be non-negative for the TSB method")
    out = np.zeros(len(a))
    z = prob = 0.0
    seen = False
    for t, v in enumerate(a):  # a loop: each state depends on the one before
        if v > 0:
            if seen:
                z += alpha * (v - z)
                prob += beta * (1.0 - prob)
            else:  # the first demand starts both averages
                z, prob, seen = v, 1.0 / (t + 1), True
        elif seen:
            prob -= beta * prob
        out[t] = z * prob
    return out


def naive_forecasts(y: Any, origins: Any, horizon: int, season: int = 0,
                    intermittent: bool = False) -> dict[str, np.ndarray]:
    """The naive forecasts from each origin, reading only values up to it.

    Parameters
    ----------
    y : array_like, shape (T,)
    origins : array_like of int, shape (N,)
        Index t of the last value seen by each forecast (``season - 1 <= t < T``).
    horizon : int
        K, steps forecast from each origin (any number: none of them needs the future).
    season : int
        S >= 2 adds the seasonal naive forecast; 0 leaves it out.
    intermittent : bool
        Add Croston's method (SBA), the TSB method and the zero forecast.

    Returns
    -------
    dict of str to ndarray (N, K)
        ``persistence`` (the last value), ``seasonal naive`` (the value one season
        before), ``drift`` (the line from the first value through the last), ``mean``
        (of every value so far), and with ``intermittent`` ``croston (SBA)``, ``TSB`` and
        ``zero``.
    """
    a = as_finite_float_array(y, "y", ndim=(1,)).astype(np.float64)
    k = check_positive_int(horizon, "horizon")
    o = np.asarray(origins, dtype=np.int64)
    if len(o) and (o.min() < max(season - 1, 0) or o.max() >= len(a)):
        raise ValueError(f"origins must be in {max(season - 1, 0)}..{len(a) - 1}, got "
                         f"{o.min()}..{o.max()}")
    steps = np.arange(1, k + 1)[None, :]
    t = o[:, None]
    last = a[t]
    out = {"persistence": np.repeat(last, k, axis=1)}
    if season >= 2:
        out["seasonal naive"] = a[t + steps - season * np.ceil(steps / season).astype(np.int64)]
    out["drift"] = last + steps * (last - a[0]) / np.maximum(t, 1)
    means = np.cumsum(a) / np.arange(1, len(a) + 1)
    out["mean"] = np.repeat(means[t], k, axis=1)
    if intermittent:
        out["croston (SBA)"] = np.repeat(croston_path(a)[t], k, axis=1)
        out["TSB"] = np.repeat(tsb_path(a)[t], k, axis=1)
        out["zero"] = np.zeros((len(o), k))
    return out
