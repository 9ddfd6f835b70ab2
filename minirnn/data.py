"""Task generators, series windows, scalers and file readers.

The public path ``minirnn.data``: it re-exports ``minirnn.apps.data``,
where the code lives (docs/architecture.md).
"""

from minirnn.apps import data as _home0
from minirnn.apps.data import *  # noqa: F403

__all__ = [*_home0.__all__]
