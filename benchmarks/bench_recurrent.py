"""Time minirnn's RNN/LSTM/GRU layers against PyTorch's on the CPU.

Usage::

    python benchmarks/bench_recurrent.py [--quick] [--out DIR]

For every cell (RNN tanh, LSTM, GRU), dtype (float32, float64) and size (T, N, D, H) it times a
training step (forward over the sequence, MSE on the last step, BPTT; no optimizer) and
inference (forward only), interleaving minirnn and torch runs (A, B, A, B ...) because the
machine is shared. Ratios are medians of the per-pair ratios. Torch gets the same weights and
as many threads as numpy's BLAS; without torch the script reports minirnn alone. Results are
printed as a Markdown table and written to ``DIR/results.md`` and ``DIR/results.json``.
See ``benchmarks/README.md`` for how to read the columns.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.layers import GRU, LSTM, RNN

try:
    import torch
except ImportError:  # the benchmark still runs, minirnn alone
    torch = None

CELLS: dict[str, tuple[type, int]] = {"rnn": (RNN, 1), "lstm": (LSTM, 4), "gru": (GRU, 3)}
DTYPES = ("float32", "float64")
SIZES = ((50, 32, 2, 64), (100, 64, 32, 128), (50, 128, 128, 256), (25, 256, 256, 512))
#: Largest acceptable max |y_minirnn - y_torch| per dtype.
OUTPUT_TOL = {"float32": 1e-4, "float64": 1e-10}
#: Largest acceptable max |grad difference| / max |torch grad| per dtype.
GRAD_TOL = {"float32": 1e-3, "float64": 1e-8}
#: Share of the CPUs used by other processes above which a row is disturbed: it is measured
#: again (up to RETRIES more times, after a pause), the least disturbed attempt kept, else flagged.
BUSY, RETRIES = 0.1, 2


@dataclass
class Row:
    """One line of the results table (times in milliseconds, sizes in MB)."""

    cell: str
    dtype: str
    T: int
    N: int
    D: int
    H: int
    train_ms: float
    train_ms_torch: float | None
    train_ratio: float | None
    infer_ms: float
    infer_ms_torch: float | None
    infer_ratio: float | None
    train_gflops: float
    infer_gflops: float
    peak_mb: float
    activations_mb: float
    max_abs_dy: float | None
    rel_dgrad: float | None
    agrees: bool | None
    repeats_train: int
    repeats_infer: int
    other_cpu: float | None


def blas_threads() -> tuple[int, str]:
    """Number of threads numpy's BLAS uses, and where that number came from."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var, "").isdigit():
                return int(os.environ[var]), var
        return os.cpu_count() or 1, "os.cpu_count()"
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return (max(counts), "threadpoolctl") if counts else (os.cpu_count() or 1, "os.cpu_count()")


def minirnn_revision() -> str:
    """Git commit of the checkout, with ``+dirty`` if minirnn/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=root, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        return head + ("+dirty" if git("status", "--porcelain", "--", "minirnn") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def matmul_gflops(dtype: str, n: int = 1024, repeats: int = 5) -> float:
    """Best GFLOP/s of an (n, n) @ (n, n) numpy product in ``dtype`` (2 n^3 FLOPs)."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    a @ b  # warm-up (thread start, page faults)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def cpu_seconds() -> tuple[float, float] | None:
    """(busy CPU seconds of the whole machine, CPU seconds of this process); Linux only."""
    try:
        v = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    busy = sum(v) - v[3] - v[4]  # user nice system irq softirq steal: all but idle, iowait
    own = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), own.user + own.system


def forward_flops(T: int, N: int, D: int, H: int, G: int) -> float:
    """Matmul FLOPs of one forward: input projection plus recurrent product."""
    return 2 * T * N * D * G * H + 2 * T * N * H * G * H


def activation_bytes(T: int, N: int, D: int, H: int, G: int, itemsize: int) -> int:
    """What BPTT must keep: inputs, gate activations and two states per step."""
    return T * N * (D + G * H + 2 * H) * itemsize


