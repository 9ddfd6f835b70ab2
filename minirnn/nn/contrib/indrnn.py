"""IndRNN (Li et al. 2018): each unit sees only its own previous value."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell, State


class IndRNNCell(Cell):
    """``h_t = relu(x_t W_ih^T + b_ih + u * h_{t-1})`` with a recurrent vector ``u`` (H,).

    The recurrence is elementwise, so the cell replaces the default fused ``weight_hh``
    (H x H) and ``bias_hh`` by one vector ``weight_hh`` of shape (H,).
    """

    num_chunks = 1
    gate_names = ("h",)
    state_names = ("h",)

    def create_recurrent_parameters(self) -> None:
        self.weight_hh = self.add_parameter("weight_hh", (self.hidden_size,))

    def project_hidden(self, h: np.ndarray) -> np.ndarray:
        return h * self.weight_hh.data

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        self.weight_hh.grad += np.einsum("mh,mh->h", dhp, h)

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        return dhp * self.weight_hh.data

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        h = np.maximum(xp + hp, 0.0)
        return (h,), h

    def step_backward(self, dstate: State, cache: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        dz = dstate[0] * (cache > 0)
        return dz, dz, (None,)  # x and h enter through one sum: dxp is dhp
