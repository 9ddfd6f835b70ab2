"""Beam-search decoding with the numpy bookkeeping against the compiled (numba) one, each
in its own process (issue 31).

Usage (from the repository root; the compiled path needs the ``fast`` extra)::

    python -m benchmarks.beam                      # 5 rounds, every case; prints the table
    python -m benchmarks.beam --rounds 3 --cases tatoeba-f32 --doc docs/seq2seq-model.md
    python -m benchmarks.beam --render --results beam.json --doc docs/seq2seq-model.md

Each round runs, per case, one worker process per path (``kernel="reference"``: numpy;
``kernel="compiled"``: :mod:`minirnn.nn.kernels.compiled_beam`), the order alternating
from round to round and case to case; a worker times whole ``beam_search`` calls (a warm-up
first, which also loads the compiled code from numba's disk cache) and reports the median
wall and CPU times, the load average and the BLAS it ran. The table gives, per case, each
path's median over rounds and the median (and range) of the per-round ratio compiled /
numpy (< 1: compiled faster). Both paths must return the same best hypotheses (checked;
exit status 1 otherwise). The workers run with ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` unset (:data:`benchmarks.run.UNSET_ENV`) and the BLAS's default
threads (``--threads 1``: one).

The models are untrained (random weights, seeded): the bookkeeping's cost depends on the
sizes, not on what the model learnt; sources are random ids of 10-20 tokens. PyTorch has
no beam search of its own to compare with (its seq2seq tutorials decode greedily), so
this is minirnn against itself.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks._worker import loadavg, thread_env, threadpools, time_calls_cpu
from benchmarks.run import UNSET_ENV, run_module

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("numpy", "compiled")
#: ``beam_search``'s kernel argument per path.
KERNEL = {"numpy": "reference", "compiled": "compiled"}


@dataclass(frozen=True)
class BeamCase:
    """One decoding job: an untrained EncoderDecoder (E=64, H=128, the seq2seq app's
    defaults) of target vocabulary V, N sources, beam K, at most L tokens."""

    name: str
    V: int
    N: int
    K: int
    L: int
    dtype: str


CASES = (
    BeamCase("tatoeba-f32", 2300, 64, 5, 20, "float32"),  # eng-fra Tatoeba's ~2,300 words
    BeamCase("tatoeba-f64", 2300, 64, 5, 20, "float64"),
    BeamCase("small-f32", 20, 64, 5, 12, "float32"),  # the generated sets' vocabularies
)


# ------------------------------------------------------------------------ worker
def _job(case: BeamCase) -> tuple[Any, Any, Any]:
    """The model and the sources of ``case`` (seeded: every worker builds the same)."""
    import numpy as np

    from minirnn.nn.seq2seq import EncoderDecoder, pad_ids

    model = EncoderDecoder(case.V, case.V, embedding_dim=64, hidden_size=128,
                           dtype=case.dtype, seed=0)
    rng = np.random.default_rng(1)
    src, lengths = pad_ids([list(rng.integers(4, case.V, rng.integers(10, 21)))
                            for _ in range(case.N)])
    return model, src, lengths


def worker(path: str) -> int:
    """Read ``{"case": ..., "budget": s, "min_repeats": k}`` on stdin, time, print JSON."""
    task = json.loads(sys.stdin.read())
    case = BeamCase(**task["case"])
    from minirnn.nn.seq2seq import beam_search
    from minirnn.nn.seq2seq.decode import bookkeeping

    kernel = KERNEL[path]
    if bookkeeping(kernel) != path:
        print(f"error: kernel={kernel!r} runs the {bookkeeping(kernel)} bookkeeping here "
              "(is numba installed?)", file=sys.stderr)
        return 2
    model, src, lengths = _job(case)

    def run() -> Any:
        return beam_search(model, src, lengths, beam_width=case.K, max_length=case.L,
                           kernel=kernel)

    t0 = time.perf_counter()
    hyps = run()  # the first call: numba's cache loaded (or compiled) here
    first = time.perf_counter() - t0
    wall, cpu = time_calls_cpu(run, task["budget"], task["min_repeats"], 50)
    best = [(h[0].tokens, h[0].finished) for h in hyps]
    steps = max(len(h[0].tokens) + h[0].finished for h in hyps)
    print(json.dumps({"path": path, "wall": harness.median(wall), "cpu": harness.median(cpu),
                      "repeats": len(wall), "first_call_s": first, "steps": steps,
                      "best": hashlib.sha256(json.dumps(best).encode()).hexdigest()[:16],
                      "loadavg": loadavg(), "blas": threadpools(), "env": thread_env()}))
    return 0


# ------------------------------------------------------------------ orchestrator
def run_worker(path: str, case: BeamCase, budget: float, min_repeats: int,
               threads: int | None) -> dict[str, Any]:
    """One worker process; its JSON plus ``other_cpu``, the share of the CPUs that other
    processes used meanwhile."""
    extra = {} if threads is None else {name: str(threads) for name in (
        "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    task = {"case": asdict(case), "budget": budget, "min_repeats": min_repeats}
    return run_module("benchmarks.beam", ["--worker", path], task, extra, label=path)


def table(raw: dict[str, Any]) -> str:
    """The Markdown table of a run: per case, each path's median wall time over rounds,
    the per-round ratio compiled / numpy (median and range, wall and CPU), the load."""
    rows = []
    for case in raw["cases"]:
        per = raw["results"][case["name"]]
        wall = {p: {r: x["wall"] for r, x in per[p].items()} for p in PATHS}
        cpu = {p: {r: x["cpu"] for r, x in per[p].items()} for p in PATHS}
        ratio = harness.summarize(harness.paired_ratios(wall["compiled"], wall["numpy"]))
        ratio_cpu = harness.summarize(harness.paired_ratios(cpu["compiled"], cpu["numpy"]))
        loads = [x["loadavg"][0] for p in PATHS for x in per[p].values() if x["loadavg"]]
        steps = next(iter(per["numpy"].values()))["steps"]
        rows.append([f"{case['name']}", f"{case['V']}", f"{case['N']}x{case['K']}",
                     f"{steps}",
                     f"{harness.median(list(wall['numpy'].values())) * 1e3:.0f}",
                     f"{harness.median(list(wall['compiled'].values())) * 1e3:.0f}",
                     f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})",
                     f"{ratio_cpu['median']:.2f}",
                     f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a"])
    header = ["case", "V", "N x K", "steps", "numpy ms", "compiled ms",
              "compiled / numpy (wall)", "(CPU)", "load"]
    return harness.markdown_table(header, rows)


def measure(cases: list[BeamCase], args: argparse.Namespace) -> dict[str, Any]:
    """Every round of every case, the two paths' workers in alternating order."""
    raw: dict[str, Any] = {"cases": [asdict(c) for c in cases], "rounds": args.rounds,
                           "threads": args.threads, "unset": list(UNSET_ENV),
                           "loadavg_start": loadavg(), "results": {}, "pairs": []}
    for r in range(args.rounds):
        for i, case in enumerate(cases):
            order = PATHS if (r + i) % 2 == 0 else PATHS[::-1]
            got = {p: run_worker(p, case, args.budget, args.min_repeats, args.threads)
                   for p in order}
            per = raw["results"].setdefault(case.name, {p: {} for p in PATHS})
            for p in PATHS:
                per[p][str(r)] = got[p]
            raw["pairs"].append({p: {"best": got[p]["best"]} for p in PATHS})
            print(f"round {r} {case.name}: numpy {got['numpy']['wall'] * 1e3:.1f} ms, "
                  f"compiled {got['compiled']['wall'] * 1e3:.1f} ms, first call "
                  f"{got['compiled']['first_call_s']:.2f} s, load "
                  f"{(got['numpy']['loadavg'] or ['?'])[0]}", file=sys.stderr, flush=True)
    raw["loadavg_end"] = loadavg()
    return raw


