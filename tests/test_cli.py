"""The ``minirnn`` command: a tiny run in seconds, and the defaults' documented results."""

import re
import subprocess
import sys

import pytest

from minirnn.cli import main

TINY = ["--seq-len", "6", "--train-size", "64", "--test-size", "32", "--epochs", "2",
        "--hidden-size", "4", "--batch-size", "16"]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the command writes minirnn-runs/ into the working folder


def _test_mse(output: str) -> float:
    match = re.search(r"test MSE (\d+\.\d+)\s+vs baseline 0\.1767", output)
    assert match, output
    return float(match.group(1))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_train_adding_tiny(cell, capsys):
    assert main(["train", "adding", "--cell", cell, *TINY]) == 0
    out = capsys.readouterr().out
    assert "epoch   2/2" in out and "val MSE" in out
    assert 0.0 <= _test_mse(out) < 10.0


def test_console_entry_point_and_help():
    result = subprocess.run([sys.executable, "-m", "minirnn", "train", "adding", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for option in ("--cell", "--hidden-size", "--seq-len", "--epochs", "--batch-size", "--lr",
                   "--seed"):
        assert option in result.stdout


@pytest.mark.parametrize("argv,message", [
    (["train", "adding", "--cell", "transformer"], "invalid choice"),
    (["train", "adding", "--hidden-size", "0"], "must be greater than zero"),
    (["train", "adding", "--seq-len", "1"], "--seq-len must be at least 2"),
    (["train"], "required"),
])
def test_bad_arguments_exit_nonzero_with_message(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code != 0
    assert message in capsys.readouterr().err


def test_same_seed_same_result(capsys):
    main(["train", "adding", *TINY, "--seed", "7"])
    first = _test_mse(capsys.readouterr().out)
    main(["train", "adding", *TINY, "--seed", "7"])
    assert _test_mse(capsys.readouterr().out) == first


# The figures promised in the README: the command's defaults (T = 50), on 2 cores,
# about 45 s each for LSTM and GRU.
@pytest.mark.slow
@pytest.mark.parametrize("cell,lr,bound", [("lstm", "3e-3", 0.01), ("gru", "3e-3", 0.01),
                                           ("rnn", "1e-3", 0.1767)])
def test_defaults_reach_documented_test_mse(cell, lr, bound, capsys):
    assert main(["train", "adding", "--cell", cell, "--lr", lr]) == 0
    assert _test_mse(capsys.readouterr().out) < bound
