"""Pure parts of the benchmark: cases, FLOP and memory formulas, statistics, tables.

Nothing here imports minirnn or torch or measures anything, so it is unit-tested
(``tests/test_benchmarks.py``) and shared by the orchestrator (``benchmarks/run.py``) and the
per-framework workers.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: Gate blocks per cell: rows of the fused weight matrices are G * H.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
#: Values per hidden unit that BPTT must keep for every step (see :func:`bptt_minimum_bytes`).
KEPT_PER_STEP = {"rnn": 1, "lstm": 6, "gru": 5}
CELLS = tuple(GATES)
DTYPES = ("float32", "float64")
MODES = ("train", "infer")
#: (T, N, D, H): the adding problem's size, then two larger ones.
SIZES = ((50, 32, 2, 64), (100, 64, 32, 128), (50, 128, 128, 256))
ITEMSIZE = {"float32": 4, "float64": 8}


@dataclass(frozen=True)
class Case:
    """One benchmark configuration: a single-layer, unidirectional, batch-first layer."""

    cell: str
    dtype: str
    T: int
    N: int
    D: int
    H: int

    @property
    def key(self) -> str:
        """Stable name used in the results JSON, e.g. ``lstm/float32/50x32x2x64``."""
        return f"{self.cell}/{self.dtype}/{self.T}x{self.N}x{self.D}x{self.H}"

    @classmethod
    def from_key(cls, key: str) -> Case:
        """Inverse of :attr:`key`."""
        cell, dtype, dims = key.split("/")
        T, N, D, H = (int(v) for v in dims.split("x"))
        return cls(cell, dtype, T, N, D, H)

    @property
    def size(self) -> tuple[int, int, int, int]:
        """(T, N, D, H)."""
        return (self.T, self.N, self.D, self.H)


def all_cases(sizes: Iterable[tuple[int, int, int, int]] = SIZES,
              cells: Iterable[str] = CELLS, dtypes: Iterable[str] = DTYPES) -> list[Case]:
    """Every (size, cell, dtype) combination, size-major (one worker chunk per size)."""
    return [Case(c, d, *s) for s in sizes for c in cells for d in dtypes]


def forward_flops(case: Case) -> int:
    """Matrix-product FLOPs of one forward pass.

    With G gate blocks the input projection is ``2 T N D (G H)`` and the recurrent products
    ``2 T N H (G H)``. Element-wise work (gates, nonlinearities) is not counted.
    """
    G = GATES[case.cell]
    return 2 * case.T * case.N * G * case.H * (case.D + case.H)


def case_flops(case: Case, mode: str) -> int:
    """FLOPs of one ``mode`` call: forward, or a training step.

    Backward needs two products for each forward product (one for the gradient of the
    input or previous state, one for the weights), so a training step is 3x the forward.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return forward_flops(case) * (3 if mode == "train" else 1)


def bptt_minimum_bytes(case: Case) -> int:
    """Least memory a training step must allocate: kept activations plus ``dx``.

    Per step and hidden unit, backward needs (without recomputing a matrix product):

    - RNN ``h_t = tanh(x W_ih + h_{t-1} W_hh + b)``: ``h_t`` only (``1 - h_t**2`` is the
      derivative, ``h_{t-1}`` feeds ``dW_hh``): 1 value, and it is the output itself.
    - LSTM: the four gate activations ``i, f, g, o``, ``c_t`` (``c_{t-1}`` for ``df``, and
      ``tanh(c_t)`` can be recomputed from it) and ``h_t`` (output, feeds ``dW_hh``): 6.
    - GRU (``reset_after``, as torch): ``r, z, n``, ``h_t`` and ``W_hn h_{t-1} + b_hn``
      (needed by ``dr``; recomputing it would cost a product): 5.

    Plus ``dx`` (N, T, D), which backward must return. The input ``x``, the weights and
    their gradient buffers exist before the step and are not counted.
    """
    per_step = KEPT_PER_STEP[case.cell] * case.H + case.D
    return case.T * case.N * per_step * ITEMSIZE[case.dtype]


