"""Hyper-parameter sweeps of the built-in tasks on Optuna (the optional ``[sweep]`` extra).

A sweep is an Optuna study in a storage: an SQLite file in the sweep's folder by default, or
a PostgreSQL/MySQL database that workers on many machines share (``--storage URL``). Each
trial trains the task once with the trial's parameters (:func:`run_task`) and is
worth its lowest validation loss; a callback reports the validation loss per epoch so the
pruner (``MedianPruner`` by default) stops hopeless trials. The test metric is recorded next
to each trial but never chosen on.

Workers are processes (``n_jobs``), each limited to ``cores // n_jobs`` BLAS threads. A
trial whose worker died stays in the storage as RUNNING until it is failed: at once by the
next worker on the same host (its process id is gone), else after the heartbeat's grace
period. ``trials`` is the study's target: a restarted or added worker runs only what is left.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import sqlite3
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState

from minirnn.apps.sweeps.runner import (
    SweepError,
    blas_threads,
    check_params,
    limit_threads,
    run_task,
    spawn_context,
    thread_environment,
)
from minirnn.apps.sweeps.space import Param, applies
from minirnn.apps.tasks import RunDivergedError, TaskError
from minirnn.train.callbacks import Callback
from minirnn.train.solver import TrainingDivergedError

__all__ = [
    "PruningCallback", "SweepError", "SweepSpec", "best_options", "default_storage",
    "fail_dead_trials", "load_study", "open_storage", "report", "sweep",
]

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
MAX_FAILURES_IN_A_ROW = 3
PRUNERS = ("median", "hyperband", "none")
SAMPLERS = ("tpe", "random")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


# ----------------------------------------------------------------------------- storage
def default_storage(folder: str | os.PathLike[str]) -> str:
    """``sqlite:///<folder>/study.db``."""
    return f"sqlite:///{Path(folder).resolve() / 'study.db'}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """An Optuna RDB storage with heartbeats (so a dead worker's trial gets failed).

    SQLite files are switched to write-ahead logging (readers do not block the writer) and
    wait up to 60 s for a lock, so several local processes can share one file.
    """
    engine: dict[str, Any] = {}
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if not path.parent.is_dir():
            raise SweepError(f"folder of the SQLite storage does not exist: {path.parent}")
        try:
            with sqlite3.connect(path, timeout=60) as db:
                db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise SweepError(f"{path}: not a usable SQLite database: {exc}") from exc
        engine = {"connect_args": {"timeout": 60}}
    elif url.startswith(("postgresql", "mysql")):
        engine = {"pool_pre_ping": True}
        url = _postgres_driver(url)
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=engine,
                                                  heartbeat_interval=HEARTBEAT_SECONDS,
                                                  grace_period=GRACE_SECONDS)
        except ImportError as exc:
            raise SweepError(f"storage {_safe_url(url)} needs a database driver that is not "
                             f"installed ({exc}); for PostgreSQL: pip install "
                             "'minirnn[sweep]'") from exc
        except Exception as exc:  # sqlalchemy's errors: a bad URL, no server, no permission
            error = exc
            # Workers that start together on a fresh database race to create Optuna's
            # tables; the loser finds them there on a second try.
            if isinstance(exc, sqlalchemy.exc.IntegrityError) or any(
                    text in str(exc) for text in ("already exists", "database is locked")):
                time.sleep(0.5 * (attempt + 1))
                continue
            break
    raise SweepError(f"cannot open storage {_safe_url(url)}: "
                     f"{str(error).splitlines()[0]}") from error


def _postgres_driver(url: str) -> str:
    """``postgresql://`` with whichever driver is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, 2.0 as psycopg2; the
    ``[sweep]`` extra installs psycopg2-binary, so use it when psycopg 3 is absent.
    """
    if not url.startswith("postgresql://"):
        return url
    import importlib.util

    if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def _safe_url(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def load_study(name: str, storage: str | optuna.storages.BaseStorage) -> optuna.Study:
    """An existing study, or a SweepError listing the studies the storage has."""
    store = open_storage(storage) if isinstance(storage, str) else storage
    try:
        return optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(store)]
        raise SweepError(f"no study {name!r} in the storage; it has {names or 'none'}") from None


def fail_dead_trials(study: optuna.Study, storage: optuna.storages.BaseStorage) -> list[int]:
    """Fail RUNNING trials whose worker was a process on this host that no longer exists.

    Returns their numbers. (Trials of other hosts are failed by the heartbeat instead.)
    """
    host, failed = socket.gethostname(), []
    study_id = storage.get_study_id_from_name(study.study_name)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = trial.user_attrs.get("pid")
        if trial.user_attrs.get("host") != host or not isinstance(pid, int):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            storage.set_trial_user_attr(trial_id, "error", "worker process died")
            if storage.set_trial_state_values(trial_id, TrialState.FAIL):
                failed.append(trial.number)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first
    return failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------- pruning
class PruningCallback(Callback):
    """Report a metric to an Optuna trial after every epoch; stop the trial if it should prune.

    Raises :class:`optuna.TrialPruned` from ``on_epoch_end`` (as Optuna's own framework
    integrations do), so training ends at once and nothing more is evaluated or written.

    The step reported is the number of epochs this callback has seen, so a command that
    trains several models in a row with the same callbacks (an ensemble) reports epochs
    1..E of the first, then E+1.. of the next, never one step twice.

    Parameters
    ----------
    trial : optuna.Trial
    monitor : str
        Key of the epoch logs, lower is better (``val_loss``).
    """

    def __init__(self, trial: optuna.Trial, monitor: str = "val_loss") -> None:
        self.trial = trial
        self.monitor = monitor
        self.step = 0
        self.pruned_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(f"PruningCallback monitors {self.monitor!r} but the epoch logs "
                             f"only have {sorted(logs)}")
        value = float(logs[self.monitor])
        step, self.step = self.step, self.step + 1
        if not math.isfinite(value):
            return  # Optuna cannot compare NaN; the Solver stops a diverged run anyway
        self.trial.report(value, step=step)
        if self.trial.should_prune():
            self.pruned_epoch = step
            raise optuna.TrialPruned(f"epoch {epoch + 1}: {self.monitor} {value:.6g}")


# ------------------------------------------------------------------------------ sweeps
@dataclass
class SweepSpec:
    """Everything a worker process needs (plain values: it is sent to spawned processes)."""

    task: str
    fixed: dict[str, Any]  # configuration values of every trial (field name -> value)
    trials: int
    study: str
    folder: str
    storage: str
    space: dict[str, Any]  # name -> Param fields
    timeout: float | None = None
    pruner: str = "median"
    sampler: str = "tpe"
    seed: int | None = None
    echo: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Param]:
        return {name: Param(**fields) for name, fields in self.space.items()}


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    if name == "median":
        # Judge no trial before 5 have finished; compare epoch by epoch after that.
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise SweepError(f"unknown pruner {name!r}; expected one of {list(PRUNERS)}")


def make_sampler(name: str, seed: int | None) -> optuna.samplers.BaseSampler:
    if name == "tpe":
        # constant_liar: workers running at once avoid proposing the same point.
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True, n_startup_trials=8)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise SweepError(f"unknown sampler {name!r}; expected one of {list(SAMPLERS)}")


def _open_sweep(spec: SweepSpec, worker: int = 0
                ) -> tuple[optuna.Study, optuna.storages.RDBStorage]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(spec.storage)
    seed = None if spec.seed is None else spec.seed + worker
    study = optuna.create_study(storage=storage, study_name=spec.study, direction="minimize",
                                sampler=make_sampler(spec.sampler, seed),
                                pruner=make_pruner(spec.pruner), load_if_exists=True)
    attrs = study.user_attrs
    mine = {"task": spec.task, "fixed": spec.fixed}
    if "task" in attrs:
        theirs = {"task": attrs["task"], "fixed": attrs.get("fixed", {})}
        if theirs != mine:
            raise SweepError(
                f"study {spec.study!r} sweeps task {theirs['task']} with "
                f"{_params_text(theirs['fixed']) or 'its defaults'}; this command asks for "
                f"task {spec.task} with {_params_text(spec.fixed) or 'its defaults'}: give "
                "another --study")
    else:
        study.set_user_attr("task", spec.task)
        study.set_user_attr("fixed", spec.fixed)
        study.set_user_attr("space", {n: p.as_dict() for n, p in spec.params().items()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["val_loss"])
    return study, storage


def _count(study: optuna.Study, *states: TrialState) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


class _Worker:
    """The objective and per-trial bookkeeping of one worker process."""

    def __init__(self, spec: SweepSpec, worker: int,
                 storage: optuna.storages.BaseStorage) -> None:
        self.spec = spec
        self.storage = storage
        self.worker = worker
        self.space = spec.params()
        self.failures_in_a_row = 0
        self.last_error = ""
        self.ran: list[int] = []
        # Values fixed for the sweep (for parameters that depend on them, e.g. layers).
        self.layers = int(getattr(check_params(spec.task, spec.fixed), "layers", 1))

    def objective(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("worker", self.worker)
        params: dict[str, Any] = {}
        for name, p in self.space.items():
            if applies(self.spec.task, name, params, self.layers):
                params[name] = p.suggest(trial)
        folder = Path(self.spec.folder) / "trials" / f"{trial.number:04d}"
        trial.set_user_attr("output", str(folder))
        pruning = PruningCallback(trial)
        try:
            result = run_task(self.spec.task, {**self.spec.fixed, **params}, output=folder,
                              callbacks=[pruning], log=folder / "train.log")
        except optuna.TrialPruned:
            trial.set_user_attr("epochs", (pruning.pruned_epoch or 0) + 1)
            raise
        except RunDivergedError as exc:
            trial.set_user_attr("diverged", str(exc))
            raise optuna.TrialPruned(f"diverged: {exc}") from exc
        except (TaskError, SweepError) as exc:
            if isinstance(exc.__cause__, TrainingDivergedError):  # series, text
                trial.set_user_attr("diverged", str(exc.__cause__))
                raise optuna.TrialPruned(f"diverged: {exc.__cause__}") from exc
            trial.set_user_attr("error", str(exc))
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        except KeyboardInterrupt:  # outside the Solver's epochs (which end cleanly, below)
            trial.set_user_attr("error", "interrupted (Ctrl-C)")
            raise
        if result.interrupted:
            trial.set_user_attr("error", "interrupted (Ctrl-C)")
            raise KeyboardInterrupt
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("seconds", result.seconds)
        trial.set_user_attr(result.metric, result.value)
        trial.set_user_attr("metric", result.metric)
        return result.val_loss

    def after_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.ran.append(trial.number)
        # A sibling worker killed meanwhile: fail its trial now, so the count is right.
        dead = fail_dead_trials(study, self.storage)
        if dead and self.spec.echo:
            print(f"marked trial(s) {dead} failed: their worker process died", flush=True)
        if trial.state == TrialState.FAIL:
            self.failures_in_a_row += 1
            self.last_error = str(trial.user_attrs.get("error", "failed"))
            if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                study.stop()
        else:
            self.failures_in_a_row = 0
        if self.spec.echo:
            print(_trial_line(trial, self.worker), flush=True)


def _trial_line(trial: FrozenTrial, worker: int | None = None) -> str:
    who = f" [worker {worker}]" if worker is not None else ""
    attrs = trial.user_attrs
    if trial.state == TrialState.COMPLETE:
        metric = attrs.get("metric")
        test = f", {metric} {attrs[metric]:.4g}" if metric in attrs else ""
        what = f"val_loss {trial.value:.5g}{test}, {attrs.get('epochs', '?')} epochs"
    elif trial.state == TrialState.PRUNED:
        what = ("pruned: diverged" if "diverged" in attrs
                else f"pruned after epoch {attrs.get('epochs', '?')}")
    else:
        what = f"{trial.state.name.lower()}: {attrs.get('error', '')}"
    seconds = (trial.duration.total_seconds() if trial.duration is not None else float("nan"))
    return f"trial {trial.number}{who}: {what}  ({_params_text(trial.params)})  [{seconds:.1f}s]"


def run_worker(spec: SweepSpec, worker: int = 0) -> list[int]:
    """Run trials until the study has ``spec.trials`` finished or running ones (or timeout).

    Returns the numbers of the trials this worker ran.
    """
    study, storage = _open_sweep(spec, worker)
    dead = fail_dead_trials(study, storage)
    if dead and spec.echo:
        print(f"marked trial(s) {dead} failed: their worker process died", flush=True)
    state = _Worker(spec, worker, storage)
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
    while True:
        remaining = spec.trials - _count(study, *counted)
        left = None if deadline is None else deadline - time.monotonic()
        if remaining <= 0 or (left is not None and left <= 0):
            break
        before = len(state.ran)
        study.optimize(state.objective, n_trials=remaining, timeout=left, catch=(Exception,),
                       callbacks=[optuna.study.MaxTrialsCallback(spec.trials, states=counted),
                                  state.after_trial], gc_after_trial=True)
        if state.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            raise SweepError(f"{state.failures_in_a_row} trials in a row failed; the last: "
                             f"{state.last_error}")
        if len(state.ran) == before:
            break
    return state.ran


def _worker_process(spec: dict[str, Any], worker: int, threads: int) -> None:
    """Entry of a spawned worker: thread limits, then trials; exit status 2 on a SweepError."""
    import sys

    limit_threads(threads)
    try:
        run_worker(SweepSpec(**spec), worker)
    except SweepError as exc:
        print(f"minirnn: error: worker {worker}: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


def check_spec(spec: SweepSpec) -> None:
    """Problems with a sweep's input, found before any training (raises SweepError)."""
    if not _NAME.match(spec.study):
        raise SweepError(f"study name must be letters, digits, '_', '.', '-', got {spec.study!r}")
    if spec.trials < 1:
        raise SweepError(f"trials must be at least 1, got {spec.trials}")
    make_pruner(spec.pruner)
    make_sampler(spec.sampler, spec.seed)
    check_params(spec.task, spec.fixed)
    for param in spec.params().values():  # every bound and choice must be a valid value
        for value in param.extremes():
            check_params(spec.task, spec.fixed, {param.name: value})


def sweep(spec: SweepSpec, n_jobs: int = 1) -> optuna.Study:
    """Run a sweep: this process alone (``n_jobs=1``) or ``n_jobs`` worker processes.

    Several commands (here or on other machines, same storage and study) share the work:
    each runs trials until the study holds ``spec.trials`` finished or running trials.
    """
    check_spec(spec)
    Path(spec.folder).mkdir(parents=True, exist_ok=True)
    study, _ = _open_sweep(spec)  # creates the study once, before workers race to
    if n_jobs <= 1:
        run_worker(spec)
        return study
    threads = blas_threads(n_jobs)
    ctx = spawn_context()
    procs = []
    with thread_environment(threads):
        for worker in range(n_jobs):
            proc = ctx.Process(target=_worker_process, args=(asdict(spec), worker, threads))
            proc.start()
            procs.append(proc)
    try:
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        for proc in procs:  # they got the Ctrl-C too and fail their running trial
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
        raise
    codes = [proc.exitcode for proc in procs]
    if any(code != 0 for code in codes):
        raise SweepError(f"worker exit statuses {codes} (see their messages above)")
    return load_study(spec.study, spec.storage)  # afresh: the workers wrote the trials


# ----------------------------------------------------------------------------- results
def best_options(study: optuna.Study
                 ) -> tuple[str, dict[str, Any], dict[str, Any], FrozenTrial]:
    """(task, fixed values, best trial's parameters, best trial) of a sweep's study."""
    if "task" not in study.user_attrs:
        raise SweepError(f"study {study.study_name!r} was not made by minirnn sweep")
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise SweepError(f"study {study.study_name!r} has no completed trial yet")
    best = study.best_trial
    space = study.user_attrs.get("space", {})
    # Pinned entries of the space are not trial parameters; apply them too.
    params = {name: value for name, value in space.items()
              if not isinstance(value, (dict, list))}
    params.update(best.params)
    return study.user_attrs["task"], dict(study.user_attrs.get("fixed", {})), params, best


def report(study: optuna.Study, folder: str | os.PathLike[str] | None = None, *,
           top: int = 10, figures: bool = True) -> dict[str, Any]:
    """Print the best trial and a table of the top trials; write summary and figures.

    Into ``folder`` (if given): ``summary.json``, ``trials.csv``, and with matplotlib
    ``history.png`` (optimisation history) and ``importance.png`` (parameter importances).
    """
    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    counts = {k: v for k, v in counts.items() if v}
    print(f"study {study.study_name!r}: {len(trials)} trials ("
          + ", ".join(f"{v} {k}" for k, v in counts.items()) + ")", flush=True)
    summary: dict[str, Any] = {"study": study.study_name, "task": study.user_attrs.get("task"),
                               "fixed": study.user_attrs.get("fixed"), "counts": counts}
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE),
                      key=lambda t: t.value if t.value is not None else math.inf)
    if complete:
        best = complete[0]
        metric = best.user_attrs.get("metric")
        test = f"; {metric} {best.user_attrs[metric]:.5g}" if metric in best.user_attrs else ""
        print(f"best: trial {best.number}, val_loss {best.value:.5g}{test}", flush=True)
        print(f"best parameters: {_params_text(best.params)}", flush=True)
        summary["best"] = {"trial": best.number, "val_loss": best.value,
                           "params": best.params,
                           "test": {metric: best.user_attrs.get(metric)} if metric else {}}
        _print_table(complete[:top])
    else:
        print("no completed trial yet", flush=True)
    if folder is not None:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
        _write_csv(out / "trials.csv", trials)
        if figures:
            _figures(study, out, len(complete))
    return summary


