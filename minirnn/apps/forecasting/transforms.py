"""Target transforms and robust scaling for forecasting, fitted on the training span only.

A forecast from origin ``t`` (the last observed step) for step ``h`` ahead is written as

    x[t + h] = base(t, h) + r(t, h),      y = exp(x) for the log transforms, else y = x,

where ``base`` is the naive forecast the transform implies (0, the last value, the value one
season ago, or the last value plus the last seasonal change) and ``r`` is what a model has to
predict. The inputs of the model are the *stationary* series ``u`` (differences of x). The
inverse is exact: ``inverse(base + r)`` gives back the original values (tested round trip).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["KINDS", "RobustScaler", "TargetTransform", "detect_season"]

#: Periods of calendar data (quarters, days a week, months, weeks a year, hours a week,
#: days a year) that a detected season snaps to.
CALENDAR_PERIODS = (4, 7, 12, 24, 52, 168, 365)
#: Periods a detected season is seasonally differenced at: the calendar's, and the day and
#: the week of half-hourly data (not snapped to: a detected 46 stays 46).
DIFFERENCED_PERIODS = (*CALENDAR_PERIODS, 48, 336)
#: Daily periods of sub-daily data without dates (hourly, half-hourly) whose week (7 days)
#: is tried as the season too.
_DAYS = (24, 48)

#: Transform names accepted by ``--transform`` (besides ``auto``).
KINDS = ("none", "diff", "log", "logdiff")


@dataclass(frozen=True)
class TargetTransform:
    """A level transform (identity or log), first differencing, seasonal differencing.

    Parameters
    ----------
    kind : {"none", "diff", "log", "logdiff"}
        ``log``/``logdiff`` need a positive series; ``diff``/``logdiff`` model the change
        from the last observed value, so trends extrapolate.
    season : int
        Seasonal differencing lag s (0 = none).
    """

    kind: str = "none"
    season: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"transform kind must be one of {KINDS}, got {self.kind!r}")
        if isinstance(self.season, bool) or not isinstance(self.season, (int, np.integer)) \
                or self.season < 0 or self.season == 1:
            raise ValueError(f"season must be 0 (none) or an int >= 2, got {self.season!r}")

    @property
    def uses_log(self) -> bool:
        return self.kind in ("log", "logdiff")

    @property
    def uses_diff(self) -> bool:
        return self.kind in ("diff", "logdiff")

    @property
    def name(self) -> str:
        return self.kind + (f"+season{self.season}" if self.season else "")

    @property
    def lost(self) -> int:
        """Leading steps of ``u`` that are undefined (differencing needs earlier values)."""
        return int(self.uses_diff) + self.season

    def check(self, y: np.ndarray, what: str = "the training span") -> None:
        """Raise ``ValueError`` if the log transforms meet a value <= 0."""
        if self.uses_log and not np.all(y > 0):
            raise ValueError(f"transform {self.kind!r} takes logarithms, but {what} has a "
                             f"value <= 0 (min {float(np.min(y)):g}); use 'diff' or 'none'")

    def level(self, y: np.ndarray) -> np.ndarray:
        """x: the series on the level scale of the model (log or identity), float64.

        Values <= 0 give NaN or -inf silently: :meth:`check` refuses them in the training
        span, but candidate transforms are also computed over later values (validation and
        test spans), where a series may cross zero: those candidates must not print numpy's
        warning (forecasting from such values with a log transform is refused by
        :meth:`check`)."""
        y = np.asarray(y, dtype=np.float64)
        if not self.uses_log:
            return y.copy()
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(y)

    def inverse_level(self, x: np.ndarray) -> np.ndarray:
        """Undo :meth:`level`."""
        return np.exp(x) if self.uses_log else np.asarray(x, dtype=np.float64)

    def stationary(self, x: np.ndarray) -> np.ndarray:
        """u, shape (T,): x differenced (first, then seasonal); the first ``lost`` are NaN."""
        u = np.full(len(x), np.nan)
        v = x.copy()
        if self.season:
            s = self.season
            v = np.concatenate([np.full(s, np.nan), v[s:] - v[:-s]])
        if self.uses_diff:
            v = np.concatenate([[np.nan], v[1:] - v[:-1]])
        u[:] = v
        return u

    def min_origin(self, horizon: int) -> int:
        """Smallest origin t whose base uses only indices >= 0."""
        if not self.season:
            return 0
        return self.season * int(np.ceil(horizon / self.season))

    def base(self, x: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """The naive forecast of x implied by the transform, shape (N, horizon).

        ``x`` must hold every value up to each origin (later values are not read).
        """
        t = np.asarray(origins, dtype=np.int64)[:, None]
        h = np.arange(1, horizon + 1)[None, :]
        if self.season:
            back = self.season * np.ceil(h / self.season).astype(np.int64)
            out = x[t + h - back]  # the same season's last observed value
            if self.uses_diff:
                out = out + x[t] - x[t - back]  # plus the change over the last season
            return out
        if self.uses_diff:
            return np.repeat(x[t], horizon, axis=1)
        return np.zeros((len(t), horizon))

    def targets(self, x: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
        """r(t, h) = x[t + h] - base(t, h), shape (N, horizon)."""
        t = np.asarray(origins, dtype=np.int64)[:, None]
        h = np.arange(1, horizon + 1)[None, :]
        return x[t + h] - self.base(x, origins, horizon)

    def inverse(self, x: np.ndarray, origins: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Forecasts on the original scale from predicted ``r``, shape (N, horizon)."""
        return self.inverse_level(self.base(x, origins, r.shape[1]) + r)


