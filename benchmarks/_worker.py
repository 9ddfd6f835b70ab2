"""Shared loop of the per-framework worker processes.

A worker reads a JSON task from stdin, runs it with one framework's :class:`Backend`, and
prints one JSON line to stdout. It imports numpy but not minirnn or torch: each
``worker_<framework>.py`` brings its own. Tasks:

- ``{"task": "cases", "cases": [...keys], "modes": [...], "budget_s", "min_repeats",
  "max_repeats", "memory": bool, "dump_dir": str | null}``: the GEMM rates, then every case
  and mode timed (warm-up, then repeats until the budget is spent), optionally the peak
  memory of a training step and inference, and optionally outputs and gradients saved to
  ``dump_dir`` for the parity check.
- ``{"task": "tinyrun", "steps": int, "max_s": float}``: a tiny training run (LSTM float32
  at the adding size, training steps with Adam) for the thread-policy-under-load test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from benchmarks.harness import Case

#: Square GEMM size used for the ceiling: large enough to reach BLAS' peak, 2 GFLOP a call.
GEMM_N = 1024


class Runner(Protocol):
    """One case built for one framework."""

    def train_step(self) -> tuple[Any, Any]:
        """zero_grad, forward, MSE on the last step, backward; returns (y, dx)."""

    def infer(self) -> Any:
        """Forward only, no gradient bookkeeping."""

    def dump(self, path: Path) -> None:
        """Save y (inference), dx and every parameter gradient as numpy arrays to ``path``."""


class Backend(Protocol):
    """What a framework worker provides."""

    name: str

    def make(self, case: Case) -> Runner:
        """Build the layer, input and target of ``case``."""

    def gemm(self, dtype: str, n: int) -> Callable[[], object]:
        """A closure computing one (n, n) @ (n, n) product in ``dtype``."""

    def env(self) -> dict[str, Any]:
        """Versions, BLAS vendor and thread counts of this process."""

    def tinyrun_step(self) -> Callable[[], object]:
        """One training step with Adam of the tiny run (LSTM float32, adding size)."""

    def peak_bytes(self, case: Case, mode: str) -> dict[str, int] | None:
        """Peak memory of ``mode`` calls on a fresh case (``first``, ``held``, ``steady``)."""


def make_inputs(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The input x (N, T, D) and the last-step target (N, H) of ``case``, same in every worker."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((case.N, case.T, case.D)).astype(case.dtype)
    target = rng.standard_normal((case.N, case.H)).astype(case.dtype)
    return x, target


def loadavg() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on Linux/macOS
        return None


def time_calls(f: Callable[[], object], budget_s: float, min_repeats: int,
               max_repeats: int) -> list[float]:
    """Wall times of repeated calls of f, after a warm-up (see :func:`time_calls_cpu`)."""
    return time_calls_cpu(f, budget_s, min_repeats, max_repeats)[0]


def time_calls_cpu(f: Callable[[], object], budget_s: float, min_repeats: int,
                   max_repeats: int) -> tuple[list[float], list[float]]:
    """Wall times and process CPU times of repeated calls of f, after a warm-up.

    CPU time counts every thread of the process (spinning ones too); with one thread it is
    the cost of the call without the time spent waiting for a core on a loaded machine.

    The warm-up (one call, or a few while they total under 50 ms) also estimates the cost of
    a call; then ``budget_s / cost`` repeats, clamped to [min_repeats, max_repeats].
    """
    warm, calls = 0.0, 0
    while calls < 1 or (warm < 0.05 and calls < 5):
        t0 = time.perf_counter()
        f()
        warm += time.perf_counter() - t0
        calls += 1
    cost = warm / calls
    repeats = int(min(max_repeats, max(min_repeats, budget_s // max(cost, 1e-9))))
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu


def gemm_gflops(backend: Backend, dtype: str, repeats: int = 3) -> tuple[float, float]:
    """Best GFLOP/s of the backend's square GEMM (2 n^3 FLOPs a call): by wall, by CPU time."""
    f = backend.gemm(dtype, GEMM_N)
    wall, cpu = time_calls_cpu(f, 0.0, repeats, repeats)
    return 2 * GEMM_N**3 / min(wall) / 1e9, 2 * GEMM_N**3 / max(min(cpu), 1e-9) / 1e9


