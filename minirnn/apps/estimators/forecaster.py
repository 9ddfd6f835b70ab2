"""``RNNForecaster``: the forecaster of ``minirnn train series`` as a scikit-learn-style
estimator with sktime's calling convention (``fit(y)``, ``predict(fh)``)."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from minirnn.apps.estimators.base import DataConversionWarning, EstimatorParams, resolve_seed
from minirnn.apps.forecasting import Forecaster
from minirnn.train.callbacks import Callback

__all__ = ["RNNForecaster"]

#: Forecaster's defaults, which are RNNForecaster's (one source), its ``seed`` as
#: ``random_state``.
_APP = {p.name: p.default for p in inspect.signature(Forecaster.__init__).parameters.values()}


def _series(y: Any, what: str) -> np.ndarray:
    """``y`` as a 1-D array; a column vector (T, 1) is flattened with a warning."""
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(f"A column-vector {what} was passed when a 1d array was expected; it "
                      "is flattened to (T,)", DataConversionWarning, stacklevel=3)
        arr = arr.ravel()
    return arr


class RNNForecaster(EstimatorParams):
    """Forecast one series: :class:`~minirnn.apps.forecasting.Forecaster` (transforms and
    AR orders chosen on validation, a recurrent network on the linear model's residuals,
    used only when it helps on validation) with sktime's calls and scikit-learn's
    parameter protocol.

    ``fit(y)`` learns from the series; ``predict(fh)`` forecasts past its end;
    ``score(y_next)`` is the negative RMSE of the forecast of the values that follow the
    fitted series (greater is better, as scikit-learn's scorers require; RMSE rather than
    R^2, whose denominator, the variance of a short forecast span, can be near 0). So
    ``GridSearchCV(RNNForecaster(), grid, cv=TimeSeriesSplit(3)).fit(y)`` tunes it on
    rolling origins (a splitter whose test span does not directly follow its training span,
    as ``KFold``'s, does not fit a forecaster).

    Parameters
    ----------
    horizon, look_back, transform, season, cell, hidden_size, num_layers, epochs,
    batch_size, lr, patience, clip_norm, optimizer, val_fraction, network, ensemble, folds,
    order_by, min_fold, combine_level, double_diff, min_gain, min_val_network, shrink,
    bidirectional, naive, classical, select_inputs, dtype, callbacks
        As :class:`~minirnn.apps.forecasting.Forecaster` (checked by ``fit``).
    random_state : int, None, or a numpy Generator/RandomState
        The network's seed (Forecaster's ``seed``; None: a new one each fit).

    Attributes
    ----------
    forecaster_ : Forecaster
        The fitted forecaster: ``method_`` says what forecasts, ``evaluate()`` compares it
        with the baselines, ``forecast(steps)`` gives dates and intervals.
    n_obs_ : int
        Length of the fitted series.
    """

    _fitted_attribute = "forecaster_"

    def __init__(self, *, horizon: int = _APP["horizon"],
                 look_back: int | str = _APP["look_back"], transform: str = _APP["transform"],
                 season: int | str = _APP["season"], cell: str = _APP["cell"],
                 hidden_size: int = _APP["hidden_size"], num_layers: int = _APP["num_layers"],
                 epochs: int = _APP["epochs"], batch_size: int = _APP["batch_size"],
                 lr: float | None = _APP["lr"], patience: int = _APP["patience"],
                 clip_norm: float | None = _APP["clip_norm"], optimizer: str = _APP["optimizer"],
                 val_fraction: float = _APP["val_fraction"], network: bool = _APP["network"],
                 ensemble: int = _APP["ensemble"], folds: int = _APP["folds"],
                 order_by: str = _APP["order_by"], min_fold: int = _APP["min_fold"],
                 combine_level: bool = _APP["combine_level"],
                 double_diff: bool = _APP["double_diff"], min_gain: float = _APP["min_gain"],
                 min_val_network: int = _APP["min_val_network"], shrink: bool = _APP["shrink"],
                 bidirectional: bool = _APP["bidirectional"], naive: bool = _APP["naive"],
                 classical: bool = _APP["classical"],
                 select_inputs: bool = _APP["select_inputs"], random_state: Any = _APP["seed"],
                 dtype: str = _APP["dtype"], callbacks: Sequence[Callback] = ()) -> None:
        # scikit-learn's convention: store every parameter unchanged; fit checks them.
        self.horizon = horizon
        self.look_back = look_back
        self.transform = transform
        self.season = season
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.clip_norm = clip_norm
        self.optimizer = optimizer
        self.val_fraction = val_fraction
        self.network = network
        self.ensemble = ensemble
        self.folds = folds
        self.order_by = order_by
        self.min_fold = min_fold
        self.combine_level = combine_level
        self.double_diff = double_diff
        self.min_gain = min_gain
        self.min_val_network = min_val_network
        self.shrink = shrink
        self.bidirectional = bidirectional
        self.naive = naive
        self.classical = classical
        self.select_inputs = select_inputs
        self.random_state = random_state
        self.dtype = dtype
        self.callbacks = callbacks

    def fit(self, y: Any, X: Any = None) -> RNNForecaster:
        """Learn from the series ``y``.

        Parameters
        ----------
        y : array_like (T,)
            The series, oldest first (a pandas Series works; its index is not read).
        X : array_like (T, E), optional
            Exogenous inputs observed with ``y`` (their past values are inputs; forecasts
            are then limited to ``horizon`` steps).

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            A series that is not 1-D, non-finite values, bad parameters, or a series too
            short for them (the message says how many values are needed); nothing is
            changed then.
        """
        params = self.get_params()
        params.pop("random_state")
        params["callbacks"] = list(self.callbacks)
        forecaster = Forecaster(**params, seed=resolve_seed(self.random_state))
        series = _series(y, "y")
        forecaster.fit(series, X)
        self.forecaster_ = forecaster
        self.n_obs_ = len(series)
        return self

    def _steps(self, fh: Any, steps: Any) -> np.ndarray:
        """The 1-based steps ahead asked for."""
        if fh is not None and steps is not None:
            raise ValueError("pass fh (which steps ahead) or steps (how many), not both")
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or \
                    steps < 1:
                raise ValueError(f"steps must be a positive int, got {steps!r}")
            return np.arange(1, int(steps) + 1)
        if fh is None:
            return np.arange(1, self.forecaster_.horizon + 1)
        ahead = np.atleast_1d(np.asarray(fh))
        if ahead.ndim != 1 or not len(ahead) or ahead.dtype.kind not in "iu" or \
                ahead.min() < 1:
            raise ValueError(f"fh must be a positive int or a 1-D sequence of them (steps "
                             f"ahead, 1 = the next value), got {fh!r}")
        return ahead.astype(np.int64)

    def predict(self, fh: Any = None, *, steps: int | None = None) -> np.ndarray:
        """Forecasts past the end of the fitted series.

        Parameters
        ----------
        fh : int or sequence of int, optional
            Which steps ahead, 1-based (sktime's relative horizon): ``fh=3`` is the third
            value after the series, ``fh=[1, 2, 3]`` the next three. Default: steps 1 to
            ``horizon``.
        steps : int, optional
            Instead of ``fh``: the next ``steps`` values.

        Returns
        -------
        ndarray, shape (len(fh),) or (steps,)
        """
        self._check_fitted("predict")
        ahead = self._steps(fh, steps)
        return self.forecaster_.forecast(int(ahead.max())).mean[ahead - 1]

    def predict_interval(self, fh: Any = None, *, steps: int | None = None,
                         coverage: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the prediction interval of each forecast of
        :meth:`predict`, each of its shape; ``coverage`` 0.8 or 0.95 (the intervals
        :meth:`Forecaster.forecast` makes, from validation residuals)."""
        self._check_fitted("predict_interval")
        if coverage not in (0.8, 0.95):
            raise ValueError(f"coverage must be 0.8 or 0.95, got {coverage!r}")
        ahead = self._steps(fh, steps)
        result = self.forecaster_.forecast(int(ahead.max()))
        level = round(coverage * 100)
        return result.lower[level][ahead - 1], result.upper[level][ahead - 1]

    def score(self, y: Any, X: Any = None) -> float:
        """Negative RMSE of the forecasts of ``y``, the values that follow the fitted series
        (``y[k]`` is step k + 1 ahead); greater is better, 0 is perfect.

        ``X`` must be None (the model reads past inputs only); it is in the signature so
        that scikit-learn's ``score(X_test, y_test)`` call, with the series in the first
        place, reaches ``y``.
        """
        self._check_fitted("score")
        if X is not None:
            raise ValueError("score(y) compares forecasts with y; future exogenous inputs X "
                             "are not used by this model, pass X=None")
        truth = _series(y, "y")
        if truth.ndim != 1 or not len(truth):
            raise ValueError(f"y must be the 1-D values after the fitted series, got shape "
                             f"{truth.shape}")
        if not np.issubdtype(truth.dtype, np.number) or not np.all(np.isfinite(truth)):
            raise ValueError("y must hold finite numbers")
        forecast = self.predict(steps=len(truth))
        return -float(np.sqrt(np.mean((forecast - truth) ** 2)))

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags; called by scikit-learn only, so it is imported already."""
        from sklearn.utils import InputTags, Tags, TargetTags

        # The series comes in X's place (sklearn's fit(X, y) calls fit(y=X)); no target.
        return Tags(estimator_type=None, target_tags=TargetTags(required=False),
                    input_tags=InputTags(one_d_array=True, two_d_array=False))
