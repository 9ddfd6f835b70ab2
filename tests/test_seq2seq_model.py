"""The encoder-decoder model of issue 28 (minirnn.nn.seq2seq): float64 gradient checks of
the whole model and of the attention decoder, teacher forcing, greedy and beam-search
decoding (O(1) work per token), padding, model files, input checks, and a reversal task."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from minirnn.check.gradcheck import numerical_gradient
from minirnn.nn.io import ModelFileError, build_layer, load_model, save_model
from minirnn.nn.losses.classification import CrossEntropy
from minirnn.nn.optim import Adam
from minirnn.nn.registry import layer_class
from minirnn.nn.seq2seq import (
    BOS,
    EOS,
    PAD,
    SPECIALS,
    UNK,
    AttentionDecoder,
    EncoderDecoder,
    beam_search,
    decode_ids,
    encode_tokens,
    greedy_decode,
    length_penalty,
    pad_ids,
    sequence_mask,
    target_arrays,
)

TOLERANCE = 1e-7


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Tiny matrices: one BLAS thread (on a busy 2-core machine a second one spinning made
    a training step 7x slower, measured); the previous limit is restored."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ------------------------------------------------------------------ helpers
def relative_error(analytic: np.ndarray, numerical: np.ndarray, floor: float) -> float:
    """minirnn.gradcheck's measure: max |difference| over the largest magnitude (or the
    rounding floor of a central difference, for gradients that are all near zero)."""
    scale = max(float(np.abs(analytic).max(initial=0.0)),
                float(np.abs(numerical).max(initial=0.0)), floor)
    return 0.0 if scale == 0 else float(np.abs(analytic - numerical).max(initial=0.0) / scale)


def check_gradients(f, analytic: dict[str, np.ndarray], arrays: dict[str, np.ndarray],
                    magnitude: float, eps: float = 1e-5) -> dict[str, float]:
    """Central differences (5-point) of f() against the analytic gradients; the floor is
    minirnn.gradcheck's: 16 machine epsilons of the summed |terms| over eps, / tolerance."""
    floor = 16 * np.finfo(np.float64).eps * max(magnitude, 1e-300) / eps / TOLERANCE
    errors = {}
    for name, array in arrays.items():
        numerical = numerical_gradient(f, array, eps)
        errors[name] = relative_error(analytic[name], numerical, floor)
    return errors


def random_batch(rng: np.random.Generator, n: int, s: int, t: int, v_src: int, v_tgt: int):
    """Ids at valid steps drawn from every token (specials included), PAD after."""
    s_len = rng.integers(1, s + 1, n)
    t_len = rng.integers(1, t + 1, n)
    s_len[rng.integers(n)] = s  # the longest fills the arrays
    t_len[rng.integers(n)] = t
    src = rng.integers(1, v_src, (n, s))
    tgt = rng.integers(1, v_tgt, (n, t))
    src[np.arange(s)[None, :] >= s_len[:, None]] = PAD
    tgt[np.arange(t)[None, :] >= t_len[:, None]] = PAD
    return src, s_len, tgt, t_len


def model_gradcheck(model: EncoderDecoder, x, seed: int = 0, training: bool = False):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(model.forward(x, training=training).shape)

    def f() -> float:
        return float(np.sum(model.forward(x, training=training) * g))

    model.zero_grad()
    model.forward(x, training=training)
    model.backward(g)
    params = dict(model.named_parameters())
    analytic = {name: p.grad.copy() for name, p in params.items()}
    magnitude = float(np.sum(np.abs(model.forward(x, training=training) * g)))
    return check_gradients(f, analytic, {n: p.data for n, p in params.items()}, magnitude)


def reversal_batch(rng: np.random.Generator, n: int):
    """Sources of 3-5 symbols out of 6 (ids 4-9); the target is the source reversed."""
    seqs = [[int(v) for v in rng.integers(4, 10, rng.integers(3, 6))] for _ in range(n)]
    src, s_len = pad_ids(seqs)
    tgt_in, tgt_out, t_len = target_arrays([s[::-1] for s in seqs])
    return seqs, (src, s_len, tgt_in, t_len), tgt_out


