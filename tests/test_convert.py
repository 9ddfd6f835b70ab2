"""Keras weight conversion: round trips, hand-written equations, and Keras itself."""

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.convert import from_keras_weights, to_keras_weights
from minirnn.nn.layers import GRU, LSTM, RNN

CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def keras_equations(kind, weights, x, reset_after=True):
    """Keras's cell equations written from its documentation (gate order z, r, h for GRU)."""
    kernel, recurrent = weights[0], weights[1]
    H = recurrent.shape[0]
    bias = weights[2] if len(weights) == 3 else np.zeros((2, 3 * H) if kind == "gru" and
                                                         reset_after else kernel.shape[1])
    h = np.zeros((x.shape[0], H))
    c = np.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "rnn":
            h = np.tanh(xt @ kernel + h @ recurrent + bias)
        elif kind == "lstm":
            i, f, g, o = np.split(xt @ kernel + h @ recurrent + bias, 4, axis=1)
            c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
            h = sigmoid(o) * np.tanh(c)
        else:
            b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
            xz, xr, xh = np.split(xt @ kernel + b_in, 3, axis=1)
            if reset_after:
                rz, rr, rh = np.split(h @ recurrent + b_rec, 3, axis=1)
                z, r = sigmoid(xz + rz), sigmoid(xr + rr)
                hh = np.tanh(xh + r * rh)
            else:
                z = sigmoid(xz + h @ recurrent[:, :H])
                r = sigmoid(xr + h @ recurrent[:, H:2 * H])
                hh = np.tanh(xh + (r * h) @ recurrent[:, 2 * H:])
            h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(shape=recurrent_shapes(), seed=seeds(), bias=st.booleans(), reset_after=st.booleans())
def test_to_keras_matches_keras_equations_and_round_trips(kind, shape, seed, bias, reset_after):
    extra = {"reset_after": reset_after} if kind == "gru" else {}
    layer = CLASSES[kind](shape.features, shape.hidden, bias=bias, seed=seed, **extra)
    x = np.random.default_rng(seed).standard_normal((shape.batch, shape.time, shape.features))
    weights = to_keras_weights(kind, layer.state_dict(), reset_after=reset_after)
    assert len(weights) == (3 if bias else 2)
    np.testing.assert_allclose(keras_equations(kind, weights, x, reset_after), layer.forward(x),
                               rtol=1e-12, atol=1e-12)
    back = CLASSES[kind](shape.features, shape.hidden, bias=bias, seed=seed + 1, **extra)
    back.load_state_dict(from_keras_weights(kind, weights, reset_after=reset_after))
    np.testing.assert_allclose(back.forward(x), layer.forward(x), rtol=1e-12, atol=1e-12)


def test_conversion_errors():
    sd = LSTM(2, 4, proj_size=2).state_dict()
    with pytest.raises(ValueError, match="no equivalent of \\['weight_hr_l0'\\]"):
        to_keras_weights("lstm", sd)
    with pytest.raises(ValueError, match="kind must be one of"):
        to_keras_weights("transformer", sd)
    with pytest.raises(ValueError, match=r"kernel \(D, 3\*H\)"):
        from_keras_weights("gru", [np.zeros((2, 8)), np.zeros((4, 8))])
    with pytest.raises(ValueError, match=r"bias must be \(2, 12\)"):
        from_keras_weights("gru", [np.zeros((2, 12)), np.zeros((4, 12)), np.zeros(12)])


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    keras.config.set_floatx("float64")
    return keras


@pytest.mark.parametrize("kind,reset_after", [("rnn", True), ("lstm", True), ("gru", True),
                                              ("gru", False)])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_against_keras_itself(keras, kind, reset_after, bidirectional):
    extra = {"reset_after": reset_after} if kind == "gru" else {}
    ours = CLASSES[kind](3, 5, num_layers=2, bidirectional=bidirectional, seed=0, **extra)
    cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}
    stack = []
    for _ in range(2):
        def make():
            return cls[kind](5, return_sequences=True, **extra)
        stack.append(keras.layers.Bidirectional(make()) if bidirectional else make())
    model = keras.Sequential([keras.Input((4, 3)), *stack])
    sd = ours.state_dict()
    for k, keras_layer in enumerate(stack):
        if bidirectional:
            keras_layer.forward_layer.set_weights(to_keras_weights(kind, sd, layer=k,
                                                                   reset_after=reset_after))
            keras_layer.backward_layer.set_weights(to_keras_weights(
                kind, sd, layer=k, reverse=True, reset_after=reset_after))
        else:
            keras_layer.set_weights(to_keras_weights(kind, sd, layer=k, reset_after=reset_after))
    x = np.random.default_rng(0).standard_normal((2, 4, 3))
    theirs = np.asarray(keras.ops.convert_to_numpy(model(x)))
    # Keras 3.15 on torch differs from float64 equations by ~1e-8 even with floatx float64
    # (some float32 rounding inside); a wrong gate order or bias would differ by ~1e-1. The
    # exact (1e-12) check against Keras's equations is the test above.
    np.testing.assert_allclose(ours.forward(x), theirs, rtol=1e-6, atol=1e-6)
    # And back: Keras weights into a fresh minirnn layer.
    recovered = {}
    for k, keras_layer in enumerate(stack):
        parts = ([(keras_layer.forward_layer, False), (keras_layer.backward_layer, True)]
                 if bidirectional else [(keras_layer, False)])
        for sub, rev in parts:
            recovered.update(from_keras_weights(kind, sub.get_weights(), layer=k, reverse=rev,
                                                reset_after=reset_after))
    fresh = CLASSES[kind](3, 5, num_layers=2, bidirectional=bidirectional, seed=9, **extra)
    fresh.load_state_dict(recovered)
    np.testing.assert_allclose(fresh.forward(x), ours.forward(x), rtol=1e-12, atol=1e-12)
