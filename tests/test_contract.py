"""minirnn.check.testing.check_layer: every built-in class passes, and broken layers are caught."""

import numpy as np
import pytest

from minirnn import Layer, Sequential
from minirnn.check.testing import ContractError, check_layer
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.layers import (
    GRU,
    LSTM,
    RNN,
    AdditiveAttention,
    Dense,
    DotAttention,
    Dropout,
    GeneralAttention,
    Identity,
    LastStep,
    MultiheadAttention,
    ReLU,
    ScaledDotProductAttention,
    Sigmoid,
    Tanh,
)
from minirnn.nn.seq2seq import EncoderDecoder, pad_ids, target_arrays

BUILTINS = [
    RNNCell, LSTMCell, GRUCell,
    RNN(3, 4, num_layers=2, bidirectional=True, seed=0),
    LSTM(3, 5, proj_size=2, peephole=True, learn_initial_state=True, seed=0),
    GRU(3, 4, reset_after=False, batch_first=False, seed=0),
    Dense(3, 2, seed=0), Tanh(), Sigmoid(), Identity(), Dropout(0.4), LastStep(),
    Sequential(GRU(3, 4, seed=0), Tanh(), LastStep(), Dense(4, 1, seed=0)),
]


PARTS = [
    "forward/backward shapes and dtype", "parameter and gradient names/shapes",
    "inputs not mutated", "forward twice then backward", "gradients accumulate and reset",
    "state_dict round trip", "model file round trip", "variable lengths",
    "gradient check (float64, fixed cases)", "gradient check (hypothesis, float64)",
    "cell recurrence and fused kernel",
]


@pytest.mark.parametrize("obj", BUILTINS, ids=lambda o: getattr(o, "__name__", repr(o)[:40]))
def test_builtin_classes_pass_the_contract(obj):
    report = check_layer(obj, max_examples=3)
    assert report.passed and len(report.checks) == len(PARTS)
    assert [c.name for c in report.checks] == PARTS and not report.skipped


def test_relu_passes_away_from_its_kink():
    x_shape = (3, 5, 4)
    report = check_layer(ReLU(), input_shape=x_shape, max_examples=3, raise_on_failure=False)
    # The gradient check may land on the kink only with probability ~0; everything else holds.
    assert all(c.passed for c in report.checks if not c.name.startswith("gradient check"))


class Overwrites(Dense):
    """Assigns its gradient instead of adding to it."""

    def backward(self, dy):
        self.weight.grad[...] = 0
        return super().backward(dy)


class Mutates(Layer):
    """Scales its input in place."""

    def forward(self, x, *, training=False):
        x *= 2.0
        return x

    def backward(self, dy):
        return 2.0 * dy


class Stale(Dense):
    """Caches only the first input it ever saw."""

    def forward(self, x, *, training=False):
        if getattr(self, "_first", None) is None:
            self._first = x
        y = super().forward(self._first if self._first.shape == x.shape else x)
        return y


@pytest.mark.parametrize("layer,failing", [
    (Overwrites(3, 2, seed=0), "gradients accumulate and reset"),
    (Mutates(), "inputs not mutated"),
    (Stale(3, 2, seed=0), "gradient check (float64, fixed cases)"),
])
def test_broken_layers_are_caught(layer, failing):
    with pytest.raises(ContractError) as info:
        check_layer(layer, input_shape=(3, 5, 3), max_examples=3)
    failed = {c.name for c in info.value.report.checks if not c.passed}
    assert failing in failed, str(info.value.report)
    assert "FAIL" in str(info.value.report)


def test_report_is_readable_without_raising():
    report = check_layer(Mutates(), input_shape=(2, 2, 2), max_examples=2, raise_on_failure=False)
    text = str(report)
    assert text.startswith("check_layer Mutates(): FAILED") and "inputs not mutated" in text
    assert np.isfinite(len(report.checks))


