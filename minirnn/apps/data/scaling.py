"""Per-feature scalers with scikit-learn's names: ``MinMaxScaler`` and ``StandardScaler``.

Features are on the last axis. A 1-D array is one feature (a univariate series of shape (T,)),
and a scaler fitted on one feature scales every element of any array, so the windows
``(N, L, 1)`` and targets ``(N, K)`` of :func:`minirnn.data.sliding_windows` go through the
scaler fitted on the series. With F > 1 features the last axis must have size F.

Fit on the training part only, then transform every part with the same statistics. The fitted
state is a plain dict of numpy arrays (``state_dict()``), so ``np.savez`` stores it without
pickle.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

import numpy as np

from minirnn.apps.data._checks import as_finite_float_array

__all__ = ["MinMaxScaler", "NotFittedError", "StandardScaler"]


class NotFittedError(ValueError, AttributeError):
    """A scaler was used before ``fit`` (or ``load_state_dict``); as scikit-learn's."""


def _restore_dtype(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    return out.astype(like.dtype, copy=False)


class _Scaler(ABC):
    """Shared plumbing: input checks, fitted check, ``fit_transform``, state checks."""

    _state_keys: tuple[str, ...] = ()

    @abstractmethod
    def _stats(self) -> tuple[np.ndarray, ...]:
        """The fitted per-feature arrays, each (F,); only called once fitted."""

    @abstractmethod
    def _is_fitted(self) -> bool:
        """Whether ``fit`` or ``load_state_dict`` has run."""

    @property
    def n_features_in_(self) -> int:
        """F, the number of features seen by ``fit``."""
        self._check_fitted("n_features_in_")
        return int(self._stats()[0].shape[0])

    def _check_fitted(self, method: str) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet: call fit(x) (or fit_transform or "
                f"load_state_dict) before {method}"
            )

    @staticmethod
    def _fit_input(x: Any) -> np.ndarray:
        """Return x as a float64 (M, F) matrix of samples by features."""
        arr = as_finite_float_array(x, "x")
        if arr.ndim == 1:
            return arr.astype(np.float64)[:, None]
        return arr.astype(np.float64).reshape(-1, arr.shape[-1])

    def _input(self, x: Any, method: str) -> np.ndarray:
        """``x`` checked for ``method``: finite, and with F features on its last axis if F > 1."""
        self._check_fitted(method)
        arr = as_finite_float_array(x, "x")
        n_features = self.n_features_in_
        if n_features > 1 and (arr.ndim < 2 or arr.shape[-1] != n_features):
            raise ValueError(
                f"x must have {n_features} features on its last axis (the number seen by "
                f"fit), got shape {arr.shape}"
            )
        return arr

    @abstractmethod
    def fit(self, x: Any) -> _Scaler:
        """Learn the per-feature statistics of ``x``; returns ``self``."""

    @abstractmethod
    def transform(self, x: Any) -> np.ndarray:
        """Scale ``x`` with the fitted statistics."""

    @abstractmethod
    def inverse_transform(self, x: Any) -> np.ndarray:
        """Undo :meth:`transform`."""

    @abstractmethod
    def state_dict(self) -> dict[str, np.ndarray]:
        """The fitted state as a plain dict of arrays."""

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state returned by :meth:`state_dict`."""

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``; same shape and dtype as ``x``."""
        return self.fit(x).transform(x)

    def _checked_state(self, state: Mapping[str, Any]) -> dict[str, np.ndarray]:
        missing = sorted(set(self._state_keys) - set(state))
        unexpected = sorted(set(state) - set(self._state_keys))
        if missing or unexpected:
            raise KeyError(
                f"state dict does not match {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        out = {}
        for key in self._state_keys:
            value = np.asarray(state[key])
            if value.ndim != 1 or value.size == 0:
                raise ValueError(
                    f"state dict entry {key!r}: expected a non-empty 1-D array, "
                    f"got shape {value.shape}"
                )
            out[key] = as_finite_float_array(value, f"state dict entry {key!r}").astype(
                np.float64
            )
        return out


class MinMaxScaler(_Scaler):
    """Scale each feature linearly so its training range maps onto ``feature_range``.

    ``transform(x) = (x - data_min) * scale + lo`` with ``scale = (hi - lo) / (data_max -
    data_min)``; a constant feature (``data_max == data_min``) uses ``scale = hi - lo`` (no
    division by zero) and maps to ``lo``, and ``inverse_transform`` still restores it.

    Parameters
    ----------
    feature_range : tuple of (float, float)
        ``(lo, hi)`` with ``lo < hi``.

    Attributes
    ----------
    data_min_, data_max_, data_range_, scale_, min_ : ndarray, shape (F,)
        As in scikit-learn: ``transform(x) = x * scale_ + min_``. ``None`` until fitted.

    Examples
    --------
    >>> scaler = MinMaxScaler().fit(train)          # doctest: +SKIP
    >>> train01, test01 = scaler.transform(train), scaler.transform(test)  # doctest: +SKIP
    """

    _state_keys = ("feature_range", "data_min", "data_max")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        self.feature_range = self._check_range(feature_range)
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None

    @staticmethod
    def _check_range(feature_range: Any) -> tuple[float, float]:
        try:
            lo, hi = feature_range
            lo_f, hi_f = float(lo), float(hi)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"feature_range must be a pair of numbers (lo, hi), got {feature_range!r}"
            ) from exc
        if not (np.isfinite(lo_f) and np.isfinite(hi_f) and lo_f < hi_f):
            raise ValueError(
                f"feature_range must be finite with lo < hi, got ({lo_f}, {hi_f})"
            )
        return lo_f, hi_f

    def _is_fitted(self) -> bool:
        return self.data_min_ is not None

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.data_min_ is not None and self.data_max_ is not None
        return self.data_min_, self.data_max_

    @property
    def data_range_(self) -> np.ndarray:
        """``data_max_ - data_min_``, shape (F,)."""
        data_min, data_max = self._stats_or_raise("data_range_")
        return data_max - data_min

    @property
    def scale_(self) -> np.ndarray:
        """Per-feature multiplier, shape (F,); ``hi - lo`` for a constant feature."""
        lo, hi = self.feature_range
        data_min, data_max = self._stats_or_raise("scale_")
        # Halves first: data_max - data_min overflows for data spanning [-1e308, 1e308].
        half_span = data_max / 2 - data_min / 2
        return ((hi - lo) / 2) / np.where(half_span == 0.0, 0.5, half_span)

    @property
    def min_(self) -> np.ndarray:
        """Per-feature offset after scaling, shape (F,): ``lo - data_min_ * scale_``."""
        data_min, _ = self._stats_or_raise("min_")
        return self.feature_range[0] - data_min * self.scale_

    def _stats_or_raise(self, method: str) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted(method)
        return self._stats()

    def fit(self, x: Any) -> MinMaxScaler:
        """Record each feature's minimum and maximum.

        Parameters
        ----------
        x : array_like, shape (T,) or (..., F)
            Finite numbers; every leading axis is a sample axis.

        Returns
        -------
        self
        """
        m = self._fit_input(x)
        self.data_min_ = m.min(axis=0)
        self.data_max_ = m.max(axis=0)
        return self

    def transform(self, x: Any) -> np.ndarray:
        """Map each feature's training range onto ``feature_range``.

        Parameters
        ----------
        x : array_like, any shape (one feature) or (..., F)

        Returns
        -------
        ndarray, same shape as ``x``
            float32 for float32 input, float64 otherwise. Values outside the training range
            map outside ``feature_range`` (no clipping).
        """
        arr = self._input(x, "transform")
        return _restore_dtype(arr * self.scale_ + self.min_, arr)

    def inverse_transform(self, x: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``(x - min_) / scale_``; same shape as ``x``."""
        arr = self._input(x, "inverse_transform")
        return _restore_dtype((arr - self.min_) / self.scale_, arr)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"feature_range": (2,), "data_min": (F,), "data_max": (F,)}``, copies."""
        data_min, data_max = self._stats_or_raise("state_dict")
        return {
            "feature_range": np.array(self.feature_range, dtype=np.float64),
            "data_min": data_min.copy(),
            "data_max": data_max.copy(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a fitted state (also sets ``feature_range``); checked before writing.

        Raises
        ------
        KeyError
            If a key is missing or unexpected.
        ValueError
            If a shape or value is invalid.
        """
        checked = self._checked_state(state)
        if checked["feature_range"].shape != (2,):
            raise ValueError(
                f"state dict entry 'feature_range': expected shape (2,), "
                f"got {checked['feature_range'].shape}"
            )
        feature_range = self._check_range(tuple(checked["feature_range"]))
        data_min, data_max = checked["data_min"], checked["data_max"]
        if data_min.shape != data_max.shape:
            raise ValueError(
                f"state dict entries 'data_min' and 'data_max' must have the same shape, "
                f"got {data_min.shape} and {data_max.shape}"
            )
        if np.any(data_max < data_min):
            raise ValueError("state dict entry 'data_max' is below 'data_min'")
        self.feature_range = feature_range
        self.data_min_, self.data_max_ = data_min, data_max

    def __repr__(self) -> str:
        return f"MinMaxScaler(feature_range={self.feature_range})"


class StandardScaler(_Scaler):
    """Scale each feature to zero mean and unit variance over the training data.

    ``transform(x) = (x - mean_) / scale_`` with ``scale_ = sqrt(var_)`` (population variance,
    ddof = 0, as scikit-learn). A constant feature (all values equal) has ``var_ = 0`` and
    ``scale_ = 1``: it maps to 0 without division by zero and ``inverse_transform`` restores it.

    Attributes
    ----------
    mean_, var_, scale_ : ndarray, shape (F,)
        ``None`` until fitted (``scale_`` raises).
    """

    _state_keys = ("mean", "var")

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.var_: np.ndarray | None = None

    def _is_fitted(self) -> bool:
        return self.mean_ is not None

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.mean_ is not None and self.var_ is not None
        return self.mean_, self.var_

    @property
    def scale_(self) -> np.ndarray:
        """Per-feature standard deviation, shape (F,); 1 for a constant feature."""
        self._check_fitted("scale_")
        _, var = self._stats()
        return np.where(var > 0.0, np.sqrt(var), 1.0)

    def fit(self, x: Any) -> StandardScaler:
        """Record each feature's mean and variance.

        Parameters
        ----------
        x : array_like, shape (T,) or (..., F)
            Finite numbers; every leading axis is a sample axis.

        Returns
        -------
        self
        """
        m = self._fit_input(x)
        # Statistics of x / max|x|, scaled back: the plain sums overflow for |x| near 1e308.
        peak = np.max(np.abs(m), axis=0)
        peak[peak == 0] = 1.0
        unit = m / peak
        with np.errstate(over="ignore"):
            mean = unit.mean(axis=0) * peak
            var = unit.var(axis=0) * peak * peak
        if not np.isfinite(var).all():
            raise ValueError(
                "x spans values whose variance overflows float64 (largest |x| "
                f"{float(peak.max()):.3g}); use MinMaxScaler or rescale the data first")
        # Exactly constant features get variance 0 even when rounding left a tiny residue.
        var[m.max(axis=0) == m.min(axis=0)] = 0.0
        self.mean_, self.var_ = mean, var
        return self

    def transform(self, x: Any) -> np.ndarray:
        """``(x - mean_) / scale_``; same shape as ``x``, float32 for float32 input."""
        arr = self._input(x, "transform")
        mean, _ = self._stats()
        return _restore_dtype((arr - mean) / self.scale_, arr)

    def inverse_transform(self, x: Any) -> np.ndarray:
        """Undo :meth:`transform`: ``x * scale_ + mean_``; same shape as ``x``."""
        arr = self._input(x, "inverse_transform")
        mean, _ = self._stats()
        return _restore_dtype(arr * self.scale_ + mean, arr)

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"mean": (F,), "var": (F,)}``, copies."""
        self._check_fitted("state_dict")
        mean, var = self._stats()
        return {"mean": mean.copy(), "var": var.copy()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a fitted state; checked before writing.

        Raises
        ------
        KeyError
            If a key is missing or unexpected.
        ValueError
            If a shape or value is invalid (negative variance).
        """
        checked = self._checked_state(state)
        mean, var = checked["mean"], checked["var"]
        if mean.shape != var.shape:
            raise ValueError(
                f"state dict entries 'mean' and 'var' must have the same shape, "
                f"got {mean.shape} and {var.shape}"
            )
        if np.any(var < 0):
            raise ValueError("state dict entry 'var' must be non-negative")
        self.mean_, self.var_ = mean, var

    def __repr__(self) -> str:
        return "StandardScaler()"
