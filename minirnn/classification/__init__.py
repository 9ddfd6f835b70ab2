"""Sequence classification: a recurrent classifier and the archive's baselines.

``.ts``/CSV files (:func:`minirnn.data.load_ts`) -> padded arrays and lengths ->
:class:`SequenceClassifier` (recurrent encoder, pooling over valid steps, softmax) ->
accuracy, probabilities, a confusion matrix; next to majority-class, 1-NN Euclidean and
1-NN DTW baselines.
"""

from minirnn.classification.baselines import (
    dtw_cost,
    majority_class,
    nn1_dtw,
    nn1_euclidean,
    resample,
    stratified_split,
)
from minirnn.classification.classifier import SequenceClassifier, class_weights, znormalize

__all__ = [
    "SequenceClassifier", "class_weights", "dtw_cost", "majority_class", "nn1_dtw",
    "nn1_euclidean", "resample", "stratified_split", "znormalize",
]
