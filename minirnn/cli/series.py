"""``minirnn train series`` and ``minirnn forecast``: forecasting a CSV column.

Argument parsing and checks over the ``series`` task (:mod:`minirnn.apps.tasks.series`),
which reads the CSV (every problem reported before training), trains, prints and writes the
run folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from minirnn.apps import datasets
from minirnn.apps.forecasting import SeriesTable, format_dates
from minirnn.apps.forecasting.forecaster import MAX_FORECAST_STEPS
from minirnn.apps.tasks import SeriesConfig
from minirnn.apps.tasks.series import (
    forecast_figure,
    forecast_output,
    load_forecaster,
    load_global,
    read_new_data,
    write_forecast,
    write_panel_forecast,
)
from minirnn.cli._common import (
    UsageError,
    add_common,
    date_arg,
    parse_number,
    positive_int,
    printing_callbacks,
    refuse_options,
    train_task,
)

__all__ = ["add_parsers"]


def _auto_int(text: str) -> int | str:
    if text == "auto":
        return text
    return int(parse_number(text, int, lambda v: v >= 0, "'auto' or >= 0",
                            expected="'auto' or an integer"))


def _fraction(text: str) -> float:
    return float(parse_number(text, float, lambda v: 0 < v < 1, "between 0 and 1"))


def train_series(args: argparse.Namespace) -> int:
    refuse_options(args, "train series", "--grad-flow", "--init-from", "--resume")
    if args.dataset:
        if args.csv:
            raise UsageError("give --csv or --dataset, not both")
    elif not args.csv:
        raise UsageError("--csv FILE (or --dataset NAME, one of the shipped series) is required")
    elif not args.column:
        raise UsageError("--column is required with --csv")
    join_series_lists(args)
    train_task(args, printing_callbacks(args, "MSE"))
    return 0


def join_series_lists(args: argparse.Namespace) -> None:
    """Check ``--csv`` and ``--column`` (lists: several files or columns train one global
    model) and write them as the task's text: files joined by ``os.pathsep``, columns by
    commas. ``minirnn train series`` and ``minirnn sweep series`` both call it."""
    columns = list(args.column or [])
    if any("," in c for c in columns):
        raise UsageError(f"--column: give several columns separated by spaces, not commas "
                         f"(got {' '.join(columns)!r})")
    if "all" in columns and len(columns) > 1:
        raise UsageError("--column all stands alone (every numeric column)")
    if len(set(columns)) != len(columns):
        raise UsageError(f"--column names a column twice: {' '.join(columns)}")
    files = list(args.csv or [])
    for name in files:
        if Path(name).is_dir():
            raise UsageError(f"--csv {name}: a folder, not a CSV file")
        if not Path(name).is_file():
            raise UsageError(f"--csv {name}: no such file")
        if os.pathsep in name:
            raise UsageError(f"--csv {name}: a file name with {os.pathsep!r} is not supported")
    if len(set(files)) != len(files):
        raise UsageError("--csv names a file twice")
    if (len(columns) > 1 or columns == ["all"] or len(files) > 1) and args.features:
        raise UsageError("--features works with one series only (one --csv, one --column)")
    args.column = ",".join(columns) if columns else None
    args.csv = os.pathsep.join(files) if files else None


def _forecast_steps(text: str) -> int:
    """``--steps``: a positive int of at most MAX_FORECAST_STEPS (``1e9`` reads as one)."""
    value = parse_number(text, float, lambda v: v.is_integer() and 1 <= v <= MAX_FORECAST_STEPS,
                         f"a whole number between 1 and {MAX_FORECAST_STEPS:,}")
    return int(value)


def _forecast_global(args: argparse.Namespace, gf: Any, path: Path) -> int:
    """``minirnn forecast`` of a run on several series: every series, one CSV."""
    for flag in ("csv", "dataset", "column", "date_column"):
        if getattr(args, flag, None) is not None:
            raise UsageError(f"--{flag.replace('_', '-')} is not available for a global model "
                             "(it forecasts from the series it was trained on)")
    output = Path(args.output) if args.output else forecast_output(path, args.steps)
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: folder {output.parent} does not exist")
    forecasts = [gf.forecast(i, args.steps) for i in range(len(gf.names_))]
    write_panel_forecast(output, gf.names_, forecasts)
    for name, fcst in zip(gf.names_, forecasts, strict=True):
        shown = ", ".join(f"{v:.4g}" for v in fcst.mean[:6])
        print(f"{name}: {shown}{' ...' if len(fcst.mean) > 6 else ''}", flush=True)
    print(f"saved {output} (one row per series and step, 80%/95% intervals)"
          + ("" if args.output else "; the training run's forecast.csv is kept"), flush=True)
    return 0


def forecast_series(args: argparse.Namespace) -> int:
    found = load_global(args.run_dir)
    if found is not None:
        return _forecast_global(args, found[0], found[2])
    fc, meta, path = load_forecaster(args.run_dir)
    # Its own files: the training run's forecast.csv/forecast.png stay as they were.
    output = Path(args.output) if args.output else forecast_output(path, args.steps)
    if not output.parent.is_dir():
        raise UsageError(f"--output {output}: folder {output.parent} does not exist")
    table: SeriesTable | None = None
    try:
        if args.csv or args.dataset:
            table = read_new_data(fc, meta, args.csv, args.dataset, args.column,
                                  args.date_column)
            fcst = fc.forecast(args.steps, table.values, table.features, table.dates)
        else:
            fcst = fc.forecast(args.steps)
    except ValueError as exc:  # TaskError included
        raise UsageError(str(exc)) from exc
    write_forecast(output, fcst)
    dates = None if fcst.dates is None else format_dates(fcst.dates)
    for k in range(len(fcst.mean)):
        when = dates[k] if dates is not None else f"step {k + 1}"
        print(f"{when}: {fcst.mean[k]:.4g}  80% [{fcst.lower[80][k]:.4g}, "
              f"{fcst.upper[80][k]:.4g}]  95% [{fcst.lower[95][k]:.4g}, "
              f"{fcst.upper[95][k]:.4g}]", flush=True)
    print(f"saved {output}" + ("" if args.output else " (the training run's forecast.csv "
                               "is kept)"), flush=True)
    if not args.no_plot:
        if table is not None:
            fc.y_, fc.dates_, fc.n_train_ = table.values, table.dates, len(table.values)
        column = str(meta.get("column", "value"))
        figure_table = SeriesTable(fc.y_, None, fc.dates_, column)
        forecast_figure(output.with_suffix(".png"), figure_table, fc, None, fcst,
                f"{column}: {len(fcst.mean)}-step forecast")
    return 0


def _dataset_names() -> list[str]:
    from minirnn.apps import datasets

    return datasets.names()


def add_parsers(tasks: Any, commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``train series`` and ``forecast``."""
    series = tasks.add_parser("series", formatter_class=fmt,
                              help="forecast a column of a CSV file")
    add_common(series, "series")
    d = SeriesConfig.defaults()
    series.add_argument("--csv", default=None, nargs="+", metavar="FILE",
                        help="the CSV file (several: one global model over their series)")
    series.add_argument("--dataset", choices=datasets.names(), default=None,
                        help="a series shipped with minirnn instead of --csv")
    series.add_argument("--column", "--target", dest="column", default=None, nargs="+",
                        metavar="COLUMN",
                        help="the column to forecast (required with --csv); several, or "
                             "'all' (every numeric column): one global network over them, "
                             "chosen per series against the local forecaster")
    series.add_argument("--date-column", type=date_arg, default=d["date_column"],
                        help="column of ISO dates (must be increasing); 'auto': the first "
                             "column if it looks like dates; 'none': no dates")
    series.add_argument("--features", default=d["features"],
                        help="comma-separated extra columns used as inputs")
    series.add_argument("--missing", choices=["interpolate", "error"], default=d["missing"],
                        help="empty or NA cells: interpolate in row order (rows before the "
                             "first or after the last value are left out), or stop")
    series.add_argument("--look-back", type=_auto_int, default=d["look_back"],
                        help="past values the network reads ('auto': season + 1, at least "
                             "12, for seasons up to 29, else 24; shorter for short series)")
    series.add_argument("--horizon", type=positive_int, default=d["horizon"],
                        help="steps predicted from each origin (direct multi-output)")
    series.add_argument("--transform", choices=["auto", "none", "diff", "log", "logdiff"],
                        default=d["transform"],
                        help="target transform ('auto': chosen on validation)")
    series.add_argument("--season", type=_auto_int, default=d["season"],
                        help="seasonal period ('auto': from the training autocorrelation; "
                             "0: none)")
    series.add_argument("--test-size", type=_fraction, default=d["test_size"],
                        help="share of the series (at its end) held out for testing")
    series.add_argument("--val-size", type=_fraction, default=d["val_size"],
                        help="share of the training span (at its end) used for validation")
    series.add_argument("--network", action=argparse.BooleanOptionalAction, default=d["network"],
                        help="train the recurrent network on the linear model's residuals")
    series.set_defaults(run=train_series)

    forecast = commands.add_parser("forecast", formatter_class=fmt,
                                   help="forecast past the end of the data, with intervals")
    forecast.add_argument("run_dir", metavar="RUN_DIR",
                          help="run folder (or its model.npz) of 'train series'; 'series': "
                               "the newest series run in minirnn-runs/")
    forecast.add_argument("--steps", type=_forecast_steps, required=True,
                          help=f"steps to forecast past the last value (at most "
                               f"{MAX_FORECAST_STEPS:,})")
    forecast.add_argument("--csv", default=None,
                          help="newer data to forecast from (default: the training file's)")
    forecast.add_argument("--dataset", choices=datasets.names(), default=None,
                          help="a series shipped with minirnn instead of --csv")
    forecast.add_argument("--column", default=None, help="column (default: the training one)")
    forecast.add_argument("--date-column", type=date_arg, default=None,
                          help="date column (default: the training one)")
    forecast.add_argument("--output", default=None,
                          help="CSV to write, its figure beside it as .png (default: "
                               "RUN_DIR/forecast-<steps>steps.csv)")
    forecast.add_argument("--no-plot", action="store_true", help="do not draw the figure")
    forecast.set_defaults(run=forecast_series)
