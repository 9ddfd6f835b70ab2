"""The ``series`` task: forecast a column of a CSV file (or a shipped series) with the
:class:`~minirnn.apps.forecasting.Forecaster`, against its naive baselines."""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from minirnn.apps import datasets
from minirnn.apps.data.io import csv_delimiter
from minirnn.apps.forecasting import Forecaster, SeriesTable, format_dates, load_table
from minirnn.apps.forecasting.classical import CLASSICAL_METHODS
from minirnn.apps.forecasting.forecaster import Evaluation, Forecast
from minirnn.apps.forecasting.transforms import KINDS
from minirnn.apps.tasks.config import CommonConfig, option
from minirnn.apps.tasks.errors import TaskError
from minirnn.apps.tasks.run_folder import finish, write_json
from minirnn.nn.registry import RECURRENT_LAYERS
from minirnn.train.callbacks import Callback, EarlyStopping, TimeLimit
from minirnn.train.solver import History, TrainingDivergedError

__all__ = ["SeriesConfig", "forecast_figure", "forecast_output", "forecast_steps",
           "history_start",
           "input_warnings",
           "load_forecaster", "load_global", "read_new_data", "read_panel", "read_series",
           "run_panel", "run_series", "verdict", "write_forecast", "write_panel_forecast"]


@dataclasses.dataclass(frozen=True)
class SeriesConfig(CommonConfig):
    """Forecasting one column of a CSV file (``csv`` + ``column``) or a series shipped with
    minirnn (``dataset``); the last ``test_size`` of it is held out for testing."""

    task = "series"
    cell: str = option("gru", choices=sorted(RECURRENT_LAYERS), help="recurrent cell")
    hidden_size: int = option(32, rule="positive", help="units H")
    epochs: int = option(60, rule="positive", help="maximum epochs")
    patience: int = option(10, rule="positive", help="early stopping patience (epochs)")
    csv: str | None = option(None, help="the CSV file (several: separated by os.pathsep, "
                             "a global model over their columns)")
    dataset: str | None = option(None, choices=datasets.names(),
                                 help="a series shipped with minirnn instead of csv")
    column: str | None = option(None, help="the column to forecast (required with csv); "
                                "several comma-separated, or 'all': a global model")
    date_column: str | None = option("auto", help="column of ISO dates; 'auto': the first "
                                     "column if it looks like dates; None: no dates")
    features: str = option("", help="comma-separated extra columns used as inputs")
    missing: str = option("interpolate", choices=("interpolate", "error"),
                          help="empty or NA cells: interpolate in row order, or stop")
    look_back: int | str = option("auto", help="past values the network reads, or 'auto'")
    horizon: int = option(1, rule="positive", help="steps predicted from each origin")
    transform: str = option("auto", choices=("auto", *KINDS),
                            help="target transform ('auto': chosen on validation)")
    season: int | str = option("auto", help="seasonal period, 'auto', or 0 for none")
    test_size: float = option(0.33, rule="fraction",
                              help="share of the series (at its end) held out for testing")
    val_size: float = option(0.2, rule="fraction",
                             help="share of the training span used for validation")
    network: bool = option(True, help="train the network on the linear model's residuals")

    def check(self) -> None:
        if self.panel and self.feature_names:
            raise ValueError("features (exogenous columns) work with one series only; "
                             f"got {len(self.columns)} columns and {len(self.csv_paths)} files")
        if self.csv is not None and self.dataset is not None:
            raise ValueError("give csv or dataset, not both")
        if self.csv is None and self.dataset is None:
            raise ValueError("csv (a CSV file) or dataset (a shipped series) is required")
        if self.csv is not None and not self.column:
            raise ValueError("column is required with csv")
        for name in ("look_back", "season"):
            value = getattr(self, name)
            if isinstance(value, str) and value != "auto":
                raise ValueError(f"{name} must be 'auto' or an integer, got {value!r}")
        if isinstance(self.look_back, int) and self.look_back < 1:
            raise ValueError(f"look_back must be 'auto' or a positive integer, got "
                             f"{self.look_back}")
        if isinstance(self.season, int) and (self.season < 0 or self.season == 1):
            raise ValueError(f"season must be 'auto', 0 (none) or at least 2, got "
                             f"{self.season}")

    @property
    def columns(self) -> list[str]:
        """The ``column`` as a list: several comma-separated names, or ``["all"]``."""
        return [c.strip() for c in (self.column or "").split(",") if c.strip()]

    @property
    def csv_paths(self) -> list[str]:
        """The ``csv`` as a list: several files are separated by ``os.pathsep``."""
        return [p for p in (self.csv or "").split(os.pathsep) if p]

    @property
    def panel(self) -> bool:
        """Several series (columns or files): the global forecaster is trained."""
        cols = self.columns
        return len(cols) > 1 or cols == ["all"] or len(self.csv_paths) > 1

    @property
    def feature_names(self) -> list[str]:
        """The ``features`` as a list of column names."""
        return [f.strip() for f in self.features.split(",") if f.strip()]

    def source(self) -> tuple[str, str]:
        """(CSV path, column): the shipped file and its column for a ``dataset``."""
        if self.dataset is not None:
            return str(datasets.path(self.dataset)), self.column or datasets.column(
                self.dataset)
        assert self.csv is not None and self.column is not None
        return self.csv, self.column


