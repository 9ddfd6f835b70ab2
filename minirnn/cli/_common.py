"""Pieces shared by the ``minirnn`` subcommands: the user's errors, argument types, the
run folder, and the bridge from parsed options to the task API (:mod:`minirnn.apps.tasks`)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import json
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from minirnn.apps.tasks.config import TaskConfig
    from minirnn.apps.tasks.registry import TaskResult
    from minirnn.train.callbacks import Callback

# Start-up: every command imports this module, so the task registry (which imports every
# task, the classifier's scipy among them), the data readers, the run folders, the layers
# and the callbacks are imported by the functions that use them, not here.

__all__ = [
    "UsageError", "add_common", "add_run_folder_options", "check_output_path", "clip_norm",
    "config_from_args", "csv_decimals", "date_arg", "nonnegative_int", "parse_number",
    "positive_float", "positive_int", "prepare_output", "printing_callbacks", "refuse_options",
    "resolve_run", "resume_argv", "run_config", "subcommands", "train_task", "write_predictions",
]


class UsageError(Exception):
    """A problem with the user's input: reported as one line, exit status 2."""


def check_output_path(path: str, option: str = "--output") -> None:
    """Refuse an output file or folder that cannot be written, before any work is done."""
    target = Path(path)
    existing = target
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing != target and not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK):
        raise UsageError(f"{option} {path}: {existing} is not writable")


# ------------------------------------------------------------------ options -> task API
_FIELD = re.compile(r"^([a-z][a-z0-9_]*)\b")


def _as_flag(message: str, fields: set[str]) -> str:
    """``"seq_len must be ..."`` -> ``"--seq-len must be ..."`` (the option the user typed)."""
    match = _FIELD.match(message)
    if match and match.group(1) in fields:
        return "--" + match.group(1).replace("_", "-") + message[match.end():]
    return message


def config_from_args(args: argparse.Namespace) -> TaskConfig:
    """The task's configuration from the parsed options of ``minirnn train TASK``.

    Raises UsageError (naming the option as typed) when the configuration refuses a value.
    """
    from minirnn.apps.tasks.registry import config_class

    cls = config_class(args.task)
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    if "resume" in fields:
        values["resume"] = bool(getattr(args, "resume", None))
    try:
        return cls(**values)
    except ValueError as exc:
        raise UsageError(_as_flag(str(exc), fields)) from exc


def printing_callbacks(args: argparse.Namespace, loss_name: str) -> list[Callback]:
    """A progress bar when asked (or on a terminal) and a line per epoch, unless --quiet."""
    from minirnn.train.callbacks import EpochLine, ProgressBar

    if getattr(args, "quiet", False):
        return []
    callbacks: list[Callback] = []
    progress = getattr(args, "progress", None)
    if progress or (progress is None and sys.stdout.isatty()):
        # Before the epoch line: the bar closes before the epoch's summary line is printed.
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    callbacks.append(EpochLine(loss_name=loss_name))
    return callbacks


def run(config: TaskConfig, **options: Any) -> TaskResult:
    """:func:`minirnn.apps.tasks.run`, its registry (every task) imported on the first run."""
    from minirnn.apps.tasks.registry import run as run_task

    return run_task(config, **options)


def train_task(args: argparse.Namespace, callbacks: Sequence[Callback]) -> TaskResult:
    """Run ``minirnn train TASK`` through the task API, printing to standard output.

    A :class:`~minirnn.apps.tasks.TaskError` becomes a UsageError (one line, status 2).
    """
    from minirnn.apps.tasks.errors import TaskError

    config = config_from_args(args)
    try:
        return run(config, callbacks=callbacks, output=args.output, argv=args.argv)
    except TaskError as exc:
        raise UsageError(str(exc)) from exc


