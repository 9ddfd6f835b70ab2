"""Which recurrence runs: the public switch between the fused kernels and the reference
loop.

A recurrent layer takes ``kernel="auto" | "fused" | "reference" | "compiled"`` (as
Keras's ``use_cudnn``):

- ``"reference"`` runs the cell's own readable step code (``minirnn/nn/cells/lstm.py``,
  ...) through the generic per-step loop (``minirnn/nn/layers/bptt.py``), always;
- ``"fused"`` runs the cell's fused kernel (``minirnn/nn/kernels/lstm.py``, ``gru.py``,
  ``rnn.py``) and raises :class:`ValueError` saying why when none applies;
- ``"compiled"`` runs the fused kernel with its step loops compiled by numba
  (:mod:`~minirnn.nn.kernels.compiled`, the ``fast`` extra) where one exists for the
  cell's kernel and dtype (LSTM, GRU, RNN; float32, float64), else the numpy fused kernel,
  else the reference loop; without numba, the numpy kernel (:func:`compiled_available`
  says why);
- ``"auto"`` (default) runs the compiled kernel where numba is importable and the kernel
  is in :data:`AUTO_COMPILED` (those measured faster than their numpy kernel: all three),
  else the numpy fused kernel where one applies, else the reference loop. Without numba
  (or with ``MINIRNN_NO_COMPILED=1``) it runs the numpy kernels silently.

:func:`use_kernel` overrides ``"auto"`` inside a ``with`` block. The override lives in a
:class:`contextvars.ContextVar`: it applies to the thread (or asyncio task) that entered
the block, and other threads are not affected, so it is thread-safe.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from minirnn.nn.cells.base import STEP_MATH, Cell
from minirnn.nn.kernels.run import COMPILED_PREFIX, KERNELS

__all__ = ["AUTO_COMPILED", "COMPILED_NAMES", "MODES", "check_mode", "choose", "compiled_available",
           "compiled_report", "kernel_name", "resolve", "unavailable", "use_kernel"]

#: The values of a recurrent layer's ``kernel`` argument.
MODES = ("auto", "fused", "reference", "compiled")

#: The fused kernels numba compiles (``kernel="compiled"``; the compiled module's
#: ``COMPILED_KERNELS``, named here so that ``--version`` need not import numba).
COMPILED_NAMES = frozenset({"lstm", "gru", "rnn"})
#: The compiled code that ``"auto"`` runs where numba is importable: each was faster
#: compiled than in numpy at every benchmark size and dtype, or equal within the rounds'
#: range (docs/performance.md, *Compiled kernels*; docs/seq2seq-model.md for ``"beam"``,
#: beam search's bookkeeping in :mod:`minirnn.nn.seq2seq.decode`, which follows the same
#: rule under that name).
AUTO_COMPILED: frozenset[str] = frozenset({"lstm", "gru", "rnn", "beam"})

_OVERRIDE: ContextVar[str | None] = ContextVar("minirnn_kernel_override", default=None)


def check_mode(mode: Any, what: str = "kernel") -> str:
    """``mode`` if it is one of :data:`MODES`, else a ValueError naming what was given."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{what} must be one of 'auto', 'fused', 'reference', got {mode!r} "
                         "(or 'compiled': the numba kernels of the fast extra)")
    return mode


@contextmanager
def use_kernel(mode: str) -> Iterator[None]:
    """Inside the block, recurrent layers built with ``kernel="auto"`` run as ``mode``.

    >>> from minirnn.nn.kernels import use_kernel
    >>> with use_kernel("reference"):   # doctest: +SKIP
    ...     y_ref = lstm.forward(x)     # the readable cell code, step by step

    Layers given ``"fused"``, ``"compiled"`` or ``"reference"`` explicitly keep their
    choice. Blocks nest; the previous setting is restored on exit, also after an
    exception. The setting is per thread (a :class:`contextvars.ContextVar`): other
    threads do not see it.
    """
    token = _OVERRIDE.set(check_mode(mode, "use_kernel's mode"))
    try:
        yield
    finally:
        _OVERRIDE.reset(token)


def resolve(mode: str) -> str:
    """The mode a layer built with ``kernel=mode`` runs in here and now: ``"auto"``
    follows the innermost :func:`use_kernel` block of this thread."""
    if mode == "auto":
        return _OVERRIDE.get() or "auto"
    return mode


def compiled_available() -> tuple[bool, str]:
    """Whether ``kernel="compiled"`` runs compiled kernels here, and a line saying which
    or why not (for ``--version``-style reports). Imports numba on the first call."""
    from minirnn.nn.kernels import compiled

    return compiled.compiled_available(), compiled.version_line()


