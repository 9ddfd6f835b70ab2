"""Multi-head attention with PyTorch's ``nn.MultiheadAttention`` arguments, parameter names
and layout, and a hand-written backward."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.nn._validation import (
    check_bool,
    check_finite_output,
    check_float_dtype,
    check_positive_int,
    check_probability,
)
from minirnn.nn.layers.attention_base import AttentionLayer, check_grad, check_input
from minirnn.nn.layers.attention_functional import (
    SoftmaxCache,
    additive_mask,
    masked_softmax,
    masked_softmax_backward,
)
from minirnn.nn.layers.base import grad_enabled
from minirnn.nn.layers.dense import Dense
from minirnn.nn.parameter import Parameter

__all__ = ["MultiheadAttention"]


@dataclass
class _Cache:
    """What backward needs of one forward (batch first, a batch axis even if unbatched)."""

    query: np.ndarray  # (N, L, E)
    key: np.ndarray  # (N, S, kdim)
    value: np.ndarray  # (N, S, vdim)
    q: np.ndarray  # (N, H, L, d), projected, not scaled
    k: np.ndarray  # (N, H, S', d), with bias_k / zero rows
    v: np.ndarray  # (N, H, S', d)
    weights: np.ndarray  # (N, H, L, S'), after dropout
    softmax: SoftmaxCache
    unbatched: bool
    need_weights: bool
    average: bool


class MultiheadAttention(AttentionLayer):
    """Multi-head attention (Vaswani et al. 2017), as PyTorch's ``torch.nn.MultiheadAttention``.

    Parameters
    ----------
    embed_dim : int
        E, features of a query and of the output.
    num_heads : int
        H; E must be divisible by H (each head has d = E / H features).
    dropout : float in [0, 1)
        Dropout on the attention weights in training mode.
    bias : bool
        Learn ``in_proj_bias`` and ``out_proj.bias``.
    add_bias_kv : bool
        Learn ``bias_k`` and ``bias_v`` (1, 1, E), appended to the projected keys and values
        as one more source position.
    add_zero_attn : bool
        Append a zero key and value (per head) as one more source position.
    kdim, vdim : int, optional
        Features of a key and of a value (default E).
    batch_first : bool
        **False by default, as in PyTorch** (unlike the rest of minirnn): inputs and output
        are (L, N, E); True: (N, L, E).
    dtype : float32 or float64
    seed : int or numpy.random.Generator, optional
        Seeds the initial weights (PyTorch's scheme: Xavier-uniform input projections,
        zero biases, ``out_proj.weight`` ~ U(-1/sqrt(E), 1/sqrt(E)), Xavier-normal
        ``bias_k``/``bias_v``) and the dropout masks.

    Notes
    -----
    Per head h: ``head_h = softmax(Q_h K_h^T / sqrt(d) + mask) V_h`` with
    ``Q = query W_q^T + b_q``, ``K = key W_k^T + b_k``, ``V = value W_v^T + b_v``, then
    ``output = concat_h(head_h) out_proj.weight^T + out_proj.bias``.

    Parameters (names, shapes and order of ``state_dict()`` are PyTorch's):
    ``in_proj_weight`` (3E, E) holding W_q, W_k, W_v when kdim = vdim = E, else
    ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim), ``v_proj_weight`` (E, vdim);
    ``in_proj_bias`` (3E,); ``bias_k``, ``bias_v`` (1, 1, E); ``out_proj.weight`` (E, E),
    ``out_proj.bias`` (E,). Weights therefore move to and from torch with ``state_dict``.

    A query row whose every key is masked gets zero attention weights, so its output is
    ``out_proj.bias`` and its gradients are zero: no NaN. (torch 2.13 gives the same with
    ``need_weights=False`` and NaN with ``need_weights=True``.)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 *, dtype: Any = np.float64,
                 seed: int | np.random.Generator | None = None) -> None:
        super().__init__()
        E = self.embed_dim = check_positive_int(embed_dim, "embed_dim")
        H = self.num_heads = check_positive_int(num_heads, "num_heads")
        if E % H:
            raise ValueError(f"embed_dim must be divisible by num_heads, got embed_dim={E} "
                             f"and num_heads={H}")
        self.head_dim = E // H
        self.dropout = check_probability(dropout, "dropout")
        use_bias = check_bool(bias, "bias")
        self.add_zero_attn = check_bool(add_zero_attn, "add_zero_attn")
        self.kdim = E if kdim is None else check_positive_int(kdim, "kdim")
        self.vdim = E if vdim is None else check_positive_int(vdim, "vdim")
        self.batch_first = check_bool(batch_first, "batch_first")
        self._qkv_same_embed_dim = self.kdim == E and self.vdim == E
        dt = check_float_dtype(dtype, "dtype")
        rng = np.random.default_rng(seed)
        self.in_proj_weight: Parameter | None = None
        self.q_proj_weight: Parameter | None = None
        self.k_proj_weight: Parameter | None = None
        self.v_proj_weight: Parameter | None = None
        if self._qkv_same_embed_dim:
            self.in_proj_weight = self.add_parameter("in_proj_weight", np.empty((3 * E, E), dt))
            _xavier_uniform(self.in_proj_weight.data, rng)
        else:
            for name, fan_in in (("q_proj_weight", E), ("k_proj_weight", self.kdim),
                                 ("v_proj_weight", self.vdim)):
                param = self.add_parameter(name, np.empty((E, fan_in), dt))
                _xavier_uniform(param.data, rng)
                setattr(self, name, param)
        self.in_proj_bias = (self.add_parameter("in_proj_bias", np.zeros(3 * E, dt))
                             if use_bias else None)
        self.bias_k: Parameter | None = None
        self.bias_v: Parameter | None = None
        if check_bool(add_bias_kv, "add_bias_kv"):
            std = 1.0 / math.sqrt(E)  # xavier_normal_ of a (1, 1, E) tensor: sqrt(2 / 2E)
            self.bias_k = self.add_parameter("bias_k", rng.normal(0.0, std, (1, 1, E)).astype(dt))
            self.bias_v = self.add_parameter("bias_v", rng.normal(0.0, std, (1, 1, E)).astype(dt))
        out_proj = Dense(E, E, bias=use_bias, dtype=dt, seed=rng)
        if out_proj.bias is not None:
            out_proj.bias.data[...] = 0.0
        self.out_proj: Dense = out_proj
        self.add_layer("out_proj", out_proj)
        self._rng = rng
        self._cache: _Cache | None = None

    # ------------------------------------------------------------- projections
    def _projection(self, i: int) -> tuple[Parameter, slice | None]:
        """The weight parameter of projection i (0 q, 1 k, 2 v) and its rows in it."""
        if self.in_proj_weight is not None:
            E = self.embed_dim
            return self.in_proj_weight, slice(i * E, (i + 1) * E)
        param = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i]
        assert param is not None
        return param, None

    def _project(self, x: np.ndarray, i: int) -> np.ndarray:
        param, rows = self._projection(i)
        w = param.data if rows is None else param.data[rows]
        y = x @ w.T
        if self.in_proj_bias is not None:
            E = self.embed_dim
            y += self.in_proj_bias.data[i * E:(i + 1) * E]
        return y

    def _project_backward(self, x: np.ndarray, dy: np.ndarray, i: int) -> np.ndarray:
        param, rows = self._projection(i)
        E = self.embed_dim
        dy2 = dy.reshape(-1, E)
        grad = dy2.T @ x.reshape(-1, x.shape[-1])
        if rows is None:
            param.grad += grad
            w = param.data
        else:
            param.grad[rows] += grad
            w = param.data[rows]
        if self.in_proj_bias is not None:
            self.in_proj_bias.grad[i * E:(i + 1) * E] += dy2.sum(axis=0)
        return dy @ w

    def _heads(self, x: np.ndarray) -> np.ndarray:
        """(N, T, E) -> (N, H, T, d)."""
        N, T, _ = x.shape
        return x.reshape(N, T, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, x: np.ndarray) -> np.ndarray:
        """(N, H, T, d) -> (N, T, E)."""
        N, _, T, _ = x.shape
        return x.transpose(0, 2, 1, 3).reshape(N, T, self.embed_dim)

    # ------------------------------------------------------------------ checks
    def _check_inputs(self, query: Any, key: Any, value: Any, key_padding_mask: Any,
                      attn_mask: Any, is_causal: Any) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray, np.ndarray | None,
                                                               bool]:
        """Inputs as (N, L, E), (N, S, kdim), (N, S, vdim) and the additive mask
        broadcastable to (N, H, L, S); everything checked before anything changes."""
        dt = self.dtype
        check_input(query, "query", ndim=(2, 3), dtype=dt, last_dim=self.embed_dim)
        unbatched = query.ndim == 2
        want = "2-D (unbatched, like query)" if unbatched else "3-D (batched, like query)"
        for name, x, dim in (("key", key, self.kdim), ("value", value, self.vdim)):
            if isinstance(x, np.ndarray) and x.ndim != query.ndim:
                raise ValueError(f"{name}: expected {want}, got shape {x.shape}")
            check_input(x, name, ndim=(query.ndim,), dtype=dt, last_dim=dim)
        if unbatched:
            q, k, v = query[None], key[None], value[None]
        elif self.batch_first:
            q, k, v = query, key, value
        else:
            q, k, v = (x.transpose(1, 0, 2) for x in (query, key, value))
        N, L, S = q.shape[0], q.shape[1], k.shape[1]
        layout = "(N, S, features)" if self.batch_first else "(S, N, features)"
        if not unbatched and k.shape[0] != N:
            raise ValueError(f"key: expected batch size N={N} (that of query), got shape "
                             f"{key.shape} {layout}")
        if v.shape[:2] != (N, S):
            raise ValueError(f"value: expected S={S} and N={N} (those of key), got shape "
                             f"{value.shape} {'' if unbatched else layout}".rstrip())
        mask = None
        if key_padding_mask is not None:
            kpm_shape = (S,) if unbatched else (N, S)
            kpm = additive_mask(key_padding_mask, "key_padding_mask", dt, true_means="masked",
                                shape=kpm_shape)
            mask = kpm.reshape(N, 1, 1, S)
        if check_bool(is_causal, "is_causal") and attn_mask is None:
            raise ValueError("is_causal=True needs attn_mask (as in PyTorch, is_causal is only "
                             "a hint that attn_mask is the causal mask); build one with "
                             "minirnn.nn.layers.attention_functional.causal_mask(L, S)")
        if attn_mask is not None:
            H = self.num_heads
            if not isinstance(attn_mask, np.ndarray) or attn_mask.ndim not in (2, 3):
                raise ValueError(f"attn_mask: expected a 2-D ({L}, {S}) or 3-D "
                                 f"({N * H}, {L}, {S}) array, got "
                                 f"{getattr(attn_mask, 'shape', type(attn_mask).__name__)}")
            shape = (L, S) if attn_mask.ndim == 2 else (N * H, L, S)
            am = additive_mask(attn_mask, "attn_mask", dt, true_means="masked", shape=shape)
            am = am[None, None] if am.ndim == 2 else am.reshape(N, H, L, S)
            mask = am if mask is None else mask + am
        return q, k, v, mask, unbatched

    # ---------------------------------------------------------------- forward
    def forward(self, query: np.ndarray, key: np.ndarray,  # type: ignore[override]
                value: np.ndarray, key_padding_mask: np.ndarray | None = None,
                need_weights: bool = True, attn_mask: np.ndarray | None = None,
                average_attn_weights: bool = True, is_causal: bool = False, *,
                training: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Attend from each query to the keys, as ``torch.nn.MultiheadAttention.forward``.

        Parameters
        ----------
        query : ndarray, shape (L, N, E), (N, L, E) with ``batch_first``, or (L, E)
        key : ndarray, shape (S, N, kdim), (N, S, kdim), or (S, kdim)
        value : ndarray, shape (S, N, vdim), (N, S, vdim), or (S, vdim)
        key_padding_mask : ndarray (N, S), or (S,) unbatched, optional
            Bool: True = padding, not attended. Float: added to the scores.
        need_weights : bool
            Return the attention weights (else ``None``).
        attn_mask : ndarray (L, S) or (N * H, L, S), optional
            Bool: True = NOT allowed to attend (PyTorch's MHA convention, the opposite of
            ``scaled_dot_product_attention``'s). Float: added to the scores. The 3-D form is
            indexed ``n * H + h`` (batch major), as in torch.
        average_attn_weights : bool
            Return the weights averaged over heads (else one set per head).
        is_causal : bool
            PyTorch's hint that ``attn_mask`` is causal: it needs ``attn_mask``, which is
            what is applied.
        training : bool
            Apply dropout to the attention weights.

        Returns
        -------
        output : ndarray, shape of ``query`` with E features
        weights : ndarray or None
            (N, L, S'), or (N, H, L, S') with ``average_attn_weights=False``; no N axis when
            unbatched. S' = S (+1 with ``add_bias_kv``, +1 with ``add_zero_attn``). These are
            the weights after dropout; masked keys have weight exactly 0.
        """
        need = check_bool(need_weights, "need_weights")
        average = check_bool(average_attn_weights, "average_attn_weights")
        q_in, k_in, v_in, mask, unbatched = self._check_inputs(
            query, key, value, key_padding_mask, attn_mask, is_causal)
        N = q_in.shape[0]
        E = self.embed_dim
        qp, kp, vp = self._project(q_in, 0), self._project(k_in, 1), self._project(v_in, 2)
        extra = []
        if self.bias_k is not None and self.bias_v is not None:
            kp = np.concatenate([kp, np.broadcast_to(self.bias_k.data, (N, 1, E))], axis=1)
            vp = np.concatenate([vp, np.broadcast_to(self.bias_v.data, (N, 1, E))], axis=1)
            extra.append(1)
        if self.add_zero_attn:
            zeros = np.zeros((N, 1, E), self.dtype)
            kp = np.concatenate([kp, zeros], axis=1)
            vp = np.concatenate([vp, zeros], axis=1)
            extra.append(1)
        if mask is not None and extra:
            mask = np.concatenate([mask, np.zeros((*mask.shape[:3], len(extra)), self.dtype)],
                                  axis=3)
        qh, kh, vh = self._heads(qp), self._heads(kp), self._heads(vp)
        scale = self.dtype.type(1.0 / math.sqrt(self.head_dim))
        scores = (qh * scale) @ kh.transpose(0, 1, 3, 2)  # (N, H, L, S')
        if mask is not None:
            scores += mask
        p = self.dropout if training else 0.0
        weights, sm = masked_softmax(scores, p, self._rng)
        attended = check_finite_output(self._merge(weights @ vh), "MultiheadAttention", q_in)
        try:
            output = self.out_proj.forward(attended)  # (N, L, E)
        except FloatingPointError:
            self._cache = None  # out_proj now holds this input: never mix it with an old cache
            raise
        self._cache = (_Cache(q_in, k_in, v_in, qh, kh, vh, weights, sm, unbatched, need,
                              average) if grad_enabled() else None)
        returned = None
        if need:
            returned = weights.mean(axis=1) if average else weights
            if unbatched:
                returned = returned[0]
        if unbatched:
            return output[0], returned
        return (output if self.batch_first else output.transpose(1, 0, 2)), returned

    # --------------------------------------------------------------- backward
    def backward(self, d_output: np.ndarray,  # type: ignore[override]
                 d_weights: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Accumulate every parameter's gradient; return (d_query, d_key, d_value) in the
        layout of the inputs.

        Parameters
        ----------
        d_output : ndarray, shape of the output
        d_weights : ndarray, shape of the returned weights, optional
            Only when the forward returned weights (``need_weights=True``).
        """
        c: _Cache = self._require_cache(self._cache)
        dt = self.dtype
        N, L, E = c.query.shape
        H = self.num_heads
        out_shape = (L, E) if c.unbatched else ((N, L, E) if self.batch_first else (L, N, E))
        d_out = check_grad(d_output, "d_output", out_shape, dt)
        d_out = d_out[None] if c.unbatched else (
            d_out if self.batch_first else d_out.transpose(1, 0, 2))
        d_w_heads = None
        if d_weights is not None:
            if not c.need_weights:
                raise ValueError("d_weights given, but the forward returned no weights "
                                 "(need_weights=False)")
            S1 = c.weights.shape[3]
            w_shape: tuple[int, ...] = (N, L, S1) if c.average else (N, H, L, S1)
            if c.unbatched:
                w_shape = w_shape[1:]
            d_w = check_grad(d_weights, "d_weights", w_shape, dt)
            d_w = d_w[None] if c.unbatched else d_w
            d_w_heads = d_w[:, None] / dt.type(H) if c.average else d_w
        d_attn = self._heads(self.out_proj.backward(d_out))  # (N, H, L, d)
        d_vh = c.weights.transpose(0, 1, 3, 2) @ d_attn
        dw = d_attn @ c.v.transpose(0, 1, 3, 2)
        if d_w_heads is not None:
            dw += d_w_heads
        d_scores = masked_softmax_backward(dw, c.softmax)
        d_scores *= dt.type(1.0 / math.sqrt(self.head_dim))
        d_qh = d_scores @ c.k
        d_kh = d_scores.transpose(0, 1, 3, 2) @ c.q
        d_q, d_k, d_v = self._merge(d_qh), self._merge(d_kh), self._merge(d_vh)
        if self.add_zero_attn:
            d_k, d_v = d_k[:, :-1], d_v[:, :-1]
        if self.bias_k is not None and self.bias_v is not None:
            self.bias_k.grad += d_k[:, -1].sum(axis=0).reshape(1, 1, E)
            self.bias_v.grad += d_v[:, -1].sum(axis=0).reshape(1, 1, E)
            d_k, d_v = d_k[:, :-1], d_v[:, :-1]
        grads = (self._project_backward(c.query, d_q, 0),
                 self._project_backward(c.key, d_k, 1),
                 self._project_backward(c.value, d_v, 2))
        if c.unbatched:
            return grads[0][0], grads[1][0], grads[2][0]
        if self.batch_first:
            return grads
        return (grads[0].transpose(1, 0, 2), grads[1].transpose(1, 0, 2),
                grads[2].transpose(1, 0, 2))

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict[str, Any]:
        return {"embed_dim": self.embed_dim, "num_heads": self.num_heads,
                "dropout": self.dropout, "bias": self.in_proj_bias is not None,
                "add_bias_kv": self.bias_k is not None, "add_zero_attn": self.add_zero_attn,
                "kdim": self.kdim, "vdim": self.vdim, "batch_first": self.batch_first,
                "dtype": str(self.dtype)}

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in (
            ("kdim", self.kdim), ("vdim", self.vdim)) if v != self.embed_dim)
        return (f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"dropout={self.dropout}, bias={self.in_proj_bias is not None}{extra}, "
                f"batch_first={self.batch_first})")


def _xavier_uniform(array: np.ndarray, rng: np.random.Generator) -> None:
    """``torch.nn.init.xavier_uniform_`` of a 2-D weight (fan_out, fan_in)."""
    fan_out, fan_in = array.shape
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    array[...] = rng.uniform(-bound, bound, array.shape)
