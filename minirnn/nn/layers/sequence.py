"""Layers that reshape the time axis: keep only the last step (many-to-one)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_array, check_lengths
from minirnn.nn.layers.base import Layer

__all__ = ["LastStep"]


class LastStep(Layer):
    """Keep the last time step: (N, T, F) -> (N, F) (Keras ``return_sequences=False``).

    With ``lengths`` (N,), each sequence's last *valid* step ``lengths[i] - 1``
    is taken, as PyTorch users do with ``h_n`` of packed sequences.

    Parameters
    ----------
    batch_first : bool
        Input is (N, T, F) if True, (T, N, F) otherwise.
    """

    accepts_lengths = True

    def __init__(self, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = bool(batch_first)
        self._cache: tuple[tuple[int, ...], np.ndarray] | None = None

    def forward(self, x: np.ndarray, *, training: bool = False,
                lengths: np.ndarray | None = None) -> np.ndarray:
        check_array(x, "input", ndim=3)
        xb = x if self.batch_first else x.transpose(1, 0, 2)
        n, t = xb.shape[:2]
        last = np.full(n, t - 1) if lengths is None else check_lengths(lengths, n, t) - 1
        self._cache = (x.shape, last)
        return xb[np.arange(n), last]

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("LastStep.backward called before forward")
        shape, last = self._cache
        n, f = (shape[0], shape[2]) if self.batch_first else (shape[1], shape[2])
        if not isinstance(dy, np.ndarray) or dy.shape != (n, f):
            raise ValueError(f"dy: expected shape {(n, f)}, got {getattr(dy, 'shape', dy)}")
        dx = np.zeros(shape, dtype=dy.dtype)
        if self.batch_first:
            dx[np.arange(n), last] = dy
        else:
            dx[last, np.arange(n)] = dy
        return dx

    def get_config(self) -> dict[str, Any]:
        return {"batch_first": self.batch_first}

    def __repr__(self) -> str:
        return f"LastStep(batch_first={self.batch_first})"
