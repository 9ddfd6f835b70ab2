"""The classification baselines beyond 1-NN Euclidean: 1-NN DTW (numpy and compiled, with a
deadline), MiniRocket (aeon, the ``rocket`` extra), and what ``train classify`` does with them
under ``--time-limit``."""

import json
import time

import numpy as np
import pytest

from minirnn.apps.classification import (
    dtw_distances,
    minirocket,
    nn1_dtw,
    rocket_unavailable,
)
from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts
from minirnn.apps.tasks import classify as task
from minirnn.cli import main
from minirnn.nn.kernels import compiled


def _cbf(n_train=24, n_test=30, length=48, seed=0):
    x, y = cylinder_bell_funnel(n_train, length, seed=seed)
    xt, yt = cylinder_bell_funnel(n_test, length, seed=seed + 1)
    return x, np.full(n_train, length), y, xt, np.full(n_test, length), yt


def test_nn1_dtw_compiled_and_numpy_agree_on_equal_lengths():
    if not compiled.compiled_available():
        pytest.skip(f"compiled DTW not available here ({compiled.compiled_reason()})")
    x, lx, y, xt, lt, _ = _cbf()
    np.testing.assert_array_equal(nn1_dtw(x, lx, y, xt, lt),
                                  nn1_dtw(x, lx, y, xt, lt, compiled_dtw=False))


@pytest.mark.parametrize("compiled_dtw", [False, True])
def test_a_past_deadline_stops_both_dtws(compiled_dtw):
    x, lx, y, xt, lt, _ = _cbf()
    with pytest.raises(TimeoutError, match="deadline"):
        nn1_dtw(x, lx, y, xt, lt, deadline=time.perf_counter(), compiled_dtw=compiled_dtw)
    with pytest.raises(TimeoutError, match="deadline"):
        dtw_distances(x, x, 5, deadline=time.perf_counter(), compiled_dtw=compiled_dtw)
    # a deadline far away changes nothing
    far = time.perf_counter() + 3600
    np.testing.assert_allclose(dtw_distances(x, xt, 5, deadline=far, compiled_dtw=compiled_dtw),
                               dtw_distances(x, xt, 5, compiled_dtw=compiled_dtw), atol=1e-12)


def test_minirocket_learns_cbf_and_takes_unequal_lengths():
    pytest.importorskip("aeon")
    assert rocket_unavailable() is None
    x, lx, y, xt, lt, yt = _cbf(n_train=30, n_test=60)
    predicted = minirocket(x, lx, y, xt, lt, seed=0)
    assert predicted.shape == (60,) and predicted.dtype == np.int64
    assert np.mean(predicted == yt) > 0.8  # majority class is about 0.33
    short = lx.copy()
    short[::2] = 6  # shorter than MiniRocket's 9 steps: stretched, no error
    assert minirocket(x, short, y, xt, lt).shape == (60,)


def _pair(tmp_path, n_train=24, n_test=15, length=64):
    x, y = cylinder_bell_funnel(n_train, length, seed=0)
    save_ts(tmp_path / "CBF_TRAIN.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    xt, yt = cylinder_bell_funnel(n_test, length, seed=1)
    save_ts(tmp_path / "CBF_TEST.ts", xt, None, yt, CBF_CLASSES, problem_name="CBF")
    return ["--train", str(tmp_path / "CBF_TRAIN.ts"), "--test", str(tmp_path / "CBF_TEST.ts")]


TINY = ["--epochs", "2", "--hidden-size", "4", "--no-plot", "--quiet-epochs", "--max-steps",
        "16"]


def test_time_limit_bounds_the_dtw_baseline_and_minirocket(tmp_path, capsys, monkeypatch):
    # Shares of 0: each baseline's deadline has passed when it starts, so both are cut at
    # their first check (the 1-NN DTW before its first chunk, MiniRocket's child process
    # at once), whatever the machine's speed.
    monkeypatch.setattr(task, "DTW_TIME_SHARE", 0.0)
    monkeypatch.setattr(task, "ROCKET_TIME_SHARE", 0.0)
    out = tmp_path / "run"
    assert main(["train", "classify", *_pair(tmp_path), *TINY, "--ensemble", "2",
                 "--dtw", "yes", "--time-limit", "30", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    line = next(s for s in text.splitlines() if s.startswith("baselines:"))
    assert "1-NN DTW stopped at 0% of --time-limit" in line
    report = json.loads((out / "report.json").read_text())
    assert report["nn1_dtw_accuracy"] is None and report["minirocket_accuracy"] is None
    if rocket_unavailable() is None:
        assert "MiniRocket stopped at 0% of --time-limit" in line
        assert report["minirocket_status"] == "stopped at 0% of --time-limit"
    else:
        assert report["minirocket_status"] == rocket_unavailable()
    assert report["strongest_baseline"] == {"name": "1-NN Euclidean",
                                            "accuracy": report["nn1_euclidean_accuracy"]}


def test_one_line_per_member_and_a_verdict_against_the_strongest_baseline(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setattr(task, "rocket_unavailable", lambda: "needs aeon (test)")
    out = tmp_path / "run"
    every_epoch = [a for a in TINY if a != "--quiet-epochs"]  # the default: member lines
    assert main(["train", "classify", *_pair(tmp_path), *every_epoch, "--ensemble", "3",
                 "--output", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert not [s for s in lines if "val_accuracy" in s]  # no line per epoch
    members = [s for s in lines if s.startswith("member ")]
    assert [s.split(":")[0] for s in members] == ["member 1 of 3", "member 2 of 3",
                                                  "member 3 of 3"]
    assert all("2 epochs, best validation accuracy" in s for s in members)
    report = json.loads((out / "report.json").read_text())
    best = max(report["nn1_euclidean_accuracy"], report["nn1_dtw_accuracy"])
    assert report["strongest_baseline"]["accuracy"] == best
    verdict = next(s for s in lines if s.startswith("verdict: "))
    acc = report["test_accuracy"]
    word = "above" if acc > best else ("ties" if acc == best else "below")
    assert verdict.startswith(f"verdict: {word}") and report["verdict"].endswith(verdict[9:])
    assert report["minirocket_status"] == "needs aeon (test)"
    assert "MiniRocket needs aeon (test)" in next(s for s in lines if s.startswith("baselines"))
