"""Text for language models: vocabularies, encoding files to code arrays, batching.

* :class:`Vocabulary` maps tokens (characters, or words with a size cap and an
  unknown token) to integer codes and back; it round-trips through JSON
  (:meth:`Vocabulary.to_dict`) so it is saved inside a model file, never pickled.
* :func:`encode_file` turns a UTF-8 file into a ``uint8``/``uint16``/``uint32`` code
  array without building Python lists of characters: the file is decoded in chunks
  and each chunk's code points are mapped with numpy, so memory stays at the code
  array plus one chunk (at most ~2x the file).
* :func:`stream_batches` cuts the text into ``batch_size`` contiguous streams and
  walks them window by window, so a stateful model carries its state across
  windows (truncated BPTT, as PyTorch's ``word_language_model``);
  :func:`random_windows` draws independent windows instead.
* :func:`split_text` keeps the last 10 % as the validation span.
"""

from __future__ import annotations

import codecs
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "EOS", "UNK", "TextError", "Vocabulary", "code_dtype", "encode_file", "ngram_baselines",
    "random_windows", "read_text", "split_text", "stream_batches",
]

#: Unknown-word token of word vocabularies (PyTorch's word_language_model has none: it
#: relies on a pre-processed corpus; here rare words map to it).
UNK = "<unk>"
#: End-of-line token of word vocabularies (as in PyTorch's word_language_model).
EOS = "<eos>"

_CHUNK = 1 << 18  # bytes decoded at a time: 256 KiB (~35 bytes of temporaries per byte)


class TextError(ValueError):
    """A text file or string that cannot be used: not UTF-8, empty, too short."""


def code_dtype(size: int) -> np.dtype:
    """The smallest unsigned dtype holding codes 0..size-1."""
    if size <= 1 << 8:
        return np.dtype(np.uint8)
    if size <= 1 << 16:
        return np.dtype(np.uint16)
    return np.dtype(np.uint32)


