"""Greedy and beam-search decoding for :class:`~minirnn.nn.seq2seq.model.EncoderDecoder`.

The encoder runs once per source; each generated token then costs one decoder step
(:meth:`~minirnn.nn.seq2seq.decoder.AttentionDecoder.step`) over the batch's rows (greedy
drops the finished ones; beam search steps N * K rows), carrying the recurrent state and
the input-feed vector: the prefix is never run again. Beam search keeps back-pointers and
rebuilds the hypotheses (and their attention weights) once at the end, so reordering the
beams copies no prefix either.
``<pad>`` and ``<bos>`` are never generated; generation stops at ``<eos>`` or after
``max_length`` tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minirnn.nn._validation import check_finite_float, check_positive_int
from minirnn.nn.layers.base import no_grad
from minirnn.nn.seq2seq.vocab import BOS, EOS, PAD

__all__ = ["Hypothesis", "beam_search", "greedy_decode", "length_penalty"]


@dataclass
class Hypothesis:
    """One decoded target sequence.

    Attributes
    ----------
    tokens : list of int
        The generated ids, without ``<bos>`` and without the final ``<eos>``.
    score : float
        ``log_prob / length_penalty(length, alpha)`` (the ranking score; equals
        ``log_prob`` with ``alpha = 0``).
    log_prob : float
        Sum of the log-probabilities of the generated tokens (``<eos>`` included).
    finished : bool
        Whether it ended with ``<eos>`` (False: cut at ``max_length``).
    attention : ndarray, shape (steps, S)
        The attention weights of every generated token (``<eos>`` included).
    """

    tokens: list[int]
    score: float
    log_prob: float
    finished: bool
    attention: np.ndarray = field(repr=False)


def length_penalty(length: int | np.ndarray, alpha: float) -> Any:
    """GNMT's length penalty ``((5 + length) / 6) ** alpha`` (Wu et al. 2016); 1 at alpha 0."""
    return ((5.0 + np.asarray(length, dtype=np.float64)) / 6.0) ** alpha


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z[:, PAD] = -np.inf  # never generated
    z[:, BOS] = -np.inf
    z -= z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _check_args(max_length: Any) -> int:
    return check_positive_int(max_length, "max_length")


def greedy_decode(model: Any, src: np.ndarray, src_lengths: np.ndarray,
                  max_length: int = 50) -> list[Hypothesis]:
    """The most likely token at each step, for every source of the batch.

    Parameters
    ----------
    model : EncoderDecoder
    src : ndarray of int, shape (N, S)
    src_lengths : ndarray of int, shape (N,)
    max_length : int
        Most tokens generated per sequence (``<eos>`` included).

    Returns
    -------
    list of N :class:`Hypothesis`
    """
    max_length = _check_args(max_length)
    state = model.encode(src, src_lengths)
    decoder = model.decoder
    N = state.memory.shape[0]
    tokens = np.full(N, BOS, dtype=np.intp)
    out = np.zeros((N, max_length), dtype=np.intp)
    attn = np.zeros((N, max_length, state.memory.shape[1]))
    log_prob = np.zeros(N)
    steps = np.zeros(N, dtype=np.intp)
    done = np.zeros(N, dtype=bool)
    rows = np.arange(N)  # the unfinished sequences, the only rows stepped
    with no_grad():
        for t in range(max_length):
            logits, weights, state = decoder.step(tokens, state)
            logp = _log_softmax(logits)
            best = np.argmax(logp, axis=1)
            out[rows, t] = best
            attn[rows, t] = weights
            log_prob[rows] += logp[np.arange(len(rows)), best]
            steps[rows] = t + 1
            ended = best == EOS
            done[rows[ended]] = True
            if ended.all():
                break
            if ended.any():
                keep = np.flatnonzero(~ended)
                rows, best, state = rows[keep], best[keep], state.select(keep)
            tokens = best
    result = []
    for n in range(N):
        seq = out[n, :steps[n]].tolist()
        finished = bool(done[n])
        result.append(Hypothesis(seq[:-1] if finished else seq, float(log_prob[n]),
                                 float(log_prob[n]), finished, attn[n, :steps[n]]))
    return result


