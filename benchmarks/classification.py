"""Sequence classification with the CLI defaults: accuracy next to the archive's baselines.

Runs ``minirnn train classify --train X_TRAIN.ts --test X_TEST.ts --dtw yes`` (the defaults
otherwise, each data set in its own process) and collects every ``report.json`` into one
table: model test accuracy, each blended part alone (the recurrent network, the
nearest-neighbour evidence, the MiniRocket member) and the weights the model chose for them on
its training file, majority class, 1-NN Euclidean, 1-NN DTW (full window, always computed
here), MiniRocket (aeon, when installed), the strongest baseline, training time; and the mean
over the sets.

Data sets (everything is checked before the first run; a missing one is one line, exit 2):

* ``BasicMotions`` (UEA) from ``--data-dir`` if it has it, else the copy shipped in
  ``minirnn/apps/datasets``; ``JapaneseVowels`` (UEA) from ``--data-dir``, else aeon's copy;
* the univariate UCR sets bundled inside the installed aeon package (``ACSF1``,
  ``ArrowHead``, ``GunPoint``, ``ItalyPowerDemand``, ``OSULeaf``, ``PickupGestureWiimoteZ``);
* synthetic univariate sets written by this script with fixed seeds: ``CBF``
  (Cylinder-Bell-Funnel, 30 train / 900 test as in the UCR archive), ``SyntheticControl``
  (300 / 300), ``NoisySines`` (three frequencies, random phase, unequal lengths 40-120);
* any ``NAME/NAME_TRAIN.ts`` + ``NAME_TEST.ts`` pairs under ``--extra-dir``.

Usage::

    python benchmarks/classification.py                      # all, table on stdout
    python benchmarks/classification.py --only BasicMotions CBF
    python benchmarks/classification.py --data-dir ../shared/data --json after.json \\
        --before before.json                                   # a "model before" column
    python benchmarks/classification.py -- --seed 1            # CLI options after --
    python benchmarks/classification.py --inner-cv --data-dir ../shared/data
    python benchmarks/classification.py --generated          # fresh CBF / NoisySines draws
    python benchmarks/classification.py --table after.json   # the table of a saved run
    python benchmarks/classification.py --across seed0.json seed1.json \\
        --across-before before0.json before1.json            # the table over seeds

``--inner-cv`` never reads a test file: each set's TRAIN file is split in stratified halves
(twice, split seeds 100 and 101), the default classifier is fitted on one half and scored on
the other, and the default (the DTW evidence's band chosen by leave-one-out, the blend's tie
rule for the parts and for the distances of the neighbours:
``minirnn/apps/classification/blend.py``) is compared on the same fits with the previous
default (a 10 % band, distances in equal shares, the least-loss weighting alone), with each
change alone, and with full-window 1-NN DTW; the synthetic sets are drawn afresh with other
seeds (CBF2, SC2, NS2). ``--generated`` does the same on sets drawn with seeds the benchmark
does not use (CBF: 30 training and 900 test series; NoisySines 60 and 300), fitted with
seeds 0 and 1. This is how the defaults were chosen (docs/classification.md).

Times: wall-clock of the whole command (loading, baselines, training, files) and the CPU
seconds of its process (on a shared machine the wall time is inflated by other jobs; the CPU
time is closer to what an idle machine needs, BLAS threads included).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

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


#: The archive sets of the default run: UEA multivariate, then aeon's univariate UCR copies.
ARCHIVE = ("JapaneseVowels", "BasicMotions")
AEON_UNIVARIATE = ("ACSF1", "ArrowHead", "GunPoint", "ItalyPowerDemand", "OSULeaf",
                   "PickupGestureWiimoteZ")
SYNTHETIC = ("CBF", "SyntheticControl", "NoisySines")
SHIPPED = ROOT / "minirnn" / "apps" / "datasets"


def fail(message: str) -> NoReturn:
    """A missing prerequisite: one line on stderr, exit status 2, before any run."""
    print(f"classification benchmark: {message}", file=sys.stderr)
    raise SystemExit(2)


def aeon_data() -> Path | None:
    """The folder of the data sets bundled inside the installed aeon package, or None
    (found without importing aeon, which takes seconds)."""
    spec = importlib.util.find_spec("aeon")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def _pair(folder: Path | None, name: str) -> tuple[Path, Path] | None:
    if folder is None:
        return None
    for d in (folder, folder / name):
        train, test = d / f"{name}_TRAIN.ts", d / f"{name}_TEST.ts"
        if train.is_file() and test.is_file():
            return train, test
    return None


def archive_sets(data_dir: Path | None, extra_dir: Path | None, wanted: list[str]
                 ) -> dict[str, tuple[Path, Path]]:
    """name -> (train, test) for every wanted archive set; one line and exit 2 when one
    cannot be found (before anything runs)."""
    aeon = aeon_data()
    found: dict[str, tuple[Path, Path]] = {}
    if extra_dir is not None:
        for train in sorted(extra_dir.glob("*/*_TRAIN.ts")):
            test = train.with_name(train.name.replace("_TRAIN", "_TEST"))
            if test.is_file():
                found[train.name.removesuffix("_TRAIN.ts")] = (train, test)
    missing = []
    for name in wanted:
        if name in SYNTHETIC or name in found:
            continue
        pair = _pair(data_dir, name) or (_pair(SHIPPED, name) if name == "BasicMotions"
                                         else None) or _pair(aeon, name)
        if pair is None:
            missing.append(name)
        else:
            found[name] = pair
    if missing:
        where = "--data-dir, --extra-dir" + ("" if aeon else " or aeon (pip install "
                                              "'minirnn[rocket]')")
        fail(f"data set(s) {', '.join(missing)} not found in {where}; pass the folder "
             "holding NAME_TRAIN.ts and NAME_TEST.ts, or leave them out with --only")
    return found


def run_one(name: str, train: Path, test: Path, folder: Path, extra: list[str]
            ) -> dict[str, object]:
    out = folder / name
    cmd = [sys.executable, "-m", "minirnn", "train", "classify", "--train", str(train),
           "--test", str(test), "--output", str(out), "--no-plot", "--quiet-epochs",
           "--dtw", "yes", *extra]
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"classification benchmark: {name}: minirnn exited with "
                         f"{proc.returncode} (its output above)")
    report = json.loads((out / "report.json").read_text())
    report["neighbor_prep"] = _neighbor_settings(out / "model.npz")
    report["wall_seconds"] = wall
    report["cpu_seconds"] = cpu
    return report


def _neighbor_settings(model: Path) -> dict[str, Any]:
    """What the classifier chose for its nearest-neighbour evidence on the training file
    (the bands of the warped distances and the distances' weights), from its model file."""
    from minirnn.nn.io import read_file

    header, _ = read_file(model, "classifier")
    npp = header["metadata"].get("neighbor_prep") or {}
    return {k: npp[k] for k in ("steps", "dtw_steps", "dtw_band", "dtw_bands",
                                "band_loo_accuracy", "weights", "loo_accuracy") if k in npp}


def _bands(report: dict[str, Any]) -> str:
    """The warped distances' bands as % of the steps they run on (the full window is 100),
    e.g. "100/10"."""
    npp = report.get("neighbor_prep") or {}
    bands, steps, most = npp.get("dtw_bands") or {}, npp.get("steps"), npp.get("dtw_steps")
    if not bands or not steps or not most:
        return "-"
    short = math.ceil(steps / math.ceil(steps / most))  # the averaged steps DTW runs on
    return "/".join(f"{100 * bands[k] / max(short - 1, 1):.0f}" if k in bands else "-"
                    for k in ("dtw", "ddtw"))


def _distance_weights(report: dict[str, Any]) -> str:
    weights = (report.get("neighbor_prep") or {}).get("weights")
    if not weights:
        return "-"
    return "/".join(f"{float(weights.get(k, 0.0)):.2f}" for k in ("euclidean", "dtw", "ddtw"))


def _acc(value: object) -> str:
    return "-" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def table(rows: list[dict[str, Any]], before: dict[str, float]) -> str:
    head = ["data set", "train/test", "dims", "classes", "model"]
    if before:
        head.append("model before")
    head += ["network alone", "neighbours alone", "rocket member alone",
             "weights net/nb/rk", "DTW band % dtw/ddtw", "distance weights ed/dtw/ddtw",
             "majority", "1-NN ED", "1-NN DTW", "MiniRocket",
             "vs strongest baseline", "wall (s)", "CPU (s)"]
    lines = ["| " + " | ".join(head) + " |",
             "|---|---|" + "---:|" * (len(head) - 5) + ":---|---:|---:|"]
    for r in rows:
        parts = r.get("part_accuracy") or {}
        acc = float(r["test_accuracy"])
        best = r.get("strongest_baseline") or {"name": "1-NN Euclidean",
                                               "accuracy": r["nn1_euclidean_accuracy"]}
        gap = acc - float(best["accuracy"])
        cells = [r["data_set"], f"{r['n_train']}/{r['n_test']}", str(r["dimensions"]),
                 str(len(r["classes"])), f"**{acc:.3f}**"]
        if before:
            cells.append(_acc(before.get(r["data_set"])))
        cells += [_acc(parts.get("network")), _acc(_neighbours(parts)),
                  _acc(parts.get("rocket")), _weights(r), _bands(r), _distance_weights(r),
                  _acc(r["majority_accuracy"]),
                  _acc(r["nn1_euclidean_accuracy"]), _acc(r["nn1_dtw_accuracy"]),
                  _acc(r.get("minirocket_accuracy")), f"{gap:+.3f} ({best['name']})",
                  f"{r['wall_seconds']:.0f}", f"{r['cpu_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| **mean** | | | | **" + _mean(rows, "test_accuracy") + "** | " +
                 ("" if not before else _mean_before(rows, before) + " | ") +
                 " | ".join([_mean(rows, "network"), _mean(rows, "neighbors"),
                             _mean(rows, "rocket"), "", "", "",
                             _mean(rows, "majority_accuracy"),
                             _mean(rows, "nn1_euclidean_accuracy"),
                             _mean(rows, "nn1_dtw_accuracy"),
                             _mean(rows, "minirocket_accuracy")]) + " | | "
                 f"{sum(float(r['wall_seconds']) for r in rows):.0f} | "
                 f"{sum(float(r['cpu_seconds']) for r in rows):.0f} |")
    return "\n".join(lines)


def _neighbours(parts: dict[str, Any]) -> object:
    """The neighbour evidence alone: its blended distances (or its only distance)."""
    if "neighbors" in parts:
        return parts["neighbors"]
    alone = [parts[k] for k in ("euclidean", "dtw", "ddtw") if k in parts]
    return alone[0] if len(alone) == 1 else None


def _weights(report: dict[str, Any]) -> str:
    weights = (report.get("blend") or {}).get("weights")
    if not weights:
        return "-"
    return "/".join(f"{float(weights.get(p, 0.0)):.2f}"
                    for p in ("network", "neighbors", "rocket"))


def _part(report: dict[str, Any], key: str) -> object:
    parts = report.get("part_accuracy") or {}
    return _neighbours(parts) if key == "neighbors" else parts.get(key)


def _mean(rows: list[dict[str, Any]], key: str) -> str:
    values = [_part(r, key) if key in ("network", "neighbors", "rocket") else r.get(key)
              for r in rows]
    if any(v is None for v in values):
        return "-"
    return f"{np.mean([float(v) for v in values]):.3f}"


def _mean_before(rows: list[dict[str, Any]], before: dict[str, float]) -> str:
    values = [before.get(r["data_set"]) for r in rows]
    return "-" if any(v is None for v in values) else f"{np.mean(values):.3f}"


#: --inner-cv: the synthetic sets drawn with other seeds than the benchmark's.
INNER_SYNTHETIC = ("CBF2", "SC2", "NS2")
#: --generated: sets drawn with seeds the benchmark does not use, a few dozen training series
#: and hundreds of test series (name, train seed; the test seed is the next).
GENERATED = (("CBF", 31), ("CBF", 41), ("CBF", 51), ("CBF", 61), ("CBF", 71), ("NoisySines", 31))


def _inner_data(name: str, sets: dict[str, tuple[Path, Path]]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training file of an archive set (or a fresh synthetic set): x, lengths, y."""
    from minirnn.apps.data import fill_missing, load_ts

    if name == "CBF2":
        x, y = cylinder_bell_funnel(60, seed=21)
        return x, np.full(len(y), x.shape[1]), y
    if name == "SC2":
        x, y = synthetic_control(120, seed=21)
        return x, np.full(len(y), x.shape[1]), y
    if name == "NS2":
        return noisy_sines(90, 21)
    data = load_ts(sets[name][0])  # the TRAIN file only
    x, lengths = data.x, data.lengths
    if np.isnan(x).any():
        x, lengths, _ = fill_missing(x, lengths)
    assert data.y is not None
    return x, lengths, data.y


def _generated(name: str, seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if name == "CBF":
        x, y = cylinder_bell_funnel(n, seed=seed)
        return x, np.full(len(y), x.shape[1]), y
    return noisy_sines(n, seed)


#: The columns of --inner-cv and --generated: each part alone, this round's rule, the rules
#: it replaced (on the same fits), and full-window 1-NN DTW.
RULE_COLUMNS = ("network alone", "neighbours alone", "MiniRocket member alone", "default",
                "previous default", "band search only", "tie rule only", "1-NN DTW")


def _compare_rules(xa: np.ndarray, la: np.ndarray, ya: np.ndarray, xb: np.ndarray,
                   lb: np.ndarray, yb: np.ndarray, classes: int, seed: int
                   ) -> dict[str, float]:
    """Fit the default classifier on (xa, ya) and score every rule of RULE_COLUMNS on
    (xb, yb). "previous default": the DTW evidence on a 10 % band, its three distances in
    equal shares, the least-loss weighting alone before shrinking (no tie rule); "band
    search only": that with this round's bands; "tie rule only": this round's blend and
    distance weights on the 10 % band."""
    from minirnn.apps.classification import SequenceClassifier, nn1_dtw
    from minirnn.apps.classification import classifier as classifier_module
    from minirnn.apps.classification.blend import BLEND_PARTS, choose_blend

    def accuracy(proba: np.ndarray) -> float:
        return float(np.mean(proba.argmax(1) == yb))

    clf = SequenceClassifier(seed=seed).fit(xa, ya, la, num_classes=classes,
                                            query_count=len(yb))
    parts = clf.proba_parts(xb, lb)
    # the neighbour evidence on the fixed 10 % band, as before the search (a one-epoch
    # network: only its neighbours are used, and they do not depend on it)
    grid = classifier_module.DTW_WINDOWS
    classifier_module.DTW_WINDOWS = ()
    try:
        fixed = SequenceClassifier(seed=seed, n_models=1, epochs=1, hidden_size=4,
                                   rocket=False).fit(xa, ya, la, num_classes=classes,
                                                     query_count=len(yb))
        fixed_parts = fixed.proba_parts(xb, lb)
    finally:
        classifier_module.DTW_WINDOWS = grid
    row = {"network alone": accuracy(parts["network"])}
    distances = [k for k in ("euclidean", "dtw", "ddtw") if k in parts]
    shares = clf.neighbor_prep["weights"]
    row["neighbours alone"] = accuracy(sum(shares[k] * parts[k] for k in distances))
    if "rocket" in parts:
        row["MiniRocket member alone"] = accuracy(parts["rocket"])
    blended = clf.proba_parts(xb, lb, _grouped=True)
    row["default"] = accuracy(sum(w * blended[p] for p, w in clf.blend_weights.items()))

    def rule(held_d: dict[str, np.ndarray], test_d: dict[str, np.ndarray], tie: bool
             ) -> float:
        kinds = list(held_d)
        if tie:
            share = choose_blend(held_d, ya, network_optimism=0.0)[0]
        else:
            share = {k: 1.0 / len(kinds) for k in kinds}
        held = {"network": clf.held_out["network"],
                "neighbors": sum(share[k] * held_d[k] for k in kinds)}
        test = {"network": parts["network"], "neighbors": sum(share[k] * test_d[k]
                                                              for k in kinds)}
        if "rocket" in clf.held_out:
            held["rocket"], test["rocket"] = clf.held_out["rocket"], parts["rocket"]
        weights, _ = choose_blend(held, ya, **({} if tie else {"tie": None}))
        return accuracy(sum(weights[p] * test[p] for p in BLEND_PARTS if p in weights))

    fixed_kinds = [k for k in ("euclidean", "dtw", "ddtw") if k in fixed_parts]
    fixed_test = {k: fixed_parts[k] for k in fixed_kinds}
    row["previous default"] = rule(fixed.held_out_distances, fixed_test, tie=False)
    row["band search only"] = rule(clf.held_out_distances,
                                   {k: parts[k] for k in distances}, tie=False)
    row["tie rule only"] = rule(fixed.held_out_distances, fixed_test, tie=True)
    row["1-NN DTW"] = float(np.mean(nn1_dtw(xa, la, ya, xb, lb) == yb))
    return row


def _rule_table(results: dict[str, dict[str, float]], first: str) -> str:
    columns = [c for c in RULE_COLUMNS if any(c in r for r in results.values())]
    lines = [f"| {first} | " + " | ".join(columns) + " |",
             "|---|" + "---:|" * len(columns)]
    per_set: dict[str, list[dict[str, float]]] = {}
    for key, row in results.items():
        per_set.setdefault(key.rsplit(" ", 1)[0], []).append(row)  # "name fit"
    for name, rows in per_set.items():
        lines.append(f"| {name} ({len(rows)} fits) | " + " | ".join(
            _acc(np.mean([r[c] for r in rows]) if all(c in r for r in rows) else None)
            for c in columns) + " |")
    lines.append("| **mean** | " + " | ".join(
        _acc(np.mean([r[c] for r in results.values()])
             if all(c in r for r in results.values()) else None) for c in columns) + " |")
    return "\n".join(lines)


def inner_cv(names: list[str], sets: dict[str, tuple[Path, Path]], cli_seed: int) -> str:
    """Fit the default classifier on half of each TRAIN file, score on the other half; the
    table of rules (markdown)."""
    from minirnn.apps.classification import stratified_split

    results: dict[str, dict[str, float]] = {}
    for name in names:
        x, lengths, y = _inner_data(name, sets)
        for split in (100, 101):
            first, second = stratified_split(y, 0.5, seed=split)
            for fold, (a, b) in enumerate(((first, second), (second, first))):
                row = _compare_rules(x[a], lengths[a], y[a], x[b], lengths[b], y[b],
                                     int(y.max()) + 1, cli_seed + fold + 2 * (split - 100))
                results[f"{name} {split}/{fold}"] = row  # grouped by name
                print(f"{name} split {split} half {fold + 1}: " + ", ".join(
                    f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    return _rule_table(results, "fit on half of the TRAIN file")


def generated_check(cli_seed: int) -> str:
    """The rules on the GENERATED sets (train on a few dozen series, test on hundreds),
    fitted with seeds cli_seed and cli_seed + 1 (markdown)."""
    results: dict[str, dict[str, float]] = {}
    for name, seed in GENERATED:
        n_train, n_test = (30, 900) if name == "CBF" else (60, 300)
        xa, la, ya = _generated(name, seed, n_train)
        xb, lb, yb = _generated(name, seed + 1, n_test)
        for fit_seed in (cli_seed, cli_seed + 1):
            row = _compare_rules(xa, la, ya, xb, lb, yb, 3, fit_seed)
            results[f"{name} seeds {seed}/{seed + 1} {fit_seed}"] = row
            print(f"{name} seeds {seed}/{seed + 1}, fit seed {fit_seed}: " + ", ".join(
                f"{k} {v:.3f}" for k, v in row.items()), flush=True)
    return _rule_table(results, "generated set (train on the first seed, test on the next)")


def across_seeds(after: list[Path], before: list[Path]) -> str:
    """The per-set table over seeds (markdown) from the ``--json`` files of runs that differ
    only in ``--seed``: model before and after, MiniRocket, 1-NN DTW, the worst seed's margin
    over 1-NN DTW and the blend weights."""
    def load(paths: list[Path]) -> list[dict[str, dict[str, Any]]]:
        try:
            return [{r["data_set"]: r for r in json.loads(p.read_text())} for p in paths]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"--across: not the --json of earlier runs ({exc})")
    runs, old = load(after), load(before)
    seeds = " / ".join(str(k) for k in range(len(runs)))
    head = ["data set"] + ([f"model before, seeds {seeds}"] if old else []) + [
        f"model, seeds {seeds}", f"MiniRocket, seeds {seeds}", "1-NN DTW",
        "model - 1-NN DTW, worst seed", f"weights net/nb/rk, seeds {seeds}"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + ":---|"]
    means: dict[str, list[list[float]]] = {"before": [], "model": [], "rocket": []}
    for name in runs[0]:
        rs = [run[name] for run in runs]
        model = [float(r["test_accuracy"]) for r in rs]
        rocket = [float(r.get("minirocket_accuracy") or np.nan) for r in rs]
        dtw = float(rs[0]["nn1_dtw_accuracy"])
        cells = [name]
        if old:
            before_acc = [float(o[name]["test_accuracy"]) for o in old]
            means["before"].append(before_acc)
            cells.append(" / ".join(f"{v:.3f}" for v in before_acc))
        means["model"].append(model)
        means["rocket"].append(rocket)
        cells += [" / ".join(f"{v:.3f}" for v in model),
                  " / ".join(f"{v:.3f}" for v in rocket), f"{dtw:.3f}",
                  f"{min(model) - dtw:+.3f}", " ; ".join(_weights(r) for r in rs)]
        lines.append("| " + " | ".join(cells) + " |")
    mean = [" / ".join(f"{v:.3f}" for v in np.mean(means[k], axis=0))
            for k in (["before"] if old else []) + ["model", "rocket"]]
    dtw_mean = np.mean([float(r["nn1_dtw_accuracy"]) for r in runs[0].values()])
    lines.append("| **mean** | " + " | ".join(mean) + f" | {dtw_mean:.3f} | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with NAME_TRAIN.ts / NAME_TEST.ts (e.g. ../shared/data)")
    parser.add_argument("--extra-dir", type=Path, default=None,
                        help="more sets, as NAME/NAME_TRAIN.ts + NAME/NAME_TEST.ts")
    parser.add_argument("--only", nargs="*", default=None, help="data set names")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--json", type=Path, default=None, help="write all reports here")
    parser.add_argument("--before", type=Path, default=None,
                        help="the --json of an earlier run: its accuracies as 'model before'")
    parser.add_argument("--inner-cv", action="store_true",
                        help="choose-the-defaults mode: halves of the TRAIN files only")
    parser.add_argument("--generated", action="store_true",
                        help="choose-the-defaults mode: generated sets with seeds the "
                             "benchmark does not use")
    parser.add_argument("--across", type=Path, nargs="*", default=None,
                        help="no runs: the table over seeds from these --json files (seed 0, "
                             "1, ...), with --across-before as the 'model before' columns")
    parser.add_argument("--across-before", type=Path, nargs="*", default=[])
    parser.add_argument("--table", type=Path, default=None,
                        help="no runs: the per-set table of an earlier run's --json file "
                             "(with --before as its 'model before' column)")
    parser.add_argument("cli_args", nargs="*", help="extra CLI options after --")
    args = parser.parse_args()
    if args.across:
        print(across_seeds(args.across, args.across_before))
        return
    if args.generated:
        text = generated_check(0)
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
        return
    if args.inner_cv:
        wanted = list(args.only) if args.only else [*ARCHIVE, *AEON_UNIVARIATE,
                                                    *INNER_SYNTHETIC]
        sets = archive_sets(args.data_dir, args.extra_dir,
                            [n for n in wanted if n not in INNER_SYNTHETIC])
        text = inner_cv(wanted, sets, 0)
        print(text)
        if args.markdown:
            args.markdown.write_text(text + "\n")
        return
    # Every prerequisite first: the --before file and the data sets.
    before: dict[str, float] = {}
    if args.before is not None:
        try:
            before = {r["data_set"]: float(r["test_accuracy"])
                      for r in json.loads(args.before.read_text())}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"--before {args.before}: not the --json of an earlier run ({exc})")
    if args.table is not None:
        try:
            saved = json.loads(args.table.read_text())
            print(table(saved, before))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            fail(f"--table {args.table}: not the --json of an earlier run ({exc})")
        return
    wanted = list(args.only) if args.only else [*ARCHIVE, *AEON_UNIVARIATE, *SYNTHETIC]
    sets = archive_sets(args.data_dir, args.extra_dir, wanted)
    rows = []
    with tempfile.TemporaryDirectory(prefix="minirnn-classify-bench-") as tmp:
        folder = Path(tmp)
        synthetic = synthetic_sets(folder)
        for name in wanted:
            train, test = sets[name] if name in sets else synthetic[name]
            report = run_one(name, train, test, folder / "runs", args.cli_args)
            rows.append(report)
            print(f"{name}: model {report['test_accuracy']:.3f}  1-NN ED "
                  f"{report['nn1_euclidean_accuracy']:.3f}  1-NN DTW "
                  f"{_acc(report['nn1_dtw_accuracy'])}  MiniRocket "
                  f"{_acc(report.get('minirocket_accuracy'))}  "
                  f"({report['wall_seconds']:.0f}s)", flush=True)
    text = table(rows, before)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
