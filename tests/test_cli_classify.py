"""``minirnn train classify`` and ``minirnn predict`` on a classifier: files, output, bad input.

Data are small Cylinder-Bell-Funnel sets written as .ts files, so nothing is read from outside.
"""

import csv
import json
import re

import numpy as np
import pytest

from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts
from minirnn.cli import main

TINY = ["--epochs", "3", "--hidden-size", "6", "--no-plot", "--quiet-epochs", "--max-steps",
        "32", "--ensemble", "1"]


def _pair(tmp_path, n_train=24, n_test=15, length=64, seed=0):
    x, y = cylinder_bell_funnel(n_train, length, seed=seed)
    save_ts(tmp_path / "CBF_TRAIN.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    xt, yt = cylinder_bell_funnel(n_test, length, seed=seed + 1)
    save_ts(tmp_path / "CBF_TEST.ts", xt, None, yt, CBF_CLASSES, problem_name="CBF")
    return tmp_path / "CBF_TRAIN.ts", tmp_path / "CBF_TEST.ts"


def test_train_writes_report_model_and_predict_writes_probabilities(tmp_path, capsys):
    train, test = _pair(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "classify", "--train", str(train), "--test", str(test),
                 "--output", str(out), *TINY, "--ensemble", "2"]) == 0
    text = capsys.readouterr().out
    line = next(s for s in text.splitlines() if s.startswith("test accuracy "))
    acc = float(line.split()[2])
    assert 0.0 <= acc <= 1.0 and "1-NN Euclidean" in line and "majority class" in line
    assert "adam lr 0.003" in text  # the task's measured default, not Adam's own 1e-3
    for name in ("model.npz", "report.json", "per_class.csv", "confusion.csv", "history.csv"):
        assert (out / name).is_file(), name
    assert not list(out.glob("model.*.npz"))  # members and neighbours inside model.npz
    report = json.loads((out / "report.json").read_text())
    assert report["test_accuracy"] == pytest.approx(acc, abs=5e-5)
    assert report["classes"] == CBF_CLASSES and np.sum(report["confusion_matrix"]) == 15
    assert report["nn1_dtw_accuracy"] is not None and 0 <= report["nn1_euclidean_accuracy"] <= 1
    assert len(report["members"]) == 2 and "time_limit" not in report
    near = report["neighbors"]
    warped = [k for k in near["distances"] if k in ("dtw", "ddtw")]
    assert set(near["dtw_bands"]) == set(warped) and set(near["band_loo_accuracy"]) == set(warped)
    if warped:
        assert "warping bands chosen by leave-one-out (steps): " in text
    if len(near["distances"]) > 1:
        assert set(near["distance_weights"]) == set(near["distances"])
        assert sum(near["distance_weights"].values()) == pytest.approx(1.0)
        assert "neighbors" in report["part_accuracy"]
    history = json.loads((out / "history.json").read_text())
    assert "val_accuracy" in history and "accuracy" in history

    preds = tmp_path / "preds.csv"
    assert main(["predict", str(out / "model.npz"), "--ts", str(test), "--output",
                 str(preds)]) == 0
    assert "accuracy on the labelled file" in capsys.readouterr().out
    rows = list(csv.DictReader(preds.open()))
    assert len(rows) == 15 and set(rows[0]) == {"index", "predicted", "true", "p_cylinder",
                                                 "p_bell", "p_funnel"}
    probs = np.array([[float(r[f"p_{c}"]) for c in CBF_CLASSES] for r in rows])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = [CBF_CLASSES[k] for k in probs.argmax(axis=1)]
    assert predicted == [r["predicted"] for r in rows]
    assert np.mean([r["predicted"] == r["true"] for r in rows]) == pytest.approx(acc, abs=5e-5)


