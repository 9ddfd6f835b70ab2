"""The Solver: batching, shuffling, clipping, early stopping, history, divergence."""

import io

import numpy as np
import pytest

from minirnn import Sequential, Solver, TrainingDivergedError
from minirnn.apps.data import adding_problem
from minirnn.nn.io import read_file
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep
from minirnn.nn.losses import L1, MSE
from minirnn.nn.optim import SGD, Adagrad, Adam, AdamW, RMSprop
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


def _gru_model(seed=0, dropout_rng=None):
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


OPTIMIZERS = {
    "sgd": lambda m: SGD(m, lr=1e308), "sgd-momentum": lambda m: SGD(m, lr=1e308, momentum=0.9),
    "adam": lambda m: Adam(m, lr=1e308), "adamw": lambda m: AdamW(m, lr=1e308),
    "rmsprop": lambda m: RMSprop(m, lr=1e308), "adagrad": lambda m: Adagrad(m, lr=1e308),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_huge_learning_rate_keeps_the_weights_from_before_the_bad_batch(name):
    (x, y), _ = _data()
    model = _gru_model()
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
        Solver(_gru_model(), **kwargs)


def test_numpy_scalars_are_accepted_where_numbers_are():
    solver = Solver(_gru_model(), clip_norm=np.float32(1.0), clip_value=np.int64(2),
                    seed=np.int64(3))
    assert solver.clip_norm == 1.0 and solver.clip_value == 2.0


def test_checkpoint_path_that_is_a_folder_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="checkpoint_path .* is a directory"):
        Solver(_gru_model(), checkpoint_path=tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        Solver(_gru_model(), checkpoint_path=tmp_path / "missing" / "c.npz")


def test_validation_split_as_a_string_names_the_argument():
    (x, y), _ = _data()
    with pytest.raises(TypeError, match="validation_split"):
        Solver(_gru_model()).fit(x, y, validation_split="0.2")


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


def _ckpt_solver(model, path=None, epochs=3, callbacks=None, lr=1e-2, **kw):
    cbs = callbacks if callbacks is not None else [EarlyStopping(monitor="val_loss",
                                                                 patience=5)]
    return Solver(model, optimizer=Adam(model, lr=lr), batch_size=16, epochs=epochs, seed=3,
                  checkpoint_path=path, callbacks=cbs, **kw)


def test_solver_state_dict_round_trip_in_memory():
    (x, y), val = _data()
    a = _ckpt_solver(_gru_model(), epochs=2)
    a.fit(x, y, validation_data=val)
    b = _ckpt_solver(_gru_model(seed=3), epochs=2)
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
    Solver(_gru_model(), epochs=1).fit(x, y, sample_weight=np.linspace(0, 2, len(x)))


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
            Solver(_gru_model(), clip_norm=bad)
    clip_grad_norm([p], np.float32(1.0))
    assert np.linalg.norm(p.grad) == pytest.approx(1.0, rel=1e-5)


def test_best_weights_are_kept_in_one_place(tmp_path):
    (x, y), val = _data()
    stopper = EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True)
    solver = _ckpt_solver(_gru_model(), tmp_path / "c.npz", epochs=3, callbacks=[stopper], lr=0.1)
    solver.fit(x, y, validation_data=val)
    assert stopper.best_weights is solver.best_weights and stopper.best_epoch == 1
    _assert_same(solver.model.state_dict(), solver.best_weights)
    _, arrays = read_file(tmp_path / "c.npz", "checkpoint")
    assert not [k for k in arrays if k.startswith("callbacks/")]  # one copy: best/...
    assert len([k for k in arrays if k.startswith("best/")]) == len(solver.best_weights)
    with pytest.raises(ValueError, match="two callbacks restore best weights"):
        _ckpt_solver(_gru_model(), callbacks=[stopper, EarlyStopping(
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