def inference_minimum_bytes(case: Case) -> int:
    """Least memory a forward pass must allocate: its output (N, T, H)."""
    return case.T * case.N * case.H * ITEMSIZE[case.dtype]


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    if not values:
        raise ValueError("median of an empty sequence")
    return float(statistics.median(values))


def summarize(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and quartiles (q1, q3) of a non-empty sequence, plus its size n."""
    if not values:
        raise ValueError("summarize needs at least one value")
    xs = sorted(float(v) for v in values)
    if len(xs) == 1:
        q1 = q3 = xs[0]
    else:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return {"median": median(xs), "min": xs[0], "max": xs[-1], "q1": q1, "q3": q3,
            "n": float(len(xs))}


def paired_ratios(a: dict[int, float], b: dict[int, float]) -> list[float]:
    """a[r] / b[r] for every round r present in both, in round order."""
    return [a[r] / b[r] for r in sorted(a) if r in b and b[r] > 0]


def gflops(flops: float, seconds: float) -> float:
    """Rate in GFLOP/s."""
    return flops / seconds / 1e9


#: Keys of a worker result per clock: the time of a case, its fastest call, the GEMM rates.
CLOCK_KEYS = {"wall": ("median_s", "min_s", "gemm_gflops"),
              "cpu": ("cpu_median_s", "cpu_min_s", "gemm_gflops_cpu")}


def gemm_ceilings(workers: Iterable[dict[str, Any]],
                  clock: str = "wall") -> dict[str, dict[str, float]]:
    """Best GEMM GFLOP/s per framework and dtype over all workers (load only lowers it)."""
    best: dict[str, dict[str, float]] = {}
    for w in workers:
        for dtype, rate in w.get(CLOCK_KEYS[clock][2], {}).items():
            fw = best.setdefault(w["framework"], {})
            fw[dtype] = max(fw.get(dtype, 0.0), rate)
    return best


def machine_ceiling(ceilings: dict[str, dict[str, float]], dtype: str) -> float | None:
    """The machine's GEMM ceiling in ``dtype``: the best rate any framework reached."""
    rates = [c[dtype] for c in ceilings.values() if dtype in c]
    return max(rates) if rates else None


def summarize_run(raw: dict[str, Any], clock: str | None = None) -> list[dict[str, Any]]:
    """One row per (case, mode) from the raw results of all rounds.

    Each worker reports, per case and mode, the median time of its repeats; across rounds
    those are summarised, and the ratio minirnn/torch is taken per round (the two workers
    of a round ran back to back) and then summarised. ``clock`` is "wall" or "cpu" (process
    CPU time); default: the run's ``meta["clock"]``, else "wall".
    """
    clock = clock or raw.get("meta", {}).get("clock", "wall")
    med_key, min_key, _ = CLOCK_KEYS[clock]
    times: dict[tuple[str, str, str], dict[int, float]] = {}
    best: dict[tuple[str, str, str], float] = {}  # fastest single call over all rounds
    order: list[tuple[str, str]] = []
    for w in raw["workers"]:
        for res in w.get("results", []):
            cm = (res["case"], res["mode"])
            if cm not in order:
                order.append(cm)
            if med_key not in res:
                continue
            times.setdefault((w["framework"], *cm), {})[w["round"]] = res[med_key]
            fastest = best.setdefault((w["framework"], *cm), res.get(min_key, res[med_key]))
            best[(w["framework"], *cm)] = min(fastest, res.get(min_key, res[med_key]))
    ceilings = gemm_ceilings(raw["workers"], clock)
    memory = {m["case"]: m for w in raw["workers"] for m in w.get("memory", [])}
    rows = []
    for key, mode in order:
        case = Case.from_key(key)
        flops = case_flops(case, mode)
        ceiling = machine_ceiling(ceilings, case.dtype)
        row: dict[str, Any] = {"case": key, "mode": mode, "flops": flops, "ceiling": ceiling}
        for fw in ("minirnn", "torch"):
            t = times.get((fw, key, mode))
            row[fw] = summarize(list(t.values())) if t else None
            if t:
                rate = gflops(flops, row[fw]["median"])
                row[f"{fw}_gflops"] = rate
                row[f"{fw}_frac"] = rate / ceiling if ceiling else None
        mini, ref = times.get(("minirnn", key, mode)), times.get(("torch", key, mode))
        ratios = paired_ratios(mini, ref) if mini and ref else []
        row["ratio"] = summarize(ratios) if ratios else None
        if ("minirnn", key, mode) in best and ("torch", key, mode) in best:
            row["best_ratio"] = best[("minirnn", key, mode)] / best[("torch", key, mode)]
        peaks = memory.get(key, {}).get(mode)
        if peaks:
            row["minimum_bytes"] = (bptt_minimum_bytes(case) if mode == "train"
                                    else inference_minimum_bytes(case))
            row["peak_bytes"], row["steady_bytes"] = peaks["first"], peaks["steady"]
            row["held_bytes"] = peaks["held"]
            row["memory_ratio"] = peaks["first"] / row["minimum_bytes"]
            row["steady_ratio"] = peaks["steady"] / row["minimum_bytes"]
        rows.append(row)
    return rows


def fmt_range(s: dict[str, float] | None, spec: str = ".2f") -> str:
    """``median (min-max)`` of a summary, or an empty cell."""
    if s is None:
        return ""
    if s["n"] <= 1:
        return format(s["median"], spec)
    return f"{s['median']:{spec}} ({s['min']:{spec}}-{s['max']:{spec}})"


def fmt(value: float | None, spec: str) -> str:
    """Format a number, or an empty cell for None."""
    return "" if value is None else format(value, spec)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]],
                   numeric_from: int = 0) -> str:
    """A Markdown table; columns from ``numeric_from`` on are right-aligned."""
    if any(len(r) != len(header) for r in rows):
        raise ValueError("every row needs one cell per header column")
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _by_case(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["case"], {})[r["mode"]] = r
    return out


