"""Run a built-in task from code: one training run, or the same run over many seeds.

The tasks are the ``minirnn train TASK`` commands. :func:`run_task` drives them through the
CLI's own parser and task functions (one place where a task's data, model and defaults live),
with extra callbacks (a sweep's pruning callback), its printed lines sent to a log file, and
returns the numbers a caller needs: the best validation loss and the test metric.

:func:`run_seeds` repeats one configuration over K seeds (in parallel processes, BLAS threads
limited so that jobs x threads <= cores) and summarises the test metric.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import multiprocessing
import os
import statistics
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minirnn.train.callbacks import Callback
from minirnn.train.threads import available_cores

__all__ = [
    "TASK_METRICS", "RunResult", "SeedSummary", "blas_threads", "limit_threads", "option_args",
    "run_seeds", "run_task", "task_actions", "train_tasks",
]

# The test metric each task reports (key of its report.json) and whether lower is better.
# Tasks missing here fall back to the first "test_*" number of their report.
TASK_METRICS: dict[str, tuple[str, bool]] = {
    "adding": ("test_mse", True),
    "binary-addition": ("exact_sums", False),
    "series": ("test_rmse", True),
    "classify": ("test_accuracy", False),
    "text": ("val_perplexity", True),  # no test split: the held-out last 10% of the text
}


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _train_subparsers() -> dict[str, argparse.ArgumentParser]:
    from minirnn.cli import _parser

    return _subcommands(_subcommands(_parser())["train"])


def train_tasks() -> list[str]:
    """Names of the built-in tasks (``minirnn train TASK``)."""
    return sorted(_train_subparsers())


def task_actions(task: str) -> dict[str, argparse.Action]:
    """The options of ``minirnn train TASK`` by destination name (``hidden_size`` ...)."""
    parsers = _train_subparsers()
    if task not in parsers:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(parsers)}")
    return {a.dest: a for a in parsers[task]._actions
            if a.option_strings and a.dest != "help"}


def option_args(params: Mapping[str, Any]) -> list[str]:
    """``{"hidden_size": 64, "bidirectional": True}`` -> ``["--hidden-size", "64", ...]``.

    A boolean True is a bare flag and False is left out (``store_true`` options).
    """
    argv: list[str] = []
    for name, value in params.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            if value:
                argv.append(flag)
            elif name == "progress":  # a --progress/--no-progress pair
                argv.append("--no-progress")
        else:
            argv += [flag, repr(value) if isinstance(value, float) else str(value)]
    return argv


def _parse(argv: list[str]) -> argparse.Namespace:
    """The CLI's parser, with argparse's exit turned into a UsageError carrying its message."""
    from minirnn.cli import UsageError, parse_args

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parse_args(argv)
    except SystemExit:
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        message = lines[-1].split(" error: ", 1)[-1] if lines else "invalid options"
        raise UsageError(f"minirnn {' '.join(argv)}: {message}") from None


def check_options(task: str, options: Sequence[str] = (),
                  params: Mapping[str, Any] | None = None) -> argparse.Namespace:
    """Parse ``minirnn train TASK options params`` without running it (raises UsageError)."""
    return _parse(["train", task, *options, *option_args(params or {})])


@dataclass(frozen=True)
class RunResult:
    """What one training run gives back.

    Attributes
    ----------
    task : str
    val_loss : float
        Lowest validation loss over the epochs (the weights kept and tested are that epoch's).
    metric : str
        Name of the test metric (``test_mse``, ``exact_sums``, ...).
    value : float
        The test metric.
    lower_is_better : bool
    epochs : int
        Epochs trained.
    seconds : float
    output : Path
        The run's folder (model.npz, history, report.json).
    report : dict
        The task's report.json.
    interrupted : bool
        Ctrl-C ended training early.
    """

    task: str
    val_loss: float
    metric: str
    value: float
    lower_is_better: bool
    epochs: int
    seconds: float
    output: Path
    report: dict[str, Any] = field(repr=False)
    interrupted: bool = False


class _SolverWatch(Callback):
    """Keeps the Solver, so the caller learns whether Ctrl-C ended training."""


def task_metric(task: str, report: Mapping[str, Any]) -> tuple[str, bool]:
    """The (name, lower_is_better) of a task's test metric in its report."""
    if task in TASK_METRICS and TASK_METRICS[task][0] in report:
        return TASK_METRICS[task]
    for key, value in report.items():
        if key.startswith("test_") and isinstance(value, (int, float)):
            return key, "acc" not in key
    raise KeyError(f"the report of task {task!r} has no test metric: {sorted(report)}")


@contextlib.contextmanager
def _output_to(log: str | os.PathLike[str] | None) -> Iterator[None]:
    if log is None:
        yield
        return
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as handle, contextlib.redirect_stdout(handle):
        yield


def run_task(task: str, options: Sequence[str] = (), params: Mapping[str, Any] | None = None,
             *, output: str | os.PathLike[str], callbacks: Sequence[Any] = (),
             log: str | os.PathLike[str] | None = None) -> RunResult:
    """Train ``minirnn train TASK`` once and return its validation loss and test metric.

    Parameters
    ----------
    task : str
        A built-in task (:func:`train_tasks`).
    options : sequence of str
        Command-line options of ``minirnn train TASK`` (``["--seq-len", "20"]``).
    params : mapping, optional
        Option values by destination name (``{"lr": 1e-3, "hidden_size": 32}``), applied after
        ``options`` (so they win).
    output : path
        Folder for the run's files.
    callbacks : sequence of Callback
        Added to the Solver's callbacks (e.g. a sweep's pruning callback).
    log : path, optional
        Append the run's printed lines to this file instead of standard output.

    Raises
    ------
    minirnn.cli.UsageError
        Bad options, or training diverged (``__cause__`` is the
        :class:`~minirnn.TrainingDivergedError`).
    """
    from minirnn.cli._common import prepare_output

    # A fresh folder per run (trial numbers and seeds are unique), no figures, no bar.
    quiet = {"output": str(output), "overwrite": True, "no_plot": True, "progress": False}
    known = task_actions(task)
    args = check_options(task, options, {**(params or {}),
                                         **{k: v for k, v in quiet.items() if k in known}})
    watch = _SolverWatch()
    args.extra_callbacks = [*callbacks, watch]
    start = time.perf_counter()
    with _output_to(log):
        if hasattr(args, "overwrite"):  # as main(): the task writes a run folder
            prepare_output(args)
        status = int(args.run(args))
    if status != 0:
        from minirnn.cli import UsageError

        raise UsageError(f"minirnn train {task} exited with status {status}")
    folder = Path(output)
    report = json.loads((folder / "report.json").read_text())
    history = json.loads((folder / "history.json").read_text())
    losses = [v for v in history.get("val_loss", history["loss"]) if math.isfinite(v)]
    metric, lower = task_metric(task, report)
    solver = getattr(watch, "solver", None)
    return RunResult(task=task, val_loss=min(losses) if losses else math.inf, metric=metric,
                     value=float(report[metric]), lower_is_better=lower,
                     epochs=len(history["epoch"]), seconds=time.perf_counter() - start,
                     output=folder, report=report,
                     interrupted=bool(getattr(solver, "interrupted", False)))


# ------------------------------------------------------------------ threads and processes
def blas_threads(n_jobs: int) -> int:
    """BLAS threads per job so that jobs x threads <= cores (at least 1)."""
    return max(1, available_cores() // max(1, n_jobs))


_LIMITS: list[Any] = []  # keeps threadpoolctl's limiter alive in a worker process
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Limit BLAS/OpenMP threads in this process (and in processes it starts later)."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables still reach child processes
        return
    _LIMITS.append(threadpool_limits(limits=threads))


@contextlib.contextmanager
def thread_environment(threads: int) -> Iterator[None]:
    """Child processes started inside see the thread limit before they load numpy."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def spawn_context() -> Any:
    """Fresh interpreters for workers: no forked BLAS pools, locks or database connections."""
    return multiprocessing.get_context("spawn")


# --------------------------------------------------------------------------- many seeds
@dataclass(frozen=True)
class SeedSummary:
    """A test metric over seeds: ``mean``, ``std`` (sample, ddof=1), ``min``, ``max``."""

    task: str
    metric: str
    lower_is_better: bool
    seeds: list[int]
    values: list[float]
    seconds: list[float]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "lower_is_better": self.lower_is_better,
                "mean": self.mean, "std": self.std, "min": self.min, "max": self.max,
                "runs": [{"seed": s, self.metric: v, "seconds": t}
                         for s, v, t in zip(self.seeds, self.values, self.seconds, strict=True)]}


def _seed_job(job: tuple[str, list[str], int, str]) -> tuple[int, float, str, bool, float]:
    task, options, seed, folder = job
    result = run_task(task, options, {"seed": seed}, output=folder,
                      log=Path(folder) / "train.log")
    return seed, result.value, result.metric, result.lower_is_better, result.seconds


def run_seeds(task: str, options: Sequence[str], seeds: Sequence[int], *,
              output: str | os.PathLike[str], n_jobs: int = 1,
              echo: bool = True) -> SeedSummary:
    """Train one configuration once per seed; each run in ``output/seed-<s>``.

    ``--seed`` seeds a task's data, initial weights and shuffling, so each seed is a fresh
    draw of all three. With ``n_jobs > 1`` the runs go to that many processes, each limited to
    ``cores // n_jobs`` BLAS threads.
    """
    if not seeds:
        raise ValueError("seeds must not be empty")
    check_options(task, options)
    root = Path(output)
    jobs = [(task, list(options), int(s), str(root / f"seed-{s}")) for s in seeds]
    results: list[tuple[int, float, str, bool, float]] = []

    def note(r: tuple[int, float, str, bool, float]) -> None:
        results.append(r)
        if echo:
            print(f"seed {r[0]}: {r[2]} {r[1]:.6g}  [{r[4]:.0f}s]", flush=True)

    if n_jobs <= 1:
        for job in jobs:
            note(_seed_job(job))
    else:
        threads = blas_threads(n_jobs)
        with thread_environment(threads), spawn_context().Pool(
                min(n_jobs, len(jobs)), initializer=limit_threads, initargs=(threads,)) as pool:
            for r in pool.imap_unordered(_seed_job, jobs):
                note(r)
    results.sort()
    summary = SeedSummary(task=task, metric=results[0][2], lower_is_better=results[0][3],
                          seeds=[r[0] for r in results], values=[r[1] for r in results],
                          seconds=[r[4] for r in results])
    root.mkdir(parents=True, exist_ok=True)
    (root / "seeds.json").write_text(json.dumps(summary.as_dict(), indent=1))
    return summary
