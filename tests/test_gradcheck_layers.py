"""Hypothesis-driven gradient checks of every layer, loss and Sequential, in float64."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minirnn import Sequential
from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.layers import (
    GRU,
    LSTM,
    RNN,
    Dense,
    Dropout,
    Identity,
    LastStep,
    ReLU,
    Sigmoid,
    Tanh,
)
from minirnn.nn.losses import L1, MSE

TOL = 1e-7


def _x(shape, seed, batch_first=True):
    rng = np.random.default_rng(seed)
    dims = (shape.batch, shape.time, shape.features)
    if not batch_first:
        dims = (shape.time, shape.batch, shape.features)
    return rng.uniform(-2, 2, dims)


@pytest.mark.parametrize("layer_class", [LSTM, GRU])
@given(shape=recurrent_shapes(), bias=st.booleans(), seed=seeds(),
       num_layers=st.integers(1, 2), bidirectional=st.booleans(), batch_first=st.booleans())
def test_gated_layer_gradients(layer_class, shape, bias, seed, num_layers, bidirectional,
                               batch_first):
    layer = layer_class(shape.features, shape.hidden, num_layers=num_layers, bias=bias,
                        bidirectional=bidirectional, batch_first=batch_first, seed=seed)
    report = gradcheck(layer, _x(shape, seed, batch_first), seed=seed, tolerance=TOL)
    names = {c.name for c in report.comparisons}
    assert "initial_state.h" in names and "x" in names
    assert len(names) == 1 + len(layer.state_names) + len(layer.parameters())


@given(shape=recurrent_shapes(), bias=st.booleans(), seed=seeds(),
       nonlinearity=st.sampled_from(["tanh", "relu"]), num_layers=st.integers(1, 2),
       bidirectional=st.booleans())
def test_rnn_layer_gradients(shape, bias, seed, nonlinearity, num_layers, bidirectional):
    layer = RNN(shape.features, shape.hidden, num_layers=num_layers, nonlinearity=nonlinearity,
                bias=bias, bidirectional=bidirectional, seed=seed)
    x = _x(shape, seed)
    rng = np.random.default_rng(seed)
    h0 = rng.uniform(-1, 1, (num_layers * (2 if bidirectional else 1), shape.batch,
                             shape.hidden))
    if nonlinearity == "relu":
        assume(_min_abs_preactivation(layer, x, h0) > 1e-3)
    gradcheck(layer, x, h0, seed=seed, tolerance=TOL)


def _min_abs_preactivation(layer, x, h0):
    """Smallest |pre-activation| over all steps, recomputed from the plain equations."""
    smallest = np.inf
    inp = x.transpose(1, 0, 2)
    for k, row in enumerate(layer.cells):
        outs = []
        for d, cell in enumerate(row):
            h = h0[k * len(row) + d]
            ys = [None] * inp.shape[0]
            steps = range(inp.shape[0] - 1, -1, -1) if d else range(inp.shape[0])
            for t in steps:
                pre = cell.project_input(inp[t]) + cell.project_hidden(h)
                smallest = min(smallest, float(np.min(np.abs(pre))))
                h = np.maximum(pre, 0)
                ys[t] = h
            outs.append(np.stack(ys))
        inp = np.concatenate(outs, axis=2)
    return smallest


@given(n=st.integers(1, 4), t=st.integers(1, 4), d=st.integers(1, 5), f=st.integers(1, 5),
       bias=st.booleans(), seed=seeds(), three_d=st.booleans())
def test_dense_gradients(n, t, d, f, bias, seed, three_d):
    layer = Dense(d, f, bias=bias, seed=seed)
    shape = (n, t, d) if three_d else (n, d)
    gradcheck(layer, np.random.default_rng(seed).standard_normal(shape), seed=seed,
              tolerance=TOL)


@pytest.mark.parametrize("layer", [Tanh(), Sigmoid(), Identity(), LastStep(),
                                   LastStep(batch_first=False), Dropout(0.5)])
@given(shape=recurrent_shapes(), seed=seeds())
def test_parameter_free_layer_gradients(layer, shape, seed):
    gradcheck(layer, _x(shape, seed), seed=seed, tolerance=TOL)


@given(shape=recurrent_shapes(), seed=seeds())
def test_relu_gradients(shape, seed):
    x = _x(shape, seed)
    assume(np.min(np.abs(x)) > 1e-3)
    gradcheck(ReLU(), x, seed=seed, tolerance=TOL)


@pytest.mark.parametrize("loss", [MSE(), L1()])
@given(shape=recurrent_shapes(), seed=seeds(), masked=st.booleans(), per_step=st.booleans())
def test_loss_gradients(loss, shape, seed, masked, per_step):
    rng = np.random.default_rng(seed)
    dims = (shape.batch, shape.time, shape.features) if per_step else (shape.batch,
                                                                       shape.features)
    pred, target = rng.standard_normal(dims), rng.standard_normal(dims)
    assume(np.min(np.abs(pred - target)) > 1e-3)  # L1's kink
    if masked:
        mask = rng.random(dims[:-1]) < 0.7
        assume(mask.any())
        gradcheck(loss, pred, target, mask, tolerance=TOL)
    else:
        gradcheck(loss, pred, target, tolerance=TOL)


@pytest.mark.parametrize("recurrent", [RNN, LSTM, GRU])
@given(shape=recurrent_shapes(), seed=seeds(), many_to_one=st.booleans())
def test_sequential_gradients(recurrent, shape, seed, many_to_one):
    rng = np.random.default_rng(seed)
    layers = [recurrent(shape.features, shape.hidden, seed=rng), Tanh()]
    if many_to_one:
        layers.append(LastStep())
    layers.append(Dense(shape.hidden, 2, seed=rng))
    model = Sequential(*layers)
    report = gradcheck(model, _x(shape, seed), seed=seed, tolerance=TOL)
    assert {c.name for c in report.comparisons} == {"x"} | {n for n, _ in
                                                            model.named_parameters()}


def test_gradcheck_leaves_parameters_and_grads_unchanged():
    layer = LSTM(2, 3, seed=0)
    before = layer.state_dict()
    for p in layer.parameters():
        p.grad[...] = 7.0
    gradcheck(layer, np.random.default_rng(0).standard_normal((2, 3, 2)))
    for name, value in layer.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    assert all(np.all(p.grad == 7.0) for p in layer.parameters())
