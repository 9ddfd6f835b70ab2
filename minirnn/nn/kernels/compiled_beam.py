"""Beam search's bookkeeping compiled by numba (the ``fast`` extra; issue 31).

:func:`beam_select` computes exactly what
:func:`minirnn.nn.seq2seq.decode.select_numpy` computes in numpy, one decoder step of a
beam search: the log-softmax of each live hypothesis' logits (``<pad>`` and ``<bos>``
excluded), the best 2K of each source's K * V extensions (equal scores: the lower flat
index ``k * V + token`` first), the ``<eos>`` extensions among the best K ended (while the
source has fewer than K), the best K others kept live. The same operations in the same
order, but for the exponentials' sum (eight interleaved partial sums here, numpy's
pairwise sum there) and the elementary functions (the exponential is
:func:`~minirnn.nn.kernels.jit._exp`, the logarithm libm's): the scores agree to about
1e-15, and exact ties (equal logits and scores) are ranked alike.

Where numpy makes about ten passes over all (N*K, V) logits (a float64 copy, the mask, the
maximum, the subtraction, the exponential, the sum, the log-probabilities, the candidate
scores, a partition and a comparison), this makes four short loops over each live row
(a float64 copy, the maximum, the exponentials, the candidates against a small sorted
buffer of the best 2K) and none over an empty beam (at the first step only one of K is
live). The matrix products of the decoder step stay in BLAS
(:meth:`~minirnn.nn.seq2seq.decoder.AttentionDecoder.step`).

:func:`minirnn.nn.seq2seq.decode.beam_search` calls it under the recurrent kernels' rule
(:mod:`~minirnn.nn.kernels.select`: ``kernel="compiled"``, where numba is importable).
Compiled code is cached on disk as for the kernels (:mod:`minirnn.nn.kernels.compiled`).
"""

from __future__ import annotations

import numpy as np

from minirnn.nn.kernels.jit import _JIT, _exp, njit

__all__ = ["beam_select"]


@njit(inline="always", **_JIT)
def _insert(values: np.ndarray, index: np.ndarray, count: int, value: float,
            flat: int) -> int:  # pragma: no cover (compiled)
    """Insert (value, flat) into the buffer kept best first (values (W,), index (W,),
    ``count`` used): after the entries equal to it, dropping the last one when full.
    Returns the new count."""
    width = values.shape[0]
    pos = count if count < width else width - 1
    while pos > 0 and values[pos - 1] < value:
        values[pos] = values[pos - 1]
        index[pos] = index[pos - 1]
        pos -= 1
    values[pos] = value
    index[pos] = flat
    return count + 1 if count < width else width


@njit(inline="always", **_JIT)
def _sum(e: np.ndarray) -> float:  # pragma: no cover (compiled)
    """The sum of e in eight interleaved partial sums (not one chain of dependent
    additions: the adds overlap), added pairwise at the end."""
    V = e.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    full = V - V % 8
    for v in range(0, full, 8):
        a0 += e[v]
        a1 += e[v + 1]
        a2 += e[v + 2]
        a3 += e[v + 3]
        a4 += e[v + 4]
        a5 += e[v + 5]
        a6 += e[v + 6]
        a7 += e[v + 7]
    for v in range(full, V):
        a0 += e[v]
    return ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))


@njit(inline="always", **_JIT)
def _max(x: np.ndarray) -> float:  # pragma: no cover (compiled)
    """The largest value of x, NaN ignored (-inf where there is none), in eight
    interleaved partial maxima."""
    V = x.shape[0]
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = -np.inf
    full = V - V % 8
    for v in range(0, full, 8):
        a0 = x[v] if x[v] > a0 else a0
        a1 = x[v + 1] if x[v + 1] > a1 else a1
        a2 = x[v + 2] if x[v + 2] > a2 else a2
        a3 = x[v + 3] if x[v + 3] > a3 else a3
        a4 = x[v + 4] if x[v + 4] > a4 else a4
        a5 = x[v + 5] if x[v + 5] > a5 else a5
        a6 = x[v + 6] if x[v + 6] > a6 else a6
        a7 = x[v + 7] if x[v + 7] > a7 else a7
    for v in range(full, V):
        a0 = x[v] if x[v] > a0 else a0
    return max(max(max(a0, a1), max(a2, a3)), max(max(a4, a5), max(a6, a7)))


