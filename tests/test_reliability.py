"""Issue 14 regressions: no silent wrong result, every bad input refused before anything changes.

Each test here failed before its fix (see docs/reliability.md for the list of promises).
"""

import copy
import json
import os
import stat
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

from minirnn import Sequential, Solver, TrainingDivergedError
from minirnn.apps.data import MinMaxScaler, StandardScaler, adding_problem
from minirnn.nn.io import ModelFileError, load_model, read_file, save_model
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep
from minirnn.nn.losses import MSE
from minirnn.nn.optim import SGD, Adagrad, Adam, AdamW, RMSprop
from minirnn.train.callbacks import Callback, EarlyStopping
from minirnn.train.checkpoint import load_checkpoint


def _model(seed=0, dropout_rng=None):
    return Sequential(GRU(2, 4, seed=seed), Dropout(0.1, seed=dropout_rng or seed), LastStep(),
                      Dense(4, 1, seed=seed))


def _data(n=48):
    return adding_problem(n, 5, seed=0), adding_problem(16, 5, seed=1)


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def _rewrite(src, dst, change):
    """Copy a file, letting ``change(header, arrays)`` edit it, keeping checksums valid."""
    import hashlib

    with np.load(src, allow_pickle=False) as f:
        header = json.loads(str(f["__header__"]))
        arrays = {k: f[k] for k in f.files if k != "__header__"}
    change(header, arrays)
    header["arrays"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype), "sha256":
                            hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
                        for k, v in arrays.items()}
    np.savez(dst, __header__=np.array(json.dumps(header)), **arrays)


# ------------------------------------------------------------------ training keeps good weights
OPTIMIZERS = {
    "sgd": lambda m: SGD(m, lr=1e308), "sgd-momentum": lambda m: SGD(m, lr=1e308, momentum=0.9),
    "adam": lambda m: Adam(m, lr=1e308), "adamw": lambda m: AdamW(m, lr=1e308),
    "rmsprop": lambda m: RMSprop(m, lr=1e308), "adagrad": lambda m: Adagrad(m, lr=1e308),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_huge_learning_rate_keeps_the_weights_from_before_the_bad_batch(name):
    (x, y), _ = _data()
    model = _model()
    seen = [_weights(model)]

    class Record(Callback):
        def on_batch_end(self, batch, logs):
            seen.append(_weights(self.solver.model))

    solver = Solver(model, optimizer=OPTIMIZERS[name](model), batch_size=16, epochs=5, seed=0,
                    callbacks=[Record()])
    with pytest.raises(TrainingDivergedError, match="before this batch"):
        solver.fit(x, y)
    _assert_same(model.state_dict(), seen[-1])  # the last weights a batch ended with
    assert all(np.isfinite(v).all() for v in model.state_dict().values())
    for state in solver.optimizer.state:
        assert all(np.isfinite(v).all() for v in state.values())


def test_checkpoint_after_divergence_loads(tmp_path):
    (x, y), _ = _data()
    model = _model()
    path = tmp_path / "c.npz"
    solver = Solver(model, optimizer=Adam(model, lr=1e308), batch_size=16, epochs=3, seed=0,
                    checkpoint_path=path)
    with pytest.raises(TrainingDivergedError):
        solver.fit(x, y)
    solver.save_checkpoint(tmp_path / "after.npz")
    for file in (path, tmp_path / "after.npz"):
        other = _model(seed=7)
        load_checkpoint(file, Solver(other, optimizer=Adam(other, lr=1e308)))


@pytest.mark.parametrize("where", ["input", "target"])
def test_overflow_first_seen_in_validation_is_a_divergence_with_good_weights(where):
    (x, y), (xv, yv) = _data()
    model = Sequential(Dense(2, 4, seed=0), GRU(4, 4, seed=0), LastStep(), Dense(4, 1, seed=0))
    dict(model.named_parameters())["0.weight"].data *= 100  # so 1e308 inputs overflow
    ends = []

    class Record(Callback):
        def on_epoch_end(self, epoch, logs):
            ends.append(_weights(self.solver.model))

    class Blow(Callback):  # validation data that overflows from the second epoch on
        def on_epoch_begin(self, epoch, logs):
            if epoch == 1:
                (xv if where == "input" else yv)[:] = 1e308

    solver = Solver(model, optimizer=SGD(model, lr=0.01), batch_size=16, epochs=3, seed=0,
                    callbacks=[Record(), Blow()])
    with pytest.raises(TrainingDivergedError, match="validation"):
        solver.fit(x, y, validation_data=(xv, yv))
    assert len(ends) == 1 and len(solver.history) == 1
    _assert_same(model.state_dict(), ends[0])


# ------------------------------------------------------------------------------ arguments
@pytest.mark.parametrize("kwargs, error, match", [
    ({"seed": -1}, ValueError, "seed"), ({"seed": 1.5}, TypeError, "seed"),
    ({"seed": "abc"}, TypeError, "seed"), ({"shuffle": "no"}, TypeError, "shuffle"),
    ({"log_every": 0}, ValueError, "log_every"), ({"log_every": -3}, ValueError, "log_every"),
    ({"checkpoint_path": 3}, TypeError, "checkpoint_path"),
    ({"clip_norm": float("inf")}, ValueError, "clip_norm"),
    ({"clip_norm": "1"}, TypeError, "clip_norm"), ({"drop_last": 1}, TypeError, "drop_last"),
])
def test_solver_arguments_are_refused_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        Solver(_model(), **kwargs)


def test_numpy_scalars_are_accepted_where_numbers_are():
    solver = Solver(_model(), clip_norm=np.float32(1.0), clip_value=np.int64(2), seed=np.int64(3))
    assert solver.clip_norm == 1.0 and solver.clip_value == 2.0


def test_checkpoint_path_that_is_a_folder_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_path .* is a directory"):
        Solver(_model(), checkpoint_path=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        Solver(_model(), checkpoint_path=tmp_path / "missing" / "c.npz")


def test_validation_split_as_a_string_names_the_argument():
    (x, y), _ = _data()
    with pytest.raises(TypeError, match="validation_split"):
        Solver(_model()).fit(x, y, validation_split="0.2")


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0, np.nan])
def test_loss_masks_must_be_zero_or_one(value):
    pred = np.zeros((4, 3, 1))
    mask = np.ones((4, 3))
    mask[1, 2] = value
    with pytest.raises(ValueError, match="only 0 and 1"):
        MSE().forward(pred, pred.copy(), mask)
    x = np.zeros((4, 3, 2))
    model = Sequential(RNN(2, 2, seed=0), Dense(2, 1, seed=0))
    before = _weights(model)
    with pytest.raises(ValueError, match="only 0 and 1"):
        Solver(model, epochs=1).fit(x, pred, mask=mask)
    _assert_same(model.state_dict(), before)


