"""Classical forecasting members (issue 33): exponential smoothing, Theta and ARIMA.

Their parameters are estimated by statsmodels (the optional extra ``classical``:
``pip install minirnn[classical]``); their forecasts are made here, from any origin of a
series, by the models' own recursions with those parameters, so a fitted member forecasts
(and a model file holding one loads) without statsmodels.

- ``ETS``: additive errors, a damped additive trend, an additive season when one of 2..24 is
  given (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``, ETS(A,Ad,A) / ETS(A,Ad,N)).
- ``Theta``: the standard Theta method (theta = 2: simple exponential smoothing plus half the
  training span's linear slope; Hyndman & Billah 2003), on the seasonally adjusted series
  when statsmodels' test finds the season (``statsmodels.tsa.forecasting.theta.ThetaModel``).
- ``ARIMA``: a seasonal ARIMA(p,d,q)(P,D,Q)_m with MA terms, its order chosen as
  auto-ARIMA does (Hyndman & Khandakar 2008): D by the seasonal strength of an STL
  decomposition (a season of 2..24), d by repeated KPSS tests, then a stepwise search over
  p, q <= 3 and P, Q <= 1 (and a constant when d + D <= 1) by AICc; the ARMA of the
  differenced series is estimated by ``statsmodels.tsa.arima.model.ARIMA`` (exact Gaussian
  likelihood). Forecasts are made by the conditional recursion: differencing, the ARMA with
  innovations computed from the series itself (zero before its start), and integration.
  With an invertible MA part the start-up difference from statsmodels' Kalman filter decays
  geometrically, so forecasts from a long series agree with statsmodels' own.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CLASSICAL_METHODS", "ClassicalMember", "available", "fit_classical"]

#: The classical members, by name.
CLASSICAL_METHODS = ("ETS", "Theta", "ARIMA")
#: Longest season the ETS member models (longer ones: no seasonal component).
MAX_ETS_SEASON = 24
#: Most AR or MA lags (p, q) and seasonal ones (P, Q) the ARIMA search tries.
MAX_P, MAX_Q, MAX_SP, MAX_SQ = 3, 3, 1, 1
#: Most models the stepwise ARIMA search estimates (bounded time: it runs before each
#: validation span).
MAX_ARIMA_MODELS = 24
#: ARIMA parameters are estimated on the last values only (older values still start the
#: recursion): an exact likelihood costs about 1 s per model on 2,400 values.
MAX_ARIMA_VALUES = 480
#: What a failed ARIMA estimate raises (a member that cannot be fitted is left out).
_FIT_ERRORS = (ValueError, np.linalg.LinAlgError, IndexError, OverflowError,
               ZeroDivisionError, FloatingPointError)
#: Most quasi-Newton iterations of the exact likelihood (started from the least-squares
#: estimate, it is near its optimum; each iteration costs 2 + parameters Kalman filters,
#: about 15 ms each on 100 values of a loaded machine).
ML_ITERATIONS = 10


def available() -> bool:
    """True when statsmodels (the optional extra ``classical``) can be imported."""
    try:
        import statsmodels.tsa.arima.model
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
        ``"ETS"``, ``"Theta"`` or ``"ARIMA"``.
    season : int
        Season of its seasonal component (0: none).
    params : dict of str to float
        ETS: ``alpha, beta, gamma, phi, level, trend``; Theta: ``alpha, b0, level``
        (the first value, SES's initial level) and ``multiplicative`` (1.0 or 0.0);
        ARIMA: the orders ``p, d, q, P, D, Q``, ``mean`` (of the differenced series; 0
        without a constant) and ``sigma2``.
    seasonal : ndarray, shape (S,) or (p + q + P + Q,)
        ETS: the initial seasonal states s_{-S} .. s_{-1}; Theta: the seasonal factors of
        positions 0 .. S-1 (index modulo S from the series' start); empty without a season;
        ARIMA: the coefficients ar 1..p, ma 1..q, seasonal ar, seasonal ma (statsmodels'
        signs: (1 - ar(L))(1 - sar(L^m)) w = (1 + ma(L))(1 + sma(L^m)) e).
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
                "Theta": {"alpha", "b0", "level", "multiplicative"},
                "ARIMA": {"p", "d", "q", "P", "D", "Q", "mean", "sigma2"}}.get(kind)
        sizes: tuple[int, ...] = (0, season)
        if kind == "ARIMA" and need is not None and need <= set(params):
            o = {k: params[k] for k in ("p", "d", "q", "P", "D", "Q")}
            bounds = {"p": MAX_P, "q": MAX_Q, "P": MAX_SP, "Q": MAX_SQ, "d": 2, "D": 1}
            if any(v != int(v) or not 0 <= v <= bounds[k] for k, v in o.items()) or (
                    season < 2 and o["P"] + o["D"] + o["Q"] > 0) or season > MAX_ETS_SEASON:
                raise ValueError(f"inconsistent classical member 'ARIMA' (orders {o}, season "
                                 f"{season})")
            sizes = (int(o["p"] + o["q"] + o["P"] + o["Q"]),)
        if need is None or not need <= set(params) or season < 0 or len(seasonal) not in \
                sizes or not all(math.isfinite(v) for v in params.values()) or not (
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
        if self.kind == "ARIMA":
            return self._arima(y, o, steps)
        return self._theta(y, o, h)

    def arima_polynomials(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """ARIMA: the lag polynomials (coefficients of L^0, L^1, ...) of the differencing
        (1 - L)^d (1 - L^m)^D, the AR part (1 - ar(L))(1 - sar(L^m)) and the MA part
        (1 + ma(L))(1 + sma(L^m))."""
        p, d, q, sp, sd = (int(self.params[k]) for k in ("p", "d", "q", "P", "D"))
        m = self.season
        c = self.seasonal
        ar, ma = c[:p], c[p: p + q]
        sar, sma = c[p + q: p + q + sp], c[p + q + sp:]

        def seasonal_poly(coef: np.ndarray, sign: float) -> np.ndarray:
            out = np.zeros(len(coef) * m + 1)
            out[0] = 1.0
            if len(coef):
                out[m:: m] = sign * coef
            return out

        diff = np.array([1.0])
        for _ in range(d):
            diff = np.convolve(diff, [1.0, -1.0])
        for _ in range(sd):
            diff = np.convolve(diff, seasonal_poly(np.ones(1), -1.0))
        phi = np.convolve(np.concatenate([[1.0], -ar]), seasonal_poly(sar, -1.0))
        theta = np.convolve(np.concatenate([[1.0], ma]), seasonal_poly(sma, 1.0))
        return diff, phi, theta

    def _arima(self, y: np.ndarray, o: np.ndarray, steps: int) -> np.ndarray:
        diff, phi, theta = self.arima_polynomials()
        mu = self.params["mean"]
        n, nd, na, nm = len(y), len(diff) - 1, len(phi) - 1, len(theta) - 1
        if int(o.min()) < nd:
            raise ValueError(f"ARIMA forecasts need {nd} values before an origin, got origin "
                             f"{int(o.min())}")
        # z: the differenced series less its mean (from index nd on); e: the innovations by
        # the conditional recursion (zero before the start), each reading only the past.
        z = np.zeros(n)
        z[nd:] = np.convolve(y, diff, mode="valid") - mu
        e = np.zeros(n)
        a, b = -phi[1:], theta[1:]
        # theta(L) e = phi(L) z: a linear filter, each innovation depending on the past only
        e[nd:] = _lfilter(phi, theta, z[nd:])
        # Forecasts of z and then of y from every origin at once: the columns hold the last
        # values before the origin (known), then the forecasts (innovations 0 in the future).
        back = max(na, nm, nd, 1)
        idx = o[:, None] + np.arange(-back + 1, 1)[None, :]
        zz = np.concatenate([np.where(idx >= nd, z[np.maximum(idx, 0)], 0.0),
                             np.zeros((len(o), steps))], axis=1)
        ee = np.concatenate([np.where(idx >= nd, e[np.maximum(idx, 0)], 0.0),
                             np.zeros((len(o), steps))], axis=1)
        yy = np.concatenate([y[np.maximum(idx, 0)], np.zeros((len(o), steps))], axis=1)
        for k in range(steps):
            c = back + k
            zz[:, c] = zz[:, c - na: c][:, ::-1] @ a + ee[:, c - nm: c][:, ::-1] @ b
            # undo the differencing: y_t = w_t - (the differencing polynomial's other terms)
            yy[:, c] = zz[:, c] + mu - yy[:, c - nd: c][:, ::-1] @ diff[1:]
        return yy[:, back:]

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


def _lfilter(b: np.ndarray, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y with a(L) y = b(L) x, zero before the start (scipy's lfilter when installed, else
    the same recursion in numpy: a saved model forecasts without scipy)."""
    try:
        from scipy.signal import lfilter
    except ImportError:
        out = np.zeros(len(x))
        for t in range(len(x)):
            i = np.arange(min(len(b), t + 1))
            j = np.arange(1, min(len(a), t + 1))
            out[t] = (b[i] @ x[t - i] - a[j] @ out[t - j]) / a[0]
        return out
    return np.asarray(lfilter(b, a, x), dtype=np.float64)


