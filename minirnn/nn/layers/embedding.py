"""Token embeddings: :class:`Embedding` (PyTorch's ``torch.nn.Embedding``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_float_dtype, check_int, check_positive_int
from minirnn.nn.layers.base import Layer

__all__ = ["Embedding", "as_indices", "scatter_rows"]


def as_indices(x: Any, num_embeddings: int, what: str = "input") -> np.ndarray:
    """Validate token indices in [0, num_embeddings); returns them as an ``intp`` array.

    Integer arrays are taken as they are. Floating arrays are accepted when every value
    is a whole number (``Sequential.predict`` casts its input to the model's dtype), so
    ``3.0`` is token 3 but ``2.5`` is an error.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{what} must be a numpy ndarray of token indices, got "
                        f"{type(x).__name__}")
    if x.size == 0:
        raise ValueError(f"{what} must not be empty, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)) or np.any(x != np.floor(x)):
            raise TypeError(f"{what} must hold integer token indices, got non-integral "
                            f"values of dtype {x.dtype}")
    elif not np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        raise TypeError(f"{what} must hold integer token indices, got dtype {x.dtype}")
    ids = x.astype(np.intp, copy=False)
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= num_embeddings:
        raise ValueError(f"{what}: token indices must be in [0, {num_embeddings}), got min "
                         f"{low} max {high}")
    return ids


def scatter_rows(ids: np.ndarray, rows: np.ndarray, out: np.ndarray) -> None:
    """``out[ids[i]] += rows[i]`` for every i, repeated indices summed.

    Sorts the indices and sums each run of equal ones with ``np.add.reduceat``.
    Measured on the project machine (M = 3200 tokens, see benchmarks/charlm.py
    ``--micro``): for 65 x 64 this took 0.8 ms against 3.6 ms for ``np.add.at``, 3.4 ms
    for a ``np.bincount`` per element and 11 ms for a one-hot matrix product.

    Parameters
    ----------
    ids : ndarray of int, shape (M,)
    rows : ndarray, shape (M, E)
    out : ndarray, shape (V, E), updated in place
    """
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    out[sorted_ids[starts]] += np.add.reduceat(rows[order], starts, axis=0)


class Embedding(Layer):
    """A lookup table of learned vectors, one per token (PyTorch ``nn.Embedding``).

    Parameters
    ----------
    num_embeddings : int
        V, the vocabulary size; inputs are indices in [0, V).
    embedding_dim : int
        E, features per token.
    padding_idx : int, optional
        This row starts at zero and receives no gradient (it stays as loaded),
        as in PyTorch. Negative values count from the end.
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        Seeds the initial weights, drawn from N(0, 1) as in PyTorch.

    Notes
    -----
    One parameter, ``weight`` of shape (V, E), so ``state_dict()`` matches
    ``torch.nn.Embedding``'s. ``forward`` maps indices of any shape, usually
    (N, T), to vectors (N, T, E). Indices carry no gradient: ``backward``
    accumulates ``weight.grad`` (rows of repeated tokens summed) and returns
    zeros of the input's shape.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        dtype: Any = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        if padding_idx is not None:
            check_int(padding_idx, "padding_idx (an int or None)")
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx must be within num_embeddings "
                                 f"[-{self.num_embeddings}, {self.num_embeddings}), got "
                                 f"{padding_idx}")
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(dt)
        if padding_idx is not None:
            weight[padding_idx] = 0.0
        self.weight = self.add_parameter("weight", weight)
        self._ids: np.ndarray | None = None
        self._in: tuple[tuple[int, ...], np.dtype] | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Indices (...) -> vectors (..., E)."""
        ids = as_indices(x, self.num_embeddings)
        self._ids = ids
        self._in = (x.shape, x.dtype)
        return np.take(self.weight.data, ids, axis=0)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        """dy (..., E) -> zeros of the input's shape; accumulates ``weight.grad``."""
        if self._ids is None or self._in is None:
            raise RuntimeError("Embedding.backward called before forward")
        expected = (*self._ids.shape, self.embedding_dim)
        if not isinstance(dy, np.ndarray) or dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {getattr(dy, 'shape', dy)}")
        ids = self._ids.reshape(-1)
        rows = dy.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = ids != self.padding_idx
            ids, rows = ids[keep], rows[keep]
        if ids.size:
            scatter_rows(ids, rows, self.weight.grad)
        shape, dtype = self._in
        return np.zeros(shape, dtype if np.issubdtype(dtype, np.floating) else self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx, "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{pad})"
