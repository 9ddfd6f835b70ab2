"""Binary addition, bit by bit (the R package ``rnn``'s ``trainr`` example).

Time runs from the least significant bit to the most significant one, so the carry a network
has to remember always flows forward in time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.apps.data._checks import check_bits
from minirnn.nn._validation import check_float_dtype, check_positive_int

__all__ = [
    "bin2int",
    "binary_addition",
    "binary_addition_operands",
    "encode_binary_addition",
    "int2bin",
]


def _as_int_array(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.size and arr.max() > np.iinfo(np.int64).max:   # uint64 beyond int64
        raise ValueError(f"{name} must fit in int64, got {int(arr.max())}")
    return arr.astype(np.int64)


def int2bin(values: Any, bits: int = 8, *, dtype: Any = np.float64) -> np.ndarray:
    """Write non-negative integers as bit arrays, least significant bit first.

    Parameters
    ----------
    values : int or array_like of int, shape S
        Integers in ``[0, 2**bits)``.
    bits : int
        B, the number of bits (1 to 63).
    dtype : numeric dtype
        dtype of the result, float64 by default so it can feed a network directly.

    Returns
    -------
    ndarray, shape (*S, B)
        ``out[..., k]`` is bit ``k`` (weight ``2**k``) of ``values``: ``int2bin(6, 4)`` is
        ``[0, 1, 1, 0]``. Time runs LSB -> MSB along the last axis.

    See Also
    --------
    bin2int : the inverse.
    """
    b = check_bits(bits)
    arr = _as_int_array(values, "values")
    out_dtype = np.dtype(dtype)
    if not (np.issubdtype(out_dtype, np.integer) or np.issubdtype(out_dtype, np.floating)):
        raise TypeError(f"dtype must be an integer or float dtype, got {out_dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= 2**b):
        bad = arr[(arr < 0) | (arr >= 2**b)].flat[0]
        raise ValueError(
            f"values must be in [0, 2**bits) = [0, {2**b}) for bits={b}, got {int(bad)}"
        )
    return ((arr[..., None] >> np.arange(b, dtype=np.int64)) & 1).astype(out_dtype)


def bin2int(bits: Any) -> np.ndarray:
    """Read bit arrays (least significant bit first) back as integers.

    Entries may be probabilities (a network's sigmoid outputs): each one counts as a 1 bit when
    it is greater than 0.5 and as a 0 bit otherwise (Keras's ``binary_accuracy`` threshold, so
    exactly 0.5 reads as 0).

    Parameters
    ----------
    bits : array_like, shape (*S, B)
        0/1 values, booleans, or probabilities in [0, 1]; the last axis holds the B bits
        (1 to 63), least significant first.

    Returns
    -------
    ndarray of int64, shape S
        A 0-d array for a single bit string of shape (B,).

    See Also
    --------
    int2bin : the inverse, ``bin2int(int2bin(v, B)) == v``.
    """
    arr = np.asarray(bits)
    if arr.dtype != np.bool_ and not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"bits must be a numeric or boolean array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError("bits must have at least 1 dimension (the bits on the last axis), "
                         "got a scalar")
    check_bits(arr.shape[-1], "bits.shape[-1] (the number of bits)")
    if arr.dtype != np.bool_:
        if not np.isfinite(arr).all():
            raise ValueError("bits contains NaN or Inf")
        if arr.size and (arr.min() < 0 or arr.max() > 1):
            raise ValueError(
                f"bits must lie in [0, 1] (bits or probabilities), "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
    ones = (arr > 0.5).astype(np.int64)
    weights = np.left_shift(np.int64(1), np.arange(arr.shape[-1], dtype=np.int64))
    return np.asarray((ones * weights).sum(axis=-1))


def binary_addition_operands(
    n_samples: int,
    bits: int = 8,
    *,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the integer operands of :func:`binary_addition`.

    Both operands are uniform on ``0 .. 2**(bits - 1) - 1`` (0..127 for 8 bits, as in the R
    ``rnn`` example), so their sum fits in ``bits`` bits. With the same integer ``seed``,
    ``binary_addition`` encodes exactly these operands.

    Parameters
    ----------
    n_samples : int
        N.
    bits : int
        B, 2 to 63.
    seed : int or numpy.random.Generator, optional

    Returns
    -------
    a, b : ndarray of int64, shape (N,)
    """
    n = check_positive_int(n_samples, "n_samples")
    b = check_bits(bits)
    if b < 2:
        raise ValueError(f"bits must be at least 2 (operands use bits - 1 bits), got {b}")
    rng = np.random.default_rng(seed)
    operands = rng.integers(0, 2 ** (b - 1), size=(n, 2), dtype=np.int64)
    return operands[:, 0].copy(), operands[:, 1].copy()


def encode_binary_addition(
    a: Any, b: Any, bits: int = 8, *, dtype: Any = np.float64
) -> tuple[np.ndarray, np.ndarray]:
    """Encode given sums ``a + b`` as a sequence task, least significant bit first.

    Parameters
    ----------
    a, b : array_like of int, shape (N,)
        Non-negative operands with ``a + b < 2**bits``.
    bits : int
        B = T, the number of time steps.
    dtype : float32 or float64

    Returns
    -------
    x : ndarray, shape (N, B, 2)
        ``x[:, t, 0]`` and ``x[:, t, 1]`` are bit ``t`` of ``a`` and of ``b``.
    y : ndarray, shape (N, B, 1)
        ``y[:, t, 0]`` is bit ``t`` of ``a + b``.
    """
    nb = check_bits(bits)
    dt = check_float_dtype(dtype, "dtype")
    a_arr, b_arr = _as_int_array(a, "a"), _as_int_array(b, "b")
    for name, arr in (("a", a_arr), ("b", b_arr)):
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D (N,), got shape {arr.shape}")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must have the same shape, got {a_arr.shape} and {b_arr.shape}")
    if a_arr.size and (a_arr.min() < 0 or b_arr.min() < 0):
        raise ValueError("a and b must be non-negative")
    total = a_arr + b_arr
    if total.size and total.max() >= 2**nb:
        raise ValueError(
            f"a + b must fit in bits={nb} bits (< {2**nb}), got a sum of {int(total.max())}"
        )
    x = np.stack([int2bin(a_arr, nb, dtype=dt), int2bin(b_arr, nb, dtype=dt)], axis=2)
    y = int2bin(total, nb, dtype=dt)[:, :, None]
    return x, y


def binary_addition(
    n_samples: int,
    bits: int = 8,
    *,
    seed: int | np.random.Generator | None = None,
    dtype: Any = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a batch of binary additions (R ``rnn`` package, ``trainr`` example).

    Two operands uniform on ``0 .. 2**(bits - 1) - 1`` are fed one bit per time step, least
    significant bit first; the target at each step is the same bit of their sum, which always
    fits in ``bits`` bits. The reference setting is 8 bits (operands 0..127), hidden size 16,
    learning rate 1, logistic activations.

    Parameters
    ----------
    n_samples : int
        N.
    bits : int
        B = T, 2 to 63.
    seed : int or numpy.random.Generator, optional
        With the same integer seed, :func:`binary_addition_operands` returns the operands.
    dtype : float32 or float64

    Returns
    -------
    x : ndarray, shape (N, B, 2)
        The two operands' bits at each step.
    y : ndarray, shape (N, B, 1)
        The sum's bits; ``bin2int(y[..., 0]) == bin2int(x[..., 0]) + bin2int(x[..., 1])``.
    """
    check_float_dtype(dtype, "dtype")
    a, b = binary_addition_operands(n_samples, bits, seed=seed)
    return encode_binary_addition(a, b, bits, dtype=dtype)
