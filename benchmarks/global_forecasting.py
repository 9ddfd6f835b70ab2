"""Does one network trained across several series beat the local forecaster of each?

Usage::

    python -m benchmarks.global_forecasting [--data-dir ../shared/data] [--series 40]
        [--length 300] [--horizon 1] [--skip-long]

Three cases, each with the defaults of :class:`GlobalForecaster` and :class:`Forecaster`
(the first 67 % of every series for training, the rest for testing, as ``minirnn train
series`` does):

1. a generated panel where a global model should help: ``--series`` series of ``--length``
   values sharing one nonlinear (threshold autoregressive) dynamic plus a monthly season,
   with different scales, levels, phases and noise;
2. a real panel (``--data-dir``): the Melbourne daily minimum temperatures cut into their
   ten years (365 values each), forecast over each year's last third;
3. unrelated real series (airline passengers, Lynx, shampoo sales, seatbelts KSI), where a
   shared network has nothing to share: the per-series choice should keep the local one;
4. a long series: the same temperatures whole (3,650 values): what the one-series
   Forecaster chooses with its network on, how it scores, and the global network on that one
   series.

Per series: RMSE of the forecast used, the global network alone, the local Forecaster, the
persistence and seasonal naive forecasts; over the series, the geometric mean of RMSE /
persistence. Results go to ``benchmarks/results/global_forecasting.json`` with the machine's
load (``os.getloadavg``) beside the seconds: the 2 cores are shared, times are indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from minirnn.apps.data import load_csv_column
from minirnn.apps.data.baselines import naive_forecasts
from minirnn.apps.forecasting import Forecaster
from minirnn.apps.forecasting.metrics import rmse
from minirnn.apps.forecasting.panel import GlobalForecaster, PanelEvaluation

ROOT = Path(__file__).resolve().parent.parent
TEST_SIZE = 0.33


def make_panel(n_series: int = 40, length: int = 300, seed: int = 0) -> list[np.ndarray]:
    """Series that share a threshold autoregression (a linear AR cannot follow its two
    regimes) and a season of 12, each with its own scale, level, phase and noise.

    Returns
    -------
    list of ndarray, each shape (length,)
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_series):
        noise = rng.uniform(0.15, 0.45)
        amp, phase = rng.uniform(0.2, 0.8), rng.uniform(0, 2 * np.pi)
        x = np.zeros(length + 50)
        for t in range(2, len(x)):
            prev = x[t - 1]
            # Two regimes: slow climb below the threshold, sharp fall above it.
            step = 0.9 * prev + 0.35 if prev <= 1.0 else -0.5 * prev + 0.8
            x[t] = step - 0.15 * x[t - 2] + noise * rng.normal()
        t = np.arange(length)
        season = amp * np.sin(2 * np.pi * t / 12 + phase)
        out.append(rng.uniform(5, 500) * (x[50:] + season) + rng.uniform(-100, 1000))
    return out


def _load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def panel_case(name: str, series: list[np.ndarray], names: list[str], horizon: int,
               season: int | str = "auto") -> dict[str, Any]:
    """Fit the global forecaster on the panel, score every series on its test span."""
    sizes = [round(len(y) * (1 - TEST_SIZE)) for y in series]
    start, load = time.perf_counter(), _load()
    gf = GlobalForecaster(horizon=horizon, season=season).fit(series, train_sizes=sizes,
                                                              names=names)
    ev = gf.evaluate()
    seconds = time.perf_counter() - start
    return _summary(name, gf, ev, seconds, load)


def _summary(name: str, gf: GlobalForecaster, ev: PanelEvaluation, seconds: float,
             load: list[float]) -> dict[str, Any]:
    methods = ["forecast", "global", "local", "persistence"]
    if all("seasonal naive" in r["rmse"] for r in ev.rows):
        methods.append("seasonal naive")
    gm = {k: ev.geometric_mean(k) for k in methods}
    used = {c: gf.choice_.count(c) for c in ("local", "global", "combination")}
    rows = ev.rows
    beats_local = sum(r["rmse"]["forecast"] < r["rmse"]["local"] for r in rows)
    loses_local = sum(r["rmse"]["forecast"] > r["rmse"]["local"] for r in rows)
    net_beats_local = sum(r["rmse"]["global"] < r["rmse"]["local"] for r in rows)
    worse_than_persistence = [r["name"] for r in rows
                              if r["rmse"]["forecast"] > r["rmse"]["persistence"]]
    verdict = (f"model {gm['forecast']:.3f} vs local forecaster {gm['local']:.3f} "
               f"(geometric mean RMSE / persistence; global network alone "
               f"{gm['global']:.3f}"
               + (f", seasonal naive {gm['seasonal naive']:.3f}" if "seasonal naive" in gm
                  else "") + f"): the forecast used beats the local forecaster on "
               f"{beats_local} of {len(rows)} series and loses on {loses_local}; the global "
               f"network alone beats it on {net_beats_local}; worse than persistence on "
               f"{len(worse_than_persistence)}")
    if gm["forecast"] > gm["local"]:
        verdict += " -- the global model LOSES to the local forecaster here"
    print(f"{name}: {verdict}  [{seconds:.0f} s, load {load}]", flush=True)
    return {"case": name, "series": len(rows), "season": gf.season_,
            "look_back": gf.look_back_, "geometric_mean_rmse_ratio": gm, "used": used,
            "beats_local": beats_local, "loses_to_local": loses_local,
            "global_network_beats_local": net_beats_local,
            "worse_than_persistence": worse_than_persistence, "verdict": verdict,
            "per_series": rows, "validation_rmse": gf.validation_,
            "epochs_run": None if gf.solver_ is None else gf.solver_.epoch,
            "seconds": round(seconds, 1), "load_before": load, "load_after": _load()}


