"""PyTorch worker process: ``python -m benchmarks.worker_torch < task.json``.

Times torch.nn.RNN/LSTM/GRU in this process, with torch's default thread settings unless the
environment overrides them. The weights come from a minirnn layer built with the same seed
(only at set-up; nothing of minirnn runs while torch is timed).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks import _worker
from benchmarks.harness import Case
from minirnn.nn.layers import GRU, LSTM, RNN

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class TorchRunner:
    """The torch module with the minirnn layer's weights, the shared input and target."""

    def __init__(self, case: Case) -> None:
        layer = LAYERS[case.cell](case.D, case.H, dtype=np.dtype(case.dtype), seed=0)
        self.module = MODULES[case.cell](case.D, case.H, batch_first=True,
                                         dtype=getattr(torch, case.dtype))
        self.module.load_state_dict(
            {k: torch.from_numpy(np.array(v)) for k, v in layer.state_dict().items()})
        x, target = _worker.make_inputs(case)
        self.x = torch.from_numpy(x).requires_grad_(True)
        self.target = torch.from_numpy(target)

    def train_step(self) -> tuple[Any, Any]:
        """zero_grad, forward, MSE on the last step, backward (parameters and dx)."""
        self.module.zero_grad()
        self.x.grad = None
        y, _ = self.module(self.x)
        torch.mean((y[:, -1] - self.target) ** 2).backward()
        return y.detach(), self.x.grad

    def infer(self) -> Any:
        """Forward only, without autograd."""
        with torch.no_grad():
            return self.module(self.x)[0]

    def dump(self, path: Path) -> None:
        """y, dx and the parameter gradients, for the parity check."""
        y = self.infer().numpy()
        _, dx = self.train_step()
        grads = {f"grad.{k}": p.grad.numpy() for k, p in self.module.named_parameters()}
        np.savez(path, y=y, dx=dx.numpy(), **grads)


class TorchBackend:
    """PyTorch's side of the benchmark."""

    name = "torch"

    def make(self, case: Case) -> TorchRunner:
        return TorchRunner(case)

    def gemm(self, dtype: str, n: int) -> Callable[[], object]:
        g = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=g, dtype=getattr(torch, dtype)) for _ in range(2))
        return lambda: torch.mm(a, b)

    def env(self) -> dict[str, Any]:
        info = torch.__config__.parallel_info().splitlines()
        return {"python": platform.python_version(), "torch": torch.__version__,
                "numpy": np.__version__, "num_threads": torch.get_num_threads(),
                "num_interop_threads": torch.get_num_interop_threads(),
                "mkl": torch.backends.mkl.is_available(),
                "mkldnn": torch.backends.mkldnn.is_available(),
                "parallel_info": [s.strip() for s in info if "Version" in s or "backend" in s],
                "threadpools": _worker.threadpools(), "thread_env": _worker.thread_env()}

    def tinyrun_step(self) -> Callable[[], object]:
        runner = TorchRunner(Case("lstm", "float32", 50, 32, 2, 64))
        opt = torch.optim.Adam(runner.module.parameters(), lr=1e-3)

        def step() -> None:
            runner.train_step()
            opt.step()

        return step

    def peak_bytes(self, case: Case, mode: str) -> dict[str, int] | None:
        return None  # torch's allocator does not report to tracemalloc


if __name__ == "__main__":
    _worker.main(TorchBackend())
