"""The slow adding epoch of the test run (issue 31): BLAS thread pools against epoch time.

In the full test run the adding problem's default LSTM, run compiled inside the long-lived
pytest process, took 40-60 s an epoch against about 2.5 s in a fresh process. This script
reproduces the two things that decide it, each configuration in a fresh process running
``minirnn train adding`` (its CLI ``main``, as the tests call it) for a few short epochs:

- ``pools``: numpy's and scipy's OpenBLAS (the one numba's ``np.dot`` calls) fixed at given
  thread counts (``MINIRNN_BLAS_THREADS=keep``: the thread policy leaves them alone), the
  numpy or the compiled kernels, with or without PyTorch loaded and run first;
- ``sticky``: what the test process did: an earlier command of the same process (``train
  text``, whose ``TextSolver`` times thread counts and keeps the fastest with
  ``set_blas_threads``) chose two BLAS threads under the CLI's ``keep_thread_policy``, then
  ``train adding`` runs. Before the fix its fit decided nothing (the earlier explicit choice
  stood for the process) and trained on two BLAS threads; now it decides its own.

Usage (from the repository root; the compiled rows need the ``fast`` extra)::

    python -m benchmarks.blas_pools                 # both, 4000 sequences, 2 epochs
    python -m benchmarks.blas_pools --case sticky --train-size 2000

Prints one line per configuration: the BLAS pools during the fit (threadpoolctl, from a
callback), the decision, and the last epoch's seconds (the first one includes loading the
compiled code), with the load average; docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

#: (numpy's BLAS threads, scipy's BLAS threads, kernel, PyTorch run first) of ``pools``.
POOL_CASES = [(1, 1, "fused", False), (1, 1, "compiled", False),
              (2, 2, "fused", False), (2, 2, "compiled", False),
              (1, 2, "compiled", False), (2, 1, "compiled", False),
              (1, 1, "compiled", True), (2, 2, "compiled", True)]


def _pools() -> list[tuple[str, int]]:
    from threadpoolctl import threadpool_info

    from minirnn.train.threads import _package_of

    return sorted((_package_of(p["filepath"]), p["num_threads"]) for p in threadpool_info()
                  if p["user_api"] == "blas")


def _child(config: dict[str, Any]) -> dict[str, Any]:
    """One configuration, in this (fresh) process: run ``train adding`` and measure."""
    if config["case"] == "pools":
        os.environ["MINIRNN_BLAS_THREADS"] = "keep"
        if config["torch"]:
            import numpy as np
            import torch

            a = torch.randn(512, 512)
            b = np.random.default_rng(0).standard_normal((512, 512))
            for _ in range(20):  # wakes torch's OpenMP pool and numpy's BLAS pool
                a @ a
                b @ b
        from threadpoolctl import ThreadpoolController

        import minirnn.nn.kernels.compiled  # noqa: F401  (scipy's BLAS, numba)
        from minirnn.train.threads import _package_of

        for pool in ThreadpoolController().lib_controllers:
            if pool.user_api == "blas":
                pool.set_num_threads(config["numpy"] if _package_of(pool.filepath) == "numpy"
                                     else config["scipy"])
    else:  # sticky: an earlier command of this process chose two BLAS threads
        from minirnn.train import threads

        threads.keep_thread_policy()
        with threads.thread_policy(None, 0, decide=False):
            threads.set_blas_threads(2)  # what TextSolver's timing does when 2 wins
    import minirnn.train.solver as solver_module
    from minirnn.cli import main
    from minirnn.nn.kernels import use_kernel
    from minirnn.train.threads import blas_thread_policy

    seen: dict[str, Any] = {}
    fit = solver_module.Solver._run_epochs

    def run_epochs(self: Any, *args: Any) -> Any:  # records the pools inside the fit
        seen["pools"], seen["decision"] = _pools(), blas_thread_policy()["decision"]
        return fit(self, *args)

    setattr(solver_module.Solver, "_run_epochs", run_epochs)  # noqa: B010
    out = f"{config['tmp']}/adding-{os.getpid()}"
    argv = ["train", "adding", "--epochs", str(config["epochs"]), "--train-size",
            str(config["train_size"]), "--test-size", "200", "--no-plot", "--output", out,
            "--overwrite", "-q"]
    times: list[float] = []
    from minirnn.train.callbacks import Callback

    class EpochTimes(Callback):
        def on_epoch_begin(self, epoch: int, logs: dict[str, Any]) -> None:
            seen["t"] = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            times.append(time.perf_counter() - seen["t"])

    init = solver_module.Solver.__init__

    def with_timer(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), EpochTimes()]
        init(self, *args, **kwargs)

    setattr(solver_module.Solver, "__init__", with_timer)  # noqa: B010
    load = os.getloadavg()[0]
    with use_kernel(config["kernel"]):
        status = main(argv)
    return {**config, "status": status, "epoch_s": times, "load": load,
            "pools_in_fit": seen.get("pools"), "decision": seen.get("decision")}


def main(argv: list[str] | None = None) -> int:
    """Run every configuration in a fresh process and print one line each."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--case", choices=["pools", "sticky", "both"], default="both")
    parser.add_argument("--train-size", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    if args.epochs < 2 or args.train_size < 100:
        parser.error("needs --epochs >= 2 and --train-size >= 100")
    import tempfile

    configs: list[dict[str, Any]] = []
    common = {"train_size": args.train_size, "epochs": args.epochs}
    if args.case in ("pools", "both"):
        configs += [{"case": "pools", "numpy": n, "scipy": s, "kernel": k, "torch": t, **common}
                    for n, s, k, t in POOL_CASES]
    if args.case in ("sticky", "both"):
        configs += [{"case": "sticky", "numpy": None, "scipy": None, "kernel": k,
                     "torch": False, **common} for k in ("fused", "compiled")]
    from benchmarks.run import ROOT, worker_env

    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        for config in configs:
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.blas_pools", "--child",
                 json.dumps({**config, "tmp": tmp})], capture_output=True, text=True,
                cwd=ROOT, env=worker_env())
            lines = child.stdout.strip().splitlines()
            if child.returncode != 0 or not lines:
                print(f"{config}: failed\n{child.stderr[-2000:]}", file=sys.stderr)
                return 1
            r = json.loads(lines[-1])
            what = (f"numpy {r['numpy']} / scipy {r['scipy']} threads"
                    + (", torch run first" if r["torch"] else "")
                    if r["case"] == "pools" else "after a command that chose 2 threads")
            print(f"{r['case']:6s} {r['kernel']:8s} {what:44s} last epoch "
                  f"{r['epoch_s'][-1]:6.2f} s  (load {r['load']:.1f}; pools in the fit "
                  f"{r['pools_in_fit']}; decision {r['decision']!r})", flush=True)
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} UTC, load {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
