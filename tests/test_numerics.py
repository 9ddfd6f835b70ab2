"""Extreme inputs (±1e4 and beyond): finite outputs and gradients in float32 and float64."""

import numpy as np
import pytest

from minirnn.nn import _math
from minirnn.nn._math import sigmoid
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.layers import GRU, LSTM, RNN, Sigmoid, Tanh


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_and_exact_in_the_tails(dtype, activation_form):
    x = np.array([-1e30, -1e4, -50.0, -1.0, 0.0, 1.0, 50.0, 1e4, 1e30], dtype=dtype)
    s = sigmoid(x)
    assert s.dtype == dtype and np.all(np.isfinite(s))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[4] == 0.5
    np.testing.assert_allclose(s[3], 1 / (1 + np.exp(1.0)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [5, 9000])  # float32 tanh takes the exp form from 8192
def test_both_forms_of_tanh_and_sigmoid_are_accurate(dtype, size, activation_form):
    x = np.random.default_rng(0).uniform(-20.0, 20.0, size).astype(dtype)
    x[:5] = [-1e30, -60.0, 0.0, 60.0, 1e30]
    reference = np.tanh(x.astype(np.longdouble))
    out = np.empty_like(x)
    with np.errstate(over="ignore"):
        t = _math.tanh(x, out=out)
    s = sigmoid(x)
    assert t is out and t.dtype == s.dtype == dtype
    eps = np.finfo(dtype).eps
    # Absolute error: the exp form of tanh cancels near 0 (2/(1 + e) - 1), a few eps.
    np.testing.assert_allclose(t, reference.astype(dtype), rtol=0, atol=4 * eps)
    with np.errstate(over="ignore"):
        sig_ref = (1 / (1 + np.exp(-x.astype(np.longdouble)))).astype(dtype)
    # The tanh form of sigmoid (tanh(x/2)/2 + 1/2) is accurate to eps absolute only in the
    # left tail; the exp form to a few eps relative everywhere.
    np.testing.assert_allclose(s, sig_ref, rtol=4 * eps,
                               atol=eps if activation_form == "tanh" else 0)
    assert t[0] == -1.0 and t[4] == 1.0 and t[2] == 0.0
    assert s[0] == 0.0 and s[4] == 1.0 and s[2] == 0.5


def test_the_form_is_measured_once_or_set_by_the_environment(monkeypatch):
    monkeypatch.setattr(_math, "_EXP_FASTER", {})
    monkeypatch.setenv("MINIRNN_ACTIVATIONS", "exp")
    assert _math.exp_faster(np.float32) is True
    monkeypatch.setenv("MINIRNN_ACTIVATIONS", "tanh")
    assert _math.exp_faster(np.float32) is True  # decided once per process and dtype
    assert _math.exp_faster(np.float64) is False
    monkeypatch.setenv("MINIRNN_ACTIVATIONS", "fast")
    with pytest.raises(ValueError, match=r"MINIRNN_ACTIVATIONS must be 'tanh' or 'exp'.*'fast'"):
        _math.exp_faster(np.float16)
    monkeypatch.delenv("MINIRNN_ACTIVATIONS")
    assert isinstance(_math.exp_faster(np.float16), bool)  # measured


def test_a_standalone_tanh_takes_the_exp_form_only_where_it_measures_faster(monkeypatch):
    """exp faster than tanh per element is not enough: the exp form of tanh is five passes
    (measured 2x slower than np.tanh in float64 on the Zen 5 machine, where exp is 1.4x
    faster than tanh)."""
    big = np.float64
    monkeypatch.delenv("MINIRNN_ACTIVATIONS", raising=False)
    for exp_gates, exp_tanh_measured, expected in [(True, False, False), (True, True, True),
                                                   (False, True, False)]:
        monkeypatch.setattr(_math, "_EXP_FASTER", {np.dtype(big): exp_gates})
        monkeypatch.setattr(_math, "_EXP_TANH", {})
        monkeypatch.setattr(_math, "_measure_exp_tanh_faster", lambda dt, r=exp_tanh_measured: r)
        assert _math.exp_tanh_faster(big) is expected
        f = _math.tanh_function(np.dtype(big), 10_000)
        assert f is (_math._exp_form_tanh if expected else np.tanh)
    # A fixed form skips the measurement: bit-identical runs across machines.
    monkeypatch.setenv("MINIRNN_ACTIVATIONS", "exp")
    monkeypatch.setattr(_math, "_EXP_FASTER", {})
    monkeypatch.setattr(_math, "_EXP_TANH", {})
    monkeypatch.setattr(_math, "_measure_exp_tanh_faster", lambda dt: False)
    assert _math.exp_tanh_faster(big) is True
    monkeypatch.setenv("MINIRNN_ACTIVATIONS", "tanh")
    monkeypatch.setattr(_math, "_EXP_FASTER", {})
    monkeypatch.setattr(_math, "_EXP_TANH", {})
    assert _math.exp_tanh_faster(big) is False
    # The measurement itself runs and answers (whatever this CPU says).
    assert isinstance(_math._measure_exp_tanh_faster(np.dtype(np.float32)), bool)
    # The small float32 rule: np.tanh below 8192 elements whatever the measurement.
    monkeypatch.setattr(_math, "_EXP_TANH", {np.dtype(np.float32): True})
    assert _math.tanh_function(np.dtype(np.float32), 100) is np.tanh
    assert _math.tanh_function(np.dtype(np.float32), 9000) is _math._exp_form_tanh


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