@njit(**_JIT)
def _beam_step(logits: np.ndarray, scores: np.ndarray, done: np.ndarray,
               fin_norm: np.ndarray, fin_raw: np.ndarray, fin_step: np.ndarray,
               fin_row: np.ndarray, fin_count: np.ndarray, step: int, penalty: float,
               pad: int, bos: int, eos: int, new_scores: np.ndarray, new_tokens: np.ndarray,
               new_parent: np.ndarray) -> None:  # pragma: no cover (compiled)
    """One step (see the module's docstring) into new_scores, new_tokens, new_parent
    (N, K), prefilled with -inf, eos, 0; updates done and the finished arrays."""
    N, K = scores.shape
    V = logits.shape[1]
    width = min(2 * K, K * V)
    values = np.empty(width)
    index = np.empty(width, np.int64)
    row = np.empty(V)  # one row of logits in float64 (numpy's astype)
    e = np.empty(V)
    for n in range(N):
        if done[n]:
            continue
        count = 0
        for k in range(K):
            s = scores[n, k]
            if not s > -np.inf:  # no hypothesis in this beam: every extension is -inf
                continue
            r = n * K + k
            for v in range(V):
                row[v] = logits[r, v]
            row[pad] = -np.inf  # never generated
            row[bos] = -np.inf
            m = _max(row)
            for v in range(V):  # a straight loop: the compiler vectorizes the exponential
                e[v] = _exp(row[v] - m)
            e[pad] = 0.0  # (_exp clamps its argument at -80: exp(-inf) would be 1.8e-35)
            e[bos] = 0.0
            total = _sum(e)
            # NaN where numpy's log-probabilities are all NaN: a NaN logit, or a maximum
            # of +-inf (inf - inf)
            if not (total > 0.0 and total < np.inf):
                continue
            lse = np.log(total)
            for v in range(V):  # (<pad> and <bos> give -inf: never kept)
                c = s + ((row[v] - m) - lse)
                if count < width:
                    if c > -np.inf:
                        count = _insert(values, index, count, c, k * V + v)
                elif c > values[width - 1]:
                    count = _insert(values, index, count, c, k * V + v)
        live = 0
        for rank in range(count):
            value = values[rank]
            beam = index[rank] // V
            token = index[rank] - beam * V
            if token == eos:
                if rank < K and fin_count[n] < K:
                    i = fin_count[n]
                    fin_norm[n, i] = value / penalty
                    fin_raw[n, i] = value
                    fin_step[n, i] = step
                    fin_row[n, i] = n * K + beam
                    fin_count[n] = i + 1
                continue
            if live < K:
                new_scores[n, live] = value
                new_tokens[n, live] = token
                new_parent[n, live] = beam
                live += 1
        if fin_count[n] >= K:
            done[n] = True


def beam_select(logits: np.ndarray, scores: np.ndarray, done: np.ndarray,
                fin_norm: np.ndarray, fin_raw: np.ndarray, fin_step: np.ndarray,
                fin_row: np.ndarray, fin_count: np.ndarray, step: int, penalty: float,
                pad: int, bos: int,
                eos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of beam search's bookkeeping, compiled.

    Parameters
    ----------
    logits : ndarray of float32 or float64, shape (N*K, V)
        Row n * K + k: the logits of source n's beam k.
    scores : ndarray of float64, shape (N, K)
        The live hypotheses' log-probabilities (``-inf``: none in that beam).
    done : ndarray of bool, shape (N,)
        Sources skipped; set for those reaching K finished hypotheses.
    fin_norm, fin_raw : ndarray of float64, shape (N, 2K)
    fin_step, fin_row : ndarray of intp, shape (N, 2K)
    fin_count : ndarray of intp, shape (N,)
        The finished hypotheses (:class:`minirnn.nn.seq2seq.decode.Finished`), appended to.
    step : int
        The step t; ``penalty`` is ``length_penalty(t + 1, alpha)``.
    pad, bos, eos : int
        The ids never generated (``pad``, ``bos``) and the end of a hypothesis.

    Returns
    -------
    scores, tokens, parents : ndarrays, shape (N, K)
        As :func:`minirnn.nn.seq2seq.decode.select_numpy`.
    """
    N, K = scores.shape
    new_scores = np.full((N, K), -np.inf)
    new_tokens = np.full((N, K), eos, dtype=np.intp)
    new_parent = np.zeros((N, K), dtype=np.intp)
    _beam_step(np.ascontiguousarray(logits), np.ascontiguousarray(scores, np.float64), done,
               fin_norm, fin_raw, fin_step, fin_row, fin_count, int(step), float(penalty),
               int(pad), int(bos), int(eos), new_scores, new_tokens, new_parent)
    return new_scores, new_tokens, new_parent
