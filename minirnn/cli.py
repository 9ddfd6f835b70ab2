"""The ``minirnn`` command.

``minirnn train adding|binary-addition|series [options]``, ``minirnn predict MODEL --csv ...``
and ``minirnn gradcheck [module:Class ...]``; ``--help`` on every subcommand. Errors in the
user's input (a bad CSV, a missing column, an impossible window) exit with status 2 and one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.callbacks import Callback, EarlyStopping, ProgressBar
from minirnn.data import (
    ADDING_BASELINE_MSE,
    MinMaxScaler,
    adding_problem,
    bin2int,
    binary_addition,
    fit_linear_ar,
    load_csv_column,
    predict_linear_ar,
    rmse,
    sliding_windows,
    split_sizes,
)
from minirnn.diagnostics import gradient_flow
from minirnn.io import ModelFileError, load_metadata, load_model, save_model
from minirnn.layers import GRU, LSTM, RNN, Dense, LastStep, Recurrent
from minirnn.losses import MSE, BCEWithLogits, Loss
from minirnn.model import Sequential
from minirnn.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from minirnn.solver import History, Solver, TrainingDivergedError

__all__ = ["build_adding_model", "main"]

_CELLS: dict[str, Callable[..., Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_OPTIMIZERS: dict[str, Callable[..., Optimizer]] = {
    "adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop, "adagrad": Adagrad}


class UsageError(Exception):
    """A problem with the user's input: reported as one line, exit status 2."""


# ----------------------------------------------------------------------------- defaults
# Per task: settings that train reliably at the default size (measured figures in README).
_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "adding": {"cell": "lstm", "hidden_size": 64, "epochs": 10, "batch_size": 32,
               "lr": {"lstm": 3e-3, "gru": 3e-3, "rnn": 1e-3}, "patience": 5},
    "binary-addition": {"cell": "rnn", "hidden_size": 16, "epochs": 20, "batch_size": 32,
                        "lr": {"lstm": 1e-2, "gru": 1e-2, "rnn": 1e-2}, "patience": 5},
    "series": {"cell": "gru", "hidden_size": 32, "epochs": 60, "batch_size": 32,
               "lr": {"lstm": 3e-3, "gru": 3e-3, "rnn": 1e-3}, "patience": 10},
}


def build_adding_model(cell: str, hidden_size: int, *, dtype: np.dtype | type = np.float32,
                       seed: int | None = None, num_layers: int = 1,
                       bidirectional: bool = False) -> Sequential:
    """Recurrent layer -> last step -> Dense(H, 1): a many-to-one regressor on 2 inputs."""
    return _many_to_one(cell, 2, hidden_size, 1, dtype=dtype, seed=seed, num_layers=num_layers,
                        bidirectional=bidirectional)


def _many_to_one(cell: str, inputs: int, hidden: int, outputs: int, *, dtype: Any,
                 seed: int | None, num_layers: int, bidirectional: bool) -> Sequential:
    rng = np.random.default_rng(seed)
    recurrent = _CELLS[cell](inputs, hidden, num_layers=num_layers, bidirectional=bidirectional,
                             dtype=dtype, seed=rng)
    return Sequential(recurrent, LastStep(),
                      Dense(recurrent.output_size, outputs, dtype=dtype, seed=rng))


# ------------------------------------------------------------------------------- output
class _EpochLine(Callback):
    """One line per epoch with the task's own names for the metrics."""

    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        text = f"epoch {epoch + 1:3d}/{self.solver.epochs}  train {self.metric} {logs['loss']:.5f}"
        if "val_loss" in logs:
            text += f"  val {self.metric} {logs['val_loss']:.5f}"
        text += f"  grad norm {logs['grad_norm']:.3f}  {logs['time']:.1f}s"
        print(text, flush=True)


