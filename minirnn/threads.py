"""How many BLAS threads minirnn's recurrent layers use: one decision per process.

The per-step recurrent product of a small layer (``(N, H) @ (H, G*H)``) is too small to
share between threads: on the 2-core project machine, (32, 64) @ (64, 256) took 17 us on
one OpenBLAS thread and 25-64 us on two, and on a loaded machine a tiny training step took
10x longer with two threads than with one (the second thread spins waiting for a core).
Large layers gain from every thread.

The policy (documented in docs/architecture.md, "Threads"):

- minirnn never changes the BLAS thread count around a call. Toggling a process-wide
  setting per call lets one thread's training change another's mid-run.
- The first recurrent forward of the process decides, once, from its size: if its
  per-step product has fewer than :data:`SINGLE_THREAD_MACS` multiply-adds, numpy's BLAS
  is limited to one thread for the rest of the process (with ``threadpoolctl``);
  otherwise nothing is changed. Later layers, in any thread, see the same setting, so
  two models trained in two threads compute exactly what each computes alone.
- An explicit choice wins and switches the automatic one off: :func:`set_blas_threads`
  (or ``threadpoolctl.threadpool_limits`` in your code before the first forward), or the
  environment variable ``MINIRNN_BLAS_THREADS`` (an integer, or ``"keep"`` to leave the
  thread count alone).
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["SINGLE_THREAD_MACS", "blas_thread_policy", "set_blas_threads"]

#: Per-step matrix products below this many multiply-adds run best on one BLAS thread
#: (measured on the 2-core project machine; from (64, 128) @ (128, 512) up two threads win
#: on an idle machine).
SINGLE_THREAD_MACS = 1_000_000

_LOCK = threading.Lock()
_decided: str | None = None  # a description of the decision once made
_limiter: Any = None  # keeps the threadpoolctl limit object alive


def _limit(n: int) -> None:
    global _limiter
    from threadpoolctl import threadpool_limits

    _limiter = threadpool_limits(limits=n, user_api="blas")


def set_blas_threads(n: int | None) -> None:
    """Set numpy's BLAS thread count for the process (``None``: leave it alone).

    Call it before training; it replaces minirnn's automatic once-per-process choice.
    Like every BLAS setting it is process-wide: do not change it while models run in
    other threads.
    """
    global _decided
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}")
    with _LOCK:
        if n is not None:
            _limit(n)
        _decided = "set by set_blas_threads" if n is not None else "left alone (set_blas_threads)"


def decide_blas_threads(macs_per_step: int) -> None:
    """Apply the policy once per process, from the first recurrent layer's step size."""
    global _decided
    if _decided is not None:  # the common case: no lock, nothing to do
        return
    with _LOCK:
        if _decided is not None:
            return
        env = os.environ.get("MINIRNN_BLAS_THREADS", "").strip()
        if env:
            if env.lower() == "keep":
                _decided = "left alone (MINIRNN_BLAS_THREADS=keep)"
            elif env.isdigit() and int(env) > 0:
                _limit(int(env))
                _decided = f"{env} (MINIRNN_BLAS_THREADS)"
            else:
                raise ValueError(
                    f"MINIRNN_BLAS_THREADS must be a positive integer or 'keep', got {env!r}"
                )
        elif macs_per_step < SINGLE_THREAD_MACS:
            _limit(1)
            _decided = f"1 (first recurrent layer: {macs_per_step} multiply-adds per step)"
        else:
            _decided = f"left alone (first recurrent layer: {macs_per_step} per step)"


def blas_thread_policy() -> dict[str, Any]:
    """What the policy decided (None before the first recurrent forward) and the BLAS pools."""
    from threadpoolctl import threadpool_info

    pools = [{"library": p.get("internal_api"), "num_threads": p.get("num_threads")}
             for p in threadpool_info() if p.get("user_api") == "blas"]
    return {"decision": _decided, "blas": pools}
