"""A researcher's own cell gets the recurrent layer for free; a wrong backward is caught;
research cells written against docs/custom-cells.md pass check_layer and save and load."""

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn import Cell, Sequential
from minirnn.check.gradcheck import GradcheckError, gradcheck
from minirnn.check.testing import ContractError, check_layer, recurrent_shapes, seeds
from minirnn.functional import sigmoid, sigmoid_grad, tanh, tanh_grad
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.io import load_model, save_model
from minirnn.nn.layers import Dense, LastStep, Recurrent
from minirnn.nn.registry import register_cell


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


# ------------------------------------------------ research cells, trusted end to end
# Written against docs/custom-cells.md with minirnn.functional, registered as the docs say:
# check_layer runs the whole contract on each (gradients with variable lengths, the model
# file round trip), and an unregistered or wrong one fails.


@register_cell
class JanetCell(Cell):
    """JANET: h_t = f * h_{t-1} + (1 - f) * tanh(a_c), f = sigmoid(a_f)."""

    num_chunks = 2
    gate_names = ("f", "c")
    state_names = ("h",)

    def step(self, xp, hp, state):
        H = self.hidden_size
        a = xp + hp
        f, g = sigmoid(a[:, :H]), tanh(a[:, H:])
        return (f * state[0] + (1.0 - f) * g,), (f, g, state[0])

    def step_backward(self, dstate, cache):
        f, g, h_prev = cache
        dh = dstate[0]
        da = np.concatenate([dh * (h_prev - g) * sigmoid_grad(f),
                             dh * (1.0 - f) * tanh_grad(g)], axis=1)
        return da, da, (dh * f,)


@register_cell
class CifgCell(Cell):
    """LSTM with coupled input and forget gates (i = 1 - f); gates [f, g, o]."""

    num_chunks = 3
    gate_names = ("f", "g", "o")
    state_names = ("h", "c")

    def step(self, xp, hp, state):
        H = self.hidden_size
        a = xp + hp
        f, g, o = sigmoid(a[:, :H]), tanh(a[:, H:2 * H]), sigmoid(a[:, 2 * H:])
        c = f * state[1] + (1.0 - f) * g
        tc = tanh(c)
        return (o * tc, c), (f, g, o, tc, state[1])

    def step_backward(self, dstate, cache):
        f, g, o, tc, c_prev = cache
        dh, dc_next = dstate
        dc = dc_next + dh * o * tanh_grad(tc)
        da = np.concatenate([dc * (c_prev - g) * sigmoid_grad(f),
                             dc * (1.0 - f) * tanh_grad(g),
                             dh * tc * sigmoid_grad(o)], axis=1)
        return da, da, (None, dc * f)


@register_cell
class AntisymmetricCell(Cell):
    """AntisymmetricRNN (Chang et al. 2019): h_t = h + eps * tanh(xp + h M^T + b_hh) with
    M = W - W^T - gamma I, so the recurrence is stable by construction."""

    num_chunks = 1
    gate_names = ("h",)
    state_names = ("h",)
    eps, gamma = 0.5, 0.1

    def create_recurrent_parameters(self):
        super().create_recurrent_parameters()  # weight_hh (H, H) and bias_hh, used as W

    def _m(self):
        w = self.weight_hh.data
        return w - w.T - self.gamma * np.eye(self.hidden_size, dtype=w.dtype)

    def project_hidden(self, h):
        hp = h @ self._m().T
        if self.bias_hh is not None:
            hp += self.bias_hh.data
        return hp

    def project_hidden_backward(self, dhp, h):
        dm = dhp.T @ h
        self.weight_hh.grad += dm - dm.T
        if self.bias_hh is not None:
            self.bias_hh.grad += dhp.sum(axis=0)

    def hidden_input_grad(self, dhp):
        return dhp @ self._m()

    def step(self, xp, hp, state):
        z = tanh(xp + hp)
        return (state[0] + self.eps * z,), z

    def step_backward(self, dstate, cache):
        dh = dstate[0]
        da = dh * self.eps * tanh_grad(cache)
        return da, da, (dh,)  # h_{t-1} also enters directly


RESEARCH_CELLS = [JanetCell, CifgCell, AntisymmetricCell]


@pytest.mark.parametrize("cell_class", RESEARCH_CELLS, ids=lambda c: c.__name__)
def test_research_cells_pass_the_whole_contract(cell_class):
    report = check_layer(cell_class, max_examples=3)
    assert report.passed and not report.skipped
    parts = {c.name: c.detail for c in report.checks}
    assert parts["model file round trip"].startswith("save_model -> load_model")
    assert "padding ignored" in parts["variable lengths"]


@pytest.mark.parametrize("cell_class", RESEARCH_CELLS, ids=lambda c: c.__name__)
def test_research_cells_save_and_load_in_a_model(cell_class, tmp_path):
    model = Sequential(Recurrent(cell_class, 3, 4, num_layers=2, bidirectional=True, seed=0),
                       LastStep(), Dense(8, 2, seed=0))
    x = np.random.default_rng(0).uniform(-1, 1, (3, 5, 3))
    lengths = np.array([5, 2, 4])
    save_model(tmp_path / "m.npz", model)
    loaded = load_model(tmp_path / "m.npz")
    assert loaded[0].cell_class is cell_class
    np.testing.assert_array_equal(loaded.predict(x, lengths=lengths),
                                  model.predict(x, lengths=lengths))


class UnregisteredJanet(JanetCell):
    pass


class JanetWrongGate(JanetCell):
    """Registered, but its forget-gate derivative uses f instead of f (1 - f)."""

    def step_backward(self, dstate, cache):
        f, g, h_prev = cache
        dh = dstate[0]
        da = np.concatenate([dh * (h_prev - g) * f, dh * (1.0 - f) * tanh_grad(g)], axis=1)
        return da, da, (dh * f,)


register_cell(JanetWrongGate)


@pytest.mark.parametrize("cell_class,failing", [
    (UnregisteredJanet, {"model file round trip"}),
    (JanetWrongGate, {"gradient check (float64, fixed cases)",
                      "gradient check (hypothesis, float64)"}),
])
def test_wrong_research_cells_fail_the_contract(cell_class, failing):
    with pytest.raises(ContractError) as info:
        check_layer(cell_class, max_examples=3)
    report = info.value.report
    assert {c.name for c in report.checks if not c.passed} == failing, str(report)
