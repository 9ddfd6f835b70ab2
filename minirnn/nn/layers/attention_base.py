"""What the attention layers share: the multi-input layer contract and input checks.

The :class:`~minirnn.nn.layers.base.Layer` contract is ``forward(x) -> y`` and
``backward(dy) -> dx``. Attention takes several inputs and returns two outputs, so the
attention layers extend it (as PyTorch's ``nn.MultiheadAttention`` does ``nn.Module``)::

    output, weights = layer.forward(query, key, value, <masks...>, training=False)
    d_query, d_key, d_value = layer.backward(d_output, d_weights=None)

``d_weights`` (optional) is dL/d(weights) when the loss also uses the returned weights (an
attention penalty, a coverage loss). ``backward`` *adds* into every ``Parameter.grad``, as
every layer does, and returns fresh input gradients; when the same array was given as
several inputs (self-attention), the caller adds their gradients. Everything else of the
contract (``named_parameters``, state dicts, ``astype``, ``get_config``) is unchanged, and
a model composes an attention layer in its own ``forward``/``backward`` like any sub-layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn.layers.attention_functional import additive_mask
from minirnn.nn.layers.base import Layer

__all__ = ["AttentionLayer", "check_grad", "check_input", "key_mask"]


class AttentionLayer(Layer):
    """Base of the attention layers: ``layer(query, key, value, ...)`` calls ``forward``.

    Subclasses write ``forward(query, key, value, ..., training=False) -> (output, weights)``
    and ``backward(d_output, d_weights=None) -> (d_query, d_key, d_value)``.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def _require_cache(self, cache: Any) -> Any:
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward (or "
                               "after a forward under no_grad)")
        return cache


def check_input(x: Any, name: str, *, ndim: tuple[int, ...], dtype: np.dtype | None,
                last_dim: int | None = None) -> np.ndarray:
    """A finite, non-empty float array with an accepted number of axes and, if given, the
    layer's dtype and last-axis size; errors name the argument and say expected vs given."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(x).__name__}")
    if x.ndim not in ndim:
        expected = " or ".join(f"{d}-D" for d in ndim)
        raise ValueError(f"{name}: expected a {expected} array, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the layer's), got {x.dtype}")
    if dtype is None and x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {x.dtype}")
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(f"{name}: expected {last_dim} features on the last axis, got shape "
                         f"{x.shape}")
    if x.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def check_grad(d: Any, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An upstream gradient of exactly ``shape``; float of any precision, cast to ``dtype``."""
    if not isinstance(d, np.ndarray) or d.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got "
                         f"{getattr(d, 'shape', type(d).__name__)}")
    if not np.issubdtype(d.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating array, got {d.dtype}")
    return d.astype(dtype, copy=False)


def key_mask(key_padding_mask: Any, key_lengths: Any, N: int, S: int,
             dtype: np.dtype) -> np.ndarray | None:
    """The additive mask (N, 1, S) of ``key_padding_mask`` (N, S) and ``key_lengths`` (N,).

    ``key_padding_mask``: bool, True = padding (not attended), as PyTorch's
    ``key_padding_mask``; or float, added to the scores. ``key_lengths``: key ``j`` of
    sequence ``n`` is padding when ``j >= key_lengths[n]`` (0 <= length <= S). Both may be
    given (masked if either says so). ``None`` when neither is.
    """
    mask = None
    if key_padding_mask is not None:
        mask = additive_mask(key_padding_mask, "key_padding_mask", dtype, true_means="masked",
                             shape=(N, S))
    if key_lengths is not None:
        lengths = np.asarray(key_lengths)
        if lengths.shape != (N,) or not (np.issubdtype(lengths.dtype, np.integer)
                                         and lengths.dtype != np.bool_):
            raise ValueError(f"key_lengths: expected {N} integers (one per sequence), got "
                             f"{lengths.dtype} array of shape {lengths.shape}")
        if lengths.min() < 0 or lengths.max() > S:
            raise ValueError(f"key_lengths must be in [0, {S}] (S, the key length), got min "
                             f"{lengths.min()} max {lengths.max()}")
        from_lengths = additive_mask(np.arange(S)[None, :] >= lengths[:, None], "key_lengths",
                                     dtype, true_means="masked")
        mask = from_lengths if mask is None else mask + from_lengths
    return None if mask is None else mask[:, None, :]
