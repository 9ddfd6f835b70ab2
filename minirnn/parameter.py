"""Trainable arrays: :class:`Parameter` keeps a value and its gradient side by side."""

from __future__ import annotations

import numpy as np

from minirnn._validation import check_float_dtype

__all__ = ["Parameter"]


class Parameter:
    """A trainable array and the gradient that backward accumulates into it.

    Parameters
    ----------
    data : ndarray
        The value. Stored as given (not copied) so a layer can hand out views.
    name : str
        The local name inside the owning layer (``"weight_ih"``, ``"bias"``...).

    Notes
    -----
    ``grad`` always has the shape and dtype of ``data``. Backward passes add
    into it with ``+=``; :meth:`zero_grad` resets it. Optimizers update
    ``data`` in place so every holder of a reference sees the new value.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data: np.ndarray, name: str = "") -> None:
        if not isinstance(data, np.ndarray):
            raise TypeError(
                f"Parameter {name!r}: data must be a numpy ndarray, got {type(data).__name__}"
            )
        check_float_dtype(data.dtype, f"Parameter {name!r} data")
        self.data: np.ndarray = data
        self.grad: np.ndarray = np.zeros_like(data)
        self.name: str = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return int(self.data.size)

    def zero_grad(self) -> None:
        """Set the gradient to zero in place."""
        self.grad[...] = 0

    def astype(self, dtype: np.dtype | type) -> None:
        """Convert value and gradient to ``dtype`` in place of the old arrays."""
        dtype = check_float_dtype(np.dtype(dtype), "dtype")
        self.data = self.data.astype(dtype)
        self.grad = self.grad.astype(dtype)

    def __repr__(self) -> str:
        return f"Parameter(name={self.name!r}, shape={self.data.shape}, dtype={self.data.dtype})"
