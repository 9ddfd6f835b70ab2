"""Series helpers of minirnn.apps.data: windows, scalers, CSV loading, splits, baselines.

The last tests reproduce DESIGN.md's reference facts on the copies of the real series that
ship with the package (minirnn/apps/datasets).
"""

import pathlib
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.apps import datasets
from minirnn.apps.data import (
    LinearAR,
    MinMaxScaler,
    NotFittedError,
    StandardScaler,
    chronological_split,
    fit_linear_ar,
    load_csv_column,
    persistence_forecast,
    predict_linear_ar,
    rmse,
    seasonal_naive_forecast,
    sliding_windows,
    split_sizes,
)
from minirnn.check.testing import arrays_for, seeds

TEMPS = datasets.path("temperatures")
AIRLINE = datasets.path("airline")


@st.composite
def series_arrays(draw, min_len=1, max_len=40, max_features=3, bound=100.0):
    """A finite series, (T,) or (T, F)."""
    t = draw(st.integers(min_len, max_len))
    shape = draw(st.sampled_from([(t,), (t, draw(st.integers(1, max_features)))]))
    return draw(arrays_for(shape, bound=bound))


# --- sliding_windows -------------------------------------------------------------------------

@given(data=st.data(), series=series_arrays(min_len=2))
def test_sliding_windows_line_up_with_the_series(data, series):
    t = series.shape[0]
    look_back = data.draw(st.integers(1, t - 1))
    horizon = data.draw(st.integers(1, t - look_back))
    x, y = sliding_windows(series, look_back, horizon)
    n = t - look_back - horizon + 1
    f = 1 if series.ndim == 1 else series.shape[1]
    assert x.shape == (n, look_back, f)
    assert y.shape == ((n, horizon) if f == 1 else (n, horizon, f))
    seq = series.reshape(t, f)
    for i in range(n):
        np.testing.assert_array_equal(x[i], seq[i:i + look_back])
        target = seq[i + look_back:i + look_back + horizon]
        np.testing.assert_array_equal(y[i].reshape(horizon, f), target)
    # The last target is the series' last value: no start position is dropped.
    np.testing.assert_array_equal(y[-1].reshape(horizon, f)[-1], seq[-1])
    assert x.dtype == series.dtype


def test_sliding_windows_conventions():
    s = np.arange(6.0)
    x, y = sliding_windows(s, 3, 2)
    np.testing.assert_array_equal(x[:, :, 0], [[0, 1, 2], [1, 2, 3]])
    np.testing.assert_array_equal(y, [[3, 4], [4, 5]])
    # (T, 1) is univariate too: same targets as (T,).
    x1, y1 = sliding_windows(s[:, None], 3, 2)
    np.testing.assert_array_equal(x1, x)
    np.testing.assert_array_equal(y1, y)
    # Multivariate keeps the feature axis.
    assert sliding_windows(np.zeros((6, 2)), 3, 2)[1].shape == (2, 2, 2)
    # Copies, not views: writing into the windows leaves the series alone.
    x[:] = -1.0
    y[:] = -1.0
    np.testing.assert_array_equal(s, np.arange(6.0))
    # Integer series become float64; float32 stays float32; exact fit gives one window.
    assert sliding_windows([1, 2, 3], 2)[0].dtype == np.float64
    assert sliding_windows(np.ones(3, np.float32), 2)[0].dtype == np.float32
    assert sliding_windows(s, 5, 1)[0].shape == (1, 5, 1)


@pytest.mark.parametrize("args,exc,match", [
    ((np.arange(5.0), 4, 2), ValueError,
     r"look_back=4 \+ horizon=2 = 6 steps are needed, the series has length 5"),
    ((np.arange(5.0), 5), ValueError, "look_back=5 .* length 5"),
    ((np.array([1.0, np.nan, 2.0]), 1), ValueError, r"series contains NaN or Inf .*index \(1,\)"),
    ((np.array([1.0, np.inf, 2.0]), 1), ValueError, "NaN or Inf"),
    ((np.array(["1", "2", "3"]), 1), TypeError, "series must be a numeric array"),
    ((np.array([True, False, True]), 1), TypeError, "series must be a numeric array"),
    ((np.zeros((4, 2, 2)), 1), ValueError, "series must be 1-D or 2-D, got 3-D"),
    ((np.zeros(0), 1), ValueError, "series must not be empty"),
    ((np.arange(5.0), 0), ValueError, "look_back must be greater than zero"),
    ((np.arange(5.0), 2, 1.0), TypeError, "horizon must be an int"),
])
def test_sliding_windows_errors(args, exc, match):
    with pytest.raises(exc, match=match):
        sliding_windows(*args)