def ratio_table(rows: Sequence[dict[str, Any]]) -> str:
    """Main table: ratios, GEMM fractions and memory per case."""
    body = []
    for key, modes in _by_case(rows).items():
        c = Case.from_key(key)
        tr, inf = modes.get("train", {}), modes.get("infer", {})
        body.append([
            c.cell, c.dtype.replace("float", "f"), f"{c.T}, {c.N}, {c.D}, {c.H}",
            fmt_range(tr.get("ratio")), fmt_range(inf.get("ratio")),
            fmt(tr.get("best_ratio"), ".2f"), fmt(inf.get("best_ratio"), ".2f"),
            _pct(tr.get("minirnn_frac")), _pct(tr.get("torch_frac")),
            _pct(inf.get("minirnn_frac")), _pct(inf.get("torch_frac")),
            fmt(tr.get("memory_ratio"), ".2f"), fmt(tr.get("steady_ratio"), ".2f"),
        ])
    header = ["cell", "dtype", "T, N, D, H", "train ratio", "infer ratio",
              "train best/best", "infer best/best", "train % GEMM minirnn", "train % GEMM torch",
              "infer % GEMM minirnn", "infer % GEMM torch", "train peak / BPTT min",
              "steady peak / BPTT min"]
    return markdown_table(header, body, numeric_from=3)


def times_table(rows: Sequence[dict[str, Any]]) -> str:
    """Absolute times (median and range over rounds, ms) and memory in MB."""
    body = []
    for key, modes in _by_case(rows).items():
        c = Case.from_key(key)
        tr, inf = modes.get("train", {}), modes.get("infer", {})
        body.append([
            c.cell, c.dtype.replace("float", "f"), f"{c.T}, {c.N}, {c.D}, {c.H}",
            _ms(tr.get("minirnn")), _ms(tr.get("torch")),
            _ms(inf.get("minirnn")), _ms(inf.get("torch")),
            _mb(tr.get("minimum_bytes")), _mb(tr.get("peak_bytes")), _mb(tr.get("held_bytes")),
            _mb(tr.get("steady_bytes")), fmt(inf.get("memory_ratio"), ".2f"),
            fmt(inf.get("steady_ratio"), ".2f"),
        ])
    header = ["cell", "dtype", "T, N, D, H", "train ms minirnn", "train ms torch",
              "infer ms minirnn", "infer ms torch", "BPTT min MB", "train peak MB",
              "held between steps MB", "steady peak MB", "infer peak / output",
              "infer steady / output"]
    return markdown_table(header, body, numeric_from=3)


