"""The functional core of the attention layers: masks, a masked softmax and scaled
dot-product attention, each with a hand-written backward.

Shape letters: N batch, H heads, L target (query) length, S source (key) length,
E features of a query/key, Ev features of a value. Leading axes ``...`` are any batch axes.

Masks follow PyTorch, whose two conventions differ:

* :func:`scaled_dot_product_attention` (as ``torch.nn.functional.scaled_dot_product_attention``):
  a boolean ``attn_mask`` is True where a query MAY attend (True = take part);
* ``key_padding_mask`` and ``attn_mask`` of :class:`~minirnn.nn.layers.attention.MultiheadAttention`
  (as ``torch.nn.MultiheadAttention``) and ``key_padding_mask`` of the other attention
  layers: True where a key must NOT be attended (True = masked out, "padding").

A floating mask is always added to the scores (``-inf`` masks exactly, a finite value only
biases). Everything is turned into one additive float mask by :func:`additive_mask`.

A query row whose every key is masked (all scores ``-inf``) gets zero weights, a zero output
and zero gradients, never NaN. That is what ``scaled_dot_product_attention`` does in
torch 2.13 ("safe softmax"); ``torch.nn.MultiheadAttention`` gives the same zeros with
``need_weights=False`` but NaN with ``need_weights=True``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minirnn.nn._validation import check_finite_output, check_float_dtype

__all__ = [
    "AttentionCache", "SoftmaxCache", "additive_mask", "causal_mask", "masked_softmax",
    "masked_softmax_backward", "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
]


# --------------------------------------------------------------------------- masks
def additive_mask(
    mask: Any,
    name: str,
    dtype: np.dtype,
    *,
    true_means: str,
    shape: tuple[int, ...] | None = None,
    broadcast_to: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Validate a boolean or floating mask and return it as an additive float mask.

    Parameters
    ----------
    mask : ndarray of bool or float
        Boolean: see ``true_means``. Floating: added to the scores as it is; ``-inf`` masks a
        position exactly; NaN and ``+inf`` are refused.
    name : str
        The argument's name, for error messages.
    dtype : float32 or float64
        The dtype of the scores (and of the result).
    true_means : {"attend", "masked"}
        ``"attend"``: True = may attend (``scaled_dot_product_attention``);
        ``"masked"``: True = may not attend (``nn.MultiheadAttention``, ``key_padding_mask``).
    shape : tuple of int, optional
        The exact shape required.
    broadcast_to : tuple of int, optional
        A shape the mask must broadcast to (its own shape is kept).

    Returns
    -------
    ndarray of ``dtype``, the mask's shape: 0 where attention is allowed, ``-inf`` where it
    is not (boolean masks), or the given float values.
    """
    if not isinstance(mask, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray of bool or float, got "
                        f"{type(mask).__name__}")
    if shape is not None and mask.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {mask.shape}")
    if broadcast_to is not None:
        try:
            full = np.broadcast_shapes(mask.shape, broadcast_to)
        except ValueError:
            full = None
        if full != tuple(broadcast_to):
            raise ValueError(f"{name}: expected a shape that broadcasts to "
                             f"{tuple(broadcast_to)}, got {mask.shape}")
    if mask.dtype == np.bool_:
        if true_means == "attend":
            blocked = ~mask
        elif true_means == "masked":
            blocked = mask
        else:
            raise ValueError(f"true_means must be 'attend' or 'masked', got {true_means!r}")
        out = np.zeros(mask.shape, dtype)
        out[blocked] = -np.inf
        return out
    if np.issubdtype(mask.dtype, np.floating):
        if np.isnan(mask).any() or np.isposinf(mask).any():
            raise ValueError(f"{name} contains NaN or +inf (a float mask is added to the "
                             "scores: use 0 to allow and -inf to mask)")
        return mask.astype(dtype, copy=False)
    raise TypeError(f"{name}: expected dtype bool or floating, got {mask.dtype}")