# --- scalers -------------------------------------------------------------------------------

@pytest.mark.filterwarnings("error")   # no division-by-zero warnings on constant columns
@given(series=series_arrays(min_len=1), scaler_kind=st.sampled_from(["minmax", "standard"]),
       const=st.booleans())
def test_scalers_round_trip(series, scaler_kind, const):
    if const:   # make the first feature constant
        if series.ndim == 1:
            series = np.full_like(series, series[0])
        else:
            series[:, 0] = series[0, 0]
    scaler = MinMaxScaler((-1, 2)) if scaler_kind == "minmax" else StandardScaler()
    z = scaler.fit_transform(series)
    assert z.shape == series.shape and z.dtype == series.dtype
    np.testing.assert_allclose(scaler.inverse_transform(z), series, rtol=1e-9, atol=1e-9)
    cols = z.reshape(series.shape[0], -1)
    raw = series.reshape(series.shape[0], -1)
    constant = raw.max(axis=0) == raw.min(axis=0)
    if scaler_kind == "minmax":
        np.testing.assert_allclose(cols.min(axis=0), -1.0, atol=1e-9)
        np.testing.assert_allclose(cols.max(axis=0)[~constant], 2.0, atol=1e-9)
        np.testing.assert_array_equal(cols[:, constant], -1.0)
    else:
        np.testing.assert_allclose(cols.mean(axis=0), 0.0, atol=1e-9)
        spread = raw.std(axis=0)
        well_spread = ~constant & (spread > 1e-6 * (np.abs(raw).max(axis=0) + 1))
        np.testing.assert_allclose(cols.std(axis=0)[well_spread], 1.0, rtol=1e-6)
        np.testing.assert_allclose(cols[:, constant], 0.0, atol=1e-9)


@given(train=series_arrays(min_len=2, max_features=1).map(np.ravel),
       test=arrays_for((12,), bound=200.0), scaler_kind=st.sampled_from(["minmax", "standard"]))
def test_univariate_scaler_commutes_with_windowing(train, test, scaler_kind):
    scaler = (MinMaxScaler() if scaler_kind == "minmax" else StandardScaler()).fit(train)
    x, y = sliding_windows(test, 4, 3)
    xs, ys = sliding_windows(scaler.transform(test), 4, 3)
    np.testing.assert_allclose(scaler.transform(x), xs, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.transform(y), ys, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(ys), y, rtol=1e-9, atol=1e-9)


def test_scaler_statistics_follow_scikit_learn():
    x = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    mm = MinMaxScaler().fit(x)
    np.testing.assert_array_equal(mm.data_min_, [1, 10])
    np.testing.assert_array_equal(mm.data_range_, [4, 0])
    np.testing.assert_array_equal(mm.scale_, [0.25, 1.0])
    np.testing.assert_array_equal(mm.transform(x), [[0, 0], [0.5, 0], [1, 0]])
    np.testing.assert_array_equal(mm.transform([[9.0, 11.0]]), [[2.0, 1.0]])   # no clipping
    ss = StandardScaler().fit(x)
    np.testing.assert_allclose(ss.mean_, [3, 10])
    np.testing.assert_allclose(ss.var_, [8 / 3, 0])           # ddof = 0
    np.testing.assert_allclose(ss.scale_, [np.sqrt(8 / 3), 1])
    assert ss.n_features_in_ == 2 and MinMaxScaler().fit(np.ones(4)).n_features_in_ == 1
    # A constant column that rounding would leave with a tiny variance is still constant.
    c = np.full((7, 1), 0.1)
    np.testing.assert_array_equal(StandardScaler().fit(c).var_, [0.0])
    # float32 in, float32 out; per-sample axes can be many.
    x32 = np.random.default_rng(0).random((3, 4, 2)).astype(np.float32)
    assert MinMaxScaler().fit(x32).transform(x32).dtype == np.float32