def test_boolean_and_integer_masks_still_work():
    pred = np.arange(6.0).reshape(2, 3, 1)
    target = np.zeros_like(pred)
    m = np.array([[1, 1, 0], [1, 0, 0]])
    assert MSE().forward(pred, target, m) == MSE().forward(pred, target, m.astype(bool))


def test_scalers_over_the_whole_float_range():
    x = np.array([-1e308, 0.0, 1e308, 5e307])
    scaled = MinMaxScaler().fit_transform(x)
    np.testing.assert_allclose(scaled, [0.0, 0.5, 1.0, 0.75])
    np.testing.assert_allclose(MinMaxScaler().fit(x).inverse_transform(scaled), x, rtol=1e-12)
    top = np.array([1.7e308, 1.7e308])  # the plain mean overflows to inf
    np.testing.assert_array_equal(StandardScaler().fit_transform(top), [0.0, 0.0])
    big = np.array([3e150, 1e150, 2e150])
    np.testing.assert_allclose(StandardScaler().fit_transform(big),
                               StandardScaler().fit_transform(big / 1e150), rtol=1e-12)
    with pytest.raises(ValueError, match="overflows"):
        StandardScaler().fit(x)


# ---------------------------------------------------------------------------- model files
def test_nan_weights_are_refused_at_save_so_save_and_load_agree(tmp_path):
    model = _model()
    path = tmp_path / "m.npz"
    save_model(path, model)
    dict(model.named_parameters())["0.weight_hh_l0"].data[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        save_model(path, model)
    load_model(path)  # the earlier file is intact


def test_register_layer_before_first_load_keeps_builtins(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    script = textwrap.dedent(f"""
        from minirnn.nn.io import load_model, register_layer
        from minirnn.nn.layers import Identity

        @register_layer
        class Mine(Identity):
            pass

        print(type(load_model({str(path)!r})).__name__)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, env={**os.environ})
    assert out.returncode == 0 and out.stdout.strip() == "Sequential", out.stderr


def test_first_loads_in_many_threads_at_once(tmp_path):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    script = textwrap.dedent(f"""
        import sys, threading, time
        import minirnn.nn.io as io
        from minirnn.nn.io import build_layer, load_model

        class SlowDict(dict):  # a slow registration widens any race to certainty
            def __setitem__(self, key, value):
                time.sleep(0.001)
                super().__setitem__(key, value)

            def setdefault(self, key, value):
                time.sleep(0.001)
                return super().setdefault(key, value)

        io._LAYER_REGISTRY = SlowDict()
        spec = {{"class": "Sequential", "config": {{"layers": [
            {{"class": "Dense", "config": {{"in_features": 2, "out_features": 1}}}}]}}}}
        barrier = threading.Barrier(16)
        errors = []
        def work(i):
            barrier.wait()
            time.sleep(0.002 * i)  # arrive while another thread is registering
            try:
                build_layer(spec)
                load_model({str(path)!r})
            except Exception as exc:
                errors.append(repr(exc))
        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print(errors)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("key, value", [("hidden_size", 6000), ("hidden_size", 10**12),
                                        ("num_layers", 10**30), ("input_size", 10**9)])
def test_header_sizes_are_checked_against_the_arrays_before_building(tmp_path, key, value):
    path = tmp_path / "m.npz"
    save_model(path, _model())
    _rewrite(path, tmp_path / "bad.npz",
             lambda h, a: h["model"]["config"]["layers"][0]["config"].update({key: value}))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match=key):
            load_model(tmp_path / "bad.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20  # nothing close to the 2.5 GB a hidden size of 6000 needs


def test_header_sizes_of_real_models_pass(tmp_path):
    models = [Sequential(LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, seed=0),
                         LastStep(), Dense(4, 2)),
              Sequential(GRU(1, 1), Dense(1, 1, bias=False)), RNN(7, 3, num_layers=4, bias=False),
              Sequential(LSTM(100, 100, proj_size=50), LastStep(), Dense(50, 1))]
    for i, model in enumerate(models):
        save_model(tmp_path / f"{i}.npz", model)
        load_model(tmp_path / f"{i}.npz")


def _with_member(src, dst, name, data, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        if name is not None:
            zout.writestr(zipfile.ZipInfo(name), data, compress_type=compress)


def test_zip_bomb_non_npy_and_duplicate_members_are_refused(tmp_path):
    import warnings

    path = tmp_path / "m.npz"
    save_model(path, _model())
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bomb, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename),
                          compress_type=zipfile.ZIP_DEFLATED)
    with pytest.raises(ModelFileError, match="compressed"):
        load_model(bomb)
    _with_member(path, tmp_path / "text.npz", "notes.txt", b"hello")
    with pytest.raises(ModelFileError, match="not a .npy"):
        load_model(tmp_path / "text.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        _with_member(path, tmp_path / "dup.npz", "model/3.bias.npy",
                     zipfile.ZipFile(path).read("model/3.bias.npy"))
    with pytest.raises(ModelFileError, match="twice"):
        load_model(tmp_path / "dup.npz")


def test_files_follow_the_umask_and_long_names_work(tmp_path):
    old = os.umask(0o027)
    try:
        save_model(tmp_path / "m.npz", _model())
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == 0o640
    long_name = tmp_path / ("m" * 246 + ".npz")
    save_model(long_name, _model())
    load_model(long_name)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


# ------------------------------------------------------------------------------ checkpoints
def _ckpt_solver(model, path=None, epochs=3, callbacks=None, lr=1e-2, **kw):
    cbs = callbacks if callbacks is not None else [EarlyStopping(monitor="val_loss",
                                                                 patience=5)]
    return Solver(model, optimizer=Adam(model, lr=lr), batch_size=16, epochs=epochs, seed=3,
                  checkpoint_path=path, callbacks=cbs, **kw)


def _snapshot(solver):
    return (copy.deepcopy(solver.model.state_dict()), copy.deepcopy(solver.optimizer.state_dict()),
            [copy.deepcopy(cb.state_dict()) for cb in solver.callbacks], solver.epoch,
            solver.history.state_dict(), solver.rng.bit_generator.state)


def _assert_unchanged(before, after):
    for a, b in zip(before, after, strict=True):
        np.testing.assert_equal(a, b)


def _bad_checkpoints():
    def set_solver(key, value):
        return lambda h, a: h["solver"].update({key: value})

    def set_opt(fn):
        return lambda h, a: fn(h["solver"]["optimizer"], a)

    return {
        "negative epoch": set_solver("epoch", -1),
        "epoch as text": set_solver("epoch", "2"),
        "history too short": lambda h, a: h["solver"]["history"].update(epoch=[0]),
        "history not numbers": lambda h, a: h["solver"]["history"]["history"].update(
            loss=["x", "y"]),
        "generator state": lambda h, a: h["solver"]["generators"]["solver"].update(
            state={"state": "x"}),
        "generator kind": lambda h, a: h["solver"]["generators"]["solver"].update(
            bit_generator="MT19937"),
        "callback state": lambda h, a: h["solver"]["callbacks"][0]["state"].update(wait=-2),
        "callback class": lambda h, a: h["solver"]["callbacks"][0].update(class_="X") or
        h["solver"]["callbacks"][0].update({"class": "ReduceLROnPlateau"}),
        "lr as text": set_opt(lambda o, a: o["hyperparameters"].update(lr="0.01")),
        "betas length": set_opt(lambda o, a: o["hyperparameters"].update(betas=[0.9])),
        "negative steps": set_opt(lambda o, a: o.update(step_count=-4)),
        "missing moment": set_opt(lambda o, a: o["state"][0].pop("exp_avg_sq")),
        "nan moment": lambda h, a: a["optimizer/0/exp_avg"].fill(np.nan),
        "best weights": lambda h, a: h["solver"].update(best={"value": 1.0, "weights": {}}),
    }


@pytest.mark.parametrize("case", sorted(_bad_checkpoints()))
def test_failed_checkpoint_load_changes_nothing(tmp_path, case):
    (x, y), val = _data()
    path = tmp_path / "c.npz"
    _ckpt_solver(_model(), path, epochs=2).fit(x, y, validation_data=val)
    _rewrite(path, tmp_path / "bad.npz", _bad_checkpoints()[case])
    model = _model(seed=5)
    solver = _ckpt_solver(model, epochs=4)
    solver.fit(x, y, validation_data=val)  # some state to lose
    before = _snapshot(solver)
    with pytest.raises(ModelFileError):
        load_checkpoint(tmp_path / "bad.npz", solver)
    _assert_unchanged(before, _snapshot(solver))


def test_non_pcg64_generators_checkpoint_and_resume(tmp_path):
    (x, y), val = _data()

    def make():
        return Sequential(GRU(2, 4, seed=0),
                          Dropout(0.2, seed=np.random.Generator(np.random.MT19937(1))),
                          Dropout(0.1, seed=np.random.Generator(np.random.Philox(2))),
                          LastStep(), Dense(4, 1, seed=0))

    full = make()
    _ckpt_solver(full, epochs=4).fit(x, y, validation_data=val)
    path = tmp_path / "c.npz"
    _ckpt_solver(make(), path, epochs=2).fit(x, y, validation_data=val)
    resumed = make()
    _ckpt_solver(resumed, path, epochs=4).fit(x, y, validation_data=val, resume=True)
    _assert_same(resumed.state_dict(), full.state_dict())


def test_resume_after_ctrl_c_equals_an_uninterrupted_run(tmp_path):
    (x, y), val = _data()
    full = _model()
    _ckpt_solver(full, epochs=4).fit(x, y, validation_data=val)

    class CtrlC(Callback):
        def on_batch_end(self, batch, logs):
            if self.solver.epoch == 2 and batch == 1:
                raise KeyboardInterrupt

    path = tmp_path / "c.npz"
    first = _ckpt_solver(_model(), path, epochs=4,
                         callbacks=[EarlyStopping(monitor="val_loss", patience=5), CtrlC()])
    first.fit(x, y, validation_data=val)
    assert first.interrupted
    header, _ = read_file(path, "checkpoint")
    assert header["solver"]["epoch"] == 2 and header["solver"]["stop_training"] is False
    resumed = _model(seed=9)
    history = _ckpt_solver(resumed, path, epochs=4).fit(x, y, validation_data=val, resume=True)
    assert len(history) == 4
    _assert_same(resumed.state_dict(), full.state_dict())


def test_extending_a_finished_restore_best_run_equals_one_longer_run(tmp_path):
    (x, y), val = _data()

    def stopper():
        return EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)

    # lr 0.1: the validation loss goes up after epoch 2, so the best weights are not the last.
    full = _model()
    full_history = _ckpt_solver(full, epochs=5, callbacks=[stopper()], lr=0.1).fit(
        x, y, validation_data=val)
    path = tmp_path / "c.npz"
    first = _ckpt_solver(_model(), path, epochs=3, callbacks=[stopper()], lr=0.1)
    first.fit(x, y, validation_data=val)
    assert first.callbacks[0].best_epoch < 2  # restore-best did change the weights
    longer = _model(seed=4)
    history = _ckpt_solver(longer, path, epochs=5, callbacks=[stopper()], lr=0.1).fit(
        x, y, validation_data=val, resume=True)
    assert history["val_loss"] == full_history["val_loss"]
    _assert_same(longer.state_dict(), full.state_dict())


