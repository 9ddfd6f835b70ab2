"""Helpers of the sweep tests that run `minirnn sweep` in other processes
(tests/test_sweep.py, tests/test_sweep_faults.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def sweep_env():
    """The environment of a sweep process: this checkout first, one BLAS thread."""
    return dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def sweep_cmd(*args):
    return [sys.executable, "-m", "minirnn", "sweep", *args]


def wait_for_epoch(folder, count=1, timeout=90, procs=()):
    """Wait until ``count`` trial folders under ``folder`` have a trained epoch in their log
    (the trial is mid-training); fail if a process in ``procs`` ended meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = sorted(Path(folder).glob("trials/*/train.log"))
        if sum("epoch " in log.read_text() for log in logs) >= count:
            return
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"the sweep ended before a trial trained: {p.communicate()}")
        time.sleep(0.05)
    pytest.fail(f"no trial trained an epoch within {timeout} s")


def start_and_stop_mid_trial(args, out, sig, *, group=False, count=1):
    """Start a sweep command, send it ``sig`` once ``count`` trials train (to the whole
    process group with ``group``); its exit status, stdout, stderr and process id."""
    proc = subprocess.Popen(sweep_cmd(*args), env=sweep_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=group)
    try:
        wait_for_epoch(out, count=count, procs=[proc])
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, stdout, stderr, proc.pid