@pytest.mark.parametrize("scaler_cls", [MinMaxScaler, StandardScaler])
def test_scaler_state_dict_saves_without_pickle(scaler_cls, tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(5.0, 3.0, size=(50, 3))
    x[:, 2] = 4.0
    scaler = scaler_cls().fit(x)
    state = scaler.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    np.savez(tmp_path / "scaler.npz", **state)
    with np.load(tmp_path / "scaler.npz", allow_pickle=False) as stored:
        loaded = dict(stored)
    other = scaler_cls()
    other.load_state_dict(loaded)
    z = rng.normal(size=(6, 3))
    np.testing.assert_array_equal(other.transform(z), scaler.transform(z))
    np.testing.assert_array_equal(other.inverse_transform(z), scaler.inverse_transform(z))
    # state_dict returns copies.
    next(iter(state.values()))[...] = 123.0
    np.testing.assert_array_equal(other.transform(z), scaler.transform(z))


def test_min_max_state_dict_carries_feature_range():
    a = MinMaxScaler((-1, 1)).fit(np.arange(5.0))
    b = MinMaxScaler()
    b.load_state_dict(a.state_dict())
    assert b.feature_range == (-1.0, 1.0)
    np.testing.assert_array_equal(b.transform([0.0, 4.0]), [-1.0, 1.0])


@pytest.mark.parametrize("scaler_cls", [MinMaxScaler, StandardScaler])
@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_scaler_used_before_fit(scaler_cls, method):
    with pytest.raises(NotFittedError, match=rf"{scaler_cls.__name__} is not fitted yet: "
                                             rf"call fit\(x\).* before {method}"):
        getattr(scaler_cls(), method)(np.ones(3))
    with pytest.raises(ValueError, match="state_dict"):   # NotFittedError is a ValueError
        scaler_cls().state_dict()


@pytest.mark.parametrize("call,exc,match", [
    (lambda: MinMaxScaler((1, 0)), ValueError, r"lo < hi, got \(1.0, 0.0\)"),
    (lambda: MinMaxScaler((0, np.inf)), ValueError, "feature_range must be finite"),
    (lambda: MinMaxScaler(1), TypeError, "feature_range must be a pair"),
    (lambda: MinMaxScaler((0, 1, 2)), TypeError, "feature_range must be a pair"),
    (lambda: MinMaxScaler().fit(np.array([1.0, np.nan])), ValueError, "x contains NaN"),
    (lambda: MinMaxScaler().fit(np.array(["a"])), TypeError, "x must be a numeric array"),
    (lambda: StandardScaler().fit(np.zeros((0, 2))), ValueError, "x must not be empty"),
    (lambda: StandardScaler().fit(3.0), ValueError, "at least 1 dimension"),
    (lambda: StandardScaler().fit(np.ones((4, 2))).transform(np.ones((4, 3))), ValueError,
     r"x must have 2 features on its last axis \(the number seen by fit\), got shape \(4, 3\)"),
    (lambda: StandardScaler().fit(np.ones((4, 2))).transform(np.ones(2)), ValueError,
     "2 features"),
    (lambda: StandardScaler().load_state_dict({"mean": np.zeros(2)}), KeyError,
     r"missing \['var'\], unexpected \[\]"),
    (lambda: StandardScaler().load_state_dict({"mean": np.zeros(2), "var": np.ones(3)}),
     ValueError, "same shape"),
    (lambda: StandardScaler().load_state_dict({"mean": np.zeros(2), "var": -np.ones(2)}),
     ValueError, "non-negative"),
    (lambda: MinMaxScaler().load_state_dict(
        {"feature_range": np.array([0.0, 1.0]), "data_min": np.ones(1), "data_max": np.zeros(1)}),
     ValueError, "below"),
    (lambda: MinMaxScaler().load_state_dict(
        {"feature_range": np.zeros(3), "data_min": np.ones(1), "data_max": np.ones(1)}),
     ValueError, "expected shape"),
])
def test_scaler_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_failed_load_state_dict_leaves_scaler_unchanged():
    scaler = StandardScaler().fit(np.arange(4.0))
    before = scaler.state_dict()
    with pytest.raises(ValueError):
        scaler.load_state_dict({"mean": np.zeros(1), "var": -np.ones(1)})
    for key, value in scaler.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


# --- CSV -----------------------------------------------------------------------------------

def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def test_load_csv_column_reads_and_sorts_by_date(tmp_path):
    path = write(tmp_path, '"Date","Temp","Rain"\n'
                           '"1981-01-03",18.8,0\n'
                           '\n'
                           '"1981-01-01",20.7,1.5\n'
                           '"1981-01-02", 17.9 ,0\n')
    np.testing.assert_array_equal(load_csv_column(path, "Temp"), [18.8, 20.7, 17.9])
    np.testing.assert_array_equal(load_csv_column(str(path), 2), [0, 1.5, 0])
    values = load_csv_column(path, "Temp", date_column="Date")
    np.testing.assert_array_equal(values, [20.7, 17.9, 18.8])
    values, dates = load_csv_column(path, "Temp", date_column=0, return_dates=True)
    assert dates.tolist() == ["1981-01-01", "1981-01-02", "1981-01-03"]
    np.testing.assert_array_equal(values, [20.7, 17.9, 18.8])
    assert load_csv_column(path, "Temp", dtype=np.float32).dtype == np.float32


def test_load_csv_column_formats(tmp_path):
    # BOM, month dates, equal dates stay in file order, custom date format.
    path = write(tmp_path, 'Month,Passengers\n1949-02,118\n1949-01,112\n1949-01,113\n',
                 encoding="utf-8-sig")
    np.testing.assert_array_equal(load_csv_column(path, "Passengers", date_column="Month"),
                                  [112, 113, 118])
    path = write(tmp_path, "day,value\n02/01/1981,2\n31/12/1980,1\n", name="eu.csv")
    np.testing.assert_array_equal(
        load_csv_column(path, "value", date_column="day", date_format="%d/%m/%Y"), [1, 2])


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1,
                       max_size=30), seed=seeds())
