"""The training loop: :class:`Solver`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import ItemsView, Iterator, KeysView, Sequence, ValuesView
from typing import Any, overload

import numpy as np

from minirnn._validation import check_positive_int
from minirnn.callbacks import Callback, ProgressBar, ProgressPrinter
from minirnn.layers.base import Layer
from minirnn.losses.base import Loss
from minirnn.losses.classification import CrossEntropy
from minirnn.losses.regression import MSE
from minirnn.metrics import Metric, get_metric
from minirnn.model import check_data
from minirnn.optim.adam import Adam
from minirnn.optim.base import Optimizer
from minirnn.optim.clipping import clip_grad_norm, clip_grad_value

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


def _as_array(a: Any, name: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
            or a.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 0 or a.shape[0] == 0 or a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def _as_data(x: Any, y: Any, dtype: np.dtype, what: str,
             integer_targets: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair (same first axis, finite, non-empty); cast x (and float y) to ``dtype``."""
    x = _as_array(x, f"{what} x")
    y = _as_array(y, f"{what} y")
    if x.ndim < 2:
        raise ValueError(f"{what} x must be at least 2-D (samples first), got shape {x.shape}")
    x = x.astype(dtype, copy=False)
    if not (integer_targets and np.issubdtype(y.dtype, np.integer)):
        y = y.astype(dtype, copy=False)
    for name, a in ((f"{what} x", x), (f"{what} y", y)):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or Inf")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what} x and y must have the same number of samples, "
                         f"got {x.shape[0]} and {y.shape[0]}")
    return x, y


def _as_lengths(lengths: Any, n: int, steps: int | None, what: str) -> np.ndarray | None:
    if lengths is None:
        return None
    arr = np.asarray(lengths)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{what} lengths must be {n} integers (one per sample), "
                         f"got shape {arr.shape} dtype {arr.dtype}")
    if arr.min() < 1 or (steps is not None and arr.max() > steps):
        raise ValueError(f"{what} lengths must be in [1, {steps}], got min {arr.min()} "
                         f"max {arr.max()}")
    return arr


