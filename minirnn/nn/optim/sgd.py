"""Stochastic gradient descent with momentum (PyTorch's formulation)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.nn.optim.base import Optimizer, _check_nonnegative
from minirnn.nn.parameter import Parameter

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with optional momentum, Nesterov momentum and L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter, or a Layer
    lr : float
    momentum : float
        mu >= 0.
    nesterov : bool
    weight_decay : float
        L2 penalty added to the gradient.

    Notes
    -----
    As ``torch.optim.SGD`` (dampening 0):

    .. math::
        g = \\nabla + \\lambda p,\\quad b \\leftarrow \\mu b + g \\ (b_1 = g),\\quad
        p \\leftarrow p - \\eta\\,(g + \\mu b \\text{ if nesterov else } b)
    """

    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(
        self,
        params: Iterable[Parameter] | Any,
        lr: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_nonnegative(momentum, "momentum")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True requires momentum > 0")

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.data
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += g
            g = g + self.momentum * buf if self.nesterov else buf
        param.data -= self.lr * g
