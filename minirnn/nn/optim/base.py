"""The :class:`Optimizer` contract: in-place updates from ``Parameter.grad``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import numpy as np

from minirnn.nn._validation import check_int, is_real_number
from minirnn.nn.parameter import Parameter

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
        """Restore from :meth:`state_dict`. Everything is checked before anything changes.

        The hyperparameters must be exactly this class's and pass its constructor's checks
        (``lr`` a positive number, ``betas`` two floats in [0, 1)...), the step count an
        int >= 0, and each parameter's state hold exactly the finite arrays of its shape
        that this optimizer keeps (none before the first step).
        """
        name = type(self).__name__
        if not isinstance(state, dict) or set(state) != {"class", "hyperparameters",
                                                         "step_count", "state"}:
            raise ValueError(f"optimizer state must be a dict with class, hyperparameters, "
                             f"step_count and state, got {state!r:.100}")
        if state["class"] != name:
            raise ValueError(f"optimizer state is for {state['class']!r}, not {name!r}")
        hyper = state["hyperparameters"]
        if not isinstance(hyper, dict) or set(hyper) != set(self.hyperparameters):
            raise ValueError(f"optimizer hyperparameters {sorted(hyper)!r:.100} are not "
                             f"{sorted(self.hyperparameters)}")
        step_count = check_int(state["step_count"], "optimizer step_count", minimum=0)
        per_param = state["state"]
        if not isinstance(per_param, (list, tuple)) or len(per_param) != len(self.params):
            raise ValueError(f"optimizer state must list {len(self.params)} parameters, got "
                             f"{per_param!r:.100}")
        # A scratch optimizer of this class built with these hyperparameters checks them the
        # way the constructor does, and one step of it shows which state arrays it keeps.
        scratch = [Parameter(np.zeros_like(p.data), p.name) for p in self.params]
        kwargs: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                  for k, v in hyper.items()}
        trial = type(self)(scratch, **kwargs)
        with np.errstate(all="ignore"):  # zero gradients; only the kept keys matter
            trial.step()
        for i, (p, s, kept) in enumerate(zip(self.params, per_param, trial.state, strict=True)):
            if not isinstance(s, dict):
                raise ValueError(f"optimizer state {i} must be a dict, got {type(s).__name__}")
            expected = set(kept) if step_count > 0 else set()
            if set(s) != expected:
                raise ValueError(f"optimizer state {i} has {sorted(s)}, expected "
                                 f"{sorted(expected)} after {step_count} steps")
            for k, v in s.items():
                if not isinstance(v, np.ndarray) or v.shape != p.shape \
                        or v.dtype.kind not in "fiu":
                    raise ValueError(f"optimizer state {i}.{k}: expected a numeric array of "
                                     f"shape {p.shape}, got {getattr(v, 'shape', v)!r:.60}")
                if not np.isfinite(v).all():
                    raise ValueError(f"optimizer state {i}.{k} contains NaN or Inf")
        for k in self.hyperparameters:
            setattr(self, k, getattr(trial, k))
        self.step_count = int(step_count)
        self.state = [
            {k: np.array(v, dtype=p.dtype) for k, v in s.items()}
            for p, s in zip(self.params, per_param, strict=True)
        ]

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return f"{type(self).__name__}({hp})"


def _check_nonnegative(value: Any, name: str, *, strict: bool = False) -> float:
    if not is_real_number(value):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (strict and value == 0):
        bound = "greater than zero" if strict else "non-negative"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
    return value
