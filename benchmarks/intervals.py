"""How often the forecast intervals cover the truth: rolling-origin coverage on real series.

Usage::

    python -m benchmarks.intervals [--data-dir ../shared/data] [--steps 6] [--origins 24]
    python -m benchmarks.intervals --generated [--replicates 30]

For each series, ``Forecaster()`` with its defaults (as ``minirnn train series`` / ``minirnn
forecast`` use them) is fitted on the values up to each of ``--origins`` forecast origins
spread over the last 30 % of the series, then forecasts ``--steps`` values past the origin
with its 80 % and 95 % intervals (``Forecaster.forecast``); a value counts as covered when it
lies within the interval. Nominal coverage is 80 % and 95 %: well below means the intervals
are too narrow. Each coverage has its standard error beside it, from the spread of the
shares covered per batch of origins (the steps of one forecast share its errors, and
origins closer than the steps share targets, so batches of origins spanning the steps, not
the values, are the independent units): with 12 origins it was 4-10 points, as large as the
5-point tolerance, hence 24 by default. The interval score (Winkler: width, plus 2 / alpha times the
distance by which the value misses the interval) rewards narrow intervals that still cover;
divided by the in-sample MAE of the seasonal naive (or naive) forecast it is the MSIS of the
M4 competition (lower is better). Results go to ``benchmarks/results/intervals.json`` and
the table between the ``<!-- intervals-table -->`` markers of docs/forecasting.md (``--docs``).
A series whose origins form one batch (Shampoo: 6 origins, 36 values) has no batch
standard error; the table then shows the binomial one of independent values, a floor (the
values of one forecast are correlated, so the true error is larger).

``--generated``: the same on generated series whose truth is known (random walk, seasonal
AR, a level shift, growing noise, Student-t(3) noise, a multiplicative season with trend;
lengths 80, 150 or 300), ``--replicates`` independent series per kind, each forecast 6
steps past its end: the standard errors come from independent replicates. Results go to
``benchmarks/results/intervals_generated.json`` and the ``<!-- intervals-generated -->``
table.
"""

from __future__ import annotations

import argparse
import json
import time
from math import nan
from pathlib import Path

import numpy as np

from benchmarks.forecasting import COLUMNS, taylor_series
from benchmarks.harness import replace_between
from minirnn.apps.data import load_csv_column
from minirnn.apps.forecasting import Forecaster

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- intervals-table -->", "<!-- /intervals-table -->"
G_START, G_END = "<!-- intervals-generated -->", "<!-- /intervals-generated -->"
#: Kinds of generated series (see ``generate``).
KINDS = ("random walk", "seasonal AR", "level shift", "growing noise", "t(3) noise",
         "trend x season")


def _se(shares: list[float], origins: list[int], steps: int) -> float | None:
    """Standard error of a coverage from the shares covered per origin: the steps of one
    forecast share its errors, and origins closer than ``steps`` share targets, so the
    independent units are batches of consecutive origins spanning ``steps`` values (batch
    means; one origin per batch when they are at least ``steps`` apart)."""
    batches: list[list[float]] = []
    first = None
    for origin, share in zip(origins, shares, strict=True):
        if first is None or origin - first >= steps:
            batches.append([])
            first = origin
        batches[-1].append(share)
    means = [float(np.mean(b)) for b in batches]
    if len(means) < 2:  # one batch: no estimate (None: valid JSON)
        return None
    return float(np.std(means, ddof=1) / np.sqrt(len(means)))


def coverage(y: np.ndarray, steps: int, origins: int, first: float = 0.7) -> dict:
    """Fit at each origin, forecast ``steps`` ahead, count the truths inside each interval."""
    n = len(y)
    lo, hi = int(first * n), n - steps
    points = sorted({round(float(v)) for v in np.linspace(lo, hi, origins)})
    inside = {80: np.zeros(steps), 95: np.zeros(steps)}
    # per origin: the share of its steps covered (the steps of one origin are correlated, so
    # the standard error of a coverage comes from the spread of these, not from N values)
    per_origin: dict[int, list[float]] = {80: [], 95: []}
    done: list[int] = []
    width: dict[int, list[float]] = {80: [], 95: []}
    msis: dict[int, list[float]] = {80: [], 95: []}
    used, failed = 0, []
    start = time.perf_counter()
    for origin in points:
        fc = Forecaster(seed=0).fit(y[:origin])
        try:
            f = fc.forecast(steps)
        except ValueError as e:  # a known failure of recursive forecasts: see the docs
            failed.append({"origin": origin, "error": str(e), "method": fc.method_})
            continue
        truth = y[origin : origin + steps]
        for level in (80, 95):
            hit = (truth >= f.lower[level]) & (truth <= f.upper[level])
            inside[level] += hit
            per_origin[level].append(float(np.mean(hit)))
            width[level].append(float(np.mean((f.upper[level] - f.lower[level])
                                              / np.maximum(np.abs(f.mean), 1e-12))))
            alpha = 1 - level / 100
            lo, hi = f.lower[level], f.upper[level]
            score = (hi - lo) + 2 / alpha * (np.maximum(lo - truth, 0)
                                             + np.maximum(truth - hi, 0))
            msis[level].append(float(np.mean(score) / fc.mase_scale_))
        used += 1
        done.append(origin)
    return {"origins": used, "failed": failed, "steps": steps,
            "seconds": time.perf_counter() - start,
            **{f"cover{level}": float(inside[level].sum() / (used * steps)) if used else nan
               for level in (80, 95)},
            **{f"cover{level}_by_step": (inside[level] / max(used, 1)).tolist()
               for level in (80, 95)},
            **{f"cover{level}_se": _se(per_origin[level], done, steps) for level in (80, 95)},
            # the binomial error of independent values: a floor when there is one batch
            **{f"cover{level}_se_independent": float(np.sqrt(
                inside[level].sum() / (used * steps) * (1 - inside[level].sum() / (used * steps))
                / (used * steps))) if used else nan for level in (80, 95)},
            **{f"cover{level}_by_origin": per_origin[level] for level in (80, 95)},
            **{f"rel_width{level}": float(np.median(width[level])) if used else nan
               for level in (80, 95)},
            **{f"msis{level}": float(np.mean(msis[level])) if used else nan
               for level in (80, 95)}}


