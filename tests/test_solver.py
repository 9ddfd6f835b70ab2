"""The Solver: batching, shuffling, clipping, early stopping, history, divergence."""

import io

import numpy as np
import pytest

from minirnn import Sequential, Solver, TrainingDivergedError
from minirnn.apps.data import adding_problem
from minirnn.nn.layers import GRU, LSTM, Dense, LastStep
from minirnn.nn.losses import L1
from minirnn.nn.optim import SGD, Adam
from minirnn.train.callbacks import Callback, EarlyStopping, ProgressPrinter


def _model(seed=0, dtype=np.float64, cell=GRU):
    return Sequential(cell(2, 8, dtype=dtype, seed=seed), LastStep(), Dense(8, 1, dtype=dtype,
                                                                           seed=seed))


def test_every_sample_once_per_epoch_in_shuffled_batches():
    x = np.arange(10, dtype=np.float64).reshape(10, 1, 1).repeat(2, axis=2)
    y = np.zeros((10, 1))
    model = _model()
    seen = []
    original = model.forward

    def spy(xb, *, training=False):
        if training:
            seen.append(xb[:, 0, 0].astype(int).tolist())
        return original(xb, training=training)

    model.forward = spy
    Solver(model, batch_size=4, epochs=2, seed=3).fit(x, y)
    assert [len(b) for b in seen] == [4, 4, 2, 4, 4, 2]
    epoch1, epoch2 = sum(seen[:3], []), sum(seen[3:], [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(10))
    assert epoch1 != list(range(10)) and epoch1 != epoch2


def test_same_seed_gives_identical_weights():
    x, y = adding_problem(64, 6, seed=0)
    results = []
    for _ in range(2):
        model = _model(seed=1)
        Solver(model, batch_size=16, epochs=2, seed=5).fit(x, y)
        results.append(model.state_dict())
    for k in results[0]:
        np.testing.assert_array_equal(results[0][k], results[1][k])


def test_training_reduces_loss_and_records_history():
    x, y = adding_problem(256, 5, seed=0)
    xv, yv = adding_problem(64, 5, seed=1)
    model = _model()
    solver = Solver(model, optimizer=Adam(model, lr=1e-2), batch_size=32, epochs=8, seed=0,
                    clip_norm=1.0)
    history = solver.fit(x, y, validation_data=(xv, yv))
    assert len(history) == 8 and history.epoch == list(range(8))
    for key in ("loss", "val_loss", "grad_norm", "lr", "time"):
        assert len(history[key]) == 8
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_loss"][-1] == pytest.approx(solver.evaluate(xv, yv))


def test_early_stopping_restores_best_weights():
    x, y = adding_problem(128, 5, seed=0)
    xv, yv = adding_problem(64, 5, seed=1)
    model = _model()
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(self.solver.model.state_dict())

    # A huge learning rate makes validation loss bounce, so early stopping triggers.
    stopper = EarlyStopping(patience=2, restore_best_weights=True)
    solver = Solver(model, optimizer=SGD(model, lr=3.0), batch_size=16, epochs=30, seed=0,
                    clip_norm=5.0, callbacks=[Snapshot(), stopper])
    history = solver.fit(x, y, validation_data=(xv, yv))
    val = history["val_loss"]
    assert stopper.stopped_epoch is not None and len(val) < 30
    best = int(np.argmin(val))
    assert stopper.best_epoch == best and stopper.best == pytest.approx(val[best])
    # patience=2: stopped after two epochs without improvement (Keras semantics)
    assert stopper.stopped_epoch == best + 2
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[best][k])


def test_early_stopping_state_resets_between_fits():
    stopper = EarlyStopping(monitor="loss", patience=0)
    x, y = adding_problem(32, 4, seed=0)
    model = _model()
    solver = Solver(model, epochs=2, callbacks=[stopper])
    solver.fit(x, y)
    first_best = stopper.best
    solver.fit(x, y * 100.0)  # a much larger loss: the old best must not carry over
    assert stopper.best > first_best


def test_early_stopping_without_validation_says_what_is_missing():
    x, y = adding_problem(16, 3, seed=0)
    solver = Solver(_model(), epochs=2, callbacks=[EarlyStopping()])
    with pytest.raises(ValueError, match="val_loss.*pass validation data"):
        solver.fit(x, y)


