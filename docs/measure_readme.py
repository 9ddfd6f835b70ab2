"""Re-measure the results table at the top of README.md, and write it back.

    python docs/measure_readme.py            # runs the commands (a few minutes on 2 cores)
    python docs/measure_readme.py --render   # only rewrite README.md from docs/readme_results.json

Each row is the exact ``minirnn`` command shown in the README, run in its own process with a
fresh run folder; its test metric is read from the run's report.json and its wall time is
measured around the process. Results go to ``docs/readme_results.json`` (with the machine's
load average, since the machine may be shared) and the table between the
``<!-- measured:begin -->`` and ``<!-- measured:end -->`` markers of README.md is rewritten
from that file. ``tests/test_readme.py`` checks that README.md matches the file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "readme_results.json"
README = ROOT / "README.md"
BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"

# (command after "minirnn", the report.json key of its result, how to print it, a remark).
# The format is applied to that value ("{:.5f}"), or, if it names keys ("{test_rmse:.2f}"),
# to every scalar of the run's report.json, so a row can show a result next to baselines.
ROWS = [
    ("train adding", "test_mse", "test MSE {:.5f}", "LSTM with the task's default options"),
    ("train adding --cell gru --lr 3e-3", "test_mse", "test MSE {:.5f}", ""),
    ("train adding --cell rnn", "test_mse", "test MSE {:.3f}", "tanh RNN"),
    ("train binary-addition", "exact_sums", "{:.1%} of held-out sums exact",
     "R rnn's example: 8-bit operands, 16 units"),
    ("train series --dataset airline", "test_rmse",
     "test RMSE {test_rmse:.2f} vs persistence {persistence_rmse:.2f}, seasonal naive "
     "{seasonal_naive_rmse:.2f}, linear AR({linear_ar_order}) {linear_ar_rmse:.2f}",
     "monthly passengers, last 48 months"),
    ("train series --dataset temperatures", "test_rmse",
     "test RMSE {test_rmse:.3f} °C vs persistence {persistence_rmse:.3f}, linear "
     "AR({linear_ar_order}) {linear_ar_rmse:.3f}", "daily minima, last third"),
    ("train classify --dataset BasicMotions", "test_accuracy",
     "test accuracy {test_accuracy:.3f} vs 1-NN Euclidean {nn1_euclidean_accuracy:.3f}, "
     "1-NN DTW {nn1_dtw_accuracy:.3f}", "4 activities, 40 test series"),
]


def verdict(key: str, report: dict[str, object]) -> str:
    """What a result means, decided from the run's numbers (so a re-measurement cannot
    leave a stale claim behind): the adding problem against always predicting 1 on the
    same test set, binary addition by its sums, the others by the task's own verdict."""
    value = report[key]
    assert isinstance(value, (int, float))
    if key == "test_mse":
        constant = report.get("always_one_mse", 1 / 6)
        assert isinstance(constant, (int, float))
        if value < 0.01:
            return "solved (< 0.01)"
        if value < 0.9 * constant:
            return (f"learned ({constant / value:.0f}x below always predicting 1, "
                    f"{constant:.4f} on this test set), not solved (>= 0.01)")
        return (f"not learned: about as good as always predicting 1 ({constant:.4f} on "
                "this test set)")
    if key == "exact_sums":
        return "every sum right" if value == 1.0 else "not every sum right"
    return str(report.get("verdict", ""))


def measure() -> dict[str, object]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (command, key, _, _) in enumerate(ROWS):
            folder = Path(tmp) / f"run{i}"
            argv = [sys.executable, "-m", "minirnn", *shlex.split(command), "--no-plot",
                    "--quiet", "--output", str(folder)]
            start = time.perf_counter()
            subprocess.run(argv, check=True, cwd=tmp, env={**os.environ,
                                                           "PYTHONPATH": str(ROOT)})
            seconds = time.perf_counter() - start
            report = json.loads((folder / "report.json").read_text())
            # scalars only, and no file paths (they name this machine's folders)
            scalars = {k: v for k, v in report.items()
                       if isinstance(v, (int, float, str)) and not isinstance(v, bool)
                       and not (isinstance(v, str) and v.startswith(os.sep))}
            rows.append({"command": f"minirnn {command}", "value": report[key],
                         "seconds": round(seconds, 1), "report": scalars})
            print(rows[-1], flush=True)
    return {"rows": rows, "load_average": list(os.getloadavg()), "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "measured": time.strftime("%Y-%m-%d", time.gmtime())}


def render(results: dict[str, object]) -> str:
    """The README table (markdown) for ``results``."""
    load = results["load_average"]
    assert isinstance(load, list)
    lines = [
        "| command | result | wall time | note |",
        "|---|---|---:|---|",
    ]
    rows = results["rows"]
    assert isinstance(rows, list)
    for row, (_, key, fmt, remark) in zip(rows, ROWS, strict=True):
        report = {**row.get("report", {}), key: row["value"]}
        note = "; ".join(part for part in (verdict(key, report), remark) if part)
        shown = (fmt.format(row["value"]) if "{:" in fmt
                 else fmt.format(**row.get("report", {})))
        lines.append(f"| `{row['command']}` | {shown} | "
                     f"{row['seconds']:.0f} s | {note} |")
    lines.append("")
    # The runs themselves keep about one core busy: a load above the core count means others.
    busy = load[0] > float(results["cpus"])  # type: ignore[arg-type]
    condition = ("the machine was shared, so wall times are only indicative" if busy
                 else "no other work on the machine")
    lines.extend(textwrap.wrap(
        f"Measured {results['measured']} by `python docs/measure_readme.py` on "
        f"{results['cpus']} cores (load average {load[0]:.1f} at the end: {condition}).", 96))
    return "\n".join(lines)


def write_readme(results: dict[str, object]) -> None:
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"README.md lacks the {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n{render(results)}\n{END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--render", action="store_true",
                        help="only rewrite README.md from docs/readme_results.json")
    args = parser.parse_args()
    if args.render:
        results = json.loads(RESULTS.read_text())
    else:
        results = measure()
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    write_readme(results)
    print(f"README.md table rewritten from {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
