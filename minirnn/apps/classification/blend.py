"""Choosing how :class:`SequenceClassifier` blends its parts, on held-out training data only.

The parts are the recurrent ensemble (``"network"``), the nearest-neighbour evidence
(``"neighbors"``, its distances averaged) and the MiniRocket member (``"rocket"``). Each has
probabilities for training series it did not learn from: the network for the series its
members held out for validation, the neighbours and the ridge classifier of the rocket
member leave-one-out. Every weighting on a grid of the simplex is scored on those series;
the weightings whose log loss those few series cannot tell from the least one's
(:data:`BLEND_TIE`) are averaged -- two parts that are both perfect on them share the weight,
instead of the one with the sharper probabilities taking it all -- and the result is then
pulled towards equal shares, because on training sets of a few dozen series the held-out
series are few and the choice is noisy. The same rule weights the distances of the
nearest-neighbour evidence on their leave-one-out probabilities.

How far they are pulled depends on the evidence (:func:`adaptive_shrink`): the share of equal
weights is ``min(1, 1 / t)``, ``t`` the paired t statistic of the per-series log-loss gain of
the chosen weighting over equal shares, so a choice that wins clearly on many held-out series
is kept nearly as it is and one that wins by luck on a few is mostly undone. Before choosing,
the network's held-out probabilities are mixed with the uniform distribution
(:data:`NETWORK_OPTIMISM`): early stopping chose each member's epoch on those very series,
so they look better than the network is. docs/classification.md gives the cross-validation
inside the archive sets' training files (and on generated sets) that chose both. The test
data is never involved.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

__all__ = ["BLEND_PARTS", "BLEND_SHRINK", "BLEND_STEP", "BLEND_TIE", "NETWORK_OPTIMISM",
           "adaptive_shrink", "blend_candidates", "choose_blend", "log_loss"]

#: The blended parts, in the order of their simplicity (ties go to the earlier).
BLEND_PARTS = ("network", "neighbors", "rocket")
#: Grid step of the weights.
BLEND_STEP = 0.1
#: The chosen weights are ``(1 - s) x best + s x equal shares``; ``None``: ``s`` from
#: :func:`adaptive_shrink` (a number: that share, as the previous rule's 0.5).
BLEND_SHRINK: float | None = None
#: The network's held-out probabilities are ``(1 - NETWORK_OPTIMISM) x p + NETWORK_OPTIMISM / C``
#: for choosing the weights (early stopping picked the epoch on those series).
NETWORK_OPTIMISM = 0.1
#: Weightings whose summed held-out log loss is within this of the least one's are averaged
#: (``2 log 2``: as if one series' probability of its class were halved twice).
BLEND_TIE = 2.0 * math.log(2.0)


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log probability of the true class (probabilities floored at 1e-4, so
    one confident mistake does not decide a whole comparison)."""
    return float(-np.mean(np.log(np.maximum(proba[np.arange(len(y)), y], 1e-4)))) + 0.0


def adaptive_shrink(loss_best: np.ndarray, loss_equal: np.ndarray) -> float:
    """The share of equal weights for a weighting whose held-out log losses per series are
    ``loss_best`` (N,), against ``loss_equal`` (N,) for equal shares.

    ``min(1, 1 / t)`` with ``t = mean(g) / (std(g) / sqrt(N))``, ``g = loss_equal -
    loss_best``: 1 (equal shares) when the chosen weighting does not gain on average or
    there are fewer than two series, 0 when it gains on every series by the same amount.
    """
    if np.ndim(loss_best) != 1 or np.shape(loss_best) != np.shape(loss_equal):
        raise ValueError(f"loss_best and loss_equal must be two (N,) arrays, got "
                         f"{np.shape(loss_best)} and {np.shape(loss_equal)}")
    gain = np.asarray(loss_equal, np.float64) - np.asarray(loss_best, np.float64)
    if len(gain) < 2 or gain.mean() <= 1e-12:
        return 1.0
    spread = gain.std(ddof=1)
    if spread <= 1e-12:
        return 0.0
    t = gain.mean() / (spread / np.sqrt(len(gain)))
    return float(min(1.0, 1.0 / t))


def blend_candidates(parts: list[str], step: float = BLEND_STEP) -> list[dict[str, float]]:
    """Every weighting of ``parts`` on the simplex grid of ``step`` (weights sum to 1)."""
    n = round(1.0 / step)
    out = []
    for combo in itertools.product(range(n + 1), repeat=len(parts)):
        if sum(combo) == n:
            out.append({p: k / n for p, k in zip(parts, combo, strict=True)})
    return out