class RobustScaler:
    """Center on the median, divide by the interquartile range / 1.349 (a robust std).

    Unlike min-max scaling, values outside the training range map to values outside [0, 1]
    linearly, with no saturation. Falls back to the standard deviation, then 1, when the IQR
    is 0. Statistics are per column of a 2-D fit input (or one for 1-D).
    """

    def __init__(self) -> None:
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> RobustScaler:
        a = np.asarray(x, dtype=np.float64)
        a = a[:, None] if a.ndim == 1 else a
        a = a[np.all(np.isfinite(a), axis=1)]
        if len(a) == 0:
            raise ValueError("RobustScaler.fit needs at least one finite row")
        q1, med, q3 = np.percentile(a, [25, 50, 75], axis=0)
        scale = (q3 - q1) / 1.349
        std = a.std(axis=0)
        scale = np.where(scale > 1e-12 * (1 + np.abs(med)), scale, std)
        scale = np.where(scale > 1e-12 * (1 + np.abs(med)), scale, 1.0)
        self.center_, self.scale_ = med, scale
        return self

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.center_ is None or self.scale_ is None:
            raise ValueError("RobustScaler is not fitted: call fit first")
        return self.center_, self.scale_

    def transform(self, x: np.ndarray) -> np.ndarray:
        center, scale = self._stats()
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 1 and len(center) == 1:
            return (a - center[0]) / scale[0]
        return (a - center) / scale

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        center, scale = self._stats()
        a = np.asarray(x, dtype=np.float64)
        if a.ndim == 1 and len(center) == 1:
            return a * scale[0] + center[0]
        return a * scale + center

    def state_dict(self) -> dict[str, list[float]]:
        center, scale = self._stats()
        return {"center": center.tolist(), "scale": scale.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> RobustScaler:
        out = cls()
        out.center_ = np.asarray(state["center"], dtype=np.float64)
        out.scale_ = np.asarray(state["scale"], dtype=np.float64)
        return out


def detect_season(y: np.ndarray, max_lag: int | None = None, threshold: float = 0.3,
                  calendar: tuple[int, ...] = (), close: float = 0.8) -> int:
    """The dominant period of a series from its autocorrelation; 0 if none is clear.

    The series (log if positive) is detrended by a least-squares line, then the lag with the
    highest autocorrelation peak is chosen among lags k >= 2 where the autocorrelation is a
    local maximum above ``threshold`` and has dipped below 0 at some shorter lag (a cycle,
    not slow decay). Pass only the training span.

    Parameters
    ----------
    y : ndarray, shape (T,)
    max_lag : int, optional
        Longest period considered; default ``T // 3`` (at least three cycles seen), at most 400.
    threshold : float
        Least autocorrelation of a period.
    calendar : tuple of int
        Periods the dates imply (12 for monthly data: ``minirnn.apps.data.table.
        calendar_periods``). When the strongest peak is none of them, the first of them that
        is a local peak with at least ``close`` times its autocorrelation is chosen instead
        (an intermittent monthly count peaked at 24, not 12, by noise). Of two calendar
        periods where one is a multiple of the other (the day and the week of hourly or
        half-hourly data: 24 and 168, 48 and 336), the longer is chosen over the shorter
        when it is an autocorrelation peak and repeating it (a seasonal naive forecast of
        the detrended series) errs clearly less (:data:`WEEK_OVER_DAY`): weekdays differ
        from weekends, and the day's period would model them alike; a daily cycle alone
        keeps the day. Without dates, a detected 24 or 48 is checked against 7 times it the
        same way.
    close : float

    Returns
    -------
    int
        The season s >= 2, or 0.
    """
    a = np.asarray(y, dtype=np.float64)
    if np.all(a > 0):
        a = np.log(a)
    n = len(a)
    limit = min(n // 3, 400) if max_lag is None else min(max_lag, n - 2)
    if limit < 3:
        return 0
    t = np.arange(n)
    slope, intercept = np.polyfit(t, a, 1)
    d = a - (slope * t + intercept)
    d = d - d.mean()
    denom = float(d @ d)
    if denom <= 0:
        return 0
    # Autocorrelation via FFT (O(n log n), fine for long daily series).
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(d, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[: limit + 2] / denom
    peaks: list[tuple[int, float]] = []
    dipped = False
    for k in range(1, limit + 1):
        dipped = dipped or acf[k] < 0
        if k >= 2 and dipped and acf[k] > threshold and acf[k] >= acf[k - 1] \
                and acf[k] >= acf[k + 1]:
            peaks.append((k, float(acf[k])))
    if not peaks:
        return 0
    top_k, top = max(peaks, key=lambda kv: kv[1])
    if not any(abs(top_k - period) <= 0.07 * period for period in calendar):
        for period in calendar:
            if 2 <= period <= limit and acf[period] >= close * top and \
                    acf[period] >= acf[period - 1] and acf[period] >= acf[period + 1]:
                return _longer_multiple(period, acf, d, limit, calendar)
    # The fundamental period: the shortest lag dividing the strongest peak's lag that is
    # nearly as strong (a quarterly series peaks at 4 and 8; noise may make 8 higher).
    best = next(k for k, v in peaks if k == top_k or (
        v >= 0.85 * top and round(top_k / k) >= 2
        and abs(top_k / k - round(top_k / k)) * k <= max(1, 0.05 * k)))
    # A broad yearly peak of daily data wanders by noise (351 rather than 365): snap to a
    # calendar period within 7 % (the dates' own first: half-hourly data peaked at 47).
    for period in (*calendar, *CALENDAR_PERIODS):
        if best and abs(best - period) <= 0.07 * period and period <= limit:
            best = period
            break
    return _longer_multiple(best, acf, d, limit, calendar)


#: The week replaces the day when its seasonal naive forecast's squared error is at most
#: this share of the day's: a daily cycle alone gives 0.97-1.0 (the lags see the same
#: cycle), weekdays that differ from weekends 0.01-0.12 (measured on real and generated
#: hourly and half-hourly series).
WEEK_OVER_DAY = 0.9


def _longer_multiple(best: int, acf: np.ndarray, d: np.ndarray, limit: int,
                     calendar: tuple[int, ...]) -> int:
    """The week instead of the day (see :func:`detect_season`): a multiple w of ``best``
    among the calendar periods (7 * best for an undated 24 or 48) that is a local peak of
    the autocorrelation ``acf`` (lags 0..limit + 1) and whose seasonal difference of the
    detrended series ``d`` has at most :data:`WEEK_OVER_DAY` times the mean square of
    ``best``'s."""
    longer = [w for w in calendar if best and w > best and w % best == 0]
    if not calendar and best in _DAYS:
        longer = [7 * best]
    for w in longer:
        if w <= limit and acf[w] >= acf[w - 1] and acf[w] >= acf[w + 1] and \
                np.mean((d[w:] - d[:-w]) ** 2) <= WEEK_OVER_DAY * np.mean(
                    (d[best:] - d[:-best]) ** 2):
            return w
    return best
