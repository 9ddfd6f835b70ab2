"""Recurrent cells: one step of a recurrence (real home: minirnn/nn/cells/).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.nn.cells import (
    Cell,
    GRUCell,
    LSTMCell,
    RNNCell,
    State,
)

__all__ = [
    "Cell",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "State",
]
