"""Bad input gets a clear exception naming what was expected and what was given."""

import numpy as np
import pytest

from minirnn import Sequential, Solver
from minirnn.nn._validation import check_finite_float, check_int, is_real_number
from minirnn.nn.cells import LSTMCell, RNNCell
from minirnn.nn.layers import (
    GRU,
    LSTM,
    RNN,
    Dense,
    Dropout,
    Embedding,
    Gompertz,
    LastStep,
    Tanh,
)
from minirnn.nn.losses import MSE
from minirnn.nn.metrics import TopKAccuracy
from minirnn.nn.optim import SGD, Adam
from minirnn.train.callbacks import EarlyStopping


@pytest.mark.parametrize("layer_class", [RNN, LSTM, GRU])
def test_recurrent_input_errors(layer_class):
    layer = layer_class(3, 4)
    # (T, D) is PyTorch's unbatched input; 1-D and 4-D are refused.
    with pytest.raises(ValueError, match=r"must be 2-D or 3-D, got 1-D array of shape \(3,\)"):
        layer.forward(np.zeros(3))
    with pytest.raises(ValueError, match=r"must be 2-D or 3-D, got 4-D array"):
        layer.forward(np.zeros((1, 2, 5, 3)))
    with pytest.raises(ValueError, match=r"3 features on its last axis, got shape \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4)))
    with pytest.raises(TypeError, match="dtype float64.*got float32"):
        layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(TypeError, match="numpy ndarray, got list"):
        layer.forward([[[0.0, 0.0, 0.0]]])
    with pytest.raises(ValueError, match="NaN or Inf"):
        layer.forward(np.full((1, 2, 3), np.nan))
    with pytest.raises(ValueError, match="must not be empty"):  # no steps (torch refuses too)
        layer.forward(np.zeros((2, 0, 3)))
    with pytest.raises(TypeError, match="dtype"):
        layer.forward(np.zeros((1, 2, 3), dtype=np.int64))


def test_initial_state_errors():
    layer = LSTM(3, 4, num_layers=2)
    x = np.zeros((5, 6, 3))
    with pytest.raises(ValueError, match="tuple of 2 arrays"):
        layer.forward(x, np.zeros((2, 5, 4)))
    with pytest.raises(ValueError, match=r"expected shape .* \(2, 5, 4\), got \(1, 5, 4\)"):
        layer.forward(x, (np.zeros((1, 5, 4)), np.zeros((2, 5, 4))))
    gru = GRU(3, 4)
    with pytest.raises(ValueError, match=r"\(1, 5, 4\), got \(1, 4, 4\)"):
        gru.forward(x, np.zeros((1, 4, 4)))


def test_backward_errors():
    layer = GRU(3, 4)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((1, 1, 4)))
    layer.forward(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"expected the output's shape \(2, 5, 4\), got"):
        layer.backward(np.zeros((2, 5, 3)))
    dense = Dense(3, 2)
    dense.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"expected shape \(4, 2\)"):
        dense.backward(np.zeros((4, 3)))


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: RNN(0, 4), ValueError, "input_size must be greater than zero, got 0"),
        (lambda: LSTM(3, -1), ValueError, "hidden_size must be greater than zero, got -1"),
        (lambda: GRU(3, 2.5), TypeError, "hidden_size must be an int, got float"),
        (lambda: RNN(3, 4, nonlinearity="sigmoid"), ValueError, "nonlinearity must be one of"),
        (lambda: LSTM(3, 4, num_layers=0), ValueError, "num_layers must be greater than zero"),
        (lambda: GRU(3, 4, dropout=1.5), ValueError, r"dropout must be in \[0, 1\], got 1.5"),
        (lambda: LSTM(3, 4, bidirectional="yes"), TypeError, "bidirectional must be a bool"),
        (lambda: LSTM(3, 4, dtype=np.int32), TypeError, "float32 or float64, got int32"),
        (lambda: Dense(3, 0), ValueError, "out_features must be greater than zero"),
        (lambda: Dropout(1.5), ValueError, r"p must be in \[0, 1\)"),
        (lambda: LSTM(3, 0), ValueError, "hidden_size must be greater than zero"),
        (lambda: LSTMCell(3, -1), ValueError, "hidden_size must be an int >= 0"),
        (lambda: Sequential(), ValueError, "at least one layer"),
        (lambda: Sequential(Tanh(), "relu"), TypeError, "argument 1 must be a Layer, got str"),
        (lambda: Sequential(LSTM(2, 3), Dense(3, 1, dtype=np.float32)), TypeError,
         "share one dtype"),
        (lambda: Adam(Dense(2, 2), lr=0), ValueError, "lr must be finite and greater than zero"),
        (lambda: SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda: SGD(Dense(2, 2), lr=0.1, nesterov=True), ValueError, "requires momentum"),
        (lambda: Adam(Dense(2, 2), betas=(0.9, 1.0)), ValueError, "betas"),
    ],
)
def test_constructor_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_loss_errors():
    loss = MSE()
    with pytest.raises(ValueError, match=r"shape of pred \(3, 1\), got \(3,\)"):
        loss.forward(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="target contains NaN"):
        loss.forward(np.zeros((3, 1)), np.full((3, 1), np.inf))
    with pytest.raises(ValueError, match="mask must have a leading shape"):
        loss.forward(np.zeros((3, 2)), np.zeros((3, 2)), mask=np.ones(4))
    with pytest.raises(ValueError, match="selects no element"):
        loss.forward(np.zeros((3, 2)), np.zeros((3, 2)), mask=np.zeros(3))
    with pytest.raises(RuntimeError, match="before forward"):
        MSE().backward()


