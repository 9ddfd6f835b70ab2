"""Hyper-parameter sweeps of the built-in tasks on Optuna (the optional ``[sweep]`` extra).

A sweep is an Optuna study in a storage: an SQLite file in the sweep's folder by default, or
a PostgreSQL/MySQL database that workers on many machines share (``--storage URL``). Each
trial trains the task once with the trial's parameters (:func:`run_task`) and is
worth its lowest validation loss; a callback reports the validation loss per epoch so the
pruner (``MedianPruner`` by default) stops hopeless trials. The test metric is recorded next
to each trial but never chosen on.

Faults. Liveness comes from Optuna's heartbeat alone: a worker records one for its running
trial every ``heartbeat`` seconds; a RUNNING trial without one for ``grace`` seconds is failed
(:func:`optuna.storages.fail_stale_trials`, before every count) and its parameters are queued
again (Optuna's retry callback), so a trial lost to a dead worker is rerun and the study ends
with exactly ``trials`` finished (complete or pruned) trials. A lost database connection is
retried with back-off for up to the grace period, then the worker stops with
:class:`StorageUnavailable` (the command's exit status 1); its trial is failed and rerun by
the next worker once the database is back. Storage URLs are printed with the password
masked (:func:`safe_url`, :func:`mask_secret`).

Workers are processes (``n_jobs``), each limited to ``cores // n_jobs`` BLAS threads.
``trials`` is the study's target: a restarted or added worker runs only what is left.
"""

from __future__ import annotations

import functools
import gc
import inspect
import json
import logging
import math
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
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
    check_sizes,
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
    "PruningCallback", "StorageUnavailable", "SweepError", "SweepSpec", "WorkerFailedError",
    "best_options", "default_storage", "load_study", "mask_secret", "open_storage", "report",
    "run_worker", "safe_url", "stop_signals", "sweep",
]

HEARTBEAT_SECONDS = 10
GRACE_SECONDS = 60
MAX_FAILURES_IN_A_ROW = 3
MAX_RETRIES = 2  # a trial lost to dead workers is rerun at most this many times
PRUNERS = ("median", "hyperband", "none")
SAMPLERS = ("tpe", "random")
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
PLANNED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Optuna's own tables: an SQLite file that has tables but none of these is another program's.
_OPTUNA_TABLES = {"studies", "trials", "version_info", "alembic_version"}


class StorageUnavailable(BaseException):
    """The study's database stopped answering mid-sweep (connection lost, server gone, lock
    timeouts) after retries with back-off; the message names the storage, password masked.

    A ``BaseException``, like ``KeyboardInterrupt``: it passes the trial's own error handling
    (which would need the database) straight to the command, which reports it as one line,
    exit status 1. The trial that was running is failed and rerun by the next worker once
    the database is back (it has no heartbeat any more).
    """


class WorkerFailedError(RuntimeError):
    """A worker process ended abnormally (killed by a signal, or crashed)."""