def test_solver_state_dict_round_trip_in_memory():
    (x, y), val = _data()
    a = _ckpt_solver(_model(), epochs=2)
    a.fit(x, y, validation_data=val)
    b = _ckpt_solver(_model(seed=3), epochs=2)
    b.load_state_dict(a.state_dict())
    _assert_same(a.model.state_dict(), b.model.state_dict())
    assert b.epoch == 2 and b.history.state_dict() == a.history.state_dict()


def test_weights_go_in_sample_weight_not_in_the_mask():
    from minirnn.nn.losses import CrossEntropy

    pred = np.array([[1.0], [3.0]])
    target = np.zeros_like(pred)
    assert MSE().forward(pred, target, sample_weight=np.array([1.0, 3.0])) == (1 + 27) / 4
    logits = np.zeros((2, 3))
    with pytest.raises(ValueError, match="only 0 and 1"):
        CrossEntropy().forward(logits, np.array([0, 1]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="non-negative"):
        MSE().forward(pred, target, sample_weight=np.array([1.0, -1.0]))
    (x, y), _ = _data()
    Solver(_model(), epochs=1).fit(x, y, sample_weight=np.linspace(0, 2, len(x)))


def test_one_rule_for_clip_thresholds_in_solver_and_clipping():
    from minirnn.nn.optim import clip_grad_norm, clip_grad_value
    from minirnn.nn.parameter import Parameter

    p = Parameter(np.ones(3))
    p.grad[:] = 4.0
    for bad, error in ((float("inf"), ValueError), (0.0, ValueError), ("1", TypeError),
                       (True, TypeError), (float("nan"), ValueError)):
        with pytest.raises(error, match="max_norm"):
            clip_grad_norm([p], bad)
        with pytest.raises(error, match="clip_value"):
            clip_grad_value([p], bad)
        with pytest.raises(error, match="clip_norm"):
            Solver(_model(), clip_norm=bad)
    clip_grad_norm([p], np.float32(1.0))
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)


