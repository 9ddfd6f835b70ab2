"""``minirnn train classify`` when stopped: Ctrl-C after training keeps the final model, Ctrl-C
inside ``fit`` between or after the members keeps the members trained; and the members' early
stopping, whose patience counts from the last rise in validation accuracy or marked fall in
validation loss (any lower loss picks the weights among tied epochs, but small falls at
accuracy 1.0 no longer train to the epoch limit), with the printed best epoch equal to
report.json's.

Data are small generated Cylinder-Bell-Funnel sets; interruptions are injected as
``KeyboardInterrupt`` where the first signal would land, so nothing depends on timing.
"""

import json
import re
from typing import Any

import numpy as np
import pytest

from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.classification import classifier as classifier_module
from minirnn.apps.classification.classifier import _AccuracyStopping
from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts
from minirnn.cli import main
from minirnn.train.callbacks import Callback

TINY = ["--epochs", "3", "--hidden-size", "6", "--no-plot", "--quiet-epochs", "--max-steps",
        "32", "--ensemble", "2", "--dtw", "no", "--rocket", "no", "--rocket-member", "no"]


def _fit_through(clf: SequenceClassifier, x: np.ndarray, y: np.ndarray) -> None:
    """``clf.fit``; a KeyboardInterrupt escaping it fails the test (instead of stopping the
    test session)."""
    try:
        clf.fit(x, y)
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped fit: the members trained were lost")


def _pair(tmp_path, n_train=24, n_test=15, length=64):
    x, y = cylinder_bell_funnel(n_train, length, seed=0)
    save_ts(tmp_path / "CBF_TRAIN.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    xt, yt = cylinder_bell_funnel(n_test, length, seed=1)
    save_ts(tmp_path / "CBF_TEST.ts", xt, None, yt, CBF_CLASSES, problem_name="CBF")
    return tmp_path / "CBF_TRAIN.ts", tmp_path / "CBF_TEST.ts"


# ------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_during_the_test_evaluation_keeps_the_final_model(tmp_path, capsys,
                                                                  monkeypatch):
    train, test = _pair(tmp_path)
    whole, stopped = tmp_path / "whole", tmp_path / "stopped"
    assert main(["train", "classify", "--train", str(train), "--test", str(test), "--output",
                 str(whole), *TINY]) == 0
    capsys.readouterr()

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the test series are being classified

    with monkeypatch.context() as patch:
        patch.setattr(SequenceClassifier, "proba_parts", interrupted)
        status = main(["train", "classify", "--train", str(train), "--test", str(test),
                       "--output", str(stopped), *TINY])
    assert status == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minirnn: interrupted; saved ") and \
        "model.npz" in err[0] and "test evaluation was interrupted" in err[0], err
    assert "nothing was saved" not in err[0] and "2 of 2 member(s)" in err[0]
    report = json.loads((stopped / "report.json").read_text())
    assert report["status"] == "interrupted" and report["test_accuracy"] is None
    assert report["interrupted_during"] == "the test evaluation"
    assert report["members_trained"] == 2 and len(report["members"]) == 2
    assert report["confusion_matrix"] is None and report["per_class"] is None
    assert not (stopped / "per_class.csv").exists()  # no test figures claimed anywhere
    assert (stopped / "history.csv").is_file()
    # What was kept is the model the uninterrupted run finished with (same seed).
    kept, _ = SequenceClassifier.load(stopped / "model.npz")
    final, _ = SequenceClassifier.load(whole / "model.npz")
    assert len(kept.models) == 2
    xt, _ = cylinder_bell_funnel(15, 64, seed=1)
    np.testing.assert_array_equal(kept.predict_proba(xt), final.predict_proba(xt))
    done = json.loads((whole / "report.json").read_text())
    assert done["status"] == "finished" and done["test_accuracy"] is not None
    assert "interrupted_during" not in done


