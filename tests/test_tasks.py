"""The task API (minirnn.apps.tasks): configurations that check themselves, one run of every
built-in task returning its metric, and the sweeps calling it without argparse."""

from __future__ import annotations

import ast
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts
from minirnn.apps.tasks import (
    TASKS,
    AddingConfig,
    BinaryAdditionConfig,
    ClassifyConfig,
    SeriesConfig,
    TaskError,
    TaskResult,
    TextConfig,
    config_class,
    config_fields,
    make_config,
    run,
    task_names,
)
from minirnn.train.callbacks import Callback

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------ configurations
def test_every_task_has_a_config_whose_defaults_check() -> None:
    assert task_names() == ["adding", "binary-addition", "classify", "seq2seq", "series", "text"]
    for name, task in TASKS.items():
        assert task.config_class.task == name and config_class(name) is task.config_class
        defaults = task.config_class.defaults()
        assert set(defaults) == set(config_fields(task.config_class))
    assert AddingConfig() == AddingConfig(**AddingConfig.defaults())
    assert AddingConfig().cell == "lstm" and BinaryAdditionConfig().cell == "rnn"
    assert SeriesConfig(dataset="airline").hidden_size == 32
    assert ClassifyConfig(train="a.ts", test="b.ts").bidirectional is True


