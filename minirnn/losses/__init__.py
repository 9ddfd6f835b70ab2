"""Losses: the :class:`Loss` contract, MSE and L1."""

from minirnn.losses.base import Loss
from minirnn.losses.regression import L1, MSE

__all__ = ["L1", "MSE", "Loss"]