# ------------------------------------------------------------------ gradient checks
CELLS = ["gru", "lstm", "rnn"]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 2), s=st.integers(1, 3),
       t=st.integers(1, 3), encoder_cell=st.sampled_from(CELLS),
       decoder_cell=st.sampled_from(CELLS), layers=st.integers(1, 2),
       bidirectional=st.booleans(), input_feeding=st.booleans(),
       attention=st.sampled_from(["additive", "general", "dot"]),
       bridge=st.sampled_from(["dense", "zeros"]))
def test_model_gradients_float64(seed, n, s, t, encoder_cell, decoder_cell, layers,
                                 bidirectional, input_feeding, attention, bridge):
    if attention == "dot" and bidirectional:
        attention = "general"  # dot needs M == H
    model = EncoderDecoder(5, 6, 2, 2, encoder_cell=encoder_cell,
                           decoder_cell=decoder_cell, encoder_layers=layers,
                           bidirectional=bidirectional, attention=attention,
                           attention_dim=2, input_feeding=input_feeding, bridge=bridge,
                           dtype=np.float64, seed=seed)
    x = random_batch(np.random.default_rng(seed), n, s, t, 5, 6)
    errors = model_gradcheck(model, x, seed)
    assert max(errors.values()) <= TOLERANCE, errors


@pytest.mark.parametrize("encoder_cell,decoder_cell,attention,input_feeding", [
    ("gru", "lstm", "additive", True),
    ("lstm", "gru", "general", False),
])
def test_model_gradients_bidirectional_stacked(encoder_cell, decoder_cell, attention,
                                               input_feeding):
    """Both directions, 2 layers, variable source and target lengths, every parameter."""
    model = EncoderDecoder(6, 7, 2, 2, encoder_cell=encoder_cell, decoder_cell=decoder_cell,
                           encoder_layers=2, bidirectional=True, attention=attention,
                           input_feeding=input_feeding, dtype=np.float64, seed=1)
    src, s_len = pad_ids([[4, 5, 1, 3], [5, 4], [2, 4, 5]])
    tgt_in, _, t_len = target_arrays([[4, 5, 6], [6], [5, 1]])
    errors = model_gradcheck(model, (src, s_len, tgt_in, t_len))
    assert set(errors) == {name for name, _ in model.named_parameters()}
    assert max(errors.values()) <= TOLERANCE, errors


def test_model_gradients_with_scheduled_sampling():
    """teacher_forcing=0: the model's own argmax is fed (no gradient through it); the fed
    tokens are fixed by the parameters, so central differences see the same graph."""
    model = EncoderDecoder(6, 7, 2, 3, teacher_forcing=0.0, bidirectional=False,
                           dtype=np.float64, seed=2)
    x = random_batch(np.random.default_rng(2), 3, 3, 4, 6, 7)
    errors = model_gradcheck(model, x, training=True)
    assert max(errors.values()) <= TOLERANCE, errors
    assert not np.array_equal(model.decoder.fed_tokens[:, 1:], x[2][:, 1:])


def test_model_gradients_with_dropout():
    """Dropout on the decoder's attentional vector and between two encoder layers: with
    the masks' generators reseeded before every forward, central differences see one
    graph; evaluation (training=False) drops nothing."""
    options = dict(encoder_layers=2, bidirectional=False, attention="additive",
                   attention_dim=2, dtype=np.float64, seed=4)
    model = EncoderDecoder(6, 7, 2, 2, dropout=0.4, **options)
    plain = EncoderDecoder(6, 7, 2, 2, **options)
    x = random_batch(np.random.default_rng(4), 3, 3, 4, 6, 7)
    np.testing.assert_array_equal(model.forward(x), plain.forward(x))
    forward = model.forward

    def seeded(x, training=False):
        model.decoder._rng = np.random.default_rng(11)
        model.encoder._rng = np.random.default_rng(12)
        return forward(x, training=training)

    model.forward = seeded
    assert not np.array_equal(seeded(x, training=True), plain.forward(x, training=True))
    errors = model_gradcheck(model, x, training=True)
    assert max(errors.values()) <= TOLERANCE, errors
    with pytest.raises(ValueError, match="dropout"):
        EncoderDecoder(6, 7, 2, 3, dropout=1.0)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3), s=st.integers(1, 4),
       t=st.integers(1, 4), cell=st.sampled_from(CELLS), input_feeding=st.booleans(),
       attention=st.sampled_from(["additive", "general", "dot"]))
