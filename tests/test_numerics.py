"""Extreme inputs (±1e4 and beyond): finite outputs and gradients in float32 and float64."""

import numpy as np
import pytest

from minirnn._math import sigmoid
from minirnn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.layers import GRU, LSTM, RNN, Sigmoid, Tanh


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_exact_in_the_tails(dtype):
    x = np.array([-1e30, -1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4, 1e30], dtype=dtype)
    s = sigmoid(x)
    assert s.dtype == dtype and np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[4] == 0.5
    np.testing.assert_allclose(s[3], 1 / (1 + np.exp(1.0)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layer", [Tanh(), Sigmoid()], ids=["tanh", "sigmoid"])
def test_activation_layers_with_huge_inputs(dtype, layer):
    x = np.array([[-1e4, -1e30, 0.0, 1e30, 1e4]], dtype=dtype)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)) and dx.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("scale", [1e4, 1e20])
def test_recurrent_layers_with_huge_inputs(dtype, cls, scale):
    layer = cls(3, 4, num_layers=2, bidirectional=True, dtype=dtype, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(dtype) * dtype(scale)
    y = layer.forward(x)
    dx = layer.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.abs(y) <= 1.0 + 1e-6)
    assert np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(p.grad)) for p in layer.parameters())


@pytest.mark.parametrize("cls", [RNNCell, LSTMCell, GRUCell])
def test_cells_saturate_without_nan(cls):
    cell = cls(2, 3, rng=0, dtype=np.float32)
    x = np.array([[1e4, -1e4], [-1e30, 1e30]], dtype=np.float32)
    state = cell.forward(x)
    dx, dstate = cell.backward(tuple(np.ones_like(s) for s in state))
    for a in (*state, dx, *dstate):
        assert np.all(np.isfinite(a))
