"""minirnn vs PyTorch, each framework in its own process; regenerates docs/performance.md.

Usage (from the repository root)::

    python -m benchmarks.run              # full run (5 rounds): 10 min quiet, 30+ loaded
    python -m benchmarks.run --quick      # 2 rounds, 1 repeat each: 2-5 minutes
    python -m benchmarks.run --render     # only regenerate the doc from the saved JSON

Every round runs one worker process per framework and size (``benchmarks/worker_minirnn.py``,
``benchmarks/worker_torch.py``), back to back, the order alternating (minirnn first, then torch
first, ...). Ratios minirnn/torch are taken per round and summarised as median and range
over rounds. Raw results go to ``benchmarks/results/results.json`` (``results-quick.json``
with ``--quick``); the generated part of ``docs/performance.md`` is rewritten from them.
See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness
from benchmarks._worker import loadavg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"
FRAMEWORKS = ("minirnn", "torch")
#: Largest acceptable max |y_minirnn - y_torch| and max |Δgrad| / max |grad torch| per dtype.
OUTPUT_TOL = {"float32": 1e-4, "float64": 1e-10}
GRAD_TOL = {"float32": 1e-3, "float64": 1e-8}
#: (label, framework, extra environment) of the thread-policy-under-load test.
LOAD_VARIANTS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("minirnn (its own BLAS thread policy)", "minirnn", {}),
    ("minirnn, MINIRNN_BLAS_THREADS=keep (BLAS default)", "minirnn",
     {"MINIRNN_BLAS_THREADS": "keep"}),
    ("minirnn, OPENBLAS_NUM_THREADS=1", "minirnn", {"OPENBLAS_NUM_THREADS": "1"}),
    ("torch (default threads)", "torch", {}),
    ("torch, OMP_NUM_THREADS=1", "torch", {"OMP_NUM_THREADS": "1"}),
)
BUSY_LOOP = "while True:\n    pass\n"
#: Unset together for every worker of both frameworks (issue 31): set on some processors
#: because older OpenBLAS builds failed there, they slow a current numpy (Haswell kernels on
#: an AVX-512 CPU). Benchmarks only: never in the tests, CI or the library.
UNSET_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    """Short commit of the checkout, ``+dirty`` if minirnn/ or benchmarks/ have changes."""

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--", "minirnn", "benchmarks")
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (Linux /proc/stat), else None."""
    try:
        v = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return None
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark worker process: this one's, with the repository on
    ``PYTHONPATH``, :data:`UNSET_ENV` removed (together) and ``extra`` added."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for name in UNSET_ENV:
        env.pop(name, None)
    env.update(extra or {})
    return env


def blas_kernels(pools: list[dict[str, Any]]) -> str:
    """One line naming the BLAS libraries of a worker's threadpoolctl record
    (:func:`benchmarks._worker.threadpools`) and the kernels each ran."""
    return ", ".join(f"{p.get('internal_api')} {p.get('version')} ({p.get('prefix')}: "
                     f"{p.get('architecture') or '?'} kernels, {p.get('num_threads')} threads)"
                     for p in pools if p.get("user_api") == "blas") or "BLAS not detected"


def run_worker(framework: str, task: dict[str, Any], env_extra: dict[str, str] | None = None,
               timeout: float = 1800) -> dict[str, Any]:
    """Run one worker process on ``task``; returns its JSON result plus ``other_cpu``.

    ``other_cpu`` is the share of all CPUs that processes other than this benchmark used
    while the worker ran (None off Linux).
    """
    return run_module(f"benchmarks.worker_{framework}", [], task, env_extra, timeout,
                      label=framework)