def test_decoder_gradients_float64(seed, n, s, t, cell, input_feeding, attention):
    """The decoder alone: parameters, memory and initial state; padding gets none."""
    rng = np.random.default_rng(seed)
    m_size = 2 if attention == "dot" else 3
    decoder = AttentionDecoder(6, 2, 2, m_size, cell, attention, attention_dim=2,
                               input_feeding=input_feeding, dtype=np.float64, seed=seed)
    tgt = rng.integers(1, 6, (n, t))  # <pad> (no gradient, as torch's padding_idx) only
    t_len = rng.integers(1, t + 1, n)  # after the lengths
    tgt[np.arange(t)[None, :] >= t_len[:, None]] = PAD
    m_len = rng.integers(1, s + 1, n)
    memory = rng.uniform(-2, 2, (n, s, m_size))
    memory[np.arange(s)[None, :] >= m_len[:, None]] = 0.0
    state = tuple(rng.uniform(-1, 1, (n, size)) for size in decoder.state_sizes)
    kwargs = dict(memory_lengths=m_len, tgt_lengths=t_len)
    g = rng.standard_normal(decoder.forward(tgt, memory=memory, **kwargs).shape)

    def f() -> float:
        return float(np.sum(decoder.forward(tgt, memory=memory, initial_state=state,
                                            **kwargs) * g))

    decoder.zero_grad()
    decoder.forward(tgt, memory=memory, initial_state=state, **kwargs)
    analytic = {"memory": decoder.backward(g)}
    analytic.update({f"state.{k}": d for k, d in
                     zip(decoder.state_names, decoder.initial_state_grad, strict=True)})
    params = dict(decoder.named_parameters())
    analytic.update({name: p.grad.copy() for name, p in params.items()})
    arrays = {"memory": memory, **{f"state.{k}": a for k, a in
                                   zip(decoder.state_names, state, strict=True)},
              **{name: p.data for name, p in params.items()}}
    magnitude = float(np.sum(np.abs(decoder.forward(tgt, memory=memory, initial_state=state,
                                                    **kwargs) * g)))
    errors = check_gradients(f, analytic, arrays, magnitude)
    assert max(errors.values()) <= TOLERANCE, errors
    padded = np.arange(s)[None, :] >= m_len[:, None]
    assert np.all(analytic["memory"][padded] == 0.0)


def test_layer_contract_accumulates_and_converts():
    """backward adds (+=); a second forward replaces the first's caches; astype(float64)
    of a float32 model gives the same logits to float32 rounding and exact gradients."""
    model = EncoderDecoder(6, 7, 2, 3, decoder_cell="lstm", seed=0)  # float32
    x = random_batch(np.random.default_rng(0), 2, 3, 3, 6, 7)
    y32 = model(x)
    model.astype(np.float64)
    y64 = model(x)
    assert y64.dtype == np.float64 and np.abs(y64 - y32).max() < 1e-5
    g = np.random.default_rng(1).standard_normal(y64.shape)
    model.zero_grad()
    model.forward(random_batch(np.random.default_rng(5), 2, 3, 3, 6, 7))
    model.forward(x)
    model.backward(g)
    once = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.backward(g)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[name], rtol=1e-12, atol=1e-15)
    assert max(model_gradcheck(model, x).values()) <= TOLERANCE


