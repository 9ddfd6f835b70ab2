"""The ``minirnn`` command: ``minirnn train adding [options]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np

from minirnn.callbacks import Callback, EarlyStopping
from minirnn.data.adding import ADDING_BASELINE_MSE, adding_problem
from minirnn.layers import GRU, LSTM, RNN, Dense, LastStep, Recurrent
from minirnn.model import Sequential
from minirnn.optim import Adam
from minirnn.solver import Solver, TrainingDivergedError

__all__ = ["build_adding_model", "main"]

_CELLS: dict[str, Callable[..., Recurrent]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
# Adam learning rates that train reliably at the default size (see README).
_DEFAULT_LR = {"lstm": 3e-3, "gru": 3e-3, "rnn": 1e-3}


def build_adding_model(cell: str, hidden_size: int, *, dtype: np.dtype | type = np.float32,
                       seed: int | None = None) -> Sequential:
    """Recurrent layer -> last step -> Dense(H, 1): a many-to-one regressor."""
    rng = np.random.default_rng(seed)
    return Sequential(
        _CELLS[cell](2, hidden_size, dtype=dtype, seed=rng),
        LastStep(),
        Dense(hidden_size, 1, dtype=dtype, seed=rng),
    )


class _EpochLine(Callback):
    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        print(f"epoch {epoch + 1:3d}/{self.solver.epochs}  train MSE {logs['loss']:.5f}  "
              f"val MSE {logs['val_loss']:.5f}  grad norm {logs['grad_norm']:.3f}  "
              f"{time.perf_counter() - self._t0:.1f}s", flush=True)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minirnn", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model on a built-in task")
    tasks = train.add_subparsers(dest="task", required=True)
    adding = tasks.add_parser(
        "adding", help="the adding problem (Le, Jaitly & Hinton 2015)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    adding.add_argument("--cell", choices=sorted(_CELLS), default="lstm",
                        help="recurrent layer")
    adding.add_argument("--hidden-size", type=_positive_int, default=64, help="units H")
    adding.add_argument("--seq-len", type=_positive_int, default=50, help="sequence length T")
    adding.add_argument("--train-size", type=_positive_int, default=10000,
                        help="training sequences (validation and test sets are drawn apart)")
    adding.add_argument("--test-size", type=_positive_int, default=2000, help="test sequences")
    adding.add_argument("--epochs", type=_positive_int, default=10, help="maximum epochs")
    adding.add_argument("--batch-size", type=_positive_int, default=32, help="mini-batch size")
    adding.add_argument("--lr", type=_positive_float, default=argparse.SUPPRESS,
                        help="Adam learning rate (default: {})".format(", ".join(
                            f"{k} {v:g}" for k, v in sorted(_DEFAULT_LR.items()))))
    adding.add_argument("--clip-norm", type=_positive_float, default=1.0,
                        help="clip the global gradient norm to this")
    adding.add_argument("--patience", type=_positive_int, default=5,
                        help="early stopping: epochs without validation improvement; "
                             "the best epoch's weights are kept")
    adding.add_argument("--seed", type=int, default=0, help="seed of data, weights, shuffling")
    adding.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="floating dtype of model and data")
    return parser


def _train_adding(args: argparse.Namespace) -> int:
    if args.seq_len < 2:
        print("minirnn: error: --seq-len must be at least 2", file=sys.stderr)
        return 2
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(args.seed)
    x_train, y_train = adding_problem(args.train_size, args.seq_len, seed=rng, dtype=dtype)
    x_val, y_val = adding_problem(max(args.test_size // 2, 1), args.seq_len, seed=rng, dtype=dtype)
    x_test, y_test = adding_problem(args.test_size, args.seq_len, seed=rng, dtype=dtype)
    lr = getattr(args, "lr", _DEFAULT_LR[args.cell])
    model = build_adding_model(args.cell, args.hidden_size, dtype=dtype, seed=args.seed)
    stopper = EarlyStopping(patience=args.patience, restore_best_weights=True)
    solver = Solver(model, optimizer=Adam(model, lr=lr), batch_size=args.batch_size,
                    epochs=args.epochs, seed=args.seed, clip_norm=args.clip_norm,
                    callbacks=[_EpochLine(), stopper])
    print(f"adding problem: T={args.seq_len}, {args.train_size} training sequences; "
          f"{args.cell.upper()} with {args.hidden_size} units, Adam lr {lr:g}, "
          f"batch {args.batch_size}, {args.dtype}", flush=True)
    start = time.perf_counter()
    try:
        solver.fit(x_train, y_train, validation_data=(x_val, y_val))
    except TrainingDivergedError as exc:
        print(f"minirnn: training diverged: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # EarlyStopping.on_train_end has already restored the best weights so far.
        print("interrupted: evaluating the best weights so far", file=sys.stderr)
    if stopper.best_epoch >= 0:
        print(f"best validation MSE {stopper.best:.5f} at epoch {stopper.best_epoch + 1}; "
              "testing those weights")
    test_mse = solver.evaluate(x_test, y_test)
    always_one = float(np.mean((y_test.astype(np.float64) - 1.0) ** 2))
    verdict = "beats" if test_mse < ADDING_BASELINE_MSE else "does not beat"
    print(f"test MSE {test_mse:.5f}  vs baseline {ADDING_BASELINE_MSE} "
          f"(always predicting 1 gives {always_one:.4f} on this test set): {verdict} the "
          f"baseline  [{time.perf_counter() - start:.0f}s]")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``minirnn`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "train" and args.task == "adding":
        return _train_adding(args)
    return 2  # unreachable: argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
