"""Optimizers and gradient clipping, with the learning-rate schedules (callbacks).

The public path ``minirnn.optim``: it re-exports ``minirnn.nn.optim`` and
``minirnn.train.schedules``, where the code lives (docs/architecture.md).
"""

from minirnn.nn import optim as _home0
from minirnn.nn.optim import *  # noqa: F403
from minirnn.train import schedules as _home1
from minirnn.train.schedules import *  # noqa: F403

__all__ = [*_home0.__all__, *_home1.__all__]
