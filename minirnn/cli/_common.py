"""Pieces shared by the ``minirnn`` subcommands: errors, model builders, training, output."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.callbacks import Callback, EarlyStopping, ProgressBar
from minirnn.diagnostics import gradient_flow
from minirnn.io import save_model
from minirnn.layers import GRU, LSTM, RNN, Dense, LastStep, Recurrent
from minirnn.losses import Loss
from minirnn.model import Sequential
from minirnn.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from minirnn.solver import History, Solver, TrainingDivergedError

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


def check_output_folder(path: str) -> None:
    """Refuse an ``--output`` folder that cannot be written, before any training."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--output {path}: exists and is not a folder")
    existing = target
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--output {path}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--output {path}: {existing} is not writable")


def check_output_file(path: str, option: str = "--output") -> None:
    """Refuse an output file whose folder is missing or unwritable, before any work."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a folder, expected a file name")
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"{option} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: folder {folder} is not writable")


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


def plot_run(folder: Path, history: History, grad_flow: np.ndarray | None, title: str) -> None:
    try:
        from minirnn.plots import plot_grad_flow, plot_history
    except ImportError:
        print("matplotlib is not installed: skipping the figures "
              "(pip install 'minirnn[plot]')", flush=True)
        return
    plot_history({title: history}, folder / "loss.png")
    written = ["loss.png"]
    if grad_flow is not None:
        plot_grad_flow({title: grad_flow}, folder / "grad_flow.png")
        written.append("grad_flow.png")
    print(f"figures: {', '.join(str(folder / w) for w in written)}", flush=True)


# ---------------------------------------------------------------------------- training
def make_solver(args: argparse.Namespace, model: Sequential, loss: Loss, metric: str,
            lr: float) -> tuple[Solver, EarlyStopping]:
    stopper = EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks: list[Callback] = [EpochLine(metric), stopper]
    if args.progress or (args.progress is None and sys.stdout.isatty()):
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    optimizer = OPTIMIZERS[args.optimizer](model, lr=lr)
    solver = Solver(model, loss=loss, optimizer=optimizer, batch_size=args.batch_size,
                    epochs=args.epochs, seed=args.seed, clip_norm=args.clip_norm,
                    callbacks=callbacks)
    return solver, stopper


def fit(solver: Solver, x: np.ndarray, y: np.ndarray,
         val: tuple[np.ndarray, np.ndarray]) -> History:
    try:
        return solver.fit(x, y, validation_data=val)
    except TrainingDivergedError as exc:
        raise DivergedError(exc) from exc


def write_divergence(folder: Path, args: argparse.Namespace, error: TrainingDivergedError
                     ) -> str:
    """Write report.json and the history of a diverged run; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    write_history(folder, error.history)
    report = {"task": getattr(args, "task", None), "status": "diverged", "error": str(error),
              "epochs_completed": len(error.history)}
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    return f"{folder / 'report.json'}, history.csv, history.json"


def finish(args: argparse.Namespace, solver: Solver, stopper: EarlyStopping,
            report: dict[str, Any], x_probe: np.ndarray, y_probe: np.ndarray, title: str,
            metadata: dict[str, Any]) -> None:
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
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    if not args.no_plot:
        plot_run(folder, solver.history, flow, title)
    saved = f"{folder / 'model.npz'}, history.csv, history.json, report.json"
    print(f"saved {saved}", flush=True)
    if solver.interrupted:
        raise Interrupted(f"saved {saved} (model: the best epoch's weights)")


def task_splits(make: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: np.dtype,
                 args: argparse.Namespace) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Training, validation (half the test size) and test sets from one seeded generator.

    ``make(n, seed=rng, dtype=dtype)`` draws n samples of a built-in task.
    """
    rng = np.random.default_rng(args.seed)
    sizes = (args.train_size, max(args.test_size // 2, 1), args.test_size)
    return tuple(make(n, seed=rng, dtype=dtype) for n in sizes)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than zero, got {text}")
    return value


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
    lrs = ", ".join(f"{k} {v:g}" for k, v in sorted(d["lr"].items()))
    parser.add_argument("--lr", type=positive_float, default=argparse.SUPPRESS,
                        help=f"learning rate (default: {lrs})")
    parser.add_argument("--clip-norm", type=positive_float, default=1.0,
                        help="clip the global gradient norm to this")
    parser.add_argument("--patience", type=positive_int, default=d["patience"],
                        help="early stopping: epochs without validation improvement; the "
                             "best epoch's weights are kept")
    parser.add_argument("--seed", type=nonnegative_int, default=0,
                        help="seed of data, weights, shuffling")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--output", default=f"minirnn-runs/{task}",
                        help="folder for model.npz, history.csv/json, report.json, loss.png")
    parser.add_argument("--grad-flow", action="store_true",
                        help="save and plot the norm of dL/dh_t per step after training")
    parser.add_argument("--no-plot", action="store_true", help="do not draw figures")
    parser.set_defaults(task_defaults=d)
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with the running loss within epochs (tqdm if "
                             "installed); default: on when the output is a terminal")


