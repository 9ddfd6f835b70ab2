"""minirnn.apps.forecasting: transforms, season detection, no leakage, baselines, dates, CLI."""

import csv
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from minirnn.apps import datasets
from minirnn.apps.data.table import calendar_periods
from minirnn.apps.forecasting import (
    Forecaster,
    RobustScaler,
    TargetTransform,
    detect_season,
    future_dates,
    infer_frequency,
    load_table,
    mase,
    mase_scale,
    parse_dates,
)
from minirnn.cli import main

FAST = {"epochs": 3, "hidden_size": 4, "patience": 2, "min_val_network": 1}


def _seasonal(n=120, period=12, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 1.5 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / period)) * np.exp(
        rng.normal(0, 0.02, n))


# ------------------------------------------------------------------------ transforms
@pytest.mark.parametrize("kind", ["none", "diff", "log", "logdiff"])
@pytest.mark.parametrize("season", [0, 4])
@pytest.mark.parametrize("horizon", [1, 3, 6])
def test_transform_round_trip_is_exact(kind, season, horizon):
    y = _seasonal(60, 4, seed=1)
    tr = TargetTransform(kind, season)
    x = tr.level(y)
    origins = np.arange(tr.min_origin(horizon) + tr.lost, len(y) - horizon)
    r = tr.targets(x, origins, horizon)
    back = tr.inverse(x, origins, r)
    truth = y[origins[:, None] + np.arange(1, horizon + 1)]
    np.testing.assert_allclose(back, truth, rtol=1e-12, atol=0)
    # The base only reads values up to the origin: changing later values leaves it alone.
    x2 = x.copy()
    x2[origins[0] + 1:] += 123.0
    np.testing.assert_array_equal(tr.base(x2, origins[:1], horizon),
                                  tr.base(x, origins[:1], horizon))


def test_stationary_series_and_robust_scaler_round_trip():
    y = _seasonal(50, 4)
    u = TargetTransform("diff", 4).stationary(y)
    assert np.all(np.isnan(u[:5])) and np.all(np.isfinite(u[5:]))
    expected = (y[5:] - y[1:-4]) - (y[4:-1] - y[:-5])
    np.testing.assert_allclose(u[5:], expected, rtol=1e-12)
    scaler = RobustScaler().fit(u[5:])
    z = scaler.transform(u[5:])
    np.testing.assert_allclose(scaler.inverse_transform(z), u[5:], rtol=1e-12)
    assert abs(np.median(z)) < 1e-12
    far = scaler.transform(np.array([1e6]))  # no saturation outside the training range
    assert far[0] > 1e3


def test_log_transform_refuses_non_positive_values():
    with pytest.raises(ValueError, match="value <= 0"):
        TargetTransform("log").check(np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="kind"):
        TargetTransform("sqrt")


@pytest.mark.parametrize("period", [4, 7, 12])
def test_detect_season_finds_the_period(period):
    assert detect_season(_seasonal(20 * period, period, seed=period)) == period


def test_detect_season_finds_none_in_noise_and_trend():
    rng = np.random.default_rng(3)
    assert detect_season(rng.normal(size=200)) == 0
    assert detect_season(10 + 0.5 * np.arange(100) + rng.normal(0, 0.1, 100)) == 0


def test_mase_matches_its_definition():
    train = np.array([1.0, 3.0, 2.0, 5.0])
    assert mase_scale(train) == pytest.approx((2 + 1 + 3) / 3)
    assert mase(np.array([4.0, 6.0]), np.array([5.0, 5.0]), 2.0) == pytest.approx(0.5)


# ---------------------------------------------------------------------- dates, CSV
def test_future_dates_continue_the_frequency():
    monthly = parse_dates(["1960-11", "1960-12"])
    assert [str(d) for d in future_dates(monthly, 2)] == ["1961-01", "1961-02"]
    month_starts = parse_dates(["1984-11-01", "1984-12-01"])
    assert infer_frequency(month_starts) == ("M", 1)
    assert [str(d) for d in future_dates(month_starts, 1)] == ["1985-01-01"]
    assert [str(d) for d in future_dates(parse_dates(["1933", "1934"]), 2)] == ["1935", "1936"]
    daily = parse_dates(["1990-12-30", "1990-12-31"])
    assert [str(d) for d in future_dates(daily, 2)] == ["1991-01-01", "1991-01-02"]
    weekly = parse_dates(["2020-01-06", "2020-01-13", "2020-01-20"])
    assert infer_frequency(weekly) == ("D", 7)


