"""Gradient clipping, a step of its own between backward and ``Optimizer.step``."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from minirnn.nn._validation import check_positive_float
from minirnn.nn.parameter import Parameter

__all__ = ["clip_grad_norm", "clip_grad_value", "global_grad_norm"]


def global_grad_norm(params: Iterable[Parameter]) -> float:
    """L2 norm of all gradients taken together."""
    total = 0.0
    for p in params:
        total += float(np.vdot(p.grad, p.grad).real)
    return float(np.sqrt(total))


def clip_grad_norm(params: Iterable[Parameter], max_norm: float, *,
                   norm: float | None = None) -> float:
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Keeps the gradient's direction (Pascanu et al. 2013; ``torch.nn.utils.clip_grad_norm_``).
    ``max_norm`` is a positive finite number (numpy scalars too), the rule the Solver's
    ``clip_norm`` follows: no clipping is ``None`` there, not ``inf``.
    ``norm``, if the caller already has the global norm, saves computing it again.

    Returns
    -------
    float
        The global norm *before* clipping (what a history should record).
    """
    check_positive_float(max_norm, "max_norm")
    params = list(params)
    if norm is None:
        norm = global_grad_norm(params)
    if np.isfinite(norm) and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for p in params:
            p.grad *= scale
    return norm


def clip_grad_value(params: Iterable[Parameter], clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value] (changes the direction)."""
    check_positive_float(clip_value, "clip_value")
    for p in params:
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