class MinirnnCase:
    """A minirnn layer, its input and the last-step MSE target."""

    def __init__(self, cell: str, dtype: str, T: int, N: int, D: int, H: int) -> None:
        layer_class, _ = CELLS[cell]
        self.layer = layer_class(D, H, dtype=np.dtype(dtype), seed=0)
        rng = np.random.default_rng(1)
        self.x = rng.standard_normal((N, T, D)).astype(dtype)
        self.target = rng.standard_normal((N, H)).astype(dtype)

    def train_step(self) -> tuple[np.ndarray, np.ndarray]:
        """zero_grad, forward, MSE on the last step, BPTT; returns (y, dx)."""
        self.layer.zero_grad()
        y = self.layer.forward(self.x, training=True)
        diff = y[:, -1] - self.target
        _loss = float(np.mean(diff * diff))
        dy = np.zeros_like(y)
        dy[:, -1] = (2.0 / diff.size) * diff
        return y, self.layer.backward(dy)

    def infer(self) -> np.ndarray:
        """Forward only."""
        return self.layer.forward(self.x)


class TorchCase:
    """The torch.nn module with the minirnn layer's weights, input and target."""

    def __init__(self, cell: str, mini: MinirnnCase) -> None:
        assert torch is not None
        module_class = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        dtype = getattr(torch, str(mini.x.dtype))
        D = mini.x.shape[2]
        self.module = module_class(D, mini.layer.hidden_size, batch_first=True, dtype=dtype)
        sd = mini.layer.state_dict()
        self.module.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        self.x = torch.from_numpy(mini.x.copy()).requires_grad_(True)
        self.target = torch.from_numpy(mini.target.copy())

    def train_step(self) -> tuple[Any, Any]:
        """zero_grad, forward, MSE on the last step, backward; returns (y, dx)."""
        self.module.zero_grad()
        self.x.grad = None
        y, _ = self.module(self.x)
        loss = torch.mean((y[:, -1] - self.target) ** 2)
        loss.backward()
        return y.detach(), self.x.grad

    def infer(self) -> Any:
        """Forward only, without autograd."""
        with torch.no_grad():
            return self.module(self.x)[0]


def compare(mini: MinirnnCase, ref: TorchCase) -> tuple[float, float]:
    """Max |Δy| of inference and max |Δgrad| / max |grad| over dx and all parameter grads."""
    dy_max = float(np.max(np.abs(mini.infer() - ref.infer().numpy())))
    _, dx = mini.train_step()
    _, dx_ref = ref.train_step()
    pairs = [(dx, dx_ref.numpy())]
    ref_params = dict(ref.module.named_parameters())
    pairs += [(p.grad, ref_params[k].grad.numpy()) for k, p in mini.layer.named_parameters()]
    diff = max(float(np.max(np.abs(a - b))) for a, b in pairs)
    scale = max(float(np.max(np.abs(b))) for _, b in pairs)
    return dy_max, diff / max(scale, np.finfo(mini.x.dtype).tiny)


Timings = tuple[float, float | None, float | None, int]


