"""The GEMM floor of inference: what numpy's BLAS needs for the matrix products alone.

``python -m benchmarks.floor`` times one step's product ``(G H, H + D + 1) @ (H + D + 1, N)``
of every benchmark case three ways, in this process (numpy only, no torch): on one BLAS
thread; on two BLAS threads; and as two half-batch products at once on two Python threads
with one BLAS thread each (numpy releases the GIL; minirnn's batch split). T times the best
is the least time any numpy implementation of the layer's inference can take on this BLAS;
divided by torch's inference time from a ``benchmarks.run`` results file it is a ratio no
implementation here can beat (docs/performance.md, "GEMM floor"). For the LSTM it also times
the element-wise calls of minirnn's step in a tight loop (full batch, and half a batch as if
both halves ran at once) and adds them: a floor for that formulation of the step. Run it on
a quiet machine, as the benchmark itself.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from benchmarks import harness

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "results.json"
DOC = ROOT / "docs" / "performance.md"


def best_seconds(fn: Callable[[], object], rounds: int = 5, round_s: float = 0.03) -> float:
    """Best time of one call over ``rounds`` rounds of as many calls as fill ``round_s``."""
    fn()
    start = time.perf_counter()
    fn()
    reps = max(1, int(round_s / max(time.perf_counter() - start, 1e-7)))
    best = float("inf")
    for _ in range(reps):  # a warm-up round: caches, clock frequency
        fn()
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - start) / reps)
    return best


def step_times(case: harness.Case, rounds: int = 5) -> dict[str, float]:
    """Best seconds of one step's product of ``case``, per way of running it."""
    M, K, N = harness.step_product_shape(case)
    rng = np.random.default_rng(0)
    w = rng.standard_normal((M, K)).astype(case.dtype)
    s = rng.standard_normal((K, N)).astype(case.dtype)
    out = np.empty((M, N), case.dtype)
    ways = {}
    with threadpool_limits(1, user_api="blas"):
        ways["1 thread"] = best_seconds(lambda: np.matmul(w, s, out=out), rounds)
    with threadpool_limits(2, user_api="blas"):
        ways["2 threads"] = best_seconds(lambda: np.matmul(w, s, out=out), rounds)
    if N >= 2:
        halves = [(np.ascontiguousarray(s[:, : N // 2]), np.empty((M, N // 2), case.dtype)),
                  (np.ascontiguousarray(s[:, N // 2 :]), np.empty((M, N - N // 2), case.dtype))]

        # Two long-lived threads, each running its half `reps` times (a thread start per
        # call would cost more than a small product).
        def pairs(reps: int) -> float:
            barrier = threading.Barrier(2)

            def loop(half: tuple[np.ndarray, np.ndarray]) -> None:
                barrier.wait()
                for _ in range(reps):
                    np.matmul(w, half[0], out=half[1])

            other = threading.Thread(target=loop, args=(halves[1],))
            other.start()
            start = time.perf_counter()
            loop(halves[0])
            other.join()
            return (time.perf_counter() - start) / reps

        with threadpool_limits(1, user_api="blas"):
            pairs(1)  # warm-up
            reps = max(1, int(0.03 / ways["1 thread"]))
            ways[harness.HALVES] = min(pairs(reps) for _ in range(rounds))
    return ways


def lstm_elementwise_seconds(dtype: str, H: int, N: int, rounds: int = 5) -> float:
    """Best time of the element-wise calls of one LSTM inference step on (4H, N) gates, one
    thread, in a tight loop: the calls minirnn's kernel makes (gate nonlinearity in the form
    this process uses, c, tanh(c), h), without its Python loop: a floor for this formulation
    of the step (kept in step with ``minirnn.nn.layers.bptt._lstm_forward`` by hand)."""
    from minirnn.nn._math import constants, exp_faster, tanh_function

    dt = np.dtype(dtype)
    k = constants(dt)
    a = np.random.default_rng(0).uniform(-1.0, 1.0, (4 * H, N)).astype(dt)
    o, i, f, g, sig = a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :], a[: 3 * H]
    c, ct, ig, tc, h = (np.zeros((H, N), dt) for _ in range(5))
    tanh_c = tanh_function(dt, H * N)
    exp_form = exp_faster(dt)

    def step() -> None:
        if exp_form:
            np.exp(a, a)
            np.add(a, k.one, a)
            np.divide(k.one, sig, sig)
            np.divide(k.two, g, g)
            np.subtract(g, k.one, g)
        else:
            np.tanh(a, a)
            np.multiply(sig, k.half, sig)
            np.add(sig, k.half, sig)
        np.multiply(f, c, ct)
        np.multiply(i, g, ig)
        np.add(ct, ig, ct)
        tanh_c(ct, tc)
        np.multiply(o, tc, h)

    with np.errstate(over="ignore"):
        return best_seconds(step, rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="benchmarks.run results with torch's times (default: %(default)s)")
    parser.add_argument("--cells", nargs="+", default=["lstm"], choices=harness.CELLS)
    parser.add_argument("--dtypes", nargs="+", default=["float32"], choices=harness.DTYPES)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--doc", type=Path, default=None,
                        help="also write the table into this page (between its "
                             "`python -m benchmarks.floor` markers)")
    args = parser.parse_args(argv)
    raw = json.loads(args.results.read_text())
    cases = harness.all_cases(cells=args.cells, dtypes=args.dtypes)
    times, elementwise = {}, {}
    for case in cases:
        times[case.key] = step_times(case, args.rounds)
        if case.cell == "lstm":
            elementwise[case.key] = {
                "full": lstm_elementwise_seconds(case.dtype, case.H, case.N, args.rounds),
                "half": lstm_elementwise_seconds(case.dtype, case.H, max(case.N // 2, 1),
                                                 args.rounds)}
        print(f"{case.key}: " + ", ".join(f"{k} {v * 1e6:.1f} us"
                                           for k, v in times[case.key].items()), flush=True)
    table = harness.floor_table(harness.floor_rows(times, raw, elementwise))
    source = (args.results.relative_to(ROOT) if args.results.is_relative_to(ROOT)
              else args.results)
    block = (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} against the torch "
             f"times of `{source}` (its run of {raw['meta'].get('date_utc', '?')}).\n\n"
             f"{table}\n")
    print(block)
    if args.doc is not None:
        text = args.doc.read_text()
        args.doc.write_text(harness.replace_generated(text, block, module="benchmarks.floor"))
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
