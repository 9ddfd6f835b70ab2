"""Losses: the :class:`Loss` contract and the built-in losses (all maskable)."""

from minirnn.nn.losses.base import Loss
from minirnn.nn.losses.classification import BCE, BCEWithLogits, CrossEntropy
from minirnn.nn.losses.regression import L1, MSE, Huber

__all__ = ["BCE", "L1", "MSE", "BCEWithLogits", "CrossEntropy", "Huber", "Loss"]
