"""Sequence classification with the CLI defaults: accuracy next to the archive's baselines.

Runs ``minirnn train classify --train X_TRAIN.ts --test X_TEST.ts`` (defaults only, each data
set in its own process) and collects every ``report.json`` into one table: model test
accuracy, majority class, 1-NN Euclidean, 1-NN DTW, training time, epochs.

Data sets:

* ``JapaneseVowels`` and ``BasicMotions`` (UEA archive) from ``--data-dir``
  (default: ``../shared/data`` next to the repository, else the copies shipped in
  ``minirnn/apps/datasets``);
* synthetic univariate sets written by this script with fixed seeds: ``CBF``
  (Cylinder-Bell-Funnel, 30 train / 900 test as in the UCR archive), ``SyntheticControl``
  (300 / 300), ``NoisySines`` (three frequencies, random phase, unequal lengths 40-120);
* any ``NAME/NAME_TRAIN.ts`` + ``NAME_TEST.ts`` pairs under ``--extra-dir`` (e.g. the
  univariate archive sets bundled with aeon: ArrowHead, GunPoint, ItalyPowerDemand, OSULeaf).

Usage::

    python benchmarks/classification.py                 # all, table on stdout
    python benchmarks/classification.py --only JapaneseVowels BasicMotions
    python benchmarks/classification.py --markdown results.md --extra-dir /path/to/sets

Times: wall-clock of the whole command (loading, baselines, training, files) and the CPU
seconds of its process (on a shared machine the wall time is inflated by other jobs; the CPU
time is closer to what an idle machine needs, BLAS threads included).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minirnn.apps.data import (  # noqa: E402
    CBF_CLASSES,
    SYNTHETIC_CONTROL_CLASSES,
    cylinder_bell_funnel,
    save_ts,
    synthetic_control,
)


def noisy_sines(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes by frequency (0.05, 0.07, 0.09 cycles a step), random phase, N(0, 1)
    noise, lengths 40-120."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    lengths = rng.integers(40, 121, n)
    x = np.zeros((n, 120, 1))
    for i in range(n):
        t = np.arange(lengths[i])
        freq = (0.05, 0.07, 0.09)[y[i]]
        x[i, :lengths[i], 0] = (np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
                                + rng.standard_normal(lengths[i]))
    return x, lengths, y


def synthetic_sets(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Write the synthetic sets (fixed seeds) and return name -> (train, test)."""
    out = {}
    x, y = cylinder_bell_funnel(30, seed=1)
    xt, yt = cylinder_bell_funnel(900, seed=2)
    out["CBF"] = (x, None, y, xt, None, yt, CBF_CLASSES)
    x, y = synthetic_control(300, seed=1)
    xt, yt = synthetic_control(300, seed=2)
    out["SyntheticControl"] = (x, None, y, xt, None, yt, SYNTHETIC_CONTROL_CLASSES)
    x, lx, y = noisy_sines(60, 1)
    xt, lt, yt = noisy_sines(300, 2)
    out["NoisySines"] = (x, lx, y, xt, lt, yt, ["f05", "f07", "f09"])
    paths = {}
    for name, (x, lx, y, xt, lt, yt, classes) in out.items():
        train, test = folder / f"{name}_TRAIN.ts", folder / f"{name}_TEST.ts"
        save_ts(train, np.round(x, 4), lx, y, classes, problem_name=name)
        save_ts(test, np.round(xt, 4), lt, yt, classes, problem_name=name)
        paths[name] = (train, test)
    return paths


def archive_sets(data_dir: Path | None, extra_dir: Path | None) -> dict[str, tuple[Path, Path]]:
    found = {}
    dirs = [data_dir] if data_dir else [ROOT.parent / "shared" / "data",
                                        ROOT / "minirnn" / "datasets"]
    for name in ("JapaneseVowels", "BasicMotions"):
        for d in dirs:
            if (d / f"{name}_TRAIN.ts").is_file():
                found[name] = (d / f"{name}_TRAIN.ts", d / f"{name}_TEST.ts")
                break
    if extra_dir is not None:
        for train in sorted(extra_dir.glob("*/*_TRAIN.ts")):
            test = train.with_name(train.name.replace("_TRAIN", "_TEST"))
            if test.is_file():
                found[train.name.removesuffix("_TRAIN.ts")] = (train, test)
    return found


def run_one(name: str, train: Path, test: Path, folder: Path, extra: list[str]
            ) -> dict[str, object]:
    out = folder / name
    cmd = [sys.executable, "-m", "minirnn", "train", "classify", "--train", str(train),
           "--test", str(test), "--output", str(out), "--no-plot", "--quiet-epochs", *extra]
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"{name}: minirnn exited with {proc.returncode}")
    report = json.loads((out / "report.json").read_text())
    report["wall_seconds"] = wall
    report["cpu_seconds"] = cpu
    return report


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| data set | train/test | dims | classes | model | network alone | majority | "
             "1-NN ED | 1-NN DTW | beats ED | wall (s) | CPU (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|---:|---:|"]
    for r in rows:
        dtw = "-" if r["nn1_dtw_accuracy"] is None else f"{r['nn1_dtw_accuracy']:.3f}"
        parts: dict[str, float] = r.get("part_accuracy") or {}  # type: ignore[assignment]
        net = f"{parts['network']:.3f}" if "network" in parts else "-"
        acc, ed = float(r["test_accuracy"]), float(r["nn1_euclidean_accuracy"])  # type: ignore[arg-type]
        verdict = "yes" if acc > ed else ("tie" if acc == ed else "NO")
        lines.append(
            f"| {r['data_set']} | {r['n_train']}/{r['n_test']} | {r['dimensions']} | "
            f"{len(r['classes'])} | **{acc:.3f}** | {net} | "  # type: ignore[arg-type]
            f"{r['majority_accuracy']:.3f} | {ed:.3f} | {dtw} | "
            f"{verdict} | {r['wall_seconds']:.0f} | "
            f"{r['cpu_seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--extra-dir", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="data set names")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--json", type=Path, default=None, help="write all reports here")
    parser.add_argument("cli_args", nargs="*", help="extra CLI options after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = {**archive_sets(args.data_dir, args.extra_dir), **synthetic_sets(folder)}
        if args.only:
            sets = {k: v for k, v in sets.items() if k in args.only}
        rows = []
        for name, (train, test) in sets.items():
            report = run_one(name, train, test, folder / "runs", args.cli_args)
            rows.append(report)
            print(f"{name}: model {report['test_accuracy']:.3f}  1-NN ED "
                  f"{report['nn1_euclidean_accuracy']:.3f}  "
                  f"({report['wall_seconds']:.0f}s)", flush=True)
    text = table(rows)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
