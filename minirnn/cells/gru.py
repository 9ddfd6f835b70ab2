"""GRU cell with PyTorch's equations and gate order (r, z, n)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn._math import sigmoid
from minirnn.cells.base import Cell, State

__all__ = ["GRUCell"]


class GRUCell(Cell):
    """Gated recurrent unit step (PyTorch ``nn.GRUCell``, reset gate after the product).

    The fused matrices stack the gates as ``[r, z, n]``.

    Notes
    -----
    With ``xp = x W_ih^T + b_ih`` and ``hp = h_{t-1} W_hh^T + b_hh`` split into
    three (N, H) blocks each:

    .. math::
        r = \\sigma(xp_r + hp_r),\\quad z = \\sigma(xp_z + hp_z) \\\\
        n = \\tanh(xp_n + r \\odot hp_n) \\\\
        h_t = (1 - z) \\odot n + z \\odot h_{t-1}

    Because ``r`` multiplies ``hp_n`` (bias included), dL/dxp and dL/dhp differ
    in the n block: the cell returns both.
    """

    num_chunks = 3
    gate_names = ("r", "z", "n")
    state_names = ("h",)

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        h_prev = state[0]
        rz = np.add(xp[:, : 2 * H], hp[:, : 2 * H])
        sigmoid(rz, out=rz)
        r = rz[:, :H]
        z = rz[:, H:]
        hp_n = hp[:, 2 * H :]
        n = r * hp_n
        n += xp[:, 2 * H :]
        np.tanh(n, out=n)
        # h = n + z * (h_prev - n)  ==  (1 - z) n + z h_prev
        h = h_prev - n
        h *= z
        h += n
        return (h,), (rz, n, hp_n, h_prev)

    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        H = self.hidden_size
        rz, n, hp_n, h_prev = cache
        r = rz[:, :H]
        z = rz[:, H:]
        dh = dstate[0]
        dxp = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)
        da_n = dxp[:, 2 * H :]
        np.multiply(dh, 1.0 - z, out=da_n)
        da_n *= 1.0 - n * n
        # d r: through n = tanh(xp_n + r * hp_n)
        np.multiply(da_n, hp_n, out=dxp[:, :H])
        dxp[:, :H] *= r * (1.0 - r)
        # d z: h = (1 - z) n + z h_prev
        np.subtract(h_prev, n, out=dxp[:, H : 2 * H])
        dxp[:, H : 2 * H] *= dh
        dxp[:, H : 2 * H] *= z * (1.0 - z)
        dhp = dxp.copy()
        dhp[:, 2 * H :] *= r
        dh_prev = dh * z
        return dxp, dhp, (dh_prev,)
