"""Attention layers (issue 28): additive (Bahdanau), dot and general (Luong), scaled
dot-product and multi-head (PyTorch's ``nn.MultiheadAttention``), each with a hand-written
backward and returning its attention weights.

Every layer follows the multi-input contract of :mod:`minirnn.nn.layers.attention_base`::

    output, weights = layer(query, key, value, ..., training=False)
    d_query, d_key, d_value = layer.backward(d_output, d_weights=None)

Shape letters: N batch, L target (query) length, S source (key) length, E features.
The additive/dot/general/scaled layers are batch first, as the rest of minirnn;
:class:`MultiheadAttention` follows PyTorch (``batch_first=False`` by default). See
``docs/attention.md`` for the equations, masks and the fully-masked-row behaviour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.nn import init as initializers
from minirnn.nn._validation import (
    check_bool,
    check_float_dtype,
    check_positive_float,
    check_positive_int,
    check_probability,
)
from minirnn.nn.layers.attention_base import AttentionLayer, check_grad, check_input, key_mask
from minirnn.nn.layers.attention_functional import (
    AttentionCache,
    SoftmaxCache,
    masked_softmax,
    masked_softmax_backward,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from minirnn.nn.layers.attention_multihead import MultiheadAttention
from minirnn.nn.layers.base import grad_enabled

__all__ = ["AdditiveAttention", "AttentionMemory", "AttentionStep", "DotAttention",
           "GeneralAttention", "MemoryGrad", "MultiheadAttention", "ScaledDotProductAttention",
           "StepAttention"]


@dataclass
class _Inputs:
    """The checked inputs of a batch-first attention layer."""

    query: np.ndarray  # (N, L, Eq); a 2-D query got L = 1
    key: np.ndarray  # (N, S, Ek)
    value: np.ndarray  # (N, S, Ev)
    mask: np.ndarray | None  # additive, (N, 1, S)
    one_step: bool  # the query was 2-D (N, Eq)
    value_is_key: bool  # value was omitted


def _prepare(query: Any, key: Any, value: Any, key_padding_mask: Any, key_lengths: Any,
             dtype: np.dtype | None, query_dim: int | None, key_dim: int | None) -> _Inputs:
    """Check the inputs of a batch-first attention layer before anything changes."""
    check_input(query, "query", ndim=(2, 3), dtype=dtype, last_dim=query_dim)
    dt = query.dtype
    check_input(key, "key", ndim=(3,), dtype=dt, last_dim=key_dim)
    value_is_key = value is None
    if value_is_key:
        value = key
    else:
        check_input(value, "value", ndim=(3,), dtype=dt)
    N, S = key.shape[0], key.shape[1]
    if query.shape[0] != N:
        raise ValueError(f"query: expected batch size N={N} (that of key), got shape "
                         f"{query.shape}")
    if value.shape[:2] != (N, S):
        raise ValueError(f"value: expected shape ({N}, {S}, Ev) (N and S of key), got "
                         f"{value.shape}")
    mask = key_mask(key_padding_mask, key_lengths, N, S, dt)
    one_step = query.ndim == 2
    q3 = query[:, None, :] if one_step else query
    return _Inputs(q3, key, value, mask, one_step, value_is_key)


@dataclass
class AttentionMemory:
    """Keys and values prepared once per source by :meth:`StepAttention.prepare`, read by
    every :meth:`StepAttention.step` (a decoder's per-token attention).

    Attributes
    ----------
    key : ndarray (N, S, Ek)
    value : ndarray (N, S, Ev)
        ``key`` itself when no value was given.
    projected : ndarray (N, S, P)
        The keys as the score reads them: ``key @ weight_k.T`` (additive, P = A) or the
        keys themselves (dot, general: P = Ek).
    mask : ndarray (N, S) or None
        Additive mask (0 or ``-inf``/the given float values).
    value_is_key : bool
    """

    key: np.ndarray
    value: np.ndarray
    projected: np.ndarray
    mask: np.ndarray | None
    value_is_key: bool

    def select(self, rows: np.ndarray) -> AttentionMemory:
        """The memory of the rows ``rows`` (B',), e.g. beam search's hypotheses."""
        key = self.key[rows]
        return AttentionMemory(key, key if self.value_is_key else self.value[rows],
                               self.projected[rows],
                               None if self.mask is None else self.mask[rows],
                               self.value_is_key)


@dataclass
class AttentionStep:
    """What :meth:`StepAttention.step_backward` needs of one step (its explicit cache).

    ``query`` (N, Eq); ``scored`` the score function's intermediate (additive: the tanh
    activations (N, S, A); dot/general: the projected query (N, Ek)); ``weights`` (N, S);
    ``softmax`` the softmax cache."""

    query: np.ndarray
    scored: np.ndarray
    weights: np.ndarray
    softmax: SoftmaxCache


@dataclass
class MemoryGrad:
    """Gradients of an :class:`AttentionMemory` accumulated over steps: ``projected``
    (N, S, P) and ``value`` (N, S, Ev); :meth:`StepAttention.prepare_backward` turns them
    into dL/dkey and dL/dvalue once."""

    projected: np.ndarray
    value: np.ndarray


class StepAttention(AttentionLayer):
    """The batch-first attention layers (additive, dot, general): whole-sequence
    ``forward``/``backward``, and a step API for decoders that attend one query at a time.

    The step API does the work that depends on the keys alone once per source (checks,
    the mask, the additive key projection ``key @ weight_k.T``), so each generated token
    costs only the query's side (O(S) in the source, O(1) in the prefix)::

        memory = layer.prepare(key, value, key_lengths=lengths)    # once per source
        context, weights, cache = layer.step(query_t, memory)      # (N, Ev), (N, S)
        grad = layer.memory_grad(memory)                           # backward, zeros
        d_query_t = layer.step_backward(d_context_t, cache, memory, grad)   # each step
        d_key, d_value = layer.prepare_backward(memory, grad)      # once, after the loop

    Parameter gradients are added to ``.grad`` as by ``backward``. A step equals the
    whole-sequence forward of that one query (same equations, float rounding aside).
    """

    #: (query features, key features) when the layer fixes them (checked by the step API)
    _dims: tuple[int | None, int | None] = (None, None)

    # ---- hooks of the score function
    def _project_keys(self, key: np.ndarray) -> np.ndarray:
        return key

    def _project_keys_backward(self, key: np.ndarray, d_projected: np.ndarray) -> np.ndarray:
        return d_projected

    def _step_scores(self, query: np.ndarray, memory: AttentionMemory
                     ) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _step_scores_backward(self, d_scores: np.ndarray, cache: AttentionStep,
                              memory: AttentionMemory, grad: MemoryGrad) -> np.ndarray:
        raise NotImplementedError

    # ---- the step API
    def prepare(self, key: np.ndarray, value: np.ndarray | None = None,
                key_padding_mask: np.ndarray | None = None, *,
                key_lengths: np.ndarray | None = None) -> AttentionMemory:
        """Check and prepare the keys and values of one batch of sources.

        Parameters
        ----------
        key : ndarray, shape (N, S, Ek)
        value : ndarray, shape (N, S, Ev), optional
            Defaults to ``key``.
        key_padding_mask, key_lengths
            As in :meth:`forward`.

        Returns
        -------
        AttentionMemory
        """
        dtype = self.dtype if self.parameters() else None
        check_input(key, "key", ndim=(3,), dtype=dtype, last_dim=self._dims[1])
        value_is_key = value is None
        if value is None:
            value = key
        else:
            check_input(value, "value", ndim=(3,), dtype=key.dtype)
            if value.shape[:2] != key.shape[:2]:
                raise ValueError(f"value: expected shape ({key.shape[0]}, {key.shape[1]}, "
                                 f"Ev) (N and S of key), got {value.shape}")
        N, S = key.shape[:2]
        mask = key_mask(key_padding_mask, key_lengths, N, S, key.dtype)
        return AttentionMemory(key, value, self._project_keys(key),
                               None if mask is None else mask[:, 0, :], value_is_key)

    def step(self, query: np.ndarray, memory: AttentionMemory
             ) -> tuple[np.ndarray, np.ndarray, AttentionStep]:
        """Attend from one query per sequence to a prepared memory.

        Parameters
        ----------
        query : ndarray, shape (N, Eq)
        memory : AttentionMemory
            From :meth:`prepare`.

        Returns
        -------
        context : ndarray, shape (N, Ev)
        weights : ndarray, shape (N, S)
            Zero at padded keys (a fully padded row: all zeros and a zero context).
        cache : AttentionStep
            For :meth:`step_backward` (nothing is kept on the layer).
        """
        check_input(query, "query", ndim=(2,), dtype=memory.key.dtype,
                    last_dim=self._dims[0])
        if query.shape[0] != memory.key.shape[0]:
            raise ValueError(f"query: expected batch size N={memory.key.shape[0]} (that "
                             f"of the memory), got shape {query.shape}")
        scores, scored = self._step_scores(query, memory)
        if memory.mask is not None:
            scores += memory.mask
        weights, sm = masked_softmax(scores)
        context = np.matmul(weights[:, None, :], memory.value)[:, 0]
        return context, weights, AttentionStep(query, scored, weights, sm)

    def memory_grad(self, memory: AttentionMemory) -> MemoryGrad:
        """Zero gradients of ``memory``, for :meth:`step_backward` to add into."""
        return MemoryGrad(np.zeros_like(memory.projected), np.zeros_like(memory.value))

    def step_backward(self, d_context: np.ndarray, cache: AttentionStep,
                      memory: AttentionMemory, grad: MemoryGrad,
                      d_weights: np.ndarray | None = None) -> np.ndarray:
        """dL/d(context) (N, Ev) of one step -> dL/d(query) (N, Eq).

        Adds the query side's parameter gradients, and the memory's into ``grad``.
        ``d_weights`` (N, S) is dL/d(weights) when the loss reads the weights too.
        """
        N, S = cache.weights.shape
        dt = memory.key.dtype
        d_ctx = check_grad(d_context, "d_context", (N, memory.value.shape[2]), dt)
        grad.value += cache.weights[:, :, None] * d_ctx[:, None, :]
        dw = np.matmul(memory.value, d_ctx[:, :, None])[:, :, 0]
        if d_weights is not None:
            dw += check_grad(d_weights, "d_weights", (N, S), dt)
        d_scores = masked_softmax_backward(dw, cache.softmax)
        return self._step_scores_backward(d_scores, cache, memory, grad)

    def prepare_backward(self, memory: AttentionMemory, grad: MemoryGrad
                         ) -> tuple[np.ndarray, np.ndarray | None]:
        """The summed step gradients -> ``(d_key, d_value)`` (N, S, Ek), (N, S, Ev);
        ``d_value`` is None (and included in ``d_key``) when the value was the key.
        Adds the key projection's parameter gradient."""
        d_key = self._project_keys_backward(memory.key, grad.projected)
        if memory.value_is_key:
            return d_key + grad.value, None
        return d_key, grad.value


class _BatchFirstAttention(StepAttention):
    """Shared backward plumbing of the additive, dot and general layers."""

    def _check_upstream(self, d_output: Any, d_weights: Any, inputs: _Inputs,
                        weights_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray | None]:
        dt = inputs.query.dtype
        N, L = inputs.query.shape[:2]
        Ev = inputs.value.shape[2]
        out_shape = (N, Ev) if inputs.one_step else (N, L, Ev)
        d_out = check_grad(d_output, "d_output", out_shape, dt)
        d_w = None
        if d_weights is not None:
            w_shape = (N, weights_shape[2]) if inputs.one_step else weights_shape
            d_w = check_grad(d_weights, "d_weights", w_shape, dt)
            if inputs.one_step:
                d_w = d_w[:, None, :]
        if inputs.one_step:
            d_out = d_out[:, None, :]
        return d_out, d_w

    @staticmethod
    def _outputs(inputs: _Inputs, output: np.ndarray,
                 weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if inputs.one_step:
            return output[:, 0], weights[:, 0]
        return output, weights

    @staticmethod
    def _input_grads(inputs: _Inputs, d_query: np.ndarray, d_key: np.ndarray,
                     d_value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if inputs.one_step:
            d_query = d_query[:, 0]
        if inputs.value_is_key:
            return d_query, d_key + d_value, None
        return d_query, d_key, d_value


_FORWARD_DOC = """
        Parameters
        ----------
        query : ndarray, shape (N, L, Eq), or (N, Eq) for one decoder step
        key : ndarray, shape (N, S, Ek)
        value : ndarray, shape (N, S, Ev), optional
            Defaults to ``key`` (attending over encoder outputs); ``backward`` then
            returns ``d_key`` holding both gradients and ``d_value = None``.
        key_padding_mask : ndarray (N, S), optional
            Bool: True = padding, never attended (PyTorch's ``key_padding_mask``); float:
            added to the scores.
        key_lengths : ndarray of int (N,), optional
            Keys ``j >= key_lengths[n]`` are padding (0 <= length <= S).
        training : bool
            Unused (no dropout); for the layer contract.

        Returns
        -------
        context : ndarray, shape (N, L, Ev), or (N, Ev)
        weights : ndarray, shape (N, L, S), or (N, S)
            Rows sum to 1; padded keys have weight exactly 0; a row with every key padded
            has zero weights and a zero context.
"""


class AdditiveAttention(_BatchFirstAttention):
    """Additive attention (Bahdanau, Cho & Bengio 2015).

    Parameters
    ----------
    query_dim : int
        Eq, features of a query (the decoder state).
    key_dim : int
        Ek, features of a key (an encoder output).
    attention_dim : int
        A, size of the hidden layer that scores a (query, key) pair.
    bias : bool
        Learn ``bias`` (A,) inside the tanh.
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        ``weight_q``, ``weight_k`` and ``bias`` ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        (PyTorch's Linear default); ``weight_v`` ~ U(-1/sqrt(A), 1/sqrt(A)).

    Notes
    -----
    ``score[n, l, s] = weight_v . tanh(weight_q @ q[n, l] + weight_k @ k[n, s] + bias)``,
    ``weights = softmax_s(score + mask)``, ``context = weights @ value``.
    Parameters: ``weight_q`` (A, Eq), ``weight_k`` (A, Ek), ``bias`` (A,), ``weight_v`` (A,).
    Forward keeps the (N, L, S, A) tanh activations for backward.
    """

    def __init__(self, query_dim: int, key_dim: int, attention_dim: int, bias: bool = True,
                 *, dtype: Any = np.float64,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.query_dim = check_positive_int(query_dim, "query_dim")
        self.key_dim = check_positive_int(key_dim, "key_dim")
        self._dims = (self.query_dim, self.key_dim)
        self.attention_dim = check_positive_int(attention_dim, "attention_dim")
        use_bias = check_bool(bias, "bias")
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        A = self.attention_dim
        self.weight_q = self.add_parameter("weight_q", np.empty((A, self.query_dim), dt))
        initializers.uniform_fan_in(self.weight_q.data, self.query_dim, rng)
        self.weight_k = self.add_parameter("weight_k", np.empty((A, self.key_dim), dt))
        initializers.uniform_fan_in(self.weight_k.data, self.key_dim, rng)
        self.bias = None
        if use_bias:
            self.bias = self.add_parameter("bias", np.empty(A, dt))
            initializers.uniform_fan_in(self.bias.data, self.query_dim, rng)
        self.weight_v = self.add_parameter("weight_v", np.empty(A, dt))
        initializers.uniform_fan_in(self.weight_v.data, A, rng)
        self._cache: tuple[_Inputs, np.ndarray, SoftmaxCache, np.ndarray] | None = None

    def forward(self, query: np.ndarray, key: np.ndarray,  # type: ignore[override]
                value: np.ndarray | None = None, key_padding_mask: np.ndarray | None = None,
                *, key_lengths: np.ndarray | None = None,
                training: bool = False) -> tuple[np.ndarray, np.ndarray]:
        inputs = _prepare(query, key, value, key_padding_mask, key_lengths, self.dtype,
                          self.query_dim, self.key_dim)
        pq = inputs.query @ self.weight_q.data.T  # (N, L, A)
        if self.bias is not None:
            pq = pq + self.bias.data
        pk = inputs.key @ self.weight_k.data.T  # (N, S, A)
        hidden = np.tanh(pq[:, :, None, :] + pk[:, None, :, :])  # (N, L, S, A)
        scores = hidden @ self.weight_v.data
        if inputs.mask is not None:
            scores += inputs.mask
        weights, sm = masked_softmax(scores)
        output = weights @ inputs.value
        self._cache = (inputs, hidden, sm, weights) if grad_enabled() else None
        return self._outputs(inputs, output, weights)

    forward.__doc__ = "Attend from each query to the keys." + _FORWARD_DOC

    def _project_keys(self, key: np.ndarray) -> np.ndarray:
        return key @ self.weight_k.data.T  # (N, S, A), once per source

    def _project_keys_backward(self, key: np.ndarray, d_projected: np.ndarray) -> np.ndarray:
        A = self.attention_dim
        self.weight_k.grad += d_projected.reshape(-1, A).T @ key.reshape(-1, self.key_dim)
        return d_projected @ self.weight_k.data

    def _step_scores(self, query: np.ndarray, memory: AttentionMemory
                     ) -> tuple[np.ndarray, np.ndarray]:
        pq = query @ self.weight_q.data.T  # (N, A)
        if self.bias is not None:
            pq = pq + self.bias.data
        hidden = np.tanh(pq[:, None, :] + memory.projected)  # (N, S, A)
        return hidden @ self.weight_v.data, hidden

    def _step_scores_backward(self, d_scores: np.ndarray, cache: AttentionStep,
                              memory: AttentionMemory, grad: MemoryGrad) -> np.ndarray:
        hidden, A = cache.scored, self.attention_dim
        self.weight_v.grad += d_scores.reshape(-1) @ hidden.reshape(-1, A)
        d_pre = d_scores[..., None] * self.weight_v.data * (1.0 - hidden * hidden)
        grad.projected += d_pre
        d_pq = d_pre.sum(axis=1)  # (N, A)
        self.weight_q.grad += d_pq.T @ cache.query
        if self.bias is not None:
            self.bias.grad += d_pq.sum(axis=0)
        return d_pq @ self.weight_q.data

    def backward(self, d_output: np.ndarray,  # type: ignore[override]
                 d_weights: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Accumulate the parameter gradients; return (d_query, d_key, d_value)."""
        inputs, hidden, sm, weights = self._require_cache(self._cache)
        d_out, d_w = self._check_upstream(d_output, d_weights, inputs, weights.shape)
        d_value = np.swapaxes(weights, 1, 2) @ d_out
        dw = d_out @ np.swapaxes(inputs.value, 1, 2)
        if d_w is not None:
            dw += d_w
        d_scores = masked_softmax_backward(dw, sm)  # (N, L, S)
        A = self.attention_dim
        self.weight_v.grad += d_scores.reshape(-1) @ hidden.reshape(-1, A)
        d_pre = d_scores[..., None] * self.weight_v.data * (1.0 - hidden * hidden)
        d_pq = d_pre.sum(axis=2)  # (N, L, A)
        d_pk = d_pre.sum(axis=1)  # (N, S, A)
        self.weight_q.grad += d_pq.reshape(-1, A).T @ inputs.query.reshape(-1, self.query_dim)
        self.weight_k.grad += d_pk.reshape(-1, A).T @ inputs.key.reshape(-1, self.key_dim)
        if self.bias is not None:
            self.bias.grad += d_pq.sum(axis=(0, 1))
        return self._input_grads(inputs, d_pq @ self.weight_q.data,
                                 d_pk @ self.weight_k.data, d_value)

    def get_config(self) -> dict[str, Any]:
        return {"query_dim": self.query_dim, "key_dim": self.key_dim,
                "attention_dim": self.attention_dim, "bias": self.bias is not None,
                "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"AdditiveAttention(query_dim={self.query_dim}, key_dim={self.key_dim}, "
                f"attention_dim={self.attention_dim}, bias={self.bias is not None})")


class _LuongAttention(_BatchFirstAttention):
    """Dot and general: ``score = scale * (query projected) . key``."""

    scale: bool
    _cache: tuple[_Inputs, AttentionCache] | None

    def _project(self, query: np.ndarray) -> np.ndarray:
        return query

    def _project_backward(self, query: np.ndarray, d_projected: np.ndarray) -> np.ndarray:
        return d_projected

    def _factor(self, features: int) -> float:
        return 1.0 / math.sqrt(features) if self.scale else 1.0

    def _step_scores(self, query: np.ndarray, memory: AttentionMemory
                     ) -> tuple[np.ndarray, np.ndarray]:
        pq = self._project(query)  # (N, Ek)
        if pq.shape[1] != memory.key.shape[2]:
            raise ValueError(f"key: expected {pq.shape[1]} features (those of the query), "
                             f"got shape {memory.key.shape}")
        scores = np.matmul(memory.key, pq[:, :, None])[:, :, 0]
        factor = self._factor(memory.key.shape[2])
        if factor != 1.0:
            scores *= factor
        return scores, pq

    def _step_scores_backward(self, d_scores: np.ndarray, cache: AttentionStep,
                              memory: AttentionMemory, grad: MemoryGrad) -> np.ndarray:
        factor = self._factor(memory.key.shape[2])
        if factor != 1.0:
            d_scores = d_scores * factor
        pq = cache.scored
        grad.projected += d_scores[:, :, None] * pq[:, None, :]
        d_pq = np.matmul(d_scores[:, None, :], memory.key)[:, 0]
        return self._project_backward(cache.query, d_pq)

    def forward(self, query: np.ndarray, key: np.ndarray,  # type: ignore[override]
                value: np.ndarray | None = None, key_padding_mask: np.ndarray | None = None,
                *, key_lengths: np.ndarray | None = None,
                training: bool = False) -> tuple[np.ndarray, np.ndarray]:
        dtype = None if not self.parameters() else self.dtype
        inputs = _prepare(query, key, value, key_padding_mask, key_lengths, dtype,
                          *self._dims)
        projected = self._project(inputs.query)
        if projected.shape[-1] != inputs.key.shape[-1]:
            raise ValueError(f"key: expected {projected.shape[-1]} features (those of the "
                             f"query), got shape {inputs.key.shape}")
        output, weights, cache = scaled_dot_product_attention(
            projected, inputs.key, inputs.value, inputs.mask,
            scale=self._factor(inputs.key.shape[-1]))
        self._cache = (inputs, cache) if grad_enabled() else None
        return self._outputs(inputs, output, weights)

    forward.__doc__ = "Attend from each query to the keys." + _FORWARD_DOC

    def backward(self, d_output: np.ndarray,  # type: ignore[override]
                 d_weights: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Accumulate the parameter gradients (if any); return (d_query, d_key, d_value)."""
        inputs, cache = self._require_cache(self._cache)
        d_out, d_w = self._check_upstream(d_output, d_weights, inputs, cache.weights.shape)
        d_proj, d_key, d_value = scaled_dot_product_attention_backward(d_out, d_w, cache)
        d_query = self._project_backward(inputs.query, d_proj)
        return self._input_grads(inputs, d_query, d_key, d_value)


class DotAttention(_LuongAttention):
    """Luong et al. (2015) "dot" attention: ``score = q . k`` (no parameters).

    Parameters
    ----------
    scale : bool
        Divide the scores by sqrt(E) (as scaled dot-product attention).

    Notes
    -----
    ``weights = softmax_s(scale * q[n, l] . k[n, s] + mask)``, ``context = weights @ value``.
    Query and key have the same number of features E; any float dtype (that of ``query``).
    """

    def __init__(self, scale: bool = False) -> None:
        super().__init__()
        self.scale = check_bool(scale, "scale")
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale}

    def __repr__(self) -> str:
        return f"DotAttention(scale={self.scale})"


class GeneralAttention(_LuongAttention):
    """Luong et al. (2015) "general" attention: ``score = (W q) . k``.

    Parameters
    ----------
    query_dim : int
        Eq, features of a query.
    key_dim : int
        Ek, features of a key.
    scale : bool
        Divide the scores by sqrt(Ek).
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        ``weight`` ~ U(-1/sqrt(Eq), 1/sqrt(Eq)) (PyTorch's Linear default).

    Notes
    -----
    ``score[n, l, s] = (weight @ q[n, l]) . k[n, s] = q^T weight^T k`` (Luong's
    ``h_t^T W_a h_s`` with ``W_a = weight^T``; ``weight`` is laid out as a bias-free
    ``nn.Linear(Eq, Ek)``, OpenNMT's ``linear_in``). Parameter: ``weight`` (Ek, Eq).
    """

    def __init__(self, query_dim: int, key_dim: int, scale: bool = False, *,
                 dtype: Any = np.float64,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.query_dim = check_positive_int(query_dim, "query_dim")
        self.key_dim = check_positive_int(key_dim, "key_dim")
        self.scale = check_bool(scale, "scale")
        self._dims = (self.query_dim, self.key_dim)
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        self.weight = self.add_parameter("weight", np.empty((self.key_dim, self.query_dim), dt))
        initializers.uniform_fan_in(self.weight.data, self.query_dim, rng)
        self._cache = None

    def _project(self, query: np.ndarray) -> np.ndarray:
        return query @ self.weight.data.T

    def _project_backward(self, query: np.ndarray, d_projected: np.ndarray) -> np.ndarray:
        self.weight.grad += (d_projected.reshape(-1, self.key_dim).T
                             @ query.reshape(-1, self.query_dim))
        return d_projected @ self.weight.data

    def get_config(self) -> dict[str, Any]:
        return {"query_dim": self.query_dim, "key_dim": self.key_dim, "scale": self.scale,
                "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        return (f"GeneralAttention(query_dim={self.query_dim}, key_dim={self.key_dim}, "
                f"scale={self.scale})")


class ScaledDotProductAttention(AttentionLayer):
    """Scaled dot-product attention (Vaswani et al. 2017) as a layer: PyTorch's
    ``torch.nn.functional.scaled_dot_product_attention``, returning its weights too.

    Parameters
    ----------
    dropout : float in [0, 1)
        Dropout on the attention weights in training mode (``dropout_p`` of torch).
    scale : float, optional
        Default ``1 / sqrt(E)``.
    seed : int or numpy.random.Generator, optional
        Seeds the dropout masks.

    Notes
    -----
    ``output = dropout(softmax(query @ key^T * scale + mask)) @ value`` with any batch axes
    (N, ..., L, E). A boolean ``attn_mask`` is True where attention is ALLOWED (the SDPA
    convention, the opposite of :class:`MultiheadAttention`'s). No parameters; the dtype
    is the query's (float32 or float64).
    """

    def __init__(self, dropout: float = 0.0, scale: float | None = None, *,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        self.dropout = check_probability(dropout, "dropout")
        self.scale = check_positive_float(scale, "scale", optional=True)
        self._rng = np.random.default_rng(seed)
        self._cache: AttentionCache | None = None

    def forward(self, query: np.ndarray, key: np.ndarray,  # type: ignore[override]
                value: np.ndarray, attn_mask: np.ndarray | None = None,
                is_causal: bool = False, *,
                training: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Attend from each query to the keys.

        Parameters
        ----------
        query : ndarray, shape (N, ..., L, E)
        key : ndarray, shape (N, ..., S, E)
        value : ndarray, shape (N, ..., S, Ev)
        attn_mask : ndarray of bool or float, optional
            Broadcastable to (N, ..., L, S). Bool: True = may attend. Float: added.
        is_causal : bool
            Query i attends keys j <= i (top-left aligned); not with ``attn_mask``.
        training : bool
            Apply dropout.

        Returns
        -------
        output : ndarray, shape (N, ..., L, Ev)
        weights : ndarray, shape (N, ..., L, S)
            The weights that multiplied ``value`` (after dropout in training).
        """
        p = self.dropout if training else 0.0
        output, weights, cache = scaled_dot_product_attention(
            query, key, value, attn_mask, p, check_bool(is_causal, "is_causal"), self.scale,
            rng=self._rng)
        self._cache = cache if grad_enabled() else None
        return output, weights

    def backward(self, d_output: np.ndarray,  # type: ignore[override]
                 d_weights: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (d_query, d_key, d_value) of the last forward."""
        cache: AttentionCache = self._require_cache(self._cache)
        dt = cache.query.dtype
        out_shape = (*cache.query.shape[:-1], cache.value.shape[-1])
        d_out = check_grad(d_output, "d_output", out_shape, dt)
        d_w = None if d_weights is None else check_grad(d_weights, "d_weights",
                                                        cache.weights.shape, dt)
        return scaled_dot_product_attention_backward(d_out, d_w, cache)

    def get_config(self) -> dict[str, Any]:
        return {"dropout": self.dropout, "scale": self.scale}

    def __repr__(self) -> str:
        return f"ScaledDotProductAttention(dropout={self.dropout}, scale={self.scale})"
