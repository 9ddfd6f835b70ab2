"""``RNNClassifier``: the sequence classifier of ``minirnn train classify`` as a
scikit-learn-style estimator, for the user's own labels and arrays."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.estimators.base import EstimatorParams, resolve_seed
from minirnn.apps.estimators.sequences import Sequences, as_sequences, encode_labels
from minirnn.nn.registry import default_lr
from minirnn.train.callbacks import Callback

__all__ = ["EXPECTED_FAILED_CHECKS", "RNNClassifier"]

#: SequenceClassifier's defaults, which are RNNClassifier's (one source: the settings that
#: docs/classification.md measured), but ``lr`` (None: SequenceClassifier's rate for Adam,
#: the optimizer's own default for the others, as ``minirnn train classify`` does) and
#: ``dtype`` (its name).
_APP = {p.name: p.default
        for p in inspect.signature(SequenceClassifier.__init__).parameters.values()}

#: The checks of scikit-learn's ``check_estimator`` that RNNClassifier fails, and why; pass
#: it as ``check_estimator(..., expected_failed_checks=EXPECTED_FAILED_CHECKS)``.
EXPECTED_FAILED_CHECKS = {
    "check_estimators_unfitted":
        "predict before fit raises minirnn's NotFittedError, a ValueError and AttributeError "
        "as scikit-learn's is, but not a subclass of scikit-learn's own class, which "
        "minirnn would have to import",
    "check_class_weight_classifiers":
        "class_weight weights the training loss only: early stopping keeps the epoch of "
        "best unweighted validation accuracy and the nearest-neighbour evidence is "
        "unweighted, so weights of 1000 to 0.0001 do not make nearly every prediction the "
        "heavy class, as the check requires",
}


class RNNClassifier(EstimatorParams):
    """Classify whole sequences with any labels: scikit-learn's ``fit``/``predict``/
    ``predict_proba``/``score`` over :class:`~minirnn.apps.classification.SequenceClassifier`
    (a recurrent encoder, pooling over valid steps, softmax, an ensemble, blended with
    nearest-neighbour evidence), as ``minirnn train classify`` trains it.

    Works with ``sklearn.base.clone``, ``cross_val_score``, ``GridSearchCV`` and ``Pipeline``
    and passes scikit-learn's ``check_estimator`` but for the checks listed in
    docs/estimators.md; minirnn does not import scikit-learn.

    Parameters
    ----------
    cell, hidden_size, num_layers, bidirectional, pooling, normalize, max_steps, downsample,
    derivative, optimizer, clip_norm, patience, validation_fraction, dropout, n_models,
    refit, neighbors, neighbor_distances, dtw_window, neighbor_max_steps, rocket, blend,
    time_limit
        As :class:`~minirnn.apps.classification.SequenceClassifier` (checked by ``fit``).
    epochs : int
        Most epochs per ensemble member (early stopping on validation accuracy usually
        ends sooner).
    batch_size : int
    lr : float or None
        None: 3e-3 for Adam (the rate measured for this task), the optimizer's own default
        otherwise.
    class_weight : None, "balanced", or dict of label -> weight
        Weights of the training loss per class; labels missing from the dict weigh 1.
    random_state : int, None, or a numpy Generator/RandomState
        Seed of the initial weights, the validation splits and the batches (None: a new one
        each fit).
    dtype : {"float32", "float64"}
        The networks' dtype.
    callbacks : sequence of Callback
        Extra callbacks of every member's Solver (e.g. a progress printer).

    Attributes
    ----------
    classes_ : ndarray (C,)
        The distinct labels of ``y``, sorted; ``predict`` returns them.
    n_features_in_ : int
        ``X.shape[1]`` of the training array, i.e. its time steps (the longest sequence for
        a list). When every training sequence had this length and ``X`` is an array without
        ``lengths``, ``predict`` requires the same (as ``minirnn train classify`` does); a
        list of sequences or ``lengths=`` may have any lengths.
    input_size_ : int
        D, the values per step (1 for a 2-D ``X``).
    classifier_ : SequenceClassifier
        The fitted classifier (its members, histories and neighbour settings).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 12))                  # 40 sequences of 12 steps
    >>> y = np.where(X[:, :6].mean(axis=1) > 0, "up", "down")
    >>> clf = RNNClassifier(epochs=3, n_models=1, hidden_size=8).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _fitted_attribute = "classifier_"

    def __init__(self, *, cell: str = _APP["cell"], hidden_size: int = _APP["hidden_size"],
                 num_layers: int = _APP["num_layers"],
                 bidirectional: bool = _APP["bidirectional"], pooling: str = _APP["pooling"],
                 normalize: str = _APP["normalize"], max_steps: int | None = _APP["max_steps"],
                 downsample: str = _APP["downsample"],
                 derivative: bool | str = _APP["derivative"], epochs: int = _APP["epochs"],
                 batch_size: int = _APP["batch_size"], lr: float | None = None,
                 optimizer: str = _APP["optimizer"], clip_norm: float | None = _APP["clip_norm"],
                 patience: int = _APP["patience"],
                 validation_fraction: float = _APP["validation_fraction"],
                 dropout: float = _APP["dropout"], class_weight: Any = _APP["class_weight"],
                 random_state: Any = _APP["seed"], dtype: str = np.dtype(_APP["dtype"]).name,
                 n_models: int = _APP["n_models"], refit: bool = _APP["refit"],
                 neighbors: float = _APP["neighbors"],
                 neighbor_distances: str = _APP["neighbor_distances"],
                 dtw_window: float = _APP["dtw_window"],
                 neighbor_max_steps: int | None = _APP["neighbor_max_steps"],
                 rocket: bool | str = _APP["rocket"], blend: str = _APP["blend"],
                 time_limit: float | None = _APP["time_limit"],
                 callbacks: Sequence[Callback] = ()) -> None:
        # scikit-learn's convention: store every parameter unchanged; fit checks them.
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.normalize = normalize
        self.max_steps = max_steps
        self.downsample = downsample
        self.derivative = derivative
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.clip_norm = clip_norm
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.dropout = dropout
        self.class_weight = class_weight
        self.random_state = random_state
        self.dtype = dtype
        self.n_models = n_models
        self.refit = refit
        self.neighbors = neighbors
        self.neighbor_distances = neighbor_distances
        self.dtw_window = dtw_window
        self.neighbor_max_steps = neighbor_max_steps
        self.rocket = rocket
        self.blend = blend
        self.time_limit = time_limit
        self.callbacks = callbacks

    # ----------------------------------------------------------------------- fit
    def _classifier(self, classes: np.ndarray, y: np.ndarray) -> SequenceClassifier:
        """A SequenceClassifier with these parameters (it checks them)."""
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        lr = self.lr
        if lr is None:
            lr = _APP["lr"] if self.optimizer == "adam" else default_lr(self.optimizer)
        return SequenceClassifier(
            cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers,
            bidirectional=self.bidirectional, pooling=self.pooling, normalize=self.normalize,
            max_steps=self.max_steps, downsample=self.downsample, derivative=self.derivative,
            epochs=self.epochs, batch_size=self.batch_size, lr=lr, optimizer=self.optimizer,
            clip_norm=self.clip_norm, patience=self.patience,
            validation_fraction=self.validation_fraction, dropout=self.dropout,
            class_weight=self._class_weight(classes, y), seed=resolve_seed(self.random_state),
            dtype=np.dtype(self.dtype), n_models=self.n_models, refit=self.refit,
            neighbors=self.neighbors, neighbor_distances=self.neighbor_distances,
            dtw_window=self.dtw_window, neighbor_max_steps=self.neighbor_max_steps,
            rocket=self.rocket, blend=self.blend, time_limit=self.time_limit,
            callbacks=list(self.callbacks))

    def _class_weight(self, classes: np.ndarray, y: np.ndarray) -> Any:
        weight = self.class_weight
        if weight is None or (isinstance(weight, str) and weight == "balanced"):
            return weight
        if not isinstance(weight, Mapping):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict of label -> "
                             f"weight, got {weight!r}")
        given = {_plain(k): v for k, v in weight.items()}
        labels = [_plain(c) for c in classes]
        unknown = [k for k in given if k not in labels]
        if unknown:
            raise ValueError(f"class_weight names labels {unknown} that are not in y "
                             f"(classes {labels})")
        return np.array([float(given.get(c, 1.0)) for c in labels])

    def fit(self, X: Any, y: Any, lengths: Any = None) -> RNNClassifier:
        """Train on sequences ``X`` with labels ``y``.

        Parameters
        ----------
        X : array_like (N, T) or (N, T, D), or a list of N arrays (T_i,) or (T_i, D)
            A 2-D array holds N univariate sequences of T steps; a list of arrays of
            different lengths is padded, its lengths kept.
        y : array_like (N,)
            Any labels: ints, strings, whole-valued floats; at least two classes.
        lengths : array_like of int (N,), optional
            Valid steps of each sequence of a padded array.

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            Bad input (shapes, NaN/Inf, one class, continuous labels, sparse or complex
            data) or parameters, before anything is trained or changed.

        Notes
        -----
        Ctrl-C (or SIGTERM) ends training cleanly: the members trained so far are kept, the
        interrupted one with its best weights, and ``classifier_.interrupted`` is True.
        """
        seqs = as_sequences(X, lengths)
        classes, index = encode_labels(y, len(seqs.x))
        clf = self._classifier(classes, index)
        clf.fit(seqs.x, index, seqs.lengths, num_classes=len(classes))
        self.classifier_ = clf
        self.classes_ = classes
        self.n_features_in_ = int(seqs.x.shape[1])
        self.input_size_ = int(seqs.x.shape[2])
        self._equal_length = bool(np.all(seqs.lengths == seqs.x.shape[1]))
        return self

    # -------------------------------------------------------------------- predict
    def _sequences(self, X: Any, lengths: Any, method: str) -> Sequences:
        self._check_fitted(method)
        seqs = as_sequences(X, lengths)
        _, t, d = seqs.x.shape
        if not seqs.variable and self._equal_length and t != self.n_features_in_:
            raise ValueError(
                f"X has {t} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (the time steps: every training "
                f"sequence had {self.n_features_in_}; pass lengths= or a list of sequences "
                "to classify other lengths)")
        if d != self.input_size_:
            raise ValueError(f"X has {d} values per step, but {type(self).__name__} was "
                             f"fitted on {self.input_size_}")
        return seqs

    def predict_proba(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Class probabilities, shape (N, C), columns in the order of ``classes_``, rows
        summing to 1 (the ensemble's mean blended with the neighbour evidence)."""
        seqs = self._sequences(X, lengths, "predict_proba")
        return np.asarray(self.classifier_.predict_proba(seqs.x, seqs.lengths), np.float64)

    def decision_function(self, X: Any, lengths: Any = None) -> np.ndarray:
        """Scores as scikit-learn's classifiers give them: for two classes the log odds of
        ``classes_[1]``, shape (N,); else the log probabilities, shape (N, C)."""
        logp = np.log(np.maximum(self.predict_proba(X, lengths), 1e-300))  # checks fit
        return logp[:, 1] - logp[:, 0] if len(self.classes_) == 2 else logp

    def predict(self, X: Any, lengths: Any = None) -> np.ndarray:
        """The most probable label of each sequence, shape (N,), from ``classes_``."""
        proba = self.predict_proba(X, lengths)  # first: it checks that fit has run
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X: Any, y: Any, lengths: Any = None, sample_weight: Any = None) -> float:
        """Accuracy: the (weighted) share of sequences whose label ``predict`` gets right."""
        predicted = self.predict(X, lengths)
        truth = np.asarray(y).ravel()
        if truth.shape != predicted.shape:
            raise ValueError(f"X has {len(predicted)} samples but y has {truth.size} labels")
        right = (predicted == truth).astype(np.float64)
        return float(np.average(right, weights=sample_weight))

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags; called by scikit-learn only, so it is imported already."""
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(estimator_type="classifier", target_tags=TargetTags(required=True),
                    classifier_tags=ClassifierTags(),
                    input_tags=InputTags(two_d_array=True, three_d_array=True),
                    non_deterministic=self.time_limit is not None)


def _plain(label: Any) -> Any:
    """A label as a plain Python value (numpy scalars to int/float/str), for dict keys."""
    return label.item() if isinstance(label, np.generic) else label
