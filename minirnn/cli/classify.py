"""``minirnn train classify``: sequence classification on UEA/UCR ``.ts`` (or CSV) files
(argument parsing over the ``classify`` task, :mod:`minirnn.apps.tasks.classify`)."""

from __future__ import annotations

import argparse
from typing import Any

from minirnn.apps.tasks import ClassifyConfig
from minirnn.apps.tasks.classify import ADAM_LR
from minirnn.cli._common import (
    UsageError,
    add_common,
    parse_number,
    positive_int,
    refuse_options,
    train_task,
)
from minirnn.cli.datasets import apply_dataset, dataset_option
from minirnn.train.callbacks import Callback, EpochLine, ProgressBar

__all__ = ["add_parser"]

#: The columns of the per-epoch line of a classifier (accuracy next to the loss).
EPOCH_COLUMNS = [("loss", "loss", ".4f"), ("accuracy", "accuracy", ".3f"),
                 ("val_loss", "val_loss", ".4f"), ("val_accuracy", "val_accuracy", ".3f")]


def _unit_fraction(text: str) -> float:
    """A number in [0, 1] (--neighbors, --dtw-window)."""
    return float(parse_number(text, float, lambda v: 0.0 <= v <= 1.0, "between 0 and 1"))


def _distances(text: str) -> str:
    kinds = [k.strip() for k in text.split(",")]
    if not kinds or any(k not in ("euclidean", "dtw", "ddtw") for k in kinds) or \
            len(set(kinds)) != len(kinds):
        raise argparse.ArgumentTypeError(f"expected euclidean, dtw, ddtw or several joined by "
                                         f"commas, got {text!r}")
    return ",".join(kinds)


def _pooling(text: str) -> str:
    modes = [m.strip() for m in text.split(",")]
    allowed = ("mean", "mean_max", "max", "last")
    if not all(m in allowed for m in modes):
        raise argparse.ArgumentTypeError(f"expected one of {allowed} or several joined by "
                                         f"commas, got {text!r}")
    return ",".join(modes)


def train_classify(args: argparse.Namespace) -> int:
    refuse_options(args, "train classify", "--grad-flow", "--init-from", "--resume")
    apply_dataset(args, "classify", "train", "test")
    if not (args.train and args.test):
        raise UsageError("--train FILE and --test FILE (or --dataset NAME, see 'minirnn "
                         "datasets') are required")
    # One summary line per ensemble member (the task prints it); every epoch on request.
    callbacks: list[Callback] = [EpochLine(EPOCH_COLUMNS)] if args.epoch_lines else []
    if args.progress:
        callbacks.append(ProgressBar(every_batches=100, epoch_summary=False))
    train_task(args, callbacks)
    return 0


