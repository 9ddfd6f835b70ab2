"""Beam search's compiled bookkeeping (minirnn/nn/kernels/compiled_beam.py, numba) against
the numpy reference (minirnn/nn/seq2seq/decode.py), and the switch between them (issue 31).
The comparisons skip without numba; no timing here: benchmarks/beam.py measures."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

import minirnn
from minirnn.nn.kernels import compiled
from minirnn.nn.seq2seq import EOS, EncoderDecoder, beam_search, pad_ids
from minirnn.nn.seq2seq import decode as decode_module
from minirnn.nn.seq2seq.decode import Finished, Hypothesis, bookkeeping, select_numpy

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None
                                 or not compiled.compiled_available(),
                                 reason="numba (the fast extra) is not usable here")

TOL = {np.float64: 1e-12, np.float32: 1e-5}
#: Sources of different lengths (5, 3, 1, 4), padded.
SRC, SRC_LEN = pad_ids([[4, 5, 6, 7, 8], [5, 4, 1], [8], [6, 6, 7, 5]])


def _model(dt: type, seed: int = 0, vocab: int = 12, **kwargs: object) -> EncoderDecoder:
    return EncoderDecoder(9, vocab, 4, 6, dtype=dt, seed=seed, **kwargs)


def _same(got: list[list[Hypothesis]], want: list[list[Hypothesis]], dt: type) -> None:
    """The same hypotheses in the same order, scores to the dtype's tolerance."""
    assert len(got) == len(want)
    for g_hyps, w_hyps in zip(got, want, strict=True):
        assert [h.tokens for h in g_hyps] == [h.tokens for h in w_hyps]
        assert [h.finished for h in g_hyps] == [h.finished for h in w_hyps]
        for g, w in zip(g_hyps, w_hyps, strict=True):
            assert g.score == pytest.approx(w.score, rel=TOL[dt], abs=TOL[dt])
            assert g.log_prob == pytest.approx(w.log_prob, rel=TOL[dt], abs=TOL[dt])
            assert g.attention.dtype == w.attention.dtype
            np.testing.assert_allclose(g.attention, w.attention, rtol=TOL[dt], atol=TOL[dt])


def _both(model: EncoderDecoder, **kwargs: Any) -> tuple[list, list]:
    """Beam search's hypotheses with the compiled and the numpy bookkeeping."""
    return (beam_search(model, SRC, SRC_LEN, kernel="compiled", **kwargs),
            beam_search(model, SRC, SRC_LEN, kernel="reference", **kwargs))


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
def test_compiled_beam_search_gives_the_numpy_hypotheses(dt: type, cell: str,
                                                          alpha: float) -> None:
    kinds = set()
    for seed in range(4):  # untrained models: hypotheses ending early, late and cut
        model = _model(dt, seed, decoder_cell=cell)
        model.decoder.out.weight.data *= 4
        for width in (1, 3, 5):
            got, want = _both(model, beam_width=width, max_length=6, alpha=alpha)
            _same(got, want, dt)
            kinds |= {(h.finished, len(h.tokens) == 6) for hyps in want for h in hyps}
    assert {(True, False), (False, True)} <= kinds  # ended by <eos>; cut at max_length


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_ties_go_to_the_lower_beam_then_the_lower_token(dt: type) -> None:
    """Every token equally likely (the output layer's weights zero, equal biases): both
    paths rank equal extensions by beam, then token id, so <unk> (1), <eos> (3), 4, 5 ...
    come first at every step, and <eos> at rank 1 ends a hypothesis at every step."""
    model = _model(dt, vocab=8)
    model.decoder.out.weight.data[:] = 0.0
    model.decoder.out.bias.data[:] = 0.5
    got, want = _both(model, beam_width=3, max_length=4)
    _same(got, want, dt)
    uniform = -np.log(8 - 2)  # <pad> and <bos> are never generated
    for hyps in want:
        assert [h.tokens for h in hyps] == [[], [1], [1, 1]]
        assert all(h.finished for h in hyps)
        assert hyps[0].log_prob == pytest.approx(uniform, rel=TOL[dt])
    # two groups of equal tokens: 4-7 likelier than the rest
    model.decoder.out.bias.data[4:] = 2.0
    got, want = _both(model, beam_width=4, max_length=3, alpha=0.5)
    _same(got, want, dt)
    assert [h.tokens for h in want[0]] == [[4, 4, 4], [4, 4, 5], [4, 4, 6], [4, 4, 7]]


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_eos_at_the_first_step(dt: type) -> None:
    model = _model(dt, seed=3)
    model.decoder.out.bias.data[EOS] = 40.0
    got, want = _both(model, beam_width=3, max_length=5)
    _same(got, want, dt)
    for hyps in want:
        assert hyps[0].tokens == [] and hyps[0].finished
        assert hyps[0].attention.shape == (1, SRC.shape[1])


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_max_length_reached(dt: type) -> None:
    model = _model(dt, seed=4)
    model.decoder.out.bias.data[EOS] = -40.0  # never <eos>
    got, want = _both(model, beam_width=3, max_length=5, alpha=0.6)
    _same(got, want, dt)
    assert all(len(hyps) == 3 and not h.finished and len(h.tokens) == 5
               for hyps in want for h in hyps)


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_beam_wider_than_the_vocabulary(dt: type) -> None:
    """V = 5: three tokens can be generated (<unk>, <eos>, 4), fewer than the 2K = 16
    candidates taken: the rest of the beam stays empty."""
    for seed in range(3):
        model = _model(dt, seed=seed, vocab=5)
        model.decoder.out.weight.data *= 3
        got, want = _both(model, beam_width=8, max_length=4, n_best=10)
        _same(got, want, dt)
        assert all(1 <= len(hyps) <= 10 for hyps in want)