# ------------------------------------------------------------------------------ secrets
def _password(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        match = re.search(r"//[^:/@]*:([^@]*)@", url)
        return match.group(1) if match else None


def safe_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def mask_secret(text: str, url: str | None) -> str:
    """``text`` with the password of ``url`` (as written and URL-decoded) replaced by ``***``."""
    if not url:
        return text
    text = text.replace(url, safe_url(url))
    password = _password(url)
    if password:
        for secret in {password, urllib.parse.unquote(password)}:
            if secret:
                text = text.replace(secret, "***")
    return text


# ----------------------------------------------------------------------------- storage
def default_storage(folder: str | os.PathLike[str]) -> str:
    """``sqlite:///<folder>/study.db``."""
    return f"sqlite:///{Path(folder).resolve() / 'study.db'}"


_STOPPING = threading.Event()  # set once a worker is interrupted: no more retries


def _outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database being unreachable or locked."""
    seen: set[int] = set()
    error: BaseException | None = exc
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                              sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError)):
            return True
        if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
            return True
        error = error.__cause__ or error.__context__
    return False


def _first_line(exc: BaseException) -> str:
    error: BaseException = exc
    while isinstance(error, optuna.exceptions.StorageInternalError) and error.__cause__:
        error = error.__cause__
    orig = getattr(error, "orig", None)  # the driver's own message, without SQLAlchemy's
    text = str(orig if orig is not None else error).strip()
    return (text.splitlines() or [type(error).__name__])[0]


class _Storage(optuna.storages.RDBStorage):
    """Optuna's RDB storage whose calls survive a short outage.

    Every call that fails because the database is unreachable (or an SQLite lock timed out)
    is retried with back-off (0.5, 1, 2, 4, 8, 8 ... s) for up to ``retry_seconds``; then
    :class:`StorageUnavailable` is raised. The heartbeat never retries and never raises: a
    missed beat is simply missed. ``on_outage`` is called once per outage (to print a line).
    """

    retry_seconds: float = GRACE_SECONDS
    display_url: str = ""
    on_outage: Callable[[str], None] | None = None

    def record_heartbeat(self, trial_id: int) -> None:
        with suppress(Exception):  # retried at the next beat
            super().record_heartbeat(trial_id)


def _retrying(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: _Storage, *args: Any, **kwargs: Any) -> Any:
        start, delay, told = time.monotonic(), 0.5, False
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                if not _outage(exc):
                    raise
                waited = time.monotonic() - start
                if _STOPPING.is_set() or waited + delay > self.retry_seconds:
                    raise StorageUnavailable(
                        f"storage {self.display_url} stopped answering: {_first_line(exc)} "
                        f"(gave up after {waited:.0f} s of retries)") from exc
                if not told and self.on_outage is not None:
                    self.on_outage(f"storage {self.display_url} is not answering "
                                   f"({_first_line(exc)}); retrying for up to "
                                   f"{self.retry_seconds:.0f} s")
                    told = True
                time.sleep(delay)
                delay = min(2 * delay, 8.0)
    return call


for _name, _member in inspect.getmembers(optuna.storages.RDBStorage, inspect.isfunction):
    if (not _name.startswith("_") or _name == "_get_stale_trial_ids") and _name not in {
            "record_heartbeat", "remove_session", "get_heartbeat_interval",
            "get_heartbeat_stale_trial_callback", "get_failed_trial_callback"}:
        setattr(_Storage, _name, _retrying(_member))


def _check_sqlite(path: Path) -> None:
    """Refuse a file that is not an SQLite database, or one that another program owns."""
    if not path.parent.is_dir():
        raise SweepError(f"folder of the SQLite storage does not exist: {path.parent}")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60) as db:
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise SweepError(f"{path}: not a usable SQLite database: {exc}") from exc
    if tables and not tables & _OPTUNA_TABLES:
        shown = ", ".join(sorted(tables)[:5]) + (" ..." if len(tables) > 5 else "")
        raise SweepError(f"{path} is the database of another program (tables: {shown}); "
                         "a study needs its own file: give a new --storage path")


def _stale_callback_keyword() -> str:
    names = inspect.signature(optuna.storages.RDBStorage).parameters
    return ("heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in names
            else "failed_trial_callback")


def open_storage(url: str, *, heartbeat: int = HEARTBEAT_SECONDS, grace: int = GRACE_SECONDS,
                 on_stale: Callable[[optuna.Study, FrozenTrial], None] | None = None,
                 must_exist: bool = False) -> _Storage:
    """An Optuna RDB storage with heartbeats, retries and the URL's password kept out of
    every message.

    Parameters
    ----------
    url : str
        SQLAlchemy URL (``sqlite:///path``, ``postgresql://user:pw@host/db`` ...).
    heartbeat, grace : int
        Seconds between a running trial's heartbeats, and without one before the trial is
        failed (by :func:`optuna.storages.fail_stale_trials`). Lost connections are retried
        for up to ``grace`` seconds.
    on_stale : callable, optional
        Called with each trial failed for want of a heartbeat (Optuna's stale-trial callback).
    must_exist : bool
        An SQLite file must already exist (reading a study, not starting one).

    SQLite files are checked first (another program's database is refused, not given
    Optuna's tables), switched to write-ahead logging (readers do not block the writer) and
    wait up to 60 s for a lock, so several local processes can share one file.
    """
    engine: dict[str, Any] = {}
    shown = safe_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if must_exist and not path.is_file():
            raise SweepError(f"no study database at {path}")
        _check_sqlite(path)
        try:
            with sqlite3.connect(path, timeout=60) as db:
                db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise SweepError(f"{path}: not a usable SQLite database: {exc}") from exc
        engine = {"connect_args": {"timeout": 60}}
    elif url.startswith(("postgresql", "mysql")):
        engine = {"pool_pre_ping": True}
        url = _postgres_driver(url)
    error: Exception | None = None
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", FutureWarning)
                stale: dict[str, Any] = {_stale_callback_keyword(): on_stale}
                storage = _Storage(url, engine_kwargs=engine, heartbeat_interval=heartbeat,
                                   grace_period=grace, **stale)
            storage.retry_seconds = grace
            storage.display_url = shown
            return storage
        except ImportError as exc:
            raise SweepError(f"storage {shown} needs a database driver that is not "
                             f"installed ({mask_secret(str(exc), url)}); for PostgreSQL: pip "
                             "install 'minirnn[sweep]'") from None
        except Exception as exc:  # sqlalchemy's errors: a bad URL, no server, no permission
            error = exc
            # Workers that start together on a fresh database race to create Optuna's
            # tables; the loser finds them there on a second try.
            if isinstance(exc, sqlalchemy.exc.IntegrityError) or any(
                    text in str(exc) for text in ("already exists", "database is locked")):
                time.sleep(0.5 * (attempt + 1))
                continue
            break
    assert error is not None
    raise SweepError(f"cannot open storage {shown}: "
                     f"{mask_secret(_first_line(error), url)}") from None


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


def load_study(name: str, storage: str | optuna.storages.BaseStorage) -> optuna.Study:
    """An existing study, or a SweepError listing the studies the storage has."""
    store = open_storage(storage, must_exist=True) if isinstance(storage, str) else storage
    try:
        return optuna.load_study(study_name=name, storage=store)
    except KeyError:
        names = [s.study_name for s in optuna.get_all_study_summaries(store)]
        raise SweepError(f"no study {name!r} in the storage; it has {names or 'none'}") from None


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
    """Everything a worker process needs (plain values: it is sent to spawned processes).

    ``heartbeat`` and ``grace`` (seconds) are used when the study is created and stored in
    it; a study that exists keeps its own. None: :data:`HEARTBEAT_SECONDS`,
    :data:`GRACE_SECONDS`.
    """

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
    heartbeat: int | None = None
    grace: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def params(self) -> dict[str, Param]:
        return {name: Param(**fields) for name, fields in self.space.items()}

    def settings(self) -> dict[str, Any]:
        """What every command joining the study must agree on (compared as a set)."""
        return _plain({"task": self.task, "fixed": self.fixed,
                       "space": {n: p.as_dict() for n, p in self.params().items()},
                       "pruner": self.pruner, "sampler": self.sampler})


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples are lists, keys are strings): as the study stores it."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


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


def _option_text(name: str, value: Any) -> str:
    if name in ("pruner", "sampler"):
        return f"--{name} {value}"
    if name == "space":
        return "space " + (", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "{}")
    if name == "task":
        return f"task {value}"
    return f"--{name.replace('_', '-')} {value}"


def _differences(theirs: dict[str, Any], mine: dict[str, Any]) -> list[str]:
    """The settings that differ, one text each (fixed options compared one by one)."""
    out = []
    for key in ("task", "pruner", "sampler", "space"):
        if key in theirs and theirs[key] != mine[key]:
            out.append(f"{_option_text(key, theirs[key])} (this command: "
                       f"{_option_text(key, mine[key])})")
    a, b = theirs.get("fixed", {}), mine["fixed"]
    for name in sorted(set(a) | set(b)):
        if a.get(name, "<default>") != b.get(name, "<default>"):
            out.append(f"{_option_text(name, a.get(name, '<default>'))} (this command: "
                       f"{_option_text(name, b.get(name, '<default>'))})")
    return out


class _StaleTrials:
    """The storage's stale-trial callback: rerun the lost trial's parameters (Optuna's retry
    callback, at most :data:`MAX_RETRIES` times) and say so."""

    def __init__(self, echo: bool) -> None:
        retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) \
            or optuna.storages.RetryFailedTrialCallback
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.retry = retry(max_retry=MAX_RETRIES)
        self.echo = echo
        self.grace = GRACE_SECONDS

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.retry(study, trial)
        again = [t.number for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
                 if t.system_attrs.get("retry_history", [None])[-1] == trial.number]
        if self.echo:
            then = (f"its parameters run again as trial {again[0]}" if again else
                    f"not rerun (lost {MAX_RETRIES + 1} times)")
            print(f"trial {trial.number}: no heartbeat for more than {self.grace} s (its worker "
                  f"died or lost the database): failed; {then}", flush=True)


class _PoolStderr(logging.Handler):
    """SQLAlchemy's pool records to the current ``sys.stderr`` (as logging's last resort
    writes them), except a stop signal's KeyboardInterrupt: it is raised wherever the process
    is (:func:`stop_signals`), and when that is inside the pool's connection reset the pool
    logs it with a traceback ("Exception during reset or similar") although the sweep is
    only stopping."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
            return
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a closed stderr: logging's own policy for failed writes
            self.handleError(record)


def _quiet_pool_on_stop() -> None:
    """Route SQLAlchemy's pool records (its child loggers propagate to it) through
    :class:`_PoolStderr`, once a process."""
    pool = logging.getLogger("sqlalchemy.pool")
    if not any(isinstance(h, _PoolStderr) for h in pool.handlers):
        pool.addHandler(_PoolStderr())
        pool.propagate = False


def _open_sweep(spec: SweepSpec, worker: int = 0) -> tuple[optuna.Study, _Storage]:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    _quiet_pool_on_stop()
    stale = _StaleTrials(spec.echo)
    heartbeat = spec.heartbeat or HEARTBEAT_SECONDS
    grace = spec.grace or GRACE_SECONDS
    storage = open_storage(spec.storage, heartbeat=heartbeat, grace=grace, on_stale=stale)
    if spec.echo:  # to the command's output, also while a trial's lines go to its log
        out = sys.stdout
        storage.on_outage = lambda line: print(line, file=out, flush=True)
    seed = None if spec.seed is None else spec.seed + worker
    study = optuna.create_study(storage=storage, study_name=spec.study, direction="minimize",
                                sampler=make_sampler(spec.sampler, seed),
                                pruner=make_pruner(spec.pruner), load_if_exists=True)
    mine = spec.settings()
    if "task" not in study.user_attrs:
        for key, value in mine.items():
            study.set_user_attr(key, value)
        study.set_user_attr("liveness", {"heartbeat": heartbeat, "grace": grace})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(["val_loss"])
    # Read afresh: a command on another machine may have created the study meanwhile.
    attrs = storage.get_study_user_attrs(storage.get_study_id_from_name(spec.study))
    theirs = {key: _plain(attrs[key]) for key in mine if key in attrs}
    theirs.setdefault("fixed", {})
    different = _differences(theirs, mine)
    if different:
        raise SweepError(f"study {spec.study!r} was started with other options: "
                         f"{'; '.join(different)}; give another --study, or the same options")
    liveness = attrs.get("liveness")
    if isinstance(liveness, dict):  # the study's own: every worker must agree on them
        heartbeat = int(liveness.get("heartbeat", heartbeat))
        grace = int(liveness.get("grace", grace))
        asked = (spec.heartbeat or heartbeat, spec.grace or grace)
        if asked != (heartbeat, grace) and spec.echo and worker == 0:
            print(f"note: study {spec.study!r} keeps the heartbeat {heartbeat} s and grace "
                  f"period {grace} s it was created with", flush=True)
    else:
        study.set_user_attr("liveness", {"heartbeat": heartbeat, "grace": grace})
    storage.heartbeat_interval, storage.grace_period = heartbeat, grace
    storage.retry_seconds, stale.grace = grace, grace
    return study, storage


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


class _Heartbeat:
    """Record a trial's heartbeat every ``interval`` seconds in a daemon thread."""

    def __init__(self, storage: _Storage, trial_id: int, interval: float) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._beat, args=(storage, trial_id, interval),
                                       daemon=True, name=f"heartbeat-{trial_id}")

    def _beat(self, storage: _Storage, trial_id: int, interval: float) -> None:
        while True:
            storage.record_heartbeat(trial_id)  # never raises
            if self.stop_event.wait(interval):
                return

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self.thread.join(timeout=5)


class _LostTrialError(Exception):
    """This worker's trial was failed meanwhile by another one (no heartbeat reached it)."""


class _Worker:
    """The trials of one worker process: ask, train, tell, and the bookkeeping around them."""

    def __init__(self, spec: SweepSpec, worker: int, study: optuna.Study,
                 storage: _Storage) -> None:
        self.spec = spec
        self.study = study
        self.storage = storage
        self.worker = worker
        self.study_id = storage.get_study_id_from_name(spec.study)
        self.space = spec.params()
        self.failures_in_a_row = 0
        self.last_error = ""
        self.ran: list[int] = []
        # Values fixed for the sweep (for parameters that depend on them, e.g. layers).
        self.layers = int(getattr(check_params(spec.task, spec.fixed), "layers", 1))

    def say(self, line: str) -> None:
        if self.spec.echo:
            print(line, flush=True)

    def fail_stale(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(self.study)

    def run_one(self) -> None:
        """Ask for a trial (a queued rerun first), train it, tell the study."""
        with warnings.catch_warnings():  # "heartbeat is supposed to be used with optimize":
            warnings.simplefilter("ignore", UserWarning)  # this loop beats as optimize does
            trial = self.study.ask()
        planned = [t for t in self.study.get_trials(deepcopy=False, states=PLANNED)
                   if t.number < trial.number]
        if len(planned) >= self.spec.trials:  # another worker took the last one meanwhile
            trial.set_user_attr("surplus", True)
            trial.set_user_attr("error", f"not needed: the study held {self.spec.trials} "
                                         "trials when it started")
            self.study.tell(trial, state=TrialState.FAIL)
            return
        trial_id = self.storage.get_trial_id_from_study_id_trial_number(
            self.study_id, trial.number)
        heartbeat = self.storage.heartbeat_interval or HEARTBEAT_SECONDS
        try:
            with _Heartbeat(self.storage, trial_id, heartbeat):
                state, value = self._train(trial)
            self.study.tell(trial, value, state=state)
        except (_LostTrialError, optuna.exceptions.UpdateFinishedTrialError):
            self.say(f"trial {trial.number} [worker {self.worker}]: lost: another worker "
                     "failed it meanwhile (no heartbeat reached the database); it runs again")
            return
        except KeyboardInterrupt:
            _STOPPING.set()  # one attempt at the bookkeeping, no retries
            try:
                trial.set_user_attr("error", "interrupted (Ctrl-C)")
                self.study.tell(trial, state=TrialState.FAIL)
            except (StorageUnavailable, Exception):
                pass  # left to the heartbeat: failed and rerun after the grace period
            raise
        finally:
            gc.collect()
        self.ran.append(trial.number)
        self.after_trial(self.storage.get_trial(trial_id))

    def _train(self, trial: optuna.Trial) -> tuple[TrialState, float | None]:
        """Train one trial: its final state and value (KeyboardInterrupt and
        StorageUnavailable pass through)."""
        try:
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
            except optuna.exceptions.UpdateFinishedTrialError:
                raise
            except optuna.TrialPruned:
                trial.set_user_attr("epochs", (pruning.pruned_epoch or 0) + 1)
                return TrialState.PRUNED, None
            except RunDivergedError as exc:
                trial.set_user_attr("diverged", str(exc))
                return TrialState.PRUNED, None
            except (TaskError, SweepError) as exc:
                if isinstance(exc.__cause__, TrainingDivergedError):  # series, text
                    trial.set_user_attr("diverged", str(exc.__cause__))
                    return TrialState.PRUNED, None
                trial.set_user_attr("error", str(exc))
                return TrialState.FAIL, None
            except MemoryError:
                trial.set_user_attr("error", "out of memory (this trial's sizes ask for more "
                                             "than the machine has)")
                return TrialState.FAIL, None
            except Exception as exc:
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
                return TrialState.FAIL, None
            if result.interrupted:
                raise KeyboardInterrupt
            trial.set_user_attr("epochs", result.epochs)
            trial.set_user_attr("seconds", result.seconds)
            trial.set_user_attr(result.metric, result.value)
            trial.set_user_attr("metric", result.metric)
            return TrialState.COMPLETE, result.val_loss
        except optuna.exceptions.UpdateFinishedTrialError as exc:
            raise _LostTrialError() from exc

    def after_trial(self, trial: FrozenTrial) -> None:
        if trial.state == TrialState.FAIL:
            self.failures_in_a_row += 1
            self.last_error = str(trial.user_attrs.get("error", "failed"))
        else:
            self.failures_in_a_row = 0
        self.say(_trial_line(trial, self.worker))


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


def run_worker(spec: SweepSpec, worker: int = 0, stop: Any = None) -> list[int]:
    """Run trials until the study holds ``spec.trials`` finished ones (or the timeout).

    Before every count, trials without a heartbeat for the grace period are failed and their
    parameters queued again; queued reruns are taken first. When the last trials are running
    in other workers, this one waits for them for up to the grace period (plus two
    heartbeats), so it takes over a trial whose worker has just died.

    Parameters
    ----------
    spec : SweepSpec
    worker : int
        Its number (in printed lines; the sampler's seed is ``spec.seed + worker``).
    stop : multiprocessing.Event, optional
        Set by the parent command when it is interrupted.

    Returns
    -------
    list of int
        The numbers of the trials this worker ran.

    Raises
    ------
    SweepError
        Three trials in a row failed (the message is the last error).
    StorageUnavailable
        The database stopped answering.
    """
    _STOPPING.clear()  # an earlier sweep of this process may have been interrupted
    study, storage = _open_sweep(spec, worker)
    state = _Worker(spec, worker, study, storage)
    deadline = None if spec.timeout is None else time.monotonic() + spec.timeout
    waiting_since: float | None = None
    while True:
        if stop is not None and stop.is_set():
            raise KeyboardInterrupt
        state.fail_stale()
        trials = study.get_trials(deepcopy=False, states=PLANNED)
        queued = sum(t.state == TrialState.WAITING for t in trials)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if queued == 0 and len(trials) >= spec.trials:
            running = [t.number for t in trials if t.state == TrialState.RUNNING]
            if not running:
                break
            now = time.monotonic()
            wait = (storage.grace_period or GRACE_SECONDS) + 2 * (
                storage.heartbeat_interval or HEARTBEAT_SECONDS)
            if waiting_since is None:
                waiting_since = now
                state.say(f"worker {worker}: waiting for trial(s) {running} of other workers "
                          f"(up to {wait} s: a trial whose worker died is run again here)")
            elif now - waiting_since > wait:
                state.say(f"worker {worker}: trial(s) {running} still running elsewhere; "
                          "leaving them to their workers")
                break
            time.sleep(min(1.0, storage.heartbeat_interval or 1.0))
            continue
        waiting_since = None
        state.run_one()
        if state.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            raise SweepError(f"{state.failures_in_a_row} trials in a row failed (do the fixed "
                             f"options and the search space suit the data?); the last: "
                             f"{state.last_error}")
    return state.ran


# ---------------------------------------------------------------------------- signals
@contextmanager
def stop_signals() -> Iterator[list[int]]:
    """Ctrl-C (SIGINT) and SIGTERM stop a sweep once: the first raises KeyboardInterrupt where
    the process is (the running trial is failed and recorded), later ones are ignored so the
    bookkeeping is not cut short. Yields the list of signals received (the first decides
    the exit status: 130 or 143). The previous handlers are restored; outside the main
    thread nothing is changed."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handle(signum: int, frame: Any) -> None:
        received.append(signum)
        if len(received) == 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _worker_process(spec: dict[str, Any], worker: int, threads: int, stop: Any,
                    results: Any) -> None:
    """Entry of a spawned worker.

    It starts with SIGINT and SIGTERM ignored and blocked (set so by the parent), installs
    the stop policy, unblocks them, then checks the parent's stop event, so a signal that
    arrives while the interpreter starts is never a traceback. Its outcome goes to
    ``results`` as ``(worker, status, message)``.
    """
    status, message = 0, ""
    with stop_signals() as received:
        try:  # the parent blocked them while starting this process: pending ones land here
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
            if stop.is_set():
                raise KeyboardInterrupt
            limit_threads(threads)
            run_worker(SweepSpec(**spec), worker, stop)
        except SweepError as exc:
            status, message = 2, str(exc)
        except StorageUnavailable as exc:
            status, message = 1, str(exc)
        except KeyboardInterrupt:
            status = 143 if received[:1] == [signal.SIGTERM] else 130
        except Exception as exc:
            status, message = 1, f"{type(exc).__name__}: {exc}"
        results.put((worker, status, mask_secret(message, spec["storage"])))
    sys.exit(status)


def check_spec(spec: SweepSpec) -> None:
    """Problems with a sweep's input, found before any training (raises SweepError)."""
    if not _NAME.match(spec.study):
        raise SweepError(f"study name must be letters, digits, '_', '.', '-', got {spec.study!r}")
    if spec.trials < 1:
        raise SweepError(f"trials must be at least 1, got {spec.trials}")
    heartbeat = spec.heartbeat or HEARTBEAT_SECONDS
    grace = spec.grace or GRACE_SECONDS
    if heartbeat < 1 or grace < 2 * heartbeat:
        raise SweepError(f"the grace period must be at least two heartbeats, got heartbeat "
                         f"{heartbeat} s and grace period {grace} s")
    make_pruner(spec.pruner)
    make_sampler(spec.sampler, spec.seed)
    check_params(spec.task, spec.fixed)
    params = spec.params()
    for param in params.values():  # every bound and choice must be a valid value
        for value in param.extremes():
            check_params(spec.task, spec.fixed, {param.name: value})
    largest = {name: max(p.extremes()) for name, p in params.items()
               if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in p.extremes())}
    check_sizes(spec.task, spec.fixed, largest)


def sweep(spec: SweepSpec, n_jobs: int = 1) -> optuna.Study:
    """Run a sweep: this process alone (``n_jobs=1``) or ``n_jobs`` worker processes.

    Several commands (here or on other machines, same storage and study) share the work:
    each runs trials until the study holds ``spec.trials`` finished trials.

    Raises
    ------
    SweepError
        A problem with the input (exit status 2 at the command line).
    StorageUnavailable
        The database stopped answering (exit status 1).
    WorkerFailedError
        A worker process was killed or crashed (exit status 1).
    KeyboardInterrupt
        Ctrl-C: every worker was stopped, their running trials recorded as failed.
    """
    check_spec(spec)
    Path(spec.folder).mkdir(parents=True, exist_ok=True)
    study, _ = _open_sweep(spec)  # creates the study once, before workers race to
    if n_jobs <= 1:
        run_worker(spec)
        return study
    threads = blas_threads(n_jobs)
    ctx = spawn_context()
    stop, results = ctx.Event(), ctx.SimpleQueue()
    procs: list[Any] = []
    try:
        with thread_environment(threads), _children_ignore_signals():
            for worker in range(n_jobs):
                proc = ctx.Process(target=_worker_process,
                                   args=(asdict(spec), worker, threads, stop, results))
                proc.start()
                procs.append(proc)
        for proc in procs:
            proc.join()
    except KeyboardInterrupt:
        stop.set()
        for proc in procs:  # a Ctrl-C from the terminal reached them too; a signal to this
            if proc.is_alive() and proc.pid is not None:  # process alone did not
                with suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        for proc in procs:
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()  # its trial is failed by the heartbeat later
                proc.join()
        raise
    outcomes = {}
    while not results.empty():
        worker, status, message = results.get()
        outcomes[worker] = (status, message)
    codes = [proc.exitcode for proc in procs]
    for status in (2, 1):
        messages = sorted({m for s, m in outcomes.values() if s == status and m})
        if messages:
            error = SweepError if status == 2 else StorageUnavailable
            raise error("; ".join(messages))
    if any(code in (130, 143, -signal.SIGINT, -signal.SIGTERM) for code in codes):
        raise KeyboardInterrupt
    dead = [f"worker {i} {'was killed by signal ' + str(-c) if c < 0 else 'exited with ' + str(c)}"
            for i, c in enumerate(codes) if c]
    if dead:
        raise WorkerFailedError("; ".join(dead) + " (its running trial is run again after the "
                                "grace period: run the same command again)")
    return load_study(spec.study, spec.storage)  # afresh: the workers wrote the trials


@contextmanager
def _children_ignore_signals() -> Iterator[None]:
    """Processes started inside begin with SIGINT and SIGTERM ignored (a signal during their
    start-up would otherwise kill them with a traceback); this process keeps its handlers:
    the signals are blocked meanwhile and delivered after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


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
    counts = {s.name.lower(): sum(t.state == s and "surplus" not in t.user_attrs
                                  for t in trials) for s in TrialState}
    counts["not needed"] = sum("surplus" in t.user_attrs for t in trials)
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
    attrs = [*sorted({k for t in trials for k in t.user_attrs}
                     - {"host", "pid", "output", "error"}), "error"]
    errors = _errors(trials)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["number", "state", "value", "seconds", *names, *attrs])
        for t in trials:
            writer.writerow([t.number, t.state.name, "" if t.value is None else t.value,
                             t.duration.total_seconds() if t.duration else "",
                             *(t.params.get(n, "") for n in names),
                             *(t.user_attrs.get(a, "") for a in attrs[:-1]),
                             errors.get(t.number, "")])


def _errors(trials: Sequence[FrozenTrial]) -> dict[int, str]:
    """Why each failed trial failed; a trial failed for want of a heartbeat has no error
    of its own: say so, and which trial ran its parameters again."""
    again = {t.system_attrs["retry_history"][-1]: t.number for t in trials
             if t.system_attrs.get("retry_history")}
    out = {}
    for t in trials:
        if "error" in t.user_attrs:
            out[t.number] = str(t.user_attrs["error"])
        elif t.state == TrialState.FAIL:
            rerun = f"; run again as trial {again[t.number]}" if t.number in again else ""
            out[t.number] = f"no heartbeat (its worker died or lost the database){rerun}"
    return out


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
            _readable_history(ax)
            _save(ax, folder / "history.png", plt)
            written.append("history.png")
        if n_complete >= 2:
            try:
                ax = ovm.plot_param_importances(study, target_name="validation loss")
            except (ValueError, RuntimeError) as exc:  # e.g. no parameter varied
                print(f"no parameter-importance figure: {exc}", flush=True)
            else:
                _readable_importance(ax)
                _save(ax, folder / "importance.png", plt)
                written.append("importance.png")
    if written:
        print("figures: " + ", ".join(str(folder / w) for w in written), flush=True)


def _readable_history(ax: Any) -> None:
    """Optuna's history figure, readable: a log loss axis labelled at 1, 2 and 5 of every
    decade in plain numbers (not only 10^-1, 10^-2), whole trial numbers, larger text."""
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Optimisation history: validation loss per trial, best so far", fontsize=12)
    ax.tick_params(labelsize=10)
    ax.figure.set_size_inches(8, 4.5)


def _readable_importance(ax: Any) -> None:
    """Optuna's importance figure, readable: room for the value labels right of the bars,
    larger parameter names."""
    widest = max([p.get_width() for p in ax.patches] or [1.0])
    ax.set_xlim(0, 1.12 * widest)  # the value printed right of the longest bar fits
    ax.tick_params(labelsize=10)
    ax.set_title("", loc="left")
    ax.set_title("Parameter importances for the validation loss (PED-ANOVA)", fontsize=12)
    ax.figure.set_size_inches(8, max(3.0, 0.6 * len(ax.get_yticks()) + 1.5))


def _save(ax: Any, path: Path, plt: Any) -> None:
    figure = ax.figure  # (ax is Any: matplotlib's stubs allow a SubFigure here)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