def test_load_csv_column_round_trips_floats(values, seed):
    rng = np.random.default_rng(seed)
    days = np.datetime64("2000-01-01") + np.arange(len(values))
    order = rng.permutation(len(values))
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "series.csv"
        lines = ["date,value"] + [f"{days[i]},{values[i]!r}" for i in order]
        path.write_text("\n".join(lines) + "\n")
        loaded, dates = load_csv_column(path, "value", date_column="date", return_dates=True)
    np.testing.assert_array_equal(loaded, values)          # repr round-trips exactly
    assert dates.tolist() == [str(d) for d in days]


@pytest.mark.parametrize("text,kwargs,exc,match", [
    ("", {}, ValueError, "is empty: expected a header row"),
    ("\n\n", {}, ValueError, "is empty"),
    ("Date,Temp\n", {}, ValueError, "has a header but no data rows"),
    ("Date,Temp\n1981-01-01,20.7\n", {"column": "temp"}, ValueError,
     r"column 'temp' not found in .*; available columns: \['Date', 'Temp'\]"),
    ("Date,Temp\n1981-01-01,20.7\n", {"column": 5}, ValueError,
     r"column=5 is out of range: .* has 2 columns \['Date', 'Temp'\]"),
    ("Date,Temp\n1981-01-01,20.7\n", {"date_column": "Day"}, ValueError,
     r"date_column 'Day' not found .*available columns: \['Date', 'Temp'\]"),
    ("Date,Temp\n1981-01-01,20.7\n1981-01-02,?0.2\n", {}, ValueError,
     r"line 3: column 'Temp' has a non-numeric value '\?0.2'"),
    ("Date,Temp\n1981-01-01,20.7\n\n1981-01-02,\n", {}, ValueError,
     "line 4: column 'Temp' has an empty value"),
    ("Date,Temp\n1981-01-01,nan\n", {}, ValueError, "line 2: .* non-finite value 'nan'"),
    ("Date,Temp\n1981-01-01\n", {}, ValueError, "line 2: expected at least 2 fields, got 1"),
    ("Date,Temp\n01/02/1981,1\n", {"date_column": "Date"}, ValueError,
     r"line 2: cannot read date '01/02/1981' as an ISO 8601 date \(pass date_format"),
    ("Date,Temp\n1981-01-01,1\n", {"return_dates": True}, ValueError,
     "return_dates=True needs date_column"),
    ("Date,Temp\n1981-01-01,1\n", {"column": 1.0}, TypeError, "column must be a column name"),
    ("A,A\n1,2\n", {"column": "A"}, ValueError, "'A' appears 2 times"),
])
def test_load_csv_column_errors(tmp_path, text, kwargs, exc, match):
    path = write(tmp_path, text)
    kwargs = {"column": "Temp", **kwargs}
    with pytest.raises(exc, match=match):
        load_csv_column(path, **kwargs)


def test_load_csv_column_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"CSV file not found: .*nope\.csv"):
        load_csv_column(tmp_path / "nope.csv", "Temp")


