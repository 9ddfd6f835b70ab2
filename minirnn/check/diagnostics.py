"""Diagnostics: how the loss gradient flows back through time."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.layers.base import Layer
from minirnn.nn.layers.recurrent import Recurrent
from minirnn.nn.losses.base import Loss
from minirnn.nn.losses.regression import MSE

__all__ = ["gradient_flow"]


def _find_recurrent(model: Layer) -> Recurrent:
    if isinstance(model, Recurrent):
        return model
    for _, layer in model.named_layers():
        if isinstance(layer, Recurrent):
            return layer
    raise ValueError(f"{type(model).__name__} has no recurrent layer to diagnose")


def gradient_flow(
    model: Layer,
    x: np.ndarray,
    y: np.ndarray,
    loss: Loss | None = None,
    *,
    layer: Recurrent | None = None,
    lengths: np.ndarray | None = None,
) -> np.ndarray:
    """Norm of the loss gradient with respect to the hidden state at every time step.

    Parameters
    ----------
    model : Layer
        A model containing a recurrent layer (e.g. ``Sequential(LSTM, LastStep, Dense)``).
    x : ndarray, shape (N, T, D)
    y : ndarray
        Targets matching the model's output.
    loss : Loss, optional
        Defaults to MSE.
    layer : Recurrent, optional
        Which recurrent layer; default the first one in the model. Its first
        layer's forward direction is reported.
    lengths : ndarray of int, shape (N,), optional

    Returns
    -------
    ndarray, shape (T,)
        ``mean over the batch of ||dL/dh_t||_2``. With a many-to-one model it
        shows how much of the loss reaches step t: a curve collapsing towards
        early steps means vanishing gradients, one growing means exploding.

    Notes
    -----
    Runs in eval mode; parameter gradients are restored afterwards.
    """
    loss = loss if loss is not None else MSE()
    target = layer if layer is not None else _find_recurrent(model)
    saved = [p.grad.copy() for p in model.parameters()]
    target.record_hidden_grads = True
    try:
        x = np.asarray(x, dtype=model.dtype)
        kwargs: dict[str, Any] = {} if lengths is None else {"lengths": lengths}
        pred = model.forward(x, **kwargs)
        loss.forward(pred, np.asarray(y, dtype=model.dtype) if np.issubdtype(
            np.asarray(y).dtype, np.floating) else y)
        model.backward(loss.backward())
        grads = target.hidden_grads[0]  # (T, N, H): layer 0, forward direction
        return np.linalg.norm(grads, axis=2).mean(axis=1)
    finally:
        target.record_hidden_grads = False
        target.hidden_grads = []
        for p, g in zip(model.parameters(), saved, strict=True):
            p.grad[...] = g
