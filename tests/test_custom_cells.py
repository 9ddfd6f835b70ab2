"""A researcher's own cell gets the recurrent layer for free; a wrong backward is caught."""

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn import Cell
from minirnn.check.gradcheck import GradcheckError, gradcheck
from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.layers import Recurrent


class MinimalGatedCell(Cell):
    """A small research cell: h_t = (1 - f) * h_{t-1} + f * tanh(a_c), f = sigmoid(a_f)."""

    num_chunks = 2
    gate_names = ("f", "c")
    state_names = ("h",)

    def step(self, xp, hp, state):
        H = self.hidden_size
        a = xp + hp
        f = 1.0 / (1.0 + np.exp(-a[:, :H]))
        c = np.tanh(a[:, H:])
        h = (1.0 - f) * state[0] + f * c
        return (h,), (f, c, state[0])

    def step_backward(self, dstate, cache: Any):
        f, c, h_prev = cache
        dh = dstate[0]
        da = np.concatenate([dh * (c - h_prev) * f * (1 - f), dh * f * (1 - c * c)], axis=1)
        return da, da, (dh * (1.0 - f),)


@given(shape=recurrent_shapes(), seed=seeds(), num_layers=st.integers(1, 2),
       bidirectional=st.booleans())
def test_custom_cell_in_generic_layer(shape, seed, num_layers, bidirectional):
    layer = Recurrent(MinimalGatedCell, shape.features, shape.hidden, num_layers=num_layers,
                      bidirectional=bidirectional, seed=seed)
    assert layer.state_dict()["weight_ih_l0"].shape == (2 * shape.hidden, shape.features)
    x = np.random.default_rng(seed).uniform(-2, 2, (shape.batch, shape.time, shape.features))
    gradcheck(layer, x, seed=seed)


class ForgetGateSignBug(LSTMCell):
    """LSTM whose backward drops the forget gate's contribution to dc_prev."""

    def step_backward(self, dstate, cache):
        da, _, (dh_prev, dc_prev) = super().step_backward(dstate, cache)
        return da, da, (dh_prev, dc_prev * 0.999)


class GRUResetBug(GRUCell):
    """GRU that forgets to multiply the n block of dL/dhp by r (a classic mistake)."""

    def step_backward(self, dstate, cache):
        dxp, _, rest = super().step_backward(dstate, cache)
        return dxp, dxp, rest


class RNNDerivativeBug(RNNCell):
    """tanh RNN using 1 - h instead of 1 - h^2."""

    def step_backward(self, dstate, cache):
        h = cache
        dz = dstate[0] * (1.0 - h)
        return dz, dz, (None,)


@pytest.mark.parametrize("cell_class", [ForgetGateSignBug, GRUResetBug, RNNDerivativeBug])
def test_gradcheck_catches_wrong_backward(cell_class):
    layer = Recurrent(cell_class, 3, 4, seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 3))
    with pytest.raises(GradcheckError) as info:
        gradcheck(layer, x)
    report = info.value.report
    assert not report.passed
    assert "FAIL" in str(report) and "worst at" in str(report)


def test_gradcheck_catches_wrong_cell_step():
    cell = GRUResetBug(3, 4, rng=0)
    with pytest.raises(GradcheckError, match="weight_hh"):
        gradcheck(cell, np.random.default_rng(1).standard_normal((2, 3)))


def test_gradcheck_rejects_float32():
    layer = Recurrent(MinimalGatedCell, 2, 3, dtype=np.float32, seed=0)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(layer, np.zeros((1, 2, 2), np.float32))