def report(raw: dict[str, Any]) -> str:
    """The table and a line on the conditions (rounds, load, BLAS, threads)."""
    blas = next(iter(next(iter(raw["results"].values()))["numpy"].values()))["blas"]
    load = (f"load average {raw['loadavg_start'][0]:.1f} at the start, "
            f"{raw['loadavg_end'][0]:.1f} at the end" if raw["loadavg_start"] else "")
    kernels = ", ".join(f"{p.get('internal_api')} {p.get('architecture') or ''} x"
                        f"{p.get('num_threads')}" for p in blas if p.get("user_api") == "blas")
    threads = "BLAS threads: default" if raw["threads"] is None \
        else f"BLAS threads: {raw['threads']}"
    return (table(raw) + f"\n\n{raw['rounds']} rounds on {os.cpu_count()} CPUs, {load}; "
            f"BLAS {kernels or 'unknown'} ({threads}); {', '.join(raw['unset'])} unset; "
            "medians over rounds, ratios per round (< 1: compiled faster).")


def main(argv: list[str] | None = None) -> int:
    """Measure (or, with ``--worker``, be one worker)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="+", choices=[c.name for c in CASES],
                        default=[c.name for c in CASES])
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds of timed calls per worker (at least --min-repeats)")
    parser.add_argument("--min-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads of every worker (default: the BLAS's own)")
    parser.add_argument("--results", type=Path, default=None,
                        help="write the raw JSON here (read it with --render)")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: the table of --results (and --doc)")
    parser.add_argument("--doc", type=Path, default=None,
                        help="rewrite this page's generated block (docs/seq2seq-model.md)")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.rounds < 1 or args.min_repeats < 1:
        parser.error("--rounds and --min-repeats must be at least 1")
    if args.render:
        if args.results is None:
            parser.error("--render needs --results")
        raw = json.loads(args.results.read_text())
    else:
        raw = measure([c for c in CASES if c.name in args.cases], args)
        if args.results:
            args.results.write_text(json.dumps(raw, indent=1))
    text = report(raw)
    print(text)
    if args.doc:
        doc = args.doc.read_text()
        args.doc.write_text(harness.replace_generated(doc, text, module="benchmarks.beam"))
    if not all(x["numpy"]["best"] == x["compiled"]["best"] for x in raw.get("pairs", [])):
        print("error: the two paths returned different best hypotheses", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
