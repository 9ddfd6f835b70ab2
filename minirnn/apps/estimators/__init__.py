"""scikit-learn-style estimators over the applications: :class:`RNNClassifier` (sequence
classification with any labels) and :class:`RNNForecaster` (forecasting a series).

They follow scikit-learn's conventions (parameters stored by the constructor, all work in
``fit``, fitted attributes ending in ``_``) without importing it, so ``clone``,
``cross_val_score``, ``GridSearchCV`` and ``Pipeline`` work where scikit-learn is installed
(the ``sklearn`` extra). See docs/estimators.md.
"""

from minirnn.apps.estimators.base import DataConversionWarning, NotFittedError
from minirnn.apps.estimators.classifier import EXPECTED_FAILED_CHECKS, RNNClassifier
from minirnn.apps.estimators.forecaster import RNNForecaster

__all__ = ["EXPECTED_FAILED_CHECKS", "DataConversionWarning", "NotFittedError", "RNNClassifier",
           "RNNForecaster"]