def _write(path, rows, header="Date,Value,Extra"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("rows,message", [
    (["2000-01,1,2", "2000-02,,2"], r"line 3: column 'Value' has a missing value"),
    (["2000-01,1,2", "2000-02,abc,2"], r"line 3: column 'Value' has a non-numeric value"),
    (["2000-01,1,2", "2000-02,1,x"], r"line 3: column 'Extra' has a non-numeric"),
    (["2000-02,1,2", "2000-01,1,2"], r"line 3: date '2000-01' comes before .*sort the file"),
    (["2000-01,1,2", "2000-01,1,2"], r"line 3: date '2000-01' repeats the date of line 2"),
    (["2000-01,1,2", "not a date,1,2"], r"line 3: date column 'Date' has 'not a date'"),
])
def test_load_table_names_the_problem(tmp_path, rows, message):
    path = _write(tmp_path / "bad.csv", rows)
    with pytest.raises(ValueError, match=message):
        load_table(path, "Value", features=["Extra"], date_column="Date")


def test_load_table_detects_dates_and_reads_features(tmp_path):
    path = _write(tmp_path / "ok.csv", ["2000-01,1,5", "2000-02,2,6", "2000-03,3,7"])
    table = load_table(path, "Value", features=["Extra"])
    assert table.date_column == "Date" and str(table.dates[-1]) == "2000-03"
    np.testing.assert_array_equal(table.features[:, 0], [5, 6, 7])


def test_shipped_datasets_load():
    assert set(datasets.names()) == {"airline", "lynx", "seatbelts", "shampoo", "temperatures"}
    air = datasets.load("airline")
    assert air.values.shape == (144,) and air.values[0] == 112 and str(air.dates[-1]) == "1960-12"
    belts = datasets.load("seatbelts", with_features=True)
    assert belts.features.shape == (192, 1) and belts.features[169, 0] == 1  # 1983-02
    assert (datasets.path("lynx").parent / "SOURCES.md").exists()
    with pytest.raises(ValueError, match="unknown dataset"):
        datasets.load("nope")


# ---------------------------------------------------------------------- Forecaster
def test_no_leakage_every_choice_ignores_the_test_span():
    y = _seasonal(144, 12)
    n = 96
    a = Forecaster(seed=0, **FAST).fit(y, train_size=n)
    y2 = y.copy()
    y2[n:] = np.random.default_rng(9).uniform(1, 1e4, len(y) - n)  # wild test span
    b = Forecaster(seed=0, **FAST).fit(y2, train_size=n)
    sa, sb = a.state_dict(), b.state_dict()
    for key in ("y", "X", "sha256"):  # the checksum covers the stored series too
        sa.pop(key), sb.pop(key)
    assert sa == sb  # season, transform, orders, coefficients, scalers, weight, residuals
    assert a.season_ == 12
    wa, wb = a.model_.state_dict(), b.model_.state_dict()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)  # early stopping included
    assert a.solver_.history.history["val_loss"] == b.solver_.history.history["val_loss"]


def test_forecaster_beats_naive_baselines_on_a_seasonal_trend():
    y = _seasonal(144, 12)
    fc = Forecaster(seed=0, **FAST).fit(y, train_size=96)
    ev = fc.evaluate()
    m = ev.metrics
    assert m["model"]["rmse"] < 0.5 * m["persistence"]["rmse"]
    assert m["model"]["rmse"] < m["seasonal naive"]["rmse"]
    assert m["model"]["mase"] < 1
    # The classical members fitted (statsmodels installed, enough validation forecasts) are
    # reported beside the naive baselines.
    assert set(ev.baselines) == {"persistence", "seasonal naive", "drift", "mean",
                                 f"linear AR({fc.baseline_order_})", *fc.classical_}


def test_trend_extrapolates_beyond_the_training_range():
    rng = np.random.default_rng(2)
    y = 10 + 2.0 * np.arange(100) + rng.normal(0, 1, 100)  # the test span is all new levels
    fc = Forecaster(network=False).fit(y, train_size=60)
    m = fc.evaluate().metrics
    assert m["model"]["rmse"] < 0.7 * m["persistence"]["rmse"]
    assert m["model"]["rmse"] < 1.5  # about the noise level


