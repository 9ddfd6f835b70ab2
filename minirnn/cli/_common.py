"""Pieces shared by the ``minirnn`` subcommands: errors, model builders, training, output."""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import hashlib
import inspect
import json
import math
import os
import platform
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.check.diagnostics import gradient_flow
from minirnn.nn.io import ModelFileError, check_model_arrays, read_file, save_model
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, LastStep, Recurrent
from minirnn.nn.losses import Loss
from minirnn.nn.model import Sequential
from minirnn.nn.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from minirnn.train.callbacks import Callback, EarlyStopping, ProgressBar, TimeLimit
from minirnn.train.solver import History, Solver, TrainingDivergedError

CELLS: dict[str, Callable[..., Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}


class UsageError(Exception):
    """A problem with the user's input: reported as one line, exit status 2."""


class DivergedError(Exception):
    """Training diverged: the report and history are written, exit status 1."""

    def __init__(self, error: TrainingDivergedError) -> None:
        super().__init__(str(error))
        self.error = error


class Interrupted(KeyboardInterrupt):
    """Ctrl-C after which the run's files were still written: exit status 130."""

    def __init__(self, saved: str) -> None:
        super().__init__(saved)
        self.saved = saved


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


def many_to_one(cell: str, inputs: int, hidden: int, outputs: int, *, dtype: Any,
                seed: int | None, num_layers: int, bidirectional: bool) -> Sequential:
    """Recurrent layer -> last step -> Dense(H, outputs)."""
    rng = np.random.default_rng(seed)
    recurrent = CELLS[cell](inputs, hidden, num_layers=num_layers, bidirectional=bidirectional,
                            dtype=dtype, seed=rng)
    return Sequential(recurrent, LastStep(),
                      Dense(recurrent.output_size, outputs, dtype=dtype, seed=rng))


# ------------------------------------------------------------------------------- output
class EpochLine(Callback):
    """One line per epoch with the task's own names for the metrics."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        text = f"epoch {epoch + 1:3d}/{self.solver.epochs}  train {self.metric} {logs['loss']:.5f}"
        if "val_loss" in logs:
            text += f"  val {self.metric} {logs['val_loss']:.5f}"
        text += f"  grad norm {logs['grad_norm']:.3f}  {logs['time']:.1f}s"
        print(text, flush=True)


def write_history(folder: Path, history: History) -> None:
    keys = sorted(history.history)
    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *keys])
        for i, epoch in enumerate(history.epoch):
            writer.writerow([epoch + 1, *(history.history[k][i] for k in keys)])
    (folder / "history.json").write_text(json.dumps(
        {"epoch": [e + 1 for e in history.epoch], **history.history}, indent=1))


def plot_run(folder: Path, history: History, grad_flow: np.ndarray | None, title: str,
             loss_label: str = "loss") -> None:
    try:
        from minirnn.train.plots import plot_grad_flow, plot_history
    except ImportError:
        print("matplotlib is not installed: skipping the figures "
              "(pip install 'minirnn[plot]')", flush=True)
        return
    plot_history({title: history}, folder / "loss.png", ylabel=loss_label,
                 title=f"{title}: training and validation loss")
    written = ["loss.png"]
    if grad_flow is not None:
        plot_grad_flow({title: grad_flow}, folder / "grad_flow.png")
        written.append("grad_flow.png")
    print(f"figures: {', '.join(str(folder / w) for w in written)}", flush=True)


# ---------------------------------------------------------------------------- training
def optimizer_default_lr(name: str) -> float:
    """The optimizer's own default learning rate (as in torch and Keras)."""
    return float(inspect.signature(OPTIMIZERS[name]).parameters["lr"].default)


def init_weights(model: Sequential, path: str) -> None:
    """Load the weights of a saved model into ``model`` (``--init-from``), checked first."""
    try:
        _, arrays = read_file(path, "model")
        state = check_model_arrays(model, arrays, path)
    except ModelFileError as exc:
        saved = header_layers(path)
        raise UsageError(f"--init-from {exc}" + (f"; the file holds {saved}: pass the same "
                                                 "--cell, --hidden-size, --layers and task "
                                                 "options as when it was trained"
                                                 if saved else "")) from exc
    model.load_state_dict(state)


def header_layers(path: str) -> str:
    """A short description of the layers saved in a model file ('' if unreadable)."""
    try:
        header, _ = read_file(path, "model")
        layers = header["model"]["config"]["layers"]
        return ", ".join(
            f"{spec['class']}(" + ", ".join(f"{k}={spec['config'][k]}" for k in
                                            ("input_size", "hidden_size", "num_layers",
                                             "in_features", "out_features")
                                            if k in spec["config"]) + ")"
            for spec in layers)
    except (ModelFileError, KeyError, TypeError):
        return ""


def make_solver(args: argparse.Namespace, model: Sequential, loss: Loss, metric: str,
                lr: float | None = None) -> tuple[Solver, EarlyStopping]:
    """The Solver every ``train`` task uses, configured from the common options.

    ``lr`` (else ``--lr``) None means the optimizer's own default; ``args.lr`` is set to
    the rate used. ``--init-from`` loads weights into ``model``; the run folder gets a
    checkpoint every epoch so ``--resume`` can continue the run.
    """
    if getattr(args, "init_from", None):
        init_weights(model, args.init_from)
    stopper = EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks: list[Callback] = []
    quiet = getattr(args, "quiet", False)
    if not quiet and (args.progress or (args.progress is None and sys.stdout.isatty())):
        # Before EpochLine: the bar closes before the epoch's summary line is printed.
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    if not quiet:
        callbacks.append(EpochLine(metric))
    callbacks.append(stopper)
    callbacks.extend(time_limit(args))
    # Callbacks a caller adds when it drives a task from code (sweeps: the pruning callback).
    callbacks.extend(getattr(args, "extra_callbacks", ()))
    lr = lr if lr is not None else getattr(args, "lr", None)
    opt_class = OPTIMIZERS[args.optimizer]
    optimizer = opt_class(model) if lr is None else opt_class(model, lr=lr)
    args.lr = optimizer.lr
    checkpoint = Path(args.output) / "checkpoint.npz" if getattr(args, "output", None) else None
    solver = Solver(model, loss=loss, optimizer=optimizer, batch_size=args.batch_size,
                    epochs=args.epochs, seed=args.seed, clip_norm=args.clip_norm,
                    callbacks=callbacks, checkpoint_path=checkpoint)
    return solver, stopper


def time_limit(args: argparse.Namespace) -> list[Callback]:
    """``[TimeLimit(args.time_limit, verbose=True)]`` if ``--time-limit`` was given, else ``[]``.

    Commands that build their own Solver add these callbacks to honour ``--time-limit``.
    """
    seconds = getattr(args, "time_limit", None)
    return [] if seconds is None else [TimeLimit(seconds, verbose=True)]


def time_limit_report(solver: Solver) -> dict[str, Any]:
    """How far a run got under ``--time-limit`` (empty without one), for report.json."""
    for cb in solver.callbacks:
        if isinstance(cb, TimeLimit):
            return {"time_limit": {"seconds": cb.seconds, "reached": cb.stopped,
                                   "epochs_done": cb.epochs_done, "elapsed": cb.elapsed}}
    return {}


def fit(solver: Solver, x: np.ndarray, y: np.ndarray,
        val: tuple[np.ndarray, np.ndarray]) -> History:
    """``solver.fit`` with validation data, continuing from the run folder's checkpoint if
    there is one (only ``--resume`` leaves one there: see :func:`prepare_output`)."""
    try:
        return solver.fit(x, y, validation_data=val,
                          resume=solver.checkpoint_path is not None)
    except TrainingDivergedError as exc:
        raise DivergedError(exc) from exc
    except ModelFileError as exc:
        raise UsageError(f"cannot resume: {exc}") from exc


def finish(args: argparse.Namespace, solver: Solver, stopper: EarlyStopping,
           report: dict[str, Any], x_probe: np.ndarray, y_probe: np.ndarray, title: str,
           metadata: dict[str, Any], loss_label: str | None = None) -> None:
    """Save the model, history, report.json (results + full configuration) and figures.

    ``loss_label`` names the loss axis of the figure with its units (default: the loss
    class's name).
    """
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    if solver.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    if stopper.best_epoch >= 0:
        print(f"best validation epoch {stopper.best_epoch + 1} ({stopper.best:.5f}); "
              "testing those weights", flush=True)
    save_model(folder / "model.npz", solver.model, metadata=metadata)
    write_history(folder, solver.history)
    flow = None
    if args.grad_flow:
        loss = solver.loss
        flow = gradient_flow(solver.model, x_probe, y_probe, loss)
        np.savetxt(folder / "grad_flow.csv", flow, header="norm of dL/dh_t, t = 0..T-1")
        ends = f"t=1: {flow[0]:.3g}, t={len(flow)}: {flow[-1]:.3g}"
        print(f"gradient flow (mean ||dL/dh_t||): {ends}; saved grad_flow.csv", flush=True)
    full = {**report, **time_limit_report(solver),
            "status": "interrupted" if solver.interrupted else "finished",
            "epochs_run": solver.epoch, "config": run_config(args)}
    write_json(folder / "report.json", full)
    if not args.no_plot:
        plot_run(folder, solver.history, flow, title,
                 loss_label or f"{type(solver.loss).__name__} loss")
    saved = f"{folder / 'model.npz'}, history.csv, history.json, report.json"
    print(f"saved {saved}", flush=True)
    if solver.interrupted:
        raise Interrupted(f"saved {saved} (model: the best epoch's weights)")


def write_divergence(args: argparse.Namespace, error: TrainingDivergedError) -> str:
    """Write report.json and the history of a diverged run; returns what was written."""
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)
    write_history(folder, error.history)
    write_json(folder / "report.json", {"status": "diverged", "error": str(error),
                                        "epochs_run": len(error.history),
                                        "config": run_config(args)})
    return f"{folder / 'report.json'}, history.csv, history.json"


