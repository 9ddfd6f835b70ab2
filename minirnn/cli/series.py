"""``minirnn train series``, ``minirnn predict`` and ``minirnn forecast``: forecasting a CSV column.

A thin layer over :class:`minirnn.apps.forecasting.Forecaster`: argument checks, reading the CSV
(every problem reported before training), printing, and the run directory's files.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

from minirnn.apps.forecasting import Forecaster, SeriesTable, format_dates, load_table
from minirnn.apps.forecasting.forecaster import Evaluation, Forecast
from minirnn.cli._common import (
    EpochLine,
    UsageError,
    add_common,
    finish,
    parse_number,
    positive_int,
    refuse_options,
    run_config,
    time_limit,
    write_json,
)
from minirnn.cli.classify import predict_classifier
from minirnn.nn.io import ModelFileError
from minirnn.train.callbacks import Callback, EarlyStopping, ProgressBar
from minirnn.train.solver import TrainingDivergedError

__all__ = ["add_parsers"]

SERIES_DEFAULTS: dict[str, Any] = {
    "cell": "gru", "hidden_size": 32, "epochs": 60, "batch_size": 32, "patience": 10}


def _table(path: str, column: str, features: list[str], date_column: str | None) -> SeriesTable:
    try:
        return load_table(path, column, features=features, date_column=date_column)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc


def _auto_int(text: str) -> int | str:
    if text == "auto":
        return text
    return int(parse_number(text, int, lambda v: v >= 0, "'auto' or >= 0",
                            expected="'auto' or an integer"))


def _fraction(text: str) -> float:
    return float(parse_number(text, float, lambda v: 0 < v < 1, "between 0 and 1"))


def _date_arg(text: str) -> str | None:
    return None if text.lower() == "none" else text


def _span(table: SeriesTable, lo: int, hi: int) -> str:
    if table.dates is None:
        return f"rows {lo + 1}..{hi}"
    d = format_dates(table.dates[[lo, hi - 1]])
    return f"{d[0]} .. {d[1]}"


def _print_evaluation(ev: Evaluation, fc: Forecaster, seconds: float) -> dict[str, Any]:
    m = ev.metrics
    ar_name = f"linear AR({fc.baseline_order_})"
    # This first line's format is parsed by other tools: keep it exactly.
    print(f"test RMSE {m['model']['rmse']:.3f}  vs persistence {m['persistence']['rmse']:.3f} "
          f"and linear AR({fc.baseline_order_}) {m[ar_name]['rmse']:.3f}  (original units)  "
          f"[{seconds:.0f}s]", flush=True)
    names = [k for k in m if k != "model"]
    for metric in ("rmse", "mae", "mase"):
        label = metric.upper()
        others = ", ".join(f"{k} {m[k][metric]:.3f}" for k in names)
        print(f"test {label:4s} model {m['model'][metric]:.3f}  |  {others}", flush=True)
    if "seasonal naive" in m:
        print(f"seasonal naive (season {fc.season_}): test RMSE "
              f"{m['seasonal naive']['rmse']:.3f}, MAE {m['seasonal naive']['mae']:.3f}",
              flush=True)
    if fc.horizon > 1:
        steps = ", ".join(f"{i + 1}: {v:.3f}" for i, v in
                          enumerate(m["model"]["rmse_per_step"]))
        print(f"test RMSE per step ahead: {steps}", flush=True)
    print(f"forecast by: {fc.method_}", flush=True)
    verdict = _verdict(ev)
    print(f"verdict: {verdict}", flush=True)
    return {"verdict": verdict}


def _verdict(ev: Evaluation) -> str:
    m = ev.metrics
    best = ev.best
    model = m["model"]["rmse"]
    tied = [k for k in m if k != "model" and abs(model - m[k]["rmse"]) <= 1e-9 * max(model, 1)]
    beaten = [k for k in m if k != "model" and model < m[k]["rmse"] and k not in tied]
    losing = [k for k in m if k != "model" and model > m[k]["rmse"] and k not in tied]
    if tied and not losing:
        return (f"the model ties with {', '.join(tied)} (RMSE {model:.3f}: the same forecasts) "
                f"and beats " + (", ".join(beaten) or "nothing else"))
    if best == "model":
        return (f"the model is best on the test span (RMSE {model:.3f}); it beats "
                + ", ".join(beaten))
    text = (f"{best} is best on the test span (RMSE {m[best]['rmse']:.3f}); the model "
            f"(RMSE {model:.3f}) loses to " + ", ".join(losing))
    return text + (f" and beats {', '.join(beaten)}" if beaten else "")


def _write_predictions(path: Path, table: SeriesTable, ev: Evaluation, horizon: int) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        names = list(ev.baselines)
        writer.writerow(["origin", "date", "step", "actual", "model", *names])
        dates = None if table.dates is None else format_dates(table.dates)
        for i, t in enumerate(ev.origins):
            for k in range(horizon):
                target = int(t) + k + 1
                writer.writerow([int(t), "" if dates is None else dates[target], k + 1,
                                 ev.truth[i, k], ev.prediction[i, k],
                                 *(ev.baselines[b][i, k] for b in names)])


def _write_forecast(path: Path, fcst: Forecast) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "date", "forecast", "lower_80", "upper_80", "lower_95",
                         "upper_95"])
        dates = None if fcst.dates is None else format_dates(fcst.dates)
        for k in range(len(fcst.mean)):
            writer.writerow([k + 1, "" if dates is None else dates[k], fcst.mean[k],
                             fcst.lower[80][k], fcst.upper[80][k], fcst.lower[95][k],
                             fcst.upper[95][k]])


def _figure(path: Path, table: SeriesTable, fc: Forecaster, ev: Evaluation | None,
            fcst: Forecast, title: str) -> None:
    try:
        from minirnn.apps.forecasting.plot import plot_forecast
    except ImportError:
        print("matplotlib is not installed: skipping the figure (pip install 'minirnn[plot]')",
              flush=True)
        return
    try:
        plot_forecast(
            path, fc.y_, n_train=fc.n_train_, dates=fc.dates_,
            test_index=None if ev is None else ev.origins + 1,
            test_prediction=None if ev is None else ev.prediction[:, 0],
            baselines=None if ev is None else {k: v[:, 0] for k, v in ev.baselines.items()},
            future_dates=fcst.dates, future=fcst.mean, lower=fcst.lower, upper=fcst.upper,
            title=title, ylabel=table.column)
    except ImportError:
        print("matplotlib is not installed: skipping the figure (pip install 'minirnn[plot]')",
              flush=True)
        return
    print(f"figure: {path}", flush=True)


def _resolve_dataset(args: argparse.Namespace) -> None:
    """``--dataset NAME`` fills ``--csv`` (and ``--column`` unless given) from the shipped data."""
    from minirnn.apps import datasets

    if getattr(args, "dataset", None):
        if args.csv:
            raise UsageError("give --csv or --dataset, not both")
        args.csv = str(datasets.path(args.dataset))
        args.column = args.column or datasets.column(args.dataset)
    elif not args.csv:
        raise UsageError("--csv FILE (or --dataset NAME, one of the shipped series) is required")
    if not getattr(args, "column", None) and hasattr(args, "features"):
        raise UsageError("--column is required with --csv")


def _lr(args: argparse.Namespace) -> float | None:
    """--lr when given; else the Forecaster's own default (3e-3, tuned for residual models)
    rather than the optimizer's, which the common options fill in."""
    given = any(a == "--lr" or a.startswith("--lr=") for a in getattr(args, "argv", []) or [])
    if given or getattr(args, "optimizer", "adam") != "adam":
        return float(args.lr) if args.lr is not None else None
    return float(Forecaster().lr or 3e-3)


