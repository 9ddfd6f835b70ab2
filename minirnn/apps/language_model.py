"""Language models: :class:`LanguageModel` (embedding -> recurrent -> softmax), training
on a token stream with stateful truncated BPTT (:class:`TextSolver`), and generation.

Examples
--------
>>> import numpy as np
>>> from minirnn.apps.data.text import Vocabulary, split_text
>>> text = "the cat sat on the mat. " * 40
>>> vocab = Vocabulary.from_text(text)
>>> model = LanguageModel(vocab, embedding_dim=8, hidden_size=16, seed=0)
>>> train, val = split_text(vocab.encode(text))
>>> solver = TextSolver(model, batch_size=4, seq_len=20, epochs=2, seed=0)
>>> history = solver.fit_text(train, val)
>>> len(model.generate("the ", 10, temperature=0)) == 14
True
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from minirnn.apps.data.text import (
    TextError,
    Vocabulary,
    random_windows,
    stream_batches,
    stream_window_count,
)
from minirnn.apps.recurrent import recurrent_layer
from minirnn.nn._validation import check_float_dtype, check_positive_int, check_probability
from minirnn.nn.layers.base import Layer
from minirnn.nn.layers.dense import Dense
from minirnn.nn.layers.embedding import Embedding, as_indices
from minirnn.nn.losses.classification import CrossEntropy
from minirnn.nn.registry import RECURRENT_LAYERS, register_layer
from minirnn.train.solver import History, Solver
from minirnn.train.threads import (
    SPLIT_MIN_BATCH,
    available_cores,
    set_batch_threads,
    set_blas_threads,
    thread_policy,
)

__all__ = ["LanguageModel", "TextSolver", "bits_per_token", "perplexity"]


def bits_per_token(nats: float) -> float:
    """Cross-entropy in bits (per character for character models): ``nats / ln 2``."""
    return nats / math.log(2.0)


def perplexity(nats: float) -> float:
    """``exp(nats)``; inf when that overflows."""
    try:
        return math.exp(nats)
    except OverflowError:
        return math.inf


@register_layer
class LanguageModel(Layer):
    """Next-token model: ``Embedding -> LSTM/GRU/RNN -> Dense`` over the vocabulary.

    Parameters
    ----------
    vocab : Vocabulary or dict
        The tokens; saved inside the model file (as JSON, see :func:`minirnn.nn.io.save_model`).
    embedding_dim : int
        E, features per token.
    hidden_size : int
        H, units of each recurrent layer.
    num_layers : int
    cell : {"lstm", "gru", "rnn"}
    dropout : float
        Dropout between stacked recurrent layers (PyTorch's ``dropout``), in training only.
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional

    Notes
    -----
    Sub-layers are named as in PyTorch's ``word_language_model`` ``RNNModel``:
    ``encoder`` (``nn.Embedding``), ``rnn`` (``nn.LSTM``, ``batch_first=True``) and
    ``decoder`` (``nn.Linear``), so ``state_dict()`` keys are ``encoder.weight``,
    ``rnn.weight_ih_l0``..., ``decoder.weight``, ``decoder.bias`` with PyTorch's shapes.

    ``forward`` maps token indices (N, T) to logits (N, T, V). Set ``rnn.stateful``
    (or use :class:`TextSolver`) to carry the state from one window to the next.
    """

    def __init__(
        self,
        vocab: Vocabulary | dict[str, Any],
        embedding_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        *,
        dtype: Any = np.float32,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.vocab = vocab if isinstance(vocab, Vocabulary) else Vocabulary.from_dict(vocab)
        if cell not in RECURRENT_LAYERS:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_LAYERS)}, got {cell!r}")
        self.cell = cell
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.dropout = check_probability(dropout, "dropout")
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        size = len(self.vocab)
        self.encoder = Embedding(size, self.embedding_dim, dtype=dt, seed=rng)
        self.rnn = recurrent_layer(cell, self.embedding_dim, self.hidden_size, self.num_layers,
                                   dropout=self.dropout, dtype=dt, seed=rng)
        self.decoder = Dense(self.hidden_size, size, dtype=dt, seed=rng)
        self.add_layer("encoder", self.encoder)
        self.add_layer("rnn", self.rnn)
        self.add_layer("decoder", self.decoder)

    # ---------------------------------------------------------------- layer contract
    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Token indices (N, T) -> logits (N, T, V)."""
        ids = as_indices(x, len(self.vocab), "tokens")
        if ids.ndim != 2:
            raise ValueError(f"tokens must have shape (N, T), got {ids.shape}")
        h = self.rnn.forward(self.encoder.forward(ids, training=training), training=training)
        return self.decoder.forward(h, training=training)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dL/dlogits (N, T, V) -> zeros (token indices have no gradient)."""
        return self.encoder.backward(self.rnn.backward(self.decoder.backward(dy)))

    def reset_states(self) -> None:
        """Forget the state carried between windows (stateful training)."""
        self.rnn.reset_states()

    def get_config(self) -> dict[str, Any]:
        return {"vocab": self.vocab.to_dict(), "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "cell": self.cell, "dropout": self.dropout, "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"LanguageModel(vocab={len(self.vocab)} {self.vocab.level}s, "
                f"embedding_dim={self.embedding_dim}, {self.cell.upper()}(hidden_size="
                f"{self.hidden_size}, num_layers={self.num_layers}))")

    # ---------------------------------------------------------------- evaluation
    def evaluate(self, codes: np.ndarray, batch_size: int = 32, seq_len: int = 100) -> float:
        """Mean cross-entropy (nats per token) of predicting ``codes[1:]`` from the past.

        The text is cut into at most ``batch_size`` contiguous streams read
        window by window with the state carried (as in training), so each
        prediction sees up to the whole stream before it. The state carried by
        training, if any, is kept aside and restored.
        """
        codes = as_indices(np.asarray(codes), len(self.vocab), "codes")
        if codes.ndim != 1 or len(codes) < 2:
            raise TextError(f"evaluation needs at least 2 tokens, got {codes.shape}")
        streams = max(1, min(batch_size, len(codes) // (seq_len + 1)))
        saved = (self.rnn.stateful, self.rnn.carried_state)
        self.rnn.stateful = True
        self.rnn.carried_state = None
        loss = CrossEntropy()
        total = 0.0
        count = 0
        try:
            for x, y in stream_batches(codes, streams, seq_len):
                total += loss.forward(self.forward(x), y) * y.size
                count += y.size
        finally:
            self.rnn.stateful, self.rnn.carried_state = saved
        return total / count

    # ---------------------------------------------------------------- generation
    def generate(
        self,
        prime: str,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | np.random.Generator | None = None,
    ) -> str:
        """Continue ``prime`` by ``length`` tokens; returns prime + continuation.

        The prime is read once; then each new token costs one recurrent step,
        the state carried (never re-running the prefix).

        Parameters
        ----------
        prime : str
            Starting text, every character (word) in the vocabulary. Empty: start
            from one token drawn uniformly (included in the result).
        length : int
            Tokens to generate (>= 0).
        temperature : float
            Logits are divided by it before sampling: < 1 sharper, > 1 more
            random. 0 means greedy (always the most likely token).
        top_k : int, optional
            Sample only among the ``top_k`` most likely tokens.
        seed : int or numpy.random.Generator, optional

        Raises
        ------
        TextError
            The prime holds a token outside the vocabulary.
        ValueError
            A negative or non-finite temperature, a negative length, a bad top_k.
        """
        return "".join(self.stream(prime, length, temperature, top_k, seed))

    def stream(
        self,
        prime: str,
        length: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | np.random.Generator | None = None,
        chunk: int = 1024,
    ) -> Iterator[str]:
        """:meth:`generate` piece by piece: the prime (and the first token when the prime
        is empty), then the continuation in pieces of ``chunk`` tokens, as they are made.
        Memory stays bounded whatever ``length`` is; ``"".join`` of the pieces is
        :meth:`generate`'s result. Arguments are checked before the first piece.
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
            raise ValueError(f"length must be a non-negative int, got {length!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not math.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy), got "
                             f"{temperature!r}")
        size = len(self.vocab)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(
                top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
        if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
            raise ValueError(f"chunk must be a positive int, got {chunk!r}")
        rng = np.random.default_rng(seed)
        codes = self.vocab.encode(prime, what="the prime")
        if self.vocab.level == "word" and prime and not prime.endswith("\n"):
            codes = codes[:-1]  # no end of line after a prime that does not end one
        if not len(codes):
            codes = np.array([rng.integers(size)], dtype=self.vocab.dtype)
        return self._stream(codes, int(length), float(temperature), top_k, rng, int(chunk))

    def _stream(self, codes: np.ndarray, length: int, temperature: float,
                top_k: int | None, rng: np.random.Generator, chunk: int) -> Iterator[str]:
        words = self.vocab.level == "word"
        text = self.vocab.decode(codes)
        yield text
        last = text[-1:] if text else "\n"
        saved = (self.rnn.stateful, self.rnn.carried_state)
        self.rnn.stateful = True
        self.rnn.carried_state = None
        try:
            logits = self.forward(codes[None, :].astype(np.intp))[0, -1]
            step = np.empty((1, 1), np.intp)
            done = 0
            while done < length:
                piece = np.empty(min(chunk, length - done), np.intp)
                for i in range(len(piece)):
                    token = _sample(logits.astype(np.float64), temperature, top_k, rng)
                    piece[i] = token
                    step[0, 0] = token
                    logits = self.forward(step)[0, -1]
                done += len(piece)
                text = self.vocab.decode(piece)
                if words and text and not text.startswith("\n") and last != "\n":
                    text = " " + text  # words of two pieces are joined by a space
                last = text[-1:] or last
                yield text
        finally:
            self.rnn.stateful, self.rnn.carried_state = saved


def _sample(logits: np.ndarray, temperature: float, top_k: int | None,
            rng: np.random.Generator) -> int:
    if temperature == 0:
        return int(np.argmax(logits))
    if top_k is not None and top_k < len(logits):
        cut = np.partition(logits, -top_k)[-top_k]
        logits = np.where(logits >= cut, logits, -np.inf)
    # Shift before dividing: a tiny temperature (1e-308) then sends every logit but the
    # largest to -inf and the largest to 0 (greedy) instead of overflowing to inf - inf.
    with np.errstate(over="ignore", invalid="ignore"):
        z = (logits - logits.max()) / temperature
    z[np.isnan(z)] = -np.inf
    if not np.isfinite(z).any():
        return int(np.argmax(logits))
    p = np.exp(z)
    p /= p.sum()
    return int(rng.choice(len(p), p=p))


class TextSolver(Solver):
    """Train a :class:`LanguageModel` on a token stream (:meth:`fit_text`).

    Parameters
    ----------
    model : LanguageModel
    seq_len : int
        T, tokens per window: the truncation length of backpropagation.
    batching : {"stream", "random"}
        ``"stream"`` (default): ``batch_size`` contiguous streams read window by
        window, the recurrent state carried from each window to the next
        (stateful truncated BPTT; reset at the start of each pass over the
        text). ``"random"``: independent windows at random positions, each
        from a zero state.
    steps_per_epoch : int, optional
        Windows per "epoch", the unit after which the validation loss is
        computed and callbacks' ``on_epoch_end`` run (default: one pass over the
        text). The stream continues across epochs.
    val_tokens : int, optional
        Validate on at most this many tokens (the start of the validation
        span), to keep periodic validation cheap on large texts; None: all.
    blas_threads : "auto", int or None
        numpy's BLAS threads while training. ``"auto"`` (default) times the first
        windows on one thread, on every core and, with a batch of at least
        :data:`minirnn.train.threads.SPLIT_MIN_BATCH` streams, with the batch split
        over two threads of one BLAS thread each (four windows each, the first
        not timed), and keeps the fastest (on an idle 2-core machine two threads won by ~1.3x at
        batch 32 and the split by another ~1.12x at batch 64; on a busy one a
        second BLAS thread spinning for a core made each product up to 10x
        slower, measured); skipped when ``MINIRNN_BLAS_THREADS`` is set. An int
        sets that count (:func:`minirnn.train.threads.set_blas_threads`); None leaves
        it alone. The choice is in :attr:`blas_threads_used` and
        :attr:`batch_threads_used`.
    **kwargs
        :class:`~minirnn.Solver` arguments (``optimizer``, ``batch_size``,
        ``epochs``, ``clip_norm``, ``callbacks``, ``seed``...). ``loss`` is
        :class:`~minirnn.losses.CrossEntropy`.

    Notes
    -----
    Each window's update is :meth:`Solver._step`: forward, mean cross-entropy
    over the window's tokens, backward, NaN/Inf checks, clipping, optimizer
    step; callbacks get ``on_batch_end`` with ``tokens`` (tokens in the window).
    The history adds ``tokens_per_second`` and the validation loss ``val_loss``
    in nats per token.
    """

    def __init__(self, model: LanguageModel, *, seq_len: int = 100, batching: str = "stream",
                 steps_per_epoch: int | None = None, val_tokens: int | None = None,
                 blas_threads: int | str | None = "auto",
                 **kwargs: Any) -> None:
        if not isinstance(model, LanguageModel):
            raise TypeError(f"TextSolver trains a LanguageModel, got {type(model).__name__}")
        for name in ("loss", "shuffle", "stateful", "tbptt"):
            if name in kwargs:
                raise TypeError(f"TextSolver sets {name!r} itself")
        super().__init__(model, loss=CrossEntropy(), shuffle=False, **kwargs)
        self.lm = model
        self.seq_len = check_positive_int(seq_len, "seq_len")
        if batching not in ("stream", "random"):
            raise ValueError(f"batching must be 'stream' or 'random', got {batching!r}")
        self.batching = batching
        self.steps_per_epoch = (None if steps_per_epoch is None
                                else check_positive_int(steps_per_epoch, "steps_per_epoch"))
        if not (blas_threads is None or blas_threads == "auto" or (
                isinstance(blas_threads, int) and not isinstance(blas_threads, bool)
                and blas_threads >= 1)):
            raise ValueError(f"blas_threads must be 'auto', a positive int or None, got "
                             f"{blas_threads!r}")
        self.val_tokens = None if val_tokens is None else check_positive_int(val_tokens,
                                                                              "val_tokens")
        self.blas_threads = blas_threads
        self.blas_threads_used: int | None = None
        self.batch_threads_used = 1
        self.tokens_seen = 0
        self._timings: dict[tuple[int, int], list[float]] = {}
        self._candidates: list[tuple[int, int]] = []
        self._global_step = 0
        self._auto = False
        self._cores = 1

    # The first windows try the (BLAS threads, batch threads) candidates one after the
    # other, each for one window more than this many timed ones (see blas_threads); the
    # medians decide. The first window of a candidate is not timed: after a switch from
    # two BLAS threads, OpenBLAS's idle thread still spins for a while and took a core from
    # the split's second thread (interleaved windows timed the split 25 % slower than it
    # runs).
    _CALIBRATION_ROUNDS = 3

    def _use_threads(self, blas: int, parts: int) -> None:
        set_blas_threads(blas)
        if parts > 1:
            set_batch_threads(parts)

    def _threads_before_step(self) -> None:
        if not self._auto or self.blas_threads_used is not None:
            return
        step = self._global_step
        per = self._CALIBRATION_ROUNDS + 1
        n = len(self._candidates)
        if step < per * n:
            if step % per == 0:
                self._use_threads(*self._candidates[step // per])
        elif step == per * n:
            best = min(self._timings, key=lambda c: float(np.median(self._timings[c])))
            self._use_threads(*best)
            self.blas_threads_used, self.batch_threads_used = best

    def _threads_after_step(self, seconds: float) -> None:
        step = self._global_step
        self._global_step += 1
        per = self._CALIBRATION_ROUNDS + 1
        if self._auto and self.blas_threads_used is None and \
                step < per * len(self._candidates) and step % per:
            self._timings.setdefault(self._candidates[step // per], []).append(seconds)

    def _check_codes(self, codes: Any, what: str, streams: int) -> np.ndarray:
        if not isinstance(codes, np.ndarray) or codes.ndim != 1:
            raise TypeError(f"{what} must be a 1-D numpy array of token codes, got "
                            f"{getattr(codes, 'shape', type(codes).__name__)}")
        need = streams * (self.seq_len + 1)
        if len(codes) < need:
            raise TextError(
                f"the {what} has {len(codes)} tokens, shorter than one window: "
                f"{streams} streams x (seq_len + 1 = {self.seq_len + 1}) = {need} are needed "
                "(use a longer text, a smaller batch size or a shorter seq_len)")
        return as_indices(codes, len(self.lm.vocab), what)

    def _windows(self, codes: np.ndarray) -> Any:
        """Endless (x, y, new_pass) windows over the training codes."""
        while True:
            if self.batching == "random":
                for i in range(stream_window_count(len(codes), self.batch_size, self.seq_len)):
                    x, y = random_windows(codes, self.batch_size, self.seq_len, self.rng)
                    yield x, y, i == 0
            else:
                for i, (x, y) in enumerate(stream_batches(codes, self.batch_size,
                                                          self.seq_len)):
                    yield x, y, i == 0

    def fit_text(self, train: np.ndarray, val: np.ndarray | None = None) -> History:
        """Train on the token codes ``train``; ``val`` gives ``val_loss`` after every epoch.

        Returns the :class:`~minirnn.train.solver.History` (also ``self.history``). Ctrl-C
        and callbacks (:class:`~minirnn.callbacks.TimeLimit`, ``EarlyStopping``)
        stop it cleanly as in :meth:`Solver.fit`.
        """
        train = self._check_codes(train, "training text", self.batch_size)
        if val is not None:
            val = self._check_codes(val, "validation text", 1)[:self.val_tokens]
            if len(val) < 2:
                raise ValueError(f"val_tokens={self.val_tokens} leaves nothing to predict")
        per_pass = stream_window_count(len(train), self.batch_size, self.seq_len)
        steps = self.steps_per_epoch or per_pass
        self.history = History()
        self.stop_training = False
        self.interrupted = False
        self.epoch = 0
        self._best = None
        self.tokens_seen = 0
        windows = self._windows(train)
        rnn = self.lm.rnn
        self._global_step = 0
        self._timings = {}
        self.blas_threads_used = None
        self.batch_threads_used = 1
        self._cores = available_cores()
        self._candidates = [(1, 1), (self._cores, 1)]
        if self.batch_size >= SPLIT_MIN_BATCH:
            self._candidates.append((max(1, self._cores // 2), 2))
        self._auto = self.blas_threads == "auto" and self._cores > 1 and not os.environ.get(
            "MINIRNN_BLAS_THREADS", "").strip()
        for cb in self.callbacks:
            cb.set_solver(self)
        for cb in self.callbacks:
            cb.on_train_begin({})
        rnn.stateful = self.batching == "stream"
        rnn.reset_states()
        # Whatever the thread choices below change is restored when training ends.
        threads = thread_policy(self.model, self.batch_size,
                                decide=self.blas_threads == "auto" and not self._auto)
        threads.__enter__()
        if isinstance(self.blas_threads, int):
            set_blas_threads(self.blas_threads)
            self.blas_threads_used = self.blas_threads
        try:
            while self.epoch < self.epochs and not self.stop_training:
                epoch = self.epoch
                for cb in self.callbacks:
                    cb.on_epoch_begin(epoch, {})
                logs = self._train_steps(windows, steps)
                if val is not None:
                    logs["val_loss"] = self.lm.evaluate(val, self.batch_size, self.seq_len)
                self.history.append(epoch, logs)
                self._track_best(logs)
                for cb in self.callbacks:
                    cb.on_epoch_end(epoch, logs)
                self.epoch = epoch + 1
        except KeyboardInterrupt:
            self.interrupted = True
            self.stop_training = True
            if self._best is not None:
                self.model.load_state_dict(self._best[1])
        finally:
            threads.__exit__(None, None, None)
            rnn.stateful = False
            rnn.reset_states()
            for cb in self.callbacks:
                cb.on_train_end({"interrupted": self.interrupted})
        return self.history

    def _train_steps(self, windows: Any, steps: int) -> dict[str, float]:
        start = time.perf_counter()
        loss_sum = 0.0
        norms: list[float] = []
        tokens = 0
        param_norms: dict[str, list[float]] = {}
        for batch in range(steps):
            x, y, new_pass = next(windows)
            if new_pass:
                self.lm.reset_states()
            self._threads_before_step()
            began = time.perf_counter()
            loss, norm = self._step(x, y.astype(np.intp), None, None, batch, param_norms)
            self._threads_after_step(time.perf_counter() - began)
            loss_sum += loss * y.size
            tokens += y.size
            self.tokens_seen += y.size  # counted per window: true after an early Ctrl-C
            norms.append(norm)
            for cb in self.callbacks:
                cb.on_batch_end(batch, {"loss": loss, "grad_norm": norm, "size": x.shape[0],
                                        "tokens": y.size})
            if self.stop_training:  # e.g. TimeLimit: end this epoch early
                break
        elapsed = time.perf_counter() - start
        return {"loss": loss_sum / tokens, "grad_norm": float(np.mean(norms)),
                "lr": self.optimizer.lr, "time": elapsed,
                "tokens_per_second": tokens / elapsed if elapsed > 0 else float("inf")}