def _print_table(trials: Sequence[FrozenTrial]) -> None:
    names = sorted({k for t in trials for k in t.params})
    metric = next((t.user_attrs["metric"] for t in trials if "metric" in t.user_attrs), None)
    head = ["trial", "val_loss", *([metric] if metric else []), "epochs", "seconds", *names]
    rows = []
    for t in trials:
        row = [str(t.number), f"{t.value:.5g}"]
        if metric:
            row.append(f"{t.user_attrs.get(metric, float('nan')):.5g}")
        row += [str(t.user_attrs.get("epochs", "")),
                f"{t.duration.total_seconds():.1f}" if t.duration else ""]
        for n in names:
            v = t.params.get(n, "")
            row.append(f"{v:.3g}" if isinstance(v, float) else str(v))
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    print(f"top {len(rows)} trials (lowest validation loss first):", flush=True)
    for r in [head, *rows]:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)), flush=True)


def _write_csv(path: Path, trials: Sequence[FrozenTrial]) -> None:
    import csv

    names = sorted({k for t in trials for k in t.params})
    attrs = sorted({k for t in trials for k in t.user_attrs} - {"host", "pid", "output"})
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "seconds", *names, *attrs])
        for t in trials:
            writer.writerow([t.number, t.state.name, "" if t.value is None else t.value,
                             t.duration.total_seconds() if t.duration else "",
                             *(t.params.get(n, "") for n in names),
                             *(t.user_attrs.get(a, "") for a in attrs)])


def _figures(study: optuna.Study, folder: Path, n_complete: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from optuna.visualization import matplotlib as ovm
    except ImportError:
        print("matplotlib is not installed: skipping the figures (pip install "
              "'minirnn[plot]')", flush=True)
        return
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if n_complete >= 1:
            ax = ovm.plot_optimization_history(study, target_name="validation loss")
            ax.set_yscale("log")
            _save(ax, folder / "history.png", plt)
            written.append("history.png")
        if n_complete >= 2:
            try:
                ax = ovm.plot_param_importances(study, target_name="validation loss")
            except (ValueError, RuntimeError) as exc:  # e.g. no parameter varied
                print(f"no parameter-importance figure: {exc}", flush=True)
            else:
                _save(ax, folder / "importance.png", plt)
                written.append("importance.png")
    if written:
        print("figures: " + ", ".join(str(folder / w) for w in written), flush=True)


def _save(ax: Any, path: Path, plt: Any) -> None:
    figure = ax.figure  # (ax is Any: matplotlib's stubs allow a SubFigure here)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
