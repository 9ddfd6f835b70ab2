"""Recurrent cells: one step of a recurrence.

The public path ``minirnn.cells``: it re-exports ``minirnn.nn.cells``,
where the code lives (docs/architecture.md).
"""

from minirnn.nn import cells as _home0
from minirnn.nn.cells import *  # noqa: F403

__all__ = [*_home0.__all__]