def read_series(path: str, column: str, features: list[str],
                date_column: str | None, missing: str = "interpolate") -> SeriesTable:
    """The table of a CSV file, its problems as :class:`TaskError`."""
    try:
        return load_table(path, column, features=features, date_column=date_column,
                          missing=missing)
    except (OSError, ValueError) as exc:
        raise TaskError(str(exc)) from exc


def _span(table: SeriesTable, lo: int, hi: int) -> str:
    if table.dates is None:
        return f"rows {lo + 1}..{hi}"
    d = format_dates(table.dates[[lo, hi - 1]])
    return f"{d[0]} .. {d[1]}"


def _print_evaluation(ev: Evaluation, fc: Forecaster, seconds: float) -> str:
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
    text = verdict(ev, fc.naive_ if fc.naive_weight_ == 1.0 else None, fc.naive_reason_)
    print(f"verdict: {text}", flush=True)
    return text


def verdict(ev: Evaluation, naive: str | None = None, reason: str = "") -> str:
    """Which forecast is best on the test span, and whom the model beats or loses to.

    ``naive``: the naive forecast used instead of the model, said first (chosen on
    validation, for ``reason``).
    """
    m = ev.metrics
    best = ev.best
    model = m["model"]["rmse"]
    if naive is not None:
        others = {k: v["rmse"] for k, v in m.items() if k not in ("model", naive)}
        beaten = [k for k, v in others.items() if model < v]
        losing = [k for k, v in others.items() if model > v]
        what = "the classical member" if naive in CLASSICAL_METHODS else "the naive forecast"
        return (f"{what} {naive} is the forecast used ("
                + (f"{reason}; " if reason else "") + f"test RMSE {model:.3f})"
                + (f"; it beats {', '.join(beaten)}" if beaten else "")
                + (f"; it loses to {', '.join(losing)}" if losing else ""))
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


