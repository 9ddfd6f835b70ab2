"""Layer-normalised LSTM (Ba, Kiros & Hinton 2016), normalising the recurrence and the cell."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell, State
from minirnn.nn.functional import sigmoid

_EPS = 1e-5


def layer_norm(x: np.ndarray, gain: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, Any]:
    """Normalise each row of x (N, K) to mean 0 and variance 1, then scale and shift."""
    xc = x - x.mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt((xc * xc).mean(axis=1, keepdims=True) + _EPS)
    xhat = xc * rstd
    return xhat * gain + shift, (xhat, rstd)


def layer_norm_backward(dy: np.ndarray, cache: Any, gain: Any, shift: Any) -> np.ndarray:
    """Accumulate the gain's and shift's grads (Parameters); return dL/dx."""
    xhat, rstd = cache
    gain.grad += (dy * xhat).sum(axis=0)
    shift.grad += dy.sum(axis=0)
    d = dy * gain.data
    return rstd * (d - d.mean(axis=1, keepdims=True)
                   - xhat * (d * xhat).mean(axis=1, keepdims=True))


class LayerNormLSTMCell(Cell):
    """LSTM with ``a = xp + LN(h W_hh^T)`` and ``h = o * tanh(LN(c))``; gates ``[i, f, g, o]``.

    Layer normalisation sits inside the step: ``hp`` is the plain product ``h W_hh^T``
    (no ``bias_hh``: the normalisation's shift plays its part) and the step normalises it
    with ``ln_gain_hh``/``ln_shift_hh`` (4H,), and ``c`` with ``ln_gain_c``/``ln_shift_c``
    (H,). Gains start at 1, shifts at 0. The input projection stays one matrix product
    for all steps (Ba et al. also normalise it; add that in ``step`` if you want it).
    """

    num_chunks = 4
    gate_names = ("i", "f", "g", "o")
    state_names = ("h", "c")

    def create_recurrent_parameters(self) -> None:
        self.weight_hh = self.add_parameter("weight_hh", (4 * self.hidden_size, self.hidden_size))

    def create_extra_parameters(self) -> None:
        H = self.hidden_size
        self.ln_gain_hh = self.add_parameter("ln_gain_hh", (4 * H,))
        self.ln_shift_hh = self.add_parameter("ln_shift_hh", (4 * H,))
        self.ln_gain_c = self.add_parameter("ln_gain_c", (H,))
        self.ln_shift_c = self.add_parameter("ln_shift_c", (H,))

    def reset_parameters(self, rng: np.random.Generator) -> None:
        super().reset_parameters(rng)
        for gain, shift in ((self.ln_gain_hh, self.ln_shift_hh), (self.ln_gain_c, self.ln_shift_c)):
            gain.data[...] = 1.0
            shift.data[...] = 0.0

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        H = self.hidden_size
        c_prev = state[1]
        hn, ln_h = layer_norm(hp, self.ln_gain_hh.data, self.ln_shift_hh.data)
        a = xp + hn
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 3 * H :])
        g = np.tanh(a[:, 2 * H : 3 * H])
        c = f * c_prev + i * g
        cn, ln_c = layer_norm(c, self.ln_gain_c.data, self.ln_shift_c.data)
        tc = np.tanh(cn)
        return (o * tc, c), (i, f, g, o, c_prev, tc, ln_h, ln_c)

    def step_backward(self, dstate: State, cache: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        i, f, g, o, c_prev, tc, ln_h, ln_c = cache
        dh, dc = dstate
        dcn = dh * o * (1.0 - tc * tc)
        dc = dc + layer_norm_backward(dcn, ln_c, self.ln_gain_c, self.ln_shift_c)
        da = np.concatenate([dc * g * i * (1.0 - i), dc * c_prev * f * (1.0 - f),
                             dc * i * (1.0 - g * g), dh * tc * o * (1.0 - o)], axis=1)
        dhp = layer_norm_backward(da, ln_h, self.ln_gain_hh, self.ln_shift_hh)
        return da, dhp, (None, dc * f)
