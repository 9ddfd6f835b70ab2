"""``minirnn train seq2seq`` (an encoder-decoder with attention on tab-separated pairs) and
``minirnn translate RUN_DIR --input FILE`` (one translation a line)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from minirnn.apps.data.pairs import detokenize, tokenize
from minirnn.apps.seq2seq import decode_tokens, load_translator, translate
from minirnn.apps.tasks import config_class
from minirnn.cli._common import (
    UsageError,
    add_run_folder_options,
    nonnegative_int,
    positive_float,
    positive_int,
    train_task,
)
from minirnn.cli.datasets import apply_dataset, dataset_option
from minirnn.nn.io import ModelFileError
from minirnn.nn.seq2seq import encode_tokens

__all__ = ["add_parsers"]


def train_seq2seq(args: argparse.Namespace) -> int:
    """``minirnn train seq2seq``: the task API; the task prints a line per epoch."""
    apply_dataset(args, "seq2seq", "train", "test")
    train_task(args, [])
    return 0


def _read_lines(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--input {path}: no such file")
    try:
        return p.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise UsageError(f"--input {path}: not a UTF-8 text file ({exc.reason} at byte "
                         f"{exc.start})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def translate_file(args: argparse.Namespace) -> int:
    """``minirnn translate``: one source a line in, one translation a line out (an empty
    source line gives an empty line)."""
    folder = Path(args.run_dir)
    model_path = folder / "model.npz" if folder.is_dir() else folder
    if not model_path.is_file():
        raise UsageError(f"{args.run_dir}: no model.npz (give a run folder of 'minirnn train "
                         "seq2seq' or its model file)")
    try:
        model, meta = load_translator(model_path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    lines = _read_lines(args.input)
    kind = str(meta["tokens"])
    assert model.src_vocab is not None and model.tgt_vocab is not None
    sources = [tokenize(line.strip(), kind) for line in lines]
    present = [i for i, s in enumerate(sources) if s]
    hyps = translate(model, [encode_tokens(sources[i], model.src_vocab) for i in present],
                     beam=args.beam, max_length=int(meta["max_length"])) if present else []
    out = [""] * len(lines)
    for i, h in zip(present, hyps, strict=True):
        out[i] = detokenize(decode_tokens(h, model.tgt_vocab), kind)
    text = "".join(line + "\n" for line in out)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {len(out)} translation(s) to {args.output}", file=sys.stderr)
    return 0


def add_parsers(tasks: Any, commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """``train seq2seq`` under ``tasks`` and ``translate`` under ``commands``."""
    d = config_class("seq2seq").defaults()
    p = tasks.add_parser(
        "seq2seq", formatter_class=fmt,
        help="encoder-decoder with attention on tab-separated pairs (translation ...)",
        description="Train an encoder-decoder with attention on UTF-8 pairs, one a line: "
        "source<TAB>target[<TAB>ignored] (the Tatoeba/Anki format). Prints the test exact "
        "match and corpus BLEU (sacrebleu, pip install 'minirnn[bleu]') next to the "
        "copy-the-source and nearest-neighbour baselines.")
    # Not required by argparse, so that --resume RUN_DIR alone works (the task checks them).
    p.add_argument("--train", default=None, help="training pairs (required)")
    p.add_argument("--test", default=None, help="test pairs (required)")
    dataset_option(p, "seq2seq", "--train/--test")
    p.add_argument("--valid", default=None,
                   help="validation pairs for early stopping (default: a seeded 10%% of "
                        "--train, at most 1,000 pairs)")
    p.add_argument("--tokens", choices=["word", "char"], default=d["tokens"],
                   help="word tokens (letters/digits runs, punctuation alone) or characters")
    p.add_argument("--min-freq", type=positive_int, default=d["min_freq"],
                   help="tokens seen fewer times in --train become <unk>")
    p.add_argument("--cell", choices=["gru", "lstm", "rnn"], default=d["cell"],
                   help="encoder and decoder cell")
    p.add_argument("--layers", type=positive_int, default=d["layers"],
                   help="stacked encoder layers")
    p.add_argument("--hidden-size", type=positive_int, default=d["hidden_size"],
                   help="units H")
    p.add_argument("--embedding-dim", type=positive_int, default=d["embedding_dim"],
                   help="features per token E")
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction,
                   default=d["bidirectional"], help="bidirectional encoder")
    p.add_argument("--attention", choices=["additive", "general", "dot"],
                   default=d["attention"], help="attention score (dot needs "
                   "--no-bidirectional)")
    p.add_argument("--input-feeding", action=argparse.BooleanOptionalAction,
                   default=d["input_feeding"], help="feed the last attentional vector back")
    p.add_argument("--teacher-forcing", type=float, default=d["teacher_forcing"],
                   metavar="P", help="probability of feeding the true previous token in "
                   "training, 0-1 (below 1: scheduled sampling of the model's own tokens)")
    p.add_argument("--dropout", type=float, default=d["dropout"], metavar="P",
                   help="dropout on the decoder's attentional vector and between stacked "
                   "encoder layers, in [0, 1)")
    p.add_argument("--batch-size", type=positive_int, default=d["batch_size"],
                   help="pairs per mini-batch (batches of similar lengths)")
    p.add_argument("--lr", type=positive_float, default=d["lr"],
                   help="Adam's initial learning rate")
    p.add_argument("--lr-decay", type=float, default=d["lr_decay"], metavar="FACTOR",
                   help="multiply the learning rate by this after an epoch without a lower "
                   "validation loss, in (0, 1] (1: constant)")
    p.add_argument("--clip-norm", type=positive_float, default=d["clip_norm"],
                   help="clip the global gradient norm to this")
    p.add_argument("--epochs", type=positive_int, default=d["epochs"], help="maximum epochs")
    p.add_argument("--patience", type=positive_int, default=d["patience"],
                   help="early stopping: epochs without a lower validation loss")
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                   help="stop training cleanly after this many seconds, keeping the best "
                        "weights so far")
    p.add_argument("--beam", type=positive_int, default=d["beam"],
                   help="beam width of the test decoding (1: greedy)")
    p.add_argument("--heatmaps", type=nonnegative_int, default=d["heatmaps"],
                   help="test pairs drawn in attention.png")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of the validation split, weights and batches")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="floating type of the weights")
    p.add_argument("--no-plot", action="store_true", help="do not draw figures")
    p.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue an interrupted run in its folder, with its own options")
    add_run_folder_options(p, "seq2seq")
    p.set_defaults(run=train_seq2seq)

    t = commands.add_parser("translate", formatter_class=fmt,
                            help="translate a file with a model from 'minirnn train seq2seq'")
    t.add_argument("run_dir", metavar="RUN_DIR",
                   help="run folder (or its model.npz) of 'train seq2seq'; 'seq2seq': the "
                        "newest seq2seq run in minirnn-runs/")
    t.add_argument("--input", required=True, metavar="FILE",
                   help="UTF-8 file, one source a line")
    t.add_argument("--output", default=None, metavar="FILE",
                   help="write the translations here (default: standard output)")
    t.add_argument("--beam", type=positive_int, default=1,
                   help="beam width (1: greedy decoding)")
    t.set_defaults(run=translate_file)
