"""Recurrent layers: the time loop and backpropagation through time around a :class:`Cell`.

:class:`Recurrent` is generic: give it any :class:`~minirnn.cells.Cell` subclass and it
runs it over a sequence, stacked ``num_layers`` deep and optionally in both
directions. :class:`RNN`, :class:`LSTM` and :class:`GRU` only choose the cell.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from minirnn.nn._validation import (
    check_array,
    check_finite_output,
    check_float_dtype,
    check_lengths,
    check_positive_int,
    check_probability,
)
from minirnn.nn.cells.base import Cell, State, check_input, check_state
from minirnn.nn.cells.gru import GRUCell
from minirnn.nn.cells.lstm import LSTMCell
from minirnn.nn.cells.rnn import RNNCell
from minirnn.nn.init import Initializer
from minirnn.nn.kernels.select import check_mode, choose, resolve
from minirnn.nn.layers import bptt
from minirnn.nn.layers.base import Layer, grad_enabled
from minirnn.nn.parameter import Parameter

__all__ = ["GRU", "LSTM", "RNN", "Recurrent"]


class Recurrent(Layer):
    """Run a cell over sequences: stacking, directions, variable lengths, BPTT.

    Parameters
    ----------
    cell_class : type of Cell
        The step to run (also a user's own :class:`~minirnn.Cell` subclass).
    input_size : int
        D, features per time step.
    hidden_size : int
        H, features of the hidden state.
    num_layers : int
        Number of stacked recurrent layers; layer k > 0 reads layer k-1's output.
    bias : bool
        Whether the cells have ``bias_ih`` and ``bias_hh``.
    batch_first : bool
        Input and output are (N, T, D) if True (the default, as in Keras), else
        (T, N, D) as in PyTorch's default.
    dropout : float
        Dropout probability on the outputs of every layer but the last, in
        training only (PyTorch's ``dropout``).
    bidirectional : bool
        Run a second cell per layer from the end of the sequence backwards; the
        output then has ``2 * H`` features, forward direction first.
    recurrent_dropout : float
        Variational dropout of the recurrent input ``h_{t-1}`` (Gal & Ghahramani
        2016): one mask per sequence and layer/direction, the same at every step,
        in training only. Not in PyTorch (Keras's ``recurrent_dropout``).
    learn_initial_state : bool
        Make the initial state a trainable parameter (``h0``, and ``c0`` for
        LSTM, each (num_layers * num_directions, size)) used whenever no
        ``initial_state`` is passed.
    kernel_init, recurrent_init, bias_init : str or callable
        Initializers of ``weight_ih``, ``weight_hh`` and the biases, applied per
        gate block (:func:`minirnn.nn.init.initialize`): ``"uniform"`` (PyTorch's
        default), ``"xavier_uniform"``, ``"xavier_normal"``, ``"he_uniform"``,
        ``"he_normal"``, ``"orthogonal"``, ``"normal"``, ``"zeros"``.
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        Seeds the initial weights and the dropout masks.
    cell_kwargs : dict, optional
        Extra keyword arguments of ``cell_class`` (e.g. ``nonlinearity``, or
        ``input_bias=False``).
    kernel : {"auto", "fused", "reference", "compiled"}
        Which recurrence runs (like Keras's ``use_cudnn``): ``"reference"`` the cell's
        own step code (``minirnn/nn/cells/``) through the generic loop of
        ``minirnn/nn/layers/bptt.py``; ``"fused"`` the cell's numpy fused kernel
        (``minirnn/nn/kernels/lstm.py``, ...), a ValueError saying why if none applies
        (at construction for the cell and its options, at forward for variable lengths
        or ``record_states``); ``"compiled"`` the kernel with its step loops compiled by
        numba (the ``fast`` extra: ``minirnn/nn/kernels/compiled_lstm.py``, ...), the
        numpy kernel without numba, the reference loop where no kernel applies;
        ``"auto"`` (default) as ``"compiled"`` for the kernels in
        :data:`minirnn.nn.kernels.select.AUTO_COMPILED` (all three: LSTM, GRU,
        RNN), else as ``"fused"``, overridden inside
        :func:`minirnn.nn.kernels.use_kernel`. All give the same numbers (to rounding).

    Notes
    -----
    Parameters are named as in PyTorch: ``weight_ih_l{k}``, ``weight_hh_l{k}``,
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for a projected
    LSTM), with ``_reverse`` for the backward direction and PyTorch's shapes,
    so ``state_dict()`` moves to ``torch.nn.RNN/LSTM/GRU`` and back unchanged.

    States (initial and final) are tuples with one array per entry of
    ``cell_class.state_names``, each of shape (num_layers * num_directions, N,
    size), ordered layer by layer, forward direction first (PyTorch's ``h_n``).

    Variable-length batches (``lengths``) behave as PyTorch's packed
    sequences: steps at or after a sequence's length are padding, their
    outputs are 0, the forward direction's final state is the state at the
    last valid step, the reverse direction starts at the last valid step, and
    padding affects no gradient.
    """

    carries_state = True

    def __init__(
        self,
        cell_class: type[Cell],
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        recurrent_dropout: float = 0.0,
        learn_initial_state: bool = False,
        kernel_init: Initializer = "uniform",
        recurrent_init: Initializer = "uniform",
        bias_init: Initializer = "uniform",
        dtype: Any = np.float64,
        seed: int | np.random.Generator | None = None,
        cell_kwargs: dict[str, Any] | None = None,
        kernel: str = "auto",
    ) -> None:
        super().__init__()
        self.kernel = kernel
        if not (isinstance(cell_class, type) and issubclass(cell_class, Cell)):
            raise TypeError(f"cell_class must be a Cell subclass, got {cell_class!r}")
        self.cell_class = cell_class
        self.input_size = check_positive_int(input_size, "input_size")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.num_layers = check_positive_int(num_layers, "num_layers")
        for flag, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional),
                            ("learn_initial_state", learn_initial_state)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{flag} must be a bool, got {type(value).__name__}")
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        if self.dropout > 0 and self.num_layers == 1:
            # PyTorch's warning, word for word.
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={self.dropout} "
                f"and num_layers={self.num_layers}", UserWarning,
                stacklevel=2 if type(self) is Recurrent else 3)
        self.num_directions = 2 if self.bidirectional else 1
        dt = check_float_dtype(dtype, "dtype")
        self.cell_kwargs = dict(cell_kwargs or {})
        # Constructor arguments as JSON values, for model files (see get_config).
        self._config: dict[str, Any] = {
            "input_size": self.input_size, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "bias": self.bias, "batch_first": self.batch_first,
            "dropout": self.dropout, "bidirectional": self.bidirectional,
            "recurrent_dropout": self.recurrent_dropout,
            "learn_initial_state": bool(learn_initial_state), "dtype": str(dt),
            "kernel": self.kernel,
        }
        for name, init in (("kernel_init", kernel_init), ("recurrent_init", recurrent_init),
                           ("bias_init", bias_init)):
            if isinstance(init, str):
                self._config[name] = init
        self._rng = np.random.default_rng(seed)
        self.cells: list[list[Cell]] = []
        layer_input = self.input_size
        for layer in range(self.num_layers):
            row = []
            for direction in range(self.num_directions):
                cell = cell_class(layer_input, self.hidden_size, self.bias, dtype=dtype,
                                  rng=self._rng, kernel_init=kernel_init,
                                  recurrent_init=recurrent_init, bias_init=bias_init,
                                  **(cell_kwargs or {}))
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name, param in cell.named_parameters():
                    self.register_parameter(name + suffix, param)
                row.append(cell)
            self.cells.append(row)
            layer_input = row[0].output_size * self.num_directions
        if self.kernel == "fused":
            choose(self.cells[0][0], "fused")  # raises, saying why, when no kernel applies
        first = self.cells[0][0]
        self.state_names = first.state_names
        self.state_sizes = first.state_sizes
        self.initial_state_params: tuple[Parameter, ...] = ()
        if learn_initial_state:
            count = self.num_layers * self.num_directions
            self.initial_state_params = tuple(
                self.add_parameter(f"{name}0", np.zeros((count, size), first.dtype))
                for name, size in zip(self.state_names, self.state_sizes, strict=True)
            )
        self.final_state: State | None = None
        self.initial_state_grad: State | None = None
        #: Stateful mode (Keras ``stateful``): each forward without an explicit
        #: initial state starts from the previous forward's final state
        #: (detached: no gradient flows into the previous batch).
        self.stateful = False  # see Layer.carries_state
        self.carried_state: State | None = None
        #: When True, backward keeps dL/dh_t of every step in :attr:`hidden_grads`
        #: (one (T, N, H) array per layer and direction, time-major) for diagnostics.
        self.record_hidden_grads = False
        self.hidden_grads: list[np.ndarray] = []
        #: When True, forward keeps every state of every step in :attr:`step_states`:
        #: one tuple per layer and direction (order of ``h_n``), one (T, N, size) array
        #: per state name, time-major; used by ``Sequential.predict(return_states=True)``.
        self.record_states = False
        self.step_states: list[tuple[np.ndarray, ...]] = []
        self._cache: Any = None

    accepts_lengths = True

    # Validated on every assignment, so ``layer.dropout = p`` after construction is
    # checked like the constructor argument. p = 1 drops everything (as in PyTorch).
    @property
    def dropout(self) -> float:
        """Dropout probability between layers, in [0, 1]."""
        return self._dropout

    @dropout.setter
    def dropout(self, value: float) -> None:
        self._dropout = check_probability(value, "dropout", allow_one=True)

    @property
    def kernel(self) -> str:
        """Which recurrence runs: ``"auto"``, ``"fused"`` or ``"reference"`` (checked when
        assigned; ``"fused"`` is checked against the cells at the next forward)."""
        return self._kernel

    @kernel.setter
    def kernel(self, value: str) -> None:
        self._kernel = check_mode(value, "kernel")

    @property
    def recurrent_dropout(self) -> float:
        """Variational dropout probability of ``h_{t-1}``, in [0, 1]."""
        return self._recurrent_dropout

    @recurrent_dropout.setter
    def recurrent_dropout(self, value: float) -> None:
        self._recurrent_dropout = check_probability(value, "recurrent_dropout", allow_one=True)

    def reset_states(self) -> None:
        """Forget the carried state (stateful mode); the next forward starts from zeros."""
        self.carried_state = None

    # --------------------------------------------------------------- states
    @property
    def output_size(self) -> int:
        """Features of the output sequence: ``num_directions * cell.output_size``."""
        return self.num_directions * self.state_sizes[0]

    def _state_shapes(self, batch_size: int) -> list[tuple[int, int, int]]:
        count = self.num_layers * self.num_directions
        return [(count, batch_size, size) for size in self.state_sizes]

    def _check_states(self, states: Any, batch_size: int, what: str) -> State:
        """Accept an array (single-state cells) or a tuple of arrays, (L*dirs, N, size) each."""
        return check_state(states, self.state_names, self._state_shapes(batch_size),
                           self.dtype, what, "(num_layers * num_directions, N, size)")

    def _check_lengths(self, lengths: Any, batch: int, steps: int) -> np.ndarray | None:
        """Validate per-sequence lengths; returns the (T, N, 1) step mask or None if all full."""
        if batch == 0:  # an empty batch: no lengths to check beyond their type and shape
            given = np.asarray(lengths)
            if given.shape == (0,) and given.dtype != np.bool_ \
                    and np.issubdtype(given.dtype, np.integer):
                return None
        arr = check_lengths(lengths, batch, steps)
        if np.all(arr == steps):
            return None
        return (np.arange(steps)[:, None] < arr[None, :])[:, :, None]

    @property
    def h_n(self) -> np.ndarray:
        """Final hidden state of the last forward, (num_layers * num_directions, N, H)."""
        if self.final_state is None:
            raise RuntimeError("h_n is available after forward")
        return self.final_state[0]

    # -------------------------------------------------------------- forward
    def forward(
        self,
        x: np.ndarray,
        initial_state: State | np.ndarray | None = None,
        *,
        lengths: np.ndarray | None = None,
        training: bool = False,
    ) -> np.ndarray:
        """Run the sequence.

        Parameters
        ----------
        x : ndarray, shape (N, T, D) (or (T, N, D) with ``batch_first=False``)
            A 2-D ``x`` of shape (T, D) is one unbatched sequence (as in PyTorch): the
            states then have no N axis, and the output is (T, dirs * H).
        initial_state : ndarray or tuple of ndarray, each (L * dirs, N, size), optional
            ``h0`` (``(h0, c0)`` for LSTM). Zeros (or the learned state) if omitted.
        lengths : array of int, shape (N,), optional
            Valid steps of each sequence, in [1, T]; later steps are padding.
        training : bool
            Enables dropout and recurrent dropout.

        Returns
        -------
        ndarray, shape (N, T, dirs * H) (or (T, N, dirs * H))
            The last layer's hidden state at every step (0 at padding). The
            final states of every layer are in :attr:`final_state`.
        """
        # An empty batch (N = 0) runs, as in PyTorch: (N, T, dirs * H) outputs with N = 0.
        # (self.dtype walks the parameters: read once, it is ~4 us a read at the smallest
        # benchmark size, whose whole call is ~700 us)
        dtype = self.dtype
        check_input(x, "input", ndim=(2, 3), dtype=dtype, last_dim=self.input_size,
                    batch_axis=(0 if self.batch_first else 1) if getattr(x, "ndim", 0) == 3
                    else None)
        unbatched = x.ndim == 2
        if unbatched:
            # PyTorch's unbatched form: x (T, D), states (L * dirs, size) without the N axis.
            if lengths is not None:
                raise ValueError("lengths needs batched input (N, T, D); got unbatched (T, D)")
            x = x[None]
            initial_state = self._add_batch_axis(initial_state, "initial_state")
        # A view, not a copy (peak memory): the cache refers to the caller's x, which must
        # not change before backward (as in PyTorch, which saves its input).
        x_tm = x.transpose(1, 0, 2) if unbatched or self.batch_first else x
        steps, batch = x_tm.shape[:2]
        step_mask = None if lengths is None else self._check_lengths(lengths, batch, steps)
        mode = resolve(self.kernel)
        if mode == "fused":  # a ValueError before anything changes
            for row in self.cells:
                for cell in row:
                    choose(cell, mode, lengths=step_mask is not None,
                           record=self.record_states)
        if initial_state is None and self.stateful and self.carried_state is not None:
            if self.carried_state[0].shape[1] != batch:
                raise ValueError(
                    f"stateful {type(self).__name__}: the carried state has batch size "
                    f"{self.carried_state[0].shape[1]}, this batch has {batch}; use equal batch "
                    "sizes (drop_last=True) or call reset_states()"
                )
            initial_state = self.carried_state
        learned = initial_state is None and bool(self.initial_state_params)
        if initial_state is not None:
            states0 = self._check_states(initial_state, batch, "initial_state")
        elif learned:
            states0 = tuple(np.repeat(p.data[:, None, :], batch, axis=1)
                            for p in self.initial_state_params)
        else:
            states0 = tuple(np.zeros(shape, dtype) for shape in self._state_shapes(batch))
        keep = grad_enabled()  # inside minirnn.no_grad(): no caches for backward
        # The previous step's caches go before this step allocates (peak memory); the
        # layer owns them, so it gives their work arrays back for the kernels to reuse.
        self._drop_cache()
        finals: list[list[np.ndarray]] = [[] for _ in self.state_names]
        caches = []
        masks: list[np.ndarray | None] = []
        self.step_states = []
        layer_input = x_tm
        for layer, row in enumerate(self.cells):
            outputs = []
            for direction, cell in enumerate(row):
                idx = layer * self.num_directions + direction
                state0 = tuple(s[idx] for s in states0)
                rec_mask = None
                if training and self.recurrent_dropout > 0:
                    rec_mask = self._dropout_mask((batch, cell.output_size),
                                                  self.recurrent_dropout)
                record: list[np.ndarray] | None = [] if self.record_states else None
                y, final, cache = bptt.forward(cell, layer_input, state0, direction == 1,
                                               step_mask, rec_mask, kernel=mode,
                                               record=record, keep=keep)
                if record is not None:
                    self.step_states.append(tuple(record))
                outputs.append(y)
                caches.append(cache)
                for k, s in enumerate(final):
                    finals[k].append(s)
            out = outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=2)
            mask = None
            if training and self.dropout > 0 and layer < self.num_layers - 1:
                mask = self._dropout_mask(out.shape, self.dropout)
                out = out * mask
            masks.append(mask)
            layer_input = out
        check_finite_output(layer_input, type(self).__name__, x)
        # One cell (the common case): a copy with the new axis, as np.stack makes, without
        # its ~4 us of Python a state at the smallest benchmark size.
        final_state = tuple(f[0][None].copy() if len(f) == 1 else np.stack(f)
                            for f in finals)
        if self.stateful:
            self.carried_state = tuple(s.copy() for s in final_state)
        self._cache = (caches, masks, batch, steps, learned, unbatched) if keep else "no_grad"
        if unbatched:
            self.final_state = tuple(s[:, 0] for s in final_state)
            return layer_input[:, 0]
        self.final_state = final_state
        return layer_input.transpose(1, 0, 2) if self.batch_first else layer_input

    def _drop_cache(self) -> None:
        """Forget the last forward's caches, returning their kernel work arrays to the pool
        (the layer owns its caches: nothing else may hold them)."""
        cache, self._cache = self._cache, None
        if isinstance(cache, tuple):
            for c in cache[0]:
                bptt.release(c)

    def _add_batch_axis(self, states: Any, what: str) -> Any:
        """Unbatched states (L * dirs, size) -> (L * dirs, 1, size); None stays None."""
        if states is None:
            return None
        entries = (states,) if isinstance(states, np.ndarray) else states
        if not isinstance(entries, (tuple, list)) or not all(
                isinstance(s, np.ndarray) and s.ndim == 2 for s in entries):
            raise ValueError(
                f"{what} for unbatched input (T, D) must be {len(self.state_names)} 2-D "
                f"array(s) {self.state_names} of shape (num_layers * num_directions, size)"
            )
        return tuple(s[:, None, :] for s in entries)

    def _dropout_mask(self, shape: tuple[int, ...], p: float) -> np.ndarray:
        """Inverted-dropout mask: 0 with probability p, else 1 / (1 - p); all 0 when p = 1."""
        keep = 1.0 - p
        draw = self._rng.random(shape) < keep
        if keep == 0.0:
            return np.zeros(shape, self.dtype)
        return draw.astype(self.dtype) / self.dtype.type(keep)

    # ------------------------------------------------------------- backward
    def backward(
        self,
        dy: np.ndarray | None,
        d_final_state: State | np.ndarray | None = None,
    ) -> np.ndarray:
        """Backpropagate through time.

        Parameters
        ----------
        dy : ndarray, shape of the output, or None
            dL/d(output). None means zero (only the final state matters).
        d_final_state : ndarray or tuple of ndarray, each (L * dirs, N, size), optional
            dL/d(final_state).

        Returns
        -------
        ndarray, shape of the input
            dL/dx. dL/d(initial_state) is left in :attr:`initial_state_grad`
            (and added to the learned initial state's gradient when it was used).
        """
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        if isinstance(self._cache, str):
            raise RuntimeError(f"{type(self).__name__}.backward: the last forward ran inside "
                               "minirnn.no_grad(), which keeps nothing for backward")
        caches, masks, batch, steps, learned, unbatched = self._cache
        out_shape = (steps, batch, self.output_size)
        if dy is not None:
            if batch == 0:  # an empty batch's dy is empty too
                check_input(dy, "dy", ndim=3, dtype=self.dtype, last_dim=self.output_size,
                            batch_axis=0 if self.batch_first else 1)
            else:
                check_array(dy, "dy", ndim=2 if unbatched else 3, dtype=self.dtype)
            given = (dy[:, None] if unbatched
                     else dy.transpose(1, 0, 2) if self.batch_first else dy)
            if given.shape != out_shape:
                expected = ((steps, self.output_size) if unbatched
                            else (batch, steps, self.output_size) if self.batch_first
                            else out_shape)
                raise ValueError(f"dy: expected the output's shape {expected}, got {dy.shape}")
            d_out: np.ndarray | None = given
        else:
            d_out = None
        if unbatched:
            d_final_state = self._add_batch_axis(d_final_state, "d_final_state")
        dfinal = (None if d_final_state is None
                  else self._check_states(d_final_state, batch, "d_final_state"))
        dinit: list[list[np.ndarray]] = [
            [np.empty(0)] * (self.num_layers * self.num_directions) for _ in self.state_names
        ]
        width = self.state_sizes[0]
        recorded: dict[int, np.ndarray] = {}
        for layer in range(self.num_layers - 1, -1, -1):
            if d_out is not None and masks[layer] is not None:
                d_out = d_out * masks[layer]
            d_in = None
            for direction, cell in enumerate(self.cells[layer]):
                idx = layer * self.num_directions + direction
                dy_dir = (None if d_out is None
                          else d_out[:, :, direction * width:(direction + 1) * width])
                dfin = None if dfinal is None else tuple(s[idx] for s in dfinal)
                record = None
                if self.record_hidden_grads:
                    record = recorded[idx] = np.empty((steps, batch, width), self.dtype)
                dx_dir, dstate0 = bptt.backward(
                    cell, dy_dir, dfin, caches[idx], record,
                    dx_batch_first=layer == 0 and (self.batch_first or unbatched))
                d_in = dx_dir if d_in is None else d_in + dx_dir
                for k, ds in enumerate(dstate0):
                    dinit[k][idx] = ds
            d_out = d_in
        self.initial_state_grad = tuple(np.stack(d) for d in dinit)
        if self.record_hidden_grads:
            self.hidden_grads = [recorded[i] for i in sorted(recorded)]
        if learned:
            for param, grad in zip(self.initial_state_params, self.initial_state_grad,
                                   strict=True):
                param.grad += grad.sum(axis=1)
        assert d_out is not None
        if unbatched:
            self.initial_state_grad = tuple(g[:, 0] for g in self.initial_state_grad)
            return d_out[:, 0]
        return np.ascontiguousarray(d_out.transpose(1, 0, 2)) if self.batch_first else d_out

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (initializers given as callables are not recorded)."""
        config = dict(self._config)
        config["dtype"] = str(self.dtype)
        config["dropout"] = self.dropout
        config["recurrent_dropout"] = self.recurrent_dropout
        config["kernel"] = self.kernel
        if type(self) is Recurrent:
            config["cell_class"] = self.cell_class.__name__
            config["cell_kwargs"] = dict(self.cell_kwargs)
        else:
            config.update(self.cell_kwargs)
        return config

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"num_layers={self.num_layers}, bias={self.bias}, batch_first={self.batch_first}, "
            f"dropout={self.dropout}, bidirectional={self.bidirectional})"
        )


class RNN(Recurrent):
    """Elman RNN over sequences, with PyTorch's ``torch.nn.RNN`` arguments.

    See :class:`Recurrent` for the arguments (keyword arguments go there) and
    :class:`~minirnn.cells.RNNCell` for the equations.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        **kwargs: Any,
    ) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(RNNCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, cell_kwargs={"nonlinearity": nonlinearity},
                         **kwargs)


class LSTM(Recurrent):
    """LSTM over sequences, with PyTorch's ``torch.nn.LSTM`` arguments (``proj_size`` too).

    States are ``(h, c)``; with ``proj_size = P > 0``, ``h`` has P features and
    the output ``dirs * P``. ``peephole`` and ``forget_bias`` go to
    :class:`~minirnn.cells.LSTMCell`; other keyword arguments to :class:`Recurrent`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        peephole: bool = False,
        forget_bias: float | None = None,
        **kwargs: Any,
    ) -> None:
        self.proj_size = proj_size
        super().__init__(LSTMCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional,
                         cell_kwargs={"proj_size": proj_size, "peephole": peephole,
                                      "forget_bias": forget_bias}, **kwargs)

    @property
    def c_n(self) -> np.ndarray:
        """Final cell state of the last forward, (num_layers * num_directions, N, H)."""
        if self.final_state is None:
            raise RuntimeError("c_n is available after forward")
        return self.final_state[1]


class GRU(Recurrent):
    """GRU over sequences, with PyTorch's ``torch.nn.GRU`` arguments.

    ``reset_after=False`` selects Cho et al.'s variant (see
    :class:`~minirnn.cells.GRUCell`); other keyword arguments go to :class:`Recurrent`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        self.reset_after = reset_after
        super().__init__(GRUCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, cell_kwargs={"reset_after": reset_after},
                         **kwargs)
