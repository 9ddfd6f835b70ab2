"""Elman RNN cell: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import tanh
from minirnn.nn.cells.base import Cell, State

__all__ = ["RNNCell"]

_NONLINEARITIES = ("tanh", "relu")


class RNNCell(Cell):
    """Vanilla RNN step with tanh or ReLU (PyTorch ``nn.RNNCell``).

    Parameters
    ----------
    input_size, hidden_size, bias, **kwargs
        See :class:`minirnn.Cell` (dtype, rng, initializers).
    nonlinearity : {"tanh", "relu"}

    Notes
    -----
    .. math:: h_t = \\phi(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})

    Backward uses the cached output: tanh' = 1 - h^2, relu' = [h > 0].
    """

    num_chunks = 1
    fused_kernel = "rnn"
    allows_zero_hidden = True  # as PyTorch's cell: states of 0 features
    gate_names = ("h",)
    state_names = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        **kwargs: Any,
    ) -> None:
        if nonlinearity not in _NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {_NONLINEARITIES}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, **kwargs)

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        h = np.add(xp, hp)
        if self.nonlinearity == "tanh":
            tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)
        return (h,), h

    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        h = cache
        dz = dstate[0]
        if self.nonlinearity == "tanh":
            dz *= 1.0 - h * h
        else:
            dz *= h > 0
        # x and h enter through the same sum: dxp and dhp are one array.
        return dz, dz, (None,)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", nonlinearity={self.nonlinearity!r})"
