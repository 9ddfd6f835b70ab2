"""Elman RNN cell: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn._math import tanh
from minirnn.cells.base import Cell, State, accumulate_sequence_grads

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
            np.tanh(h, out=h)
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


# ------------------------------------------------------------------ sequence kernels
# The recurrent layer runs a plain RNNCell (no mask, no recurrent dropout) through these
# instead of step/step_backward: three numpy calls per step forward, the output sequence
# doubles as the cache, and both biases are added once with the input projection.


def rnn_sequence_forward(
    cell: RNNCell, x_tm: np.ndarray, state0: State, reverse: bool
) -> tuple[np.ndarray, State, tuple[Any, ...]]:
    """Run ``cell`` over x_tm (T, N, D): outputs (T, N, H), final (h,), cache."""
    T, N, D = x_tm.shape
    H = cell.hidden_size
    Y = (x_tm.reshape(T * N, D) @ cell.weight_ih.data.T).reshape(T, N, H)
    if cell.bias_ih is not None and cell.bias_hh is not None:
        Y += cell.bias_ih.data + cell.bias_hh.data
    w_hh = cell.weight_hh.data.T
    hp = np.empty((N, H), x_tm.dtype)
    use_tanh = cell.nonlinearity == "tanh"
    h = state0[0]
    with np.errstate(over="ignore"):
        for t in range(T - 1, -1, -1) if reverse else range(T):
            y = Y[t]
            np.matmul(h, w_hh, out=hp)
            y += hp
            if use_tanh:
                tanh(y, out=y)
            else:
                np.maximum(y, 0, out=y)
            h = y
    return Y, (h,), (x_tm, state0[0], Y, reverse)


def rnn_sequence_backward(
    cell: RNNCell,
    dys: np.ndarray | None,
    dfinal: State | None,
    cache: tuple[Any, ...],
    hidden_grads: np.ndarray | None = None,
) -> tuple[np.ndarray, State]:
    """BPTT of :func:`rnn_sequence_forward`; returns dx (T, N, D) and (dh0,)."""
    x_tm, h0, Y, reverse = cache
    T, N, D = x_tm.shape
    H = cell.hidden_size
    dh = np.zeros((N, H), x_tm.dtype) if dfinal is None else dfinal[0].copy()
    dZ = np.empty_like(Y)
    w_hh = cell.weight_hh.data
    use_tanh = cell.nonlinearity == "tanh"
    for t in range(T) if reverse else range(T - 1, -1, -1):
        if dys is not None:
            dh += dys[t]
        if hidden_grads is not None:
            hidden_grads[t] = dh
        y, dz = Y[t], dZ[t]
        if use_tanh:
            np.multiply(y, y, out=dz)
            np.subtract(1.0, dz, out=dz)
            dz *= dh
        else:
            np.multiply(dh, y > 0, out=dz)
        np.matmul(dz, w_hh, out=dh)
    accumulate_sequence_grads(cell, dZ, Y, h0, x_tm, reverse)
    dx = dZ.reshape(T * N, H) @ cell.weight_ih.data
    return dx.reshape(T, N, D), (dh,)
