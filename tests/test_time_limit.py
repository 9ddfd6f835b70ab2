"""TimeLimit callback and ``--time-limit``: stop cleanly, keep the best weights, report progress.

A fake clock (one "second" per batch) replaces wall time, so nothing here waits or is timed.
"""

import json

import numpy as np
import pytest

from minirnn import Sequential, Solver
from minirnn.apps.data import adding_problem
from minirnn.cli import main
from minirnn.nn.layers import GRU, Dense, LastStep
from minirnn.nn.optim import Adam
from minirnn.train.callbacks import Callback, EarlyStopping, TimeLimit


class _FakeClock(Callback):
    """Advances a counter by one per batch; TimeLimit reads it as its clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def on_batch_end(self, batch, logs):
        self.now += 1.0


class _Snapshots(Callback):
    def __init__(self) -> None:
        self.weights = []

    def on_epoch_end(self, epoch, logs):
        self.weights.append(self.solver.model.state_dict())


def _setup(limit, extra=(), epochs=10, lr=3e-2):
    (x, y), (xv, yv) = adding_problem(80, 5, seed=0), adding_problem(20, 5, seed=1)
    model = Sequential(GRU(2, 5, seed=0), LastStep(), Dense(5, 1, seed=0))
    clock = _FakeClock()
    limit_cb = TimeLimit(limit)
    limit_cb._clock = clock
    snaps = _Snapshots()
    solver = Solver(model, optimizer=Adam(model, lr=lr), batch_size=16, epochs=epochs, seed=0,
                    callbacks=[clock, snaps, *extra, limit_cb])
    history = solver.fit(x, y, validation_data=(xv, yv))
    return solver, history, limit_cb, snaps


def test_stops_mid_epoch_at_the_limit_and_reports_progress():
    # 80 samples / 16 = 5 batches an epoch; the limit falls after batch 3 of epoch 2.
    _, history, cb, _ = _setup(7.5)
    assert cb.stopped and cb.stopped_epoch == 1 and cb.stopped_batch == 3
    assert cb.batches_per_epoch == 5 and cb.epochs_done == pytest.approx(1.6)
    assert len(history) == 2 and "val_loss" in history  # the partial epoch is validated too
    assert "epoch 2 of 10" in cb.summary() and "1.60 epochs" in cb.summary()


def test_keeps_the_best_weights_seen():
    # lr 0.3 makes the validation loss jump: the last (partial) epoch is not the best one.
    solver, history, cb, snaps = _setup(12.5, epochs=40, lr=0.3)
    assert cb.stopped and len(history) == 3
    best = int(np.argmin(history["val_loss"]))
    assert best < len(history) - 1
    for k, v in solver.model.state_dict().items():
        np.testing.assert_array_equal(v, snaps.weights[best][k], err_msg=k)


def test_defers_to_early_stopping_best_weights_on_its_own_metric():
    stopper = EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    solver, history, _, snaps = _setup(27.5, extra=[stopper], epochs=40)
    best = int(np.argmin(history["loss"]))
    assert stopper.best_epoch == best and best < len(history) - 1
    for k, v in solver.model.state_dict().items():
        np.testing.assert_array_equal(v, snaps.weights[best][k], err_msg=k)


def test_not_reached_changes_nothing():
    solver, history, cb, snaps = _setup(1e9, epochs=3)
    assert not cb.stopped and len(history) == 3 and "not reached" in cb.summary()
    for k, v in solver.model.state_dict().items():
        np.testing.assert_array_equal(v, snaps.weights[-1][k], err_msg=k)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), True, "5"])
def test_rejects_bad_seconds(seconds):
    with pytest.raises(ValueError, match="seconds"):
        TimeLimit(seconds)


def test_cli_time_limit_stops_and_reports(tmp_path, capsys):
    out_dir = tmp_path / "run"
    assert main(["train", "adding", "--seq-len", "5", "--train-size", "64", "--test-size", "16",
                 "--hidden-size", "4", "--epochs", "50", "--no-plot", "--time-limit", "1e-9",
                 "--output", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert "time limit 1e-09s reached" in out and "test MSE" in out
    report = json.loads((out_dir / "report.json").read_text())
    assert report["time_limit"]["reached"] is True
    history = json.loads((out_dir / "history.json").read_text())
    assert history["epoch"] == [1]


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_cli_rejects_bad_time_limit(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "adding", "--time-limit", value])
    assert info.value.code == 2 and "--time-limit" in capsys.readouterr().err
