"""Issue 33: conformal intervals per step ahead (finite-sample correction, pooled
neighbouring steps, scaled by the local spread)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from minirnn.apps.forecasting import Forecaster
from minirnn.apps.forecasting.forecaster import _POOL_BELOW, _conformal_quantiles, state_digest
from minirnn.nn.io import ModelFileError

LINEAR = {"network": False, "naive": False, "classical": False}


def test_conformal_quantiles_take_the_corrected_order_statistic():
    m = 59  # >= _POOL_BELOW: no pooling
    assert m >= _POOL_BELOW
    e = np.random.default_rng(0).permutation(np.arange(1.0, m + 1))  # errors 1 .. m
    q = _conformal_quantiles(e[:, None])
    for j, a in enumerate((0.1, 0.025)):
        k = math.ceil((m + 1) * (1 - a))  # the k-th smallest error bounds the upper side
        assert q[0, 2 * j + 1] == k
        assert q[0, 2 * j] == m + 1 - k  # and symmetrically the lower side
    # 10 errors are enough for the 80 % sides (ceil(11 * 0.9) = 10): the extremes
    e = np.arange(1.0, 11.0)
    q = _conformal_quantiles(e[:, None])
    assert q[0, 1] == 10 and q[0, 0] == 1
    # ... but not for the 97.5 % side (ceil(11 * 0.975) = 11 > 10): the normal prediction
    # bound, wider here than the extremes
    half = stats.t.ppf(0.975, 9) * np.std(e, ddof=1) * math.sqrt(1 + 1 / 10)
    assert q[0, 3] == pytest.approx(5.5 + half) and q[0, 2] == pytest.approx(5.5 - half)
    assert q[0, 3] > 10 and q[0, 2] < 1


def test_too_few_errors_for_a_level_still_cover_it():
    """With m = 12 errors the largest bounds a new error with probability 12/13 = 92 %
    only; the 95 % bound must cover about 95 % of new errors."""
    rng = np.random.default_rng(5)
    draws = rng.standard_normal((2000, 13))
    inside, inside_max = [], []
    for d in draws:
        q = _conformal_quantiles(d[:12, None])[0]
        inside.append(q[2] <= d[12] <= q[3])
        inside_max.append(d[:12].min() <= d[12] <= d[:12].max())
    assert np.mean(inside) >= 0.94
    assert np.mean(inside_max) < 0.9  # the largest error alone (11/13 for both sides)


def test_a_step_with_few_errors_pools_its_neighbours():
    rng = np.random.default_rng(1)
    n, k = 200, 6
    scale = np.arange(1, k + 1, dtype=float)  # errors growing with the step
    err = rng.normal(0, 1, (n, k)) * scale
    err[12:, k - 1] = np.nan  # the last step: only 12 errors
    q = _conformal_quantiles(err)
    # pooled: the neighbours' normalised errors times its own RMS, not 12 errors' extremes
    width = q[:, 3] - q[:, 2]
    assert width[-1] == pytest.approx(2 * 1.96 * np.sqrt(np.mean(err[:12, -1] ** 2)), rel=0.3)
    assert np.all(np.diff(width[:-1]) > 0)  # the others keep their own, growing, spreads
    alone = np.quantile(err[:12, -1], [0.025, 0.975], method="inverted_cdf")
    assert not np.allclose(q[-1, 2:], alone)


def _heteroscedastic(n: int, seed: int = 0) -> np.ndarray:
    """An AR(1) around 50 whose noise sd grows from 0.5 to 3 over the series."""
    rng = np.random.default_rng(seed)
    sd = np.linspace(0.5, 3.0, n)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.6 * y[t - 1] + sd[t] * rng.normal()
    return 50 + y


def _test_coverage(fc: Forecaster, y: np.ndarray, start: int, steps: int) -> dict[int, float]:
    """Share of test values inside the intervals that forecast() gives from each origin."""
    origins = np.arange(start, len(y) - steps, 3)
    pred = fc._paths(y, None, origins, steps)
    spread = fc._local_spread(y, origins)[:, None, None]
    q = fc.interval_q_[None, :steps, :] * spread  # type: ignore[index]
    err = y[origins[:, None] + np.arange(1, steps + 1)[None, :]] - pred
    return {80: float(np.mean((err >= q[..., 0]) & (err <= q[..., 1]))),
            95: float(np.mean((err >= q[..., 2]) & (err <= q[..., 3])))}


def _spread(**options: object) -> Forecaster:
    fc = Forecaster(**options)  # type: ignore[arg-type]
    fc.local_spread = True
    return fc


def test_intervals_follow_a_growing_spread():
    y = _heteroscedastic(1200)
    fc = _spread(transform="none", **LINEAR).fit(y, train_size=800)
    assert fc.spread_window_ == 24
    # the spread at the end of the test span is larger than at the end of training
    assert fc._local_spread(y, np.array([1199]))[0] > 1.2 * fc._local_spread(
        y, np.array([799]))[0]
    cover = _test_coverage(fc, y, 800, 6)
    assert 0.74 <= cover[80] <= 0.86 and 0.91 <= cover[95] <= 0.99, cover
    # without the local spread the intervals of the noisier test span are too narrow
    plain = Forecaster(transform="none", **LINEAR).fit(y, train_size=800)  # the default
    assert plain.spread_window_ == 0
    assert _test_coverage(plain, y, 800, 6)[80] < cover[80] - 0.05
    # forecast() scales by the spread at the end of the data it is given
    wide = fc.forecast(6, y=y).upper[80] - fc.forecast(6, y=y).lower[80]
    narrow = fc.forecast(6, y=y[:400]).upper[80] - fc.forecast(6, y=y[:400]).lower[80]
    assert np.all(wide > 1.5 * narrow)


def test_local_spread_reads_only_the_past():
    y = _heteroscedastic(600, seed=2)
    fc = _spread(transform="none", **LINEAR).fit(y, train_size=400)
    o = np.array([30, 200, 399])
    changed = y.copy()
    changed[400:] = 1e6
    assert np.array_equal(fc._local_spread(changed, o), fc._local_spread(y, o))


def test_the_local_spread_round_trips_and_a_bad_one_is_refused(tmp_path):
    y = _heteroscedastic(500, seed=3)
    fc = _spread(transform="none", **LINEAR).fit(y)
    assert fc.spread_window_ == 24
    fc.save(tmp_path / "m.npz")
    back = Forecaster.load(tmp_path / "m.npz")
    assert back.spread_window_ == 24 and back.spread_ref_ == fc.spread_ref_
    assert np.array_equal(back.forecast(12).upper[95], fc.forecast(12).upper[95])
    state = {k: v for k, v in fc.state_dict().items() if k != "sha256"}
    for bad in ({"spread_window": 10_000}, {"spread_ref": -1.0}):
        body = {**state, **bad}
        with pytest.raises(ModelFileError, match="local spread window"):
            Forecaster._from_state({**body, "sha256": state_digest(body)})._check_state(None)
    # a state saved before the local spread (no such keys): no scaling
    old = {k: v for k, v in state.items() if k not in ("spread_window", "spread_ref")}
    fc_old = Forecaster._from_state(old)
    fc_old._check_state(None)
    assert fc_old.spread_window_ == 0


def test_a_copy_forecasting_below_zero_does_not_blow_up_log_intervals():
    """On Lynx's first 107 years the copy fitted before the middle validation span is a
    linear AR on the levels that forecasts -781 lynx; on the model's log scale that was an
    error of 9 (the floor), and the 95 % band 8,000 times wide."""
    from minirnn.apps import datasets

    y = datasets.load("lynx").values[:107]
    fc = Forecaster(network=False).fit(y)
    assert fc.transform_.uses_log and fc.interval_q_ is not None
    assert np.all(np.abs(fc.interval_q_[:6]) < 5)  # factors of e^5 = 150 at most
    f = fc.forecast(6)
    assert np.all(f.upper[95] < 20 * y.max())


def _seasonal_ar(n: int, seed: int) -> np.ndarray:
    """A fixed monthly pattern plus AR(1) noise (sd 1 / sqrt(1 - 0.36))."""
    rng = np.random.default_rng(seed)
    e, y = rng.normal(size=n), np.zeros(n)
    for t in range(1, n):
        y[t] = 0.6 * y[t - 1] + e[t]
    return 50 + 3 * rng.normal(size=12)[np.arange(n) % 12] + y


def test_calibration_refits_the_chosen_forecast_on_the_past_only():
    y = _seasonal_ar(240, seed=6)
    fc = Forecaster(**LINEAR).fit(y)
    before = [m.coef.copy() for m in fc.members_]
    n_c = fc.n_train_ - fc._spans(fc.n_train_, fc.season_)[2]
    copy = fc._refit_before(y, n_c, network=False)
    assert copy is not None and copy is not fc
    # the members fit chose (transform, order, weight), refitted: other coefficients
    assert [(m.transform.name, m.order, m.weight) for m in copy.members_] == [
        (m.transform.name, m.order, m.weight) for m in fc.members_]
    assert not all(np.allclose(a.coef, b.coef) for a, b in zip(copy.members_, fc.members_,
                                                                 strict=True))
    # ... from the values before n_c only
    changed = y.copy()
    changed[n_c:] = 1e3
    again = fc._refit_before(changed, n_c, network=False)
    assert again is not None
    for a, b in zip(copy.members_, again.members_, strict=True):
        assert np.array_equal(a.coef, b.coef)
    # the forecaster itself is unchanged; the network's weight is kept only when asked
    assert all(np.array_equal(m.coef, c) for m, c in zip(fc.members_, before, strict=True))
    fc.alpha_ = 0.5
    assert fc._refit_before(y, n_c, network=True).alpha_ == 0.5  # type: ignore[union-attr]
    assert fc._refit_before(y, n_c, network=False).alpha_ == 0.0  # type: ignore[union-attr]


def test_a_copy_needs_two_fitting_origins_per_coefficient():
    y = _seasonal_ar(240, seed=7)
    fc = Forecaster(**LINEAR).fit(y)
    need = 2 * max(fc._coefficients(m) for m in fc.members_)
    least = fc.t_min_ + fc.horizon + need  # n_c - horizon - t_min_ fitting origins
    assert fc._refit_before(y, least, network=False) is not None
    assert fc._refit_before(y, least - 1, network=False) is None


def test_short_seasonal_series_are_covered_about_their_level():
    """Twenty short series (120 months, known truth), each forecast 6 steps past its end,
    cover 72-88 % of their values at 80 % and 90-99 % at 95 % (the calibration copies are
    fitted on 40-80 % of the data, so they err on the wide side: see
    benchmarks/intervals.py --generated)."""
    hit: dict[int, list[bool]] = {80: [], 95: []}
    for seed in range(20):
        y = _seasonal_ar(126, seed=100 + seed)
        f = Forecaster(**LINEAR).fit(y[:120]).forecast(6)
        for level in (80, 95):
            hit[level].extend((y[120:] >= f.lower[level]) & (y[120:] <= f.upper[level]))
    assert 0.72 <= np.mean(hit[80]) <= 0.88, np.mean(hit[80])
    assert 0.9 <= np.mean(hit[95]) <= 0.99, np.mean(hit[95])
