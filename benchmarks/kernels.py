"""The compiled kernels (numba) against the numpy kernels: minirnn only, one BLAS thread,
process CPU time, the two kernels alternating call by call in one process.

Usage (from the repository root; needs the ``fast`` extra)::

    python -m benchmarks.kernels                       # every cell, dtype and size, 7 calls
    python -m benchmarks.kernels --cells gru --repeats 3

Prints, per case, the median time of the compiled kernel over that of the numpy kernel
(< 1: compiled faster) for a training step (forward and backward) and for inference, and
the numpy kernel's time. This is what ``kernel="auto"`` chooses by
(``minirnn.nn.kernels.select.AUTO_COMPILED``); the comparison with PyTorch is
``benchmarks.run``. Both kernels run in one process (the same framework): alternating
call by call, they see the same load, and CPU time on one thread stays meaningful on a
loaded machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchmarks import harness

KERNELS = ("fused", "compiled")


def _median_times(calls: Mapping[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median CPU time (s) of each call, the calls alternating (order flipped every round)
    after one warm-up call each."""
    for f in calls.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in calls}
    items = list(calls.items())
    for r in range(repeats):
        for name, f in items if r % 2 == 0 else items[::-1]:
            t = time.process_time()
            f()
            times[name].append(time.process_time() - t)
    return {k: float(np.median(v)) for k, v in times.items()}


def _call(layer: Any, x: np.ndarray, mode: str, no_grad: Callable[[], Any]) -> None:
    """One training step (forward, backward of a sum) or one inference forward."""
    if mode == "train":
        layer.zero_grad()
        y = layer.forward(x, training=True)
        layer.backward(np.ones_like(y))
    else:
        with no_grad():
            layer.forward(x)


def main(argv: list[str] | None = None) -> int:
    """Measure and print one line per case."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cells", nargs="+", choices=harness.CELLS, default=harness.CELLS)
    parser.add_argument("--dtypes", nargs="+", choices=harness.DTYPES, default=harness.DTYPES)
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per kernel")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    from threadpoolctl import threadpool_limits

    import minirnn
    from minirnn.layers import GRU, LSTM, RNN
    from minirnn.nn.kernels import compiled_available

    ok, line = compiled_available()
    if not ok:
        print(f"error: {line}", file=sys.stderr)
        return 2
    threadpool_limits(1)  # numpy's BLAS and the one numba's np.dot calls (loaded by now)
    classes = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
    print(f"{line}; load average {os.getloadavg()[0]:.1f} at the start")
    for case in harness.all_cases(cells=args.cells, dtypes=args.dtypes):
        dt = np.dtype(case.dtype)
        x = np.random.default_rng(0).standard_normal((case.N, case.T, case.D)).astype(dt)
        layers = {k: classes[case.cell](case.D, case.H, seed=0, dtype=dt, batch_first=True,
                                        kernel=k) for k in KERNELS}
        cells = []
        for mode in ("train", "infer"):
            calls = {k: functools.partial(_call, layer, x, mode, minirnn.no_grad)
                     for k, layer in layers.items()}
            t = _median_times(calls, args.repeats)
            cells.append(f"{mode} {t['compiled'] / t['fused']:.2f} "
                         f"(numpy {t['fused'] * 1e3:.2f} ms)")
        print(f"{case.cell} {case.dtype} {case.T},{case.N},{case.D},{case.H}: "
              "compiled / numpy: " + ", ".join(cells), flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