def _pct(frac: float | None) -> str:
    if frac is None:
        return ""
    return f"{100 * frac:.1f} %" if frac < 0.1 else f"{100 * frac:.0f} %"


def _mb(n: float | None) -> str:
    return "" if n is None else f"{n / 2**20:.2f}"


def _ms(s: dict[str, float] | None) -> str:
    if s is None:
        return ""
    scaled = {k: (v * 1e3 if k != "n" else v) for k, v in s.items()}
    return fmt_range(scaled, ".2f" if scaled["median"] < 100 else ".0f")


@dataclass(frozen=True)
class Target:
    """One issue-15 target: ``what`` must be at most ``limit`` on the selected rows."""

    name: str
    mode: str  # "train", "infer", "memory" (first step) or "steady" (memory in a loop)
    limit: float
    cells: tuple[str, ...]
    dtypes: tuple[str, ...]
    min_h: int = 0
    max_h: int = 10**9


TARGETS = (
    Target("LSTM f32 training <= 1.0x torch at H >= 128", "train", 1.0, ("lstm",),
           ("float32",), min_h=128),
    Target("LSTM f32 training <= 1.5x torch at the adding size (H = 64)", "train", 1.5,
           ("lstm",), ("float32",), max_h=64),
    Target("LSTM f32 inference <= 1.5x torch at every size", "infer", 1.5, ("lstm",),
           ("float32",)),
    Target("GRU/RNN training <= 1.0x torch", "train", 1.0, ("rnn", "gru"), DTYPES),
    Target("GRU/RNN inference <= 1.0x torch", "infer", 1.0, ("rnn", "gru"), DTYPES),
    Target("float64 (every cell) training <= 1.0x torch", "train", 1.0, CELLS, ("float64",)),
    Target("float64 (every cell) inference <= 1.0x torch", "infer", 1.0, CELLS, ("float64",)),
    Target("peak memory of a training step <= 1.5x the BPTT minimum", "memory", 1.5, CELLS,
           DTYPES),
    Target("... and of a step in a training loop (previous step's cache still held)",
           "steady", 1.5, CELLS, DTYPES),
)


def check_targets(rows: Sequence[dict[str, Any]],
                  targets: Sequence[Target] = TARGETS) -> list[dict[str, Any]]:
    """Evaluate each target on the median ratios (memory: the measured peak ratio).

    Returns, per target, ``status`` ("met", "missed" or "no data"), the worst row and its
    value, the rows over the limit, and the rows whose range over rounds crosses the limit
    (a single run does not settle those).
    """
    out: list[dict[str, Any]] = []
    for t in targets:
        values: list[tuple[str, float, float | None, float | None]] = []
        for r in rows:
            c = Case.from_key(r["case"])
            if c.cell not in t.cells or c.dtype not in t.dtypes:
                continue
            if not (t.min_h <= c.H <= t.max_h):
                continue
            if t.mode in ("memory", "steady"):
                value = r.get("memory_ratio" if t.mode == "memory" else "steady_ratio")
                if r["mode"] == "train" and value is not None:
                    values.append((r["case"], value, None, None))
            elif r["mode"] == t.mode and r.get("ratio"):
                s = r["ratio"]
                values.append((r["case"], s["median"], s["min"], s["max"]))
        if not values:
            out.append({"target": t.name, "status": "no data"})
            continue
        worst = max(values, key=lambda v: v[1])
        over = [v[0] for v in values if v[1] > t.limit]
        straddle = [v[0] for v in values
                    if v[2] is not None and v[3] is not None and v[2] <= t.limit < v[3]]
        out.append({"target": t.name, "status": "missed" if over else "met",
                    "worst_case": worst[0], "worst": worst[1], "over": over,
                    "straddle": straddle, "limit": t.limit})
    return out


def targets_markdown(results: Sequence[dict[str, Any]]) -> str:
    """The target check as a bullet list."""
    lines = []
    for r in results:
        if r["status"] == "no data":
            lines.append(f"- {r['target']}: no data in this run")
            continue
        status = "**met**" if r["status"] == "met" else "**missed**"
        text = f"- {r['target']}: {status} (worst {r['worst']:.2f}, {r['worst_case']})"
        if r["over"]:
            text += f"; over the limit: {', '.join(r['over'])}"
        if r["straddle"]:
            text += f"; range over rounds crosses {r['limit']:g}: {', '.join(r['straddle'])}"
        lines.append(text)
    return "\n".join(lines)


