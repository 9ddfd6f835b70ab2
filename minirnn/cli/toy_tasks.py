"""``minirnn train adding`` and ``minirnn train binary-addition``: the built-in toy tasks."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from minirnn.apps.data import ADDING_BASELINE_MSE, adding_problem, bin2int, binary_addition
from minirnn.cli._common import (
    CELLS,
    UsageError,
    add_common,
    finish,
    fit,
    make_solver,
    many_to_one,
    positive_int,
    task_splits,
)
from minirnn.nn.layers import Dense
from minirnn.nn.losses import MSE, BCEWithLogits
from minirnn.nn.model import Sequential

__all__ = ["add_parsers", "build_adding_model"]

# Per task: settings that train reliably at the default size (measured figures in README).
# The learning rate is the optimizer's own default unless --lr is given.
ADDING_DEFAULTS: dict[str, Any] = {
    "cell": "lstm", "hidden_size": 64, "epochs": 10, "batch_size": 32, "patience": 5}
BINARY_DEFAULTS: dict[str, Any] = {
    "cell": "rnn", "hidden_size": 16, "epochs": 60, "batch_size": 32, "patience": 10}


def build_adding_model(cell: str, hidden_size: int, *, dtype: np.dtype | type = np.float32,
                       seed: int | None = None, num_layers: int = 1,
                       bidirectional: bool = False) -> Sequential:
    """Recurrent layer -> last step -> Dense(H, 1): a many-to-one regressor on 2 inputs."""
    return many_to_one(cell, 2, hidden_size, 1, dtype=dtype, seed=seed, num_layers=num_layers,
                       bidirectional=bidirectional)


def train_adding(args: argparse.Namespace) -> int:
    if args.seq_len < 2:
        raise UsageError("--seq-len must be at least 2 (two marked positions)")
    dtype = np.dtype(args.dtype)
    (x, y), (xv, yv), (xt, yt) = task_splits(
        lambda n, **kw: adding_problem(n, args.seq_len, **kw), dtype, args)
    model = build_adding_model(args.cell, args.hidden_size, dtype=dtype, seed=args.seed,
                               num_layers=args.layers, bidirectional=args.bidirectional)
    solver, stopper = make_solver(args, model, MSE(), "MSE", args.lr)
    print(f"adding problem: T={args.seq_len}, {args.train_size} training sequences; "
          f"{args.cell.upper()} with {args.hidden_size} units, {args.optimizer} lr "
          f"{args.lr:g}, batch {args.batch_size}, {args.dtype}", flush=True)
    start = time.perf_counter()
    fit(solver, x, y, (xv, yv))
    test_mse = solver.evaluate(xt, yt)
    always_one = float(np.mean((yt.astype(np.float64) - 1.0) ** 2))
    verdict = "beats" if test_mse < ADDING_BASELINE_MSE else "does not beat"
    print(f"test MSE {test_mse:.5f}  vs baseline {ADDING_BASELINE_MSE} "
          f"(always predicting 1 gives {always_one:.4f} on this test set): {verdict} the "
          f"baseline  [{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "adding", "test_mse": test_mse, "baseline_mse": ADDING_BASELINE_MSE,
              "always_one_mse": always_one, "seconds": time.perf_counter() - start}
    finish(args, solver, stopper, report, xt[:256], yt[:256], f"adding {args.cell}",
           {"task": "adding", "seq_len": args.seq_len}, loss_label="MSE, target units²")
    return 0


def train_binary_addition(args: argparse.Namespace) -> int:
    if args.bidirectional:
        raise UsageError("--bidirectional does not apply to binary addition: the carry flows "
                         "from the least significant bit on, a causal model must learn it")
    dtype = np.dtype(args.dtype)
    (x, y), (xv, yv), (xt, yt) = task_splits(
        lambda n, **kw: binary_addition(n, args.bits, **kw), dtype, args)
    recurrent = CELLS[args.cell](2, args.hidden_size, num_layers=args.layers, dtype=dtype,
                                  seed=np.random.default_rng(args.seed))
    model = Sequential(recurrent, Dense(recurrent.output_size, 1, dtype=dtype,
                                        seed=args.seed))
    solver, stopper = make_solver(args, model, BCEWithLogits(), "BCE", args.lr)
    print(f"binary addition: {args.bits}-bit operands (least significant bit first), "
          f"{args.train_size} training pairs; {args.cell.upper()} with {args.hidden_size} "
          f"units, {args.optimizer} lr {args.lr:g}", flush=True)
    start = time.perf_counter()
    fit(solver, x, y, (xv, yv))
    bits = (solver.predict(xt) > 0).astype(np.int64)[..., 0]
    predicted, actual = bin2int(bits), bin2int(yt[..., 0])
    exact = float(np.mean(predicted == actual))
    bit_acc = float(np.mean(bits == yt[..., 0]))
    print(f"exactly right sums on {args.test_size} held-out pairs: {exact:.1%}  "
          f"(bit accuracy {bit_acc:.1%}; guessing bits gives {0.5 ** args.bits:.2%} exact)  "
          f"[{time.perf_counter() - start:.0f}s]", flush=True)
    report = {"task": "binary-addition", "exact_sums": exact, "bit_accuracy": bit_acc,
              "test_pairs": args.test_size, "seconds": time.perf_counter() - start}
    finish(args, solver, stopper, report, xt[:256], yt[:256], f"binary addition {args.cell}",
           {"task": "binary-addition", "bits": args.bits},
           loss_label="binary cross-entropy, nats per bit")
    return 0




def add_parsers(tasks: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``adding`` and ``binary-addition`` to the ``minirnn train`` subparsers."""
    adding = tasks.add_parser("adding", formatter_class=fmt,
                              help="the adding problem (Le, Jaitly & Hinton 2015)")
    add_common(adding, "adding", ADDING_DEFAULTS)
    adding.add_argument("--seq-len", type=positive_int, default=50, help="sequence length T")
    adding.add_argument("--train-size", type=positive_int, default=10000,
                        help="training sequences (validation and test sets are drawn apart)")
    adding.add_argument("--test-size", type=positive_int, default=2000, help="test sequences")
    adding.set_defaults(run=train_adding)
    binary = tasks.add_parser("binary-addition", formatter_class=fmt,
                              help="add two integers bit by bit (R rnn's trainr example)")
    add_common(binary, "binary-addition", BINARY_DEFAULTS)
    binary.add_argument("--bits", type=positive_int, default=8, help="bits per number")
    binary.add_argument("--train-size", type=positive_int, default=2000,
                        help="training pairs")
    binary.add_argument("--test-size", type=positive_int, default=1000,
                        help="held-out test pairs")
    binary.set_defaults(run=train_binary_addition)
