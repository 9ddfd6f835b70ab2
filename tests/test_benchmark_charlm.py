"""benchmarks/charlm.py checks its prerequisites before anything trains and fails with one
line (no CalledProcessError, no absolute path)."""

import importlib.util

import pytest

from benchmarks import charlm


def _one_line(capsys):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "/" not in err.split(": ", 2)[-1]
    return err.strip()


def test_without_torch_it_stops_at_once(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setattr(charlm, "compare", lambda *a: pytest.fail("trained without torch"))
    assert charlm.main(["--seconds", "1"]) == 2
    assert _one_line(capsys) == ("charlm: error: PyTorch is not installed: pip install torch "
                                 "(CPU is enough); the benchmark compares against it")


def test_without_the_text_it_names_the_option(monkeypatch, capsys):
    monkeypatch.setattr(charlm, "check_torch", lambda: None)
    monkeypatch.setattr(charlm, "compare", lambda *a: pytest.fail("trained without data"))
    assert charlm.main(["--data-dir", "nowhere", "--seconds", "1"]) == 2
    assert _one_line(capsys) == (
        "charlm: error: --data-dir nowhere: no tinyshakespeare.txt there (give --data-dir DIR "
        "holding it, --file PATH or --text pydoc)")
    assert charlm.main(["--file", "missing.txt"]) == 2
    assert _one_line(capsys) == "charlm: error: --file missing.txt: no such file"


def test_a_failing_worker_is_one_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be\n" * 200, encoding="utf-8")
    with pytest.raises(charlm.WorkerFailedError) as info:
        charlm.run_worker("minirnn", text, 1.0, {**charlm.CONFIG, "hidden_size": 0}, 0)
    message = str(info.value)
    assert message.startswith("the minirnn worker failed (exit 1): ") and "\n" not in message
    assert "hidden_size" in message


def test_workers_run_without_the_openblas_core_variables_and_record_their_blas(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "512")
    text = tmp_path / "t.txt"
    text.write_text("to be or not to be\n" * 200, encoding="utf-8")
    cfg = {**charlm.CONFIG, "hidden_size": 8, "embedding_dim": 4, "seq_len": 10,
           "batch_size": 4}
    result = charlm.run_worker("minirnn", text, 0.5, cfg, 0)
    assert "OPENBLAS_CORETYPE" not in result["thread_env"]
    assert "OPENBLAS_L2_SIZE" not in result["thread_env"]
    blas = [p for p in result["threadpools"] if p["user_api"] == "blas"]
    assert blas and all(p.get("architecture") for p in blas), result["threadpools"]
    from benchmarks.run import blas_kernels

    line = blas_kernels(result["threadpools"])
    assert "kernels" in line and str(blas[0]["architecture"]) in line
