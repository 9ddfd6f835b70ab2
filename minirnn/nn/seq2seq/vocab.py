"""Special tokens, vocabularies as token lists, and padded id batches for seq2seq models.

A vocabulary is a plain list of distinct strings whose position is the token id, so it
is saved inside a model file's JSON header as it is (no pickle). Its first four entries
are the special tokens, at fixed ids:

=====  ==========  ==============================================================
id     token       meaning
=====  ==========  ==============================================================
0      ``<pad>``   padding after a sequence's end: zero embedding, no gradient,
                   no loss, no attention
1      ``<unk>``   a token outside the vocabulary
2      ``<bos>``   first decoder input (begin of sentence); never generated
3      ``<eos>``   end of sentence: the last decoder target; decoding stops at it
=====  ==========  ==============================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["BOS", "EOS", "PAD", "SPECIALS", "UNK", "check_vocabulary", "decode_ids",
           "encode_tokens", "pad_ids", "sequence_mask", "target_arrays"]

PAD = 0
UNK = 1
BOS = 2
EOS = 3
#: The special tokens, in id order: ``vocab[:4]`` of every vocabulary.
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


def check_vocabulary(vocab: Any, size: int, name: str) -> list[str] | None:
    """``vocab`` as a list of ``size`` distinct strings starting with :data:`SPECIALS`.

    Parameters
    ----------
    vocab : sequence of str or None
        None: no token strings (ids only).
    size : int
        The embedding's number of rows (V) that the vocabulary must fill exactly.
    name : str
        The argument's name, for error messages.

    Raises
    ------
    ValueError
        A vocabulary of another size, with repeated tokens, or not starting with the
        special tokens.
    TypeError
        Not a list/tuple of strings.
    """
    if vocab is None:
        return None
    if isinstance(vocab, str) or not isinstance(vocab, (list, tuple)):
        raise TypeError(f"{name} must be a list of token strings, got {type(vocab).__name__}")
    tokens = list(vocab)
    bad = next((t for t in tokens if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"{name} must hold strings only, got {type(bad).__name__} ({bad!r})")
    if len(tokens) != size:
        raise ValueError(f"{name} has {len(tokens)} tokens but the embedding has {size} rows "
                         f"(the vocabulary size): they must be equal")
    if tuple(tokens[:len(SPECIALS)]) != SPECIALS:
        raise ValueError(f"{name} must start with the special tokens {list(SPECIALS)} (ids "
                         f"0-3), got {tokens[:len(SPECIALS)]}")
    if len(set(tokens)) != len(tokens):
        seen: set[str] = set()
        dup = next(t for t in tokens if t in seen or seen.add(t))  # type: ignore[func-returns-value]
        raise ValueError(f"{name} lists the token {dup!r} more than once")
    return tokens


def encode_tokens(sentence: Iterable[str], vocab: Sequence[str]) -> list[int]:
    """Token strings -> ids; a token outside ``vocab`` becomes :data:`UNK`."""
    index = {t: i for i, t in enumerate(vocab)}
    return [index.get(t, UNK) for t in sentence]


def decode_ids(ids: Iterable[int], vocab: Sequence[str]) -> list[str]:
    """Ids -> token strings, stopping at :data:`EOS` and skipping ``<pad>`` and ``<bos>``."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i not in (PAD, BOS):
            out.append(vocab[i])
    return out


def pad_ids(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Id lists -> ``(ids (N, T) padded with PAD, lengths (N,))``, T the longest length.

    Raises
    ------
    ValueError
        No sequence, or an empty one.
    """
    if not len(sequences):
        raise ValueError("pad_ids needs at least one sequence")
    lengths = np.array([len(s) for s in sequences], dtype=np.intp)
    if lengths.min() < 1:
        raise ValueError(f"sequence {int(np.argmin(lengths))} is empty")
    ids = np.full((len(sequences), int(lengths.max())), PAD, dtype=np.intp)
    for n, s in enumerate(sequences):
        ids[n, :len(s)] = s
    return ids, lengths


def target_arrays(sequences: Sequence[Sequence[int]]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Target id lists -> teacher-forcing arrays ``(tgt_in, tgt_out, tgt_lengths)``.

    ``tgt_in = [BOS, y_1 .. y_n]`` and ``tgt_out = [y_1 .. y_n, EOS]``, both padded with
    PAD to (N, T) with T the longest n + 1; ``tgt_lengths = n + 1``. An empty target is
    allowed (the model learns to emit EOS at once).
    """
    if not len(sequences):
        raise ValueError("target_arrays needs at least one sequence")
    tgt_in, lengths = pad_ids([[BOS, *s] for s in sequences])
    tgt_out, _ = pad_ids([[*s, EOS] for s in sequences])
    return tgt_in, tgt_out, lengths


def sequence_mask(lengths: np.ndarray, steps: int) -> np.ndarray:
    """Bool (N, T): True at the valid steps ``t < lengths[n]`` (the loss mask)."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]