def _decoded_chunks(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield the file's text in pieces; a non-UTF-8 byte raises TextError with its offset."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # bytes read so far
    with open(path, "rb") as handle:
        while True:
            block = handle.read(_CHUNK)
            final = not block
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                where = offset - pending + exc.start
                bad = bytes(exc.object[exc.start:exc.start + 1])
                raise TextError(f"{os.fspath(path)} is not UTF-8 text: {exc.reason} at byte "
                                f"offset {where} (byte {bad!r})") from None
            offset += len(block)
            if text:
                yield text
            if final:
                return


def read_text(path: str | os.PathLike[str]) -> str:
    """The whole file as a string; TextError if it is not UTF-8 or is empty."""
    text = "".join(_decoded_chunks(path))
    if not text:
        raise TextError(f"{os.fspath(path)} is empty: a language model needs text")
    return text


def _code_points(text: str) -> np.ndarray:
    """Unicode code points of ``text`` as uint32, without a Python list per character."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _words(line: str) -> list[str]:
    return [*line.split(), EOS]


class Vocabulary:
    """Tokens <-> integer codes, for characters or words.

    Parameters
    ----------
    tokens : sequence of str
        Token of each code, in code order (no duplicates).
    level : {"char", "word"}
    unk : str, optional
        Token that unknown words map to (word level; must be in ``tokens``).
        Character vocabularies have none: an unknown character is an error.

    Examples
    --------
    >>> vocab = Vocabulary.from_text("hello", level="char")
    >>> vocab.tokens
    ['e', 'h', 'l', 'o']
    >>> vocab.decode(vocab.encode("hole"))
    'hole'
    """

    def __init__(self, tokens: Sequence[str], level: str = "char",
                 unk: str | None = None) -> None:
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        tokens = list(tokens)
        if not tokens:
            raise ValueError("a vocabulary needs at least one token, got none")
        if not all(isinstance(t, str) and t for t in tokens):
            raise TypeError("vocabulary tokens must be non-empty strings")
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        if level == "char" and any(len(t) != 1 for t in tokens):
            raise ValueError("a character vocabulary holds single characters")
        if unk is not None and unk not in tokens:
            raise ValueError(f"the unknown token {unk!r} is not in the vocabulary")
        self.tokens = tokens
        self.level = level
        self.unk = unk
        self.index = {t: i for i, t in enumerate(tokens)}
        self.dtype = code_dtype(len(tokens))
        if level == "char":
            points = np.array([ord(t) for t in tokens], dtype=np.uint32)
            self._order = np.argsort(points)
            self._points = points[self._order]

    # ---------------------------------------------------------------- building
    @classmethod
    def from_text(cls, text: str, level: str = "char", max_size: int | None = None,
                  min_count: int = 1) -> Vocabulary:
        """Build from a string: every character (sorted by code point), or words.

        Word vocabularies split each line on whitespace and end it with ``<eos>``;
        they keep the ``max_size`` most frequent words (ties by first appearance)
        seen at least ``min_count`` times, plus ``<unk>`` for the rest.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise TextError("the text is empty: a vocabulary needs at least one token")
        if level == "char":
            return cls([chr(p) for p in np.unique(_code_points(text))], "char")
        counts: Counter[str] = Counter()
        for line in text.splitlines():
            counts.update(_words(line))
        return cls._from_counts(counts, max_size, min_count)

    @classmethod
    def _from_counts(cls, counts: Counter[str], max_size: int | None,
                     min_count: int) -> Vocabulary:
        if max_size is not None and (isinstance(max_size, bool) or max_size < 2):
            raise ValueError(f"max_size must be at least 2 (a word and <unk>), got {max_size}")
        counts.pop(UNK, None)
        kept = [w for w, c in counts.most_common() if c >= min_count]
        if max_size is not None:
            kept = kept[:max_size - 1]
        return cls([UNK, *kept], "word", unk=UNK)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], level: str = "char",
                  max_size: int | None = None, min_count: int = 1) -> Vocabulary:
        """Build from a UTF-8 file, chunk by chunk (no whole-file list of characters)."""
        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        if level == "char":
            seen = np.zeros(0, np.uint32)
            for chunk in _decoded_chunks(path):
                seen = np.union1d(seen, np.unique(_code_points(chunk)))
            if not seen.size:
                raise TextError(f"{os.fspath(path)} is empty: a language model needs text")
            return cls([chr(p) for p in seen], "char")
        counts: Counter[str] = Counter()
        tail = ""
        for chunk in _decoded_chunks(path):
            lines = (tail + chunk).split("\n")
            tail = lines.pop()
            for line in lines:
                counts.update(_words(line))
        if tail:
            counts.update(_words(tail))
        if not counts:
            raise TextError(f"{os.fspath(path)} is empty: a language model needs text")
        return cls._from_counts(counts, max_size, min_count)

    # ------------------------------------------------------------ encode/decode
    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, what: str = "text") -> np.ndarray:
        """Codes of ``text`` (1-D array of :attr:`dtype`).

        Raises
        ------
        TextError
            A character outside a character vocabulary (the first is named).
        """
        if not isinstance(text, str):
            raise TypeError(f"{what} must be a str, got {type(text).__name__}")
        if self.level == "word":
            codes = [self.index.get(w, self.index[self.unk] if self.unk else -1)
                     for line in text.splitlines() for w in _words(line)]
            if -1 in codes:
                bad = next(w for line in text.splitlines() for w in _words(line)
                           if w not in self.index)
                raise TextError(f"{what} contains the word {bad!r}, which is not in the "
                                "vocabulary")
            return np.array(codes, dtype=self.dtype)
        points = _code_points(text)
        pos = np.searchsorted(self._points, points)
        pos_clipped = np.minimum(pos, len(self._points) - 1)
        known = self._points[pos_clipped] == points
        if not known.all():
            first = int(np.argmin(known))
            missing = sorted({chr(p) for p in np.unique(points[~known])})
            raise TextError(
                f"{what} contains {len(missing)} character(s) outside the vocabulary, first "
                f"{chr(points[first])!r} at position {first}: {''.join(missing)[:40]!r}")
        return self._order[pos_clipped].astype(self.dtype)

    def decode(self, codes: Any) -> str:
        """Text of ``codes`` (words joined by spaces, ``<eos>`` as a line break)."""
        arr = np.asarray(codes).reshape(-1)
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0
                         or arr.max() >= len(self)):
            raise ValueError(f"codes must be integers in [0, {len(self)}), got "
                             f"{arr.dtype} in [{arr.min()}, {arr.max()}]")
        if self.level == "char":
            return "".join(self.tokens[i] for i in arr.tolist())
        parts: list[str] = []
        for i in arr.tolist():
            word = self.tokens[i]
            if word == EOS:
                parts.append("\n")
                continue
            if parts and parts[-1] != "\n":
                parts.append(" ")
            parts.append(word)
        return "".join(parts)

    # --------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (stored in model files)."""
        return {"level": self.level, "tokens": list(self.tokens), "unk": self.unk}

    @classmethod
    def from_dict(cls, data: Any) -> Vocabulary:
        if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
            raise ValueError(f"a vocabulary description needs 'tokens' (a list), got "
                             f"{type(data).__name__}")
        return cls(data["tokens"], data.get("level", "char"), data.get("unk"))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocabulary) and self.tokens == other.tokens
                and self.level == other.level and self.unk == other.unk)

    def __repr__(self) -> str:
        return f"Vocabulary(level={self.level!r}, size={len(self)})"


