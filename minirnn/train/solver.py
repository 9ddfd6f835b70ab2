"""The training loop: :class:`Solver`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from minirnn.nn._validation import (
    check_bool,
    check_positive_float,
    check_positive_int,
    check_seed,
    check_tbptt,
    check_weights,
)
from minirnn.nn.layers.base import Layer
from minirnn.nn.losses.base import Loss
from minirnn.nn.losses.classification import CrossEntropy
from minirnn.nn.losses.regression import MSE
from minirnn.nn.metrics import Metric, get_metric
from minirnn.nn.model import check_data
from minirnn.nn.optim.adam import Adam
from minirnn.nn.optim.base import Optimizer
from minirnn.nn.optim.clipping import clip_grad_norm, clip_grad_value
from minirnn.train import solver_data as prep
from minirnn.train.callbacks import Callback, ProgressBar, ProgressPrinter
from minirnn.train.history import History, TrainingDivergedError
from minirnn.train.solver_state import load_solver_state, solver_state

__all__ = ["History", "Solver", "TrainingDivergedError"]


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
    seed : int >= 0, numpy Generator or None
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
        :mod:`minirnn.nn.optim`.
    metrics : sequence of str or Metric
        Keras's ``metrics=["accuracy"]``: names or :class:`~minirnn.nn.metrics.Metric`
        instances (:mod:`minirnn.nn.metrics`). Each is recorded per epoch on the training
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
        at the end; ``fit(..., resume=True)`` continues from it exactly. Its
        folder must exist and be writable (checked here, before any training).
    checkpoint_every : int

    Every argument but ``model`` is keyword-only, and an unknown keyword is an
    error (a mistyped ``clipnorm=`` must not be silently ignored).

    Notes
    -----
    Per batch: forward (training mode), loss, backward, global gradient norm
    (recorded; a NaN/Inf stops training before the update with
    :class:`TrainingDivergedError`), ``clip_norm``, ``clip_value``,
    ``optimizer.step()`` (an update that makes a weight NaN/Inf is undone,
    optimizer state included, and raises :class:`TrainingDivergedError`),
    callbacks' ``on_batch_end``.

    The history records per epoch ``loss`` (mean training loss weighted by
    batch size), ``val_loss`` with validation data, ``grad_norm`` (mean global
    norm before clipping), ``lr``, ``time`` and ``samples_per_second``.

    A checkpoint holds the state at the end of the last completed epoch (before
    best weights are restored): resuming, also with more epochs, is bit-for-bit
    the run never stopped; one that early stopping ended stays ended.

    Ctrl-C ends training cleanly: the history so far is kept, ``interrupted`` is
    set, and the model gets :attr:`best_weights` (the best epoch by the
    ``EarlyStopping`` that restores best weights, else by ``val_loss``/``loss``).
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
        seed: int | np.random.Generator | None = None,
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
        self.shuffle = check_bool(shuffle, "shuffle")
        self.drop_last = check_bool(drop_last, "drop_last")
        self.seed = check_seed(seed, "seed")
        self.clip_norm = check_positive_float(clip_norm, "clip_norm", optional=True)
        self.clip_value = check_positive_float(clip_value, "clip_value", optional=True)
        self.record_param_norms = check_bool(record_param_norms, "record_param_norms")
        self.tbptt = check_tbptt(tbptt)
        self.stateful = check_bool(stateful, "stateful")
        if self.stateful and self.shuffle:
            raise ValueError("stateful=True carries states from batch to batch by position: "
                             "it needs shuffle=False")
        self.callbacks: list[Callback] = list(callbacks)
        self.metrics = [get_metric(m) for m in metrics]
        if bad := [type(cb).__name__ for cb in self.callbacks if not isinstance(cb, Callback)]:
            raise TypeError(f"callbacks must be Callback instances, got {bad[0]}")
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        log_every = check_positive_int(log_every, "log_every")
        if verbose == 1:
            self.callbacks.append(ProgressPrinter())
        elif verbose == 2:
            self.callbacks.append(ProgressBar(every_batches=log_every))
        self.checkpoint_path = prep.check_checkpoint_path(checkpoint_path)
        self.checkpoint_every = check_positive_int(checkpoint_every, "checkpoint_every")
        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self.epoch = 0  # epochs completed
        #: Batches per epoch of the current ``fit`` (progress bars show it as their total).
        self.steps_per_epoch: int | None = None
        self.rng = np.random.default_rng(self.seed)
        self._best: tuple[float, dict[str, np.ndarray]] | None = None
        self._best_owner: Callback | None = None  # who decides the best epoch (claim_best)
        # The state at the end of the last completed epoch: what checkpoints hold and what
        self._epoch_state: dict[str, Any] | None = None  # a validation overflow falls back to

    @property
    def _integer_targets(self) -> bool:
        """Class-index targets stay integers (CrossEntropy); others are cast to the dtype."""
        return isinstance(self.loss, CrossEntropy)

    def reset_states(self) -> None:
        """Forget the states carried between batches (stateful training and TBPTT)."""
        for layer in self.model.state_carriers():
            layer.reset_states()

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: np.ndarray | tuple[np.ndarray, ...] | dict[str, np.ndarray],
        y: np.ndarray,
        *,
        validation_data: tuple[Any, ...] | None = None,
        validation_split: float = 0.0,
        mask: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
        resume: bool = False,
    ) -> History:
        """Train until ``epochs`` epochs are done or a callback stops it.

        Parameters
        ----------
        x : ndarray, shape (N, T, D) (or whatever the model takes), or a tuple or dict of arrays
            Several inputs (a model of several inputs, e.g. ``(src, src_lengths, tgt_in,
            tgt_lengths)``): every member has the same first axis N; they are shuffled
            and batched together (with ``y``, ``mask`` and ``sample_weight``) and the
            model's ``forward`` gets the same structure per batch. Floating members are
            cast to the model's dtype; integer members (ids, lengths) and bool ones are
            kept. A member whose N differs is refused, naming it, before training.
        y : ndarray, shape (N, ...) matching the model's output (many-to-one
            (N, F) or many-to-many (N, T, F); integer classes for CrossEntropy)
        validation_data : (x_val, y_val) or (x_val, y_val, lengths_val), optional
            Evaluated after every epoch in eval mode; gives ``val_loss``. With several
            inputs: ``(x_val, y_val)`` or ``(x_val, y_val, mask_val)``, ``x_val`` of the
            training ``x``'s structure and ``mask_val`` the validation loss mask.
        validation_split : float in [0, 1)
            Without ``validation_data``: hold out this fraction of the samples
            (the last ones, before any shuffling, as Keras does).
        mask : ndarray of bool or 0/1, shape (N,) or (N, T), optional
            Loss mask (e.g. padded steps); derived from ``lengths`` for
            per-step targets when omitted. For several inputs, padded target
            steps are excluded with it (e.g. ``sequence_mask(tgt_lengths, T)``);
            with ``validation_split`` it is split with the samples.
        lengths : ndarray of int, shape (N,), optional
            Valid steps per sequence, passed to the model (recurrent layers
            and ``LastStep`` honour them). Single-array ``x`` only: a model of
            several inputs takes its lengths as members of ``x``.
        sample_weight : ndarray, shape (N,), optional
            Finite non-negative loss weight per training sample (Keras's
            ``sample_weight``; e.g. class weights ``w[y]``): a weighted mean.
        resume : bool
            Continue from ``checkpoint_path`` if that file exists.

        Returns
        -------
        History
            Also kept as ``self.history``.

        Raises
        ------
        TrainingDivergedError
            A loss, gradient, weight or validation loss became NaN/Inf; the
            weights are those before the failing step (for validation: those
            of the end of the previous epoch).
        """
        train, val = prep.prepare_data(self, x, y, validation_data, validation_split, mask, lengths,
                                        sample_weight)
        if not isinstance(resume, (bool, np.bool_)):
            raise TypeError(f"resume must be a bool, got {type(resume).__name__}")
        n = prep.n_samples(train[0])
        self.steps_per_epoch = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        self.history, self.stop_training, self.interrupted, self.epoch = History(), False, False, 0
        self._best, self._best_owner = None, None
        for cb in self.callbacks:
            cb.set_solver(self)
        for cb in self.callbacks:
            cb.on_train_begin({})
        if resume and self.checkpoint_path is not None and os.path.exists(self.checkpoint_path):
            from minirnn.train.checkpoint import load_checkpoint

            load_checkpoint(self.checkpoint_path, self)
        self._epoch_state = self.state_dict()
        for layer in self.model.state_carriers():
            layer.stateful = self.stateful or self.tbptt is not None
        from minirnn.train.threads import thread_policy

        try:
            # BLAS threads for this model, restored when fit ends. Decided from one
            # sample's step, as when a fit's first forward (its one-sample data check)
            # decided: one BLAS thread unless that step alone is large (docs/performance.md).
            with thread_policy(self.model, 1):
                self._run_epochs(train, val)
        except KeyboardInterrupt:
            self._on_interrupt()
        except TrainingDivergedError:
            self._write_checkpoint()  # the last good epoch, to resume with other settings
            raise
        finally:
            for layer in self.model.state_carriers():
                layer.stateful = False
                layer.reset_states()
            for cb in self.callbacks:
                cb.on_train_end({"interrupted": self.interrupted})
        self._write_checkpoint()
        return self.history

    def _run_epochs(self, train: tuple[Any, ...], val: tuple[Any, ...] | None) -> None:
        """The epoch loop; after each epoch the state is kept (and checkpointed if due)."""
        while self.epoch < self.epochs and not self.stop_training:
            epoch = self.epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(epoch, {})
            logs = self._train_epoch(*train)
            if val is not None:
                logs.update({f"val_{k}": v for k, v in self._validate(val, epoch).items()})
            self.history.append(epoch, logs)
            self._track_best(logs)
            for cb in self.callbacks:
                cb.on_epoch_end(epoch, logs)
            self.epoch = epoch + 1
            self._epoch_state = self.state_dict()
            if self.epoch % self.checkpoint_every == 0:
                self._write_checkpoint()

    def _validate(self, val: tuple[Any, ...], epoch: int) -> dict[str, float]:
        """Validation loss and metrics; an overflow there is a divergence as in training."""
        try:
            scores = self.evaluate(val[0], val[1], lengths=val[2], mask=val[3],
                                   return_dict=True)
            value = scores["loss"]
            problem = None if math.isfinite(value) else f"validation loss became {value}"
        except FloatingPointError as exc:
            problem = str(exc)
        if problem is None:
            return scores
        assert self._epoch_state is not None
        self.model.load_state_dict(self._epoch_state["model"])
        self.optimizer.load_state_dict(self._epoch_state["optimizer"])
        raise TrainingDivergedError(
            f"{problem} at epoch {epoch + 1} (validation); training stopped with the weights "
            "from the end of the previous epoch (try a lower learning rate or clip_norm)",
            self.history)

    def _on_interrupt(self) -> None:
        """Ctrl-C: stop, and give the model the best epoch's weights so far."""
        self.interrupted = True
        self.stop_training = True
        if self._best is not None:
            self.model.load_state_dict(self._best[1])

    def _write_checkpoint(self) -> None:
        if self.checkpoint_path is not None and self._epoch_state is not None:
            from minirnn.train.checkpoint import write_checkpoint

            write_checkpoint(self.checkpoint_path, self._epoch_state, self.model)

    # ---------------------------------------------------------- best weights
    def _track_best(self, logs: dict[str, float]) -> None:
        """Default rule (no callback claimed the best weights): lowest val_loss, else loss."""
        key = "val_loss" if "val_loss" in logs else "loss"
        if self._best_owner is None and (self._best is None or logs[key] < self._best[0]):
            self.record_best(logs[key])

    def claim_best(self, owner: Callback) -> None:
        """Let ``owner`` (EarlyStopping with ``restore_best_weights``) decide which epoch
        is best: the Solver keeps the one copy of those weights (:attr:`best_weights`)."""
        if self._best_owner is not None and self._best_owner is not owner \
                and self._best_owner in self.callbacks:
            raise ValueError("two callbacks restore best weights by different rules; keep "
                             "restore_best_weights=True on one of them")
        self._best_owner = owner

    def record_best(self, value: float) -> None:
        """The current weights are the best so far (their monitored ``value``)."""
        self._best = (float(value), self.model.state_dict())

    @property
    def best_weights(self) -> dict[str, np.ndarray] | None:
        """The best epoch's weights (restored on Ctrl-C and by early stopping)."""
        return None if self._best is None else self._best[1]

    @property
    def best(self) -> tuple[float, dict[str, np.ndarray]] | None:
        """The best epoch so far as ``(monitored value, weights)``, or None before one.

        Read-only (the weights are the Solver's own copy: do not modify them); it changes
        through :meth:`record_best` and :meth:`restore_best`.
        """
        return self._best

    def restore_best(self, best: tuple[float, dict[str, np.ndarray]] | None) -> None:
        """Set the best epoch from a saved ``(value, weights)`` (or None), as
        :meth:`load_state_dict` does; ``weights`` must match the model (checked first)."""
        if best is None:
            self._best = None
            return
        value, weights = best
        self._best = (float(value), check_weights(self.model, weights, "best weights"))

    # ---------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training exactly (copies; JSON values and ndarrays).

        Keys: ``model`` (weights), ``optimizer``, ``epoch``, ``stop_training``,
        ``history``, ``generators`` (bit-generator states of the shuffling and of
        every dropout layer), ``callbacks`` (one ``{"class", "state"}`` per
        callback that keeps state) and ``best`` (the best epoch's loss and
        weights, restored on Ctrl-C).
        """
        return solver_state(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`. Everything is checked first: on any problem a
        ``ValueError`` or ``TypeError`` is raised and the model, optimizer, generators,
        callbacks and solver are exactly as before."""
        load_solver_state(self, state)

    # --------------------------------------------------------------- epochs
    def _batches(self, n: int) -> list[np.ndarray]:
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        batches = [order[i:i + self.batch_size] for i in range(0, n, self.batch_size)]
        if self.drop_last and len(batches[-1]) < self.batch_size:
            batches.pop()
        if not batches:
            raise ValueError(f"no full batch: {n} samples with batch_size {self.batch_size} "
                             "and drop_last=True")
        return batches

    def _train_epoch(self, x: prep.Inputs, y: np.ndarray, mask: np.ndarray | None,
                     lengths: np.ndarray | None, weight: np.ndarray | None = None
                     ) -> dict[str, float]:
        start = time.perf_counter()
        loss_sum = 0.0
        norms: list[float] = []
        param_norms: dict[str, list[float]] = {}
        seen = 0
        if self.stateful:
            self.reset_states()
        for metric in self.metrics:
            metric.reset()
        for batch, idx in enumerate(self._batches(prep.n_samples(x))):
            xb, yb = prep.take(x, idx), y[idx]
            mb = None if mask is None else mask[idx]
            lb = None if lengths is None else lengths[idx]
            wb = None if weight is None else weight[idx]
            if self.tbptt is not None:
                assert isinstance(xb, np.ndarray)  # prepare_data refuses tbptt otherwise
                loss, norm = self._tbptt_batch(xb, yb, mb, lb, batch, param_norms, wb)
            else:
                loss, norm = self._step(xb, yb, mb, lb, batch, param_norms, wb=wb)
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

    def _forward(self, xb: prep.Inputs, lb: np.ndarray | None, training: bool) -> np.ndarray:
        if lb is not None:
            if not self.model.accepts_lengths:
                raise TypeError(f"{type(self.model).__name__} does not take lengths")
            return self.model.forward(xb, training=training,  # type: ignore[call-arg,arg-type]
                                      lengths=lb)
        return self.model.forward(xb, training=training)  # type: ignore[arg-type]

    def _step(self, xb: prep.Inputs, yb: np.ndarray, mb: np.ndarray | None,
              lb: np.ndarray | None, batch: int, param_norms: dict[str, list[float]],
              loss_mask: np.ndarray | None = None, *, wb: np.ndarray | None = None
              ) -> tuple[float, float]:
        """One update: forward, loss, backward, checks, clipping, optimizer step."""
        self.optimizer.zero_grad()
        try:
            pred = self._forward(xb, lb, training=True)
        except FloatingPointError as exc:
            raise self._diverged(str(exc), batch) from exc
        full_mask = mb if loss_mask is None else (loss_mask if mb is None else mb * loss_mask)
        loss = self.loss.forward(pred, yb, full_mask, sample_weight=wb)
        for metric in self.metrics:  # on training-mode predictions, as Keras does
            metric.update(pred, yb, full_mask)
        if not np.isfinite(loss):
            raise self._diverged(f"loss became {loss}", batch)
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
            raise self._diverged(f"gradient became NaN/Inf in {bad}", batch)
        if self.record_param_norms:
            for (name, _), sq in zip(named, squares, strict=True):
                param_norms.setdefault(name, []).append(math.sqrt(sq))
        params = [p for _, p in named]
        if self.clip_norm is not None:
            clip_grad_norm(params, self.clip_norm, norm=norm)
        if self.clip_value is not None:
            clip_grad_value(params, self.clip_value)
        self._guarded_step(batch)
        return loss, norm

    def _guarded_step(self, batch: int) -> None:
        """``optimizer.step()``, undone (weights and optimizer state) if a weight became
        NaN/Inf, so "the weights from before this batch" is true for every optimizer."""
        before = [p.data.copy() for p in self.optimizer.params]
        opt_state = self.optimizer.state_dict()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # checked right after
                self.optimizer.step()
            bad = [i for i, p in enumerate(self.optimizer.params)
                   if not np.isfinite(p.data).all()]
        except FloatingPointError:  # under np.errstate(over="raise")
            bad = list(range(len(self.optimizer.params)))
        if not bad:
            return
        for p, data in zip(self.optimizer.params, before, strict=True):
            p.data[...] = data
        self.optimizer.load_state_dict(opt_state)
        names = {id(p): n for n, p in self.model.named_parameters()}
        bad_names = [names.get(id(self.optimizer.params[i]), i) for i in bad]
        raise self._diverged(f"the update made {bad_names} NaN/Inf", batch)

    def _diverged(self, what: str, batch: int) -> TrainingDivergedError:
        return TrainingDivergedError(
            f"{what} at epoch {self.epoch + 1}, batch {batch + 1}; training stopped with the "
            "weights from before this batch (try a lower learning rate or clip_norm)",
            self.history)

    def _tbptt_batch(self, xb: np.ndarray, yb: np.ndarray, mb: np.ndarray | None,
                     lb: np.ndarray | None, batch: int, param_norms: dict[str, list[float]],
                     wb: np.ndarray | None = None) -> tuple[float, float]:
        """Truncated BPTT over one batch: updates every k1 steps through the last k2 steps."""
        assert self.tbptt is not None
        k1, k2 = self.tbptt
        steps = xb.shape[1]
        layers = self.model.state_carriers()
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
                                        param_norms, loss_mask=fresh, wb=wb)
                losses.append(loss)
                norms.append(norm)
                weights.append(end - counted)
            saved[end] = [layer.carried_state for layer in layers]
            counted = end
        if not losses:
            raise ValueError(f"batch {batch + 1}: the mask selects no step")
        return float(np.average(losses, weights=weights)), float(np.mean(norms))

    # ------------------------------------------------------------- evaluate
    def evaluate(self, x: np.ndarray | tuple[np.ndarray, ...] | dict[str, np.ndarray],
                 y: np.ndarray, *, lengths: np.ndarray | None = None,
                 mask: np.ndarray | None = None, return_dict: bool = False) -> Any:
        """Mean loss over ``(x, y)`` in eval mode, weighted by batch size.

        ``x`` is one array or, for a model of several inputs, a tuple or dict of arrays
        (as in :meth:`fit`; ``lengths`` then stays None and ``mask`` excludes padded
        target steps). With ``return_dict=True`` (Keras's argument):
        ``{"loss": ..., <metric>: ...}`` with every metric of the Solver's ``metrics``.
        """
        x, y = prep.as_data(x, y, self.model.dtype, "evaluation", self._integer_targets)
        n = prep.n_samples(x)
        if isinstance(x, np.ndarray):
            lengths = prep.as_lengths(lengths, n, x.shape[1] if x.ndim == 3 else None,
                                      "evaluation")
            mask = prep.make_mask(mask, lengths, x, y)
            check_data(self.model, x, y, self.loss, lengths=lengths, what="evaluation")
        else:
            if lengths is not None:
                raise TypeError("lengths= is for a single input array; a model with several "
                                "inputs reads its lengths from x (pass a loss mask as mask=)")
            mask = prep.make_mask(mask, None, x, y)
            prep.check_inputs_fit(self.model, x, y, self.loss, what="evaluation")
        total = 0.0
        for metric in self.metrics:
            metric.reset()
        for begin in range(0, n, self.batch_size):
            sl = slice(begin, begin + self.batch_size)
            pred = self._forward(prep.take(x, sl), None if lengths is None else lengths[sl],
                                 False)
            mb = None if mask is None else mask[sl]
            total += self.loss.forward(pred, y[sl], mb) * len(pred)
            for metric in self.metrics:
                metric.update(pred, y[sl], mb)
        if not return_dict:
            return total / n
        return {"loss": total / n, **{m.name: m.result() for m in self.metrics}}

    def predict(self, x: np.ndarray | tuple[np.ndarray, ...] | dict[str, np.ndarray], *,
                lengths: np.ndarray | None = None) -> np.ndarray:
        """Model outputs in eval mode, computed in batches of ``batch_size``.

        ``x`` is one array or, for a model of several inputs, a tuple or dict of arrays
        with the same first axis N (as in :meth:`fit`; no ``lengths`` then).
        """
        if prep.is_structured(x):
            if lengths is not None:
                raise TypeError("lengths= is for a single input array; a model with several "
                                "inputs reads its lengths from x")
            xs = prep.as_inputs(x, self.model.dtype, "predict")
            prep.check_inputs_fit(self.model, xs, what="predict:")
            n = prep.n_samples(xs)
            return np.concatenate([self._forward(prep.take(xs, slice(b, b + self.batch_size)),
                                                 None, False)
                                   for b in range(0, n, self.batch_size)], axis=0)
        x = prep.as_array(x, "x").astype(self.model.dtype, copy=False)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("x contains NaN or Inf")
        lengths = prep.as_lengths(lengths, x.shape[0], x.shape[1] if x.ndim == 3 else None, "x")
        check_data(self.model, x, lengths=lengths, what="predict:")
        parts = [self._forward(x[b:b + self.batch_size],
                               None if lengths is None else lengths[b:b + self.batch_size], False)
                 for b in range(0, x.shape[0], self.batch_size)]
        return np.concatenate(parts, axis=0)

    # ---------------------------------------------------------- checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Write the current training state (:meth:`state_dict`) to ``path`` atomically."""
        from minirnn.train.checkpoint import save_checkpoint

        save_checkpoint(path, self)