def _callbacks(args: argparse.Namespace) -> list[Callback]:
    """Epoch lines (unless --quiet), a progress bar when asked, --time-limit."""
    quiet = getattr(args, "quiet", False)
    out: list[Callback] = []
    if not quiet and (args.progress or (args.progress is None and sys.stdout.isatty())):
        out.append(ProgressBar(every_batches=100, epoch_summary=False))
    if not quiet:
        out.append(EpochLine("MSE"))
    return out + time_limit(args)


def train_series(args: argparse.Namespace) -> int:
    refuse_options(args, "train series", "--grad-flow", "--init-from", "--resume")
    _resolve_dataset(args)
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features \
        else []
    table = _table(args.csv, args.column, features, args.date_column)
    total = len(table.values)
    n_train = round(total * (1 - args.test_size))
    if n_train >= total or total - n_train < args.horizon:
        raise UsageError(f"series of {total} values is too short for a test span of "
                         f"{args.test_size:.0%} with --horizon {args.horizon}")
    if isinstance(args.look_back, int) and args.look_back == 0:
        raise UsageError("--look-back must be 'auto' or a positive integer")
    fc = Forecaster(
        horizon=args.horizon, look_back=args.look_back, transform=args.transform,
        season=args.season, cell=args.cell, hidden_size=args.hidden_size,
        num_layers=args.layers, bidirectional=args.bidirectional, epochs=args.epochs,
        batch_size=args.batch_size, lr=_lr(args), patience=args.patience,
        clip_norm=args.clip_norm, optimizer=args.optimizer, val_fraction=args.val_size,
        network=args.network, seed=args.seed, dtype=args.dtype,
        callbacks=_callbacks(args))
    if isinstance(args.season, int) and args.season == 1:
        raise UsageError("--season must be 'auto', 0 (none) or at least 2")
    start = time.perf_counter()
    print(f"series {table.column!r} of {args.csv}: {total} values, first {n_train} for "
          f"training ({_span(table, 0, n_train)}), {total - n_train} for testing "
          f"({_span(table, n_train, total)})"
          + (f"; features {', '.join(features)}" if features else ""), flush=True)
    try:
        fc.fit(table.values, table.features, dates=table.dates, train_size=n_train)
    except TrainingDivergedError as exc:
        raise UsageError(f"training diverged: {exc}") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"chosen on the validation span (the last {args.val_size:.0%} of training): "
          f"season {fc.season_ or 'none'}"
          f"{' (detected)' if args.season == 'auto' and fc.season_ else ''}, look-back "
          f"{fc.look_back_}, {fc.method_}", flush=True)
    ev = fc.evaluate()
    seconds = time.perf_counter() - start
    extra = _print_evaluation(ev, fc, seconds)
    m = ev.metrics
    ar_name = f"linear AR({fc.baseline_order_})"
    report: dict[str, Any] = {
        "task": "series", "test_rmse": m["model"]["rmse"],
        "persistence_rmse": m["persistence"]["rmse"], "linear_ar_rmse": m[ar_name]["rmse"],
        "linear_ar_order": fc.baseline_order_,
        "seasonal_naive_rmse": m.get("seasonal naive", {}).get("rmse"),
        "drift_rmse": m["drift"]["rmse"], "test_mae": m["model"]["mae"],
        "test_mase": m["model"]["mase"], "metrics": m, "best_on_test": ev.best,
        "method": fc.method_, **extra, "season": fc.season_, "look_back": fc.look_back_,
        "horizon": fc.horizon, "transform": fc.transform_.name, "ar_order": fc.members_[0].order,
        "network_weight": fc.alpha_, "validation_rmse": fc.validation_,
        "forecaster": fc.get_config(),
        "train_size": n_train, "test_targets": len(ev.origins),
        "column": table.column, "features": features, "csv": args.csv,
        "seconds": time.perf_counter() - start}
    folder = Path(args.output)
    metadata = {"task": "series", "forecaster": fc.state_dict(), "look_back": fc.look_back_,
                "horizon": fc.horizon, "column": table.column, "features": features,
                "date_column": table.date_column}
    if fc.solver_ is not None and fc.model_ is not None and fc.probe_ is not None:
        stopper = fc.stopper_ if fc.stopper_ is not None else EarlyStopping()
        x_probe, y_probe = fc.probe_
        finish(args, fc.solver_, stopper, report, x_probe, y_probe, f"series {args.cell}",
               metadata)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        fc.save(folder / "model.npz", extra={k: v for k, v in metadata.items()
                                             if k not in ("task", "forecaster")})
        write_json(folder / "report.json", {**report, "status": "finished",
                                            "config": run_config(args)})
        print(f"saved {folder / 'model.npz'}, report.json", flush=True)
    _write_predictions(folder / "predictions.csv", table, ev, fc.horizon)
    # Past the end: a season (or 12 steps) ahead, recursively beyond H; H with inputs.
    steps = fc.horizon if features else max(fc.horizon, fc.season_ if 0 < fc.season_ <= 60
                                            else 12)
    fcst = fc.forecast(steps)
    _write_forecast(folder / "forecast.csv", fcst)
    print(f"saved {folder / 'predictions.csv'} (test forecasts and baselines), "
          f"forecast.csv (the next {len(fcst.mean)} step(s) with 80%/95% intervals)", flush=True)
    if not args.no_plot:
        _figure(folder / "forecast.png", table, fc, ev, fcst,
                f"{table.column}: test RMSE {m['model']['rmse']:.4g} (persistence "
                f"{m['persistence']['rmse']:.4g}, {ar_name} {m[ar_name]['rmse']:.4g}); best: "
                f"{ev.best}")
    return 0