def refuse_options(args: argparse.Namespace, command: str, *flags: str) -> None:
    """One line of error for shared options that ``command`` does not support, before any
    work, instead of silently ignoring them (``flags`` as typed, e.g. ``"--init-from"``)."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_"), None):
            raise UsageError(f"{flag} is not available for '{command}'")


# --------------------------------------------------------------- run folders and config
def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """The report's configuration entry for a command's parsed options (the command line,
    every option's value, the seed, library versions, input files with their SHA-256)."""
    options = {k: v for k, v in vars(args).items()
               if k not in ("argv", "started") and not callable(v)
               and not isinstance(v, (argparse.ArgumentParser, dict))}
    from minirnn.apps.tasks.run_folder import run_record

    return run_record(options, getattr(args, "argv", None), getattr(args, "started", None))


def prepare_output(args: argparse.Namespace) -> Path | None:
    """Choose and create the run folder before anything is trained.

    Without ``--output``: a new ``minirnn-runs/<task>-<UTC date-time>`` folder per run.
    An existing folder that holds files is an error unless ``--overwrite`` (or
    ``--resume``, which continues the run in its own folder). Returns the folder if this
    call created it (so a failed run can remove it again), else None.
    """
    args.started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    resume = getattr(args, "resume", None)
    if args.output is None:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = Path("minirnn-runs") / f"{args.run_name}-{stamp}"
        folder, n = base, 1
        while folder.exists():
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
    else:
        folder = Path(args.output)
        try:
            holds_files = folder.is_dir() and any(folder.iterdir())
        except OSError as exc:  # a name too long, a folder we may not list...
            raise UsageError(f"--output {folder}: {exc.strerror or exc}") from exc
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--output {folder} is a file, not a folder")
        if holds_files and not (args.overwrite or resume):
            raise UsageError(f"--output {folder} already holds files of an earlier run; pass "
                             "--overwrite to replace them, or leave --output out to get a new "
                             "folder per run")
    created = None if folder.exists() else folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the run folder {folder}: {exc.strerror or exc}") \
            from exc
    if not resume:
        # A stale checkpoint must not be resumed by an --overwrite run.
        (folder / "checkpoint.npz").unlink(missing_ok=True)
    init = getattr(args, "init_from", None)
    if init and not Path(init).is_file():
        raise UsageError(f"--init-from {init}: no such file")
    args.output = str(folder)
    from minirnn.apps.tasks.run_folder import write_json

    write_json(folder / "report.json", {"status": "running", "config": run_config(args)})
    return created


def resolve_run(text: str, command: str, tasks: Sequence[str]) -> str:
    """The run folder (or model file) ``RUN_DIR`` stands for in ``minirnn COMMAND RUN_DIR``.

    An existing path is itself (a ``<task>-latest`` pointer file: the folder it names); the
    name of one of ``tasks`` (``series``, ``text`` ...) that is not a path is that task's
    newest run under minirnn-runs/. Anything else is a UsageError that names the newest
    run of the task the name suggests, or of each of ``tasks``.
    """
    from minirnn.apps.tasks.run_folder import RUNS, newest_run

    path = Path(text)
    if path.is_file() and path.suffix != ".npz" and path.name.endswith("-latest") \
            and path.stat().st_size < 4096:
        folder = path.parent / path.read_text(encoding="utf-8", errors="replace").strip()
        if folder.is_dir():
            return str(folder)
    if path.exists():
        return text
    usage = " or ".join(f"'train {t}'" for t in tasks)
    if text in tasks:
        found = newest_run(text)
        if found is None:
            raise UsageError(f"{text}: no run of 'minirnn train {text}' with a model.npz in "
                             f"{RUNS}/ of this folder; train one first, or give a run folder")
        print(f"{command} {text}: {found}", file=sys.stderr, flush=True)
        return str(found)
    if text in ("adding", "binary-addition", "classify", "series", "seq2seq", "text"):
        raise UsageError(f"'minirnn {command}' reads a run of {usage}, not of 'train {text}'")
    stem = path.name.removesuffix(".npz")
    if stem == "model":
        stem = path.parent.name
    guess = [t for t in tasks if stem.startswith(t)] or list(tasks)
    newest = [(t, newest_run(t)) for t in guess]
    hints = [f"the newest {t} run is {p} ('minirnn {command} {t}' reads it)"
             for t, p in newest if p is not None]
    hint = "; ".join(hints) if hints else f"no run of {usage} in {RUNS}/ of this folder yet"
    raise UsageError(f"{text}: no such run folder or model file; {hint}")


def resume_argv(argv: Sequence[str], run_dir: str) -> list[str]:
    """The command line that continues the run in ``run_dir``: the run's own command line
    (from its report.json), then any option given now (e.g. a larger ``--epochs``)."""
    folder = Path(run_dir)
    report_path = folder / "report.json"
    if not report_path.is_file():
        raise UsageError(f"--resume {run_dir}: no report.json there (not a minirnn run folder)")
    if not (folder / "checkpoint.npz").is_file():
        kept = " (its model.npz predicts as it is: 'minirnn predict')" if (
            folder / "model.npz").is_file() else ""
        raise UsageError(f"--resume {run_dir}: no checkpoint.npz there, nothing to resume"
                         f"{kept}")
    try:
        saved = json.loads(report_path.read_text())["config"]["argv"]
        if not isinstance(saved, list) or not all(isinstance(a, str) for a in saved):
            raise TypeError("argv is not a list of strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--resume {run_dir}: report.json has no usable command line "
                         f"({exc})") from exc
    now = list(argv)
    positional = [a for a in now[:next((i for i, a in enumerate(now) if a.startswith("-")),
                                        len(now))]]
    if saved[:len(positional)] != positional:
        raise UsageError(f"--resume {run_dir}: that folder holds a run of "
                         f"'minirnn {' '.join(saved[:2])}', not of 'minirnn "
                         f"{' '.join(positional)}'")
    extra, i = [], len(positional)
    while i < len(now):
        if now[i] == "--resume":
            i += 2
            continue
        if not now[i].startswith("--resume="):
            extra.append(now[i])
        i += 1
    return [*saved, *extra, "--output", str(folder), "--resume", str(folder)]


def parse_number(text: str, kind: Callable[[str], Any], valid: Callable[[Any], bool],
                 rule: str, *, expected: str | None = None) -> Any:
    """Parse an option's ``text`` with ``kind`` (int or float) for argparse.

    Raises ``argparse.ArgumentTypeError`` (argparse then prints one line naming the option)
    when ``text`` is not a number (``expected`` names what was, default "an integer" or "a
    number") or breaks ``valid``; ``rule`` says what the value must be.
    """
    try:
        value = kind(text)
    except ValueError:
        noun = expected or ("an integer" if kind is int else "a number")
        raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
    if not valid(value):
        raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
    return value


def positive_int(text: str) -> int:
    return int(parse_number(text, int, lambda v: v > 0, "greater than zero"))


def nonnegative_int(text: str) -> int:
    return int(parse_number(text, int, lambda v: v >= 0, "zero or more"))


def positive_float(text: str) -> float:
    return float(parse_number(text, float, lambda v: v > 0 and math.isfinite(v),
                              "a finite number greater than zero"))


def clip_norm(text: str) -> float | None:
    """``--clip-norm``: a positive number, or 0 / none / off for no clipping."""
    if text.strip().lower() in ("0", "0.0", "none", "off"):
        return None
    return positive_float(text)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of a parser by name (empty if it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def date_arg(text: str) -> str | None:
    """``--date-column``: a column name, or ``none`` for no dates."""
    return None if text.lower() == "none" else text


def add_common(parser: argparse.ArgumentParser, task: str,
               default_lrs: dict[str, float] | None = None) -> None:
    """The options every ``minirnn train TASK`` shares, with the defaults of the task's
    configuration (:mod:`minirnn.apps.tasks`).

    ``default_lrs`` (default: the configuration's ``default_lrs``) are the learning rates the
    task uses instead of an optimizer's own when ``--lr`` is not given; ``--help`` says so.
    """
    from minirnn.apps.tasks.registry import config_class
    from minirnn.nn.registry import OPTIMIZERS, RECURRENT_LAYERS, default_lr

    d = config_class(task).defaults()
    own = dict(getattr(config_class(task), "default_lrs", {}) if default_lrs is None
               else default_lrs)
    parser.add_argument("--cell", choices=sorted(RECURRENT_LAYERS), default=d["cell"],
                        help="recurrent cell")
    parser.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    parser.add_argument("--hidden-size", type=positive_int, default=d["hidden_size"],
                        help="units H")
    parser.add_argument("--bidirectional", action="store_true",
                        help="also read the sequence backwards")
    parser.add_argument("--epochs", type=positive_int, default=d["epochs"],
                        help="maximum epochs")
    parser.add_argument("--batch-size", type=positive_int, default=d["batch_size"],
                        help="mini-batch size")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam",
                        help="optimizer")
    lrs = ", ".join(f"{k} {default_lr(k):g}" for k in sorted(OPTIMIZERS) if k not in own)
    if own:
        mine = ", ".join(f"{k} {v:g}" for k, v in sorted(own.items()))
        lr_help = (f"learning rate (default: this task's own, {mine}, measured to train it; "
                   f"for the other optimizers their own, as in torch and Keras: {lrs})")
    else:
        lr_help = f"learning rate (default: the optimizer's own, as in torch and Keras: {lrs})"
    parser.add_argument("--lr", type=positive_float, default=None, help=lr_help)
    parser.add_argument("--clip-norm", type=clip_norm, default=1.0,
                        help="clip the global gradient norm to this; 0 or 'none' switches "
                             "clipping off")
    parser.add_argument("--patience", type=positive_int, default=d["patience"],
                        help="early stopping: epochs without validation improvement; the "
                             "best epoch's weights are kept")
    parser.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                        help="stop training cleanly after this many seconds, keeping the best "
                             "weights so far")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed of data, weights, shuffling")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="floating type of the weights and data")
    add_run_folder_options(parser, task)
    parser.add_argument("--init-from", metavar="MODEL", default=None,
                        help="start from the weights of a saved model.npz (same architecture)")
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue an interrupted run in its folder, with its own "
                             "options (options given now, e.g. --epochs, are added)")
    parser.add_argument("--grad-flow", action="store_true",
                        help="save and plot the norm of dL/dh_t per step after training")
    parser.add_argument("--no-plot", action="store_true", help="do not draw figures")
    parser.set_defaults(run_name=task)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with total, ETA and running loss within epochs "
                             "(needs tqdm: pip install 'minirnn[progress]'); default: on when "
                             "the output is a terminal")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar and no per-epoch lines; only the results")


