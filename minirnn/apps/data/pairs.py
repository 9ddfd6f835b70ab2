"""Sentence pairs for sequence-to-sequence tasks: a tab-separated reader, tokens,
vocabularies with a minimum frequency, and length buckets.

The file format is the Tatoeba / Anki one: UTF-8 text, one pair a line,
``source<TAB>target[<TAB>anything else, ignored]`` (the third column of the Anki files is
the attribution). Blank lines are skipped. A bad file is refused with one line that names
the file, the line number and what was expected.

>>> from minirnn.apps.data.pairs import tokenize
>>> tokenize("J'ai faim.", "word")
['J', "'", 'ai', 'faim', '.']
>>> tokenize("12+3", "char")
['1', '2', '+', '3']
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from minirnn.nn.seq2seq.vocab import SPECIALS

__all__ = ["TOKENS", "PairSet", "PairsError", "batch_padding", "build_vocabulary",
           "bucket_batches", "detokenize", "read_pairs", "tokenize"]

#: The tokenisations: ``word`` (runs of letters/digits/underscores, and each other
#: non-space character alone) and ``char`` (every character, spaces included).
TOKENS = ("word", "char")
_WORD = re.compile(r"\w+|[^\w\s]")


class PairsError(ValueError):
    """A pair file that cannot be read: one line naming the file, the line and the problem."""


def tokenize(text: str, tokens: str) -> list[str]:
    """Split ``text`` into tokens.

    Parameters
    ----------
    text : str
    tokens : {"word", "char"}
        ``"word"``: runs of word characters (``\\w+``, so ``I_JUMP`` and ``123`` stay
        whole) and every other non-space character alone (``"Va !"`` -> ``Va``, ``!``);
        ``"char"``: every character, spaces included.

    Returns
    -------
    list of str
    """
    if tokens == "word":
        return _WORD.findall(text)
    if tokens == "char":
        return list(text)
    raise ValueError(f"tokens must be one of {list(TOKENS)}, got {tokens!r}")


def detokenize(tokens: Sequence[str], kind: str) -> str:
    """Tokens back to one line: joined by spaces (``word``) or by nothing (``char``).

    Parameters
    ----------
    tokens : sequence of str
    kind : {"word", "char"}

    Returns
    -------
    str
    """
    return ("" if kind == "char" else " ").join(tokens)


@dataclass(frozen=True)
class PairSet:
    """The pairs of one file, tokenised.

    Attributes
    ----------
    path : Path
    sources, targets : list of list of str
        Tokens of each pair's source and target (never empty).
    lines : list of int
        The line number of each pair in the file (from 1).
    source_text, target_text : list of str
        The two columns as written (stripped of surrounding spaces).
    tokens : {"word", "char"}
    """

    path: Path
    sources: list[list[str]] = field(repr=False)
    targets: list[list[str]] = field(repr=False)
    lines: list[int] = field(repr=False)
    source_text: list[str] = field(repr=False)
    target_text: list[str] = field(repr=False)
    tokens: str = "word"

    def __len__(self) -> int:
        return len(self.sources)


def _read_text(path: str | os.PathLike[str]) -> tuple[Path, str]:
    p = Path(path)
    if p.is_dir():
        raise PairsError(f"{p} is a folder, expected a tab-separated file of pairs")
    try:
        return p, p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PairsError(f"{p}: no such file") from None
    except UnicodeDecodeError as exc:
        raise PairsError(f"{p}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") \
            from None
    except OSError as exc:
        raise PairsError(f"cannot read {p}: {exc.strerror or exc}") from None


def read_pairs(path: str | os.PathLike[str], tokens: str = "word", *,
               max_length: int | None = None) -> PairSet:
    """Read ``source<TAB>target[<TAB>ignored]`` pairs from a UTF-8 file.

    Parameters
    ----------
    path : path
    tokens : {"word", "char"}
        How the two sides are split (:func:`tokenize`).
    max_length : int, optional
        Refuse a side longer than this many tokens (a guard against a file that is not a
        pair file, e.g. a whole document on one line).

    Returns
    -------
    PairSet

    Raises
    ------
    PairsError
        No such file, not UTF-8, a line without a tab, an empty source or target, a side
        longer than ``max_length`` tokens, or no pair at all; the message names the file
        and the line (``data.tsv, line 7: expected source<TAB>target, found no tab``).
    """
    if tokens not in TOKENS:
        raise ValueError(f"tokens must be one of {list(TOKENS)}, got {tokens!r}")
    p, text = _read_text(path)
    sources: list[list[str]] = []
    targets: list[list[str]] = []
    numbers: list[int] = []
    src_text: list[str] = []
    tgt_text: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = raw.split("\t")
        if len(parts) < 2:
            raise PairsError(f"{p}, line {number}: expected source<TAB>target, found no tab "
                             f"in {raw[:40]!r}")
        source, target = parts[0].strip(), parts[1].strip()
        src, tgt = tokenize(source, tokens), tokenize(target, tokens)
        for side, toks in (("source", src), ("target", tgt)):
            if not toks:
                raise PairsError(f"{p}, line {number}: expected a non-empty {side} "
                                 f"(source<TAB>target), got {raw[:40]!r}")
            if max_length is not None and len(toks) > max_length:
                raise PairsError(f"{p}, line {number}: the {side} has {len(toks)} {tokens} "
                                 f"tokens, more than the {max_length} allowed")
        sources.append(src)
        targets.append(tgt)
        numbers.append(number)
        src_text.append(source)
        tgt_text.append(target)
    if not sources:
        raise PairsError(f"{p}: no pairs (expected lines source<TAB>target)")
    return PairSet(p, sources, targets, numbers, src_text, tgt_text, tokens)


def build_vocabulary(sentences: Iterable[Sequence[str]], min_freq: int = 1,
                     max_size: int | None = None) -> list[str]:
    """The vocabulary of ``sentences``: the special tokens, then every token seen at least
    ``min_freq`` times, most frequent first (ties in order of first appearance).

    Parameters
    ----------
    sentences : iterable of token lists
    min_freq : int
        Rarer tokens are left out (they become ``<unk>`` when encoded).
    max_size : int, optional
        Keep at most this many entries, special tokens included.

    Returns
    -------
    list of str
        ``["<pad>", "<unk>", "<bos>", "<eos>", ...]``, the id of a token being its index.
    """
    if min_freq < 1:
        raise ValueError(f"min_freq must be at least 1, got {min_freq}")
    counts: Counter[str] = Counter()
    for sentence in sentences:
        counts.update(sentence)
    kept = [t for t, c in counts.most_common() if c >= min_freq and t not in SPECIALS]
    vocab = [*SPECIALS, *kept]
    if max_size is not None:
        if max_size < len(SPECIALS):
            raise ValueError(f"max_size must be at least {len(SPECIALS)}, got {max_size}")
        vocab = vocab[:max_size]
    return vocab


def bucket_batches(src_lengths: Sequence[int] | np.ndarray,
                   tgt_lengths: Sequence[int] | np.ndarray, batch_size: int,
                   rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Mini-batches of pair indices whose lengths are alike, so batches carry little padding.

    The pairs are sorted by (source length, target length) with random tie-breaking,
    cut into consecutive batches of ``batch_size`` and the batches shuffled: every pair
    is in exactly one batch per call, and a new ``rng`` draw gives other batches.

    Parameters
    ----------
    src_lengths, tgt_lengths : sequence of int, shape (N,)
    batch_size : int
    rng : numpy.random.Generator, optional
        None: a fixed order (sorted, not shuffled), for evaluation.

    Returns
    -------
    list of ndarray of int
    """
    s = np.asarray(src_lengths)
    t = np.asarray(tgt_lengths)
    if s.shape != t.shape or s.ndim != 1:
        raise ValueError(f"src_lengths and tgt_lengths must be 1-D of one length, got "
                         f"{s.shape} and {t.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be greater than zero, got {batch_size}")
    noise = rng.random(len(s)) if rng is not None else np.zeros(len(s))
    order = np.lexsort((noise, t, s))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def batch_padding(lengths: Sequence[int] | np.ndarray, batches: Sequence[np.ndarray]) -> float:
    """The fraction of padded positions when each batch is padded to its longest member.

    Parameters
    ----------
    lengths : sequence of int, shape (N,)
        The length of every item.
    batches : sequence of ndarray of int
        Indices into ``lengths``, one array a batch (as :func:`bucket_batches` returns).

    Returns
    -------
    float
        Padding positions over all positions, 0-1 (0 with no batches).
    """
    lengths = np.asarray(lengths)
    total = sum(len(b) * int(lengths[b].max()) for b in batches if len(b))
    return 1.0 - float(lengths.sum()) / total if total else 0.0
