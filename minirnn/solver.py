"""The training loop: :class:`Solver`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from minirnn._validation import check_positive_int
from minirnn.callbacks import Callback, ProgressPrinter
from minirnn.layers.base import Layer
from minirnn.losses.base import Loss
from minirnn.losses.regression import MSE
from minirnn.optim.adam import Adam
from minirnn.optim.base import Optimizer
from minirnn.optim.clipping import clip_grad_norm, clip_grad_value, global_grad_norm

__all__ = ["History", "Solver", "TrainingDivergedError"]


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
    """Per-epoch metrics, as Keras's ``History``: ``history.history["val_loss"][epoch]``."""

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, metrics={sorted(self.history)})"


def _as_data(x: Any, y: Any, dtype: np.dtype, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of arrays (same first axis, finite, non-empty) and cast to ``dtype``."""
    arrays = []
    for name, a in ((f"{what} x", x), (f"{what} y", y)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
                or a.dtype == np.bool_):
            raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
        if a.ndim < 2:
            raise ValueError(
                f"{name} must be at least 2-D (samples first, then features), "
                f"got shape {a.shape}"
            )
        if a.shape[0] == 0 or a.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {a.shape}")
        a = a.astype(dtype, copy=False)
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or Inf")
        arrays.append(a)
    if arrays[0].shape[0] != arrays[1].shape[0]:
        raise ValueError(
            f"{what} x and y must have the same number of samples, "
            f"got {arrays[0].shape[0]} and {arrays[1].shape[0]}"
        )
    return arrays[0], arrays[1]


class Solver:
    """Train a model with mini-batches, clipping, callbacks and a history.

    Parameters
    ----------
    model : Layer
        Usually a :class:`~minirnn.Sequential`.
    loss : Loss, optional
        Defaults to :class:`~minirnn.losses.MSE`.
    optimizer : Optimizer, optional
        Defaults to ``Adam(model, lr=1e-3)``.
    batch_size : int
    epochs : int
    shuffle : bool
        A new permutation of the training samples every epoch (no sampling
        with replacement: every sample is seen once per epoch).
    seed : int, optional
        Seeds the shuffling: the same seed gives the same batches.
    clip_norm : float, optional
        Scale gradients so their global L2 norm is at most this.
    clip_value : float, optional
        Clip each gradient element to [-clip_value, clip_value] (after clip_norm).
    callbacks : sequence of Callback
        E.g. :class:`~minirnn.callbacks.EarlyStopping`.
    verbose : int
        0 silent; 1 prints a line per epoch.

    Every argument but ``model`` is keyword-only, and an unknown keyword is an
    error (a mistyped ``clipnorm=`` must not be silently ignored).

    Notes
    -----
    The history records per epoch: ``loss`` (mean training loss over the
    epoch's batches, weighted by batch size), ``val_loss`` when validation
    data is given, ``grad_norm`` (mean global gradient norm before clipping)
    and ``lr``.
    """

    def __init__(
        self,
        model: Layer,
        *,
        loss: Loss | None = None,
        optimizer: Optimizer | None = None,
        batch_size: int = 32,
        epochs: int = 10,
        shuffle: bool = True,
        seed: int | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        callbacks: Sequence[Callback] = (),
        verbose: int = 0,
    ) -> None:
        if not isinstance(model, Layer):
            raise TypeError(f"model must be a Layer, got {type(model).__name__}")
        if loss is not None and not isinstance(loss, Loss):
            raise TypeError(f"loss must be a Loss, got {type(loss).__name__}")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be an Optimizer, got {type(optimizer).__name__}")
        self.model = model
        self.loss = loss if loss is not None else MSE()
        self.optimizer = optimizer if optimizer is not None else Adam(model, lr=1e-3)
        model_ids = {id(p) for p in model.parameters()}
        if not all(id(p) in model_ids for p in self.optimizer.params):
            raise ValueError("optimizer updates parameters that are not the model's")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.epochs = check_positive_int(epochs, "epochs")
        self.shuffle = bool(shuffle)
        self.seed = seed
        for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.callbacks: list[Callback] = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        if verbose:
            self.callbacks.append(ProgressPrinter())
        self.history = History()
        self.stop_training = False
        self._rng = np.random.default_rng(seed)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> History:
        """Train for ``epochs`` epochs (or until a callback stops it).

        Parameters
        ----------
        x : ndarray, shape (N, T, D) (or whatever the model takes)
        y : ndarray, shape (N, ...) matching the model's output
        validation_data : (x_val, y_val), optional
            Evaluated after every epoch in eval mode; gives ``val_loss``.

        Returns
        -------
        History
            Also kept as ``self.history`` (a new one per call).

        Raises
        ------
        TrainingDivergedError
            A loss or gradient became NaN/Inf; the weights are those before
            the failing step.
        """
        dtype = self.model.dtype
        x, y = _as_data(x, y, dtype, "training")
        val = None
        if validation_data is not None:
            if not (isinstance(validation_data, tuple) and len(validation_data) == 2):
                raise TypeError("validation_data must be a tuple (x_val, y_val)")
            val = _as_data(*validation_data, dtype, "validation")
        self.history = History()
        self.stop_training = False
        for cb in self.callbacks:
            cb.set_solver(self)
        for cb in self.callbacks:
            cb.on_train_begin({})
        try:
            for epoch in range(self.epochs):
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch, {})
                logs = self._train_epoch(x, y)
                if val is not None:
                    logs["val_loss"] = self.evaluate(*val)
                self.history.append(epoch, logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
        finally:
            for cb in self.callbacks:
                cb.on_train_end({})
        return self.history

    def _train_epoch(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        n = x.shape[0]
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        start = time.perf_counter()
        loss_sum = 0.0
        norm_sum = 0.0
        batches = 0
        params = self.model.parameters()
        for batch, begin in enumerate(range(0, n, self.batch_size)):
            idx = order[begin:begin + self.batch_size]
            xb, yb = x[idx], y[idx]
            self.optimizer.zero_grad()
            pred = self.model.forward(xb, training=True)
            loss = self.loss.forward(pred, yb)
            if not np.isfinite(loss):
                raise TrainingDivergedError(
                    f"loss became {loss} at epoch {len(self.history) + 1}, batch {batch + 1}; "
                    "training stopped with the weights from before this batch "
                    "(try a lower learning rate or clip_norm)",
                    self.history,
                )
            self.model.backward(self.loss.backward())
            norm = global_grad_norm(params)
            if not np.isfinite(norm):
                bad = [name for name, p in self.model.named_parameters()
                       if not np.isfinite(p.grad).all()]
                raise TrainingDivergedError(
                    f"gradient became NaN/Inf in {bad} at epoch {len(self.history) + 1}, "
                    f"batch {batch + 1}; training stopped with the weights from before "
                    "this batch (try a lower learning rate or clip_norm)",
                    self.history,
                )
            if self.clip_norm is not None:
                clip_grad_norm(params, self.clip_norm)
            if self.clip_value is not None:
                clip_grad_value(params, self.clip_value)
            self.optimizer.step()
            loss_sum += loss * len(idx)
            norm_sum += norm
            batches += 1
            for cb in self.callbacks:
                cb.on_batch_end(batch, {"loss": loss, "grad_norm": norm})
        return {
            "loss": loss_sum / n,
            "grad_norm": norm_sum / batches,
            "lr": self.optimizer.lr,
            "time": time.perf_counter() - start,
        }

    # ------------------------------------------------------------- evaluate
    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        """Mean loss over ``(x, y)`` in eval mode, weighted by batch size."""
        x, y = _as_data(x, y, self.model.dtype, "evaluation")
        total = 0.0
        for begin in range(0, x.shape[0], self.batch_size):
            xb, yb = x[begin:begin + self.batch_size], y[begin:begin + self.batch_size]
            total += self.loss.forward(self.model.forward(xb), yb) * len(xb)
        return total / x.shape[0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Model outputs in eval mode, computed in batches of ``batch_size``."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"x must be a numpy ndarray, got {type(x).__name__}")
        x = x.astype(self.model.dtype, copy=False)
        if x.shape[0] == 0:
            raise ValueError(f"x must not be empty, got shape {x.shape}")
        parts = [self.model.forward(x[b:b + self.batch_size])
                 for b in range(0, x.shape[0], self.batch_size)]
        return np.concatenate(parts, axis=0)
