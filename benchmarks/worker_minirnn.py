"""minirnn worker process: ``python -m benchmarks.worker_minirnn < task.json``.

Times minirnn alone in this process (no torch imported), with minirnn's own BLAS thread
policy unless the environment overrides it. See ``benchmarks/_worker.py`` for the tasks.
"""

from __future__ import annotations

import contextlib
import os
import platform
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy

import minirnn
from benchmarks import _worker
from benchmarks.harness import Case
from minirnn.nn.layers import GRU, LSTM, RNN
from minirnn.nn.optim import Adam

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
#: minirnn's counterpart of ``torch.no_grad()`` (inference that keeps no caches); older
#: minirnn versions without it run inference as a plain forward.
NO_GRAD: Any = getattr(minirnn, "no_grad", contextlib.nullcontext)
#: The layers' ``kernel=`` (``benchmarks.run --kernel``): "auto" unless set.
KERNEL = os.environ.get("MINIRNN_BENCH_KERNEL", "auto")


def apply_thread_policy(layer: Any, batch: int) -> None:
    """minirnn's BLAS thread policy for this process, decided once, at the first layer (as
    the first recurrent forward decided it before layers stopped changing threads); older
    minirnn versions without the explicit policy decide in their first forward."""
    try:
        from minirnn.train.threads import apply_thread_policy as apply
        from minirnn.train.threads import keep_thread_policy
    except ImportError:
        return
    keep_thread_policy()
    apply(layer, batch)


class MinirnnRunner:
    """A minirnn layer with the shared input and last-step MSE target."""

    def __init__(self, case: Case) -> None:
        extra = {} if KERNEL == "auto" else {"kernel": KERNEL}
        self.layer = LAYERS[case.cell](case.D, case.H, dtype=np.dtype(case.dtype), seed=0,
                                       **extra)
        apply_thread_policy(self.layer, case.N)
        self.x, self.target = _worker.make_inputs(case)
        # Preallocated like torch's: only the last step of dy is ever non-zero.
        self.dy = np.zeros((case.N, case.T, case.H), dtype=case.dtype)

    def train_step(self) -> tuple[np.ndarray, np.ndarray]:
        """zero_grad, forward, MSE on the last step, BPTT (parameters and dx)."""
        self.layer.zero_grad()
        y = self.layer.forward(self.x, training=True)
        diff = y[:, -1] - self.target
        self.dy[:, -1] = (2.0 / diff.size) * diff
        return y, self.layer.backward(self.dy)

    def infer(self) -> np.ndarray:
        """Forward only, without caches for backward where minirnn has ``no_grad``."""
        with NO_GRAD():
            return self.layer.forward(self.x)

    def dump(self, path: Path) -> None:
        """y, dx and the parameter gradients, for the parity check."""
        y = self.infer()
        _, dx = self.train_step()
        grads = {f"grad.{k}": p.grad for k, p in self.layer.named_parameters()}
        np.savez(path, y=y, dx=dx, **grads)


def _compiled_line() -> str | None:
    """minirnn's report of its compiled kernels (None for versions without them)."""
    try:
        from minirnn.nn.kernels.select import compiled_available
    except ImportError:
        return None
    return compiled_available()[1]


class MinirnnBackend:
    """minirnn's side of the benchmark."""

    name = "minirnn"

    def make(self, case: Case) -> MinirnnRunner:
        return MinirnnRunner(case)

    def gemm(self, dtype: str, n: int) -> Callable[[], object]:
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
        return lambda: a @ b

    def env(self) -> dict[str, Any]:
        policy = None
        try:  # minirnn's BLAS thread decision (made once, at the first layer)
            from minirnn.train.threads import blas_thread_policy

            policy = blas_thread_policy().get("decision")
        except (ImportError, AttributeError):
            pass
        return {"python": platform.python_version(), "numpy": np.__version__,
                "scipy": scipy.__version__, "minirnn": getattr(minirnn, "__version__", None),
                "threadpools": _worker.threadpools(), "thread_env": _worker.thread_env(),
                "minirnn_thread_policy": policy, "kernel": KERNEL,
                "compiled": _compiled_line()}

    def tinyrun_step(self) -> Callable[[], object]:
        runner = MinirnnRunner(Case("lstm", "float32", 50, 32, 2, 64))
        opt = Adam(runner.layer.parameters(), lr=1e-3)

        def step() -> None:
            runner.train_step()
            opt.step()

        return step

    def peak_bytes(self, case: Case, mode: str) -> dict[str, int] | None:
        """tracemalloc peaks of two calls on a fresh layer (numpy reports to tracemalloc).

        ``first``: peak of the first call. ``held``: what stays allocated between calls
        (caches, workspaces). ``steady``: peak of the second call, counting what the first
        left held, which is what a training loop sees at every step. Weights, gradient
        buffers, x and dy exist before tracing starts and are not counted.
        """
        # One call on another layer first: modules imported on first use and numpy's
        # one-time allocations are not a cost of the step (at the adding size they were
        # a third of the BPTT minimum).
        warm = MinirnnRunner(case)
        warm.train_step() if mode == "train" else warm.infer()
        del warm
        runner = MinirnnRunner(case)
        f = runner.train_step if mode == "train" else runner.infer
        tracemalloc.start()
        try:
            f()
            first = tracemalloc.get_traced_memory()[1]
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            f()
            steady = tracemalloc.get_traced_memory()[1]
            return {"first": first, "held": held, "steady": steady}
        finally:
            tracemalloc.stop()

if __name__ == "__main__":
    _worker.main(MinirnnBackend())