def test_cell_state_errors():
    cell = RNNCell(3, 4)
    with pytest.raises(ValueError, match=r"expected shape \(2, 4\), got \(2, 3\)"):
        cell.forward(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2 features|3 features"):
        cell.forward(np.zeros((2, 2)))


def test_load_state_dict_checks_everything_before_writing():
    layer = LSTM(2, 3, seed=0)
    before = layer.state_dict()
    bad = dict(before)
    bad["weight_hh_l0"] = np.zeros((5, 5))
    with pytest.raises(ValueError, match=r"weight_hh_l0.*expected shape \(12, 3\)"):
        layer.load_state_dict(bad)
    missing = {k: v for k, v in before.items() if k != "bias_hh_l0"}
    with pytest.raises(KeyError, match="missing \\['bias_hh_l0'\\]"):
        layer.load_state_dict(missing)
    for k, v in layer.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_solver_argument_errors():
    model = Sequential(GRU(2, 3), LastStep(), Dense(3, 1))
    with pytest.raises(TypeError, match="unexpected keyword argument 'clipnorm'"):
        Solver(model, clipnorm=1.0)
    with pytest.raises(ValueError, match="batch_size must be greater than zero, got 0"):
        Solver(model, batch_size=0)
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        Solver(model, clip_norm=-1.0)
    with pytest.raises(ValueError, match="not the model's"):
        Solver(model, optimizer=Adam(Dense(2, 2)))
    solver = Solver(model, epochs=1)
    x, y = np.zeros((4, 5, 2)), np.zeros((4, 1))
    with pytest.raises(ValueError, match="same number of samples, got 4 and 3"):
        solver.fit(x, y[:3])
    with pytest.raises(ValueError, match="training x must not be empty"):
        solver.fit(x[:0], y[:0])
    with pytest.raises(ValueError, match="training y contains NaN"):
        solver.fit(x, np.full((4, 1), np.nan))
    with pytest.raises(ValueError, match="3 features on its last axis|2 features"):
        solver.fit(np.zeros((4, 5, 3)), y)


def test_shared_number_helpers():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_int(-1, "best_epoch", minimum=-1) == -1
    for bad in (True, np.bool_(False), 1.0, "1", None):
        with pytest.raises(TypeError, match=r"n must be an int, got"):
            check_int(bad, "n")
    with pytest.raises(ValueError, match="wait must be an int >= 0, got -2"):
        check_int(-2, "wait", minimum=0)
    assert [is_real_number(v) for v in (1, 2.5, np.float32(1), np.int8(1), True, "1", None)] \
        == [True, True, True, True, False, False, False]
    assert check_finite_float(np.float32(0.5), "a") == 0.5 and check_finite_float(-2, "a") == -2
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="c must be a finite number greater than zero"):
            check_finite_float(bad, "c", positive=True)
    with pytest.raises(TypeError, match=r"a must be a finite number, got bool \(True\)"):
        check_finite_float(True, "a")


@pytest.mark.parametrize("make, error, match", [
    (lambda: EarlyStopping(patience=1.5), TypeError, "patience must be an int, got float"),
    (lambda: EarlyStopping(patience=-1), ValueError, "patience must be an int >= 0, got -1"),
    (lambda: TopKAccuracy(0), ValueError, "k must be greater than zero, got 0"),
    (lambda: TopKAccuracy(True), TypeError, "k must be an int, got bool"),
    (lambda: Sequential(Dense(2, 1)).predict(np.zeros((3, 2)), batch_size=0),
     ValueError, "batch_size must be greater than zero, got 0"),
    (lambda: Sequential(Dense(2, 1)).predict(np.zeros((3, 2)), batch_size=2.0),
     TypeError, "batch_size must be an int, got float"),
    (lambda: Gompertz(b="1"), TypeError,
     "Gompertz: b must be a finite number greater than zero, got str"),
    (lambda: Embedding(3, 2, padding_idx=1.0), TypeError,
     r"padding_idx \(an int or None\) must be an int, got float"),
])
def test_inlined_checks_now_use_the_shared_helpers(make, error, match):
    with pytest.raises(error, match=match):
        make()