def _write_history(folder: Path, history: History) -> None:
    keys = sorted(history.history)
    with open(folder / "history.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["epoch", *keys])
        for i, epoch in enumerate(history.epoch):
            writer.writerow([epoch + 1, *(history.history[k][i] for k in keys)])
    (folder / "history.json").write_text(json.dumps(
        {"epoch": [e + 1 for e in history.epoch], **history.history}, indent=1))


def _plot(folder: Path, history: History, grad_flow: np.ndarray | None, title: str) -> None:
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
def _solver(args: argparse.Namespace, model: Sequential, loss: Loss, metric: str,
            lr: float) -> tuple[Solver, EarlyStopping]:
    stopper = EarlyStopping(patience=args.patience, restore_best_weights=True)
    callbacks: list[Callback] = [_EpochLine(metric), stopper]
    if args.progress or (args.progress is None and sys.stdout.isatty()):
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    optimizer = _OPTIMIZERS[args.optimizer](model, lr=lr)
    solver = Solver(model, loss=loss, optimizer=optimizer, batch_size=args.batch_size,
                    epochs=args.epochs, seed=args.seed, clip_norm=args.clip_norm,
                    callbacks=callbacks)
    return solver, stopper


def _fit(solver: Solver, x: np.ndarray, y: np.ndarray,
         val: tuple[np.ndarray, np.ndarray]) -> History:
    try:
        return solver.fit(x, y, validation_data=val)
    except TrainingDivergedError as exc:
        raise UsageError(f"training diverged: {exc}") from exc


def _finish(args: argparse.Namespace, solver: Solver, stopper: EarlyStopping,
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
    _write_history(folder, solver.history)
    flow = None
    if args.grad_flow:
        loss = solver.loss
        flow = gradient_flow(solver.model, x_probe, y_probe, loss)
        np.savetxt(folder / "grad_flow.csv", flow, header="norm of dL/dh_t, t = 0..T-1")
        ends = f"t=1: {flow[0]:.3g}, t={len(flow)}: {flow[-1]:.3g}"
        print(f"gradient flow (mean ||dL/dh_t||): {ends}; saved grad_flow.csv", flush=True)
    (folder / "report.json").write_text(json.dumps(report, indent=1))
    if not args.no_plot:
        _plot(folder, solver.history, flow, title)
    print(f"saved {folder / 'model.npz'}, history.csv, history.json, report.json", flush=True)


def _task_splits(make: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: np.dtype,
                 args: argparse.Namespace) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Training, validation (half the test size) and test sets from one seeded generator.

    ``make(n, seed=rng, dtype=dtype)`` draws n samples of a built-in task.
    """
    rng = np.random.default_rng(args.seed)
    sizes = (args.train_size, max(args.test_size // 2, 1), args.test_size)
    return tuple(make(n, seed=rng, dtype=dtype) for n in sizes)


def _train_adding(args: argparse.Namespace) -> int:
    if args.seq_len < 2:
        raise UsageError("--seq-len must be at least 2 (two marked positions)")
    dtype = np.dtype(args.dtype)
    (x, y), (xv, yv), (xt, yt) = _task_splits(
        lambda n, **kw: adding_problem(n, args.seq_len, **kw), dtype, args)
    model = build_adding_model(args.cell, args.hidden_size, dtype=dtype, seed=args.seed,
                               num_layers=args.layers, bidirectional=args.bidirectional)
    solver, stopper = _solver(args, model, MSE(), "MSE", args.lr)
    print(f"adding problem: T={args.seq_len}, {args.train_size} training sequences; "
          f"{args.cell.upper()} with {args.hidden_size} units, {args.optimizer} lr "
          f"{args.lr:g}, batch {args.batch_size}, {args.dtype}", flush=True)
    start = time.perf_counter()
    _fit(solver, x, y, (xv, yv))
    test_mse = solver.evaluate(xt, yt)
    always_one = float(np.mean((yt.astype(np.float64) - 1.0) ** 2))
    verdict = "beats" if test_mse < ADDING_BASELINE_MSE else "does not beat"
    print(f"test MSE {test_mse:.5f}  vs baseline {ADDING_BASELINE_MSE} "
          f"(always predicting 1 gives {always_one:.4f} on this test set): {verdict} the "
          f"baseline  [{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "adding", "test_mse": test_mse, "baseline_mse": ADDING_BASELINE_MSE,
              "always_one_mse": always_one, "seconds": time.perf_counter() - start}
    _finish(args, solver, stopper, report, xt[:256], yt[:256], f"adding {args.cell}",
            {"task": "adding", "seq_len": args.seq_len})
    return 0


def _train_binary_addition(args: argparse.Namespace) -> int:
    if args.bidirectional:
        raise UsageError("--bidirectional does not apply to binary addition: the carry flows "
                         "from the least significant bit on, a causal model must learn it")
    dtype = np.dtype(args.dtype)
    (x, y), (xv, yv), (xt, yt) = _task_splits(
        lambda n, **kw: binary_addition(n, args.bits, **kw), dtype, args)
    recurrent = _CELLS[args.cell](2, args.hidden_size, num_layers=args.layers, dtype=dtype,
                                  seed=np.random.default_rng(args.seed))
    model = Sequential(recurrent, Dense(recurrent.output_size, 1, dtype=dtype,
                                        seed=args.seed))
    solver, stopper = _solver(args, model, BCEWithLogits(), "BCE", args.lr)
    print(f"binary addition: {args.bits}-bit operands (least significant bit first), "
          f"{args.train_size} training pairs; {args.cell.upper()} with {args.hidden_size} "
          f"units, {args.optimizer} lr {args.lr:g}", flush=True)
    start = time.perf_counter()
    _fit(solver, x, y, (xv, yv))
    bits = (solver.predict(xt) > 0).astype(np.int64)[..., 0]
    predicted, actual = bin2int(bits), bin2int(yt[..., 0])
    exact = float(np.mean(predicted == actual))
    bit_acc = float(np.mean(bits == yt[..., 0]))
    print(f"exactly right sums on {args.test_size} held-out pairs: {exact:.1%}  "
          f"(bit accuracy {bit_acc:.1%}; guessing bits gives {0.5 ** args.bits:.2%} exact)  "
          f"[{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "binary-addition", "exact_sums": exact, "bit_accuracy": bit_acc,
              "test_pairs": args.test_size, "seconds": time.perf_counter() - start}
    _finish(args, solver, stopper, report, xt[:256], yt[:256], f"binary addition {args.cell}",
            {"task": "binary-addition", "bits": args.bits})
    return 0


def _load_series(path: str, column: str, date_column: str | None) -> np.ndarray:
    try:
        return load_csv_column(path, column, date_column=date_column)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise UsageError(f"{path}: {message}") from exc


def _train_series(args: argparse.Namespace) -> int:
    values = _load_series(args.csv, args.column, args.date_column)
    look_back, horizon = args.look_back, args.horizon
    n_train, _ = split_sizes(len(values), (0.67, 0.33))
    need = look_back + horizon
    if n_train < need + 2 or len(values) - n_train < horizon:
        raise UsageError(f"series of {len(values)} values is too short for --look-back "
                         f"{look_back} and --horizon {horizon} (the first 67% for training "
                         f"must hold more than {need + 1} values)")
    dtype = np.dtype(args.dtype)
    scaler = MinMaxScaler().fit(values[:n_train])
    scaled = scaler.transform(values)
    # Windows over the whole series; a window belongs to the split its first target falls in,
    # so test windows may read history from the training part (every test value is a target).
    x_all, y_all = sliding_windows(scaled, look_back, horizon)
    first_target = np.arange(len(x_all)) + look_back
    train = first_target + horizon <= n_train
    test = first_target >= n_train
    x_train, y_train = x_all[train].astype(dtype), y_all[train].astype(dtype)
    n_val = max(1, len(x_train) // 10)  # the last 10% of training windows, for early stopping
    xv, yv = x_train[-n_val:], y_train[-n_val:]
    x_fit, y_fit = x_train[:-n_val], y_train[:-n_val]
    x_test, y_test = x_all[test].astype(dtype), y_all[test]
    model = _many_to_one(args.cell, 1, args.hidden_size, horizon, dtype=dtype, seed=args.seed,
                         num_layers=args.layers, bidirectional=args.bidirectional)
    solver, stopper = _solver(args, model, MSE(), "MSE", args.lr)
    print(f"series {args.column!r} of {args.csv}: {len(values)} values, first {n_train} for "
          f"training ({len(x_fit)} windows + {n_val} for validation), {len(x_test)} test "
          f"targets; look-back {look_back}, horizon {horizon}; {args.cell.upper()} with "
          f"{args.hidden_size} units", flush=True)
    start = time.perf_counter()
    _fit(solver, x_fit, y_fit, (xv, yv))
    truth = scaler.inverse_transform(y_test)
    pred = scaler.inverse_transform(solver.predict(x_test).astype(np.float64))
    model_rmse = rmse(pred, truth)
    persistence = scaler.inverse_transform(np.repeat(x_test[:, -1, :1].astype(np.float64),
                                                     horizon, axis=1))
    persistence_rmse = rmse(persistence, truth)
    ar = fit_linear_ar(x_all[train].astype(np.float64), y_all[train])
    ar_rmse = rmse(scaler.inverse_transform(predict_linear_ar(ar, x_test.astype(np.float64))),
                   truth)
    print(f"test RMSE {model_rmse:.3f}  vs persistence {persistence_rmse:.3f} and linear "
          f"AR({look_back}) {ar_rmse:.3f}  (original units)  [{time.perf_counter() - start:.0f}s]",
          flush=True)
    report = {"task": "series", "test_rmse": model_rmse, "persistence_rmse": persistence_rmse,
              "linear_ar_rmse": ar_rmse, "look_back": look_back, "horizon": horizon,
              "test_targets": len(x_test), "seconds": time.perf_counter() - start}
    scaler_state = {k: np.asarray(v).tolist() for k, v in scaler.state_dict().items()}
    metadata = {"task": "series", "look_back": look_back, "horizon": horizon,
                "column": args.column, "date_column": args.date_column,
                "scaler": scaler_state}
    _finish(args, solver, stopper, report, x_test[:256], y_test[:256].astype(dtype),
            f"series {args.cell}", metadata)
    return 0


# ----------------------------------------------------------------------------- predict
def _predict(args: argparse.Namespace) -> int:
    try:
        model = load_model(args.model)
        meta = load_metadata(args.model)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    if not isinstance(model, Sequential):
        raise UsageError(f"{args.model}: expected a Sequential model, got {type(model).__name__}")
    if meta.get("task") != "series":
        raise UsageError(f"{args.model}: predict needs a model trained by 'minirnn train "
                         f"series', this one is for {meta.get('task')!r}")
    look_back, horizon = int(meta["look_back"]), int(meta["horizon"])
    column = args.column or meta.get("column")
    if column is None:
        raise UsageError("--column is required")
    date_column = args.date_column if args.date_column is not None else meta.get("date_column")
    values = _load_series(args.csv, column, date_column)
    if len(values) < look_back:
        raise UsageError(f"series of {len(values)} values is shorter than the model's "
                         f"look-back {look_back}")
    scaler = MinMaxScaler()
    scaler.load_state_dict({k: np.asarray(v) for k, v in meta["scaler"].items()})
    scaled = scaler.transform(values).astype(model.dtype)
    last = scaled[-look_back:].reshape(1, look_back, 1)
    forecast = scaler.inverse_transform(np.asarray(model.predict(last), np.float64))[0]
    print(f"next {horizon} value(s) after the last of {len(values)}: "
          + ", ".join(f"{v:.4g}" for v in forecast), flush=True)
    if len(values) > look_back:
        x, y = sliding_windows(scaled, look_back, horizon)
        pred = scaler.inverse_transform(np.asarray(model.predict(x), np.float64))
        truth = scaler.inverse_transform(y.astype(np.float64))
        print(f"one-step-ahead RMSE over the {len(x)} windows of this file: "
              f"{rmse(pred, truth):.4g}", flush=True)
        if args.output:
            with open(args.output, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["index", "actual", "predicted"])
                for i in range(len(pred)):
                    writer.writerow([i + look_back, truth[i, 0], pred[i, 0]])
            print(f"saved {args.output}", flush=True)
    return 0


# --------------------------------------------------------------------------- gradcheck
def _gradcheck(args: argparse.Namespace) -> int:
    from minirnn.gradcheck import builtin_gradcheck_targets, gradcheck_target

    targets: list[tuple[str, Any]] = []
    if args.targets:
        for spec in args.targets:
            module_name, _, attr = spec.partition(":")
            if not attr:
                raise UsageError(f"{spec!r}: expected module:Class (e.g. mycells:MyCell)")
            sys.path.insert(0, str(Path.cwd()))
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise UsageError(f"cannot import {spec}: {exc}") from exc
            targets.append((spec, obj))
    else:
        targets = builtin_gradcheck_targets()
    print(f"{'class':<58} {'max rel err':>12}  result", flush=True)
    failed = 0
    for name, obj in targets:
        try:
            reports = gradcheck_target(obj, seed=args.seed, tolerance=args.tolerance)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{name}: {exc}") from exc
        for label, report in reports:
            ok = report.passed
            failed += not ok
            print(f"{name + label:<58} {report.max_relative_error:12.2e}  "
                  f"{'ok' if ok else 'FAIL'}", flush=True)
            if not ok:
                print(str(report), flush=True)
    print(f"{'all passed' if not failed else f'{failed} failed'} "
          f"(tolerance {args.tolerance:g}, float64)", flush=True)
    return 1 if failed else 0


# ------------------------------------------------------------------------------ parser
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than zero, got {text}")
    return value


def _add_common(parser: argparse.ArgumentParser, task: str) -> None:
    d = _TASK_DEFAULTS[task]
    parser.add_argument("--cell", choices=sorted(_CELLS), default=d["cell"], help="recurrent cell")
    parser.add_argument("--layers", type=_positive_int, default=1, help="stacked layers")
    parser.add_argument("--hidden-size", type=_positive_int, default=d["hidden_size"],
                        help="units H")
    parser.add_argument("--bidirectional", action="store_true",
                        help="also read the sequence backwards")
    parser.add_argument("--epochs", type=_positive_int, default=d["epochs"],
                        help="maximum epochs")
    parser.add_argument("--batch-size", type=_positive_int, default=d["batch_size"],
                        help="mini-batch size")
    parser.add_argument("--optimizer", choices=sorted(_OPTIMIZERS), default="adam")
    lrs = ", ".join(f"{k} {v:g}" for k, v in sorted(d["lr"].items()))
    parser.add_argument("--lr", type=_positive_float, default=argparse.SUPPRESS,
                        help=f"learning rate (default: {lrs})")
    parser.add_argument("--clip-norm", type=_positive_float, default=1.0,
                        help="clip the global gradient norm to this")
    parser.add_argument("--patience", type=_positive_int, default=d["patience"],
                        help="early stopping: epochs without validation improvement; the "
                             "best epoch's weights are kept")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, weights, shuffling")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--output", default=f"minirnn-runs/{task}",
                        help="folder for model.npz, history.csv/json, report.json, loss.png")
    parser.add_argument("--grad-flow", action="store_true",
                        help="save and plot the norm of dL/dh_t per step after training")
    parser.add_argument("--no-plot", action="store_true", help="do not draw figures")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar with the running loss within epochs (tqdm if "
                             "installed); default: on when the output is a terminal")


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = argparse.ArgumentParser(prog="minirnn", description="minirnn: recurrent networks "
                                     "in numpy with checked gradients.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a built-in task",
                                formatter_class=fmt)
    tasks = train.add_subparsers(dest="task", required=True)
    adding = tasks.add_parser("adding", formatter_class=fmt,
                              help="the adding problem (Le, Jaitly & Hinton 2015)")
    _add_common(adding, "adding")
    adding.add_argument("--seq-len", type=_positive_int, default=50, help="sequence length T")
    adding.add_argument("--train-size", type=_positive_int, default=10000,
                        help="training sequences (validation and test sets are drawn apart)")
    adding.add_argument("--test-size", type=_positive_int, default=2000, help="test sequences")
    binary = tasks.add_parser("binary-addition", formatter_class=fmt,
                              help="add two integers bit by bit (R rnn's trainr example)")
    _add_common(binary, "binary-addition")
    binary.add_argument("--bits", type=_positive_int, default=8, help="bits per number")
    binary.add_argument("--train-size", type=_positive_int, default=2000,
                        help="training pairs")
    binary.add_argument("--test-size", type=_positive_int, default=1000,
                        help="held-out test pairs")
    series = tasks.add_parser("series", formatter_class=fmt,
                              help="forecast a column of a CSV file")
    _add_common(series, "series")
    series.add_argument("--csv", required=True, help="the CSV file")
    series.add_argument("--column", required=True, help="the column to forecast")
    series.add_argument("--date-column", default=None, help="sort rows by this column")
    series.add_argument("--look-back", type=_positive_int, default=30,
                        help="past values per input window")
    series.add_argument("--horizon", type=_positive_int, default=1, help="values to predict")

    predict = commands.add_parser("predict", formatter_class=fmt,
                                  help="forecast with a model saved by 'train series'")
    predict.add_argument("model", help="model.npz written by 'minirnn train series'")
    predict.add_argument("--csv", required=True, help="the CSV file")
    predict.add_argument("--column", default=None, help="column (default: the training one)")
    predict.add_argument("--date-column", default=None, help="sort rows by this column")
    predict.add_argument("--output", default=None, help="CSV of one-step-ahead predictions")

    check = commands.add_parser("gradcheck", formatter_class=fmt,
                                help="gradient-check built-in cells and layers or your own")
    check.add_argument("targets", nargs="*", metavar="module:Class",
                       help="your Cell/Layer class (or a function returning an instance); "
                            "default: every built-in class")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--tolerance", type=_positive_float, default=1e-7)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minirnn`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            defaults = _TASK_DEFAULTS[args.task]
            if not hasattr(args, "lr"):
                args.lr = defaults["lr"][args.cell]
            run = {"adding": _train_adding, "binary-addition": _train_binary_addition,
                   "series": _train_series}[args.task]
            return run(args)
        if args.command == "predict":
            return _predict(args)
        return _gradcheck(args)
    except UsageError as exc:
        print(f"minirnn: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
