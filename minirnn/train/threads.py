"""How many BLAS threads minirnn's recurrent layers use: one decision per process.

The per-step recurrent product of a small layer (``(N, H) @ (H, G*H)``) is too small to
share between threads: on the 2-core project machine, (32, 64) @ (64, 256) took 17 us on
one OpenBLAS thread and 25-64 us on two, and on a loaded machine a tiny training step took
10x longer with two threads than with one (the second thread spins waiting for a core).
Large layers gain from every thread, and more from a split of the batch: numpy's
element-wise work (the gate nonlinearities, about a third of a large LSTM step) runs on one
thread whatever the BLAS does, so a fused kernel with a batch of at least
:data:`SPLIT_MIN_BATCH` runs as two half-batch calls on two Python threads (numpy releases
the GIL in its loops and in the BLAS), each with one BLAS thread. The two halves meet once
per layer call, not per step: no spinning, and a busy core costs a split run no more than
an unsplit one.

The policy (documented in docs/architecture.md, "Threads"):

- minirnn never changes the BLAS thread count around a call. Toggling a process-wide
  setting per call lets one thread's training change another's mid-run.
- The first recurrent forward of the process decides, once, from its size: if its
  per-step product has fewer than :data:`SINGLE_THREAD_MACS` multiply-adds, numpy's BLAS
  is limited to one thread for the rest of the process (with ``threadpoolctl``);
  otherwise, with a batch of at least :data:`SPLIT_MIN_BATCH` on a machine with two or
  more cores, numpy's BLAS is limited to cores / 2 threads and every large enough kernel
  call is split in two halves of the batch (:func:`batch_parts`); otherwise nothing is
  changed. Later layers, in any thread, see the same setting, so
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

__all__ = ["SINGLE_THREAD_MACS", "SPLIT_MIN_BATCH", "available_cores", "batch_parts",
           "blas_libraries", "blas_report", "blas_thread_policy", "cpu_flags",
           "set_batch_threads", "set_blas_threads"]

#: Per-step matrix products below this many multiply-adds run best on one BLAS thread
#: (measured on the 2-core project machine; from (64, 128) @ (128, 512) up two threads win
#: on an idle machine).
SINGLE_THREAD_MACS = 1_000_000

#: Smallest batch that a fused kernel splits over two threads: halves of 32 rows and more
#: keep the BLAS efficient (measured on the 2-core project machine: LSTM float32 inference
#: 10-15 % faster at N = 64 and 128, H >= 128; at N = 32 the split gained nothing, and at
#: H = 64 the GIL made it 2.5x slower, hence also :data:`SINGLE_THREAD_MACS` per call).
SPLIT_MIN_BATCH = 64

_LOCK = threading.Lock()
_decided: str | None = None  # a description of the decision once made
_limiter: Any = None  # keeps the threadpoolctl limit object alive
_parts = 1  # Python threads a large kernel call is split over (1: no split)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, which
    a container or ``taskset`` may set below ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _limit(n: int) -> None:
    global _limiter
    from threadpoolctl import threadpool_limits

    _limiter = threadpool_limits(limits=n, user_api="blas")


def set_blas_threads(n: int | None) -> None:
    """Set numpy's BLAS thread count for the process (``None``: leave it alone).

    Call it before training; it replaces minirnn's automatic once-per-process choice and
    switches the batch split off (:func:`set_batch_threads` turns it on). Like every BLAS
    setting it is process-wide: do not change it while models run in
    other threads.
    """
    global _decided, _parts
    _check_count(n)
    with _LOCK:
        if n is not None:
            _limit(n)
        _parts = 1
        _decided = "set by set_blas_threads" if n is not None else "left alone (set_blas_threads)"


def set_batch_threads(n: int) -> None:
    """Split every fused kernel call with a batch of at least :data:`SPLIT_MIN_BATCH` over
    ``n`` Python threads (1: no split), each running a slice of the batch.

    Leaves the BLAS thread count alone: with ``n`` > 1, limit it too (each thread's BLAS
    calls start that many threads). Replaces the automatic choice, as
    :func:`set_blas_threads` does.
    """
    global _decided, _parts
    _check_count(n, allow_none=False)
    with _LOCK:
        _parts = n
        if _decided is None:
            _decided = "left alone (set_batch_threads)"


def _check_count(n: object, allow_none: bool = True) -> None:
    if n is None and allow_none:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int{' or None' if allow_none else ''}, "
                         f"got {n!r}")


def batch_parts(batch: int, macs_per_step: int) -> int:
    """How many threads a fused kernel call of this batch and step size is split over."""
    if _parts > 1 and batch >= SPLIT_MIN_BATCH and macs_per_step >= SINGLE_THREAD_MACS:
        return min(_parts, batch // (SPLIT_MIN_BATCH // 2))
    return 1


def decide_blas_threads(macs_per_step: int, batch: int = 0) -> None:
    """Apply the policy once per process, from the first recurrent layer's step size."""
    global _decided, _parts
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
        elif batch >= SPLIT_MIN_BATCH and (blas := available_cores() // 2) >= 1:
            _limit(blas)
            _parts = 2
            _decided = (f"{blas}, batch split over 2 threads (first recurrent layer: "
                        f"{macs_per_step} per step, batch {batch})")
        else:
            _decided = f"left alone (first recurrent layer: {macs_per_step} per step)"


def blas_thread_policy() -> dict[str, Any]:
    """What the policy decided (None before the first recurrent forward) and the BLAS pools
    (:func:`blas_libraries`)."""
    return {"decision": _decided, "batch_threads": _parts, "blas": blas_libraries()}


def blas_libraries() -> list[dict[str, Any]]:
    """The BLAS libraries loaded in this process (numpy's; scipy's once ``scipy.linalg`` is
    imported), as threadpoolctl sees them: ``library``, ``version``, ``num_threads`` and
    ``architecture`` (the kernels OpenBLAS runs, e.g. ``Haswell`` or ``SkylakeX``)."""
    from threadpoolctl import threadpool_info

    return [{"library": p.get("internal_api"), "version": p.get("version"),
             "num_threads": p.get("num_threads"), "architecture": p.get("architecture"),
             "package": _package_of(str(p.get("filepath", "")))}
            for p in threadpool_info() if p.get("user_api") == "blas"]


def _package_of(path: str) -> str:
    """The Python package whose wheel ships the library at ``path`` ("numpy", "scipy"; the
    file name otherwise): each bundles its own OpenBLAS."""
    parts = path.replace("\\", "/").split("/")
    for part in parts:
        for package in ("numpy", "scipy"):
            if part in (package, f"{package}.libs"):
                return package
    return parts[-1] if parts[-1] else "?"


#: The AVX-512 extensions OpenBLAS's SkylakeX kernels use.
_AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})

