"""Chronological train/validation/test splits (no shuffling: the future stays unseen)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["chronological_split", "split_sizes"]

#: Slack on ``fraction * n`` before flooring, so 0.29 * 100 gives 29 and not 28.
_ROUNDING_SLACK = 1e-9


def _check_fractions(fractions: Any) -> tuple[float, ...]:
    if isinstance(fractions, (str, bytes)) or not isinstance(fractions, Sequence):
        raise TypeError(
            f"fractions must be a tuple of 2 or 3 numbers (train, [val,] test), "
            f"got {type(fractions).__name__}"
        )
    if len(fractions) not in (2, 3):
        raise ValueError(
            f"fractions must have 2 (train, test) or 3 (train, val, test) entries, "
            f"got {len(fractions)}: {tuple(fractions)}"
        )
    out = []
    for f in fractions:
        if isinstance(f, bool) or not isinstance(f, (int, float, np.integer, np.floating)):
            raise TypeError(f"fractions must be numbers, got {tuple(fractions)!r}")
        if not (math.isfinite(f) and 0.0 < f < 1.0):
            raise ValueError(f"every fraction must be in (0, 1), got {tuple(fractions)}")
        out.append(float(f))
    if abs(sum(out) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {tuple(fractions)} (sum {sum(out):g})")
    return tuple(out)


def split_sizes(n: int, fractions: Sequence[float] = (0.67, 0.33)) -> tuple[int, ...]:
    """Part sizes used by :func:`chronological_split` for ``n`` samples.

    Every part but the last has ``floor(fraction * n)`` samples, computed on cumulative
    fractions so the boundaries do not drift; the last part takes the rest. With the default
    (0.67, 0.33), ``n = 3650`` gives (2445, 1205) and ``n = 144`` gives (96, 48).

    Parameters
    ----------
    n : int
        Number of samples, at least the number of parts.
    fractions : tuple of 2 or 3 floats
        ``(train, test)`` or ``(train, val, test)``, each in (0, 1), summing to 1.

    Returns
    -------
    tuple of int
        One size per fraction, summing to ``n``; every part is non-empty.
    """
    fr = _check_fractions(fractions)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    cumulative = np.cumsum(fr)[:-1]
    bounds = [0, *(math.floor(c * n + _ROUNDING_SLACK) for c in cumulative), int(n)]
    sizes = tuple(b - a for a, b in itertools.pairwise(bounds))
    if min(sizes) <= 0:
        raise ValueError(
            f"{n} samples are too few for fractions {fr}: the parts would have sizes {sizes} "
            f"(every part needs at least one sample)"
        )
    return sizes


def chronological_split(
    *arrays: Any, fractions: Sequence[float] = (0.67, 0.33)
) -> tuple[np.ndarray, ...]:
    """Split arrays along axis 0 into consecutive parts, in order, without shuffling.

    Parameters
    ----------
    *arrays : array_like, each of shape (T, ...)
        One or more arrays with the same length T on axis 0 (a series, or windows ``x`` and
        targets ``y``).
    fractions : tuple of 2 or 3 floats
        ``(train, test)`` or ``(train, val, test)``, each in (0, 1), summing to 1. Sizes are
        as in :func:`split_sizes`: ``floor(0.67 * T)`` training samples by default.

    Returns
    -------
    tuple of ndarray
        As scikit-learn's ``train_test_split``: for each array in turn, its parts in order;
        ``train, test = chronological_split(series)``,
        ``x_tr, x_te, y_tr, y_te = chronological_split(x, y)``. The parts are views (slices)
        of ``np.asarray(array)``, not copies.

    Examples
    --------
    >>> train, val, test = chronological_split(np.arange(10), fractions=(0.6, 0.2, 0.2))
    >>> train.tolist(), val.tolist(), test.tolist()
    ([0, 1, 2, 3, 4, 5], [6, 7], [8, 9])
    """
    if not arrays:
        raise TypeError("chronological_split needs at least one array")
    arrs = [np.asarray(a) for a in arrays]
    for i, a in enumerate(arrs):
        if a.ndim == 0:
            raise ValueError(f"arrays[{i}] must have at least 1 dimension, got a scalar")
    lengths = [a.shape[0] for a in arrs]
    if len(set(lengths)) > 1:
        raise ValueError(f"arrays must have the same length on axis 0, got lengths {lengths}")
    sizes = split_sizes(lengths[0], fractions)
    bounds = list(itertools.accumulate(sizes, initial=0))
    return tuple(a[start:stop] for a in arrs for start, stop in itertools.pairwise(bounds))
