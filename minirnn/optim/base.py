"""The :class:`Optimizer` contract: in-place updates from ``Parameter.grad``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.parameter import Parameter

__all__ = ["Optimizer"]


class Optimizer(ABC):
    """Update a list of parameters in place from their gradients.

    A subclass writes :meth:`update` for one parameter and its own state dict.
    State is kept per parameter (one dict per position in ``params``), never
    keyed by a bare local name, so two layers' ``"weight"`` never collide.

    Parameters
    ----------
    params : iterable of Parameter, or a Layer
        What to update (a :class:`~minirnn.Layer` means ``layer.parameters()``).
    lr : float
        Learning rate, > 0. Schedules and callbacks may change ``self.lr``.
    """

    #: Names of the constructor hyperparameters saved in :meth:`state_dict`.
    hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Parameter] | Any, lr: float) -> None:
        if hasattr(params, "parameters") and callable(params.parameters):
            params = params.parameters()
        self.params: list[Parameter] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{type(self).__name__}: params[{i}] must be a Parameter, "
                    f"got {type(p).__name__}"
                )
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once")
        self.lr = _check_nonnegative(lr, "lr", strict=True)
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        self.step_count = 0

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Apply one update to every parameter."""
        self.step_count += 1
        for param, state in zip(self.params, self.state, strict=True):
            self.update(param, state)

    @abstractmethod
    def update(self, param: Parameter, state: dict[str, np.ndarray]) -> None:
        """Update ``param.data`` in place from ``param.grad``; ``state`` is this parameter's."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: hyperparameters, step count, per-parameter state."""
        return {
            "class": type(self).__name__,
            "hyperparameters": {k: getattr(self, k) for k in self.hyperparameters},
            "step_count": self.step_count,
            "state": [{k: v.copy() for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; checks class, count and shapes first."""
        if state.get("class") != type(self).__name__:
            raise ValueError(
                f"optimizer state is for {state.get('class')!r}, not {type(self).__name__!r}"
            )
        per_param = state["state"]
        if len(per_param) != len(self.params):
            raise ValueError(
                f"optimizer state has {len(per_param)} parameters, expected {len(self.params)}"
            )
        for i, (p, s) in enumerate(zip(self.params, per_param, strict=True)):
            for k, v in s.items():
                if np.shape(v) != p.shape:
                    raise ValueError(
                        f"optimizer state {i}.{k}: expected shape {p.shape}, got {np.shape(v)}"
                    )
        for k, v in state["hyperparameters"].items():
            if k not in self.hyperparameters:
                raise ValueError(f"optimizer state has unknown hyperparameter {k!r}")
            setattr(self, k, tuple(v) if isinstance(v, list) else v)
        self.step_count = int(state["step_count"])
        self.state = [
            {k: np.array(v, dtype=p.dtype) for k, v in s.items()}
            for p, s in zip(self.params, per_param, strict=True)
        ]

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hp})"


def _check_nonnegative(value: Any, name: str, *, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (strict and value == 0):
        bound = "greater than zero" if strict else "non-negative"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value
