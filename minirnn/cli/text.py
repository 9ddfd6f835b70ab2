"""``minirnn train text`` (a character or word language model) and ``minirnn sample``."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.data.text import TextError, encode_file, ngram_baselines, split_text
from minirnn.apps.language_model import LanguageModel, TextSolver, bits_per_token, perplexity
from minirnn.cli._common import (
    UsageError,
    add_run_folder_options,
    nonnegative_int,
    parse_number,
    positive_float,
    positive_int,
    run_config,
    write_history,
    write_json,
)
from minirnn.nn.io import ModelFileError, load_model, save_model
from minirnn.nn.optim import Adam
from minirnn.train.callbacks import Callback, TimeLimit
from minirnn.train.solver import TrainingDivergedError

__all__ = ["TEXT_DEFAULTS", "add_parsers"]

#: Defaults of ``minirnn train text``, chosen for learning speed per second of a 2-core
#: CPU with numpy (see docs/text.md for the measurements behind them).
TEXT_DEFAULTS: dict[str, Any] = {
    "embedding_dim": 64, "hidden_size": 256, "seq_len": 100, "batch_size": 64, "lr": 5e-3,
    "clip_norm": 5.0, "epochs": 50, "max_vocab": 10000, "eval_tokens": 65536,
    # A --time-limit below short_budget_seconds trains on windows of short_budget_seq_len:
    # twice the updates per token paid off at 60 s and cost ~1 % at 300 s (docs/text.md).
    "short_budget_seconds": 150.0, "short_budget_seq_len": 50,
    # Validate after this many tokens per stream (200 windows of 100), so the share of
    # the time spent validating does not depend on the window length.
    "eval_tokens_per_stream": 20000,
}
#: Adam's learning rate when a text too short for the default streams trains on fewer
#: (the rate measured best with 32 streams).
SMALL_BATCH_LR = 3e-3


class TextProgress(Callback):
    """A line every ``every`` seconds (tokens/s, running loss) and one per evaluation."""

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

    def on_batch_end(self, batch: int, logs: dict[str, Any]) -> None:
        self._tokens += int(logs["tokens"])
        self._loss += float(logs["loss"]) * int(logs["tokens"])
        self._count += int(logs["tokens"])
        now = time.perf_counter()
        if now - self._last >= self.every:
            self._print(f"  {now - self._start:6.0f}s  {self._tokens:>10,} {self.unit}s  "
                        f"train loss {self._loss / self._count:.4f}  "
                        f"{self._tokens / (now - self._start):,.0f} {self.unit}s/s")
            self._last = now
            self._loss = 0.0
            self._count = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        elapsed = time.perf_counter() - self._start
        text = (f"eval {epoch + 1}: {elapsed:6.0f}s  train loss {logs['loss']:.4f}  "
                f"{logs['tokens_per_second']:,.0f} {self.unit}s/s")
        if "val_loss" in logs:
            text += f"  validation {describe_loss(logs['val_loss'], self.unit)}"
        self._print(text)


def describe_loss(nats: float, unit: str) -> str:
    """``X nats/char Y bits/char`` (characters) or ``X nats/word, perplexity P`` (words)."""
    if unit == "char":
        return f"{nats:.4f} nats/char {bits_per_token(nats):.4f} bits/char"
    return f"{nats:.4f} nats/{unit} perplexity {perplexity(nats):.1f}"


def train_text(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"--file {args.file}: no such file")
    folder = Path(args.output)  # created by prepare_output before this runs
    unit = "char" if args.level == "char" else "word"
    try:
        codes, vocab = encode_file(path, level=args.level, max_size=args.max_vocab)
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from exc
    except TextError as exc:
        raise UsageError(str(exc)) from exc
    train, val = split_text(codes, 0.1)
    if args.seq_len is None:
        short = args.time_limit is not None and \
            args.time_limit < TEXT_DEFAULTS["short_budget_seconds"]
        args.seq_len = TEXT_DEFAULTS["short_budget_seq_len" if short else "seq_len"]
    if args.eval_every is None:
        args.eval_every = max(1, TEXT_DEFAULTS["eval_tokens_per_stream"] // args.seq_len)
    if args.batch_size is None:  # the default: fewer streams if the text is too short
        fits = len(train) // (args.seq_len + 1)
        args.batch_size = max(1, min(TEXT_DEFAULTS["batch_size"], fits))
        if args.lr is None and args.batch_size < TEXT_DEFAULTS["batch_size"]:
            args.lr = SMALL_BATCH_LR
    if args.lr is None:
        args.lr = TEXT_DEFAULTS["lr"]
    need = args.batch_size * (args.seq_len + 1)
    if len(train) < need or len(val) < args.seq_len + 1:
        raise UsageError(
            f"{args.file} has {len(codes):,} {unit}s, shorter than one window: training on "
            f"the first 90% needs batch size x (seq len + 1) = {args.batch_size} x "
            f"{args.seq_len + 1} = {need:,} {unit}s and the last 10% at least "
            f"{args.seq_len + 1}; use a longer text or smaller --batch-size / --seq-len")
    dtype = np.dtype(args.dtype)
    model = LanguageModel(vocab, args.embedding_dim, args.hidden_size, args.layers, args.cell,
                          args.dropout, dtype=dtype, seed=args.seed)
    callbacks: list[Callback] = [TextProgress(unit, args.progress_every)]
    limit = None
    if args.time_limit is not None:
        limit = TimeLimit(args.time_limit, verbose=True)
        callbacks.append(limit)
    callbacks.extend(getattr(args, "extra_callbacks", ()))  # e.g. a sweep's pruning callback
    solver = TextSolver(model, seq_len=args.seq_len, batching=args.batching,
                        steps_per_epoch=args.eval_every, val_tokens=args.eval_tokens,
                        batch_size=args.batch_size,
                        epochs=_epochs(args, len(train)), seed=args.seed,
                        optimizer=Adam(model, lr=args.lr), clip_norm=args.clip_norm,
                        callbacks=callbacks)
    print(f"{args.file}: {len(codes):,} {unit}s, vocabulary {len(vocab)}; training on the "
          f"first {len(train):,}, validating on the last {len(val):,}; {model!r}, windows of "
          f"{args.seq_len} x batch {args.batch_size}", flush=True)
    baselines = ngram_baselines(train, val, len(vocab))
    print("baselines on the validation span (counts of the training span, add-one): "
          + ", ".join(f"{name} {describe_loss(nats, unit)}" for name, nats in baselines.items()),
          flush=True)
    start = time.perf_counter()
    try:
        history = solver.fit_text(train, val)
    except TrainingDivergedError as exc:
        raise UsageError(f"training diverged: {exc}") from exc
    elapsed = time.perf_counter() - start
    if solver.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    # The model holds the best weights seen (TimeLimit / Ctrl-C) or the last ones; the
    # periodic validations may use part of the span: evaluate once on all of it.
    best = model.evaluate(val, args.batch_size, args.seq_len)
    speed = solver.tokens_seen / max(sum(history["time"]), 1e-9) if len(history) else 0.0
    sample = model.generate("", args.sample_length, temperature=0.8, seed=args.seed)
    save_model(folder / "model.npz", model, metadata={"task": "text", "level": args.level,
                                                      "seq_len": args.seq_len})
    write_history(folder, history)
    report: dict[str, Any] = {
        "task": "text", "file": str(path), "level": args.level,
        "status": "interrupted" if solver.interrupted else "finished",
        "config": run_config(args),
        "vocabulary_size": len(vocab), "tokens": len(codes), "train_tokens": len(train),
        "val_tokens": len(val), "val_loss_nats": best, "val_bits": bits_per_token(best),
        "val_perplexity": perplexity(best), "baselines_val_loss_nats": baselines,
        "tokens_seen": solver.tokens_seen,
        "tokens_per_second": speed, "elapsed_seconds": elapsed,
        "evaluations": len(history), "interrupted": solver.interrupted, "sample": sample,
    }
    if limit is not None:
        report["time_limit"] = {"seconds": limit.seconds, "reached": limit.stopped,
                                "elapsed": limit.elapsed}
    write_json(folder / "report.json", report)
    print(f"sample (temperature 0.8):\n{sample}\n", flush=True)
    print(f"saved {folder / 'model.npz'}, history.csv, history.json, report.json", flush=True)
    best_baseline = min(baselines, key=lambda name: baselines[name])
    verdict = "beats" if best < baselines[best_baseline] else "does NOT beat"
    print(f"validation loss {describe_loss(best, unit)}  ({solver.tokens_seen:,} {unit}s in "
          f"{elapsed:.0f}s, {speed:,.0f} {unit}s/s); {verdict} the {best_baseline} baseline "
          f"{baselines[best_baseline]:.4f}", flush=True)
    return 0


def _epochs(args: argparse.Namespace, train_tokens: int) -> int:
    """Evaluation rounds covering ``--epochs`` passes over the text."""
    per_pass = max(1, (train_tokens // args.batch_size - 1 + args.seq_len - 1) // args.seq_len)
    return max(1, math.ceil(args.epochs * per_pass / args.eval_every))


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
        text = model.generate(prime, args.length, temperature=args.temperature,
                              top_k=args.top_k, seed=args.seed)
    except TextError as exc:
        raise UsageError(f"--prime: {exc}") from exc
    sys.stdout.write(text + ("" if text.endswith("\n") else "\n"))
    return 0


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
    p.add_argument("--file", required=True, help="UTF-8 text file")
    p.add_argument("--level", choices=["char", "word"], default="char",
                   help="tokens: characters, or whitespace-separated words (lines end with "
                        "<eos>, rare words become <unk>)")
    p.add_argument("--max-vocab", type=positive_int, default=d["max_vocab"],
                   help="word level: keep this many most frequent words (incl. <unk>)")
    p.add_argument("--cell", choices=["lstm", "gru", "rnn"], default="lstm")
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
    p.add_argument("--time-limit", type=positive_float, default=None, metavar="SECONDS",
                   help="stop training cleanly after this many seconds, keeping the best "
                        "weights so far")
    p.add_argument("--progress-every", type=positive_float, default=10.0, metavar="SECONDS",
                   help="print the speed and running loss this often")
    p.add_argument("--sample-length", type=nonnegative_int, default=300,
                   help="tokens of the sample printed at the end")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of weights and sampling")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    add_run_folder_options(p, "text")
    p.set_defaults(run=train_text, task_defaults=d)

    s = commands.add_parser("sample", formatter_class=fmt,
                            help="generate text with a model from 'minirnn train text'")
    s.add_argument("run_dir", metavar="RUN_DIR", help="run folder (or its model.npz)")
    s.add_argument("--length", type=positive_int, default=500, help="tokens to generate")
    s.add_argument("--temperature", type=non_negative_float, default=0.8,
                   help="sampling temperature; 0 = greedy")
    s.add_argument("--top-k", type=positive_int, default=None,
                   help="sample among the k most likely tokens only")
    s.add_argument("--prime", default="", help="text to start from (\\n for a line break)")
    s.add_argument("--seed", type=nonnegative_int, default=None, help="seed of the sampling")
    s.set_defaults(run=sample_text)
