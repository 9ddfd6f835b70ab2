"""The ``text`` task: a character (or word) language model on a UTF-8 text file."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps import datasets
from minirnn.apps.data.text import TextError, encode_file, ngram_baselines, split_text
from minirnn.apps.language_model import LanguageModel, TextSolver, bits_per_token, perplexity
from minirnn.apps.tasks.config import TaskConfig, option
from minirnn.apps.tasks.errors import RunInterrupted, TaskError
from minirnn.apps.tasks.run_folder import write_history, write_json
from minirnn.nn.io import save_model
from minirnn.nn.registry import RECURRENT_LAYERS, make_optimizer
from minirnn.train.callbacks import Callback, TimeLimit
from minirnn.train.solver import History, TrainingDivergedError

__all__ = ["SMALL_BATCH_LR", "TEXT_DEFAULTS", "TextConfig", "describe_loss", "run_text"]

#: Defaults of the text task, chosen for learning speed per second of a 2-core CPU with
#: numpy (see docs/text.md for the measurements behind them).
TEXT_DEFAULTS: dict[str, Any] = {
    "embedding_dim": 64, "hidden_size": 256, "seq_len": 100, "batch_size": 64, "lr": 5e-3,
    "clip_norm": 5.0, "epochs": 50, "max_vocab": 10000, "eval_tokens": 65536,
    # 50 passes over a 1 MB text take about 45 minutes here: by default a run stops after
    # 5 minutes (the budget of the measurements in docs/text.md); None trains every epoch.
    "time_limit": 300.0,
    # A time limit below short_budget_seconds trains on windows of short_budget_seq_len:
    # twice the updates per token paid off at 60 s and cost ~1 % at 300 s (docs/text.md).
    "short_budget_seconds": 150.0, "short_budget_seq_len": 50,
    # Validate after this many tokens per stream (200 windows of 100), so the share of
    # the time spent validating does not depend on the window length.
    "eval_tokens_per_stream": 20000,
}
#: Adam's learning rate when a text too short for the default streams trains on fewer
#: (the rate measured best with 32 streams).
SMALL_BATCH_LR = 3e-3
_D = TEXT_DEFAULTS


@dataclasses.dataclass(frozen=True)
class TextConfig(TaskConfig):
    """A language model on ``file`` (the last 10 % is the validation span).

    ``seq_len``, ``batch_size``, ``lr`` and ``eval_every`` left None get the measured
    defaults (shorter windows under a short ``time_limit``, fewer streams for a short text).
    """

    task = "text"
    file: str | None = option(None, help="UTF-8 text file")
    dataset: str | None = option(None, choices=[d.name for d in datasets.catalogue("text")],
                                 help="a text shipped with minirnn instead of file")
    level: str = option("char", choices=("char", "word"), help="tokens: characters or words")
    max_vocab: int = option(_D["max_vocab"], rule="positive",
                            help="word level: keep this many most frequent words")
    cell: str = option("lstm", choices=sorted(RECURRENT_LAYERS), help="recurrent cell")
    layers: int = option(1, rule="positive", help="stacked recurrent layers")
    hidden_size: int = option(_D["hidden_size"], rule="positive", help="units H")
    embedding_dim: int = option(_D["embedding_dim"], rule="positive", help="features per token")
    dropout: float = option(0.0, rule="probability", help="dropout between stacked layers")
    seq_len: int | None = option(None, rule="positive", help="tokens per window (BPTT length)")
    batch_size: int | None = option(None, rule="positive", help="parallel streams")
    batching: str = option("stream", choices=("stream", "random"))
    lr: float | None = option(None, rule="positive", help="Adam learning rate")
    clip_norm: float = option(_D["clip_norm"], rule="positive", help="global gradient clip")
    epochs: int = option(_D["epochs"], rule="positive", help="maximum passes over the text")
    eval_every: int | None = option(None, rule="positive", help="validate every N windows")
    eval_tokens: int = option(_D["eval_tokens"], rule="positive",
                              help="tokens of the validation span used during training")
    time_limit: float | None = option(_D["time_limit"], rule="positive",
                                      help="seconds of training (None: every epoch)")
    sample_length: int = option(300, rule="nonnegative", help="tokens of the final sample")
    seed: int = option(0, rule="nonnegative", help="seed of weights and sampling")
    dtype: str = option("float32", choices=("float32", "float64"))

    def check(self) -> None:
        if not self.file and not self.dataset:
            raise ValueError("file (a UTF-8 text file) or dataset (a shipped text) is "
                             "required")
        if self.file and self.dataset:
            raise ValueError(f"give file or dataset, not both (got file={self.file!r}, "
                             f"dataset={self.dataset!r})")


def describe_loss(nats: float, unit: str) -> str:
    """``X nats/char Y bits/char`` (characters) or ``X nats/word, perplexity P`` (words)."""
    if unit == "char":
        return f"{nats:.4f} nats/char {bits_per_token(nats):.4f} bits/char"
    return f"{nats:.4f} nats/{unit} perplexity {perplexity(nats):.1f}"


def run_text(config: TextConfig, folder: Path, callbacks: Sequence[Callback],
             record: Callable[[dict[str, Any]], dict[str, Any]]
             ) -> tuple[dict[str, Any], History]:
    """Train a language model on the first 90 % of the text, validate on the rest; returns
    the report (also in report.json) and the history."""
    if config.dataset:
        path = datasets.files(config.dataset, "text")[0]
        name = f"{config.dataset} (shipped, {path.name})"
    else:
        path, name = Path(config.file or ""), str(config.file)
        if not path.is_file():
            raise TaskError(f"--file {config.file}: no such file")
    unit = "char" if config.level == "char" else "word"
    try:
        codes, vocab = encode_file(path, level=config.level, max_size=config.max_vocab)
    except OSError as exc:
        raise TaskError(f"cannot read {name}: {exc.strerror or exc}") from exc
    except TextError as exc:
        raise TaskError(str(exc)) from exc
    train, val = split_text(codes, 0.1)
    seq_len, eval_every, batch_size, lr = config.seq_len, config.eval_every, \
        config.batch_size, config.lr
    if seq_len is None:
        short = config.time_limit is not None and \
            config.time_limit < TEXT_DEFAULTS["short_budget_seconds"]
        seq_len = int(TEXT_DEFAULTS["short_budget_seq_len" if short else "seq_len"])
    if eval_every is None:
        eval_every = max(1, int(TEXT_DEFAULTS["eval_tokens_per_stream"]) // seq_len)
    if batch_size is None:  # the default: fewer streams if the text is too short
        fits = len(train) // (seq_len + 1)
        batch_size = max(1, min(int(TEXT_DEFAULTS["batch_size"]), fits))
        if lr is None and batch_size < TEXT_DEFAULTS["batch_size"]:
            lr = SMALL_BATCH_LR
    if lr is None:
        lr = float(TEXT_DEFAULTS["lr"])
    need = batch_size * (seq_len + 1)
    if len(train) < need or len(val) < seq_len + 1:
        raise TaskError(
            f"{name} has {len(codes):,} {unit}s, shorter than one window: training on "
            f"the first 90% needs batch size x (seq len + 1) = {batch_size} x "
            f"{seq_len + 1} = {need:,} {unit}s and the last 10% at least "
            f"{seq_len + 1}; use a longer text or smaller --batch-size / --seq-len")
    run = record({"seq_len": seq_len, "eval_every": eval_every, "batch_size": batch_size,
                  "lr": lr})
    dtype = np.dtype(config.dtype)
    model = LanguageModel(vocab, config.embedding_dim, config.hidden_size, config.layers,
                          config.cell, config.dropout, dtype=dtype, seed=config.seed)
    limit = None if config.time_limit is None else TimeLimit(config.time_limit, verbose=True)
    solver = TextSolver(model, seq_len=seq_len, batching=config.batching,
                        steps_per_epoch=eval_every, val_tokens=config.eval_tokens,
                        batch_size=batch_size,
                        epochs=_epochs(config.epochs, batch_size, seq_len, eval_every,
                                       len(train)), seed=config.seed,
                        optimizer=make_optimizer("adam", model, lr), clip_norm=config.clip_norm,
                        callbacks=[*callbacks, *([limit] if limit else [])])
    print(f"{name}: {len(codes):,} {unit}s, vocabulary {len(vocab)}; training on the "
          f"first {len(train):,}, validating on the last {len(val):,}; {model!r}, windows of "
          f"{seq_len} x batch {batch_size}", flush=True)
    baselines = ngram_baselines(train, val, len(vocab))
    print("baselines on the validation span (counts of the training span, add-one): "
          + ", ".join(f"{name} {describe_loss(nats, unit)}" for name, nats in baselines.items()),
          flush=True)
    start = time.perf_counter()
    try:
        history = solver.fit_text(train, val)
    except TrainingDivergedError as exc:
        raise TaskError(f"training diverged: {exc}") from exc
    elapsed = time.perf_counter() - start
    if solver.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    # The model holds the best weights seen (TimeLimit / Ctrl-C) or the last ones; the
    # periodic validations may use part of the span: evaluate once on all of it.
    # Under a time limit, or once stopped by Ctrl-C / SIGTERM, it uses the span the periodic
    # validations used (at most eval_tokens), so that the limit bounds it too.
    scored = val if limit is None and not solver.interrupted else val[:config.eval_tokens]
    best = model.evaluate(scored, batch_size, seq_len)
    speed = solver.tokens_seen / max(sum(history["time"]), 1e-9) if len(history) else 0.0
    sample = model.generate("", config.sample_length, temperature=0.8, seed=config.seed)
    save_model(folder / "model.npz", model, metadata={"task": "text", "level": config.level,
                                                      "seq_len": seq_len})
    write_history(folder, history)
    report: dict[str, Any] = {
        "task": "text", "file": str(path), "level": config.level,
        "status": "interrupted" if solver.interrupted else "finished",
        "config": run,
        "vocabulary_size": len(vocab), "tokens": len(codes), "train_tokens": len(train),
        "val_tokens": len(val), "val_loss_tokens": len(scored), "val_loss_nats": best,
        "val_bits": bits_per_token(best),
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
    saved = f"saved {folder / 'model.npz'}, history.csv, history.json, report.json"
    print(saved, flush=True)
    best_baseline = min(baselines, key=lambda name: baselines[name])
    verdict = "beats" if best < baselines[best_baseline] else "does NOT beat"
    print(f"validation loss {describe_loss(best, unit)}  ({solver.tokens_seen:,} {unit}s in "
          f"{elapsed:.0f}s, {speed:,.0f} {unit}s/s); {verdict} the {best_baseline} baseline "
          f"{baselines[best_baseline]:.4f}", flush=True)
    if solver.interrupted:
        raise RunInterrupted(f"{saved} (model: the best weights so far, "
                             f"{solver.tokens_seen:,} {unit}s trained)")
    return report, history


def _epochs(epochs: int, batch_size: int, seq_len: int, eval_every: int,
            train_tokens: int) -> int:
    """Evaluation rounds covering ``epochs`` passes over the text."""
    per_pass = max(1, (train_tokens // batch_size - 1 + seq_len - 1) // seq_len)
    return max(1, math.ceil(epochs * per_pass / eval_every))
