"""The Solver on models of several inputs: ``fit(x, y)`` with ``x`` a tuple or dict of arrays
(batched, shuffled and split together), validation, checkpoints, and the encoder-decoder
trained with padded target steps masked out of the loss."""

import numpy as np
import pytest

from minirnn import Layer, Sequential, Solver
from minirnn.nn.layers import GRU, Dense, LastStep, Tanh
from minirnn.nn.losses import MSE, CrossEntropy
from minirnn.nn.optim import Adam
from minirnn.nn.seq2seq import EncoderDecoder, pad_ids, sequence_mask, target_arrays


class SeqAndStatic(Layer):
    """``head([last valid GRU step of seq ; tanh(Dense(static))])`` -> (N, 1).

    ``x`` is ``(seq (N, T, D), lengths (N,), static (N, F))`` or the dict of those keys.
    """

    def __init__(self, d: int = 2, f: int = 3, hidden: int = 4, *, seed: int = 0,
                 dtype=np.float64) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.gru = self.add_layer("gru", GRU(d, hidden, seed=rng, dtype=dtype))
        self.last = LastStep()
        self.static = self.add_layer("static", Dense(f, hidden, seed=rng, dtype=dtype))
        self.act = Tanh()
        self.head = self.add_layer("head", Dense(2 * hidden, 1, seed=rng, dtype=dtype))
        self.seen: list = []  # the inputs of every forward, when recording
        self.record = False

    def forward(self, x, *, training=False):
        if isinstance(x, dict):
            seq, lengths, static = x["seq"], x["lengths"], x["static"]
        else:
            seq, lengths, static = x
        if self.record:
            self.seen.append((seq.copy(), lengths.copy(), static.copy()))
        h = self.last.forward(self.gru.forward(seq, lengths=lengths, training=training),
                              lengths=lengths)
        s = self.act.forward(self.static.forward(static, training=training))
        self._split = h.shape[1]
        return self.head.forward(np.concatenate([h, s], axis=1), training=training)

    def backward(self, dy):
        d = self.head.backward(dy)
        d_seq = self.gru.backward(self.last.backward(d[:, :self._split]))
        d_static = self.static.backward(self.act.backward(d[:, self._split:]))
        return d_seq, None, d_static


def _data(n=40, t=5, seed=0):
    rng = np.random.default_rng(seed)
    seq = rng.uniform(-1, 1, (n, t, 2))
    lengths = rng.integers(1, t + 1, n)
    static = rng.uniform(-1, 1, (n, 3))
    valid = np.arange(t)[None, :] < lengths[:, None]
    y = (np.sum(seq[..., 0] * valid, axis=1) / lengths + static[:, 0] * static[:, 1])[:, None]
    return (seq, lengths, static), y


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _equal(a, b):
    return set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)


def _solver(model, **kwargs):
    kwargs = {"batch_size": 8, "epochs": 3, "seed": 1, **kwargs}
    return Solver(model, optimizer=Adam(model, lr=1e-2), **kwargs)


# ------------------------------------------------------------------ tuples and dicts
def test_tuple_and_dict_inputs_train_the_same_model_identically():
    x, y = _data()
    a, b = SeqAndStatic(seed=0), SeqAndStatic(seed=0)
    history = _solver(a).fit(x, y)
    _solver(b).fit(dict(zip(("seq", "lengths", "static"), x, strict=True)), y)
    assert _equal(_weights(a), _weights(b))
    assert history["loss"][-1] < history["loss"][0]
    assert len(history["loss"]) == 3


def test_a_list_is_taken_as_a_tuple():
    x, y = _data()
    a, b = SeqAndStatic(seed=0), SeqAndStatic(seed=0)
    _solver(a).fit(x, y)
    _solver(b).fit(list(x), y)
    assert _equal(_weights(a), _weights(b))


def test_floating_members_take_the_model_dtype_and_integer_members_stay():
    x, y = _data()
    model = SeqAndStatic(seed=0, dtype=np.float32)
    model.record = True
    _solver(model, epochs=1).fit((x[0].astype(np.float64), x[1].astype(np.int32), x[2]), y)
    seq, lengths, static = model.seen[-1]
    assert seq.dtype == np.float32 and static.dtype == np.float32
    assert lengths.dtype == np.int32