def compiled_report() -> str:
    """The ``--version`` line about the compiled kernels, without importing numba (its
    import is about half a second of a ``--version`` that should take a tenth of it).

    Where the compiled kernels are already loaded, :func:`compiled_available`'s line;
    else numba's installed version (package metadata,
    :func:`~minirnn.nn.kernels.numba_status.numba_installed`) and the kernels it compiles,
    or why they are off. That numba imports is checked when a compiled kernel first runs
    (:func:`compiled_available` says so then), and where it fails, ``"auto"`` runs the numpy
    kernels as it does without numba.
    """
    if "minirnn.nn.kernels.compiled" in sys.modules:
        return compiled_available()[1]
    from minirnn.nn.kernels.numba_status import numba_installed

    version, why_not = numba_installed()
    if why_not is not None:
        return f"compiled kernels: off ({why_not})"
    # The kernels numba compiles (compiled.COMPILED_KERNELS, the same as COMPILED_NAMES: a
    # test holds them equal), without importing the module that compiles them.
    kernels = ", ".join(sorted(name.upper() for name in COMPILED_NAMES))
    return (f"compiled kernels: available (numba {version}; {kernels}, beam search; "
            "compiled at first use)")


def _compiled_name(cell: Cell, name: str) -> str:
    """The registry name ``kernel="compiled"`` runs ``cell`` with: the compiled kernel
    (``"compiled:<name>"``) where numba is importable and one exists for this kernel and
    dtype, else the numpy kernel ``name``."""
    from minirnn.nn.kernels import compiled

    if (compiled.compiled_available() and name in compiled.COMPILED_KERNELS
            and cell.weight_hh.data.dtype in compiled.COMPILED_DTYPES):
        return COMPILED_PREFIX + name
    return name


def unavailable(cell: Cell) -> str | None:
    """Why no fused kernel runs ``cell`` (None: one does), in words for an error message."""
    cls = type(cell)
    name = cls.fused_kernel
    if name is None:
        parents = [b for b in cls.__mro__[1:] if issubclass(b, Cell) and b.fused_kernel]
        if parents:
            parent = parents[0]
            parent_kernel = parent.fused_kernel
            own = sorted({m for k in cls.__mro__ if k is not parent and issubclass(k, parent)
                          for m in STEP_MATH if m in k.__dict__})
            return (f"{cls.__name__} overrides {', '.join(own)} of {parent.__name__}, so "
                    f"{parent.__name__}'s {parent_kernel!r} kernel would not compute "
                    "its math (set fused_kernel on the subclass if it still does)")
        return (f"{cls.__name__} names no fused kernel (a custom cell: its fused_kernel is "
                "None); only the reference loop runs it")
    if name not in KERNELS:
        return (f"{cls.__name__}.fused_kernel is {name!r}, not one of the kernels "
                f"{sorted(KERNELS)}")
    reason = cell.fused_kernel_unsupported()
    if reason is None and (cell.bias_ih is None) != (cell.bias_hh is None):
        reason = "a bias on only one of the two projections (input_bias=False)"
    if reason is not None:
        return f"the {name!r} kernel does not cover this {cls.__name__}: {reason}"
    return None


def kernel_name(cell: Cell) -> str | None:
    """The fused kernel that applies to ``cell`` (None: only the generic loop runs it), by
    its numpy name; ``kernel="auto"`` runs its compiled version where numba is importable
    and the name is in :data:`AUTO_COMPILED` (:func:`choose` gives the registry name)."""
    return None if unavailable(cell) is not None else type(cell).fused_kernel


def choose(cell: Cell, mode: str, *, lengths: bool = False,
           record: bool = False) -> str | None:
    """The kernel a layer in ``mode`` (resolved: see :func:`resolve`) runs ``cell`` with,
    None for the reference loop.

    ``lengths`` (variable-length batch) and ``record`` (every step's state kept) need the
    reference loop: ``"auto"`` takes it, ``"fused"`` raises a ValueError that says why.
    """
    if mode == "reference":
        return None
    why = unavailable(cell)
    if why is None and lengths:
        why = "variable lengths (lengths=...) run on the reference loop only"
    if why is None and record:
        why = "record_states keeps every step's state, which only the reference loop does"
    if why is None:
        name = type(cell).fused_kernel
        if name and (mode == "compiled" or (mode == "auto" and name in AUTO_COMPILED)):
            return _compiled_name(cell, name)
        return name
    if mode == "fused":
        raise ValueError(f"kernel='fused' but no fused kernel applies: {why}; use "
                         "kernel='auto' or 'reference'")
    return None
