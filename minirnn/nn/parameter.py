"""Trainable arrays: :class:`Parameter` keeps a value and its gradient side by side."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from minirnn.nn._validation import check_float_dtype

__all__ = ["Parameter", "ParameterOwner"]


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


class ParameterOwner:
    """The parameter registry that :class:`~minirnn.Layer` and :class:`~minirnn.Cell` share.

    Own parameters are kept by name in registration order; :meth:`_children` (a Layer's
    sub-layers) are walked after them with a ``"name."`` prefix.
    """

    _parameters: dict[str, Parameter]

    def _init_parameters(self) -> None:
        self._parameters = {}

    def _children(self) -> dict[str, ParameterOwner]:
        """Sub-owners whose parameters are reported as ``name.<param>`` (none by default)."""
        return {}

    def _check_new_name(self, name: str) -> None:
        if not name or "." in name:
            raise ValueError(f"parameter name must be non-empty and without '.', got {name!r}")
        if name in self._parameters or name in self._children():
            raise ValueError(f"{type(self).__name__} already has a member named {name!r}")

    def register_parameter(self, name: str, param: Parameter) -> Parameter:
        """Register an existing :class:`Parameter` (e.g. shared with a cell) under ``name``."""
        self._check_new_name(name)
        self._parameters[name] = param
        return param

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(qualified_name, parameter)`` pairs, own parameters first."""
        for name, param in self._parameters.items():
            yield prefix + name, param
        for cname, child in self._children().items():
            yield from child.named_parameters(prefix + cname + ".")

    def parameters(self) -> list[Parameter]:
        """All parameters, in :meth:`named_parameters` order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to zero."""
        for param in self.parameters():
            param.zero_grad()

    def _convert_parameters(self, dtype: Any) -> np.dtype:
        """Convert every parameter to ``dtype`` (float32 or float64); returns the dtype."""
        dt = check_float_dtype(dtype, "dtype")
        for param in self.parameters():
            param.astype(dt)
        return dt
