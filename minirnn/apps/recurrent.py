"""The one builder of a recurrent network, its optimizer and its Solver, for every
application (toy tasks, forecasting, classification).

Cells and optimizers are chosen by their short names in :mod:`minirnn.nn.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.nn.layers import Dense, Dropout, LastStep, SequencePooling
from minirnn.nn.layers.base import Layer
from minirnn.nn.layers.recurrent import Recurrent
from minirnn.nn.losses import Loss
from minirnn.nn.model import Sequential
from minirnn.nn.registry import make_optimizer, recurrent_layer_class
from minirnn.train.callbacks import Callback
from minirnn.train.solver import Solver

__all__ = ["make_solver", "recurrent_layer", "recurrent_network"]


def recurrent_layer(cell: str, input_size: int, hidden_size: int, *args: Any,
                    **kwargs: Any) -> Recurrent:
    """The recurrent layer of a short cell name: ``recurrent_layer("gru", D, H, ...)`` is
    ``GRU(D, H, ...)`` (PyTorch's arguments)."""
    make: Callable[..., Recurrent] = recurrent_layer_class(cell)
    return make(input_size, hidden_size, *args, **kwargs)


def recurrent_network(cell: str, inputs: int, hidden_size: int, outputs: int, *,
                      read_out: str = "last step", num_layers: int = 1, bidirectional: bool = False,
                      dropout: float = 0.0, dtype: Any = np.float32,
                      seed: int | np.random.Generator | None = None) -> Sequential:
    """A recurrent layer, a read-out and ``Dense(H, outputs)``.

    Parameters
    ----------
    cell : str
        ``"lstm"``, ``"gru"`` or ``"rnn"`` (:data:`minirnn.nn.registry.RECURRENT_LAYERS`).
    inputs, hidden_size, outputs : int
        D, H and the output features.
    read_out : str
        ``"last step"``: the last step (many-to-one, (N, T, D) -> (N, outputs));
        ``"every step"``: one output per step ((N, T, D) -> (N, T, outputs));
        a pooling mode of :class:`~minirnn.nn.layers.SequencePooling` (``"mean"``,
        ``"mean_max"``, ``"max"``, ``"last"``): a summary over the valid steps.
    dropout : float
        Dropout before the output layer (0: none).
    seed : int or Generator, optional
        One generator draws the recurrent and the output weights in that order.
    """
    dt = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    recurrent = recurrent_layer(cell, inputs, hidden_size, num_layers=num_layers,
                                bidirectional=bidirectional, dtype=dt, seed=rng)
    layers: list[Layer] = [recurrent]
    features = recurrent.output_size
    if read_out == "last step":
        layers.append(LastStep())
    elif read_out != "every step":
        pool = SequencePooling(read_out)
        layers.append(pool)
        features = pool.output_size(features)
    if dropout > 0:
        layers.append(Dropout(dropout, seed=rng))
    layers.append(Dense(features, outputs, dtype=dt, seed=rng))
    return Sequential(*layers)


def make_solver(model: Layer, loss: Loss, *, optimizer: str = "adam", lr: float | None = None,
                batch_size: int = 32, epochs: int = 10, seed: int | None = 0,
                clip_norm: float | None = 1.0, callbacks: Sequence[Callback] = (),
                checkpoint_path: str | Path | None = None, **solver_options: Any) -> Solver:
    """The optimizer by name (``lr=None``: its own default rate) and a Solver around it."""
    return Solver(model, loss=loss, optimizer=make_optimizer(optimizer, model, lr),
                  batch_size=batch_size, epochs=epochs, seed=seed, clip_norm=clip_norm,
                  callbacks=list(callbacks), checkpoint_path=checkpoint_path, **solver_options)
