"""Sequence classification: a recurrent classifier and the archive's baselines.

``.ts``/CSV files (:func:`minirnn.data.load_ts`) -> padded arrays and lengths ->
:class:`SequenceClassifier` (recurrent encoder, pooling over valid steps, softmax) ->
accuracy, probabilities, a confusion matrix; next to majority-class, 1-NN Euclidean and
1-NN DTW and MiniRocket (aeon, the ``rocket`` extra) baselines.
"""

from pathlib import Path

from minirnn.apps.classification.baselines import (
    dtw_cost,
    majority_class,
    minirocket,
    nn1_dtw,
    nn1_euclidean,
    resample,
    rocket_unavailable,
    stratified_split,
)
from minirnn.apps.classification.classifier import (
    DTW_NEIGHBOR_BUDGET,
    DTW_NEIGHBOR_BUDGET_COMPILED,
    SequenceClassifier,
    class_weights,
    default_neighbor_steps,
    dtw_neighbor_budget,
    znormalize,
)
from minirnn.apps.classification.neighbors import (
    class_distances,
    dtw_distances,
    dtw_self_distances,
    euclidean_distances,
    fit_temperature,
    neighbor_proba,
)


def example_path(name: str = "BasicMotions", split: str = "TRAIN") -> Path:
    """Path of a ``.ts`` file shipped in ``minirnn/apps/datasets`` (``"BasicMotions"``;
    ``split`` ``"TRAIN"`` or ``"TEST"``), e.g. for ``load_ts(example_path())``."""
    if split not in ("TRAIN", "TEST"):
        raise ValueError(f"split must be 'TRAIN' or 'TEST', got {split!r}")
    path = Path(__file__).resolve().parents[1] / "datasets" / f"{name}_{split}.ts"
    if not path.is_file():
        raise ValueError(f"no shipped data set {name!r}; available: BasicMotions")
    return path

__all__ = [
    "DTW_NEIGHBOR_BUDGET", "DTW_NEIGHBOR_BUDGET_COMPILED", "SequenceClassifier",
    "class_distances", "class_weights", "default_neighbor_steps", "dtw_cost", "dtw_distances",
    "dtw_neighbor_budget", "dtw_self_distances",
    "euclidean_distances", "example_path", "fit_temperature", "majority_class", "minirocket",
    "neighbor_proba", "nn1_dtw", "nn1_euclidean", "resample", "rocket_unavailable",
    "stratified_split", "znormalize",
]