def fit_classical(kind: str, y: np.ndarray, season: int = 0) -> ClassicalMember:
    """Estimate a classical member on ``y`` with statsmodels.

    Parameters
    ----------
    kind : {"ETS", "Theta", "ARIMA"}
    y : ndarray, shape (T,)
    season : int
        0 for none; ETS and ARIMA model seasons of 2..24 only.

    Returns
    -------
    ClassicalMember

    Raises
    ------
    ImportError
        statsmodels is not installed (``pip install minirnn[classical]``).
    ValueError
        An unknown kind, a series too short for it, or (ARIMA) no order whose estimate
        succeeded.
    """
    if kind not in CLASSICAL_METHODS:
        raise ValueError(f"kind must be one of {CLASSICAL_METHODS}, got {kind!r}")
    y = np.asarray(y, dtype=np.float64)
    if kind == "ARIMA":
        # imported first: statsmodels sets its own "always" warning filters on import
        import statsmodels.tsa.arima.model
        import statsmodels.tsa.seasonal
        import statsmodels.tsa.stattools  # noqa: F401
    with warnings.catch_warnings():  # convergence chatter on short or flat series
        warnings.simplefilter("ignore")
        if kind == "ARIMA":
            return _fit_arima(y, season)
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


def _seasonal_strength(y: np.ndarray, m: int) -> float:
    """Strength of the season of an STL decomposition (Wang, Smith & Hyndman 2006):
    max(0, 1 - var(remainder) / var(season + remainder))."""
    from statsmodels.tsa.seasonal import STL

    res = STL(y, period=m, robust=False).fit()
    rem, seas = np.asarray(res.resid), np.asarray(res.seasonal)
    total = float(np.var(rem + seas))
    return max(0.0, 1.0 - float(np.var(rem)) / total) if total > 0 else 0.0


