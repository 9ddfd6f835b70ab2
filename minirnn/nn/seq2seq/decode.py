"""Greedy and beam-search decoding for :class:`~minirnn.nn.seq2seq.model.EncoderDecoder`.

The encoder runs once per source; each generated token then costs one decoder step
(:meth:`~minirnn.nn.seq2seq.decoder.AttentionDecoder.step`) over the batch's rows (greedy
drops the finished ones; beam search steps N * K rows), carrying the recurrent state and
the input-feed vector: the prefix is never run again. Beam search keeps back-pointers and
rebuilds the hypotheses (and their attention weights) once at the end, so reordering the
beams copies no prefix either (only the recurrent state and the input-feed vector are
reordered: the memory rows of one source's hypotheses are equal).
``<pad>`` and ``<bos>`` are never generated; generation stops at ``<eos>`` or after
``max_length`` tokens.

Beam search's bookkeeping (the log-softmax over the vocabulary, the best 2K of the K * V
extensions, the finished hypotheses) runs in numpy here (:func:`select_numpy`, the
reference) or compiled by numba (:mod:`minirnn.nn.kernels.compiled_beam`, the ``fast``
extra), as the recurrent kernels are chosen (:mod:`minirnn.nn.kernels.select`):
``kernel="compiled"`` (or ``"auto"`` where ``"beam"`` is in
:data:`~minirnn.nn.kernels.select.AUTO_COMPILED`, or inside
``use_kernel("compiled")``) runs it compiled where numba is importable, anything else
runs numpy. Both give the same hypotheses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minirnn.nn._validation import check_finite_float, check_positive_int
from minirnn.nn.layers.base import no_grad
from minirnn.nn.seq2seq.decoder import DecoderState
from minirnn.nn.seq2seq.vocab import BOS, EOS, PAD

__all__ = ["Finished", "Hypothesis", "beam_search", "best_candidates", "bookkeeping",
           "greedy_decode", "length_penalty", "select_numpy"]


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


@dataclass
class Finished:
    """Beam search's finished hypotheses, per source, in the order they ended: what the
    step bookkeeping (numpy or compiled) fills and the back-pointers turn into
    :class:`Hypothesis` objects.

    A source holds at most 2K: up to K ended by ``<eos>``, then its live ones (up to K)
    cut at ``max_length``.

    Attributes
    ----------
    norm : ndarray of float64, shape (N, 2K)
        The ranking score ``log_prob / length_penalty``.
    raw : ndarray of float64, shape (N, 2K)
        The log-probability.
    step : ndarray of intp, shape (N, 2K)
        The step of the ``<eos>`` extension (>= 0), or ``-steps`` for a hypothesis cut
        after ``steps`` tokens.
    row : ndarray of intp, shape (N, 2K)
        ``n * K + k``: the beam k it extends (``<eos>``) or is (cut).
    count : ndarray of intp, shape (N,)
        Entries used per source.
    """

    norm: np.ndarray
    raw: np.ndarray
    step: np.ndarray
    row: np.ndarray
    count: np.ndarray

    @classmethod
    def empty(cls, n: int, k: int) -> Finished:
        """Room for N sources of beam width K, none finished."""
        return cls(np.zeros((n, 2 * k)), np.zeros((n, 2 * k)),
                   np.zeros((n, 2 * k), np.intp), np.zeros((n, 2 * k), np.intp),
                   np.zeros(n, np.intp))

    def add(self, n: int, norm: float, raw: float, step: int, row: int) -> None:
        """Append one hypothesis to source n."""
        i = self.count[n]
        self.norm[n, i], self.raw[n, i], self.step[n, i], self.row[n, i] = norm, raw, step, row
        self.count[n] = i + 1


#: One step of beam search's bookkeeping: ``(logits (N*K, V), scores (N, K), done (N,),
#: finished, step, penalty) -> (scores, tokens, parents)``, each (N, K); updates ``done``
#: and ``finished`` in place (:func:`select_numpy`, or the compiled one).
StepSelect = Callable[[np.ndarray, np.ndarray, np.ndarray, Finished, int, float],
                      tuple[np.ndarray, np.ndarray, np.ndarray]]


def best_candidates(cand: np.ndarray, width: int) -> np.ndarray:
    """The flat indices of each row's ``width`` best finite values, best first.

    Parameters
    ----------
    cand : ndarray of float64, shape (N, C)
    width : int, 1 <= width <= C

    Returns
    -------
    ndarray of intp, shape (N, width)
        Equal values in increasing index order (the lower beam, then the lower token id:
        the order is defined, so the compiled bookkeeping can match it exactly); -1 where
        a row has fewer than ``width`` finite values (``-inf`` and NaN never count).
    """
    n_rows = cand.shape[0]
    # the width-th best value: -cand's width-th smallest (NaN sorts last: never selected)
    kth = np.partition(-cand, width - 1, axis=1)[:, width - 1]
    threshold = np.where(np.isnan(kth), -np.inf, -kth)
    chosen = cand >= threshold[:, None]  # every value tied with the width-th best too
    low = threshold == -np.inf  # fewer than width finite values: keep the finite ones
    if low.any():
        chosen[low] &= cand[low] > -np.inf
    rows, cols = np.nonzero(chosen)
    order = np.lexsort((cols, -cand[rows, cols], rows))  # row, then value down, then index
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    keep = rank < width
    top = np.full((n_rows, width), -1, dtype=np.intp)
    top[rows[keep], rank[keep]] = cols[keep]
    return top


def select_numpy(logits: np.ndarray, scores: np.ndarray, done: np.ndarray,
                 finished: Finished, step: int,
                 penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of beam search's bookkeeping in numpy (the reference).

    Parameters
    ----------
    logits : ndarray, shape (N*K, V)
        The decoder's logits for the K beams of each of the N sources (row n * K + k).
    scores : ndarray of float64, shape (N, K)
        The live hypotheses' log-probabilities (``-inf``: no hypothesis in that beam).
    done : ndarray of bool, shape (N,)
        Sources with K finished hypotheses (skipped); set here for those that get there.
    finished : Finished
        Receives the hypotheses ended by ``<eos>`` at this step.
    step : int
        t, the step (0 for the first generated token).
    penalty : float
        ``length_penalty(t + 1, alpha)``.

    Returns
    -------
    scores, tokens, parents : ndarrays, shape (N, K)
        The new live hypotheses: log-probability (``-inf`` where none), last token
        (``<eos>`` where none) and the beam they extend (0 where none).
    """
    N, K = scores.shape
    V = logits.shape[1]
    logp = _log_softmax(logits).reshape(N, K, V)
    cand = (scores[:, :, None] + logp).reshape(N, K * V)
    top = best_candidates(cand, min(2 * K, K * V))
    new_scores = np.full((N, K), -np.inf)
    new_tokens = np.full((N, K), EOS, dtype=np.intp)
    new_parent = np.zeros((N, K), dtype=np.intp)
    for n in np.flatnonzero(~done).tolist():
        k = 0
        for rank, idx in enumerate(top[n].tolist()):
            if idx < 0:  # no finite candidate left
                break
            value = float(cand[n, idx])
            beam, token = divmod(idx, V)
            if token == EOS:
                if rank < K and finished.count[n] < K:
                    finished.add(n, value / penalty, value, step, n * K + beam)
                continue
            if k < K:
                new_scores[n, k] = value
                new_tokens[n, k] = token
                new_parent[n, k] = beam
                k += 1
        if finished.count[n] >= K:
            done[n] = True
    return new_scores, new_tokens, new_parent