def encode_file(path: str | os.PathLike[str], vocab: Vocabulary | None = None,
                level: str = "char", max_size: int | None = None) -> tuple[np.ndarray,
                                                                           Vocabulary]:
    """Codes of a whole UTF-8 file and its vocabulary (built from the file if not given).

    Character files are mapped chunk by chunk with numpy (two passes when the
    vocabulary is built), into one preallocated array of the vocabulary's
    :attr:`~Vocabulary.dtype`: memory is the code array (1 byte per character
    for up to 256 distinct characters, else 2) plus the temporaries of one
    256 KiB chunk (~9 MiB).

    Raises
    ------
    TextError
        Not UTF-8 (with the byte offset), empty, or a character outside ``vocab``.
    """
    if vocab is None:
        vocab = Vocabulary.from_file(path, level, max_size)
    if vocab.level == "word":
        parts = []
        tail = ""
        for chunk in _decoded_chunks(path):
            lines = (tail + chunk).split("\n")
            tail = lines.pop()
            if lines:
                parts.append(vocab.encode("\n".join(lines) + "\n", what=os.fspath(path)))
        if tail:
            parts.append(vocab.encode(tail, what=os.fspath(path)))
        if not parts:
            raise TextError(f"{os.fspath(path)} is empty: a language model needs text")
        return np.concatenate(parts), vocab
    # Characters: count first (cheap), then fill one array.
    total = sum(len(chunk) for chunk in _decoded_chunks(path))
    if total == 0:
        raise TextError(f"{os.fspath(path)} is empty: a language model needs text")
    codes = np.empty(total, dtype=vocab.dtype)
    at = 0
    for chunk in _decoded_chunks(path):
        piece = vocab.encode(chunk, what=os.fspath(path))
        codes[at:at + len(piece)] = piece
        at += len(piece)
    return codes, vocab


def split_text(codes: np.ndarray, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation): the validation span is the last ``val_fraction`` of the text."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    cut = len(codes) - round(len(codes) * val_fraction)
    return codes[:cut], codes[cut:]


#: The bigram baseline is computed where its count table (vocabulary squared) has at most
#: this many cells (a vocabulary of up to 2,048 tokens: every character set of a European
#: text; word vocabularies are larger and get the unigram only).
BIGRAM_MAX_CELLS = 1 << 22


