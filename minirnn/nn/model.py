"""Compose layers: :class:`Sequential`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, Literal, overload

import numpy as np

from minirnn.nn._validation import check_positive_int
from minirnn.nn.layers.base import Layer, no_grad
from minirnn.nn.registry import register_layer

__all__ = ["Sequential", "check_data"]


@register_layer
class Sequential(Layer):
    """Layers applied one after another; backward runs them in reverse.

    Parameter names are qualified by position: ``"0.weight_ih_l0"``, ``"2.weight"``.

    Examples
    --------
    >>> from minirnn.nn.layers import LSTM, LastStep, Dense
    >>> model = Sequential(LSTM(2, 32), LastStep(), Dense(32, 1))
    """

    def __init__(self, *layers: Layer) -> None:
        super().__init__()
        if not layers:
            raise ValueError("Sequential needs at least one layer, got none")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential: argument {i} must be a Layer, got {type(layer).__name__}"
                )
            self.add_layer(str(i), layer)
        dtypes = {p.dtype for p in self.parameters()}
        if len(dtypes) > 1:
            raise TypeError(
                f"Sequential: all layers must share one dtype, got {sorted(map(str, dtypes))}; "
                "use model.astype(np.float32) or pass dtype= to every layer"
            )

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers.values())

    def __iter__(self) -> Iterator[Layer]:
        return iter(self._layers.values())

    def __len__(self) -> int:
        return len(self._layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    accepts_lengths = True

    def forward(
        self, x: np.ndarray, *, training: bool = False, lengths: np.ndarray | None = None
    ) -> np.ndarray:
        """Apply every layer in order.

        ``lengths`` (N,), the valid steps of each sequence, goes to every layer
        that takes it (recurrent layers, :class:`~minirnn.layers.LastStep`)
        while the data is still a sequence (3-D).
        """
        for layer in self._layers.values():
            if lengths is not None and layer.accepts_lengths and x.ndim == 3:
                x = layer.forward(x, training=training, lengths=lengths)  # type: ignore[call-arg]
            else:
                x = layer.forward(x, training=training)
        return x

    def reset_states(self) -> None:
        """Forget the states carried between batches by stateful recurrent layers."""
        for layer in self.state_carriers():
            layer.reset_states()

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Backward through every layer in reverse order; returns dL/d(input)."""
        for layer in reversed(self._layers.values()):
            dy = layer.backward(dy)
        return dy

    @overload
    def predict(self, x: np.ndarray, batch_size: int = ..., lengths: np.ndarray | None = ...,
                *, return_states: Literal[False] = ...) -> np.ndarray: ...

    @overload
    def predict(self, x: np.ndarray, batch_size: int = ..., lengths: np.ndarray | None = ...,
                *, return_states: Literal[True]
                ) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]: ...

    def predict(
        self, x: np.ndarray, batch_size: int = 256, lengths: np.ndarray | None = None, *,
        return_states: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """Forward in evaluation mode, in batches, casting ``x`` to the model's dtype.

        Parameters
        ----------
        x : ndarray, shape (N, T, D) (or whatever the first layer takes)
        batch_size : int
            Samples per forward pass (memory, not results). Models with a
            ``batch_first=False`` layer run the whole input in one pass.
        lengths : array of int, shape (N,), optional
            Valid steps per sequence.
        return_states : bool
            Also return the states of every recurrent layer at every step (R rnn's
            ``predictr(..., hidden = TRUE)``; Keras's ``return_sequences`` plus
            ``return_state`` for every layer at once).

        Returns
        -------
        y : ndarray
            The model's output.
        states : dict, only with ``return_states=True``
            ``{layer name: {state name: array}}`` for each recurrent layer, named as in
            :meth:`named_layers` (``"0"``, ``"2"``...); state names are the cell's
            (``"h"``; ``"h"`` and ``"c"`` for LSTM). Each array has shape
            (num_layers * num_directions, N, T, size) (``batch_first=False``:
            (num_layers * num_directions, T, N, size)), ordered as PyTorch's ``h_n``.
            Entry ``[k, n, t]`` is the state after the layer has read step ``t``
            of sequence ``n`` (the reverse direction reads from the end, so its
            final state is at ``t = 0``); padding steps repeat the last valid state.
        """
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy ndarray, got {type(x).__name__}")
        x = x.astype(self.dtype, copy=False)
        check_positive_int(batch_size, "batch_size")
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"predict: x must not be empty, got shape {x.shape}")
        check_data(self, x, lengths=lengths, what="predict:")
        recurrent: list[tuple[str, Any]] = [(name, layer) for name, layer in self.named_layers()
                     if hasattr(layer, "record_states")] if return_states else []
        if any(not getattr(layer, "batch_first", True) for _, layer in self.named_layers()):
            # (T, N, D) data: splitting axis 0 would cut sequences in time; run it whole.
            batch_size = len(x)
        parts = []
        kept: dict[str, list[list[np.ndarray]]] = {name: [] for name, _ in recurrent}
        for _, layer in recurrent:
            layer.record_states = True
        try:
            for i in range(0, len(x), batch_size):
                lb = None if lengths is None else np.asarray(lengths)[i:i + batch_size]
                with no_grad():  # inference: no caches for backward
                    parts.append(self.forward(x[i:i + batch_size], lengths=lb))
                for name, layer in recurrent:
                    kept[name].append(_stack_states(layer))
        finally:
            for _, layer in recurrent:
                layer.record_states = False
                layer.step_states = []
        y = np.concatenate(parts, axis=0)
        if not return_states:
            return y
        states: dict[str, dict[str, np.ndarray]] = {}
        for name, layer in recurrent:
            # Batches were split along N: axis 1 when batch first, else axis 2.
            axis = 1 if getattr(layer, "batch_first", True) else 2
            states[name] = {
                state: np.concatenate([batch[k] for batch in kept[name]], axis=axis)
                for k, state in enumerate(layer.state_names)
            }
        return y, states

    def save(self, path: str | os.PathLike[str],
             metadata: Mapping[str, Any] | None = None) -> None:
        """Save architecture and weights to ``path`` (``.npz``); load with :func:`minirnn.load`.

        The same file as :func:`minirnn.nn.io.save_model` (``model.save(path)`` follows
        ``torch.save``'s and Keras's argument order: the object first, then the path).
        ``metadata`` is any JSON-serializable mapping kept in the file's header.
        """
        from minirnn.nn.io import save_model

        save_model(path, self, metadata=metadata)

    def predict_proba(self, x: np.ndarray, batch_size: int = 256,
                      lengths: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities of a classifier whose last layer outputs logits: the softmax
        of :meth:`predict` over the last axis, (N, C) (or (N, T, C) per step), float64.

        A single output column is read as a binary logit: ``[1 - p, p]`` with
        ``p = sigmoid(logit)``.
        """
        from minirnn.nn.functional import softmax

        logits = np.asarray(self.predict(x, batch_size, lengths), np.float64)
        if logits.shape[-1] == 1:
            logits = np.concatenate([np.zeros_like(logits), logits], axis=-1)
        return softmax(logits)

    def get_config(self) -> dict[str, Any]:
        """``{"layers": [{"class": name, "config": {...}}, ...]}``."""
        return {"layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers.values()]}

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({name}): {layer!r}" for name, layer in self._layers.items())
        return f"Sequential(\n{inner}\n)"


def _stack_states(layer: Any) -> list[np.ndarray]:
    """A recurrent layer's recorded step states, one array per state name:
    (layers * directions, N, T, size) for ``batch_first`` layers, else (.., T, N, size)."""
    out = []
    for k in range(len(layer.state_names)):
        per_cell = np.stack([states[k] for states in layer.step_states])  # (L*dirs, T, N, size)
        out.append(per_cell.transpose(0, 2, 1, 3) if layer.batch_first else per_cell)
    return out


def _expected_input(layer: Layer) -> str:
    """The input shape a layer takes, in the shape letters of the docs ('' if unknown)."""
    size = getattr(layer, "input_size", None)
    if isinstance(size, int) and hasattr(layer, "cells"):
        shape = f"(N, T, {size})" if getattr(layer, "batch_first", True) else f"(T, N, {size})"
        return f"{shape}: {size} features per step"
    features = getattr(layer, "in_features", None)
    if isinstance(features, int):
        return f"(N, {features}) or (N, T, {features}): {features} features"
    return ""


def _with_batch(shape: tuple[int, ...], n: int) -> tuple[int, ...]:
    return (n, *shape[1:]) if shape else shape


def check_data(model: Layer, x: np.ndarray, y: np.ndarray | None = None,
               loss: Any = None, *, lengths: np.ndarray | None = None,
               what: str = "training") -> None:
    """Raise a ``ValueError`` in the user's terms if ``x`` (and ``y``) do not fit ``model``.

    Runs the model in evaluation mode on the first sample (layer by layer for a
    :class:`Sequential`) so that the message names the layer that refuses the data, the
    shape the user passed (the whole array, not a mini-batch) and the shape expected.
    With ``y`` and ``loss``, also checks the targets against the model's output.
    """
    n = x.shape[0] if x.ndim else 0
    if n == 0 or any(getattr(layer, "stateful", False) for layer in [model, *(
            la for _, la in model.named_layers())]):
        return  # a stateful layer would carry this probe's state into the next batch
    h = x[:1]
    lb = None if lengths is None else np.asarray(lengths)[:1]
    layers: list[tuple[str, Layer]] = (list(model._layers.items())
                                       if isinstance(model, Sequential) else [("0", model)])
    whole = not isinstance(model, Sequential)
    for i, (name, layer) in enumerate(layers):
        try:
            if lb is not None and layer.accepts_lengths and h.ndim == 3:
                h = layer.forward(h, lengths=lb)  # type: ignore[call-arg]
            else:
                h = layer.forward(h)
        except (ValueError, TypeError) as exc:
            expected = _expected_input(layer)
            label = type(model).__name__ if whole else f"layer {name} ({type(layer).__name__})"
            # The layer's own message speaks of the one-sample probe: keep it only when
            # there is nothing better to say.
            want = f"expects {expected}" if expected else f"refuses it ({exc})"
            if i == 0:
                message = f"{what} x has shape {x.shape}, but {label} {want}"
            else:
                message = (f"{label} {want}, but gets {_with_batch(h.shape, n)} from layer "
                           f"{layers[i - 1][0]} ({type(layers[i - 1][1]).__name__}): the "
                           "model's layers do not fit together")
            raise type(exc)(message) from exc
    if y is None or loss is None:
        return
    try:
        loss.forward(h, y[:1])
    except (ValueError, TypeError):
        # Repeat on the whole targets against a read-only broadcast of the probe output,
        # so that the loss's own message names the user's shapes.
        try:
            loss.forward(np.broadcast_to(h, (n, *h.shape[1:])), y)
        except (ValueError, TypeError) as exc:
            raise type(exc)(
                f"{what} y has shape {y.shape}, but the model's output for x {x.shape} has "
                f"shape {_with_batch(h.shape, n)}: {exc}") from exc
