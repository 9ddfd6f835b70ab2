"""Every CLI subcommand on a tiny configuration, the files it writes, and bad input."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from minirnn.cli import main
from minirnn.nn.io import load_metadata, load_model


def _series_csv(path, n=120, bad_row=None):
    lines = ["Date,Temp,Label"]
    for i in range(n):
        value = 10 + 5 * np.sin(i / 6) + 0.1 * (i % 7)
        text = "abc" if i == bad_row else f"{value:.3f}"
        lines.append(f"{2000 + i // 336}-{1 + i // 28 % 12:02d}-{1 + i % 28:02d},{text},x")
    path.write_text("\n".join(lines) + "\n")
    return path


def _files(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_train_each_task_writes_its_files(tmp_path, capsys):
    common = ["--epochs", "2", "--hidden-size", "4", "--no-plot"]
    assert main(["train", "adding", "--seq-len", "5", "--train-size", "64", "--test-size", "16",
                 "--output", str(tmp_path / "a"), "--grad-flow", *common]) == 0
    assert main(["train", "binary-addition", "--train-size", "64", "--test-size", "32",
                 "--output", str(tmp_path / "b"), *common]) == 0
    # Long enough for 30 validation forecasts: a shorter series trains no network.
    csv_path = _series_csv(tmp_path / "s.csv", n=300)
    assert main(["train", "series", "--csv", str(csv_path), "--column", "Temp",
                 "--date-column", "Date", "--look-back", "5", "--output", str(tmp_path / "s"),
                 "--cell", "gru", "--layers", "2", "--bidirectional", *common]) == 0
    out = capsys.readouterr().out
    assert "test MSE" in out and "exactly right sums" in out and "vs persistence" in out
    for name in "abs":
        files = _files(tmp_path / name)
        for expected in ("history.csv", "history.json", "model.npz", "report.json"):
            assert expected in files, (name, files)
        history = json.loads((tmp_path / name / "history.json").read_text())
        assert history["epoch"] == [1, 2] and len(history["loss"]) == 2
        header = (tmp_path / name / "history.csv").read_text().splitlines()[0]
        assert header.startswith("epoch,") and "loss" in header
    assert "grad_flow.csv" in _files(tmp_path / "a")
    assert len(np.loadtxt(tmp_path / "a" / "grad_flow.csv")) == 5
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert {"test_rmse", "persistence_rmse", "linear_ar_rmse"} <= set(report)
    model = load_model(tmp_path / "s" / "model.npz")
    assert model.layers[0].bidirectional and model.layers[0].num_layers == 2


def test_figures_when_matplotlib_is_installed(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["train", "adding", "--seq-len", "4", "--train-size", "32", "--test-size", "8",
                 "--epochs", "2", "--hidden-size", "3", "--grad-flow",
                 "--output", str(tmp_path)]) == 0
    for name in ("loss.png", "grad_flow.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_with_a_saved_series_model(tmp_path, capsys):
    csv_path = _series_csv(tmp_path / "s.csv")
    assert main(["train", "series", "--csv", str(csv_path), "--column", "Temp", "--look-back",
                 "6", "--horizon", "2", "--epochs", "2", "--no-plot",
                 "--output", str(tmp_path / "run")]) == 0
    meta = load_metadata(tmp_path / "run" / "model.npz")
    assert meta["look_back"] == 6 and meta["horizon"] == 2 and meta["column"] == "Temp"
    capsys.readouterr()
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "run" / "model.npz"), "--csv", str(csv_path),
                 "--output", str(out_csv)]) == 0
    out = capsys.readouterr().out
    forecast = re.search(r"next 2 value\(s\) after the last of 120: (\S+), (\S+)", out)
    assert forecast and all(np.isfinite(float(v)) for v in forecast.groups())
    rows = out_csv.read_text().splitlines()
    origins = re.search(r"over the (\d+) origins of this file", out)
    assert rows[0] == "index,actual,predicted" and origins
    assert len(rows) == 1 + int(origins.group(1)) and int(origins.group(1)) > 100


def test_gradcheck_builtin_and_user_class(tmp_path, capsys, monkeypatch):
    assert main(["gradcheck"]) == 0
    out = capsys.readouterr().out
    for name in ("RNNCell", "LSTMCell", "GRUCell", "Dense", "CrossEntropy", "Sequential"):
        assert name in out
    assert "all passed" in out and "FAIL" not in out
    (tmp_path / "mycells.py").write_text(textwrap.dedent("""
        import numpy as np
        from minirnn import Cell

        class Good(Cell):
            num_chunks = 1
            def step(self, xp, hp, state):
                h = np.tanh(xp + hp)
                return (h,), h
            def step_backward(self, dstate, h):
                d = dstate[0] * (1 - h * h)
                return d, d, (None,)

        class Bad(Good):
            def step_backward(self, dstate, h):
                d = dstate[0] * (1 - h)
                return d, d, (None,)
    """))
    monkeypatch.chdir(tmp_path)
    assert main(["gradcheck", "mycells:Good"]) == 0
    assert main(["gradcheck", "mycells:Bad"]) == 1
    out = capsys.readouterr().out
    assert "mycells:Bad (one step)" in out and "FAIL" in out
    assert main(["gradcheck", "nosuchmodule:X"]) == 2


@pytest.mark.parametrize("problem,message", [
    ("missing column", "column 'Nope' not found"),
    ("non-numeric", "line"),
    ("too short", "too short.*look-back"),
    ("missing file", "no such file|No such file|does not exist|not found"),
])
def test_bad_csv_exits_with_one_line(tmp_path, problem, message):
    csv_path = _series_csv(tmp_path / "s.csv", n=20 if problem == "too short" else 120,
                           bad_row=50 if problem == "non-numeric" else None)
    column = "Nope" if problem == "missing column" else "Temp"
    if problem == "missing file":
        csv_path = tmp_path / "absent.csv"
    result = subprocess.run(
        [sys.executable, "-m", "minirnn", "train", "series", "--csv", str(csv_path),
         "--column", column, "--look-back", "30", "--no-plot", "--output", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minirnn: error:"), result.stderr
    assert re.search(message, lines[0], re.I), lines[0]
    assert "Traceback" not in result.stderr


def test_help_everywhere():
    for argv in (["--help"], ["train", "--help"], ["train", "adding", "--help"],
                 ["train", "binary-addition", "--help"], ["train", "series", "--help"],
                 ["predict", "--help"], ["gradcheck", "--help"]):
        result = subprocess.run([sys.executable, "-m", "minirnn", *argv], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0 and "usage: minirnn" in result.stdout, argv


def test_binary_addition_defaults_get_every_sum_right(tmp_path, capsys):
    """R rnn's example: 8-bit operands, 16 units; all 1,000 held-out sums exactly right."""
    assert main(["train", "binary-addition", "--no-plot", "--output", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test_pairs"] == 1000 and report["exact_sums"] == 1.0


def test_lstm_beats_persistence_on_melbourne_temperatures(tmp_path):
    # The shipped copy of the series (minirnn.apps.datasets), so the test runs on any checkout.
    assert main(["train", "series", "--dataset", "temperatures", "--cell", "lstm",
                 "--epochs", "15", "--no-plot", "--output", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["persistence_rmse"] == pytest.approx(2.62, abs=0.01)
    assert report["test_rmse"] < report["persistence_rmse"]


def test_a_saved_model_whose_linear_ar_reaches_past_the_look_back_loads(tmp_path, capsys):
    """The linear AR member may use lags up to a season + 1, past a short --look-back (here
    6, the calendar season 24); the model file's check allowed only the look-back, so the
    run's own model was refused by `predict`."""
    csv_path = _series_csv(tmp_path / "s.csv", n=300)
    assert main(["train", "series", "--csv", str(csv_path), "--column", "Temp", "--look-back",
                 "6", "--horizon", "2", "--epochs", "2", "--no-plot",
                 "--output", str(tmp_path / "run")]) == 0
    assert main(["predict", str(tmp_path / "run" / "model.npz"), "--csv", str(csv_path),
                 "--output", str(tmp_path / "pred.csv")]) == 0, capsys.readouterr().err
