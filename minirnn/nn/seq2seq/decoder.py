"""An attention decoder: a recurrent cell stepped one token at a time, attending over the
encoder's outputs (Luong et al. 2015), with a hand-written backward through every step.

Shape letters: N batch, T target steps, S source steps, M memory (encoder output)
features, E embedding features, H decoder hidden features, V target vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.nn._validation import (
    check_bool,
    check_float_dtype,
    check_lengths,
    check_positive_int,
    check_probability,
)
from minirnn.nn.cells.base import Cell, State, check_state
from minirnn.nn.cells.gru import GRUCell
from minirnn.nn.cells.lstm import LSTMCell
from minirnn.nn.cells.rnn import RNNCell
from minirnn.nn.layers.attention import (
    AdditiveAttention,
    AttentionMemory,
    DotAttention,
    GeneralAttention,
    StepAttention,
)
from minirnn.nn.layers.base import Layer, grad_enabled, no_grad
from minirnn.nn.layers.dense import Dense
from minirnn.nn.layers.embedding import Embedding, as_indices, scatter_rows
from minirnn.nn.parameter import ParameterOwner
from minirnn.nn.registry import cell_class, register_layer
from minirnn.nn.seq2seq.vocab import BOS, PAD

__all__ = ["ATTENTIONS", "AttentionDecoder", "DecoderState", "resolve_cell"]

#: Short cell names; any other name is looked up in the cell registry
#: (:func:`minirnn.nn.registry.register_cell`), so a custom cell works too.
_SHORT_CELLS: dict[str, type[Cell]] = {"rnn": RNNCell, "gru": GRUCell, "lstm": LSTMCell}
#: The attention score functions (``attention=``).
ATTENTIONS = ("additive", "general", "dot")


def resolve_cell(name: Any, what: str) -> type[Cell]:
    """A cell class from ``"rnn"``, ``"gru"``, ``"lstm"`` or a registered class name."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a cell name (str), got {type(name).__name__}")
    cls = _SHORT_CELLS.get(name.lower()) or cell_class(name)
    if cls is None:
        raise ValueError(f"{what}: unknown cell {name!r}; use 'rnn', 'gru', 'lstm' or the "
                         "name of a cell registered with minirnn.nn.registry.register_cell")
    return cls


def _prediction(logits: np.ndarray) -> np.ndarray:
    """The most likely token of each row (B, V) -> (B,), never ``<pad>`` or ``<bos>``."""
    z = logits.copy()
    z[:, [PAD, BOS]] = -np.inf
    return np.argmax(z, axis=1)


@dataclass
class DecoderState:
    """What the decoder carries from one generated token to the next (inference).

    Attributes
    ----------
    cell_state : tuple of ndarray, each (B, size)
        The recurrent state (``(h,)``, or ``(h, c)`` for an LSTM cell).
    feed : ndarray (B, H) or None
        The previous attentional vector (input feeding); None without input feeding.
    memory : ndarray (B, S, M)
        The encoder outputs attended over (computed once per source).
    memory_lengths : ndarray of int (B,)
        Valid source steps; later ones are padding and get zero attention.
    attended : AttentionMemory
        The memory as the attention layer prepared it once per source
        (:meth:`~minirnn.nn.layers.attention.StepAttention.prepare`: the mask and, for
        additive attention, the projected keys), so a step does only the query's work.
    """

    cell_state: State
    feed: np.ndarray | None
    memory: np.ndarray
    memory_lengths: np.ndarray
    attended: AttentionMemory

    def select(self, rows: np.ndarray) -> DecoderState:
        """The state of the rows ``rows`` (B',): beam search's reordering of hypotheses."""
        return DecoderState(tuple(s[rows] for s in self.cell_state),
                            None if self.feed is None else self.feed[rows],
                            self.memory[rows], self.memory_lengths[rows],
                            self.attended.select(rows))