def _ndiffs(x: np.ndarray, most: int = 2) -> int:
    """Differences until KPSS (level-stationarity, 5 %) no longer rejects, as forecast's
    ndiffs (its lag truncation 3 sqrt(n) / 13)."""
    from statsmodels.tsa.stattools import kpss

    d = 0
    while d < most and len(x) > 12 and float(np.ptp(x)) > 0:
        lags = max(1, int(3 * math.sqrt(len(x)) / 13))
        p_value = float(kpss(x, regression="c", nlags=lags)[1])
        if p_value >= 0.05:
            break
        x = np.diff(x)
        d += 1
    return d


def _polys(coef: np.ndarray, p: int, q: int, sp: int, sq: int,
           m: int) -> tuple[np.ndarray, np.ndarray]:
    """The full AR and MA lag polynomials of ARMA(p,q)(P,Q)_m coefficients (statsmodels'
    signs): (1 - ar(L))(1 - sar(L^m)) and (1 + ma(L))(1 + sma(L^m))."""
    member = ClassicalMember("ARIMA", m, {"p": p, "d": 0, "q": q, "P": sp, "D": 0, "Q": sq,
                                          "mean": 0.0, "sigma2": 1.0}, coef)
    _, phi, theta = member.arima_polynomials()
    return phi, theta


