"""``minirnn train text`` (a character or word language model) and ``minirnn sample``."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

from minirnn.apps.data.text import TextError
from minirnn.apps.language_model import LanguageModel
from minirnn.apps.tasks import TextConfig
from minirnn.apps.tasks.text import SMALL_BATCH_LR, TEXT_DEFAULTS, describe_loss
from minirnn.cli._common import (
    UsageError,
    add_run_folder_options,
    nonnegative_int,
    parse_number,
    positive_float,
    positive_int,
    train_task,
)
from minirnn.cli.datasets import dataset_option
from minirnn.nn.io import ModelFileError, load_model
from minirnn.nn.registry import RECURRENT_LAYERS
from minirnn.train.callbacks import Callback, TimeLimit

__all__ = ["add_parsers"]


class TextProgress(Callback):
    """A line every ``every`` seconds and one per evaluation: tokens done of the run's total,
    running loss, speed, and the time left (to the end of the last epoch or to the time
    limit, whichever comes first)."""

    def __init__(self, unit: str, every: float = 10.0, stream: Any = None) -> None:
        self.unit = unit
        self.every = every
        self.stream = stream

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def on_train_begin(self, logs: dict[str, Any]) -> None:
        self._start = self._last = time.perf_counter()
        self._tokens = 0
        self._loss = 0.0
        self._count = 0
        solver = getattr(self, "solver", None)
        steps = getattr(solver, "steps_per_epoch", None)
        # Tokens of every planned window: epochs x windows x streams x window length.
        self.total = (int(solver.epochs) * int(steps) * int(solver.batch_size)
                      * int(solver.seq_len)) if solver is not None and steps else None
        limits = [cb.seconds for cb in getattr(solver, "callbacks", [])
                  if isinstance(cb, TimeLimit)]
        self.limit = min(limits) if limits else None
        if self.total is not None and solver is not None:
            budget = f"; stops after {_duration(self.limit)} (--time-limit)" \
                if self.limit is not None else ""
            self._print(f"training: at most {self.total:,} {self.unit}s ({solver.epochs} "
                        f"evaluations of {steps} windows){budget}")

    def eta(self, elapsed: float) -> str:
        """Time left: to the planned total at the speed so far, or to the time limit."""
        left = []
        if self.total is not None and self._tokens:
            left.append((self.total - self._tokens) * elapsed / self._tokens)
        if self.limit is not None:
            left.append(self.limit - elapsed)
        return f"ETA {_duration(max(min(left), 0.0))}" if left else ""

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self._tokens += int(logs["tokens"])
        self._loss += float(logs["loss"]) * int(logs["tokens"])
        self._count += int(logs["tokens"])
        now = time.perf_counter()
        if now - self._last >= self.every:
            elapsed = now - self._start
            done = f"{self._tokens:>10,}" + (
                f" / {self.total:,} ({self._tokens / self.total:.0%})" if self.total else "")
            self._print(f"  {elapsed:6.0f}s  {done} {self.unit}s  "
                        f"train loss {self._loss / self._count:.4f}  "
                        f"{self._tokens / elapsed:,.0f} {self.unit}s/s  {self.eta(elapsed)}"
                        .rstrip())
            self._last = now
            self._loss = 0.0
            self._count = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        elapsed = time.perf_counter() - self._start
        text = (f"eval {epoch + 1}: {elapsed:6.0f}s  train loss {logs['loss']:.4f}  "
                f"{logs['tokens_per_second']:,.0f} {self.unit}s/s")
        if "val_loss" in logs:
            text += f"  validation {describe_loss(logs['val_loss'], self.unit)}"
        eta = self.eta(elapsed)
        self._print(text + (f"  {eta}" if eta else ""))


def _duration(seconds: float | None) -> str:
    """``75`` -> ``1m15s``; ``3725`` -> ``1h02m``."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def train_text(args: argparse.Namespace) -> int:
    """``minirnn train text``: the task API, with the speed and running loss printed every
    ``--progress-every`` seconds and a line per evaluation."""
    unit = "char" if args.level == "char" else "word"
    train_task(args, [TextProgress(unit, args.progress_every)])
    return 0


def sample_text(args: argparse.Namespace) -> int:
    path = Path(args.run_dir)
    model_path = path / "model.npz" if path.is_dir() else path
    if not model_path.is_file():
        raise UsageError(f"{args.run_dir}: no model.npz (give a run folder of "
                         "'minirnn train text' or a model file)")
    try:
        model = load_model(model_path)
    except ModelFileError as exc:
        raise UsageError(str(exc)) from exc
    if not isinstance(model, LanguageModel):
        raise UsageError(f"{model_path} holds a {type(model).__name__}, not a language model "
                         "from 'minirnn train text'")
    prime = args.prime.replace("\\n", "\n")
    if model.vocab.level == "char" and args.prime:
        missing = sorted(set(prime) - set(model.vocab.tokens))
        if missing:
            raise UsageError(f"--prime contains characters outside the model's vocabulary: "
                             f"{''.join(missing)!r}")
    try:
        pieces = model.stream(prime, args.length, temperature=args.temperature,
                              top_k=args.top_k, seed=args.seed)
    except TextError as exc:
        raise UsageError(f"--prime: {exc}") from exc
    last = ""
    for piece in pieces:  # written as made: memory stays bounded, output starts at once
        sys.stdout.write(piece)
        sys.stdout.flush()
        last = piece[-1:] or last
    if last != "\n":
        sys.stdout.write("\n")
    return 0


#: Most tokens ``minirnn sample --length`` generates (about an hour at ~3,000 tokens/s).
MAX_SAMPLE_LENGTH = 10_000_000


