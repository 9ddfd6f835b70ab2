"""SequencePooling: gradients, the layer contract, and padding that never changes a prediction."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn import Sequential
from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import check_layer
from minirnn.nn.layers import GRU, LSTM, Dense, SequencePooling

MODES = ["last", "mean", "max", "mean_max"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batch_first", [True, False])
@given(n=st.integers(1, 4), t=st.integers(1, 5), f=st.integers(1, 4), seed=st.integers(0, 99),
       how=st.sampled_from(["none", "lengths", "mask"]))
def test_gradients(mode, batch_first, n, t, f, seed, how):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, f) if batch_first else (t, n, f))
    kwargs = {}
    if how == "lengths":
        kwargs["lengths"] = rng.integers(1, t + 1, size=n)
    elif how == "mask":
        mask = rng.random((n, t)) < 0.6
        mask[np.arange(n), rng.integers(0, t, size=n)] = True
        kwargs["mask"] = mask
    gradcheck(SequencePooling(mode, batch_first=batch_first), x, seed=seed, tolerance=1e-7,
              forward_kwargs=kwargs)


@pytest.mark.parametrize("mode", MODES)
def test_contract(mode):
    assert check_layer(SequencePooling(mode), max_examples=3).passed


def test_values_over_valid_steps_only():
    x = np.arange(2 * 4 * 1, dtype=float).reshape(2, 4, 1)
    x[0, 3] = 100.0  # padding of sequence 0
    lengths = np.array([3, 4])
    out = {m: SequencePooling(m).forward(x, lengths=lengths) for m in MODES}
    np.testing.assert_array_equal(out["last"][:, 0], [2, 7])
    np.testing.assert_array_equal(out["mean"][:, 0], [1, 5.5])
    np.testing.assert_array_equal(out["max"][:, 0], [2, 7])
    np.testing.assert_array_equal(out["mean_max"], [[1, 2], [5.5, 7]])
    mask = np.array([[True, False, True, False], [False, True, False, False]])
    np.testing.assert_array_equal(SequencePooling("last").forward(x, mask=mask)[:, 0], [2, 5])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cell", [GRU, LSTM])
def test_padding_leaves_every_output_unchanged(mode, cell):
    rng = np.random.default_rng(0)
    pool = SequencePooling(mode)
    rnn = cell(3, 4, num_layers=2, bidirectional=True, seed=0)
    model = Sequential(rnn, pool, Dense(pool.output_size(8), 5, seed=0))
    lengths = np.array([5, 2, 4])
    x = rng.standard_normal((3, 5, 3))
    x[np.arange(5)[None, :] >= lengths[:, None]] = 0.0
    base = model.predict(x, lengths=lengths)
    padded = np.concatenate([x, rng.standard_normal((3, 7, 3)) * 50], axis=1)
    again = model.predict(padded, lengths=lengths)
    np.testing.assert_allclose(again, base, rtol=0, atol=1e-12)
    # each sequence alone, unpadded, gives the same output as in the padded batch
    for i, n in enumerate(lengths):
        alone = model.predict(x[i:i + 1, :n], lengths=np.array([n]))
        np.testing.assert_allclose(alone[0], base[i], rtol=0, atol=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of"):
        SequencePooling("median")
    pool = SequencePooling()
    x = np.zeros((2, 3, 1))
    with pytest.raises(ValueError, match=r"lengths must be 2 integers in \[1, 3\]"):
        pool.forward(x, lengths=np.array([0, 3]))
    with pytest.raises(ValueError, match="sequences \\[1\\] have none"):
        pool.forward(x, mask=np.array([[True, False, False], [False, False, False]]))
    with pytest.raises(ValueError, match="lengths or mask, not both"):
        pool.forward(x, lengths=np.array([1, 1]), mask=np.ones((2, 3), bool))
