"""Sweep targets of issue 17, measured with the ``minirnn`` command itself.

1. ``pruning``: on the adding problem, a 30-trial sweep with Optuna's MedianPruner against the
   same 30-trial sweep without pruning (same sampler seed), and the hand-picked defaults of
   ``minirnn train adding`` on the same data. Reports wall time, best validation loss and the
   best trial's test MSE of each. The order of the two sweeps alternates between rounds.
2. ``workers``: a fixed set of trials (random sampler, fixed seed, only the learning rate
   varies so every trial does the same work; no pruning, no early stop) with ``--n-jobs 1``
   and ``--n-jobs 2``, alternating, and the ratio of their wall times.

Every run is its own process (``python -m minirnn ...``), in a fresh temporary folder. The
machine may be shared: the 1-minute load average is recorded before and after every run;
read the numbers of one round together, and treat a loaded machine's ratios with care (with
more runnable processes than cores, two workers also get a larger share of the CPU than one).

Usage::

    python -m benchmarks.sweep pruning --rounds 1            # ~reduced adding, 30 trials
    python -m benchmarks.sweep workers --rounds 2 --trials 8
    python -m benchmarks.sweep pruning --seq-len 50 --train-size 10000   # the full problem
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "sweep.json"


def _load() -> float:
    return os.getloadavg()[0]


def _run(argv: list[str], cwd: Path, threads: int | None = None
         ) -> tuple[float, float, float, str]:
    """(seconds, load before, load after, stdout) of ``python -m minirnn argv``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if threads is not None:
        env.update({v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                              "MKL_NUM_THREADS")})
    before = _load()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "minirnn", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"minirnn {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return seconds, before, _load(), proc.stdout


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def _trial_seconds(folder: Path) -> float:
    import csv

    with open(folder / "trials.csv") as handle:
        return sum(float(r["seconds"]) for r in csv.DictReader(handle) if r["seconds"])


def pruning(args: argparse.Namespace) -> list[dict[str, Any]]:
    task = ["--seq-len", str(args.seq_len), "--train-size", str(args.train_size),
            "--test-size", str(args.test_size), "--epochs", str(args.epochs)]
    rows = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            cwd = Path(tmp)
            seconds, l0, l1, _ = _run(["train", "adding", *task, "--output", "default",
                                       "--no-plot", "--quiet"], cwd)
            report = json.loads((cwd / "default" / "report.json").read_text())
            history = json.loads((cwd / "default" / "history.json").read_text())
            row: dict[str, Any] = {
                "round": r, "problem": task,
                "defaults": {"seconds": seconds, "load": [l0, l1],
                             "val_loss": min(history["val_loss"]),
                             "test_mse": report["test_mse"]}}
            order = ["median", "none"] if r % 2 == 0 else ["none", "median"]
            for pruner in order:
                out = cwd / pruner
                seconds, l0, l1, _ = _run(
                    ["sweep", "adding", *task, "--trials", str(args.trials), "--pruner", pruner,
                     "--sampler-seed", str(args.sampler_seed), "--output", str(out),
                     "--no-plot"], cwd)
                s = _summary(out)
                row[pruner] = {"seconds": seconds, "load": [l0, l1], "counts": s["counts"],
                               "val_loss": s["best"]["val_loss"],
                               "test_mse": s["best"]["test"].get("test_mse"),
                               "params": s["best"]["params"]}
            rows.append(row)
            print(json.dumps(row, indent=1), flush=True)
    return rows


def workers(args: argparse.Namespace) -> list[dict[str, Any]]:
    task = ["--seq-len", str(args.seq_len), "--train-size", str(args.train_size),
            "--test-size", str(args.test_size), "--epochs", str(args.epochs),
            "--patience", str(args.epochs), "--cell", "lstm", "--hidden-size", "32",
            "--batch-size", "32", "--layers", "1"]
    rows = []
    for r in range(args.rounds):
        row: dict[str, Any] = {"round": r, "trials": args.trials, "problem": task}
        order = [1, 2] if r % 2 == 0 else [2, 1]
        for jobs in order:
            with tempfile.TemporaryDirectory() as tmp:
                seconds, l0, l1, _ = _run(
                    ["sweep", "adding", *task, "--trials", str(args.trials), "--pruner", "none",
                     "--sampler", "random", "--sampler-seed", "0", "--n-jobs", str(jobs),
                     "--output", str(Path(tmp) / "s"), "--no-plot"], Path(tmp),
                    threads=1 if jobs == 1 and args.one_thread else None)
                busy = _trial_seconds(Path(tmp) / "s")
            # Trials running at once on average (sum of trial durations / wall time): 2 means
            # the workers never waited for each other, whatever the machine's load.
            row[f"jobs{jobs}"] = {"seconds": seconds, "load": [l0, l1],
                                  "mean_trial_seconds": busy / args.trials,
                                  "concurrency": busy / seconds}
        row["one_worker_blas_threads"] = 1 if args.one_thread else "all cores"
        row["speedup"] = row["jobs1"]["seconds"] / row["jobs2"]["seconds"]
        rows.append(row)
        print(json.dumps(row, indent=1), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["pruning", "workers"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--trials", type=int, default=None,
                        help="default: 30 (pruning), 8 (workers)")
    parser.add_argument("--seq-len", type=int, default=30)
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--test-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 10 (pruning), 3 (workers)")
    parser.add_argument("--sampler-seed", type=int, default=0)
    parser.add_argument("--one-thread", action="store_true",
                        help="workers: give the single worker 1 BLAS thread too (as each of "
                             "two workers has), so a loaded machine's CPU share is the same "
                             "per thread and the ratio shows the sweep's own scaling")
    parser.add_argument("--save", action="store_true", help=f"append to {RESULTS}")
    args = parser.parse_args()
    pruning_run = args.what == "pruning"
    args.trials = args.trials or (30 if pruning_run else 8)
    args.epochs = args.epochs or (10 if pruning_run else 3)
    start_load = os.getloadavg()
    rows = pruning(args) if pruning_run else workers(args)
    if args.save:
        saved = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
        saved.append({"what": args.what, "cores": os.cpu_count(), "load_at_start": start_load,
                      "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      "rows": rows})
        RESULTS.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
