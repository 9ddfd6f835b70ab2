"""Fully connected layer on the last axis."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn import init as initializers
from minirnn.nn._validation import (
    check_array,
    check_finite_output,
    check_float_dtype,
    check_positive_int,
)
from minirnn.nn.layers.base import Layer

__all__ = ["Dense"]


class Dense(Layer):
    """``y = x @ weight.T + bias`` on the last axis (PyTorch ``nn.Linear``).

    Parameters
    ----------
    in_features : int
        D, size of the last axis of the input.
    out_features : int
        F, size of the last axis of the output.
    bias : bool
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        Initial weights ~ U(-1/sqrt(D), 1/sqrt(D)) (PyTorch's default).

    Notes
    -----
    Works on any leading shape: (N, D) -> (N, F) and (N, T, D) -> (N, T, F).
    Parameters: ``weight`` (F, D), ``bias`` (F,).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        shape = (self.out_features, self.in_features)
        self.weight = self.add_parameter("weight", np.empty(shape, dt))
        initializers.uniform_fan_in(self.weight.data, self.in_features, rng)
        self.bias = None
        if bias:
            self.bias = self.add_parameter("bias", np.empty(self.out_features, dt))
            initializers.uniform_fan_in(self.bias.data, self.in_features, rng)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """x (..., D) -> (..., F); an empty batch (N = 0) gives an empty output, as in torch."""
        check_array(x, "input", ndim=(2, 3), dtype=self.dtype, last_dim=self.in_features,
                    allow_empty=True)
        self._x = x
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return check_finite_output(y, "Dense", x)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (..., F) -> dx (..., D); accumulates ``weight.grad`` and ``bias.grad``."""
        if self._x is None:
            raise RuntimeError("Dense.backward called before forward")
        x = self._x
        expected = (*x.shape[:-1], self.out_features)
        if not isinstance(dy, np.ndarray) or dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {getattr(dy, 'shape', dy)}")
        dy2 = dy.reshape(-1, self.out_features)
        self.weight.grad += dy2.T @ x.reshape(-1, self.in_features)
        if self.bias is not None:
            self.bias.grad += dy2.sum(axis=0)
        return dy @ self.weight.data

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": self.bias is not None, "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"Dense(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None})")
