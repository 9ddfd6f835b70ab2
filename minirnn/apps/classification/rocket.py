"""A convolutional member for :class:`SequenceClassifier`: MiniRocket features and a ridge
classifier whose leave-one-out scores come for free.

MiniRocket (Dempster, Schmidt and Webb 2021) turns a series into about 10,000 proportions of
positive values of fixed convolutions (84 kernels of length 9 at up to 32 dilations, biases
taken from quantiles of the training series' convolutions); a ridge classifier on those
features is the archive's strongest baseline that runs in seconds. Here the kernels are
fitted by aeon (the ``rocket`` extra) and kept as five plain arrays, so a saved classifier
needs no pickle: the transform is rebuilt from them with aeon's own compiled transform
(:func:`rocket_transform`); without aeon it is one clear ImportError. The ridge classifier
is written here (scaling, ``alpha`` chosen among ``RIDGE_ALPHAS`` by leave-one-out error as
scikit-learn's ``RidgeClassifierCV``), so its leave-one-out class scores on the training
set -- which the classifier's blend is chosen on -- cost one eigendecomposition.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minirnn.apps.classification.baselines import MINIROCKET_MIN_STEPS, resample

__all__ = ["KERNEL_ARRAYS", "RIDGE_ALPHAS", "ROCKET_KERNELS", "RocketMember",
           "fit_kernels", "ridge_loo", "rocket_transform", "scores_proba"]

#: Features of the MiniRocket transform (aeon's default; rounded down to a multiple of 84).
ROCKET_KERNELS = 10_000
#: The ridge penalties tried (scikit-learn's RidgeClassifierCV as aeon's MiniRocket uses it).
RIDGE_ALPHAS = np.logspace(-3, 3, 10)
#: The arrays that define a fitted MiniRocket transform, in aeon's order, and their dtypes.
KERNEL_ARRAYS = (("n_channels_per_combination", np.int32), ("channel_indices", np.int32),
                 ("dilations", np.int32), ("n_features_per_dilation", np.int32),
                 ("biases", np.float32))
_NEEDS_AEON = ("the MiniRocket member needs aeon to fit or to predict: "
               "pip install 'minirnn[rocket]'")


def _aeon_minirocket() -> Any:
    """aeon's MiniRocket module, or an ImportError that says how to install it."""
    try:
        from aeon.transformations.collection.convolution_based import _minirocket
    except ImportError as exc:
        raise ImportError(_NEEDS_AEON) from exc
    return _minirocket


def _channels_first(x: np.ndarray) -> np.ndarray:
    """(N, T, D) -> aeon's (N, D, T), float32, contiguous."""
    return np.ascontiguousarray(np.asarray(x, np.float32).transpose(0, 2, 1))


def fit_kernels(x: np.ndarray, seed: int, n_kernels: int = ROCKET_KERNELS
                ) -> dict[str, np.ndarray]:
    """Fit MiniRocket's dilations and biases on equal-length series (aeon's ``MiniRocket``).

    Parameters
    ----------
    x : ndarray, shape (N, T, D), T >= 9
    seed : int
    n_kernels : int

    Returns
    -------
    dict of name -> ndarray
        The arrays of :data:`KERNEL_ARRAYS`, enough for :func:`rocket_transform`.
    """
    module = _aeon_minirocket()
    transform = module.MiniRocket(n_kernels=n_kernels, random_state=seed, n_jobs=1)
    transform.fit(_channels_first(x))
    return {name: np.asarray(value, dtype)
            for (name, dtype), value in zip(KERNEL_ARRAYS, transform.parameters, strict=True)}