def _load_forecaster(path_text: str) -> tuple[Forecaster, dict[str, Any], Path]:
    path = Path(path_text)
    if path.is_dir():
        path = path / "model.npz"
    if not path.exists():
        raise UsageError(f"{path_text}: no such run directory or model file")
    try:
        from minirnn.nn.io import load_metadata
        meta = load_metadata(path)
        fc = Forecaster.load(path)
    except (ModelFileError, ValueError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    return fc, meta, path


def _new_data(args: argparse.Namespace, fc: Forecaster,
              meta: dict[str, Any]) -> SeriesTable:
    if getattr(args, "dataset", None):
        _resolve_dataset(args)
    column = args.column or meta.get("column")
    if column is None:
        raise UsageError("--column is required")
    features = list(meta.get("features") or [])
    trained = meta.get("date_column")  # may be "" (an unnamed first column)
    date_column = args.date_column if args.date_column is not None else (
        "auto" if trained is None else trained)
    table = _table(args.csv, column, features, date_column)
    if len(table.values) <= fc.t_min_:
        raise UsageError(f"{args.csv}: {len(table.values)} values; the model needs more than "
                         f"{fc.t_min_} (its look-back {fc.look_back_} plus differencing)")
    return table


def predict_series(args: argparse.Namespace) -> int:
    if not args.csv and not args.dataset:
        raise UsageError("--csv FILE (or --dataset NAME) is required")
    model_path = Path(args.model)
    if model_path.is_dir():
        model_path = args.model = model_path / "model.npz"
    if model_path.is_file():
        try:
            from minirnn.nn.io import load_metadata
            task = load_metadata(model_path).get("task")
        except (ModelFileError, OSError) as exc:
            raise UsageError(str(exc)) from exc
        if task == "classify":  # classifiers: labels and probabilities (cli/classify)
            return predict_classifier(args)
    fc, meta, _ = _load_forecaster(args.model)
    table = _new_data(args, fc, meta)
    try:
        fcst = fc.forecast(fc.horizon, table.values, table.features, table.dates)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    print(f"next {fc.horizon} value(s) after the last of {len(table.values)}: "
          + ", ".join(f"{v:.4g}" for v in fcst.mean), flush=True)
    if len(table.values) > fc.t_min_ + fc.horizon:
        try:
            ev = fc.evaluate(table.values, table.features, start=fc.t_min_ + 1)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
        m = ev.metrics
        print(f"{fc.horizon}-step direct forecasts over the {len(ev.origins)} origins of this "
              f"file: RMSE {m['model']['rmse']:.4g} vs persistence "
              f"{m['persistence']['rmse']:.4g}", flush=True)
        if args.output:
            with open(args.output, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["index", "actual", "predicted"])
                for i, t in enumerate(ev.origins):
                    writer.writerow([int(t) + 1, ev.truth[i, 0], ev.prediction[i, 0]])
            print(f"saved {args.output}", flush=True)
    return 0


def forecast_series(args: argparse.Namespace) -> int:
    fc, meta, path = _load_forecaster(args.run_dir)
    output = Path(args.output) if args.output else path.parent / "forecast.csv"
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: folder {output.parent} does not exist")
    table: SeriesTable | None = None
    try:
        if args.csv or args.dataset:
            table = _new_data(args, fc, meta)
            fcst = fc.forecast(args.steps, table.values, table.features, table.dates)
        else:
            fcst = fc.forecast(args.steps)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    _write_forecast(output, fcst)
    dates = None if fcst.dates is None else format_dates(fcst.dates)
    for k in range(len(fcst.mean)):
        when = dates[k] if dates is not None else f"step {k + 1}"
        print(f"{when}: {fcst.mean[k]:.4g}  80% [{fcst.lower[80][k]:.4g}, "
              f"{fcst.upper[80][k]:.4g}]  95% [{fcst.lower[95][k]:.4g}, "
              f"{fcst.upper[95][k]:.4g}]", flush=True)
    print(f"saved {output}", flush=True)
    if not args.no_plot:
        if table is not None:
            fc.y_, fc.dates_, fc.n_train_ = table.values, table.dates, len(table.values)
        column = str(meta.get("column", "value"))
        figure_table = SeriesTable(fc.y_, None, fc.dates_, column)
        _figure(output.with_suffix(".png"), figure_table, fc, None, fcst,
                f"{column}: {len(fcst.mean)}-step forecast")
    return 0


def _dataset_names() -> list[str]:
    from minirnn.apps import datasets

    return datasets.names()


def add_parsers(tasks: Any, commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``train series``, ``predict`` and ``forecast``."""
    series = tasks.add_parser("series", formatter_class=fmt,
                              help="forecast a column of a CSV file")
    add_common(series, "series", SERIES_DEFAULTS)
    series.add_argument("--csv", default=None, help="the CSV file")
    series.add_argument("--dataset", choices=_dataset_names(), default=None,
                        help="a series shipped with minirnn instead of --csv")
    series.add_argument("--column", default=None,
                        help="the column to forecast (required with --csv)")
    series.add_argument("--date-column", type=_date_arg, default="auto",
                        help="column of ISO dates (must be increasing); 'auto': the first "
                             "column if it looks like dates; 'none': no dates")
    series.add_argument("--features", default="",
                        help="comma-separated extra columns used as inputs")
    series.add_argument("--look-back", type=_auto_int, default="auto",
                        help="past values the network reads ('auto': season + 1, at least "
                             "12, for seasons up to 29, else 24; shorter for short series)")
    series.add_argument("--horizon", type=positive_int, default=1,
                        help="steps predicted from each origin (direct multi-output)")
    series.add_argument("--transform", choices=["auto", "none", "diff", "log", "logdiff"],
                        default="auto", help="target transform ('auto': chosen on validation)")
    series.add_argument("--season", type=_auto_int, default="auto",
                        help="seasonal period ('auto': from the training autocorrelation; "
                             "0: none)")
    series.add_argument("--test-size", type=_fraction, default=0.33,
                        help="share of the series (at its end) held out for testing")
    series.add_argument("--val-size", type=_fraction, default=0.2,
                        help="share of the training span (at its end) used for validation")
    series.add_argument("--network", action=argparse.BooleanOptionalAction, default=True,
                        help="train the recurrent network on the linear model's residuals")
    series.set_defaults(run=train_series)

    predict = commands.add_parser("predict", formatter_class=fmt,
                                  help="forecast with a model saved by 'train series'")
    predict.add_argument("model", help="model.npz (or its run directory) from 'train series' "
                         "or 'train classify'")
    predict.add_argument("--csv", "--ts", dest="csv", default=None,
                         help="the CSV file (a classifier also reads .ts)")
    predict.add_argument("--dataset", choices=_dataset_names(), default=None,
                         help="a series shipped with minirnn instead of --csv")
    predict.add_argument("--column", default=None, help="column (default: the training one)")
    predict.add_argument("--date-column", type=_date_arg, default=None,
                         help="date column (default: the training one)")
    predict.add_argument("--output", default=None, help="CSV of step-1 predictions")
    predict.set_defaults(run=predict_series)

    forecast = commands.add_parser("forecast", formatter_class=fmt,
                                   help="forecast past the end of the data, with intervals")
    forecast.add_argument("run_dir", help="run directory (or its model.npz) of 'train series'")
    forecast.add_argument("--steps", type=positive_int, required=True,
                          help="steps to forecast past the last value")
    forecast.add_argument("--csv", default=None,
                          help="newer data to forecast from (default: the training file's)")
    forecast.add_argument("--dataset", choices=_dataset_names(), default=None,
                          help="a series shipped with minirnn instead of --csv")
    forecast.add_argument("--column", default=None, help="column (default: the training one)")
    forecast.add_argument("--date-column", type=_date_arg, default=None,
                          help="date column (default: the training one)")
    forecast.add_argument("--output", default=None,
                          help="CSV to write (default: RUN_DIR/forecast.csv)")
    forecast.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    forecast.set_defaults(run=forecast_series)
