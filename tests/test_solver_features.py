"""Solver features of the complete training loop: resume, TBPTT, stateful, Ctrl-C, batching."""

import io
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minirnn import Sequential, Solver
from minirnn.apps.data import adding_problem
from minirnn.nn.io import ModelFileError
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, Dropout, LastStep
from minirnn.nn.losses import MSE
from minirnn.optim import SGD, Adam, ReduceLROnPlateau
from minirnn.train.callbacks import Callback, EarlyStopping, LambdaCallback, ProgressBar
from minirnn.train.checkpoint import load_checkpoint


def _model(seed=0):
    return Sequential(LSTM(2, 6, recurrent_dropout=0.2, seed=seed), Dropout(0.1, seed=seed),
                      LastStep(), Dense(6, 1, seed=seed))


def _solver(model, path=None, epochs=6):
    return Solver(model, optimizer=Adam(model, lr=1e-2), batch_size=16, epochs=epochs, seed=3,
                  clip_norm=1.0, checkpoint_path=path,
                  callbacks=[EarlyStopping(patience=10, restore_best_weights=False),
                             ReduceLROnPlateau(patience=1, factor=0.5)])


def _data():
    return adding_problem(80, 6, seed=0), adding_problem(20, 6, seed=1)


def test_resume_equals_uninterrupted_bit_for_bit(tmp_path):
    (x, y), val = _data()
    full = _model()
    _solver(full).fit(x, y, validation_data=val)
    path = tmp_path / "ckpt.npz"
    part = _model()
    _solver(part, path, epochs=3).fit(x, y, validation_data=val)
    resumed = _model(seed=99)  # different initial weights and RNG: all must come from the file
    solver = _solver(resumed, path)
    history = solver.fit(x, y, validation_data=val, resume=True)
    assert len(history) == 6 and history.epoch == list(range(6))
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_killed_subprocess_resumes_from_last_checkpoint(tmp_path, monkeypatch):
    # Bit for bit across two processes: both use the tanh form of the activations (each
    # process otherwise measures its own form, which differs in the last bits; nn._math).
    from minirnn.nn import _math

    for dtype in (np.float32, np.float64):
        monkeypatch.setitem(_math._EXP_FASTER, np.dtype(dtype), False)
        monkeypatch.setitem(_math._EXP_TANH, np.dtype(dtype), False)
    path = tmp_path / "run.npz"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(__import__('pathlib').Path(__file__).parent)!r})
        from test_solver_features import _data, _model, _solver
        from minirnn.train.callbacks import LambdaCallback
        (x, y), val = _data()
        solver = _solver(_model(), {str(path)!r})
        def kill(solver, batch, logs):
            if solver.epoch == 3 and batch == 2:
                os.kill(os.getpid(), signal.SIGKILL)   # no cleanup, mid-epoch
        solver.callbacks.append(LambdaCallback(on_batch_end=kill))
        solver.fit(x, y, validation_data=val)
    """)
    env = {**os.environ, "MINIRNN_ACTIVATIONS": "tanh"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120,
                            env=env)
    assert result.returncode == -9, result.stderr.decode()
    (x, y), val = _data()
    resumed = _model(seed=5)
    solver = _solver(resumed, path)
    load_checkpoint(path, solver)
    assert solver.epoch == 3  # epochs 1-3 were checkpointed, epoch 4 was lost
    solver.fit(x, y, validation_data=val, resume=True)
    full = _model()
    _solver(full).fit(x, y, validation_data=val)
    for k, v in full.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[k], v, err_msg=k)


def test_checkpoint_of_other_architecture_is_rejected_and_nothing_changes(tmp_path):
    (x, y), val = _data()
    path = tmp_path / "c.npz"
    _solver(_model(), path, epochs=1).fit(x, y, validation_data=val)
    other = Sequential(GRU(2, 6, seed=0), LastStep(), Dense(6, 1, seed=0))
    before = other.state_dict()
    solver = Solver(other, checkpoint_path=path)
    with pytest.raises(ModelFileError, match="parameters do not match"):
        solver.fit(x, y, resume=True)
    for k, v in before.items():
        np.testing.assert_array_equal(other.state_dict()[k], v)


def test_ctrl_c_keeps_history_and_best_weights():
    (x, y), val = _data()
    model = _model()
    snapshots = []

    class Interrupt(Callback):
        def on_epoch_end(self, epoch, logs):
            snapshots.append(self.solver.model.state_dict())

        def on_epoch_begin(self, epoch, logs):
            if epoch == 4:
                raise KeyboardInterrupt

    solver = Solver(model, optimizer=SGD(model, lr=2.0), batch_size=16, epochs=10, seed=0,
                    callbacks=[Interrupt()])
    history = solver.fit(x, y, validation_data=val)
    assert solver.interrupted and len(history) == 4
    best = int(np.argmin(history["val_loss"]))
    for k, v in snapshots[best].items():
        np.testing.assert_array_equal(model.state_dict()[k], v)


def _seq_data(n=8, t=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, 2))
    y = np.cumsum(x[..., :1], axis=1) * 0.1
    return x, y


@pytest.mark.parametrize("k1,k2", [(4, 4), (3, 6), (5, 5)])
def test_tbptt_matches_manual_truncated_training(k1, k2):
    x, y = _seq_data()
    model = Sequential(GRU(2, 4, seed=1), Dense(4, 1, seed=1))
    Solver(model, optimizer=SGD(model, lr=0.1), batch_size=8, epochs=2, shuffle=False,
           tbptt=(k1, k2)).fit(x, y)

    ref = Sequential(GRU(2, 4, seed=1), Dense(4, 1, seed=1))
    gru, dense = ref.layers
    opt = SGD(ref, lr=0.1)
    loss = MSE()
    T = x.shape[1]
    for _ in range(2):
        states = {0: None}
        counted = 0
        for end in range(k1, T + k1, k1):
            end = min(end, T)
            begin = max(0, end - k2)
            begin -= begin % k1
            opt.zero_grad()
            h = gru.forward(x[:, begin:end], states[begin], training=True)
            pred = dense.forward(h, training=True)
            mask = np.zeros((8, end - begin))
            mask[:, counted - begin:] = 1
            loss.forward(pred, y[:, begin:end], mask)
            gru.backward(dense.backward(loss.backward()))
            opt.step()
            states[end] = gru.final_state
            counted = end
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v, rtol=1e-12, atol=1e-14, err_msg=k)


def test_tbptt_with_full_window_equals_plain_training():
    x, y = _seq_data()
    a = Sequential(LSTM(2, 3, seed=0), Dense(3, 1, seed=0))
    b = Sequential(LSTM(2, 3, seed=0), Dense(3, 1, seed=0))
    Solver(a, batch_size=4, epochs=2, seed=1, tbptt=12).fit(x, y)
    Solver(b, batch_size=4, epochs=2, seed=1).fit(x, y)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)


def test_stateful_training_carries_states_between_batches():
    x, y = _seq_data(n=8, t=5)
    model = Sequential(RNN(2, 3, seed=0), Dense(3, 1, seed=0))
    solver = Solver(model, optimizer=SGD(model, lr=0.05), batch_size=4, epochs=1,
                    shuffle=False, stateful=True)
    solver.fit(x, y)
    ref = Sequential(RNN(2, 3, seed=0), Dense(3, 1, seed=0))
    rnn, dense = ref.layers
    opt, loss, state = SGD(ref, lr=0.05), MSE(), None
    for b in range(2):
        opt.zero_grad()
        xb, yb = x[4 * b:4 * b + 4], y[4 * b:4 * b + 4]
        pred = dense.forward(rnn.forward(xb, state, training=True))
        loss.forward(pred, yb)
        rnn.backward(dense.backward(loss.backward()))
        opt.step()
        state = rnn.final_state
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k], v, rtol=1e-13)
    with pytest.raises(ValueError, match="needs shuffle=False"):
        Solver(model, stateful=True)
    with pytest.raises(ValueError, match="not a multiple of batch_size 3"):
        Solver(model, stateful=True, shuffle=False, batch_size=3).fit(x, y)


def test_batching_options_validation_split_and_drop_last():
    x, y = adding_problem(50, 4, seed=0)
    sizes = []
    model = Sequential(GRU(2, 3, seed=0), LastStep(), Dense(3, 1, seed=0))
    cb = LambdaCallback(on_batch_end=lambda s, b, logs: sizes.append(logs["size"]))
    history = Solver(model, batch_size=16, epochs=1, drop_last=True, callbacks=[cb]).fit(
        x, y, validation_split=0.2)
    assert sizes == [16, 16] and "val_loss" in history  # 40 training samples, last 8 dropped
    sizes.clear()
    Solver(model, batch_size=16, epochs=1, callbacks=[cb]).fit(x, y)
    assert sizes == [16, 16, 16, 2]
    with pytest.raises(ValueError, match="validation_split must be in"):
        Solver(model).fit(x, y, validation_split=1.5)


def test_masks_and_lengths_for_padded_sequences():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 5, 2))
    lengths = np.array([5, 3, 1, 4, 2, 5])
    y_step = rng.standard_normal((6, 5, 1))
    y_last = rng.standard_normal((6, 1))
    seq = Sequential(LSTM(2, 3, seed=0), Dense(3, 1, seed=0))
    garbage = x.copy()
    garbage[np.arange(5)[None, :] >= lengths[:, None]] = 1e3
    a = Solver(seq, epochs=1, shuffle=False).evaluate(x, y_step, lengths=lengths)
    b = Solver(seq, epochs=1, shuffle=False).evaluate(garbage, y_step, lengths=lengths)
    assert a == pytest.approx(b, rel=1e-12)  # padding changes nothing, loss masked from lengths
    last = Sequential(GRU(2, 3, seed=0), LastStep(), Dense(3, 1, seed=0))
    s = Solver(last, epochs=2, batch_size=3)
    s.fit(garbage, y_last, lengths=lengths)
    np.testing.assert_allclose(s.predict(garbage, lengths=lengths),
                               s.predict(x, lengths=lengths), rtol=1e-12)


def test_param_norms_progress_and_predict_in_eval_mode():
    x, y = adding_problem(32, 4, seed=0)
    model = Sequential(GRU(2, 3, seed=0), Dropout(0.5, seed=0), LastStep(), Dense(3, 1, seed=0))
    stream = io.StringIO()
    solver = Solver(model, batch_size=8, epochs=2, record_param_norms=True,
                    callbacks=[ProgressBar(every_batches=2, stream=stream)])
    history = solver.fit(x, y)
    names = [n for n, _ in model.named_parameters()]
    for n in names:
        assert len(history[f"grad_norm/{n}"]) == 2
    total = math.sqrt(sum(history[f"grad_norm/{n}"][0] ** 2 for n in names))
    assert total == pytest.approx(history["grad_norm"][0], rel=0.5)
    assert "samples/s" in stream.getvalue() and "loss" in stream.getvalue()
    np.testing.assert_array_equal(solver.predict(x), solver.predict(x))
