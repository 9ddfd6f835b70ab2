"""The sequence-to-sequence application: pairs in, a trained encoder-decoder out.

The pieces the ``seq2seq`` task (:mod:`minirnn.apps.tasks.seq2seq`) and ``minirnn
translate`` are made of, usable from Python on their own:

- :class:`PairData`: two vocabularies and the id lists of a :class:`~minirnn.apps.data.
  pairs.PairSet`;
- :class:`Seq2SeqTrainer`: teacher-forced training over length buckets (a mini-batch
  is padded only to its own longest pair), with a time limit checked after every batch,
  Ctrl-C, the best weights by validation loss, and a checkpoint per epoch to resume from;
- :func:`translate`: greedy or beam-search decoding of token lists;
- :func:`exact_match`, :func:`corpus_bleu` (sacrebleu, an optional extra: None without
  it, never a home-made BLEU), and the baselines :func:`copy_baseline` and
  :func:`nearest_neighbour_baseline`;
- :func:`save_translator` / :func:`load_translator`: the model file, vocabularies inside
  (JSON, no pickle), checked when loaded;
- :func:`plot_attention`: heat maps of source tokens against generated tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.data.pairs import TOKENS, PairSet, bucket_batches, detokenize
from minirnn.nn.io import ModelFileError, load_model, read_file, save_model, write_file
from minirnn.nn.losses import CrossEntropy
from minirnn.nn.optim import Adam
from minirnn.nn.seq2seq import (
    EncoderDecoder,
    Hypothesis,
    beam_search,
    decode_ids,
    encode_tokens,
    greedy_decode,
    pad_ids,
    sequence_mask,
    target_arrays,
)
from minirnn.train.callbacks import Callback, TimeLimit
from minirnn.train.schedules import ReduceLROnPlateau
from minirnn.train.threads import thread_policy

__all__ = ["EpochLog", "PairData", "Seq2SeqTrainer", "bleu_available", "copy_baseline",
           "corpus_bleu", "exact_match", "load_translator", "nearest_neighbour_baseline",
           "decode_tokens", "plot_attention", "save_translator", "seq2seq_threads", "translate",
           "vocabulary_digest"]


# ------------------------------------------------------------------ data
@dataclass
class PairData:
    """Pairs as id lists over fixed vocabularies.

    Attributes
    ----------
    src_vocab, tgt_vocab : list of str
    src_ids, tgt_ids : list of list of int
        Without ``<bos>``/``<eos>``; unknown tokens are ``<unk>`` (id 1).
    """

    src_vocab: list[str]
    tgt_vocab: list[str]
    src_ids: list[list[int]] = field(repr=False)
    tgt_ids: list[list[int]] = field(repr=False)

    @classmethod
    def encode(cls, pairs: PairSet, src_vocab: list[str], tgt_vocab: list[str]) -> PairData:
        """Encode ``pairs`` with the given vocabularies."""
        return cls(src_vocab, tgt_vocab, [encode_tokens(s, src_vocab) for s in pairs.sources],
                   [encode_tokens(t, tgt_vocab) for t in pairs.targets])

    def subset(self, index: Sequence[int] | np.ndarray) -> PairData:
        return PairData(self.src_vocab, self.tgt_vocab, [self.src_ids[i] for i in index],
                        [self.tgt_ids[i] for i in index])

    def __len__(self) -> int:
        return len(self.src_ids)

    def batch(self, index: Sequence[int] | np.ndarray
              ) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """``((src, src_lengths, tgt_in, tgt_lengths), tgt_out)`` of the pairs ``index``."""
        src, src_lengths = pad_ids([self.src_ids[i] for i in index])
        tgt_in, tgt_out, tgt_lengths = target_arrays([self.tgt_ids[i] for i in index])
        return (src, src_lengths, tgt_in, tgt_lengths), tgt_out

    def arrays(self) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                              np.ndarray, np.ndarray]:
        """Every pair padded once to the longest: ``(x, tgt_out, mask)`` for
        ``Solver.fit(x, tgt_out, mask=mask)`` (the Solver batches the tuple; without length
        buckets, so each batch carries the whole file's padding)."""
        x, tgt_out = self.batch(np.arange(len(self)))
        return x, tgt_out, sequence_mask(x[3], tgt_out.shape[1])

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Source lengths and target lengths (``<eos>`` included)."""
        return (np.array([len(s) for s in self.src_ids]),
                np.array([len(t) + 1 for t in self.tgt_ids]))


# ------------------------------------------------------------------ training
@contextlib.contextmanager
def seq2seq_threads(model: EncoderDecoder, batch_size: int) -> Iterator[None]:
    """The project's thread policy (:func:`~minirnn.train.threads.thread_policy`), with one
    BLAS thread where it would leave the count alone: an encoder-decoder runs one small
    product per token (decoder step, attention, output layer), and a second BLAS thread
    made a training step 4x slower on the 2-core project machine (docs/seq2seq.md).
    ``MINIRNN_BLAS_THREADS`` still overrides it; everything is restored on exit."""
    with thread_policy(model, batch_size) as decision:
        if os.environ.get("MINIRNN_BLAS_THREADS") or (
                decision is not None and decision.blas_threads is not None):
            yield
            return
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            yield


@dataclass
class EpochLog:
    """One epoch of :class:`Seq2SeqTrainer`: losses in nats per target token."""

    epoch: int
    loss: float
    val_loss: float
    seconds: float
    tokens: int
    tokens_per_second: float
    complete: bool


class Seq2SeqTrainer:
    """Teacher-forced training of an :class:`EncoderDecoder` over length buckets.

    Parameters
    ----------
    model : EncoderDecoder
    lr : float
        Adam's initial learning rate.
    lr_decay : float, optional
        In (0, 1): multiply the learning rate by this after an epoch whose validation
        loss is not the lowest so far (a :class:`~minirnn.train.schedules.ReduceLROnPlateau`
        with patience 1 among the callbacks); None keeps it constant.
    batch_size : int
    clip_norm : float or None
        Global gradient-norm clipping.
    epochs : int
    patience : int
        Stop after this many epochs without a lower validation loss.
    time_limit : float, optional
        Seconds of training (validation included), checked after every batch; the epoch
        then ends early and is validated (a :class:`~minirnn.callbacks.TimeLimit` among
        the callbacks).
    seed : int
    checkpoint : path, optional
        Written after every epoch; :meth:`fit` with ``resume=True`` continues from it.
    on_epoch : callable, optional
        Called with each :class:`EpochLog` (for printing), before the callbacks' epoch end.
    callbacks : sequence of Callback
        Called as the :class:`~minirnn.Solver` calls them (``on_train_begin``,
        ``on_epoch_begin``, ``on_batch_end`` with the batch's ``loss``, ``on_epoch_end``
        with ``loss``, ``val_loss``, ``time``, ``tokens_per_second``, ``on_train_end``),
        with this trainer as their ``solver``: a callback stops training by setting
        ``stop_training`` (after a batch: the epoch ends early and is validated), may
        change ``optimizer.lr``, and may raise (a sweep's pruning callback) to end the
        run at once.

    Attributes
    ----------
    history : list of EpochLog
    best_epoch : int
        0-based epoch whose weights the model holds after :meth:`fit` (-1: none).
    interrupted : bool
        Ctrl-C ended training (the best weights so far are kept).
    time_limit_reached : bool
    stop_training : bool
        Set by a callback to end training.
    tokens_seen : int
        Target tokens trained on (``<eos>`` included).
    """

    def __init__(self, model: EncoderDecoder, *, lr: float = 2e-3,
                 lr_decay: float | None = None, batch_size: int = 32,
                 clip_norm: float | None = 5.0, epochs: int = 30, patience: int = 5,
                 time_limit: float | None = None, seed: int = 0,
                 checkpoint: str | os.PathLike[str] | None = None,
                 on_epoch: Callable[[EpochLog], None] | None = None,
                 callbacks: Sequence[Callback] = ()) -> None:
        self.model = model
        self.optimizer = Adam(model.parameters(), lr=lr)
        self.loss = CrossEntropy()
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.epochs = epochs
        self.patience = patience
        self.time_limit = time_limit
        self.rng = np.random.default_rng(seed)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.on_epoch = on_epoch
        self.callbacks: list[Callback] = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances, got "
                                f"{type(cb).__name__}")
        # The time limit is the project's TimeLimit callback; this trainer keeps the best
        # weights itself, so the callback does not restore any.
        self._limit = None if time_limit is None else TimeLimit(time_limit,
                                                                 restore_best_weights=False)
        if self._limit is not None:
            self.callbacks.append(self._limit)
        self._plateau = None if lr_decay is None else ReduceLROnPlateau(
            "val_loss", factor=lr_decay, patience=1)
        if self._plateau is not None:
            self.callbacks.append(self._plateau)
        # the plateau counter from a checkpoint, restored after on_train_begin resets it
        self._resumed_plateau: dict[str, Any] | None = None
        self.stop_training = False
        self.history: list[EpochLog] = []
        self.best_epoch = -1
        self.best_loss = math.inf
        self._best_weights: dict[str, np.ndarray] | None = None
        self.interrupted = False
        self.tokens_seen = 0
        self.train_seconds = 0.0

    # -------------------------------------------------------------- one batch
    def _step(self, x: tuple[np.ndarray, ...], tgt_out: np.ndarray) -> tuple[float, int]:
        model = self.model
        model.zero_grad()
        logits = model.forward(x, training=True)
        mask = sequence_mask(x[3], tgt_out.shape[1])
        value = self.loss.forward(logits, tgt_out, mask)
        if not math.isfinite(value):
            raise FloatingPointError(f"the training loss became {value}")
        model.backward(self.loss.backward())
        params = model.parameters()
        if self.clip_norm is not None:
            norm = math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))
            if norm > self.clip_norm:
                scale = self.clip_norm / (norm + 1e-12)
                for p in params:
                    p.grad *= scale
        self.optimizer.step()
        return value, int(mask.sum())

    def evaluate(self, data: PairData, batch_size: int = 128) -> float:
        """Mean cross-entropy per target token (nats) with teacher forcing, eval mode."""
        src_len, tgt_len = data.lengths()
        total, count = 0.0, 0
        for index in bucket_batches(src_len, tgt_len, batch_size):
            x, tgt_out = data.batch(index)
            logits = self.model.forward(x, training=False)
            mask = sequence_mask(x[3], tgt_out.shape[1])
            n = int(mask.sum())
            total += self.loss.forward(logits, tgt_out, mask) * n
            count += n
        return total / max(count, 1)

    # -------------------------------------------------------------- the loop
    def fit(self, train: PairData, valid: PairData, *, resume: bool = False) -> list[EpochLog]:
        """Train until ``epochs``, early stopping, the time limit or Ctrl-C; the model then
        holds the weights of the epoch with the lowest validation loss."""
        if resume and self.checkpoint is not None and self.checkpoint.is_file():
            self._load_checkpoint(self.checkpoint)
        with seq2seq_threads(self.model, self.batch_size):
            self._fit(train, valid)
        return self.history

    @property
    def time_limit_reached(self) -> bool:
        """The time limit ended training."""
        return self._limit is not None and self._limit.stopped

    @property
    def best_weights(self) -> dict[str, np.ndarray] | None:
        """The weights of the epoch with the lowest validation loss so far (as the Solver's)."""
        return self._best_weights

    def _fit(self, train: PairData, valid: PairData) -> None:
        # The time limit counts this call's seconds (a resumed run gets the whole limit
        # again); train_seconds adds up over calls.
        start, before = time.perf_counter(), self.train_seconds
        src_len, tgt_len = train.lengths()
        self.stop_training = False
        for cb in self.callbacks:
            cb.set_solver(self)  # type: ignore[arg-type]  # the Solver's duck type
        for cb in self.callbacks:
            cb.on_train_begin({})
        if self._plateau is not None and self._resumed_plateau is not None:
            self._plateau.load_state_dict(self._resumed_plateau)
            self._resumed_plateau = None
        try:
            while len(self.history) < self.epochs and not self.stop_training:
                if self.best_epoch >= 0 and len(self.history) - 1 - self.best_epoch \
                        >= self.patience:
                    break
                epoch = len(self.history)
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch, {})
                epoch_start = time.perf_counter()
                total, tokens, complete = 0.0, 0, True
                for b, index in enumerate(bucket_batches(src_len, tgt_len, self.batch_size,
                                                         self.rng)):
                    x, tgt_out = train.batch(index)
                    value, n = self._step(x, tgt_out)
                    total += value * n
                    tokens += n
                    for cb in self.callbacks:
                        cb.on_batch_end(b, {"loss": value})
                    if self.stop_training:  # e.g. the time limit: validate, then stop
                        complete = False
                        break
                train_time = time.perf_counter() - epoch_start
                self.tokens_seen += tokens
                val = self.evaluate(valid)
                log = EpochLog(epoch, total / max(tokens, 1), val,
                               time.perf_counter() - epoch_start, tokens,
                               tokens / max(train_time, 1e-9), complete)
                self.history.append(log)
                if math.isfinite(val) and val < self.best_loss:
                    self.best_loss, self.best_epoch = val, log.epoch
                    self._best_weights = {k: v.copy() for k, v in
                                          self.model.state_dict().items()}
                self.train_seconds = before + time.perf_counter() - start
                if self.on_epoch is not None:
                    self.on_epoch(log)
                logs = {"loss": log.loss, "val_loss": log.val_loss, "time": log.seconds,
                        "tokens_per_second": log.tokens_per_second}
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
                # after the callbacks: the rate they set and the plateau counter are saved
                if self.checkpoint is not None and complete:
                    self._save_checkpoint(self.checkpoint)
        except KeyboardInterrupt:
            self.interrupted = True
        finally:
            self.train_seconds = before + time.perf_counter() - start
            if self._best_weights is not None:
                self.model.load_state_dict(self._best_weights)
        for cb in self.callbacks:
            cb.on_train_end({"interrupted": self.interrupted})

    # -------------------------------------------------------------- checkpoints
    def _save_checkpoint(self, path: Path) -> None:
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        if self._best_weights is not None:
            arrays.update({f"best/{k}": v for k, v in self._best_weights.items()})
        opt = self.optimizer.state_dict()
        for i, state in enumerate(opt["state"]):
            arrays.update({f"optimizer/{i}/{k}": v for k, v in state.items()})
        header = {"kind": "checkpoint", "seq2seq": {
            "history": [vars(h) for h in self.history], "best_epoch": self.best_epoch,
            "best_loss": self.best_loss, "tokens_seen": self.tokens_seen,
            "train_seconds": self.train_seconds, "rng": self.rng.bit_generator.state,
            "plateau": None if self._plateau is None else self._plateau.state_dict(),
            "optimizer": {"class": opt["class"], "hyperparameters": opt["hyperparameters"],
                          "step_count": opt["step_count"],
                          "keys": [sorted(s) for s in opt["state"]]}}}
        write_file(path, json.loads(json.dumps(header, default=_plain)), arrays)

    def _load_checkpoint(self, path: Path) -> None:
        header, arrays = read_file(path, "checkpoint")
        try:
            info = header["seq2seq"]
            model = {k[6:]: v for k, v in arrays.items() if k.startswith("model/")}
            best = {k[5:]: v for k, v in arrays.items() if k.startswith("best/")}
            opt = info["optimizer"]
            state = [{k: arrays[f"optimizer/{i}/{k}"] for k in keys}
                     for i, keys in enumerate(opt["keys"])]
            current = self.model.state_dict()
            if set(model) != set(current) or any(model[k].shape != current[k].shape
                                                  for k in current):
                raise ModelFileError(f"{path}: the checkpoint holds another model (other "
                                     "options or data than this run)")
            self.optimizer.load_state_dict({"class": opt["class"],
                                            "hyperparameters": opt["hyperparameters"],
                                            "step_count": opt["step_count"], "state": state})
            self.model.load_state_dict(model)
            self._best_weights = best or None
            self.history = [EpochLog(**h) for h in info["history"]]
            self.best_epoch, self.best_loss = int(info["best_epoch"]), float(info["best_loss"])
            self.tokens_seen = int(info["tokens_seen"])
            self.train_seconds = float(info["train_seconds"])
            self.rng.bit_generator.state = info["rng"]
            self._resumed_plateau = info.get("plateau")
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelFileError(f"{path}: not a usable seq2seq checkpoint ({exc})") from exc


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a checkpoint header")


# ------------------------------------------------------------------ decoding and metrics
def translate(model: EncoderDecoder, sources: Sequence[Sequence[int]], *, beam: int = 1,
              max_length: int = 50, batch_size: int = 64) -> list[Hypothesis]:
    """Decode id lists (greedy with ``beam=1``, else beam search, best hypothesis), in the
    order given; sources are batched by length."""
    out: list[Hypothesis | None] = [None] * len(sources)
    lengths = np.array([len(s) for s in sources])
    with seq2seq_threads(model, batch_size):
        _translate_into(out, model, sources, lengths, beam, max_length, batch_size)
    return [h for h in out if h is not None]


def _translate_into(out: list[Hypothesis | None], model: EncoderDecoder,
                    sources: Sequence[Sequence[int]], lengths: np.ndarray, beam: int,
                    max_length: int, batch_size: int) -> None:
    for index in bucket_batches(lengths, lengths, batch_size):
        src, src_lengths = pad_ids([sources[i] for i in index])
        if beam == 1:
            hyps = greedy_decode(model, src, src_lengths, max_length=max_length)
        else:
            hyps = [b[0] for b in beam_search(model, src, src_lengths, beam_width=beam,
                                              max_length=max_length)]
        for i, h in zip(index, hyps, strict=True):
            out[int(i)] = h


def exact_match(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]
                ) -> float:
    """Fraction of hypotheses equal to their reference token for token."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return float(np.mean([list(h) == list(r) for h, r in zip(hypotheses, references,
                                                               strict=True)]))


def bleu_available() -> bool:
    """Whether sacrebleu (the ``bleu`` extra) is installed."""
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        return False
    return True


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
                tokens: str) -> float | None:
    """Corpus BLEU (0-100) from sacrebleu on the detokenised lines: its default 13a
    tokenisation for word tokens, its character tokenisation for ``char`` (n-grams of
    characters, so that a one-word answer such as ``168`` is not scored as one unigram);
    None when sacrebleu is not installed."""
    try:
        import sacrebleu
    except ImportError:
        return None
    hyps = [detokenize(h, tokens) for h in hypotheses]
    refs = [detokenize(r, tokens) for r in references]
    return float(sacrebleu.corpus_bleu(hyps, [refs],
                                       tokenize="char" if tokens == "char" else "13a").score)


def copy_baseline(sources: Sequence[Sequence[str]]) -> list[list[str]]:
    """The copy-the-source baseline: every source as its own translation."""
    return [list(s) for s in sources]


def _ngram_counts(sentences: Sequence[Sequence[str]], index: dict[tuple[str, ...], int],
                  grow: bool) -> Any:
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for r, s in enumerate(sentences):
        grams = [(t,) for t in s] + [tuple(s[i:i + 2]) for i in range(len(s) - 1)]
        for g in grams:
            if g not in index:
                if not grow:
                    continue
                index[g] = len(index)
            rows.append(r)
            cols.append(index[g])
    data = np.ones(len(rows))
    return csr_matrix((data, (rows, cols)), shape=(len(sentences), max(len(index), 1)))


def nearest_neighbour_baseline(train_sources: Sequence[Sequence[str]],
                               train_targets: Sequence[Sequence[str]],
                               sources: Sequence[Sequence[str]]) -> list[list[str]]:
    """The retrieval baseline: the target of the most similar training source (cosine
    similarity of token unigram + bigram counts; the first training pair on ties)."""
    index: dict[tuple[str, ...], int] = {}
    a = _ngram_counts(train_sources, index, True)
    b = _ngram_counts(sources, index, False)
    a_norm = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel()) + 1e-12
    b_norm = np.sqrt(np.asarray(b.multiply(b).sum(axis=1)).ravel()) + 1e-12
    out: list[list[str]] = []
    for start in range(0, len(sources), 256):
        sim = np.asarray((b[start:start + 256] @ a.T).todense()) / a_norm[None, :]
        sim /= b_norm[start:start + 256, None]
        out.extend(list(train_targets[int(j)]) for j in np.argmax(sim, axis=1))
    return out


# ------------------------------------------------------------------ the model file
def vocabulary_digest(src_vocab: Sequence[str], tgt_vocab: Sequence[str]) -> str:
    """SHA-256 of the two vocabularies, stored beside them to detect a changed one."""
    return hashlib.sha256(json.dumps([list(src_vocab), list(tgt_vocab)]).encode()).hexdigest()


def save_translator(path: str | os.PathLike[str], model: EncoderDecoder, *, tokens: str,
                    max_length: int, extra: dict[str, Any] | None = None) -> None:
    """Save the model with its vocabularies (in the JSON header), the tokenisation and the
    decoding length, so ``minirnn translate`` needs nothing else."""
    if model.src_vocab is None or model.tgt_vocab is None:
        raise ValueError("the model has no vocabularies (src_vocab / tgt_vocab)")
    save_model(path, model, metadata={
        "task": "seq2seq", "tokens": tokens, "max_length": int(max_length),
        "vocabulary_sha256": vocabulary_digest(model.src_vocab, model.tgt_vocab),
        **(extra or {})})


def load_translator(path: str | os.PathLike[str]) -> tuple[EncoderDecoder, dict[str, Any]]:
    """A model saved by :func:`save_translator` and its metadata.

    Raises
    ------
    ModelFileError
        Not a readable model file, not a seq2seq model, no or corrupt vocabularies, or
        vocabularies that are not those the model was saved with.
    """
    header, _ = read_file(path, "model")
    meta = header.get("metadata")
    if not isinstance(meta, dict) or meta.get("task") != "seq2seq":
        raise ModelFileError(f"{path}: not a model of 'minirnn train seq2seq'")
    model = load_model(path)  # checks the vocabularies' sizes and special tokens
    if not isinstance(model, EncoderDecoder):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not an EncoderDecoder")
    if model.src_vocab is None or model.tgt_vocab is None:
        raise ModelFileError(f"{path}: the model file has no vocabularies")
    if meta.get("tokens") not in TOKENS:
        raise ModelFileError(f"{path}: unknown tokenisation {meta.get('tokens')!r} "
                             f"(expected one of {list(TOKENS)})")
    max_length = meta.get("max_length")
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        raise ModelFileError(f"{path}: max_length must be a positive integer, got "
                             f"{max_length!r}")
    if meta.get("vocabulary_sha256") != vocabulary_digest(model.src_vocab, model.tgt_vocab):
        raise ModelFileError(f"{path}: the vocabularies in the file are not those the model "
                             "was trained with (their SHA-256 differs from the one saved)")
    return model, meta


def decode_tokens(hypothesis: Hypothesis, vocab: Sequence[str]) -> list[str]:
    """The token strings of a hypothesis."""
    return decode_ids(hypothesis.tokens, vocab)


# ------------------------------------------------------------------ figures
def plot_attention(items: Sequence[tuple[Sequence[str], Sequence[str], np.ndarray]],
                   path: Path) -> bool:
    """Heat maps of attention weights, one panel per (source tokens, generated tokens,
    weights (steps, S)); False (nothing written) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(items), figsize=(4.2 * len(items), 4.2), squeeze=False)
    for ax, (src, out, weights) in zip(axes[0], items, strict=True):
        w = weights[:len(out) + 1, :len(src)]
        ax.imshow(w, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), [repr(t)[1:-1] or " " for t in src], rotation=90,
                      fontsize=8)
        ax.set_yticks(range(w.shape[0]), [*[repr(t)[1:-1] for t in out], "<eos>"][:w.shape[0]],
                      fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("generated")
    fig.suptitle("attention weights (test pairs)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
