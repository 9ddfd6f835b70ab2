"""minirnn.train.checkpoint: a Solver checkpoint resumes exactly, and a bad one changes nothing."""

import copy
import json

import numpy as np
import pytest

from minirnn import Sequential, Solver, TrainingDivergedError
from minirnn.apps.data import adding_problem
from minirnn.nn.io import ModelFileError, read_file
from minirnn.nn.layers import GRU, Dense, Dropout, LastStep
from minirnn.nn.optim import Adam
from minirnn.train.callbacks import Callback, EarlyStopping
from minirnn.train.checkpoint import load_checkpoint


def _model(seed=0, dropout_rng=None):
    return Sequential(GRU(2, 4, seed=seed), Dropout(0.1, seed=dropout_rng or seed), LastStep(),
                      Dense(4, 1, seed=seed))


def _data(n=48):
    return adding_problem(n, 5, seed=0), adding_problem(16, 5, seed=1)


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
