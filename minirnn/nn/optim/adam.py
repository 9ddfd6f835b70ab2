"""Adam (Kingma & Ba 2015), as ``torch.optim.Adam``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.nn.optim.base import Optimizer, _check_nonnegative
from minirnn.nn.parameter import Parameter

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam with bias correction and optional L2 weight decay.

    Parameters
    ----------
    params : iterable of Parameter, or a Layer
    lr : float
    betas : (float, float)
        Decay rates of the first and second moment, each in [0, 1).
    eps : float
    weight_decay : float

    Notes
    -----
    .. math::
        m \\leftarrow \\beta_1 m + (1-\\beta_1) g,\\quad
        v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2 \\\\
        p \\leftarrow p - \\eta\\,
        \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}
    """

    hyperparameters = ("lr", "betas", "eps", "weight_decay")

    def __init__(
        self,
        params: Iterable[Parameter] | Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if len(betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in betas):
            raise ValueError(f"betas must be two floats in [0, 1), got {betas!r}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _check_nonnegative(eps, "eps", strict=True)
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.data
        self._adam_step(param, state, g)

    def _adam_step(self, param: Parameter, state: dict[str, np.ndarray], g: np.ndarray) -> None:
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param.data)
            state["exp_avg_sq"] = np.zeros_like(param.data)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        t = self.step_count
        step_size = self.lr / (1.0 - beta1**t)
        denom = np.sqrt(v)
        denom /= math.sqrt(1.0 - beta2**t)
        denom += self.eps
        param.data -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as ``torch.optim.AdamW``.

    The decay shrinks the weights directly, ``p <- p (1 - lr * weight_decay)``,
    before the Adam step, instead of being added to the gradient.
    """

    def __init__(
        self,
        params: Iterable[Parameter] | Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, 0.0)
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        if self.weight_decay:
            param.data *= 1.0 - self.lr * self.weight_decay
        self._adam_step(param, state, param.grad)