def run_module(module: str, args: list[str], task: dict[str, Any],
               env_extra: dict[str, str] | None = None, timeout: float = 1800,
               label: str | None = None) -> dict[str, Any]:
    """``python -m module *args`` in :func:`worker_env` with ``task`` as JSON on stdin; its
    last stdout line as JSON plus ``process_wall_s`` and ``other_cpu`` (see
    :func:`run_worker`)."""
    busy0, own0, wall0 = busy_cpu_seconds(), own_cpu_seconds(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args],
                          input=json.dumps(task), capture_output=True, text=True, cwd=ROOT,
                          env=worker_env(env_extra), timeout=timeout, check=False)
    wall = time.perf_counter() - wall0
    busy1, own1 = busy_cpu_seconds(), own_cpu_seconds()
    if proc.returncode != 0:
        raise RuntimeError(f"{label or module} worker failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = wall
    result["other_cpu"] = None
    if busy0 is not None and busy1 is not None:
        other = (busy1 - busy0) - (own1 - own0)
        result["other_cpu"] = max(0.0, other) / (wall * (os.cpu_count() or 1))
    return result


def compare_dumps(dump_dir: Path, keys: list[str]) -> dict[str, dict[str, Any]]:
    """Parity of outputs and gradients between the two frameworks, per case."""
    out = {}
    for key in keys:
        name = key.replace("/", "_") + ".npz"
        a_path, b_path = dump_dir / f"minirnn-{name}", dump_dir / f"torch-{name}"
        if not (a_path.exists() and b_path.exists()):
            continue
        with np.load(a_path) as a, np.load(b_path) as b:
            dy = float(np.max(np.abs(a["y"] - b["y"])))
            grads = [k for k in b.files if k != "y"]
            diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in grads)
            scale = max(float(np.max(np.abs(b[k]))) for k in grads)
        dtype = harness.Case.from_key(key).dtype
        rel = diff / max(scale, float(np.finfo(dtype).tiny))
        out[key] = {"max_abs_dy": dy, "rel_dgrad": rel,
                    "agrees": dy < OUTPUT_TOL[dtype] and rel < GRAD_TOL[dtype]}
    return out