class _RecordingMSE(MSE):
    def __init__(self):
        super().__init__()
        self.calls = []

    def forward(self, pred, target, mask=None, *, sample_weight=None):
        self.calls.append((target.copy(), None if mask is None else mask.copy(),
                           None if sample_weight is None else sample_weight.copy()))
        return super().forward(pred, target, mask, sample_weight=sample_weight)


def test_shuffling_keeps_rows_of_every_member_y_mask_and_weights_together():
    n, t = 37, 4
    idx = np.arange(n)
    seq = np.broadcast_to(idx[:, None, None], (n, t, 2)).astype(float)
    lengths = 1 + idx % t
    static = np.stack([idx, -idx, 2 * idx], axis=1).astype(float)
    y = idx[:, None].astype(float)
    mask = (idx % 3 != 0)
    weight = 1.0 + idx
    model = SeqAndStatic(seed=0)
    model.record = True
    loss = _RecordingMSE()
    solver = Solver(model, loss=loss, optimizer=Adam(model, lr=1e-3), batch_size=5,
                    epochs=2, seed=4, shuffle=True)
    solver.fit((seq, lengths, static), y, mask=mask, sample_weight=weight)
    # The first forward (and loss) is the one-sample probe that checks the data fits.
    training, calls = model.seen[1:], loss.calls[1:]
    assert len(training) == len(calls) == 2 * 8
    order = []
    for (s, ln, st), (target, m, w) in zip(training, calls, strict=True):
        rows = s[:, 0, 0].astype(int)
        order.extend(rows.tolist())
        np.testing.assert_array_equal(ln, 1 + rows % t)
        np.testing.assert_array_equal(st, np.stack([rows, -rows, 2 * rows], axis=1))
        np.testing.assert_array_equal(target[:, 0], rows)
        np.testing.assert_array_equal(m, rows % 3 != 0)
        np.testing.assert_array_equal(w, 1.0 + rows)
    # Every sample once per epoch, in a new order each epoch (a permutation, not sorted).
    first, second = order[:n], order[n:]
    assert sorted(first) == list(range(n)) == sorted(second)
    assert first != list(range(n)) and first != second


# ------------------------------------------------------------------ refused data
def _snapshot(solver):
    return (_weights(solver.model), solver.optimizer.state_dict(), solver.epoch,
            len(solver.history), solver.rng.bit_generator.state)


def _unchanged(before, solver):
    after = _snapshot(solver)
    assert _equal(before[0], after[0])
    assert repr(before[1]) == repr(after[1])
    assert before[2:] == after[2:]


@pytest.mark.parametrize("make, message", [
    (lambda x, y: ((x[0], x[1][:-1], x[2]), y), r"x\[1\] has 39 samples .* x\[0\] has 40"),
    (lambda x, y: ({"seq": x[0], "lengths": x[1], "static": x[2][:-2]}, y),
     r"x\['static'\] has 38 samples .* x\['seq'\] has 40"),
    (lambda x, y: (x, y[:-1]), r"y has 39 samples but x\[0\] has 40"),
])
def test_a_member_whose_n_differs_is_refused_by_name_before_anything_changes(make, message):
    x, y = _data()
    solver = _solver(SeqAndStatic(seed=0))
    before = _snapshot(solver)
    bad_x, bad_y = make(x, y)
    with pytest.raises(ValueError, match=message):
        solver.fit(bad_x, bad_y)
    _unchanged(before, solver)


