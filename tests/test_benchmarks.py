"""The benchmark harness' pure functions (FLOPs, memory floor, statistics, tables, targets).

Nothing here times anything: the measurements themselves live in benchmarks/run.py.
"""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # benchmarks/ is not installed; CI runs from the checkout
    sys.path.insert(0, str(ROOT))

from benchmarks import harness  # noqa: E402
from benchmarks.harness import Case  # noqa: E402

SMALL = Case("lstm", "float32", 50, 32, 2, 64)


def test_case_key_round_trips():
    assert SMALL.key == "lstm/float32/50x32x2x64"
    assert Case.from_key(SMALL.key) == SMALL
    assert len(harness.all_cases()) == 3 * 3 * 2
    assert harness.all_cases()[0].size == (50, 32, 2, 64)


def test_flops_by_hand():
    # LSTM: 4 gate blocks; input projection 2*T*N*D*4H, recurrence 2*T*N*H*4H.
    fwd = 2 * 50 * 32 * 2 * 256 + 2 * 50 * 32 * 64 * 256
    assert harness.forward_flops(SMALL) == fwd == 54_067_200
    assert harness.case_flops(SMALL, "infer") == fwd
    assert harness.case_flops(SMALL, "train") == 3 * fwd
    gru = Case("gru", "float64", 100, 64, 32, 128)
    assert harness.forward_flops(gru) == 2 * 100 * 64 * 3 * 128 * (32 + 128)
    with pytest.raises(ValueError, match="mode must be one of"):
        harness.case_flops(SMALL, "backward")


def test_memory_floors_by_hand():
    # LSTM keeps i, f, g, o, c, h (6H) per step, plus dx (D): float32.
    assert harness.bptt_minimum_bytes(SMALL) == 50 * 32 * (6 * 64 + 2) * 4
    rnn = Case("rnn", "float64", 10, 4, 3, 5)
    assert harness.bptt_minimum_bytes(rnn) == 10 * 4 * (5 + 3) * 8
    gru = Case("gru", "float32", 10, 4, 3, 5)
    assert harness.bptt_minimum_bytes(gru) == 10 * 4 * (5 * 5 + 3) * 4
    assert harness.inference_minimum_bytes(SMALL) == 50 * 32 * 64 * 4


def test_summarize_median_range_quartiles():
    s = harness.summarize([3.0, 1.0, 2.0, 10.0])
    assert s == {"median": 2.5, "min": 1.0, "max": 10.0, "q1": 1.75, "q3": 4.75, "n": 4.0}
    one = harness.summarize([7.0])
    assert one["median"] == one["q1"] == one["q3"] == 7.0
    with pytest.raises(ValueError):
        harness.summarize([])
    assert harness.paired_ratios({0: 2.0, 1: 4.0, 2: 6.0}, {0: 1.0, 1: 2.0}) == [2.0, 2.0]


