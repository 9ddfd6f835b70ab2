"""``minirnn train adding`` and ``minirnn train binary-addition``: the built-in toy tasks."""

from __future__ import annotations

import argparse
from typing import Any

from minirnn.apps.tasks import TASKS, AddingConfig, BinaryAdditionConfig, build_adding_model
from minirnn.cli._common import add_common, positive_int, printing_callbacks, train_task

__all__ = ["add_parsers", "build_adding_model"]


def train_toy_task(args: argparse.Namespace) -> int:
    """``minirnn train adding`` / ``binary-addition``: the task API, a line per epoch."""
    train_task(args, printing_callbacks(args, TASKS[args.task].loss_name))
    return 0


def add_parsers(tasks: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``adding`` and ``binary-addition`` to the ``minirnn train`` subparsers."""
    adding = tasks.add_parser("adding", formatter_class=fmt,
                              help="the adding problem (Le, Jaitly & Hinton 2015)")
    add_common(adding, "adding")
    d = AddingConfig.defaults()
    adding.add_argument("--seq-len", type=positive_int, default=d["seq_len"],
                        help="sequence length T")
    adding.add_argument("--train-size", type=positive_int, default=d["train_size"],
                        help="training sequences (validation and test sets are drawn apart)")
    adding.add_argument("--test-size", type=positive_int, default=d["test_size"],
                        help="test sequences")
    adding.set_defaults(run=train_toy_task)
    binary = tasks.add_parser("binary-addition", formatter_class=fmt,
                              help="add two integers bit by bit (R rnn's trainr example)")
    add_common(binary, "binary-addition")
    d = BinaryAdditionConfig.defaults()
    binary.add_argument("--bits", type=positive_int, default=d["bits"], help="bits per number")
    binary.add_argument("--train-size", type=positive_int, default=d["train_size"],
                        help="training pairs")
    binary.add_argument("--test-size", type=positive_int, default=d["test_size"],
                        help="held-out test pairs")
    binary.set_defaults(run=train_toy_task)
