"""Every recurrent option: gradient checks (masks included) and behaviour."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn import Cell, Layer
from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Recurrent

TOL = 1e-7
CLASSES = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class FixedNoise(Layer):
    """Runs ``inner`` in training mode with the same random masks at every forward."""

    def __init__(self, inner, seed):
        super().__init__()
        self.inner = self.add_layer("inner", inner)
        self.seed = seed

    def forward(self, x, *, training=False):
        self.inner._rng = np.random.default_rng(self.seed)
        return self.inner.forward(x, training=True)

    def backward(self, dy):
        return self.inner.backward(dy)


def _options(kind, draw):
    if kind == "lstm":
        return {"peephole": draw(st.booleans()), "proj": draw(st.integers(0, 4)),
                "forget_bias": draw(st.sampled_from([None, 1.0]))}
    if kind == "gru":
        return {"reset_after": draw(st.booleans())}
    return {}


def _make(kind, shape, seed, num_layers, bidirectional, extra, **kwargs):
    extra = dict(extra)
    if kind == "lstm":
        proj = extra.pop("proj") % shape.hidden
        extra["proj_size"] = proj
    return CLASSES[kind](shape.features, shape.hidden, num_layers=num_layers,
                         bidirectional=bidirectional, seed=seed, **extra, **kwargs)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(shape=recurrent_shapes(), seed=seeds(), num_layers=st.integers(1, 2),
       bidirectional=st.booleans(), bias=st.booleans(), learned=st.booleans(), data=st.data())
def test_gradients_with_lengths_and_options(kind, shape, seed, num_layers, bidirectional, bias,
                                            learned, data):
    extra = _options(kind, data.draw)
    if not bias:
        extra.pop("forget_bias", None)
    layer = _make(kind, shape, seed, num_layers, bidirectional, extra, bias=bias,
                  learn_initial_state=learned)
    rng = np.random.default_rng(seed)
    for p in layer.initial_state_params:
        p.data[...] = rng.uniform(-1, 1, p.shape)
    lengths = np.array(data.draw(st.lists(st.integers(1, shape.time), min_size=shape.batch,
                                          max_size=shape.batch)))
    x = rng.uniform(-2, 2, (shape.batch, shape.time, shape.features))
    report = gradcheck(layer, x, seed=seed, tolerance=TOL, forward_kwargs={"lengths": lengths})
    names = {c.name for c in report.comparisons}
    assert ("h0" in names) == learned and ("initial_state.h" in names) != learned


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(shape=recurrent_shapes(), seed=seeds(), num_layers=st.integers(1, 3),
       bidirectional=st.booleans(), dropout=st.sampled_from([0.0, 0.3]),
       recurrent_dropout=st.sampled_from([0.0, 0.4]), data=st.data())
def test_gradients_with_dropout_masks_in_training(kind, shape, seed, num_layers, bidirectional,
                                                  dropout, recurrent_dropout, data):
    extra = _options(kind, data.draw)
    layer = _make(kind, shape, seed, num_layers, bidirectional, extra, dropout=dropout,
                  recurrent_dropout=recurrent_dropout)
    x = np.random.default_rng(seed).uniform(-2, 2, (shape.batch, shape.time, shape.features))
    gradcheck(FixedNoise(layer, seed), x, seed=seed, tolerance=TOL)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_dropout_only_in_training(kind):
    layer = CLASSES[kind](3, 6, num_layers=3, dropout=0.5, recurrent_dropout=0.5, seed=0)
    plain = CLASSES[kind](3, 6, num_layers=3, seed=0)
    plain.load_state_dict(layer.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    np.testing.assert_array_equal(layer.forward(x), plain.forward(x))
    np.testing.assert_array_equal(layer.forward(x, training=False), plain.forward(x))
    a, b = layer.forward(x, training=True), layer.forward(x, training=True)
    assert not np.allclose(a, plain.forward(x)) and not np.allclose(a, b)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@given(shape=recurrent_shapes(max_time=6), seed=seeds(), bidirectional=st.booleans(),
       num_layers=st.integers(1, 2), data=st.data())
def test_padding_changes_nothing(kind, shape, seed, bidirectional, num_layers, data):
    """Each sequence alone, truncated to its length, gives the same outputs, states, grads."""
    layer = CLASSES[kind](shape.features, shape.hidden, num_layers=num_layers,
                          bidirectional=bidirectional, seed=seed)
    rng = np.random.default_rng(seed)
    N, T = shape.batch, shape.time
    lengths = np.array(data.draw(st.lists(st.integers(1, T), min_size=N, max_size=N)))
    x = rng.standard_normal((N, T, shape.features))
    x[np.arange(T)[None, :] >= lengths[:, None]] = 1e3  # garbage in the padding
    y = layer.forward(x, lengths=lengths)
    dy = rng.standard_normal(y.shape)
    d_final = tuple(rng.standard_normal(s.shape) for s in layer.final_state)
    finals = layer.final_state
    layer.zero_grad()
    dx = layer.backward(dy, d_final)
    batch_grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    assert np.all(y[np.arange(T)[None, :] >= lengths[:, None]] == 0)
    assert np.all(dx[np.arange(T)[None, :] >= lengths[:, None]] == 0)
    layer.zero_grad()
    for i, n in enumerate(lengths):
        yi = layer.forward(x[i:i + 1, :n])
        np.testing.assert_allclose(yi[0], y[i, :n], rtol=1e-12, atol=1e-12)
        for s_alone, s_batch in zip(layer.final_state, finals, strict=True):
            np.testing.assert_allclose(s_alone[:, 0], s_batch[:, i], rtol=1e-12, atol=1e-12)
        dxi = layer.backward(dy[i:i + 1, :n], tuple(d[:, i:i + 1] for d in d_final))
        np.testing.assert_allclose(dxi[0], dx[i, :n], rtol=1e-10, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, batch_grads[name], rtol=1e-10, atol=1e-12)


def test_lengths_validation():
    layer = GRU(2, 3)
    x = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match=r"shape \(N,\) = \(2,\), got \(3,\)"):
        layer.forward(x, lengths=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"in \[1, T\] = \[1, 4\], got min 0 max 2"):
        layer.forward(x, lengths=np.array([0, 2]))
    with pytest.raises(ValueError, match="got min 2 max 5"):
        layer.forward(x, lengths=[5, 2])
    with pytest.raises(TypeError, match="lengths must be integers"):
        layer.forward(x, lengths=np.array([1.5, 2.0]))


def test_projected_lstm_shapes():
    layer = LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=2, seed=0)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes["weight_hr_l0"] == (2, 6) and shapes["weight_hh_l1_reverse"] == (24, 2)
    assert shapes["weight_ih_l1"] == (24, 4)
    y = layer.forward(np.zeros((5, 7, 3)))
    assert y.shape == (5, 7, 4)
    assert layer.h_n.shape == (4, 5, 2) and layer.c_n.shape == (4, 5, 6)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        LSTM(3, 4, proj_size=4)


def test_learned_initial_state_trains_and_is_used():
    layer = GRU(2, 3, num_layers=2, learn_initial_state=True, seed=0)
    assert layer.state_dict()["h0"].shape == (2, 3)
    x = np.zeros((4, 1, 2))
    base = layer.forward(x)
    layer.initial_state_params[0].data[...] = 0.5
    assert not np.allclose(layer.forward(x), base)
    # An explicit initial state overrides the learned one.
    np.testing.assert_allclose(layer.forward(x, np.zeros((2, 4, 3))), base)


def test_initializers():
    rng_layer = LSTM(5, 8, kernel_init="xavier_uniform", recurrent_init="orthogonal",
                     bias_init="zeros", forget_bias=1.0, seed=0)
    w_hh = rng_layer.state_dict()["weight_hh_l0"]
    for block in np.split(w_hh, 4):
        np.testing.assert_allclose(block @ block.T, np.eye(8), atol=1e-12)
    w_ih = rng_layer.state_dict()["weight_ih_l0"]
    assert np.abs(w_ih).max() <= np.sqrt(6 / (5 + 8))
    b_ih, b_hh = rng_layer.state_dict()["bias_ih_l0"], rng_layer.state_dict()["bias_hh_l0"]
    np.testing.assert_array_equal(b_ih[8:16], 1.0)
    assert np.all(b_hh == 0) and np.all(b_ih[:8] == 0)
    he = GRU(50, 40, kernel_init="he_normal", seed=0).state_dict()["weight_ih_l0"]
    assert he.std() == pytest.approx(np.sqrt(2 / 50), rel=0.1)
    custom = RNN(2, 3, kernel_init=lambda block, rng: block.fill(0.25), seed=0)
    assert np.all(custom.state_dict()["weight_ih_l0"] == 0.25)
    default = RNN(2, 16, seed=0).state_dict()["weight_hh_l0"]
    assert np.abs(default).max() <= 0.25
    with pytest.raises(ValueError, match="unknown initializer 'glorot'"):
        RNN(2, 3, kernel_init="glorot")
    with pytest.raises(ValueError, match="needs a matrix"):
        RNN(2, 3, bias_init="orthogonal")
    with pytest.raises(ValueError, match="forget_bias needs bias=True"):
        LSTMCell(2, 3, bias=False, forget_bias=1.0)


# ------------------------------------------------------------------ input_bias
@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell, RNNCell])
def test_input_bias_false_drops_bias_ih_only(cell_class):
    from minirnn.nn.layers import Recurrent

    layer = Recurrent(cell_class, 3, 4, num_layers=2, bidirectional=True, seed=0,
                      cell_kwargs={"input_bias": False})
    names = {n for n, _ in layer.named_parameters()}
    assert "bias_hh_l1_reverse" in names and not any(n.startswith("bias_ih") for n in names)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 3))
    assert gradcheck(layer, x, seed=1).max_relative_error <= 1e-7
    # The same numbers as the usual cell with a zero input bias.
    full = Recurrent(cell_class, 3, 4, num_layers=2, bidirectional=True, seed=0)
    state = {k: (np.zeros_like(v) if k.startswith("bias_ih") else layer.state_dict()[k])
             for k, v in full.state_dict().items()}
    full.load_state_dict(state)
    np.testing.assert_allclose(layer.forward(x), full.forward(x), rtol=1e-12, atol=1e-14)


def test_bias_false_keeps_pytorch_semantics_and_input_bias_is_checked():
    cell = LSTMCell(3, 4, bias=False, input_bias=False)
    assert cell.bias_ih is None and cell.bias_hh is None
    assert [n for n, _ in LSTMCell(3, 4, bias=False).named_parameters()] == [
        "weight_ih", "weight_hh"]
    with pytest.raises(TypeError, match="input_bias must be a bool, got str"):
        GRUCell(3, 4, input_bias="no")
    lstm = LSTMCell(3, 4, input_bias=False, forget_bias=1.0)
    np.testing.assert_array_equal(lstm.bias_hh.data[4:8], 1.0)  # the forget bias in b_hh


# ------------------------------------------------------------------ one state check
def test_cells_and_layers_check_states_alike():
    cell, layer = LSTMCell(3, 4), LSTM(3, 4)
    x1, x = np.zeros((2, 3)), np.zeros((2, 5, 3))
    h, c = np.zeros((2, 4)), np.ones((2, 4))
    # A list is a state as a tuple is, for the cell and for the layer.
    np.testing.assert_array_equal(cell.forward(x1, [h, c])[1], cell.forward(x1, (h, c))[1])
    layer.forward(x, [h[None], c[None]])
    for bad, shown in ((h, "ndarray"), ((h,), "tuple of length 1"), ([h, c, c], "list of")):
        with pytest.raises(ValueError, match=f"tuple of 2 arrays .*got {shown}"):
            cell.forward(x1, bad)
        layer_bad = bad[None] if isinstance(bad, np.ndarray) else type(bad)(
            s[None] for s in bad)
        with pytest.raises(ValueError, match=f"tuple of 2 arrays .*got {shown}"):
            layer.forward(x, layer_bad)
    with pytest.raises(ValueError, match=r"state 'c': expected shape \(2, 4\), got \(2, 3\)"):
        cell.forward(x1, (h, np.zeros((2, 3))))
    with pytest.raises(TypeError, match="dtype"):
        cell.forward(x1, (h, np.zeros((2, 4), np.int64)))


class MultiplicativeLSTMCell(Cell):
    """mLSTM (Krause et al. 2016): ``m = (x W_mx^T) * (h W_mh^T)``, then LSTM gates from
    ``x W_x^T + m W_hm^T + b``. The m chunk of ``xp`` must have no bias: ``input_bias=False``
    drops ``bias_ih``, and the gates' bias ``b`` is ``bias_hh`` (4H,) of the recurrence."""

    num_chunks = 5
    gate_names = ("m", "i", "f", "g", "o")
    state_names = ("h", "c")

    def __init__(self, input_size, hidden_size, bias=True, **kwargs):
        super().__init__(input_size, hidden_size, bias, input_bias=False, **kwargs)

    def create_recurrent_parameters(self):
        H = self.hidden_size
        self.weight_hh = self.add_parameter("weight_hh", (H, H))  # W_mh
        if self.bias:
            self.bias_hh = self.add_parameter("bias_hh", (4 * H,))

    def create_extra_parameters(self):
        self.weight_hm = self.add_parameter("weight_hm", (4 * self.hidden_size,
                                                          self.hidden_size))

    def step(self, xp, hp, state):
        H = self.hidden_size
        m = xp[:, :H] * hp
        a = xp[:, H:] + m @ self.weight_hm.data.T
        if self.bias_hh is not None:
            a += self.bias_hh.data
        gates = 1.0 / (1.0 + np.exp(-a))
        gates[:, 2 * H : 3 * H] = np.tanh(a[:, 2 * H : 3 * H])
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        c = f * state[1] + i * g
        tc = np.tanh(c)
        return (o * tc, c), (xp[:, :H].copy(), hp, m, gates, state[1], tc)

    def step_backward(self, dstate, cache):
        H = self.hidden_size
        xm, hp, m, gates, c_prev, tc = cache
        dh, dc = dstate
        i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
        dc = dc + dh * o * (1.0 - tc * tc)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f),
                             dc * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
        self.weight_hm.grad += da.T @ m
        if self.bias_hh is not None:
            self.bias_hh.grad += da.sum(axis=0)
        dm = da @ self.weight_hm.data
        return np.concatenate([dm * hp, da], axis=1), dm * xm, (None, dc * f)

    def project_hidden(self, h):
        return h @ self.weight_hh.data.T

    def project_hidden_backward(self, dhp, h):
        self.weight_hh.grad += dhp.T @ h

    def hidden_input_grad(self, dhp):
        return dhp @ self.weight_hh.data


