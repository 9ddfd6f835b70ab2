"""What training records: :class:`History`, and :class:`TrainingDivergedError` carrying it."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Any, overload

import numpy as np

__all__ = ["History", "TrainingDivergedError"]


class TrainingDivergedError(RuntimeError):
    """Raised when a loss or gradient is NaN/Inf. The model keeps the last good weights.

    Attributes
    ----------
    history : History
        Metrics of the epochs completed before the failure.
    """

    def __init__(self, message: str, history: History) -> None:
        super().__init__(message)
        self.history = history


class History:
    """Per-epoch metrics: a dict of metric lists (Keras) and a list of epoch records at once.

    * As Keras's ``History``: ``history.history["val_loss"]`` (also ``history["val_loss"]``,
      ``"loss" in history``, ``history.keys()``, ``.values()``, ``.items()``, ``.get()``)
      is the list of that metric's values, one per epoch.
    * As a list of epoch records: ``history[-1]`` (an int index or a slice),
      ``for record in history`` and ``len(history)`` give
      ``{"epoch": 1, "loss": ..., "val_loss": ...}`` dicts, epochs counted from 1
      as printed (``history.epoch`` keeps Keras's 0-based indices).

    Examples
    --------
    >>> h = History()
    >>> h.append(0, {"loss": 0.5}); h.append(1, {"loss": 0.25})
    >>> h["loss"], h[-1]
    ([0.5, 0.25], {'epoch': 2, 'loss': 0.25})
    """

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def _record(self, i: int) -> dict[str, float]:
        record: dict[str, Any] = {"epoch": self.epoch[i] + 1}
        record.update((k, v[i]) for k, v in self.history.items() if i < len(v))
        return record

    @overload
    def __getitem__(self, key: str) -> list[float]: ...

    @overload
    def __getitem__(self, key: int) -> dict[str, float]: ...

    @overload
    def __getitem__(self, key: slice) -> list[dict[str, float]]: ...

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            if key not in self.history:
                raise KeyError(f"no metric {key!r} in this history; it has "
                               f"{sorted(self.history)}")
            return self.history[key]
        if isinstance(key, slice):
            return [self._record(i) for i in range(len(self.epoch))[key]]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            n = len(self.epoch)
            if not -n <= key < n:
                raise IndexError(f"epoch index {key} out of range for {n} recorded epochs")
            return self._record(int(key) % n)
        raise TypeError(f"History indices are metric names (str), epoch indices (int) or "
                        f"slices, got {type(key).__name__}")

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __iter__(self) -> Iterator[dict[str, float]]:
        """Epoch records, first to last (use :meth:`keys` for the metric names)."""
        return (self._record(i) for i in range(len(self.epoch)))

    def keys(self) -> KeysView[str]:
        return self.history.keys()

    def values(self) -> ValuesView[list[float]]:
        return self.history.values()

    def items(self) -> ItemsView[str, list[float]]:
        return self.history.items()

    def get(self, key: str, default: Any = None) -> Any:
        return self.history.get(key, default)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in
                                                       self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, metrics={sorted(self.history)})"
