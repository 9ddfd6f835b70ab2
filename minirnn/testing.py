"""Hypothesis strategies and the layer/cell contract kit.

The public path ``minirnn.testing``: it re-exports ``minirnn.check.testing``,
where the code lives (docs/architecture.md).
"""

from minirnn.check import testing as _home0
from minirnn.check.testing import *  # noqa: F403

__all__ = [*_home0.__all__]