def write_forecast(path: Path, fcst: Forecast) -> None:
    """forecast.csv: the mean and the 80 % / 95 % intervals per step."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", "date", "forecast", "lower_80", "upper_80", "lower_95",
                         "upper_95"])
        dates = None if fcst.dates is None else format_dates(fcst.dates)
        for k in range(len(fcst.mean)):
            writer.writerow([k + 1, "" if dates is None else dates[k], fcst.mean[k],
                             fcst.lower[80][k], fcst.upper[80][k], fcst.lower[95][k],
                             fcst.upper[95][k]])


def forecast_figure(path: Path, table: SeriesTable, fc: Forecaster, ev: Evaluation | None,
                    fcst: Forecast, title: str) -> None:
    """forecast.png (a note instead without matplotlib): the recent history at a readable
    scale (:func:`history_start`), the forecast and its intervals."""
    try:
        from minirnn.apps.forecasting.plot import plot_forecast

        plot_forecast(
            path, fc.y_, n_train=fc.n_train_ if ev is not None else len(fc.y_) - 1,
            dates=fc.dates_,
            test_index=None if ev is None else ev.origins + 1,
            test_prediction=None if ev is None else ev.prediction[:, 0],
            baselines=None if ev is None else {k: v[:, 0] for k, v in ev.baselines.items()},
            future_dates=fcst.dates, future=fcst.mean, lower=fcst.lower, upper=fcst.upper,
            title=title, ylabel=table.column,
            start=history_start(len(fc.y_), len(fcst.mean), fc.season_,
                                None if ev is None else fc.n_train_))
    except ImportError:
        print("matplotlib is not installed: skipping the figure (pip install 'minirnn[plot]')",
              flush=True)
        return
    print(f"figure: {path}", flush=True)


def input_warnings(table: SeriesTable, n_train: int, far: float = 0.5) -> list[str]:
    """Feature columns whose test-span values leave their training range by more than
    ``far`` times its width: the model meets values it never saw (as a column whose swings
    occur almost only in the test span)."""
    out: list[str] = []
    if table.features is None:
        return out
    for j, name in enumerate(table.feature_names):
        train, test = table.features[:n_train, j], table.features[n_train:, j]
        if not len(test):
            continue
        lo, hi = float(train.min()), float(train.max())
        width = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
        outside = (test < lo - far * width) | (test > hi + far * width)
        if outside.any():
            out.append(f"feature {name!r}: {int(outside.sum())} of {len(test)} test values "
                       f"lie far outside its training range [{lo:.4g}, {hi:.4g}] (from "
                       f"{float(test.min()):.4g} to {float(test.max()):.4g}): forecasts "
                       "reading it are extrapolations")
    return out


def forecast_output(model_path: Path, steps: int) -> Path:
    """Where ``minirnn forecast`` writes by default: ``forecast-<steps>steps.csv`` (and
    ``.png``) beside the model, so the training run's ``forecast.csv``/``forecast.png`` stay."""
    return model_path.parent / f"forecast-{steps}steps.csv"


def history_start(total: int, steps: int, season: int, n_train: int | None = None) -> int:
    """First value drawn by the forecast figure: six times the steps forecast (at least 24
    values), two seasons when they fit in ten times the steps; with a test span, as much
    training history as test."""
    if n_train is not None:
        return max(0, n_train - (total - n_train))
    shown = max(24, 6 * steps)
    if season > 0 and 2 * season <= 10 * steps:
        shown = max(shown, 2 * season)
    return max(0, total - shown)


def _validation_rmse(fc: Forecaster) -> float:
    """RMSE over all validation spans of the forecast used (the model, a naive forecast or
    their mix), in original units."""
    v = fc.validation_
    if fc.naive_ is not None:
        return float(v[f"naive weight {fc.naive_weight_:g}, all spans"])
    return float(v.get("model, all spans", v["final"]))


def forecast_steps(fc: Forecaster, with_features: bool) -> int:
    """Steps forecast past the end after training: a season (or 12) ahead, recursively beyond
    the horizon; only the horizon when the model needs future inputs."""
    if with_features:
        return fc.horizon
    return max(fc.horizon, fc.season_ if 0 < fc.season_ <= 60 else 12)


