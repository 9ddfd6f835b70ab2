"""Element-wise activations, softmax and their derivatives, for writing cells and layers.

The public path ``minirnn.functional``: it re-exports ``minirnn.nn.functional``, where the
code lives (docs/architecture.md).
"""

from minirnn.nn import functional as _home0
from minirnn.nn.functional import *  # noqa: F403

__all__ = [*_home0.__all__]