def test_a_multiplicative_lstm_is_written_exactly_with_input_bias_false():
    from minirnn.nn.layers import Recurrent

    layer = Recurrent(MultiplicativeLSTMCell, 3, 4, num_layers=2, bidirectional=True, seed=0)
    shapes = {n: p.shape for n, p in layer.named_parameters() if n.endswith("_l0")}
    assert shapes == {"weight_ih_l0": (20, 3), "weight_hh_l0": (4, 4), "bias_hh_l0": (16,),
                      "weight_hm_l0": (16, 4)}  # no bias on the m chunk, none twice
    x = np.random.default_rng(2).uniform(-1, 1, (2, 5, 3))
    for kwargs in ({}, {"lengths": np.array([5, 3])}):
        assert gradcheck(layer, x, seed=3, forward_kwargs=kwargs).max_relative_error <= TOL
    cell = layer.cells[0][0]
    xs, h0 = x[:, 0], np.random.default_rng(4).standard_normal((2, 4))
    W = cell.weight_ih.data
    m = (xs @ W[:4].T) * (h0 @ cell.weight_hh.data.T)  # exactly: no bias inside m
    a = xs @ W[4:].T + m @ cell.weight_hm.data.T + cell.bias_hh.data
    sig = 1 / (1 + np.exp(-a))
    c = sig[:, 4:8] * 0.0 + sig[:, :4] * np.tanh(a[:, 8:12])
    h, c_new = cell.forward(xs, (h0, np.zeros((2, 4))))
    np.testing.assert_allclose(c_new, c, rtol=1e-12)
    np.testing.assert_allclose(h, sig[:, 12:] * np.tanh(c), rtol=1e-12)