def run_series(config: SeriesConfig, folder: Path, callbacks: Sequence[Callback],
               record: Callable[[dict[str, Any]], dict[str, Any]]
               ) -> tuple[dict[str, Any], History | None]:
    """Fit, evaluate against the baselines, forecast past the end; returns the report and
    the network's history (None without a network)."""
    if config.panel:
        return run_panel(config, folder, callbacks, record)
    path, column = config.source()
    features = config.feature_names
    table = read_series(path, column, features, config.date_column, config.missing)
    total = len(table.values)
    n_train = round(total * (1 - config.test_size))
    if n_train >= total or total - n_train < config.horizon:
        raise TaskError(f"series of {total} values is too short for a test span of "
                        f"{config.test_size:.0%} with horizon {config.horizon}")
    lr = config.lr
    if lr is None and config.optimizer == "adam":
        lr = Forecaster().lr  # its own default (3e-3, tuned for residual models)
    limit = [TimeLimit(config.time_limit, verbose=True)] if config.time_limit else []
    fc = Forecaster(
        horizon=config.horizon, look_back=config.look_back, transform=config.transform,
        season=config.season, cell=config.cell, hidden_size=config.hidden_size,
        num_layers=config.layers, bidirectional=config.bidirectional, epochs=config.epochs,
        batch_size=config.batch_size, lr=lr, patience=config.patience,
        clip_norm=config.clip_norm, optimizer=config.optimizer, val_fraction=config.val_size,
        network=config.network, seed=config.seed, dtype=config.dtype,
        callbacks=[*callbacks, *limit])
    run = record({"csv": path, "column": column, "lr": lr})
    start = time.perf_counter()
    print(f"series {table.column!r} of {path}: {total} values, first {n_train} for "
          f"training ({_span(table, 0, n_train)}), {total - n_train} for testing "
          f"({_span(table, n_train, total)})"
          + (f"; features {', '.join(features)}" if features else ""), flush=True)
    for note in table.inferred:
        print(f"columns: {note}", flush=True)
    warnings = input_warnings(table, n_train)
    for text in warnings:
        print(f"warning: {text}", flush=True)
    if config.network and fc.min_val_network > _validation_origins(fc, n_train):
        # Known before training (the forecaster decides the same): say it, train nothing.
        print(f"network: not trained (about {_validation_origins(fc, n_train)} validation "
              f"forecasts, fewer than the {fc.min_val_network} needed to trust its gain); "
              "the linear models and naive forecasts are chosen on validation", flush=True)
    try:
        fc.fit(table.values, table.features, dates=table.dates, train_size=n_train)
    except TrainingDivergedError as exc:
        raise TaskError(f"training diverged: {exc}") from exc
    except ValueError as exc:
        raise TaskError(str(exc)) from exc
    print(f"chosen on the validation span (the last {config.val_size:.0%} of training): "
          f"season {fc.season_ or 'none'}"
          f"{' (detected)' if config.season == 'auto' and fc.season_ else ''}, look-back "
          f"{fc.look_back_}, {fc.method_}", flush=True)
    if features:
        labels = {_inputs_label(cols, features): score for cols, score in fc.input_scores_}
        used = _inputs_label(fc.inputs_, features)
        print("inputs chosen on validation: " + used + "  (validation RMSE: "
              + ", ".join(f"{k} {v:.4g}" for k, v in labels.items()) + ")", flush=True)
    ev = fc.evaluate()
    seconds = time.perf_counter() - start
    text = _print_evaluation(ev, fc, seconds)
    m = ev.metrics
    ar_name = f"linear AR({fc.baseline_order_})"
    report: dict[str, Any] = {
        "task": "series", "test_rmse": m["model"]["rmse"],
        "persistence_rmse": m["persistence"]["rmse"], "linear_ar_rmse": m[ar_name]["rmse"],
        "linear_ar_order": fc.baseline_order_,
        "seasonal_naive_rmse": m.get("seasonal naive", {}).get("rmse"),
        "drift_rmse": m["drift"]["rmse"], "test_mae": m["model"]["mae"],
        "test_mase": m["model"]["mase"], "metrics": m, "best_on_test": ev.best,
        "method": fc.method_, "verdict": text, "season": fc.season_,
        "look_back": fc.look_back_, "horizon": fc.horizon, "transform": fc.transform_.name,
        "ar_order": fc.members_[0].order, "network_weight": fc.alpha_,
        "validation_rmse": fc.validation_, "forecaster": fc.get_config(),
        "naive_used": fc.naive_, "naive_weight": fc.naive_weight_,
        "naive_reason": fc.naive_reason_, "column_roles": table.inferred,
        # The forecast used (model, naive or their mix), scored over every validation span
        # in original units: comparable across runs with or without a network (sweeps).
        "validation_mse": _validation_rmse(fc) ** 2,
        "inputs_used": [features[c] for c in fc.inputs_],
        "inputs_validation_rmse": {_inputs_label(cols, features): score
                                   for cols, score in fc.input_scores_},
        "warnings": warnings,
        "train_size": n_train, "test_targets": len(ev.origins),
        "column": table.column, "features": features, "csv": path,
        "seconds": time.perf_counter() - start}
    metadata = {"task": "series", "forecaster": fc.state_dict(), "look_back": fc.look_back_,
                "horizon": fc.horizon, "column": table.column, "features": features,
                "date_column": table.date_column, "missing": config.missing}
    if fc.solver_ is not None and fc.model_ is not None and fc.probe_ is not None:
        stopper = fc.stopper_ if fc.stopper_ is not None else EarlyStopping()
        x_probe, y_probe = fc.probe_
        report = finish(config, folder, run, fc.solver_, stopper, report, x_probe, y_probe,
                        f"series {config.cell}", metadata)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        fc.save(folder / "model.npz", extra={k: v for k, v in metadata.items()
                                             if k not in ("task", "forecaster")})
        report = {**report, "status": "finished", "config": run}
        write_json(folder / "report.json", report)
        print(f"saved {folder / 'model.npz'}, report.json", flush=True)
    _write_predictions(folder / "predictions.csv", table, ev, fc.horizon)
    fcst = fc.forecast(forecast_steps(fc, bool(fc.inputs_) and fc.naive_weight_ < 1))
    write_forecast(folder / "forecast.csv", fcst)
    print(f"saved {folder / 'predictions.csv'} (test forecasts and baselines), "
          f"forecast.csv (the next {len(fcst.mean)} step(s) with 80%/95% intervals)", flush=True)
    if not config.no_plot:
        forecast_figure(folder / "forecast.png", table, fc, ev, fcst,
                        f"{table.column}: test RMSE {m['model']['rmse']:.4g} (persistence "
                        f"{m['persistence']['rmse']:.4g}, {ar_name} "
                        f"{m[ar_name]['rmse']:.4g}); best: {ev.best}")
    return report, None if fc.solver_ is None else fc.solver_.history