class Solver:
    """Train a model: mini-batches, clipping, truncated BPTT, callbacks, checkpoints, history.

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
        Total epochs (a resumed run continues up to this number).
    shuffle : bool
        A new permutation of the training samples every epoch (every sample is
        seen once per epoch; never sampling with replacement).
    drop_last : bool
        Drop the last batch if it is smaller than ``batch_size``.
    seed : int, optional
        Seeds the shuffling: the same seed gives the same batches.
    clip_norm : float, optional
        Scale gradients so their global L2 norm is at most this (keeps direction).
    clip_value : float, optional
        Clip each gradient element to [-clip_value, clip_value] (after clip_norm).
    record_param_norms : bool
        Also record each parameter's gradient norm per epoch
        (``grad_norm/<name>`` in the history, mean over batches).
    tbptt : int or (int, int), optional
        Truncated BPTT for many-to-many targets ``y`` of shape (N, T, F):
        ``k1`` or ``(k1, k2)``: every ``k1`` steps, update with the loss of
        those ``k1`` steps backpropagated through the last ``k2`` steps
        (``k2`` a multiple of ``k1``, default ``k1``). States carry over between
        windows of one batch and are reset between batches.
    stateful : bool
        Carry each batch's final states into the next batch (Keras ``stateful``):
        sample i of batch b+1 continues sample i of batch b. Needs
        ``shuffle=False`` and equal batch sizes; states reset at every epoch
        start and by :meth:`reset_states`.
    callbacks : sequence of Callback
        E.g. :class:`~minirnn.callbacks.EarlyStopping`, schedules from
        :mod:`minirnn.optim`.
    metrics : sequence of str or Metric
        Keras's ``metrics=["accuracy"]``: names or :class:`~minirnn.metrics.Metric`
        instances (:mod:`minirnn.metrics`). Each is recorded per epoch on the training
        batches (``accuracy``) and on validation data (``val_accuracy``), where
        ``EarlyStopping`` and ``ModelCheckpoint`` can monitor it.
    verbose : int
        0 silent; 1 a line per epoch; 2 a progress bar per epoch (tqdm if
        installed, else a plain line every ``log_every`` batches).
    log_every : int
        With ``verbose=2`` and no tqdm: print every this many batches.
    checkpoint_path : str or PathLike, optional
        Write a checkpoint (model, optimizer, RNG states, epoch, history,
        callback states) atomically after every ``checkpoint_every`` epochs and
        after the last epoch (before callbacks restore best weights);
        ``fit(..., resume=True)`` continues from it exactly, also with a larger
        ``epochs``.
    checkpoint_every : int

    Every argument but ``model`` is keyword-only, and an unknown keyword is an
    error (a mistyped ``clipnorm=`` must not be silently ignored).

    Notes
    -----
    Per batch: forward (training mode), loss, backward, global gradient norm
    (recorded; a NaN/Inf stops training before the update with
    :class:`TrainingDivergedError`), ``clip_norm``, ``clip_value``,
    ``optimizer.step()``, callbacks' ``on_batch_end``.

    The history records per epoch ``loss`` (mean training loss weighted by
    batch size), ``val_loss`` with validation data, ``grad_norm`` (mean global
    norm before clipping), ``lr``, ``time`` and ``samples_per_second``.

    Ctrl-C (``KeyboardInterrupt``) ends training cleanly: the history so far is
    kept, ``interrupted`` is set, and the model gets the weights of the best
    epoch so far (lowest ``val_loss``, else ``loss``); the checkpoint keeps the
    end of the last completed epoch (the interrupted one is redone on resume).
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
        drop_last: bool = False,
        seed: int | None = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        record_param_norms: bool = False,
        tbptt: int | tuple[int, int] | None = None,
        stateful: bool = False,
        callbacks: Sequence[Callback] = (),
        metrics: Sequence[str | Metric] = (),
        verbose: int = 0,
        log_every: int = 50,
        checkpoint_path: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
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
        self.drop_last = bool(drop_last)
        self.seed = seed
        for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or not value > 0 or not math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}")
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.record_param_norms = bool(record_param_norms)
        self.tbptt = self._check_tbptt(tbptt)
        if stateful and shuffle:
            raise ValueError("stateful=True carries states from batch to batch by position: "
                             "it needs shuffle=False")
        self.stateful = bool(stateful)
        self.callbacks: list[Callback] = list(callbacks)
        self.metrics = [get_metric(m) for m in metrics]
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if verbose == 1:
            self.callbacks.append(ProgressPrinter())
        elif verbose == 2:
            self.callbacks.append(ProgressBar(every_batches=log_every))
        self.checkpoint_path = checkpoint_path
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self.epoch = 0  # epochs completed
        #: Batches per epoch of the current ``fit`` (progress bars show it as their total).
        self.steps_per_epoch: int | None = None
        self.rng = np.random.default_rng(seed)
        self._best: tuple[float, dict[str, np.ndarray]] | None = None

    @staticmethod
    def _check_tbptt(tbptt: Any) -> tuple[int, int] | None:
        if tbptt is None:
            return None
        k1, k2 = (tbptt, tbptt) if isinstance(tbptt, int) else tuple(tbptt)
        k1 = check_positive_int(k1, "tbptt k1")
        k2 = check_positive_int(k2, "tbptt k2")
        if k2 < k1 or k2 % k1:
            raise ValueError(f"tbptt k2 must be a multiple of k1 (k2 >= k1), got ({k1}, {k2})")
        return k1, k2

    @property
    def _integer_targets(self) -> bool:
        """Class-index targets stay integers (CrossEntropy); others are cast to the dtype."""
        return isinstance(self.loss, CrossEntropy)

    # ---------------------------------------------------------------- states
    def _recurrent_layers(self) -> list[Any]:
        layers = [self.model] + [layer for _, layer in self.model.named_layers()]
        return [layer for layer in layers if hasattr(layer, "carried_state")]

    def reset_states(self) -> None:
        """Forget the states carried between batches (stateful training and TBPTT)."""
        for layer in self._recurrent_layers():
            layer.reset_states()

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation_data: tuple[Any, ...] | None = None,
        validation_split: float = 0.0,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        resume: bool = False,
    ) -> History:
        """Train until ``epochs`` epochs are done or a callback stops it.

        Parameters
        ----------
        x : ndarray, shape (N, T, D) (or whatever the model takes)
        y : ndarray, shape (N, ...) matching the model's output (many-to-one
            (N, F) or many-to-many (N, T, F); integer classes for CrossEntropy)
        validation_data : (x_val, y_val) or (x_val, y_val, lengths_val), optional
            Evaluated after every epoch in eval mode; gives ``val_loss``.
        validation_split : float in [0, 1)
            Without ``validation_data``: hold out this fraction of the samples
            (the last ones, before any shuffling, as Keras does).
        mask : ndarray, shape (N,) or (N, T), optional
            Loss mask (e.g. padded steps); derived from ``lengths`` for
            per-step targets when omitted.
        lengths : ndarray of int, shape (N,), optional
            Valid steps per sequence, passed to the model (recurrent layers
            and ``LastStep`` honour them).
        resume : bool
            Continue from ``checkpoint_path`` if that file exists.

        Returns
        -------
        History
            Also kept as ``self.history``.

        Raises
        ------
        TrainingDivergedError
            A loss or gradient became NaN/Inf; the weights are those before
            the failing step.
        """
        integer_targets = self._integer_targets
        x, y = _as_data(x, y, self.model.dtype, "training", integer_targets)
        steps = x.shape[1] if x.ndim == 3 else None
        lengths = _as_lengths(lengths, x.shape[0], steps, "training")
        mask = self._make_mask(mask, lengths, x, y)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, tuple) or len(validation_data) not in (2, 3):
                raise TypeError("validation_data must be a tuple (x_val, y_val) or "
                                "(x_val, y_val, lengths_val)")
            xv, yv = _as_data(validation_data[0], validation_data[1], self.model.dtype,
                              "validation", integer_targets)
            lv = _as_lengths(validation_data[2] if len(validation_data) == 3 else None,
                             xv.shape[0], xv.shape[1] if xv.ndim == 3 else None, "validation")
            val = (xv, yv, lv)
        elif validation_split:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
            n_val = round(x.shape[0] * validation_split)
            if n_val < 1 or n_val >= x.shape[0]:
                raise ValueError(f"validation_split {validation_split} of {x.shape[0]} samples "
                                 f"leaves {n_val} for validation: need at least 1 on each side")
            cut = x.shape[0] - n_val
            val = (x[cut:], y[cut:], None if lengths is None else lengths[cut:])
            x, y = x[:cut], y[:cut]
            lengths = None if lengths is None else lengths[:cut]
            mask = None if mask is None else mask[:cut]
        # Shape problems in the user's terms (layer, whole-array shapes), before training.
        check_data(self.model, x, y, self.loss, lengths=lengths, what="training")
        if val is not None:
            check_data(self.model, val[0], val[1], self.loss, lengths=val[2],
                       what="validation")
        if self.tbptt is not None and (x.ndim != 3 or y.ndim < 2 or y.shape[1] != x.shape[1]):
            raise ValueError(f"tbptt needs per-step targets y (N, T, ...) for x (N, T, D), "
                             f"got x {x.shape} and y {y.shape}")
        if self.stateful and x.shape[0] % self.batch_size and not self.drop_last:
            raise ValueError(f"stateful=True needs equal batches: {x.shape[0]} samples are not "
                             f"a multiple of batch_size {self.batch_size} (use drop_last=True)")

        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self.epoch = 0
        self._best = None
        n = x.shape[0]
        self.steps_per_epoch = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        for cb in self.callbacks:
            cb.set_solver(self)
        for cb in self.callbacks:
            cb.on_train_begin({})
        if resume and self.checkpoint_path is not None and os.path.exists(self.checkpoint_path):
            from minirnn.checkpoint import load_checkpoint

            load_checkpoint(self.checkpoint_path, self)
            # Continue up to `epochs`: a run stopped by Ctrl-C was saved with the flag set.
            self.stop_training = False
        for layer in self._recurrent_layers():
            layer.stateful = self.stateful or self.tbptt is not None
        saved_epoch = self.epoch if resume else -1
        try:
            while self.epoch < self.epochs and not self.stop_training:
                epoch = self.epoch
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch, {})
                logs = self._train_epoch(x, y, mask, lengths)
                if val is not None:
                    scores = self.evaluate(val[0], val[1], lengths=val[2], return_dict=True)
                    logs.update({f"val_{k}": v for k, v in scores.items()})
                self.history.append(epoch, logs)
                self._track_best(logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
                self.epoch = epoch + 1
                if self.checkpoint_path is not None and self.epoch % self.checkpoint_every == 0:
                    self.save_checkpoint(self.checkpoint_path)
                    saved_epoch = self.epoch
            # The state at the end of the last epoch, before on_train_end restores the best
            # weights: resuming from it (e.g. with more epochs) continues this exact run.
            if self.checkpoint_path is not None and saved_epoch != self.epoch:
                self.save_checkpoint(self.checkpoint_path)
        except KeyboardInterrupt:
            # No checkpoint here: the model is mid-epoch (and may get the best weights); the
            # last epoch's checkpoint is the state that resumes exactly.
            self.interrupted = True
            self.stop_training = True
            if self._best is not None:
                self.model.load_state_dict(self._best[1])
        finally:
            for layer in self._recurrent_layers():
                layer.stateful = False
                layer.reset_states()
            for cb in self.callbacks:
                cb.on_train_end({"interrupted": self.interrupted})
        return self.history

    def _make_mask(self, mask: Any, lengths: np.ndarray | None, x: np.ndarray,
                   y: np.ndarray) -> np.ndarray | None:
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != y.shape[:mask.ndim] or mask.ndim == 0:
                raise ValueError(f"mask must have a leading shape of y {y.shape}, "
                                 f"got {mask.shape}")
            return mask
        if lengths is not None and x.ndim == 3 and y.ndim >= 2 and y.shape[1] == x.shape[1]:
            return np.arange(x.shape[1])[None, :] < lengths[:, None]
        return None

    def _track_best(self, logs: dict[str, float]) -> None:
        key = "val_loss" if "val_loss" in logs else "loss"
        if self._best is None or logs[key] < self._best[0]:
            self._best = (logs[key], self.model.state_dict())

    def _batches(self, n: int) -> list[np.ndarray]:
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        if not batches:
            raise ValueError(f"no full batch: {n} samples with batch_size {self.batch_size} "
                             "and drop_last=True")
        return batches

    def _train_epoch(self, x: np.ndarray, y: np.ndarray, mask: np.ndarray | None,
                     lengths: np.ndarray | None) -> dict[str, float]:
        start = time.perf_counter()
        loss_sum = 0.0
        norms: list[float] = []
        param_norms: dict[str, list[float]] = {}
        seen = 0
        if self.stateful:
            self.reset_states()
        for metric in self.metrics:
            metric.reset()
        for batch, idx in enumerate(self._batches(x.shape[0])):
            xb, yb = x[idx], y[idx]
            mb = None if mask is None else mask[idx]
            lb = None if lengths is None else lengths[idx]
            if self.tbptt is not None:
                loss, norm = self._tbptt_batch(xb, yb, mb, lb, batch, param_norms)
            else:
                loss, norm = self._step(xb, yb, mb, lb, batch, param_norms)
            loss_sum += loss * len(idx)
            seen += len(idx)
            norms.append(norm)
            for cb in self.callbacks:
                cb.on_batch_end(batch, {"loss": loss, "grad_norm": norm, "size": len(idx)})
            if self.stop_training:  # e.g. TimeLimit: end this epoch early, keep its logs
                break
        elapsed = time.perf_counter() - start
        logs = {"loss": loss_sum / seen, "grad_norm": float(np.mean(norms)),
                "lr": self.optimizer.lr, "time": elapsed,
                "samples_per_second": seen / elapsed if elapsed > 0 else float("inf")}
        for name, values in param_norms.items():
            logs[f"grad_norm/{name}"] = float(np.mean(values))
        logs.update({m.name: m.result() for m in self.metrics})
        return logs

    def _forward(self, xb: np.ndarray, lb: np.ndarray | None, training: bool) -> np.ndarray:
        if lb is not None:
            if not self.model.accepts_lengths:
                raise TypeError(f"{type(self.model).__name__} does not take lengths")
            return self.model.forward(xb, training=training, lengths=lb)  # type: ignore[call-arg]
        return self.model.forward(xb, training=training)

    def _step(self, xb: np.ndarray, yb: np.ndarray, mb: np.ndarray | None,
              lb: np.ndarray | None, batch: int, param_norms: dict[str, list[float]],
              loss_mask: np.ndarray | None = None) -> tuple[float, float]:
        """One update: forward, loss, backward, checks, clipping, optimizer step."""
        self.optimizer.zero_grad()
        try:
            pred = self._forward(xb, lb, training=True)
        except FloatingPointError as exc:
            raise TrainingDivergedError(
                f"{exc} at epoch {self.epoch + 1}, batch {batch + 1}; training stopped with the "
                "weights from before this batch", self.history) from exc
        full_mask = mb if loss_mask is None else (loss_mask if mb is None else mb * loss_mask)
        loss = self.loss.forward(pred, yb, full_mask)
        for metric in self.metrics:  # on training-mode predictions, as Keras does
            metric.update(pred, yb, full_mask)
        if not np.isfinite(loss):
            raise TrainingDivergedError(
                f"loss became {loss} at epoch {self.epoch + 1}, batch {batch + 1}; training "
                "stopped with the weights from before this batch (try a lower learning rate "
                "or clip_norm)", self.history)
        self.model.backward(self.loss.backward())
        named = list(self.model.named_parameters())
        squares = [float(np.vdot(p.grad, p.grad).real) for _, p in named]
        norm = math.sqrt(sum(squares))
        if not math.isfinite(norm):
            layer_names = dict(self.model.named_layers())
            bad = []
            for (name, _), sq in zip(named, squares, strict=True):
                if not math.isfinite(sq):
                    owner = layer_names.get(name.rsplit(".", 1)[0]) if "." in name else None
                    bad.append(f"{name} ({type(owner or self.model).__name__})")
            raise TrainingDivergedError(
                f"gradient became NaN/Inf in {bad} at epoch {self.epoch + 1}, batch "
                f"{batch + 1}; training stopped with the weights from before this batch "
                "(try a lower learning rate or clip_norm)", self.history)
        if self.record_param_norms:
            for (name, _), sq in zip(named, squares, strict=True):
                param_norms.setdefault(name, []).append(math.sqrt(sq))
        params = [p for _, p in named]
        if self.clip_norm is not None:
            clip_grad_norm(params, self.clip_norm, norm=norm)
        if self.clip_value is not None:
            clip_grad_value(params, self.clip_value)
        self.optimizer.step()
        return loss, norm

    def _tbptt_batch(self, xb: np.ndarray, yb: np.ndarray, mb: np.ndarray | None,
                     lb: np.ndarray | None, batch: int,
                     param_norms: dict[str, list[float]]) -> tuple[float, float]:
        """Truncated BPTT over one batch: updates every k1 steps through the last k2 steps."""
        assert self.tbptt is not None
        k1, k2 = self.tbptt
        steps = xb.shape[1]
        layers = self._recurrent_layers()
        self.reset_states()
        saved: dict[int, list[Any]] = {0: [None for _ in layers]}  # states at window starts
        losses, norms, weights = [], [], []
        counted = 0  # steps whose loss has been used
        for end in range(k1, steps + k1, k1):
            end = min(end, steps)
            begin = max(0, end - k2)
            begin -= begin % k1
            for layer, state in zip(layers, saved[begin], strict=True):
                layer.carried_state = state
            window = slice(begin, end)
            # The loss counts only the steps not counted by an earlier window.
            fresh = np.zeros((xb.shape[0], end - begin), dtype=xb.dtype)
            fresh[:, counted - begin:] = 1.0
            mw = None if mb is None else mb[:, window]
            lw = None if lb is None else np.clip(lb - begin, 1, end - begin)
            if mw is not None and not np.any(mw * fresh):
                self._forward(xb[:, window], lw, training=False)  # only advance the states
            else:
                loss, norm = self._step(xb[:, window], yb[:, window], mw, lw, batch,
                                        param_norms, loss_mask=fresh)
                losses.append(loss)
                norms.append(norm)
                weights.append(end - counted)
            saved[end] = [layer.carried_state for layer in layers]
            counted = end
        if not losses:
            raise ValueError(f"batch {batch + 1}: the mask selects no step")
        return float(np.average(losses, weights=weights)), float(np.mean(norms))

    # ------------------------------------------------------------- evaluate
    def evaluate(self, x: np.ndarray, y: np.ndarray, *, lengths: np.ndarray | None = None,
                 mask: np.ndarray | None = None, return_dict: bool = False) -> Any:
        """Mean loss over ``(x, y)`` in eval mode, weighted by batch size.

        With ``return_dict=True`` (Keras's argument): ``{"loss": ..., <metric>: ...}`` with
        every metric of the Solver's ``metrics``.
        """
        x, y = _as_data(x, y, self.model.dtype, "evaluation", self._integer_targets)
        lengths = _as_lengths(lengths, x.shape[0], x.shape[1] if x.ndim == 3 else None,
                              "evaluation")
        mask = self._make_mask(mask, lengths, x, y)
        check_data(self.model, x, y, self.loss, lengths=lengths, what="evaluation")
        total = 0.0
        for metric in self.metrics:
            metric.reset()
        for begin in range(0, x.shape[0], self.batch_size):
            sl = slice(begin, begin + self.batch_size)
            pred = self._forward(x[sl], None if lengths is None else lengths[sl], False)
            mb = None if mask is None else mask[sl]
            total += self.loss.forward(pred, y[sl], mb) * len(pred)
            for metric in self.metrics:
                metric.update(pred, y[sl], mb)
        if not return_dict:
            return total / x.shape[0]
        return {"loss": total / x.shape[0], **{m.name: m.result() for m in self.metrics}}

    def predict(self, x: np.ndarray, *, lengths: np.ndarray | None = None) -> np.ndarray:
        """Model outputs in eval mode, computed in batches of ``batch_size``."""
        x = _as_array(x, "x").astype(self.model.dtype, copy=False)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("x contains NaN or Inf")
        lengths = _as_lengths(lengths, x.shape[0], x.shape[1] if x.ndim == 3 else None, "x")
        check_data(self.model, x, lengths=lengths, what="predict:")
        parts = [self._forward(x[b:b + self.batch_size],
                               None if lengths is None else lengths[b:b + self.batch_size], False)
                 for b in range(0, x.shape[0], self.batch_size)]
        return np.concatenate(parts, axis=0)

    # ---------------------------------------------------------- checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write model, optimizer, RNG states, epoch, history and callback states atomically."""
        from minirnn.checkpoint import save_checkpoint

        save_checkpoint(path, self)