def test_other_refusals_before_training():
    x, y = _data()
    solver = _solver(SeqAndStatic(seed=0))
    before = _snapshot(solver)
    with pytest.raises(ValueError, match=r"validation x\[2\] has 3 samples"):
        solver.fit(x, y, validation_data=((x[0][:4], x[1][:4], x[2][:3]), y[:4]))
    with pytest.raises(ValueError, match=r"validation x has 2 inputs, the training x 3"):
        solver.fit(x, y, validation_data=((x[0], x[1]), y))
    with pytest.raises(TypeError, match="structure of the training x"):
        solver.fit(x, y, validation_data=(dict(a=x[0], b=x[1], c=x[2]), y))
    with pytest.raises(TypeError, match="lengths= is for a single input array"):
        solver.fit(x, y, lengths=x[1])
    with pytest.raises(ValueError, match="NaN or Inf"):
        solver.fit((x[0], x[1], np.full_like(x[2], np.nan)), y)
    with pytest.raises(TypeError, match="must be a numpy ndarray"):
        solver.fit((x[0], x[1].tolist(), x[2]), y)
    with pytest.raises(ValueError, match="at least one array"):
        solver.fit((), y)
    with pytest.raises(TypeError, match="dict keys must be str"):
        solver.fit({0: x[0]}, y)
    with pytest.raises(ValueError, match="mask must have a leading shape"):
        solver.fit(x, y, mask=np.ones(39, bool))
    # The model refuses the members (too few): said in the user's terms, before training.
    with pytest.raises(ValueError, match=r"training x \(x\[0\] \(40, 5, 2\) float64, "
                                         r"x\[1\] \(40,\) int64\) does not fit SeqAndStatic"):
        solver.fit(x[:2], y)
    with pytest.raises(ValueError, match=r"training y has shape \(40, 2\), but SeqAndStatic"):
        solver.fit(x, np.ones((40, 2)))
    _unchanged(before, solver)
    tbptt = _solver(SeqAndStatic(seed=0), tbptt=2)
    with pytest.raises(ValueError, match="tbptt needs one input array"):
        tbptt.fit(x, y)


def test_a_stack_given_several_inputs_says_so_before_training():
    x, y = _data()
    model = Sequential(GRU(2, 3, seed=0), LastStep(), Dense(3, 1, seed=0))
    before = _weights(model)
    with pytest.raises(TypeError, match="does not fit Sequential"):
        Solver(model).fit(x, y)
    assert _equal(before, _weights(model))


# ------------------------------------------------------------------ validation, predict
def test_validation_data_and_split_with_several_inputs():
    x, y = _data(60)
    train = tuple(a[:45] for a in x), y[:45]
    val = tuple(a[45:] for a in x), y[45:]
    mask_val = np.arange(15) % 2 == 0
    model = SeqAndStatic(seed=0)
    solver = _solver(model, batch_size=16)  # validation in one batch: a plain masked mean
    history = solver.fit(*train, validation_data=(*val, mask_val))
    assert history["val_loss"][-1] == pytest.approx(
        solver.evaluate(*val, mask=mask_val), rel=1e-12)
    kept = tuple(a[mask_val] for a in val[0]), val[1][mask_val]
    assert history["val_loss"][-1] == pytest.approx(solver.evaluate(*kept), rel=1e-12)
    # validation_split holds out the last samples of every member (and of the mask).
    split = SeqAndStatic(seed=0)
    mask = np.arange(60) % 2 == 0
    s2 = _solver(split)
    h2 = s2.fit(x, y, mask=mask, validation_split=0.25)
    assert h2["val_loss"][-1] == pytest.approx(
        s2.evaluate(tuple(a[45:] for a in x), y[45:], mask=mask[45:]), rel=1e-12)
    # the training part equals training on the first 75 % alone.
    alone = SeqAndStatic(seed=0)
    _solver(alone).fit(tuple(a[:45] for a in x), y[:45], mask=mask[:45])
    assert _equal(_weights(split), _weights(alone))


def test_predict_and_evaluate_take_tuples_and_dicts():
    x, y = _data(23)
    model = SeqAndStatic(seed=0)
    solver = _solver(model, batch_size=5)
    whole = model.forward(x)
    np.testing.assert_allclose(solver.predict(x), whole, rtol=1e-12, atol=1e-15)
    as_dict = dict(zip(("seq", "lengths", "static"), x, strict=True))
    np.testing.assert_allclose(solver.predict(as_dict), whole, rtol=1e-12, atol=1e-15)
    expected = float(np.mean((whole - y) ** 2))
    assert solver.evaluate(as_dict, y) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(TypeError, match="lengths= is for a single input array"):
        solver.predict(x, lengths=x[1])
    with pytest.raises(ValueError, match=r"predict x\[1\] has 22 samples"):
        solver.predict((x[0], x[1][:-1], x[2]))