def _inputs_label(cols: Sequence[int], names: Sequence[str]) -> str:
    if not cols:
        return "none"
    if len(cols) == len(names):
        return "all"
    return "+".join(names[c] for c in cols)


def _validation_origins(fc: Forecaster, n_train: int) -> int:
    """Validation forecast origins the forecaster will have (its own rule; the season and
    look-back do not change it but for very short series, where this is an estimate)."""
    n_val = max(round(fc.val_fraction * n_train), fc.horizon + 2)
    return n_val - fc.horizon + 1


def _model_file(path_text: str) -> Path:
    """The model file of a run folder (its ``model.npz``) or the file itself; it must exist."""
    path = Path(path_text)
    if path.is_dir():
        path = path / "model.npz"
    if not path.exists():
        raise TaskError(f"{path_text}: no such run directory or model file")
    return path


def load_forecaster(path_text: str) -> tuple[Forecaster, dict[str, Any], Path]:
    """(forecaster, its metadata, model path) of a ``series`` run folder or model file."""
    from minirnn.nn.io import ModelFileError, load_metadata

    path = _model_file(path_text)
    try:
        meta = load_metadata(path)
        if "panel" in meta:
            raise TaskError(f"{path_text}: a global model of {len(meta.get('series', []))} "
                            "series; forecast it with 'minirnn forecast RUN --steps N'")
        fc = Forecaster.load(path)
    except (ModelFileError, ValueError, OSError) as exc:
        raise TaskError(str(exc)) from exc
    return fc, meta, path


