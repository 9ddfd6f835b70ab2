"""Pool a sequence over its valid steps: (N, T, F) -> (N, F) (or (N, 2F) for ``"mean_max"``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._validation import check_array, check_lengths
from minirnn.nn.layers.base import Layer

__all__ = ["SequencePooling"]

_MODES = ("last", "mean", "max", "mean_max")


class SequencePooling(Layer):
    """Summarise each sequence by its last valid step, the mean or the maximum over valid steps.

    Padding never changes the result: with ``lengths`` (or a ``mask``) only the valid steps
    are read, so appending padded steps to a batch leaves every output unchanged (Keras's
    ``GlobalAveragePooling1D``/``GlobalMaxPooling1D`` with a mask; PyTorch users pool the
    output of a packed sequence the same way).

    Parameters
    ----------
    mode : {"mean", "max", "last", "mean_max"}
        ``"mean_max"`` concatenates the mean and the maximum: (N, T, F) -> (N, 2F).
    batch_first : bool
        Input is (N, T, F) if True, (T, N, F) otherwise.

    Notes
    -----
    ``forward(x, lengths=None, mask=None)``: ``lengths`` (N,) gives the valid prefix of each
    sequence; ``mask`` (N, T) of bools marks valid steps in any pattern (every sequence
    needs at least one). Without either, every step is valid. The gradient of ``"max"``
    goes to the first step holding the maximum of each feature.
    """

    accepts_lengths = True

    def __init__(self, mode: str = "mean", batch_first: bool = True) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        self.mode = mode
        self.batch_first = bool(batch_first)
        self._cache: tuple[Any, ...] | None = None

    def output_size(self, features: int) -> int:
        """Features out for ``features`` in."""
        return 2 * features if self.mode == "mean_max" else features

    def _valid(self, n: int, t: int, lengths: Any, mask: Any) -> np.ndarray:
        if lengths is not None and mask is not None:
            raise ValueError("pass lengths or mask, not both")
        if lengths is not None:
            arr = check_lengths(lengths, n, t)
            return np.arange(t)[None, :] < arr[:, None]
        if mask is not None:
            arr = np.asarray(mask)
            if arr.shape != (n, t) or arr.dtype != np.bool_:
                raise ValueError(f"mask must be a bool array of shape {(n, t)}, got "
                                 f"{arr.dtype} {arr.shape}")
            if not arr.any(axis=1).all():
                raise ValueError(f"mask: every sequence needs a valid step; sequences "
                                 f"{np.flatnonzero(~arr.any(axis=1)).tolist()} have none")
            return arr
        return np.ones((n, t), dtype=bool)

    def forward(self, x: np.ndarray, *, training: bool = False,
                lengths: np.ndarray | None = None, mask: np.ndarray | None = None
                ) -> np.ndarray:
        """x (N, T, F) (batch_first) -> (N, F), or (N, 2F) for ``"mean_max"``."""
        check_array(x, "input", ndim=3)
        xb = x if self.batch_first else x.transpose(1, 0, 2)
        n, t, _ = xb.shape
        valid = self._valid(n, t, lengths, mask)
        parts = []
        last = argmax = counts = None
        if self.mode == "last":
            last = t - 1 - np.argmax(valid[:, ::-1], axis=1)
            parts.append(xb[np.arange(n), last])
        if self.mode in ("mean", "mean_max"):
            counts = valid.sum(axis=1).astype(x.dtype)[:, None]
            parts.append(np.einsum("nt,ntf->nf", valid.astype(x.dtype), xb) / counts)
        if self.mode in ("max", "mean_max"):
            masked = np.where(valid[:, :, None], xb, -np.inf)
            argmax = np.argmax(masked, axis=1)  # (N, F), first maximum
            parts.append(np.take_along_axis(xb, argmax[:, None, :], axis=1)[:, 0])
        self._cache = (x.shape, valid, last, argmax, counts)
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def backward(self, dy: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError("SequencePooling.backward called before forward")
        shape, valid, last, argmax, counts = self._cache
        n, t = (shape[0], shape[1]) if self.batch_first else (shape[1], shape[0])
        f = shape[2]
        expected = (n, self.output_size(f))
        if not isinstance(dy, np.ndarray) or dy.shape != expected:
            raise ValueError(f"dy: expected shape {expected}, got {getattr(dy, 'shape', dy)}")
        dx = np.zeros((n, t, f), dtype=dy.dtype)
        if self.mode == "last":
            dx[np.arange(n), last] = dy
        if self.mode in ("mean", "mean_max"):
            dmean = dy[:, :f] / counts
            dx += valid[:, :, None] * dmean[:, None, :]
        if self.mode in ("max", "mean_max"):
            dmax = dy[:, -f:]
            rows = np.repeat(np.arange(n), f)
            cols = np.tile(np.arange(f), n)
            np.add.at(dx, (rows, argmax.ravel(), cols), dmax.ravel())
        return dx if self.batch_first else dx.transpose(1, 0, 2)

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode, "batch_first": self.batch_first}

    def __repr__(self) -> str:
        return f"SequencePooling(mode={self.mode!r}, batch_first={self.batch_first})"