def run_cases(backend: Backend, task: dict[str, Any]) -> dict[str, Any]:
    """The ``cases`` task."""
    out: dict[str, Any] = {"gemm_gflops": {}, "gemm_gflops_cpu": {}, "results": [],
                           "memory": []}

    def gemm() -> None:  # load only lowers the rate: keep the best
        for dtype in ("float32", "float64"):
            wall, cpu = gemm_gflops(backend, dtype)
            for k, v in (("gemm_gflops", wall), ("gemm_gflops_cpu", cpu)):
                out[k][dtype] = max(out[k].get(dtype, 0.0), v)

    gemm()
    for key in task["cases"]:
        case = Case.from_key(key)
        runner = backend.make(case)
        for mode in task["modes"]:
            f = runner.train_step if mode == "train" else runner.infer
            ts, cs = time_calls_cpu(f, task["budget_s"], task["min_repeats"],
                                    task["max_repeats"])
            out["results"].append({"case": key, "mode": mode, "median_s": float(np.median(ts)),
                                   "min_s": min(ts), "cpu_median_s": float(np.median(cs)),
                                   "cpu_min_s": min(cs), "repeats": len(ts)})
        if task.get("dump_dir"):
            runner.dump(Path(task["dump_dir"]) / f"{backend.name}-{key.replace('/', '_')}.npz")
        if task.get("memory"):
            peaks = {m: backend.peak_bytes(case, m) for m in ("train", "infer")}
            if any(peaks.values()):
                out["memory"].append({"case": key, **peaks})
    gemm()  # again at the end
    return out


def run_tinyrun(backend: Backend, task: dict[str, Any]) -> dict[str, Any]:
    """The ``tinyrun`` task: step times until ``steps`` are done or ``max_s`` has passed."""
    step = backend.tinyrun_step()
    step()  # warm-up: first-call allocations, thread start
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < task["steps"] and time.perf_counter() - start < task["max_s"]:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"step_s": times, "total_s": time.perf_counter() - start}


def main(backend: Backend) -> None:
    """Read the task from stdin, run it, print the result as one JSON line."""
    task = json.loads(sys.stdin.read())
    result: dict[str, Any] = {"framework": backend.name, "pid": os.getpid(),
                              "loadavg_before": loadavg(), "env": backend.env()}
    t0 = time.perf_counter()
    if task["task"] == "cases":
        result.update(run_cases(backend, task))
    elif task["task"] == "tinyrun":
        result.update(run_tinyrun(backend, task))
    else:
        raise ValueError(f"unknown task {task['task']!r}")
    result["wall_s"] = time.perf_counter() - t0
    result["loadavg_after"] = loadavg()
    result["env_after"] = backend.env()  # thread policies may decide at the first call
    print(json.dumps(result))


def threadpools() -> list[dict[str, Any]]:
    """threadpoolctl's view of this process' native thread pools (empty without it)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer",
            "architecture")
    return [{k: p.get(k) for k in keep if k in p} for p in threadpool_info()]


def thread_env() -> dict[str, str]:
    """Environment variables that are set and change how the BLAS runs: thread counts, and
    every ``OPENBLAS_*`` (``OPENBLAS_CORETYPE`` picks the kernels: Haswell's AVX2 ones on
    an AVX-512 CPU halve numpy's GEMM rate)."""
    names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "MINIRNN_BLAS_THREADS",
             "MINIRNN_ACTIVATIONS")
    return {k: v for k, v in sorted(os.environ.items())
            if k in names or k.startswith("OPENBLAS_")}