def sample_length(text: str) -> int:
    """``--length``: a positive int of at most :data:`MAX_SAMPLE_LENGTH`."""
    return int(parse_number(text, int, lambda v: 0 < v <= MAX_SAMPLE_LENGTH,
                            f"between 1 and {MAX_SAMPLE_LENGTH:,}"))


def time_limit(text: str) -> float | None:
    """``--time-limit``: seconds, or 0 / none for no limit."""
    if text.strip().lower() in ("0", "0.0", "none", "off"):
        return None
    return positive_float(text)


def non_negative_float(text: str) -> float:
    return float(parse_number(text, float, lambda v: v >= 0 and math.isfinite(v),
                              "a finite number >= 0 (0 = greedy)"))


def probability(text: str) -> float:
    return float(parse_number(text, float, lambda v: 0.0 <= v < 1.0, "in [0, 1)"))


def add_parsers(tasks: Any, commands: Any, fmt: type[argparse.HelpFormatter]) -> None:
    """``train text`` under ``tasks`` and ``sample`` under ``commands``."""
    d = TEXT_DEFAULTS
    p = tasks.add_parser("text", formatter_class=fmt,
                         help="character (or word) language model on a UTF-8 text file",
                         description="Train a language model on a UTF-8 text (the last 10%% "
                         "is the validation span); prints the validation loss in nats and "
                         "bits per character (per word and perplexity with --level word).")
    p.add_argument("--file", default=None, help="UTF-8 text file (required unless --dataset)")
    dataset_option(p, "text", "--file")
    p.add_argument("--level", choices=["char", "word"], default="char",
                   help="tokens: characters, or whitespace-separated words (lines end with "
                        "<eos>, rare words become <unk>)")
    p.add_argument("--max-vocab", type=positive_int, default=d["max_vocab"],
                   help="word level: keep this many most frequent words (incl. <unk>)")
    p.add_argument("--cell", choices=sorted(RECURRENT_LAYERS),
                   default=TextConfig.defaults()["cell"], help="recurrent cell")
    p.add_argument("--layers", type=positive_int, default=1, help="stacked recurrent layers")
    p.add_argument("--hidden-size", type=positive_int, default=d["hidden_size"], help="units H")
    p.add_argument("--embedding-dim", type=positive_int, default=d["embedding_dim"],
                   help="features per token E")
    p.add_argument("--dropout", type=probability, default=0.0,
                   help="dropout between stacked layers")
    p.add_argument("--seq-len", type=positive_int, default=None,
                   help=f"tokens per window (truncated BPTT length; default: "
                        f"{d['seq_len']}, or {d['short_budget_seq_len']} with a --time-limit "
                        f"under {d['short_budget_seconds']:g} s)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help=f"parallel streams (default: {d['batch_size']}, or as many as a short "
                        "text holds)")
    p.add_argument("--batching", choices=["stream", "random"], default="stream",
                   help="contiguous streams with the state carried across windows, or "
                        "independent random windows")
    p.add_argument("--lr", type=positive_float, default=None,
                   help=f"Adam learning rate (default: {d['lr']:g}; {SMALL_BATCH_LR:g} when a "
                        "short text gets fewer streams than the default)")
    p.add_argument("--clip-norm", type=positive_float, default=d["clip_norm"],
                   help="clip the global gradient norm to this")
    p.add_argument("--epochs", type=positive_int, default=d["epochs"],
                   help="maximum passes over the text")
    p.add_argument("--eval-every", type=positive_int, default=None,
                   metavar="WINDOWS", help=f"validate after this many windows (default: "
                   f"{d['eval_tokens_per_stream']:,} tokens per stream / --seq-len, i.e. "
                   f"{d['eval_tokens_per_stream'] // d['seq_len']} windows of {d['seq_len']})")
    p.add_argument("--eval-tokens", type=positive_int, default=d["eval_tokens"],
                   help="validate during training on at most this many tokens of the "
                        "validation span (the final loss uses all of it)")
    p.add_argument("--time-limit", type=time_limit, default=d["time_limit"], metavar="SECONDS",
                   help=f"stop training cleanly after this many seconds, keeping the best "
                        f"weights so far (default: {d['time_limit']:g}, so that a run on a "
                        f"1 MB text does not take the ~45 minutes of --epochs "
                        f"{d['epochs']}; 0 or 'none': train every epoch)")
    p.add_argument("--progress-every", type=positive_float, default=10.0, metavar="SECONDS",
                   help="print the speed and running loss this often")
    p.add_argument("--sample-length", type=nonnegative_int, default=300,
                   help="tokens of the sample printed at the end")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of weights and sampling")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="floating type of the weights")
    add_run_folder_options(p, "text")
    p.set_defaults(run=train_text)

    s = commands.add_parser("sample", formatter_class=fmt,
                            help="generate text with a model from 'minirnn train text'")
    s.add_argument("run_dir", metavar="RUN_DIR",
                   help="run folder (or its model.npz) of 'train text'; 'text': the newest "
                        "text run in minirnn-runs/")
    s.add_argument("--length", type=sample_length, default=500,
                   help=f"tokens to generate (at most {MAX_SAMPLE_LENGTH:,}; written as they "
                        "are made)")
    s.add_argument("--temperature", type=non_negative_float, default=0.8,
                   help="sampling temperature; 0 = greedy")
    s.add_argument("--top-k", type=positive_int, default=None,
                   help="sample among the k most likely tokens only")
    s.add_argument("--prime", default="", help="text to start from (\\n for a line break)")
    s.add_argument("--seed", type=nonnegative_int, default=None, help="seed of the sampling")
    s.set_defaults(run=sample_text)