def test_decoder_refuses_bad_inputs():
    decoder = AttentionDecoder(6, 2, 3, 4, dtype=np.float64, seed=0)
    memory = np.zeros((2, 3, 4))
    tgt = np.array([[BOS, 4], [BOS, 5]])
    lengths = np.array([3, 1])
    for kwargs, error, message in [
        ({"memory": memory.astype(np.float32)}, TypeError, "memory must have dtype float64"),
        ({"memory": memory[..., :3]}, ValueError, r"memory must be an array \(N, S, M=4\)"),
        ({"memory": memory[:1]}, ValueError, "memory_lengths must have shape"),
        ({"memory": memory * np.nan}, ValueError, "NaN"),
        ({"memory_lengths": np.array([4, 1])}, ValueError, "memory_lengths must be"),
        ({"tgt_lengths": np.array([3, 1])}, ValueError, "tgt_lengths must be"),
        ({"initial_state": (np.zeros((2, 2)),)}, ValueError, "initial_state"),
    ]:
        call = {"memory": memory, "memory_lengths": lengths, **kwargs}
        with pytest.raises(error, match=message):
            decoder(tgt, **call)
    with pytest.raises(ValueError, match="tokens: expected shape"):
        decoder.step(np.array([BOS]), decoder.start(memory, lengths))


def test_decoder_takes_a_registered_custom_cell():
    from minirnn.nn.contrib import MGUCell

    decoder = AttentionDecoder(6, 2, 3, 4, "MGUCell", "general", dtype=np.float64, seed=0)
    assert isinstance(decoder.cell, MGUCell)
    assert any(name.startswith("cell.") for name, _ in decoder.named_parameters())


# ------------------------------------------------------------------ teacher forcing
def test_teacher_forcing_equals_stepping_by_hand():
    model = EncoderDecoder(8, 9, 4, 5, encoder_cell="lstm", decoder_cell="lstm",
                           attention="additive", dtype=np.float64, seed=3)
    src, s_len = pad_ids([[4, 5, 6, 7], [5, 4]])
    tgt_in, _, t_len = target_arrays([[4, 5, 8], [6]])
    logits = model.forward((src, s_len, tgt_in, t_len), training=True)  # ratio 1.0
    state = model.encode(src, s_len)
    for t in range(tgt_in.shape[1]):
        step_logits, weights, state = model.decoder.step(tgt_in[:, t], state)
        valid = t < t_len
        np.testing.assert_allclose(step_logits[valid], logits[valid, t], rtol=1e-12,
                                   atol=1e-12)
        np.testing.assert_allclose(weights[valid], model.decoder.attention_weights[valid, t],
                                   rtol=1e-12, atol=1e-12)
    assert np.all(logits[~sequence_mask(t_len, tgt_in.shape[1])] == 0.0)


def test_scheduled_sampling_feeds_own_predictions_in_training_only():
    model = EncoderDecoder(8, 9, 4, 5, teacher_forcing=0.5, dtype=np.float64, seed=4)
    rng = np.random.default_rng(4)
    x = random_batch(rng, 16, 5, 6, 8, 9)
    model.forward(x, training=False)
    assert np.array_equal(model.decoder.fed_tokens, x[2])  # evaluation: always true tokens
    model.forward(x, training=True)
    fed = model.decoder.fed_tokens
    assert np.array_equal(fed[:, 0], x[2][:, 0])  # <bos> always
    changed = fed[:, 1:] != x[2][:, 1:]
    assert changed.any() and not changed.all()
    model.teacher_forcing = 1.0
    model.forward(x, training=True)
    assert np.array_equal(model.decoder.fed_tokens, x[2])
    with pytest.raises(ValueError, match="teacher_forcing"):
        model.teacher_forcing = 1.5


# ------------------------------------------------------------------ decoding
def small_model(seed: int = 5, **kwargs) -> EncoderDecoder:
    return EncoderDecoder(9, 10, 4, 6, dtype=np.float64, seed=seed, **kwargs)


SRC, SRC_LEN = pad_ids([[4, 5, 6, 7, 8], [5, 4, 1], [8]])


