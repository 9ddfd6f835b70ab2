"""Small checks shared by every public boundary; messages name expected vs given."""

from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_float_dtype(dtype: Any, what: str) -> np.dtype:
    """Return ``dtype`` as an ``np.dtype`` if it is float32 or float64, else raise."""
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"{what}: expected float32 or float64, got {dtype!r}") from exc
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{what}: expected dtype float32 or float64, got {dt}")
    return dt


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is an int greater than zero, else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if value <= 0:
        raise ValueError(f"{name} must be greater than zero, got {value}")
    return int(value)


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as int if it is a Python or numpy int (not a bool) of at least
    ``minimum``, else raise naming ``name`` (TypeError for the type, ValueError for the value).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")
    return int(value)


def is_real_number(value: Any) -> bool:
    """Whether ``value`` is a Python or numpy int or float (bools are not numbers here)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(
        value, (int, float, np.integer, np.floating))


def check_finite_float(value: Any, name: str, *, positive: bool = False) -> float:
    """Return ``value`` as float if it is a finite real number (greater than zero with
    ``positive``), else raise naming ``name`` (TypeError for the type, ValueError for the
    value). Python and numpy ints and floats are accepted; bools and strings are not."""
    need = "a finite number greater than zero" if positive else "a finite number"
    if not is_real_number(value):
        raise TypeError(f"{name} must be {need}, got {type(value).__name__} ({value!r})")
    out = float(value)
    if not np.isfinite(out) or (positive and not out > 0):
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return out


def check_probability(value: Any, name: str, *, allow_one: bool = False) -> float:
    """Return ``value`` as float if it lies in [0, 1) ([0, 1] with ``allow_one``), else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    if allow_one:
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    elif not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def check_finite_output(y: np.ndarray, layer: str, x: np.ndarray) -> np.ndarray:
    """Raise FloatingPointError if finite inputs overflowed to a non-finite output."""
    if y.size and not (np.isfinite(y.min()) and np.isfinite(y.max())):
        raise FloatingPointError(
            f"{layer} produced NaN/Inf from finite input (largest |input| "
            f"{float(np.max(np.abs(x))):.3g}): the values overflow {y.dtype}; scale the input"
        )
    return y


def check_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...],
    dtype: np.dtype | None = None,
    last_dim: int | None = None,
    finite: bool = True,
    allow_empty: bool = False,
) -> np.ndarray:
    """Validate a floating array argument and return it unchanged.

    Parameters
    ----------
    x : Any
        The value to check.
    name : str
        Name used in error messages (``"input"``, ``"h0"``...).
    ndim : int or tuple of int
        Accepted numbers of dimensions.
    dtype : np.dtype, optional
        Required dtype (the model's). ``None`` accepts float32 or float64.
    last_dim : int, optional
        Required size of the last axis.
    finite : bool
        Reject NaN and Inf.
    allow_empty : bool
        Accept an array with a zero-length axis (an empty batch, as ``torch.nn.Linear`` does).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(x).__name__}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in ndims:
        expected = " or ".join(f"{d}-D" for d in ndims)
        raise ValueError(f"{name} must be {expected}, got {x.ndim}-D array of shape {x.shape}")
    if dtype is not None:
        if x.dtype != dtype:
            raise TypeError(
                f"{name} must have dtype {dtype} (the model's dtype), got {x.dtype}; "
                f"convert with x.astype(np.{dtype})"
            )
    else:
        check_float_dtype(x.dtype, name)
    if last_dim is not None and x.shape[-1] != last_dim:
        raise ValueError(
            f"{name} must have {last_dim} features on its last axis, got shape {x.shape}"
        )
    if x.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {x.shape}")
    if finite and not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or Inf")
    return x


def check_bool(value: Any, name: str) -> bool:
    """Return ``value`` as bool if it is a Python or numpy bool, else raise naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__} ({value!r})")
    return bool(value)


def check_positive_float(value: Any, name: str, *, allow_inf: bool = False,
                         optional: bool = False) -> float | None:
    """Return ``value`` as float if it is a real number > 0, else raise naming ``name``.

    Python and numpy ints and floats are accepted (``np.float32(1.0)`` as well as ``1``);
    bools and strings are not. NaN is always refused; ``inf`` only with ``allow_inf`` (the
    one rule for "no limit" everywhere). ``None`` passes through with ``optional``.
    """
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__} "
                        f"({value!r})")
    out = float(value)
    if not out > 0 or (out == float("inf") and not allow_inf):
        suffix = " (or inf for no limit)" if allow_inf else " (finite)"
        raise ValueError(f"{name} must be a positive number{suffix}, got {value!r}")
    return out


