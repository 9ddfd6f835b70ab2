"""Every BLAS pool during a fit has the thread policy's count, and one command's thread
choice does not stand for the next command of the same process (issue 31: a small model
trained on two BLAS threads, 10-20x slower on a loaded 2-core machine, after an earlier
command of the test process had chosen two; benchmarks/blas_pools.py measures it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minirnn import Sequential, Solver
from minirnn.nn.kernels import split
from minirnn.nn.layers import GRU, LSTM, Dense, LastStep
from minirnn.train import threads
from minirnn.train.callbacks import Callback


def pools() -> dict[str, int]:
    """BLAS threads of each loaded BLAS library, by the package that ships it."""
    return {threads._package_of(p["filepath"]): p["num_threads"] for p in threadpool_info()
            if p["user_api"] == "blas"}


@pytest.fixture
def fresh_policy(monkeypatch):
    """Nothing decided, set or kept; every BLAS pool at two threads (restored afterwards)."""
    monkeypatch.setattr(threads, "_explicit", None)
    monkeypatch.setattr(threads, "_current", None)
    monkeypatch.setattr(threads, "_keep", False)
    monkeypatch.delenv("MINIRNN_BLAS_THREADS", raising=False)
    previous = split.batch_threads()
    with threadpool_limits(limits=2, user_api="blas"):
        yield
    split.set_batch_threads(previous)


class RecordPools(Callback):
    """The BLAS pools at the start of every epoch."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, int]] = []

    def on_epoch_begin(self, epoch, logs):
        self.seen.append(pools())


def _fit_small(kernel: str = "auto") -> list[dict[str, int]]:
    model = Sequential(LSTM(2, 4, seed=0, kernel=kernel), LastStep(), Dense(4, 1, seed=1))
    x = np.random.default_rng(0).standard_normal((16, 5, 2))
    record = RecordPools()
    Solver(model, batch_size=8, epochs=2, callbacks=[record], seed=0).fit(x, x[:, -1, :1])
    return record.seen


def _text_session_choosing_two_threads() -> None:
    """What ``minirnn train text`` does when its timing finds two BLAS threads fastest."""
    from minirnn.apps.data.text import Vocabulary
    from minirnn.apps.language_model import LanguageModel, TextSolver

    text = "to be or not to be, that is the question. " * 20
    vocab = Vocabulary.from_text(text)
    model = LanguageModel(vocab, 4, 8, seed=0)
    TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=2,
               blas_threads=2).fit_text(vocab.encode(text))


def test_a_later_fit_decides_its_own_threads_after_a_command_chose_two(fresh_policy):
    threads.keep_thread_policy()  # the CLI's first command
    _text_session_choosing_two_threads()
    assert all(n == 2 for n in pools().values())  # kept: the count stays after the command
    assert threads.blas_thread_policy()["decision"] is None  # but not as an explicit choice
    for counts in _fit_small():  # the Python API in the same process (e.g. the docs)
        assert counts and all(n == 1 for n in counts.values()), counts
    assert threads.blas_thread_policy()["decision"].startswith("1 (first recurrent layer")


def test_the_kept_decision_is_applied_again_by_every_fit(fresh_policy):
    threads.keep_thread_policy()
    _fit_small()
    _text_session_choosing_two_threads()  # a session in between leaves two threads
    assert all(n == 2 for n in pools().values())
    for counts in _fit_small():
        assert all(n == 1 for n in counts.values()), counts


def test_each_keep_call_starts_over(fresh_policy, monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    large = Sequential(GRU(8, 300, seed=0), LastStep(), Dense(300, 1, seed=1))
    small = Sequential(LSTM(2, 4, seed=0), LastStep(), Dense(4, 1, seed=1))
    threads.keep_thread_policy()  # first command: a large model at batch 64
    assert threads.apply_thread_policy(large, 64).batch_threads == 2
    assert threads.apply_thread_policy(small, 8).batch_threads == 2  # kept
    threads.keep_thread_policy()  # second command: its own decision
    decision = threads.apply_thread_policy(small, 8)
    assert (decision.blas_threads, decision.batch_threads) == (1, 1)
    assert split.batch_threads() == 1


def test_an_explicit_choice_outside_any_fit_still_wins_over_keep(fresh_policy):
    threads.set_blas_threads(2)  # the user's, outside any session
    threads.keep_thread_policy()
    for counts in _fit_small():
        assert all(n == 2 for n in counts.values()), counts
    assert threads.blas_thread_policy()["decision"] == "set by set_blas_threads"


def test_every_blas_pool_has_numpys_count_during_a_compiled_fit(fresh_policy):
    pytest.importorskip("numba")
    from minirnn.nn.kernels import compiled

    if not compiled.compiled_available():
        pytest.skip(compiled.compiled_reason() or "")
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)

    with threadpool_limits(limits=2, user_api="blas"):
        assert len(pools()) == 2 and set(pools().values()) == {2}
        seen = _fit_small("compiled")
        assert seen and all(counts == {"numpy": 1, "scipy": 1} for counts in seen), seen
        assert pools() == {"numpy": 2, "scipy": 2}


# A fresh process: scipy's BLAS is not loaded before the session; the compiled kernel's
# first call loads it inside, after the policy limited numpy's. Inside it must follow
# numpy's count, and after it numpy's restored count (it is in no snapshot). (A Solver's
# one-sample data check runs before its session, so the session here is the policy's own.)
_FRESH = textwrap.dedent("""
    import json
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits
    from minirnn.nn.layers import LSTM
    from minirnn.train.threads import _package_of, thread_policy

    def pools():
        return {_package_of(p["filepath"]): p["num_threads"] for p in threadpool_info()
                if p["user_api"] == "blas"}

    threadpool_limits(limits=2, user_api="blas")
    before = pools()
    layer = LSTM(2, 4, seed=0, kernel="compiled")
    x = np.random.default_rng(0).standard_normal((8, 5, 2))
    with thread_policy(layer, 1):
        y = layer.forward(x, training=True)
        layer.backward(np.ones_like(y))
        inside = pools()
    print(json.dumps({"before": before, "inside": inside, "after": pools()}))
""")


def test_a_blas_loaded_during_a_compiled_fit_follows_numpy_during_and_after_it():
    pytest.importorskip("numba")
    from minirnn.nn.kernels import compiled

    if not compiled.compiled_available():
        pytest.skip(compiled.compiled_reason() or "")
    env = {k: v for k, v in os.environ.items() if k != "MINIRNN_BLAS_THREADS"}
    result = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["before"] == {"numpy": 2}, got  # scipy's BLAS not loaded yet
    assert got["inside"] == {"numpy": 1, "scipy": 1}, got
    assert got["after"] == {"numpy": 2, "scipy": 2}, got


def test_the_reproduction_script_runs_and_the_later_command_decides_one_thread(capsys):
    """benchmarks/blas_pools.py, its ``sticky`` case on a tiny adding run (not timed)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if str(root) not in sys.path:  # benchmarks/ is not installed
        sys.path.insert(0, str(root))
    from benchmarks import blas_pools

    assert blas_pools.main(["--case", "sticky", "--train-size", "100", "--epochs", "2"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("sticky")]
    assert len(lines) == 2, lines
    for line in lines:
        assert "decision '1 (first recurrent layer" in line and "['numpy', 1]" in line, line
