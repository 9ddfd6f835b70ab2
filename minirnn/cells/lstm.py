"""LSTM cell with PyTorch's equations and gate order (i, f, g, o)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn._math import sigmoid
from minirnn.cells.base import Cell, State

__all__ = ["LSTMCell"]


class LSTMCell(Cell):
    """Long short-term memory step (PyTorch ``nn.LSTMCell``).

    The fused matrices stack the gates as ``[i, f, g, o]`` along their first
    axis (rows ``k*H:(k+1)*H`` for gate ``k``), so PyTorch weights load as-is.

    Notes
    -----
    With ``a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` split into four (N, H) blocks:

    .. math::
        i = \\sigma(a_i),\\ f = \\sigma(a_f),\\ g = \\tanh(a_g),\\ o = \\sigma(a_o) \\\\
        c_t = f \\odot c_{t-1} + i \\odot g,\\qquad h_t = o \\odot \\tanh(c_t)

    State is ``(h, c)``.
    """

    num_chunks = 4
    gate_names = ("i", "f", "g", "o")
    state_names = ("h", "c")

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        c_prev = state[1]
        gates = np.add(xp, hp)
        # Sigmoid over all four blocks is one call; g is then overwritten with tanh.
        a_g = gates[:, 2 * H : 3 * H].copy()
        sigmoid(gates, out=gates)
        np.tanh(a_g, out=gates[:, 2 * H : 3 * H])
        i = gates[:, :H]
        f = gates[:, H : 2 * H]
        g = gates[:, 2 * H : 3 * H]
        o = gates[:, 3 * H :]
        c = f * c_prev
        c += i * g
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), (gates, c_prev, tanh_c)

    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        H = self.hidden_size
        gates, c_prev, tanh_c = cache
        dh, dc = dstate
        i = gates[:, :H]
        f = gates[:, H : 2 * H]
        g = gates[:, 2 * H : 3 * H]
        o = gates[:, 3 * H :]
        # dc_t collects the direct gradient and the path through h_t = o * tanh(c_t).
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        da = np.empty_like(gates)
        np.multiply(dc, g, out=da[:, :H])
        np.multiply(dc, c_prev, out=da[:, H : 2 * H])
        np.multiply(dc, i, out=da[:, 2 * H : 3 * H])
        np.multiply(dh, tanh_c, out=da[:, 3 * H :])
        # Sigmoid blocks: sigma' = s (1 - s); the tanh block: 1 - g^2.
        ds = gates * (1.0 - gates)
        ds[:, 2 * H : 3 * H] = 1.0 - g * g
        da *= ds
        dc_prev = dc * f
        return da, da, (None, dc_prev)
