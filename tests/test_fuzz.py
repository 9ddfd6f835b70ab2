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
from minirnn.apps.data import adding_problem, int2bin, sliding_windows
from minirnn.nn.io import ModelFileError, load_model
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep, Sigmoid, Tanh
from minirnn.nn.losses import MSE, BCEWithLogits, CrossEntropy, Huber

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


# ------------------------------------------------- model and checkpoint headers, archives
JSON_VALUES = st.one_of(
    st.integers(-3, 8), st.sampled_from([10**6, 10**12, 10**30, -(10**30), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.none(),
    st.booleans(), st.lists(st.integers(-2, 4), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(-2, 4), max_size=2))


def _paths(value, prefix=()):
    """Every (path, value) in a JSON tree, containers included."""
    yield prefix, value
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    for key, child in items:
        yield from _paths(child, (*prefix, key))


def _mutate(header, data, skip=("arrays",)):
    """Replace, delete or add one entry anywhere in ``header`` (not under ``skip``)."""
    paths = [p for p, _ in _paths(header) if p and p[0] not in skip]
    path = data.draw(st.sampled_from(paths))
    parent = header
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if action == "delete":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = data.draw(JSON_VALUES)
    else:
        parent[path[-1]] = data.draw(JSON_VALUES)
    return path


def _write_npz(path, header, arrays):
    """A minirnn-format file with this header; the array list and checksums are made to fit,
    so the header's content itself is what gets tested."""
    import hashlib
    import json

    header = dict(header)
    header["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256":
                            hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
                        for k, v in arrays.items()}
    np.savez(path, __header__=np.array(json.dumps(header, allow_nan=True)), **arrays)


def _read_npz(path):
    import json

    with np.load(path, allow_pickle=False) as f:
        return json.loads(str(f["__header__"])), {k: f[k] for k in f.files if k != "__header__"}


def _fuzz_model():
    return Sequential(LSTM(2, 3, num_layers=2, seed=0), Dropout(0.1), LastStep(),
                      Dense(3, 1, seed=0))


@settings(max_examples=60)
@given(data=st.data())
def test_model_header_fuzz(data, tmp_path_factory):
    """Any change to a model file's header gives ModelFileError or a model that matches the
    file exactly; never another exception, a hang or a huge allocation."""
    from minirnn.nn.io import save_model

    COUNTS["model header"] += 1
    folder = tmp_path_factory.mktemp("hdr")
    save_model(folder / "m.npz", _fuzz_model())
    header, arrays = _read_npz(folder / "m.npz")
    _mutate(header, data)
    _write_npz(folder / "bad.npz", header, arrays)
    try:
        model = load_model(folder / "bad.npz")
    except ModelFileError:
        return
    state = model.state_dict()
    assert {f"model/{k}" for k in state} == set(arrays)
    assert all(np.array_equal(state[k[6:]], v) for k, v in arrays.items())
    COUNTS["model header accepted"] += 1


MEMBER_NAMES = st.one_of(st.sampled_from(["model/3.bias.npy", "__header__.npy", "extra.npy",
                                          "notes.txt", "a/../b.npy", "", "x.NPY"]),
                         st.text(max_size=12))


@settings(max_examples=40)
@given(name=MEMBER_NAMES, payload=st.binary(max_size=200),
       compressed=st.booleans(), valid_npy=st.booleans())
def test_archive_member_fuzz(name, payload, compressed, valid_npy, tmp_path_factory):
    """Any extra archive member (duplicate, non-.npy, compressed, garbage) is refused."""
    import io
    import warnings
    import zipfile

    from minirnn.nn.io import save_model

    COUNTS["archive member"] += 1
    folder = tmp_path_factory.mktemp("zip")
    save_model(folder / "m.npz", _fuzz_model())
    if valid_npy:
        buffer = io.BytesIO()
        np.save(buffer, np.zeros(3))
        payload = buffer.getvalue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(folder / "m.npz", "a") as archive:
            archive.writestr(zipfile.ZipInfo(name or "_"), payload,
                             compress_type=zipfile.ZIP_DEFLATED if compressed
                             else zipfile.ZIP_STORED)
    with pytest.raises(ModelFileError):
        load_model(folder / "m.npz")


@settings(max_examples=40)
@given(data=st.data())
def test_checkpoint_header_fuzz(data, tmp_path_factory):
    """Any change to a checkpoint's solver state gives ModelFileError and leaves the solver
    exactly as it was, or loads a state the solver then trains from."""
    import copy

    from minirnn.nn.optim import Adam
    from minirnn.train.checkpoint import load_checkpoint

    COUNTS["checkpoint header"] += 1
    folder = tmp_path_factory.mktemp("ckpt")
    x, y = adding_problem(16, 4, seed=0)

    def solver(path=None):
        model = Sequential(GRU(2, 3, seed=0), Dropout(0.2, seed=1), LastStep(),
                           Dense(3, 1, seed=0))
        from minirnn.train.callbacks import EarlyStopping

        return Solver(model, optimizer=Adam(model), batch_size=8, epochs=2, seed=0,
                      checkpoint_path=path, callbacks=[EarlyStopping(monitor="loss")])

    solver(folder / "c.npz").fit(x, y)
    header, arrays = _read_npz(folder / "c.npz")
    _mutate(header, data, skip=("arrays", "model", "format", "format_version", "kind"))
    _write_npz(folder / "bad.npz", header, arrays)
    target = solver()
    target.fit(x, y)
    before = copy.deepcopy((target.model.state_dict(), target.optimizer.state_dict(),
                            target.callbacks[0].state_dict(), target.epoch,
                            target.history.state_dict(), target.rng.bit_generator.state))
    try:
        load_checkpoint(folder / "bad.npz", target)
    except ModelFileError:
        after = (target.model.state_dict(), target.optimizer.state_dict(),
                 target.callbacks[0].state_dict(), target.epoch, target.history.state_dict(),
                 target.rng.bit_generator.state)
        for a, b in zip(before, after, strict=True):
            np.testing.assert_equal(a, b)
        return
    COUNTS["checkpoint header accepted"] += 1
    target.save_checkpoint(folder / "again.npz")  # an accepted state is a consistent one
    load_checkpoint(folder / "again.npz", solver())


def test_report_case_count(capsys):
    """Runs last in this module (pytest keeps file order) and reports the counts."""
    with capsys.disabled():
        print(f"\nfuzz cases run: {dict(COUNTS)}")
    assert COUNTS["layer forward"] > 0 and COUNTS["layer forward accepted"] > 0
