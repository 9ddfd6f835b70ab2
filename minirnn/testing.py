"""Hypothesis strategies for shapes, sequences and seeds (needs the ``test`` extra).

Use them to test a layer or cell of your own the way minirnn tests its own::

    from hypothesis import given
    from minirnn.testing import recurrent_shapes, arrays_for
    from minirnn.gradcheck import gradcheck

    @given(shape=recurrent_shapes(), data=st.data())
    def test_my_cell(shape, data):
        x = data.draw(arrays_for((shape.batch, shape.time, shape.features)))
        gradcheck(Recurrent(MyCell, shape.features, shape.hidden), x)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "minirnn.testing needs hypothesis: pip install 'minirnn[test]'"
    ) from exc

__all__ = ["RecurrentShape", "arrays_for", "recurrent_shapes", "seeds", "sequence_batches"]


@dataclass(frozen=True)
class RecurrentShape:
    """Sizes of one recurrent test case: N (batch), T (time), D (features), H (hidden)."""

    batch: int
    time: int
    features: int
    hidden: int


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``numpy.random.default_rng``."""
    return st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def recurrent_shapes(
    draw: Any,
    max_batch: int = 4,
    max_time: int = 5,
    max_features: int = 5,
    max_hidden: int = 5,
) -> RecurrentShape:
    """Small (N, T, D, H); T = 1 included. Small sides keep gradient checks fast."""
    return RecurrentShape(
        batch=draw(st.integers(1, max_batch)),
        time=draw(st.integers(1, max_time)),
        features=draw(st.integers(1, max_features)),
        hidden=draw(st.integers(1, max_hidden)),
    )


def arrays_for(
    shape: tuple[int, ...], dtype: Any = np.float64, bound: float = 2.0
) -> st.SearchStrategy[np.ndarray]:
    """Finite arrays with elements in [-bound, bound] (bounded so tanh/sigmoid do not saturate)."""
    return hnp.arrays(
        np.dtype(dtype), shape,
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64
                           if np.dtype(dtype) == np.float64 else 32),
    )


@st.composite
def sequence_batches(
    draw: Any,
    shape: RecurrentShape | None = None,
    dtype: Any = np.float64,
    batch_first: bool = True,
    bound: float = 2.0,
) -> np.ndarray:
    """A batch of sequences, (N, T, D) (or (T, N, D) with ``batch_first=False``)."""
    s = shape if shape is not None else draw(recurrent_shapes())
    dims = (s.batch, s.time, s.features) if batch_first else (s.time, s.batch, s.features)
    return draw(arrays_for(dims, dtype, bound))