def test_load_shared_temperatures():
    temps, dates = load_csv_column(TEMPS, "Temp", date_column="Date", return_dates=True)
    assert temps.shape == (3650,)
    assert temps[0] == 20.7 and dates[0] == "1981-01-01" and dates[-1] == "1990-12-31"
    assert temps.min() >= 0.0 and temps.max() < 30.0


def test_load_shared_airline():
    passengers = load_csv_column(AIRLINE, "Passengers", date_column="Month")
    assert passengers.shape == (144,)
    assert passengers[0] == 112 and passengers[-1] == 432


# --- chronological_split ---------------------------------------------------------------------

@given(n=st.integers(3, 500), three=st.booleans(), data=st.data())
def test_chronological_split_keeps_order_and_alignment(n, three, data):
    if three:
        f = data.draw(st.lists(st.integers(1, 8), min_size=3, max_size=3))
    else:
        f = data.draw(st.lists(st.integers(1, 8), min_size=2, max_size=2))
    fractions = tuple(v / sum(f) for v in f)
    try:
        sizes = split_sizes(n, fractions)
    except ValueError:
        return   # some part would be empty: covered by test_chronological_split_errors
    x = np.arange(n)
    y = np.arange(n * 2).reshape(n, 2)
    parts = chronological_split(x, y, fractions=fractions)
    k = len(fractions)
    assert len(parts) == 2 * k
    x_parts, y_parts = parts[:k], parts[k:]
    assert tuple(len(p) for p in x_parts) == sizes
    np.testing.assert_array_equal(np.concatenate(x_parts), x)
    np.testing.assert_array_equal(np.concatenate(y_parts), y)
    for xp, yp in zip(x_parts, y_parts, strict=True):
        np.testing.assert_array_equal(yp[:, 0], 2 * xp)
    # Every part but the last is floor(cumulative fraction * n) at its boundary.
    assert sizes[0] == int(np.floor(fractions[0] * n + 1e-9))


def test_chronological_split_reference_sizes():
    assert split_sizes(3650) == (2445, 1205)
    assert split_sizes(144) == (96, 48)
    assert split_sizes(100, (0.29, 0.71)) == (29, 71)          # not 28 by rounding
    assert split_sizes(10, (0.6, 0.2, 0.2)) == (6, 2, 2)
    series = np.arange(10.0)
    train, test = chronological_split(series, fractions=[0.7, 0.3])
    assert np.shares_memory(train, series) and np.shares_memory(test, series)   # views


@pytest.mark.parametrize("arrays,fractions,exc,match", [
    ((np.arange(10),), (0.5, 0.6), ValueError, r"fractions must sum to 1, .*sum 1.1"),
    ((np.arange(10),), (1.0,), ValueError, "2 \\(train, test\\) or 3"),
    ((np.arange(10),), (0.25,) * 4, ValueError, "got 4"),
    ((np.arange(10),), (1.2, -0.2), ValueError, r"every fraction must be in \(0, 1\)"),
    ((np.arange(10),), 0.7, TypeError, "fractions must be a tuple"),
    ((np.arange(10),), ("a", "b"), TypeError, "fractions must be numbers"),
    ((np.arange(2),), (0.2, 0.8), ValueError,
     r"2 samples are too few .*sizes \(0, 2\)"),
    ((np.arange(5), np.arange(4)), (0.5, 0.5), ValueError, r"lengths \[5, 4\]"),
    ((np.float64(1.0),), (0.5, 0.5), ValueError, "at least 1 dimension"),
    ((), (0.5, 0.5), TypeError, "at least one array"),
])
def test_chronological_split_errors(arrays, fractions, exc, match):
    with pytest.raises(exc, match=match):
        chronological_split(*arrays, fractions=fractions)


# --- baselines -------------------------------------------------------------------------------

@given(series=series_arrays(min_len=3), data=st.data())
def test_persistence_repeats_the_last_value(series, data):
    t = series.shape[0]
    look_back = data.draw(st.integers(1, t - 1))
    horizon = data.draw(st.integers(1, t - look_back))
    x, y = sliding_windows(series, look_back, horizon)
    pred = persistence_forecast(x, horizon)
    assert pred.shape == y.shape                     # same layout as the targets
    seq = series.reshape(t, -1)
    last = seq[look_back - 1:look_back - 1 + x.shape[0]]          # (N, F)
    np.testing.assert_array_equal(pred.reshape(x.shape[0], horizon, -1),
                                  np.repeat(last[:, None, :], horizon, axis=1))