def test_best_weights_are_kept_in_one_place(tmp_path):
    (x, y), val = _data()
    stopper = EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)
    solver = _ckpt_solver(_model(), tmp_path / "c.npz", epochs=3, callbacks=[stopper], lr=0.1)
    solver.fit(x, y, validation_data=val)
    assert stopper.best_weights is solver.best_weights and stopper.best_epoch == 1
    _assert_same(solver.model.state_dict(), solver.best_weights)
    _, arrays = read_file(tmp_path / "c.npz", "checkpoint")
    assert not [k for k in arrays if k.startswith("callbacks/")]  # one copy: best/...
    assert len([k for k in arrays if k.startswith("best/")]) == len(solver.best_weights)
    with pytest.raises(ValueError, match="two callbacks restore best weights"):
        _ckpt_solver(_model(), callbacks=[stopper, EarlyStopping(
            monitor="loss", restore_best_weights=True)]).fit(x, y, validation_data=val)


def test_one_lengths_check_for_solver_layers_and_pooling():
    from minirnn.nn.layers import SequencePooling

    x = np.zeros((2, 3, 2))
    users = [lambda lengths: GRU(2, 3).forward(x, lengths=lengths),
             lambda lengths: LastStep().forward(x, lengths=lengths),
             lambda lengths: SequencePooling().forward(x, lengths=lengths),
             lambda lengths: Solver(Sequential(GRU(2, 3), LastStep(), Dense(3, 1)),
                                    epochs=1).fit(x, np.zeros((2, 1)), lengths=lengths)]
    for use in users:
        with pytest.raises(ValueError, match=r"in \[1, T\] = \[1, 3\], got min 0 max 3"):
            use(np.array([0, 3]))
        with pytest.raises(TypeError, match="lengths must be integers, got dtype float64"):
            use(np.array([1.0, 3.0]))
