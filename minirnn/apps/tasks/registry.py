"""The built-in tasks by name, and :func:`run`: a configuration in, a :class:`TaskResult` out.

The ``minirnn`` command and the sweeps both train through :func:`run`; neither reads a
report back nor parses arguments here.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

from minirnn.apps.tasks.classify import ClassifyConfig, run_classify
from minirnn.apps.tasks.config import TaskConfig
from minirnn.apps.tasks.run_folder import new_run_folder, run_record, update_latest
from minirnn.apps.tasks.seq2seq import Seq2SeqConfig, run_seq2seq
from minirnn.apps.tasks.series import SeriesConfig, run_series
from minirnn.apps.tasks.text import TextConfig, run_text
from minirnn.apps.tasks.toy import (
    AddingConfig,
    BinaryAdditionConfig,
    run_adding,
    run_binary_addition,
)
from minirnn.train.callbacks import Callback
from minirnn.train.solver import History

__all__ = ["TASKS", "Task", "TaskResult", "config_class", "make_config", "run", "task_names"]

#: ``train(config, folder, callbacks, record) -> (report, history)``; ``record(resolved)``
#: gives the report's "config" entry with the values the task resolved (e.g. the rate used).
Trainer = Callable[[Any, Path, Sequence[Callback], Callable[[dict[str, Any]], dict[str, Any]]],
                   tuple[dict[str, Any], History | None]]


@dataclass(frozen=True)
class Task:
    """A built-in task: its configuration class, how it trains, and its test metric.

    Attributes
    ----------
    name : str
    config_class : type of TaskConfig
    train : callable
        ``train(config, folder, callbacks, record) -> (report, history)``.
    metric : str
        Key of the test metric in the report (``test_mse`` ...).
    lower_is_better : bool
    loss_name : str
        Short name of the training loss, for per-epoch lines (``MSE``, ``BCE``).
    val_key : str, optional
        Key of the report's validation score, for tasks whose model is not only a network
        (a forecaster may use a naive forecast and train no network); default the network's
        lowest validation loss.
    """

    name: str
    config_class: type[TaskConfig]
    train: Trainer = field(repr=False)
    metric: str
    lower_is_better: bool
    loss_name: str
    val_key: str | None = None


TASKS: Mapping[str, Task] = MappingProxyType({task.name: task for task in (
    Task("adding", AddingConfig, run_adding, "test_mse", True, "MSE"),
    Task("binary-addition", BinaryAdditionConfig, run_binary_addition, "exact_sums", False,
         "BCE"),
    Task("classify", ClassifyConfig, run_classify, "test_accuracy", False, "cross-entropy"),
    # The forecast actually used over every validation span (with or without a network).
    Task("series", SeriesConfig, run_series, "test_rmse", True, "MSE",
         val_key="validation_mse"),
    Task("seq2seq", Seq2SeqConfig, run_seq2seq, "test_exact_match", False, "cross-entropy"),
    # No test split: the metric is the perplexity on the held-out last 10 % of the text.
    Task("text", TextConfig, run_text, "val_perplexity", True, "cross-entropy"),
)})


def task_names() -> list[str]:
    """Names of the built-in tasks."""
    return sorted(TASKS)


def _task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task must be one of {task_names()}, got {name!r}")
    return TASKS[name]


def config_class(task: str) -> type[TaskConfig]:
    """The configuration class of a task (``"adding"`` -> :class:`AddingConfig`)."""
    return _task(task).config_class


def make_config(task: str, values: Mapping[str, Any] | None = None) -> TaskConfig:
    """A checked configuration of ``task`` from field values (defaults for the rest)."""
    return config_class(task).from_dict(values or {})


@dataclass(frozen=True)
class TaskResult:
    """What one run of a task gives back.

    Attributes
    ----------
    task : str
    config : TaskConfig
        The configuration run.
    val_loss : float
        Lowest validation loss over the epochs (the weights kept and tested are that
        epoch's); inf when nothing was trained. For a task with a ``val_key`` (series),
        the report's validation score instead.
    metric : str
        Name of the test metric (``test_mse``, ``exact_sums``, ...).
    value : float
        The test metric.
    lower_is_better : bool
    epochs : int
        Epochs trained.
    seconds : float
    output : Path
        The run folder (model.npz, history, report.json).
    history : History or None
        Per-epoch losses (None when no network was trained).
    report : dict
        What report.json holds.
    interrupted : bool
        Ctrl-C ended training early (the best weights so far were kept and tested).
    """

    task: str
    config: TaskConfig = field(repr=False)
    val_loss: float
    metric: str
    value: float
    lower_is_better: bool
    epochs: int
    seconds: float
    output: Path
    history: History | None = field(repr=False)
    report: dict[str, Any] = field(repr=False)
    interrupted: bool = False


@contextlib.contextmanager
def _printed_to(log: str | os.PathLike[str] | IO[str] | None) -> Iterator[None]:
    """Send what a run prints to ``log`` (a file appended to, or a stream)."""
    if log is None:
        yield
        return
    if isinstance(log, (str, os.PathLike)):
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle, contextlib.redirect_stdout(handle):
            yield
        return
    with contextlib.redirect_stdout(log):
        yield


def _best_val_loss(history: History | None) -> float:
    if history is None or not len(history):
        return math.inf
    values = history.history.get("val_loss", history.history.get("loss", []))
    finite = [float(v) for v in values if math.isfinite(v)]
    return min(finite) if finite else math.inf


def run(config: TaskConfig, *, callbacks: Sequence[Callback] = (),
        output: str | os.PathLike[str] | None = None,
        log: str | os.PathLike[str] | IO[str] | None = None,
        argv: Sequence[str] | None = None) -> TaskResult:
    """Train and test one built-in task.

    Parameters
    ----------
    config : TaskConfig
        The task's configuration (:class:`AddingConfig`, :class:`SeriesConfig`, ...);
        :func:`make_config` builds one from a dict.
    callbacks : sequence of Callback
        Added to the Solver's (per-epoch printing, a sweep's pruning callback ...).
    output : path, optional
        The run folder (created if missing); default a new ``minirnn-runs/<task>-<UTC time>``.
        A default folder that ends with a model.npz becomes ``minirnn-runs/<task>-latest``
        (a link; a text file holding its name where links fail), the run the task's name
        stands for in ``minirnn forecast|predict|sample|translate TASK``.
    log : path or text stream, optional
        Where the run's printed lines go: a file (appended to) or a stream; default standard
        output.
    argv : sequence of str, optional
        The command line that asked for the run, recorded in report.json.

    Returns
    -------
    TaskResult

    Raises
    ------
    TaskError
        A problem with the input (a missing file, a too short series ...).
    RunDivergedError
        Training diverged (report.json and the history are written).
    RunInterrupted
        Ctrl-C (or SIGTERM, raised as :class:`~minirnn.apps.tasks.Terminated` by the
        ``minirnn`` command) during training, after the run's files were written with
        ``"status": "interrupted"`` (a classifier's whole ensemble stops).
    """
    if not isinstance(config, TaskConfig) or config.task not in TASKS:
        raise TypeError(f"config must be the configuration of a task ({task_names()}), got "
                        f"{type(config).__name__}")
    task = TASKS[config.task]
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()

    def record(resolved: dict[str, Any]) -> dict[str, Any]:
        return run_record({**config.as_dict(), **resolved}, argv, started)

    with _printed_to(log):
        folder = new_run_folder(task.name, output)
        try:
            report, history = task.train(config, folder, list(callbacks), record)
        finally:  # an interrupted run saved its best weights: it is the newest run too
            update_latest(folder, task.name)
    val_loss = (float(report[task.val_key]) if task.val_key and task.val_key in report
                else _best_val_loss(history))
    return TaskResult(task=task.name, config=config, val_loss=val_loss,
                      metric=task.metric, value=float(report[task.metric]),
                      lower_is_better=task.lower_is_better,
                      epochs=0 if history is None else len(history),
                      seconds=time.perf_counter() - start, output=folder, history=history,
                      report=report, interrupted=report.get("status") == "interrupted")
