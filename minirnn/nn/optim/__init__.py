"""Optimizers and gradient clipping.

Learning-rate schedules are callbacks: :mod:`minirnn.train.schedules`.
"""

from minirnn.nn.optim.adagrad import Adagrad
from minirnn.nn.optim.adam import Adam, AdamW
from minirnn.nn.optim.base import Optimizer
from minirnn.nn.optim.clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from minirnn.nn.optim.rmsprop import RMSprop
from minirnn.nn.optim.sgd import SGD

__all__ = [
    "SGD", "Adagrad", "Adam", "AdamW", "Optimizer",
    "RMSprop", "clip_grad_norm", "clip_grad_value",
    "global_grad_norm",
]