def test_cbf_learns_far_above_majority(tmp_path, capsys):
    train, test = _pair(tmp_path, n_train=60, n_test=60, length=64, seed=3)
    assert main(["train", "classify", "--train", str(train), "--test", str(test), "--output",
                 str(tmp_path / "r"), "--epochs", "40", "--hidden-size", "16", "--no-plot",
                 "--quiet-epochs", "--dtw", "no", "--max-steps", "32", "--batch-size", "8",
                 "--ensemble", "1", "--lr", "1e-2", "--neighbors", "0"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["test_accuracy"] > 0.8 and report["majority_accuracy"] < 0.4


def _error(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("minirnn: error: ") and "Traceback" not in err
    return err


def test_bad_input_is_one_line_before_training(tmp_path, capsys):
    train, test = _pair(tmp_path)
    base = ["train", "classify", "--output", str(tmp_path / "o"), *TINY]
    x, y = cylinder_bell_funnel(6, 64, seed=5)
    save_ts(tmp_path / "two_dims.ts", np.concatenate([x, x], axis=2), None, y, CBF_CLASSES)
    assert "has 2 dimensions" in _error([*base, "--train", str(train), "--test",
                                         str(tmp_path / "two_dims.ts")], capsys)
    save_ts(tmp_path / "short.ts", x[:, :50], None, y, CBF_CLASSES)
    assert "every training series has 64" in _error(
        [*base, "--train", str(train), "--test", str(tmp_path / "short.ts")], capsys)
    save_ts(tmp_path / "other.ts", x, None, y, ["cylinder", "bell", "cone"])
    assert "label 'cone' is not one of the training classes" in _error(
        [*base, "--train", str(train), "--test", str(tmp_path / "other.ts")], capsys)
    save_ts(tmp_path / "one.ts", x, None, np.zeros(6, dtype=np.int64), CBF_CLASSES)
    assert "needs at least two" in _error(
        [*base, "--train", str(tmp_path / "one.ts"), "--test", str(test)], capsys)
    unseen = tmp_path / "unseen_TRAIN.ts"
    save_ts(unseen, x, None, np.where(y == 2, 0, y), CBF_CLASSES)
    assert "never occur in the training file" in _error(
        [*base, "--train", str(unseen), "--test", str(test)], capsys)
    holes = x.copy()
    holes[2, 10, 0] = np.nan
    save_ts(tmp_path / "holes.ts", holes, None, y, CBF_CLASSES)
    assert "missing values (first in case 3)" in _error(
        [*base, "--train", str(tmp_path / "holes.ts"), "--test", str(test), "--missing",
         "error"], capsys)
    assert "no such file" in _error([*base, "--train", str(tmp_path / "nope.ts"), "--test",
                                     str(test)], capsys)
    bad = tmp_path / "bad.ts"
    bad.write_text("@classLabel true a b\n@data\n1,2,x:a\n")
    assert "line 3" in _error([*base, "--train", str(bad), "--test", str(test)], capsys)
    assert not (tmp_path / "o").exists()  # nothing written before the checks passed


def test_missing_values_are_interpolated_by_default(tmp_path, capsys):
    _, test = _pair(tmp_path)
    x, y = cylinder_bell_funnel(24, 64, seed=0)
    x[1, 5, 0] = np.nan
    save_ts(tmp_path / "gaps_TRAIN.ts", x, None, y, CBF_CLASSES)
    assert main(["train", "classify", "--train", str(tmp_path / "gaps_TRAIN.ts"), "--test",
                 str(test), "--output", str(tmp_path / "g"), *TINY, "--dtw", "no"]) == 0
    assert "1 missing values: 1 interpolated" in capsys.readouterr().out


def test_time_limit_keeps_the_members_trained_so_far(tmp_path, capsys):
    train, test = _pair(tmp_path)
    out = tmp_path / "t"
    assert main(["train", "classify", "--train", str(train), "--test", str(test), "--output",
                 str(out), *TINY, "--ensemble", "3", "--epochs", "50", "--time-limit",
                 "1e-9", "--dtw", "no"]) == 0
    text = capsys.readouterr().out
    assert "time limit 3.33333e-10s reached" in text and "1 of 3 ensemble members" in text
    report = json.loads((out / "report.json").read_text())
    assert report["time_limit"]["reached"] and report["time_limit"]["members_trained"] == 1
    assert report["epochs_run"] == 1 and "test_accuracy" in report


def test_csv_train_and_unlabelled_predict(tmp_path, capsys):
    rows = {}
    for name, n, seed in (("train", 24, 0), ("test", 9, 1)):
        x, y = cylinder_bell_funnel(n, 40, seed=seed)
        rows[name] = (x, y)
        lines = [",".join([CBF_CLASSES[k], *(f"{v:.4f}" for v in x[i, :, 0])])
                 for i, k in enumerate(y)]
        (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n")
    x, _ = rows["test"]
    (tmp_path / "new.csv").write_text("\n".join(",".join(f"{v:.4f}" for v in x[i, :, 0])
                                                for i in range(9)) + "\n")
    out = tmp_path / "c"
    assert main(["train", "classify", "--train", str(tmp_path / "train.csv"), "--test",
                 str(tmp_path / "test.csv"), "--output", str(out), *TINY]) == 0
    assert main(["predict", str(out), "--csv", str(tmp_path / "new.csv"), "--column", "none",
                 "--output", str(tmp_path / "p.csv")]) == 0
    rows_out = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert len(rows_out) == 9 and "true" not in rows_out[0]
    assert {r["predicted"] for r in rows_out} <= set(CBF_CLASSES)
    capsys.readouterr()
    assert main(["predict", str(out / "model.npz")]) == 2
    assert "--ts FILE" in capsys.readouterr().err
    assert main(["predict", str(out / "model.npz"), "--dataset", "airline"]) == 2
    assert "not a shipped classify data set" in capsys.readouterr().err


def test_blend_options_set_the_parts_and_their_weights(tmp_path, capsys):
    train, test = _pair(tmp_path)
    base = ["train", "classify", "--train", str(train), "--test", str(test), *TINY,
            "--dtw", "no", "--rocket", "no", "--neighbor-distances", "euclidean"]
    assert main([*base, "--output", str(tmp_path / "f"), "--blend", "fixed",
                 "--neighbors", "0.3"]) == 0
    text = capsys.readouterr().out
    assert "blend: network 0.70, neighbors 0.30 (fixed)" in text
    report = json.loads((tmp_path / "f" / "report.json").read_text())
    assert report["blend"]["weights"] == {"network": pytest.approx(0.7), "neighbors": 0.3}
    assert report["rocket_member"]["status"] == "off" and "rocket" not in report[
        "part_accuracy"]
    assert main([*base, "--output", str(tmp_path / "a"), "--rocket-member", "no"]) == 0
    text = capsys.readouterr().out
    assert "least log loss on" in text and "MiniRocket member" not in text
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert set(report["blend"]["weights"]) == {"network", "neighbors"}
    assert report["blend"]["held_out"]["rows"] >= 3
    for option, value in (("--blend", "mean"), ("--rocket-member", "x")):
        with pytest.raises(SystemExit) as exit_info:
            main([*base, option, value])
        assert exit_info.value.code == 2
        assert f"argument {option}: invalid choice: '{value}'" in capsys.readouterr().err


def test_resume_without_a_checkpoint_points_to_the_saved_model(tmp_path):
    from minirnn.cli._common import UsageError, resume_argv

    (tmp_path / "report.json").write_text(json.dumps({"config": {"argv": ["train", "classify"]}}))
    with pytest.raises(UsageError, match="nothing to resume$"):
        resume_argv(["train", "classify"], str(tmp_path))
    (tmp_path / "model.npz").write_bytes(b"")
    with pytest.raises(UsageError, match=r"nothing to resume \(its model.npz predicts as it is"):
        resume_argv(["train", "classify"], str(tmp_path))


def test_predict_scores_known_labels_and_keeps_unknown_ones(tmp_path, capsys):
    train, test = _pair(tmp_path)
    out = tmp_path / "run"
    assert main(["train", "classify", "--train", str(train), "--test", str(test), "--output",
                 str(out), *TINY, "--dtw", "no", "--rocket", "no", "--rocket-member", "no"]) == 0
    capsys.readouterr()
    x, _ = cylinder_bell_funnel(6, 32, seed=9)
    labels = np.array([0, 1, 2, 3, 3, 1])  # 3: a class the model never saw
    save_ts(tmp_path / "new.ts", x, None, labels, [*CBF_CLASSES, "square"])
    preds = tmp_path / "new.csv"
    assert main(["predict", str(out), "--ts", str(tmp_path / "new.ts"), "--output",
                 str(preds)]) == 0
    text = capsys.readouterr().out
    assert "(4 series)" in text
    assert "2 series labelled square (classes the model was not trained on: cylinder, bell, " \
           "funnel) are predicted, not scored" in text
    rows = list(csv.DictReader(preds.open()))
    assert [r["true"] for r in rows] == ["cylinder", "bell", "funnel", "square", "square", "bell"]
    shown = float(re.search(r"accuracy on the labelled file \S+: (\S+)", text).group(1))
    right = [r["predicted"] == r["true"] for r in rows if r["true"] != "square"]
    assert shown == pytest.approx(np.mean(right), abs=5e-5)