@pytest.mark.parametrize("kwargs", [{}, {"input_feeding": False, "attention": "additive",
                                         "decoder_cell": "lstm"}])
def test_greedy_equals_beam_of_width_one(kwargs):
    kinds = set()
    for seed in range(6):  # untrained models: some end early, some run to max_length
        model = small_model(seed=seed, **kwargs)
        model.decoder.out.weight.data *= 4  # sharper, more varied predictions
        greedy = greedy_decode(model, SRC, SRC_LEN, max_length=7)
        beam = beam_search(model, SRC, SRC_LEN, beam_width=1, max_length=7)
        for g, (b,) in zip(greedy, beam, strict=True):
            assert g.tokens == b.tokens and g.finished == b.finished
            assert g.log_prob == pytest.approx(b.log_prob, rel=1e-12)
            np.testing.assert_allclose(g.attention, b.attention, rtol=1e-12, atol=0)
            kinds.add((g.finished, len(g.tokens) > 0))
    assert {(True, True), (False, True)} <= kinds


def teacher_forced_log_prob(model: EncoderDecoder, n: int, tokens: list[int],
                            finished: bool) -> tuple[float, np.ndarray]:
    """log P(tokens [+ <eos>] | source n) and the attention weights, from forward."""
    seq = [BOS, *tokens] if finished else [BOS, *tokens[:-1]]
    targets = [*tokens, EOS] if finished else tokens
    tgt_in = np.array([seq])
    logits = model.forward((SRC[n:n + 1], SRC_LEN[n:n + 1], tgt_in,
                            np.array([len(seq)])))[0].astype(np.float64)
    logits[:, [PAD, BOS]] = -np.inf
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                           keepdims=True)) - logits.max(1, keepdims=True)
    return float(logp[np.arange(len(targets)), targets].sum()), \
        model.decoder.attention_weights[0]


@pytest.mark.parametrize("alpha", [0.0, 0.8])
def test_beam_search_hypotheses_are_scored_and_ordered(alpha):
    model = small_model(seed=0)
    model.decoder.out.weight.data *= 4  # varied hypotheses: ended early, late, cut
    results = beam_search(model, SRC, SRC_LEN, beam_width=4, max_length=6, alpha=alpha)
    assert len(results) == 3
    kinds = {(h.finished, len(h.tokens) > 1) for hyps in results for h in hyps}
    assert {(True, True), (False, True)} <= kinds
    for n, hyps in enumerate(results):
        assert 1 <= len(hyps) <= 4
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        assert len({tuple(h.tokens) for h in hyps}) == len(hyps)
        for h in hyps:
            assert EOS not in h.tokens and PAD not in h.tokens and BOS not in h.tokens
            steps = len(h.tokens) + h.finished
            assert steps <= 6 and (h.finished or len(h.tokens) == 6)
            assert h.score == pytest.approx(h.log_prob / length_penalty(steps, alpha))
            # the back-pointers rebuild exactly what the model scores for this sequence
            log_prob, attention = teacher_forced_log_prob(model, n, h.tokens, h.finished)
            assert h.log_prob == pytest.approx(log_prob, rel=1e-10, abs=1e-10)
            np.testing.assert_allclose(h.attention, attention[:steps], rtol=1e-10,
                                       atol=1e-12)
    best = beam_search(model, SRC, SRC_LEN, beam_width=4, max_length=6, alpha=alpha)
    assert [[h.tokens for h in r] for r in best] == [[h.tokens for h in r] for r in results]


def test_decoding_stops_at_eos_and_at_max_length():
    model = small_model(seed=7)
    model.decoder.out.bias.data[EOS] = 50.0  # <eos> at once
    for h in greedy_decode(model, SRC, SRC_LEN, max_length=5):
        assert h.tokens == [] and h.finished and h.attention.shape == (1, SRC.shape[1])
    assert all(r[0].tokens == [] and r[0].finished
               for r in beam_search(model, SRC, SRC_LEN, beam_width=3, max_length=5))
    model.decoder.out.bias.data[EOS] = -50.0  # never <eos>
    for h in greedy_decode(model, SRC, SRC_LEN, max_length=5):
        assert len(h.tokens) == 5 and not h.finished
    for hyps in beam_search(model, SRC, SRC_LEN, beam_width=3, max_length=5):
        assert len(hyps) == 3 and all(len(h.tokens) == 5 and not h.finished for h in hyps)