def check_seed(value: Any, name: str = "seed") -> Any:
    """A seed for ``np.random.default_rng``: None, an int >= 0, a SeedSequence or a Generator."""
    if value is None or isinstance(value, (np.random.Generator, np.random.SeedSequence)):
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be None, a non-negative int or a numpy Generator, "
                        f"got {type(value).__name__} ({value!r})")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


def check_mask(mask: Any, shape: tuple[int, ...], name: str = "mask") -> np.ndarray:
    """A loss mask: bool or 0/1 values with a leading part of ``shape`` (the targets').

    Weights other than 0 and 1 (0.5, 2, -1) and NaN are refused: a mask says which
    elements count, it does not weigh them.
    """
    arr = np.asarray(mask)
    if arr.ndim == 0 or arr.shape != tuple(shape[:arr.ndim]):
        raise ValueError(f"{name} must have a leading shape of the targets {tuple(shape)}, "
                         f"got {arr.shape}")
    if arr.dtype != np.bool_:
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise TypeError(f"{name} must be bool or 0/1 numbers, got dtype {arr.dtype}")
        bad = (arr != 0) & (arr != 1)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{name} must hold only 0 and 1 (or bools), got "
                             f"{arr[bad].flat[0]!r} at {where}")
    return arr


def check_lengths(lengths: Any, n: int, steps: int | None, name: str = "lengths"
                  ) -> np.ndarray:
    """Valid steps per sequence: ``n`` integers in [1, steps] (one per sequence).

    The one lengths check of the Solver, the recurrent layers, ``LastStep`` and pooling.
    """
    arr = np.asarray(lengths)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape (N,) = ({n},), got {arr.shape}")
    if arr.min() < 1 or (steps is not None and arr.max() > steps):
        raise ValueError(f"{name} must be {n} integers in [1, {steps}] (in [1, T] = "
                         f"[1, {steps}], got min {arr.min()} max {arr.max()})")
    return arr


def check_weights(model: Any, weights: Any, what: str) -> dict[str, np.ndarray]:
    """``weights`` as ``model``'s state dict: its names, shapes and dtypes, all finite."""
    if not isinstance(weights, dict):
        raise TypeError(f"{what} must be a dict of arrays, got {type(weights).__name__}")
    own = dict(model.named_parameters())
    if set(weights) != set(own):
        raise ValueError(f"{what} do not match the model (missing "
                         f"{sorted(set(own) - set(weights))}, unexpected "
                         f"{sorted(set(weights) - set(own))})")
    for name, param in own.items():
        value = weights[name]
        if not isinstance(value, np.ndarray) or value.shape != param.shape \
                or value.dtype != param.dtype:
            raise ValueError(f"{what}: {name!r} must be a {param.dtype} array of shape "
                             f"{param.shape}, got {getattr(value, 'shape', type(value))}")
        if not np.isfinite(value).all():
            raise ValueError(f"{what}: {name!r} contains NaN or Inf")
    return weights


def check_sample_weight(weight: Any, n: int, name: str = "sample_weight") -> np.ndarray:
    """Per-sample loss weights: ``n`` finite numbers >= 0 (a weighted mean, as PyTorch's
    ``weight=`` and Keras's ``sample_weight``)."""
    arr = np.asarray(weight)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one weight per sample), "
                         f"got {arr.shape}")
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    return arr


def check_tbptt(tbptt: Any) -> tuple[int, int] | None:
    """``tbptt`` as ``(k1, k2)``: an int k or a pair, k2 a multiple of k1; None passes."""
    if tbptt is None:
        return None
    if isinstance(tbptt, (int, np.integer)) and not isinstance(tbptt, bool):
        k1, k2 = tbptt, tbptt
    elif isinstance(tbptt, (tuple, list)) and len(tbptt) == 2:
        k1, k2 = tbptt
    else:
        raise TypeError(f"tbptt must be an int or a pair (k1, k2), got {tbptt!r}")
    k1 = check_positive_int(k1, "tbptt k1")
    k2 = check_positive_int(k2, "tbptt k2")
    if k2 < k1 or k2 % k1:
        raise ValueError(f"tbptt k2 must be a multiple of k1 (k2 >= k1), got ({k1}, {k2})")
    return k1, k2
