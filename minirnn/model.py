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

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Apply every layer in order."""
        for layer in self._layers.values():
            x = layer.forward(x, training=training)
        return x

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Backward through every layer in reverse order; returns dL/d(input)."""
        for layer in reversed(self._layers.values()):
            dy = layer.backward(dy)
        return dy

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Forward in evaluation mode, in batches, casting ``x`` to the model's dtype."""
        x = np.asarray(x, dtype=self.dtype)
        if batch_size <= 0:
            raise ValueError(f"batch_size must be greater than zero, got {batch_size}")
        if len(x) == 0:
            raise ValueError(f"predict: x must not be empty, got shape {x.shape}")
        parts = [self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts, axis=0)

    def get_config(self) -> dict[str, Any]:
        """``{"layers": [{"class": name, "config": {...}}, ...]}``."""
        return {"layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                           for layer in self._layers.values()]}

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({name}): {layer!r}" for name, layer in self._layers.items())
        return f"Sequential(\n{inner}\n)"
