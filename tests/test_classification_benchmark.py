"""benchmarks/classification.py checks its prerequisites before any run: a data set it cannot
find is one line on stderr and exit status 2 (not a silent skip)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "classification.py"),
                           *args], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_a_missing_data_set_is_one_line_and_exit_2(tmp_path: Path) -> None:
    proc = _bench("--only", "NoSuchSet", "BasicMotions", "--data-dir", str(tmp_path))
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "NoSuchSet not found" in lines[0]
    assert "BasicMotions" not in lines[0]  # found in the shipped files, not missing


def test_a_bad_before_file_is_refused_before_any_run(tmp_path: Path) -> None:
    bad = tmp_path / "before.json"
    bad.write_text("{not json")
    proc = _bench("--only", "BasicMotions", "--before", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("classification benchmark: --before ")
    assert len(proc.stderr.strip().splitlines()) == 1