def generate(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """A generated series of ``n + 6`` values (the last 6 are forecast) of one of ``KINDS``."""
    m = n + 6
    t = np.arange(m)
    e = rng.normal(size=m)

    def ar(phi: float, noise: np.ndarray) -> np.ndarray:
        y = np.zeros(m)
        for i in range(1, m):
            y[i] = phi * y[i - 1] + noise[i]
        return y

    if kind == "random walk":
        return 100 + np.cumsum(0.1 + e)
    if kind == "seasonal AR":  # a fixed monthly pattern plus AR(1) noise
        return 50 + 3 * rng.normal(size=12)[t % 12] + ar(0.6, e)
    if kind == "level shift":  # a shift of 5 noise sds at a random time past the first third
        return 20 + ar(0.5, e) + 5.0 * (t >= rng.integers(n // 3, m))
    if kind == "growing noise":  # the noise sd grows fourfold over the series
        return 30 + ar(0.7, np.linspace(0.5, 2.0, m) * e)
    if kind == "t(3) noise":
        return 30 + ar(0.6, rng.standard_t(3, size=m))
    if kind == "trend x season":  # multiplicative season on a trend, like the airline data
        return 100 * np.exp(0.01 * t + 0.15 * np.sin(2 * np.pi * t / 12)
                            + np.cumsum(0.02 * e))
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def generated(replicates: int, steps: int = 6) -> dict:
    """Coverage and MSIS per kind of generated series, one forecast of ``steps`` values past
    the end of each of ``replicates`` independent series (seeds 1000, 1001, ...)."""
    out = {}
    for kind in KINDS:
        hit: dict[int, list[float]] = {80: [], 95: []}
        msis: dict[int, list[float]] = {80: [], 95: []}
        start = time.perf_counter()
        for seed in range(replicates):
            rng = np.random.default_rng(1000 + seed)
            n = int(rng.choice([80, 150, 300]))
            y = generate(kind, n, rng)
            fc = Forecaster(seed=0).fit(y[:n])
            f = fc.forecast(steps)
            truth = y[n:n + steps]
            for level in (80, 95):
                lo, hi = f.lower[level], f.upper[level]
                hit[level].append(float(np.mean((truth >= lo) & (truth <= hi))))
                score = (hi - lo) + 2 / (1 - level / 100) * (
                    np.maximum(lo - truth, 0) + np.maximum(truth - hi, 0))
                msis[level].append(float(np.mean(score) / fc.mase_scale_))
        out[kind] = {"replicates": replicates, "steps": steps,
                     "seconds": time.perf_counter() - start,
                     **{f"cover{lv}": float(np.mean(hit[lv])) for lv in (80, 95)},
                     **{f"cover{lv}_se": float(np.std(hit[lv], ddof=1) / np.sqrt(replicates))
                        for lv in (80, 95)},
                     **{f"msis{lv}": float(np.mean(msis[lv])) for lv in (80, 95)}}
        r = out[kind]
        print(f"{kind}: 80 % covers {r['cover80']:.0%}, 95 % covers {r['cover95']:.0%} "
              f"({r['seconds']:.0f} s)", flush=True)
    return out


def generated_table(results: dict) -> str:
    lines = ["| generated series | series x steps | 80 % interval covers (± s.e.) | 95 % "
             "interval covers (± s.e.) | MSIS 80 % / 95 % |", "|---|---|---|---|---|"]
    for kind, r in results.items():
        lines.append(f"| {kind} | {r['replicates']} x {r['steps']} | {r['cover80']:.0%} ± "
                     f"{r['cover80_se']:.0%} | {r['cover95']:.0%} ± {r['cover95_se']:.0%} | "
                     f"{r['msis80']:.2f} / {r['msis95']:.2f} |")
    c = {lv: float(np.mean([r[f"cover{lv}"] for r in results.values()])) for lv in (80, 95)}
    g = {lv: float(np.exp(np.mean([np.log(r[f"msis{lv}"]) for r in results.values()])))
         for lv in (80, 95)}
    lines.append(f"| **all** | | **{c[80]:.0%}** | **{c[95]:.0%}** | {g[80]:.2f} / "
                 f"{g[95]:.2f} (geometric mean) |")
    return "\n".join(lines)


def _replace(doc: Path, start: str, end: str, text: str) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of the file ``doc``."""
    try:
        doc.write_text(replace_between(doc.read_text(), start, end, text))
    except ValueError as exc:
        raise SystemExit(f"{doc}: {exc}") from None


def table(results: dict) -> str:
    lines = ["| series | origins x steps | 80 % interval covers (± s.e.) | 95 % interval covers "
             "(± s.e.) | 80 % cover, step 1 / last | MSIS 80 % / 95 % | forecasts that failed "
             "| seconds |", "|---|---|---|---|---|---|---|---|"]
    tot = {80: 0.0, 95: 0.0}
    n = 0
    for name, r in results.items():
        k = r["origins"] * r["steps"]
        n += k
        for level in (80, 95):
            tot[level] += r[f"cover{level}"] * k
        by = r["cover80_by_step"]
        se = {lv: f"n/a (one batch; > {r[f'cover{lv}_se_independent']:.0%})"
              if r[f"cover{lv}_se"] is None else f"{r[f'cover{lv}_se']:.0%}" for lv in (80, 95)}
        lines.append(f"| {name} | {r['origins']} x {r['steps']} | {r['cover80']:.0%} ± "
                     f"{se[80]} | {r['cover95']:.0%} ± {se[95]} | "
                     f"{by[0]:.0%} / {by[-1]:.0%} | "
                     f"{r['msis80']:.2f} / {r['msis95']:.2f} | {len(r['failed'])} | "
                     f"{r['seconds']:.0f} |")
    g80 = float(np.exp(np.mean([np.log(r["msis80"]) for r in results.values()])))
    g95 = float(np.exp(np.mean([np.log(r["msis95"]) for r in results.values()])))
    lines.append(f"| **all** | {n} values | **{tot[80] / n:.0%}** | **{tot[95] / n:.0%}** "
                 f"| | {g80:.2f} / {g95:.2f} (geometric mean) | "
                 f"{sum(len(r['failed']) for r in results.values())} | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", "--data", dest="data", type=Path,
                        default=ROOT.parent / "shared" / "data",
                        help="folder of the CSV series (default: ../shared/data)")
    parser.add_argument("--steps", type=int, default=6)
    # 24: with 12 a coverage's standard error was 4-10 points, as large as the tolerance
    parser.add_argument("--origins", type=int, default=24)
    parser.add_argument("--docs", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="series (file stems) to run")
    parser.add_argument("--generated", action="store_true",
                        help="generated series of known truth instead of the real ones")
    parser.add_argument("--replicates", type=int, default=30,
                        help="series per kind with --generated")
    parser.add_argument("--half-hourly", action="store_true",
                        help="pmdarima's half-hourly taylor demand instead of the real series "
                             "(needs pmdarima; results to intervals_half_hourly.json)")
    args = parser.parse_args()
    if args.half_hourly:
        y = taylor_series()
        if y is None:
            raise SystemExit("--half-hourly needs pmdarima (pip install pmdarima)")
        half = {"taylor": coverage(np.asarray(y, dtype=np.float64), args.steps, args.origins)}
        (ROOT / "benchmarks" / "results" / f"intervals_half_hourly_{args.steps}.json").write_text(
            json.dumps(half, indent=1) + "\n")
        print(table(half))
        return 0
    if args.generated:
        gen = generated(args.replicates, args.steps)
        (ROOT / "benchmarks" / "results" / "intervals_generated.json").write_text(
            json.dumps(gen, indent=1) + "\n")
        text = generated_table(gen)
        print(text)
        if args.docs is not None:
            _replace(args.docs, G_START, G_END, text)
        return 0
    results = {}
    for stem, column in COLUMNS.items():
        if args.only and stem not in args.only:
            continue
        path = args.data / f"{stem}.csv"
        if not path.exists():
            print(f"skip {stem}: {path} not found")
            continue
        y = np.asarray(load_csv_column(str(path), column), dtype=np.float64)
        results[stem] = coverage(y, args.steps, args.origins)
        r = results[stem]
        print(f"{stem}: {r['origins']} origins, 80 % covers {r['cover80']:.0%}, "
              f"95 % covers {r['cover95']:.0%} ({r['seconds']:.0f} s)", flush=True)
    out = ROOT / "benchmarks" / "results" / "intervals.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    text = table(results)
    print(text)
    if args.docs is not None:
        _replace(args.docs, START, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
