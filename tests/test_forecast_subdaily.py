"""Issue 33: series the forecaster was not tuned on -- half-hourly data with a daily and a
weekly season (the week is the season when weekdays differ from weekends)."""

from __future__ import annotations

import numpy as np
import pytest

from minirnn.apps.forecasting import Forecaster, detect_season

DAY, WEEK = 48, 336
HALF_HOURLY = (DAY, WEEK)  # what calendar_periods gives for half-hourly dates


def _half_hourly(weeks: int, seed: int, weekend: float) -> tuple[np.ndarray, np.ndarray]:
    """A daily cycle plus AR(1) noise, ``weekend`` lower on Saturdays and Sundays; dates
    every 30 minutes from a Monday."""
    rng = np.random.default_rng(seed)
    n = WEEK * weeks
    t = np.arange(n)
    e, a = rng.normal(0, 0.3, n), np.zeros(n)
    for i in range(1, n):
        a[i] = 0.8 * a[i - 1] + e[i]
    y = 10 + np.sin(2 * np.pi * t / DAY) - weekend * ((t // DAY) % 7 >= 5) + a
    dates = np.datetime64("2021-01-04T00:00") + t * np.timedelta64(30, "m")
    return y, dates


@pytest.mark.parametrize("seed", range(4))
def test_the_week_is_the_season_when_weekends_differ(seed):
    y, _ = _half_hourly(4, seed, weekend=1.0)
    assert detect_season(y, calendar=HALF_HOURLY) == WEEK
    # a daily cycle alone: the day (the week's seasonal naive errs as much), never a lag
    # near the day such as 47, nor the 52 of weekly data
    y, _ = _half_hourly(4, seed, weekend=0.0)
    assert detect_season(y, calendar=HALF_HOURLY) == DAY


@pytest.mark.parametrize("seed", range(3))
def test_hourly_data_with_a_daily_cycle_alone_keep_the_day(seed):
    """Ten weeks of hourly values, a 24-hour cycle plus white noise and no weekly pattern:
    the autocorrelation at 168 corrected for its fewer pairs beat the day's (0.960 vs
    0.954), which chose the week and cost ETS its season."""
    rng = np.random.default_rng(seed)
    t = np.arange(24 * 7 * 10)
    y = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 3, len(t))
    assert detect_season(y, calendar=(24, 168)) == 24
    assert detect_season(y) == 24
    weekly = y - 8 * ((t // 24) % 7 >= 5)
    assert detect_season(weekly, calendar=(24, 168)) == 168


def test_undated_half_hourly_data_get_the_week_too():
    y, _ = _half_hourly(4, 0, weekend=1.0)
    assert detect_season(y) == WEEK
    # too short to see three weeks: the day
    assert detect_season(y[: 2 * WEEK + DAY], calendar=HALF_HOURLY) == DAY


def test_a_half_hourly_forecast_differences_by_the_week_and_beats_the_naive_ones(tmp_path):
    y, dates = _half_hourly(5, 1, weekend=1.0)
    n = 4 * WEEK
    fc = Forecaster(horizon=DAY, network=False, classical=False).fit(
        y, dates=dates, train_size=n)
    assert fc.season_ == WEEK
    assert any(m.transform.season == WEEK for m in fc.members_)  # seasonal differencing
    m = fc.evaluate().metrics
    assert m["model"]["rmse"] < m["seasonal naive"]["rmse"]
    assert m["model"]["rmse"] < 0.5 * m["persistence"]["rmse"]
    # the forecast a day past the end, and from a saved file the same
    future = fc.forecast(DAY)
    assert future.mean.shape == (DAY,) and np.all(np.isfinite(future.mean))
    assert future.dates[0] == dates[-1] + np.timedelta64(30, "m")
    fc.save(tmp_path / "m.npz")
    again = Forecaster.load(tmp_path / "m.npz").forecast(DAY)
    np.testing.assert_allclose(again.mean, future.mean, rtol=1e-12)


def test_the_day_alone_is_weaker_than_the_week_on_a_weekly_pattern():
    # What the detection buys: the same forecaster told the season is the day loses to
    # the week's seasonal naive at a day's horizon (weekend mornings forecast as Fridays).
    y, dates = _half_hourly(5, 2, weekend=1.0)
    n = 4 * WEEK
    daily = Forecaster(horizon=DAY, season=DAY, network=False, classical=False).fit(
        y, dates=dates, train_size=n)
    weekly = Forecaster(horizon=DAY, network=False, classical=False).fit(
        y, dates=dates, train_size=n)
    o = daily.evaluate().origins
    st = np.arange(1, DAY + 1)
    truth = y[o[:, None] + st]
    week_naive = float(np.sqrt(np.mean((y[o[:, None] + st - WEEK] - truth) ** 2)))
    assert weekly.evaluate().metrics["model"]["rmse"] < week_naive
    assert weekly.evaluate().metrics["model"]["rmse"] < daily.evaluate().metrics["model"][
        "rmse"]


def test_the_look_back_of_a_weekly_season_spans_a_day():
    y, dates = _half_hourly(5, 3, weekend=1.0)
    fc = Forecaster(network=False, classical=False).fit(y, dates=dates, train_size=4 * WEEK)
    assert fc.season_ == WEEK and fc.look_back_ == DAY + 1
    hourly = np.arange(0, len(y), 2)  # the same series every hour: a day of 24, a week of 168
    fc = Forecaster(network=False, classical=False).fit(
        y[hourly], dates=dates[hourly], train_size=len(hourly) * 4 // 5)
    assert fc.season_ == 168 and fc.look_back_ == 25
    assert Forecaster(look_back=10, network=False, classical=False).fit(
        y, dates=dates, train_size=4 * WEEK).look_back_ == 10  # as given
