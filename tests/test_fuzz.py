"""Hypothesis fuzzing of the public API with malformed input.

Only documented exceptions (ValueError, TypeError, FloatingPointError, ModelFileError, which is
a ValueError) may come out, and an accepted input must have been a valid one and give a finite
result of the right shape. The number of cases run is printed at the end of the module.
"""

import collections

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minirnn import Sequential, Solver
from minirnn.data import adding_problem, int2bin, sliding_windows
from minirnn.io import ModelFileError, load_model
from minirnn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep, Sigmoid, Tanh
from minirnn.losses import MSE, BCEWithLogits, CrossEntropy, Huber

DOCUMENTED = (ValueError, TypeError, FloatingPointError)
COUNTS: collections.Counter = collections.Counter()

DTYPES = [np.float64, np.float32, np.float16, np.int64, np.bool_, np.complex128, np.uint8]
SPECIALS = st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300, 1e30, 0.0, -0.0, 5e-324])


@st.composite
def malformed(draw, base_shape=(3, 4, 2)):
    """Anything a user might pass: wrong types, ranks, sizes, dtypes, NaN/Inf, empty, huge."""
    kind = draw(st.sampled_from(["valid", "valid", "array", "array", "array", "list", "scalar",
                                 "none", "str"]))
    if kind == "valid":
        return draw(hnp.arrays(np.float64, base_shape, elements=st.floats(-3, 3)))
    if kind == "list":
        return np.zeros(base_shape).tolist()
    if kind == "scalar":
        return draw(st.floats(allow_nan=True))
    if kind == "none":
        return None
    if kind == "str":
        return "x"
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    if draw(st.booleans()):  # near-valid shapes are the interesting ones
        shape = tuple(draw(st.sampled_from([s, s + 1, max(s - 1, 0)])) for s in base_shape)
    dtype = draw(st.sampled_from(DTYPES))
    arr = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3))).astype(dtype)
    if arr.size and draw(st.booleans()) and np.issubdtype(dtype, np.floating):
        arr.flat[draw(st.integers(0, arr.size - 1))] = draw(SPECIALS)
    return arr


def _valid(x, dtype, ndim, last):
    return (isinstance(x, np.ndarray) and x.dtype == dtype and x.ndim in ndim and x.size > 0
            and x.shape[-1] == last and bool(np.isfinite(x).all()))


LAYERS = {
    "rnn": (lambda: RNN(2, 3, seed=0), (3,), 2),
    "lstm": (lambda: LSTM(2, 3, num_layers=2, bidirectional=True, seed=0), (3,), 2),
    "gru": (lambda: GRU(2, 3, seed=0), (3,), 2),
    "dense": (lambda: Dense(2, 3, seed=0), (2, 3), 2),
    "model": (lambda: Sequential(LSTM(2, 3, seed=0), Tanh(), LastStep(), Dense(3, 1)), (3,), 2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(x=malformed(), training=st.booleans())
def test_layer_forward_fuzz(name, x, training):
    make, ndims, last = LAYERS[name]
    layer = make()
    COUNTS["layer forward"] += 1
    try:
        y = layer.forward(x, training=training)
    except DOCUMENTED:
        return
    assert _valid(x, layer.dtype, ndims, last), f"accepted invalid input {type(x)} {x!r:.80}"
    assert np.isfinite(y).all() and y.shape[0] == x.shape[0]
    COUNTS["layer forward accepted"] += 1


@pytest.mark.parametrize("layer", [Tanh(), Sigmoid(), Dropout(0.5), LastStep()],
                         ids=lambda la: type(la).__name__)
@given(x=malformed())
def test_parameter_free_layer_fuzz(layer, x):
    COUNTS["layer forward"] += 1
    try:
        y = layer.forward(x, training=True)
    except DOCUMENTED:
        return
    assert isinstance(x, np.ndarray) and np.isfinite(x).all() and x.size > 0
    assert np.isfinite(y).all()


@pytest.mark.parametrize("loss", [MSE(), Huber(), BCEWithLogits(), CrossEntropy()],
                         ids=lambda lo: type(lo).__name__)
@given(pred=malformed(), target=malformed(), data=st.data())
def test_loss_fuzz(loss, pred, target, data):
    COUNTS["loss"] += 1
    if data.draw(st.booleans()) and isinstance(pred, np.ndarray):
        target = pred.copy()  # same shape: the loss must then also check values and dtypes
    try:
        value = loss.forward(pred, target)
    except DOCUMENTED:
        return
    assert isinstance(pred, np.ndarray) and np.isfinite(pred).all()
    assert np.isfinite(value)
    assert np.isfinite(loss.backward()).all()
    COUNTS["loss accepted"] += 1


@settings(max_examples=15)
@given(x=malformed((6, 3, 2)), y=malformed((6, 1)), batch=st.sampled_from([0, -1, 2, 2.5, None]))
def test_solver_fuzz(x, y, batch):
    COUNTS["solver"] += 1
    model = Sequential(GRU(2, 2, seed=0), LastStep(), Dense(2, 1, seed=0))
    try:
        history = Solver(model, batch_size=batch, epochs=1).fit(x, y)
    except DOCUMENTED:
        return
    assert np.isfinite(history["loss"]).all()
    assert all(np.isfinite(v).all() for v in model.state_dict().values())


@given(args=st.tuples(st.one_of(st.integers(-3, 50), st.floats(allow_nan=True), st.none(),
                                st.text(max_size=2)),
                      st.one_of(st.integers(-3, 50), st.floats(allow_nan=True), st.none())))
def test_data_fuzz(args):
    COUNTS["data"] += 1
    try:
        x, _ = adding_problem(*args)
    except DOCUMENTED:
        pass
    else:
        assert x.shape == (args[0], args[1], 2) and np.allclose(x[..., 1].sum(axis=1), 2)
    try:
        bits = int2bin(np.array([args[0]]) if isinstance(args[0], int) else args[0], bits=8)
    except DOCUMENTED:
        pass
    else:
        assert bits.shape[-1] == 8
    try:
        wx, _ = sliding_windows(np.arange(10.0), args[0], args[1] if args[1] else 1)
    except DOCUMENTED:
        pass
    else:
        assert len(wx) > 0


@settings(max_examples=60)
@given(blob=st.binary(max_size=400))
def test_load_model_fuzz(blob, tmp_path_factory):
    COUNTS["model file"] += 1
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(blob)
    with pytest.raises(ModelFileError):
        load_model(path)


def test_report_case_count(capsys):
    """Runs last in this module (pytest keeps file order) and reports the counts."""
    with capsys.disabled():
        print(f"\nfuzz cases run: {dict(COUNTS)}")
    assert COUNTS["layer forward"] > 0 and COUNTS["layer forward accepted"] > 0