def test_decoding_work_is_constant_per_token(monkeypatch):
    """One encoder run per batch; then one cell step per generated token over a constant
    number of rows (N for greedy while all run, N * K for beam search): no prefix rerun."""
    model = small_model(seed=8)
    model.decoder.out.bias.data[EOS] = -50.0
    calls: list[int] = []
    encoder_runs: list[int] = []
    cell_step = model.decoder.cell.step
    encoder_forward = model.encoder.forward

    def counting_step(xp, hp, state):
        calls.append(xp.shape[0])
        return cell_step(xp, hp, state)

    def counting_forward(*args, **kwargs):
        encoder_runs.append(1)
        return encoder_forward(*args, **kwargs)

    monkeypatch.setattr(model.decoder.cell, "step", counting_step)
    monkeypatch.setattr(model.encoder, "forward", counting_forward)
    for length in (3, 12):
        calls.clear()
        encoder_runs.clear()
        greedy_decode(model, SRC, SRC_LEN, max_length=length)
        assert calls == [3] * length and encoder_runs == [1]
        calls.clear()
        encoder_runs.clear()
        beam_search(model, SRC, SRC_LEN, beam_width=4, max_length=length)
        assert calls == [12] * length and encoder_runs == [1]


def test_keys_are_projected_once_per_source(monkeypatch):
    """The additive attention projects the keys once per batch of sources (decoding and
    training alike), not once per token, and the decoder keeps nothing in the attention
    layer's private cache (it uses the layer's public step API)."""
    model = small_model(seed=8, attention="additive")
    attention = model.decoder.attention
    projections: list[tuple[int, ...]] = []
    project = attention._project_keys

    def counting(key):
        projections.append(key.shape)
        return project(key)

    monkeypatch.setattr(attention, "_project_keys", counting)
    greedy_decode(model, SRC, SRC_LEN, max_length=9)
    assert len(projections) == 1
    projections.clear()
    beam_search(model, SRC, SRC_LEN, beam_width=3, max_length=9)
    assert len(projections) == 1
    projections.clear()
    tgt_in, _, t_len = target_arrays([[4, 5, 6, 7, 4], [5], [6, 6]])
    logits = model.forward((SRC, SRC_LEN, tgt_in, t_len), training=True)
    model.backward(np.ones_like(logits))
    assert len(projections) == 1
    assert attention._cache is None


def test_greedy_drops_finished_rows():
    model = small_model(seed=9)
    model.decoder.out.bias.data[EOS] += 2.0
    rows: list[int] = []
    step = model.decoder.cell.step
    model.decoder.cell.step = lambda xp, hp, s: (rows.append(xp.shape[0]), step(xp, hp, s))[1]
    hyps = greedy_decode(model, SRC, SRC_LEN, max_length=8)
    assert sum(rows) == sum(len(h.tokens) + h.finished for h in hyps)


def test_padded_source_positions_get_zero_attention():
    model = small_model(seed=10, attention="additive")
    tgt_in, _, t_len = target_arrays([[4, 5], [6], [7, 8, 9]])
    model.forward((SRC, SRC_LEN, tgt_in, t_len))
    padded = np.arange(SRC.shape[1])[None, :] >= SRC_LEN[:, None]
    weights = model.decoder.attention_weights
    assert np.all(weights.transpose(1, 0, 2)[:, padded] == 0.0)
    valid = sequence_mask(t_len, tgt_in.shape[1])
    np.testing.assert_allclose(weights[valid].sum(-1), 1.0, rtol=1e-12)
    for n, h in enumerate(greedy_decode(model, SRC, SRC_LEN, max_length=4)):
        assert np.all(h.attention[:, SRC_LEN[n]:] == 0.0)
    for n, hyps in enumerate(beam_search(model, SRC, SRC_LEN, beam_width=2, max_length=4)):
        assert all(np.all(h.attention[:, SRC_LEN[n]:] == 0.0) for h in hyps)