def test_persistence_accepts_2d_windows():
    np.testing.assert_array_equal(persistence_forecast([[1.0, 2.0], [3.0, 4.0]]), [[2.0], [4.0]])


def test_seasonal_naive_repeats_the_last_season():
    series = np.arange(20.0)
    x, y = sliding_windows(series, 4, 6)  # windows of 4, six steps ahead, season 3
    pred = seasonal_naive_forecast(x, 3, 6)
    assert pred.shape == y.shape
    # from the window ending at t: t-2, t-1, t, t-2, t-1, t (each value one season back)
    t = np.arange(3, 3 + x.shape[0])[:, None]
    np.testing.assert_array_equal(pred, t + np.array([-2, -1, 0, -2, -1, 0]))
    with pytest.raises(ValueError, match="at least one season"):
        seasonal_naive_forecast(x, 5)


def test_the_forecaster_uses_these_baselines():
    """One home of the naive forecasts: the forecaster's test-span baselines are these."""
    from minirnn.apps.forecasting import Forecaster

    values = datasets.load("airline").values
    fc = Forecaster(network=False, season=12, horizon=2).fit(values, train_size=96)
    ev = fc.evaluate()
    q = fc.baseline_order_
    span = max(12, q)
    lags = values[ev.origins[:, None] + np.arange(1 - span, 1)[None, :]]
    np.testing.assert_array_equal(ev.baselines["seasonal naive"],
                                  seasonal_naive_forecast(lags[:, span - 12:], 12, 2))
    np.testing.assert_array_equal(ev.baselines["persistence"], persistence_forecast(lags, 2))
    np.testing.assert_array_equal(ev.baselines[f"linear AR({q})"],
                                  predict_linear_ar(fc.baseline_ar_, lags[:, span - q:]))


@given(n_extra=st.integers(0, 20), look_back=st.integers(1, 4), f=st.integers(1, 3),
       horizon=st.integers(1, 3), seed=seeds())
def test_linear_ar_recovers_an_exact_linear_map(n_extra, look_back, f, horizon, seed):
    rng = np.random.default_rng(seed)
    n = look_back * f + 1 + n_extra
    x = rng.standard_normal((n, look_back, f))
    w = rng.standard_normal((look_back * f, horizon * f))
    b = rng.standard_normal(horizon * f)
    y = (x.reshape(n, -1) @ w + b).reshape(n, horizon, f)
    model = fit_linear_ar(x, y)
    assert isinstance(model, LinearAR)
    assert model.coef.shape == (look_back * f, horizon * f)
    np.testing.assert_allclose(model.coef, w, atol=1e-8)
    np.testing.assert_allclose(model.intercept, b, atol=1e-8)
    x_new = rng.standard_normal((5, look_back, f))
    pred = predict_linear_ar(model, x_new)
    assert pred.shape == (5, horizon, f)
    np.testing.assert_allclose(pred, (x_new.reshape(5, -1) @ w + b).reshape(5, horizon, f),
                               atol=1e-8)


def test_linear_ar_on_a_noisy_ar2_process():
    rng = np.random.default_rng(0)
    s = np.zeros(3000)
    for t in range(2, s.size):
        s[t] = 1.0 + 0.6 * s[t - 1] - 0.3 * s[t - 2] + 0.1 * rng.standard_normal()
    x, y = sliding_windows(s, 2)
    model = fit_linear_ar(x, y)
    np.testing.assert_allclose(model.coef[:, 0], [-0.3, 0.6], atol=0.03)   # oldest lag first
    assert model.intercept[0] == pytest.approx(1.0, abs=0.05)
    assert rmse(predict_linear_ar(model, x), y) == pytest.approx(0.1, rel=0.05)
    assert rmse(predict_linear_ar(model, x), y) < rmse(persistence_forecast(x), y)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: persistence_forecast(np.ones(3)), ValueError, "x_windows must be 2-D or 3-D"),
    (lambda: persistence_forecast(np.ones((2, 3)), 0), ValueError, "horizon"),
    (lambda: fit_linear_ar(np.ones((4, 2)), np.ones(3)), ValueError,
     "same number of windows N on axis 0, got 4 and 3"),
    (lambda: fit_linear_ar(np.ones((4, 2)), np.array([1, 2, np.nan, 4])), ValueError,
     "y contains NaN"),
    (lambda: predict_linear_ar(fit_linear_ar(np.ones((4, 3, 1)), np.ones(4)),
                               np.ones((2, 2, 1))), ValueError,
     r"windows of shape \(3, 1\) .* got x of shape \(2, 2, 1\)"),
    (lambda: predict_linear_ar("model", np.ones((2, 2))), TypeError, "model must be a LinearAR"),
    (lambda: rmse(np.ones((3, 1)), np.ones(3)), ValueError,
     r"same shape, got \(3, 1\) and \(3,\)"),
])
def test_baseline_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- DESIGN.md reference facts ---------------------------------------------------------------

