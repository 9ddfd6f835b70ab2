"""Supervised windows over a time series (Keras ``timeseries_dataset_from_array``-like)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.apps.data._checks import as_finite_float_array
from minirnn.nn._validation import check_positive_int

__all__ = ["sliding_windows"]


def sliding_windows(
    series: Any, look_back: int, horizon: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into (past window, next values) pairs, one per start position.

    Parameters
    ----------
    series : array_like, shape (T,) or (T, F)
        A univariate series (T,) or F features per step (T, F); numeric, finite.
    look_back : int
        L, the number of past steps in each input window.
    horizon : int
        K, the number of following steps to predict.

    Returns
    -------
    x : ndarray, shape (N, L, F)
        ``x[i] = series[i : i + L]``, with F = 1 for a 1-D series: ready for a recurrent
        layer's ``(batch, time, features)``.
    y : ndarray, shape (N, K) if F == 1, else (N, K, F)
        ``y[i] = series[i + L : i + L + K]``. A series with one feature, (T,) or (T, 1), is
        univariate and its feature axis is dropped from ``y`` (what a ``Dense(H, K)`` head
        outputs); with F > 1 ``y`` keeps it.

    Notes
    -----
    N = T - L - K + 1 windows, in time order and overlapping (stride 1); every start position
    is used, including the last one. The arrays are copies (writable), in the series' dtype
    when it is float32 or float64, else float64.

    Raises
    ------
    ValueError
        If the series is shorter than ``look_back + horizon``, is empty, or holds NaN/Inf.
    TypeError
        If the series is not numeric or ``look_back``/``horizon`` are not ints.
    """
    arr = as_finite_float_array(series, "series", ndim=(1, 2))
    lb = check_positive_int(look_back, "look_back")
    k = check_positive_int(horizon, "horizon")
    t = arr.shape[0]
    if t < lb + k:
        raise ValueError(
            f"series is too short for the window: look_back={lb} + horizon={k} = {lb + k} "
            f"steps are needed, the series has length {t}"
        )
    seq = arr[:, None] if arr.ndim == 1 else arr
    n_features = seq.shape[1]
    n = t - lb - k + 1
    # Read-only views with the window axis last, (N, F, L) and (N, F, K); copied below.
    x = np.lib.stride_tricks.sliding_window_view(seq[: n + lb - 1], lb, axis=0)
    y = np.lib.stride_tricks.sliding_window_view(seq[lb:], k, axis=0)
    x = np.moveaxis(x, 2, 1).copy()  # (N, L, F)
    y = np.moveaxis(y, 2, 1).copy()  # (N, K, F)
    if n_features == 1:
        y = y[:, :, 0]
    return x, y