def _css(w: np.ndarray, p: int, q: int, sp: int, sq: int, m: int, const: bool,
         burn: int) -> tuple[float, np.ndarray] | None:
    """(AICc, [mean,] coefficients, noise variance) of an ARMA(p,q)(P,Q)_m of ``w`` by
    conditional least squares (innovations zero before the start; the first ``burn`` left
    out of the sum, the same for every order so that their AICc compare): the cheap
    approximation auto.arima searches with (an exact likelihood costs seconds per model)."""
    from scipy.optimize import least_squares

    k = p + q + sp + sq
    n = len(w) - burn
    n_par = k + int(const) + 1  # + the noise variance
    if n - n_par - 1 <= 1 or ((sp or sq) and len(w) <= 2 * m + n_par):
        return None

    def resid(theta_all: np.ndarray) -> np.ndarray:
        mu = theta_all[0] if const else 0.0
        phi, theta = _polys(theta_all[int(const):], p, q, sp, sq, m)
        return _lfilter(phi, theta, w - mu)[burn:]

    x0 = np.concatenate([[float(np.mean(w))] if const else [], np.zeros(k)])
    try:
        fit = least_squares(resid, x0, method="lm" if n > len(x0) else "trf", max_nfev=200)
    except _FIT_ERRORS:
        return None
    phi, theta = _polys(fit.x[int(const):], p, q, sp, sq, m)
    # Only stationary and invertible estimates (the roots outside the unit circle).
    for poly in (phi, theta):
        if len(poly) > 1 and np.any(np.abs(np.roots(poly[::-1])) <= 1.0 + 1e-3):
            return None
    sse = float(np.sum(fit.fun ** 2))
    if not (math.isfinite(sse) and sse > 0):
        return None
    aicc = n * math.log(sse / n) + 2 * n_par + 2 * n_par * (n_par + 1) / (n - n_par - 1)
    return aicc, np.concatenate([fit.x, [sse / n]])