def forecast_rmses(path, column, date_column, look_backs):
    """Persistence and linear-AR test RMSEs in the data's units, as DESIGN.md states them.

    First 67 % (floor) for training, chronologically; min-max scaled with the training
    statistics; windows cut inside each part; persistence on look_back = 1 windows.
    """
    series = load_csv_column(path, column, date_column=date_column)
    train, test = chronological_split(series, fractions=(0.67, 0.33))
    scaler = MinMaxScaler().fit(train)
    train01, test01 = scaler.transform(train), scaler.transform(test)
    x, y = sliding_windows(test01, 1)
    out = {"persistence": rmse(scaler.inverse_transform(persistence_forecast(x)),
                               scaler.inverse_transform(y))}
    for look_back in look_backs:
        model = fit_linear_ar(*sliding_windows(train01, look_back))
        x, y = sliding_windows(test01, look_back)
        out[f"ar{look_back}"] = rmse(scaler.inverse_transform(predict_linear_ar(model, x)),
                                     scaler.inverse_transform(y))
    return out


def test_reference_facts_melbourne_temperatures():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = forecast_rmses(TEMPS, "Temp", "Date", (7, 30))
    # Measured: persistence 2.6232, AR(7) 2.3572, AR(30) 2.3216 (2445 / 1205 days).
    assert got["persistence"] == pytest.approx(2.62, abs=0.03)
    assert got["ar7"] == pytest.approx(2.36, abs=0.03)
    assert got["ar30"] == pytest.approx(2.32, abs=0.03)
    assert got["ar30"] < got["ar7"] < got["persistence"]


def test_reference_facts_airline_passengers():
    got = forecast_rmses(AIRLINE, "Passengers", "Month", (12,))
    # Measured: persistence 48.532, AR(12) 23.440 (96 / 48 months).
    assert got["persistence"] == pytest.approx(48.5, abs=0.1)
    assert got["ar12"] == pytest.approx(23.4, abs=0.1)


def test_reference_pipeline_is_affine_invariant():
    # Min-max scaling cannot change persistence or least-squares AR errors in data units,
    # so the reference numbers do not depend on the scaling details.
    rng = np.random.default_rng(3)
    s = np.cumsum(rng.standard_normal(200)) + 50
    x, y = sliding_windows(s[:140], 5)
    xt, yt = sliding_windows(s[140:], 5)
    raw = rmse(predict_linear_ar(fit_linear_ar(x, y), xt), yt)
    sc = MinMaxScaler().fit(s[:140])
    scaled = fit_linear_ar(sc.transform(x), sc.transform(y))
    back = rmse(sc.inverse_transform(predict_linear_ar(scaled, sc.transform(xt))), yt)
    assert back == pytest.approx(raw, rel=1e-9)


def test_rmse_neither_overflows_nor_underflows():
    """Squares of errors beyond 1e154 overflow float64 and below 1e-154 underflow to 0; the
    RMSE of such errors is representable all the same."""
    from minirnn.apps.forecasting import rmse as forecast_rmse

    for f in (rmse, forecast_rmse):
        assert f(np.array([1e200, -1e200]), np.zeros(2)) == pytest.approx(1e200)
        assert f(np.array([3e-200, 4e-200]), np.zeros(2)) == pytest.approx(
            np.sqrt((9 + 16) / 2) * 1e-200)
        assert f(np.array([3.0, 4.0]), np.zeros(2)) == pytest.approx(np.sqrt(12.5))
        assert f(np.zeros(3), np.zeros(3)) == 0.0
    assert np.isnan(forecast_rmse(np.array([np.nan, 1.0]), np.zeros(2)))
    assert forecast_rmse(np.array([np.inf, 1.0]), np.zeros(2)) == np.inf
