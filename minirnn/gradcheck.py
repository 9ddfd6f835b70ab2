"""Numerical gradient checks of layers, cells and losses.

The public path ``minirnn.gradcheck``: it re-exports ``minirnn.check.gradcheck``,
where the code lives (docs/architecture.md).
"""

from minirnn.check import gradcheck as _home0
from minirnn.check.gradcheck import *  # noqa: F403

__all__ = [*_home0.__all__]
