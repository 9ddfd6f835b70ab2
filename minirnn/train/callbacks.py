"""Callbacks: code the :class:`~minirnn.Solver` calls at train, epoch and batch boundaries.

Printing is a callback (:class:`ProgressPrinter`), so the Solver itself only records.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from minirnn.nn._validation import check_int, is_real_number

if TYPE_CHECKING:
    from minirnn.train.solver import Solver

__all__ = [
    "Callback", "EarlyStopping", "EpochLine", "LambdaCallback", "ModelCheckpoint",
    "ProgressBar", "ProgressPrinter", "TimeLimit", "monitor_mode",
]


class Callback:
    """Base class; override any hook. ``self.solver`` is set before ``on_train_begin``.

    A callback stops training by setting ``self.solver.stop_training = True`` and
    may change ``self.solver.optimizer.lr``.
    """

    solver: Solver

    def set_solver(self, solver: Solver) -> None:
        self.solver = solver

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called before each epoch (0-based)."""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        """Called after each optimizer step with ``logs["loss"]`` of that batch."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Called after each epoch with that epoch's metrics (``loss``, ``val_loss``...)."""

    def on_train_end(self, logs: dict[str, Any]) -> None:
        """Called once when training ends, also when stopped early."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep to resume exactly (JSON values and ndarrays)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (called after ``on_train_begin`` on resume)."""


