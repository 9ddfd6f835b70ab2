"""Inverted dropout."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_array, check_probability
from minirnn.nn.layers.base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zero each element with probability ``p`` in training and scale the rest by 1/(1-p).

    In evaluation (``training=False``) it is the identity, as in PyTorch and Keras.

    Parameters
    ----------
    p : float in [0, 1)
    seed : int or numpy.random.Generator, optional
    """

    def __init__(self, p: float = 0.5, *, seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.p = check_probability(p, "p")
        self._rng = np.random.default_rng(seed)
        self._mask: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Any shape -> same shape."""
        check_array(x, "input", ndim=(1, 2, 3, 4))
        self._shape = x.shape
        if not training or self.p == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.p
        self._mask = (self._rng.random(x.shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        return x * self._mask

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._shape is None:
            raise RuntimeError("Dropout.backward called before forward")
        if not isinstance(dy, np.ndarray) or dy.shape != self._shape:
            raise ValueError(f"dy: expected shape {self._shape}, got {getattr(dy, 'shape', dy)}")
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