def rocket_transform(kernels: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """MiniRocket features of equal-length series from the saved arrays of
    :func:`fit_kernels`: aeon's compiled transform, on one thread (numba's thread count is
    restored after).

    Parameters
    ----------
    kernels : dict of name -> ndarray
    x : ndarray, shape (N, T, D)

    Returns
    -------
    ndarray, shape (N, F), float64
    """
    module = _aeon_minirocket()
    from numba import get_num_threads, set_num_threads

    params = tuple(np.ascontiguousarray(kernels[name], dtype) for name, dtype in KERNEL_ARRAYS)
    data = _channels_first(x)
    threads = get_num_threads()
    set_num_threads(1)
    try:
        if data.shape[1] == 1:
            out = module._static_transform_uni(data[:, 0], params, module.MiniRocket._indices)
        else:
            out = module._static_transform_multi(data, params, module.MiniRocket._indices)
    finally:
        set_num_threads(threads)
    return np.asarray(out, np.float64)


def ridge_loo(features: np.ndarray, y: np.ndarray, num_classes: int,
              alphas: np.ndarray = RIDGE_ALPHAS
              ) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """A one-vs-rest ridge classifier (targets +1 / -1, with intercept), its penalty chosen
    by the leave-one-out squared error, and its leave-one-out scores.

    One eigendecomposition of the (centred) Gram matrix (N <= F) or covariance (N > F)
    gives every penalty's fit and exact leave-one-out residuals (the hat-matrix identity
    ``e_i = r_i / (1 - h_ii)``, the intercept included in ``h``).

    Parameters
    ----------
    features : ndarray, shape (N, F)
    y : ndarray of int, shape (N,)
    num_classes : int
    alphas : ndarray, shape (A,)

    Returns
    -------
    coef : ndarray, shape (F, C)
    intercept : ndarray, shape (C,)
    alpha : float
    loo_scores : ndarray, shape (N, C)
        Each training series' scores from the ridge fit without it (same penalty).
    """
    n = len(y)
    targets = -np.ones((n, num_classes))
    targets[np.arange(n), y] = 1.0
    mean_x = features.mean(axis=0)
    xc = features - mean_x
    mean_y = targets.mean(axis=0)
    yc = targets - mean_y
    if n <= features.shape[1]:
        s, q = np.linalg.eigh(xc @ xc.T)  # (N,), (N, N)
        qty = q.T @ yc
        left = q
    else:
        s, v = np.linalg.eigh(xc.T @ xc)  # (F,), (F, F)
        left = xc @ v  # fitted values = left diag(1 / (s + a)) left^T yc
        qty = left.T @ yc
    s = np.maximum(s, 0.0)
    best: tuple[float, float, np.ndarray, np.ndarray] | None = None
    for alpha in alphas:
        w = 1.0 / (s + alpha)
        if n <= features.shape[1]:
            dual = q @ (w[:, None] * qty)  # (K + a I)^-1 yc
            fitted = yc - alpha * dual
            hat = 1.0 - alpha * (q ** 2) @ w
        else:
            fitted = left @ (w[:, None] * qty)
            hat = (left ** 2) @ w
        hat = hat + 1.0 / n  # the intercept's share of the hat matrix
        resid = (yc - fitted) / np.maximum(1.0 - hat, 1e-12)[:, None]
        err = float((resid ** 2).sum())
        if best is None or err < best[0] - 1e-12 * abs(best[0]):
            best = (err, float(alpha), resid, fitted)
    assert best is not None
    _, alpha, resid, _ = best
    if n <= features.shape[1]:
        coef = xc.T @ (q @ (qty / (s + alpha)[:, None]))
    else:
        coef = v @ ((v.T @ (xc.T @ yc)) / (s + alpha)[:, None])
    intercept = mean_y - mean_x @ coef
    return coef, intercept, alpha, targets - resid


def scores_proba(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax of ridge scores divided by ``temperature``, (N, C)."""
    logits = scores / temperature
    logits = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def _fit_score_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature of :func:`scores_proba` with the least log loss, in [1e-3, 10]."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        p = scores_proba(scores, math.exp(log_t))
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    res = minimize_scalar(loss, bounds=(math.log(1e-3), math.log(10.0)), method="bounded",
                          options={"xatol": 1e-3})
    return float(math.exp(res.x))


class RocketMember:
    """MiniRocket features, scaled, and a ridge classifier with calibrated probabilities.

    Series are stretched to the longest training length (at least 9 steps) by linear
    interpolation, as the MiniRocket baseline does. ``oof_proba`` and ``loo_accuracy`` are
    the leave-one-out probabilities and accuracy on the training set (the kernels and the
    scaling are unsupervised and fitted on all of it).

    Parameters
    ----------
    seed : int
    n_kernels : int
    """

    def __init__(self, seed: int = 0, n_kernels: int = ROCKET_KERNELS) -> None:
        self.seed = int(seed)
        self.n_kernels = int(n_kernels)
        self.steps = 0
        self.kernels: dict[str, np.ndarray] = {}
        self.scale = np.ones(0)
        self.coef = np.zeros((0, 0))
        self.intercept = np.zeros(0)
        self.alpha = 0.0
        self.temperature = 1.0
        self.oof_proba = np.zeros((0, 0))
        self.loo_accuracy = 0.0

    def _inputs(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return resample(np.asarray(x, np.float64), lengths, self.steps)

    def fit(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray, num_classes: int
            ) -> RocketMember:
        """Fit on (N, T, D) series with valid ``lengths`` (N,) and labels ``y`` (N,)."""
        self.steps = max(int(lengths.max()), MINIROCKET_MIN_STEPS)
        z = self._inputs(x, lengths)
        self.kernels = fit_kernels(z, self.seed, self.n_kernels)
        feats = rocket_transform(self.kernels, z)
        std = feats.std(axis=0)
        self.scale = np.where(std > 1e-12, std, 1.0)  # StandardScaler(with_mean=False)
        self.coef, self.intercept, self.alpha, loo = ridge_loo(feats / self.scale, y,
                                                               num_classes)
        self.temperature = _fit_score_temperature(loo, y)
        self.oof_proba = scores_proba(loo, self.temperature)
        self.loo_accuracy = float(np.mean(loo.argmax(axis=1) == y))
        return self

    def predict_proba(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C)."""
        feats = rocket_transform(self.kernels, self._inputs(x, lengths)) / self.scale
        return scores_proba(feats @ self.coef + self.intercept, self.temperature)

    # ------------------------------------------------------------------ files
    def arrays(self) -> dict[str, np.ndarray]:
        """Everything a prediction needs, as plain arrays (no pickle)."""
        return {**self.kernels, "scale": self.scale, "coef": self.coef,
                "intercept": self.intercept}

    def settings(self) -> dict[str, Any]:
        """The JSON part: sizes, penalty, temperature, seed."""
        return {"steps": self.steps, "seed": self.seed, "n_kernels": self.n_kernels,
                "alpha": self.alpha, "temperature": self.temperature,
                "loo_accuracy": self.loo_accuracy}

    @classmethod
    def from_arrays(cls, settings: dict[str, Any], arrays: dict[str, np.ndarray],
                    num_classes: int, num_features: int, train_length: int) -> RocketMember:
        """Rebuild from :meth:`settings` and :meth:`arrays`, checking every shape, dtype and
        value that the transform and the ridge classifier rely on (ValueError otherwise)."""
        want = {name for name, _ in KERNEL_ARRAYS} | {"scale", "coef", "intercept"}
        if set(arrays) != want:
            raise ValueError(f"rocket arrays {sorted(arrays)}, expected {sorted(want)}")
        self = cls(seed=int(settings["seed"]), n_kernels=int(settings["n_kernels"]))
        steps = settings.get("steps")
        if isinstance(steps, bool) or not isinstance(steps, int) or \
                not MINIROCKET_MIN_STEPS <= steps <= max(train_length, MINIROCKET_MIN_STEPS):
            raise ValueError(f"rocket steps {steps!r} do not fit the training length "
                             f"{train_length}")
        for key in ("alpha", "temperature"):
            value = settings.get(key)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"rocket {key} must be a positive number, got {value!r}")
        kernels = {name: arrays[name] for name, _ in KERNEL_ARRAYS}
        for name, dtype in KERNEL_ARRAYS:
            if kernels[name].ndim != 1 or kernels[name].dtype != np.dtype(dtype):
                raise ValueError(f"rocket {name} must be a 1-d {np.dtype(dtype).name} array, "
                                 f"got {kernels[name].dtype} {kernels[name].shape}")
        per_comb = kernels["n_channels_per_combination"]
        dilations = kernels["dilations"]
        per_dilation = kernels["n_features_per_dilation"]
        width = 84 * int(per_dilation.sum())
        if len(per_comb) != 84 * len(dilations) or len(per_dilation) != len(dilations) or \
                per_comb.min(initial=1) < 1 or per_comb.max(initial=1) > num_features or \
                len(kernels["channel_indices"]) != int(per_comb.sum()) or \
                kernels["channel_indices"].min(initial=0) < 0 or \
                kernels["channel_indices"].max(initial=0) >= num_features or \
                dilations.min(initial=1) < 1 or \
                8 * int(dilations.max(initial=1)) >= steps or \
                per_dilation.min(initial=1) < 1 or len(kernels["biases"]) != width or \
                not np.isfinite(kernels["biases"]).all():
            raise ValueError("rocket kernels inconsistent (combinations, channels, dilations "
                             "or biases)")
        scale, coef, intercept = arrays["scale"], arrays["coef"], arrays["intercept"]
        if scale.shape != (width,) or coef.shape != (width, num_classes) or \
                intercept.shape != (num_classes,) or not (scale > 0).all() or \
                not all(np.isfinite(a).all() for a in (scale, coef, intercept)):
            raise ValueError(f"rocket ridge arrays must be finite, scale ({width},) > 0, coef "
                             f"({width}, {num_classes}), intercept ({num_classes},); got "
                             f"{scale.shape}, {coef.shape}, {intercept.shape}")
        self.steps, self.kernels = steps, kernels
        self.scale, self.coef, self.intercept = scale, coef, intercept
        self.alpha = float(settings["alpha"])
        self.temperature = float(settings["temperature"])
        self.loo_accuracy = float(settings.get("loo_accuracy", 0.0))
        return self
