"""Choosing how :class:`SequenceClassifier` blends its parts, on held-out training data only.

The parts are the recurrent ensemble (``"network"``), the nearest-neighbour evidence
(``"neighbors"``, its distances averaged) and the MiniRocket member (``"rocket"``). Each has
probabilities for training series it did not learn from: the network for the series its
members held out for validation, the neighbours and the ridge classifier of the rocket
member leave-one-out. Every weighting on a grid of the simplex is scored on those series and
the weights with the least log loss are then pulled part of the way (:data:`BLEND_SHRINK`)
towards equal shares, because on training sets of a few dozen series the held-out series are
few and the choice is noisy (docs/classification.md: how the share was chosen, by
cross-validation inside the archive sets' training files). The test data is never involved.
"""

from __future__ import annotations

import itertools

import numpy as np

__all__ = ["BLEND_PARTS", "BLEND_SHRINK", "BLEND_STEP", "blend_candidates", "choose_blend",
           "log_loss"]

#: The blended parts, in the order of their simplicity (ties go to the earlier).
BLEND_PARTS = ("network", "neighbors", "rocket")
#: Grid step of the weights.
BLEND_STEP = 0.1
#: The chosen weights are ``(1 - BLEND_SHRINK) x best + BLEND_SHRINK x equal shares``.
BLEND_SHRINK = 0.5


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log probability of the true class (probabilities floored at 1e-4, so
    one confident mistake does not decide a whole comparison)."""
    return float(-np.mean(np.log(np.maximum(proba[np.arange(len(y)), y], 1e-4)))) + 0.0


def blend_candidates(parts: list[str], step: float = BLEND_STEP) -> list[dict[str, float]]:
    """Every weighting of ``parts`` on the simplex grid of ``step`` (weights sum to 1)."""
    n = round(1.0 / step)
    out = []
    for combo in itertools.product(range(n + 1), repeat=len(parts)):
        if sum(combo) == n:
            out.append({p: k / n for p, k in zip(parts, combo, strict=True)})
    return out


def choose_blend(held_out: dict[str, np.ndarray], y: np.ndarray, *,
                 step: float = BLEND_STEP, shrink: float = BLEND_SHRINK
                 ) -> tuple[dict[str, float], dict[str, float]]:
    """The weights of the parts with the least held-out log loss, shrunk towards equal
    shares.

    Parameters
    ----------
    held_out : dict of part -> ndarray, shape (N, C)
        Probabilities of training series by parts that did not learn from them; a row of
        NaN where a part has none (the network for series no member held out). Only rows
        that every part has are scored.
    y : ndarray of int, shape (N,)
    step : float
        Grid step.
    shrink : float in [0, 1]
        Share of equal weights in the result (0: the least-loss weighting itself).

    Returns
    -------
    weights : dict of part -> float
        Summing to 1. The least-loss weighting before shrinking breaks ties (log loss within
        1e-9) towards fewer parts, then towards the earlier part of :data:`BLEND_PARTS`.
    scores : dict
        ``rows`` (the series scored), each part's held-out accuracy and log loss alone, and
        the returned blend's (``"blend_accuracy"``, ``"blend_log_loss"``) on those series.
    """
    if not 0.0 <= shrink <= 1.0:
        raise ValueError(f"shrink must be in [0, 1], got {shrink!r}")
    parts = [p for p in BLEND_PARTS if p in held_out]
    if not parts:
        raise ValueError("choose_blend needs at least one part")
    rows = np.ones(len(y), dtype=bool)
    for p in parts:
        rows &= np.isfinite(held_out[p]).all(axis=1)
    scores: dict[str, float] = {"rows": float(rows.sum())}
    if not rows.any():  # nothing held out: equal shares
        return {p: 1.0 / len(parts) for p in parts}, scores
    probs = {p: held_out[p][rows] for p in parts}
    yy = y[rows]
    for p in parts:
        scores[f"{p}_accuracy"] = float(np.mean(probs[p].argmax(axis=1) == yy))
        scores[f"{p}_log_loss"] = log_loss(probs[p], yy)
    best: tuple[float, int, int, dict[str, float]] | None = None
    for order, weights in enumerate(blend_candidates(parts, step)):
        proba = sum(w * probs[p] for p, w in weights.items())
        assert isinstance(proba, np.ndarray)
        loss = log_loss(proba, yy)
        used = sum(w > 0 for w in weights.values())
        key = (loss, used, -order)
        if best is None or key[0] < best[0] - 1e-9 or (
                abs(key[0] - best[0]) <= 1e-9 and key[1:3] < best[1:3]):
            best = (loss, used, -order, weights)
    assert best is not None
    weights = {p: (1.0 - shrink) * w + shrink / len(parts) for p, w in best[3].items()}
    blend = sum(w * probs[p] for p, w in weights.items())
    assert isinstance(blend, np.ndarray)
    scores["blend_accuracy"] = float(np.mean(blend.argmax(axis=1) == yy))
    scores["blend_log_loss"] = log_loss(blend, yy)
    return weights, scores
