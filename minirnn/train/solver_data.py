"""The Solver's data preparation: checks, casts, validation split, masks (before training).

``x`` is one array or, for a model with several inputs, a tuple (or list) or dict of arrays
that share their first axis N (:data:`Inputs`): every member is checked, cast (floating
members to the model's dtype, integer ids and lengths kept), split and indexed together.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from minirnn.nn._validation import (
    check_lengths,
    check_mask,
    check_probability,
    check_sample_weight,
)
from minirnn.nn.layers.base import Layer, no_grad
from minirnn.nn.model import check_data

if TYPE_CHECKING:
    from minirnn.train.solver import Solver

__all__ = ["Inputs", "as_array", "as_data", "as_inputs", "as_lengths", "check_checkpoint_path",
           "check_inputs_fit", "describe", "is_structured", "make_mask", "n_samples",
           "prepare_data", "take"]

#: What the Solver feeds a model: one array (N, ...), or a tuple / dict of arrays that all
#: have N rows (a model with several inputs receives the same structure per batch).
Inputs = np.ndarray | tuple[np.ndarray, ...] | dict[str, np.ndarray]


def as_array(a: Any, name: str) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy ndarray, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)
            or a.dtype == np.bool_):
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.ndim == 0 or a.shape[0] == 0 or a.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    return a


def is_structured(x: Any) -> bool:
    """True for several inputs: a tuple, list or dict (of arrays)."""
    return isinstance(x, (tuple, list, dict))


def _members(x: Inputs) -> list[tuple[str, np.ndarray]]:
    """``(label, array)`` of every member: ``x[0]`` ... or ``x['name']``."""
    if isinstance(x, dict):
        return [(f"x[{k!r}]", a) for k, a in x.items()]
    if isinstance(x, (tuple, list)):
        return [(f"x[{i}]", a) for i, a in enumerate(x)]
    return [("x", x)]


def describe(x: Inputs) -> str:
    """A short description of ``x`` for messages, e.g. ``x[0] (6, 5) int64, x[1] (6,)``."""
    return ", ".join(f"{label} {tuple(a.shape)} {a.dtype}" for label, a in _members(x))


def as_inputs(x: Any, dtype: np.dtype, what: str) -> Inputs:
    """Check several inputs: a tuple/list or dict of numeric, finite, non-empty arrays
    with the same first axis N; floating members are cast to ``dtype`` (integer and bool
    members such as token ids, lengths and masks are kept as they are).

    Parameters
    ----------
    x : tuple, list or dict of ndarray, each of shape (N, ...)
    dtype : numpy dtype
        The model's floating dtype.
    what : str
        ``"training"``, ``"validation"``, ... (starts the messages).

    Returns
    -------
    tuple or dict of ndarray
        A list becomes a tuple; a dict keeps its keys and their order.

    Raises
    ------
    TypeError
        A member is not a numeric ndarray, or a dict key is not a str.
    ValueError
        No member, an empty or 0-d member, NaN/Inf, or a member whose N differs
        (the message names it and the first member).
    """
    if isinstance(x, dict):
        if bad := [k for k in x if not isinstance(k, str)]:
            raise TypeError(f"{what} x: dict keys must be str, got {bad[0]!r}")
        items: list[tuple[Any, Any]] = list(x.items())
    else:
        items = list(enumerate(x))
    if not items:
        raise ValueError(f"{what} x must hold at least one array, got an empty "
                         f"{type(x).__name__}")
    checked: list[tuple[Any, np.ndarray]] = []
    for key, a in items:
        label = f"{what} x[{key!r}]"
        a = as_array(a, label)
        if np.issubdtype(a.dtype, np.floating):
            a = a.astype(dtype, copy=False)
            if not np.isfinite(a).all():
                raise ValueError(f"{label} contains NaN or Inf")
        checked.append((key, a))
    key0, n = checked[0][0], checked[0][1].shape[0]
    for key, a in checked[1:]:
        if a.shape[0] != n:
            raise ValueError(
                f"{what} x[{key!r}] has {a.shape[0]} samples (first axis) but x[{key0!r}] has "
                f"{n}: every input of a model with several inputs needs the same first axis "
                f"N, got {describe(x if isinstance(x, dict) else tuple(x))}")
    if isinstance(x, dict):
        return dict(checked)
    return tuple(a for _, a in checked)


def n_samples(x: Inputs) -> int:
    """N, the first axis shared by every member."""
    return int(_members(x)[0][1].shape[0])


def take(x: Inputs, idx: Any) -> Inputs:
    """Rows ``idx`` (an index array or a slice) of every member, in the same structure."""
    if isinstance(x, dict):
        return {k: a[idx] for k, a in x.items()}
    if isinstance(x, (tuple, list)):
        return tuple(a[idx] for a in x)
    return x[idx]


def same_structure(x: Inputs, ref: Inputs, what: str) -> None:
    """Refuse validation inputs shaped unlike the training inputs (type, members, keys)."""
    if is_structured(x) != is_structured(ref) or isinstance(x, dict) != isinstance(ref, dict):
        raise TypeError(f"{what} x must have the structure of the training x "
                        f"({type(ref).__name__}), got {type(x).__name__}")
    if isinstance(x, dict) and isinstance(ref, dict) and list(x) != list(ref):
        raise ValueError(f"{what} x has keys {list(x)}, the training x {list(ref)}")
    if isinstance(x, tuple) and isinstance(ref, tuple) and len(x) != len(ref):
        raise ValueError(f"{what} x has {len(x)} inputs, the training x {len(ref)}")


def check_inputs_fit(model: Layer, x: Inputs, y: np.ndarray | None = None, loss: Any = None,
                     *, what: str = "training") -> None:
    """Raise in the user's terms if several inputs ``x`` (and ``y``) do not fit ``model``.

    The multi-input counterpart of :func:`minirnn.nn.model.check_data`: runs
    ``model.forward`` in evaluation mode (under ``no_grad``) on the first sample of every
    member, then the loss on that output and the first target, so that a problem is
    reported before training starts, with the shapes of the whole arrays.
    """
    if any(getattr(layer, "stateful", False) for layer in [model, *(
            la for _, la in model.named_layers())]):
        return  # a stateful layer would carry this probe's state into the next batch
    name = type(model).__name__
    try:
        with no_grad():
            h = model.forward(take(x, slice(0, 1)))  # type: ignore[arg-type]
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        kind = ValueError if isinstance(exc, (ValueError, IndexError)) else TypeError
        raise kind(f"{what} x ({describe(x)}) does not fit {name}: "
                   f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(h, np.ndarray):
        raise TypeError(f"{name}.forward must return one ndarray (the prediction the loss "
                        f"compares with y), got {type(h).__name__}")
    if y is None or loss is None:
        return
    try:
        loss.forward(h, y[:1])
    except (ValueError, TypeError):
        try:
            loss.forward(np.broadcast_to(h, (y.shape[0], *h.shape[1:])), y)
        except (ValueError, TypeError) as exc:
            raise type(exc)(
                f"{what} y has shape {y.shape}, but {name}'s output for x ({describe(x)}) "
                f"has shape {(y.shape[0], *h.shape[1:])}: {exc}") from exc


def as_data(x: Any, y: Any, dtype: np.dtype, what: str,
            integer_targets: bool = False) -> tuple[Inputs, np.ndarray]:
    """Validate a pair (same first axis, finite, non-empty); cast x (and float y) to ``dtype``.

    ``x`` is one array (at least 2-D) or several (:func:`as_inputs`).
    """
    if is_structured(x):
        xs = as_inputs(x, dtype, what)
        y = as_array(y, f"{what} y")
        if not (integer_targets and np.issubdtype(y.dtype, np.integer)):
            y = y.astype(dtype, copy=False)
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError(f"{what} y contains NaN or Inf")
        label, first = _members(xs)[0]
        if y.shape[0] != first.shape[0]:
            raise ValueError(f"{what} y has {y.shape[0]} samples but {label} has "
                             f"{first.shape[0]}: x and y must have the same number of "
                             "samples")
        return xs, y
    x = as_array(x, f"{what} x")
    y = as_array(y, f"{what} y")
    if x.ndim < 2:
        raise ValueError(f"{what} x must be at least 2-D (samples first), got shape {x.shape}")
    x = x.astype(dtype, copy=False)
    if not (integer_targets and np.issubdtype(y.dtype, np.integer)):
        y = y.astype(dtype, copy=False)
    for name, a in ((f"{what} x", x), (f"{what} y", y)):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or Inf")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{what} x and y must have the same number of samples, "
                         f"got {x.shape[0]} and {y.shape[0]}")
    return x, y


def as_lengths(lengths: Any, n: int, steps: int | None, what: str) -> np.ndarray | None:
    return None if lengths is None else check_lengths(lengths, n, steps, f"{what} lengths")


def check_checkpoint_path(path: Any) -> str | os.PathLike[str] | None:
    """Refuse an unusable checkpoint path now, not after the first epoch was trained."""
    if path is None:
        return None
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_path must be a str or PathLike, got {type(path).__name__}")
    text = os.fspath(path)
    if not text:
        raise ValueError("checkpoint_path must not be empty")
    if os.path.isdir(text):
        raise ValueError(f"checkpoint_path {text!r} is a directory; give a file name")
    folder = os.path.dirname(text) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"checkpoint_path {text!r}: folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"checkpoint_path {text!r}: folder {folder!r} is not writable")
    return path


def prepare_data(solver: Solver, x: Any, y: Any, validation_data: Any, validation_split: Any,
                  mask: Any, lengths: Any, weight: Any
                  ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:
    """Check and split the data: ((x, y, mask, lengths, sample_weight),
    (x_val, y_val, lengths_val, mask_val)).

    With several inputs (``x`` a tuple or dict) there is no ``lengths=`` (each input's
    lengths are members of ``x``, which the model reads), the third element of
    ``validation_data`` is the validation loss mask, and truncated BPTT is refused.
    Everything is checked before anything changes.
    """
    integer_targets = solver._integer_targets
    x, y = as_data(x, y, solver.model.dtype, "training", integer_targets)
    multi = is_structured(x)
    if multi:
        if lengths is not None:
            raise TypeError("lengths= is for a single input array; a model with several "
                            "inputs reads each input's lengths from x itself (pass them as "
                            "members of x, and a loss mask as mask=)")
        if solver.tbptt is not None:
            raise ValueError("tbptt needs one input array x (N, T, D); a model with several "
                             "inputs is trained on whole sequences")
    assert not multi or isinstance(x, (tuple, dict))
    n = n_samples(x)
    steps = x.shape[1] if isinstance(x, np.ndarray) and x.ndim == 3 else None
    lengths = as_lengths(lengths, n, steps, "training")
    mask = make_mask(mask, lengths, x, y)
    if weight is not None:
        weight = check_sample_weight(weight, n)
    val: tuple[Any, ...] | None = None
    if validation_data is not None:
        third = "mask_val" if multi else "lengths_val"
        if not isinstance(validation_data, tuple) or len(validation_data) not in (2, 3):
            raise TypeError(f"validation_data must be a tuple (x_val, y_val) or "
                            f"(x_val, y_val, {third})")
        xv, yv = as_data(validation_data[0], validation_data[1], solver.model.dtype,
                         "validation", integer_targets)
        same_structure(xv, x, "validation")
        extra = validation_data[2] if len(validation_data) == 3 else None
        if multi:
            mv = None if extra is None else check_mask(extra, yv.shape, "validation mask")
            val = (xv, yv, None, mv)
        else:
            assert isinstance(xv, np.ndarray)
            lv = as_lengths(extra, xv.shape[0], xv.shape[1] if xv.ndim == 3 else None,
                            "validation")
            val = (xv, yv, lv, None)
    elif validation_split is not None and validation_split is not False:
        validation_split = check_probability(validation_split, "validation_split")
        if validation_split:
            n_val = round(n * validation_split)
            if n_val < 1 or n_val >= n:
                raise ValueError(
                    f"validation_split {validation_split} of {n} samples leaves "
                    f"{n_val} for validation: need at least 1 on each side")
            cut = n - n_val
            # A loss mask given for several inputs goes with its samples to validation.
            val = (take(x, slice(cut, None)), y[cut:],
                   None if lengths is None else lengths[cut:],
                   None if mask is None or not multi else mask[cut:])
            x, y = take(x, slice(None, cut)), y[:cut]
            lengths = None if lengths is None else lengths[:cut]
            mask = None if mask is None else mask[:cut]
            weight = None if weight is None else weight[:cut]
    # Shape problems in the user's terms (layer, whole-array shapes), before training.
    if multi:
        check_inputs_fit(solver.model, x, y, solver.loss, what="training")
        if val is not None:
            check_inputs_fit(solver.model, val[0], val[1], solver.loss, what="validation")
    else:
        assert isinstance(x, np.ndarray)
        check_data(solver.model, x, y, solver.loss, lengths=lengths, what="training")
        if val is not None:
            check_data(solver.model, val[0], val[1], solver.loss, lengths=val[2],
                       what="validation")
        if solver.tbptt is not None and (x.ndim != 3 or y.ndim < 2 or y.shape[1] != x.shape[1]):
            raise ValueError(f"tbptt needs per-step targets y (N, T, ...) for x (N, T, D), "
                             f"got x {x.shape} and y {y.shape}")
    n = n_samples(x)
    if solver.stateful and n % solver.batch_size and not solver.drop_last:
        raise ValueError(f"stateful=True needs equal batches: {n} samples are not "
                         f"a multiple of batch_size {solver.batch_size} (use drop_last=True)")
    return (x, y, mask, lengths, weight), val


def make_mask(mask: Any, lengths: np.ndarray | None, x: Inputs,
              y: np.ndarray) -> np.ndarray | None:
    """The loss mask: ``mask`` checked against ``y``'s shape, or for one input array
    (N, T, D) with per-step targets the valid steps of ``lengths``, or None."""
    if mask is not None:
        return check_mask(mask, y.shape)
    if (lengths is not None and isinstance(x, np.ndarray) and x.ndim == 3 and y.ndim >= 2
            and y.shape[1] == x.shape[1]):
        return np.arange(x.shape[1])[None, :] < lengths[:, None]
    return None
