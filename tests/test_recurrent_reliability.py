"""Issue 14's kernel items: read-only caches, BLAS thread policy, unbatched input, dropout."""

import threading
import warnings

import numpy as np
import pytest

from minirnn.nn.cells import GRUCell
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Recurrent


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


# ---------------------------------------------------------------- BLAS threads
def _fit(case):
    from minirnn import Sequential, Solver
    from minirnn.nn.layers import LastStep

    layer_factory, x = case
    model = Sequential(layer_factory(), LastStep(), Dense(layer_factory().hidden_size, 1, seed=2,
                                                          dtype=x.dtype))
    y = x[:, -1, :1].copy()
    Solver(model, batch_size=16, epochs=2, seed=0).fit(x, y)
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def test_two_solvers_in_two_threads_match_their_single_thread_results():
    small = (lambda: LSTM(3, 8, seed=0, dtype=np.float32),
             np.random.default_rng(0).standard_normal((32, 6, 3)).astype(np.float32))
    large = (lambda: GRU(16, 160, seed=1),
             np.random.default_rng(1).standard_normal((64, 4, 16)))
    alone = [_fit(small), _fit(large)]
    results: list = [None, None]

    def run(k, case):
        results[k] = _fit(case)

    threads = [threading.Thread(target=run, args=(k, c)) for k, c in enumerate((small, large))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, ref in zip(results, alone, strict=True):
        assert got is not None
        np.testing.assert_array_equal(got, ref)


def test_set_blas_threads_rejects_bad_values():
    from minirnn.train.threads import set_batch_threads, set_blas_threads

    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive int or None"):
            set_blas_threads(bad)
        with pytest.raises(ValueError, match="positive int, got"):
            set_batch_threads(bad)
    with pytest.raises(ValueError, match="positive int, got None"):
        set_batch_threads(None)


# ---------------------------------------------------------------- unbatched input
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


# ---------------------------------------------------------------- dropout
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
