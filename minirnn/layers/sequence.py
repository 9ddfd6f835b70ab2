"""Layers that reshape the time axis: keep only the last step (many-to-one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn._validation import check_array
from minirnn.layers.base import Layer

__all__ = ["LastStep"]


class LastStep(Layer):
    """Keep the last time step: (N, T, F) -> (N, F) (Keras ``return_sequences=False``).

    Parameters
    ----------
    batch_first : bool
        Input is (N, T, F) if True, (T, N, F) otherwise.
    """

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = bool(batch_first)
        self._shape: tuple[int, ...] | None = None
        self._dtype: np.dtype | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        check_array(x, "input", ndim=3)
        self._shape = x.shape
        self._dtype = x.dtype
        return x[:, -1] if self.batch_first else x[-1]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._shape is None or self._dtype is None:
            raise RuntimeError("LastStep.backward called before forward")
        n, f = (self._shape[0], self._shape[2]) if self.batch_first else self._shape[1:]
        if not isinstance(dy, np.ndarray) or dy.shape != (n, f):
            raise ValueError(f"dy: expected shape {(n, f)}, got {getattr(dy, 'shape', dy)}")
        dx = np.zeros(self._shape, dtype=dy.dtype)
        if self.batch_first:
            dx[:, -1] = dy
        else:
            dx[-1] = dy
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"batch_first": self.batch_first}

    def __repr__(self) -> str:
        return f"LastStep(batch_first={self.batch_first})"