def time_pairs(fa: Callable[[], object], fb: Callable[[], object] | None, budget_s: float,
               max_repeats: int, min_repeats: int = 3) -> Timings:
    """Time fa and fb interleaved; returns (median a, median b, median a/b, repeats), in s."""

    def once(f: Callable[[], object]) -> float:
        t0 = time.perf_counter()
        f()
        return time.perf_counter() - t0

    funcs = [fa] if fb is None else [fa, fb]
    pair = sum(once(f) for f in funcs)  # warm-up; also estimates the cost of one pair
    if pair < 0.05:
        pair = sum(once(f) for f in funcs)
    repeats = int(min(max_repeats, max(min_repeats, budget_s // max(pair, 1e-9))))
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeats):
        for k, f in enumerate(funcs):
            times[k].append(once(f))
    med_a = statistics.median(times[0])
    if fb is None:
        return med_a, None, None, repeats
    ratio = statistics.median(a / b for a, b in zip(times[0], times[1], strict=True))
    return med_a, statistics.median(times[1]), ratio, repeats


def peak_train_bytes(mini: MinirnnCase) -> int:
    """Peak numpy memory allocated during one minirnn training step (tracemalloc)."""
    tracemalloc.start()
    try:
        mini.train_step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_config(
    cell: str, dtype: str, size: tuple[int, int, int, int], budget_s: float, max_repeats: int
) -> Row:
    """Check, time and measure one (cell, dtype, size)."""
    T, N, D, H = size
    G = CELLS[cell][1]
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    mini = MinirnnCase(cell, dtype, T, N, D, H)
    ref = TorchCase(cell, mini) if torch is not None else None
    dy_max = rel_dgrad = agrees = None
    if ref is not None:
        dy_max, rel_dgrad = compare(mini, ref)
        agrees = dy_max < OUTPUT_TOL[dtype] and rel_dgrad < GRAD_TOL[dtype]
    peak = peak_train_bytes(mini)
    tr = time_pairs(mini.train_step, ref and ref.train_step, 0.65 * budget_s, max_repeats)
    inf = time_pairs(mini.infer, ref and ref.infer, 0.35 * budget_s, max_repeats)
    fwd = forward_flops(T, N, D, H, G)
    other = None  # share of all CPUs used by other processes meanwhile
    if cpu0 is not None and (cpu1 := cpu_seconds()) is not None:
        wall = (time.perf_counter() - wall0) * (os.cpu_count() or 1)
        other = max(0.0, (cpu1[0] - cpu0[0]) - (cpu1[1] - cpu0[1])) / wall

    return Row(
        cell=cell, dtype=dtype, T=T, N=N, D=D, H=H,
        train_ms=1e3 * tr[0], train_ms_torch=tr[1] and 1e3 * tr[1], train_ratio=tr[2],
        infer_ms=1e3 * inf[0], infer_ms_torch=inf[1] and 1e3 * inf[1], infer_ratio=inf[2],
        train_gflops=3 * fwd / tr[0] / 1e9, infer_gflops=fwd / inf[0] / 1e9,
        peak_mb=peak / 2**20,
        activations_mb=activation_bytes(T, N, D, H, G, np.dtype(dtype).itemsize) / 2**20,
        max_abs_dy=dy_max, rel_dgrad=rel_dgrad, agrees=agrees,
        repeats_train=tr[3], repeats_infer=inf[3], other_cpu=other,
    )


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or an empty cell for None."""
    return "" if value is None else format(value, spec)


def markdown_table(rows: list[Row], matmul: dict[str, float]) -> str:
    """The results as a Markdown table."""
    head = ("cell", "dtype", "T", "N", "D", "H", "train ms", "train ms torch", "train ratio",
            "infer ms", "infer ms torch", "infer ratio", "train GFLOP/s", "matmul GFLOP/s",
            "peak MB", "activ. MB", "max abs Δy", "rel Δgrad", "agree", "other CPU")
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * 18) + "|"]
    for r in rows:
        cells = (
            r.cell, r.dtype, str(r.T), str(r.N), str(r.D), str(r.H),
            fmt(r.train_ms, ".2f"), fmt(r.train_ms_torch, ".2f"), fmt(r.train_ratio, ".2f"),
            fmt(r.infer_ms, ".2f"), fmt(r.infer_ms_torch, ".2f"), fmt(r.infer_ratio, ".2f"),
            fmt(r.train_gflops, ".1f"), fmt(matmul[r.dtype], ".1f"), fmt(r.peak_mb, ".1f"),
            fmt(r.activations_mb, ".1f"), fmt(r.max_abs_dy, ".1e"), fmt(r.rel_dgrad, ".1e"),
            "" if r.agrees is None else ("yes" if r.agrees else "**NO**"),
            "" if r.other_cpu is None else f"{100 * r.other_cpu:.0f}%",
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(meta: dict[str, Any], rows: list[Row]) -> str:
    """Markdown report: run description, table, then notes on load and any mismatch."""
    gflops = ", ".join(f"{d} {g:.1f} GFLOP/s" for d, g in meta["matmul_gflops_1024"].items())
    text = (
        f"# minirnn vs PyTorch ({meta['date']}{', --quick' if meta['quick'] else ''})\n\n"
        f"minirnn {meta['minirnn']}, numpy {meta['numpy']}, torch {meta['torch']}, "
        f"Python {meta['python']}, {meta['threads']} BLAS/torch threads "
        f"({meta['threads_source']}), {meta['cpu_count']} CPUs; square 1024 matmul: {gflops}; "
        f"wall time {meta['wall_s']} s.\n\nTimes are medians in ms; ratio = median of "
        "per-pair minirnn/torch (> 1: minirnn slower). See benchmarks/README.md.\n\n"
        + markdown_table(rows, meta["matmul_gflops_1024"]) + "\n"
    )
    busy = [f"{r.cell} {r.dtype} T={r.T}" for r in rows if (r.other_cpu or 0) > BUSY]
    if busy:
        text += (f"\nNote: other processes used more than {BUSY:.0%} of the CPUs during "
                 f"{len(busy)} rows ({', '.join(busy)}): their absolute times are unreliable, "
                 "ratios less so.\n")
    for r in rows:
        if r.agrees is False:
            text += (f"\n**MISMATCH** {r.cell} {r.dtype} T={r.T} N={r.N} D={r.D} H={r.H}: "
                     f"max abs Δy {r.max_abs_dy:.3e}, rel Δgrad {r.rel_dgrad:.3e}\n")
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 1 if minirnn and torch disagree anywhere, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="first two sizes only, fewer repeats (about a minute)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results",
                        help="directory for results.md and results.json")
    args = parser.parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    total_budget, max_repeats = (40.0, 20) if args.quick else (100.0, 50)
    configs = [(c, d, s) for s in sizes for c in CELLS for d in DTYPES]
    threads, threads_source = blas_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    # Load from other processes only lowers the matmul rate, so it is measured again after
    # every row and the best figure is kept: the machine's rate, not that of a busy moment.
    matmul = {d: matmul_gflops(d) for d in DTYPES}
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick,
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "minirnn": minirnn_revision(), "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "threads": threads, "threads_source": threads_source,
        "matmul_gflops_1024_start": dict(matmul),
    }
    print(f"{len(configs)} configs, {threads} threads ({threads_source})", flush=True)
    start = time.perf_counter()
    rows = []
    for cell, dtype, size in configs:
        row = run_config(cell, dtype, size, total_budget / len(configs), max_repeats)
        last = row
        for _ in range(RETRIES):
            if (row.other_cpu or 0.0) <= BUSY:
                break
            print(f"  ({cell} {dtype} {size}: other processes used {last.other_cpu:.0%} of the "
                  "CPUs; measuring again)", flush=True)
            time.sleep(5)
            last = run_config(cell, dtype, size, total_budget / len(configs), max_repeats)
            row = min(row, last, key=lambda r: r.other_cpu or 0.0)
        rows.append(row)
        matmul[dtype] = max(matmul[dtype], matmul_gflops(dtype, repeats=2))
        print(f"  {cell:4s} {dtype} {size}: train {row.train_ms:.2f} ms "
              f"(ratio {fmt(row.train_ratio, '.2f') or '-'}), infer {row.infer_ms:.2f} ms "
              f"(ratio {fmt(row.infer_ratio, '.2f') or '-'})", flush=True)
    meta["wall_s"] = round(time.perf_counter() - start, 1)
    meta["matmul_gflops_1024"] = matmul
    text = report(meta, rows)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(text)
    payload = {"meta": meta, "rows": [asdict(r) for r in rows]}
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out / 'results.md'} and {args.out / 'results.json'}")
    return 1 if any(r.agrees is False for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
