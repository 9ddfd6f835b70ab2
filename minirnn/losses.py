"""Losses (real home: minirnn/nn/losses/).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.nn.losses import (
    BCE,
    L1,
    MSE,
    BCEWithLogits,
    CrossEntropy,
    Huber,
    Loss,
)

__all__ = [
    "BCE",
    "BCEWithLogits",
    "CrossEntropy",
    "Huber",
    "L1",
    "Loss",
    "MSE",
]