def add_run_folder_options(parser: argparse.ArgumentParser, task: str) -> None:
    """``--output`` and ``--overwrite`` for a command that writes a run folder.

    With them, ``main`` calls :func:`prepare_output` before the command runs: a new
    ``minirnn-runs/<task>-<UTC time>`` folder per run unless ``--output`` is given, an
    error (before anything is trained) if that folder already holds files and
    ``--overwrite`` is absent, and a report.json with the full configuration. The command
    then writes into ``args.output``. (:func:`add_common` includes them.)
    """
    parser.add_argument("--output", default=None,
                        help=f"run folder for the model, history, report.json and figures "
                             f"(default: a new minirnn-runs/{task}-<UTC time> per run)")
    parser.add_argument("--overwrite", action="store_true",
                        help="allow --output to be a folder that already holds a run")
    parser.set_defaults(run_name=task)
# ------------------------------------------------------------------ prediction files
def csv_decimals(path: str | Path, column: str, *, cap: int = 8) -> int:
    """Digits after the decimal point in a CSV column (the most any value uses; at most
    ``cap``): predictions are written to the precision the data was recorded with."""
    from minirnn.apps.data.io import column_index

    most = 0
    try:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            try:
                index = column_index(next(reader, []), column, "column", Path(path))
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            for row in reader:
                if index < len(row):
                    text = row[index].strip().lower()
                    mantissa, _, exponent = text.partition("e")
                    if "." in mantissa:
                        digits = len(mantissa.split(".", 1)[1])
                        if exponent.lstrip("+-").isdigit():
                            digits -= int(exponent)
                        most = max(most, digits)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return min(max(most, 0), cap)


def write_predictions(path: str | Path, columns: dict[str, Sequence[Any] | np.ndarray], *,
                      decimals: int | None = None, dates: Sequence[Any] | None = None,
                      date_name: str = "date") -> None:
    """Write a predictions CSV: an optional date column first, then ``columns`` in order,
    numbers rounded to ``decimals`` places (the data's precision; None: as computed).

    Every column must have the same length (and so must ``dates``).
    """
    names = list(columns)
    data = [np.asarray(columns[name]) for name in names]
    lengths = {len(column) for column in data} | ({len(dates)} if dates is not None else set())
    if len(lengths) > 1:
        raise ValueError(f"prediction columns differ in length: "
                         f"{ {n: len(c) for n, c in zip(names, data, strict=True)} }")

    def cell(value: Any) -> str:
        if isinstance(value, (float, np.floating)):
            if not np.isfinite(value):
                return ""
            return f"{value:.{decimals}f}" if decimals is not None else repr(float(value))
        return str(value)

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(([date_name] if dates is not None else []) + names)
        for i in range(len(data[0]) if data else 0):
            row = [cell(column[i]) for column in data]
            writer.writerow(([str(dates[i])] if dates is not None else []) + row)
