"""Training callbacks.

The public path ``minirnn.callbacks``: it re-exports ``minirnn.train.callbacks``,
where the code lives (docs/architecture.md).
"""

from minirnn.train import callbacks as _home0
from minirnn.train.callbacks import *  # noqa: F403

__all__ = [*_home0.__all__]
