"""Run a built-in task from code: one training run, or the same run over many seeds.

:func:`run_task` builds the task's configuration (:mod:`minirnn.apps.tasks`) from parameter
values and runs it through the task API, with extra callbacks (a sweep's pruning callback)
and its printed lines sent to a log file; it returns the
:class:`~minirnn.apps.tasks.TaskResult` (best validation loss, test metric, history ...).

:func:`run_seeds` repeats one configuration over K seeds (in parallel processes, BLAS threads
limited so that jobs x threads <= cores) and summarises the test metric.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import statistics
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minirnn.apps.tasks import TASKS, TaskConfig, TaskResult, config_class, config_fields, run
from minirnn.apps.tasks import task_names as train_tasks
from minirnn.train.callbacks import Callback, EpochLine
from minirnn.train.threads import available_cores

__all__ = [
    "RunResult", "SeedSummary", "SweepError", "blas_threads", "check_params", "check_sizes",
    "limit_threads", "memory_bytes",
    "run_seeds", "run_task", "task_fields", "train_tasks",
]

#: What :func:`run_task` returns: the task API's result.
RunResult = TaskResult


class SweepError(ValueError):
    """A problem with a sweep's or a seed run's input or storage (one line that names it)."""


def task_fields(task: str) -> dict[str, Any]:
    """The configuration fields of a task by name (what a sweep may fix or vary)."""
    if task not in TASKS:
        raise SweepError(f"unknown task {task!r}; expected one of {train_tasks()}")
    return config_fields(config_class(task))


def check_params(task: str, fixed: Mapping[str, Any] | None = None,
                 params: Mapping[str, Any] | None = None) -> TaskConfig:
    """The task's configuration with ``fixed`` then ``params`` (raises SweepError)."""
    fields = task_fields(task)
    values = {**(fixed or {}), **(params or {})}
    try:
        return config_class(task).from_dict(values)
    except ValueError as exc:
        given = ", ".join(f"{k}={v!r}" for k, v in values.items() if k in fields)
        raise SweepError(f"task {task} with {given or 'its defaults'}: {exc}") from exc


def memory_bytes() -> int:
    """This machine's physical memory in bytes (2**40 when it cannot be read)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return 2**40


def check_sizes(task: str, fixed: Mapping[str, Any] | None = None,
                params: Mapping[str, Any] | None = None) -> None:
    """Refuse sizes whose recurrent weights alone cannot fit in this machine's memory.

    The bound is a floor of what a network needs: ``layers x directions x H**2`` recurrent
    weights and as many gradients, at the configuration's dtype. A search space reaching
    ``hidden_size = 1e8`` is refused here, before any training, instead of failing trials
    with MemoryError. Raises SweepError naming the sizes.
    """
    config = check_params(task, fixed, params)
    hidden = getattr(config, "hidden_size", None)
    if not isinstance(hidden, int):
        return
    layers = int(getattr(config, "layers", 1) or 1)
    directions = 2 if getattr(config, "bidirectional", False) else 1
    itemsize = 4 if getattr(config, "dtype", "float64") == "float32" else 8
    need = 2 * layers * directions * hidden * hidden * itemsize
    have = memory_bytes()
    if need > have:
        raise SweepError(f"task {task} with hidden_size={hidden}, layers={layers}: the "
                         f"recurrent weights alone need {need / 2**30:,.3g} GiB, more than "
                         f"this machine's {have / 2**30:,.3g} GiB; lower the bounds of the "
                         "search space")


def run_task(task: str, params: Mapping[str, Any] | None = None, *,
             output: str | os.PathLike[str], callbacks: Sequence[Callback] = (),
             log: str | os.PathLike[str] | None = None) -> TaskResult:
    """Train a built-in task once and return its result (validation loss, test metric ...).

    Parameters
    ----------
    task : str
        A built-in task (:func:`train_tasks`).
    params : mapping, optional
        Configuration values by field name (``{"lr": 1e-3, "hidden_size": 32}``); the rest
        keep the task's defaults.
    output : path
        Folder for the run's files.
    callbacks : sequence of Callback
        Added to the Solver's callbacks (e.g. a sweep's pruning callback).
    log : path, optional
        Append the run's printed lines (a line per epoch included) to this file instead of
        standard output.

    Raises
    ------
    SweepError
        A value the task's configuration refuses.
    minirnn.apps.tasks.TaskError
        A problem with the task's input (a missing file ...).
    minirnn.apps.tasks.RunDivergedError
        Training diverged.
    """
    values = dict(params or {})
    if "no_plot" in task_fields(task):
        values["no_plot"] = True  # a fresh folder per run, no figures
    config = check_params(task, values)
    # text and seq2seq print their own epoch lines (one each, not two).
    printers: list[Callback] = [] if task in ("text", "seq2seq") else [
        EpochLine(loss_name=TASKS[task].loss_name)]
    return run(config, callbacks=[*printers, *callbacks], output=output, log=log)


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


def _seed_job(job: tuple[str, dict[str, Any], int, str]
              ) -> tuple[int, float, str, bool, float]:
    task, params, seed, folder = job
    result = run_task(task, {**params, "seed": seed}, output=folder,
                      log=Path(folder) / "train.log")
    return seed, result.value, result.metric, result.lower_is_better, result.seconds


def run_seeds(task: str, params: Mapping[str, Any], seeds: Sequence[int], *,
              output: str | os.PathLike[str], n_jobs: int = 1,
              echo: bool = True) -> SeedSummary:
    """Train one configuration (``params``, configuration values by field name) once per
    seed; each run in ``output/seed-<s>``.

    ``--seed`` seeds a task's data, initial weights and shuffling, so each seed is a fresh
    draw of all three. With ``n_jobs > 1`` the runs go to that many processes, each limited to
    ``cores // n_jobs`` BLAS threads.
    """
    if not seeds:
        raise ValueError("seeds must not be empty")
    check_params(task, params)
    root = Path(output)
    jobs = [(task, dict(params), int(s), str(root / f"seed-{s}")) for s in seeds]
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
