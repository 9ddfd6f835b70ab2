"""Start-up time: ``import minirnn`` against ``import numpy``, and ``minirnn --help`` /
``--version``, each in a fresh process.

    python -m benchmarks.startup                 # 7 rounds (about 30 s)
    python -m benchmarks.startup --rounds 15 --json benchmarks/results/startup.json

Issue 32's bars, on a quiet machine: ``import minirnn`` at most 0.2 s more than ``import
numpy``, and ``minirnn --help`` / ``--version`` within 0.6 s (``train adding --help`` and
``datasets`` are measured with no bar: what a command pays before it runs). Every case
runs once per round in its own interpreter (``python -c ...`` or ``python -m minirnn
...``), the cases in a new order each round (a rotation: a slow moment of the machine does
not always hit the same case), after one untimed warm-up round (the file system's cache,
``.pyc`` files). A case's figure is the median of its rounds' wall times, measured around
the whole process (the interpreter's own start included, as a user waits for it); ``python
-c pass`` is measured too, so the interpreter's share is visible. The exit status is 1
when a bar is missed.

To find what an import costs: ``python -X importtime -c "import minirnn"`` (or ``python -X
importtime -m minirnn --version``) prints every module's own and cumulative microseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: name -> arguments after ``python``
CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import numpy": ["-c", "import numpy"],
    "import minirnn": ["-c", "import minirnn"],
    "from minirnn import Sequential, Solver": ["-c", "from minirnn import Sequential, Solver"],
    "minirnn --help": ["-m", "minirnn", "--help"],
    "minirnn --version": ["-m", "minirnn", "--version"],
    # no bar: what a command that builds its parsers costs before it runs
    "minirnn train adding --help": ["-m", "minirnn", "train", "adding", "--help"],
    "minirnn datasets": ["-m", "minirnn", "datasets"],
}
#: (case, reference case or None, bar in seconds): case - reference must be <= bar
BARS = [
    ("import minirnn", "import numpy", 0.2),
    # the same bar for what a program imports first (the names load on first use)
    ("from minirnn import Sequential, Solver", "import numpy", 0.2),
    ("minirnn --help", None, 0.6),
    ("minirnn --version", None, 0.6),
]


def time_once(args: list[str], env: dict[str, str]) -> float:
    """Wall seconds of ``python ARGS`` in a new process (fails loudly if it fails)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def measure(rounds: int) -> dict[str, object]:
    """Per case its wall time in every round; rounds rotate the order of the cases."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    names = list(CASES)
    for name in names:  # warm-up: caches, bytecode
        time_once(CASES[name], env)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(time_once(CASES[name], env))
        print(f"round {r + 1}/{rounds} done (load average {os.getloadavg()[0]:.2f})",
              file=sys.stderr, flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    checks = []
    for name, reference, bar in BARS:
        value = medians[name] - (medians[reference] if reference else 0.0)
        checks.append({"case": name, "minus": reference, "seconds": round(value, 3),
                       "bar": bar, "met": value <= bar})
    return {"rounds": rounds, "seconds": {k: [round(v, 4) for v in vs] for k, vs in
                                          times.items()},
            "median": {k: round(v, 4) for k, v in medians.items()}, "checks": checks,
            "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def report(result: dict[str, object]) -> str:
    """The medians and the bars as a small text table."""
    median = result["median"]
    assert isinstance(median, dict)
    lines = [f"{'case':42s} {'median s':>9s}"]
    lines += [f"{name:42s} {value:9.3f}" for name, value in median.items()]
    checks = result["checks"]
    assert isinstance(checks, list)
    for check in checks:
        what = check["case"] + (f" - ({check['minus']})" if check["minus"] else "")
        lines.append(f"{what:58s} {check['seconds']:6.3f} s  bar {check['bar']} s: "
                     f"{'met' if check['met'] else 'MISSED'}")
    lines.append(f"{result['rounds']} rounds, load average at the end "
                 f"{result['load_average'][0]:.2f} on {result['cpus']} CPUs")  # type: ignore[index]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds of every case")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the raw times and medians to this file")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    result = measure(args.rounds)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    checks = result["checks"]
    assert isinstance(checks, list)
    return 0 if all(check["met"] for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