# ------------------------------------------------------------------ model files
VOCAB_SRC = [*SPECIALS, "a", "b", "c", "d", "e"]
VOCAB_TGT = [*SPECIALS, "A", "B", "C", "D", "E", "F"]


def test_save_load_round_trip_gives_identical_decodes(tmp_path):
    model = EncoderDecoder(9, 10, 4, 6, encoder_cell="lstm", encoder_layers=2,
                           decoder_cell="gru", attention="additive", input_feeding=False,
                           teacher_forcing=0.75, src_vocab=VOCAB_SRC, tgt_vocab=VOCAB_TGT,
                           seed=11)
    assert layer_class("EncoderDecoder") is EncoderDecoder
    path = tmp_path / "s2s.npz"
    save_model(path, model)
    loaded = load_model(path)
    assert isinstance(loaded, EncoderDecoder) and loaded.dtype == np.float32
    assert loaded.src_vocab == VOCAB_SRC and loaded.tgt_vocab == VOCAB_TGT
    assert loaded.get_config() == model.get_config()
    assert json.loads(json.dumps(model.get_config())) == model.get_config()
    assert greedy_decode(loaded, SRC, SRC_LEN, 6)[0].tokens == \
        greedy_decode(model, SRC, SRC_LEN, 6)[0].tokens
    for a, b in zip(beam_search(model, SRC, SRC_LEN, 3, 6, alpha=0.6),
                    beam_search(loaded, SRC, SRC_LEN, 3, 6, alpha=0.6), strict=True):
        assert [(h.tokens, h.score) for h in a] == [(h.tokens, h.score) for h in b]
    for key, value in model.state_dict().items():
        assert np.array_equal(loaded.state_dict()[key], value)


def test_vocabularies_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="src_vocab has 9 tokens but the embedding has 8"):
        EncoderDecoder(8, 10, src_vocab=VOCAB_SRC, tgt_vocab=VOCAB_TGT)
    with pytest.raises(ValueError, match="special tokens"):
        EncoderDecoder(9, 10, src_vocab=["a", "b", "c", "d", "e", "f", "g", "h", "i"])
    with pytest.raises(ValueError, match="more than once"):
        EncoderDecoder(9, 10, src_vocab=[*SPECIALS, "a", "b", "c", "a", "e"])
    with pytest.raises(TypeError, match="strings"):
        EncoderDecoder(9, 10, src_vocab=[*SPECIALS, "a", "b", "c", 4, "e"])
    with pytest.raises(ValueError, match="at least 4"):
        EncoderDecoder(3, 10)
    spec = {"class": "EncoderDecoder", "config": {**EncoderDecoder(9, 10).get_config(),
                                                  "tgt_vocab": VOCAB_SRC}}
    with pytest.raises(ModelFileError, match="tgt_vocab has 9 tokens"):
        build_layer(spec)


def test_vocabulary_helpers():
    assert encode_tokens(["a", "zz", "e"], VOCAB_SRC) == [4, UNK, 8]
    assert decode_ids([4, 0, 5, EOS, 6], VOCAB_TGT) == ["A", "B"]
    tgt_in, tgt_out, lengths = target_arrays([[4, 5], []])
    assert tgt_in.tolist() == [[BOS, 4, 5], [BOS, PAD, PAD]]
    assert tgt_out.tolist() == [[4, 5, EOS], [EOS, PAD, PAD]]
    assert lengths.tolist() == [3, 1]
    with pytest.raises(ValueError, match="empty"):
        pad_ids([[4], []])


