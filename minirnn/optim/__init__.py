"""Optimizers, gradient clipping and learning-rate schedules."""

from minirnn.optim.adagrad import Adagrad
from minirnn.optim.adam import Adam, AdamW
from minirnn.optim.base import Optimizer
from minirnn.optim.clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from minirnn.optim.rmsprop import RMSprop
from minirnn.optim.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    ReduceLROnPlateau,
    StepDecay,
)
from minirnn.optim.sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "CosineAnnealing", "ExponentialDecay", "Optimizer",
    "RMSprop", "ReduceLROnPlateau", "StepDecay", "clip_grad_norm", "clip_grad_value",
    "global_grad_norm",
]
