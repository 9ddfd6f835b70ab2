"""LSTM cell with PyTorch's equations and gate order (i, f, g, o)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import sigmoid_unchecked, tanh
from minirnn.nn.cells.base import Cell, State

__all__ = ["LSTMCell"]


class LSTMCell(Cell):
    """Long short-term memory step (PyTorch ``nn.LSTMCell``), optionally projected or peephole.

    The fused matrices stack the gates as ``[i, f, g, o]`` along their first
    axis (rows ``k*H:(k+1)*H`` for gate ``k``), so PyTorch weights load as-is.

    Parameters
    ----------
    input_size, hidden_size, bias
        See :class:`minirnn.Cell`.
    proj_size : int
        P > 0 adds PyTorch's projection ``h_t = (o * tanh(c_t)) @ weight_hr.T``
        with ``weight_hr`` of shape (P, H); ``h`` then has P features and
        ``weight_hh`` is (4H, P). 0 (default) means no projection.
    peephole : bool
        Gers & Schmidhuber (2000) peepholes: ``weight_ci``, ``weight_cf``,
        ``weight_co`` (each (H,)) let the gates see the cell state (not in PyTorch).
    forget_bias : float, optional
        If given, the forget-gate block of ``bias_ih`` is set to this value and
        that of ``bias_hh`` to 0 after initialization (Jozefowicz et al. 2015
        recommend 1.0; Keras's ``unit_forget_bias``).
    **kwargs
        dtype, rng and initializers (see :class:`minirnn.Cell`).

    Notes
    -----
    With ``a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh`` split into four (N, H) blocks:

    .. math::
        i = \\sigma(a_i + w_{ci} c_{t-1}),\\ f = \\sigma(a_f + w_{cf} c_{t-1}),\\
        g = \\tanh(a_g) \\\\
        c_t = f \\odot c_{t-1} + i \\odot g,\\quad o = \\sigma(a_o + w_{co} c_t),\\quad
        h_t = o \\odot \\tanh(c_t)\\ [\\,W_{hr}^T]

    (peephole terms only with ``peephole=True``, the projection only with
    ``proj_size > 0``). State is ``(h, c)``.
    """

    num_chunks = 4
    gate_names = ("i", "f", "g", "o")
    state_names = ("h", "c")
    fused_kernel = "lstm"
    allows_zero_hidden = True  # as PyTorch's cell: states of 0 features

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        proj_size: int = 0,
        peephole: bool = False,
        forget_bias: float | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
            raise TypeError(f"proj_size must be an int, got {type(proj_size).__name__}")
        if proj_size < 0:
            raise ValueError(f"proj_size should be a non-negative integer, got {proj_size}")
        if proj_size and isinstance(hidden_size, int) and proj_size >= hidden_size:
            raise ValueError(
                f"proj_size has to be smaller than hidden_size, got {proj_size} >= {hidden_size}"
            )
        self.proj_size = int(proj_size)
        self.peephole = bool(peephole)
        if forget_bias is not None and not np.isfinite(forget_bias):
            raise ValueError(f"forget_bias must be a finite float, got {forget_bias}")
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias, **kwargs)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def create_extra_parameters(self) -> None:
        H = self.hidden_size
        # PyTorch registers weight_hr after the biases.
        self.weight_hr = self.add_parameter("weight_hr", (self.proj_size, H)) \
            if self.proj_size else None
        self.weight_ci = self.weight_cf = self.weight_co = None
        if self.peephole:
            self.weight_ci = self.add_parameter("weight_ci", (H,))
            self.weight_cf = self.add_parameter("weight_cf", (H,))
            self.weight_co = self.add_parameter("weight_co", (H,))

    def reset_parameters(self, rng: np.random.Generator) -> None:
        super().reset_parameters(rng)
        if self.forget_bias is not None:
            if self.bias_hh is None:
                raise ValueError("forget_bias needs bias=True")
            H = self.hidden_size
            # The whole forget bias in bias_ih (in bias_hh without an input bias).
            if self.bias_ih is not None:
                self.bias_ih.data[H:2 * H] = self.forget_bias
                self.bias_hh.data[H:2 * H] = 0.0
            else:
                self.bias_hh.data[H:2 * H] = self.forget_bias

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        c_prev = state[1]
        gates = np.add(xp, hp)
        if self.peephole:
            return self._peephole_step(gates, c_prev)
        # Sigmoid over all four blocks is one call; g is then overwritten with tanh.
        a_g = gates[:, 2 * H : 3 * H].copy()
        sigmoid_unchecked(gates, out=gates)
        tanh(a_g, out=gates[:, 2 * H : 3 * H])
        i = gates[:, :H]
        f = gates[:, H : 2 * H]
        g = gates[:, 2 * H : 3 * H]
        o = gates[:, 3 * H :]
        c = f * c_prev
        c += i * g
        tanh_c = tanh(c, out=np.empty_like(c))
        h = o * tanh_c
        if self.weight_hr is not None:
            return (h @ self.weight_hr.data.T, c), (gates, c_prev, c, tanh_c, h)
        return (h, c), (gates, c_prev, c, tanh_c, None)

    def _peephole_step(self, gates: np.ndarray, c_prev: np.ndarray) -> tuple[State, Any]:
        H = self.hidden_size
        assert self.weight_ci is not None and self.weight_cf is not None
        assert self.weight_co is not None
        gates[:, :H] += self.weight_ci.data * c_prev
        gates[:, H : 2 * H] += self.weight_cf.data * c_prev
        sigmoid_unchecked(gates[:, : 2 * H], out=gates[:, : 2 * H])
        tanh(gates[:, 2 * H : 3 * H], out=gates[:, 2 * H : 3 * H])
        i, f, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H]
        c = f * c_prev
        c += i * g
        # The output gate looks at the new cell state.
        gates[:, 3 * H :] += self.weight_co.data * c
        sigmoid_unchecked(gates[:, 3 * H :], out=gates[:, 3 * H :])
        tanh_c = tanh(c, out=np.empty_like(c))
        h = gates[:, 3 * H :] * tanh_c
        if self.weight_hr is not None:
            return (h @ self.weight_hr.data.T, c), (gates, c_prev, c, tanh_c, h)
        return (h, c), (gates, c_prev, c, tanh_c, None)

    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        H = self.hidden_size
        gates, c_prev, c, tanh_c, h_unprojected = cache
        dh, dc = dstate
        if self.weight_hr is not None:
            # h = m @ W_hr.T with m = o * tanh(c): per-step outer product into dW_hr.
            self.weight_hr.grad += dh.T @ h_unprojected
            dh = dh @ self.weight_hr.data
        i = gates[:, :H]
        f = gates[:, H : 2 * H]
        g = gates[:, 2 * H : 3 * H]
        o = gates[:, 3 * H :]
        da = np.empty_like(gates)
        da_o = da[:, 3 * H :]
        np.multiply(dh, tanh_c, out=da_o)
        # dc_t collects the direct gradient and the path through h_t = o * tanh(c_t).
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        if self.peephole:
            assert self.weight_co is not None
            da_o *= o * (1.0 - o)
            dc += da_o * self.weight_co.data
        np.multiply(dc, g, out=da[:, :H])
        np.multiply(dc, c_prev, out=da[:, H : 2 * H])
        np.multiply(dc, i, out=da[:, 2 * H : 3 * H])
        # Sigmoid blocks: sigma' = s (1 - s); the tanh block: 1 - g^2.
        if self.peephole:
            ds = gates[:, : 3 * H] * (1.0 - gates[:, : 3 * H])
            ds[:, 2 * H :] = 1.0 - g * g
            da[:, : 3 * H] *= ds
        else:
            ds = gates * (1.0 - gates)
            ds[:, 2 * H : 3 * H] = 1.0 - g * g
            da *= ds
        dc_prev = dc * f
        if self.peephole:
            assert self.weight_ci is not None and self.weight_cf is not None
            assert self.weight_co is not None
            da_i, da_f = da[:, :H], da[:, H : 2 * H]
            dc_prev += da_i * self.weight_ci.data
            dc_prev += da_f * self.weight_cf.data
            self.weight_ci.grad += np.einsum("nh,nh->h", da_i, c_prev)
            self.weight_cf.grad += np.einsum("nh,nh->h", da_f, c_prev)
            self.weight_co.grad += np.einsum("nh,nh->h", da_o, c)
        return da, da, (None, dc_prev)

    def fused_kernel_unsupported(self) -> str | None:
        """The fused kernel covers LSTM without peepholes or projection."""
        if self.peephole:
            return "peephole=True"
        if self.proj_size:
            return f"proj_size={self.proj_size}"
        return None

    def fused_kernel_applies(self) -> bool:
        """The fused kernel covers LSTM without peepholes or projection."""
        return self.fused_kernel_unsupported() is None

    def __repr__(self) -> str:
        extra = ""
        if self.proj_size:
            extra += f", proj_size={self.proj_size}"
        if self.peephole:
            extra += ", peephole=True"
        return super().__repr__()[:-1] + extra + ")"