def temperatures(data_dir: Path) -> np.ndarray:
    """The 3,650 daily minimum temperatures (Melbourne, 1981-1990)."""
    return np.asarray(load_csv_column(data_dir / "daily-min-temperatures.csv", "Temp"),
                      dtype=np.float64)


def long_case(y: np.ndarray, horizon: int) -> dict[str, Any]:
    """The one-series Forecaster (network on, its defaults) on a long series, and the
    global network trained on that one series."""
    n = round(len(y) * (1 - TEST_SIZE))
    start, load = time.perf_counter(), _load()
    fc = Forecaster(horizon=horizon).fit(y, train_size=n)
    ev = fc.evaluate()
    seconds = time.perf_counter() - start
    m = {k: v["rmse"] for k, v in ev.metrics.items()}
    o = ev.origins
    sn = naive_forecasts(y, o, horizon, 365)["seasonal naive"]
    m["seasonal naive (365)"] = rmse(sn, ev.truth)
    network_val = {k: v for k, v in fc.validation_.items() if "alpha" in k or "network" in k}
    local = {"method": fc.method_, "network_weight": fc.alpha_,
             "network_trained": fc.model_ is not None,
             "epochs_run": None if fc.solver_ is None else fc.solver_.epoch,
             "test_rmse": m, "ratio_to_persistence": {k: v / m["persistence"]
                                                      for k, v in m.items()},
             "validation_network": network_val, "seconds": round(seconds, 1),
             "load_before": load, "load_after": _load()}
    print(f"long series, one-series Forecaster: {fc.method_}; test RMSE {m['model']:.3f} "
          f"(persistence {m['persistence']:.3f}, seasonal naive (365) "
          f"{m['seasonal naive (365)']:.3f})  [{seconds:.0f} s, load {load}]", flush=True)
    glob = panel_case("long series, global network on the one series", [y],
                      ["temperatures"], horizon)
    return {"one_series_forecaster": local, "global_on_one_series": glob}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of the real series (../shared/data); without it only "
                             "the generated panel runs")
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--length", type=int, default=300)
    parser.add_argument("--horizon", type=int, default=1)
    parser.add_argument("--skip-long", action="store_true",
                        help="leave out the long series (the slowest case)")
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "global_forecasting.json")
    args = parser.parse_args(argv)
    if args.data_dir is not None and not (args.data_dir / "daily-min-temperatures.csv").is_file():
        parser.error(f"--data-dir {args.data_dir}: daily-min-temperatures.csv not found")
    if args.series < 1 or args.length < 60 or args.horizon < 1:
        parser.error("--series >= 1, --length >= 60 and --horizon >= 1 are required")
    results: dict[str, Any] = {"horizon": args.horizon, "test_size": TEST_SIZE,
                               "cpus": os.cpu_count(), "cases": []}
    panel = make_panel(args.series, args.length)
    results["cases"].append(panel_case(
        f"generated panel ({args.series} threshold-AR series of {args.length})", panel,
        [f"g{i + 1}" for i in range(len(panel))], args.horizon))
    if args.data_dir is not None:
        y = temperatures(args.data_dir)
        years = [y[k * 365:(k + 1) * 365] for k in range(len(y) // 365)]
        results["cases"].append(panel_case(
            "real panel: daily minimum temperatures, one series per year", years,
            [str(1981 + k) for k in range(len(years))], args.horizon))
        # Where a global model should not help: unrelated series (the shared network can only
        # lose; the per-series choice should keep the local forecaster).
        unrelated = {"airline-passengers": "Passengers", "Lynx": "0", "ShampooSales": "Sales",
                     "seatbelts": "KSI"}
        found = {k: v for k, v in unrelated.items() if (args.data_dir / f"{k}.csv").is_file()}
        if len(found) >= 2:
            results["cases"].append(panel_case(
                "real, unrelated: " + ", ".join(found),
                [np.asarray(load_csv_column(args.data_dir / f"{k}.csv", c), dtype=np.float64)
                 for k, c in found.items()], list(found), args.horizon))
        if not args.skip_long:
            results["long_series"] = long_case(y, args.horizon)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"saved {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