def causal_mask(L: int, S: int, dtype: Any = np.float64) -> np.ndarray:
    """The additive causal mask of ``is_causal=True``: query i attends keys j <= i.

    Aligned top-left as in PyTorch (``torch.ones(L, S).tril()``), also when L != S.

    Returns
    -------
    ndarray, shape (L, S): 0 on and below the diagonal, ``-inf`` above.
    """
    out = np.zeros((L, S), check_float_dtype(dtype, "dtype"))
    out[np.triu_indices(L, 1, S)] = -np.inf
    return out


# ------------------------------------------------------------------------- softmax
@dataclass
class SoftmaxCache:
    """What :func:`masked_softmax_backward` needs: the probabilities (before dropout) and
    the dropout factors (``None`` without dropout)."""

    probs: np.ndarray
    keep: np.ndarray | None


def masked_softmax(
    scores: np.ndarray,
    dropout_p: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, SoftmaxCache]:
    """Softmax over the last axis, exact zeros where a score is ``-inf``, then dropout.

    Parameters
    ----------
    scores : ndarray, shape (..., L, S)
        Scores with the additive mask already added; ``-inf`` = masked.
    dropout_p : float in [0, 1)
        Each weight is zeroed with this probability and the rest scaled by 1/(1 - p)
        (inverted dropout, as ``torch.nn.functional.dropout``).
    rng : numpy Generator, needed when ``dropout_p > 0``

    Returns
    -------
    weights : ndarray, shape (..., L, S)
        The weights that multiply the values (after dropout). A row whose scores are all
        ``-inf`` is all zeros.
    cache : SoftmaxCache
    """
    top = scores.max(axis=-1, keepdims=True)
    dead = np.isneginf(top)
    if dead.any():
        top = np.where(dead, 0.0, top).astype(scores.dtype, copy=False)
    probs = np.exp(scores - top)
    total = probs.sum(axis=-1, keepdims=True)
    if dead.any():
        total[dead] = 1.0  # the row is all zeros: keep it so, never 0/0
    probs /= total
    keep = None
    if dropout_p > 0.0:
        if rng is None:
            raise ValueError("masked_softmax: dropout_p > 0 needs rng")
        scale = scores.dtype.type(1.0 / (1.0 - dropout_p))
        keep = (rng.random(probs.shape) >= dropout_p).astype(scores.dtype) * scale
        return probs * keep, SoftmaxCache(probs, keep)
    return probs, SoftmaxCache(probs, keep)


def masked_softmax_backward(d_weights: np.ndarray, cache: SoftmaxCache) -> np.ndarray:
    """dL/d(scores) from dL/d(weights) (weights after dropout), shape (..., L, S).

    ``d_scores = P * (dP - sum(dP * P))`` with ``dP = d_weights * keep``: zero at masked
    positions and on fully masked rows (where P is 0).
    """
    dp = d_weights if cache.keep is None else d_weights * cache.keep
    probs = cache.probs
    return probs * (dp - np.sum(dp * probs, axis=-1, keepdims=True))


# ------------------------------------------------------------ scaled dot-product
@dataclass
class AttentionCache:
    """What :func:`scaled_dot_product_attention_backward` needs."""

    query: np.ndarray
    key: np.ndarray
    value: np.ndarray
    weights: np.ndarray
    softmax: SoftmaxCache
    scale: float


def _check_qkv(query: Any, key: Any, value: Any) -> None:
    for name, a in (("query", query), ("key", key), ("value", value)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
        if a.ndim < 2:
            raise ValueError(f"{name} must be at least 2-D (..., length, features), got "
                             f"shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or Inf")
    dt = check_float_dtype(query.dtype, "query")
    for name, a in (("key", key), ("value", value)):
        if a.dtype != dt:
            raise TypeError(f"{name} must have the dtype of query ({dt}), got {a.dtype}")
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"query, key and value must have the same number of axes, got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")
    if key.shape[:-2] != query.shape[:-2] or value.shape[:-2] != query.shape[:-2]:
        raise ValueError(f"key and value: expected batch axes {query.shape[:-2]} (those of "
                         f"query), got {key.shape[:-2]} and {value.shape[:-2]}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(f"key: expected {query.shape[-1]} features (those of query), got "
                         f"shape {key.shape}")
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(f"value: expected length S={key.shape[-2]} (that of key), got "
                         f"shape {value.shape}")