def measure_cases(cases: list[harness.Case], rounds: int, task: dict[str, Any], log: Any,
                  env: dict[str, dict[str, str]] | None = None,
                  ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """All rounds of the speed benchmark; returns the worker records and the parity check.

    ``env`` maps a framework to extra environment variables for its workers.
    """
    chunks: dict[tuple[int, int, int, int], list[str]] = {}
    for c in cases:
        chunks.setdefault(c.size, []).append(c.key)
    workers = []
    with tempfile.TemporaryDirectory(prefix="minirnn-bench-") as tmp:
        for r in range(rounds):
            for i, (size, keys) in enumerate(chunks.items()):
                order = FRAMEWORKS if (r + i) % 2 == 0 else FRAMEWORKS[::-1]
                for fw in order:
                    # Peak memory and the parity dumps once, in the first round.
                    sub = {**task, "cases": keys, "memory": r == 0 and fw == "minirnn",
                           "dump_dir": tmp if r == 0 else None}
                    res = run_worker(fw, sub, env_extra=(env or {}).get(fw))
                    res.update({"round": r, "chunk": list(size)})
                    workers.append(res)
                    other = res["other_cpu"]
                    log(f"round {r + 1}/{rounds} {fw:7s} T,N,D,H={size}: "
                        f"{res['process_wall_s']:.1f} s, other processes "
                        f"{'?' if other is None else f'{100 * other:.0f} %'} of the CPUs, "
                        f"load {res['loadavg_after']}")
        parity = compare_dumps(Path(tmp), [c.key for c in cases])
    return workers, parity


def measure_load(rounds: int, steps: int, max_s: float, log: Any) -> list[dict[str, Any]]:
    """Tiny training run (LSTM f32, adding size, Adam) with and without a busy core."""
    records = []
    for r in range(rounds):
        conditions = (False, True) if r % 2 == 0 else (True, False)
        for loaded in conditions:
            busy = None
            if loaded:
                busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
                time.sleep(0.5)  # let it take its core
            try:
                for label, fw, env in LOAD_VARIANTS:
                    res = run_worker(fw, {"task": "tinyrun", "steps": steps, "max_s": max_s},
                                     env_extra=env)
                    res.update({"round": r, "variant": label, "loaded": loaded, "steps": steps})
                    records.append(res)
                    log(f"load test round {r + 1}/{rounds} {'busy core' if loaded else 'no extra'}"
                        f" {label}: {1e3 * harness.median(res['step_s']):.1f} ms/step")
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
    return records


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or only render), write the JSON and the doc; 1 on a parity miss."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds and fewer repeats (a few minutes)")
    parser.add_argument("--rounds", type=int, help="rounds (default 5, 2 with --quick)")
    parser.add_argument("--render", action="store_true",
                        help="do not measure: regenerate the doc from the saved JSON")
    parser.add_argument("--results", type=Path,
                        help="results JSON to write (or read with --render); default "
                             "benchmarks/results/results.json (results-quick.json if --quick)")
    parser.add_argument("--doc", type=Path, default=DOC, help="page to regenerate")
    parser.add_argument("--no-doc", action="store_true", help="leave the doc alone")
    parser.add_argument("--cells", nargs="+", choices=harness.CELLS, default=harness.CELLS)
    parser.add_argument("--dtypes", nargs="+", choices=harness.DTYPES, default=harness.DTYPES)
    parser.add_argument("--min-repeats", type=int,
                        help="timed calls per case and round at least (default 3, 1 with --quick)")
    parser.add_argument("--budget", type=float,
                        help="seconds of timed calls per case and round (default 0.3, 0.05 quick)")
    parser.add_argument("--single-thread", action="store_true",
                        help="one thread in every worker (OPENBLAS/MINIRNN_BLAS/OMP/MKL = 1) and "
                             "process CPU times: the load-robust comparison; its own JSON and "
                             "section of the doc")
    parser.add_argument("--torch-threads", type=int,
                        help="OMP_NUM_THREADS for the torch workers (default: torch's own)")
    parser.add_argument("--load-rounds", type=int,
                        help="rounds of the thread-policy-under-load test (default 3, 1 quick; "
                             "0 skips it)")
    parser.add_argument("--no-load-test", action="store_true", help="same as --load-rounds 0")
    parser.add_argument("--kernel", choices=("auto", "fused", "compiled"), default="auto",
                        help="minirnn layers' kernel= (compiled: the numba kernels of the fast "
                             "extra); not auto: its own results-<kernel>.json")
    args = parser.parse_args(argv)
    stem = "results-1thread" if args.single_thread else "results"
    if args.kernel != "auto":
        stem += f"-{args.kernel}"
    results = args.results or RESULTS / (f"{stem}-quick.json" if args.quick else f"{stem}.json")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if args.render:
        raw = json.loads(results.read_text())
    else:
        rounds = args.rounds or (2 if args.quick else 5)
        if rounds < 1:
            parser.error(f"--rounds must be at least 1, got {rounds}")
        # In-process repeats only steady one round's median; the spread comes from rounds.
        min_repeats = args.min_repeats or (1 if args.quick else 3)
        budget = args.budget if args.budget is not None else (0.05 if args.quick else 0.3)
        if min_repeats < 1 or budget < 0:
            parser.error("--min-repeats must be >= 1 and --budget >= 0")
        max_repeats = max(min_repeats, 5 if args.quick else 20)
        task = {"task": "cases", "modes": list(harness.MODES), "budget_s": budget,
                "min_repeats": min_repeats, "max_repeats": max_repeats}
        cases = harness.all_cases(cells=args.cells, dtypes=args.dtypes)
        raw = {"meta": {
            "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "mode": "quick" if args.quick else "full", "rounds": rounds, "task": task,
            "revision": git_revision(), "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "loadavg_start": loadavg(),
            "kernel": args.kernel, "unset_env": list(UNSET_ENV),
        }}
        start = time.perf_counter()
        env = {"torch": {"OMP_NUM_THREADS": str(args.torch_threads)}} if args.torch_threads else {}
        if args.single_thread:
            env = {"minirnn": {"OPENBLAS_NUM_THREADS": "1", "MINIRNN_BLAS_THREADS": "1"},
                   "torch": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}}
            raw["meta"]["clock"] = "cpu"
        if args.kernel != "auto":
            env.setdefault("minirnn", {})["MINIRNN_BENCH_KERNEL"] = args.kernel
        raw["meta"]["worker_env"] = env
        raw["workers"], raw["parity"] = measure_cases(cases, rounds, task, log, env)
        load_rounds = 0 if args.no_load_test else (
            args.load_rounds if args.load_rounds is not None
            else 0 if args.single_thread else 1 if args.quick else 3)
        raw["load_test"] = measure_load(load_rounds, 30, 5.0 if args.quick else 10.0, log)
        raw["meta"]["loadavg_end"] = loadavg()
        raw["meta"]["wall_s"] = round(time.perf_counter() - start, 1)
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps(raw, indent=1) + "\n")
        log(f"wrote {results}")
    block = harness.render_report(raw, results.relative_to(ROOT).as_posix()
                                  if results.is_relative_to(ROOT) else str(results))
    if args.no_doc:
        print(block)
    else:
        flag = "--single-thread" if raw["meta"].get("clock") == "cpu" else ""
        args.doc.write_text(harness.replace_generated(args.doc.read_text(), block, flag))
        log(f"regenerated {args.doc}")
    return 1 if any(not p["agrees"] for p in raw.get("parity", {}).values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
