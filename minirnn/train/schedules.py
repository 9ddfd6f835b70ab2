"""Learning-rate schedules. Each is a :class:`~minirnn.callbacks.Callback` that sets
``solver.optimizer.lr`` at the end of every epoch (the history's ``lr`` is the rate an
epoch was trained with)."""

from __future__ import annotations

import math
from typing import Any

from minirnn.train.callbacks import Callback

__all__ = ["CosineAnnealing", "ExponentialDecay", "ReduceLROnPlateau", "StepDecay"]


class _Schedule(Callback):
    """Remembers the learning rate at the start of training as ``base_lr``."""

    base_lr: float | None = None

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        # A resumed run loads the original base_lr after this call.
        self.base_lr = self.solver.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        return {"base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lr = state["base_lr"]


class ExponentialDecay(_Schedule):
    """``lr <- lr * gamma`` after every epoch (R rnn's ``learningrate_decay``)."""

    def __init__(self, gamma: float) -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.gamma = float(gamma)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        assert self.base_lr is not None
        self.solver.optimizer.lr = self.base_lr * self.gamma ** (epoch + 1)


class StepDecay(_Schedule):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (PyTorch ``StepLR``)."""

    def __init__(self, step_size: int, gamma: float = 0.1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.step_size = step_size
        self.gamma = float(gamma)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        assert self.base_lr is not None
        self.solver.optimizer.lr = self.base_lr * self.gamma ** ((epoch + 1) // self.step_size)


class CosineAnnealing(_Schedule):
    """Cosine from the base rate to ``eta_min`` over ``t_max`` epochs (``CosineAnnealingLR``)."""

    def __init__(self, t_max: int, eta_min: float = 0.0) -> None:
        if isinstance(t_max, bool) or not isinstance(t_max, int) or t_max < 1:
            raise ValueError(f"t_max must be a positive int, got {t_max!r}")
        if eta_min < 0:
            raise ValueError(f"eta_min must be non-negative, got {eta_min}")
        self.t_max = t_max
        self.eta_min = float(eta_min)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        assert self.base_lr is not None
        progress = min(epoch + 1, self.t_max) / self.t_max
        self.solver.optimizer.lr = self.eta_min + (self.base_lr - self.eta_min) * 0.5 * (
            1.0 + math.cos(math.pi * progress))


class ReduceLROnPlateau(Callback):
    """Multiply the rate by ``factor`` when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        Metric in the epoch logs, lower is better.
    factor : float
        In (0, 1).
    patience : int
        Epochs without improvement (by more than ``min_delta``) before reducing.
    min_delta : float
    cooldown : int
        Epochs to wait after a reduction before counting again.
    min_lr : float
        Lower bound of the rate.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.min_delta = float(min_delta)
        self.cooldown = cooldown
        self.min_lr = float(min_lr)
        self.on_train_begin({})

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.best = math.inf
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(f"ReduceLROnPlateau monitors {self.monitor!r} but the epoch logs "
                             f"only have {sorted(logs)}")
        current = float(logs[self.monitor])
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if current < self.best - self.min_delta:
            self.best = current
            self.wait = 0
            return
        if self.cooldown_left > 0:
            return
        self.wait += 1
        if self.wait >= self.patience:
            optimizer = self.solver.optimizer
            optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
            self.wait = 0
            self.cooldown_left = self.cooldown

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.wait = int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])
