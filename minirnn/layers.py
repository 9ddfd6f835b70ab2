"""Layers: recurrent, dense, dropout, activations, pooling, embedding.

The public path ``minirnn.layers``: it re-exports ``minirnn.nn.layers``,
where the code lives (docs/architecture.md).
"""

from minirnn.nn import layers as _home0
from minirnn.nn.layers import *  # noqa: F403

__all__ = [*_home0.__all__]
