"""Compose layers: :class:`Sequential`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minirnn.layers.base import Layer

__all__ = ["Sequential"]


class Sequential(Layer):
    """Layers applied one after another; backward runs them in reverse.

    Parameter names are qualified by position: ``"0.weight_ih_l0"``, ``"2.weight"``.

    Examples
    --------
    >>> from minirnn.layers import LSTM, LastStep, Dense
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
        for _, layer in self.named_layers():
            reset = getattr(layer, "reset_states", None)
            if callable(reset):
                reset()

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Backward through every layer in reverse order; returns dL/d(input)."""
        for layer in reversed(self._layers.values()):
            dy = layer.backward(dy)
        return dy

    def predict(self, x: np.ndarray, batch_size: int = 256,
                lengths: np.ndarray | None = None) -> np.ndarray:
        """Forward in evaluation mode, in batches, casting ``x`` to the model's dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy ndarray, got {type(x).__name__}")
        x = x.astype(self.dtype, copy=False)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be an int greater than zero, got {batch_size!r}")
        if x.ndim == 0 or len(x) == 0:
            raise ValueError(f"predict: x must not be empty, got shape {x.shape}")
        parts = []
        for i in range(0, len(x), batch_size):
            lb = None if lengths is None else np.asarray(lengths)[i:i + batch_size]
            parts.append(self.forward(x[i:i + batch_size], lengths=lb))
        return np.concatenate(parts, axis=0)

    def get_config(self) -> dict[str, Any]:
        """``{"layers": [{"class": name, "config": {...}}, ...]}``."""
        return {"layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers.values()]}

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({name}): {layer!r}" for name, layer in self._layers.items())
        return f"Sequential(\n{inner}\n)"
