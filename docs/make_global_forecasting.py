"""Generate the outputs shown in docs/global-forecasting.md, and write them into the page.

    python docs/make_global_forecasting.py               # run the page's commands (~2 min)
    python docs/make_global_forecasting.py --panel FILE  # only write the generated panel CSV
    python docs/make_global_forecasting.py --render      # only the benchmark table

The page's commands are run as written (in a temporary folder, with this checkout's
``minirnn``); their standard output replaces the text between the ``<!-- output:NAME -->``
markers. The benchmark table between ``<!-- global-table -->`` markers is rendered from
``benchmarks/results/global_forecasting.json`` (``python -m benchmarks.global_forecasting
--data-dir ../shared/data`` measures it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "global-forecasting.md"
RESULTS = ROOT / "benchmarks" / "results" / "global_forecasting.json"
TABLE = ("<!-- global-table -->", "<!-- /global-table -->")

#: (marker name, commands run in order; the output of the last is shown)
EXAMPLES = [
    ("panel", ["python docs/make_global_forecasting.py --panel panel.csv",
               "minirnn train series --csv panel.csv --column all --epochs 10 --quiet "
               "--no-plot --output runs/panel"]),
    ("forecast", ["minirnn forecast runs/panel --steps 3 --no-plot"]),
    ("shipped", ["minirnn train series --csv minirnn/apps/datasets/airline.csv "
                 "minirnn/apps/datasets/shampoo.csv --column all --epochs 5 --quiet "
                 "--no-plot --output runs/shipped"]),
]


def write_panel(path: Path, n_series: int = 8, length: int = 180) -> None:
    """A panel of related monthly series (benchmarks.global_forecasting.make_panel) as one
    CSV: a month column and one column per series."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.global_forecasting import make_panel

    panel = make_panel(n_series, length, seed=3)
    names = [f"shop{k + 1}" for k in range(n_series)]
    lines = ["month," + ",".join(names)]
    for i in range(length):
        month = f"{2000 + i // 12}-{i % 12 + 1:02d}"
        lines.append(month + "," + ",".join(f"{y[i]:.2f}" for y in panel))
    path.write_text("\n".join(lines) + "\n")


def _replace(text: str, begin: str, end: str, body: str) -> str:
    start, stop = text.index(begin) + len(begin), text.index(end)
    return text[:start] + "\n" + body.rstrip("\n") + "\n" + text[stop:]


def run_examples(text: str) -> str:
    """Run every example in one scratch copy of the files they read; paste the outputs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "docs").symlink_to(ROOT / "docs")
        (work / "benchmarks").symlink_to(ROOT / "benchmarks")
        (work / "minirnn").symlink_to(ROOT / "minirnn")
        for name, commands in EXAMPLES:
            out = ""
            for command in commands:
                result = subprocess.run(shlex.split(command), cwd=work, env=env,
                                        capture_output=True, text=True, timeout=1800)
                if result.returncode:
                    raise SystemExit(f"{command!r} failed:\n{result.stderr}")
                out = result.stdout
            shown = "\n".join(line for line in out.splitlines()
                              if not line.startswith(("saved ", "run folder")))
            # The command itself is in the page's ```bash block, above.
            fence = "```text\n" + shown + "\n```"
            text = _replace(text, f"<!-- output:{name} -->", f"<!-- /output:{name} -->",
                            fence)
    return text


def render_table(text: str) -> str:
    """The benchmark's cases as a table (geometric mean of RMSE / persistence)."""
    data = json.loads(RESULTS.read_text())
    rows = ["| case | series | model | global network alone | local Forecaster | seasonal "
            "naive | model vs local (wins / losses) | forecast used (local / global / "
            "mean) | seconds (load) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for case in data["cases"]:
        gm, used = case["geometric_mean_rmse_ratio"], case["used"]
        sn = gm.get("seasonal naive")
        rows.append(f"| {case['case']} | {case['series']} | {gm['forecast']:.3f} | "
                    f"{gm['global']:.3f} | {gm['local']:.3f} | "
                    f"{'-' if sn is None else f'{sn:.3f}'} | {case['beats_local']} / "
                    f"{case['loses_to_local']} | {used['local']} / {used['global']} / "
                    f"{used['combination']} | {case['seconds']:.0f} "
                    f"({case['load_before'][0]:.1f}) |")
    long = data.get("long_series")
    if long:
        one = long["one_series_forecaster"]
        m = one["ratio_to_persistence"]
        rows.append("")
        rows.append(f"Long series (temperatures, 3,650 days), the one-series Forecaster with "
                    f"its network on: **{one['method']}**; test RMSE / persistence "
                    f"{m['model']:.3f} (seasonal naive (365) "
                    f"{m['seasonal naive (365)']:.3f}); {one['seconds']:.0f} s at load "
                    f"{one['load_before'][0]:.1f}.")
        glob = long["global_on_one_series"]
        g = glob["geometric_mean_rmse_ratio"]
        rows.append("")
        rows.append(f"The global network trained on that one series: RMSE / persistence "
                    f"{g['global']:.3f}, local Forecaster {g['local']:.3f}, forecast used "
                    f"({', '.join(k for k, v in glob['used'].items() if v)}) "
                    f"{g['forecast']:.3f}.")
    return _replace(text, *TABLE, "\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panel", type=Path, help="only write the generated panel CSV")
    parser.add_argument("--render", action="store_true", help="only the benchmark table")
    args = parser.parse_args()
    if args.panel is not None:
        write_panel(args.panel)
        print(f"wrote {args.panel}: 8 related monthly series of 180 values")
        return 0
    text = PAGE.read_text()
    if not args.render:
        text = run_examples(text)
    if RESULTS.exists():
        text = render_table(text)
    PAGE.write_text(text)
    print(f"rewrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