def test_divergence_stops_with_last_good_weights():
    x, y = adding_problem(64, 5, seed=0)
    model = _model()
    good = {}

    class Poison(Callback):
        def on_batch_end(self, batch, logs):
            if batch == 2:
                good.update(self.solver.model.state_dict())
                # The next batch's loss becomes Inf.
                self.solver.model.layers[2].weight.data[...] = 1e300

    solver = Solver(model, batch_size=16, epochs=3, callbacks=[Poison()])
    with pytest.raises(TrainingDivergedError, match="batch 4.*weights from before"):
        solver.fit(x, y)
    state = model.state_dict()
    for k in good:
        if k != "2.weight":
            np.testing.assert_array_equal(state[k], good[k])


def test_nan_gradient_is_named():
    x, y = adding_problem(16, 3, seed=0)
    model = _model()
    original = model.backward

    def broken_backward(dy):
        dx = original(dy)
        model.layers[0].cells[0][0].weight_hh.grad[0, 0] = np.nan
        return dx

    model.backward = broken_backward
    before = model.state_dict()
    with pytest.raises(TrainingDivergedError, match=r"\['0.weight_hh_l0 \(GRU\)'\]"):
        Solver(model, epochs=1).fit(x, y)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_clip_norm_bounds_the_update():
    x, y = adding_problem(8, 3, seed=0)
    model = _model()
    before = model.state_dict()
    Solver(model, optimizer=SGD(model, lr=1.0), batch_size=8, epochs=1, clip_norm=1e-3,
           shuffle=False).fit(x, y * 1000)
    step = np.sqrt(sum(np.sum((v - before[k]) ** 2) for k, v in model.state_dict().items()))
    assert step == pytest.approx(1e-3, rel=1e-3)


def test_callback_can_stop_and_change_lr():
    class Halve(Callback):
        def on_epoch_end(self, epoch, logs):
            self.solver.optimizer.lr /= 2
            if epoch == 2:
                self.solver.stop_training = True

    x, y = adding_problem(16, 3, seed=0)
    history = Solver(_model(), epochs=10, callbacks=[Halve()]).fit(x, y)
    assert history["lr"] == [1e-3, 5e-4, 2.5e-4]


def test_progress_printer_and_l1_loss():
    x, y = adding_problem(16, 3, seed=0)
    stream = io.StringIO()
    Solver(_model(), loss=L1(), epochs=2, callbacks=[ProgressPrinter(stream=stream)]).fit(x, y)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("epoch 2/2") and "loss" in lines[1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", [LSTM, GRU])
def test_float32_and_float64_end_to_end(dtype, cell):
    x, y = adding_problem(128, 5, seed=0)  # float64 data: the Solver casts it
    model = _model(dtype=dtype, cell=cell)
    solver = Solver(model, optimizer=Adam(model, lr=1e-2), batch_size=32, epochs=5, seed=0)
    history = solver.fit(x, y)
    assert history["loss"][-1] < history["loss"][0]
    assert all(p.data.dtype == dtype and p.grad.dtype == dtype for p in model.parameters())
    assert solver.predict(x).dtype == dtype
    assert model.predict(x, batch_size=50).shape == (128, 1)
    layer = model.layers[0]
    out = layer.forward(x.astype(dtype))
    assert out.dtype == dtype and layer.backward(np.ones_like(out)).dtype == dtype
    assert all(s.dtype == dtype for s in layer.final_state + layer.initial_state_grad)


def test_best_epoch_is_public_read_only_and_restorable():
    x, y = adding_problem(64, 4, seed=0)
    xv, yv = adding_problem(32, 4, seed=1)
    model = _model()
    solver = Solver(model, batch_size=16, epochs=4, seed=0)
    assert solver.best is None and solver.best_weights is None
    history = solver.fit(x, y, validation_data=(xv, yv))
    value, weights = solver.best
    assert value == min(history["val_loss"]) and weights is solver.best_weights
    with pytest.raises(AttributeError):
        solver.best = None  # read-only: it changes through record_best / restore_best
    # The state dict carries it, and load_state_dict restores it through the public method.
    state = solver.state_dict()
    assert state["best"]["value"] == value and state["best"]["weights"] is weights
    other = Solver(_model(seed=1), batch_size=16, epochs=4, seed=0)
    other.load_state_dict(state)
    assert other.best[0] == value
    for k in weights:
        np.testing.assert_array_equal(other.best[1][k], weights[k])
    # Weights that do not fit the model are refused, and the best epoch is kept.
    bad = {k: v[..., :1] for k, v in weights.items()}
    with pytest.raises(ValueError, match="best weights"):
        other.restore_best((0.0, bad))
    assert other.best[0] == value
    other.restore_best(None)
    assert other.best is None and other.best_weights is None
