"""The worked examples of docs/custom-cells.md: IndRNN, MGU, layer-normalised LSTM."""

import numpy as np
import pytest

from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import check_layer
from minirnn.nn.contrib import AntisymmetricRNNCell, IndRNNCell, LayerNormLSTMCell, MGUCell
from minirnn.nn.layers import Recurrent, bptt

CELLS = [IndRNNCell, MGUCell, LayerNormLSTMCell, AntisymmetricRNNCell]


@pytest.mark.parametrize("cell_class", CELLS, ids=lambda c: c.__name__)
def test_gradients_with_two_layers_both_directions_and_lengths(cell_class):
    layer = Recurrent(cell_class, 2, 3, num_layers=2, bidirectional=True, seed=0)
    x = np.random.default_rng(1).uniform(-2, 2, (2, 4, 2))
    for kwargs in ({}, {"lengths": np.array([4, 2])}):
        report = gradcheck(layer, x, seed=2, forward_kwargs=kwargs)
        assert report.max_relative_error <= 1e-7


@pytest.mark.parametrize("cell_class", CELLS, ids=lambda c: c.__name__)
def test_contract_kit_passes(cell_class):
    report = check_layer(cell_class, max_examples=3)
    assert report.passed
    assert "recurrence max abs err" in str(report)


def test_no_fused_kernel_claimed():
    for cell_class in CELLS:
        assert bptt.kernel_name(cell_class(2, 3)) is None


def test_indrnn_has_an_elementwise_recurrence_and_no_dead_matrix():
    cell = IndRNNCell(3, 4, rng=0)
    shapes = {n: p.shape for n, p in cell.named_parameters()}
    assert shapes == {"weight_ih": (4, 3), "weight_hh": (4,), "bias_ih": (4,)}
    x = np.random.default_rng(0).standard_normal((2, 3))
    h0 = np.random.default_rng(1).standard_normal((2, 4))
    (h,) = cell.forward(x, h0)
    ref = np.maximum(x @ cell.weight_ih.data.T + cell.bias_ih.data + cell.weight_hh.data * h0, 0)
    np.testing.assert_allclose(h, ref, rtol=1e-12)


def test_mgu_matches_its_equations():
    cell = MGUCell(3, 4, rng=0)
    H = 4
    rng = np.random.default_rng(3)
    x, h0 = rng.standard_normal((2, 3)), rng.standard_normal((2, H))
    W, U, b = cell.weight_ih.data, cell.weight_hh.data, cell.bias_ih.data
    f = 1 / (1 + np.exp(-(x @ W[:H].T + h0 @ U[:H].T + b[:H])))
    cand = np.tanh(x @ W[H:].T + (f * h0) @ U[H:].T + b[H:])
    (h,) = cell.forward(x, h0)
    np.testing.assert_allclose(h, (1 - f) * h0 + f * cand, rtol=1e-12)
    assert "bias_hh" not in dict(cell.named_parameters())


def test_layer_norm_lstm_normalises_the_recurrence():
    cell = LayerNormLSTMCell(3, 4, rng=0)
    x = np.zeros((2, 3))
    h0 = np.random.default_rng(4).standard_normal((2, 4))
    c0 = np.zeros((2, 4))
    _, c_small = cell.forward(x, (h0, c0))
    _, c_big = cell.forward(x, (1000.0 * h0, c0))
    # LN(h W^T) is invariant to the scale of h (up to its epsilon).
    np.testing.assert_allclose(c_small, c_big, rtol=1e-4, atol=1e-6)


def test_check_recurrence_catches_a_wrong_hidden_input_grad():
    from minirnn.check.testing import check_recurrence

    class Wrong(IndRNNCell):
        def hidden_input_grad(self, dhp):
            return dhp  # forgets the factor u

    check_recurrence(IndRNNCell(2, 3, rng=0))
    with pytest.raises(AssertionError, match="hidden_input_grad"):
        check_recurrence(Wrong(2, 3, rng=0))


# ------------------------------------------------------------------ AntisymmetricRNN
def _antisymmetric(**kwargs):
    return Recurrent(AntisymmetricRNNCell, 2, 3, num_layers=2, bidirectional=True, seed=0,
                     cell_kwargs={"eps": 0.5, "gamma": 0.1, **kwargs})


def test_antisymmetric_rnn_gradients_with_a_large_step():
    """eps = 0.5 (not the tiny default) so that the recurrence matters in the check."""
    layer = _antisymmetric()
    x = np.random.default_rng(1).uniform(-2, 2, (2, 5, 2))
    for kwargs in ({}, {"lengths": np.array([5, 2])}):
        report = gradcheck(layer, x, seed=2, forward_kwargs=kwargs)
        assert report.max_relative_error <= 1e-7
    cell = AntisymmetricRNNCell(2, 3, rng=0, eps=0.5, gamma=0.1)
    h0 = np.random.default_rng(3).standard_normal((2, 3))
    assert gradcheck(cell, np.ones((2, 2)), (h0,)).max_relative_error <= 1e-7


def test_antisymmetric_rnn_matches_its_equations():
    cell = AntisymmetricRNNCell(3, 4, rng=0, eps=0.3, gamma=0.2)
    rng = np.random.default_rng(4)
    x, h0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    W, V, b = cell.weight_hh.data, cell.weight_ih.data, cell.bias_ih.data
    A = W - W.T - 0.2 * np.eye(4)
    (h,) = cell.forward(x, h0)
    np.testing.assert_allclose(h, h0 + 0.3 * np.tanh(x @ V.T + b + h0 @ A.T), rtol=1e-12)
    assert {n: p.shape for n, p in cell.named_parameters()} == {
        "weight_ih": (4, 3), "weight_hh": (4, 4), "bias_ih": (4,)}
    for bad in ({"eps": 0.0}, {"eps": float("nan")}, {"gamma": -1.0}, {"eps": True}):
        with pytest.raises(ValueError, match="eps|gamma"):
            AntisymmetricRNNCell(3, 4, **bad)


def test_prepare_runs_once_per_sequence_and_its_backward_once_per_backward():
    calls = {"prepare": 0, "prepare_backward": 0}

    class Counted(AntisymmetricRNNCell):
        def prepare(self):
            calls["prepare"] += 1
            return super().prepare()

        def prepare_backward(self, dprepared):
            calls["prepare_backward"] += 1
            super().prepare_backward(dprepared)

    layer = Recurrent(Counted, 2, 3, num_layers=2, bidirectional=True, seed=0)
    x = np.random.default_rng(5).standard_normal((3, 9, 2))
    y = layer.forward(x)
    assert calls["prepare"] == 4  # 2 layers x 2 directions, not 4 x 9 steps
    layer.backward(np.ones_like(y))
    assert calls == {"prepare": 4, "prepare_backward": 4}
    for cell in (c for row in layer.cells for c in row):
        assert "_prepared" not in vars(cell)  # nothing held between calls


def test_a_parameter_change_between_calls_is_seen():
    layer = _antisymmetric()
    x = np.random.default_rng(6).standard_normal((2, 4, 2))
    before = layer.forward(x)
    cell = layer.cells[0][0]
    cell.weight_hh.data[0, 1] += 0.5  # (a symmetric change would leave A as it is)
    after = layer.forward(x)
    assert not np.allclose(before, after)
    fresh = _antisymmetric()
    fresh.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(fresh.forward(x), after)
    # Outside a forward, the recurrence methods see the current parameters too.
    h = np.ones((1, 3))
    np.testing.assert_allclose(cell.project_hidden(h), h @ cell.prepare().T, rtol=1e-15)