def _raw():
    """Two rounds of one case: minirnn 2 s and 3 s, torch 1 s and 3 s."""
    key = SMALL.key

    def worker(fw, r, train, gemm, memory=()):
        return {"framework": fw, "round": r, "gemm_gflops": {"float32": gemm},
                "results": [{"case": key, "mode": "train", "median_s": train},
                            {"case": key, "mode": "infer", "median_s": train / 2}],
                "memory": list(memory), "other_cpu": 0.05, "loadavg_before": [1.0, 1, 1],
                "env": {}}

    peak = harness.bptt_minimum_bytes(SMALL)
    mem = {"case": key, "train": {"first": peak * 5 // 4, "held": peak, "steady": peak * 2},
           "infer": {"first": 100, "held": 0, "steady": 100}}
    return {"meta": {"date_utc": "d", "mode": "quick", "rounds": 2, "cpu": "c",
                     "cpu_count": 2, "platform": "p"},
            "workers": [worker("minirnn", 0, 2.0, 50.0, [mem]), worker("torch", 0, 1.0, 80.0),
                        worker("torch", 1, 3.0, 90.0), worker("minirnn", 1, 3.0, 60.0)],
            "parity": {key: {"max_abs_dy": 1e-7, "rel_dgrad": 1e-6, "agrees": True}}}


def test_summarize_run_pairs_rounds_and_uses_the_best_gemm():
    rows = harness.summarize_run(_raw())
    train = next(r for r in rows if r["mode"] == "train")
    # Ratio per round (2/1, 3/3), then the median: 1.5 (not 2.5 / 2 from the medians).
    assert train["ratio"]["median"] == 1.5
    assert (train["ratio"]["min"], train["ratio"]["max"]) == (1.0, 2.0)
    assert train["minirnn"]["median"] == 2.5 and train["torch"]["median"] == 2.0
    assert train["best_ratio"] == 2.0  # fastest minirnn call 2 s / fastest torch call 1 s
    assert train["ceiling"] == 90.0  # best rate of any framework in float32
    rate = 3 * 54_067_200 / 2.5 / 1e9
    assert train["minirnn_gflops"] == pytest.approx(rate)
    assert train["minirnn_frac"] == pytest.approx(rate / 90.0)
    assert train["memory_ratio"] == pytest.approx(1.25, rel=1e-6)
    assert train["steady_ratio"] == pytest.approx(2.0)


def test_summarize_run_cpu_clock_uses_cpu_times():
    raw = _raw()
    for w in raw["workers"]:
        w["gemm_gflops_cpu"] = {"float32": 2 * w["gemm_gflops"]["float32"]}
        for res in w["results"]:
            res["cpu_median_s"] = res["median_s"] / (2 if w["framework"] == "torch" else 1)
    train = next(r for r in harness.summarize_run(raw, "cpu") if r["mode"] == "train")
    assert train["ratio"]["median"] == 3.0  # per round 2/0.5 and 3/1.5
    assert train["ceiling"] == 180.0
    assert harness.summarize_run(raw)[0]["ratio"]["median"] == 1.5  # wall clock by default


def test_markdown_table_and_ranges():
    table = harness.markdown_table(["a", "b"], [["x", "1.00"]], numeric_from=1)
    assert table.splitlines() == ["| a | b |", "|---|---:|", "| x | 1.00 |"]
    with pytest.raises(ValueError):
        harness.markdown_table(["a", "b"], [["only one"]])
    s = harness.summarize([1.0, 2.0, 4.0])
    assert harness.fmt_range(s) == "2.00 (1.00-4.00)"
    assert harness.fmt_range(None) == ""


def test_check_targets_met_missed_and_straddling():
    def row(case, mode, med, lo, hi):
        return {"case": case.key, "mode": mode,
                "ratio": {"median": med, "min": lo, "max": hi}}

    big = Case("lstm", "float32", 100, 64, 32, 128)
    rows = [row(SMALL, "train", 1.4, 1.2, 1.6), row(big, "train", 1.1, 0.9, 1.3)]
    out = {r["target"]: r for r in harness.check_targets(rows)}
    at_h128 = out["LSTM f32 training <= 1.0x torch at H >= 128"]
    assert at_h128["status"] == "missed" and at_h128["over"] == [big.key]
    adding = out["LSTM f32 training <= 1.5x torch at the adding size (H = 64)"]
    assert adding["status"] == "met" and adding["worst"] == 1.4
    assert adding["straddle"] == [SMALL.key]  # 1.2-1.6 crosses 1.5
    assert out["GRU/RNN training <= 1.0x torch"]["status"] == "no data"
    text = harness.targets_markdown(harness.check_targets(rows))
    assert "**missed**" in text and "**met**" in text


def test_replace_generated_only_between_markers():
    doc = f"intro\n{harness.BEGIN}\nold\n{harness.END}\noutro\n"
    new = harness.replace_generated(doc, "new table")
    assert new == f"intro\n{harness.BEGIN}\nnew table\n{harness.END}\noutro\n"
    with pytest.raises(ValueError, match="exactly one"):
        harness.replace_generated("no markers", "x")
    # The single-thread block has its own markers; the default block is left alone.
    begin, end = harness.markers("--single-thread")
    both = doc + f"{begin}\nold 1t\n{end}\n"
    out = harness.replace_generated(both, "new 1t", "--single-thread")
    assert f"{begin}\nnew 1t\n{end}" in out and f"{harness.BEGIN}\nold\n" in out


def test_render_report_has_tables_targets_and_load():
    text = harness.render_report(_raw(), "r.json")
    assert "| lstm | f32 | 50, 32, 2, 64 | 1.50 (1.00-2.00) |" in text
    assert "peak memory of a training step <= 1.5x the BPTT minimum: **met**" in text
    assert "agree with torch on all 1 cases" in text
    assert "other processes used 5 % of the CPUs" in text


def test_env_line_names_the_blas_kernels_and_openblas_variables(monkeypatch):
    """A run under OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU halves numpy's GEMM rate:
    the report must say so, or its ratios read as minirnn's own."""
    import os

    from benchmarks import _worker

    for name in [k for k in os.environ if k.startswith(("OPENBLAS_", "MINIRNN_", "OMP_",
                                                         "MKL_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    env = _worker.thread_env()
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OPENBLAS_NUM_THREADS"] == "1"
    raw = _raw()
    for w in raw["workers"]:
        if w["framework"] == "minirnn":
            w["env"] = {"numpy": "2.4", "thread_env": env, "threadpools": [
                {"user_api": "blas", "internal_api": "openblas", "version": "0.3.31",
                 "num_threads": 2, "architecture": "Haswell"}]}
    line = harness._env_line(raw)
    assert "openblas 0.3.31 (Haswell kernels, threads: 2" in line
    assert "environment OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1" in line


def test_gemm_floor_rows_and_table_by_hand():
    """T x the fastest way of one step's product, against torch's median inference."""
    raw = _raw()  # SMALL: torch inference 0.5 s and 1.5 s over two rounds -> median 1.0
    assert harness.step_product_shape(SMALL) == (256, 67, 32)
    ways = {"1 thread": 0.004, "2 threads": 0.003, harness.HALVES: 0.0035}
    rows = harness.floor_rows({SMALL.key: ways}, raw,
                              {SMALL.key: {"full": 0.002, "half": 0.0001}})
    (row,) = rows
    assert row["best_way"] == "2 threads"
    assert row["floor_s"] == pytest.approx(50 * 0.003)
    assert row["torch_s"] == pytest.approx(1.0) and row["minirnn_s"] == pytest.approx(1.25)
    assert row["floor_ratio"] == pytest.approx(0.15)
    # With element-wise work the halves win: 3.5 ms + 0.1 ms against 3 ms + 2 ms.
    assert row["floor_ew_s"] == pytest.approx(50 * 0.0036)
    # The median of the per-round ratios (1.0 / 0.5, 1.5 / 1.5), as the ratio table.
    assert row["measured_ratio"] == pytest.approx(1.5)
    table = harness.floor_table(rows)
    assert "| lstm | f32 | 50, 32, 2, 64 | (256, 67) @ (67, 32) |" in table
    assert "| 150.00 | 1000.00 | 0.15 | 0.18 | 1.50 |" in table
    # A case the run lacks: no torch time, no ratios, still a row.
    other = harness.Case("gru", "float64", 50, 32, 2, 64)
    (lonely,) = harness.floor_rows({other.key: {"1 thread": 0.001}}, raw)
    assert lonely["torch_s"] is None and lonely["floor_ratio"] is None
    assert lonely["floor_ew_s"] is None


def test_floor_block_has_its_own_markers():
    doc = ("a\n<!-- generated by `python -m benchmarks.run`: begin -->\nX\n"
           "<!-- generated by `python -m benchmarks.run`: end -->\n"
           "<!-- generated by `python -m benchmarks.floor`: begin -->\nold\n"
           "<!-- generated by `python -m benchmarks.floor`: end -->\n")
    out = harness.replace_generated(doc, "new", module="benchmarks.floor")
    assert "new" in out and "old" not in out and "\nX\n" in out


def test_replace_between_keeps_the_markers_and_refuses_a_page_without_them():
    assert harness.replace_between("a<s>old<e>b", "<s>", "<e>", "new") == "a<s>\nnew\n<e>b"
    for page in ("a<s>b", "a<e>b<s>c", "nothing"):
        with pytest.raises(ValueError, match="expected the markers '<s>' ... '<e>'"):
            harness.replace_between(page, "<s>", "<e>", "x")
