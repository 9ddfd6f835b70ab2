"""The BLAS thread policy: how many threads numpy's BLAS and the kernels' batch split use.

The per-step recurrent product of a small layer (``(N, H) @ (H, G*H)``) is too small to
share between threads (a second BLAS thread spins waiting for a core), while large layers
gain from every thread, and more from a split of the batch over Python threads
(:mod:`minirnn.nn.kernels.split`). docs/performance.md ("Threads") has the measurements.

The decision (:func:`decide_threads`), from the first recurrent layer's step size:

- per-step product below :data:`SINGLE_THREAD_MACS` multiply-adds: one BLAS thread;
- otherwise, a batch of at least :data:`SPLIT_MIN_BATCH` on two or more cores: cores / 2
  BLAS threads and every large enough kernel call split over two Python threads;
- otherwise nothing is changed;
- ``MINIRNN_BLAS_THREADS`` (a positive integer, or ``keep``) overrides it.

Where it is applied: computing never changes process-wide state, so a layer's forward
does not touch threads. The policy is applied explicitly:

- by :meth:`minirnn.Solver.fit` (from one sample's step, as its one-sample data check
  decided when forwards did) and ``TextSolver.fit_text`` around training, through
  :func:`thread_policy`, which restores the BLAS thread count and the batch split on exit.
  Concurrent or nested sessions (two models trained in two threads) share the setting of
  the outermost one, which is restored when the last one ends;
- by a program that owns its process (the CLI, the benchmark workers):
  :func:`keep_thread_policy` makes the next decision stay for the rest of the process
  (each call starts over: one decision per command),
  and :func:`apply_thread_policy` applies it at once;
- by the user: :func:`set_blas_threads` / :func:`set_batch_threads` (process-wide, never
  undone by minirnn, and switching the automatic choice off), or
  ``threadpoolctl.threadpool_limits`` plus ``set_blas_threads(None)``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from minirnn.nn.kernels import split
from minirnn.nn.kernels.split import SINGLE_THREAD_MACS, SPLIT_MIN_BATCH

__all__ = ["SINGLE_THREAD_MACS", "SPLIT_MIN_BATCH", "ThreadDecision", "apply_thread_policy",
           "available_cores", "batch_parts", "blas_libraries", "blas_report",
           "blas_thread_policy", "cpu_flags", "decide_threads", "keep_thread_policy",
           "recurrent_step_macs", "set_batch_threads", "set_blas_threads", "thread_policy"]

batch_parts = split.batch_parts


@dataclass(frozen=True)
class ThreadDecision:
    """What the policy chose: BLAS threads (None: leave them alone), batch threads (1: no
    split), and why."""

    blas_threads: int | None
    batch_threads: int
    reason: str


_LOCK = threading.RLock()
_explicit: str | None = None  # set by set_blas_threads / set_batch_threads
_current: ThreadDecision | None = None  # the automatic decision in effect
_keep = False  # keep_thread_policy(): the first decision stays for the process
_sessions = 0  # thread_policy blocks running (in any thread)
_undo: Any = None  # what the outermost session restores: (limits snapshot, split, state)
_limiters: list[Any] = []  # threadpoolctl limit objects made by set_blas_threads


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, which
    a container or ``taskset`` may set below ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _limit(n: int) -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n, user_api="blas")


def _snapshot() -> Any:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=None, user_api="blas")


def _check_count(n: object, allow_none: bool = True) -> None:
    if n is None and allow_none:
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int{' or None' if allow_none else ''}, "
                         f"got {n!r}")


def set_blas_threads(n: int | None) -> None:
    """Set numpy's BLAS thread count for the process (``None``: leave it alone).

    An explicit choice: it replaces the automatic one (a Solver then changes nothing) and
    switches the batch split off (:func:`set_batch_threads` turns it on). Like every BLAS
    setting it is process-wide: do not change it while models run in other threads.
    Inside a :func:`thread_policy` block (a Solver's fit) the change ends with the block.
    """
    global _explicit
    _check_count(n)
    with _LOCK:
        if n is not None:
            _limiters.append(_limit(n))
        split.set_batch_threads(1)
        _explicit = ("set by set_blas_threads" if n is not None
                     else "left alone (set_blas_threads)")


def set_batch_threads(n: int) -> None:
    """Split every fused kernel call with a batch of at least :data:`SPLIT_MIN_BATCH` over
    ``n`` Python threads (1: no split), each running a slice of the batch.

    Leaves the BLAS thread count alone: with ``n`` > 1, limit it too (each thread's BLAS
    calls start that many threads). Replaces the automatic choice, as
    :func:`set_blas_threads` does.
    """
    global _explicit
    _check_count(n, allow_none=False)
    with _LOCK:
        split.set_batch_threads(n)
        if _explicit is None:
            _explicit = "left alone (set_batch_threads)"


def decide_threads(macs_per_step: int, batch: int = 0,
                   cores: int | None = None) -> ThreadDecision:
    """The policy's choice for a recurrent step of ``macs_per_step`` multiply-adds (the
    product (N, H) @ (H, G*H)) on ``batch`` rows; changes nothing.

    Raises ValueError for a ``MINIRNN_BLAS_THREADS`` that is neither a positive integer
    nor ``keep``.
    """
    env = os.environ.get("MINIRNN_BLAS_THREADS", "").strip()
    if env:
        if env.lower() == "keep":
            return ThreadDecision(None, 1, "left alone (MINIRNN_BLAS_THREADS=keep)")
        if env.isdigit() and int(env) > 0:
            return ThreadDecision(int(env), 1, f"{env} (MINIRNN_BLAS_THREADS)")
        raise ValueError(
            f"MINIRNN_BLAS_THREADS must be a positive integer or 'keep', got {env!r}")
    if macs_per_step < SINGLE_THREAD_MACS:
        return ThreadDecision(1, 1, f"1 (first recurrent layer: {macs_per_step} "
                                    "multiply-adds per step)")
    blas = (available_cores() if cores is None else cores) // 2
    if batch >= SPLIT_MIN_BATCH and blas >= 1:
        return ThreadDecision(blas, 2, f"{blas}, batch split over 2 threads (first "
                                       f"recurrent layer: {macs_per_step} per step, batch "
                                       f"{batch})")
    return ThreadDecision(None, 1, f"left alone (first recurrent layer: {macs_per_step} "
                                   "per step)")


def recurrent_step_macs(model: Any, batch: int) -> int | None:
    """Multiply-adds of one step's recurrent product of the first recurrent layer in
    ``model`` (itself or a sub-layer) at batch size ``batch``; None without one."""
    from minirnn.nn.layers.recurrent import Recurrent

    layers = [model] + [layer for _, layer in getattr(model, "named_layers", list)()]
    for layer in layers:
        if isinstance(layer, Recurrent):
            cell = layer.cells[0][0]
            return batch * cell.output_size * cell.num_chunks * layer.hidden_size
    return None


def _apply(decision: ThreadDecision) -> None:
    """Apply a decision (the caller holds the lock and has saved what to restore)."""
    global _current
    if decision.blas_threads is not None:
        _limiters.append(_limit(decision.blas_threads))
    split.set_batch_threads(decision.batch_threads)
    _current = decision


def _decide_and_apply(model: Any, batch: int) -> None:
    if _explicit is not None:
        return
    if _keep and _current is not None:
        # The kept decision, applied again: a session since (a TextSolver timing thread
        # counts) may have left another count in place, and the kept decision is what
        # this process runs with.
        if _current.blas_threads is not None:
            _limit(_current.blas_threads)
        split.set_batch_threads(_current.batch_threads)
        return
    macs = recurrent_step_macs(model, batch)
    if macs is not None:
        _apply(decide_threads(macs, batch))


def _align_blas_pools() -> None:
    """Give every loaded BLAS library numpy's BLAS thread count. A library loaded during a
    session (scipy's OpenBLAS, which the compiled kernels' ``np.dot`` calls, loads with
    their first call) is not in the snapshot the session restores, so it would keep the
    session's count while numpy's goes back."""
    from threadpoolctl import ThreadpoolController

    pools = [p for p in ThreadpoolController().lib_controllers if p.user_api == "blas"]
    numpy_pools = [p for p in pools if _package_of(p.filepath) == "numpy"]
    if not numpy_pools:
        return
    count = numpy_pools[0].num_threads
    for pool in pools:
        if pool.num_threads != count:
            pool.set_num_threads(count)


@contextmanager
def thread_policy(model: Any = None, batch_size: int = 0, *,
                  decide: bool = True) -> Iterator[ThreadDecision | None]:
    """Apply the thread policy for running ``model`` on batches of ``batch_size`` inside
    the block, and restore the BLAS thread count and the batch split on exit.

    Parameters
    ----------
    model : Layer, optional
        Its first recurrent layer's step size decides (:func:`decide_threads`); a model
        without one changes nothing.
    batch_size : int
    decide : bool
        False: apply nothing, only restore on exit what the block changed (e.g. a
        ``TextSolver`` timing thread counts with :func:`set_blas_threads`).

    Yields the decision in effect (None: none). Nothing is decided after an explicit
    :func:`set_blas_threads` / :func:`set_batch_threads` outside any block. Blocks
    running at once (nested, or in several threads) share the outermost one's setting,
    restored when the last ends. Under :func:`keep_thread_policy` the thread counts are
    not restored (each block applies the kept decision again), but an explicit choice made
    inside the block still ends with it.
    """
    global _sessions, _undo, _explicit, _current
    with _LOCK:
        if _sessions == 0:
            _undo = (None if _keep else _snapshot(), split.batch_threads(), _explicit,
                     _current, len(_limiters))
            if decide:
                _decide_and_apply(model, batch_size)
        _sessions += 1
        current = _current
    try:
        yield current
    finally:
        with _LOCK:
            _sessions -= 1
            if _sessions == 0 and _undo is not None:
                snapshot, parts, explicit, current, count = _undo
                _undo = None
                if snapshot is not None:
                    snapshot.restore_original_limits()
                    _align_blas_pools()
                    split.set_batch_threads(parts)
                    del _limiters[count:]
                    _explicit, _current = explicit, current
                else:
                    # Under keep_thread_policy the thread counts stay, and so does the kept
                    # decision; an explicit choice made inside the block (a TextSolver's
                    # timing) ends with it, as set_blas_threads says: else it would stand
                    # for every later fit of the process, which then decides nothing.
                    _explicit = explicit


def keep_thread_policy() -> None:
    """For a program that owns its process (the CLI, a benchmark worker): the next
    automatic decision (of a Solver's fit, or of :func:`apply_thread_policy`) stays for
    the rest of the process instead of being restored, and later sessions apply it again
    instead of deciding, as when the first recurrent forward decided once per process.

    Each call starts over: the next fit decides afresh. A process that runs several
    commands (the test suite calling the CLI's ``main``) thus gives each command its own
    decision, not the first command's; an earlier command's choice left standing made a
    later small model train with two BLAS threads, 10-20x slower on a loaded 2-core
    machine (docs/performance.md, *The slow adding epoch of the test run*).
    """
    global _keep, _current
    with _LOCK:
        _keep = True
        if _sessions == 0:
            _current = None


def apply_thread_policy(model: Any, batch_size: int) -> ThreadDecision | None:
    """Decide for ``model`` at ``batch_size`` and apply it to the whole process, not to be
    restored (for a program that owns its process, e.g. a benchmark worker); with
    :func:`keep_thread_policy` in effect, a decision already made stays. Returns the
    decision in effect."""
    with _LOCK:
        _decide_and_apply(model, batch_size)
        return _current


def blas_thread_policy() -> dict[str, Any]:
    """What is in effect: the decision (None when nothing was decided or set), the batch
    threads, and the BLAS pools (:func:`blas_libraries`)."""
    decision = _explicit if _explicit is not None else (
        None if _current is None else _current.reason)
    return {"decision": decision, "batch_threads": split.batch_threads(),
            "blas": blas_libraries()}


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