# ------------------------------------------------------------------ checkpoints
def _reversal(n, seed, max_len=5):
    rng = np.random.default_rng(seed)
    seqs = [[int(v) for v in rng.integers(4, 9, rng.integers(2, max_len + 1))]
            for _ in range(n)]
    src, s_len = pad_ids(seqs)
    tgt_in, tgt_out, t_len = target_arrays([s[::-1] for s in seqs])
    return (src, s_len, tgt_in, t_len), tgt_out, sequence_mask(t_len, tgt_out.shape[1])


def _seq2seq(teacher_forcing=1.0):
    return EncoderDecoder(9, 9, embedding_dim=6, hidden_size=8, attention="general",
                          teacher_forcing=teacher_forcing, seed=0)


def _seq2seq_solver(model, epochs, path=None):
    return Solver(model, loss=CrossEntropy(), optimizer=Adam(model, lr=0.02), batch_size=16,
                  epochs=epochs, seed=2, clip_norm=5.0, checkpoint_path=path)


def test_checkpoint_and_resume_equal_the_uninterrupted_run(tmp_path):
    """Scheduled sampling (teacher forcing 0.5) draws from the decoder's generator, which the
    checkpoint must carry for the resumed run to feed the same tokens."""
    x, y, mask = _reversal(48, 0)
    val = _reversal(16, 1)
    whole = _seq2seq(0.5)
    h_whole = _seq2seq_solver(whole, 4).fit(x, y, mask=mask, validation_data=val)
    path = tmp_path / "run.npz"
    first = _seq2seq(0.5)
    _seq2seq_solver(first, 2, path).fit(x, y, mask=mask, validation_data=val)
    resumed = _seq2seq(0.5)  # a new process would build the model afresh
    h_resumed = _seq2seq_solver(resumed, 4, path).fit(x, y, mask=mask, validation_data=val,
                                                      resume=True)
    assert _equal(_weights(whole), _weights(resumed))
    assert h_resumed["loss"] == h_whole["loss"]
    assert h_resumed["val_loss"] == h_whole["val_loss"]


# ------------------------------------------------------------------ the encoder-decoder
def test_encoder_decoder_learns_reversal_with_padded_targets_not_counted():
    x, y, mask = _reversal(96, 3)
    assert not mask.all()  # there is padding
    model = _seq2seq()
    solver = _seq2seq_solver(model, 6)
    history = solver.fit(x, y, mask=mask)
    assert history["loss"][-1] < 0.6 * history["loss"][0]
    # The loss is the masked mean: what CrossEntropy gives on the valid steps alone (one
    # batch here; over several batches, the batch-size-weighted mean of such means).
    logits = model.forward(x)
    valid = CrossEntropy().forward(logits[mask][:, None, :], y[mask][:, None])
    one_batch = Solver(model, loss=CrossEntropy(), batch_size=len(y))
    assert one_batch.evaluate(x, y, mask=mask) == pytest.approx(valid, rel=1e-6)
    # Whatever sits at padded target positions changes nothing: same weights, same history.
    noisy = y.copy()
    noisy[~mask] = np.random.default_rng(9).integers(0, 9, int((~mask).sum()))
    other = _seq2seq()
    h_other = _seq2seq_solver(other, 6).fit(x, noisy, mask=mask)
    assert _equal(_weights(model), _weights(other))
    assert h_other["loss"] == history["loss"]
    # Without the mask the padded positions would count (and the run would differ).
    unmasked = _seq2seq()
    _seq2seq_solver(unmasked, 1).fit(x, noisy)
    assert not _equal(_weights(unmasked), _weights(_seq2seq()))
    again = _seq2seq()
    _seq2seq_solver(again, 1).fit(x, noisy, mask=mask)
    assert not _equal(_weights(unmasked), _weights(again))
