"""Minimal gated unit (Zhou et al. 2016): one forget gate that also gates the recurrence."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell, State
from minirnn.nn.functional import sigmoid


class MGUCell(Cell):
    """MGU with gate blocks ``[f, h]``; ``weight_hh`` (2H, H) stacks ``U_f`` and ``U_h``.

    .. math::
        f = \\sigma(xp_f + h_{t-1} U_f^T),\\quad
        \\tilde h = \\tanh(xp_h + (f \\odot h_{t-1}) U_h^T),\\quad
        h_t = (1 - f) \\odot h_{t-1} + f \\odot \\tilde h

    ``U_h`` multiplies ``f * h``, which needs f first: the recurrent projection ``hp`` is
    only ``h U_f^T`` (H wide, narrower than ``xp``'s 2H) and the step does the second
    product itself, accumulating ``U_h``'s gradient step by step. The biases are
    ``bias_ih``'s (there is no ``bias_hh``).
    """

    num_chunks = 2
    gate_names = ("f", "h")
    state_names = ("h",)

    def create_recurrent_parameters(self) -> None:
        self.weight_hh = self.add_parameter("weight_hh", (2 * self.hidden_size, self.hidden_size))

    def project_hidden(self, h: np.ndarray) -> np.ndarray:
        return h @ self.weight_hh.data[: self.hidden_size].T

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        self.weight_hh.grad[: self.hidden_size] += dhp.T @ h

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        return dhp @ self.weight_hh.data[: self.hidden_size]

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        h_prev = state[0]
        f = sigmoid(xp[:, :H] + hp)
        fh = f * h_prev
        c = np.tanh(xp[:, H:] + fh @ self.weight_hh.data[H:].T)
        h = h_prev + f * (c - h_prev)
        return (h,), (f, c, h_prev, fh)

    def step_backward(self, dstate: State, cache: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        H = self.hidden_size
        f, c, h_prev, fh = cache
        dh = dstate[0]
        da_h = dh * f * (1.0 - c * c)
        self.weight_hh.grad[H:] += da_h.T @ fh
        dfh = da_h @ self.weight_hh.data[H:]
        da_f = (dh * (c - h_prev) + dfh * h_prev) * f * (1.0 - f)
        dh_prev = dh * (1.0 - f) + dfh * f  # the path through hp is added by the layer
        return np.concatenate([da_f, da_h], axis=1), da_f, (dh_prev,)