def beam_search(model: Any, src: np.ndarray, src_lengths: np.ndarray, beam_width: int = 4,
                max_length: int = 50, alpha: float = 0.0,
                n_best: int | None = None) -> list[list[Hypothesis]]:
    """Beam search with GNMT length normalisation, for every source of the batch.

    Parameters
    ----------
    model : EncoderDecoder
    src : ndarray of int, shape (N, S)
    src_lengths : ndarray of int, shape (N,)
    beam_width : int
        K, hypotheses kept per source at each step.
    max_length : int
        Most tokens generated per hypothesis (``<eos>`` included).
    alpha : float >= 0
        Length normalisation: hypotheses are ranked by ``log_prob / ((5 + |Y|) / 6) **
        alpha`` (|Y| counts ``<eos>``); 0 ranks by the log-probability itself.
    n_best : int, optional
        Hypotheses returned per source (default ``beam_width``).

    Returns
    -------
    list of N lists of :class:`Hypothesis`
        Best first (by ``score``).

    Notes
    -----
    Each step scores the K live hypotheses' extensions (K * V) and takes the best 2K: an
    extension by ``<eos>`` ranked among the best K becomes a finished hypothesis, the best
    K others stay live (fairseq's scheme; at most K of the 2K end with ``<eos>``, so K
    remain). A source
    is done once it has K finished hypotheses; at ``max_length`` the live ones are added
    unfinished. With ``beam_width=1`` this is exactly :func:`greedy_decode`.
    """
    K = check_positive_int(beam_width, "beam_width")
    max_length = _check_args(max_length)
    alpha = check_finite_float(alpha, "alpha")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    n_best = K if n_best is None else check_positive_int(n_best, "n_best")
    start = model.encode(src, src_lengths)
    decoder = model.decoder
    N, S = start.memory.shape[:2]
    state = start.select(np.repeat(np.arange(N), K))  # row n * K + k
    scores = np.full((N, K), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis at first
    tokens = np.full(N * K, BOS, dtype=np.intp)
    # back-pointers: at step t, beam k of source n holds token[t][n, k], came from beam
    # parent[t][n, k], with attention attn[t][n, k]
    token_hist: list[np.ndarray] = []
    parent_hist: list[np.ndarray] = []
    attn_hist: list[np.ndarray] = []
    finished: list[list[tuple[float, float, int, int]]] = [[] for _ in range(N)]
    done = np.zeros(N, dtype=bool)
    V = decoder.vocab_size
    with no_grad():
        for t in range(max_length):
            logits, weights, state = decoder.step(tokens, state)
            logp = _log_softmax(logits).reshape(N, K, V)
            cand = (scores[:, :, None] + logp).reshape(N, K * V)
            width = min(2 * K, K * V)
            top = np.argpartition(-cand, width - 1, axis=1)[:, :width]
            order = np.argsort(-np.take_along_axis(cand, top, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            new_scores = np.full((N, K), -np.inf)
            new_tokens = np.full((N, K), EOS, dtype=np.intp)
            new_parent = np.zeros((N, K), dtype=np.intp)
            for n in range(N):
                if done[n]:
                    continue
                k = 0
                for rank, idx in enumerate(top[n]):
                    value = cand[n, idx]
                    if not np.isfinite(value):
                        break
                    beam, token = divmod(int(idx), V)
                    if token == EOS:
                        if rank < K and len(finished[n]) < K:
                            norm = value / float(length_penalty(t + 1, alpha))
                            finished[n].append((norm, float(value), t, n * K + beam))
                        continue
                    if k < K:
                        new_scores[n, k] = value
                        new_tokens[n, k] = token
                        new_parent[n, k] = beam
                        k += 1
                if len(finished[n]) >= K:
                    done[n] = True
            token_hist.append(np.where(np.isfinite(new_scores), new_tokens, EOS))
            parent_hist.append(new_parent)
            attn_hist.append(weights.reshape(N, K, S))
            if done.all():
                break
            rows = (np.arange(N)[:, None] * K + new_parent).reshape(-1)
            state = state.select(rows)
            scores = new_scores
            tokens = new_tokens.reshape(-1)
        else:  # max_length reached: the live hypotheses end here, unfinished
            last = len(token_hist) - 1
            for n in range(N):
                if done[n]:
                    continue
                for k in range(K):
                    if np.isfinite(scores[n, k]):
                        norm = scores[n, k] / float(length_penalty(last + 1, alpha))
                        finished[n].append((norm, float(scores[n, k]), -(last + 1),
                                            n * K + k))

    def backtrack(step: int, row: int, eos: bool) -> tuple[list[int], np.ndarray]:
        n, k = divmod(row, K)
        seq: list[int] = []
        weights: list[np.ndarray] = []
        if eos:  # the <eos> extension of beam k at `step`: its weights are k's at `step`
            weights.append(attn_hist[step][n, k])
            step -= 1
        for s in range(step, -1, -1):
            seq.append(int(token_hist[s][n, k]))
            parent = int(parent_hist[s][n, k])
            weights.append(attn_hist[s][n, parent])
            k = parent
        return seq[::-1], (np.stack(weights[::-1]) if weights else np.zeros((0, S)))

    result = []
    for n in range(N):
        hyps = []
        for norm, raw, step, row in sorted(finished[n], key=lambda h: -h[0])[:n_best]:
            eos = step >= 0
            seq, weights = backtrack(step if eos else -step - 1, row, eos)
            hyps.append(Hypothesis(seq, norm, raw, eos, weights))
        result.append(hyps)
    return result
