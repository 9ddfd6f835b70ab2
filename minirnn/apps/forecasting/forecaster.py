"""The :class:`Forecaster`: transform, linear autoregression, a recurrent residual model.

How a forecast is made (every choice from the training span only)::

    y ──log?──► x ──differences──► u (stationary inputs, robust-scaled)
    forecast of x[t+h] = base(t, h)            naive forecast implied by the transform
                       + linear AR(p) on u      direct: one regression per step h
                       + alpha * network        GRU/LSTM on the windows of u, fitted to the
                                                AR's residuals, weight alpha from validation
    then back to y (exp for the log transforms): an exact inverse.

The transform (none/diff/log/logdiff, with or without seasonal differencing), the AR order p,
the exogenous inputs read and the network weight alpha are chosen on validation spans carved
from the end of the training data. A naive forecast (persistence, seasonal naive, drift, mean;
Croston's SBA, TSB or zero for counts) replaces or joins the result only by a rule that must
hold across those spans, not on their pooled score (see ``naive`` below). Intervals are
conformal quantiles per step ahead of the errors of the chosen forecast refitted before each
validation span.
The test span (everything after ``train_size``) is never read by ``fit``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.apps.data.baselines import (
    INTERMITTENT_METHODS,
    NAIVE_METHODS,
    LinearAR,
    fit_linear_ar,
    is_intermittent,
    naive_forecasts,
    predict_linear_ar,
    root_mean_square,
)
from minirnn.apps.data.table import calendar_periods, format_dates, future_dates, parse_dates
from minirnn.apps.forecasting.classical import (
    CLASSICAL_METHODS,
    ClassicalMember,
    fit_classical,
)
from minirnn.apps.forecasting.classical import available as classical_available
from minirnn.apps.forecasting.metrics import mae, mase, mase_scale, rmse
from minirnn.apps.forecasting.transforms import (
    DIFFERENCED_PERIODS,
    KINDS,
    RobustScaler,
    TargetTransform,
    detect_season,
)
from minirnn.apps.recurrent import make_solver, recurrent_network
from minirnn.nn.io import ModelFileError
from minirnn.nn.losses import MSE
from minirnn.nn.model import Sequential
from minirnn.nn.registry import OPTIMIZERS, RECURRENT_LAYERS
from minirnn.train.callbacks import Callback, EarlyStopping
from minirnn.train.solver import Solver

__all__ = ["MAX_FORECAST_STEPS", "Evaluation", "Forecast", "Forecaster", "state_digest"]

#: Most input subsets tried when the inputs are chosen on validation (all of them up to 3
#: inputs; beyond, none, all, each alone and each left out).
_ALL_SUBSETS_UP_TO = 3
#: Most forecast origins the interval calibration forecasts from.
_CALIBRATION_ORIGINS = 200
#: Least errors per step ahead for its interval quantiles.
_MIN_CALIBRATION = 10
#: Fewer errors than this at a step ahead: its quantiles pool the neighbouring steps' errors
#: (each divided by its step's RMS, the pooled quantile times this step's).
_POOL_BELOW = 40
#: Relative validation gain that makes more inputs worth reading.
_INPUT_MARGIN = 0.01
#: Least margin (log RMSE ratio, about 3 %) by which a forecast is clearly better than
#: another on validation, when the spans agree more closely than that
_MIN_MARGIN = 0.03
#: Least margin by which the model must beat the intermittent method of a count: a larger
#: one, since the method adapts to a count that dies out or stops (which the validation
#: spans seldom show) and the model's intercept does not
_COUNT_MARGIN = 0.1
#: The forecast combination's name (as ``naive_``): the equal-weight mean of the model and
#: every classical member fitted.
COMBINATION = "combination"
#: Network weights tried on validation; 0 means the linear model alone.
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Weekly seasons of hourly and half-hourly data, whose look-back spans a day.
SUBDAILY_WEEKS = (168, 336)
#: Most steps :meth:`Forecaster.forecast` makes (recursively beyond the horizon).
MAX_FORECAST_STEPS = 100_000
#: Candidate AR orders (filtered by the look-back and the amount of data).
ORDERS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 36, 52)
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}


@dataclass
class _Member:
    """One linear model of the combination: transform, AR order, coefficients, input scaler."""

    transform: TargetTransform
    order: int
    coef: np.ndarray
    scaler: RobustScaler
    weight: float = 1.0
    exog: bool = True  # reads the exogenous inputs (the level AR of the baselines does not)


@dataclass
class Evaluation:
    """Forecasts of a span with the baselines and their metrics.

    Attributes
    ----------
    origins : ndarray of int, shape (N,)
        Index of the last observed value of each forecast.
    truth, prediction : ndarray, shape (N, H)
    baselines : dict of str to ndarray (N, H)
        ``persistence``, ``drift``, ``seasonal naive`` (when a season is set or found) and
        ``linear AR(k)``.
    metrics : dict of str to dict
        For ``model`` and every baseline: ``rmse``, ``mae``, ``mase``, ``rmse_per_step``.
    """

    origins: np.ndarray
    truth: np.ndarray
    prediction: np.ndarray
    baselines: dict[str, np.ndarray]
    metrics: dict[str, dict[str, Any]]

    @property
    def best(self) -> str:
        """Name of the method with the lowest RMSE (``model`` or a baseline)."""
        return min(self.metrics, key=lambda k: self.metrics[k]["rmse"])


@dataclass
class Forecast:
    """A forecast past the end of the data.

    Attributes
    ----------
    mean : ndarray, shape (S,)
    lower, upper : dict of int to ndarray (S,)
        Prediction interval bounds for levels 80 and 95 (%).
    dates : ndarray of datetime64, shape (S,), or None
    """

    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]
    dates: np.ndarray | None


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 of a forecaster state as canonical JSON (sorted keys): the same before saving
    and after loading, since the state holds only JSON values."""
    text = json.dumps(state, sort_keys=True, allow_nan=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {value!r}"[:80])
    return value


def _finite(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ModelFileError(f"{name} holds NaN or Inf")
    return arr


def _check_series(y: Any, X: Any) -> tuple[np.ndarray, np.ndarray | None]:
    arr = np.asarray(y)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"y must be a numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D (T,), got shape {arr.shape}; pass other columns as X")
    if not np.all(np.isfinite(arr)):
        bad = int(np.argmin(np.isfinite(arr)))
        raise ValueError(f"y has a missing or non-finite value at index {bad} ({arr[bad]}); "
                         "fill or drop it first")
    if X is None:
        return arr, None
    xa = np.asarray(X)
    if xa.dtype == np.bool_ or not np.issubdtype(xa.dtype, np.number):
        raise TypeError(f"X must be a numeric array, got dtype {xa.dtype}")
    xa = xa.astype(np.float64)
    if xa.ndim == 1:
        xa = xa[:, None]
    if xa.ndim != 2 or len(xa) != len(arr):
        raise ValueError(f"X must be (T, E) with T = len(y) = {len(arr)}, got shape {xa.shape}")
    if not np.all(np.isfinite(xa)):
        row, col = np.argwhere(~np.isfinite(xa))[0]
        raise ValueError(f"X has a missing or non-finite value at row {row}, column {col}")
    return arr, xa


def _lags(series: np.ndarray, origins: np.ndarray, p: int) -> np.ndarray:
    """series[t - p + 1 .. t] for each origin, shape (N, p) (or (N, p, E) for 2-D series)."""
    idx = origins[:, None] + np.arange(-p + 1, 1)[None, :]
    return series[idx]


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares (SVD; the minimum-norm solution when lags are collinear)."""
    return np.linalg.lstsq(a, b, rcond=None)[0]


def _conformal_quantiles(err: np.ndarray) -> np.ndarray:
    """Split-conformal quantiles per step ahead of calibration errors ``err`` (N, K), NaN
    where a step was not seen, shape (K, 4): 10, 90, 2.5, 97.5 %.

    The upper bound is the r-th smallest of the step's m errors, the lower the r-th largest,
    r = ceil((m + 1)(1 - a)) (a = 10 % or 2.5 % per side): the finite-sample correction of
    split conformal prediction. When r > m (fewer than 39 errors for the 95 % interval, 9
    for the 80 %) no order statistic bounds the level (split conformal's bound is
    infinite); the bound is then the largest error or the normal prediction bound, mean
    +- t(1 - a, m - 1) s sqrt(1 + 1/m), whichever is wider (the largest of 10 errors alone
    covered 89 % of Shampoo's values at 95 %). A step with fewer than
    ``_POOL_BELOW`` errors pools its neighbours (steps k - r .. k + r, r growing until
    enough), each step's errors divided by its RMS and the pooled quantile multiplied by
    step k's, so a far step's quantile is not read off a dozen errors.
    """
    k_max = err.shape[1]
    finite = [err[:, k][np.isfinite(err[:, k])] for k in range(k_max)]
    rms = np.array([max(float(np.sqrt(np.mean(e * e))), 1e-300) for e in finite])
    out = np.empty((k_max, 4))
    for k in range(k_max):
        e, r = finite[k], 0
        while len(e) < _POOL_BELOW and (k - r > 0 or k + r < k_max - 1):
            r += 1
            near = range(max(0, k - r), min(k_max, k + r + 1))
            e = np.concatenate([finite[j] / rms[j] for j in near]) * rms[k]
        m = len(e)
        e = np.sort(e)
        for j, level in enumerate((80, 95)):
            a = (100 - level) / 200
            # the r-th smallest error bounds the upper side, the r-th largest the lower
            r = math.ceil((m + 1) * (1 - a))
            lo, hi = e[m - min(r, m)], e[min(r, m) - 1]
            if r > m > 1:  # too few errors for the level: no order statistic bounds it
                half = _student_t(1 - a, m - 1) * np.std(e, ddof=1) * math.sqrt(1 + 1 / m)
                lo, hi = min(lo, float(np.mean(e)) - half), max(hi, float(np.mean(e)) + half)
            out[k, 2 * j: 2 * j + 2] = lo, hi
    return out


def _student_t(p: float, df: int) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (scipy's)."""
    from scipy.stats import t  # imported when a short calibration needs it

    return float(t.ppf(p, max(df, 1)))


def check_network_options(positive: dict[str, Any], *, look_back: Any, season: Any,
                          cell: Any, optimizer: Any) -> None:
    """The options a forecaster's network shares (its own and the global one's): each of
    ``positive`` a positive int, ``look_back`` and ``season`` ``'auto'`` or an int (a season
    0 or at least 2), a known cell and optimizer; ValueError naming the first bad one."""
    for name, value in positive.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if look_back != "auto" and (isinstance(look_back, bool) or not isinstance(
            look_back, (int, np.integer)) or int(look_back) < 1):
        raise ValueError(f"look_back must be a positive int or 'auto', got {look_back!r}")
    if season != "auto" and (isinstance(season, bool) or not isinstance(
            season, (int, np.integer)) or season < 0 or season == 1):
        raise ValueError(f"season must be 'auto', 0 (none) or an int >= 2, got {season!r}")
    if cell not in RECURRENT_LAYERS:
        raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")


class Forecaster:
    """Forecast a series H steps ahead with a transformed linear AR plus a recurrent network.

    Parameters
    ----------
    horizon : int
        H, steps predicted from each origin (direct multi-output: one output per step).
    look_back : int or "auto"
        L, past steps the network reads (and the longest AR order). ``auto``: the season + 1
        (at least 12) for seasons up to 29, a day + 1 for the week of hourly or half-hourly
        data (season 168 or 336: 25 or 49), else 24; shortened for short series.
    transform : {"auto", "none", "diff", "log", "logdiff"}
        ``auto`` picks on the validation span (seasonal differencing tried too when a season
        is known).
    season : int or "auto"
        Seasonal period s (0 = none); ``auto`` detects it from the training span's
        autocorrelation.
    cell, hidden_size, num_layers : the network (``"gru"``, ``"lstm"`` or ``"rnn"``).
    epochs, batch_size, lr, patience, clip_norm, optimizer : training (early stopping on the
        validation span keeps the best epoch's weights; ``lr=None``: the optimizer's default).
    val_fraction : float
        Share of the training span (at its end) used for validation.
    network : bool
        Train the network; False gives the linear combination alone.
    ensemble : int
        Number of best transforms (on validation) averaged with equal weights (default 1).
    folds : int
        Rolling-origin validation spans at the end of the training data (at most).
    order_by : {"aicc", "validation"}
        How each transform's AR order is chosen: AICc on the training span (default) or
        the validation RMSE.
    min_fold : int
        An earlier validation span is used only if this many forecast origins precede it.
    combine_level : bool
        Combine the transformed AR with the linear AR on the levels (weight from validation).
    double_diff : bool
        Let ``auto`` try first + seasonal differencing together (off: it over-differenced).
    min_gain : float
        Relative validation-RMSE gain the network must bring to be used at all.
    min_val_network : int
        Validation forecast origins needed before the network's gain is trusted.
    shrink : bool
        Move the validation weight of the combination halfway to equal weights (unless the
        level AR is more than twice as bad on validation).
    bidirectional : bool
        Bidirectional recurrent layer.
    naive : bool
        The naive forecasts (persistence, seasonal naive, drift, mean; Croston's SBA, TSB and
        zero for counts: whole numbers >= 0, at least 10 % zeros in training) are candidates
        too, chosen span by span: forecast a is *clearly better* than b when the mean of
        log(RMSE a / RMSE b) over the validation spans (thirds of a single span), recent spans
        weighted more, is below minus their spread (at least 0.03). A count is forecast by
        TSB (or Croston or zero, when clearly better than TSB) unless the model is clearly
        better by at least 0.1; a model that does not beat persistence on the spans is
        replaced by it; otherwise the best naive forecast joins the model (its weight chosen
        on the spans: ``naive_weight_``) only when it alone is clearly better. ``naive_``
        names it, ``naive_reason_`` says why. Forecasts of a count are never below 0.
    select_inputs : bool
        Choose the exogenous inputs X on the validation spans (none, all, or a subset:
        ``inputs_``, each option's score in ``input_scores_``).

    seed : int or None
    dtype : "float32" or "float64"
        The network's dtype (the linear parts are float64).
    callbacks : sequence of Callback
        Extra callbacks for the network's :class:`~minirnn.Solver` (e.g. epoch printing).

    Class attribute ``local_spread`` (False; set it on an instance before ``fit``): scale
    the interval quantiles by the local spread at the forecast origin (locally weighted
    conformal: the calibration errors divided by the spread at theirs), for a series whose
    noise grows or shrinks. Off by default: on the real series of ``benchmarks/intervals.py``
    a spread read off two seasons moved the coverage by more than it corrected
    (docs/forecasting.md). Not a constructor argument, so the estimators mirroring the
    constructor are unchanged; a saved model keeps its ``spread_window_``.

    Class attribute ``combination`` (False; set it on an instance before ``fit``): the
    forecast combination -- the equal-weight mean of the model and every classical member
    fitted (ETS, Theta, ARIMA; M3/M4: the mean of several methods often beats the best one
    picked afterwards) -- is a candidate too, scored on the validation spans from the
    forecasts the members already made there and chosen by the same span-by-span rule as
    the naive forecasts (``naive_ == "combination"``, ``naive_weight_ = k / (k + 1)`` for k
    members: the model mixed with the members' mean). Off by default: on the real series
    and the generated set of ``benchmarks/forecasting.py`` validation never chose it, and
    where it would have helped on the test span (Lynx) the members cannot be validated
    (docs/forecasting.md, "Forecast combination").

    Attributes (after ``fit``)
    --------------------------
    season_, look_back_, transform_ (TargetTransform), members_, baseline_order_,
    baseline_ar_ (the level linear AR, a minirnn.data.LinearAR), alpha_,
    validation_ (dict of validation RMSEs), method_ (str describing the forecast), model_
    (the network), solver_, stopper_, naive_ (the naive forecast used, or None),
    naive_weight_ (its weight in the forecast; 1: the naive forecast alone), naive_reason_
    (why it is used, or ""),
    intermittent_ (the training span is a count with zeros), inputs_ (indices of the
    columns of X used), input_scores_ (list of (columns, validation RMSE)), interval_q_
    (conformal interval quantiles per step ahead, (K, 4): 10, 90, 2.5, 97.5 %; or None).

    Examples
    --------
    >>> from minirnn.apps.datasets import load                                  # doctest: +SKIP
    >>> data = load("airline")                                            # doctest: +SKIP
    >>> fc = Forecaster().fit(data.values, dates=data.dates, train_size=96)  # doctest: +SKIP
    >>> fc.evaluate().metrics["model"]["rmse"]                           # doctest: +SKIP
    >>> fc.forecast(12).mean                                              # doctest: +SKIP
    """

    #: Interval quantiles scaled by the local spread (see the class docstring).
    local_spread: bool = False
    #: The forecast combination is a candidate (see the class docstring).
    combination: bool = False

    def __init__(self, *, horizon: int = 1, look_back: int | str = "auto",
                 transform: str = "auto", season: int | str = "auto", cell: str = "gru",
                 hidden_size: int = 32, num_layers: int = 1, epochs: int = 60,
                 batch_size: int = 32, lr: float | None = 3e-3, patience: int = 10,
                 clip_norm: float | None = 1.0, optimizer: str = "adam",
                 val_fraction: float = 0.2, network: bool = True, ensemble: int = 1,
                 folds: int = 3, order_by: str = "aicc", min_fold: int = 24,
                 combine_level: bool = True, double_diff: bool = False,
                 min_gain: float = 0.005, min_val_network: int = 30, shrink: bool = True,
                 bidirectional: bool = False, naive: bool = True, classical: bool = True,
                 select_inputs: bool = True, seed: int | None = 0,
                 dtype: str = "float32", callbacks: Sequence[Callback] = ()) -> None:
        check_network_options(
            {"horizon": horizon, "hidden_size": hidden_size, "num_layers": num_layers,
             "epochs": epochs, "batch_size": batch_size},
            look_back=look_back, season=season, cell=cell, optimizer=optimizer)
        if transform not in ("auto", *KINDS):
            raise ValueError(f"transform must be 'auto' or one of {KINDS}, got {transform!r}")
        if not 0 < val_fraction < 0.5:
            raise ValueError(f"val_fraction must be in (0, 0.5), got {val_fraction!r}")
        if lr is not None and not (isinstance(lr, (int, float)) and lr > 0
                                   and math.isfinite(lr)):
            raise ValueError(f"lr must be a positive number or None, got {lr!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be a non-negative int, got {patience!r}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.horizon = int(horizon)
        self.look_back = look_back if look_back == "auto" else int(look_back)
        self.transform = transform
        self.season = season if season == "auto" else int(season)
        self.cell, self.hidden_size, self.num_layers = cell, int(hidden_size), int(num_layers)
        self.epochs, self.batch_size = int(epochs), int(batch_size)
        self.lr = None if lr is None else float(lr)
        self.patience, self.clip_norm, self.optimizer = patience, clip_norm, optimizer
        self.val_fraction, self.network, self.seed = float(val_fraction), bool(network), seed
        self.dtype = dtype
        if isinstance(ensemble, bool) or not isinstance(ensemble, int) or ensemble < 1:
            raise ValueError(f"ensemble must be a positive int, got {ensemble!r}")
        self.ensemble = ensemble
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 1:
            raise ValueError(f"folds must be a positive int, got {folds!r}")
        self.folds = folds
        self.bidirectional = bool(bidirectional)
        self.naive, self.select_inputs = bool(naive), bool(select_inputs)
        self.classical = bool(classical)
        self._calibrate_intervals = True  # off for the copies that calibrate them
        self._classical_kinds: tuple[str, ...] = CLASSICAL_METHODS  # copies: the one used
        if order_by not in ("aicc", "validation"):
            raise ValueError(f"order_by must be 'aicc' or 'validation', got {order_by!r}")
        self.order_by, self.min_fold = order_by, int(min_fold)
        self.combine_level = bool(combine_level)
        self.double_diff = bool(double_diff)
        self.min_gain = float(min_gain)
        self.shrink = bool(shrink)
        self.min_val_network = int(min_val_network)
        self.callbacks = list(callbacks)
        self.model_: Sequential | None = None
        self.solver_: Solver | None = None
        self.stopper_: EarlyStopping | None = None
        self.probe_: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable; callbacks excluded)."""
        return {"horizon": self.horizon, "look_back": self.look_back,
                "transform": self.transform, "season": self.season, "cell": self.cell,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr,
                "patience": self.patience, "clip_norm": self.clip_norm,
                "optimizer": self.optimizer, "val_fraction": self.val_fraction,
                "network": self.network, "ensemble": self.ensemble, "folds": self.folds,
                "bidirectional": self.bidirectional, "order_by": self.order_by,
                "min_fold": self.min_fold, "combine_level": self.combine_level,
                "double_diff": self.double_diff, "min_gain": self.min_gain,
                "shrink": self.shrink, "min_val_network": self.min_val_network,
                "naive": self.naive, "classical": self.classical,
                "select_inputs": self.select_inputs,
                "seed": self.seed, "dtype": self.dtype}

    # --------------------------------------------------------------------- fit
    def _spans(self, n: int, season: int) -> tuple[int, int, int]:
        """(look_back, t_min, n_val): window length, first usable origin, validation size."""
        h = self.horizon
        n_val = max(round(self.val_fraction * n), h + 2)
        lost = 1 + season
        if self.look_back == "auto":
            look = max(12, season + 1) if 0 < season <= 29 else 24
            if season in SUBDAILY_WEEKS:  # the week of sub-daily data: the last day + 1 as well
                look = season // 7 + 1
            room = (n - lost - n_val - h) // 3
            look = max(2, min(look, room))
        else:
            look = int(self.look_back)
        seasonal_min = season * int(np.ceil(h / season)) if season else 0
        t_min = max(lost + look - 1, seasonal_min)
        return look, t_min, n_val

    def fit(self, y: Any, X: Any = None, *, dates: Any = None,
            train_size: int | None = None) -> Forecaster:
        """Choose the transform, orders and network weight and train, on ``y[:train_size]``.

        Parameters
        ----------
        y : array_like, shape (T,)
            The whole series; only the first ``train_size`` values are used for fitting (the
            rest is the test span, kept for :meth:`evaluate` and as history for
            :meth:`forecast`).
        X : array_like, shape (T, E), optional
            Exogenous inputs (their past values are inputs; their future is not needed).
        dates : array_like of datetime64 or ISO strings, shape (T,), optional
            Increasing dates; forecasts past the end continue their frequency.
        train_size : int, optional
            Default ``T`` (fit on everything).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Non-finite values, mismatched lengths, unsorted dates, or a series too short for
            the look-back + horizon + validation span (the message says how many values are
            needed).
        """
        y_all, x_all = _check_series(y, X)
        n = len(y_all) if train_size is None else int(train_size)
        if not 0 < n <= len(y_all):
            raise ValueError(f"train_size must be in 1..{len(y_all)}, got {train_size!r}")
        self.dates_ = None
        if dates is not None:
            d = parse_dates(list(dates)) if not np.issubdtype(
                np.asarray(dates).dtype, np.datetime64) else np.asarray(dates)
            if len(d) != len(y_all):
                raise ValueError(f"dates must have one entry per value ({len(y_all)}), got "
                                 f"{len(d)}")
            if len(d) > 1 and np.any(np.diff(d.astype("datetime64[s]").astype(np.int64)) <= 0):
                raise ValueError("dates must be strictly increasing (sorted, no duplicates)")
            self.dates_ = d
        self.y_, self.X_, self.n_train_ = y_all, x_all, n
        train = y_all[:n]
        h = self.horizon
        self.intermittent_ = is_intermittent(train, min_zeros=0.1)
        self.inputs_: list[int] = [] if x_all is None else list(range(x_all.shape[1]))
        self.input_scores_: list[tuple[list[int], float]] = []
        if x_all is not None and self.select_inputs:
            self.inputs_ = self._choose_inputs(y_all, x_all, n)
        x_all = x_all[:, self.inputs_] if x_all is not None and self.inputs_ else None

        # Season: given, or detected on the training span only (preferring the calendar's
        # period when it is nearly as strong as the strongest).
        calendar = () if self.dates_ is None else calendar_periods(self.dates_[:n])
        season = detect_season(train, calendar=calendar) if self.season == "auto" else int(
            self.season)
        if season and season * 2 + h + 8 > n:
            season = 0 if self.season == "auto" else season
        self.season_ = season
        look, t_min, n_val = self._spans(n, season)
        self.look_back_, self.t_min_ = look, t_min
        last_fit = n - n_val - h  # origins whose targets all lie before the validation span
        fit_o = np.arange(t_min, last_fit)
        val_o = np.arange(max(t_min, n - n_val - 1), n - h)
        train_o = np.arange(t_min, n - h)
        n_feat = 0 if x_all is None else x_all.shape[1]
        need = t_min + n_val + h + 6
        if len(fit_o) < 6 or len(val_o) < 1:
            raise ValueError(
                f"series too short: {n} training values, but look-back {look}"
                + (f", season {season}" if season else "") + f", horizon {h} and a "
                f"validation span of {n_val} need at least {need}; use a shorter look-back "
                "or horizon, season 0, or more data")

        # Exogenous inputs: robust-scaled levels.
        self.x_scaler_ = None if x_all is None else RobustScaler().fit(x_all[:n])
        xs = None if x_all is None else self.x_scaler_.transform(x_all)  # type: ignore[union-attr]

        # Candidate transforms x AR orders, each scored on validation in original units.
        kinds = list(KINDS) if self.transform == "auto" else [self.transform]
        if not np.all(train > 0):
            if self.transform in ("log", "logdiff"):
                TargetTransform(self.transform).check(train)
            kinds = [k for k in kinds if k not in ("log", "logdiff")]
        # Seasonal differencing assumes a fixed period: calendar periods, or one the user set.
        # Quasi-cycles (the lynx's ~9.6 years) are left to the AR lags.
        fixed = season and (self.season != "auto" or season in DIFFERENCED_PERIODS)
        seasons = [season] if fixed and self.transform != "auto" else (
            [0, season] if fixed else [0])
        # Rolling-origin validation: up to `folds` consecutive spans of n_val values at the
        # end of the training data, each scored by a model fitted on what precedes it.
        folds = []
        for j in range(self.folds):
            end = n - j * n_val
            f_o = np.arange(t_min, end - n_val - h)
            v_o = np.arange(max(t_min, end - n_val - 1), end - h)
            if j and len(f_o) < max(self.min_fold, 3 * (1 + n_feat)):
                break
            folds.append((f_o, v_o))
        max_p = max(1, (len(fit_o) - 2) // (2 * (1 + n_feat)))
        orders = sorted({p for p in (*ORDERS, season, season + 1, look)
                         if 1 <= p <= min(look, max_p)})
        truth_val = y_all[val_o[:, None] + np.arange(1, h + 1)[None, :]]
        truth_fit = y_all[fit_o[:, None] + np.arange(1, h + 1)[None, :]]
        steps = np.arange(1, h + 1)[None, :]
        self.validation_: dict[str, float] = {}
        # Per transform: (score, order, last-fold validation forecasts), its best order.
        per_transform: list[tuple[float, TargetTransform, int, np.ndarray, np.ndarray]] = []
        for kind in kinds:
            for s in seasons:
                if s and kind in ("diff", "logdiff") and not self.double_diff \
                        and self.transform == "auto":
                    continue
                tr = TargetTransform(kind, s)
                x, us, _ = self._prepare(tr, y_all, n)
                best_t: tuple[float, TargetTransform, int, np.ndarray, np.ndarray] | None = None
                tried = orders
                if self.order_by == "aicc":
                    tried = [self._aicc_order(tr, x, us, xs, train_o, orders)]
                for p in tried:
                    errors = []
                    for f_o, v_o in folds:
                        coef = _lstsq(self._design(us, xs, f_o, p), tr.targets(x, f_o, h))
                        pred = self._inverse(tr, x, v_o, self._design(us, xs, v_o, p) @ coef)
                        errors.append((pred - y_all[v_o[:, None] + steps]).ravel())
                        if len(errors) == 1:  # the last span: kept for the network
                            last_pred = pred
                    err = np.concatenate(errors)
                    score = float(np.sqrt(np.mean(err * err))) if np.all(
                        np.isfinite(err)) else np.inf
                    self.validation_[f"{tr.name} AR({p})"] = score
                    if best_t is None or score < best_t[0]:
                        best_t = (score, tr, p, last_pred, err)
                assert best_t is not None
                per_transform.append(best_t)
        per_transform.sort(key=lambda c: c[0])

        # Baseline: a linear AR on the levels, its order chosen on the last validation span
        # (fitted on everything before it), lags up to the look-back or a season + 1.
        b_orders = sorted({q for q in (*ORDERS, season, season + 1, look)
                           if 1 <= q <= min(max(look, season + 1 if season <= 60 else 0),
                                            max(1, (len(fit_o) - 2) // 2))})
        b_scores = {}
        for q in b_orders:
            ar = fit_linear_ar(_lags(y_all, fit_o, q), truth_fit)
            b_scores[q] = rmse(predict_linear_ar(ar, _lags(y_all, val_o, q)), truth_val)
        q_best = min(b_scores, key=lambda q: b_scores[q])
        self.baseline_order_ = q_best
        self.baseline_ar_ = fit_linear_ar(_lags(y_all, train_o, q_best),
                                          y_all[train_o[:, None] + steps])
        self.validation_["baseline linear AR"] = b_scores[q_best]
        # Its errors on every validation span, for the combination below.
        b_errors, b_first = [], None
        for f_o, v_o in folds:
            ar = fit_linear_ar(_lags(y_all, f_o, q_best), y_all[f_o[:, None] + steps])
            pred = predict_linear_ar(ar, _lags(y_all, v_o, q_best))
            b_first = pred if b_first is None else b_first
            b_errors.append((pred - y_all[v_o[:, None] + steps]).ravel())
        assert b_first is not None
        b_best = (b_scores[q_best], q_best, b_first, np.concatenate(b_errors))

        # Forecast combination: the best transform(s) on validation (equal weights), then a
        # weight w for them against the level AR, also from the validation spans: combining
        # two comparable forecasts with partly independent errors beats either on average.
        chosen = [c for c in per_transform[: self.ensemble] if np.isfinite(c[0])]
        chosen = chosen or per_transform[:1]
        err_t = np.mean([c[4] for c in chosen], axis=0)
        w_best = 1.0
        if self.combine_level:
            scores_w = {wt: float(np.sqrt(np.mean((wt * err_t + (1 - wt) * b_best[3]) ** 2)))
                        for wt in ALPHAS}
            for wt, score in scores_w.items():
                self.validation_[f"transformed weight {wt:g}"] = score
            w_best = min(scores_w, key=lambda wt: (scores_w[wt], -wt))
            comparable = scores_w[0.0] <= 2.0 * scores_w[1.0]
            if self.shrink and comparable:
                # Halfway to equal weights when both are comparable on validation: the spans
                # are short, and equal weights are the robust way to combine forecasts (the
                # "forecast combination puzzle"). A level AR twice as bad on validation (it
                # cannot follow a trend) keeps its validation weight.
                w_best = 0.5 * w_best + 0.25
        parts: list[tuple[TargetTransform, int, float, bool, np.ndarray]] = [
            (tr, p, w_best / len(chosen), True, pred) for _, tr, p, pred, _ in chosen]
        same = len(chosen) == 1 and chosen[0][1].name == "none" and chosen[0][2] == q_best \
            and xs is None  # the level AR itself: one member, not two identical ones
        if same:
            parts = [(chosen[0][1], q_best, 1.0, True, chosen[0][3])]
        elif w_best < 1.0:
            parts.append((TargetTransform("none"), q_best, 1.0 - w_best, False, b_best[2]))
        parts = [part for part in parts if part[2] > 0]
        self.members_: list[_Member] = []
        lin_val = np.zeros_like(truth_val)
        lin_fit = np.zeros_like(truth_fit)
        for tr, p, weight, exog, pred in parts:
            x, us, scaler = self._prepare(tr, y_all, n)
            xs_m = xs if exog else None
            coef = _lstsq(self._design(us, xs_m, train_o, p), tr.targets(x, train_o, h))
            self.members_.append(_Member(tr, p, coef, scaler, weight, exog))
            lin_val += weight * pred
            # In-sample forecasts of the fit span by the fit-span model: the network's input.
            design = self._design(us, xs_m, fit_o, p)
            coef_fit = _lstsq(design, tr.targets(x, fit_o, h))
            lin_fit += weight * self._inverse(tr, x, fit_o, design @ coef_fit)
        self.validation_["linear combination"] = rmse(lin_val, truth_val)
        self.transform_ = self.members_[0].transform
        # The combination's errors on every validation span (as the members were chosen).
        err_lin = chosen[0][4] if same else w_best * err_t + (1 - w_best) * b_best[3]
        self.validation_["linear combination, all spans"] = float(
            np.sqrt(np.mean(err_lin * err_lin)))

        # Network: reads the primary transform's scaled stationary series, learns the
        # out-of-sample residual of the linear combination on the primary level scale.
        tr0 = self.transform_
        _, us0, _ = self._prepare(tr0, y_all, n)
        net_val = np.zeros_like(lin_val)
        self.alpha_ = 0.0
        self.model_ = None
        self.r_scale_ = np.ones(h)
        self.floor_ = float(np.min(train)) * 1e-3 if np.all(train > 0) else 0.0
        # Decided before training: on a handful of validation forecasts the network's gain
        # would be mostly luck, so it could never be used; do not train it.
        self.validation_["validation forecasts"] = float(len(val_o))
        if self.network and len(val_o) >= self.min_val_network:
            resid_fit = tr0.level(truth_fit) - self._level(lin_fit)
            resid_val = tr0.level(truth_val) - self._level(lin_val)
            self.r_scale_ = np.maximum(resid_fit.std(axis=0), 1e-12)
            wx_fit, wx_val = self._windows(us0, xs, fit_o), self._windows(us0, xs, val_o)
            dt = np.dtype(self.dtype)
            self._train_network(wx_fit.astype(dt), (resid_fit / self.r_scale_).astype(dt),
                                wx_val.astype(dt), (resid_val / self.r_scale_).astype(dt),
                                1 + n_feat)
            assert self.model_ is not None
            self.probe_ = (wx_val[:256].astype(dt), (resid_val / self.r_scale_)[:256].astype(dt))
            net_val = np.asarray(self.model_.predict(wx_val.astype(dt)),
                                 np.float64) * self.r_scale_
            scores = {a: rmse(self._combine(lin_val, a * net_val), truth_val) for a in ALPHAS}
            for a, score in scores.items():
                self.validation_[f"network weight {a:g}"] = score
            alpha = min(scores, key=lambda a: scores[a])
            # The network must earn its place: a clear gain over the linear model.
            self.alpha_ = alpha if scores[alpha] < (1 - self.min_gain) * scores[0.0] else 0.0

        # Validation residuals of the final forecasts, on the primary level scale, per step.
        final_val = self._combine(lin_val, self.alpha_ * net_val)
        self.residuals_ = tr0.level(truth_val) - self._level(final_val)
        self.mase_scale_ = mase_scale(train, season)
        self.validation_["final"] = rmse(final_val, truth_val)
        self.naive_: str | None = None
        self.naive_weight_ = 0.0
        self.naive_reason_ = ""
        self.classical_: dict[str, ClassicalMember] = {}
        if self.naive:
            self._choose_naive(y_all, folds, err_lin, final_val - truth_val)
        self.interval_q_: np.ndarray | None = None
        # The local spread's window: two seasons (or 24 values), when the training span
        # holds three windows (else no local scaling).
        w = 2 * season if 0 < season <= 60 else 24
        self.spread_window_ = w if n >= 3 * w and self.local_spread else 0
        self.spread_season_ = season if fixed and season <= 60 else 0
        proxy = self._noise_proxy(train)
        self.spread_ref_ = float(np.nanmean(proxy)) if np.isfinite(proxy).any() else 1.0
        self.spread_ref_ = self.spread_ref_ if self.spread_ref_ > 0 else 1.0
        if self._calibrate_intervals:
            self.interval_q_ = self._calibrate(y_all, self.X_, n, n_val)
        return self

    def _calibrate(self, y_all: np.ndarray, x_all: np.ndarray | None, n: int,
                   n_val: int) -> np.ndarray | None:
        """Conformal interval quantiles per step ahead, shape (K, 4): the 10/90 % and
        2.5/97.5 % quantiles (finite-sample corrected) of the errors, on the level scale, of
        the forecasts that this forecaster's own forecast -- its members, weights, naive or
        classical forecast as ``fit`` chose them -- refitted on the values before each
        validation span (:meth:`_refit_before`), makes from every origin of that span, K
        steps ahead recursively as :meth:`forecast` does. The network, trained on the values
        before the last span, joins that span's copy only. None when not even the last
        span's copy can be refitted (a short series): the validation residuals are used
        instead."""
        h = self.horizon
        season = self.season_
        k_max = h if self.inputs_ else max(h, 2 * season if 0 < season <= 60 else 24)
        x_all = x_all if self.inputs_ else None  # no input read: forecast recursively
        errors: list[np.ndarray] = []
        spread_at: list[np.ndarray] = []
        # The oldest span starts later when the values before it are too few to refit the
        # members as fit would fit them (twice as many origins as coefficients, at least 6):
        # a copy fitted on 3 origins of Shampoo gave a 95 % bound 650 times the forecast.
        least = self.t_min_ + h + max([6] + [2 * self._coefficients(m) for m in self.members_])
        for j in range(1, self.folds + 1):
            n_c = max(n - j * n_val, least)
            copy = self._refit_before(y_all, n_c, network=j == 1)
            if copy is None:  # a classical member could not be refitted
                break
            origins = np.arange(max(n_c - 1, self.t_min_ + h), n - (j - 1) * n_val - 1)
            if len(origins) > _CALIBRATION_ORIGINS:  # evenly spread: bounded cost
                origins = origins[np.linspace(0, len(origins) - 1, _CALIBRATION_ORIGINS
                                              ).round().astype(int)]
            if not len(origins):
                break
            try:
                pred = copy._paths(y_all, x_all, origins, k_max)
            except ValueError:  # its recursion left the range of float64
                break
            target = origins[:, None] + np.arange(1, k_max + 1)[None, :]
            seen = target <= n - 1  # only the training span
            err = np.full(pred.shape, np.nan)
            if self.transform_.uses_log:
                # A copy's forecast at or below the floor (a member on the levels forecasting
                # <= 0, which this model on logarithms does not do) has no error on the log
                # scale: left out (on Lynx one such copy made a 95 % band 8,000 times wide).
                seen &= pred > self.floor_
            err[seen] = (self._level(y_all[np.minimum(target, n - 1)])
                         - self._level(pred))[seen]
            errors.append(err)
            spread_at.append(origins)
        if not errors:
            return None
        err = np.concatenate(errors)
        # Normalised by the local spread at each origin (locally weighted conformal): a
        # series whose noise grows or shrinks with its level gets intervals that follow it.
        err = err / self._local_spread(y_all, np.concatenate(spread_at))[:, None]
        counts = np.sum(np.isfinite(err), axis=0)
        usable = int(np.argmin(counts >= _MIN_CALIBRATION)) if not np.all(
            counts >= _MIN_CALIBRATION) else k_max
        if usable == 0:
            return None
        return _conformal_quantiles(err[:, :usable])

    def _refit_before(self, y_all: np.ndarray, n_c: int, network: bool) -> Forecaster | None:
        """A copy of this fitted forecaster whose fitted parts are refitted on
        ``y_all[:n_c]`` only: each linear member's input scaler and coefficients (same
        transform, AR order and weight), the classical member(s) it forecasts with; the
        naive choice and weights stay. ``network``: keep the network's correction (else its
        weight is 0). None when a member has fewer than twice as many fitting origins as
        coefficients (:meth:`_coefficients`), or a classical member cannot be refitted.

        Refitting the chosen forecast, not re-running the whole choice on less data, makes
        the calibration errors those of the forecast whose intervals they give: copies that
        chose again (a copy fitted on 40 % of the data picks its own transform and order)
        made intervals too wide (docs/forecasting.md, "How often the intervals cover")."""
        h = self.horizon
        members = self.members_
        if self.naive_ is None or self.naive_weight_ < 1.0:  # the members are forecast
            o = np.arange(self.t_min_, n_c - h)
            xs = self._scaled_inputs(self.X_)
            members = []
            for m in self.members_:
                if len(o) < 2 * self._coefficients(m):
                    return None
                x, us, scaler = self._prepare(m.transform, y_all, n_c)
                design = self._design(us, xs if m.exog else None, o, m.order)
                coef = _lstsq(design, m.transform.targets(x, o, h))
                members.append(_Member(m.transform, m.order, coef, scaler, m.weight, m.exog))
        kinds = [k for k in self.classical_ if k == self.naive_ or self.naive_ == COMBINATION]
        try:
            classical = {k: fit_classical(k, y_all[:n_c], self.season_) for k in kinds}
        except (ValueError, np.linalg.LinAlgError):  # too short, or a failed estimate
            return None
        clone = object.__new__(type(self))  # a shallow copy: this one is not changed
        clone.__dict__.update(self.__dict__)
        clone.members_, clone.classical_ = members, classical
        if not self.inputs_:  # X given but no column read: forecast without it
            clone.X_ = None
        if not network:
            clone.alpha_ = 0.0
        return clone

    def _coefficients(self, m: _Member) -> int:
        """The number of coefficients of member ``m``'s regression: p lags of the series,
        p of each input read, and the intercept."""
        return m.order * (1 + (len(self.inputs_) if m.exog else 0)) + 1

    def _local_spread(self, y_all: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """The local spread at each origin, shape (N,), relative to the training span's: the
        mean absolute change of the level-scale series x over the ``spread_window_`` values
        up to the origin (fewer near the start); with a fixed season m (a calendar period or
        one set) the change of its seasonal difference, x_t - x_{t-1} - x_{t-m} + x_{t-m-1},
        so that the seasonal pattern itself is not read as spread. Ones when the window
        is 0."""
        w = self.spread_window_
        if not w:
            return np.ones(len(origins))
        change = self._noise_proxy(y_all)
        total = np.concatenate([[0.0], np.cumsum(np.nan_to_num(change))])
        count = np.concatenate([[0], np.cumsum(np.isfinite(change))])
        o = np.asarray(origins, dtype=np.int64) + 1  # values up to and including the origin
        start = np.maximum(o - w, 0)
        local = (total[o] - total[start]) / np.maximum(count[o] - count[start], 1)
        return np.maximum(local, 1e-12) / max(self.spread_ref_, 1e-12)

    def _noise_proxy(self, y_all: np.ndarray) -> np.ndarray:
        """|x_t - x_{t-1}| (or of the seasonal difference, see :meth:`_local_spread`) at each
        t, NaN where not defined; shape (T,)."""
        x = self._level(y_all)
        m = self.spread_season_
        out = np.full(len(x), np.nan)
        d = np.diff(x)
        if m:
            out[m + 1:] = np.abs(d[m:] - d[:-m])
        else:
            out[1:] = np.abs(d)
        return out

    def _paths(self, y_all: np.ndarray, x_all: np.ndarray | None, origins: np.ndarray,
               steps: int) -> np.ndarray:
        """Forecasts of ``steps`` values from each origin as :meth:`forecast` makes them from
        the end of ``y_all[:origin + 1]``, shape (N, steps); all origins at once (each
        recursion round forecasts every origin's own continuation: the continuations are
        laid end to end, each reading only its own last t_min_ + 1 + H values)."""
        h = self.horizon
        if steps <= h or x_all is not None:
            return self.predict_origins(y_all, x_all, origins)[:, :steps]
        if self.naive_ is not None and self.naive_weight_ == 1.0:
            return self._naive(y_all, origins, steps)
        keep = self.t_min_ + 1 + h
        if origins.min() < keep - 1:
            raise ValueError(f"origins must be >= {keep - 1}")
        base = y_all[origins[:, None] + np.arange(-keep + 1, 1)[None, :]]  # (N, keep)
        paths = [base] * len(self.members_)
        done: list[np.ndarray] = []
        count = 0
        while count < steps:
            width = paths[0].shape[1]
            ends = np.arange(len(origins)) * width + width - 1
            flat = [p.reshape(-1) for p in paths]
            members = self._member_forecasts(flat, None, ends)
            if not all(np.isfinite(f).all() for f in members):
                raise ValueError("the recursive forecast leaves the range of float64")
            done.append(self._combined(members, flat[0], None, ends))
            count += h
            paths = [np.concatenate([p[:, -keep:], f], axis=1) for p, f in zip(
                paths, members, strict=True)]
        mean = np.concatenate(done, axis=1)[:, :steps]
        if self.naive_ is not None:
            mean = self._mix(mean, self._naive(y_all, origins, steps))
        return self._clip(mean)

    def _choose_naive(self, y_all: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
                      err_lin: np.ndarray, err_last: np.ndarray) -> None:
        """Score the naive forecasts on every validation span against the model (the
        linear combination, with the network's correction on the last span, where it was
        weighed) and decide whether one replaces or joins it.

        The rule, robust across spans rather than tuned on their pooled score (one pooled
        RMSE let a seasonal naive forecast that lost one span of three by 22 % join the
        model of Seatbelts, and lose on the test span):

        - per span (or, with one span, per third of it) the log ratio of two forecasts'
          RMSEs; one forecast is *clearly* better than another when the mean of these
          ratios, recent spans weighted more, is below minus their spread (their weighted
          standard deviation; at least ``_MIN_MARGIN``);
        - intermittent counts: the TSB method (or Croston's SBA, or zero, when clearly
          better than TSB) is used alone unless the model is clearly better than it;
        - the model must beat persistence on validation: if it does not, persistence is
          used alone (or a naive forecast clearly better than persistence);
        - otherwise the best naive forecast joins the model (its weight chosen on the
          spans) only when it alone is clearly better than the model.
        """
        h = self.horizon
        origins = np.concatenate([v_o for _, v_o in folds])
        truth = self.y_[origins[:, None] + np.arange(1, h + 1)[None, :]]
        err_model = err_lin.copy()
        err_model[: err_last.size] = err_last.ravel()  # the last span comes first
        err_model = err_model.reshape(truth.shape)
        if self.intermittent_:  # counts: the model's forecasts are clipped at 0
            err_model = np.maximum(truth + err_model, 0.0) - truth
        model = float(np.sqrt(np.mean(err_model * err_model))) if np.all(
            np.isfinite(err_model)) else math.inf
        self.validation_["model, all spans"] = model
        cands = naive_forecasts(y_all, origins, h, self.season_, self.intermittent_)
        # Classical members: fitted models, so (as for the network) only when there are
        # enough validation forecasts for their gain not to be mostly luck.
        if self.classical and not self.intermittent_ and len(
                origins) >= self.min_val_network and classical_available():
            cands.update(self._fit_classical(y_all, folds))
        # Forecast combination (M3/M4: the mean of several methods beats the best single
        # one picked afterwards): the equal-weight mean of the model and the classical
        # members, from their validation forecasts already made (nothing refitted). It is
        # the model mixed with the members' mean at weight k / (k + 1), so it is stored as
        # that mix and forecast by the model's own machinery.
        members = [k for k in CLASSICAL_METHODS if k in cands]
        combo_weight = len(members) / (len(members) + 1)
        member_mean = np.mean([cands[k] for k in members], axis=0) if members else None
        if member_mean is not None and self.combination:
            cands[COMBINATION] = ((1 - combo_weight) * (truth + err_model)
                                  + combo_weight * member_mean)
        errs = {name: pred - truth for name, pred in cands.items()}
        scores = {name: rmse(pred, truth) for name, pred in cands.items()}
        for name, score in scores.items():
            self.validation_[f"naive {name}, all spans"] = score
        # Blocks of origins: the spans (the last one first), or thirds of a single span.
        sizes = [len(v_o) for _, v_o in folds]
        if len(sizes) == 1:
            edges = np.linspace(0, len(origins), min(3, len(origins)) + 1).round().astype(int)
        else:
            edges = np.concatenate([[0], np.cumsum(sizes)])
        blocks = [slice(a, b) for a, b in itertools.pairwise(edges) if b > a]
        recency = 1.0 / np.arange(1, len(blocks) + 1)  # the most recent block first

        def gain(err_a: np.ndarray, err_b: np.ndarray,
                 least: float = _MIN_MARGIN) -> tuple[float, float]:
            """(weighted mean, spread) of log(RMSE of a / RMSE of b) over the blocks."""
            if not (np.all(np.isfinite(err_a)) and np.all(np.isfinite(err_b))):
                return (math.inf if not np.all(np.isfinite(err_a)) else -math.inf), 0.0
            ratios = np.array([np.log(max(root_mean_square(err_a[s]), 1e-300)
                                      / max(root_mean_square(err_b[s]), 1e-300))
                               for s in blocks])
            mean = float(np.average(ratios, weights=recency))
            spread = float(np.sqrt(np.average((ratios - mean) ** 2, weights=recency)))
            return mean, max(spread, least)

        def clearly(err_a: np.ndarray, err_b: np.ndarray, least: float = _MIN_MARGIN) -> bool:
            mean, spread = gain(err_a, err_b, least)
            return mean < -spread

        chosen: str | None = None
        alone = False
        if self.intermittent_:
            # TSB unless another method is clearly better: its demand probability decays
            # in every period without demand, so it follows a count that dies out or stops
            # (which validation rarely shows), while Croston's forecast stays where the
            # last demand left it.
            best_i = "TSB"
            for k in INTERMITTENT_METHODS:
                if scores[k] < scores[best_i] and clearly(errs[k], errs["TSB"]):
                    best_i = k
            if not clearly(err_model, errs[best_i], _COUNT_MARGIN):
                chosen, alone, self.naive_reason_ = best_i, True, (
                    "intermittent count: the model was not clearly better on validation")
        if chosen is None and not model < scores["persistence"]:
            best = min(scores, key=lambda k: scores[k])
            chosen = best if clearly(errs[best], errs["persistence"]) else "persistence"
            alone, self.naive_reason_ = True, "the model did not beat persistence on validation"
        if chosen is None:
            best = min(scores, key=lambda k: scores[k])
            if not clearly(errs[best], err_model):
                return
            chosen, self.naive_reason_ = best, (
                "it was clearly better than the model on validation")
        mean, spread = gain(errs[chosen], err_model)
        self.validation_[f"{chosen} / model, log RMSE ratio"] = mean
        self.validation_[f"{chosen} / model, spread"] = spread
        mixed_with = cands[chosen]
        weights: tuple[float, ...] = ALPHAS
        if chosen == COMBINATION:  # equal weights, not tuned: the model and its members
            assert member_mean is not None
            mixed_with, weights, alone = member_mean, (combo_weight,), True
            self.validation_["combination members"] = float(len(members))
        err_naive = (mixed_with - truth).ravel()
        mixed = {w: float(np.sqrt(np.mean(((1 - w) * err_model.ravel() + w * err_naive) ** 2)))
                 for w in weights}
        for w, score in mixed.items():
            self.validation_[f"naive weight {w:g}, all spans"] = score
        weight = (combo_weight if chosen == COMBINATION else 1.0) if alone else min(
            mixed, key=lambda w: (mixed[w], w))
        if weight == 0.0:
            self.naive_reason_ = ""
            return
        self.naive_, self.naive_weight_ = chosen, weight
        self.residuals_ = self.transform_.level(truth) - self._level(
            self._mix(truth + err_model, mixed_with))

    def _fit_classical(self, y_all: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
                       ) -> dict[str, np.ndarray]:
        """Fit the classical members (ETS, Theta) before each validation span and forecast
        its origins, shape (N, H) each in the order of the spans; then on the whole training
        span (``classical_``). A member that cannot be fitted is left out."""
        h, n = self.horizon, self.n_train_
        out: dict[str, np.ndarray] = {}
        for kind in self._classical_kinds:
            try:
                preds = []
                for _, v_o in folds:
                    member = fit_classical(kind, y_all[: v_o[0] + 1], self.season_)
                    preds.append(member.forecasts(y_all, v_o, h))
                pred = np.concatenate(preds)
                final = fit_classical(kind, y_all[:n], self.season_)
            except (ValueError, np.linalg.LinAlgError):  # too short, or a failed estimate
                continue
            if np.all(np.isfinite(pred)):
                out[kind], self.classical_[kind] = pred, final
        return out

    def _clip(self, pred: np.ndarray) -> np.ndarray:
        """Forecasts of an intermittent count never below 0."""
        return np.maximum(pred, 0.0) if self.intermittent_ else pred

    def _mix(self, model: np.ndarray, naive: np.ndarray) -> np.ndarray:
        """The model's and the naive forecasts combined with the naive weight."""
        w = self.naive_weight_
        return naive if w == 1.0 else (1 - w) * model + w * naive

    def _choose_inputs(self, y_all: np.ndarray, x_all: np.ndarray, n: int) -> list[int]:
        """The subset of X's columns whose linear combination scores best on the validation
        spans (every subset for up to 3 inputs; else none, all, each alone, each left out);
        the fewest inputs within 1 % of the best score win."""
        e = x_all.shape[1]
        if e <= _ALL_SUBSETS_UP_TO:
            subsets = [[c for c in range(e) if mask >> c & 1] for mask in range(1 << e)]
        else:
            subsets = [[], list(range(e)), *([c] for c in range(e)),
                       *([c for c in range(e) if c != k] for k in range(e))]
        config = {**self.get_config(), "network": False, "naive": False, "classical": False,
                  "select_inputs": False}
        scored = []
        for cols in subsets:
            sub = Forecaster(**config)
            sub._calibrate_intervals = False  # only its validation score is read
            try:
                sub.fit(y_all, x_all[:, cols] if cols else None, dates=self.dates_,
                        train_size=n)
                score = sub.validation_["linear combination, all spans"]
            except ValueError:  # too many inputs for the data: not a candidate
                score = math.inf
            scored.append((cols, float(score) if math.isfinite(score) else math.inf))
        self.input_scores_ = scored
        # Fewer inputs unless more gain over 1 % on validation: an input that only fits the
        # validation noise would be read on the test span too.
        top = min(score for _, score in scored)
        near = [cs for cs in scored if cs[1] <= top * (1 + _INPUT_MARGIN)]
        return min(near, key=lambda cs: (len(cs[0]), cs[1]))[0]

    def _level(self, values: np.ndarray) -> np.ndarray:
        """The primary transform's level scale (log for the log transforms)."""
        if self.transform_.uses_log:
            return np.log(np.maximum(values, self.floor_))
        return np.asarray(values, dtype=np.float64)

    def _combine(self, linear: np.ndarray, correction: np.ndarray) -> np.ndarray:
        """Linear forecasts plus a network correction on the primary level scale."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.transform_.inverse_level(self._level(linear) + correction)

    def _aicc_order(self, tr: TargetTransform, x: np.ndarray, us: np.ndarray,
                    xs: np.ndarray | None, origins: np.ndarray, orders: list[int]) -> int:
        """The AR order with the lowest AICc of the step-1 regression on the training span
        (as auto.arima chooses orders; much less noisy than a short validation span)."""
        r = tr.targets(x, origins, 1)[:, 0]
        n = len(origins)
        best, best_val = orders[0], np.inf
        for p in orders:
            design = self._design(us, xs, origins, p)
            k = design.shape[1] + 1  # coefficients + the noise variance
            if n - k - 1 <= 0:
                continue
            resid = r - design @ _lstsq(design, r[:, None])[:, 0]
            rss = max(float(resid @ resid), 1e-300)
            aicc = n * np.log(rss / n) + 2 * k + 2 * k * (k + 1) / (n - k - 1)
            if aicc < best_val:
                best, best_val = p, aicc
        return best

    def _prepare(self, tr: TargetTransform, y: np.ndarray,
                 n: int) -> tuple[np.ndarray, np.ndarray, RobustScaler]:
        """x (level scale), the scaled stationary series (NaN before it is defined), scaler."""
        x = tr.level(y)
        u = tr.stationary(x)
        scaler = RobustScaler().fit(u[tr.lost:n])
        return x, scaler.transform(u), scaler

    def _design(self, us: np.ndarray, xs: np.ndarray | None, origins: np.ndarray,
                p: int) -> np.ndarray:
        """Regressors: p lags of u, p lags of each input, and 1; shape (N, p * (1 + E) + 1)."""
        cols = [_lags(us, origins, p)]
        if xs is not None:
            cols.append(_lags(xs, origins, p).reshape(len(origins), -1))
        cols.append(np.ones((len(origins), 1)))
        return np.concatenate(cols, axis=1)

    def _windows(self, us: np.ndarray, xs: np.ndarray | None, origins: np.ndarray) -> np.ndarray:
        """Network inputs, shape (N, L, 1 + E)."""
        w = _lags(us, origins, self.look_back_)[:, :, None]
        if xs is not None:
            w = np.concatenate([w, _lags(xs, origins, self.look_back_)], axis=2)
        return w

    @staticmethod
    def _inverse(tr: TargetTransform, x: np.ndarray, origins: np.ndarray,
                 r: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return tr.inverse(x, origins, r)

    def _build_network(self, inputs: int) -> Sequential:
        return recurrent_network(self.cell, inputs, self.hidden_size, self.horizon,
                                 num_layers=self.num_layers, bidirectional=self.bidirectional,
                                 dtype=self.dtype, seed=self.seed)

    def _train_network(self, xf: np.ndarray, yf: np.ndarray, xv: np.ndarray, yv: np.ndarray,
                       inputs: int) -> None:
        model = self._build_network(inputs)
        self.stopper_ = EarlyStopping(patience=self.patience, restore_best_weights=True)
        # lr None: the optimizer's own default
        self.solver_ = make_solver(model, MSE(), optimizer=self.optimizer, lr=self.lr,
                                   batch_size=self.batch_size, epochs=self.epochs,
                                   seed=self.seed, clip_norm=self.clip_norm,
                                   callbacks=[*self.callbacks, self.stopper_])
        self.solver_.fit(xf, yf, validation_data=(xv, yv))
        self.model_ = model

    # ----------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "transform_"):
            raise ValueError("this Forecaster is not fitted yet: call fit(y) first")

    def predict_origins(self, y: Any, X: Any, origins: Any) -> np.ndarray:
        """Forecasts of ``y[t+1 .. t+H]`` from each origin t, shape (N, H), original units.

        Only values up to each origin are read. Origins must be >= ``t_min_`` (enough
        history for the look-back and the differencing).
        """
        self._check_fitted()
        y_all, x_all = _check_series(y, X)
        xs = self._scaled_inputs(x_all)
        o = np.asarray(origins, dtype=np.int64)
        if len(o) and (o.min() < self.t_min_ or o.max() >= len(y_all)):
            raise ValueError(f"origins must be in {self.t_min_}..{len(y_all) - 1} (the model "
                             f"needs {self.t_min_} earlier values), got {o.min()}..{o.max()}")
        if self.naive_ is not None and self.naive_weight_ == 1.0:
            return self._naive(y_all, o, self.horizon)
        paths = [y_all] * len(self.members_)
        pred = self._combined(self._member_forecasts(paths, xs, o), paths[0], xs, o)
        if self.naive_ is not None:
            pred = self._mix(pred, self._naive(y_all, o, self.horizon))
        return self._clip(pred)

    def _naive(self, y_all: np.ndarray, o: np.ndarray, steps: int) -> np.ndarray:
        """The chosen naive forecast from the origins ``o``, shape (N, steps) (for the
        combination: the mean of the classical members, which the model joins)."""
        assert self.naive_ is not None
        if self.naive_ == COMBINATION:
            return np.mean([c.forecasts(y_all, o, steps) for c in self.classical_.values()],
                           axis=0)
        if self.naive_ in self.classical_:
            return self.classical_[self.naive_].forecasts(y_all, o, steps)
        return naive_forecasts(y_all, o, steps, self.season_, self.intermittent_)[self.naive_]

    def _scaled_inputs(self, x_all: np.ndarray | None) -> np.ndarray | None:
        """The exogenous inputs scaled as in training, after checking their columns."""
        if (x_all is None) != (self.X_ is None) or (
                x_all is not None and self.X_ is not None
                and x_all.shape[1] != self.X_.shape[1]):
            raise ValueError("X must have the same columns as the training data")
        if x_all is None or not self.inputs_:
            return None
        return self.x_scaler_.transform(x_all[:, self.inputs_])  # type: ignore[union-attr]

    def _member_forecasts(self, paths: list[np.ndarray], xs: np.ndarray | None,
                          o: np.ndarray) -> list[np.ndarray]:
        """Each linear member's own forecasts (N, H) from the origins ``o``, member i reading
        the series ``paths[i]``."""
        out = []
        for m, y_m in zip(self.members_, paths, strict=True):
            if m.transform.uses_log:
                m.transform.check(y_m, "the series")
            x = m.transform.level(y_m)
            us = m.scaler.transform(m.transform.stationary(x))
            r = self._design(us, xs if m.exog else None, o, m.order) @ m.coef
            out.append(self._inverse(m.transform, x, o, r))
        return out

    def _combined(self, member_forecasts: list[np.ndarray], first_path: np.ndarray,
                  xs: np.ndarray | None, o: np.ndarray) -> np.ndarray:
        """The weighted members plus the network's correction, which reads the first
        member's series ``first_path``."""
        weights = np.array([m.weight for m in self.members_])[:, None, None]
        stacked = np.stack(member_forecasts)  # (members, N, H)
        linear = np.sum(weights * stacked, axis=0)
        if any(m.transform.uses_log for m in self.members_):
            # The series is positive (a member takes its logarithm): a member forecasting
            # <= 0 (a linear AR on the levels can extrapolate there, as on Lynx) has left the
            # data's range and sits out that value, the others' weights renormalised.
            kept = weights * (stacked > 0)
            total = kept.sum(axis=0)
            fix = (total > 0) & (total < weights.sum())
            if fix.any():
                linear[fix] = (np.sum(kept * stacked, axis=0)[fix] / total[fix])
        if not (self.alpha_ and self.model_ is not None):
            return linear
        m0 = self.members_[0]
        us0 = m0.scaler.transform(m0.transform.stationary(m0.transform.level(first_path)))
        w = self._windows(us0, xs, o).astype(self.model_.dtype)
        net = np.asarray(self.model_.predict(w), np.float64) * self.r_scale_
        return self._combine(linear, self.alpha_ * net)

    def baselines(self, y: Any, origins: Any) -> dict[str, np.ndarray]:
        """The naive forecasts (persistence, seasonal naive if a season, drift, mean; Croston
        (SBA), TSB and zero for a count), the classical members fitted (ETS, Theta) and the
        level linear AR, each (N, H)."""
        self._check_fitted()
        y_all = _check_series(y, None)[0]
        o = np.asarray(origins, dtype=np.int64)
        out = naive_forecasts(y_all, o, self.horizon, self.season_, self.intermittent_)
        for kind, member in self.classical_.items():  # what each would have scored
            out[kind] = member.forecasts(y_all, o, self.horizon)
        q = self.baseline_order_
        out[f"linear AR({q})"] = predict_linear_ar(self.baseline_ar_, _lags(y_all, o, q))
        return out

    def evaluate(self, y: Any = None, X: Any = None, *, start: int | None = None) -> Evaluation:
        """Forecast every origin whose first target is at index >= ``start`` and score it.

        By default the stored series and ``start = train_size``: the test span. Origins run
        from ``start - 1`` to ``T - 1 - H``, so every test value is a step-1 target.
        """
        self._check_fitted()
        y_all = self.y_ if y is None else _check_series(y, None)[0]
        x_all = self.X_ if y is None else X
        begin = self.n_train_ if start is None else int(start)
        o = np.arange(max(begin - 1, self.t_min_), len(y_all) - self.horizon)
        if len(o) == 0:
            raise ValueError(f"nothing to evaluate: no origin from {begin - 1} leaves "
                             f"{self.horizon} value(s) to compare in a series of {len(y_all)}")
        truth = y_all[o[:, None] + np.arange(1, self.horizon + 1)[None, :]]
        pred = self.predict_origins(y_all, x_all, o)
        bases = self.baselines(y_all, o)
        metrics = {name: self._metrics(p, truth) for name, p in
                   {"model": pred, **bases}.items()}
        return Evaluation(o, truth, pred, bases, metrics)

    def _metrics(self, pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
        if not np.all(np.isfinite(pred)):
            return {"rmse": math.inf, "mae": math.inf, "mase": math.inf,
                    "rmse_per_step": [math.inf] * pred.shape[1]}
        return {"rmse": rmse(pred, truth), "mae": mae(pred, truth),
                "mase": mase(pred, truth, self.mase_scale_),
                "rmse_per_step": [rmse(pred[:, k], truth[:, k]) for k in range(pred.shape[1])]}

    def forecast(self, steps: int | None = None, y: Any = None, X: Any = None,
                 dates: Any = None) -> Forecast:
        """Forecast ``steps`` values past the end of the series, with 80 % and 95 % intervals.

        Parameters
        ----------
        steps : int, optional
            Default H. More than H steps are made recursively (each linear member's forecasts
            become its own inputs), which needs no exogenous inputs.
        y, X, dates : optional
            New data to forecast from (default: the series given to ``fit``).

        Returns
        -------
        Forecast

        Notes
        -----
        Intervals: per step ahead k, the conformal
        quantiles (10/90 %, 2.5/97.5 %, with the (m + 1) / m correction for m errors) of the
        errors that the chosen forecast (its members, weights and naive choice kept, their
        coefficients refitted) makes when fitted before each validation span and forecasting
        k steps from each origin of that span, recursively as here; when a level has too few
        errors for its order statistic, the wider of the largest error and the normal
        (Student t) prediction bound; on the model's level scale (log
        for the log transforms, so intervals scale with the level); steps beyond the K
        calibrated ones reuse step K's quantiles times (k / K) ** b, b in [0, 1/2] from how
        the 95 % width grew from step K / 2 to K (K = 2 seasons up to 60, else 24; H with
        exogenous inputs). When no copy can be fitted (a short series):
        empirical quantiles per step of the validation
        residuals, or a normal approximation from their RMS when fewer than 20 validation
        forecasts exist; steps beyond H reuse step H's spread times sqrt(k / H).
        """
        self._check_fitted()
        steps = self.horizon if steps is None else int(steps)
        if not 1 <= steps <= MAX_FORECAST_STEPS:
            raise ValueError(f"steps must be between 1 and {MAX_FORECAST_STEPS:,}, got {steps}")
        y_all = self.y_ if y is None else _check_series(y, None)[0]
        x_all = self.X_ if y is None else _check_series(y, X)[1]
        d_all = self.dates_ if y is None else (
            None if dates is None else parse_dates(list(dates)))
        if x_all is not None and self.inputs_ and self.naive_weight_ < 1.0 and \
                steps > self.horizon:
            raise ValueError(f"with exogenous inputs only {self.horizon} step(s) can be "
                             f"forecast (their future is unknown); retrain with --horizon "
                             f"{steps}")
        if len(y_all) - 1 < self.t_min_:
            raise ValueError(f"need at least {self.t_min_ + 1} values to forecast, got "
                             f"{len(y_all)}")
        spread = float(self._local_spread(y_all, np.array([len(y_all) - 1]))[0])
        return self._intervals(self._path(y_all, x_all, steps), steps, d_all, spread)

    def _path(self, y_all: np.ndarray, x_all: np.ndarray | None, steps: int) -> np.ndarray:
        """The forecast mean of ``steps`` values past the end of ``y_all``, shape (S,)."""
        last = np.array([len(y_all) - 1])
        if self.naive_ is not None and self.naive_weight_ == 1.0:
            return self._naive(y_all, last, steps)[0]
        # Beyond H steps each linear member goes on from its own forecasts (and the network
        # reads the first member's): a member on logarithms never sees another member's
        # values, which may leave the positive range (fed the combined forecast, a log
        # member failed on 3 of 12 origins of Lynx: benchmarks/intervals.py).
        xs = self._scaled_inputs(x_all)
        # A forecast from the last origin reads its last t_min_ + 1 values only (the
        # look-back, the AR orders and the differencing fit in them): each round keeps that
        # tail, so the recursion costs the same per step however many steps are asked.
        keep = self.t_min_ + 1 + self.horizon
        tail = y_all[-keep:] if xs is None else y_all
        paths = [tail] * len(self.members_)  # (each round makes new arrays)
        out: list[float] = []
        while len(out) < steps:
            o = np.array([len(paths[0]) - 1])
            members = self._member_forecasts(paths, xs, o)
            if not all(np.isfinite(f).all() for f in members):
                raise ValueError(f"the recursive forecast leaves the range of float64 after "
                                 f"{len(out)} of {steps} steps; forecast fewer steps")
            out.extend(self._combined(members, paths[0], xs, o)[0].tolist())
            paths = [np.concatenate([path[-keep:], f[0]]) for path, f in zip(
                paths, members, strict=True)]
        mean = np.asarray(out[:steps])
        if self.naive_ is not None:
            mean = self._mix(mean, self._naive(y_all, last, steps)[0])
        return self._clip(mean)

    def _intervals(self, mean: np.ndarray, steps: int, d_all: np.ndarray | None,
                   spread: float = 1.0) -> Forecast:
        """The forecast ``mean`` (S,) with its 80 % and 95 % intervals (the conformal
        quantiles per step, or the validation residuals'), and its dates."""
        tr = self.transform_
        lower: dict[int, np.ndarray] = {}
        upper: dict[int, np.ndarray] = {}
        xm = self._level(mean)
        k = np.arange(steps)
        if self.interval_q_ is not None:
            q = self.interval_q_ * spread  # the local spread at the forecast's origin
            last = len(q)
            idx = np.minimum(k, last - 1)
            # Past the calibrated steps the spread goes on growing as it grew over their
            # second half, as (k / K) ** b with b in [0, 1/2]: 1/2 for a random walk, 0 for
            # a series whose errors have levelled off.
            b = 0.5
            if last >= 4:
                ratio = (q[-1, 3] - q[-1, 2]) / max(q[last // 2 - 1, 3] - q[last // 2 - 1, 2],
                                                     1e-300)
                b = float(np.clip(np.log(max(ratio, 1e-300)) / np.log(last / (last // 2)),
                                  0.0, 0.5))
            grow = (np.maximum(k + 1, last) / last) ** b
            for j, level in enumerate((80, 95)):
                lower[level] = tr.inverse_level(xm + q[idx, 2 * j] * grow)
                upper[level] = tr.inverse_level(xm + q[idx, 2 * j + 1] * grow)
                if self.intermittent_:  # counts: never below 0
                    lower[level] = np.maximum(lower[level], 0.0)
            fdates = None if d_all is None or len(d_all) < 2 else future_dates(d_all, steps)
            return Forecast(mean, lower, upper, fdates)
        step_idx = np.minimum(k, self.horizon - 1)
        widen = np.sqrt(np.maximum(k + 1, self.horizon) / self.horizon)
        res = self.residuals_
        for level in (80, 95):
            if len(res) >= 20:
                a = (100 - level) / 200
                lo_q, hi_q = np.quantile(res, [a, 1 - a], axis=0)
            else:
                spread = np.sqrt(np.mean(res * res, axis=0)) * _Z[level]
                lo_q, hi_q = -spread, spread
            lower[level] = tr.inverse_level(xm + lo_q[step_idx] * widen)
            upper[level] = tr.inverse_level(xm + hi_q[step_idx] * widen)
            if self.intermittent_:  # counts: never below 0
                lower[level] = np.maximum(lower[level], 0.0)
        fdates = None if d_all is None or len(d_all) < 2 else future_dates(d_all, steps)
        return Forecast(mean, lower, upper, fdates)

    # ------------------------------------------------------------- describe
    @property
    def method_(self) -> str:
        """What produces the forecasts, in words."""
        self._check_fitted()
        v = self.validation_
        if self.naive_ is not None and self.naive_weight_ == 1.0:
            why = self.naive_reason_ or "it beat the model on validation"
            what = "a classical member" if self.naive_ in self.classical_ else "a naive forecast"
            return (f"{self.naive_} ({what}: {why}; RMSE "
                    f"{v[f'naive {self.naive_}, all spans']:.4g} against the model's "
                    f"{v['model, all spans']:.4g} over all validation spans)")
        parts = [f"AR({m.order}) on "
                 + m.transform.name.replace("none", "levels")
                 + ("" if self.X_ is None or not self.inputs_ else
                    f" reading input(s) {'+'.join(str(i + 1) for i in self.inputs_)}"
                    if m.exog else " without the inputs")
                 for m in self.members_]
        weights = [m.weight for m in self.members_]
        lin = ("linear " + parts[0] if len(parts) == 1 else "weighted mean of linear "
               + ", ".join(f"{w:.3g} x {part}" for w, part in zip(weights, parts, strict=True)))
        if self.naive_ == COMBINATION:
            return self._combination_text(lin)
        if self.naive_ is not None:
            w = self.naive_weight_
            why = self.naive_reason_ or "it beat the model on validation"
            lin = (f"{1 - w:g} x ({lin}) + {w:g} x {self.naive_} ({why}; the naive weight "
                   f"chosen on every validation span: RMSE "
                   f"{v[f'naive weight {w:g}, all spans']:.4g}, "
                   f"model alone {v['model, all spans']:.4g}, {self.naive_} alone "
                   f"{v[f'naive {self.naive_}, all spans']:.4g})")
        return lin + self._network_text()

    def _network_text(self) -> str:
        """How the network takes part, in words (appended to the linear model's)."""
        if self.alpha_ == 0.0:
            if not self.network:
                why = "no network"
            elif self.validation_.get("validation forecasts", np.inf) < self.min_val_network:
                why = (f"network not trained: {self.validation_['validation forecasts']:.0f} "
                       f"validation forecasts are too few to trust it (< "
                       f"{self.min_val_network})")
            else:
                why = "the network did not help on validation"
            return f" ({why}: network weight 0)"
        return (f" + {self.cell.upper()} on its residuals (network weight "
                f"{self.alpha_:g}, chosen on validation)")

    def _combination_text(self, lin: str) -> str:
        """The forecast combination in words: its members and why it is used."""
        v, w = self.validation_, self.naive_weight_
        names = ", ".join(self.classical_)
        why = self.naive_reason_ or "it beat the model on validation"
        return (f"forecast combination: equal-weight mean of the model ({lin}"
                f"{self._network_text()}) and the classical members {names} ({why}; RMSE "
                f"{v[f'naive weight {w:g}, all spans']:.4g} against the model's "
                f"{v['model, all spans']:.4g} over all validation spans)")

    # -------------------------------------------------------------- save/load
    def _state(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "config": self.get_config(), "season": self.season_,
            "look_back": self.look_back_, "t_min": self.t_min_,
            "members": [{"kind": m.transform.kind, "season": m.transform.season,
                         "order": m.order, "coef": m.coef.tolist(), "weight": m.weight,
                         "exog": m.exog,
                         "scaler": m.scaler.state_dict()} for m in self.members_],
            "naive": self.naive_, "naive_weight": self.naive_weight_,
            "naive_reason": self.naive_reason_,
            "classical": {k: c.state_dict() for k, c in self.classical_.items()},
            "interval_q": None if self.interval_q_ is None else self.interval_q_.tolist(),
            "spread_window": self.spread_window_, "spread_ref": self.spread_ref_,
            "spread_season": self.spread_season_,
            "intermittent": self.intermittent_,
            "inputs": self.inputs_,
            "floor": self.floor_,
            "baseline_order": self.baseline_order_,
            # the AR's coefficients with the intercept as the last row
            "baseline_coef": np.vstack([self.baseline_ar_.coef,
                                        self.baseline_ar_.intercept[None, :]]).tolist(),
            "x_scaler": None if self.x_scaler_ is None else self.x_scaler_.state_dict(),
            "r_scale": self.r_scale_.tolist(), "alpha": self.alpha_,
            "residuals": self.residuals_.tolist(), "mase_scale": self.mase_scale_,
            "validation": self.validation_, "n_train": self.n_train_,
            "y": self.y_.tolist(), "X": None if self.X_ is None else self.X_.tolist(),
            "dates": None if self.dates_ is None else format_dates(self.dates_),
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything but the network weights, JSON-serialisable (no pickle), with
        ``"sha256"``: the SHA-256 of the rest (:func:`state_digest`), which :meth:`load`
        checks, so an edited coefficient is refused rather than silently forecast with."""
        state = self._state()
        return {**state, "sha256": state_digest(state)}

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write the network and the fitted state to one ``.npz`` (minirnn's model format).

        Without a network (``network=False``) a dummy network is stored so the file format
        is the same.
        """
        from minirnn.nn.io import save_model

        model = self.model_ if self.model_ is not None else self._build_network(
            1 + len(self.inputs_))
        save_model(path, model, metadata={"task": "series", "forecaster": self.state_dict(),
                                          **(extra or {})})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Forecaster:
        """Load a Forecaster saved by :meth:`save`; raises ``ValueError`` if it is not one."""
        from minirnn.nn.io import load_metadata, load_model

        meta = load_metadata(path)
        state = meta.get("forecaster")
        if meta.get("task") != "series" or not isinstance(state, dict):
            raise ValueError(f"{path}: not a forecasting model (made by 'minirnn train series'"
                             f" or Forecaster.save); its task is {meta.get('task')!r}")
        digest = state.get("sha256")
        body = {k: v for k, v in state.items() if k != "sha256"}
        if not isinstance(digest, str) or digest != state_digest(body):
            raise ModelFileError(f"{path}: the forecaster's state fails its checksum (edited, "
                                 "or saved by an older minirnn without one); retrain it with "
                                 "'minirnn train series'")
        model = load_model(path)
        try:
            fc = cls._from_state(body)
            fc._check_state(model if isinstance(model, Sequential) else None)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError,
                MemoryError) as exc:
            raise ModelFileError(f"{path}: corrupt forecaster state ({type(exc).__name__}: "
                                 f"{exc})") from exc
        fc.model_ = model if isinstance(model, Sequential) else None
        return fc

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Forecaster:
        fc = cls(**state["config"])
        fc.season_, fc.look_back_ = _int(state["season"]), _int(state["look_back"])
        fc.t_min_ = _int(state["t_min"])
        members = state["members"]
        if not isinstance(members, list) or not 1 <= len(members) <= 64:
            raise ModelFileError(f"1 to 64 linear members expected, got "
                                 f"{len(members) if isinstance(members, list) else members!r}")
        fc.members_ = [_Member(TargetTransform(m["kind"], _int(m["season"])),
                               _int(m["order"]), _finite(m["coef"], "a member's coef"),
                               RobustScaler.from_state(m["scaler"]), float(m["weight"]),
                               bool(m["exog"]))
                       for m in members]
        fc.transform_ = fc.members_[0].transform
        fc.naive_ = state.get("naive")  # absent from files saved before naive candidates
        fc.naive_weight_ = float(state.get("naive_weight", 0.0))
        fc.naive_reason_ = str(state.get("naive_reason", ""))
        classical = state.get("classical", {})
        if not isinstance(classical, dict) or not set(classical) <= set(CLASSICAL_METHODS):
            raise ModelFileError(f"unknown classical members {classical!r}")
        fc.classical_ = {str(k): ClassicalMember.from_state(v) for k, v in classical.items()}
        q = state.get("interval_q")
        fc.interval_q_ = None if q is None else _finite(q, "interval_q").reshape(-1, 4)
        # absent from files saved before the local spread: no scaling
        fc.spread_window_ = _int(state.get("spread_window", 0))
        fc.spread_ref_ = float(state.get("spread_ref", 1.0))
        fc.spread_season_ = _int(state.get("spread_season", 0))
        fc.intermittent_ = bool(state.get("intermittent", False))
        fc.input_scores_ = []
        fc.X_ = None if state["X"] is None else _finite(state["X"], "X")
        inputs = state.get("inputs", None if fc.X_ is None else list(range(fc.X_.shape[1])))
        fc.inputs_ = [] if inputs is None else [_int(c) for c in inputs]
        fc.floor_ = float(state["floor"])
        fc.baseline_order_ = _int(state["baseline_order"])
        weights = _finite(state["baseline_coef"], "baseline_coef")
        fc.baseline_ar_ = LinearAR(coef=weights[:-1], intercept=weights[-1],
                                   window_shape=(fc.baseline_order_,),
                                   target_shape=(weights.shape[1],))
        fc.x_scaler_ = None if state["x_scaler"] is None else RobustScaler.from_state(
            state["x_scaler"])
        fc.r_scale_ = _finite(state["r_scale"], "r_scale")
        fc.alpha_ = float(state["alpha"])
        fc.residuals_ = _finite(state["residuals"], "residuals").reshape(-1, fc.horizon)
        fc.mase_scale_ = float(state["mase_scale"])
        fc.validation_ = dict(state["validation"])
        fc.n_train_ = _int(state["n_train"])
        fc.y_ = _finite(state["y"], "y")
        fc.X_ = None if state["X"] is None else _finite(state["X"], "X")
        fc.dates_ = None if state["dates"] is None else parse_dates(state["dates"])
        return fc

    def _check_state(self, model: Sequential | None) -> None:
        """Every size and value of a loaded state in range, before anything is forecast:
        orders within the look-back, the look-back and differencing within the series,
        coefficient shapes that fit their members, finite numbers, the network's shapes."""
        h, n = self.horizon, len(self.y_)
        if self.y_.ndim != 1 or n < 2:
            raise ModelFileError(f"the stored series must be 1-D with 2 values or more, got "
                                 f"shape {self.y_.shape}")
        e = len(self.inputs_)
        if self.X_ is not None and (self.X_.ndim != 2 or len(self.X_) != n
                                    or (self.x_scaler_ is None) != (e == 0)):
            raise ModelFileError(f"the stored inputs X must be ({n}, E), got {self.X_.shape}")
        width_x = 0 if self.X_ is None else self.X_.shape[1]
        if len(set(self.inputs_)) != e or not all(0 <= c < width_x for c in self.inputs_):
            raise ModelFileError(f"inputs {self.inputs_} are not distinct columns of the "
                                 f"{width_x} stored")
        known = (*NAIVE_METHODS, *self.classical_, *([COMBINATION] if self.classical_ else []))
        k_c = len(self.classical_)
        if self.naive_ == COMBINATION and not math.isclose(self.naive_weight_, k_c / (k_c + 1)):
            raise ModelFileError(f"the combination's weight {self.naive_weight_} is not "
                                 f"{k_c}/{k_c + 1} (equal weights for the model and {k_c} "
                                 "classical members)")
        if (self.naive_ is not None and (self.naive_ not in known or (
                self.naive_ == "seasonal naive" and self.season_ < 2))) or not (
                0.0 <= self.naive_weight_ <= 1.0) or (self.naive_ is None) != (
                self.naive_weight_ == 0.0):
            raise ModelFileError(f"unknown naive forecast {self.naive_!r}")
        iq = self.interval_q_
        if iq is not None and (iq.ndim != 2 or iq.shape[1] != 4 or not 1 <= len(iq) <= 10_000
                               or np.any(iq[:, 0] > iq[:, 1]) or np.any(iq[:, 2] > iq[:, 3])):
            raise ModelFileError(f"interval quantiles of shape {iq.shape} out of order")
        if not 0 <= self.spread_window_ < n or not 0 <= self.spread_season_ <= min(
                self.season_, 60) or not (math.isfinite(self.spread_ref_)
                                          and self.spread_ref_ > 0):
            raise ModelFileError(f"local spread window {self.spread_window_} (a series of "
                                 f"{n}) or reference {self.spread_ref_} out of range")
        if not 0 <= self.season_ < n or not 1 <= self.look_back_ < n or \
                not self.t_min_ < n or self.t_min_ < self.look_back_ + self.season_:
            raise ModelFileError(f"season {self.season_}, look-back {self.look_back_} and "
                                 f"first origin {self.t_min_} do not fit a series of {n}")
        for k, m in enumerate(self.members_):
            width = m.order * (1 + (e if m.exog else 0)) + 1
            # As fit: orders within the look-back, or a season + 1 (the linear AR baseline).
            max_order = max(self.look_back_, self.season_ + 1)
            if not 1 <= m.order <= max_order or m.transform.season > self.season_ or \
                    m.coef.shape != (width, h) or not math.isfinite(m.weight) or m.weight < 0:
                raise ModelFileError(
                    f"linear member {k}: AR order {m.order} (at most {max_order}), "
                    f"coefficients {m.coef.shape} (expected {(width, h)}), weight {m.weight}")
            for name in ("center_", "scale_"):
                value = np.asarray(getattr(m.scaler, name))
                if value.size != 1 or not np.isfinite(value).all() or (
                        name == "scale_" and not (value > 0).all()):
                    raise ModelFileError(f"linear member {k}: scaler {name[:-1]} {value}")
        if not math.isclose(sum(m.weight for m in self.members_), 1.0, abs_tol=1e-6):
            raise ModelFileError("the linear members' weights do not sum to 1")
        q = self.baseline_order_
        if not 1 <= q < n or self.baseline_ar_.coef.shape != (q, h):
            raise ModelFileError(f"baseline AR order {q} with coefficients "
                                 f"{self.baseline_ar_.coef.shape} does not fit")
        if self.r_scale_.shape != (h,) or not (self.r_scale_ > 0).all() or \
                not 0.0 <= self.alpha_ <= 1.0 or not math.isfinite(self.floor_):
            raise ModelFileError("network weight, residual scale or floor out of range")
        if self.dates_ is not None and len(self.dates_) != n:
            raise ModelFileError(f"{len(self.dates_)} dates for {n} values")
        if self.alpha_ and model is None:
            raise ModelFileError("a network weight without a network")
        if model is not None:
            probe = np.zeros((1, self.look_back_, 1 + e), dtype=model.dtype)
            out = np.asarray(model.predict(probe))
            if out.shape != (1, h):
                raise ModelFileError(f"the network gives {out.shape[1:]} outputs for a "
                                     f"horizon of {h}")

    def __repr__(self) -> str:
        return f"Forecaster({json.dumps(self.get_config())[1:-1]})"