@register_layer
class AttentionDecoder(Layer):
    """Token embedding -> recurrent cell -> attention -> attentional vector -> logits.

    Parameters
    ----------
    vocab_size : int
        V, target tokens (ids in [0, V); :data:`~minirnn.nn.seq2seq.vocab.PAD` = 0 has a
        zero embedding that gets no gradient).
    embedding_dim : int
        E, features per target token.
    hidden_size : int
        H, features of the cell's state and of the attentional vector.
    memory_size : int
        M, features of each encoder output (``2 * H_enc`` for a bidirectional encoder).
    cell : str
        ``"rnn"``, ``"gru"``, ``"lstm"`` or the class name of a registered
        :class:`~minirnn.Cell` (a custom cell).
    attention : {"additive", "general", "dot"}
        The score of a (decoder state, encoder output) pair:
        :class:`~minirnn.nn.layers.attention.AdditiveAttention` (Bahdanau's score,
        OpenNMT's "mlp"), :class:`~minirnn.nn.layers.attention.GeneralAttention` or
        :class:`~minirnn.nn.layers.attention.DotAttention` (Luong's; dot needs M == H).
    attention_dim : int, optional
        A, the additive attention's hidden size (default H).
    input_feeding : bool
        Luong's input feeding: the previous step's attentional vector is concatenated to
        the token embedding as the cell's input (cell input size E + H), else the cell
        reads the embedding alone (E).
    teacher_forcing : float in [0, 1]
        In training (``training=True``), the probability of feeding the true previous
        token; otherwise (per token, drawn from the layer's seeded generator) the model's
        own argmax prediction is fed (scheduled sampling, Bengio et al. 2015; never
        ``<pad>`` or ``<bos>``). No gradient flows through the argmax. Evaluation always
        feeds the true tokens.
    dropout : float in [0, 1)
        In training, inverted dropout on the attentional vector ``a_t`` (what the output
        layer and the next step's input feeding read; OpenNMT's decoder dropout), a fresh
        mask per step. 0 (the default): none.
    cell_kwargs : dict, optional
        Extra keyword arguments of the cell class (e.g. ``{"reset_after": False}``).
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        Seeds the weights, the scheduled-sampling draws and the dropout masks.

    Notes
    -----
    Step t (Luong et al. 2015, "global attention"), with ``y_t`` the fed token::

        x_t   = [emb(y_t) ; a_{t-1}]                    (input feeding; a_{-1} = 0)
        s_t   = cell(x_t, s_{t-1})                      h_t = s_t[0]      (N, H)
        c_t, w_t = attention(h_t, memory, memory_lengths)   (N, M), (N, S)
        a_t   = tanh(combine.weight @ [c_t ; h_t] + combine.bias)          (N, H)
        logits_t = out.weight @ a_t + out.bias                              (N, V)

    Sub-layers and parameters: ``embedding.weight`` (V, E), ``cell.*`` (the cell's own,
    e.g. ``cell.weight_ih`` (G*H, E [+ H])), ``attention.*``, ``combine.weight``
    (H, M + H), ``combine.bias``, ``out.weight`` (V, H), ``out.bias``.
    The cell runs through its contract (``project_input``, ``project_hidden``, ``step``,
    ``step_backward``, ``hidden_input_grad``, ``project_hidden_backward``), so any cell
    works unchanged. Backward adds ``dW_hh`` (and ``dW_ih`` without input feeding) as one
    matrix product over all steps after the loop.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        memory_size: int,
        cell: str = "gru",
        attention: str = "general",
        attention_dim: int | None = None,
        input_feeding: bool = True,
        teacher_forcing: float = 1.0,
        *,
        dropout: float = 0.0,
        cell_kwargs: dict[str, Any] | None = None,
        dtype: Any = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size = check_positive_int(vocab_size, "vocab_size")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = check_positive_int(hidden_size, "hidden_size")
        self.memory_size = check_positive_int(memory_size, "memory_size")
        self.cell_name = cell
        cls = resolve_cell(cell, "cell")
        if attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {list(ATTENTIONS)}, got {attention!r}")
        self.attention_kind = attention
        self.attention_dim = (self.hidden_size if attention_dim is None
                              else check_positive_int(attention_dim, "attention_dim"))
        self.input_feeding = check_bool(input_feeding, "input_feeding")
        self.teacher_forcing = teacher_forcing
        self.dropout = check_probability(dropout, "dropout")
        self.cell_kwargs = dict(cell_kwargs or {})
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        self._rng = np.random.default_rng(rng.integers(2**63))
        self.embedding = Embedding(self.vocab_size, self.embedding_dim, padding_idx=PAD,
                                   dtype=dt, seed=rng)
        self.add_layer("embedding", self.embedding)
        feed = self.hidden_size if self.input_feeding else 0
        self.cell: Cell = cls(self.embedding_dim + feed, self.hidden_size, dtype=dt, rng=rng,
                              **self.cell_kwargs)
        query = self.cell.output_size
        self.attention: StepAttention
        if attention == "additive":
            self.attention = AdditiveAttention(query, self.memory_size, self.attention_dim,
                                               dtype=dt, seed=rng)
        elif attention == "general":
            self.attention = GeneralAttention(query, self.memory_size, dtype=dt, seed=rng)
        else:
            if query != self.memory_size:
                raise ValueError(f"attention='dot' needs the decoder state ({query} features) "
                                 f"and the memory ({self.memory_size}) to be equal in size; "
                                 "use 'general' or 'additive'")
            self.attention = DotAttention()
        self.add_layer("attention", self.attention)
        self.combine = Dense(self.memory_size + query, self.hidden_size, dtype=dt, seed=rng)
        self.add_layer("combine", self.combine)
        self.out = Dense(self.hidden_size, self.vocab_size, dtype=dt, seed=rng)
        self.add_layer("out", self.out)
        self._cache: Any = None
        #: The tokens fed at each step of the last forward (N, T) (the model's own where
        #: scheduled sampling replaced the true one).
        self.fed_tokens: np.ndarray | None = None
        #: Attention weights of the last forward (N, T, S).
        self.attention_weights: np.ndarray | None = None
        #: The cell's state after the last forward's final step (N, size) per entry.
        self.final_state: State | None = None
        #: dL/d(initial_state) of the last backward, one (N, size) array per state entry.
        self.initial_state_grad: State | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    @property
    def teacher_forcing(self) -> float:
        """The probability of feeding the true previous token in training (settable, e.g.
        by a schedule between epochs)."""
        return self._teacher_forcing

    @teacher_forcing.setter
    def teacher_forcing(self, value: float) -> None:
        self._teacher_forcing = check_probability(value, "teacher_forcing", allow_one=True)

    def _children(self) -> dict[str, ParameterOwner]:
        children: dict[str, ParameterOwner] = dict(self._layers)
        if "cell" in self.__dict__:
            items = list(children.items())
            items.insert(1, ("cell", self.cell))
            children = dict(items)
        return children

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.cell.state_names

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return self.cell.state_sizes

    # ------------------------------------------------------------------ checks
    def check_memory(self, memory: Any, memory_lengths: Any) -> tuple[np.ndarray, np.ndarray]:
        """Check ``memory`` (N, S, M) in the layer's dtype and ``memory_lengths`` (N,)."""
        if not isinstance(memory, np.ndarray) or memory.ndim != 3 \
                or memory.shape[2] != self.memory_size or memory.size == 0:
            raise ValueError(f"memory must be an array (N, S, M={self.memory_size}), got "
                             f"{getattr(memory, 'shape', type(memory).__name__)}")
        if memory.dtype != self.dtype:
            raise TypeError(f"memory must have dtype {self.dtype} (the model's), got "
                            f"{memory.dtype}")
        if not np.isfinite(memory).all():
            raise ValueError("memory contains NaN or Inf")
        lengths = check_lengths(memory_lengths, memory.shape[0], memory.shape[1],
                                "memory_lengths").astype(np.intp)
        return memory, lengths

    def _initial(self, initial_state: Any, n: int) -> State:
        if initial_state is None:
            return self.cell.initial_state(n)
        return check_state(initial_state, self.state_names,
                           [(n, size) for size in self.state_sizes], self.dtype,
                           "initial_state", "(N, size)")

    # -------------------------------------------------------------- one step
    def _step(self, ids: np.ndarray, state: State, feed: np.ndarray | None,
              attended: AttentionMemory
              ) -> tuple[State, np.ndarray, np.ndarray, tuple[Any, ...]]:
        """One step: ids (B,) -> (new state, attentional vector (B, H), weights (B, S),
        cache). The one home of the step math (training and decoding)."""
        e = self.embedding.weight.data[ids]
        x = e if feed is None else np.concatenate([e, feed], axis=1)
        cell = self.cell
        with np.errstate(over="ignore"):
            new_state, cell_cache = cell.step(cell.project_input(x),
                                              cell.project_hidden(state[0]), state)
        h = new_state[0]
        context, weights, att_cache = self.attention.step(h, attended)
        joined = np.concatenate([context, h], axis=1)
        a = joined @ self.combine.weight.data.T
        if self.combine.bias is not None:
            a += self.combine.bias.data
        np.tanh(a, out=a)
        return new_state, a, weights, (x, state[0], cell_cache, att_cache, joined)

    def _logits(self, a: np.ndarray) -> np.ndarray:
        # one 2-D product: a stacked (N, T, H) @ (H, V) ran 2-3x slower in numpy
        y = a.reshape(-1, a.shape[-1]) @ self.out.weight.data.T
        if self.out.bias is not None:
            y += self.out.bias.data
        return y.reshape(*a.shape[:-1], self.vocab_size)

    # ------------------------------------------------------------ inference
    def start(self, memory: np.ndarray, memory_lengths: np.ndarray,
              initial_state: State | None = None) -> DecoderState:
        """The state before the first token: ``initial_state`` (zeros if None), a zero
        input-feed vector, the memory to attend over."""
        memory, lengths = self.check_memory(memory, memory_lengths)
        n = memory.shape[0]
        feed = np.zeros((n, self.hidden_size), self.dtype) if self.input_feeding else None
        return DecoderState(self._initial(initial_state, n), feed, memory, lengths,
                            self.attention.prepare(memory, key_lengths=lengths))

    def step(self, tokens: np.ndarray, state: DecoderState
             ) -> tuple[np.ndarray, np.ndarray, DecoderState]:
        """Advance every row by one token, keeping nothing for backward: O(1) in the prefix.

        Parameters
        ----------
        tokens : ndarray of int, shape (B,)
            The tokens fed (``BOS`` first, then the previous outputs).
        state : DecoderState
            From :meth:`start` or the previous :meth:`step`.

        Returns
        -------
        logits : ndarray, shape (B, V)
        weights : ndarray, shape (B, S)
            The attention weights of this step.
        state : DecoderState
            The new state (the given one is not modified).
        """
        ids = as_indices(tokens, self.vocab_size, "tokens")
        if ids.shape != (state.memory.shape[0],):
            raise ValueError(f"tokens: expected shape ({state.memory.shape[0]},), got "
                             f"{ids.shape}")
        with no_grad(), self.cell.sequence():
            new_state, a, weights, _ = self._step(ids, state.cell_state, state.feed,
                                                  state.attended)
        return self._logits(a), weights, DecoderState(
            new_state, a if self.input_feeding else None, state.memory, state.memory_lengths,
            state.attended)

    # ------------------------------------------------------------- training
    def forward(  # type: ignore[override]
        self,
        tgt_in: np.ndarray,
        *,
        memory: np.ndarray,
        memory_lengths: np.ndarray,
        tgt_lengths: np.ndarray | None = None,
        initial_state: State | None = None,
        training: bool = False,
        teacher_forcing: float | None = None,
    ) -> np.ndarray:
        """Run every target step (teacher forcing, possibly scheduled).

        Parameters
        ----------
        tgt_in : ndarray of int, shape (N, T)
            Decoder inputs ``[BOS, y_1, ..., y_n]``, padded with PAD.
        memory : ndarray, shape (N, S, M)
            Encoder outputs (0 at padded steps).
        memory_lengths : ndarray of int, shape (N,)
            Valid source steps, in [1, S].
        tgt_lengths : ndarray of int, shape (N,), optional
            Valid target steps, in [1, T] (default: all T).
        initial_state : tuple of ndarray, each (N, size), optional
            The cell's initial state (zeros if None).
        training : bool
            Use the teacher-forcing ratio; False feeds the true tokens always.
        teacher_forcing : float in [0, 1], optional
            Overrides :attr:`teacher_forcing` for this call (training only).

        Returns
        -------
        ndarray, shape (N, T, V)
            Logits; 0 at padded target steps (which get no gradient).
        """
        tokens = as_indices(tgt_in, self.vocab_size, "tgt_in")
        if tokens.ndim != 2:
            raise ValueError(f"tgt_in must have shape (N, T), got {tokens.shape}")
        memory, lengths = self.check_memory(memory, memory_lengths)
        N, T = tokens.shape
        if memory.shape[0] != N:
            raise ValueError(f"memory has batch size {memory.shape[0]}, tgt_in {N}")
        steps = (np.full(N, T, np.intp) if tgt_lengths is None
                 else check_lengths(tgt_lengths, N, T, "tgt_lengths").astype(np.intp))
        ratio = self.teacher_forcing if teacher_forcing is None else check_probability(
            teacher_forcing, "teacher_forcing", allow_one=True)
        state = self._initial(initial_state, N)
        valid = np.arange(T)[None, :] < steps[:, None]
        sample = training and ratio < 1.0
        drop = self.dropout if training else 0.0
        keep = grad_enabled()
        self._cache = None
        fed = tokens.copy()
        H = self.hidden_size
        A = np.empty((N, T, H), self.dtype)
        W = np.empty((N, T, memory.shape[1]), self.dtype)
        logits = np.empty((N, T, self.vocab_size), self.dtype) if sample else None
        # with dropout, A holds the dropped vectors (what the output layer and the input
        # feed read) and A_raw the tanh outputs (for its derivative)
        A_raw = np.empty((N, T, H), self.dtype) if drop else A
        masks = np.empty((N, T, H), self.dtype) if drop else None
        scale = self.dtype.type(1.0 / (1.0 - drop)) if drop else None
        feed = np.zeros((N, H), self.dtype) if self.input_feeding else None
        attended = self.attention.prepare(memory, key_lengths=lengths)
        caches = []
        with self.cell.sequence() as prepared:
            for t in range(T):
                if sample and t > 0:
                    assert logits is not None
                    own = self._rng.random(N) >= ratio
                    fed[own, t] = _prediction(logits[own, t - 1])
                state, a, weights, cache = self._step(fed[:, t], state, feed, attended)
                if masks is not None:
                    A_raw[:, t] = a
                    m = (self._rng.random((N, H)) >= drop).astype(self.dtype) * scale
                    masks[:, t] = m
                    a = a * m
                A[:, t] = a
                W[:, t] = weights
                if logits is not None:
                    logits[:, t] = self._logits(a)
                if self.input_feeding:
                    feed = a
                if keep:
                    caches.append(cache)
        if logits is None:
            logits = self._logits(A)
        logits[~valid] = 0.0
        W[~valid] = 0.0
        self.fed_tokens = fed
        self.attention_weights = W
        self.final_state = state
        if keep:
            self._cache = (caches, prepared, fed, A, valid, attended, A_raw, masks)
        return logits

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """dL/dlogits (N, T, V) -> dL/dmemory (N, S, M); adds every parameter's gradient.

        dL/d(initial_state) is left in :attr:`initial_state_grad`.
        """
        if self._cache is None:
            raise RuntimeError("AttentionDecoder.backward called before forward (or after "
                               "a forward under no_grad)")
        caches, prepared, fed, A, valid, attended, A_raw, masks = self._cache
        N, T, H = A.shape
        V, E = self.vocab_size, self.embedding_dim
        if not isinstance(dlogits, np.ndarray) or dlogits.shape != (N, T, V):
            raise ValueError(f"dlogits: expected shape {(N, T, V)}, got "
                             f"{getattr(dlogits, 'shape', type(dlogits).__name__)}")
        dl = dlogits.astype(self.dtype, copy=False)
        if not valid.all() and np.any(dl[~valid]):
            # padded steps get no gradient; zero them in a copy (the rows alone are
            # tested: an (N, T, V) np.where cost as much as a product at V in thousands)
            dl = dl.copy()
            dl[~valid] = 0.0
        self.out.weight.grad += dl.reshape(-1, V).T @ A.reshape(-1, H)
        if self.out.bias is not None:
            self.out.bias.grad += dl.sum(axis=(0, 1))
        dA = (dl.reshape(-1, V) @ self.out.weight.data).reshape(N, T, H)
        M = self.memory_size
        query = self.cell.output_size
        attention = self.attention
        memory_grad = attention.memory_grad(attended)
        d_pre = np.empty((N, T, H), self.dtype)
        joined_all = np.empty((N, T, M + query), self.dtype)
        d_emb = np.empty((N, T, E), self.dtype)
        dxps: list[np.ndarray] = []
        xs: list[np.ndarray] = []
        dhps: list[np.ndarray] = []
        h_prevs: list[np.ndarray] = []
        d_feed: np.ndarray | None = None
        d_next: tuple[np.ndarray | None, ...] = (None,) * len(self.state_names)
        cell = self.cell
        Wc = self.combine.weight.data
        with cell.sequence(prepared, backward=True):
            for t in range(T - 1, -1, -1):
                x, h_prev, cell_cache, att_cache, joined = caches[t]
                da = dA[:, t] if d_feed is None else dA[:, t] + d_feed
                if masks is not None:
                    da = da * masks[:, t]
                a = A_raw[:, t]
                dp = da * (1.0 - a * a)
                d_pre[:, t] = dp
                joined_all[:, t] = joined
                d_joined = dp @ Wc
                d_query = attention.step_backward(d_joined[:, :M], att_cache, attended,
                                                  memory_grad)
                dh = d_joined[:, M:] + d_query
                if d_next[0] is not None:
                    dh += d_next[0]
                dstate = (dh, *(np.zeros((N, size), self.dtype) if d is None else d
                                for d, size in zip(d_next[1:], self.state_sizes[1:],
                                                   strict=True)))
                dxp, dhp, partial = cell.step_backward(dstate, cell_cache)
                dhps.append(dhp)
                h_prevs.append(h_prev)
                if self.input_feeding:
                    dx = cell.project_input_backward(dxp, x)
                    d_emb[:, t] = dx[:, :E]
                    d_feed = dx[:, E:]
                else:
                    dxps.append(dxp)
                    xs.append(x)
                dh_prev = cell.hidden_input_grad(dhp)
                if partial[0] is not None:
                    dh_prev += partial[0]
                d_next = (dh_prev, *partial[1:])
            cell.project_hidden_backward(np.concatenate(dhps), np.concatenate(h_prevs))
            if not self.input_feeding:
                # steps were appended last first: reverse to (T, N, ...) order
                dx_all = cell.project_input_backward(np.concatenate(dxps[::-1]),
                                                     np.concatenate(xs[::-1]))
                d_emb = dx_all.reshape(T, N, E).transpose(1, 0, 2)
        # the keys' projection and the values' gradient: once, not once per step
        d_memory, _ = attention.prepare_backward(attended, memory_grad)
        self.combine.weight.grad += (d_pre.reshape(-1, H).T
                                     @ joined_all.reshape(-1, M + query))
        if self.combine.bias is not None:
            self.combine.bias.grad += d_pre.sum(axis=(0, 1))
        ids = fed.reshape(-1)
        rows = d_emb.reshape(-1, E)
        keep = ids != PAD
        if keep.any():
            scatter_rows(ids[keep], rows[keep], self.embedding.weight.grad)
        self.initial_state_grad = tuple(
            np.zeros((N, size), self.dtype) if d is None else d
            for d, size in zip(d_next, self.state_sizes, strict=True))
        return d_memory

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "memory_size": self.memory_size,
                "cell": self.cell_name, "attention": self.attention_kind,
                "attention_dim": self.attention_dim, "input_feeding": self.input_feeding,
                "teacher_forcing": self.teacher_forcing, "dropout": self.dropout,
                "cell_kwargs": dict(self.cell_kwargs),
                "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"AttentionDecoder(vocab_size={self.vocab_size}, cell={self.cell_name!r}, "
                f"hidden_size={self.hidden_size}, attention={self.attention_kind!r}, "
                f"input_feeding={self.input_feeding})")