def markers(flag: str = "", module: str = "benchmarks.run") -> tuple[str, str]:
    """The HTML comments around the block that ``python -m <module> [flag]`` writes."""
    cmd = f"python -m {module}" + (f" {flag}" if flag else "")
    return f"<!-- generated by `{cmd}`: begin -->", f"<!-- generated by `{cmd}`: end -->"


BEGIN, END = markers()


def replace_generated(document: str, block: str, flag: str = "",
                      module: str = "benchmarks.run") -> str:
    """Replace the text between the markers of ``flag``'s block in ``document`` by ``block``.

    Raises ValueError if the markers are missing or out of order, so a hand-edited page is
    never silently overwritten.
    """
    begin, end = markers(flag, module)
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if len(pattern.findall(document)) != 1:
        raise ValueError(f"expected exactly one {begin!r} ... {end!r} block in the document")
    return pattern.sub(lambda _: f"{begin}\n{block.strip()}\n{end}", document)


def replace_between(document: str, start: str, end: str, block: str) -> str:
    """``document`` with the text between the markers ``start`` and ``end`` replaced by
    ``block``; ValueError when either marker is missing (a page is never half-written)."""
    if start not in document or end not in document.split(start, 1)[1]:
        raise ValueError(f"expected the markers {start!r} ... {end!r} in the document")
    head, rest = document.split(start, 1)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def load_test_rows(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Table rows of the thread-policy-under-load test: ms per step idle, loaded, slowdown."""
    per: dict[tuple[str, bool], list[float]] = {}
    cut: set[tuple[str, bool]] = set()
    variants: list[str] = []
    for rec in records:
        if rec["variant"] not in variants:
            variants.append(rec["variant"])
        per.setdefault((rec["variant"], rec["loaded"]), []).append(median(rec["step_s"]))
        if len(rec["step_s"]) < rec.get("steps", len(rec["step_s"])):
            cut.add((rec["variant"], rec["loaded"]))
    body = []
    for v in variants:
        idle, busy = per.get((v, False)), per.get((v, True))
        cells = []
        for s, loaded in ((idle, False), (busy, True)):
            text = _ms(summarize(s)) if s else ""
            cells.append(text + (" (time limit hit)" if (v, loaded) in cut else ""))
        slow = fmt(median(busy) / median(idle), ".1f") + "x" if idle and busy else ""
        body.append([v, *cells, slow])
    return body


def _workers_of(raw: dict[str, Any], framework: str) -> list[dict[str, Any]]:
    return [w for w in raw["workers"] if w["framework"] == framework]


def _env_line(raw: dict[str, Any]) -> str:
    mini, ref = _workers_of(raw, "minirnn"), _workers_of(raw, "torch")
    parts = []
    if mini:
        e = mini[0]["env"]
        blas = ", ".join(f"{p.get('internal_api')} {p.get('version')} "
                         f"({p.get('architecture', '?')} kernels, threads: "
                         f"{p.get('num_threads')}, {p.get('threading_layer', '?')})"
                         for p in e.get("threadpools", []) if p.get("user_api") == "blas")
        env_vars = " ".join(f"{k}={v}" for k, v in e.get("thread_env", {}).items())
        decisions = sorted({str(w.get("env_after", {}).get("minirnn_thread_policy"))
                            for w in mini})
        parts.append(f"minirnn {raw['meta'].get('revision', '?')} on numpy {e.get('numpy')} + "
                     f"scipy {e.get('scipy')}, BLAS: {blas or 'unknown'}"
                     f"{f', environment {env_vars}' if env_vars else ''}; minirnn's BLAS thread "
                     f"decision per worker: {' / '.join(decisions)}")
    if ref:
        e = ref[0]["env"]
        libs = "; ".join(e.get("parallel_info", []))
        omp = [p for p in e.get("threadpools", []) if p.get("user_api") == "openmp"]
        parts.append(f"torch {e.get('torch')} (intra-op threads: {e.get('num_threads')}, "
                     f"{e.get('num_interop_threads')} inter-op; "
                     f"OpenMP {omp[0].get('prefix') if omp else '?'}; {libs})")
    return "; ".join(parts)


def render_report(raw: dict[str, Any], results_path: str = "results.json") -> str:
    """The generated part of docs/performance.md, from the raw results of a run."""
    meta, workers = raw["meta"], raw["workers"]
    clock = meta.get("clock", "wall")
    rows = summarize_run(raw, clock)
    ceil = gemm_ceilings(workers, clock)
    others = [w["other_cpu"] for w in workers if w.get("other_cpu") is not None]
    loads = [w["loadavg_before"][0] for w in workers if w.get("loadavg_before")]
    parity = raw.get("parity", {})
    bad = [k for k, p in parity.items() if not p["agrees"]]
    lines = [
        f"Run of {meta['date_utc']} ({meta['mode']} mode, {meta['rounds']} rounds, "
        f"{meta.get('wall_s', '?')} s), raw results in `{results_path}`. Times are "
        + ("**process CPU times** (every thread of the worker counted; with one thread each "
           "this is the cost of a call without the waiting for a core that a loaded machine "
           "adds)." if clock == "cpu" else "wall-clock times."),
        "",
        f"- Machine: {meta['cpu']}, {meta['cpu_count']} CPUs, {meta['platform']}.",
        f"- Libraries: {_env_line(raw)}. Each framework ran in its own process with "
        + (f"these thread settings: {meta['worker_env']}."
           if meta.get("worker_env") else "its default thread settings."),
        "- Load: 1-minute load average "
        + (f"{min(loads):.1f}-{max(loads):.1f} at the workers' starts " if loads else "")
        + f"(start of run {meta.get('loadavg_start')}, end {meta.get('loadavg_end')}); "
        + (f"other processes used {100 * median(others):.0f} % of the CPUs in the median "
           f"worker (max {100 * max(others):.0f} %)." if others else "not measured."),
        "- GEMM ceiling (best square 1024 product over all workers, GFLOP/s): "
        + "; ".join(f"{fw} " + ", ".join(f"{d.replace('float', 'f')} {g:.0f}"
                                        for d, g in sorted(c.items()))
                    for fw, c in ceil.items())
        + ". `% GEMM` below is the case's matrix-product FLOPs / median time over the best "
        "of these in the case's dtype.",
        "- Parity: " + (f"outputs and all gradients agree with torch on all {len(parity)} cases"
                        f" (worst max |Δy| {max(p['max_abs_dy'] for p in parity.values()):.1e},"
                        f" relative Δgrad {max(p['rel_dgrad'] for p in parity.values()):.1e})."
                        if parity and not bad else
                        f"**mismatch** on {', '.join(bad)}." if bad else "not checked."),
        "",
        *(["", f"**Loaded run**: other processes used {100 * median(others):.0f} % of the "
            "CPUs in the median worker. "
            + ("One thread and CPU time take the waiting for a core out of the numbers; "
               "sharing caches and memory bandwidth with the other processes still adds "
               "noise, so small differences (a few %) are not established."
               if clock == "cpu" else
               "Absolute times and GEMM fractions are unreliable, and ratios too: torch's "
               "default OpenMP threads slow down far more than minirnn under load (see "
               "*Thread policy under load*), which favours minirnn. Re-run on a quiet "
               "machine before drawing conclusions.")]
          if others and median(others) > 0.25 else []),
        "",
        "### Targets (issue 15)",
        "",
        targets_markdown(check_targets(rows)),
        "",
        "### Ratios minirnn / torch (median over rounds, range in brackets; > 1: minirnn slower)",
        "",
        "`best/best`: fastest single call of minirnn over all rounds / fastest of torch (less "
        "sensitive to load than the median; the targets use the median).",
        "",
        ratio_table(rows),
        "",
        "### Times (ms, median and range over rounds) and memory",
        "",
        times_table(rows),
    ]
    if raw.get("load_test"):
        lines += [
            "",
            "### Thread policy under load",
            "",
            "A tiny training run (LSTM float32 at T, N, D, H = 50, 32, 2, 64, 30 steps of "
            "forward, backward and Adam) in a fresh process, with nothing else started and "
            "with a busy-loop process loading one core; ms per step, median and range over "
            "rounds.",
            "",
            markdown_table(["variant", "no extra load", "one core busy", "slowdown"],
                           load_test_rows(raw["load_test"]), numeric_from=1),
        ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ GEMM floor
def step_product_shape(case: Case) -> tuple[int, int, int]:
    """(M, K, N) of one step's matrix product in inference, ``(G H, H + D + 1) @ (H + D + 1,
    N)``: the recurrent and input projections with the bias as a column (what minirnn's LSTM
    kernel computes per step; the GRU and RNN kernels do the same FLOPs in two products)."""
    return GATES[case.cell] * case.H, case.H + case.D + 1, case.N


#: benchmarks.floor's name for two half-batch products run at once (their element-wise work
#: runs at once too, on half the batch each).
HALVES = "2 halves at once"


def floor_rows(step_seconds: dict[str, dict[str, float]], raw: dict[str, Any],
               elementwise: dict[str, dict[str, float]] | None = None
               ) -> list[dict[str, Any]]:
    """Inference GEMM floors against a benchmark run.

    ``step_seconds`` maps a case key to the best time of one step's product per way of
    running it (``"1 thread"``, ``"2 threads"``, ``"2 halves at once"``); the GEMM floor is
    T times the fastest. ``elementwise`` (optional, per case key) holds the element-wise
    time of a step on the ``"full"`` batch and on ``"half"`` of it: the floor with
    element-wise work is T times the fastest of (product + full) for the one- and
    two-thread ways and (halves + half) for the halves, which run their element-wise work
    at once too. Each row holds these with torch's and minirnn's median inference times of
    ``raw`` (None where the run lacks the case), the floors as ratios to torch and
    minirnn's measured ratio (the median of its per-round ratios, as in the ratio table).
    """
    summary = {(r["case"], r["mode"]): r for r in summarize_run(raw)}
    rows = []
    for key, ways in step_seconds.items():
        case = Case.from_key(key)
        way, step = min(ways.items(), key=lambda kv: kv[1])
        floor = case.T * step
        run = summary.get((key, "infer"), {})
        torch_s = (run.get("torch") or {}).get("median")
        mini_s = (run.get("minirnn") or {}).get("median")
        # minirnn's ratio as the run's ratio table gives it: the median of per-round ratios.
        measured = (run.get("ratio") or {}).get("median")
        with_ew = None
        ew = (elementwise or {}).get(key)
        if ew is not None:
            with_ew = case.T * min(t + (ew["half"] if w == HALVES else ew["full"])
                                   for w, t in ways.items())
        rows.append({"case": key, "shape": step_product_shape(case), "ways": ways,
                     "best_way": way, "floor_s": floor, "torch_s": torch_s, "minirnn_s": mini_s,
                     "floor_ratio": floor / torch_s if torch_s else None,
                     "floor_ew_s": with_ew,
                     "floor_ew_ratio": with_ew / torch_s if with_ew and torch_s else None,
                     "measured_ratio": measured})
    return rows


def floor_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`floor_rows`."""
    body = []
    for r in rows:
        case = Case.from_key(r["case"])
        M, K, N = r["shape"]
        ways = ", ".join(f"{w} {s * 1e6:.1f}" for w, s in r["ways"].items())
        body.append([case.cell, case.dtype.replace("float", "f"), ", ".join(map(str, case.size)),
                     f"({M}, {K}) @ ({K}, {N})", ways,
                     f"{r['floor_s'] * 1e3:.2f}",
                     fmt(None if r["torch_s"] is None else r["torch_s"] * 1e3, ".2f"),
                     fmt(r["floor_ratio"], ".2f"), fmt(r.get("floor_ew_ratio"), ".2f"),
                     fmt(r["measured_ratio"], ".2f")])
    return markdown_table(["cell", "dtype", "T, N, D, H", "step product",
                           "one step's product, us (best of each way)", "GEMM floor ms",
                           "torch ms", "GEMM floor / torch", "with element-wise / torch",
                           "minirnn / torch"], body, numeric_from=5)