def _fit_arma(w: np.ndarray, p: int, q: int, sp: int, sq: int, m: int, const: bool,
              start: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
    """(params, coefficients) of an ARMA(p,q)(P,Q)_m of ``w`` by statsmodels' exact
    likelihood (stationary, invertible), started from the least-squares estimate
    ``start`` ([mean,] coefficients, noise variance)."""
    from statsmodels.tsa.arima.model import ARIMA

    model = ARIMA(w, order=(p, 0, q), seasonal_order=(sp, 0, sq, m) if m else (0, 0, 0, 0),
                  trend="c" if const else "n")
    try:
        res = model.fit(start_params=start, cov_type="none", low_memory=True,
                        method_kwargs={"maxiter": ML_ITERATIONS})
    except _FIT_ERRORS:  # from statsmodels' own start
        res = model.fit(cov_type="none", low_memory=True,
                        method_kwargs={"maxiter": ML_ITERATIONS})
    named = dict(zip(res.model.param_names, np.asarray(res.params, dtype=np.float64),
                     strict=True))
    coef = np.array([named[f"ar.L{i}"] for i in range(1, p + 1)]
                    + [named[f"ma.L{i}"] for i in range(1, q + 1)]
                    + [named[f"ar.S.L{m * i}"] for i in range(1, sp + 1)]
                    + [named[f"ma.S.L{m * i}"] for i in range(1, sq + 1)], dtype=np.float64)
    params = {"p": float(p), "q": float(q), "P": float(sp), "Q": float(sq),
              "mean": float(named.get("const", 0.0)), "sigma2": float(named["sigma2"])}
    if not (np.all(np.isfinite(coef)) and all(math.isfinite(v) for v in params.values())):
        raise ValueError("ARIMA: the estimate is not finite")
    return params, coef


def _fit_arima(y: np.ndarray, season: int) -> ClassicalMember:
    """auto-ARIMA in the manner of Hyndman & Khandakar (2008), stepwise, by AICc."""
    if len(y) < 20:
        raise ValueError(f"ARIMA needs at least 20 values, got {len(y)}")
    fit_y = y[-MAX_ARIMA_VALUES:]
    m = season if 2 <= season <= MAX_ETS_SEASON and len(fit_y) >= 3 * season + 10 else 0
    big_d = int(m > 0 and _seasonal_strength(fit_y, m) >= 0.64)
    x = fit_y[m:] - fit_y[:-m] if big_d else fit_y
    d = _ndiffs(x)
    w = x
    for _ in range(d):
        w = np.diff(w)
    if len(w) < 12 or float(np.ptp(w)) == 0.0:
        raise ValueError(f"ARIMA: {len(w)} differenced values, too few or constant")
    with_const = d + big_d <= 1
    seas = (1, 1) if m else (0, 0)
    start = [(2, 2, *seas, with_const), (0, 0, 0, 0, with_const),
             (1, 0, seas[0], 0, with_const), (0, 1, 0, seas[1], with_const)]
    if with_const:
        start.append((0, 0, 0, 0, False))
    fits: dict[tuple[int, int, int, int, bool], tuple[float, np.ndarray] | None] = {}
    burn = min(len(w) // 4, MAX_P + MAX_SP * m)

    def score(spec: tuple[int, int, int, int, bool]) -> float:
        if spec not in fits:
            if len(fits) >= MAX_ARIMA_MODELS:
                return math.inf
            fits[spec] = _css(w, *spec[:4], m, spec[4], burn)
        got = fits[spec]
        return math.inf if got is None else got[0]

    best = min(start, key=score)
    improved = True
    while improved and len(fits) < MAX_ARIMA_MODELS:
        improved = False
        p, q, sp, sq, c = best
        near = [(p + a, q + b, sp + sa, sq + sb, c) for a, b, sa, sb in (
            (-1, 0, 0, 0), (1, 0, 0, 0), (0, -1, 0, 0), (0, 1, 0, 0), (-1, -1, 0, 0),
            (1, 1, 0, 0), (0, 0, -1, 0), (0, 0, 1, 0), (0, 0, 0, -1), (0, 0, 0, 1),
            (0, 0, -1, -1), (0, 0, 1, 1))]
        if with_const:
            near.append((p, q, sp, sq, not c))
        near = [s for s in near if 0 <= s[0] <= MAX_P and 0 <= s[1] <= MAX_Q and (
            0 <= s[2] <= (MAX_SP if m else 0)) and 0 <= s[3] <= (MAX_SQ if m else 0)]
        for spec in near:
            if score(spec) < score(best):
                best, improved = spec, True
                break  # restart the neighbourhood from the new best (as auto.arima does)
    got = fits.get(best)
    if got is None:
        raise ValueError("ARIMA: no order could be estimated")
    try:  # the chosen order by the exact likelihood
        params, coef = _fit_arma(w, *best[:4], m, best[4], got[1])
    except _FIT_ERRORS as exc:
        raise ValueError(f"ARIMA: the estimate failed ({exc})") from None
    return ClassicalMember("ARIMA", m if (best[2] or best[3] or big_d) else 0,
                           {**params, "d": float(d), "D": float(big_d)}, coef)
