"""Issue 14, command line: one line of error, never a traceback, nothing found out after training,
a diverged run exits non-zero with its report, Ctrl-C exits 130 saying what was saved."""

import json
import os
import re
from pathlib import Path

import pytest

from minirnn.cli import main
from minirnn.train.solver import Solver

TINY = ["--seq-len", "4", "--train-size", "32", "--test-size", "8", "--epochs", "2",
        "--hidden-size", "3", "--no-plot"]


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minirnn: "), err
    assert "Traceback" not in err[0]
    return err[0]


def _csv(path, values):
    path.write_text("v\n" + "\n".join(str(v) for v in values) + "\n")
    return str(path)


def test_one_row_csv_is_one_line_of_error(tmp_path, capsys):
    assert main(["train", "series", "--csv", _csv(tmp_path / "one.csv", [1.0]), "--column",
                 "v", "--output", str(tmp_path / "out"), "--no-plot"]) == 2
    assert "too" in _one_error_line(capsys)


def test_csv_of_huge_values_gives_no_traceback(tmp_path, capsys):
    values = [(-1) ** i * 1e308 for i in range(60)]
    code = main(["train", "series", "--csv", _csv(tmp_path / "big.csv", values), "--column",
                 "v", "--look-back", "5", "--epochs", "1", "--hidden-size", "2", "--no-plot",
                 "--output", str(tmp_path / "out")])
    assert code in (0, 1, 2)
    if code:
        _one_error_line(capsys)


def test_negative_seed_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "adding", *TINY, "--seed", "-1", "--output", str(tmp_path)])
    assert exc.value.code == 2
    assert "--seed: must be zero or more" in capsys.readouterr().err


def test_gradcheck_with_an_empty_module_name(capsys):
    assert main(["gradcheck", ":X"]) == 2
    assert "expected module:Class" in _one_error_line(capsys)


@pytest.mark.parametrize("kind", ["file", "name too long", "unwritable"])
def test_bad_output_is_refused_before_training(tmp_path, capsys, kind):
    if kind == "file":
        (tmp_path / "taken").write_text("")
        output = tmp_path / "taken" / "run"
    elif kind == "name too long":
        output = tmp_path / ("r" * 300)
    elif os.geteuid() == 0:
        # root may write into any folder whatever its mode; /proc refuses new entries to
        # everyone, root included (CI runs as root).
        output = Path("/proc") / "minirnn-run"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        output = locked / "run"
    assert main(["train", "adding", *TINY, "--output", str(output)]) == 2
    captured = capsys.readouterr()
    assert re.search("--output|run folder", captured.err) and "epoch" not in captured.out


def test_diverged_run_exits_1_with_report_and_history(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "adding", *TINY, "--epochs", "4", "--optimizer", "sgd",
                 "--lr", "1e308", "--output", str(out)])
    assert code == 1
    line = _one_error_line(capsys)
    assert "training diverged" in line and "report.json" in line
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "diverged" and report["epochs_run"] < 4
    assert (out / "history.csv").exists() and (out / "history.json").exists()


def test_ctrl_c_during_training_saves_and_exits_130(tmp_path, capsys, monkeypatch):
    original = Solver._train_epoch

    def interrupt_second_epoch(self, *args):
        if self.epoch == 1:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(Solver, "_train_epoch", interrupt_second_epoch)
    out = tmp_path / "run"
    assert main(["train", "adding", *TINY, "--epochs", "3", "--output", str(out)]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minirnn: interrupted; saved")
    assert (out / "model.npz").exists() and (out / "report.json").exists()


def test_ctrl_c_during_test_evaluation_is_one_line_and_130(tmp_path, capsys, monkeypatch):
    original = Solver.evaluate

    def interrupt_after_training(self, *args, **kwargs):
        if self.epoch == self.epochs:  # the test set, after the last epoch
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Solver, "evaluate", interrupt_after_training)
    assert main(["train", "adding", *TINY, "--output", str(tmp_path / "run")]) == 130
    assert _one_error_line(capsys) == "minirnn: interrupted; nothing was saved"