#: OpenBLAS kernel sets that use no AVX-512 (its x86-64 AVX2 and older targets).
_BELOW_AVX512 = frozenset({"haswell", "zen", "sandybridge", "nehalem", "prescott", "core2",
                           "penryn", "dunnington", "atom", "barcelona", "bulldozer",
                           "piledriver", "steamroller", "excavator"})


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU in ``/proc/cpuinfo`` (empty elsewhere)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def blas_report(flags: set[str] | None = None) -> list[str]:
    """Lines describing the BLAS this process runs, for ``minirnn --version``: library,
    version, kernels and threads, the ``OPENBLAS_*`` variables that are set, and a note where
    OpenBLAS runs AVX2-or-older kernels on a CPU with AVX-512 (``OPENBLAS_CORETYPE=Haswell``
    on the project's Zen 5 machine: float32 GEMM 109 GFLOP/s a core against 210 with the
    SkylakeX kernels OpenBLAS picks there by itself)."""
    flags = cpu_flags() if flags is None else flags
    lines, slow = [], set()
    libraries = blas_libraries()
    for lib in libraries:
        lines.append(f"BLAS ({lib.get('package', '?')}): {lib['library']} {lib['version']} "
                     f"({lib['architecture'] or '?'} kernels, {lib['num_threads']} threads)")
        if flags >= _AVX512 and str(lib["architecture"] or "").lower() in _BELOW_AVX512:
            slow.add(str(lib["architecture"]))
    if not libraries:
        lines.append("BLAS: not detected (threadpoolctl found none)")
    if slow:
        forced = os.environ.get("OPENBLAS_CORETYPE")
        why = (f"OPENBLAS_CORETYPE={forced} holds it there; unsetting it (or setting "
               "OPENBLAS_CORETYPE=SkylakeX)" if forced else
               "an OpenBLAS that knows this CPU, or OPENBLAS_CORETYPE=SkylakeX,")
        lines.append(f"note: this CPU has AVX-512 but OpenBLAS runs its {'/'.join(sorted(slow))}"
                     f" kernels; {why} may double the matrix-product rate")
    env = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                   if k.startswith("OPENBLAS_") or k in ("OMP_NUM_THREADS",
                                                          "MINIRNN_BLAS_THREADS",
                                                          "MINIRNN_ACTIVATIONS"))
    if env:
        lines.append(f"environment: {env}")
    return lines
