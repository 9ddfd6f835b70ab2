"""The :class:`Cell` contract: one step of a recurrence, forward and backward.

A recurrent layer (:class:`minirnn.layers.Recurrent`) owns the time loop and
calls the cell. To keep the input projection of every time step one matrix
product, the cell never sees ``x_t`` itself but its projection::

    xp_t = x_t @ weight_ih.T + bias_ih      (N, G*H)   -- all t at once, before the loop
    hp_t = h_{t-1} @ weight_hh.T + bias_hh  (N, G*H)   -- inside the loop

``G = num_chunks`` gates are stacked along the last axis in the order of
``gate_names`` (PyTorch's layout). A research cell implements :meth:`step` and
:meth:`step_backward` on these projections; multi-layer, bidirectional
sequences, BPTT and gradient checking then come for free.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from minirnn import init as initializers
from minirnn._validation import check_array, check_float_dtype, check_positive_int
from minirnn.parameter import Parameter

__all__ = ["Cell", "State"]

#: A recurrent state: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM; each (N, H).
State = tuple[np.ndarray, ...]


class Cell(ABC):
    """One step of a recurrence with fused gate matrices.

    Parameters
    ----------
    input_size : int
        D, features of ``x_t``.
    hidden_size : int
        H, features of every state entry.
    bias : bool
        Whether ``bias_ih`` and ``bias_hh`` exist.
    dtype : float32 or float64
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's uniform(-1/sqrt(H), 1/sqrt(H))).

    Attributes
    ----------
    weight_ih : Parameter, shape (G*H, D)
    weight_hh : Parameter, shape (G*H, H)
    bias_ih, bias_hh : Parameter, shape (G*H,), or None without bias
    kernel_init, recurrent_init, bias_init : str or callable
        Initializers of ``weight_ih``, ``weight_hh`` and the biases (see
        :func:`minirnn.init.initialize`); ``"uniform"`` is PyTorch's default.
    """

    #: G, the number of gate blocks stacked in the fused matrices.
    num_chunks: ClassVar[int] = 1
    #: Names of the gate blocks in stacking order (documentation and Keras/PyTorch mapping).
    gate_names: ClassVar[tuple[str, ...]] = ("h",)
    #: Names of the state entries; the first one is the output ``h``.
    state_names: ClassVar[tuple[str, ...]] = ("h",)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        dtype: Any = np.float64,
        rng: np.random.Generator | int | None = None,
        kernel_init: initializers.Initializer = "uniform",
        recurrent_init: initializers.Initializer = "uniform",
        bias_init: initializers.Initializer = "uniform",
    ) -> None:
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.bias = bool(bias)
        self.kernel_init = kernel_init
        self.recurrent_init = recurrent_init
        self.bias_init = bias_init
        self._dtype = check_float_dtype(dtype, "dtype")
        self._parameters: dict[str, Parameter] = {}
        gh = self.num_chunks * self.hidden_size
        self.weight_ih = self.add_parameter("weight_ih", (gh, self.input_size))
        self.weight_hh = self.add_parameter("weight_hh", (gh, self.output_size))
        self.bias_ih: Parameter | None = None
        self.bias_hh: Parameter | None = None
        if self.bias:
            self.bias_ih = self.add_parameter("bias_ih", (gh,))
            self.bias_hh = self.add_parameter("bias_hh", (gh,))
        self.create_extra_parameters()
        self.reset_parameters(np.random.default_rng(rng))
        self._cache: Any = None

    # ---------------------------------------------------------- parameters
    @property
    def state_sizes(self) -> tuple[int, ...]:
        """Feature size of each state entry; all H unless a subclass says otherwise."""
        return (self.hidden_size,) * len(self.state_names)

    @property
    def output_size(self) -> int:
        """Features of the output ``h`` (= state entry 0), which also feeds ``weight_hh``."""
        return self.state_sizes[0]

    def add_parameter(self, name: str, shape: tuple[int, ...]) -> Parameter:
        """Create a zero parameter of ``shape`` in the cell's dtype (filled by reset_parameters)."""
        param = Parameter(np.zeros(shape, self._dtype), name)
        self._parameters[name] = param
        return param

    def create_extra_parameters(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Hook for subclasses with parameters beyond the four fused ones."""

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Fill every parameter.

        ``weight_ih``, ``weight_hh`` and the biases follow ``kernel_init``,
        ``recurrent_init`` and ``bias_init`` (per gate block); any other
        parameter gets PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
        """
        schemes = {"weight_ih": self.kernel_init, "weight_hh": self.recurrent_init,
                   "bias_ih": self.bias_init, "bias_hh": self.bias_init}
        for name, param in self._parameters.items():
            initializers.initialize(param.data, schemes.get(name, "uniform"), rng,
                                    hidden_size=self.hidden_size,
                                    num_chunks=self.num_chunks if name in schemes else 1,
                                    name=name)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, Parameter)`` in PyTorch's order: weight_ih, weight_hh, biases, extras."""
        yield from self._parameters.items()

    def parameters(self) -> list[Parameter]:
        return list(self._parameters.values())

    def zero_grad(self) -> None:
        for param in self.parameters():
            param.zero_grad()

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def astype(self, dtype: Any) -> Cell:
        """Convert every parameter to ``dtype``; returns ``self``."""
        dt = check_float_dtype(dtype, "dtype")
        for param in self.parameters():
            param.astype(dt)
        self._dtype = dt
        return self

    # ------------------------------------------------ projections (fused GEMMs)
    def project_input(self, x: np.ndarray) -> np.ndarray:
        """``x @ weight_ih.T + bias_ih`` for x of shape (M, D); returns (M, G*H)."""
        xp = x @ self.weight_ih.data.T
        if self.bias_ih is not None:
            xp += self.bias_ih.data
        return xp

    def project_input_backward(self, dxp: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Accumulate grads of ``weight_ih``/``bias_ih`` from dxp (M, G*H); return dx (M, D)."""
        self.weight_ih.grad += dxp.T @ x
        if self.bias_ih is not None:
            self.bias_ih.grad += dxp.sum(axis=0)
        return dxp @ self.weight_ih.data

    def project_hidden(self, h: np.ndarray) -> np.ndarray:
        """``h @ weight_hh.T + bias_hh`` for h of shape (N, output_size); returns (N, G*H)."""
        hp = h @ self.weight_hh.data.T
        if self.bias_hh is not None:
            hp += self.bias_hh.data
        return hp

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        """Accumulate grads of ``weight_hh``/``bias_hh`` from dhp (M, G*H) and h (M, H).

        The recurrent layer calls this once after the time loop with all steps
        stacked, so dW_hh is one matrix product rather than one per step.
        """
        self.weight_hh.grad += dhp.T @ h
        if self.bias_hh is not None:
            self.bias_hh.grad += dhp.sum(axis=0)

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        """dL/dh_{t-1} through the recurrent product: ``dhp @ weight_hh`` (N, H)."""
        return dhp @ self.weight_hh.data

    # ---------------------------------------------------------- the step math
    @abstractmethod
    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        """One step forward.

        Parameters
        ----------
        xp : ndarray, shape (N, G*H)
            Input projection of this step.
        hp : ndarray, shape (N, G*H)
            Recurrent projection ``project_hidden(state[0])``.
        state : tuple of ndarray, each (N, H)
            Previous state.

        Returns
        -------
        new_state : tuple of ndarray, each (N, H); ``new_state[0]`` is the output h.
        cache : anything backward needs (post-activations, previous state).
        """

    @abstractmethod
    def step_backward(
        self, dstate: State, cache: Any
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray | None, ...]]:
        """One step backward.

        Parameters
        ----------
        dstate : tuple of ndarray, each (N, H)
            dL/d(new_state). The cell may overwrite these arrays.
        cache : the cache that :meth:`step` returned.

        Returns
        -------
        dxp : ndarray, shape (N, G*H)
            dL/dxp.
        dhp : ndarray, shape (N, G*H)
            dL/dhp. May be the very same object as ``dxp`` when the two are
            equal (RNN, LSTM); the layer then stores it once.
        dstate_prev : tuple
            dL/d(state) through every path *except* ``hp`` (the layer adds
            ``dhp @ weight_hh`` to entry 0). ``None`` means zero.
        """

    # ------------------------------------------------ standalone single step
    def initial_state(self, batch_size: int) -> State:
        """Zeros for every state entry, each of shape (N, state_sizes[k])."""
        return tuple(np.zeros((batch_size, size), self.dtype) for size in self.state_sizes)

    def _check_state(self, state: Any, batch_size: int) -> State:
        if isinstance(state, np.ndarray):
            state = (state,)
        if not isinstance(state, tuple) or len(state) != len(self.state_names):
            raise ValueError(
                f"{type(self).__name__} state must be a tuple of {len(self.state_names)} "
                f"arrays {self.state_names}, got {type(state).__name__}"
                + (f" of length {len(state)}" if isinstance(state, tuple) else "")
            )
        for name, size, s in zip(self.state_names, self.state_sizes, state, strict=True):
            expected = (batch_size, size)
            check_array(s, f"state {name!r}", ndim=2, dtype=self.dtype)
            if s.shape != expected:
                raise ValueError(f"state {name!r}: expected shape {expected}, got {s.shape}")
        return state

    def forward(self, x: np.ndarray, state: State | np.ndarray | None = None) -> State:
        """One step on x (N, D) from ``state`` (zeros if None); returns the new state."""
        check_array(x, "x", ndim=2, dtype=self.dtype, last_dim=self.input_size)
        n = x.shape[0]
        state = self.initial_state(n) if state is None else self._check_state(state, n)
        new_state, cache = self.step(self.project_input(x), self.project_hidden(state[0]), state)
        self._cache = (x, state[0], cache)
        return new_state

    def backward(self, dstate: State | np.ndarray) -> tuple[np.ndarray, State]:
        """Backward of the last :meth:`forward`.

        Parameters
        ----------
        dstate : tuple of ndarray, each (N, H)
            dL/d(new_state) (an array alone is taken as dL/dh).

        Returns
        -------
        dx : ndarray, shape (N, D)
        dstate_prev : tuple of ndarray, each (N, H)
        """
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        x, h_prev, cache = self._cache
        if isinstance(dstate, np.ndarray):
            dstate = (dstate, *(np.zeros((x.shape[0], k), self.dtype)
                                 for k in self.state_sizes[1:]))
        dstate = self._check_state(dstate, x.shape[0])
        dxp, dhp, partial = self.step_backward(tuple(d.copy() for d in dstate), cache)
        self.project_hidden_backward(dhp, h_prev)
        dx = self.project_input_backward(dxp, x)
        dh_prev = self.hidden_input_grad(dhp)
        if partial[0] is not None:
            dh_prev += partial[0]
        rest = tuple(np.zeros((x.shape[0], k), self.dtype) if d is None else d
                     for k, d in zip(self.state_sizes[1:], partial[1:], strict=True))
        return dx, (dh_prev, *rest)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, bias={self.bias})"
        )


def split_at_first_step(
    d: np.ndarray, Y: np.ndarray, reverse: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair per-step gradients d (T, ...) with the previous output of each step.

    Returns ``(d at the T-1 steps that have a previous output, those outputs, d at the
    first step)``; the first step's previous output is the initial state. The first step is
    t = 0 forward and t = T-1 in the reverse direction.
    """
    return (d[:-1], Y[1:], d[-1]) if reverse else (d[1:], Y[:-1], d[0])


def accumulate_sequence_grads(
    cell: Cell, dA: np.ndarray, Y: np.ndarray, h0: np.ndarray, x_tm: np.ndarray,
    reverse: bool, dhp_n: np.ndarray | None = None,
) -> None:
    """dW_ih, dW_hh and the biases from the pre-activation gradients dA (T, N, G*H).

    ``h_{t-1}`` is the previous output (``Y`` shifted by one step, ``h0`` first), so
    dW_hh is one product over T-1 steps plus one for the first step. With ``dhp_n``
    (GRU), the last H columns of dL/dhp differ from dA's and are given separately.
    """
    T, N, D = x_tm.shape
    G = dA.shape[2]
    H = Y.shape[2]
    flat = dA.reshape(T * N, G)
    cell.weight_ih.grad += flat.T @ x_tm.reshape(T * N, D)
    d_mid, y_prev, d_first = split_at_first_step(dA, Y, reverse)
    y_prev = y_prev.reshape(-1, H)
    if dhp_n is None:
        cell.weight_hh.grad += d_mid.reshape(-1, G).T @ y_prev
        cell.weight_hh.grad += d_first.T @ h0
    else:
        k = G - H
        cell.weight_hh.grad[:k] += d_mid.reshape(-1, G)[:, :k].T @ y_prev
        cell.weight_hh.grad[:k] += d_first[:, :k].T @ h0
        n_mid, _, n_first = split_at_first_step(dhp_n, Y, reverse)
        cell.weight_hh.grad[k:] += n_mid.reshape(-1, H).T @ y_prev
        cell.weight_hh.grad[k:] += n_first.T @ h0
    if cell.bias_ih is not None and cell.bias_hh is not None:
        db = flat.sum(axis=0)
        cell.bias_ih.grad += db
        if dhp_n is None:
            cell.bias_hh.grad += db
        else:
            cell.bias_hh.grad[: G - H] += db[: G - H]
            cell.bias_hh.grad[G - H :] += dhp_n.reshape(T * N, H).sum(axis=0)
