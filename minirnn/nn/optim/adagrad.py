"""Adagrad (Duchi et al. 2011), as ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.nn.optim.base import Optimizer, _check_nonnegative
from minirnn.nn.parameter import Parameter

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Per-element learning rates from the running sum of squared gradients.

    Notes
    -----
    .. math::
        g = \\nabla + \\lambda p,\\quad s \\leftarrow s + g^2,\\quad
        p \\leftarrow p - \\frac{\\eta}{1 + (t-1)\\,\\text{lr\\_decay}}
        \\frac{g}{\\sqrt{s} + \\epsilon}
    """

    hyperparameters = ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(
        self,
        params: Iterable[Parameter] | Any,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        self.lr_decay = _check_nonnegative(lr_decay, "lr_decay")
        self.weight_decay = _check_nonnegative(weight_decay, "weight_decay")
        self.initial_accumulator_value = _check_nonnegative(
            initial_accumulator_value, "initial_accumulator_value")
        self.eps = _check_nonnegative(eps, "eps", strict=True)

    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        g = param.grad
        if self.weight_decay:
            g = g + self.weight_decay * param.data
        if "sum" not in state:
            state["sum"] = np.full_like(param.data, self.initial_accumulator_value)
        state["sum"] += g * g
        clr = self.lr / (1.0 + (self.step_count - 1) * self.lr_decay)
        param.data -= clr * g / (np.sqrt(state["sum"]) + self.eps)