@pytest.mark.parametrize(("task", "values", "message"), [
    ("adding", {"hidden_size": 0}, "hidden_size must be greater than zero, got 0"),
    ("adding", {"cell": "transformer"}, r"cell must be one of \['gru', 'lstm', 'rnn'\], got"),
    ("adding", {"lr": "fast"}, "lr must be a number or None, got 'fast'"),
    ("adding", {"epochs": True}, "epochs must be an integer, got True"),
    ("adding", {"epochs": 2.5}, "epochs must be an integer, got 2.5"),
    ("adding", {"seq_len": 1}, "seq_len must be at least 2"),
    ("adding", {"optimizer": "lbfgs"}, "optimizer must be one of"),
    ("adding", {"seed": -1}, "seed must be zero or more, got -1"),
    ("adding", {"look_back": 5}, "look_back: not an option of task 'adding'"),
    ("binary-addition", {"bidirectional": True}, "bidirectional does not apply"),
    ("series", {}, "csv .* or dataset .* is required"),
    ("series", {"csv": "a.csv"}, "column is required with csv"),
    ("series", {"dataset": "airline", "csv": "a.csv"}, "give csv or dataset, not both"),
    ("series", {"dataset": "airline", "test_size": 1.5}, "test_size must be between 0 and 1"),
    ("series", {"dataset": "airline", "season": 1}, "season must be 'auto', 0 .* or at least 2"),
    ("series", {"dataset": "airline", "look_back": "long"}, "look_back must be 'auto' or"),
    ("series", {"dataset": "sunspots"}, "dataset must be one of"),
    ("classify", {"train": "a.ts"}, "test .* is required"),
    ("classify", {"train": "a.ts", "test": "b.ts", "pooling": "median"}, "pooling must be"),
    ("classify", {"train": "a.ts", "test": "b.ts", "neighbors": 2.0},
     "neighbors must be between 0 and 1, got 2.0"),
    ("text", {}, "file .* is required"),
    ("text", {"file": "t.txt", "dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0"),
])
def test_configs_name_the_field_expected_and_given(task: str, values: dict[str, Any],
                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_config(task, values)


def test_config_values_are_normalised_and_copies_checked() -> None:
    config = AddingConfig(lr=1, hidden_size=8)
    assert config.lr == 1.0 and isinstance(config.lr, float)  # an int where a float goes
    assert make_config("adding", {"hidden-size": 8}).hidden_size == 8
    with pytest.raises(ValueError, match="layers must be greater than zero"):
        config.replace(layers=0)
    with pytest.raises(AttributeError):
        config.hidden_size = 4  # type: ignore[misc]  # frozen
    assert config.as_dict()["hidden_size"] == 8


# ------------------------------------------------------------------------------ one run
class _Count(Callback):
    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        self.epochs += 1


def _check(result: TaskResult, metric: str, folder: Path) -> None:
    assert result.metric == metric and result.output == folder
    assert math.isfinite(result.value) and result.value == result.report[metric]
    assert result.lower_is_better is TASKS[result.task].lower_is_better
    report = json.loads((folder / "report.json").read_text())
    assert report[metric] == pytest.approx(result.value)
    assert report["config"]["options"]["seed"] == result.config.as_dict()["seed"]
    assert (folder / "model.npz").is_file()


def test_adding_run_returns_its_metric_and_the_callbacks_ran(tmp_path: Path) -> None:
    counter = _Count()
    log = io.StringIO()
    config = AddingConfig(seq_len=5, train_size=64, test_size=32, epochs=2, hidden_size=4,
                          no_plot=True)
    result = run(config, callbacks=[counter], output=tmp_path / "a", log=log)
    _check(result, "test_mse", tmp_path / "a")
    assert counter.epochs == 2 and result.epochs == 2 and result.history is not None
    assert result.val_loss == min(result.history.history["val_loss"])
    assert "test MSE" in log.getvalue()  # printed lines went to the log, not stdout
    # the rate the task chose (Adam's default) is recorded, not None
    assert result.report["config"]["options"]["lr"] == pytest.approx(3e-3)  # the task's own


def test_binary_addition_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(BinaryAdditionConfig(train_size=64, test_size=32, epochs=1, hidden_size=4,
                                      no_plot=True),
                 output=tmp_path / "b", log=tmp_path / "b.log")
    _check(result, "exact_sums", tmp_path / "b")
    assert 0.0 <= result.value <= 1.0 and not result.lower_is_better
    assert capsys.readouterr().out == ""  # a log file: nothing on standard output
    assert "exactly right sums" in (tmp_path / "b.log").read_text()


def test_series_run_on_a_shipped_dataset(tmp_path: Path) -> None:
    config = SeriesConfig(dataset="airline", epochs=2, hidden_size=4, look_back=12,
                          no_plot=True)
    result = run(config, output=tmp_path / "s", log=io.StringIO())
    _check(result, "test_rmse", tmp_path / "s")
    assert result.report["persistence_rmse"] > 0
    if result.report["network_weight"] == 0 and result.epochs == 0:
        # Too few validation forecasts to trust a network: none is trained (issue 32).
        assert "network not trained" in result.report["method"]
    # The validation score is the forecast used (network or not), so sweeps can rank it.
    assert math.isfinite(result.val_loss)
    assert result.val_loss == pytest.approx(result.report["validation_mse"])


def test_classify_run(tmp_path: Path) -> None:
    for name, n, seed in (("TRAIN", 30, 1), ("TEST", 15, 2)):
        x, y = cylinder_bell_funnel(n, 32, seed=seed)
        save_ts(tmp_path / f"CBF_{name}.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    config = ClassifyConfig(train=str(tmp_path / "CBF_TRAIN.ts"),
                            test=str(tmp_path / "CBF_TEST.ts"), epochs=2, hidden_size=4,
                            ensemble=1, neighbors=0.0, dtw="no", no_plot=True)
    result = run(config, output=tmp_path / "c", log=io.StringIO())
    _check(result, "test_accuracy", tmp_path / "c")
    assert 0.0 <= result.value <= 1.0 and result.epochs == 2


def test_text_run(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("the cat sat on the mat\n" * 40, encoding="utf-8")
    config = TextConfig(file=str(path), hidden_size=8, embedding_dim=4, seq_len=10,
                        batch_size=4, epochs=1, sample_length=0)
    result = run(config, output=tmp_path / "t", log=io.StringIO())
    assert result.metric == "val_perplexity" and result.value > 1.0
    assert result.report["config"]["options"]["seq_len"] == 10


def test_input_problems_are_task_errors(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="missing.csv"):
        run(SeriesConfig(csv=str(tmp_path / "missing.csv"), column="x"),
            output=tmp_path / "s", log=io.StringIO())
    with pytest.raises(TypeError, match="config must be the configuration of a task"):
        run({"task": "adding"}, output=tmp_path / "x")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ sweeps
def test_sweeps_run_tasks_through_the_api(tmp_path: Path) -> None:
    from minirnn.apps.sweeps import SweepError, run_task, task_fields

    result = run_task("adding", {"seq_len": 5, "train_size": 64, "test_size": 32,
                                 "epochs": 1, "hidden_size": 4}, output=tmp_path / "r",
                      log=tmp_path / "r" / "train.log")
    assert isinstance(result, TaskResult) and result.metric == "test_mse"
    assert "epoch   1/1" in (tmp_path / "r" / "train.log").read_text()  # one line per epoch
    assert not (tmp_path / "r" / "loss.png").exists()  # trials draw no figures
    assert "look_back" in task_fields("series") and "look_back" not in task_fields("adding")
    with pytest.raises(SweepError, match="hidden_size must be greater than zero"):
        run_task("adding", {"hidden_size": 0}, output=tmp_path / "bad")


def test_sweeps_and_tasks_never_touch_argparse_or_the_cli() -> None:
    """What the architecture test cannot see: no argparse below the CLI, and no report read
    back by the sweeps."""
    for folder in ("apps/sweeps", "apps/tasks"):
        for path in sorted((ROOT / "minirnn" / folder).glob("*.py")):
            text = path.read_text(encoding="utf-8")
            modules = {alias.name for node in ast.walk(ast.parse(text))
                       if isinstance(node, ast.Import) for alias in node.names}
            modules |= {node.module or "" for node in ast.walk(ast.parse(text))
                        if isinstance(node, ast.ImportFrom)}
            assert "argparse" not in modules and not any(
                m.startswith("minirnn.cli") for m in modules), path
            if folder == "apps/sweeps":
                assert "report.json" not in text, path


def test_run_result_matches_the_command(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI and the API are one path: the same options give the same test metric."""
    from minirnn.cli import main

    argv = ["train", "adding", "--seq-len", "5", "--train-size", "64", "--test-size", "32",
            "--epochs", "1", "--hidden-size", "4", "--no-plot"]
    assert main([*argv, "--output", str(tmp_path / "cli")]) == 0
    capsys.readouterr()
    result = run(AddingConfig(seq_len=5, train_size=64, test_size=32, epochs=1, hidden_size=4,
                              no_plot=True), output=tmp_path / "api", log=io.StringIO())
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    assert report["test_mse"] == result.value
    assert report["config"]["argv"] == [*argv, "--output", str(tmp_path / "cli")]
    assert np.isclose(report["config"]["options"]["lr"], result.report["config"]["options"]["lr"])
