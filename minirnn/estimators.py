"""scikit-learn-style estimators: ``RNNClassifier`` (sequences with any labels) and
``RNNForecaster`` (one series, sktime's ``fit(y)``/``predict(fh)``).

The public path ``minirnn.estimators``: it re-exports ``minirnn.apps.estimators``,
where the code lives (docs/architecture.md). Not imported by ``import minirnn`` (start-up
time): import it by name.
"""

from minirnn.apps import estimators as _home0
from minirnn.apps.estimators import *  # noqa: F403

__all__ = [*_home0.__all__]
