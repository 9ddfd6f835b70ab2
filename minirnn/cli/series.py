"""``minirnn train series`` and ``minirnn predict``: forecasting a column of a CSV file."""

from __future__ import annotations

import argparse
import csv
import time
from typing import Any

import numpy as np

from minirnn.cli._common import (
    UsageError,
    add_common,
    finish,
    fit,
    make_solver,
    many_to_one,
    positive_int,
)
from minirnn.cli.classify import predict_classifier
from minirnn.data import (
    MinMaxScaler,
    fit_linear_ar,
    load_csv_column,
    predict_linear_ar,
    rmse,
    sliding_windows,
    split_sizes,
)
from minirnn.io import ModelFileError, load_metadata, load_model
from minirnn.losses import MSE
from minirnn.model import Sequential

__all__ = ["add_parsers"]

SERIES_DEFAULTS: dict[str, Any] = {
    "cell": "gru", "hidden_size": 32, "epochs": 60, "batch_size": 32, "patience": 10}


def load_series(path: str, column: str, date_column: str | None) -> np.ndarray:
    try:
        return load_csv_column(path, column, date_column=date_column)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise UsageError(f"{path}: {message}") from exc


def train_series(args: argparse.Namespace) -> int:
    values = load_series(args.csv, args.column, args.date_column)
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
    model = many_to_one(args.cell, 1, args.hidden_size, horizon, dtype=dtype, seed=args.seed,
                         num_layers=args.layers, bidirectional=args.bidirectional)
    solver, stopper = make_solver(args, model, MSE(), "MSE", args.lr)
    print(f"series {args.column!r} of {args.csv}: {len(values)} values, first {n_train} for "
          f"training ({len(x_fit)} windows + {n_val} for validation), {len(x_test)} test "
          f"targets; look-back {look_back}, horizon {horizon}; {args.cell.upper()} with "
          f"{args.hidden_size} units", flush=True)
    start = time.perf_counter()
    fit(solver, x_fit, y_fit, (xv, yv))
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
    finish(args, solver, stopper, report, x_test[:256], y_test[:256].astype(dtype),
            f"series {args.cell}", metadata)
    return 0


def predict_series(args: argparse.Namespace) -> int:
    try:
        model = load_model(args.model)
        meta = load_metadata(args.model)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    if not isinstance(model, Sequential):
        raise UsageError(f"{args.model}: expected a Sequential model, got {type(model).__name__}")
    if meta.get("task") == "classify":  # classifiers: labels and probabilities (cli/classify)
        return predict_classifier(args)
    if meta.get("task") != "series":
        raise UsageError(f"{args.model}: predict needs a model trained by 'minirnn train "
                         f"series', this one is for {meta.get('task')!r}")
    look_back, horizon = int(meta["look_back"]), int(meta["horizon"])
    column = args.column or meta.get("column")
    if column is None:
        raise UsageError("--column is required")
    date_column = args.date_column if args.date_column is not None else meta.get("date_column")
    values = load_series(args.csv, column, date_column)
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




def add_parsers(tasks: Any, commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``train series`` and the ``predict`` command."""
    series = tasks.add_parser("series", formatter_class=fmt,
                              help="forecast a column of a CSV file")
    add_common(series, "series", SERIES_DEFAULTS)
    series.add_argument("--csv", required=True, help="the CSV file")
    series.add_argument("--column", required=True, help="the column to forecast")
    series.add_argument("--date-column", default=None, help="sort rows by this column")
    series.add_argument("--look-back", type=positive_int, default=30,
                        help="past values per input window")
    series.add_argument("--horizon", type=positive_int, default=1, help="values to predict")
    series.set_defaults(run=train_series)

    predict = commands.add_parser("predict", formatter_class=fmt,
                                  help="forecast with a model saved by 'train series'")
    predict.add_argument("model", help="model.npz written by 'minirnn train series'")
    predict.add_argument("--csv", "--ts", dest="csv", required=True,
                         help="the CSV file (a classifier also reads .ts)")
    predict.add_argument("--column", default=None, help="column (default: the training one)")
    predict.add_argument("--date-column", default=None, help="sort rows by this column")
    predict.add_argument("--output", default=None, help="CSV of one-step-ahead predictions")
    predict.set_defaults(run=predict_series)
