"""minirnn.nn.metrics and the Solver's metrics hook (history keys, EarlyStopping,
ModelCheckpoint)."""

import numpy as np
import pytest

from minirnn import Sequential, Solver
from minirnn.nn.io import load_model
from minirnn.nn.layers import GRU, Dense, SequencePooling
from minirnn.nn.losses import CrossEntropy
from minirnn.nn.metrics import (
    Accuracy,
    F1Macro,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    f1_macro,
    get_metric,
    precision_recall_f1,
    softmax,
    top_k_accuracy,
)
from minirnn.nn.optim import Adam
from minirnn.train.callbacks import EarlyStopping, ModelCheckpoint, monitor_mode


def test_functions_on_a_hand_worked_example():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 0, 2])
    assert accuracy(y, p) == pytest.approx(4 / 6)
    cm = confusion_matrix(y, p, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    precision, recall, f1 = precision_recall_f1(cm)
    np.testing.assert_allclose(precision, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(recall, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(f1, [0.5, 0.8, 2 / 3])
    assert f1_macro(y, p) == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    scores = np.array([[3, 2, 1], [1, 3, 2], [3, 2, 1]], dtype=float)
    assert top_k_accuracy(np.array([1, 0, 2]), scores, k=1) == 0.0
    assert top_k_accuracy(np.array([1, 0, 2]), scores, k=2) == pytest.approx(1 / 3)
    assert top_k_accuracy(np.array([1, 0, 2]), scores, k=3) == 1.0


def test_softmax_is_stable_and_normalised():
    p = softmax(np.array([[1000.0, 0.0, -1000.0], [1.0, 1.0, 1.0]]))
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], 1 / 3)


def test_streaming_equals_whole_batch_with_masks_and_binary():
    rng = np.random.default_rng(0)
    scores, y = rng.standard_normal((40, 4)), rng.integers(0, 4, 40)
    for metric, whole in ((Accuracy(), accuracy(y, scores.argmax(1))),
                          (TopKAccuracy(2), top_k_accuracy(y, scores, 2)),
                          (F1Macro(), f1_macro(y, scores.argmax(1), 4))):
        for part in np.array_split(np.arange(40), 3):
            metric.update(scores[part], y[part])
        assert metric.result() == pytest.approx(whole)
    per_step, targets = rng.standard_normal((3, 5, 4)), rng.integers(0, 4, (3, 5))
    mask = rng.random((3, 5)) < 0.5
    acc = Accuracy()
    acc.update(per_step, targets, mask)
    assert acc.result() == pytest.approx(np.mean(per_step.argmax(-1)[mask] == targets[mask]))
    binary = Accuracy()
    binary.update(np.array([[-1.0], [2.0], [0.5]]), np.array([[0.0], [1.0], [0.0]]))
    assert binary.result() == pytest.approx(2 / 3)


def test_names_and_modes():
    assert get_metric("acc").name == "accuracy" and get_metric("top_k_accuracy").k == 5
    assert get_metric("macro_f1").name == "f1_macro"
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        get_metric("auc")
    assert monitor_mode("val_accuracy") == "max" and monitor_mode("val_loss") == "min"
    assert monitor_mode("val_f1_macro") == "max" and monitor_mode("loss", "max") == "max"
    with pytest.raises(ValueError, match="mode must be"):
        monitor_mode("loss", "down")


def _task(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 6, 2)) * 0.5
    x[:, :, 0] += y[:, None] - 1.0  # the class shifts the first feature
    return x, y


def test_solver_records_metrics_and_early_stopping_maximises_them(tmp_path):
    (x, y), (xv, yv) = _task(90, 0), _task(45, 1)
    model = Sequential(GRU(2, 8, seed=0), SequencePooling("mean"), Dense(8, 3, seed=0))
    stopper = EarlyStopping(monitor="val_accuracy", patience=2, restore_best_weights=True)
    saver = ModelCheckpoint(tmp_path / "best.npz", monitor="val_accuracy")
    solver = Solver(model, loss=CrossEntropy(), optimizer=Adam(model, lr=1e-2), batch_size=16,
                    epochs=12, seed=0, metrics=["accuracy", "f1_macro", "top_k_accuracy"],
                    callbacks=[stopper, saver])
    history = solver.fit(x, y, validation_data=(xv, yv))
    for key in ("accuracy", "val_accuracy", "f1_macro", "val_f1_macro", "top5_accuracy"):
        assert key in history and len(history[key]) == len(history)
    assert history["val_top5_accuracy"] == [1.0] * len(history)  # 3 classes: always in top 5
    assert stopper.mode == "max" and stopper.best == max(history["val_accuracy"])
    assert stopper.best > 0.8
    predicted = solver.predict(xv).argmax(axis=1)
    assert accuracy(yv, predicted) == pytest.approx(stopper.best)  # best weights restored
    assert saver.best == stopper.best
    saved = load_model(tmp_path / "best.npz").predict(xv).argmax(axis=1)
    assert accuracy(yv, saved) == pytest.approx(saver.best)
    result = solver.evaluate(xv, yv, return_dict=True)
    assert set(result) == {"loss", "accuracy", "f1_macro", "top5_accuracy"}
    assert isinstance(solver.evaluate(xv, yv), float)


def test_sequential_predict_proba():
    model = Sequential(GRU(2, 4, seed=0), SequencePooling("mean"), Dense(4, 3, seed=0))
    x = np.random.default_rng(0).standard_normal((5, 6, 2))
    proba = model.predict_proba(x, lengths=np.array([6, 2, 3, 6, 1]))
    np.testing.assert_allclose(proba, softmax(model.predict(x, lengths=np.array(
        [6, 2, 3, 6, 1]))))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    binary = Sequential(GRU(2, 4, seed=0), SequencePooling("last"), Dense(4, 1, seed=0))
    p = binary.predict_proba(x)
    logit = binary.predict(x)[:, 0]
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-logit)))