def choose_blend(held_out: dict[str, np.ndarray], y: np.ndarray, *,
                 step: float = BLEND_STEP, shrink: float | None = BLEND_SHRINK,
                 network_optimism: float = NETWORK_OPTIMISM, tie: float | None = BLEND_TIE
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """The weights of the parts with the least held-out log loss (averaged over the
    weightings that cannot be told from it), shrunk towards equal shares.

    Parameters
    ----------
    held_out : dict of part -> ndarray, shape (N, C)
        Probabilities of training series by parts that did not learn from them; a row of
        NaN where a part has none (the network for series no member held out). Only rows
        that every part has are scored. The parts of :data:`BLEND_PARTS` come first, in
        that order, then any others (e.g. the distances of the neighbours) as given.
    y : ndarray of int, shape (N,)
    step : float
        Grid step.
    shrink : float in [0, 1] or None
        Share of equal weights in the result (0: the least-loss weighting itself); None:
        :func:`adaptive_shrink` of the least-loss weighting against equal shares.
    network_optimism : float in [0, 1)
        The network's held-out probabilities are mixed with the uniform distribution by
        this share before anything is scored (its members stopped on those series).
    tie : float >= 0 or None
        Every weighting whose summed log loss over the ``n`` scored series is within
        ``tie`` of the least one's (its mean within ``tie / n``) is as good as far as those
        series can tell, and the weights are their average (:data:`BLEND_TIE`: two
        halvings of one series' probability). So two parts that are both perfect on the
        held-out series share the weight instead of the sharper one taking it all. None:
        the least-loss weighting alone, ties (within 1e-9) broken towards fewer parts, then
        towards the earlier part.

    Returns
    -------
    weights : dict of part -> float
        Summing to 1.
    scores : dict
        ``rows`` (the series scored), each part's held-out accuracy and log loss alone, the
        returned blend's (``"blend_accuracy"``, ``"blend_log_loss"``) on those series (the
        network's probabilities as scored, i.e. mixed by ``network_optimism``), the number
        of weightings averaged (``"tied"``) and the share of equal weights used
        (``"shrink"``).
    """
    if shrink is not None and not 0.0 <= shrink <= 1.0:
        raise ValueError(f"shrink must be in [0, 1] or None, got {shrink!r}")
    if not 0.0 <= network_optimism < 1.0:
        raise ValueError(f"network_optimism must be in [0, 1), got {network_optimism!r}")
    if tie is not None and not tie >= 0.0:
        raise ValueError(f"tie must be >= 0 or None, got {tie!r}")
    parts = [p for p in BLEND_PARTS if p in held_out] + [p for p in held_out
                                                          if p not in BLEND_PARTS]
    if not parts:
        raise ValueError("choose_blend needs at least one part")
    rows = np.ones(len(y), dtype=bool)
    for p in parts:
        rows &= np.isfinite(held_out[p]).all(axis=1)
    scores: dict[str, float] = {"rows": float(rows.sum())}
    if not rows.any():  # nothing held out: equal shares
        return {p: 1.0 / len(parts) for p in parts}, scores
    probs = {p: held_out[p][rows] for p in parts}
    if "network" in probs:  # optimistic: the members' early stopping saw these series
        probs["network"] = ((1.0 - network_optimism) * probs["network"]
                            + network_optimism / probs["network"].shape[1])
    yy = y[rows]
    n = len(yy)
    for p in parts:
        scores[f"{p}_accuracy"] = float(np.mean(probs[p].argmax(axis=1) == yy))
        scores[f"{p}_log_loss"] = log_loss(probs[p], yy)
    grid = np.array([[w[p] for p in parts] for w in blend_candidates(parts, step)])  # (K, P)
    truth = np.stack([probs[p][np.arange(n), yy] for p in parts], axis=1)  # (N, P)
    losses = -np.log(np.maximum(truth @ grid.T, 1e-4))  # (N, K): every series, weighting
    mean = losses.mean(axis=0)
    used = (grid > 0).sum(axis=1)
    # least loss (within 1e-9), then fewer parts, then the earlier in the candidates' order
    best = int(np.lexsort((-np.arange(len(grid)), used, np.round(mean / 1e-9)))[0])
    tied = mean <= mean[best] + (tie / n if tie is not None else 0.0) + 1e-12
    if tie is None:
        tied = np.arange(len(grid)) == best
    chosen = grid[tied].mean(axis=0)
    scores["tied"] = float(tied.sum())
    equal = np.full(len(parts), 1.0 / len(parts))
    if shrink is None:
        shrink = adaptive_shrink(_series_loss_of(truth @ chosen), _series_loss_of(truth @ equal))
    scores["shrink"] = float(shrink)
    final = (1.0 - shrink) * chosen + shrink * equal
    weights = {p: float(w) for p, w in zip(parts, final, strict=True)}
    blend = sum(w * probs[p] for p, w in weights.items())
    assert isinstance(blend, np.ndarray)
    scores["blend_accuracy"] = float(np.mean(blend.argmax(axis=1) == yy))
    scores["blend_log_loss"] = log_loss(blend, yy)
    return weights, scores


def _series_loss_of(p_true: np.ndarray) -> np.ndarray:
    return -np.log(np.maximum(p_true, 1e-4))
