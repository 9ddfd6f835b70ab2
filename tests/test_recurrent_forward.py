"""Forward values against PyTorch's documented equations, written out plainly."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.layers import GRU, LSTM, RNN


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def ref_step(kind, x, state, w, nonlinearity="tanh"):
    """One step from torch.nn.RNN/LSTM/GRU docs; w = (W_ih, W_hh, b_ih, b_hh)."""
    W_ih, W_hh, b_ih, b_hh = w
    h = state[0]
    if kind == "rnn":
        a = x @ W_ih.T + b_ih + h @ W_hh.T + b_hh
        return (np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0),)
    if kind == "lstm":
        i, f, g, o = np.split(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh, 4, axis=1)
        c = sigmoid(f) * state[1] + sigmoid(i) * np.tanh(g)
        return (sigmoid(o) * np.tanh(c), c)
    xr, xz, xn = np.split(x @ W_ih.T + b_ih, 3, axis=1)
    hr, hz, hn = np.split(h @ W_hh.T + b_hh, 3, axis=1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


def ref_forward(kind, layer, x_tm, states0, nonlinearity="tanh"):
    sd = layer.state_dict()
    dirs = 2 if layer.bidirectional else 1
    inp = x_tm
    finals = [[] for _ in states0]
    for k in range(layer.num_layers):
        outs = []
        for d in range(dirs):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            gh = sd["weight_ih" + sfx].shape[0]
            w = (sd["weight_ih" + sfx], sd["weight_hh" + sfx],
                 sd.get("bias_ih" + sfx, np.zeros(gh)), sd.get("bias_hh" + sfx, np.zeros(gh)))
            state = tuple(s[k * dirs + d] for s in states0)
            ys = [None] * len(inp)
            for t in (reversed(range(len(inp))) if d else range(len(inp))):
                state = ref_step(kind, inp[t], state, w, nonlinearity)
                ys[t] = state[0]
            outs.append(np.stack(ys))
            for j, s in enumerate(state):
                finals[j].append(s)
        inp = np.concatenate(outs, axis=2)
    return inp, tuple(np.stack(f) for f in finals)


@pytest.mark.parametrize("kind,layer_class", [("rnn", RNN), ("lstm", LSTM), ("gru", GRU)])
@given(shape=recurrent_shapes(), seed=seeds(), num_layers=st.integers(1, 3),
       bidirectional=st.booleans(), batch_first=st.booleans(), bias=st.booleans(),
       relu=st.booleans())
def test_forward_matches_reference(kind, layer_class, shape, seed, num_layers, bidirectional,
                                   batch_first, bias, relu):
    kwargs = {"nonlinearity": "relu" if relu else "tanh"} if kind == "rnn" else {}
    layer = layer_class(shape.features, shape.hidden, num_layers=num_layers, bias=bias,
                        batch_first=batch_first, bidirectional=bidirectional, seed=seed,
                        **kwargs)
    rng = np.random.default_rng(seed)
    x_tm = rng.standard_normal((shape.time, shape.batch, shape.features))
    dirs = 2 if bidirectional else 1
    states0 = tuple(rng.standard_normal((num_layers * dirs, shape.batch, shape.hidden))
                    for _ in layer.state_names)
    x = x_tm.transpose(1, 0, 2) if batch_first else x_tm
    y = layer.forward(x, states0)
    y_ref, finals_ref = ref_forward(kind, layer, x_tm, states0, **kwargs)
    if batch_first:
        y_ref = y_ref.transpose(1, 0, 2)
    assert y.shape == y_ref.shape == ((shape.batch, shape.time) if batch_first else
                                      (shape.time, shape.batch)) + (dirs * shape.hidden,)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    for got, want in zip(layer.final_state, finals_ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_state_dict_uses_pytorch_names_and_shapes():
    layer = LSTM(3, 5, num_layers=2, bidirectional=True)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes["weight_ih_l0"] == (20, 3)
    assert shapes["weight_hh_l0_reverse"] == (20, 5)
    assert shapes["weight_ih_l1"] == (20, 10)
    assert shapes["bias_hh_l1_reverse"] == (20,)
    assert list(shapes)[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    gru = GRU(2, 4, bias=False)
    assert sorted(gru.state_dict()) == ["weight_hh_l0", "weight_ih_l0"]


def test_forward_twice_then_backward_uses_second_input():
    layer = GRU(2, 3, seed=0)
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((2, 4, 2)), rng.standard_normal((2, 4, 2))
    g = rng.standard_normal((2, 4, 3))
    layer.forward(x2)
    dx_ref = layer.backward(g)
    ref = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    layer.forward(x1)
    layer.forward(x2)
    np.testing.assert_array_equal(layer.backward(g), dx_ref)
    for n, p in layer.named_parameters():
        np.testing.assert_array_equal(p.grad, ref[n])


def test_input_is_not_mutated():
    layer = LSTM(2, 3, num_layers=2, bidirectional=True, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 4, 2))
    h0 = (np.ones((4, 2, 3)), np.ones((4, 2, 3)))
    x_copy = x.copy()
    y = layer.forward(x, h0)
    dy = np.ones_like(y)
    layer.backward(dy, (np.ones((4, 2, 3)), np.ones((4, 2, 3))))
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dy, 1.0)
    assert all(np.all(s == 1.0) for s in h0)
