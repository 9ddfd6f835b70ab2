"""The thread policy (minirnn.train.threads) and the kernels' batch split
(minirnn.nn.kernels.split): computing changes no process-wide setting; the Solver applies
the policy around fit and restores it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from minirnn import Sequential, Solver
from minirnn.nn.kernels import split
from minirnn.nn.layers import GRU, LSTM, RNN, Dense, LastStep
from minirnn.train import threads


def blas_counts() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def settings() -> tuple[list[int], int, object]:
    return blas_counts(), split.batch_threads(), threads.blas_thread_policy()["decision"]


@pytest.fixture
def two_blas_threads(monkeypatch):
    """The process at two BLAS threads (restored afterwards), nothing decided or set."""
    monkeypatch.setattr(threads, "_explicit", None)
    monkeypatch.setattr(threads, "_current", None)
    monkeypatch.setattr(threads, "_keep", False)
    monkeypatch.delenv("MINIRNN_BLAS_THREADS", raising=False)
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def _model(layer):
    return Sequential(layer, LastStep(), Dense(layer.output_size, 1, seed=2))


@pytest.mark.parametrize("make", [lambda: LSTM(2, 4, seed=0),
                                  lambda: GRU(8, 300, seed=0),
                                  lambda: RNN(3, 5, num_layers=2, bidirectional=True, seed=0)])
def test_forward_predict_and_fit_leave_the_thread_settings_as_they_were(make,
                                                                        two_blas_threads):
    before = settings()
    assert before[0] and all(n == 2 for n in before[0])
    model = _model(make())
    x = np.random.default_rng(0).standard_normal((64, 3, model.layers[0].input_size))
    seen = []
    y = model.forward(x, training=True)
    seen.append(settings())
    model.backward(np.ones_like(y))
    seen.append(settings())
    model.predict(x)
    seen.append(settings())
    Solver(model, batch_size=64, epochs=1, seed=0).fit(x, x[:, -1, :1].copy())
    seen.append(settings())
    assert all(s == before for s in seen), (before, seen)


def test_fit_applies_the_policy_inside_and_restores_it(two_blas_threads):
    from minirnn.train.callbacks import Callback

    inside: list = []

    class Record(Callback):
        def on_epoch_begin(self, epoch, logs):
            inside.append(settings())

    small = _model(LSTM(2, 4, seed=0))
    x = np.ones((16, 3, 2))
    Solver(small, batch_size=16, epochs=1, callbacks=[Record()]).fit(x, x[:, -1, :1])
    assert all(n == 1 for n in inside[0][0])  # a small step: one BLAS thread while training
    assert inside[0][2].startswith("1 (first recurrent layer")
    # A large step at batch 32 too: the fit decides from one sample's step, as its first
    # forward (the one-sample data check) did when forwards decided.
    large = _model(GRU(8, 300, seed=0))
    x = np.ones((32, 3, 8))
    Solver(large, batch_size=32, epochs=1, callbacks=[Record()]).fit(x, x[:, -1, :1])
    assert all(n == 1 for n in inside[1][0]) and inside[1][1] == 1
    assert settings() == (blas_counts(), 1, None) and all(n == 2 for n in blas_counts())


@pytest.mark.parametrize(("macs", "batch", "cores", "blas", "parts"), [
    (500_000, 128, 2, 1, 1),  # small step: one BLAS thread, no split
    (4_000_000, 32, 2, None, 1),  # large step, small batch: all BLAS threads, no split
    (4_000_000, 128, 2, 1, 2),  # large step and batch: two threads of one BLAS thread
    (4_000_000, 128, 8, 4, 2),
    (4_000_000, 128, 1, None, 1),  # one core: nothing to split over
])
def test_the_decision_by_problem_size(macs, batch, cores, blas, parts, monkeypatch):
    monkeypatch.delenv("MINIRNN_BLAS_THREADS", raising=False)
    decision = threads.decide_threads(macs, batch, cores)
    assert (decision.blas_threads, decision.batch_threads) == (blas, parts)
    monkeypatch.setenv("MINIRNN_BLAS_THREADS", "3")
    assert threads.decide_threads(macs, batch, cores).blas_threads == 3
    monkeypatch.setenv("MINIRNN_BLAS_THREADS", "keep")
    assert threads.decide_threads(macs, batch, cores).blas_threads is None
    monkeypatch.setenv("MINIRNN_BLAS_THREADS", "two")
    with pytest.raises(ValueError, match="positive integer or 'keep', got 'two'"):
        threads.decide_threads(macs, batch, cores)


def test_the_split_applies_per_call_only_to_large_batches_and_steps():
    previous = split.set_batch_threads(2)
    try:
        assert split.batch_parts(128, 4_000_000) == 2
        assert split.batch_parts(split.SPLIT_MIN_BATCH - 1, 4_000_000) == 1
        assert split.batch_parts(128, split.SINGLE_THREAD_MACS - 1) == 1
        assert split.batch_slices(128, 4_000_000) == [slice(0, 64), slice(64, 128)]
    finally:
        split.set_batch_threads(previous)
    assert split.batch_threads() == previous


def test_a_large_batch_splits_inside_fit_and_not_after(two_blas_threads, monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    model = _model(GRU(8, 200, seed=0))  # 64 * 200 * 3 * 200 = 7.7M multiply-adds per step
    x = np.random.default_rng(0).standard_normal((64, 3, 8))
    with threads.thread_policy(model, 64) as decision:
        assert decision is not None and decision.batch_threads == 2
        assert split.batch_threads() == 2 and all(n == 1 for n in blas_counts())
        model.forward(x)
        assert model.layers[0]._cache[0][0][7] is not None  # the kernel call was split
    assert split.batch_threads() == 1 and all(n == 2 for n in blas_counts())
    model.forward(x)
    assert model.layers[0]._cache[0][0][7] is None


def test_concurrent_sessions_share_the_outer_setting_and_restore_at_the_last(
        two_blas_threads):
    small, large = _model(LSTM(2, 4, seed=0)), _model(GRU(8, 300, seed=0))
    seen = []

    def other():
        with threads.thread_policy(large, 8):  # would leave the BLAS alone: shares instead
            seen.append(blas_counts())
        seen.append(blas_counts())  # the first block still runs

    with threads.thread_policy(small, 8):
        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
    assert all(n == 1 for counts in seen for n in counts) and len(seen) == 2
    assert all(n == 2 for n in blas_counts())


def test_an_explicit_choice_wins_and_keep_makes_the_first_decision_stay(two_blas_threads):
    small = _model(LSTM(2, 4, seed=0))
    threads.set_blas_threads(None)  # explicit: leave the BLAS alone
    with threads.thread_policy(small, 8) as decision:
        assert decision is None and all(n == 2 for n in blas_counts())
    threads._explicit = None
    threads.keep_thread_policy()
    assert threads.apply_thread_policy(small, 8).blas_threads == 1
    assert all(n == 1 for n in blas_counts())
    large = _model(GRU(8, 300, seed=0))
    with threads.thread_policy(large, 64):  # decided once: nothing new
        assert all(n == 1 for n in blas_counts())
    assert all(n == 1 for n in blas_counts())  # and nothing restored
    assert threads.blas_thread_policy()["decision"].startswith("1 (first recurrent layer")


def test_text_solver_restores_what_its_timing_changed(two_blas_threads):
    from minirnn.apps.data.text import Vocabulary
    from minirnn.apps.language_model import LanguageModel, TextSolver

    text = "to be or not to be, that is the question. " * 20
    vocab = Vocabulary.from_text(text)
    model = LanguageModel(vocab, 4, 8, seed=0)
    before = settings()
    solver = TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=10)
    solver.fit_text(vocab.encode(text))
    assert solver.blas_threads_used in (1, 2)
    TextSolver(model, batch_size=2, seq_len=5, epochs=1, steps_per_epoch=2,
               blas_threads=1).fit_text(vocab.encode(text))
    assert settings() == before


def _fit(case):
    from minirnn import Sequential, Solver
    from minirnn.nn.layers import LastStep

    layer_factory, x = case
    model = Sequential(layer_factory(), LastStep(), Dense(layer_factory().hidden_size, 1, seed=2,
                                                          dtype=x.dtype))
    y = x[:, -1, :1].copy()
    Solver(model, batch_size=16, epochs=2, seed=0).fit(x, y)
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def test_two_solvers_in_two_threads_match_their_single_thread_results():
    small = (lambda: LSTM(3, 8, seed=0, dtype=np.float32),
             np.random.default_rng(0).standard_normal((32, 6, 3)).astype(np.float32))
    large = (lambda: GRU(16, 160, seed=1),
             np.random.default_rng(1).standard_normal((64, 4, 16)))
    alone = [_fit(small), _fit(large)]
    results: list = [None, None]

    def run(k, case):
        results[k] = _fit(case)

    threads = [threading.Thread(target=run, args=(k, c)) for k, c in enumerate((small, large))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, ref in zip(results, alone, strict=True):
        assert got is not None
        np.testing.assert_array_equal(got, ref)


def test_set_blas_threads_rejects_bad_values():
    from minirnn.train.threads import set_batch_threads, set_blas_threads

    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive int or None"):
            set_blas_threads(bad)
        with pytest.raises(ValueError, match="positive int, got"):
            set_batch_threads(bad)
    with pytest.raises(ValueError, match="positive int, got None"):
        set_batch_threads(None)