def scaled_dot_product_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    attn_mask: np.ndarray | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    rng: np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, AttentionCache]:
    """``softmax(query @ key^T * scale + mask) @ value``, as PyTorch's
    ``torch.nn.functional.scaled_dot_product_attention`` (which returns the output only).

    Parameters
    ----------
    query : ndarray, shape (..., L, E)
    key : ndarray, shape (..., S, E)
    value : ndarray, shape (..., S, Ev)
        Same batch axes ``...`` and dtype (float32 or float64) as ``query``.
    attn_mask : ndarray of bool or float, optional
        Broadcastable to (..., L, S). Boolean: True = may attend (PyTorch's SDPA convention,
        the opposite of ``nn.MultiheadAttention``'s). Floating: added to the scores.
    dropout_p : float in [0, 1)
        Dropout on the attention weights (pass 0 in evaluation, as with torch).
    is_causal : bool
        Query i attends keys j <= i (top-left aligned); not together with ``attn_mask``.
    scale : float, optional
        Default ``1 / sqrt(E)``.
    rng : numpy Generator, needed when ``dropout_p > 0``

    Returns
    -------
    output : ndarray, shape (..., L, Ev)
    weights : ndarray, shape (..., L, S)
        The weights that multiplied ``value`` (after dropout). Masked keys have weight
        exactly 0; a fully masked row has all-zero weights and a zero output.
    cache : AttentionCache
        For :func:`scaled_dot_product_attention_backward`.
    """
    _check_qkv(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    dt = query.dtype
    mask = None
    if attn_mask is not None:
        if is_causal:
            raise ValueError("attn_mask and is_causal=True cannot be given together (as in "
                             "PyTorch): pass one of them")
        mask = additive_mask(attn_mask, "attn_mask", dt, true_means="attend",
                             broadcast_to=(*query.shape[:-2], L, S))
    elif is_causal:
        mask = causal_mask(L, S, dt)
    if not isinstance(dropout_p, (int, float)) or not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p!r}")
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    elif not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")
    scale = float(scale)
    scores = (query * dt.type(scale)) @ np.swapaxes(key, -1, -2)
    if mask is not None:
        scores += mask
    weights, sm = masked_softmax(scores, float(dropout_p), rng)
    output = check_finite_output(weights @ value, "scaled_dot_product_attention", query)
    return output, weights, AttentionCache(query, key, value, weights, sm, scale)


def scaled_dot_product_attention_backward(
    d_output: np.ndarray, d_weights: np.ndarray | None, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`scaled_dot_product_attention`.

    Parameters
    ----------
    d_output : ndarray, shape (..., L, Ev)
    d_weights : ndarray, shape (..., L, S), optional
        dL/d(weights) when the loss also uses the returned weights.
    cache : AttentionCache

    Returns
    -------
    d_query (..., L, E), d_key (..., S, E), d_value (..., S, Ev)
    """
    d_w = d_output @ np.swapaxes(cache.value, -1, -2)
    if d_weights is not None:
        d_w += d_weights
    d_value = np.swapaxes(cache.weights, -1, -2) @ d_output
    d_scores = masked_softmax_backward(d_w, cache.softmax)
    d_scores *= d_scores.dtype.type(cache.scale)
    d_query = d_scores @ cache.key
    d_key = np.swapaxes(d_scores, -1, -2) @ cache.query
    return d_query, d_key, d_value
