"""RMSprop (Tieleman & Hinton 2012), as ``torch.optim.RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.nn.optim.base import Optimizer, _check_nonnegative
from minirnn.nn.parameter import Parameter

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running RMS of recent gradients.

    Parameters
    ----------
    params : iterable of Parameter, or a Layer
    lr : float
    alpha : float
        Smoothing constant of the squared-gradient average, in [0, 1).
    eps : float
    weight_decay : float
    momentum : float
    centered : bool
        Normalize by the estimated variance instead of the second moment.

    Notes
    -----
    .. math::
        v \\leftarrow \\alpha v + (1-\\alpha) g^2,\\quad
        d = \\sqrt{v - \\bar g^2 \\text{ (centered)}} + \\epsilon,\\quad
        b \\leftarrow \\mu b + g / d,\\quad p \\leftarrow p - \\eta\\, b
    """

    hyperparameters = ("lr", "alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(
        self,
        params: Iterable[Parameter] | Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        if not 0.0 <= float(alpha) < 1.0:
            raise ValueError(f"alpha must be in [0, 1), got {alpha}")
        self.alpha = float(alpha)
        self.eps = _check_nonnegative(eps, "eps", strict=True)
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")
        self.momentum = _check_nonnegative(momentum, "momentum")
        self.centered = bool(centered)

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.data
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(param.data)
            if self.centered:
                state["grad_avg"] = np.zeros_like(param.data)
            if self.momentum:
                state["momentum_buffer"] = np.zeros_like(param.data)
        v = state["square_avg"]
        v *= self.alpha
        v += (1.0 - self.alpha) * g * g
        if self.centered:
            g_avg = state["grad_avg"]
            g_avg *= self.alpha
            g_avg += (1.0 - self.alpha) * g
            denom = np.sqrt(v - g_avg * g_avg) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            param.data -= self.lr * buf
        else:
            param.data -= self.lr * g / denom