def test_ctrl_c_while_the_files_are_written_keeps_the_model_and_its_test_figures(
        tmp_path, capsys, monkeypatch):
    from minirnn.apps.tasks import classify as classify_module

    train, test = _pair(tmp_path)
    out = tmp_path / "run"
    written = classify_module.write_history
    calls = []

    def interrupted_once(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return written(*args, **kwargs)

    monkeypatch.setattr(classify_module, "write_history", interrupted_once)
    assert main(["train", "classify", "--train", str(train), "--test", str(test),
                 "--output", str(out), *TINY]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the final model, 2 of 2 member(s), and its test figures" in \
        err[0] and "per_class.csv" in err[0], err
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted"
    assert report["interrupted_during"] == "the saving of the files"
    assert 0.0 <= report["test_accuracy"] <= 1.0 and len(calls) == 2
    assert (out / "per_class.csv").is_file() and (out / "history.csv").is_file()
    assert len(SequenceClassifier.load(out / "model.npz")[0].models) == 2


def test_ctrl_c_while_choosing_the_blend_keeps_every_member(monkeypatch):
    x, y = cylinder_bell_funnel(24, 40, seed=0)

    chosen = classifier_module.choose_blend

    def interrupted(held_out, *args, **kwargs):
        if "network" in held_out:  # the parts' blend, after the members (not the distances')
            raise KeyboardInterrupt
        return chosen(held_out, *args, **kwargs)

    monkeypatch.setattr(classifier_module, "choose_blend", interrupted)
    clf = SequenceClassifier(hidden_size=4, epochs=2, n_models=3, dtype=np.float64,
                             neighbors=0.3, neighbor_distances="euclidean", rocket=False)
    _fit_through(clf, x, y)
    assert clf.interrupted and len(clf.models) == 3 and len(clf.stoppers) == 3
    # the fixed rule, which needs no computation, instead of the weights being chosen
    assert clf.blend_weights == {"network": pytest.approx(0.7), "neighbors": 0.3}
    assert clf.predict_proba(x).shape == (24, 3)


def test_ctrl_c_during_a_refit_keeps_the_member_trained_on_its_split(monkeypatch):
    x, y = cylinder_bell_funnel(24, 40, seed=0)
    made = classifier_module.make_solver

    class Stop(Callback):
        def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
            raise KeyboardInterrupt

    def make_solver(*args, **kwargs):
        if "metrics" not in kwargs:  # the refit on every training series
            kwargs["callbacks"] = [Stop()]
        return made(*args, **kwargs)

    monkeypatch.setattr(classifier_module, "make_solver", make_solver)
    clf = SequenceClassifier(hidden_size=4, epochs=3, n_models=2, dtype=np.float64,
                             neighbors=0.0, rocket=False, refit=True)
    _fit_through(clf, x, y)
    assert clf.interrupted and len(clf.models) == 1  # member 2 was not started
    best = clf.solvers[0].best_weights
    assert best is not None
    state = clf.models[0].state_dict()
    assert all(np.array_equal(state[k], best[k]) for k in best)  # not the half-refitted one


# ----------------------------------------------------------------- early stopping
class _Solver:
    """What the stopper reads and sets on a Solver."""

    def __init__(self) -> None:
        self.stop_training = False
        self.recorded: list[float] = []

    def claim_best(self, owner: Callback) -> None:
        pass

    def record_best(self, value: float) -> None:
        self.recorded.append(value)


def _epochs(stopper: _AccuracyStopping, accuracies: list[float], step: float) -> int:
    """Feed epochs whose validation loss falls by ``step`` each; the epoch training stops
    after (len(accuracies): it did not stop)."""
    solver = _Solver()
    stopper.set_solver(solver)  # type: ignore[arg-type]
    stopper.on_train_begin({})
    for epoch, acc in enumerate(accuracies):
        loss = 1.0 - step * epoch
        stopper.on_epoch_end(epoch, {"val_accuracy": acc, "val_loss": loss,
                                     "val_score": acc - 1e-6 * loss})
        if solver.stop_training:
            return epoch
    return len(accuracies)


def test_small_loss_falls_at_the_best_accuracy_do_not_reset_patience():
    stopper = _AccuracyStopping(patience=3, loss_delta=0.01)
    # accuracy 1.0 from epoch 2 on, the loss falling by 0.002 an epoch (as on easy sets)
    assert _epochs(stopper, [0.5, 0.75] + [1.0] * 40, step=0.002) == 5
    assert stopper.best_accuracy == 1.0
    assert stopper.best_epoch == 5  # the weights: the lowest loss among the tied epochs
    assert stopper.stopped_epoch == 5
    # falls of 0.003 add up past 0.01 every fourth epoch: still learning, never stopped
    assert _epochs(_AccuracyStopping(patience=4, loss_delta=0.01), [1.0] * 60,
                   step=0.003) == 60
    # a fall larger than the margin restarts patience (the default margin too)
    default = _AccuracyStopping(patience=3)
    assert _epochs(default, [1.0] * 40, step=2 * default.loss_delta) == 40
    assert _epochs(_AccuracyStopping(patience=3), [1.0] * 40,
                   step=default.loss_delta / 4) == 3


def test_a_rise_in_accuracy_resets_patience_and_a_lower_accuracy_never_wins():
    stopper = _AccuracyStopping(patience=3, loss_delta=0.01)
    # flat for 2 epochs, up at epoch 3, flat, up at epoch 6, then lower with a lower loss
    assert _epochs(stopper, [0.5, 0.5, 0.5, 0.75, 0.75, 0.75, 0.9] + [0.8] * 10,
                   step=0.05) == 9
    assert stopper.best_epoch == 6
    state = stopper.state_dict()
    again = _AccuracyStopping(patience=3)
    again.load_state_dict(state)
    assert again.state_dict() == state
    with pytest.raises(ValueError, match="best_accuracy"):
        again.load_state_dict({k: v for k, v in state.items() if k != "best_accuracy"})
    with pytest.raises(ValueError, match="loss_delta"):
        _AccuracyStopping(patience=3, loss_delta=-0.1)


def test_printed_best_epochs_are_report_json_s(tmp_path, capsys):
    train, test = _pair(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "classify", "--train", str(train), "--test", str(test), "--output",
                 str(out), *TINY, "--ensemble", "3", "--epochs", "25", "--patience",
                 "4"]) == 0
    text = capsys.readouterr().out
    printed = [int(m) for m in re.findall(r"best validation accuracy [0-9.]+ \(epoch (\d+)\)",
                                          text)]
    report = json.loads((out / "report.json").read_text())
    assert printed == [m["best_epoch"] for m in report["members"]]
    assert len(printed) == 3
    history = json.loads((out / "history.json").read_text())
    acc = np.asarray(history["val_accuracy"])
    # the kept epoch (member 1's history) has the member's best accuracy
    assert acc[report["members"][0]["best_epoch"] - 1] == acc.max()
