"""Optimizers and gradient clipping."""

from minirnn.optim.adam import Adam
from minirnn.optim.base import Optimizer
from minirnn.optim.clipping import clip_grad_norm, clip_grad_value, global_grad_norm
from minirnn.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer", "clip_grad_norm", "clip_grad_value", "global_grad_norm"]
