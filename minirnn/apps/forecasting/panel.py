"""A global forecaster: one recurrent network trained on the windows of several series.

Series that share their dynamics (related columns of a table, the same quantity in several
places) give one network far more windows than any of them alone: the idea of DeepAR and of
the M4 winner. Each series keeps the honesty of the one-series :class:`Forecaster`::

    series i ──standardised on its own training span──► z_i = (y_i - m_i) / s_i
    windows z_i[t-L+1 .. t] of every series, pooled ──► one GRU/LSTM ──► z_i[t+1..t+H] - z_i[t]
    per series, on its validation span (the end of its training span):
        the global network  vs  the local Forecaster (linear/classical/naive, no network)
        vs their mean  ──► the forecast used (the local one unless another is clearly better)

The network predicts the change from the last value (zero output is persistence) in units of
the series' own spread, so series of different scales share the weights. The local Forecaster
chosen against is fitted twice: once before the validation span (its validation forecasts),
once on the whole training span (its test forecasts). The test span is never read by ``fit``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minirnn.apps.data.baselines import naive_forecasts
from minirnn.apps.data.table import format_dates, future_dates, parse_dates
from minirnn.apps.forecasting.forecaster import (
    SUBDAILY_WEEKS,
    Forecast,
    Forecaster,
    check_network_options,
    state_digest,
)
from minirnn.apps.forecasting.metrics import rmse
from minirnn.apps.forecasting.transforms import detect_season
from minirnn.apps.recurrent import make_solver, recurrent_network
from minirnn.nn.io import ModelFileError
from minirnn.nn.losses import MSE
from minirnn.nn.model import Sequential
from minirnn.train.callbacks import Callback, EarlyStopping
from minirnn.train.solver import Solver

__all__ = ["CHOICES", "GlobalForecaster", "PanelEvaluation", "choose_forecast"]

#: The forecasts chosen between per series, on validation.
CHOICES = ("local", "global", "combination")


def choose_forecast(scores: dict[str, float], margin: float) -> str:
    """The forecast of one series, from validation RMSEs (``global``, ``combination``,
    ``local``, ``persistence``): the better of the global network and its mean with the
    local forecaster when it beats the local one by ``margin`` (a share) and persistence
    too, else the local forecaster (whose own rules weigh persistence and the other naive
    forecasts: a network that loses to persistence is not trusted over it)."""
    best = min(("global", "combination"), key=lambda k: scores[k])
    if scores[best] < (1 - margin) * scores["local"] and scores[best] < scores["persistence"]:
        return best
    return "local"
#: Least relative validation-RMSE gain for the global network (or the mean of both) to
#: replace the local forecaster: the local one stays unless another is clearly better.
DEFAULT_MARGIN = 0.02
#: Most series (and steps of a forecast) a panel may hold: guards memory against bad input.
_MAX_SERIES = 10_000
_MAX_STEPS = 100_000
#: Most windows per series kept for training (evenly spaced, the latest kept): a long
#: series does not drown the others.
_MAX_WINDOWS_PER_SERIES = 2000
_Z = {80: 1.2815515655446004, 95: 1.959963984540054}


@dataclass
class PanelEvaluation:
    """Per-series test scores of a :class:`GlobalForecaster`.

    Attributes
    ----------
    rows : list of dict
        One per series: ``name``, ``chosen`` (the forecast used), ``origins`` (N_i forecast
        origins), ``rmse`` (dict: ``forecast``, ``global``, ``local``, ``combination``,
        ``persistence`` and, with a season, ``seasonal naive``) and ``verdict`` (one line).
    predictions : list of dict of str to ndarray (N_i, H)
        The same forecasts, and ``truth``.
    """

    rows: list[dict[str, Any]]
    predictions: list[dict[str, np.ndarray]] = field(repr=False)

    def ratio(self, method: str) -> np.ndarray:
        """RMSE of ``method`` / RMSE of persistence, one per series, shape (S,)."""
        return np.array([r["rmse"][method] / max(r["rmse"]["persistence"], 1e-300)
                         for r in self.rows])

    def geometric_mean(self, method: str) -> float:
        """Geometric mean over the series of RMSE(method) / RMSE(persistence)."""
        return float(np.exp(np.mean(np.log(np.maximum(self.ratio(method), 1e-300)))))


def _check_panel(series: Any, names: Sequence[str] | None) -> tuple[list[np.ndarray], list[str]]:
    if isinstance(series, np.ndarray) and series.ndim == 2:
        series = list(series)
    if isinstance(series, (str, bytes)) or not isinstance(series, Sequence):
        raise TypeError(f"series must be a list of 1-D arrays, got {type(series).__name__}")
    if not 1 <= len(series) <= _MAX_SERIES:
        raise ValueError(f"series must hold 1 to {_MAX_SERIES} arrays, got {len(series)}")
    if names is None:
        names = [f"series {i + 1}" for i in range(len(series))]
    names = [str(n) for n in names]
    if len(names) != len(series) or len(set(names)) != len(names):
        raise ValueError(f"names must be {len(series)} distinct names (one per series), got "
                         f"{names!r}"[:200])
    out = []
    for name, y in zip(names, series, strict=True):
        arr = np.asarray(y)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
        if arr.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array (T,), got shape {arr.shape}")
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            bad = int(np.argmin(np.isfinite(arr)))
            raise ValueError(f"{name}: missing or non-finite value at index {bad} "
                             f"({arr[bad]}); fill or drop it first")
        out.append(arr)
    return out, names


class GlobalForecaster:
    """One recurrent network on the pooled windows of several series, chosen per series
    against the local :class:`Forecaster` on validation.

    Parameters
    ----------
    horizon : int
        H, steps predicted from each origin (direct: one output per step).
    look_back : int or "auto"
        L, past values the network reads. ``auto``: the season + 1 (at least 12 and 2H) for
        seasons up to 52, else 24; shortened to a third of the shortest fitting span.
    season : int or "auto"
        Period of the seasonal naive forecast and of the look-back (0 = none); ``auto``: the
        most frequent period detected on the series' training spans (on a tie, a period
        rather than none). The local forecasters detect their own.
    cell, hidden_size, num_layers : the network (``"gru"``, ``"lstm"`` or ``"rnn"``).
    epochs, batch_size, lr, patience, clip_norm, optimizer : training; early stopping on the
        pooled validation windows keeps the best epoch's weights.
    val_fraction : float
        Share of each series' training span (at its end) used for validation.
    local : bool
        Fit the local Forecaster per series and choose against it (False: the global network
        is the forecast of every series).
    margin : float
        Relative validation-RMSE gain the global network or the mean of both must bring over
        the local forecaster to be used.
    local_options : dict, optional
        Further arguments of the local :class:`Forecaster` (e.g. ``{"classical": False}``
        to leave out ETS/Theta, which cost most of its time); it never trains a network.
    seed : int or None
    dtype : "float32" or "float64"
    callbacks : sequence of Callback
        Extra callbacks for the network's Solver (e.g. epoch printing).

    Attributes (after ``fit``)
    --------------------------
    names_ (list of S names), season_, look_back_, center_, scale_ (ndarray (S,): the
    standardisation of each series), n_train_ (list of S ints), choice_ (list of S names in
    :data:`CHOICES`), validation_ (list of S dicts of validation RMSEs per candidate),
    locals_ (list of S Forecasters, or Nones), model_ (the network), solver_, stopper_,
    interval_q_ (list of S arrays (H, 4): the 10, 90, 2.5, 97.5 % quantiles of the chosen
    forecast's validation errors per step ahead).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(200)
    >>> panel = [a * np.sin(t / 6 + a) + 5 * a for a in (1.0, 2.0, 3.0)]
    >>> gf = GlobalForecaster(epochs=2, hidden_size=8).fit(panel, train_sizes=160)
    >>> [row["chosen"] in CHOICES for row in gf.evaluate().rows]
    [True, True, True]
    """

    model_: Sequential | None
    solver_: Solver | None
    stopper_: EarlyStopping | None

    def __init__(self, *, horizon: int = 1, look_back: int | str = "auto",
                 season: int | str = "auto", cell: str = "gru", hidden_size: int = 32,
                 num_layers: int = 1, epochs: int = 60, batch_size: int = 64,
                 lr: float | None = 3e-3, patience: int = 8, clip_norm: float | None = 1.0,
                 optimizer: str = "adam", val_fraction: float = 0.2, local: bool = True,
                 margin: float = DEFAULT_MARGIN, local_options: dict[str, Any] | None = None,
                 seed: int | None = 0, dtype: str = "float32",
                 callbacks: Sequence[Callback] = ()) -> None:
        check_network_options(
            {"horizon": horizon, "hidden_size": hidden_size, "num_layers": num_layers,
             "epochs": epochs, "batch_size": batch_size, "patience": patience},
            look_back=look_back, season=season, cell=cell, optimizer=optimizer)
        if not 0.0 < float(val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
        if not 0.0 <= float(margin) < 1.0:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}")
        if lr is not None and not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive number or None, got {lr!r}")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.horizon, self.look_back, self.season = int(horizon), look_back, season
        self.cell, self.hidden_size, self.num_layers = cell, int(hidden_size), int(num_layers)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), lr
        self.patience, self.clip_norm, self.optimizer = int(patience), clip_norm, optimizer
        self.val_fraction, self.local, self.margin = float(val_fraction), bool(local), \
            float(margin)
        options = dict(local_options or {})
        refused = {"horizon", "season", "network", "callbacks"} & set(options)
        if refused:
            raise ValueError(f"local_options may not set {sorted(refused)}: the global "
                             "forecaster sets them")
        Forecaster(**options)  # an unknown or bad option fails here, not after training
        self.local_options = options
        self.seed, self.dtype, self.callbacks = seed, dtype, list(callbacks)

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (callbacks excepted), JSON values."""
        return {"horizon": self.horizon, "look_back": self.look_back, "season": self.season,
                "cell": self.cell, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "epochs": self.epochs,
                "batch_size": self.batch_size, "lr": self.lr, "patience": self.patience,
                "clip_norm": self.clip_norm, "optimizer": self.optimizer,
                "val_fraction": self.val_fraction, "local": self.local,
                "margin": self.margin, "local_options": self.local_options,
                "seed": self.seed, "dtype": self.dtype}

    # --------------------------------------------------------------------- fit
    def _local(self, season: int) -> Forecaster:
        # No network in the local forecaster: it is what the global network competes with,
        # and a network per series is what this model replaces.
        options = {"seed": self.seed, **self.local_options}
        # Its own season when "auto": what the one-series Forecaster would do.
        return Forecaster(horizon=self.horizon, season="auto" if self.season == "auto"
                          else season, network=False, **options)

    def _spans(self, lengths: list[int], season: int) -> tuple[list[int], int]:
        """(validation size per series, look-back)."""
        h = self.horizon
        n_val = [max(round(self.val_fraction * n), h + 2) for n in lengths]
        # The typical series sets the look-back (one short series does not shorten it for
        # all; it is refused instead).
        fit_room = int(np.median([n - v - h for n, v in zip(lengths, n_val, strict=True)]))
        if self.look_back == "auto":
            s = season
            look = max(12, s + 1, 2 * h) if 0 < s <= 52 else max(24, 2 * h)
            if s in SUBDAILY_WEEKS:  # the week of sub-daily data: the last day + 1, as Forecaster
                look = max(s // 7 + 1, 2 * h)
            look = max(2, min(look, fit_room // 3))
        else:
            look = int(self.look_back)
        return n_val, look

    def fit(self, series: Sequence[Any], *, train_sizes: int | Sequence[int] | None = None,
            names: Sequence[str] | None = None,
            dates: Sequence[Any] | None = None) -> GlobalForecaster:
        """Fit on the first ``train_sizes[i]`` values of every series.

        Parameters
        ----------
        series : sequence of array_like, each shape (T_i,)
            S series of possibly different lengths (or an array (S, T)).
        train_sizes : int or sequence of S ints, optional
            Training span of each series (default: all of it); the rest is the test span
            :meth:`evaluate` scores. An int applies to every series.
        names : sequence of S str, optional
            Default ``series 1`` .. ``series S``.
        dates : sequence of S arrays of datetime64 or ISO strings (T_i,), optional
            Increasing dates per series (forecasts past the end continue them).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            An empty list, NaN or Inf, a series too short for its validation span, look-back
            and horizon (the message names it and says how many values are needed). Nothing
            is changed when it is raised.
        """
        ys, names = _check_panel(series, names)
        s_count, h = len(ys), self.horizon
        if train_sizes is None:
            sizes = [len(y) for y in ys]
        elif isinstance(train_sizes, (int, np.integer)) and not isinstance(train_sizes, bool):
            sizes = [int(train_sizes)] * s_count
        elif isinstance(train_sizes, Sequence):
            sizes = [int(v) for v in train_sizes]
            if len(sizes) != s_count:
                raise ValueError(f"train_sizes must hold {s_count} values (one per series), "
                                 f"got {len(sizes)}")
        else:
            raise TypeError(f"train_sizes must be an int or a list of ints, got "
                            f"{train_sizes!r}"[:120])
        for name, y, n in zip(names, ys, sizes, strict=True):
            if not 1 <= n <= len(y):
                raise ValueError(f"{name}: train size must be in 1..{len(y)}, got {n}")
        date_list: list[np.ndarray | None] = [None] * s_count
        if dates is not None:
            if len(dates) != s_count:
                raise ValueError(f"dates must hold {s_count} arrays, got {len(dates)}")
            for i, d in enumerate(dates):
                if d is None:
                    continue
                arr = np.asarray(d)
                arr = arr if np.issubdtype(arr.dtype, np.datetime64) else parse_dates(list(d))
                if len(arr) != len(ys[i]):
                    raise ValueError(f"{names[i]}: {len(arr)} dates for {len(ys[i])} values")
                date_list[i] = arr
        # Season: the most frequent one detected (a panel of related series shares it); on
        # a tie a season rather than none, then the shorter.
        if self.season == "auto":
            found = [detect_season(y[:n]) for y, n in zip(ys, sizes, strict=True)]
            counts = {s: found.count(s) for s in set(found)}
            season = max(counts, key=lambda s: (counts[s], s > 0, -s))
        else:
            season = int(self.season)
        n_val, look = self._spans(sizes, season)
        for name, n, v in zip(names, sizes, n_val, strict=True):
            need_fit = n - v - h - look + 1  # training windows of this series
            if need_fit < 1:
                raise ValueError(f"{name}: {n} training values are too few for a validation "
                                 f"span of {v}, a look-back of {look} and horizon {h}: need "
                                 f"at least {v + h + look} (or a shorter look_back)")

        # Standardisation on each training span (a constant series gets scale 1).
        center = np.array([float(np.mean(y[:n])) for y, n in zip(ys, sizes, strict=True)])
        spread = np.array([float(np.std(y[:n])) for y, n in zip(ys, sizes, strict=True)])
        scale = np.where(spread > 1e-12 * np.maximum(np.abs(center), 1.0), spread, 1.0)
        zs = [(y - c) / s for y, c, s in zip(ys, center, scale, strict=True)]

        # Local forecasters first (no network: fast), so a series they refuse stops the fit
        # before the network trains.
        locals_: list[Forecaster | None] = [None] * s_count
        local_val: list[np.ndarray | None] = [None] * s_count
        val_o = [np.arange(n - v - 1, n - h) for n, v in zip(sizes, n_val, strict=True)]
        if self.local:
            for i, (y, n, v) in enumerate(zip(ys, sizes, n_val, strict=True)):
                try:
                    early = self._local(season).fit(y[:n], train_size=n - v)
                    keep = val_o[i][val_o[i] >= early.t_min_]
                    if len(keep) < 2:
                        raise ValueError(f"only {len(keep)} validation origins after its "
                                         f"first usable one {early.t_min_}")
                    val_o[i] = keep
                    local_val[i] = early.predict_origins(y[:n], None, keep)
                    locals_[i] = self._local(season).fit(y, dates=date_list[i], train_size=n)
                except ValueError as exc:
                    raise ValueError(f"{names[i]}: the local forecaster cannot be fitted on "
                                     f"{n} training values ({exc})") from exc

        # The pooled windows: fitting origins end H before the validation span.
        steps = np.arange(-look + 1, 1)
        ahead = np.arange(1, h + 1)

        def windows(z: np.ndarray, o: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            x = z[o[:, None] + steps[None, :]][:, :, None]
            return x, z[o[:, None] + ahead[None, :]] - z[o][:, None]

        xf: list[np.ndarray] = []
        yf: list[np.ndarray] = []
        xv: list[np.ndarray] = []
        yv: list[np.ndarray] = []
        for z, n, v, vo in zip(zs, sizes, n_val, val_o, strict=True):
            fo = np.arange(look - 1, n - v - h)
            if len(fo) > _MAX_WINDOWS_PER_SERIES:
                fo = fo[np.linspace(0, len(fo) - 1, _MAX_WINDOWS_PER_SERIES).round().astype(int)]
            x, t = windows(z, fo)
            xf.append(x)
            yf.append(t)
            x, t = windows(z, vo[vo >= look - 1])
            xv.append(x)
            yv.append(t)
        dt = np.dtype(self.dtype)
        model = recurrent_network(self.cell, 1, self.hidden_size, h,
                                  num_layers=self.num_layers, dtype=dt, seed=self.seed)
        stopper = EarlyStopping(patience=self.patience, restore_best_weights=True)
        solver = make_solver(model, MSE(), optimizer=self.optimizer, lr=self.lr,
                             batch_size=self.batch_size, epochs=self.epochs, seed=self.seed,
                             clip_norm=self.clip_norm, callbacks=[*self.callbacks, stopper])
        x_fit, y_fit = np.concatenate(xf).astype(dt), np.concatenate(yf).astype(dt)
        x_val, y_val = np.concatenate(xv).astype(dt), np.concatenate(yv).astype(dt)
        solver.fit(x_fit, y_fit, validation_data=(x_val, y_val))

        # Per series: the forecast used, chosen on its validation span.
        choice, validation, quantiles = [], [], []
        for i, (y, z) in enumerate(zip(ys, zs, strict=True)):
            o = val_o[i][val_o[i] >= look - 1]
            truth = y[o[:, None] + ahead[None, :]]
            cands = {"global": self._global(model, look, z, o) * scale[i] + center[i]}
            if self.local:
                lv = local_val[i]
                assert lv is not None
                lv = lv[len(val_o[i]) - len(o):]
                cands["local"] = lv
                cands["combination"] = 0.5 * (cands["global"] + lv)
            scores = {k: rmse(p, truth) for k, p in cands.items()}
            naive = naive_forecasts(y, o, h, season if season and o.min() >= season - 1 else 0)
            scores["persistence"] = rmse(naive["persistence"], truth)
            if "seasonal naive" in naive:
                scores["seasonal naive"] = rmse(naive["seasonal naive"], truth)
            chosen = choose_forecast(scores, self.margin) if self.local else "global"
            choice.append(chosen)
            validation.append({k: float(v) for k, v in scores.items()})
            err = truth - cands[chosen]
            if len(err) >= 20:
                q = np.quantile(err, [0.1, 0.9, 0.025, 0.975], axis=0).T
            else:
                sd = np.sqrt(np.mean(err * err, axis=0))
                q = np.stack([-_Z[80] * sd, _Z[80] * sd, -_Z[95] * sd, _Z[95] * sd], axis=1)
            quantiles.append(q)

        # Everything checked and fitted: only now the attributes change.
        self.names_, self.look_back_, self.center_, self.scale_ = names, look, center, scale
        self.season_ = season
        self.n_train_, self.y_, self.dates_ = sizes, ys, date_list
        self.choice_, self.validation_, self.interval_q_ = choice, validation, quantiles
        self.locals_, self.model_, self.solver_, self.stopper_ = locals_, model, solver, \
            stopper
        self.probe_ = (x_val[:64], y_val[:64])
        return self

    # ----------------------------------------------------------------- predict
    def _global(self, model: Sequential, look: int, z: np.ndarray,
                o: np.ndarray) -> np.ndarray:
        """The network's standardised forecasts from the origins ``o``, shape (N, H)."""
        x = z[o[:, None] + np.arange(-look + 1, 1)[None, :]][:, :, None]
        out = [np.asarray(model.predict(x[k:k + 4096].astype(model.dtype)), np.float64)
               for k in range(0, len(x), 4096)]
        return np.concatenate(out) + z[o][:, None]

    def _check_fitted(self) -> None:
        if not hasattr(self, "choice_"):
            raise ValueError("this GlobalForecaster is not fitted yet: call fit(series) first")

    def _index(self, which: int | str) -> int:
        if isinstance(which, str):
            if which not in self.names_:
                raise ValueError(f"no series named {which!r}; expected one of {self.names_}")
            return self.names_.index(which)
        if not 0 <= int(which) < len(self.names_):
            raise ValueError(f"series index must be in 0..{len(self.names_) - 1}, got {which}")
        return int(which)

    def predict_origins(self, which: int | str, origins: Any) -> dict[str, np.ndarray]:
        """Forecasts of series ``which`` from each origin t (reading values up to t), in
        original units: dict of ``forecast`` (the one chosen), ``global``, ``local`` and
        ``combination`` (the last two with ``local``), each (N, H)."""
        self._check_fitted()
        i = self._index(which)
        y, o = self.y_[i], np.asarray(origins, dtype=np.int64)
        lo = self.look_back_ - 1
        fc = self.locals_[i]
        if fc is not None:
            lo = max(lo, fc.t_min_)
        if len(o) == 0 or o.min() < lo or o.max() >= len(y):
            raise ValueError(f"origins must be in {lo}..{len(y) - 1} for {self.names_[i]}, "
                             f"got {o.min() if len(o) else '-'}..{o.max() if len(o) else '-'}")
        assert self.model_ is not None
        z = (y - self.center_[i]) / self.scale_[i]
        out = {"global": self._global(self.model_, self.look_back_, z, o) * self.scale_[i]
               + self.center_[i]}
        if fc is not None:
            out["local"] = fc.predict_origins(y, None, o)
            out["combination"] = 0.5 * (out["global"] + out["local"])
        out["forecast"] = out[self.choice_[i]]
        return out

    def evaluate(self) -> PanelEvaluation:
        """Score every series on its test span (after its training span) against
        persistence, the seasonal naive forecast and the local forecaster."""
        self._check_fitted()
        rows, preds = [], []
        h, ahead = self.horizon, np.arange(1, self.horizon + 1)
        for i, (name, y, n) in enumerate(zip(self.names_, self.y_, self.n_train_, strict=True)):
            o = np.arange(n - 1, len(y) - h)
            if len(o) == 0:
                raise ValueError(f"{name}: no test span to evaluate (train size {n} of "
                                 f"{len(y)} values, horizon {h})")
            p = self.predict_origins(i, o)
            s = self.season_ if self.season_ and o.min() >= self.season_ - 1 else 0
            naive = naive_forecasts(y, o, h, s)
            p["persistence"] = naive["persistence"]
            if "seasonal naive" in naive:
                p["seasonal naive"] = naive["seasonal naive"]
            truth = y[o[:, None] + ahead[None, :]]
            scores = {k: float(rmse(v, truth)) for k, v in p.items()}
            rows.append({"name": name, "chosen": self.choice_[i], "origins": len(o),
                         "rmse": scores, "verdict": _verdict(scores, self.choice_[i])})
            preds.append({**p, "truth": truth})
        return PanelEvaluation(rows, preds)

    def forecast(self, which: int | str, steps: int | None = None) -> Forecast:
        """Forecast ``steps`` values (default H) past the end of series ``which``, with
        80 % and 95 % intervals (the local forecaster's own when it is the one used; else the
        validation errors' quantiles per step, widened as sqrt(step / H) beyond H).
        Beyond H the network reads its own forecasts (recursively)."""
        self._check_fitted()
        i = self._index(which)
        steps = self.horizon if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not (
                1 <= steps <= _MAX_STEPS):
            raise ValueError(f"steps must be an int in 1..{_MAX_STEPS}, got {steps!r}")
        y, d = self.y_[i], self.dates_[i]
        fdates = None if d is None or len(d) < 2 else future_dates(d, int(steps))
        fc = self.locals_[i]
        local = fc.forecast(int(steps)) if fc is not None else None
        if self.choice_[i] == "local":
            assert local is not None
            return Forecast(local.mean, local.lower, local.upper, fdates)
        assert self.model_ is not None
        path = list((y - self.center_[i]) / self.scale_[i])
        start = len(path)
        while len(path) - start < steps:
            z = np.asarray(path)
            path.extend(self._global(self.model_, self.look_back_, z,
                                     np.array([len(z) - 1]))[0])
        mean = np.asarray(path[start:start + steps]) * self.scale_[i] + self.center_[i]
        if self.choice_[i] == "combination":
            assert local is not None
            mean = 0.5 * (mean + local.mean)
        k = np.arange(int(steps))
        q = self.interval_q_[i][np.minimum(k, self.horizon - 1)]
        widen = np.sqrt(np.maximum(k + 1, self.horizon) / self.horizon)[:, None]
        q = q * widen
        return Forecast(mean, {80: mean + q[:, 0], 95: mean + q[:, 2]},
                        {80: mean + q[:, 1], 95: mean + q[:, 3]}, fdates)

    # -------------------------------------------------------------- save/load
    def _state(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "config": self.get_config(), "names": self.names_, "season": self.season_,
            "look_back": self.look_back_, "center": self.center_.tolist(),
            "scale": self.scale_.tolist(), "n_train": self.n_train_,
            "y": [y.tolist() for y in self.y_],
            "dates": [None if d is None else format_dates(d) for d in self.dates_],
            "choice": self.choice_, "validation": self.validation_,
            "interval_q": [q.tolist() for q in self.interval_q_],
            "locals": [None if fc is None else fc.state_dict() for fc in self.locals_],
        }

    def state_dict(self) -> dict[str, Any]:
        """Everything but the network weights, JSON values, with ``"sha256"`` of the rest
        (checked by :meth:`load`)."""
        state = self._state()
        return {**state, "sha256": state_digest(state)}

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write the network and the fitted state to one ``.npz`` (no pickle)."""
        from minirnn.nn.io import save_model

        assert self.model_ is not None
        save_model(path, self.model_, metadata={"task": "series", "panel": self.state_dict(),
                                                **(extra or {})})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> GlobalForecaster:
        """Load a GlobalForecaster saved by :meth:`save`.

        Raises
        ------
        ValueError
            The file is not a global forecaster.
        ModelFileError
            Its state fails its checksum or does not fit its network.
        """
        from minirnn.nn.io import load_metadata, load_model

        meta = load_metadata(path)
        state = meta.get("panel")
        if meta.get("task") != "series" or not isinstance(state, dict):
            raise ValueError(f"{path}: not a global forecasting model (made by 'minirnn train "
                             "series' on several series or GlobalForecaster.save)")
        digest = state.get("sha256")
        body = {k: v for k, v in state.items() if k != "sha256"}
        if not isinstance(digest, str) or digest != state_digest(body):
            raise ModelFileError(f"{path}: the global forecaster's state fails its checksum "
                                 "(edited?); retrain it")
        model = load_model(path)
        try:
            gf = cls._from_state(body, model)
        except ModelFileError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError,
                ArithmeticError) as exc:
            raise ModelFileError(f"{path}: corrupt global forecaster state "
                                 f"({type(exc).__name__}: {exc})") from exc
        return gf

    @classmethod
    def _from_state(cls, state: dict[str, Any], model: Any) -> GlobalForecaster:
        gf = cls(**state["config"])
        names = [str(n) for n in state["names"]]
        s_count = len(names)
        gf.names_, gf.season_ = names, int(state["season"])
        gf.look_back_ = int(state["look_back"])
        gf.center_ = np.asarray(state["center"], dtype=np.float64)
        gf.scale_ = np.asarray(state["scale"], dtype=np.float64)
        gf.n_train_ = [int(n) for n in state["n_train"]]
        gf.y_ = [np.asarray(y, dtype=np.float64) for y in state["y"]]
        gf.dates_ = [None if d is None else parse_dates(d) for d in state["dates"]]
        gf.choice_ = [str(c) for c in state["choice"]]
        gf.validation_ = [dict(v) for v in state["validation"]]
        gf.interval_q_ = [np.asarray(q, dtype=np.float64).reshape(-1, 4)
                          for q in state["interval_q"]]
        locals_: list[Forecaster | None] = []
        for i, fs in enumerate(state["locals"]):
            if fs is None:
                locals_.append(None)
                continue
            body = {k: v for k, v in fs.items() if k != "sha256"}
            if fs.get("sha256") != state_digest(body):
                raise ModelFileError(f"the local forecaster of {names[i]} fails its checksum")
            fc = Forecaster._from_state(body)
            fc._check_state(None)
            locals_.append(fc)
        gf.locals_ = locals_
        sizes = {len(gf.center_), len(gf.scale_), len(gf.n_train_), len(gf.y_), len(gf.dates_),
                 len(gf.choice_), len(gf.validation_), len(gf.interval_q_), len(locals_)}
        if sizes != {s_count} or s_count == 0:
            raise ModelFileError(f"{s_count} series names but per-series lists of sizes "
                                 f"{sorted(sizes)}")
        for i, name in enumerate(names):
            y = gf.y_[i]
            if y.ndim != 1 or not np.all(np.isfinite(y)) or not 1 <= gf.n_train_[i] <= len(y) \
                    or len(y) < gf.look_back_ or not (gf.scale_[i] > 0) or \
                    not np.isfinite(gf.center_[i]) or \
                    gf.choice_[i] not in CHOICES or (gf.choice_[i] != "global"
                                                     and locals_[i] is None) or \
                    gf.interval_q_[i].shape != (gf.horizon, 4) or \
                    not np.all(np.isfinite(gf.interval_q_[i])) or \
                    len(y) != len(y if gf.dates_[i] is None else gf.dates_[i]):  # type: ignore[arg-type]
                raise ModelFileError(f"the stored state of series {name!r} is inconsistent")
        if not isinstance(model, Sequential):
            raise ModelFileError("the stored network is not a Sequential")
        probe = np.zeros((1, gf.look_back_, 1), dtype=model.dtype)
        if np.asarray(model.predict(probe)).shape != (1, gf.horizon):
            raise ModelFileError(f"the network does not give {gf.horizon} outputs")
        gf.model_, gf.solver_, gf.stopper_ = model, None, None
        return gf

    def __repr__(self) -> str:
        return f"GlobalForecaster({self.get_config()})"


def _verdict(scores: dict[str, float], chosen: str) -> str:
    """One line: the forecast used, against persistence, seasonal naive and the local one."""
    used = scores["forecast"]
    parts = []
    for other in ("persistence", "seasonal naive", "local"):
        if other in scores and other != chosen:
            word = "beats" if used < scores[other] else (
                "ties with" if used == scores[other] else "loses to")
            parts.append(f"{word} {other}")
    best = min((k for k in scores if k != "forecast"), key=lambda k: scores[k])
    return f"{chosen} used: " + ", ".join(parts) + f"; best on test: {best}"