# ------------------------------------------------------------------ bad inputs
def test_bad_inputs_are_refused_before_anything_changes():
    model = small_model(seed=12)
    tgt_in, _, t_len = target_arrays([[4, 5], [6], [7]])
    x = (SRC, SRC_LEN, tgt_in, t_len)
    g = np.random.default_rng(0).standard_normal(model.forward(x).shape)
    model.zero_grad()
    model.backward(g)
    expected = {name: p.grad.copy() for name, p in model.named_parameters()}
    before = model.state_dict()
    bad = [
        ((SRC, SRC_LEN, tgt_in), TypeError, "tuple"),
        ((SRC[0], SRC_LEN, tgt_in, t_len), ValueError, "src must have shape"),
        ((SRC + 0.5, SRC_LEN, tgt_in, t_len), TypeError, "integer"),
        ((SRC.astype(bool), SRC_LEN, tgt_in, t_len), TypeError, "integer"),
        ((SRC + 9, SRC_LEN, tgt_in, t_len), ValueError, r"src: token indices must be in \[0, 9\)"),
        ((SRC, SRC_LEN, tgt_in - 1, t_len), ValueError, r"tgt_in: token indices must be in"),
        ((SRC, SRC_LEN, tgt_in[:2], t_len[:2]), ValueError, "3 sequences but tgt_in has 2"),
        ((SRC, SRC_LEN * 0, tgt_in, t_len), ValueError, "src_lengths must be"),
        ((SRC, SRC_LEN + 1, tgt_in, t_len), ValueError, "src_lengths must be"),
        ((SRC, SRC_LEN, tgt_in, t_len + 1), ValueError, "tgt_lengths must be"),
        ((SRC, SRC_LEN.astype(float), tgt_in, t_len), TypeError, "src_lengths must be integers"),
        ((SRC[:, :0], SRC_LEN, tgt_in, t_len), ValueError, "must not be empty"),
        ((SRC, SRC_LEN, tgt_in[:, :0], t_len), ValueError, "must not be empty"),
    ]
    for inputs, error, message in bad:
        with pytest.raises(error, match=message):
            model.forward(inputs)
    model.zero_grad()
    model.backward(g)  # the last good forward's caches are intact
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.grad, expected[name])
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in before.items())
    with pytest.raises(ValueError, match="dlogits: expected shape"):
        model.backward(g[:, :1])
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(model, SRC, SRC_LEN, beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        greedy_decode(model, SRC, SRC_LEN, max_length=0)
    with pytest.raises(ValueError, match="src_lengths"):
        greedy_decode(model, SRC, SRC_LEN + 1)
    with pytest.raises(ValueError, match="attention='dot'"):
        EncoderDecoder(9, 10, 4, 6, attention="dot")  # bidirectional memory is 12 wide
    with pytest.raises(ValueError, match="unknown cell"):
        EncoderDecoder(9, 10, decoder_cell="transformer")
    with pytest.raises(ValueError, match="bridge"):
        EncoderDecoder(9, 10, bridge="copy")


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="before forward"):
        small_model().backward(np.zeros((1, 1, 10)))


# ------------------------------------------------------------------ learning
def test_learns_to_reverse_sequences():
    """6 symbols, lengths 3-5: 200 Adam steps on batches of 32 (about 1.5 s) reach a high
    exact match of greedy decodes on new sequences; the untrained model gets ~none."""
    rng = np.random.default_rng(0)
    model = EncoderDecoder(10, 10, 8, 16, seed=0)
    test_seqs, test_x, _ = reversal_batch(np.random.default_rng(1), 200)

    def exact_match() -> float:
        hyps = greedy_decode(model, test_x[0], test_x[1], max_length=8)
        return float(np.mean([h.tokens == s[::-1] for h, s in zip(hyps, test_seqs,
                                                                     strict=True)]))

    assert exact_match() < 0.05
    optimizer = Adam(model.parameters(), lr=0.02)
    loss = CrossEntropy()
    for _ in range(200):
        _, x, tgt_out = reversal_batch(rng, 32)
        model.zero_grad()
        logits = model.forward(x, training=True)
        loss.forward(logits, tgt_out, sequence_mask(x[3], tgt_out.shape[1]))
        model.backward(loss.backward())
        optimizer.step()
    assert exact_match() >= 0.9
