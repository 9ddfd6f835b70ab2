"""Weights between minirnn/PyTorch and Keras layouts, as plain numpy functions.

minirnn's ``state_dict()`` *is* PyTorch's layout (same names, shapes and gate
orders), so moving weights to PyTorch is ``module.load_state_dict`` on the
arrays. Keras stores one recurrent layer (one direction) as::

    kernel            (D, G*H)   = weight_ih.T   with Keras's gate order
    recurrent_kernel  (H, G*H)   = weight_hh.T
    bias              (G*H,)     = bias_ih + bias_hh
                      (2, G*H)   = [bias_ih; bias_hh]   for GRU(reset_after=True)

Gate orders: LSTM is ``i, f, g, o`` in both (Keras calls g "c"); GRU is
``r, z, n`` in PyTorch/minirnn and ``z, r, h`` in Keras. Keras's single bias is
the sum of PyTorch's two (they only ever appear added), so converting from
Keras puts it all in ``bias_ih`` and zeros in ``bias_hh`` -- the same function.
For GRU with ``reset_after=True`` the recurrent bias sits inside ``r * (.)`` and
both are kept. A Keras ``Bidirectional`` layer holds a forward and a backward
layer: convert each with ``reverse=False`` / ``True``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["from_keras_weights", "to_keras_weights"]

_CHUNKS = {"rnn": 1, "lstm": 4, "gru": 3}


def _check_kind(kind: str) -> int:
    if kind not in _CHUNKS:
        raise ValueError(f"kind must be one of {sorted(_CHUNKS)}, got {kind!r}")
    return _CHUNKS[kind]


def _gate_order(kind: str, hidden: int) -> np.ndarray:
    """Row permutation taking PyTorch's gate blocks to Keras's (its own inverse)."""
    blocks = [1, 0, 2] if kind == "gru" else list(range(_CHUNKS[kind]))
    return np.concatenate([np.arange(b * hidden, (b + 1) * hidden) for b in blocks])


def _suffix(layer: int, reverse: bool) -> str:
    return f"_l{layer}" + ("_reverse" if reverse else "")


def to_keras_weights(
    kind: str,
    state_dict: Mapping[str, np.ndarray],
    *,
    layer: int = 0,
    reverse: bool = False,
    reset_after: bool = True,
) -> list[np.ndarray]:
    """Keras ``layer.set_weights`` list for one layer and direction of a minirnn/PyTorch dict.

    Parameters
    ----------
    kind : {"rnn", "lstm", "gru"}
        ``rnn`` maps to Keras ``SimpleRNN``.
    state_dict : mapping of str to ndarray
        ``layer.state_dict()`` of a minirnn layer (or a torch one, as numpy).
    layer : int
        Which stacked layer (``_l{layer}``).
    reverse : bool
        The ``_reverse`` direction.
    reset_after : bool
        GRU only: the variant (must match the minirnn layer and the Keras layer).

    Returns
    -------
    list of ndarray
        ``[kernel, recurrent_kernel, bias]`` (no bias if the layer has none).
    """
    _check_kind(kind)
    sfx = _suffix(layer, reverse)
    names = [k for k in state_dict if k.endswith(sfx)]
    if f"weight_ih{sfx}" not in state_dict:
        raise KeyError(f"no weight_ih{sfx} in the state dict (keys: {sorted(state_dict)})")
    extra = sorted(set(names) - {f"{p}{sfx}" for p in
                                 ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
    if extra:
        raise ValueError(f"Keras has no equivalent of {extra} (projection or peepholes)")
    w_ih, w_hh = state_dict[f"weight_ih{sfx}"], state_dict[f"weight_hh{sfx}"]
    hidden = w_hh.shape[1]
    order = _gate_order(kind, hidden)
    weights = [np.ascontiguousarray(w_ih[order].T), np.ascontiguousarray(w_hh[order].T)]
    if f"bias_ih{sfx}" in state_dict:
        b_ih, b_hh = state_dict[f"bias_ih{sfx}"][order], state_dict[f"bias_hh{sfx}"][order]
        weights.append(np.stack([b_ih, b_hh]) if kind == "gru" and reset_after else b_ih + b_hh)
    return weights


def from_keras_weights(
    kind: str,
    weights: Sequence[np.ndarray],
    *,
    layer: int = 0,
    reverse: bool = False,
    reset_after: bool = True,
) -> dict[str, np.ndarray]:
    """minirnn/PyTorch state-dict entries for one Keras recurrent layer's ``get_weights()``.

    Parameters
    ----------
    kind : {"rnn", "lstm", "gru"}
    weights : sequence of ndarray
        ``[kernel, recurrent_kernel]`` or ``[kernel, recurrent_kernel, bias]``.
    layer, reverse
        Name suffix of the entries (``_l{layer}``, ``_reverse``).
    reset_after : bool
        GRU only: which variant the Keras layer is (decides the bias shape).

    Returns
    -------
    dict of str to ndarray
        ``weight_ih``, ``weight_hh`` (and ``bias_ih``, ``bias_hh``) with the suffix;
        merge the dicts of all layers/directions and pass to ``load_state_dict``.
    """
    chunks = _check_kind(kind)
    if len(weights) not in (2, 3):
        raise ValueError(f"expected [kernel, recurrent_kernel(, bias)], got {len(weights)} arrays")
    kernel, recurrent = (np.asarray(w) for w in weights[:2])
    hidden = recurrent.shape[0]
    if kernel.ndim != 2 or kernel.shape[1] != chunks * hidden or \
            recurrent.shape != (hidden, chunks * hidden):
        raise ValueError(
            f"{kind}: expected kernel (D, {chunks}*H) and recurrent_kernel (H, {chunks}*H), "
            f"got {kernel.shape} and {recurrent.shape}"
        )
    order = _gate_order(kind, hidden)
    sfx = _suffix(layer, reverse)
    out = {f"weight_ih{sfx}": np.ascontiguousarray(kernel.T[order]),
           f"weight_hh{sfx}": np.ascontiguousarray(recurrent.T[order])}
    if len(weights) == 3:
        bias = np.asarray(weights[2])
        if kind == "gru" and reset_after:
            if bias.shape != (2, 3 * hidden):
                raise ValueError(f"GRU(reset_after=True) bias must be (2, {3 * hidden}), "
                                 f"got {bias.shape}")
            out[f"bias_ih{sfx}"], out[f"bias_hh{sfx}"] = bias[0][order], bias[1][order]
        else:
            if bias.shape != (chunks * hidden,):
                raise ValueError(f"bias must be ({chunks * hidden},), got {bias.shape}")
            out[f"bias_ih{sfx}"] = bias[order].copy()
            out[f"bias_hh{sfx}"] = np.zeros_like(bias)
    return out
