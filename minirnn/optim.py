"""Optimizers, gradient clipping (minirnn/nn/optim/) and learning-rate schedules
(callbacks: minirnn/train/schedules.py).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.nn.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Optimizer,
    RMSprop,
    clip_grad_norm,
    clip_grad_value,
    global_grad_norm,
)
from minirnn.train.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    ReduceLROnPlateau,
    StepDecay,
)

__all__ = [
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealing",
    "ExponentialDecay",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "SGD",
    "StepDecay",
    "clip_grad_norm",
    "clip_grad_value",
    "global_grad_norm",
]
