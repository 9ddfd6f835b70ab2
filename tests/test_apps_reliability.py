"""Issue 29, the applications: every file a run writes or reads is checked before use, the
files users give fail with one line naming them, sizes are checked before allocation, one
signal policy for every command, and sampling at any temperature.

Signal tests run ``minirnn`` in a subprocess and wait for a line of its output before
sending the signal, so they hold under load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import minirnn
from minirnn.apps import datasets
from minirnn.apps.classification import SequenceClassifier
from minirnn.apps.data import CBF_CLASSES, cylinder_bell_funnel, save_ts
from minirnn.apps.data.text import Vocabulary
from minirnn.apps.forecasting.forecaster import MAX_FORECAST_STEPS, Forecaster, state_digest
from minirnn.apps.language_model import LanguageModel, _sample
from minirnn.cli import main
from minirnn.nn.io import ModelFileError, read_file, write_file

ROOT = Path(__file__).resolve().parents[1]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minirnn: "), err
    assert "Traceback" not in err[0]
    return err[0]


# ----------------------------------------------------------------- companions and files
def _classifier(n_models: int = 2, classes: int = 3, seed: int = 0,
                neighbors: float = 0.5) -> tuple[SequenceClassifier, np.ndarray]:
    x, y = cylinder_bell_funnel(24, 32, seed=seed)
    keep = y < classes
    clf = SequenceClassifier(hidden_size=4, epochs=2, n_models=n_models, max_steps=16,
                             neighbor_max_steps=16, neighbors=neighbors, seed=seed,
                             dtype=np.float64).fit(x[keep], y[keep])
    return clf, x


def _rewrite(path: Path, change: Any) -> None:
    """Rewrite a minirnn file with ``change(header, arrays)`` applied and VALID checksums:
    what a forger who knows the format would write."""
    header, arrays = read_file(path, json.loads(_raw_header(path))["kind"])
    change(header, arrays)
    header.pop("arrays", None)
    write_file(path, header, arrays)


def _raw_header(path: Path) -> str:
    with np.load(path, allow_pickle=False) as data:
        return str(data["__header__"])


def test_classifier_is_one_archive_and_loads_equal(tmp_path: Path) -> None:
    clf, x = _classifier()
    clf.save(tmp_path / "model.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    again, meta = SequenceClassifier.load(tmp_path / "model.npz")
    assert meta["members"] == 2 and len(again.models) == 2
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))


def test_tampered_member_weight_is_refused_by_its_checksum(tmp_path: Path) -> None:
    clf, _ = _classifier()
    path = tmp_path / "model.npz"
    clf.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    name = next(k for k in arrays if k.startswith("member1/"))
    arrays[name] = arrays[name] + 1.0  # the header (and its SHA-256) left as it was
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]
    with pytest.raises(ModelFileError, match=r"model\.npz.*checksum"):
        SequenceClassifier.load(path)


@pytest.mark.parametrize("forgery", ["nan series", "fractional labels", "labels out of range",
                                     "3-class member", "other run's neighbours",
                                     "huge factor"])
def test_forged_parts_are_refused_with_one_model_file_error(tmp_path: Path,
                                                            forgery: str) -> None:
    """Valid checksums, wrong content: every array and size is checked before use."""
    clf, _ = _classifier(classes=2)
    path = tmp_path / "model.npz"
    clf.save(path)

    def change(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        if forgery == "nan series":
            arrays["neighbors/euclidean"] = np.full_like(arrays["neighbors/euclidean"], np.nan)
        elif forgery == "fractional labels":
            arrays["neighbors/y"] = arrays["neighbors/y"] + 0.5
        elif forgery == "labels out of range":
            arrays["neighbors/y"] = arrays["neighbors/y"] + 7
        elif forgery == "3-class member":
            other, _ = _classifier(classes=3, seed=1)
            other.save(tmp_path / "other.npz")
            o_header, o_arrays = read_file(tmp_path / "other.npz", "classifier")
            header["members"][1] = o_header["members"][1]
            for key in [k for k in arrays if k.startswith("member1/")]:
                del arrays[key]
            arrays.update({k: v for k, v in o_arrays.items() if k.startswith("member1/")})
        elif forgery == "other run's neighbours":
            longer, _ = _classifier(classes=2, seed=2)
            longer.reference = {k: np.concatenate([v, v[:, :3]], axis=1) if v.ndim == 3
                                else v for k, v in longer.reference.items()}
            for key, value in longer.reference.items():
                arrays[f"neighbors/{key}"] = value
        else:
            header["metadata"]["prep"]["factor"] = 10**9

    _rewrite(path, change)
    with pytest.raises(ModelFileError, match=r"model\.npz"):
        SequenceClassifier.load(path)


def test_minirnn_load_on_a_classifier_names_the_classifier_loader(tmp_path: Path) -> None:
    clf, _ = _classifier()
    clf.save(tmp_path / "model.npz")
    with pytest.raises(ModelFileError, match="SequenceClassifier.load"):
        minirnn.load(tmp_path / "model.npz")


@pytest.fixture(scope="module")
def forecaster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fc") / "model.npz"
    Forecaster(horizon=3, network=False).fit(datasets.load("airline").values).save(path)
    return path


def _forged_state(src: Path, dst: Path, change: Any, *, fix_checksum: bool) -> None:
    def edit(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        state = header["metadata"]["forecaster"]
        change(state)
        if fix_checksum:
            state["sha256"] = state_digest({k: v for k, v in state.items() if k != "sha256"})

    dst.write_bytes(src.read_bytes())
    _rewrite(dst, edit)


@pytest.mark.parametrize("fix_checksum", [False, True])
@pytest.mark.parametrize("forgery", ["order 1e6", "no members", "member coef"])
def test_forecaster_state_is_checksummed_and_range_checked(forecaster_file: Path,
                                                           tmp_path: Path, forgery: str,
                                                           fix_checksum: bool) -> None:
    def change(state: dict[str, Any]) -> None:
        if forgery == "order 1e6":
            state["members"][0]["order"] = 1_000_000
        elif forgery == "no members":
            state["members"] = []
        else:
            state["members"][0]["coef"][0][0] += 0.5

    path = tmp_path / "model.npz"
    _forged_state(forecaster_file, path, change, fix_checksum=fix_checksum)
    if forgery == "member coef" and fix_checksum:
        # A consistent edit of a coefficient is a different (valid) model; without the
        # checksum fixed it is refused.
        Forecaster.load(path).forecast(3)
        return
    with pytest.raises(ModelFileError, match=r"model\.npz"):
        Forecaster.load(path)


def test_cli_forecast_from_a_forged_state_is_one_line(forecaster_file: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    path = tmp_path / "model.npz"
    _forged_state(forecaster_file, path, lambda s: s["members"][0].update(order=10**6),
                  fix_checksum=True)
    assert main(["forecast", str(path), "--steps", "3"]) == 2
    assert "model.npz" in _one_error_line(capsys)


# ------------------------------------------------------------------- files users give
def _series_csv(path: Path, rows: list[str], header: str = "Date,v") -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _series_rows(n: int = 60) -> list[str]:
    return [f"19{50 + i // 12}-{i % 12 + 1:02d},{100 + 10 * np.sin(i)}" for i in range(n)]


def _train_series(path: Path, out: Path) -> int:
    return main(["train", "series", "--csv", str(path), "--column", "v", "--epochs", "1",
                 "--hidden-size", "2", "--no-plot", "--output", str(out)])


def test_unclosed_quote_is_one_line_naming_the_file(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rows = _series_rows()
    rows[5] = '"' + rows[5]
    path = _series_csv(tmp_path / "quote.csv", rows)
    assert _train_series(path, tmp_path / "out") == 2
    line = _one_error_line(capsys).replace(str(tmp_path), "")  # (the folder names the test)
    assert "quote.csv" in line and "unclosed" in line and len(line) < 300


def test_unclosed_quote_over_the_field_limit_is_not_a_csv_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = [f"{i % 7}" for i in range(40000)]
    rows[3] = '"' + rows[3]
    path = _series_csv(tmp_path / "long.csv", rows, header="v")
    assert main(["train", "series", "--csv", str(path), "--column", "v", "--no-plot",
                 "--output", str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys)
    assert "long.csv" in line and len(line) < 300


def test_latin1_csv_names_the_file_and_the_encoding(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(("Date,v,note\n" + "\n".join(f"{r},caf\xe9" for r in _series_rows())
                      + "\n").encode("latin-1"))
    assert _train_series(path, tmp_path / "out") == 2
    line = _one_error_line(capsys)
    assert "latin.csv" in line and "UTF-8" in line


@pytest.mark.parametrize("cell", ["NaT", "today", "now"])
def test_date_cells_that_name_no_date_are_refused(tmp_path: Path, cell: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rows = _series_rows()
    rows[-1] = cell + "," + rows[-1].split(",")[1]  # last: no order check can catch it
    path = _series_csv(tmp_path / "dates.csv", rows)
    assert main(["train", "series", "--csv", str(path), "--column", "v", "--date-column",
                 "Date", "--epochs", "1", "--hidden-size", "2", "--no-plot", "--output",
                 str(tmp_path / "out")]) == 2
    line = _one_error_line(capsys)
    assert "dates.csv" in line and repr(cell) in line and "not an ISO 8601 date" in line


def _ts(path: Path, cases: list[str], labelled: bool = True) -> Path:
    head = ["@problemName t", "@univariate true", "@equalLength false",
            f"@classLabel {'true a b' if labelled else 'false'}", "@data"]
    path.write_text("\n".join(head + cases) + "\n")
    return path


def _classify(train: Path, test: Path, out: Path, *extra: str) -> int:
    return main(["train", "classify", "--train", str(train), "--test", str(test), "--epochs",
                 "1", "--hidden-size", "2", "--ensemble", "1", "--no-plot", "--quiet-epochs",
                 "--rocket", "no", "--output", str(out), *extra])


def test_ts_values_near_1e300_are_one_line_without_warnings(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [",".join(f"{(k + s) % 5 * 3e299:g}" for s in range(8)) + f":{'ab'[k % 2]}"
             for k in range(12)]
    train = _ts(tmp_path / "big_TRAIN.ts", cases)
    test = _ts(tmp_path / "big_TEST.ts", cases)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _classify(train, test, tmp_path / "out") == 2
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    line = _one_error_line(capsys)
    assert "big_TRAIN.ts" in line and "too large" in line


def test_unlabelled_training_ts_is_blamed_on_the_training_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = _ts(tmp_path / "u_TRAIN.ts", ["1,2,3,4", "2,3,4,5"], labelled=False)
    test = _ts(tmp_path / "u_TEST.ts", ["1,2,3,4:a", "2,3,4,5:b"])
    assert _classify(train, test, tmp_path / "out") == 2
    line = _one_error_line(capsys)
    assert "u_TRAIN.ts" in line and "u_TEST.ts" not in line and "@classLabel false" in line


# ---------------------------------------------------------------------------- memory
def test_one_huge_case_among_short_ones_is_refused_before_padding(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    short = [f"{k % 3},1,2,0:{'ab'[k % 2]}" for k in range(300)]
    long_case = ",".join(["0"] * 1_000_000) + ":a"
    train = _ts(tmp_path / "pad_TRAIN.ts", [*short[:150], long_case, *short[150:]])
    test = _ts(tmp_path / "pad_TEST.ts", short[:10])
    out = tmp_path / "out"
    assert _classify(train, test, out) == 2
    line = _one_error_line(capsys)
    assert "pad_TRAIN.ts" in line and "1,000,000 steps" in line and "GiB" in line
    # The run folder it created held only the started report: removed, not left "running".
    assert not (out / "report.json").exists()


def test_report_is_never_left_running_after_a_failure(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    import minirnn.cli._common as common

    def out_of_memory(*args: Any, **kwargs: Any) -> None:
        (tmp_path / "out" / "partial.txt").write_text("")  # the run had begun writing
        raise MemoryError

    monkeypatch.setattr(common, "run", out_of_memory)
    path = _series_csv(tmp_path / "s.csv", _series_rows())
    assert _train_series(path, tmp_path / "out") == 2
    assert "out of memory" in _one_error_line(capsys)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["status"] == "failed"


def _language_model(seed: int = 0) -> LanguageModel:
    vocab = Vocabulary.from_text("abcdefgh\n")
    return LanguageModel(vocab, 4, 8, 1, "gru", 0.0, dtype=np.float64, seed=seed)


def test_sample_length_is_bounded_and_long_samples_stream(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from minirnn.nn.io import save_model

    model = _language_model()
    save_model(tmp_path / "model.npz", model)
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(tmp_path), "--length", "1000000000000"])
    assert exc.value.code == 2 and "--length" in capsys.readouterr().err
    # The pieces come as they are made: the first arrives without the rest being made.
    pieces = model.stream("ab", 10**12, temperature=0.5, seed=3, chunk=16)
    assert next(pieces) == "ab" and len(next(pieces)) == 16
    whole = model.generate("ab", 100, temperature=0.5, seed=3)
    assert "".join(model.stream("ab", 100, temperature=0.5, seed=3, chunk=7)) == whole
    assert main(["sample", str(tmp_path), "--length", "100", "--prime", "ab", "--seed", "3",
                 "--temperature", "0.5"]) == 0
    assert capsys.readouterr().out == whole + ("" if whole.endswith("\n") else "\n")


def test_forecast_steps_are_bounded_and_the_recursion_reads_a_fixed_tail(
        forecaster_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["forecast", str(forecaster_file), "--steps", "1e9"])
    assert exc.value.code == 2 and "--steps" in capsys.readouterr().err
    fc = Forecaster.load(forecaster_file)
    with pytest.raises(ValueError, match="steps must be between 1 and"):
        fc.forecast(MAX_FORECAST_STEPS + 1)
    # The tail the recursion keeps gives the forecasts of the whole growing series.
    paths = [fc.y_] * len(fc.members_)
    whole: list[float] = []
    while len(whole) < 40:
        o = np.array([len(paths[0]) - 1])
        members = fc._member_forecasts(paths, None, o)
        whole.extend(fc._combined(members, paths[0], None, o)[0].tolist())
        paths = [np.concatenate([p, f[0]]) for p, f in zip(paths, members, strict=True)]
    np.testing.assert_allclose(fc.forecast(40).mean, whole[:40], rtol=1e-12)
    assert len(fc.forecast(20_000).mean) == 20_000  # linear: seconds, not hours


# --------------------------------------------------------------------------- sampling
def test_tiny_temperature_is_greedy() -> None:
    logits = np.array([1.0, 3.0, 2.0, -1e3])
    rng = np.random.default_rng(0)
    assert all(_sample(logits, t, None, rng) == 1 for t in (1e-308, 5e-324, 1e-300))
    assert _sample(logits, 1e-308, 2, rng) == 1
    model = _language_model()
    assert model.generate("ab", 50, temperature=1e-308, seed=1) == \
        model.generate("ab", 50, temperature=0, seed=1)


# ---------------------------------------------------------------------------- signals
_RUN = "import sys; from minirnn.cli import main; sys.exit(main(sys.argv[1:]))"


def _run_until(args: list[str], ready: Any, sig: int, timeout: float = 240
               ) -> tuple[int, str, str]:
    """Run ``minirnn args`` in a subprocess, send ``sig`` once a line of its output
    satisfies ``ready``; return (exit status, stdout, stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MINIRNN_BLAS_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _RUN, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            lines.append(line)
            if ready(line):
                proc.send_signal(sig)
                break
            assert time.monotonic() < deadline, "no ready line: " + "".join(lines[-5:])
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, "".join(lines) + out, err


def _cbf(tmp_path: Path) -> tuple[Path, Path]:
    x, y = cylinder_bell_funnel(30, 48, seed=0)
    save_ts(tmp_path / "CBF_TRAIN.ts", x, None, y, CBF_CLASSES, problem_name="CBF")
    xt, yt = cylinder_bell_funnel(12, 48, seed=1)
    save_ts(tmp_path / "CBF_TEST.ts", xt, None, yt, CBF_CLASSES, problem_name="CBF")
    return tmp_path / "CBF_TRAIN.ts", tmp_path / "CBF_TEST.ts"


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_every_ensemble_member_saves_and_exits(tmp_path: Path, sig: int,
                                                            status: int) -> None:
    train, test = _cbf(tmp_path)
    out = tmp_path / "run"
    code, stdout, stderr = _run_until(
        ["train", "classify", "--train", str(train), "--test", str(test), "--epochs",
         "100000", "--patience", "100000", "--ensemble", "3", "--hidden-size", "4",
         "--neighbors", "0", "--dtw", "no", "--rocket", "no", "--epoch-lines", "--no-plot",
         "--output", str(out)],
        lambda line: "val_accuracy" in line and line.lstrip().startswith(("epoch", "2")),
        sig)
    assert code == status, (stdout[-2000:], stderr)
    err = stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("minirnn: ") and "saved" in err[0], err
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted" and report["members_trained"] == 1
    assert report["ensemble"] == 3 and len(report["members"]) == 1
    assert report["members"][0]["epochs_run"] >= 1
    clf, _ = SequenceClassifier.load(out / "model.npz")
    assert len(clf.models) == 1


def _text_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"]
    text = "\n".join(" ".join(rng.choice(words, 12)) for _ in range(3000))
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    return path


def _train_text(path: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "text", "--file", str(path), "--hidden-size", "32", "--embedding-dim",
            "8", "--seq-len", "20", "--batch-size", "8", "--epochs", "1000",
            "--sample-length", "10", "--output", str(out), *extra]


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_train_text_saves_a_consistent_run(tmp_path: Path, sig: int,
                                                         status: int) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = _run_until(
        _train_text(_text_file(tmp_path), out, "--eval-every", "5",
                    "--progress-every", "1000"),
        lambda line: line.startswith("eval 2:"), sig)
    assert code == status, (stdout[-2000:], stderr)
    err = stderr.strip().splitlines()
    assert len(err) == 1 and "saved" in err[0] and "model.npz" in err[0], err
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted" and report["evaluations"] >= 2
    assert report["tokens_seen"] >= 2 * 5 * 8 * 20
    assert isinstance(minirnn.load(out / "model.npz"), LanguageModel)


def test_early_ctrl_c_in_train_text_reports_the_true_counts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, stdout, stderr = _run_until(
        _train_text(_text_file(tmp_path), out, "--eval-every", "100000",
                    "--progress-every", "0.2"),
        lambda line: "train loss" in line and not line.startswith("eval"), signal.SIGINT)
    assert code == 130, (stdout[-2000:], stderr)
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "interrupted" and report["evaluations"] == 0
    progress = [line for line in stdout.splitlines() if "train loss" in line]
    shown = int(progress[0].split()[1].replace(",", ""))  # chars trained when it printed
    assert report["tokens_seen"] >= shown > 0


def test_time_limit_bounds_the_final_validation_too(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]
                                                    ) -> None:
    """The overshoot past --time-limit is printed; the bound is loose (a shared machine)."""
    limit = 1.0
    start = time.perf_counter()
    assert main(_train_text(_text_file(tmp_path), tmp_path / "run", "--time-limit",
                            str(limit), "--eval-tokens", "2000")) == 0
    elapsed = time.perf_counter() - start
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["val_loss_tokens"] <= 2000 < report["val_tokens"]
    with capsys.disabled():
        print(f"\n  train text --time-limit {limit:g}: {elapsed:.1f} s in all, overshoot "
              f"{elapsed - limit:.1f} s")
    assert elapsed < limit + 60


def test_archive_members_of_a_classifier_are_only_npy(tmp_path: Path) -> None:
    clf, _ = _classifier()
    clf.save(tmp_path / "model.npz")
    with zipfile.ZipFile(tmp_path / "model.npz") as archive:
        names = archive.namelist()
    assert all(n.endswith(".npy") for n in names)
    assert any(n.startswith("member1/") for n in names)
    assert any(n.startswith("neighbors/") for n in names)
