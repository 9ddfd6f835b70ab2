"""GRU cell with PyTorch's equations and gate order (r, z, n), in both reset-gate variants."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import sigmoid_unchecked, tanh
from minirnn.nn.cells.base import Cell, State

__all__ = ["GRUCell"]


class GRUCell(Cell):
    """Gated recurrent unit step (PyTorch ``nn.GRUCell``); gates stacked ``[r, z, n]``.

    Parameters
    ----------
    input_size, hidden_size, bias
        See :class:`minirnn.Cell`.
    reset_after : bool
        True (default): the reset gate multiplies the recurrent product, as in
        PyTorch, cuDNN and Keras's default. False: it multiplies ``h`` before the
        product, as in Cho et al. (2014) and Keras's ``reset_after=False``.
    **kwargs
        dtype, rng and initializers (see :class:`minirnn.Cell`).

    Notes
    -----
    With ``xp = x W_ih^T + b_ih`` split into ``[xp_r, xp_z, xp_n]`` and the rows
    of ``weight_hh`` / ``bias_hh`` into ``W_hr, W_hz, W_hn`` / ``b_hr, b_hz, b_hn``:

    .. math::
        r = \\sigma(xp_r + h W_{hr}^T + b_{hr}),\\quad
        z = \\sigma(xp_z + h W_{hz}^T + b_{hz}) \\\\
        n = \\tanh(xp_n + r \\odot (h W_{hn}^T + b_{hn}))
            \\quad\\text{(reset\\_after=True)} \\\\
        n = \\tanh(xp_n + (r \\odot h) W_{hn}^T + b_{hn})
            \\quad\\text{(reset\\_after=False)} \\\\
        h_t = (1 - z) \\odot n + z \\odot h_{t-1}

    Both variants have the same parameters and shapes. With ``reset_after=False``,
    ``b_hn`` simply adds to ``b_in`` (Keras keeps a single bias of shape (3H,)
    for this variant: it equals ``bias_ih + bias_hh``).

    Because ``r`` sits between ``hp`` and ``n``, dL/dxp and dL/dhp differ in the n
    block, and the cell returns both. With ``reset_after=False`` the n block of
    ``hp`` carries ``h`` itself (the product with ``W_hn`` needs ``r`` first), so
    ``W_hn``'s gradient is accumulated step by step.
    """

    num_chunks = 3
    fused_kernel = "gru"
    allows_zero_hidden = True  # as PyTorch's cell: states of 0 features
    gate_names = ("r", "z", "n")
    state_names = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(reset_after, (bool, np.bool_)):
            raise TypeError(f"reset_after must be a bool, got {type(reset_after).__name__}")
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, bias, **kwargs)

    # With reset_after=False only the r and z blocks of the recurrent product can be
    # computed before the step; the n block of hp carries h itself.
    def project_hidden(self, h: np.ndarray) -> np.ndarray:
        if self.reset_after:
            return super().project_hidden(h)
        H = self.hidden_size
        hp = np.empty((h.shape[0], 3 * H), dtype=h.dtype)
        np.matmul(h, self.weight_hh.data[: 2 * H].T, out=hp[:, : 2 * H])
        if self.bias_hh is not None:
            hp[:, : 2 * H] += self.bias_hh.data[: 2 * H]
        hp[:, 2 * H :] = h
        return hp

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        if self.reset_after:
            super().project_hidden_backward(dhp, h)
            return
        H = self.hidden_size
        self.weight_hh.grad[: 2 * H] += dhp[:, : 2 * H].T @ h
        if self.bias_hh is not None:
            self.bias_hh.grad[: 2 * H] += dhp[:, : 2 * H].sum(axis=0)

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        if self.reset_after:
            return super().hidden_input_grad(dhp)
        H = self.hidden_size
        return dhp[:, : 2 * H] @ self.weight_hh.data[: 2 * H] + dhp[:, 2 * H :]

    def fused_kernel_unsupported(self) -> str | None:
        """The fused kernel covers ``reset_after=True`` (PyTorch's form)."""
        return None if self.reset_after else "reset_after=False"

    def fused_kernel_applies(self) -> bool:
        """The fused kernel covers ``reset_after=True`` (PyTorch's form)."""
        return self.fused_kernel_unsupported() is None

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        h_prev = state[0]
        rz = np.add(xp[:, : 2 * H], hp[:, : 2 * H])
        sigmoid_unchecked(rz, out=rz)
        r = rz[:, :H]
        z = rz[:, H:]
        if self.reset_after:
            hp_n = hp[:, 2 * H :]
            n = r * hp_n
            rh = None
        else:
            hp_n = hp[:, 2 * H :]  # h itself (maybe with recurrent dropout applied)
            rh = r * hp_n
            n = rh @ self.weight_hh.data[2 * H :].T
            if self.bias_hh is not None:
                n += self.bias_hh.data[2 * H :]
        n += xp[:, 2 * H :]
        tanh(n, out=n)
        # h = n + z * (h_prev - n)  ==  (1 - z) n + z h_prev
        h = h_prev - n
        h *= z
        h += n
        return (h,), (rz, n, hp_n, h_prev, rh)

    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        H = self.hidden_size
        rz, n, hp_n, h_prev, rh = cache
        r = rz[:, :H]
        z = rz[:, H:]
        dh = dstate[0]
        dxp = np.empty((dh.shape[0], 3 * H), dtype=dh.dtype)
        da_n = dxp[:, 2 * H :]
        np.multiply(dh, 1.0 - z, out=da_n)
        da_n *= 1.0 - n * n
        # d z: h = (1 - z) n + z h_prev
        np.subtract(h_prev, n, out=dxp[:, H : 2 * H])
        dxp[:, H : 2 * H] *= dh
        dxp[:, H : 2 * H] *= z * (1.0 - z)
        if self.reset_after:
            # d r through n = tanh(xp_n + r * hp_n)
            np.multiply(da_n, hp_n, out=dxp[:, :H])
            dxp[:, :H] *= r * (1.0 - r)
            dhp = dxp.copy()
            dhp[:, 2 * H :] *= r
        else:
            # n = tanh(xp_n + (r * h) W_hn^T + b_hn)
            W_hn = self.weight_hh.data[2 * H :]
            self.weight_hh.grad[2 * H :] += da_n.T @ rh
            if self.bias_hh is not None:
                self.bias_hh.grad[2 * H :] += da_n.sum(axis=0)
            d_rh = da_n @ W_hn
            np.multiply(d_rh, hp_n, out=dxp[:, :H])
            dxp[:, :H] *= r * (1.0 - r)
            dhp = dxp.copy()
            np.multiply(d_rh, r, out=dhp[:, 2 * H :])
        dh_prev = dh * z
        return dxp, dhp, (dh_prev,)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + ("" if self.reset_after else ", reset_after=False") + ")"
