"""Everyday CLI behaviour, through subprocesses of ``python -m minirnn``: --version, run
folders, report.json, --quiet, progress bars, learning-rate and clipping defaults,
--init-from and --resume."""

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minirnn

ROOT = Path(__file__).resolve().parent.parent
TINY = ["train", "binary-addition", "--train-size", "64", "--test-size", "32", "--epochs", "2",
        "--hidden-size", "4", "--no-plot"]
ADDING = ["train", "adding", "--seq-len", "5", "--train-size", "96", "--test-size", "32",
          "--hidden-size", "4", "--no-plot", "--batch-size", "16"]


def run(args, cwd, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "minirnn", *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def report(folder):
    return json.loads((Path(folder) / "report.json").read_text())


def test_version_names_the_libraries_and_the_blas_kernels(tmp_path):
    result = run(["--version"], tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"minirnn {minirnn.__version__} (numpy {np.__version__}, scipy ")
    assert any(re.fullmatch(r"BLAS \(\S+\): \S+ \S+ \(\S+ kernels, \d+ threads\)", line)
               or line == "BLAS: not detected (threadpoolctl found none)"
               for line in lines[1:]), lines
    # The last line says whether kernel="compiled" runs compiled code here, or why not.
    assert re.fullmatch(r"compiled kernels: (available \(numba \S+; [A-Z]+(, [A-Z]+)*"
                        r"(, beam search)?(; .+)?\)|off \(.+\))", lines[-1]), lines[-1]


def test_blas_report_warns_of_avx2_kernels_on_an_avx512_cpu(monkeypatch):
    from minirnn.train import threads

    libs = [{"library": "openblas", "version": "0.3.31", "num_threads": 2,
             "architecture": "Haswell", "package": "numpy"}]
    monkeypatch.setattr(threads, "blas_libraries", lambda: libs)
    for name in [k for k in os.environ if k.startswith(("OPENBLAS_", "MINIRNN_", "OMP_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    avx512 = {"avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    lines = threads.blas_report(avx512)
    assert lines[0] == "BLAS (numpy): openblas 0.3.31 (Haswell kernels, 2 threads)"
    assert "this CPU has AVX-512 but OpenBLAS runs its Haswell kernels" in lines[1]
    assert "OPENBLAS_CORETYPE=Haswell holds it there" in lines[1]
    assert lines[-1] == "environment: OPENBLAS_CORETYPE=Haswell"
    assert not any("AVX-512" in line for line in threads.blas_report({"avx2", "fma"}))
    monkeypatch.delenv("OPENBLAS_CORETYPE")  # an OpenBLAS that picked AVX2 by itself
    assert "an OpenBLAS that knows this CPU" in threads.blas_report(avx512)[1]
    libs[0]["architecture"] = "SkylakeX"
    assert not any("AVX-512" in line for line in threads.blas_report(avx512))
    libs.clear()
    assert threads.blas_report(avx512) == ["BLAS: not detected (threadpoolctl found none)"]


def test_blas_libraries_are_named_by_the_package_that_ships_them():
    from minirnn.train.threads import _package_of

    assert _package_of("/v/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_.so") \
        == "numpy"
    assert _package_of("/v/site-packages/scipy.libs/libscipy_openblas-6cd.so") == "scipy"
    assert _package_of("/usr/lib/x86_64-linux-gnu/libopenblas.so.0") == "libopenblas.so.0"


def test_cpu_flags_reads_the_first_processor(tmp_path):
    from minirnn.train.threads import cpu_flags

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f\n\n"
                    "processor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(str(info)) == {"fpu", "avx2", "avx512f"}
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_each_run_gets_its_own_folder_with_the_full_configuration(tmp_path):
    run(TINY, tmp_path)
    run([*TINY, "--seed", "3"], tmp_path)
    folders = sorted(f for f in (tmp_path / "minirnn-runs").iterdir() if not f.is_symlink())
    assert len(folders) == 2 and all(f.name.startswith("binary-addition-") for f in folders)
    # The latest link points at the second run.
    link = tmp_path / "minirnn-runs" / "binary-addition-latest"
    assert link.resolve() == folders[1].resolve() and report(link)["config"]["seed"] == 3
    configs = [report(f)["config"] for f in folders]
    assert {c["seed"] for c in configs} == {0, 3}
    config = configs[0] if configs[0]["seed"] == 0 else configs[1]
    assert config["argv"] == TINY
    assert config["command"].startswith("minirnn train binary-addition --train-size 64")
    options = config["options"]
    for flag, value in (("hidden_size", 4), ("epochs", 2), ("optimizer", "adam"),
                        ("clip_norm", 1.0), ("batch_size", 32), ("dtype", "float32")):
        assert options[flag] == value, flag
    assert set(config["versions"]) >= {"minirnn", "numpy", "scipy", "python"}
    assert report(folders[0])["status"] == "finished"


def test_report_holds_the_data_file_and_its_hash(tmp_path):
    days = np.datetime64("2000-01-01") + np.arange(80)
    lines = ["Date,Temp"] + [f"{day},{10 + (i % 9) * 0.5:.1f}" for i, day in enumerate(days)]
    data = tmp_path / "s.csv"
    data.write_text("\n".join(lines) + "\n")
    run(["train", "series", "--csv", "s.csv", "--column", "Temp", "--look-back", "4",
         "--epochs", "1", "--hidden-size", "3", "--no-plot", "--output", "out"], tmp_path)
    files = report(tmp_path / "out")["config"]["files"]
    assert files["csv"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert files["csv"]["path"] == str(data.resolve())


def test_existing_output_is_not_overwritten_without_overwrite(tmp_path):
    run([*TINY, "--output", "out"], tmp_path)
    before = (tmp_path / "out" / "model.npz").read_bytes()
    result = run([*TINY, "--output", "out", "--seed", "5"], tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("minirnn: error: --output out already holds files")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert (tmp_path / "out" / "model.npz").read_bytes() == before
    run([*TINY, "--output", "out", "--seed", "5", "--overwrite"], tmp_path)
    assert report(tmp_path / "out")["config"]["seed"] == 5


def test_failed_run_leaves_no_empty_folder(tmp_path):
    result = run(["train", "series", "--csv", "missing.csv", "--column", "x"], tmp_path,
                 check=False)
    assert result.returncode == 2 and "missing.csv" in result.stderr
    assert not (tmp_path / "minirnn-runs").exists() or not any(
        (tmp_path / "minirnn-runs").iterdir())


def test_quiet_prints_results_but_no_progress(tmp_path):
    loud = run(TINY, tmp_path).stdout
    quiet = run([*TINY, "--quiet"], tmp_path)
    assert "epoch   1/2" in loud
    assert not [line for line in quiet.stdout.splitlines() if line.startswith("epoch")]
    assert "exactly right sums" in quiet.stdout and quiet.stderr == ""


def test_progress_bar_has_a_total_and_epoch_lines_stand_alone(tmp_path):
    pytest.importorskip("tqdm")
    result = run([*TINY, "--progress"], tmp_path)
    # 64 pairs in batches of 32: tqdm shows "2/2" and a remaining-time (ETA) field
    assert re.search(r"\b2/2 \[\d\d:\d\d<\d\d:\d\d", result.stderr), result.stderr
    epoch_lines = [line for line in result.stdout.splitlines() if "train BCE" in line]
    assert len(epoch_lines) == 2 and all(line.startswith("epoch ") for line in epoch_lines)


def test_learning_rate_default_belongs_to_the_optimizer(tmp_path):
    help_text = run(["train", "binary-addition", "--help"], tmp_path).stdout
    assert "the optimizer's own" in " ".join(help_text.split())
    for optimizer, cell, lr in (("adam", "rnn", 1e-3), ("adam", "lstm", 1e-3),
                                ("sgd", "rnn", 1e-2), ("rmsprop", "gru", 1e-2)):
        out = tmp_path / f"{optimizer}-{cell}"
        result = run([*TINY, "--optimizer", optimizer, "--cell", cell, "--epochs", "1",
                      "--output", str(out)], tmp_path)
        assert report(out)["config"]["options"]["lr"] == lr
        assert f"{optimizer} lr {lr:g}" in result.stdout
    run([*TINY, "--lr", "0.05", "--output", "lr"], tmp_path)
    assert report(tmp_path / "lr")["config"]["options"]["lr"] == 0.05


@pytest.mark.parametrize("value", ["0", "none", "None"])
def test_clip_norm_can_be_switched_off(tmp_path, value):
    run([*TINY, "--clip-norm", value, "--output", "out"], tmp_path)
    assert report(tmp_path / "out")["config"]["options"]["clip_norm"] is None


def test_bad_clip_norm_is_one_line(tmp_path):
    result = run([*TINY, "--clip-norm", "-1"], tmp_path, check=False)
    assert result.returncode == 2 and "must be a finite number greater than zero" in \
        result.stderr and "Traceback" not in result.stderr


def _test_mse(text):
    return float(re.search(r"test MSE (\d+\.\d+)", text).group(1))


def test_init_from_continues_from_a_saved_model(tmp_path):
    first = run([*ADDING, "--epochs", "4", "--lr", "0.01", "--output", "a"], tmp_path)
    # a negligible learning rate: the run keeps the loaded weights, so its test MSE is
    # the first run's (same seed, same test set), and a fresh start's is not
    again = run([*ADDING, "--epochs", "1", "--lr", "1e-12", "--init-from", "a/model.npz",
                 "--output", "b"], tmp_path)
    fresh = run([*ADDING, "--epochs", "1", "--lr", "1e-12", "--output", "c"], tmp_path)
    assert _test_mse(again.stdout) == pytest.approx(_test_mse(first.stdout), rel=1e-4)
    assert abs(_test_mse(fresh.stdout) - _test_mse(first.stdout)) > 1e-3
    assert report(tmp_path / "b")["config"]["files"]["init_from"]["sha256"]
    bad = run([*ADDING, "--hidden-size", "5", "--init-from", "a/model.npz"], tmp_path,
              check=False)
    assert bad.returncode == 2 and "pass the same" in bad.stderr
    assert len(bad.stderr.splitlines()) == 1
    missing = run([*ADDING, "--init-from", "nope.npz"], tmp_path, check=False)
    assert missing.returncode == 2 and "nope.npz: no such file" in missing.stderr


def test_resume_continues_a_run_in_its_folder(tmp_path):
    run([*ADDING, "--epochs", "2", "--output", "r"], tmp_path)
    first = json.loads((tmp_path / "r" / "history.json").read_text())
    result = run(["train", "adding", "--resume", "r", "--epochs", "4"], tmp_path)
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4]
    assert history["loss"][:2] == first["loss"]  # the first two epochs are the first run's
    assert "epoch   3/4" in result.stdout and "epoch   1/4" not in result.stdout
    config = report(tmp_path / "r")["config"]
    assert config["options"]["epochs"] == 4 and config["options"]["seq_len"] == 5
    assert "--resume" not in config["argv"]
    wrong = run(["train", "binary-addition", "--resume", "r"], tmp_path, check=False)
    assert wrong.returncode == 2 and "run of 'minirnn train adding'" in wrong.stderr
    nothing = run(["train", "adding", "--resume", "nowhere"], tmp_path, check=False)
    assert nothing.returncode == 2 and "no report.json" in nothing.stderr


def test_prediction_csv_has_the_date_column_and_the_datas_precision(tmp_path):
    import numpy as np

    from minirnn.cli._common import csv_decimals, write_predictions

    data = tmp_path / "d.csv"
    data.write_text("Date,Temp,Other\n1981-01-01,20.7,1\n1981-01-02,17.9,2.123\n"
                    "1981-01-03,18,3\n1981-01-04,2.5e1,4\n")
    assert csv_decimals(data, "Temp") == 1
    assert csv_decimals(data, "Other") == 3
    out = tmp_path / "pred.csv"
    write_predictions(out, {"actual": np.array([18.0, 1.5]),
                            "predicted": np.array([17.8123456, 1.46])},
                      decimals=1, dates=["1981-01-03", "1981-01-04"])
    assert out.read_text().splitlines() == ["date,actual,predicted", "1981-01-03,18.0,17.8",
                                            "1981-01-04,1.5,1.5"]


def _parsers(parser, path=()):
    """Every (command path, parser) under ``parser``."""
    from minirnn.cli._common import subcommands as _subcommands

    yield path, parser
    for name, sub in _subcommands(parser).items():
        yield from _parsers(sub, (*path, name))


def test_help_states_each_default_once():
    """An option whose help explains its default (computed from the data or the budget) gets
    no "(default: None)" after the explanation; required options get no default at all."""
    from minirnn.cli import _parser

    checked = 0
    for path, parser in _parsers(_parser("")):
        for action in parser._actions:
            if not action.option_strings or not action.help:
                continue
            text = parser.formatter_class("x")._get_help_string(action) % {
                **vars(action), "prog": "x"}
            if action.required or "default" in action.help:
                assert "(default: None)" not in text, (path, action.option_strings, text)
                checked += 1
    assert checked > 20
    # ... and what a user reads:
    help_text = subprocess.run([sys.executable, "-m", "minirnn", "train", "text", "--help"],
                               capture_output=True, text=True, check=True).stdout
    block = help_text.split("--seq-len SEQ_LEN ")[-1].split("--batch-size")[0]
    assert "100, or 50 with a --time-limit under 150 s)" in " ".join(block.split())
    assert "None" not in block


@pytest.mark.parametrize(("args", "status"), [(["datasets"], {141}), (["--version"], {141}),
                                              (["--help"], {0, 141})], ids=str)
def test_a_closed_standard_output_ends_the_command_quietly(args, status, tmp_path):
    """``minirnn datasets | head -2``: the reader closes the pipe early; the command stops
    with 141 (128 + SIGPIPE, what the shell reports for coreutils stopped the same way)
    and writes nothing to stderr. The read end is closed before the command starts, so
    its first write fails, every time. (argparse's --help ignores a failed write itself,
    then exits 0.)"""
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "minirnn", *args], cwd=tmp_path,
                                env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=write,
                                stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert result.returncode in status, result.stderr
    assert result.stderr == ""