def monitor_mode(monitor: str, mode: str = "auto") -> str:
    """``"min"`` or ``"max"``: ``mode`` itself, or for ``"auto"`` ``"max"`` when ``monitor``
    names an accuracy, F1, precision, recall or AUC (as Keras decides), else ``"min"``."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower().removeprefix("val_")
    higher = ("acc", "f1", "precision", "recall", "auc")
    return "max" if any(h in name for h in higher) else "min"


def _improves(current: float, best: float, min_delta: float, mode: str) -> bool:
    if mode == "min":
        return current < best - min_delta
    return current > best + min_delta


class EarlyStopping(Callback):
    """Stop when a monitored metric stops improving (Keras ``EarlyStopping``).

    Parameters
    ----------
    monitor : str
        Metric in the epoch logs (``"val_loss"``, ``"loss"``, ``"val_accuracy"``...).
    mode : {"auto", "min", "max"}
        Whether lower or higher is better; ``"auto"`` (Keras's default) takes higher for
        accuracy- and F1-like names (see :func:`monitor_mode`), lower otherwise.
    min_delta : float
        An improvement must be larger than this.
    patience : int
        Number of epochs without improvement after which training stops
        (as in Keras, 0 and 1 both stop at the first epoch that does not improve).
    restore_best_weights : bool
        On stop (and at the end of training) load the weights of the best epoch. The
        Solver keeps those weights (``solver.best_weights``, also what Ctrl-C restores
        and what checkpoints save); this callback decides which epoch is best.

    Attributes
    ----------
    best : float
    best_epoch : int
    best_weights : dict or None
        The best epoch's weights (with ``restore_best_weights``).
    stopped_epoch : int or None
        Epoch at which training was stopped, None if it ran to the end.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        restore_best_weights: bool = False,
        mode: str = "auto",
    ) -> None:
        patience = check_int(patience, "patience", minimum=0)
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be non-negative, got {min_delta!r}")
        self.monitor = monitor
        self.mode = monitor_mode(monitor, mode)
        self.min_delta = float(min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1
        self.wait = 0
        self.stopped_epoch: int | None = None

    @property
    def best_weights(self) -> dict[str, np.ndarray] | None:
        if not self.restore_best_weights or not hasattr(self, "solver"):
            return None
        return self.solver.best_weights

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        # A reused callback must not carry the last run's best value over.
        self._reset()
        if self.restore_best_weights:
            self.solver.claim_best(self)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r} but the epoch logs only have "
                f"{sorted(logs)}; pass validation data to fit() to get 'val_loss'"
            )
        current = float(logs[self.monitor])
        if _improves(current, self.best, self.min_delta, self.mode):
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best_weights:
                self.solver.record_best(current)
            return
        self.wait += 1
        # Keras semantics: stop after `patience` epochs without improvement (0 acts as 1).
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.solver.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.solver.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; checked first (ValueError or TypeError, nothing
        changed)."""
        keys = {"best", "best_epoch", "wait", "stopped_epoch"}
        # (Checkpoints of minirnn 0.1 also held "best_weights": the Solver's state has them.)
        if not isinstance(state, dict) or set(state) - {"best_weights"} != keys:
            raise ValueError(f"EarlyStopping state must have keys {sorted(keys)}, "
                             f"got {state!r:.100}")
        best = state["best"]
        if not is_real_number(best) or math.isnan(best):
            raise ValueError(f"EarlyStopping best must be a number, got {best!r}")
        ints = {k: state[k] for k in ("best_epoch", "wait", "stopped_epoch")}
        for key, value in ints.items():
            if value is None and key == "stopped_epoch":
                continue
            check_int(value, f"EarlyStopping {key}", minimum=-1 if key == "best_epoch" else 0)
        self.best = float(best)
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        stopped = state["stopped_epoch"]
        self.stopped_epoch = None if stopped is None else int(stopped)


class ProgressPrinter(Callback):
    """Print one line per epoch (and every ``every_batches`` batches if > 0)."""

    def __init__(self, every_batches: int = 0, stream: IO[str] | None = None) -> None:
        self.every_batches = every_batches
        self.stream = stream
        self._start = 0.0

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._epoch_start = time.perf_counter()

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self.every_batches and (batch + 1) % self.every_batches == 0:
            self._print(f"  batch {batch + 1}: loss {logs['loss']:.5f}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        parts = [f"epoch {epoch + 1}/{self.solver.epochs}"]
        for key in ("loss", "val_loss", "grad_norm"):
            if key in logs:
                parts.append(f"{key} {logs[key]:.5f}")
        parts.append(f"{time.perf_counter() - self._epoch_start:.1f}s")
        if "samples_per_second" in logs:
            parts.append(f"{logs['samples_per_second']:.0f} samples/s")
        self._print("  ".join(parts))


class EpochLine(Callback):
    """One line per epoch with the task's own names for the numbers of the epoch logs.

    ``epoch   3/10  train MSE 0.01234  val MSE 0.01301  grad norm 0.412  1.3s``: the epoch,
    then each column whose key is in the logs, then the epoch's time.

    Parameters
    ----------
    columns : sequence of (key, label, format)
        Log key, the label printed before its value, and the value's format spec. Default:
        the training and validation loss (5 decimals) and the gradient norm (3 decimals).
    loss_name : str
        Name of the loss in the default labels (``train MSE``, ``val MSE``).
    stream : text stream, optional
        Where to print (default: standard output at the time of printing).
    """

    def __init__(self, columns: list[tuple[str, str, str]] | None = None,
                 loss_name: str = "loss", stream: IO[str] | None = None) -> None:
        self.columns = columns if columns is not None else [
            ("loss", f"train {loss_name}", ".5f"), ("val_loss", f"val {loss_name}", ".5f"),
            ("grad_norm", "grad norm", ".3f")]
        self.stream = stream

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        parts = [f"epoch {epoch + 1:3d}/{self.solver.epochs}"]
        parts += [f"{label} {logs[key]:{spec}}" for key, label, spec in self.columns
                  if key in logs]
        if "time" in logs:
            parts.append(f"{logs['time']:.1f}s")
        print("  ".join(parts), file=self.stream or sys.stdout, flush=True)


class ProgressBar(Callback):
    """A progress bar per epoch with the running loss and speed.

    Uses tqdm when it is installed; otherwise prints a plain line every
    ``every_batches`` batches and one at the end of each epoch.
    """

    def __init__(self, every_batches: int = 50, stream: IO[str] | None = None,
                 epoch_summary: bool = True) -> None:
        self.every_batches = max(int(every_batches), 1)
        self.stream = stream
        self.epoch_summary = epoch_summary
        self._bar: Any = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._start = time.perf_counter()
        self._loss_sum = 0.0
        self._seen = 0
        self._epoch = epoch
        try:
            from tqdm import tqdm
        except ImportError:
            self._bar = None
            return
        # With a total, tqdm shows the fraction done and the time left (ETA).
        self._bar = tqdm(desc=f"epoch {epoch + 1}/{self.solver.epochs}", unit="batch",
                         total=getattr(self.solver, "steps_per_epoch", None),
                         file=self.stream, leave=True, dynamic_ncols=True)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        size = int(logs.get("size", 1))
        self._loss_sum += logs["loss"] * size
        self._seen += size
        speed = self._seen / max(time.perf_counter() - self._start, 1e-9)
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{self._loss_sum / self._seen:.5f}",
                                  speed=f"{speed:.0f}/s")
            self._bar.update(1)
        elif (batch + 1) % self.every_batches == 0:
            total = getattr(self.solver, "steps_per_epoch", None)
            print(f"epoch {self._epoch + 1}/{self.solver.epochs}  batch {batch + 1}"
                  f"{'' if total is None else f'/{total}'}  "
                  f"loss {self._loss_sum / self._seen:.5f}  {speed:.0f} samples/s",
                  file=self.stream or sys.stdout, flush=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        extra = f"  val_loss {logs['val_loss']:.5f}" if "val_loss" in logs else ""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if not self.epoch_summary:
            return
        print(f"epoch {epoch + 1}/{self.solver.epochs}  loss {logs['loss']:.5f}{extra}  "
              f"{logs.get('samples_per_second', 0):.0f} samples/s",
              file=self.stream or sys.stdout, flush=True)


class LambdaCallback(Callback):
    """Callbacks from plain functions (R rnn's ``epoch_function``; Keras ``LambdaCallback``).

    Each argument is ``f(solver, index, logs)`` (``on_train_*`` get ``f(solver, logs)``).
    """

    def __init__(self, on_epoch_end: Any = None, on_batch_end: Any = None,
                 on_train_begin: Any = None, on_train_end: Any = None) -> None:
        self._epoch_end = on_epoch_end
        self._batch_end = on_batch_end
        self._train_begin = on_train_begin
        self._train_end = on_train_end

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self._epoch_end is not None:
            self._epoch_end(self.solver, epoch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        if self._batch_end is not None:
            self._batch_end(self.solver, batch, logs)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        if self._train_begin is not None:
            self._train_begin(self.solver, logs)

    def on_train_end(self, logs: dict[str, Any]) -> None:
        if self._train_end is not None:
            self._train_end(self.solver, logs)


class TimeLimit(Callback):
    """Stop training cleanly once ``seconds`` of wall time have passed (TF-Addons ``TimeStopping``).

    The clock starts at ``on_train_begin``. The limit is checked after every
    batch: the Solver then ends the current epoch early (its logs cover the
    batches done), runs validation and the epoch-end callbacks as usual, and
    stops. The model keeps the best weights seen: those of an
    :class:`EarlyStopping` with ``restore_best_weights=True`` if the run has
    one, otherwise the Solver's best epoch (lowest ``val_loss``, else ``loss``),
    as after Ctrl-C.

    Parameters
    ----------
    seconds : float
        Wall-time budget of ``fit`` (training and validation), > 0.
    restore_best_weights : bool
        When the limit stops training, load the best weights seen (see above).
    verbose : bool
        Print :meth:`summary` when the limit stops training.

    Attributes
    ----------
    stopped : bool
        True if the limit ended training.
    stopped_epoch : int or None
        Epoch (0-based) during which it stopped.
    stopped_batch : int or None
        Batches done in that epoch when it stopped.
    batches_per_epoch : int or None
        Batches in a full epoch (known once one epoch has completed).
    elapsed : float
        Seconds from ``on_train_begin`` to ``on_train_end``.
    """

    def __init__(self, seconds: float, restore_best_weights: bool = True,
                 verbose: bool = False) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or \
                not seconds > 0 or not math.isfinite(seconds):
            raise ValueError(f"seconds must be a finite number greater than zero, "
                             f"got {seconds!r}")
        self.seconds = float(seconds)
        self.restore_best_weights = bool(restore_best_weights)
        self.verbose = bool(verbose)
        self._clock = time.perf_counter  # replaceable so tests need no real waiting
        self._reset()

    def _reset(self) -> None:
        self.stopped = False
        self.stopped_epoch: int | None = None
        self.stopped_batch: int | None = None
        self.batches_per_epoch: int | None = None
        self.elapsed = 0.0
        self._start = self._clock()
        self._batches = 0
        self._completed_epochs = 0

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._reset()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
        self._batches = 0

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self._batches = batch + 1
        if not self.stopped and self._clock() - self._start >= self.seconds:
            self.stopped = True
            self.solver.stop_training = True  # the Solver ends this epoch after this batch

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        if self.stopped and self.stopped_epoch is None:
            self.stopped_epoch = epoch
            self.stopped_batch = self._batches
        else:
            self.batches_per_epoch = self._batches
            self._completed_epochs += 1
            if self._clock() - self._start >= self.seconds:  # e.g. validation was slow
                self.stopped = True
                self.stopped_epoch = epoch
                self.stopped_batch = self._batches
                self.solver.stop_training = True

    def on_train_end(self, logs: dict[str, Any]) -> None:
        self.elapsed = self._clock() - self._start
        if not self.stopped:
            return
        if self.restore_best_weights:
            defers = any(isinstance(cb, EarlyStopping) and cb.restore_best_weights
                         for cb in self.solver.callbacks)
            best = self.solver.best_weights
            if not defers and best is not None:
                self.solver.model.load_state_dict(best)
        if self.verbose:
            print(self.summary(), flush=True)

    @property
    def epochs_done(self) -> float:
        """Epochs of training done, counting a partial last epoch as a fraction."""
        done = float(self._completed_epochs)
        if self.stopped and self.stopped_batch is not None and self.stopped_epoch is not None \
                and self.stopped_epoch >= self._completed_epochs:
            per = self.batches_per_epoch
            done += self.stopped_batch / per if per else 0.0
        return done

    def summary(self) -> str:
        """One line: whether the limit was reached and how far training got."""
        if not self.stopped:
            return (f"time limit {self.seconds:g}s not reached: training ended after "
                    f"{self.elapsed:.1f}s")
        assert self.stopped_epoch is not None
        where = f"{self.epochs_done:.2f} epochs done"
        if self.batches_per_epoch is None:
            where = f"{self.stopped_batch} batches of the first epoch done"
        text = (f"time limit {self.seconds:g}s reached after {self.elapsed:.1f}s in epoch "
                f"{self.stopped_epoch + 1} of {self.solver.epochs} ({where})")
        if self.restore_best_weights:
            text += "; keeping the best weights seen"
        return text


class ModelCheckpoint(Callback):
    """Save the model whenever a monitored metric improves (Keras ``ModelCheckpoint``).

    Parameters
    ----------
    filepath : str or PathLike
        Model file (:func:`minirnn.nn.io.save_model`, written atomically).
    monitor : str
        Metric in the epoch logs, e.g. ``"val_loss"`` or ``"val_accuracy"``.
    mode : {"auto", "min", "max"}
        See :class:`EarlyStopping`.
    save_best_only : bool
        Save only when ``monitor`` improves; False saves after every epoch.
    metadata : dict, optional
        JSON metadata stored with the model.

    Attributes
    ----------
    best : float
    best_epoch : int
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", mode: str = "auto",
                 save_best_only: bool = True, metadata: dict[str, Any] | None = None) -> None:
        self.filepath = filepath
        self.monitor = monitor
        self.mode = monitor_mode(monitor, mode)
        self.save_best_only = bool(save_best_only)
        self.metadata = metadata
        self.on_train_begin({})

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = -1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        from minirnn.nn.io import save_model

        if self.monitor not in logs:
            raise ValueError(f"ModelCheckpoint monitors {self.monitor!r} but the epoch logs "
                             f"only have {sorted(logs)}")
        current = float(logs[self.monitor])
        improved = _improves(current, self.best, 0.0, self.mode)
        if improved:
            self.best, self.best_epoch = current, epoch
        if improved or not self.save_best_only:
            save_model(self.filepath, self.solver.model, metadata=self.metadata)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