def _step_inputs(rng: np.random.Generator, n: int, k: int, v: int,
                 dt: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logits with exact ties everywhere, a NaN logit, +inf and -inf logits; empty beams;
    one source already done.

    Each row is one of two patterns of small integers shifted by an integer (so rows of a
    pattern have exactly the same log-probabilities in either path), the scores come from
    a few values apart by non-integers: equal extensions tie exactly in both paths, and
    unequal ones are far from equal (a tie in one path only would be an ulp apart)."""
    patterns = rng.integers(-3, 3, (2, v))
    logits = (patterns[rng.integers(0, 2, n * k)]
              + rng.integers(-5, 5, (n * k, 1))).astype(dt)
    logits[1, 5 % v] = np.nan
    logits[2, 4 % v] = np.inf
    logits[3, :] = -np.inf
    logits[4, 1] = -np.inf
    scores = rng.choice([-0.3, -1.55, -2.8], (n, k))
    scores[0, 1:] = -np.inf  # the first step: one live beam
    scores[1, -1] = -np.inf
    done = np.zeros(n, dtype=bool)
    done[-1] = True
    return logits, scores, done


@needs_numba
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize(("k", "v"), [(1, 4), (3, 6), (4, 30), (9, 5)])
def test_one_step_of_bookkeeping_is_the_numpy_one(dt: type, k: int, v: int) -> None:
    """The step function itself on hard inputs: ties everywhere, NaN and infinite logits,
    empty beams, a finished source, some sources already holding finished hypotheses."""
    from minirnn.nn.kernels.compiled_beam import beam_select

    rng = np.random.default_rng(k * 100 + v)
    n = 6
    for step in range(3):
        logits, scores, done = _step_inputs(rng, n, k, v, dt)
        outs = []
        for path in ("numpy", "compiled"):
            fin = Finished.empty(n, k)
            fin.count[2] = k - 1  # one more ends this source
            flags = done.copy()
            if path == "numpy":
                with np.errstate(invalid="ignore"):  # inf - inf: numpy warns, gives NaN
                    new = select_numpy(logits, scores, flags, fin, step, 1.25)
            else:
                new = beam_select(logits, scores, flags, fin.norm, fin.raw, fin.step, fin.row,
                                  fin.count, step, 1.25, 0, 2, EOS)
            outs.append((new, flags, fin))
        (want, want_done, want_fin), (got, got_done, got_fin) = outs
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(np.isfinite(got[0]), np.isfinite(want[0]))
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
        np.testing.assert_array_equal(got_done, want_done)
        np.testing.assert_array_equal(got_fin.count, want_fin.count)
        for name in ("norm", "raw", "step", "row"):
            np.testing.assert_allclose(getattr(got_fin, name), getattr(want_fin, name),
                                       rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ the switch
@needs_numba
def test_the_kernel_switch_chooses_the_bookkeeping() -> None:
    assert bookkeeping("compiled") == "compiled"
    assert bookkeeping("reference") == "numpy"
    assert bookkeeping("fused") == "numpy"
    # "auto": compiled exactly where "beam" is in select.AUTO_COMPILED
    from minirnn.nn.kernels.select import AUTO_COMPILED

    assert bookkeeping("auto") == ("compiled" if "beam" in AUTO_COMPILED else "numpy")
    with minirnn.use_kernel("compiled"):
        assert bookkeeping() == "compiled"
        assert bookkeeping("reference") == "numpy"
    with minirnn.use_kernel("reference"):
        assert bookkeeping() == "numpy"


@needs_numba
def test_kernel_compiled_runs_the_compiled_step(monkeypatch: pytest.MonkeyPatch) -> None:
    from minirnn.nn.kernels import compiled_beam

    calls: list[int] = []
    real = compiled_beam.beam_select

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(compiled_beam, "beam_select", counting)
    model = _model(np.float64)
    beam_search(model, SRC, SRC_LEN, beam_width=2, max_length=3, kernel="reference")
    assert calls == []
    beam_search(model, SRC, SRC_LEN, beam_width=2, max_length=3, kernel="compiled")
    assert len(calls) >= 1


def test_without_numba_compiled_runs_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Numba absent (simulated): ``kernel="compiled"`` runs the numpy bookkeeping, with its
    hypotheses, silently."""
    model = _model(np.float64, seed=2)
    want = beam_search(model, SRC, SRC_LEN, beam_width=3, max_length=5, kernel="reference")

    def fail(*args: object) -> None:
        raise AssertionError("the compiled bookkeeping ran without numba")

    monkeypatch.setattr(compiled, "_REASON", "numba is not importable (simulated)")
    monkeypatch.setattr(decode_module, "_select_compiled", fail)
    assert bookkeeping("compiled") == "numpy"
    got = beam_search(model, SRC, SRC_LEN, beam_width=3, max_length=5, kernel="compiled")
    _same(got, want, np.float64)


def test_an_unknown_kernel_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _model(np.float64)

    def fail(*args: object) -> None:
        raise AssertionError("the encoder ran")

    monkeypatch.setattr(model, "encode", fail)
    with pytest.raises(ValueError, match="kernel must be one of .*got 'numba'"):
        beam_search(model, SRC, SRC_LEN, kernel="numba")


@needs_numba
def test_the_compiled_step_is_cached_on_disk() -> None:
    """numba's disk cache (as for the compiled kernels: minirnn/nn/kernels/compiled.py), so
    a second process loads the compiled code instead of compiling it."""
    from minirnn.nn.kernels import compiled_beam

    assert type(compiled_beam._beam_step._cache).__name__ == "FunctionCache"
    assert compiled_beam._beam_step._cache.cache_path == compiled.cache_dir()