class SubclassedGRUCell(GRUCell):
    """A subclass runs the generic per-step path."""


LAYERS = {
    "rnn": lambda: RNN(3, 4, num_layers=2, bidirectional=True, seed=0),
    "rnn_relu": lambda: RNN(3, 4, nonlinearity="relu", seed=0),
    "gru": lambda: GRU(3, 4, num_layers=2, bidirectional=True, seed=0),
    "gru_reset_before": lambda: GRU(3, 4, reset_after=False, bidirectional=True, seed=0),
    "lstm": lambda: LSTM(3, 4, num_layers=2, bidirectional=True, seed=0),
    "lstm_proj": lambda: LSTM(3, 4, proj_size=2, bidirectional=True, seed=0),
    "lstm_peephole": lambda: LSTM(3, 4, peephole=True, seed=0),
    "generic": lambda: Recurrent(SubclassedGRUCell, 3, 4, num_layers=2, seed=0),
    "dense": lambda: Dense(3, 4, seed=0),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_second_backward_accumulates_exactly_twice(name):
    layer = LAYERS[name]()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 5, 3))
    y = layer.forward(x)
    dy = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx1 = layer.backward(dy)
    once = {n: p.grad.copy() for n, p in layer.named_parameters()}
    dx2 = layer.backward(dy)
    np.testing.assert_array_equal(dx1, dx2)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-12, atol=1e-15, err_msg=n)


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
@pytest.mark.parametrize("batch_first", [True, False])
def test_unbatched_input_matches_a_batch_of_one(cls, batch_first):
    layer = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first, seed=0)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 3))
    n_states = len(layer.state_names)
    states = tuple(rng.standard_normal((4, 4)) for _ in range(n_states))
    y = layer.forward(x, states if n_states > 1 else states[0])
    final = layer.final_state
    dy = rng.standard_normal(y.shape)
    layer.zero_grad()
    dx = layer.backward(dy)
    grads = [p.grad.copy() for p in layer.parameters()]
    init_grad = layer.initial_state_grad
    assert y.shape == (5, 8) and dx.shape == (5, 3)
    assert all(s.shape == (4, 4) for s in final)
    assert all(g.shape == (4, 4) for g in init_grad)

    xb = x[None] if batch_first else x[:, None]
    yb = layer.forward(xb, tuple(s[:, None] for s in states))
    layer.zero_grad()
    dyb = dy[None] if batch_first else dy[:, None]
    dxb = layer.backward(dyb)
    np.testing.assert_allclose(y, yb[0] if batch_first else yb[:, 0], rtol=1e-12)
    np.testing.assert_allclose(dx, dxb[0] if batch_first else dxb[:, 0], rtol=1e-12)
    for s, sb in zip(final, layer.final_state, strict=True):
        np.testing.assert_allclose(s, sb[:, 0], rtol=1e-12)
    for g, p in zip(grads, layer.parameters(), strict=True):
        np.testing.assert_allclose(g, p.grad, rtol=1e-12)


