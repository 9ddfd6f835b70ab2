"""The forecasting figure: history, test forecasts, baselines, future forecast with intervals.

Needs matplotlib (``pip install 'minirnn[plot]'``); imported only when a figure is drawn.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

__all__ = ["plot_forecast"]


def plot_forecast(path: str | os.PathLike[str], y: np.ndarray, *, n_train: int,
                  dates: np.ndarray | None = None, test_index: np.ndarray | None = None,
                  test_prediction: np.ndarray | None = None,
                  baselines: Mapping[str, np.ndarray] | None = None,
                  future_dates: np.ndarray | None = None, future: np.ndarray | None = None,
                  lower: Mapping[int, np.ndarray] | None = None,
                  upper: Mapping[int, np.ndarray] | None = None,
                  title: str = "forecast", ylabel: str = "value", start: int = 0) -> None:
    """Draw the series and its forecasts to ``path`` (PNG).

    Parameters
    ----------
    y : ndarray, shape (T,)
        The whole series (training and test spans).
    n_train : int
        Length of the training span (a vertical line marks where the test span starts).
    dates : ndarray of datetime64, shape (T,), optional
        x axis; step numbers without it.
    test_index : ndarray of int, shape (N,)
        Index of each step-1 test forecast's target.
    test_prediction : ndarray, shape (N,)
    baselines : mapping of name to ndarray (N,)
        Baseline forecasts of the same targets.
    future_dates : ndarray, shape (S,), optional
    future : ndarray, shape (S,)
        Forecast past the end of the data.
    lower, upper : mapping of level (80, 95) to ndarray (S,)
        Interval bounds drawn as bands.
    title, ylabel : str
    start : int
        First index of ``y`` drawn (the recent history at a readable scale; test forecasts
        before it are left out too).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(y)) if dates is None else np.asarray(dates)
    start = min(max(int(start), 0), len(y) - 1)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.plot(t[start:], y[start:], color="black", lw=1.2, label="data")
    if n_train >= start:
        ax.axvline(t[min(n_train, len(y) - 1)], color="grey", ls=":", lw=1)
    if test_index is not None and test_prediction is not None:
        shown = np.asarray(test_index) >= start
        styles = ["--", "-.", ":", (0, (3, 1, 1, 1))]
        for i, (name, values) in enumerate((baselines or {}).items()):
            ax.plot(t[test_index][shown], np.asarray(values)[shown],
                    ls=styles[i % len(styles)], lw=1, alpha=0.8, label=name)
        ax.plot(t[test_index][shown], np.asarray(test_prediction)[shown], color="tab:red",
                lw=1.5, label="model (test)")
    if future is not None:
        ft = (np.arange(len(y), len(y) + len(future)) if future_dates is None
              else np.asarray(future_dates))
        for level, alpha in ((95, 0.15), (80, 0.3)):
            if lower is not None and upper is not None and level in lower:
                ax.fill_between(ft, lower[level], upper[level], color="tab:blue", alpha=alpha,
                                lw=0, label=f"{level}% interval")
        ax.plot(ft, future, color="tab:blue", lw=1.8, label="forecast")
    ax.set_title(title)
    ax.set_xlabel("date" if dates is not None else "step")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
