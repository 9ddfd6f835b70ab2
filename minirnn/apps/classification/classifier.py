"""A recurrent sequence classifier with the preprocessing, training and files it needs."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.classification.baselines import rocket_unavailable, stratified_split
from minirnn.apps.classification.blend import choose_blend
from minirnn.apps.classification.neighbors import (
    class_distances,
    dtw_distances,
    dtw_self_distances,
    euclidean_distances,
    fit_temperature,
    neighbor_proba,
    paa,
    to_common_length,
)
from minirnn.apps.classification.rocket import RocketMember
from minirnn.apps.recurrent import make_solver, recurrent_network
from minirnn.nn._validation import is_real_number
from minirnn.nn.io import (
    ModelFileError,
    build_layer,
    check_header_sizes,
    check_model_arrays,
    check_savable,
    load_metadata,
    model_arrays,
    read_file,
    stored_shapes,
    write_file,
)
from minirnn.nn.layers import SequencePooling
from minirnn.nn.losses import CrossEntropy
from minirnn.nn.metrics import softmax
from minirnn.nn.model import Sequential
from minirnn.nn.registry import OPTIMIZERS, RECURRENT_LAYERS
from minirnn.nn.version import __version__
from minirnn.train.callbacks import Callback, EarlyStopping, TimeLimit
from minirnn.train.solver import History, Solver

__all__ = ["CLASSIFIER_KIND", "DTW_NEIGHBOR_BUDGET", "DTW_NEIGHBOR_BUDGET_COMPILED", "DTW_WINDOWS",
           "NEIGHBOR_MAX_STEPS", "NEIGHBOR_MAX_STEPS_COMPILED", "NEIGHBOR_TIME_SHARE",
           "ROCKET_SECONDS_PER_CELL", "ROCKET_MEMBER_TIME_SHARE", "STOP_LOSS_DELTA",
           "SequenceClassifier",
           "class_weights", "default_neighbor_steps", "dtw_neighbor_budget", "znormalize"]

#: The ``kind`` of a classifier file (one archive: members, preprocessing, neighbours).
CLASSIFIER_KIND = "classifier"
_NORMALIZE = ("none", "series", "global")
_DISTANCES = ("euclidean", "dtw", "ddtw")
#: Above this many DTW cell updates for the training set's leave-one-out distances
#: (N^2 x steps x band), the DTW evidence is dropped (Euclidean only): about 20 s on one core
#: in numpy.
DTW_NEIGHBOR_BUDGET = 1e9
#: The same with the compiled DTW of the ``fast`` extra (numba), 9-27x faster than numpy
#: (docs/performance.md): about the same 20 s.
DTW_NEIGHBOR_BUDGET_COMPILED = 1e10
#: DTW evidence on at most this many (averaged) steps by default, in numpy ...
NEIGHBOR_MAX_STEPS = 100
#: ... and with the compiled DTW: on the archive sets, 300 instead of 100 steps raised the
#: neighbours' own test accuracy on the long series (ACSF1 0.56 -> 0.62, OSULeaf 0.72 ->
#: 0.79, ArrowHead 0.84 -> 0.86; docs/classification.md).
NEIGHBOR_MAX_STEPS_COMPILED = 300
#: Under a time limit, the share of it the nearest-neighbour evidence may take (its
#: leave-one-out distances, and the same distances for the expected queries).
NEIGHBOR_TIME_SHARE = 0.3
#: Under a time limit, the share of it the MiniRocket member may take (fitting, and
#: transforming the expected queries); it is skipped when its estimate is larger, since its
#: compiled code cannot be stopped midway.
ROCKET_MEMBER_TIME_SHARE = 0.15
#: Seconds per (series x step x feature) of the MiniRocket transform, for that estimate (about
#: 1.5 s for ACSF1's 200 series of 1,460 steps on the project machine, with margin).
ROCKET_SECONDS_PER_CELL = 1.5e-9
#: Candidate bands of the DTW evidence besides ``dtw_window``, fractions of the length, chosen
#: by leave-one-out accuracy on the training set (the UCR archive's "DTW with a learned
#: warping window" searches 0-100 % in 1 % steps; this coarser grid keeps the search near one
#: full-window cost). Empty: ``dtw_window`` alone (the rule before the search).
DTW_WINDOWS: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
_BLENDS = ("auto", "fixed")
#: A member's early stopping: at its best validation accuracy, a fall of the validation loss
#: (mean cross-entropy, nats) by at least this much restarts patience, as a rise in accuracy
#: does; smaller falls (a network growing more confident at accuracy 1.0) do not. Chosen on
#: halves of the benchmark's TRAIN files (11 sets, 38 fits, the network alone, scored on the
#: other half): any fall (the rule before) 0.849, 0.01 0.846, 0.03 0.853, 0.05 0.854, 0.1
#: 0.858, 0.2 0.834, accuracy rises alone 0.830 (GunPoint 0.96 -> 0.60: on 5 validation
#: series the accuracy is 1.0 after a few epochs while the loss still falls by tenths); 0.05,
#: the middle of the flat stretch, trains 26 % fewer epochs than the rule before.
STOP_LOSS_DELTA = 0.05


def default_neighbor_steps() -> int:
    """:data:`NEIGHBOR_MAX_STEPS_COMPILED` where the compiled DTW runs, else
    :data:`NEIGHBOR_MAX_STEPS`."""
    from minirnn.nn.kernels import compiled

    return NEIGHBOR_MAX_STEPS_COMPILED if compiled.compiled_available() else \
        NEIGHBOR_MAX_STEPS


def dtw_neighbor_budget() -> float:
    """Cell updates the DTW evidence may cost here: :data:`DTW_NEIGHBOR_BUDGET_COMPILED`
    where the compiled DTW runs, :data:`DTW_NEIGHBOR_BUDGET` otherwise."""
    from minirnn.nn.kernels import compiled

    return DTW_NEIGHBOR_BUDGET_COMPILED if compiled.compiled_available() else \
        DTW_NEIGHBOR_BUDGET


def znormalize(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each sequence and dimension to mean 0, standard deviation 1 over its valid steps
    (the UCR archive's convention); a constant dimension becomes 0. Padding stays 0."""
    valid = (np.arange(x.shape[1])[None, :] < lengths[:, None])[:, :, None]
    counts = lengths[:, None, None].astype(np.float64)
    mean = np.where(valid, x, 0.0).sum(axis=1, keepdims=True) / counts
    centred = np.where(valid, x - mean, 0.0)
    std = np.sqrt((centred ** 2).sum(axis=1, keepdims=True) / counts)
    return np.where(std > 1e-8, centred / np.where(std > 1e-8, std, 1.0), 0.0)