# --------------------------------------------------------------- run folders and config
def refuse_options(args: argparse.Namespace, command: str, *flags: str) -> None:
    """One line of error for shared options that ``command`` does not support, before any
    work, instead of silently ignoring them (``flags`` as typed, e.g. ``"--init-from"``)."""
    for flag in flags:
        if getattr(args, flag.lstrip("-").replace("-", "_"), None):
            raise UsageError(f"{flag} is not available for '{command}'")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically enough for a report (a temporary file, then a rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import scipy

    from minirnn.nn.version import __version__

    versions = {"minirnn": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
                "python": platform.python_version(), "platform": platform.platform()}
    for extra in ("tqdm", "matplotlib"):
        with contextlib.suppress(ImportError):
            versions[extra] = __import__(extra).__version__
    return versions


_NOT_CONFIG = {"run", "task_defaults", "argv", "extra_callbacks"}


def run_config(args: argparse.Namespace) -> dict[str, Any]:
    """Everything needed to reproduce a run: the command line, every option's value (defaults
    included), the seed, library versions, and each input file with its SHA-256."""
    flags = {k: v for k, v in sorted(vars(args).items())
             if k not in _NOT_CONFIG and not callable(v)}
    files = {}
    for key, value in flags.items():
        if key != "output" and isinstance(value, str) and value and Path(value).is_file():
            path = Path(value)
            files[key] = {"path": str(path.resolve()), "bytes": path.stat().st_size,
                          "sha256": file_sha256(path)}
    argv = list(getattr(args, "argv", []) or [])
    return {"command": "minirnn " + shlex.join(argv), "argv": argv, "options": flags,
            "seed": flags.get("seed"), "files": files, "versions": _versions(),
            "started": getattr(args, "started", None)}


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
    write_json(folder / "report.json", {"status": "running", "config": run_config(args)})
    return created


def resume_argv(argv: Sequence[str], run_dir: str) -> list[str]:
    """The command line that continues the run in ``run_dir``: the run's own command line
    (from its report.json), then any option given now (e.g. a larger ``--epochs``)."""
    folder = Path(run_dir)
    report_path = folder / "report.json"
    if not report_path.is_file():
        raise UsageError(f"--resume {run_dir}: no report.json there (not a minirnn run folder)")
    if not (folder / "checkpoint.npz").is_file():
        raise UsageError(f"--resume {run_dir}: no checkpoint.npz there, nothing to resume")
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


def task_splits(make: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: np.dtype,
                 args: argparse.Namespace) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Training, validation (half the test size) and test sets from one seeded generator.

    ``make(n, seed=rng, dtype=dtype)`` draws n samples of a built-in task.
    """
    rng = np.random.default_rng(args.seed)
    sizes = (args.train_size, max(args.test_size // 2, 1), args.test_size)
    return tuple(make(n, seed=rng, dtype=dtype) for n in sizes)


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


def add_common(parser: argparse.ArgumentParser, task: str, d: dict[str, Any]) -> None:
    """The options every ``minirnn train TASK`` shares; ``d`` holds the task's defaults."""
    parser.add_argument("--cell", choices=sorted(CELLS), default=d["cell"], help="recurrent cell")
    parser.add_argument("--layers", type=positive_int, default=1, help="stacked layers")
    parser.add_argument("--hidden-size", type=positive_int, default=d["hidden_size"],
                        help="units H")
    parser.add_argument("--bidirectional", action="store_true",
                        help="also read the sequence backwards")
    parser.add_argument("--epochs", type=positive_int, default=d["epochs"],
                        help="maximum epochs")
    parser.add_argument("--batch-size", type=positive_int, default=d["batch_size"],
                        help="mini-batch size")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    lrs = ", ".join(f"{k} {optimizer_default_lr(k):g}" for k in sorted(OPTIMIZERS))
    parser.add_argument("--lr", type=positive_float, default=None,
                        help=f"learning rate (default: the optimizer's own, as in torch and "
                             f"Keras: {lrs})")
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
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    add_run_folder_options(parser, task)
    parser.add_argument("--init-from", metavar="MODEL", default=None,
                        help="start from the weights of a saved model.npz (same architecture)")
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue an interrupted run in its folder, with its own "
                             "options (options given now, e.g. --epochs, are added)")
    parser.add_argument("--grad-flow", action="store_true",
                        help="save and plot the norm of dL/dh_t per step after training")
    parser.add_argument("--no-plot", action="store_true", help="do not draw figures")
    parser.set_defaults(task_defaults=d, run_name=task)
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
    most = 0
    try:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            if column not in header:
                raise UsageError(f"{path}: no column {column!r}; the header has {header}")
            index = header.index(column)
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