def read_new_data(fc: Forecaster, meta: dict[str, Any], csv_path: str | None,
                  dataset: str | None, column: str | None,
                  date_column: str | None) -> SeriesTable:
    """Newer data for a trained forecaster: its column, features and date column unless
    given (``dataset``: a shipped series instead of ``csv_path``)."""
    if dataset is not None:
        if csv_path:
            raise TaskError("give --csv or --dataset, not both")
        csv_path = str(datasets.path(dataset))
        column = column or datasets.column(dataset)
    if not csv_path:
        raise TaskError("--csv FILE (or --dataset NAME) is required")
    column = column or meta.get("column")
    if column is None:
        raise TaskError("--column is required")
    features = list(meta.get("features") or [])
    trained = meta.get("date_column")  # may be "" (an unnamed first column)
    dates = date_column if date_column is not None else (
        "auto" if trained is None else trained)
    table = read_series(csv_path, column, features, dates, meta.get("missing", "interpolate"))
    if len(table.values) <= fc.t_min_:
        raise TaskError(f"{csv_path}: {len(table.values)} values; the model needs more than "
                        f"{fc.t_min_} (its look-back {fc.look_back_} plus differencing)")
    return table


# ------------------------------------------------------------------ several series
def _header(path: str) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            for row in csv.reader(handle, delimiter=csv_delimiter(Path(path))):
                if any(cell.strip() for cell in row):
                    return [cell.strip() for cell in row]
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"{path}: cannot read it ({exc})") from exc
    raise TaskError(f"{path}: empty file (no header row)")


def read_panel(config: SeriesConfig) -> tuple[list[SeriesTable], list[str], list[str]]:
    """(tables, their names, notes) of every series a panel configuration names: each
    column of each file (``all``: every numeric column but the dates). Every file and
    column is read and checked before anything trains."""
    paths = ([str(datasets.path(config.dataset))] if config.dataset is not None
             else config.csv_paths)
    for path in paths:
        if not Path(path).is_file():
            raise TaskError(f"{path}: no such CSV file")
    cols = config.columns or ([datasets.column(config.dataset)] if config.dataset else [])
    tables: list[SeriesTable] = []
    names: list[str] = []
    notes: list[str] = []
    stems = [Path(p).stem for p in paths]
    for path, stem in zip(paths, stems, strict=True):
        wanted = cols
        if cols == ["all"]:
            wanted = [c for c in _header(path) if c not in config.feature_names]
        loaded: list[SeriesTable] = []
        for col in wanted:
            try:
                loaded.append(load_table(path, col, date_column=config.date_column,
                                         missing=config.missing))
            except (OSError, ValueError) as exc:
                if cols == ["all"]:  # a date or text column: skipped, said
                    notes.append(f"{path}: column {col!r} skipped ({str(exc)[:120]})")
                    continue
                raise TaskError(str(exc)) from exc
        if cols == ["all"]:  # the dates and a row index are not series
            skip = {t.date_column for t in loaded} | {t.index_column for t in loaded}
            loaded = [t for t in loaded if t.column not in skip]
        found = len(loaded)
        tables += loaded
        names += [t.column if len(paths) == 1 else f"{stem}:{t.column}" for t in loaded]
        if found == 0:
            raise TaskError(f"{path}: no numeric column to forecast")
        if len(paths) > 1 and found == 1 and len(set(stems)) == len(stems):
            names[-1] = stem  # one series per file: the file names it
        # The date column is not worth a note.
        dated = {t.date_column for t in tables[-found:]}
        notes = [n for n in notes if not any(n.startswith(f"{path}: column {d!r} skipped")
                                              for d in dated)]
    if len(set(names)) != len(names):
        raise TaskError(f"two series have the same name ({names}); rename the files")
    return tables, names, notes


def _panel_rows(rows: list[dict[str, Any]]) -> list[str]:
    """The per-series table printed and written: name, forecast used, RMSEs, verdict."""
    width = max(6, *(len(r["name"]) for r in rows))
    seasonal = any("seasonal naive" in r["rmse"] for r in rows)
    head = (f"{'series':{width}s}  {'used':11s}  {'model':>10s}  {'global':>10s}  "
            f"{'local':>10s}  {'persist.':>10s}" + (f"  {'seas.naive':>10s}" if seasonal
                                                     else "") + "  verdict")
    lines = [head]
    for r in rows:
        m = r["rmse"]
        sn = m.get("seasonal naive", math.nan)
        lines.append(f"{r['name']:{width}s}  {r['chosen']:11s}  {m['forecast']:10.4g}  "
                     f"{m['global']:10.4g}  {m.get('local', math.nan):10.4g}  "
                     f"{m['persistence']:10.4g}" + (f"  {sn:10.4g}" if seasonal else "")
                     + f"  {r['verdict']}")
    return lines


