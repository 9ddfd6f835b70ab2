"""Classical forecasting members (issue 33): exponential smoothing and the Theta method.

Their parameters are estimated by statsmodels (the optional extra ``classical``:
``pip install minirnn[classical]``); their forecasts are made here, from any origin of a
series, by the models' own recursions with those parameters, so a fitted member forecasts
(and a model file holding one loads) without statsmodels.

- ``ETS``: additive errors, a damped additive trend, an additive season when one of 2..24 is
  given (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``, ETS(A,Ad,A) / ETS(A,Ad,N)).
- ``Theta``: the standard Theta method (theta = 2: simple exponential smoothing plus half the
  training span's linear slope; Hyndman & Billah 2003), on the seasonally adjusted series
  when statsmodels' test finds the season (``statsmodels.tsa.forecasting.theta.ThetaModel``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CLASSICAL_METHODS", "ClassicalMember", "available", "fit_classical"]

#: The classical members, by name.
CLASSICAL_METHODS = ("ETS", "Theta")
#: Longest season the ETS member models (longer ones: no seasonal component).
MAX_ETS_SEASON = 24


def available() -> bool:
    """True when statsmodels (the optional extra ``classical``) can be imported."""
    try:
        import statsmodels.tsa.exponential_smoothing.ets
        import statsmodels.tsa.forecasting.theta  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class ClassicalMember:
    """A fitted classical member: its name, season and parameters.

    Attributes
    ----------
    kind : str
        ``"ETS"`` or ``"Theta"``.
    season : int
        Season of its seasonal component (0: none).
    params : dict of str to float
        ETS: ``alpha, beta, gamma, phi, level, trend``; Theta: ``alpha, b0, level``
        (the first value, SES's initial level) and ``multiplicative`` (1.0 or 0.0).
    seasonal : ndarray, shape (S,)
        ETS: the initial seasonal states s_{-S} .. s_{-1}; Theta: the seasonal factors of
        positions 0 .. S-1 (index modulo S from the series' start); empty without a season.
    """

    kind: str
    season: int
    params: dict[str, float]
    seasonal: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def state_dict(self) -> dict[str, Any]:
        """Plain types, for a model file."""
        return {"kind": self.kind, "season": self.season, "params": dict(self.params),
                "seasonal": self.seasonal.tolist()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ClassicalMember:
        """The inverse of :meth:`state_dict`; ValueError on an inconsistent state."""
        kind, season = str(state["kind"]), int(state["season"])
        params = {str(k): float(v) for k, v in dict(state["params"]).items()}
        seasonal = np.asarray(state["seasonal"], dtype=np.float64).reshape(-1)
        need = {"ETS": {"alpha", "beta", "gamma", "phi", "level", "trend"},
                "Theta": {"alpha", "b0", "level", "multiplicative"}}.get(kind)
        if need is None or not need <= set(params) or season < 0 or len(seasonal) not in (
                0, season) or not all(math.isfinite(v) for v in params.values()) or not (
                np.all(np.isfinite(seasonal))):
            raise ValueError(f"inconsistent classical member {kind!r} (season {season})")
        return cls(kind, season, params, seasonal)

    def forecasts(self, y: np.ndarray, origins: np.ndarray, steps: int) -> np.ndarray:
        """Forecasts of ``steps`` values from each origin, reading ``y`` up to it only.

        Parameters
        ----------
        y : ndarray, shape (T,)
        origins : ndarray of int, shape (N,)
            Index t of the last value seen by each forecast.
        steps : int

        Returns
        -------
        ndarray, shape (N, steps)
        """
        o = np.asarray(origins, dtype=np.int64)
        if not len(o):
            return np.zeros((0, steps))
        y = np.asarray(y, dtype=np.float64)[: int(o.max()) + 1]
        h = np.arange(1, steps + 1)
        if self.kind == "ETS":
            return self._ets(y, o, h)
        return self._theta(y, o, h)

    def _ets(self, y: np.ndarray, o: np.ndarray, h: np.ndarray) -> np.ndarray:
        p, m = self.params, self.season
        a, b, g, phi = p["alpha"], p["beta"], p["gamma"], p["phi"]
        n = len(y)
        level, trend = np.empty(n), np.empty(n)
        seas = np.concatenate([self.seasonal, np.empty(n)]) if m else np.zeros(0)
        lv, tr = p["level"], p["trend"]
        for t in range(n):  # the recursion: each state depends on the one before
            s_old = seas[t] if m else 0.0  # s_{t-m}
            e = y[t] - (lv + phi * tr + s_old)
            lv, tr = lv + phi * tr + a * e, phi * tr + b * e
            if m:
                seas[t + m] = s_old + g * e
            level[t], trend[t] = lv, tr
        damp = np.cumsum(phi ** h.astype(np.float64))  # phi + ... + phi^h
        out = level[o][:, None] + damp[None, :] * trend[o][:, None]
        if m:
            # s_{t+h-m*ceil(h/m)}: the latest seasonal state of the same position
            back = h - m * np.ceil(h / m).astype(np.int64)
            out += seas[o[:, None] + back[None, :] + m]
        return out

    def _theta(self, y: np.ndarray, o: np.ndarray, h: np.ndarray) -> np.ndarray:
        p, m = self.params, self.season
        mult = p["multiplicative"] > 0.5
        n = len(y)
        if m:
            factor = self.seasonal[np.arange(n) % m]
            x = y / factor if mult else y - factor
        else:
            x = y
        a = p["alpha"]
        level = np.empty(n)
        lv = p["level"]
        for t in range(n):  # simple exponential smoothing
            lv = a * x[t] + (1 - a) * lv
            level[t] = lv
        seen = (o + 1).astype(np.float64)  # values seen at each origin
        if a > 0:
            drift = (h[None, :] - 1 + 1 / a - (1 - a) ** seen[:, None] / a)
        else:
            drift = np.broadcast_to(h[None, :] - 1.0, (len(o), len(h))).copy()
        out = level[o][:, None] + 0.5 * p["b0"] * drift
        if m:
            f = self.seasonal[(o[:, None] + h[None, :]) % m]
            out = out * f if mult else out + f
        return out


def fit_classical(kind: str, y: np.ndarray, season: int = 0) -> ClassicalMember:
    """Estimate a classical member on ``y`` with statsmodels.

    Parameters
    ----------
    kind : {"ETS", "Theta"}
    y : ndarray, shape (T,)
    season : int
        0 for none; ETS models seasons of 2..24 only.

    Returns
    -------
    ClassicalMember

    Raises
    ------
    ImportError
        statsmodels is not installed (``pip install minirnn[classical]``).
    ValueError
        An unknown kind, or a series too short for it.
    """
    if kind not in CLASSICAL_METHODS:
        raise ValueError(f"kind must be one of {CLASSICAL_METHODS}, got {kind!r}")
    y = np.asarray(y, dtype=np.float64)
    with warnings.catch_warnings():  # convergence chatter on short or flat series
        warnings.simplefilter("ignore")
        if kind == "ETS":
            from statsmodels.tsa.exponential_smoothing.ets import ETSModel

            m = season if 2 <= season <= MAX_ETS_SEASON and len(y) >= 2 * season + 10 else 0
            if len(y) < 10:
                raise ValueError(f"ETS needs at least 10 values, got {len(y)}")
            # Initial states by the heuristic (a decomposition of the first seasons), not
            # estimated: 4 parameters instead of 4 + S, about ten times faster.
            res = ETSModel(y, error="add", trend="add", damped_trend=True,
                           seasonal="add" if m else None, seasonal_periods=m if m else None,
                           initialization_method="heuristic").fit(disp=False)
            q = dict(zip(res.model.param_names, np.asarray(res.params, dtype=np.float64),
                         strict=True))
            seasonal = (np.asarray(res.initial_seasonal, dtype=np.float64).reshape(-1)
                        if m else np.zeros(0))
            params = {"alpha": q["smoothing_level"], "beta": q["smoothing_trend"],
                      "gamma": q.get("smoothing_seasonal", 0.0), "phi": q["damping_trend"],
                      "level": float(res.initial_level), "trend": float(res.initial_trend)}
            return ClassicalMember("ETS", m, params, seasonal)
        from statsmodels.tsa.forecasting.theta import ThetaModel

        m = season if season >= 2 and len(y) >= 2 * season + 2 else 0
        if len(y) < 6:
            raise ValueError(f"Theta needs at least 6 values, got {len(y)}")
        model = ThetaModel(y, period=m if m else 1, deseasonalize=bool(m))
        res = model.fit()
        seasonal = np.asarray(res._seasonal, dtype=np.float64) if model.deseasonalize \
            and getattr(res, "_seasonal", np.zeros(0)).size else np.zeros(0)
        m = len(seasonal)
        mult = bool(m) and model.method.startswith("mul")
        x0 = y[0] / seasonal[0] if mult else y[0] - (seasonal[0] if m else 0.0)
        params = {"alpha": float(res.params["alpha"]), "b0": float(res.params["b0"]),
                  "level": float(x0), "multiplicative": float(mult)}
        return ClassicalMember("Theta", m, params, seasonal)