def ngram_baselines(train: np.ndarray, val: np.ndarray, vocab_size: int) -> dict[str, float]:
    """Validation loss (nats per token) of the count models a language model must beat.

    ``unigram``: each token's frequency in ``train``; ``bigram``: the frequency of each
    token after the one before it (the first validation token follows the last training
    one), computed where ``vocab_size`` squared is at most :data:`BIGRAM_MAX_CELLS`. Both
    are fitted on ``train`` only, with add-one (Laplace) smoothing so unseen tokens and
    pairs get a finite loss.

    Parameters
    ----------
    train, val : np.ndarray
        1-D integer codes in ``[0, vocab_size)``, shapes (N_train,) and (N_val,).
    vocab_size : int
        Number of distinct codes V.

    Returns
    -------
    dict
        ``{"unigram": nats}``, plus ``"bigram"`` where computed.
    """
    if train.ndim != 1 or val.ndim != 1 or len(train) == 0 or len(val) == 0:
        raise ValueError(f"train and val must be non-empty 1-D code arrays, got shapes "
                         f"{train.shape} and {val.shape}")
    V = int(vocab_size)
    counts = np.bincount(train, minlength=V).astype(np.float64) + 1.0
    log_p = np.log(counts / counts.sum())
    result = {"unigram": float(-log_p[val].mean())}
    if V * V <= BIGRAM_MAX_CELLS:
        prev = np.concatenate([train, val[:-1]]).astype(np.int64)
        nxt = np.concatenate([train[1:], val]).astype(np.int64)
        fit = len(train) - 1  # the pairs inside the training span
        pairs = np.bincount(prev[:fit] * V + nxt[:fit], minlength=V * V).reshape(V, V) + 1.0
        log_pairs = np.log(pairs / pairs.sum(axis=1, keepdims=True))
        result["bigram"] = float(-log_pairs[prev[fit:], nxt[fit:]].mean())
    return result


def _check_window(codes: np.ndarray, batch_size: int, seq_len: int, what: str) -> None:
    if codes.ndim != 1:
        raise ValueError(f"{what}: codes must be 1-D, got shape {codes.shape}")
    for name, value in (("batch_size", batch_size), ("seq_len", seq_len)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def stream_batches(codes: np.ndarray, batch_size: int,
                   seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Windows over ``batch_size`` contiguous streams, for stateful truncated BPTT.

    The text is cut into ``batch_size`` equal streams (the remainder is dropped),
    one per row; window k holds steps ``[k*seq_len, (k+1)*seq_len)`` of every
    stream, so row i of window k+1 continues row i of window k and a model that
    carries its state across windows sees each stream as one long sequence
    (PyTorch's ``word_language_model``: ``batchify`` + ``get_batch``). The last
    window may be shorter.

    Yields
    ------
    x : ndarray, shape (batch_size, t), the inputs (t <= seq_len)
    y : ndarray, shape (batch_size, t), the next token of each input

    Raises
    ------
    TextError
        If a stream is shorter than two tokens (nothing to predict).
    """
    _check_window(codes, batch_size, seq_len, "stream_batches")
    length = len(codes) // batch_size
    if length < 2:
        raise TextError(f"{len(codes)} tokens cannot make {batch_size} streams of at least 2 "
                        "tokens: use a longer text or a smaller batch size")
    streams = codes[:length * batch_size].reshape(batch_size, length)
    for begin in range(0, length - 1, seq_len):
        end = min(begin + seq_len, length - 1)
        yield streams[:, begin:end], streams[:, begin + 1:end + 1]


def stream_window_count(codes_length: int, batch_size: int, seq_len: int) -> int:
    """Number of windows :func:`stream_batches` yields."""
    length = codes_length // batch_size
    return max(0, -(-(length - 1) // seq_len))


def random_windows(codes: np.ndarray, batch_size: int, seq_len: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``batch_size`` windows of ``seq_len`` tokens at uniformly drawn positions.

    Returns
    -------
    x, y : ndarray, shape (batch_size, seq_len); y is x shifted by one token.
    """
    _check_window(codes, batch_size, seq_len, "random_windows")
    if len(codes) < seq_len + 1:
        raise TextError(f"{len(codes)} tokens are shorter than one window of seq_len + 1 = "
                        f"{seq_len + 1}")
    starts = rng.integers(0, len(codes) - seq_len, batch_size)
    idx = starts[:, None] + np.arange(seq_len + 1)
    windows = codes[idx]
    return windows[:, :-1], windows[:, 1:]