def _geomean(values: Sequence[float]) -> float:
    return float(math.exp(sum(math.log(max(v, 1e-300)) for v in values) / len(values)))


def run_panel(config: SeriesConfig, folder: Path, callbacks: Sequence[Callback],
              record: Callable[[dict[str, Any]], dict[str, Any]]
              ) -> tuple[dict[str, Any], History | None]:
    """Several series (columns and/or files): one :class:`GlobalForecaster`, a per-series
    report against persistence, the seasonal naive forecast and the local Forecaster."""
    from minirnn.apps.forecasting.panel import GlobalForecaster

    tables, names, notes = read_panel(config)
    sizes = []
    for table, name in zip(tables, names, strict=True):
        total = len(table.values)
        n_train = round(total * (1 - config.test_size))
        if n_train >= total or total - n_train < config.horizon:
            raise TaskError(f"{name}: {total} values are too few for a test span of "
                            f"{config.test_size:.0%} with horizon {config.horizon}")
        sizes.append(n_train)
    lr = config.lr if config.lr is not None or config.optimizer != "adam" else 3e-3
    limit = [TimeLimit(config.time_limit, verbose=True)] if config.time_limit else []
    try:
        gf = GlobalForecaster(
            horizon=config.horizon, look_back=config.look_back, season=config.season,
            cell=config.cell, hidden_size=config.hidden_size, num_layers=config.layers,
            epochs=config.epochs, batch_size=config.batch_size, lr=lr,
            patience=config.patience, clip_norm=config.clip_norm, optimizer=config.optimizer,
            val_fraction=config.val_size, local=True,
            local_options={} if config.transform == "auto" else {
                "transform": config.transform},
            seed=config.seed, dtype=config.dtype, callbacks=[*callbacks, *limit])
    except ValueError as exc:
        raise TaskError(str(exc)) from exc
    paths = config.csv_paths if config.dataset is None else [str(datasets.path(config.dataset))]
    run = record({"csv": os.pathsep.join(paths), "column": ",".join(names), "lr": lr})
    start = time.perf_counter()
    print(f"{len(tables)} series from {len(paths)} file(s): " + ", ".join(
        f"{n} ({len(t.values)} values, {s} for training)"
        for n, t, s in zip(names, tables, sizes, strict=True)), flush=True)
    for note in notes:
        print(f"columns: {note}", flush=True)
    print("one global network on the windows of every series (each standardised on its "
          "training span), chosen per series against the local forecaster on validation",
          flush=True)
    try:
        gf.fit([t.values for t in tables], train_sizes=sizes, names=names,
               dates=[t.dates for t in tables])
    except TrainingDivergedError as exc:
        raise TaskError(f"training diverged: {exc}") from exc
    except ValueError as exc:
        raise TaskError(str(exc)) from exc
    ev = gf.evaluate()
    seconds = time.perf_counter() - start
    print(f"season {gf.season_ or 'none'}, look-back {gf.look_back_}; test RMSE per series "
          f"(original units) [{seconds:.0f}s]:", flush=True)
    lines = _panel_rows(ev.rows)
    for line in lines:
        print(line, flush=True)
    methods = ["forecast", "global", "local", "persistence"] + (
        ["seasonal naive"] if all("seasonal naive" in r["rmse"] for r in ev.rows) else [])
    gm = {k: ev.geometric_mean(k) for k in methods}
    wins = sum(r["rmse"]["forecast"] < r["rmse"]["local"] for r in ev.rows)
    losses = sum(r["rmse"]["forecast"] > r["rmse"]["local"] for r in ev.rows)
    summary = (f"geometric mean of RMSE / persistence: model {gm['forecast']:.3f}, global "
               f"network alone {gm['global']:.3f}, local forecaster {gm['local']:.3f}"
               + (f", seasonal naive {gm['seasonal naive']:.3f}" if "seasonal naive" in gm
                  else "")
               + f"; the model beats the local forecaster on {wins} of {len(ev.rows)} series "
               f"and loses on {losses}")
    print(summary, flush=True)
    val_ratio = _geomean([v[c] / max(v["persistence"], 1e-300)
                          for v, c in zip(gf.validation_, gf.choice_, strict=True)])
    report: dict[str, Any] = {
        "task": "series", "global": True, "series": names,
        # Scale-free over several series: the geometric mean of RMSE / persistence.
        "test_rmse": gm["forecast"], "test_rmse_note": "geometric mean over the series of "
        "test RMSE / persistence RMSE (several series of different units)",
        "geometric_mean_rmse_ratio": gm, "per_series": ev.rows, "summary": summary,
        "validation_rmse": gf.validation_, "choices": gf.choice_,
        "validation_mse": val_ratio ** 2, "season": gf.season_, "look_back": gf.look_back_,
        "horizon": gf.horizon, "train_sizes": sizes, "forecaster": gf.get_config(),
        "columns": [t.column for t in tables], "csv": paths, "notes": notes}
    metadata = {"task": "series", "panel": gf.state_dict(), "look_back": gf.look_back_,
                "horizon": gf.horizon, "series": names, "columns": [t.column for t in tables],
                "date_columns": [t.date_column for t in tables]}
    assert gf.solver_ is not None and gf.stopper_ is not None
    x_probe, y_probe = gf.probe_
    report = finish(config, folder, run, gf.solver_, gf.stopper_, report, x_probe, y_probe,
                    f"series (global {config.cell}, {len(names)} series)", metadata)
    with open(folder / "per_series.txt", "w") as handle:
        handle.write("\n".join([*lines, summary]) + "\n")
    _write_panel_predictions(folder / "predictions.csv", names, ev.predictions, ev.rows)
    steps = max(gf.horizon, gf.season_ if 0 < gf.season_ <= 60 else 12)
    write_panel_forecast(folder / "forecast.csv", names,
                         [gf.forecast(i, steps) for i in range(len(names))])
    print(f"saved {folder / 'per_series.txt'}, predictions.csv (test forecasts per series), "
          f"forecast.csv (the next {steps} step(s) of every series with 80%/95% intervals)",
          flush=True)
    return report, gf.solver_.history


