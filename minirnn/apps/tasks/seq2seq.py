"""The ``seq2seq`` task: an encoder-decoder with attention trained on tab-separated pairs,
tested by exact match and corpus BLEU next to the copy and nearest-neighbour baselines."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.data.pairs import (
    PairsError,
    PairSet,
    batch_padding,
    bucket_batches,
    build_vocabulary,
    detokenize,
    read_pairs,
)
from minirnn.apps.seq2seq import (
    EpochLog,
    PairData,
    Seq2SeqTrainer,
    copy_baseline,
    corpus_bleu,
    decode_tokens,
    exact_match,
    nearest_neighbour_baseline,
    plot_attention,
    save_translator,
    translate,
)
from minirnn.apps.tasks.config import TaskConfig, option
from minirnn.apps.tasks.errors import RunInterrupted, TaskError
from minirnn.apps.tasks.run_folder import write_history, write_json
from minirnn.nn.io import ModelFileError
from minirnn.nn.seq2seq import EncoderDecoder
from minirnn.train.callbacks import Callback
from minirnn.train.solver import History

__all__ = ["Seq2SeqConfig", "run_seq2seq"]

#: Longest side (tokens) a pair file may have: a guard against a file that is not pairs.
MAX_TOKENS = 400


@dataclasses.dataclass(frozen=True)
class Seq2SeqConfig(TaskConfig):
    """An encoder-decoder (GRU, additive attention by default) trained on ``train``.

    Without ``valid``, a seeded random 10 % of ``train`` (at most 1,000 pairs) is held out
    for early stopping.
    """

    task = "seq2seq"
    train: str | None = option(None, help="training pairs (source<TAB>target a line)")
    test: str | None = option(None, help="test pairs, same format")
    valid: str | None = option(None, help="validation pairs (default: 10 % of --train)")
    tokens: str = option("word", choices=("word", "char"), help="word or character tokens")
    min_freq: int = option(1, rule="positive",
                           help="tokens seen fewer times in --train become <unk>")
    cell: str = option("gru", choices=("gru", "lstm", "rnn"), help="encoder and decoder cell")
    layers: int = option(1, rule="positive", help="stacked encoder layers")
    hidden_size: int = option(128, rule="positive", help="units H")
    embedding_dim: int = option(64, rule="positive", help="features per token E")
    bidirectional: bool = option(True, help="bidirectional encoder")
    attention: str = option("additive", choices=("additive", "general", "dot"))
    input_feeding: bool = option(True, help="feed the last attentional vector back in")
    teacher_forcing: float = option(1.0, rule="unit", help="probability of feeding the "
                                    "true previous token in training")
    dropout: float = option(0.0, rule="probability", help="dropout on the decoder's "
                            "attentional vector and between stacked encoder layers")
    batch_size: int = option(32, rule="positive", help="pairs per mini-batch")
    lr: float = option(2e-3, rule="positive", help="Adam's initial learning rate")
    lr_decay: float = option(0.5, rule="unit", help="multiply the learning rate by this "
                             "after an epoch without a lower validation loss (1: constant)")
    clip_norm: float = option(5.0, rule="positive", help="global gradient-norm clip")
    epochs: int = option(50, rule="positive", help="maximum epochs")
    patience: int = option(5, rule="positive", help="early stopping patience (epochs)")
    time_limit: float | None = option(None, rule="positive", help="seconds of training")
    beam: int = option(1, rule="positive", help="beam width of the test decoding (1 greedy)")
    heatmaps: int = option(3, rule="nonnegative", help="test pairs drawn in attention.png")
    seed: int = option(0, rule="nonnegative", help="seed of the split, weights, batches")
    dtype: str = option("float32", choices=("float32", "float64"))
    no_plot: bool = option(False, help="do not draw figures")
    resume: bool = option(False, help="continue from the run folder's checkpoint.npz")

    def check(self) -> None:
        for name in ("train", "test"):
            if not getattr(self, name):
                raise ValueError(f"{name} (a file of pairs) is required")
        if self.lr_decay == 0:
            raise ValueError("lr_decay must be greater than 0 (1 keeps the rate constant), "
                             "got 0")
        if self.attention == "dot" and self.bidirectional:
            raise ValueError("attention 'dot' needs a unidirectional encoder (pass "
                             "bidirectional false)")


def _read(path: str | None, flag: str, tokens: str) -> PairSet:
    assert path is not None
    try:
        return read_pairs(path, tokens, max_length=MAX_TOKENS)
    except PairsError as exc:
        message = str(exc)
        raise TaskError(message if message.startswith(str(path)) else f"{flag} {message}") \
            from exc


def _split_valid(train: PairSet, seed: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(train)
    n_valid = min(1000, max(1, n // 10))
    if n - n_valid < 1:
        raise TaskError(f"{train.path}: {n} pair(s) are too few to hold some out for "
                        "validation; give --valid or more pairs")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def run_seq2seq(config: Seq2SeqConfig, folder: Path, callbacks: Sequence[Callback],
                record: Callable[[dict[str, Any]], dict[str, Any]]
                ) -> tuple[dict[str, Any], History]:
    """Read the pairs, train, decode the test sources, compare with the baselines; write
    model.npz (vocabularies inside), report.json, history.csv/json and attention.png."""
    for flag, value in (("--train", config.train), ("--test", config.test),
                        ("--valid", config.valid)):
        if value is not None and not Path(value).is_file():
            raise TaskError(f"{flag} {value}: no such file")
    train_all = _read(config.train, "--train", config.tokens)
    test = _read(config.test, "--test", config.tokens)
    if config.valid is not None:
        valid_set = _read(config.valid, "--valid", config.tokens)
        train_index = np.arange(len(train_all))
    else:
        train_index, valid_index = _split_valid(train_all, config.seed)
    src_train = [train_all.sources[i] for i in train_index]
    tgt_train = [train_all.targets[i] for i in train_index]
    src_vocab = build_vocabulary(src_train, config.min_freq)
    tgt_vocab = build_vocabulary(tgt_train, config.min_freq)
    full = PairData.encode(train_all, src_vocab, tgt_vocab)
    train = full.subset(train_index)
    valid = PairData.encode(valid_set, src_vocab, tgt_vocab) if config.valid is not None \
        else full.subset(valid_index)
    test_data = PairData.encode(test, src_vocab, tgt_vocab)
    longest = max(len(t) for t in tgt_train)
    max_length = 2 * longest + 10
    run = record({"max_length": max_length, "train_pairs": len(train),
                  "valid_pairs": len(valid), "src_vocab_size": len(src_vocab),
                  "tgt_vocab_size": len(tgt_vocab)})
    s_len, t_len = train.lengths()
    padding = batch_padding(s_len, bucket_batches(s_len, t_len, config.batch_size,
                                                  np.random.default_rng(0)))
    where = "its own --valid file" if config.valid else "10% of --train held out"
    print(f"{config.train}: {len(train):,} training pairs ({where}: {len(valid):,}), "
          f"{len(test):,} test; {config.tokens} tokens, vocabularies {len(src_vocab):,} "
          f"source / {len(tgt_vocab):,} target (min frequency {config.min_freq}); "
          f"length buckets leave {padding:.0%} of source steps as padding", flush=True)

    model = EncoderDecoder(
        len(src_vocab), len(tgt_vocab), config.embedding_dim, config.hidden_size,
        encoder_cell=config.cell, encoder_layers=config.layers,
        bidirectional=config.bidirectional, decoder_cell=config.cell,
        attention=config.attention, input_feeding=config.input_feeding,
        teacher_forcing=config.teacher_forcing, dropout=config.dropout,
        src_vocab=src_vocab, tgt_vocab=tgt_vocab,
        dtype=np.dtype(config.dtype), seed=config.seed)
    decay = "" if config.lr_decay == 1 else \
        f" (x{config.lr_decay:g} after an epoch without a lower validation loss)"
    print(f"model: {model!r}, {sum(p.data.size for p in model.parameters()):,} parameters; "
          f"Adam lr {config.lr:g}{decay}, batch {config.batch_size}", flush=True)

    # Baselines, computed before training (they see the same training pairs).
    test_refs = test.targets
    copy_hyps = copy_baseline(test.sources)
    nn_hyps = nearest_neighbour_baseline(src_train, tgt_train, test.sources)
    baselines: dict[str, dict[str, Any]] = {
        "copy": {"exact_match": exact_match(copy_hyps, test_refs),
                 "bleu": corpus_bleu(copy_hyps, test_refs, config.tokens)},
        "nearest_neighbour": {"exact_match": exact_match(nn_hyps, test_refs),
                              "bleu": corpus_bleu(nn_hyps, test_refs, config.tokens)}}
    print("baselines on the test pairs: " + ", ".join(
        f"{name.replace('_', '-')} exact match {b['exact_match']:.4f} BLEU {_fmt(b['bleu'])}"
        for name, b in baselines.items()), flush=True)

    def on_epoch(log: EpochLog) -> None:
        print(f"epoch {log.epoch + 1}: train loss {log.loss:.4f}  validation loss "
              f"{log.val_loss:.4f}  {log.tokens_per_second:,.0f} target tokens/s  "
              f"[{log.seconds:.1f}s{'' if log.complete else ', time limit'}]", flush=True)

    trainer = Seq2SeqTrainer(model, lr=config.lr,
                             lr_decay=None if config.lr_decay == 1 else config.lr_decay,
                             batch_size=config.batch_size,
                             clip_norm=config.clip_norm, epochs=config.epochs,
                             patience=config.patience, time_limit=config.time_limit,
                             seed=config.seed, checkpoint=folder / "checkpoint.npz",
                             on_epoch=on_epoch, callbacks=callbacks)
    try:
        trainer.fit(train, valid, resume=config.resume)
    except ModelFileError as exc:
        raise TaskError(f"cannot resume: {exc}") from exc
    except FloatingPointError as exc:
        raise TaskError(f"training diverged: {exc}; try a lower --lr") from exc
    if trainer.interrupted:
        print("interrupted: keeping the best weights so far", flush=True)
    if trainer.time_limit_reached:
        print(f"time limit of {config.time_limit:g}s reached", flush=True)
    if trainer.best_epoch >= 0:
        print(f"best validation epoch {trainer.best_epoch + 1} (loss {trainer.best_loss:.4f}); "
              "testing those weights", flush=True)

    hyps = translate(model, test_data.src_ids, beam=config.beam, max_length=max_length)
    outputs = [decode_tokens(h, tgt_vocab) for h in hyps]
    em = exact_match(outputs, test_refs)
    bleu = corpus_bleu(outputs, test_refs, config.tokens)
    # Training time alone (validation excluded), as the per-epoch lines count it.
    train_time = sum(h.tokens / h.tokens_per_second for h in trainer.history
                     if h.tokens_per_second > 0)
    speed = trainer.tokens_seen / max(train_time, 1e-9)
    with open(folder / "test_translations.tsv", "w", encoding="utf-8") as handle:
        for src, ref, out in zip(test.sources, test_refs, outputs, strict=True):
            handle.write(f"{detokenize(src, config.tokens)}\t{detokenize(ref, config.tokens)}"
                         f"\t{detokenize(out, config.tokens)}\n")
    save_translator(folder / "model.npz", model, tokens=config.tokens, max_length=max_length)
    history = History()
    for log in trainer.history:
        history.append(log.epoch, {"loss": log.loss, "val_loss": log.val_loss,
                                   "time": log.seconds,
                                   "tokens_per_second": log.tokens_per_second})
    write_history(folder, history)
    written = ["model.npz", "report.json", "history.csv", "test_translations.tsv"]
    if config.heatmaps and not config.no_plot:
        items = [(test.sources[i], outputs[i], hyps[i].attention)
                 for i in range(min(config.heatmaps, len(test)))]
        if plot_attention(items, folder / "attention.png"):
            written.append("attention.png")
        else:
            print("matplotlib is not installed: skipping the attention heat maps "
                  "(pip install 'minirnn[plot]')", flush=True)
    baseline_em = {k: float(b["exact_match"]) for k, b in baselines.items()}
    best_baseline = max(baseline_em, key=lambda k: baseline_em[k])
    report: dict[str, Any] = {
        "task": "seq2seq", "status": "interrupted" if trainer.interrupted else "finished",
        "config": run, "test_exact_match": em, "test_bleu": bleu,
        "bleu_note": None if bleu is not None else
        "sacrebleu is not installed (pip install 'minirnn[bleu]')",
        "baselines": baselines, "n_train": len(train), "n_valid": len(valid),
        "n_test": len(test), "src_vocab_size": len(src_vocab),
        "tgt_vocab_size": len(tgt_vocab), "padding_fraction": padding,
        "best_epoch": trainer.best_epoch + 1, "epochs_run": len(trainer.history),
        "best_val_loss": trainer.best_loss, "train_seconds": trainer.train_seconds,
        "tokens_seen": trainer.tokens_seen, "tokens_per_second": speed,
        "time_limit": {"seconds": config.time_limit, "reached": trainer.time_limit_reached},
        "test_unk_source_tokens": int(sum(t == 1 for s in test_data.src_ids for t in s)),
    }
    write_json(folder / "report.json", report)
    print(f"test exact match {em:.4f}  (copy {baselines['copy']['exact_match']:.4f}, "
          f"nearest-neighbour {baselines['nearest_neighbour']['exact_match']:.4f})", flush=True)
    if bleu is None:
        print("test BLEU not computed: sacrebleu is not installed "
              "(pip install 'minirnn[bleu]')", flush=True)
    else:
        print(f"test BLEU {bleu:.2f}  (copy {_fmt(baselines['copy']['bleu'])}, "
              f"nearest-neighbour {_fmt(baselines['nearest_neighbour']['bleu'])})", flush=True)
    verdict = "beats" if em > baseline_em[best_baseline] else "does NOT beat"
    print(f"{verdict} the best baseline ({best_baseline.replace('_', '-')}) on exact match; "
          f"{trainer.tokens_seen:,} target tokens in {trainer.train_seconds:.0f}s "
          f"({speed:,.0f}/s)", flush=True)
    print(f"saved {folder}/: {', '.join(written)}", flush=True)
    if trainer.interrupted:
        raise RunInterrupted(f"saved {folder}/: {', '.join(written)} (model: the best "
                             "epoch's weights)")
    return report, history