def _select_compiled(logits: np.ndarray, scores: np.ndarray, done: np.ndarray,
                     finished: Finished, step: int,
                     penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`select_numpy` compiled (:mod:`minirnn.nn.kernels.compiled_beam`)."""
    from minirnn.nn.kernels.compiled_beam import beam_select

    return beam_select(logits, scores, done, finished.norm, finished.raw, finished.step,
                       finished.row, finished.count, step, penalty, PAD, BOS, EOS)


def bookkeeping(kernel: str = "auto") -> str:
    """Which bookkeeping :func:`beam_search` runs with ``kernel``, here and now:
    ``"compiled"`` or ``"numpy"``.

    The rule of the recurrent kernels (:mod:`minirnn.nn.kernels.select`): ``"compiled"``
    (or ``"auto"`` where ``"beam"`` is in
    :data:`~minirnn.nn.kernels.select.AUTO_COMPILED`; ``"auto"`` follows
    :func:`~minirnn.nn.kernels.select.use_kernel`) runs compiled where numba is importable
    and not switched off; ``"fused"``, ``"reference"`` and everything else run numpy.
    """
    from minirnn.nn.kernels.select import AUTO_COMPILED, check_mode, resolve

    mode = resolve(check_mode(kernel))
    if mode == "compiled" or (mode == "auto" and "beam" in AUTO_COMPILED):
        from minirnn.nn.kernels import compiled

        if compiled.compiled_available():
            return "compiled"
    return "numpy"


def _reorder(state: DecoderState, rows: np.ndarray) -> DecoderState:
    """The state of the rows ``rows``: the recurrent state and the input feed. The memory
    is kept as it is: ``rows`` only permutes each source's hypotheses, whose memory rows
    are equal (copying it cost as much as the rest of the bookkeeping)."""
    return DecoderState(tuple(s[rows] for s in state.cell_state),
                        None if state.feed is None else state.feed[rows],
                        state.memory, state.memory_lengths, state.attended)


def beam_search(model: Any, src: np.ndarray, src_lengths: np.ndarray, beam_width: int = 4,
                max_length: int = 50, alpha: float = 0.0, n_best: int | None = None, *,
                kernel: str = "auto") -> list[list[Hypothesis]]:
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
    kernel : {"auto", "fused", "reference", "compiled"}
        Which bookkeeping runs (:func:`bookkeeping`): ``"compiled"`` the numba one where
        numba is importable, else numpy; the hypotheses are the same.

    Returns
    -------
    list of N lists of :class:`Hypothesis`
        Best first (by ``score``; equal scores in the order the hypotheses ended).

    Notes
    -----
    Each step scores the K live hypotheses' extensions (K * V) and takes the best 2K
    (equal scores: the lower beam, then the lower token id, first): an extension by
    ``<eos>`` ranked among the best K becomes a finished hypothesis, the best K others
    stay live (fairseq's scheme; at most K of the 2K end with ``<eos>``, so K remain). A
    source is done once it has K finished hypotheses; at ``max_length`` the live ones are
    added unfinished. With ``beam_width=1`` this is exactly :func:`greedy_decode`.
    """
    K = check_positive_int(beam_width, "beam_width")
    max_length = _check_args(max_length)
    alpha = check_finite_float(alpha, "alpha")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    n_best = K if n_best is None else check_positive_int(n_best, "n_best")
    select: StepSelect = _select_compiled if bookkeeping(kernel) == "compiled" \
        else select_numpy
    start = model.encode(src, src_lengths)
    decoder = model.decoder
    N, S = start.memory.shape[:2]
    state = start.select(np.repeat(np.arange(N), K))  # row n * K + k
    scores = np.full((N, K), -np.inf)
    scores[:, 0] = 0.0  # one live hypothesis at first
    tokens = np.full(N * K, BOS, dtype=np.intp)
    # back-pointers: at step t, beam k of source n holds token[t][n, k], came from beam
    # parent[t][n, k]; attn[t][n, k] are the weights of the row k stepped at t
    token_hist: list[np.ndarray] = []
    parent_hist: list[np.ndarray] = []
    attn_hist: list[np.ndarray] = []
    finished = Finished.empty(N, K)
    done = np.zeros(N, dtype=bool)
    with no_grad():
        for t in range(max_length):
            logits, weights, state = decoder.step(tokens, state)
            new_scores, new_tokens, new_parent = select(
                logits, scores, done, finished, t, float(length_penalty(t + 1, alpha)))
            token_hist.append(new_tokens)
            parent_hist.append(new_parent)
            attn_hist.append(weights.reshape(N, K, S))
            if done.all():
                break
            state = _reorder(state, (np.arange(N)[:, None] * K + new_parent).reshape(-1))
            scores = new_scores
            tokens = new_tokens.reshape(-1)
        else:  # max_length reached: the live hypotheses end here, unfinished
            steps = len(token_hist)
            penalty = float(length_penalty(steps, alpha))
            for n in np.flatnonzero(~done).tolist():
                for k in np.flatnonzero(np.isfinite(scores[n])).tolist():
                    value = float(scores[n, k])
                    finished.add(n, value / penalty, value, -steps, n * K + k)
    return _hypotheses(finished, np.stack(token_hist), np.stack(parent_hist),
                       np.stack(attn_hist), n_best)


def _hypotheses(finished: Finished, tokens: np.ndarray, parents: np.ndarray,
                attention: np.ndarray, n_best: int) -> list[list[Hypothesis]]:
    """Each source's ``n_best`` best finished hypotheses, rebuilt from the back-pointers
    ``tokens``, ``parents`` (T, N, K) and the weights ``attention`` (T, N, K, S), all
    hypotheses at once (one pass over the steps, backwards)."""
    N, K = tokens.shape[1:]
    S = attention.shape[3]
    picks: list[list[int]] = []  # per source, its entries of `finished`, best first
    for n in range(N):
        norms = finished.norm[n, :finished.count[n]].tolist()
        picks.append(sorted(range(len(norms)), key=lambda i: -norms[i])[:n_best])
    src = np.array([n for n, p in enumerate(picks) for _ in p], dtype=np.intp)
    entry = np.array([i for p in picks for i in p], dtype=np.intp)
    step = finished.step[src, entry]
    eos = step >= 0
    last = np.where(eos, step - 1, -step - 1)  # the step of each hypothesis' last token
    beam = finished.row[src, entry] - src * K
    longest = int(last.max(initial=-1))
    seq = np.zeros((len(src), longest + 2), dtype=np.intp)
    weights = np.zeros((len(src), longest + 2, S), dtype=attention.dtype)
    # the <eos> extension of beam k at step t: its weights are those of row k at t
    weights[eos, step[eos]] = attention[step[eos], src[eos], beam[eos]]
    for s in range(longest, -1, -1):  # every hypothesis still running back at step s
        on = np.flatnonzero(last >= s)
        at_src, at_beam = src[on], beam[on]
        seq[on, s] = tokens[s, at_src, at_beam]
        parent = parents[s, at_src, at_beam]
        weights[on, s] = attention[s, at_src, parent]
        beam[on] = parent
    result: list[list[Hypothesis]] = []
    h = 0
    for n in range(N):
        hyps = []
        for _ in picks[n]:
            length = int(last[h]) + 1
            hyps.append(Hypothesis(seq[h, :length].tolist(), float(finished.norm[n, entry[h]]),
                                   float(finished.raw[n, entry[h]]), bool(eos[h]),
                                   weights[h, :length + int(eos[h])].copy()))
            h += 1
        result.append(hyps)
    return result
