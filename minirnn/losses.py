"""Losses.

The public path ``minirnn.losses``: it re-exports ``minirnn.nn.losses``,
where the code lives (docs/architecture.md).
"""

from minirnn.nn import losses as _home0
from minirnn.nn.losses import *  # noqa: F403

__all__ = [*_home0.__all__]
