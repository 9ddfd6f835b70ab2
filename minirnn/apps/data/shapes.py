"""Synthetic sequence-classification sets in the style of the UCR archive's generators."""

from __future__ import annotations

import numpy as np

__all__ = ["CBF_CLASSES", "SYNTHETIC_CONTROL_CLASSES", "cylinder_bell_funnel",
           "synthetic_control"]

CBF_CLASSES = ["cylinder", "bell", "funnel"]
SYNTHETIC_CONTROL_CLASSES = ["normal", "cyclic", "increasing", "decreasing", "upward_shift",
                             "downward_shift"]


def cylinder_bell_funnel(n: int, length: int = 128, *, seed: int | np.random.Generator | None
                         = None) -> tuple[np.ndarray, np.ndarray]:
    """Saito's (1994) Cylinder-Bell-Funnel task, the UCR archive's CBF generator.

    With ``a ~ U{16..32}``, ``b - a ~ U{32..96}``, ``eta, eps(t) ~ N(0, 1)``, on ``[a, b]``:
    cylinder ``6 + eta``; bell ``(6 + eta)(t - a)/(b - a)``; funnel ``(6 + eta)(b - t)/(b - a)``;
    zero elsewhere, plus ``eps(t)``. Classes are balanced (cycled, then shuffled).

    Returns
    -------
    x : ndarray, shape (n, length, 1)
    y : ndarray of int64, shape (n,), indices into :data:`CBF_CLASSES`
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3).astype(np.int64)
    t = np.arange(1, length + 1, dtype=np.float64)
    x = rng.standard_normal((n, length))
    scale = length / 128.0
    for i in range(n):
        a = rng.integers(16, 33) * scale
        b = a + rng.integers(32, 97) * scale
        inside = (t >= a) & (t <= b)
        height = 6.0 + rng.standard_normal()
        shape = {0: np.ones_like(t), 1: (t - a) / (b - a), 2: (b - t) / (b - a)}[int(y[i])]
        x[i] += height * inside * shape
    return x[:, :, None], y


def synthetic_control(n: int, length: int = 60, *, seed: int | np.random.Generator | None
                      = None) -> tuple[np.ndarray, np.ndarray]:
    """Alcock & Manolopoulos's (1999) Synthetic Control chart patterns (UCR SyntheticControl).

    ``m = 30``, noise ``r ~ U(-3, 3)``: normal ``m + r``; cyclic ``+ a sin(2 pi t / T)``
    (``a ~ U(10, 15)``, ``T ~ U(10, 15)``); increasing/decreasing trend ``+- g t``
    (``g ~ U(0.2, 0.5)``); upward/downward shift ``+- k`` from a step ``t3 ~ U(length/3,
    2 length/3)`` on (``k ~ U(7.5, 20)``).

    Returns
    -------
    x : ndarray, shape (n, length, 1)
    y : ndarray of int64, shape (n,), indices into :data:`SYNTHETIC_CONTROL_CLASSES`
    """
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 6).astype(np.int64)
    t = np.arange(length, dtype=np.float64)
    x = 30.0 + rng.uniform(-3, 3, (n, length))
    for i in range(n):
        c = int(y[i])
        if c == 1:
            x[i] += rng.uniform(10, 15) * np.sin(2 * np.pi * t / rng.uniform(10, 15))
        elif c in (2, 3):
            x[i] += (1 if c == 2 else -1) * rng.uniform(0.2, 0.5) * t
        elif c in (4, 5):
            step = rng.uniform(length / 3, 2 * length / 3)
            x[i] += (1 if c == 4 else -1) * rng.uniform(7.5, 20) * (t >= step)
    return x[:, :, None], y