def class_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    """"Balanced" weights ``N / (C * count_c)`` (scikit-learn's ``compute_class_weight``);
    a class absent from ``y`` gets weight 0."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return weights


def _check_input(x: Any, lengths: Any, what: str, features: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(x, np.ndarray) or x.ndim != 3 or x.size == 0:
        raise ValueError(f"{what} x must be a non-empty array (N, T, D), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if not np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
        raise TypeError(f"{what} x must be numeric, got dtype {x.dtype}")
    if features is not None and x.shape[2] != features:
        raise ValueError(f"{what} x has {x.shape[2]} dimensions, the classifier was trained "
                         f"on {features}")
    n, t = x.shape[:2]
    if lengths is None:
        lengths = np.full(n, t, dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer) or \
            lengths.min() < 1 or lengths.max() > t:
        raise ValueError(f"{what} lengths must be {n} integers in [1, {t}], got "
                         f"{lengths.dtype} {lengths.shape}")
    valid = np.arange(t)[None, :] < lengths[:, None]
    bad = ~np.isfinite(x[valid])
    if bad.any():
        seq = int(np.flatnonzero((~np.isfinite(x) & valid[:, :, None]).any(axis=(1, 2)))[0])
        raise ValueError(f"{what} x contains NaN or Inf ({int(bad.sum())} values, first in "
                         f"sequence {seq}); fill them first, e.g. minirnn.apps.data.fill_missing")
    return x, lengths.astype(np.int64)


class SequenceClassifier:
    """Classify whole sequences of any length: a recurrent encoder, pooling over the valid
    steps, a dense layer and softmax, trained with early stopping on validation accuracy.

    Parameters
    ----------
    cell : {"gru", "lstm", "rnn"}
    hidden_size : int
    num_layers : int
    bidirectional : bool
    pooling : {"mean_max", "mean", "max", "last"}, or several joined by commas
        How a sequence of hidden states becomes one vector (over valid steps only); with
        several, ensemble member k uses the k-th (cycling).
    normalize : {"global", "series", "none"}
        ``"global"``: standardise each input dimension with the training mean and standard
        deviation; ``"series"``: z-normalise every sequence on its own (the UCR convention;
        removes offset and scale), then standardise globally; ``"none"``.
    max_steps : int or None
        Sequences longer than this are shortened by averaging groups of consecutive steps
        (``downsample="mean"``, piecewise aggregate approximation) or by putting them side by
        side as features of one step (``"patch"``: (T, D) -> (T/f, f*D)), with one factor f
        fixed at ``fit``.
    downsample : {"mean", "patch"}, or several joined by commas
        With several, ensemble member k uses the k-th (cycling): the default
        ``"patch,mean"`` gives members that see every step of a long series (1st, 3rd, ...)
        and members that see it averaged (diversity; on ACSF1, 1,460 steps, one network
        alone: 0.57 with patches, 0.45 averaged; docs/classification.md).
    derivative : bool or "auto"
        Also feed the first difference of every dimension (after normalisation);
        ``"auto"``: for univariate series only (where it helped most in our runs: GunPoint
        0.913 -> 0.987, ArrowHead 0.503 -> 0.743).
    epochs, batch_size, lr, optimizer, clip_norm, patience
        Training: Adam by default (``"adamw"``, ``"sgd"``, ``"rmsprop"``, ``"adagrad"``),
        global-norm clipping, early stopping on validation accuracy with
        ``patience`` epochs (ties broken by the lower validation loss); the best weights are kept.
    dropout : float
        Dropout on the pooled features before the dense layer (training only).
    validation_fraction : float
        Without ``validation_data``, this stratified fraction of the training set is held out.
    class_weight : None, "balanced" or array of shape (C,)
        Weights of the training loss per class, for imbalanced sets.
    seed : int
    dtype : numpy float dtype
    n_models : int
        Ensemble size: members differ in seed and validation split (and pooling, see
        above); their probabilities are averaged.
    refit : bool
        After early stopping picks a member's number of epochs on its validation split,
        train that member afresh on the whole training set for that many epochs.
    time_limit : float, optional
        Seconds for the whole fit, shared among the members; training stops cleanly then
        (:class:`~minirnn.callbacks.TimeLimit`), members not started are dropped.
    neighbors : float in [0, 1]
        Weight of the nearest-neighbour evidence in the predicted probabilities (0: the
        network alone; 1: nearest neighbours alone). The default 0.5 averages the network's
        probabilities with those of the distances in ``neighbor_distances`` (equal shares):
        for each distance, ``p_c`` is proportional to ``d_c ** (-1 / temperature)``, ``d_c``
        the distance to the nearest training series of class c, the temperature fitted by
        leave-one-out log loss on the training set. The training series are kept for this.
    neighbor_distances : str
        ``"euclidean"``, ``"dtw"``, ``"ddtw"`` (DTW of the first differences) or several
        joined by commas. Series are first brought to the longest training length (linear
        interpolation; z-normalised first with ``normalize="series"``) and every dimension
        standardised; DTW runs on at most ``neighbor_max_steps`` steps (averaged groups)
        with a band chosen by leave-one-out accuracy on the training set among
        ``dtw_window`` and :data:`DTW_WINDOWS` (fractions of the length, 0 to the full
        window; each distance, "dtw" and "ddtw", its own; ties to the wider band, as the
        archive's full-window 1-NN DTW; candidates whose distances would pass the DTW
        budget are left out, the widest first), and is dropped (Euclidean only) when the
        training set's distances at ``dtw_window`` would cost more than
        ``DTW_NEIGHBOR_BUDGET`` cell updates.
    dtw_window : float in [0, 1]
        A candidate band of the DTW evidence, always tried; the only one while
        :data:`DTW_WINDOWS` is empty.
    neighbor_max_steps : int or None
        None (the default): :data:`NEIGHBOR_MAX_STEPS_COMPILED` (300) where the compiled
        DTW of the ``fast`` extra runs, :data:`NEIGHBOR_MAX_STEPS` (100) in numpy (nine
        times the cost for three times the steps: fine compiled, slow in numpy).
    rocket : bool or "auto"
        Also fit a MiniRocket member (:class:`~minirnn.apps.classification.rocket.
        RocketMember`: convolution features and a ridge classifier); ``"auto"``: when aeon
        (the ``rocket`` extra) is installed. A saved model with this member needs aeon to
        predict.
    blend : {"auto", "fixed"}
        How the parts are combined. ``"auto"``: weights for the network, the neighbours
        (``neighbors > 0``) and the rocket member chosen on a 0.1 grid by their log loss on
        training series they did not learn from (:func:`~minirnn.apps.classification.blend.
        choose_blend`: the network on its members' validation series, discounted because
        they chose its epochs, the others leave-one-out; with ``validation_data``, on it;
        the weightings those series cannot tell from the least-loss one averaged), then
        pulled towards equal shares as far as that choice is uncertain; the neighbours'
        distances are weighted by the same rule on their leave-one-out probabilities.
        ``"fixed"``: ``(1 - neighbors) x network + neighbors x neighbours``, the distances
        in equal shares, no rocket member.
    verbose_time_limit : bool
        Print the TimeLimit summary when it stops a member.
    callbacks : sequence of Callback
        Extra callbacks (e.g. a progress printer).

    Attributes
    ----------
    model : Sequential
        Outputs logits (N, C) (the first member).
    models : list of Sequential
        Every member of the ensemble.
    solver, solvers : Solver, list of Solver
    stopper, stoppers : EarlyStopping, list of EarlyStopping
    interrupted : bool
        Ctrl-C (or SIGTERM) stopped ``fit``; no further member was trained.
    history : History
    num_classes : int
    stopper : EarlyStopping
    """

    def __init__(self, *, cell: str = "gru", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "mean,mean_max",
                 normalize: str = "global", max_steps: int | None = 100,
                 downsample: str = "patch,mean", derivative: bool | str = "auto", epochs: int = 150,
                 batch_size: int = 16, lr: float = 3e-3, optimizer: str = "adam",
                 clip_norm: float | None = 1.0,
                 patience: int = 30, validation_fraction: float = 0.2, dropout: float = 0.3,
                 class_weight: Any = None, seed: int = 0, dtype: Any = np.float32,
                 n_models: int = 3, refit: bool = False, neighbors: float = 0.5,
                 neighbor_distances: str = "euclidean,dtw,ddtw", dtw_window: float = 0.1,
                 neighbor_max_steps: int | None = None, rocket: bool | str = "auto",
                 blend: str = "auto", time_limit: float | None = None,
                 verbose_time_limit: bool = False, callbacks: Sequence[Callback] = ()
                 ) -> None:
        if cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got "
                             f"{optimizer!r}")
        if normalize not in _NORMALIZE:
            raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError(f"max_steps must be a positive int or None, got {max_steps!r}")
        if derivative not in (True, False, "auto"):
            raise ValueError(f"derivative must be True, False or 'auto', got {derivative!r}")
        if not isinstance(downsample, str) or any(
                m not in ("mean", "patch") for m in downsample.split(",")):
            raise ValueError(f"downsample must be 'mean', 'patch' or both joined by a comma, "
                             f"got {downsample!r}")
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got "
                             f"{validation_fraction}")
        for mode in pooling.split(","):
            SequencePooling(mode)  # validates the mode
        if not isinstance(n_models, int) or n_models < 1:
            raise ValueError(f"n_models must be a positive int, got {n_models!r}")
        if not isinstance(neighbors, (int, float)) or not 0.0 <= neighbors <= 1.0:
            raise ValueError(f"neighbors must be a weight in [0, 1], got {neighbors!r}")
        kinds = neighbor_distances.split(",") if isinstance(neighbor_distances, str) else []
        if not kinds or any(k not in _DISTANCES for k in kinds) or len(set(kinds)) != len(kinds):
            raise ValueError(f"neighbor_distances must be 'euclidean', 'dtw', 'ddtw' or several "
                             f"joined by commas, got {neighbor_distances!r}")
        if not isinstance(dtw_window, (int, float)) or not 0.0 <= dtw_window <= 1.0:
            raise ValueError(f"dtw_window must be a fraction in [0, 1], got {dtw_window!r}")
        if rocket not in (True, False, "auto"):
            raise ValueError(f"rocket must be True, False or 'auto', got {rocket!r}")
        if blend not in _BLENDS:
            raise ValueError(f"blend must be one of {_BLENDS}, got {blend!r}")
        if neighbor_max_steps is not None and (not isinstance(neighbor_max_steps, int) or
                                               neighbor_max_steps < 1):
            raise ValueError(f"neighbor_max_steps must be a positive int or None, got "
                             f"{neighbor_max_steps!r}")
        self.config: dict[str, Any] = {"cell": cell, "hidden_size": int(hidden_size),
                       "num_layers": int(num_layers), "bidirectional": bool(bidirectional),
                       "pooling": pooling, "normalize": normalize, "max_steps": max_steps,
                       "downsample": downsample, "derivative": derivative,
                       "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
                       "optimizer": optimizer,
                       "clip_norm": None if clip_norm is None else float(clip_norm),
                       "patience": int(patience),
                       "validation_fraction": float(validation_fraction),
                       "dropout": float(dropout), "n_models": n_models, "refit": bool(refit),
                       "neighbors": float(neighbors), "neighbor_distances": neighbor_distances,
                       "dtw_window": float(dtw_window),
                       "neighbor_max_steps": neighbor_max_steps, "rocket": rocket,
                       "blend": blend, "seed": int(seed)}
        self.class_weight = class_weight
        self.dtype = np.dtype(dtype)
        self.time_limit = time_limit
        self.verbose_time_limit = bool(verbose_time_limit)
        self.models: list[Sequential] = []
        self.callbacks = list(callbacks)
        self.model: Sequential | None = None
        self.prep: dict[str, Any] = {}
        #: The preprocessing of every member (they differ in ``downsample``); ``prep`` is
        #: member 0's.
        self.member_preps: list[dict[str, Any]] = []
        #: Nearest-neighbour evidence: the settings fitted on the training set (JSON) and
        #: the training series it compares against.
        self.neighbor_prep: dict[str, Any] = {}
        self.reference: dict[str, np.ndarray] = {}
        #: The MiniRocket member (None: not fitted, see ``rocket_status``).
        self.rocket: RocketMember | None = None
        self.rocket_status = "off"
        #: Weights of the parts in the predicted probabilities ("network", "neighbors",
        #: "rocket"), and how they were chosen (``blend_scores``: the held-out accuracy and
        #: log loss of each part and of the blend on the training data).
        self.blend_weights: dict[str, float] = {"network": 1.0}
        self.blend_scores: dict[str, float] = {}
        #: Held-out probabilities of the training series by each part (N, C), NaN rows where
        #: a part has none; what ``blend_weights`` were chosen on.
        self.held_out: dict[str, np.ndarray] = {}
        #: The neighbours' held-out probabilities per distance (leave-one-out), and each
        #: member's on its validation series (their indices, (n, C)): for studies of the blend.
        self.held_out_distances: dict[str, np.ndarray] = {}
        self.member_held_out: list[tuple[np.ndarray, np.ndarray]] = []
        #: Ctrl-C (or SIGTERM) ended ``fit``: the members trained so far are kept, the
        #: interrupted one with its best weights.
        self.interrupted = False

    # ------------------------------------------------------------ preprocessing
    def _transform(self, x: np.ndarray, lengths: np.ndarray, member: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Member ``member``'s inputs: (N, T, D) -> (N, T', D') and lengths (N,)."""
        prep = self.member_preps[member] if self.member_preps else self.prep
        x = np.asarray(x, np.float64)
        if prep["normalize"] == "series":
            x = znormalize(x, lengths)
        factor = int(prep["factor"])
        valid_in = np.arange(x.shape[1])[None, :] < lengths[:, None]
        x = np.where(valid_in[:, :, None], x, 0.0)  # padding may hold anything
        if prep.get("derivative", False):
            # Append the first difference of every dimension (0 at the first step): the
            # local slope, which shape classes often differ in.
            slope = np.diff(x, axis=1, prepend=x[:, :1])
            x = np.concatenate([x, np.where(valid_in[:, :, None], slope, 0.0)], axis=2)
        if factor > 1 and prep.get("downsample", "mean") == "patch":
            # Consecutive steps side by side: (N, T, D) -> (N, ceil(T/f), f*D); the input
            # projection then sees local shape, as a strided convolution would.
            n, t, d = x.shape
            t_pad = math.ceil(t / factor) * factor
            padded = np.zeros((n, t_pad, d))
            padded[:, :t] = x
            x = padded.reshape(n, t_pad // factor, factor * d)
            lengths = (lengths + factor - 1) // factor
        elif factor > 1:  # piecewise aggregate approximation over valid steps
            n, t, d = x.shape
            t_pad = math.ceil(t / factor) * factor
            valid = np.zeros((n, t_pad), dtype=bool)
            valid[:, :t] = np.arange(t)[None, :] < lengths[:, None]
            padded = np.zeros((n, t_pad, d))
            padded[:, :t] = x
            groups = valid.reshape(n, -1, factor)
            sums = (padded * valid[:, :, None]).reshape(n, -1, factor, d).sum(axis=2)
            counts = groups.sum(axis=2)
            x = sums / np.maximum(counts, 1)[:, :, None]
            lengths = (lengths + factor - 1) // factor
        mean, std = np.asarray(prep["mean"]), np.asarray(prep["std"])
        x = (x - mean) / std
        x[np.arange(x.shape[1])[None, :] >= lengths[:, None]] = 0.0
        return x.astype(self.dtype), lengths

    def _fit_prep(self, x: np.ndarray, lengths: np.ndarray) -> None:
        max_steps = self.config["max_steps"]
        t = int(lengths.max())
        factor = 1 if max_steps is None or t <= max_steps else math.ceil(t / max_steps)
        derivative = self.config["derivative"]
        if derivative == "auto":
            derivative = x.shape[2] == 1
        modes = self.config["downsample"].split(",")
        preps: dict[str, dict[str, Any]] = {}
        for downsample in dict.fromkeys(modes):
            width = x.shape[2] * (factor if downsample == "patch" else 1) * \
                (2 if derivative else 1)
            prep = {"normalize": self.config["normalize"], "factor": factor,
                    "downsample": downsample, "derivative": derivative,
                    "mean": [0.0] * width, "std": [1.0] * width}
            self.member_preps = [prep]
            if self.config["normalize"] != "none":
                z, zl = self._transform(x, lengths)
                valid = np.arange(z.shape[1])[None, :] < zl[:, None]
                values = z[valid].astype(np.float64)
                std = values.std(axis=0)
                prep["mean"] = values.mean(axis=0).tolist()
                prep["std"] = np.where(std > 1e-8, std, 1.0).tolist()
            preps[downsample] = prep
        self.member_preps = [preps[modes[k % len(modes)]]
                             for k in range(self.config["n_models"])]
        self.prep = self.member_preps[0]

    # ------------------------------------------------------ nearest-neighbour evidence
    def _neighbor_inputs(self, x: np.ndarray, lengths: np.ndarray
                         ) -> dict[str, np.ndarray]:
        """The series the distances compare: common length, standardised; "dtw" shortened."""
        npp = self.neighbor_prep
        x = np.asarray(x, np.float64)
        if self.config["normalize"] == "series":
            x = znormalize(x, lengths)
        z = to_common_length(x, lengths, int(npp["steps"]))
        z = (z - np.asarray(npp["mean"])) / np.asarray(npp["std"])
        out = {}
        for kind in npp["distances"]:
            if kind == "euclidean":
                out[kind] = z
            else:
                short = paa(z, int(npp["dtw_steps"]))
                # derivative DTW (Keogh and Pazzani): warp the slopes, not the values
                out[kind] = np.diff(short, axis=1) if kind == "ddtw" else short
        return out

    def _band(self, kind: str) -> int:
        """The band of a warped distance (one for both in files of older versions)."""
        npp = self.neighbor_prep
        return int(npp.get("dtw_bands", {}).get(kind, npp["dtw_band"]))

    def _distances(self, kind: str, a: np.ndarray, b: np.ndarray,
                   deadline: float | None = None) -> np.ndarray:
        if kind in ("dtw", "ddtw"):
            return dtw_distances(a, b, self._band(kind), deadline=deadline)
        return euclidean_distances(a, b)

    def _fit_neighbors(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray,
                       deadline: float | None = None, query_count: int = 0) -> None:
        """Keep the training series, choose each warped distance's band and fit each
        distance's temperature, all by leave-one-out on the training set (the test data is
        never involved).

        With a ``deadline`` (``time.perf_counter()``), a DTW distance whose leave-one-out
        distances do not finish by then, or whose time scaled to ``query_count`` further
        series would pass it, is dropped (its reason in ``neighbor_prep["why_dropped"]``);
        a candidate band that would is not tried."""
        cfg = self.config
        self.neighbor_prep, self.reference = {}, {}
        if cfg["neighbors"] == 0.0:
            return
        steps = int(lengths.max())
        raw = np.asarray(x, np.float64)
        if cfg["normalize"] == "series":
            raw = znormalize(raw, lengths)
        z = to_common_length(raw, lengths, steps)
        flat = z.reshape(-1, z.shape[2])
        std = flat.std(axis=0)
        dtw_steps = min(steps, cfg["neighbor_max_steps"] or default_neighbor_steps())
        short = math.ceil(steps / math.ceil(steps / dtw_steps))
        band = _band_steps(cfg["dtw_window"], short)
        kinds = cfg["neighbor_distances"].split(",")
        warped = [k for k in kinds if k != "euclidean"]
        why: dict[str, str] = {}
        if short < 3 and "ddtw" in warped:
            why["ddtw"] = "too short"  # no slopes to warp
        budget = dtw_neighbor_budget()
        n = len(y)
        if n ** 2 * short * (2 * band + 1) * len(warped) > budget:
            why.update({k: f"over {budget:.0e} cell updates" for k in warped if k not in why})
        kinds = [k for k in kinds if k not in why] or ["euclidean"]
        warped = [k for k in kinds if k != "euclidean"]
        # Candidate bands: the given one, then the grid's narrowest first while the
        # leave-one-out distances of every warped distance stay within the budget (they
        # cost about half of N^2 x steps x (2 band + 1) each: the distances are symmetric).
        bands = [band]
        if DTW_WINDOWS and warped:
            spent = 0.5 * n ** 2 * short * (2 * band + 1) * len(warped)
            for b in sorted({_band_steps(w, short) for w in DTW_WINDOWS} - {band}):
                cost = 0.5 * n ** 2 * short * (2 * b + 1) * len(warped)
                if spent + cost > budget:
                    break
                spent += cost
                bands.append(b)
        self.neighbor_prep = {"steps": steps, "dtw_steps": dtw_steps, "dtw_band": band,
                              "dtw_bands": {}, "band_loo_accuracy": {},
                              "mean": flat.mean(axis=0).tolist(),
                              "std": np.where(std > 1e-8, std, 1.0).tolist(),
                              "distances": kinds, "dropped": list(why), "why_dropped": why,
                              "temperature": {}, "loo_accuracy": {}}
        inputs = self._neighbor_inputs(x, lengths)
        loo: dict[str, np.ndarray] = {}
        for kind in list(kinds):
            if kind == "euclidean":
                dist = euclidean_distances(inputs[kind], inputs[kind])
                np.fill_diagonal(dist, np.inf)  # leave one out
                cdist = class_distances(dist, y, self.num_classes)
            else:
                found = self._choose_band(kind, inputs[kind], y, bands, deadline,
                                          query_count)
                if found is None:
                    why[kind] = "past the time limit"
                    self.neighbor_prep["dropped"].append(kind)
                    kinds.remove(kind)
                    continue
                cdist = found
            self.neighbor_prep["temperature"][kind] = fit_temperature(cdist, y)
            self.neighbor_prep["loo_accuracy"][kind] = float(np.mean(cdist.argmin(1) == y))
            loo[kind] = neighbor_proba(cdist, self.neighbor_prep["temperature"][kind])
            self.reference[kind] = inputs[kind]
        if not kinds:  # only DTW was asked for and it ran out of time
            self.neighbor_prep, self.reference = {}, {}
            return
        self.neighbor_prep["distances"] = kinds
        self.reference["y"] = np.asarray(y, np.int64)
        self.held_out_distances = {k: loo[k] for k in kinds}  # each distance, leave-one-out
        # The distances' shares: the blend's rule on their leave-one-out probabilities (a
        # distance that is perfect where the others are not takes most of the weight).
        weights = choose_blend(self.held_out_distances, np.asarray(y), network_optimism=0.0)[0] \
            if self.config["blend"] == "auto" else {k: 1.0 / len(kinds) for k in kinds}
        self.neighbor_prep["weights"] = weights
        self.held_out["neighbors"] = np.sum([weights[k] * loo[k] for k in kinds], axis=0)

    def _choose_band(self, kind: str, series: np.ndarray, y: np.ndarray, bands: list[int],
                     deadline: float | None, query_count: int) -> np.ndarray | None:
        """The leave-one-out class distances of a warped distance at the band (of
        ``bands``, the first the required one) with the best leave-one-out accuracy, ties
        to the wider; the band goes into ``neighbor_prep``. None: even the first band does
        not fit the deadline (with ``query_count`` queries to follow)."""
        npp = self.neighbor_prep
        best: tuple[float, int, np.ndarray] | None = None
        scores: dict[str, float] = {}
        for b in bands:
            start = time.perf_counter()
            try:
                dist = dtw_self_distances(series, b, deadline=deadline)
            except TimeoutError:
                break
            # The queries will cost about 2 x query_count / N of this (the leave-one-out
            # distances were computed half and mirrored).
            if deadline is not None and time.perf_counter() + 2.0 * (
                    time.perf_counter() - start) * query_count / len(y) > deadline:
                break
            np.fill_diagonal(dist, np.inf)  # leave one out
            cdist = class_distances(dist, y, self.num_classes)
            acc = float(np.mean(cdist.argmin(1) == y))
            scores[str(b)] = acc
            if best is None or acc > best[0] or (acc == best[0] and b > best[1]):
                best = (acc, b, cdist)
        if best is None:
            return None
        npp["dtw_bands"][kind] = best[1]
        npp["band_loo_accuracy"][kind] = scores
        return best[2]

    def _neighbor_proba(self, x: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        npp = self.neighbor_prep
        inputs = self._neighbor_inputs(x, lengths)
        out = {}
        for kind in npp["distances"]:
            dist = self._distances(kind, inputs[kind], self.reference[kind])
            cdist = class_distances(dist, self.reference["y"], self.num_classes)
            out[kind] = neighbor_proba(cdist, float(npp["temperature"][kind]))
        return out

    def _neighbor_mix(self, near: dict[str, np.ndarray]) -> np.ndarray:
        """The distances' probabilities in their shares (equal in files without them)."""
        weights = self.neighbor_prep.get("weights") or {k: 1.0 / len(near) for k in near}
        mixed = sum(float(weights[k]) * p for k, p in near.items())
        assert isinstance(mixed, np.ndarray)
        return mixed

    # ---------------------------------------------------------------- rocket member
    def _fit_rocket(self, x: np.ndarray, lengths: np.ndarray, y: np.ndarray,
                    query_count: int) -> None:
        """Fit the MiniRocket member when asked for and affordable; ``rocket_status`` says
        what happened."""
        self.rocket = None
        setting = self.config["rocket"]
        if setting is False or self.config["blend"] == "fixed":
            self.rocket_status = "off"
            return
        missing = rocket_unavailable()
        if missing:
            if setting is True:
                raise ImportError(f"rocket=True: the MiniRocket member {missing}")
            self.rocket_status = f"skipped ({missing})"
            return
        steps = max(int(lengths.max()), 9)
        estimate = (len(y) + query_count) * steps * 10_000 * ROCKET_SECONDS_PER_CELL * \
            max(1.0, min(x.shape[2], 9) / 2)
        if self.time_limit is not None and estimate > ROCKET_MEMBER_TIME_SHARE * self.time_limit:
            self.rocket_status = (f"skipped (about {estimate:.0f}s, over "
                                  f"{ROCKET_MEMBER_TIME_SHARE:.0%} of the time limit)")
            return
        raw = np.asarray(x, np.float64)
        if self.config["normalize"] == "series":
            raw = znormalize(raw, lengths)
        self.rocket = RocketMember(seed=self.config["seed"]).fit(raw, lengths, y,
                                                                 self.num_classes)
        self.held_out["rocket"] = self.rocket.oof_proba
        self.rocket_status = "fitted"

    def _rocket_proba(self, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        assert self.rocket is not None
        raw = np.asarray(x, np.float64)
        if self.config["normalize"] == "series":
            raw = znormalize(raw, lengths)
        return self.rocket.predict_proba(raw, lengths)

    def _choose_blend(self, y: np.ndarray, fixed: bool = False) -> None:
        """``blend_weights`` from the held-out probabilities (``blend="auto"``), or the
        fixed rule (also with ``fixed``: no held-out network probabilities, or no time to
        choose)."""
        if fixed or self.config["blend"] == "fixed" or len(self.held_out) == 1:
            weight = float(self.config["neighbors"]) if self.neighbor_prep else 0.0
            self.blend_weights = {"network": 1.0 - weight}
            if self.neighbor_prep:
                self.blend_weights["neighbors"] = weight
            self.blend_scores = {}
            return
        self.blend_weights, self.blend_scores = choose_blend(self.held_out, y)

    # --------------------------------------------------------------------- model
    def _build(self, features: int, classes: int, member: int = 0) -> Sequential:
        c = self.config
        modes = c["pooling"].split(",")
        return recurrent_network(c["cell"], features, c["hidden_size"], classes,
                                 read_out=modes[member % len(modes)],
                                 num_layers=c["num_layers"], bidirectional=c["bidirectional"],
                                 dropout=c["dropout"], dtype=self.dtype, seed=c["seed"] + member)

    def fit(self, x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None = None, *,
            num_classes: int | None = None,
            validation_data: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
            query_count: int = 0) -> SequenceClassifier:
        """Train on ``x`` (N, T, D) with integer labels ``y`` (N,) in [0, C).

        Everything is checked before training: shapes, NaN/Inf, labels, at least two classes.
        ``time_limit`` bounds the whole fit: the nearest-neighbour evidence may take
        :data:`NEIGHBOR_TIME_SHARE` of it (a DTW distance that would take longer, counting
        ``query_count`` series to be classified right after, e.g. a test set, is dropped),
        the members share the rest.
        """
        x, lengths = _check_input(x, lengths, "training")
        y = np.asarray(y)
        if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must be {len(x)} integer class indices, got {y.dtype} "
                             f"{y.shape}")
        c = int(num_classes if num_classes is not None else y.max() + 1)
        if y.min() < 0 or y.max() >= c:
            raise ValueError(f"class indices must be in [0, {c}), got min {y.min()} max "
                             f"{y.max()}")
        if len(np.unique(y)) < 2:
            raise ValueError(f"need at least two classes to train a classifier, the "
                             f"training labels hold only class {int(y[0])}")
        if validation_data is not None:
            xv, lv = _check_input(validation_data[0], validation_data[2], "validation",
                                  x.shape[2])
            yv = np.asarray(validation_data[1])
        weights = None
        if self.class_weight is not None:
            weights = class_weights(y, c) if isinstance(self.class_weight, str) and \
                self.class_weight == "balanced" else np.asarray(self.class_weight, np.float64)
            if weights.shape != (c,) or not np.all(np.isfinite(weights)) or weights.min() < 0:
                raise ValueError(f"class_weight must be 'balanced' or {c} non-negative "
                                 f"numbers, got {self.class_weight!r}")
        splits = []
        for k in range(self.config["n_models"]):
            if validation_data is None:
                train_idx, val_idx = stratified_split(y, self.config["validation_fraction"],
                                                      self.config["seed"] + k)
                if len(val_idx) == 0:
                    raise ValueError("no class has two samples: nothing to hold out for "
                                     "validation")
                splits.append((train_idx, val_idx))
        self.num_classes = c
        self.num_features = int(x.shape[2])
        self.train_length = int(lengths.max())
        clock = time.perf_counter()
        self._fit_prep(x, lengths)
        self.held_out = {}
        self.held_out_distances = {}
        self.member_held_out = []
        self._fit_neighbors(x, lengths, y, None if self.time_limit is None else
                            clock + NEIGHBOR_TIME_SHARE * self.time_limit, int(query_count))
        self._fit_rocket(x, lengths, y, int(query_count))
        inputs: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # by id of the member's prep
        self.models, self.solvers, self.stoppers = [], [], []
        self.interrupted = False
        try:
            for k in range(self.config["n_models"]):
                key = id(self.member_preps[k])
                if key not in inputs:
                    inputs[key] = self._transform(x, lengths, k)
                xt_all, lt_all = inputs[key]
                if splits:
                    tr, va = splits[k]
                    fit_data = (xt_all[tr], y[tr], lt_all[tr])
                    val_data = (xt_all[va], y[va], lt_all[va])
                else:
                    fit_data = (xt_all, y, lt_all)
                    vx, vl = self._transform(xv, lv, k)
                    val_data = (vx, yv, vl)
                callbacks: list[Callback] = []
                if self.time_limit is not None:
                    left = self.time_limit - (time.perf_counter() - clock)
                    if left <= 0 and self.models:
                        break  # out of time: predict with the members trained so far
                    share = max(left, 1e-9) / (self.config["n_models"] - k)
                    callbacks.append(TimeLimit(share, verbose=self.verbose_time_limit))
                model, solver, stopper = self._fit_member(k, fit_data, val_data, weights,
                                                          callbacks)
                # Ctrl-C / SIGTERM stops the whole fit, not one member: the members not
                # started are dropped, as under a time limit, and so is the interrupted one
                # if it finished no epoch (its weights are the initial ones).
                self.interrupted = solver.interrupted
                if len(solver.history) or not solver.interrupted:
                    self.models.append(model)
                    self.solvers.append(solver)
                    self.stoppers.append(stopper)
                if splits and len(solver.history):
                    held = softmax(np.asarray(model.predict(val_data[0], lengths=val_data[2]),
                                              np.float64))
                    self.member_held_out.append((splits[k][1], held))
                stopped = any(isinstance(cb, TimeLimit) and cb.stopped for cb in callbacks)
                if self.config["refit"] and splits and not solver.interrupted and not stopped:
                    # The validation split chose the number of epochs; now train a fresh
                    # model on the whole training set for that many (small sets need every
                    # example). Interrupted, the member trained on the split stays.
                    refitted = self._refit_member(k, xt_all, y, lt_all, weights,
                                                  stopper.best_epoch + 1)
                    self.interrupted = refitted is None
                    if refitted is not None:
                        self.models[-1] = refitted
                if self.interrupted:
                    break
        except KeyboardInterrupt:
            # Between two members' training (a held-out prediction, an input transform): the
            # members trained so far are complete and kept.
            self.interrupted = True
        if not self.models:
            raise KeyboardInterrupt  # stopped before any epoch: nothing to keep
        self.model = self.models[0]
        self.solver, self.stopper = self.solvers[0], self.stoppers[0]
        try:
            if splits:
                # The network's held-out probabilities: each training series' mean over the
                # members that held it out for validation (NaN where none did).
                net_sum = np.zeros((len(y), c))
                net_count = np.zeros(len(y))
                for rows, held in self.member_held_out:
                    net_sum[rows] += held
                    net_count[rows] += 1
                with np.errstate(invalid="ignore", divide="ignore"):
                    self.held_out["network"] = net_sum / net_count[:, None]
                self._choose_blend(y, fixed=not self.member_held_out)
            else:  # every part on the given validation data
                self.held_out = {}
                self.held_out = self.proba_parts(xv, lv, _grouped=True)
                self._choose_blend(yv)
        except KeyboardInterrupt:
            # Interrupted while choosing the blend (the signal policy ignores a second
            # signal, so this is the first): the fixed rule needs no computation.
            self.interrupted = True
            self._choose_blend(y, fixed=True)
        return self

    def _fit_member(self, k: int, fit_data: tuple[np.ndarray, np.ndarray, np.ndarray],
                    val_data: tuple[np.ndarray, np.ndarray, np.ndarray],
                    weights: np.ndarray | None, extra: list[Callback]
                    ) -> tuple[Sequential, Solver, EarlyStopping]:
        cfg = self.config
        xt, y, lt = fit_data
        model = self._build(xt.shape[2], self.num_classes, k)
        stopper = _AccuracyStopping(cfg["patience"])
        callbacks: list[Callback] = [_AccuracyThenLoss(), stopper, *self.callbacks, *extra]
        solver = make_solver(model, CrossEntropy(), optimizer=cfg["optimizer"], lr=cfg["lr"],
                             batch_size=cfg["batch_size"], epochs=cfg["epochs"],
                             seed=cfg["seed"] + k, clip_norm=cfg["clip_norm"],
                             metrics=["accuracy"], callbacks=callbacks)
        weight = None if weights is None else weights[y]  # a weighted mean (torch's weight=)
        solver.fit(xt, y, validation_data=val_data, lengths=lt, sample_weight=weight)
        return model, solver, stopper

    def _refit_member(self, k: int, xt: np.ndarray, y: np.ndarray, lt: np.ndarray,
                      weights: np.ndarray | None, epochs: int) -> Sequential | None:
        """Member ``k`` trained afresh on every training series for ``epochs``; None when
        Ctrl-C stopped it (its weights are then a partly trained model's)."""
        cfg = self.config
        model = self._build(xt.shape[2], self.num_classes, k)
        solver = make_solver(model, CrossEntropy(), optimizer=cfg["optimizer"], lr=cfg["lr"],
                             batch_size=cfg["batch_size"], epochs=epochs, seed=cfg["seed"] + k,
                             clip_norm=cfg["clip_norm"])
        weight = None if weights is None else weights[y]
        solver.fit(xt, y, lengths=lt, sample_weight=weight)
        return None if solver.interrupted else model

    @property
    def history(self) -> History:
        """The first member's training history."""
        return self.solver.history

    # ---------------------------------------------------------------- prediction
    def _require_model(self) -> list[Sequential]:
        if self.model is None:
            raise RuntimeError("the classifier is not trained: call fit() or load() first")
        return self.models

    def proba_parts(self, x: np.ndarray, lengths: np.ndarray | None = None, *,
                    _grouped: bool = False, _needed: Sequence[str] | None = None
                    ) -> dict[str, np.ndarray]:
        """The pieces :meth:`predict_proba` blends, each (N, C): ``"network"`` (the
        ensemble's mean), one entry per nearest-neighbour distance (``"euclidean"``,
        ``"dtw"``, ``"ddtw"``) when ``neighbors > 0``, and ``"rocket"`` with the MiniRocket
        member (needs aeon)."""
        models = self._require_model()
        x, lengths = _check_input(x, lengths, "x", self.num_features)
        probas = []
        for k, model in enumerate(models):
            xt, lt = self._transform(x, lengths, k)
            probas.append(softmax(np.asarray(model.predict(xt, lengths=lt), np.float64)))
        parts = {"network": np.mean(probas, axis=0)}
        if self.neighbor_prep and (_needed is None or "neighbors" in _needed):
            near = self._neighbor_proba(x, lengths)
            if _grouped:
                parts["neighbors"] = self._neighbor_mix(near)
            else:
                parts.update(near)
        if self.rocket is not None and (_needed is None or "rocket" in _needed):
            parts["rocket"] = self._rocket_proba(x, lengths)
        return parts

    def decision_function(self, x: np.ndarray, lengths: np.ndarray | None = None
                          ) -> np.ndarray:
        """Log of the class probabilities, (N, C): the ensemble's mean, blended with the
        nearest-neighbour evidence when ``neighbors > 0`` (a single network without it:
        its logits)."""
        models = self._require_model()
        if len(models) == 1 and not self.neighbor_prep and self.rocket is None:
            x, lengths = _check_input(x, lengths, "x", self.num_features)
            xt, lt = self._transform(x, lengths)
            return np.asarray(models[0].predict(xt, lengths=lt), np.float64)
        needed = [p for p, w in self.blend_weights.items() if w > 0]
        parts = self.proba_parts(x, lengths, _grouped=True, _needed=needed)
        proba = sum(self.blend_weights[p] * parts[p] for p in needed)
        assert isinstance(proba, np.ndarray)
        return np.log(np.maximum(proba, 1e-300))

    def predict_proba(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (N, C), each row summing to 1 (softmax of the logits; the mean
        over the members of an ensemble)."""
        return softmax(self.decision_function(x, lengths))

    def predict(self, x: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Class indices (N,) of the most probable class."""
        return np.argmax(self.decision_function(x, lengths), axis=1)

    def score(self, x: np.ndarray, y: np.ndarray, lengths: np.ndarray | None = None) -> float:
        """Accuracy on ``(x, y)``."""
        return float(np.mean(self.predict(x, lengths) == np.asarray(y)))

    # --------------------------------------------------------------------- files
    def metadata(self, **extra: Any) -> dict[str, Any]:
        """What :meth:`load` needs besides the weights (JSON)."""
        return {"task": "classify", "num_classes": self.num_classes,
                "num_features": self.num_features, "train_length": self.train_length,
                "prep": self.prep, "member_preps": self.member_preps[:len(self.models)],
                "neighbor_prep": self.neighbor_prep, "config": self.config,
                "blend_weights": self.blend_weights, "blend_scores": self.blend_scores,
                "rocket_status": self.rocket_status,
                "rocket_prep": None if self.rocket is None else self.rocket.settings(),
                "dtype": self.dtype.name, **extra}

    def save(self, path: str | os.PathLike[str], **extra: Any) -> None:
        """Write the classifier to one file: every member's architecture and weights, the
        preprocessing, and the training series of the nearest-neighbour evidence (``extra``
        such as class names goes into its metadata).

        One archive (kind ``"classifier"``, minirnn's format: every array with its
        SHA-256 in the header, written atomically), so no part can be swapped for another
        run's. :func:`minirnn.load` refuses it and names :meth:`load`.
        """
        models = self._require_model()
        arrays: dict[str, np.ndarray] = {}
        for k, model in enumerate(models):
            arrays.update({f"member{k}/{name.removeprefix('model/')}": value
                           for name, value in model_arrays(model).items()})
        for name, value in self.reference.items():
            arrays[f"neighbors/{name}"] = value
        if self.rocket is not None:
            arrays.update({f"rocket/{name}": value
                           for name, value in self.rocket.arrays().items()})
        header = {"kind": CLASSIFIER_KIND, "minirnn_version": __version__,
                  "open_with": "a classifier from 'minirnn train classify' (an ensemble with "
                               "its preprocessing and neighbours): load it with "
                               "minirnn.apps.classification.SequenceClassifier.load(path), "
                               "or use 'minirnn predict'",
                  "members": [check_savable(m, where=f"member {k}")
                              for k, m in enumerate(models)],
                  "metadata": self.metadata(members=len(models), **extra)}
        write_file(Path(path), header, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[SequenceClassifier, dict[str, Any]]:
        """The classifier saved by :meth:`save`, and the file's metadata.

        Everything is checked before it is used, and any problem is one
        :class:`~minirnn.nn.io.ModelFileError` naming the file: the archive and every
        array's SHA-256 (:func:`~minirnn.nn.io.read_file`); each member's architecture
        against its arrays; the preprocessing (sizes within the training length, finite
        means, positive deviations); the neighbours' series (finite, of the right shapes)
        and labels (integers of the model's classes); and that every member turns a
        series into ``num_classes`` finite logits.
        """
        p = Path(path)
        try:
            header, arrays = read_file(p, CLASSIFIER_KIND)
        except ModelFileError as exc:
            if "expected a classifier file, got 'model'" in str(exc):
                meta = load_metadata(p)
                if meta.get("task") == "classify":
                    raise ModelFileError(
                        f"{p}: a classifier saved by an older minirnn, with its members and "
                        "neighbours in separate files that are not checked against it; "
                        "retrain it with 'minirnn train classify'") from None
                raise ModelFileError(f"{p}: not a classifier (task {meta.get('task')!r}); "
                                     "'minirnn train classify' makes one") from None
            raise
        try:
            return cls._from_file(p, header, arrays)
        except ModelFileError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                ArithmeticError, MemoryError) as exc:
            raise ModelFileError(f"{p}: corrupt classifier ({type(exc).__name__}: "
                                 f"{exc})") from exc

    @classmethod
    def _from_file(cls, p: Path, header: dict[str, Any], arrays: dict[str, np.ndarray]
                   ) -> tuple[SequenceClassifier, dict[str, Any]]:
        meta = header.get("metadata")
        specs = header.get("members")
        if not isinstance(meta, dict) or meta.get("task") != "classify":
            raise ModelFileError(f"{p}: the header has no classifier metadata")
        if not isinstance(specs, list) or not specs or meta.get("members") != len(specs):
            raise ModelFileError(f"{p}: the header lists no members (or not as many as its "
                                 "metadata says)")
        config = dict(meta["config"])
        if not 1 <= len(specs) <= config.get("n_models", 0):
            raise ModelFileError(f"{p}: {len(specs)} members, but the configuration has "
                                 f"n_models={config.get('n_models')!r}")
        self = cls(**config, dtype=np.dtype(str(meta.get("dtype", "float32"))))
        self.num_classes = _whole(meta["num_classes"], "num_classes", 2, p)
        self.num_features = _whole(meta["num_features"], "num_features", 1, p)
        self.train_length = _whole(meta["train_length"], "train_length", 1, p)
        self.prep = _checked_prep(meta["prep"], self.num_features, self.train_length, p)
        member_preps = meta.get("member_preps", [meta["prep"]] * len(specs))
        if not isinstance(member_preps, list) or len(member_preps) != len(specs):
            raise ModelFileError(f"{p}: member_preps must list the preprocessing of each of "
                                 f"the {len(specs)} members")
        self.member_preps = [_checked_prep(m, self.num_features, self.train_length, p)
                             for m in member_preps]
        if self.member_preps[0] != self.prep:
            raise ModelFileError(f"{p}: prep is not member 0's preprocessing")
        known = {f"member{k}/" for k in range(len(specs))} | {"neighbors/", "rocket/"}
        stray = sorted(k for k in arrays if k[:k.index("/") + 1] not in known) \
            if all("/" in k for k in arrays) else sorted(arrays)
        if stray:
            raise ModelFileError(f"{p}: arrays that belong to no part of the classifier: "
                                 f"{stray[:5]}")
        models = []
        for k, spec in enumerate(specs):
            where = f"{p} (member {k})"
            own = {f"model/{name[len(f'member{k}/'):]}": v for name, v in arrays.items()
                   if name.startswith(f"member{k}/")}
            check_header_sizes(spec, stored_shapes(own), where)
            model = build_layer(spec)
            if not isinstance(model, Sequential):
                raise ModelFileError(f"{where}: expected a Sequential model, got "
                                     f"{type(model).__name__}")
            model.load_state_dict(check_model_arrays(model, own, where))
            models.append(model)
        self.models, self.model = models, models[0]
        self.neighbor_prep = dict(meta.get("neighbor_prep") or {})
        reference = {name[len("neighbors/"):]: v for name, v in arrays.items()
                     if name.startswith("neighbors/")}
        if self.neighbor_prep or reference:
            self.reference = _checked_reference(self.neighbor_prep, reference,
                                                self.num_classes, self.num_features,
                                                self.train_length, p)
        rocket_arrays = {name[len("rocket/"):]: v for name, v in arrays.items()
                         if name.startswith("rocket/")}
        if meta.get("rocket_prep") is not None or rocket_arrays:
            if not isinstance(meta.get("rocket_prep"), dict):
                raise ModelFileError(f"{p}: rocket arrays without their settings")
            try:
                self.rocket = RocketMember.from_arrays(
                    meta["rocket_prep"], rocket_arrays, self.num_classes, self.num_features,
                    self.train_length)
            except ValueError as exc:
                raise ModelFileError(f"{p}: {exc}") from None
        self.rocket_status = str(meta.get("rocket_status", "off"))
        self.blend_weights = _checked_weights(meta.get("blend_weights"), self, p)
        self.blend_scores = dict(meta.get("blend_scores") or {})
        # Every member (and the neighbours) must turn a series into C finite numbers.
        probe = np.zeros((1, min(self.train_length, 8), self.num_features))
        for k, model in enumerate(models):
            xt, lt = self._transform(probe, np.array([probe.shape[1]]), k)
            out = np.asarray(model.predict(xt, lengths=lt))
            if out.shape != (1, self.num_classes) or not np.isfinite(out).all():
                raise ModelFileError(f"{p}: member {k} gives outputs of shape {out.shape}, "
                                     f"the classifier has {self.num_classes} classes")
        if self.neighbor_prep:
            for kind, proba in self._neighbor_proba(probe, np.array([probe.shape[1]])).items():
                if proba.shape != (1, self.num_classes) or not np.isfinite(proba).all():
                    raise ModelFileError(f"{p}: the {kind} neighbour evidence is not "
                                         "finite")
        if self.rocket is not None and rocket_unavailable() is None:
            # (without aeon the member cannot run; predicting says so in one ImportError)
            proba = self._rocket_proba(probe, np.array([probe.shape[1]]))
            if proba.shape != (1, self.num_classes) or not np.isfinite(proba).all():
                raise ModelFileError(f"{p}: the rocket member's probabilities are not finite")
        return self, dict(meta)


def _band_steps(window: float, steps: int) -> int:
    """A band as a fraction of the length -> steps: at least 1 when the fraction is not 0,
    at most ``steps - 1`` (the full window)."""
    return min(max(1, math.ceil(window * steps)), max(steps - 1, 0)) if window > 0 else 0


def _checked_weights(value: Any, clf: SequenceClassifier, p: Path) -> dict[str, float]:
    """The blend weights of a classifier file: parts it has, non-negative, summing to 1
    (an older file without them: the fixed rule of its configuration)."""
    if value is None:
        weight = float(clf.config["neighbors"]) if clf.neighbor_prep else 0.0
        return {"network": 1.0 - weight, **({"neighbors": weight} if clf.neighbor_prep
                                              else {})}
    have = {"network"} | ({"neighbors"} if clf.neighbor_prep else set()) | (
        {"rocket"} if clf.rocket is not None else set())
    if not isinstance(value, dict) or not value or not set(value) <= have or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 <= w <= 1.0
            for w in value.values()) or abs(sum(value.values()) - 1.0) > 1e-6:
        raise ModelFileError(f"{p}: blend weights must be numbers in [0, 1] summing to 1 over "
                             f"the parts the file has ({sorted(have)}), got {value!r}"[:300])
    return {k: float(w) for k, w in value.items()}


def _whole(value: Any, name: str, least: int, p: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ModelFileError(f"{p}: {name} must be an int >= {least}, got {value!r}")
    return value


def _floats(value: Any, name: str, size: int, p: Path, *, positive: bool = False
            ) -> list[float]:
    arr = np.asarray(value, dtype=np.float64) if isinstance(value, list) else None
    if arr is None or arr.shape != (size,) or not np.isfinite(arr).all() or (
            positive and not (arr > 0).all()):
        raise ModelFileError(f"{p}: {name} must be {size} finite"
                             f"{' positive' if positive else ''} numbers")
    return arr.tolist()


def _checked_prep(prep: Any, features: int, length: int, p: Path) -> dict[str, Any]:
    """The preprocessing of a classifier file, its sizes within the training length."""
    if not isinstance(prep, dict):
        raise ModelFileError(f"{p}: preprocessing missing")
    factor = _whole(prep.get("factor"), "prep factor", 1, p)
    if factor > length:
        raise ModelFileError(f"{p}: prep factor {factor} exceeds the training length {length}")
    if prep.get("normalize") not in _NORMALIZE or prep.get("downsample") not in ("mean",
                                                                                 "patch") \
            or not isinstance(prep.get("derivative"), bool):
        raise ModelFileError(f"{p}: unknown preprocessing {prep!r}"[:200])
    width = features * (factor if prep["downsample"] == "patch" else 1) * \
        (2 if prep["derivative"] else 1)
    return {**prep, "mean": _floats(prep.get("mean"), "prep mean", width, p),
            "std": _floats(prep.get("std"), "prep std", width, p, positive=True)}


def _checked_reference(npp: dict[str, Any], reference: dict[str, np.ndarray], classes: int,
                       features: int, length: int, p: Path) -> dict[str, np.ndarray]:
    """The neighbours' series and labels, checked against the settings and the model."""
    kinds = npp.get("distances")
    if not isinstance(kinds, list) or not kinds or any(k not in _DISTANCES for k in kinds) \
            or len(set(kinds)) != len(kinds):
        raise ModelFileError(f"{p}: neighbour distances {kinds!r} unknown")
    if set(reference) != {*kinds, "y"}:
        raise ModelFileError(f"{p}: neighbour arrays {sorted(reference)}, expected "
                             f"{sorted({*kinds, 'y'})}")
    steps = _whole(npp.get("steps"), "neighbour steps", 1, p)
    dtw_steps = _whole(npp.get("dtw_steps"), "neighbour dtw_steps", 1, p)
    band = npp.get("dtw_band")
    if steps > length or dtw_steps > steps or isinstance(band, bool) or \
            not isinstance(band, int) or not 0 <= band <= dtw_steps:
        raise ModelFileError(f"{p}: neighbour sizes (steps {steps}, dtw_steps {dtw_steps}, "
                             f"band {band!r}) do not fit the training length {length}")
    bands = npp.get("dtw_bands", {})
    if not isinstance(bands, dict) or not set(bands) <= {"dtw", "ddtw"} or not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= dtw_steps
            for b in bands.values()):
        raise ModelFileError(f"{p}: neighbour dtw_bands {bands!r} must map dtw/ddtw to bands "
                             f"in [0, {dtw_steps}]"[:300])
    _floats(npp.get("mean"), "neighbour mean", features, p)
    _floats(npp.get("std"), "neighbour std", features, p, positive=True)
    shares = npp.get("weights", {k: 1.0 / len(kinds) for k in kinds})
    if not isinstance(shares, dict) or set(shares) != set(kinds) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and 0.0 <= w <= 1.0
            for w in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ModelFileError(f"{p}: neighbour weights must be numbers in [0, 1] summing to 1 "
                             f"over {kinds}, got {shares!r}"[:300])
    temperature = npp.get("temperature")
    if not isinstance(temperature, dict) or set(temperature) != set(kinds):
        raise ModelFileError(f"{p}: neighbour temperatures missing")
    _floats([temperature[k] for k in kinds], "neighbour temperatures", len(kinds), p,
            positive=True)
    y = reference["y"]
    if y.ndim != 1 or not len(y) or y.dtype.kind not in "iu" or y.min() < 0 or \
            y.max() >= classes:
        raise ModelFileError(f"{p}: neighbour labels must be integers of the {classes} "
                             f"classes, got {y.dtype} {y.shape}")
    short = math.ceil(steps / math.ceil(steps / dtw_steps))
    want = {"euclidean": steps, "dtw": short, "ddtw": short - 1}
    for kind in kinds:
        series = reference[kind]
        if series.shape != (len(y), want[kind], features) or series.dtype.kind != "f" or \
                not np.isfinite(series).all():
            raise ModelFileError(f"{p}: neighbour series {kind!r} must be finite floats of "
                                 f"shape {(len(y), want[kind], features)}, got "
                                 f"{series.dtype} {series.shape}")
    return dict(reference)


class _AccuracyThenLoss(Callback):
    """Adds ``val_score`` = validation accuracy, ties broken by the lower validation loss.

    On small validation sets many epochs share one accuracy; among them the one with the
    lowest loss is the more confident, so early stopping monitors this score (max).
    """

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        loss = float(logs["val_loss"])
        logs["val_score"] = float(logs["val_accuracy"]) - 1e-6 * min(loss, 1e5)


class _AccuracyStopping(EarlyStopping):
    """Early stopping on validation accuracy: the weights kept are the best ``val_score``'s
    (the accuracy, ties broken by the lower loss), but patience counts from the last epoch
    that raised the accuracy, or lowered the loss at the best accuracy by at least
    ``loss_delta``.

    Any lower loss used to reset patience; once the accuracy reaches its ceiling (1.0 on easy
    or large sets) the loss keeps falling by ever smaller amounts as the network grows more
    confident, and training ran to the epoch limit (150 of 150 epochs, patience 30, at
    accuracy 1.0 from epoch 9). Counting from accuracy rises alone stops too early on small
    validation sets, where the accuracy is at its ceiling after a few epochs while the network
    still learns (its loss falls by tenths): :data:`STOP_LOSS_DELTA`.

    Attributes
    ----------
    best_accuracy : float
        The highest validation accuracy so far.
    mark_loss : float
        The validation loss of the last epoch that reset patience.
    """

    def __init__(self, patience: int, loss_delta: float = STOP_LOSS_DELTA) -> None:
        super().__init__(monitor="val_score", patience=patience, restore_best_weights=True,
                         mode="max")
        if not loss_delta >= 0:
            raise ValueError(f"loss_delta must be non-negative, got {loss_delta!r}")
        self.loss_delta = float(loss_delta)

    def _reset(self) -> None:
        super()._reset()
        self.best_accuracy = -math.inf
        self.mark_loss = math.inf

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        score, accuracy = float(logs["val_score"]), float(logs["val_accuracy"])
        loss = float(logs["val_loss"])
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            self.solver.record_best(score)
        if accuracy > self.best_accuracy or (accuracy == self.best_accuracy and
                                             loss < self.mark_loss - self.loss_delta):
            self.best_accuracy, self.mark_loss = accuracy, loss
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.solver.stop_training = True

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_accuracy": self.best_accuracy,
                "mark_loss": self.mark_loss}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; checked first (ValueError or TypeError, nothing
        changed)."""
        own = ("best_accuracy", "mark_loss")
        if not isinstance(state, dict) or not all(is_real_number(state.get(k)) for k in own):
            raise ValueError(f"_AccuracyStopping state needs numbers {own}, got "
                             f"{state!r:.100}")
        super().load_state_dict({k: v for k, v in state.items() if k not in own})
        self.best_accuracy = float(state["best_accuracy"])
        self.mark_loss = float(state["mark_loss"])