def _write_panel_predictions(path: Path, names: list[str], preds: list[dict[str, Any]],
                             rows: list[dict[str, Any]]) -> None:
    keys = ["forecast", "global", "local", "combination", "persistence", "seasonal naive"]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["series", "origin_index", "step", "actual", *keys])
        for name, p, r in zip(names, preds, rows, strict=True):
            truth = p["truth"]
            for i in range(r["origins"]):
                for k in range(truth.shape[1]):
                    writer.writerow([name, i, k + 1, truth[i, k],
                                     *(p[key][i, k] if key in p else "" for key in keys)])


def write_panel_forecast(path: Path, names: Sequence[str], forecasts: Sequence[Forecast]
                         ) -> None:
    """forecast.csv of several series: one row per series and step (mean, intervals)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["series", "step", "date", "forecast", "lower_80", "upper_80",
                         "lower_95", "upper_95"])
        for name, fcst in zip(names, forecasts, strict=True):
            dates = None if fcst.dates is None else format_dates(fcst.dates)
            for k in range(len(fcst.mean)):
                writer.writerow([name, k + 1, "" if dates is None else dates[k], fcst.mean[k],
                                 fcst.lower[80][k], fcst.upper[80][k], fcst.lower[95][k],
                                 fcst.upper[95][k]])


def load_global(path_text: str) -> tuple[Any, dict[str, Any], Path] | None:
    """(global forecaster, metadata, model path) of a run on several series; None when the
    run forecasts one series (load it with :func:`load_forecaster`)."""
    from minirnn.apps.forecasting.panel import GlobalForecaster
    from minirnn.nn.io import ModelFileError, load_metadata

    path = _model_file(path_text)
    try:
        meta = load_metadata(path)
        if "panel" not in meta:
            return None
        return GlobalForecaster.load(path), meta, path
    except (ModelFileError, ValueError, OSError) as exc:
        raise TaskError(str(exc)) from exc