def test_multi_step_forecast_with_intervals_and_dates():
    y = _seasonal(120, 12, seed=4)
    dates = np.arange("2000-01", "2010-01", dtype="datetime64[M]")
    fc = Forecaster(horizon=3, seed=0, **FAST).fit(y, dates=dates, train_size=84)
    ev = fc.evaluate()
    assert ev.prediction.shape == ev.truth.shape == (len(ev.origins), 3)
    assert len(ev.metrics["model"]["rmse_per_step"]) == 3
    assert ev.origins[0] == 83  # the first test value is a step-1 target
    out = fc.forecast(7)  # more than H: recursive
    assert out.mean.shape == (7,) and str(out.dates[0]) == "2010-01"
    for level in (80, 95):
        assert np.all(out.lower[level] < out.mean) and np.all(out.mean < out.upper[level])
    assert np.all(out.lower[95] <= out.lower[80]) and np.all(out.upper[80] <= out.upper[95])


def test_exogenous_input_is_used():
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    y = np.zeros(300)
    y[1:] = 3 * x[:-1] + rng.normal(0, 0.1, 299)  # y follows yesterday's x
    with_x = Forecaster(network=False).fit(y, x[:, None], train_size=200).evaluate()
    without = Forecaster(network=False).fit(y, train_size=200).evaluate()
    assert with_x.metrics["model"]["rmse"] < 0.2 * without.metrics["model"]["rmse"]
    fc = Forecaster(network=False).fit(y, x[:, None], train_size=200)
    with pytest.raises(ValueError, match="exogenous"):
        fc.forecast(3)


def test_save_load_round_trip(tmp_path):
    y = _seasonal(100, 4, seed=6)
    fc = Forecaster(horizon=2, seed=0, **FAST).fit(y, train_size=70)
    fc.save(tmp_path / "f.npz")
    back = Forecaster.load(tmp_path / "f.npz")
    np.testing.assert_allclose(back.forecast(5).mean, fc.forecast(5).mean, rtol=1e-12)
    np.testing.assert_allclose(back.evaluate().prediction, fc.evaluate().prediction,
                               rtol=1e-12)


def test_bad_arguments_are_refused_before_fitting():
    with pytest.raises(ValueError, match="too short"):
        Forecaster().fit(np.arange(10.0))
    with pytest.raises(ValueError, match="index 3"):
        Forecaster().fit(np.array([1, 2, 3, np.nan, 5.0]))
    with pytest.raises(ValueError, match="transform"):
        Forecaster(transform="sqrt")
    with pytest.raises(ValueError, match="season"):
        Forecaster(season=1)
    with pytest.raises(ValueError, match="not fitted"):
        Forecaster().forecast(3)


# ----------------------------------------------------------------------------- CLI
def test_cli_train_forecast_predict_on_shipped_airline(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "series", "--dataset", "airline", "--epochs", "2", "--hidden-size",
                 "4", "--no-plot", "--output", str(run)]) == 0
    out = capsys.readouterr().out
    line = re.search(r"test RMSE (\S+)  vs persistence (\S+) and linear AR\((\d+)\) (\S+)  ",
                     out)
    assert line, out
    model, persistence = float(line.group(1)), float(line.group(2))
    assert model < 23.4 and model < persistence
    assert "test MASE" in out and "seasonal naive (season 12)" in out
    assert re.search(r"^verdict: .* best on the test span", out, re.M)
    assert re.search(r"^forecast by: ", out, re.M)
    report = json.loads((run / "report.json").read_text())
    for key in ("test_rmse", "persistence_rmse", "linear_ar_rmse", "seasonal_naive_rmse",
                "drift_rmse", "test_mase", "verdict", "method", "metrics"):
        assert key in report, key
    assert report["test_rmse"] == pytest.approx(model, abs=1e-3)
    trained = (run / "forecast.csv").read_bytes()
    assert main(["forecast", str(run), "--steps", "14", "--no-plot"]) == 0
    assert "forecast-14steps.csv" in capsys.readouterr().out
    assert (run / "forecast.csv").read_bytes() == trained  # the training run's file stays
    rows = list(csv.DictReader((run / "forecast-14steps.csv").open()))
    assert len(rows) == 14 and rows[0]["date"] == "1961-01" and rows[13]["date"] == "1962-02"
    assert all(float(r["lower_95"]) < float(r["forecast"]) < float(r["upper_95"]) for r in rows)
    assert main(["predict", str(run), "--dataset", "airline"]) == 0
    assert "next 1 value(s) after the last of 144" in capsys.readouterr().out


