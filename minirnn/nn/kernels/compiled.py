"""The ``"compiled"`` kernel mode: the fused kernels with their step loops compiled by
numba (the ``fast`` extra, ``pip install "minirnn[fast]"``), and whether they run here.

The kernels: :mod:`~minirnn.nn.kernels.compiled_lstm`, :mod:`~minirnn.nn.kernels.compiled_gru`,
:mod:`~minirnn.nn.kernels.compiled_rnn` (numba itself and the shared element-wise math:
:mod:`~minirnn.nn.kernels.jit`). Each forward is one compiled time loop (the matrix
products still in BLAS, ``np.dot`` called from the compiled code), each backward compiles
the recursion of a chunk of steps and keeps the numpy kernel's per-chunk products for the
parameter gradients. The numpy kernels (:mod:`~minirnn.nn.kernels.lstm`, ...) stay the
reference: ``tests/test_compiled_kernels.py`` compares them to 1e-12 in float64, 1e-5 in
float32. Without numba nothing is compiled and :func:`compiled_available` says why.

Cache: the compiled code is cached on disk (numba's ``cache=True``): next to the kernel
modules, in ``__pycache__``, where that folder is writable; else (a read-only install)
numba's own fallback, the user's cache folder (``~/.cache/numba`` on Linux,
``~/Library/Caches/numba`` on macOS, ``%LOCALAPPDATA%\\numba`` on Windows), or
``NUMBA_CACHE_DIR`` where set; :func:`cache_dir` tells which. The first call of each kernel
and dtype (and array layout) in a fresh environment compiles (docs/performance.md gives the
cost); later processes load the cache.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from minirnn.nn.kernels.compiled_gru import gru_backward, gru_forward
from minirnn.nn.kernels.compiled_lstm import lstm_backward, lstm_forward
from minirnn.nn.kernels.compiled_rnn import _rnn_forward_loop, rnn_backward, rnn_forward
from minirnn.nn.kernels.jit import _REASON, numba

__all__ = ["COMPILED_DTYPES", "COMPILED_KERNELS", "cache_dir", "compiled_available",
           "compiled_reason", "version_line"]


def compiled_reason() -> str | None:
    """Why the compiled kernels do not run here (None: they do)."""
    return _REASON


def compiled_available() -> bool:
    """Whether ``kernel="compiled"`` can run here (numba importable and not switched off
    by ``MINIRNN_NO_COMPILED``); :func:`compiled_reason` says why not."""
    return _REASON is None


def cache_dir() -> str | None:
    """The folder numba keeps the compiled kernels in here (None without numba): the
    kernels' ``__pycache__`` where it is writable, else the user's cache folder (numba's
    fallback), or ``NUMBA_CACHE_DIR`` where set."""
    if _REASON is not None:
        return None
    caching = importlib.import_module("numba.core.caching")
    return str(caching.FunctionCache(_rnn_forward_loop.py_func).cache_path)


def version_line() -> str:
    """One line for ``--version``-style reports: which kernels run and why."""
    if _REASON is None:
        return (f"compiled kernels: available (numba {numba.__version__}; LSTM, GRU, RNN, "
                f"beam search; cache {cache_dir()})")
    return f"compiled kernels: off ({_REASON})"


#: The compiled kernels by the fused kernel's name they replace (same signatures as
#: :data:`minirnn.nn.kernels.run.KERNELS`); the dtypes they cover.
COMPILED_KERNELS: dict[str, tuple[Any, Any]] = {"lstm": (lstm_forward, lstm_backward),
                                                "gru": (gru_forward, gru_backward),
                                                "rnn": (rnn_forward, rnn_backward)}
COMPILED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
