"""Figures (needs the optional ``matplotlib``): loss curves and gradient flow."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

try:
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("minirnn.train.plots needs matplotlib: pip install 'minirnn[plot]'") from exc

__all__ = ["history_figure", "plot_grad_flow", "plot_history"]


def plot_history(histories: Mapping[str, Any], path: str | os.PathLike[str], *,
                 metric: str = "loss", log_scale: bool | None = None,
                 title: str | None = None, ylabel: str | None = None) -> None:
    """Training (solid) and validation (dashed) curves of one or more runs in one figure.

    Parameters
    ----------
    histories : mapping of label to History (or dict of metric lists)
    path : where to save the PNG
    metric : base metric name; ``val_<metric>`` is drawn too when present
    log_scale : bool, optional
        Logarithmic loss axis; by default only when the values span more than one
        order of magnitude (then a linear axis would flatten all but the first epochs).
    title : str, optional
        Defaults to "<metric> per epoch".
    ylabel : str, optional
        The loss axis label, ideally with units (e.g. "MSE (scaled units²)");
        defaults to ``metric``.
    """
    fig = history_figure(histories, metric=metric, log_scale=log_scale, title=title,
                         ylabel=ylabel)
    fig.savefig(path)
    plt.close(fig)


def history_figure(histories: Mapping[str, Any], *, metric: str = "loss",
                   log_scale: bool | None = None, title: str | None = None,
                   ylabel: str | None = None) -> Any:
    """The figure :func:`plot_history` saves (a matplotlib ``Figure``; close it when done)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    values: list[float] = []
    for i, (label, history) in enumerate(histories.items()):
        data = getattr(history, "history", history)
        color = f"C{i}"
        epochs = np.arange(1, len(data[metric]) + 1)
        ax.plot(epochs, data[metric], color=color, marker="." if len(epochs) < 30 else None,
                label=f"{label} train")
        values.extend(data[metric])
        if f"val_{metric}" in data:
            ax.plot(epochs, data[f"val_{metric}"], color=color, ls="--", label=f"{label} val")
            values.extend(data[f"val_{metric}"])
    finite = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if log_scale is None:
        log_scale = bool(finite.size and finite.min() > 0
                         and finite.max() / finite.min() > 10.0)
    if log_scale:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_xlabel("epoch (one pass over the training data)")
    ax.set_ylabel((ylabel or metric) + (" (log scale)" if log_scale else ""))
    ax.set_title(title or f"{metric} per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_grad_flow(flows: Mapping[str, np.ndarray], path: str | os.PathLike[str], *,
                   title: str = "gradient flow") -> None:
    """``||dL/dh_t||`` against t (log scale) for one or more models."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for label, flow in flows.items():
        ax.semilogy(np.arange(1, len(flow) + 1), np.maximum(flow, 1e-300), label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time step t (steps of the input sequence)")
    ax.set_ylabel("mean ||dL/dh_t||")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