@pytest.mark.parametrize("rows,message", [
    ([f"2000-{m:02d}-01,{m}" for m in range(12, 0, -1)], "comes before"),
    ([f"2000-01-{d:02d},1" for d in range(1, 10)], "too short"),
])
def test_cli_bad_series_one_line_error(tmp_path, rows, message):
    path = _write(tmp_path / "s.csv", rows, header="Date,Value")
    result = subprocess.run(
        [sys.executable, "-m", "minirnn", "train", "series", "--csv", str(path), "--column",
         "Value", "--no-plot", "--output", str(tmp_path / "o")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("minirnn: error:") and message in lines[0]
    assert not (tmp_path / "o").exists()


def test_combination_weights_and_the_network_trust_rule():
    y = _seasonal(96, 12, seed=7)
    fc = Forecaster(seed=0, **{**FAST, "min_val_network": 30}).fit(
        y, train_size=64)  # 13 validation forecasts
    assert sum(m.weight for m in fc.members_) == pytest.approx(1.0)
    assert fc.alpha_ == 0.0 and "too few to trust it" in fc.method_
    assert fc.model_ is None and fc.solver_ is None  # decided before training: not trained
    # The forecasts are the weighted mean of the members' (checked against a refit of each).
    ev = fc.evaluate()
    manual = np.zeros_like(ev.prediction)
    for m in fc.members_:
        alone = Forecaster(network=False).fit(y, train_size=64)
        alone.members_ = [type(m)(m.transform, m.order, m.coef, m.scaler, 1.0, m.exog)]
        manual += m.weight * alone.evaluate().prediction
    np.testing.assert_allclose(ev.prediction, manual, rtol=1e-10)


def test_forecaster_never_worse_than_persistence_on_a_random_walk_with_drift():
    rng = np.random.default_rng(11)
    y = 100 + np.cumsum(0.8 + rng.normal(0, 1, 300))
    fc = Forecaster(network=False).fit(y, train_size=200)
    m = fc.evaluate().metrics
    assert m["model"]["rmse"] < 1.02 * m["persistence"]["rmse"]
    assert m["model"]["rmse"] < m["drift"]["rmse"] * 1.02


def test_cli_features_horizon_and_forecast_from_newer_data(tmp_path, capsys):
    rng = np.random.default_rng(12)
    n = 150
    x = rng.normal(size=n)
    y = 50 + np.cumsum(rng.normal(0.2, 1, n))
    y[1:] += 4 * x[:-1]  # tomorrow's value moves with today's input
    months = np.datetime64("2000-01") + np.arange(n)
    rows = [f"{m},{v:.4f},{e:.4f}" for m, v, e in zip(months, y, x, strict=True)]
    path = _write(tmp_path / "s.csv", rows, header="Month,Sales,Promo")
    run = tmp_path / "run"
    assert main(["train", "series", "--csv", str(path), "--column", "Sales", "--features",
                 "Promo", "--horizon", "2", "--no-plot", "--quiet", "--output", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test RMSE per step ahead: 1:" in out and "features Promo" in out
    report = json.loads((run / "report.json").read_text())
    assert len(report["metrics"]["model"]["rmse_per_step"]) == 2
    assert report["metrics"]["model"]["rmse"] < report["persistence_rmse"]
    newer = _write(tmp_path / "newer.csv", rows[:120], header="Month,Sales,Promo")
    assert main(["forecast", str(run), "--steps", "2", "--csv", str(newer), "--no-plot",
                 "--output", str(tmp_path / "f.csv")]) == 0
    got = list(csv.DictReader((tmp_path / "f.csv").open()))
    assert [r["date"] for r in got] == [str(months[120]), str(months[121])]
    assert main(["forecast", str(run), "--steps", "3", "--no-plot"]) == 2  # inputs' future
    assert "retrain with --horizon 3" in capsys.readouterr().err


def test_cli_series_refuses_init_from(tmp_path, capsys):
    # A shared training option the forecaster cannot honour: one line of error before any
    # training, never silently ignored. (--resume needs a checkpoint, which series runs never
    # write, so it is refused by the shared resume check.)
    existing = tmp_path / "model.npz"
    existing.write_bytes(b"x")
    assert main(["train", "series", "--dataset", "airline", "--no-plot", "--init-from",
                 str(existing), "--output", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "minirnn: error: --init-from is not available for 'train series'"


def test_recursive_forecasts_of_a_positive_series_stay_positive_and_finite():
    """Lynx (shipped): fitted at origins 79-107, the combination includes a linear AR on the
    levels that extrapolates below zero. Fed the combined forecast, the log member used to
    fail ("takes logarithms, but the series has a value <= 0") at 3 of 12 origins, and a
    combined mean <= 0 gave NaN intervals at 7: now each member recurses on its own
    forecasts and a member forecasting <= 0 for a positive series sits out that value."""
    import warnings

    from minirnn.apps.datasets import load

    y = np.asarray(load("lynx").values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no log of a non-positive value anywhere
        for origin in range(79, len(y) - 6, 2):
            out = Forecaster(seed=0).fit(y[:origin]).forecast(6)
            assert np.all(out.mean > 0), origin
            for level in (80, 95):
                assert np.all(np.isfinite(out.lower[level])), origin
                assert np.all(out.lower[level] <= out.mean), origin
                assert np.all(out.mean <= out.upper[level]), origin


def test_forecast_within_the_horizon_is_the_last_origins_prediction():
    """Up to H steps the forecast is one prediction from the last value, as evaluate's."""
    y = _seasonal(120, 12, seed=4)
    fc = Forecaster(horizon=3, seed=0, **FAST).fit(y, train_size=84)
    np.testing.assert_allclose(fc.forecast(3).mean,
                               fc.predict_origins(y, None, [len(y) - 1])[0], rtol=1e-12)


def test_load_table_interpolates_gaps_and_trims_edges(tmp_path):
    path = _write(tmp_path / "gaps.csv", ["2000-01,,1", "2000-02,2,", "2000-03,NA,3",
                                          "2000-04,6,4", "2000-05,,5"])
    with pytest.raises(ValueError, match="line 2: column 'Value' has a missing value"):
        load_table(path, "Value", features=["Extra"])
    table = load_table(path, "Value", features=["Extra"], missing="interpolate")
    np.testing.assert_array_equal(table.values, [2, 4, 6])  # rows 2000-02..04 kept
    np.testing.assert_array_equal(table.features[:, 0], [3, 3, 4])  # edge: nearest value
    assert [str(d) for d in table.dates] == ["2000-02", "2000-03", "2000-04"]
    assert any("2 row(s) without a value of 'Value'" in n for n in table.inferred)
    assert any("1 missing value(s) of 'Value' interpolated (first on line 4)" in n
               for n in table.inferred)


@pytest.mark.parametrize("rows,message", [
    (["2000-01,1,1", "2000-02,,2", "2000-03,,3"], r"'Value' has 1 value\(s\) among 3 rows"),
    (["2000-01,1,", "2000-02,2,", "2000-03,3,"], r"'Extra' has 0 value\(s\) in lines 2..4"),
])
def test_load_table_refuses_what_it_cannot_interpolate(tmp_path, rows, message):
    path = _write(tmp_path / "few.csv", rows)
    with pytest.raises(ValueError, match=message):
        load_table(path, "Value", features=["Extra"], missing="interpolate")
    with pytest.raises(ValueError, match="missing must be 'error' or 'interpolate', got 'x'"):
        load_table(path, "Value", missing="x")


def test_cli_series_with_gaps_interpolates_by_default_or_stops(tmp_path, capsys):
    rng = np.random.default_rng(0)
    months = [f"{2000 + i // 12}-{i % 12 + 1:02d}" for i in range(96)]
    y = 10 + np.sin(np.arange(96) * 2 * np.pi / 12) + rng.normal(0, 0.1, 96)
    cells = [f"{v:.4f}" for v in y]
    cells[0] = cells[40] = cells[41] = ""
    path = _write(tmp_path / "gaps.csv", [f"{m},{c}" for m, c in zip(months, cells, strict=True)],
                  header="Month,Sales")
    assert main(["train", "series", "--csv", str(path), "--column", "Sales", "--no-network",
                 "--no-plot", "--output", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) without a value of 'Sales'" in out
    assert "2 missing value(s) of 'Sales' interpolated (first on line 42)" in out
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["train_size"] + report["test_targets"] == 95
    assert main(["train", "series", "--csv", str(path), "--column", "Sales", "--missing",
                 "error", "--no-plot", "--output", str(tmp_path / "stop")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "line 2: column 'Sales' has a missing value" in err
    assert not (tmp_path / "stop").exists()


@pytest.mark.parametrize("sep,cells,expected", [
    (";", ["1,5", "2,25", "-3,0"], [1.5, 2.25, -3.0]),  # a spreadsheet with decimal commas
    ("\t", ["1.5", "2,25", "3"], [1.5, 2.25, 3.0]),
    (",", ["1.5", "2.25", "3"], [1.5, 2.25, 3.0]),
])
def test_load_table_reads_semicolon_and_tab_separated_files(tmp_path, sep, cells, expected):
    rows = [f"2000-0{m + 1}{sep}{c}{sep}7" for m, c in enumerate(cells)]
    path = _write(tmp_path / "s.csv", rows, header=sep.join(["Date", "Value", "Extra"]))
    table = load_table(path, "Value", features=["Extra"])
    np.testing.assert_array_equal(table.values, expected)
    assert table.date_column == "Date" and table.features[:, 0].tolist() == [7, 7, 7]


def test_thousands_separators_are_refused_with_a_hint(tmp_path):
    path = _write(tmp_path / "t.csv", ['2000-01,"12,079"', "2000-02,12100"], header="Date,Value")
    with pytest.raises(ValueError, match=r"line 2: .*'12,079'.*thousands separators\? write "
                                         r"12079"):
        load_table(path, "Value")


@pytest.mark.parametrize("cells,iso", [
    (["1959Q1", "1959Q2", "1959 Q3", "1959-Q4"], ["1959-01", "1959-04", "1959-07", "1959-10"]),
    (["Q4 1999", "Q1-2000"], ["1999-10", "2000-01"]),
    (["1991 Jul", "1991 Aug", "Sep 1991", "October-1991"],
     ["1991-07", "1991-08", "1991-09", "1991-10"]),
    (["01/31/2015", "02/28/2015"], ["2015-01-31", "2015-02-28"]),  # month first: 31 > 12
    (["31/12/2020 23:30", "01/01/2021 00:00"], ["2020-12-31T23:30", "2021-01-01T00:00"]),
])
def test_common_non_iso_dates_are_read(cells, iso):
    np.testing.assert_array_equal(parse_dates(cells), np.array(iso, dtype="datetime64"))


@pytest.mark.parametrize("cells", [
    ["01/02/2015", "02/02/2015"],  # day or month first? nothing decides
    ["1959Q1", "1959-02"],  # mixed forms
    ["1991 Foo", "1991 Bar"],
])
def test_ambiguous_or_mixed_dates_are_not_guessed(cells):
    with pytest.raises(ValueError, match="not an ISO 8601 date .* nor a quarter"):
        parse_dates(cells)


def test_month_end_dates_are_monthly_and_continue_as_month_ends():
    dates = parse_dates(["2022-10-31", "2022-11-30", "2022-12-31"])
    assert infer_frequency(dates) == ("M", 1) and calendar_periods(dates) == (12,)
    assert [str(d) for d in future_dates(dates, 3)] == ["2023-01-31", "2023-02-28",
                                                        "2023-03-31"]
    firsts = parse_dates(["2022-11-01", "2022-12-01"])
    assert [str(d) for d in future_dates(firsts, 2)] == ["2023-01-01", "2023-02-01"]


def test_load_table_reads_quarter_dates(tmp_path):
    path = _write(tmp_path / "q.csv", ["1959Q1,1", "1959Q2,2", "1959Q3,3"], header="quarter,gdp")
    table = load_table(path, "gdp")
    assert table.date_column == "quarter" and str(table.dates[-1]) == "1959-07"
    assert any("every 3 months" in note for note in table.inferred)


def test_load_table_finds_dates_after_a_row_index_and_under_longer_names(tmp_path):
    path = _write(tmp_path / "pandas.csv", ["0,2015-01,1", "1,2015-02,2", "2,2015-03,3"],
                  header=",Month,Sales")
    table = load_table(path, "Sales")
    assert table.index_column == "" and table.date_column == "Month"
    assert str(table.dates[-1]) == "2015-03"
    path = _write(tmp_path / "gmt.csv", ["2021-05-01 00:00:00+00:00,0.5",
                                         "2021-05-01 00:30:00+00:00,0.7"],
                  header="datetime_gmt,solar")
    table = load_table(path, "solar")
    assert table.date_column == "datetime_gmt"
    assert any("(every 30 minutes)" in note for note in table.inferred)


def test_time_zone_offsets_are_converted_to_utc_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dates = parse_dates(["2020-01-01 00:30:00+0100", "2020-01-01T01:00:00Z"])
    assert [str(d) for d in dates] == ["2019-12-31T23:30:00", "2020-01-01T01:00:00"]


def test_cli_csv_folder_is_named_as_a_folder(tmp_path, capsys):
    assert main(["train", "series", "--csv", str(tmp_path), "--column", "x", "--no-plot",
                 "--output", str(tmp_path / "o")]) == 2
    assert "a folder, not a CSV file" in capsys.readouterr().err
