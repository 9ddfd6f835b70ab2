"""``gradcheck(model, inputs=...)``: layers and models of several inputs (the attention layers'
``forward(query, key, value)``, the encoder-decoder's ``forward((src, ..., tgt_lengths))``),
floating inputs checked, integer ones passed through, in float64 at 1e-7."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minirnn import Layer
from minirnn.check.gradcheck import GradcheckError, gradcheck, spreads_inputs
from minirnn.nn.layers import (
    AdditiveAttention,
    Dense,
    DotAttention,
    GeneralAttention,
    MultiheadAttention,
    ScaledDotProductAttention,
)
from minirnn.nn.seq2seq import PAD, EncoderDecoder

TOLERANCE = 1e-7


def _attention_cases(rng, N=2, L=3, S=5, E=4):
    q, k, v = (rng.standard_normal((N, T, E)) for T in (L, S, S))
    pad = np.zeros((N, S), bool)
    pad[0, 3:] = True
    return [
        (AdditiveAttention(E, E, 3, seed=0), (q, k, v), {"key_padding_mask": pad}),
        (DotAttention(), (q, k, v), {"key_lengths": np.array([3, 5])}),
        (GeneralAttention(E, E, seed=0), (q, k, v), {"key_padding_mask": pad}),
        (ScaledDotProductAttention(), (q, k, v), {"attn_mask": ~pad[:, None, :]}),
        (MultiheadAttention(E, 2, batch_first=True, seed=0), (q, k, v),
         {"key_padding_mask": pad}),
        (MultiheadAttention(E, 2, kdim=3, vdim=2, seed=1),
         (q.transpose(1, 0, 2), rng.standard_normal((S, N, 3)),
          rng.standard_normal((S, N, 2))), {"key_padding_mask": pad}),
    ]


@pytest.mark.parametrize("case", range(6))
def test_attention_layers_query_key_value_and_parameters(case):
    layer, inputs, kwargs = _attention_cases(np.random.default_rng(case))[case]
    assert spreads_inputs(layer)
    report = gradcheck(layer, inputs=inputs, forward_kwargs=kwargs, seed=case)
    names = [c.name for c in report.comparisons]
    assert names[:3] == ["query", "key", "value"]
    assert names[3:] == [n for n, _ in layer.named_parameters()]
    assert report.max_relative_error <= TOLERANCE


def test_a_dict_is_passed_as_keywords_and_masks_as_members_are_not_checked():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    pad = np.arange(5)[None, :] >= np.array([2, 5])[:, None]
    layer = AdditiveAttention(4, 4, 3, seed=0)
    report = gradcheck(layer, inputs={"query": q, "key": k, "key_padding_mask": pad})
    # value omitted: the layer attends over the keys, and d_key holds both gradients.
    assert [c.name for c in report.comparisons][:2] == ["query", "key"]
    assert "key_padding_mask" not in [c.name for c in report.comparisons]


def _random_batch(rng, n, s, t, v_src, v_tgt):
    s_len, t_len = rng.integers(1, s + 1, n), rng.integers(1, t + 1, n)
    s_len[0], t_len[-1] = s, t
    src, tgt = rng.integers(1, v_src, (n, s)), rng.integers(1, v_tgt, (n, t))
    src[np.arange(s)[None, :] >= s_len[:, None]] = PAD
    tgt[np.arange(t)[None, :] >= t_len[:, None]] = PAD
    return src, s_len, tgt, t_len


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3), bidirectional=st.booleans(),
       cells=st.sampled_from([("gru", "lstm"), ("lstm", "gru"), ("rnn", "gru")]),
       attention=st.sampled_from(["additive", "general"]), input_feeding=st.booleans())
def test_encoder_decoder_end_to_end(seed, n, bidirectional, cells, attention, input_feeding):
    model = EncoderDecoder(5, 6, 2, 2, encoder_cell=cells[0], decoder_cell=cells[1],
                           bidirectional=bidirectional, attention=attention, attention_dim=2,
                           input_feeding=input_feeding, dtype=np.float64, seed=seed)
    assert not spreads_inputs(model)
    x = _random_batch(np.random.default_rng(seed), n, 3, 3, 5, 6)
    report = gradcheck(model, inputs=x, seed=seed % 1000)
    # Token ids and lengths are integers: passed through, not checked.
    assert [c.name for c in report.comparisons] == [n for n, _ in model.named_parameters()]
    assert report.max_relative_error <= TOLERANCE


class TwoInputs(Layer):
    """``tanh(a @ W) * b[:, :1] + counts`` for ``x = (a, b, counts)`` or the same dict."""

    def __init__(self, wrong: str = "") -> None:
        super().__init__()
        self.dense = self.add_layer("dense", Dense(3, 2, seed=0))
        self.wrong = wrong

    def forward(self, x, *, training=False):
        a, b, counts = (x["a"], x["b"], x["counts"]) if isinstance(x, dict) else x
        self._t = np.tanh(self.dense.forward(a))
        self._b = b
        return self._t * b[:, :1] + counts[:, None]

    def backward(self, dy):
        da = self.dense.backward(dy * self._b[:, :1] * (1 - self._t ** 2))
        db = np.zeros_like(self._b)
        db[:, 0] = np.sum(dy * self._t, axis=1)
        if self.wrong == "db":
            db[:, 0] *= 1.001
        if self.wrong == "none":
            db = None
        return da, db, None


def _two_inputs(rng):
    return (rng.standard_normal((4, 3)), rng.standard_normal((4, 2)), rng.integers(0, 5, 4))


def test_a_structured_model_tuple_and_dict():
    rng = np.random.default_rng(1)
    x = _two_inputs(rng)
    report = gradcheck(TwoInputs(), inputs=x)
    assert [c.name for c in report.comparisons] == ["x[0]", "x[1]", "dense.weight",
                                                    "dense.bias"]
    keyed = gradcheck(TwoInputs(), inputs=dict(zip("ab", x[:2], strict=True), counts=x[2]))
    assert [c.name for c in keyed.comparisons][:2] == ["x['a']", "x['b']"]
    assert keyed.max_relative_error <= TOLERANCE


def test_a_wrong_or_missing_input_gradient_is_caught_and_named():
    x = _two_inputs(np.random.default_rng(2))
    with pytest.raises(GradcheckError, match=r"x\[1\] .* FAIL"):
        gradcheck(TwoInputs(wrong="db"), inputs=x)
    # None for a floating input means zero: checked as such (here it is not zero).
    report = gradcheck(TwoInputs(wrong="none"), inputs=x, raise_on_failure=False)
    assert not report.passed and report["x[1]"].relative_error > TOLERANCE
    assert report["x[0]"].relative_error <= TOLERANCE


def test_misuse_is_refused():
    x = _two_inputs(np.random.default_rng(3))
    with pytest.raises(TypeError, match="float64"):
        gradcheck(TwoInputs(), inputs=(x[0].astype(np.float32), x[1], x[2]))
    with pytest.raises(TypeError, match="either positionally or as inputs="):
        gradcheck(TwoInputs(), x[0], inputs=x)
    with pytest.raises(TypeError, match="non-empty tuple, list or dict"):
        gradcheck(TwoInputs(), inputs=x[0])
    with pytest.raises(TypeError, match="inputs=\\(a, b, ...\\)"):
        gradcheck(Dense(3, 2, seed=0), x[0], x[0])
    with pytest.raises(TypeError, match="backward returned 1 gradients for 3 inputs"):
        gradcheck(Truncated(keep=1), inputs=x)


class Truncated(TwoInputs):
    """``backward`` returns only the first ``keep`` gradients."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep

    def backward(self, dy):
        return super().backward(dy)[:self.keep]


def test_a_tuple_may_stop_before_trailing_integer_members():
    x = _two_inputs(np.random.default_rng(4))
    report = gradcheck(Truncated(keep=2), inputs=x)
    assert [c.name for c in report.comparisons][:2] == ["x[0]", "x[1]"]
