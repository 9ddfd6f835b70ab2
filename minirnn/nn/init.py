"""Weight initializers. Each fills an existing array in place.

Recurrent weights are fused: a matrix of shape (G * H, fan_in) holds G gate blocks of
(H, fan_in). :func:`initialize` applies fan-based schemes (Xavier/Glorot, He, orthogonal)
to each block separately, as Keras does, so every gate starts with the intended scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["SCHEMES", "Initializer", "initialize", "uniform_fan_in", "uniform_hidden"]

#: An initializer: a scheme name or a callable ``f(block, rng)`` that fills ``block`` in place.
Initializer = str | Callable[[np.ndarray, np.random.Generator], None]


def uniform_hidden(array: np.ndarray, hidden_size: int, rng: np.random.Generator) -> None:
    """PyTorch's RNN default: U(-1/sqrt(H), 1/sqrt(H)) for weights and biases alike."""
    bound = 1.0 / math.sqrt(hidden_size)
    array[...] = rng.uniform(-bound, bound, size=array.shape)


def uniform_fan_in(array: np.ndarray, fan_in: int, rng: np.random.Generator) -> None:
    """PyTorch's Linear default (kaiming_uniform with a=sqrt(5)): U(-1/sqrt(fan_in), ...)."""
    bound = 1.0 / math.sqrt(fan_in)
    array[...] = rng.uniform(-bound, bound, size=array.shape)


def _orthogonal(block: np.ndarray, rng: np.random.Generator) -> None:
    """Saxe et al. (2014): a (semi-)orthogonal matrix from the QR of a Gaussian one."""
    rows, cols = block.shape
    flat = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the distribution uniform (Haar)
    block[...] = q if rows >= cols else q.T


def _fill_block(block: np.ndarray, scheme: str, rng: np.random.Generator, hidden: int) -> None:
    fan_out, fan_in = block.shape if block.ndim == 2 else (block.shape[0], block.shape[0])
    if scheme == "uniform":
        uniform_hidden(block, hidden, rng)
    elif scheme == "zeros":
        block[...] = 0
    elif scheme == "normal":
        # Scaled normal (LeCun): N(0, 1 / fan_in).
        block[...] = rng.normal(0.0, 1.0 / math.sqrt(fan_in), block.shape)
    elif scheme == "xavier_uniform":
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        block[...] = rng.uniform(-bound, bound, block.shape)
    elif scheme == "xavier_normal":
        block[...] = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), block.shape)
    elif scheme == "he_uniform":
        bound = math.sqrt(6.0 / fan_in)
        block[...] = rng.uniform(-bound, bound, block.shape)
    elif scheme == "he_normal":
        block[...] = rng.normal(0.0, math.sqrt(2.0 / fan_in), block.shape)
    elif scheme == "orthogonal":
        _orthogonal(block, rng)
    else:  # pragma: no cover - names are validated by initialize
        raise AssertionError(scheme)


#: Scheme names accepted by :func:`initialize`; the 2-D-only ones are marked.
SCHEMES = {
    "uniform": "U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default for recurrent layers",
    "zeros": "all zeros",
    "normal": "N(0, 1/fan_in) (scaled normal)",
    "xavier_uniform": "Glorot uniform, per gate block (weights only)",
    "xavier_normal": "Glorot normal, per gate block (weights only)",
    "he_uniform": "He uniform, per gate block (weights only)",
    "he_normal": "He normal, per gate block (weights only)",
    "orthogonal": "orthogonal per gate block (weights only; Keras's recurrent default)",
}
_WEIGHTS_ONLY = {"xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "orthogonal"}


def initialize(
    array: np.ndarray,
    scheme: Initializer,
    rng: np.random.Generator,
    *,
    hidden_size: int,
    num_chunks: int = 1,
    name: str = "array",
) -> None:
    """Fill ``array`` (fused (G*H, fan_in) weights or (G*H,) biases) block by block.

    Parameters
    ----------
    array : ndarray, shape (G*H, fan_in) or (G*H,)
    scheme : str or callable
        A name from :data:`SCHEMES`, or ``f(block, rng)`` filling one gate block in place.
    rng : numpy.random.Generator
    hidden_size : int
        H (the block height and the scale of the ``"uniform"`` scheme).
    num_chunks : int
        G, the number of gate blocks stacked along axis 0.
    name : str
        Used in error messages.
    """
    if isinstance(scheme, str):
        if scheme not in SCHEMES:
            raise ValueError(f"{name}: unknown initializer {scheme!r}; choose one of "
                             f"{sorted(SCHEMES)} or pass a callable f(block, rng)")
        if array.ndim == 1 and scheme in _WEIGHTS_ONLY:
            raise ValueError(f"{name}: initializer {scheme!r} needs a matrix, not a bias vector")
    elif not callable(scheme):
        raise TypeError(
            f"{name}: initializer must be a str or callable, got {type(scheme).__name__}")
    rows = array.shape[0]
    block_rows = rows // num_chunks if rows % num_chunks == 0 else rows
    for start in range(0, rows, block_rows):
        block = array[start:start + block_rows]
        if isinstance(scheme, str):
            _fill_block(block, scheme, rng, hidden_size)
        else:
            scheme(block, rng)
