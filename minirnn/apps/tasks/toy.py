"""The built-in toy tasks: the adding problem and binary addition."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.data import ADDING_BASELINE_MSE, adding_problem, bin2int, binary_addition
from minirnn.apps.recurrent import make_solver, recurrent_network
from minirnn.apps.tasks.config import CommonConfig, option
from minirnn.apps.tasks.run_folder import finish, fit, init_weights
from minirnn.nn.losses import MSE, BCEWithLogits, Loss
from minirnn.nn.model import Sequential
from minirnn.nn.registry import RECURRENT_LAYERS
from minirnn.train.callbacks import Callback, EarlyStopping, TimeLimit
from minirnn.train.solver import History, Solver

__all__ = ["AddingConfig", "BinaryAdditionConfig", "build_adding_model", "run_adding",
           "run_binary_addition"]


@dataclasses.dataclass(frozen=True)
class ToyConfig(CommonConfig):
    """The common options and those of a toy task's run: ``init_from`` starts from the
    weights of a saved model, ``resume`` continues from the run folder's checkpoint,
    ``grad_flow`` saves the norm of dL/dh_t per step after training."""

    init_from: str | None = option(None, help="a saved model.npz to start from")
    resume: bool = option(False, help="continue from the run folder's checkpoint")
    grad_flow: bool = option(False, help="save the norm of dL/dh_t per step")


@dataclasses.dataclass(frozen=True)
class AddingConfig(ToyConfig):
    """The adding problem (Le, Jaitly & Hinton 2015): sum the two marked values of a
    sequence. Defaults train reliably at the default size (measured figures in README)."""

    task = "adding"
    hidden_size: int = option(64, rule="positive", help="units H")
    epochs: int = option(10, rule="positive", help="maximum epochs")
    batch_size: int = option(32, rule="positive", help="mini-batch size")
    patience: int = option(5, rule="positive", help="early stopping patience (epochs)")
    seq_len: int = option(50, rule="positive", help="sequence length T")
    train_size: int = option(10000, rule="positive",
                             help="training sequences (validation and test sets are drawn "
                                  "apart)")
    test_size: int = option(2000, rule="positive", help="test sequences")

    def check(self) -> None:
        if self.seq_len < 2:
            raise ValueError(f"seq_len must be at least 2 (two marked positions), got "
                             f"{self.seq_len}")


@dataclasses.dataclass(frozen=True)
class BinaryAdditionConfig(ToyConfig):
    """Binary addition bit by bit (R rnn's trainr example), least significant bit first."""

    task = "binary-addition"
    cell: str = option("rnn", choices=sorted(RECURRENT_LAYERS), help="recurrent cell")
    hidden_size: int = option(16, rule="positive", help="units H")
    epochs: int = option(60, rule="positive", help="maximum epochs")
    batch_size: int = option(32, rule="positive", help="mini-batch size")
    patience: int = option(10, rule="positive", help="early stopping patience (epochs)")
    bits: int = option(8, rule="positive", help="bits per number")
    train_size: int = option(2000, rule="positive", help="training pairs")
    test_size: int = option(1000, rule="positive", help="held-out test pairs")

    def check(self) -> None:
        if self.bidirectional:
            raise ValueError("bidirectional does not apply to binary addition: the carry "
                             "flows from the least significant bit on, a causal model must "
                             "learn it")


def build_adding_model(cell: str, hidden_size: int, *, dtype: np.dtype | type = np.float32,
                       seed: int | None = None, num_layers: int = 1,
                       bidirectional: bool = False) -> Sequential:
    """Recurrent layer -> last step -> Dense(H, 1): a many-to-one regressor on 2 inputs."""
    return recurrent_network(cell, 2, hidden_size, 1, dtype=dtype, seed=seed,
                             num_layers=num_layers, bidirectional=bidirectional)


def task_splits(make: Callable[..., tuple[np.ndarray, np.ndarray]], dtype: np.dtype,
                config: AddingConfig | BinaryAdditionConfig
                ) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Training, validation (half the test size) and test sets from one seeded generator.

    ``make(n, seed=rng, dtype=dtype)`` draws n samples of a built-in task.
    """
    rng = np.random.default_rng(config.seed)
    sizes = (config.train_size, max(config.test_size // 2, 1), config.test_size)
    return tuple(make(n, seed=rng, dtype=dtype) for n in sizes)


def _solver(config: ToyConfig, model: Sequential, loss: Loss, folder: Path,
            callbacks: Sequence[Callback]) -> tuple[Solver, EarlyStopping]:
    """The Solver of a toy task: the caller's callbacks, early stopping, the time limit; a
    checkpoint in the run folder every epoch (``resume`` continues from it)."""
    if config.init_from:
        init_weights(model, config.init_from)
    stopper = EarlyStopping(patience=config.patience, restore_best_weights=True)
    limit = [TimeLimit(config.time_limit, verbose=True)] if config.time_limit else []
    checkpoint = folder / "checkpoint.npz"
    if not config.resume:
        checkpoint.unlink(missing_ok=True)  # a stale checkpoint must not be resumed
    solver = make_solver(model, loss, optimizer=config.optimizer, lr=config.lr,
                         batch_size=config.batch_size, epochs=config.epochs, seed=config.seed,
                         clip_norm=config.clip_norm,
                         callbacks=[*callbacks, stopper, *limit], checkpoint_path=checkpoint)
    return solver, stopper


def run_adding(config: AddingConfig, folder: Path, callbacks: Sequence[Callback],
               record: Callable[[dict[str, Any]], dict[str, Any]]
                        ) -> tuple[dict[str, Any], History]:
    """Train and test the adding problem; returns the report (also in report.json) and the
    history."""
    dtype = np.dtype(config.dtype)
    (x, y), (xv, yv), (xt, yt) = task_splits(
        lambda n, **kw: adding_problem(n, config.seq_len, **kw), dtype, config)
    model = build_adding_model(config.cell, config.hidden_size, dtype=dtype, seed=config.seed,
                               num_layers=config.layers, bidirectional=config.bidirectional)
    solver, stopper = _solver(config, model, MSE(), folder, callbacks)
    lr = solver.optimizer.lr
    run = record({"lr": lr})
    print(f"adding problem: T={config.seq_len}, {config.train_size} training sequences; "
          f"{config.cell.upper()} with {config.hidden_size} units, {config.optimizer} lr "
          f"{lr:g}, batch {config.batch_size}, {config.dtype}", flush=True)
    start = time.perf_counter()
    fit(solver, x, y, (xv, yv), folder, run)
    test_mse = solver.evaluate(xt, yt)
    always_one = float(np.mean((yt.astype(np.float64) - 1.0) ** 2))
    verdict = "beats" if test_mse < ADDING_BASELINE_MSE else "does not beat"
    print(f"test MSE {test_mse:.5f}  vs baseline {ADDING_BASELINE_MSE} "
          f"(always predicting 1 gives {always_one:.4f} on this test set): {verdict} the "
          f"baseline  [{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "adding", "test_mse": test_mse, "baseline_mse": ADDING_BASELINE_MSE,
              "always_one_mse": always_one, "seconds": time.perf_counter() - start}
    return finish(config, folder, run, solver, stopper, report, xt[:256], yt[:256],
                  f"adding {config.cell}", {"task": "adding", "seq_len": config.seq_len},
                  loss_label="MSE, target units²"), solver.history


def run_binary_addition(config: BinaryAdditionConfig, folder: Path,
                        callbacks: Sequence[Callback],
                        record: Callable[[dict[str, Any]], dict[str, Any]]
                        ) -> tuple[dict[str, Any], History]:
    """Train and test binary addition; returns the report (also in report.json) and the
    history."""
    dtype = np.dtype(config.dtype)
    (x, y), (xv, yv), (xt, yt) = task_splits(
        lambda n, **kw: binary_addition(n, config.bits, **kw), dtype, config)
    model = recurrent_network(config.cell, 2, config.hidden_size, 1, read_out="every step",
                              num_layers=config.layers, dtype=dtype, seed=config.seed)
    solver, stopper = _solver(config, model, BCEWithLogits(), folder, callbacks)
    lr = solver.optimizer.lr
    run = record({"lr": lr})
    print(f"binary addition: {config.bits}-bit operands (least significant bit first), "
          f"{config.train_size} training pairs; {config.cell.upper()} with "
          f"{config.hidden_size} units, {config.optimizer} lr {lr:g}", flush=True)
    start = time.perf_counter()
    fit(solver, x, y, (xv, yv), folder, run)
    bits = (solver.predict(xt) > 0).astype(np.int64)[..., 0]
    predicted, actual = bin2int(bits), bin2int(yt[..., 0])
    exact = float(np.mean(predicted == actual))
    bit_acc = float(np.mean(bits == yt[..., 0]))
    print(f"exactly right sums on {config.test_size} held-out pairs: {exact:.1%}  "
          f"(bit accuracy {bit_acc:.1%}; guessing bits gives {0.5 ** config.bits:.2%} exact)"
          f"  [{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "binary-addition", "exact_sums": exact, "bit_accuracy": bit_acc,
              "test_pairs": config.test_size, "seconds": time.perf_counter() - start}
    return finish(config, folder, run, solver, stopper, report, xt[:256], yt[:256],
                  f"binary addition {config.cell}",
                  {"task": "binary-addition", "bits": config.bits},
                  loss_label="binary cross-entropy, nats per bit"), solver.history
