"""Run ``minirnn train series`` with its DEFAULTS on every real series and tabulate the results.

Usage::

    python benchmarks/forecasting.py [--data ../shared/data] [--docs docs/forecasting.md]

Each series runs in its own process (the command a user types, defaults only, ``--no-plot``),
timed by wall clock (the machine is shared: times are indicative). The table (model vs each
baseline, MASE, seconds) is printed, written to ``benchmarks/results/forecasting.json`` and put
between the ``<!-- forecasting-table -->`` markers of docs/forecasting.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: file stem -> value column (other CSVs: their last column)
COLUMNS = {"airline-passengers": "Passengers", "daily-min-temperatures": "Temp", "Lynx": "0",
           "ShampooSales": "Sales", "seatbelts": "KSI"}
START, END = "<!-- forecasting-table -->", "<!-- /forecasting-table -->"


def _column(path: Path) -> str:
    if path.stem in COLUMNS:
        return COLUMNS[path.stem]
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle))[-1].strip()


def run_one(path: Path, column: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "minirnn", "train", "series", "--csv", str(path), "--column",
             column, "--no-plot", "--output", out],
            capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{path.name}: failed:\n{result.stderr}")
        # The run directory may be a timestamped folder inside --output.
        found = sorted(Path(out).rglob("report.json"))
        if not found:
            raise SystemExit(f"{path.name}: no report.json written in {out}")
        report = json.loads(found[0].read_text())
    summary = next(line for line in result.stdout.splitlines() if line.startswith("test RMSE"))
    return {"series": path.stem, "column": column, "seconds": seconds, "summary": summary,
            **report}


def table(rows: list[dict]) -> str:
    head = ("| series | forecast by | model RMSE | persistence | seasonal naive | drift | "
            "linear AR (order) | model MASE | best baseline MASE | seconds |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in rows:
        m = r["metrics"]
        bases = {k: v for k, v in m.items() if k != "model"}
        best_base = min(bases, key=lambda k: bases[k]["mase"])
        ar = f"linear AR({r['linear_ar_order']})"
        sn = m.get("seasonal naive")

        def cell(name: str, m: dict = m) -> str:
            value = m[name]["rmse"]
            mark = " ✗" if value <= m["model"]["rmse"] else ""  # a baseline as good or better
            return f"{value:.3f}{mark}"

        lines.append(
            f"| {r['series']} | {r['method']} | **{m['model']['rmse']:.3f}** | "
            f"{cell('persistence')} | {cell('seasonal naive') if sn else '—'} | {cell('drift')} "
            f"| {cell(ar)} ({r['linear_ar_order']}) | {m['model']['mase']:.3f} | "
            f"{bases[best_base]['mase']:.3f} ({best_base}) | {r['seconds']:.0f} |")
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"),
                        help="folder of CSV series (default: ../shared/data from the repo)")
    parser.add_argument("--docs", default=str(ROOT / "docs" / "forecasting.md"))
    args = parser.parse_args()
    files = sorted(Path(args.data).glob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV files in {args.data}")
    rows = []
    for path in files:
        row = run_one(path, _column(path))
        print(f"{path.stem}: {row['summary']}  [{row['seconds']:.0f}s wall]", flush=True)
        rows.append(row)
    text = table(rows)
    print(text)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "forecasting.json").write_text(json.dumps(rows, indent=1, default=str))
    docs = Path(args.docs)
    if docs.exists() and START in docs.read_text():
        page = docs.read_text()
        before, rest = page.split(START, 1)
        after = rest.split(END, 1)[1]
        docs.write_text(before + START + "\n" + text + END + after)
        print(f"updated {docs}")


if __name__ == "__main__":
    main()
