"""The :class:`Cell` contract: one step of a recurrence and its recurrent projection.

A recurrent layer (:class:`minirnn.layers.Recurrent`) owns the time loop and calls the
cell. To keep the input projection of every time step one matrix product, the cell never
sees ``x_t`` itself but projections::

    xp_t = project_input(x_t)        = x_t @ weight_ih.T + bias_ih    (N, G*H), all t at once
    hp_t = project_hidden(h_{t-1})   = h_{t-1} @ weight_hh.T + bias_hh  (N, R), per step

``G = num_chunks`` gate blocks are stacked along the last axis of ``xp`` in the order of
``gate_names`` (PyTorch's layout). The recurrence is the cell's own: it creates its
recurrent parameters (:meth:`Cell.create_recurrent_parameters`), computes ``hp`` (whose
width R may be narrower than ``xp``'s, e.g. an elementwise or gated-product recurrence),
and gives its gradients (:meth:`Cell.project_hidden_backward`) and dL/dh_{t-1}
(:meth:`Cell.hidden_input_grad`). The default is the fused ``h @ weight_hh.T + bias_hh``.
A research cell writes :meth:`Cell.step` and :meth:`Cell.step_backward` (and, for another
recurrence, those three methods); stacking, directions, masking, BPTT and gradient checks
come from the layer (docs/custom-cells.md). Work that depends on the parameters only and
that every step needs (a matrix built from the weights) goes in :meth:`Cell.prepare`: the
layer runs it once per sequence, and the steps read it as :attr:`Cell.prepared`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np

from minirnn.nn import init as initializers
from minirnn.nn._validation import check_array, check_float_dtype, check_int, check_positive_int
from minirnn.nn.parameter import Parameter, ParameterOwner

__all__ = ["Cell", "State", "check_input", "check_state"]

#: A recurrent state: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM; each (N, H).
State = tuple[np.ndarray, ...]


#: Methods that define a cell's math: a subclass that overrides any of them loses its
#: parent's fused sequence kernel (see :attr:`Cell.fused_kernel`) unless it names one itself.
STEP_MATH = ("step", "step_backward", "project_input", "project_input_backward",
             "project_hidden", "project_hidden_backward", "hidden_input_grad",
             "create_recurrent_parameters", "prepare", "prepare_backward")

class _Outside:
    """Marks "no sequence running" for :attr:`Cell.prepared` and its gradient (one
    instance, kept by copies and pickles)."""

    def __repr__(self) -> str:
        return "<not given>"

    def __reduce__(self) -> str:
        return "_OUTSIDE"


_OUTSIDE: Any = _Outside()


def check_state(state: Any, names: tuple[str, ...], shapes: Sequence[tuple[int, ...]],
                dtype: np.dtype, what: str, layout: str = "") -> State:
    """The one check of a recurrent state (a cell's or a layer's): returns it as a tuple.

    Parameters
    ----------
    state : tuple or list of ndarray, or one ndarray
        One array per entry of ``names``; a bare array is accepted when there is one entry.
    names : tuple of str
        The state's entries (``("h",)``, ``("h", "c")``).
    shapes : sequence of tuple of int
        The expected shape of each entry: (N, size) for a cell, (L * dirs, N, size) for
        a layer.
    dtype : numpy dtype
        The model's dtype (checked by :func:`minirnn.nn._validation.check_array`).
    what : str
        The argument's name, for error messages (``"initial_state"``, ``"state"``).
    layout : str
        The shape's meaning for error messages, e.g. ``"(N, size)"``.

    Raises
    ------
    ValueError
        The wrong number of entries, or an entry of the wrong shape.
    TypeError
        An entry that is not a floating array of ``dtype``.
    """
    if isinstance(state, np.ndarray) and len(names) == 1:
        state = (state,)
    if not isinstance(state, (tuple, list)) or len(state) != len(names):
        given = (f"{type(state).__name__} of length {len(state)}"
                 if isinstance(state, (tuple, list)) else type(state).__name__)
        raise ValueError(f"{what} must be a tuple of {len(names)} arrays {names}, got {given}")
    for name, expected, s in zip(names, shapes, state, strict=True):
        if isinstance(s, np.ndarray) and s.shape == tuple(expected) and s.size == 0:
            # An empty batch (N = 0) or hidden size 0: nothing to check but the dtype.
            _check_empty_dtype(s, f"{what} {name!r}", dtype)
            continue
        check_array(s, f"{what} {name!r}", ndim=len(expected), dtype=dtype)
        if s.shape != tuple(expected):
            shown = f"{layout} = {tuple(expected)}" if layout else str(tuple(expected))
            raise ValueError(f"{what} {name!r}: expected shape {shown}, got {s.shape}")
    return tuple(state)


def _check_empty_dtype(x: np.ndarray, name: str, dtype: np.dtype | None) -> None:
    """The dtype check of :func:`~minirnn.nn._validation.check_array` for an empty array
    of an accepted shape (its message, on a one-element stand-in of ``x``'s dtype)."""
    check_array(np.zeros((1,) * x.ndim, x.dtype), name, ndim=x.ndim, dtype=dtype)


def check_input(x: Any, name: str, *, ndim: int | tuple[int, ...], dtype: np.dtype | None,
                last_dim: int, batch_axis: int | None) -> np.ndarray:
    """The one input check of a cell's or recurrent layer's forward: ``x`` unchanged.

    As :func:`~minirnn.nn._validation.check_array`, except that an empty batch passes, as
    in PyTorch: an array whose only zero-sized axis is ``batch_axis`` (None: the input has
    no batch axis, so it must not be empty) and whose last axis has ``last_dim`` features.
    An empty time axis or feature axis is still refused.
    """
    if (isinstance(x, np.ndarray) and batch_axis is not None and x.size == 0
            and x.ndim in ((ndim,) if isinstance(ndim, int) else ndim)
            and x.shape[-1] == last_dim and x.shape[batch_axis] == 0
            and all(d > 0 for k, d in enumerate(x.shape) if k != batch_axis % x.ndim)):
        _check_empty_dtype(x, name, dtype)
        return x
    return check_array(x, name, ndim=ndim, dtype=dtype, last_dim=last_dim)


class Cell(ParameterOwner, ABC):
    """One step of a recurrence with fused gate matrices.

    Parameters
    ----------
    input_size : int
        D, features of ``x_t``.
    hidden_size : int
        H, features of every state entry; 0 only where :attr:`allows_zero_hidden` says so
        (the built-in cells, as in PyTorch).
    bias : bool
        Whether ``bias_ih`` and ``bias_hh`` exist (PyTorch's ``bias``).
    input_bias : bool
        With ``bias``, whether ``bias_ih`` exists: False leaves the input projection
        without a bias (``xp = x W_ih^T``) and keeps ``bias_hh``, for a cell whose
        chunks must have no input bias (a multiplicative LSTM's ``W_mx x``). Ignored
        without ``bias``.
    dtype : float32 or float64
    rng : numpy.random.Generator or int, optional
        Source of the initial weights (PyTorch's uniform(-1/sqrt(H), 1/sqrt(H))).

    Attributes
    ----------
    weight_ih : Parameter, shape (G*H, D)
    weight_hh : Parameter, shape (G*H, H) by default (see :meth:`create_recurrent_parameters`)
    bias_ih, bias_hh : Parameter, shape (G*H,), or None without bias
    kernel_init, recurrent_init, bias_init : str or callable
        Initializers of ``weight_ih``, ``weight_hh`` and the biases (see
        :func:`minirnn.nn.init.initialize`); ``"uniform"`` is PyTorch's default.
    """

    #: G, the number of gate blocks stacked in the fused matrices.
    num_chunks: ClassVar[int] = 1
    #: Names of the gate blocks in stacking order (documentation and Keras/PyTorch mapping).
    gate_names: ClassVar[tuple[str, ...]] = ("h",)
    #: Names of the state entries; the first one is the output ``h``.
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    #: Name of a whole-sequence kernel of :mod:`minirnn.nn.kernels` (``"lstm"``, ``"gru"``,
    #: ``"rnn"``) that computes exactly this class's step math faster, or None (the
    #: generic per-step loop). Set to None automatically for a subclass that overrides a
    #: method of :data:`STEP_MATH` without naming a kernel itself;
    #: :meth:`fused_kernel_unsupported` narrows it per instance. The layer's ``kernel``
    #: argument chooses between the two (:mod:`minirnn.nn.kernels.select`).
    fused_kernel: ClassVar[str | None] = None
    #: Whether ``hidden_size=0`` is accepted (an empty cell: its states have 0 features,
    #: as PyTorch's ``RNNCell``, ``GRUCell`` and ``LSTMCell`` allow). True for those three;
    #: reset to False, like :attr:`fused_kernel`, for a subclass that overrides a method of
    #: :data:`STEP_MATH` without setting it itself (its math may divide by H).
    allows_zero_hidden: ClassVar[bool] = False
    #: The recurrent weights; :meth:`create_recurrent_parameters` decides their shape.
    weight_hh: Parameter
    _prepared: Any = _OUTSIDE
    _prepared_grad: Any = _OUTSIDE

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        overrides = any(m in cls.__dict__ for m in STEP_MATH)
        if "fused_kernel" not in cls.__dict__ and overrides:
            cls.fused_kernel = None
        if "allows_zero_hidden" not in cls.__dict__ and overrides:
            cls.allows_zero_hidden = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        input_bias: bool = True,
        dtype: Any = np.float64,
        rng: np.random.Generator | int | None = None,
        kernel_init: initializers.Initializer = "uniform",
        recurrent_init: initializers.Initializer = "uniform",
        bias_init: initializers.Initializer = "uniform",
    ) -> None:
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = (check_int(hidden_size, "hidden_size", minimum=0)
                            if self.allows_zero_hidden
                            else check_positive_int(hidden_size, "hidden_size"))
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {type(bias).__name__}")
        self.bias = bool(bias)
        if not isinstance(input_bias, (bool, np.bool_)):
            raise TypeError(f"input_bias must be a bool, got {type(input_bias).__name__}")
        self.input_bias = bool(input_bias)
        self.kernel_init = kernel_init
        self.recurrent_init = recurrent_init
        self.bias_init = bias_init
        self._dtype = check_float_dtype(dtype, "dtype")
        self._init_parameters()
        gh = self.num_chunks * self.hidden_size
        self.weight_ih = self.add_parameter("weight_ih", (gh, self.input_size))
        self.bias_ih: Parameter | None = None
        self.bias_hh: Parameter | None = None
        # PyTorch's order: weight_ih, weight_hh, bias_ih, bias_hh.
        self.create_recurrent_parameters()
        if self.bias and self.input_bias:
            bias_ih = Parameter(np.zeros(gh, self._dtype), "bias_ih")
            # Insert bias_ih before bias_hh, after the recurrent weights.
            items = list(self._parameters.items())
            at = next((k for k, (n, _) in enumerate(items) if n.startswith("bias")), len(items))
            items.insert(at, ("bias_ih", bias_ih))
            self._parameters = dict(items)
            self.bias_ih = bias_ih
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
        self._check_new_name(name)
        return self.register_parameter(name, Parameter(np.zeros(shape, self._dtype), name))

    # ------------------------------------------------------ the recurrence (overridable)
    def create_recurrent_parameters(self) -> None:
        """Create the parameters of the recurrence (called once, after ``weight_ih``).

        Default: the fused ``weight_hh`` (G*H, output_size) and, with ``bias``,
        ``bias_hh`` (G*H,), in PyTorch's layout. Override together with
        :meth:`project_hidden`, :meth:`project_hidden_backward` and
        :meth:`hidden_input_grad` for another recurrence (an elementwise vector, a
        product with a gate, a normalised projection); a cell without ``bias_hh``
        simply does not create it.
        """
        gh = self.num_chunks * self.hidden_size
        self.weight_hh = self.add_parameter("weight_hh", (gh, self.output_size))
        if self.bias:
            self.bias_hh = self.add_parameter("bias_hh", (gh,))

    def create_extra_parameters(self) -> None:
        """Hook for subclasses with parameters beyond the input and recurrent ones."""

    def fused_kernel_applies(self) -> bool:
        """Whether :attr:`fused_kernel` covers this instance's options (all by default)."""
        return True

    def fused_kernel_unsupported(self) -> str | None:
        """Why :attr:`fused_kernel` does not cover this instance's options, in words for
        an error message (None: it does). Built-in cells name the option
        (``"peephole=True"``); the default only relays :meth:`fused_kernel_applies`."""
        return None if self.fused_kernel_applies() else "its options (fused_kernel_applies())"

    # ------------------------------------------------------ work once per sequence
    def prepare(self) -> Any:
        """Work shared by every step of a sequence that depends on the parameters only.

        The layer calls it once per forward call (per layer and direction), before the
        first step, and the steps and recurrence methods read the result as
        :attr:`prepared` (e.g. AntisymmetricRNN's ``W - W^T - gamma I``, built once
        rather than at every step). Return an ndarray, a tuple of ndarrays, or None
        (default: nothing to prepare). The value lives for one forward call and its
        backward, so a change of the parameters between calls is always seen.
        """
        return None

    def prepare_backward(self, dprepared: Any) -> None:
        """Add the parameters' gradients from dL/d(:attr:`prepared`) (same structure).

        The layer calls it once per backward, after the time loop, with the sum of what
        the step and recurrence methods passed to :meth:`add_prepared_grad` (not at all
        if they passed nothing). Default: nothing (no :meth:`prepare`).
        """

    @property
    def prepared(self) -> Any:
        """The :meth:`prepare` value of the sequence being run. Outside a layer's forward
        or backward (a method called on its own, as by ``check_recurrence``) it is
        computed afresh at each access, from the current parameters."""
        value = self._prepared
        return self.prepare() if value is _OUTSIDE else value

    def add_prepared_grad(self, d: Any) -> None:
        """Add ``d`` (same structure as :attr:`prepared`) to dL/d(prepared).

        Inside a backward the contributions of all steps are summed and passed to
        :meth:`prepare_backward` once at the end; outside one (a method called on its
        own) they go to :meth:`prepare_backward` at once.
        """
        acc = self._prepared_grad
        if acc is _OUTSIDE:
            self.prepare_backward(d)
        elif acc is None:
            self._prepared_grad = (tuple(a.copy() for a in d) if isinstance(d, tuple)
                                   else np.array(d, copy=True))
        elif isinstance(acc, tuple):
            for a, b in zip(acc, d, strict=True):
                a += b
        else:
            acc += d

    @contextmanager
    def sequence(self, prepared: Any = _OUTSIDE, *, backward: bool = False) -> Iterator[Any]:
        """The scope of one forward (or backward) call over a sequence; yields the
        :meth:`prepare` value to keep in the cache for the backward.

        Forward: runs :meth:`prepare` once and holds the result as :attr:`prepared`.
        Backward (``backward=True``, ``prepared`` from the forward's cache): holds it
        again, sums :meth:`add_prepared_grad` contributions and passes them to
        :meth:`prepare_backward` at the end. Used by the generic loop and by
        :meth:`forward` / :meth:`backward`; the previous scope is restored on exit.
        """
        saved = self._prepared, self._prepared_grad
        self._prepared = self.prepare() if prepared is _OUTSIDE else prepared
        self._prepared_grad = None if backward else _OUTSIDE
        try:
            yield self._prepared
            if backward and self._prepared_grad is not None:
                self.prepare_backward(self._prepared_grad)
        finally:
            for name, value in zip(("_prepared", "_prepared_grad"), saved, strict=True):
                if value is _OUTSIDE:  # back to the class default (nothing to copy or pickle)
                    self.__dict__.pop(name, None)
                else:
                    setattr(self, name, value)

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """Fill every parameter.

        ``weight_ih``, ``weight_hh`` and the biases follow ``kernel_init``,
        ``recurrent_init`` and ``bias_init`` (per gate block); any other
        parameter gets PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
        """
        schemes = {"weight_ih": self.kernel_init, "weight_hh": self.recurrent_init,
                   "bias_ih": self.bias_init, "bias_hh": self.bias_init}
        for name, param in self._parameters.items():
            if param.data.size == 0:  # hidden_size=0: nothing to fill
                continue
            initializers.initialize(param.data, schemes.get(name, "uniform"), rng,
                                    hidden_size=self.hidden_size,
                                    num_chunks=self.num_chunks if name in schemes else 1,
                                    name=name)

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def astype(self, dtype: Any) -> Cell:
        """Convert every parameter to ``dtype``; returns ``self``."""
        self._dtype = self._convert_parameters(dtype)
        return self

    # --------------------------------------- projections (fused GEMMs by default)
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
        """Recurrent projection of h (N, output_size) -> hp (N, R), used inside the loop.

        Default: ``h @ weight_hh.T + bias_hh`` with R = G*H. It must be a function of
        ``h`` and parameters only (the layer applies recurrent dropout to ``h`` first).
        """
        hp = h @ self.weight_hh.data.T
        if self.bias_hh is not None:
            hp += self.bias_hh.data
        return hp

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        """Accumulate the recurrent parameters' grads from dhp (M, R) and h (M, output_size).

        The recurrent layer calls this after the time loop with steps stacked (M = steps
        times N), so dW_hh is one matrix product rather than one per step; it may call it
        more than once per backward (it adds with ``+=``).
        """
        self.weight_hh.grad += dhp.T @ h
        if self.bias_hh is not None:
            self.bias_hh.grad += dhp.sum(axis=0)

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        """dL/dh_{t-1} through the recurrent projection: dhp (N, R) -> (N, output_size).

        Default ``dhp @ weight_hh``. Called inside the backward time loop; it returns a
        new array (the layer adds into it).
        """
        return dhp @ self.weight_hh.data

    # ---------------------------------------------------------- the step math
    @abstractmethod
    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        """One step forward.

        Parameters
        ----------
        xp : ndarray, shape (N, G*H)
            Input projection of this step.
        hp : ndarray, shape (N, R)
            Recurrent projection ``project_hidden(state[0])`` (R = G*H by default; a
            cell whose recurrence needs a gate first may project only part here and
            finish the rest in ``step``).
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
        dhp : ndarray, shape (N, R)
            dL/dhp. May be the very same object as ``dxp`` when the two are
            equal (RNN, LSTM); the layer then stores it once.
        dstate_prev : tuple
            dL/d(state) through every path *except* ``hp`` (the layer adds
            ``hidden_input_grad(dhp)`` to entry 0). ``None`` means zero. Gradients
            of parameters used inside ``step`` are accumulated here, step by step.
        """

    # ------------------------------------------------ standalone single step
    def initial_state(self, batch_size: int) -> State:
        """Zeros for every state entry, each of shape (N, state_sizes[k])."""
        return tuple(np.zeros((batch_size, size), self.dtype) for size in self.state_sizes)

    def _check_state(self, state: Any, batch_size: int | None, what: str = "state") -> State:
        """``state`` checked as (N, size) entries, or (size,) ones for unbatched input
        (``batch_size`` None)."""
        if batch_size is None:
            return check_state(state, self.state_names, [(size,) for size in self.state_sizes],
                               self.dtype, f"{type(self).__name__} {what} (unbatched: x is (D,))",
                               "(size,)")
        return check_state(state, self.state_names,
                           [(batch_size, size) for size in self.state_sizes], self.dtype,
                           f"{type(self).__name__} {what}")

    def forward(self, x: np.ndarray, state: State | np.ndarray | None = None) -> State:
        """One step on x (N, D), or on one unbatched sample x (D,), from ``state`` (zeros
        if None); returns the new state.

        Parameters
        ----------
        x : ndarray, shape (N, D), or (D,) for one unbatched sample
            N may be 0 (an empty batch), as in PyTorch.
        state : ndarray or tuple of ndarray, optional
            Each entry (N, size), or (size,) with unbatched x (PyTorch's cells).

        Returns
        -------
        tuple of ndarray
            The new state, each entry (N, size), or (size,) for unbatched x.
        """
        check_input(x, "x", ndim=(1, 2), dtype=self.dtype, last_dim=self.input_size,
                    batch_axis=0 if getattr(x, "ndim", 0) == 2 else None)
        unbatched = x.ndim == 1
        if unbatched:  # PyTorch's unbatched form: one sample, no N axis anywhere
            if state is not None:
                state = tuple(s[None] for s in self._check_state(state, None))
            x = x[None]
        n = x.shape[0]
        state = self.initial_state(n) if state is None else self._check_state(state, n)
        with np.errstate(over="ignore"), self.sequence() as prepared:
            # (exp-form gates overflow to their exact limits: no warning wanted)
            new_state, cache = self.step(self.project_input(x), self.project_hidden(state[0]),
                                         state)
        self._cache = (x, state[0], cache, prepared, unbatched)
        return tuple(s[0] for s in new_state) if unbatched else new_state

    def backward(self, dstate: State | np.ndarray) -> tuple[np.ndarray, State]:
        """Backward of the last :meth:`forward`.

        Parameters
        ----------
        dstate : tuple of ndarray, each (N, H) ((H,) after an unbatched forward)
            dL/d(new_state) (an array alone is taken as dL/dh).

        Returns
        -------
        dx : ndarray, shape (N, D) ((D,) after an unbatched forward)
        dstate_prev : tuple of ndarray, each (N, H) ((H,) after an unbatched forward)
        """
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        x, h_prev, cache, prepared, unbatched = self._cache
        lead = () if unbatched else (x.shape[0],)
        if isinstance(dstate, np.ndarray):
            dstate = (dstate, *(np.zeros((*lead, k), self.dtype)
                                for k in self.state_sizes[1:]))
        if unbatched:
            dstate = tuple(d[None] for d in self._check_state(dstate, None, "dstate"))
        dstate = self._check_state(dstate, x.shape[0], "dstate")
        with self.sequence(prepared, backward=True):
            dxp, dhp, partial = self.step_backward(tuple(d.copy() for d in dstate), cache)
            self.project_hidden_backward(dhp, h_prev)
            dx = self.project_input_backward(dxp, x)
            dh_prev = self.hidden_input_grad(dhp)
        if partial[0] is not None:
            dh_prev += partial[0]
        rest = tuple(np.zeros((x.shape[0], k), self.dtype) if d is None else d
                     for k, d in zip(self.state_sizes[1:], partial[1:], strict=True))
        if unbatched:
            return dx[0], (dh_prev[0], *(r[0] for r in rest))
        return dx, (dh_prev, *rest)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, bias={self.bias})"
        )