# ------------------------------------------------------------ failing, not hanging
@pytest.fixture
def gradcheck_calls(monkeypatch):
    """Counts the gradient checks check_layer runs (the bound of its time, without timing)."""
    from minirnn.check import gradcheck as module

    calls = []
    real = module.gradcheck

    def counting(*args, **kwargs):
        calls.append(kwargs.get("forward_kwargs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "gradcheck", counting)
    return calls


class RNNDerivativeBug(RNNCell):
    """tanh RNN using 1 - h instead of 1 - h^2 in its backward."""

    def step_backward(self, dstate, cache):
        dz = dstate[0] * (1.0 - cache)
        return dz, dz, (None,)


class WrongForSingleSequences(GRUCell):
    """Right except for a batch of one sequence, which the fixed cases never use."""

    def step_backward(self, dstate, cache):
        dxp, dhp, rest = super().step_backward(dstate, cache)
        if dxp.shape[0] == 1:
            dxp = dxp * 1.01
        return dxp, dhp, rest


def _failed(report):
    return {c.name for c in report.checks if not c.passed}


def test_a_wrong_cell_fails_at_the_first_gradient_check(gradcheck_calls, monkeypatch):
    from minirnn.nn import registry

    monkeypatch.setitem(registry._CELLS, "RNNDerivativeBug", RNNDerivativeBug)
    with pytest.raises(ContractError) as info:
        check_layer(RNNDerivativeBug, max_examples=50)
    report = info.value.report
    assert len(gradcheck_calls) == 1  # not 50 drawn cases, no shrinking, no explain phase
    assert _failed(report) == {"gradient check (float64, fixed cases)",
                               "gradient check (hypothesis, float64)"}
    assert [c.name for c in report.skipped] == ["gradient check (hypothesis, float64)"]
    assert "SKIP gradient check (hypothesis" in str(report) and "worst at" in str(report)


def test_a_cell_wrong_on_drawn_shapes_fails_within_max_examples(gradcheck_calls, monkeypatch):
    from minirnn.nn import registry

    monkeypatch.setitem(registry._CELLS, "WrongForSingleSequences", WrongForSingleSequences)
    report = check_layer(WrongForSingleSequences, max_examples=10, raise_on_failure=False)
    assert _failed(report) == {"gradient check (hypothesis, float64)"}, str(report)
    fixed = 2  # without and with lengths
    assert fixed < len(gradcheck_calls) <= fixed + 10  # bounded: no shrinking
    detail = next(c.detail for c in report.checks if not c.passed)
    assert "GradcheckError" in detail and "batch=1" in detail  # the falsifying example
    assert not report.skipped


def test_gradient_checks_cover_variable_lengths(gradcheck_calls):
    check_layer(GRU(2, 3, seed=0), max_examples=6)
    with_lengths = [kw["lengths"] for kw in gradcheck_calls if kw]
    assert gradcheck_calls[1] is not None  # the second fixed case
    assert len(with_lengths) >= 2  # and at least one drawn case
    assert any(lengths.min() < lengths.max() for lengths in with_lengths)


def test_an_unregistered_cell_fails_the_file_round_trip_saying_how_to_register():
    report = check_layer(RNNDerivativeBug, max_examples=1, raise_on_failure=False)
    detail = next(c.detail for c in report.checks if c.name == "model file round trip")
    assert "model file round trip" in _failed(report)
    assert "not registered" in detail and "register_cell" in detail


class NoConfig(Layer):
    """Correct, but not savable: no get_config()."""

    def forward(self, x, *, training=False):
        return 3.0 * x

    def backward(self, dy):
        return 3.0 * dy


def test_a_layer_that_cannot_be_saved_fails_instead_of_skipping():
    report = check_layer(NoConfig(), input_shape=(2, 3, 2), max_examples=2,
                         raise_on_failure=False)
    assert not report.passed and _failed(report) == {"model file round trip"}
    assert "get_config" in str(report)


def test_a_part_that_cannot_run_is_reported_as_skipped_and_fails():
    report = check_layer(GRU(3, 2, seed=0), input_shape=(2, 1, 3), max_examples=2,
                         raise_on_failure=False)
    assert not report.passed
    assert [c.name for c in report.skipped] == ["variable lengths"]
    text = str(report)
    assert "FAILED (1 part(s) skipped: variable lengths)" in text
    assert "SKIP variable lengths" in text and "one time step" in text
    with pytest.raises(ContractError, match="skipped"):
        check_layer(GRU(3, 2, seed=0), input_shape=(2, 1, 3), max_examples=2)


class IgnoresLengths(LastStep):
    """Takes ``lengths`` but always returns the last step."""

    def forward(self, x, *, training=False, lengths=None):
        return super().forward(x, training=training)


class BackwardIgnoresLengths(LastStep):
    """Right forward; backward sends dy to the last step instead of the last valid one."""

    def backward(self, dy):
        shape, _ = self._cache
        dx = np.zeros(shape, dtype=dy.dtype)
        dx[:, -1] = dy
        return dx


@pytest.mark.parametrize("layer,message", [
    (IgnoresLengths(), "values at padded steps changed the output"),
    (BackwardIgnoresLengths(), "gradient reaches padded input steps"),
])
def test_layers_mishandling_lengths_are_caught(layer, message, monkeypatch):
    from minirnn.nn import registry

    monkeypatch.setitem(registry._LAYERS, type(layer).__name__, type(layer))
    report = check_layer(layer, input_shape=(3, 4, 2), max_examples=3, raise_on_failure=False)
    assert "variable lengths" in _failed(report)
    assert message in next(c.detail for c in report.checks if c.name == "variable lengths")
    if isinstance(layer, BackwardIgnoresLengths):  # the gradient check with lengths too
        assert "gradient check (float64, fixed cases)" in _failed(report)


def test_max_examples_is_checked_before_anything_runs(gradcheck_calls):
    for bad, error in ((0, ValueError), (2.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="max_examples"):
            check_layer(Tanh(), max_examples=bad)
    assert gradcheck_calls == []


# ------------------------------------------------------------ several inputs
MULTI_PARTS = [p if p != "variable lengths" else "each sample as alone" for p in PARTS]


def attention_inputs(rng, n, value_features=4):
    """query (N, 2, 4), key (N, 5, 4), value (N, 5, Ev) and a padding mask (a member)."""
    return {"query": rng.standard_normal((n, 2, 4)), "key": rng.standard_normal((n, 5, 4)),
            "value": rng.standard_normal((n, 5, value_features)),
            "key_padding_mask": np.arange(5)[None, :] >= rng.integers(1, 6, n)[:, None]}


def sdpa_inputs(rng, n):
    x = attention_inputs(rng, n)
    x["attn_mask"] = ~x.pop("key_padding_mask")[:, None, :]
    return x


def reversal_inputs(rng, n):
    """(src, src_lengths, tgt_in, tgt_lengths): 1-3 symbols, the target reversed."""
    seqs = [[int(v) for v in rng.integers(4, 6, rng.integers(1, 4))] for _ in range(n)]
    src, s_len = pad_ids(seqs)
    tgt_in, _, t_len = target_arrays([s[::-1] for s in seqs])
    return src, s_len, tgt_in, t_len


@pytest.mark.parametrize("layer, make", [
    (AdditiveAttention(4, 4, 3, seed=0), lambda r, n: attention_inputs(r, n, 3)),
    (DotAttention(), attention_inputs),
    (GeneralAttention(4, 4, seed=0), attention_inputs),
    (ScaledDotProductAttention(), sdpa_inputs),
    (MultiheadAttention(4, 2, batch_first=True, seed=0), attention_inputs),
    (EncoderDecoder(6, 6, 2, 2, attention_dim=2, seed=0), reversal_inputs),
    (EncoderDecoder(6, 6, 2, 3, encoder_cell="lstm", decoder_cell="lstm", bidirectional=False,
                    attention="dot", input_feeding=False, seed=1), reversal_inputs),
], ids=["additive", "dot", "general", "scaled", "multihead", "encdec", "encdec-lstm-dot"])
def test_layers_of_several_inputs_pass_the_contract(layer, make):
    report = check_layer(layer, inputs=make, max_examples=2)
    assert [c.name for c in report.checks] == MULTI_PARTS
    assert report.passed
    for c in report.checks:
        if c.name.startswith("gradient check"):
            assert float(c.detail.split()[3]) <= 1e-7, c.detail


class Leaky(Layer):
    """Two inputs, each normalised by the batch mean: samples are not independent."""

    def __init__(self):
        super().__init__()
        self.dense = self.add_layer("dense", Dense(3, 2, seed=0))

    def forward(self, x, *, training=False):
        a, b = x
        self._b = b - b.mean(axis=0)
        return self.dense.forward(a) * self._b

    def backward(self, dy):
        db = dy * self.dense.forward(np.zeros((1, 3)))  # wrong as well: the cache is gone
        return self.dense.backward(dy * self._b), db


class MutatesMember(Leaky):
    def forward(self, x, *, training=False):
        x[1] *= 1.0 + 1e-3
        return self.dense.forward(x[0]) * x[1]

    def backward(self, dy):
        return self.dense.backward(dy), dy


def two_inputs(rng, n):
    return rng.standard_normal((n, 3)), rng.uniform(1, 2, (n, 2))


@pytest.mark.parametrize("layer, failing", [
    (Leaky(), {"each sample as alone", "gradient check (float64, fixed cases)",
               "model file round trip"}),
    (MutatesMember(), {"inputs not mutated", "gradient check (float64, fixed cases)",
                       "model file round trip"}),
])
def test_broken_models_of_several_inputs_are_caught(layer, failing):
    report = check_layer(layer, inputs=two_inputs, max_examples=2, raise_on_failure=False)
    assert not report.passed
    assert {c.name for c in report.checks if not c.passed and not c.skipped} >= failing
    with pytest.raises(ContractError):
        check_layer(layer, inputs=two_inputs, max_examples=2)


def test_inputs_must_be_a_factory_and_exclude_input_shape():
    with pytest.raises(TypeError, match="inputs must be a function"):
        check_layer(DotAttention(), inputs=attention_inputs(np.random.default_rng(0), 2))
    with pytest.raises(TypeError, match="not both"):
        check_layer(DotAttention(), inputs=attention_inputs, input_shape=(2, 3, 4))