def add_parser(tasks: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """Add ``classify`` to the ``minirnn train`` subparsers."""
    parser = tasks.add_parser(
        "classify", formatter_class=fmt,
        help="classify sequences of a UEA/UCR .ts (or CSV) training/test pair",
        description="Train a recurrent classifier on --train and report its accuracy on "
                    "--test next to the majority-class, 1-NN Euclidean and 1-NN DTW "
                    "baselines on the same split.")
    add_common(parser, "classify", default_lrs={"adam": ADAM_LR})
    d = ClassifyConfig.defaults()
    parser.set_defaults(bidirectional=d["bidirectional"])
    parser.add_argument("--unidirectional", dest="bidirectional", action="store_false",
                        help="read the sequences forwards only (default: bidirectional)")
    parser.add_argument("--train", default=None, help="training file (.ts, or .csv/.tsv one "
                        "series a row; required unless --dataset)")
    parser.add_argument("--test", default=None, help="test file, same format (required "
                        "unless --dataset)")
    dataset_option(parser, "classify", "--train/--test")
    parser.add_argument("--label-column", default=d["label_column"],
                        help="CSV only: label column (0-based index, -1 for the last, or a "
                             "header name); 'minirnn predict' uses the same unless --column "
                             "(--column none: a file without labels)")
    parser.add_argument("--znorm", action="store_true",
                        help="z-normalise every series on its own (removes offset and scale)")
    parser.add_argument("--pooling", type=_pooling, default=d["pooling"],
                        help="summary of the hidden states over valid steps: mean, mean_max, "
                             "max, last, or several joined by commas (ensemble member k uses "
                             "the k-th)")
    parser.add_argument("--refit", action=argparse.BooleanOptionalAction, default=d["refit"],
                        help="after early stopping picks the epochs, retrain each member on "
                             "the whole training file for that many")
    parser.add_argument("--ensemble", type=positive_int, default=d["ensemble"],
                        help="members (seeds, validation splits, poolings) whose "
                             "probabilities are averaged")
    parser.add_argument("--derivative", choices=["auto", "yes", "no"], default=d["derivative"],
                        help="also feed the first difference of every dimension (auto: for "
                             "univariate series)")
    parser.add_argument("--neighbors", type=_unit_fraction, default=d["neighbors"],
                        metavar="WEIGHT",
                        help="weight of nearest-neighbour evidence (distances to the training "
                             "series) with --blend fixed; 0: no neighbour evidence")
    parser.add_argument("--neighbor-distances", type=_distances, default=d["neighbor_distances"],
                        help="distances of the nearest-neighbour evidence, their shares "
                             "chosen on leave-one-out (ddtw: DTW of the first differences)")
    parser.add_argument("--dtw-window", type=_unit_fraction, default=d["dtw_window"],
                        help="a DTW band always tried (fraction of the series length) beside "
                             "0-100 %%; the band with the best leave-one-out accuracy is used")
    parser.add_argument("--max-steps", type=positive_int, default=d["max_steps"],
                        help="average groups of steps so that no series is longer than this")
    parser.add_argument("--dropout", type=float, default=d["dropout"],
                        help="dropout before the output layer")
    parser.add_argument("--validation-fraction", type=float, default=d["validation_fraction"],
                        help="stratified share of the training file held out for early "
                             "stopping")
    parser.add_argument("--class-weight", choices=["none", "balanced"], default=d["class_weight"],
                        help="weight the loss by inverse class frequency")
    parser.add_argument("--missing", choices=["interpolate", "error"], default=d["missing"],
                        help="missing values ('?'): interpolate in time, or stop")
    parser.add_argument("--dtw", choices=["auto", "yes", "no"], default=d["dtw"],
                        help="compute the 1-NN DTW baseline (auto: when it takes seconds)")
    parser.add_argument("--rocket", choices=["auto", "no"], default=d["rocket"],
                        help="compute the MiniRocket baseline (auto: when aeon, the rocket "
                             "extra, is installed)")
    parser.add_argument("--rocket-member", choices=["auto", "yes", "no"],
                        default=d["rocket_member"],
                        help="a MiniRocket member (convolution features and a ridge "
                             "classifier) in the blend (auto: when aeon is installed)")
    parser.add_argument("--blend", choices=["auto", "fixed"], default=d["blend"],
                        help="auto: weights of network, neighbours and MiniRocket member "
                             "chosen by log loss on training series each did not learn from; "
                             "fixed: network 1 - WEIGHT, neighbours --neighbors WEIGHT")
    parser.add_argument("--downsample", default=d["downsample"],
                        choices=["patch,mean", "mean,patch", "patch", "mean"],
                        help="series longer than --max-steps: groups of steps averaged "
                             "(mean) or side by side as features (patch); with both, "
                             "ensemble member k uses the k-th")
    parser.add_argument("--epoch-lines", action="store_true",
                        help="print a line per epoch (default: one line per ensemble member)")
    parser.add_argument("--quiet-epochs", action="store_true",
                        help="no line per epoch (the default; kept for old scripts)")
    parser.set_defaults(run=train_classify)