def test_unbatched_input_refuses_batched_states_and_lengths():
    layer = GRU(3, 4, seed=0)
    x = np.zeros((5, 3))
    with pytest.raises(ValueError, match="unbatched input"):
        layer.forward(x, np.zeros((1, 1, 4)))
    with pytest.raises(ValueError, match="lengths needs batched input"):
        layer.forward(x, lengths=np.array([3]))


def test_dropout_one_is_accepted_and_drops_everything():
    layer = GRU(3, 4, num_layers=2, dropout=1.0, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    y = layer.forward(x, training=True)
    assert np.isfinite(y).all()
    # The second layer sees only zeros: its output is the zero-input response.
    assert np.isfinite(layer.backward(np.ones_like(y))).all()
    assert not layer.cells[0][0].weight_ih.grad.any()


def test_dropout_set_after_construction_is_validated_and_finite():
    layer = LSTM(3, 4, num_layers=2, seed=0)
    layer.dropout = 1.0
    y = layer.forward(np.ones((2, 5, 3)), training=True)
    assert np.isfinite(y).all()
    assert layer.get_config()["dropout"] == 1.0
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\], got 1.5"):
        layer.dropout = 1.5
    assert layer.dropout == 1.0
    layer.recurrent_dropout = 1.0
    assert np.isfinite(layer.forward(np.ones((2, 5, 3)), training=True)).all()


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        RNN(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RNN(3, 4, num_layers=2, dropout=0.5)
        RNN(3, 4, dropout=0.0)
