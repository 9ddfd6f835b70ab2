"""Everyday model API: model.save / minirnn.load, predict(return_states=True), History as a
dict and a list, R rnn's output activations, retraining a loaded model."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minirnn
from minirnn import Sequential, Solver
from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.io import load_model, save_model
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Gompertz, LastStep, Logistic, Sigmoid, Tanh
from minirnn.nn.optim import Adam
from minirnn.train.solver import History


def _model(seed=0):
    return Sequential(LSTM(2, 3, num_layers=2, bidirectional=True, seed=seed),
                      GRU(6, 4, seed=seed), LastStep(), Dense(4, 1, seed=seed))


# ------------------------------------------------------------------ save and load
def test_model_save_and_minirnn_load_round_trip(tmp_path):
    model = _model()
    x = np.random.default_rng(0).standard_normal((5, 7, 2))
    model.save(tmp_path / "m.npz", metadata={"note": "hi"})
    loaded = minirnn.load(tmp_path / "m.npz")
    assert isinstance(loaded, Sequential) and loaded is not model
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # the old function, with its own argument order, writes and reads the same file
    save_model(tmp_path / "old.npz", model)
    np.testing.assert_array_equal(load_model(tmp_path / "old.npz").predict(x), model.predict(x))
    assert minirnn.load is load_model


def test_solver_continues_from_a_loaded_model(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5, 2))
    y = x[:, :, :1].mean(axis=1)
    model = Sequential(GRU(2, 8, seed=0), LastStep(), Dense(8, 1, seed=0))
    Solver(model, optimizer=Adam(model, lr=1e-2), epochs=15, seed=0).fit(x, y)
    trained_loss = Solver(model).evaluate(x, y)
    model.save(tmp_path / "m.npz")
    loaded = minirnn.load(tmp_path / "m.npz")
    solver = Solver(loaded, optimizer=Adam(loaded, lr=1e-3), epochs=1, seed=1)
    assert solver.evaluate(x, y) == pytest.approx(trained_loss)
    history = solver.fit(x, y)
    fresh = Sequential(GRU(2, 8, seed=0), LastStep(), Dense(8, 1, seed=0))
    fresh_history = Solver(fresh, optimizer=Adam(fresh, lr=1e-3), epochs=1, seed=1).fit(x, y)
    # the retrained model starts where the saved one ended, far below a fresh start
    assert history["loss"][0] < 0.5 * trained_loss + 0.5 * fresh_history["loss"][0]
    assert history["loss"][0] < 0.5 * fresh_history["loss"][0]


# ----------------------------------------------------------------- hidden states out
@pytest.mark.parametrize("batch_first", [True, False])
def test_predict_return_states_matches_layer_outputs_and_final_states(batch_first):
    rng = np.random.default_rng(1)
    lstm = LSTM(2, 3, num_layers=2, bidirectional=True, batch_first=batch_first, seed=0)
    rnn = RNN(6, 4, batch_first=batch_first, seed=1)
    model = Sequential(lstm, rnn)
    n, t = 5, 7
    x = rng.standard_normal((n, t, 2) if batch_first else (t, n, 2))
    y, states = model.predict(x, batch_size=2, return_states=True)
    assert sorted(states) == ["0", "1"] and sorted(states["0"]) == ["c", "h"]
    time_axis = 2 if batch_first else 1
    for name, count, size in (("0", 4, 3), ("1", 1, 4)):
        h = states[name]["h"]
        assert h.shape == ((count, n, t, size) if batch_first else (count, t, n, size))
    # the last layer's h at every step is the model's output (forward + reverse halves)
    h1 = states["1"]["h"][0]
    np.testing.assert_allclose(h1, y, rtol=0, atol=1e-12)
    # a full forward pass gives the final states: forward direction at the last step,
    # reverse direction at step 0
    lstm.forward(x)
    h_n, c_n = lstm.final_state
    for k in range(4):
        step = 0 if k % 2 else t - 1
        for got, want in ((states["0"]["h"], h_n), (states["0"]["c"], c_n)):
            np.testing.assert_allclose(np.take(got[k], step, axis=time_axis - 1), want[k],
                                       atol=1e-12)
    # the first layer's forward-direction h at each step feeds the model's second layer
    out0 = lstm.forward(x)
    np.testing.assert_allclose(states["0"]["h"][2], out0[..., :3], atol=1e-12)
    # recording is switched off again (plain predict uses the fused kernels: equal to
    # rounding)
    assert not lstm.record_states and not rnn.record_states
    np.testing.assert_allclose(model.predict(x, batch_size=2), y, rtol=0, atol=1e-12)


def test_predict_return_states_with_lengths_repeats_the_last_valid_state():
    model = Sequential(GRU(2, 3, seed=0))
    x = np.random.default_rng(0).standard_normal((3, 6, 2))
    lengths = np.array([6, 2, 4])
    _, states = model.predict(x, lengths=lengths, return_states=True)
    h = states["0"]["h"][0]
    for i, length in enumerate(lengths):
        for t in range(length, 6):
            np.testing.assert_array_equal(h[i, t], h[i, length - 1])


# ------------------------------------------------------------------------- History
def test_history_is_a_dict_of_metrics_and_a_list_of_epoch_records():
    h = History()
    h.append(0, {"loss": 0.5, "val_loss": 0.6})
    h.append(1, {"loss": 0.25, "val_loss": 0.3})
    # dict side (Keras's history.history)
    assert h["loss"] == [0.5, 0.25] and h.history["val_loss"] == [0.6, 0.3]
    assert "val_loss" in h and "accuracy" not in h
    assert list(h.keys()) == ["loss", "val_loss"] and dict(h.items()) == h.history
    assert h.get("missing", "x") == "x"
    # list side
    assert len(h) == 2
    assert h[0] == {"epoch": 1, "loss": 0.5, "val_loss": 0.6}
    assert h[-1]["epoch"] == 2 and h[1:] == [h[1]]
    assert [r["loss"] for r in h] == [0.5, 0.25]
    with pytest.raises(IndexError, match="out of range for 2"):
        h[2]
    with pytest.raises(KeyError, match="accuracy"):
        h["accuracy"]
    with pytest.raises(TypeError, match="metric names"):
        h[1.5]


def test_fit_returns_history_usable_both_ways():
    x = np.random.default_rng(0).standard_normal((32, 4, 2))
    y = x.sum(axis=(1, 2))[:, None]
    model = Sequential(RNN(2, 4, seed=0), LastStep(), Dense(4, 1, seed=0))
    history = Solver(model, epochs=3, seed=0).fit(x, y, validation_split=0.25)
    assert len(history) == 3 and [r["epoch"] for r in history] == [1, 2, 3]
    assert history[-1]["val_loss"] == history["val_loss"][-1]


# ----------------------------------------------------------------------- activations
def test_gompertz_values_and_rnn_defaults():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(Gompertz().forward(x), np.exp(-np.exp(-x)))
    np.testing.assert_allclose(Gompertz(a=2.0, b=3.0, c=0.5).forward(x),
                               2.0 * np.exp(-3.0 * np.exp(-0.5 * x)))
    # saturates without NaN: exp(-c x) overflows for very negative x
    big = Gompertz()
    y = big.forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(y, [0.0, 1.0])
    np.testing.assert_array_equal(big.backward(np.ones(2)), [0.0, 0.0])
    assert Logistic is Sigmoid
    with pytest.raises(ValueError, match="c must be a finite number greater than zero"):
        Gompertz(c=0.0)


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), Gompertz(), Gompertz(a=2.0, b=0.5, c=3.0)],
                         ids=repr)
@given(shape=recurrent_shapes(), seed=seeds())
def test_output_activations_gradients(layer, shape, seed):
    x = np.random.default_rng(seed).uniform(-3, 3, (shape.batch, shape.time, shape.features))
    gradcheck(layer, x, seed=seed, tolerance=1e-7)


@given(seed=seeds(), c=st.floats(0.2, 3.0))
def test_gompertz_output_layer_in_a_model_gradients(seed, c):
    model = Sequential(RNN(2, 3, seed=seed), Dense(3, 2, seed=seed), Gompertz(c=c))
    gradcheck(model, np.random.default_rng(seed).standard_normal((2, 4, 2)), seed=seed,
              tolerance=1e-7)


def test_gompertz_saves_its_parameters(tmp_path):
    model = Sequential(Dense(2, 2, seed=0), Gompertz(a=2.0, b=0.5, c=3.0))
    model.save(tmp_path / "g.npz")
    loaded = minirnn.load(tmp_path / "g.npz")
    assert repr(loaded[1]) == "Gompertz(a=2, b=0.5, c=3)"


# ------------------------------------------------------------ shape errors, user's terms
def test_shape_errors_name_the_layer_and_the_users_shapes():
    from minirnn.nn.losses import CrossEntropy

    model = Sequential(LSTM(2, 4, seed=0), LastStep(), Dense(4, 1, seed=0))
    solver = Solver(model, batch_size=4)
    y = np.zeros((10, 1))
    with pytest.raises(ValueError) as info:
        solver.fit(np.zeros((10, 5, 3)), y)
    assert str(info.value) == ("training x has shape (10, 5, 3), but layer 0 (LSTM) expects "
                               "(N, T, 2): 2 features per step")
    with pytest.raises(ValueError, match=r"training y has shape \(10, 5, 1\), but the model's "
                                         r"output for x \(10, 5, 2\) has shape \(10, 1\)"):
        solver.fit(np.zeros((10, 5, 2)), np.zeros((10, 5, 1)))
    with pytest.raises(ValueError, match=r"validation x has shape \(3, 5, 1\)"):
        solver.fit(np.zeros((10, 5, 2)), y, validation_data=(np.zeros((3, 5, 1)), y[:3]))
    with pytest.raises(ValueError, match=r"predict: x has shape \(7, 5, 3\), but layer 0"):
        model.predict(np.zeros((7, 5, 3)))
    with pytest.raises(ValueError, match=r"predict: x has shape \(7, 5, 3\), but layer 0"):
        solver.predict(np.zeros((7, 5, 3)))
    with pytest.raises(ValueError, match=r"evaluation x has shape \(7, 5, 3\)"):
        solver.evaluate(np.zeros((7, 5, 3)), np.zeros((7, 1)))
    broken = Sequential(LSTM(2, 4, seed=0), LastStep(), Dense(5, 1, seed=0))
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\) expects \(N, 5\) or \(N, T, 5\)"
                                         r": 5 features, but gets \(7, 4\) from layer 1 "
                                         r"\(LastStep\)"):
        broken.predict(np.zeros((7, 5, 2)))
    classifier = Sequential(LSTM(2, 4, seed=0), LastStep(), Dense(4, 3, seed=0))
    with pytest.raises(ValueError, match=r"training y has shape \(6, 3\).*class indices of "
                                         r"shape \(6,\)"):
        Solver(classifier, loss=CrossEntropy()).fit(np.zeros((6, 5, 2)), np.zeros((6, 3)))


# --------------------------------------------------------- unsynchronised seq-to-seq
def test_seq_to_seq_unsync_layout_and_mask():
    from minirnn.apps.data import seq_to_seq_unsync, unsync_outputs

    x = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2) + 1
    y = -np.arange(2 * 2 * 1, dtype=float).reshape(2, 2, 1) - 1
    xf, yf, mask = seq_to_seq_unsync(x, y)
    assert xf.shape == (2, 5, 2) and yf.shape == (2, 5, 1) and mask.shape == (2, 5)
    np.testing.assert_array_equal(xf[:, :3], x)
    assert not xf[:, 3:].any() and not yf[:, :3].any()
    np.testing.assert_array_equal(yf[:, 3:], y)
    np.testing.assert_array_equal(mask, [[0, 0, 0, 1, 1]] * 2)
    xg, _, _ = seq_to_seq_unsync(x, y, go_flag=True)
    np.testing.assert_array_equal(xg[0, :, 2], [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(unsync_outputs(yf, 2), y)
    with pytest.raises(ValueError, match="same number of sequences N, got 2 and 1"):
        seq_to_seq_unsync(x, y[:1])
    with pytest.raises(ValueError, match=r"y must have shape \(N, Ty, F\)"):
        seq_to_seq_unsync(x, y[..., 0])


def test_masked_loss_ignores_the_reading_steps():
    from minirnn.apps.data import seq_to_seq_unsync
    from minirnn.nn.losses import MSE

    x = np.random.default_rng(0).random((4, 3, 1))
    _, yf, mask = seq_to_seq_unsync(x, x[:, ::-1])
    loss = MSE()
    pred = np.random.default_rng(1).random(yf.shape)
    base = loss.forward(pred, yf, mask)
    changed = pred.copy()
    changed[:, :3] += 100.0  # outputs while reading do not count
    assert loss.forward(changed, yf, mask) == pytest.approx(base)
    assert loss.forward(pred, yf, mask) == pytest.approx(np.mean((pred - yf)[:, 3:] ** 2))


def test_an_rnn_learns_to_reverse_a_sequence():
    from minirnn.apps.data import reverse_sequence_task, seq_to_seq_unsync, unsync_outputs

    x, y = reverse_sequence_task(800, 4, seed=0)
    xt, yt = reverse_sequence_task(300, 4, seed=1)
    xf, yf, mask = seq_to_seq_unsync(x, y)
    model = Sequential(GRU(1, 32, seed=0), Dense(32, 1, seed=0))
    Solver(model, optimizer=Adam(model, lr=1e-2), epochs=20, seed=0, clip_norm=1.0).fit(
        xf, yf, mask=mask)
    pred = unsync_outputs(model.predict(seq_to_seq_unsync(xt, yt)[0]), 4)
    mse = float(np.mean((pred - yt) ** 2))
    baseline = float(np.mean((yt - 0.5) ** 2))  # ~1/12: predicting the mean
    assert mse < 0.05 * baseline, (mse, baseline)


# ------------------------------------------------------------- resuming a stopped fit
def _resume_setup(tmp_path, epochs, callbacks=()):
    from minirnn.train.callbacks import EarlyStopping

    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 5, 2))
    y = x[:, :, :1].mean(axis=1)
    model = Sequential(GRU(2, 6, seed=0), LastStep(), Dense(6, 1, seed=0))
    stopper = EarlyStopping(patience=50, restore_best_weights=True)
    solver = Solver(model, optimizer=Adam(model, lr=3e-2), batch_size=16, epochs=epochs,
                    seed=0, checkpoint_path=tmp_path / "ck.npz",
                    callbacks=[stopper, *callbacks])
    return solver, x, y


# Validation targets the model cannot fit: the best validation epoch is an early one, so
# the restored best weights differ from the last epoch's (which a resume must continue).
def _val(x, y):
    return x[:16], -3.0 * y[:16]


def test_ctrl_c_then_resume_equals_an_uninterrupted_fit(tmp_path):
    from minirnn.train.callbacks import Callback

    class CtrlC(Callback):
        def on_epoch_begin(self, epoch, logs):
            if epoch == 3:
                raise KeyboardInterrupt

    (tmp_path / "a").mkdir()
    full, x, y = _resume_setup(tmp_path / "a", 6)
    val = _val(x, y)
    full.fit(x, y, validation_data=val)
    (tmp_path / "b").mkdir()
    stopped, _, _ = _resume_setup(tmp_path / "b", 6, [CtrlC()])
    stopped.fit(x, y, validation_data=val)
    assert stopped.interrupted and len(stopped.history) == 3
    assert int(np.argmin(stopped.history["val_loss"])) < 2  # best weights != last weights
    again, _, _ = _resume_setup(tmp_path / "b", 6)
    again.fit(x, y, validation_data=val, resume=True)
    assert len(again.history) == 6 and again.history["loss"] == full.history["loss"]
    for k, v in full.model.state_dict().items():
        np.testing.assert_array_equal(again.model.state_dict()[k], v, err_msg=k)


def test_a_finished_fit_resumed_with_more_epochs_equals_a_longer_fit(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    long, x, y = _resume_setup(tmp_path / "a", 5)
    val = _val(x, y)
    long.fit(x, y, validation_data=val)
    short, _, _ = _resume_setup(tmp_path / "b", 3)
    short.fit(x, y, validation_data=val)
    more, _, _ = _resume_setup(tmp_path / "b", 5)
    more.fit(x, y, validation_data=val, resume=True)
    assert more.history["val_loss"] == long.history["val_loss"]
    assert int(np.argmin(long.history["val_loss"])) < 2  # best weights != last weights
    for k, v in long.model.state_dict().items():
        np.testing.assert_array_equal(more.model.state_dict()[k], v, err_msg=k)
