"""Task generators: binary addition (R ``rnn`` package) and the copy task (Arjovsky 2016)."""

import inspect
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minirnn.apps.data
from minirnn.apps.data import (
    COPY_BLANK,
    bin2int,
    binary_addition,
    binary_addition_operands,
    copy_task,
    copy_task_baseline,
    encode_binary_addition,
    int2bin,
)
from minirnn.check.testing import seeds


@st.composite
def ints_with_bits(draw, max_size=20):
    """(values, bits): a list of integers that fit in ``bits`` bits."""
    bits = draw(st.integers(1, 63))
    values = draw(st.lists(st.integers(0, 2**bits - 1), min_size=1, max_size=max_size))
    return values, bits


# --- int2bin / bin2int -----------------------------------------------------------------------

def test_int2bin_is_least_significant_bit_first():
    np.testing.assert_array_equal(int2bin(6, 4), [0, 1, 1, 0])
    np.testing.assert_array_equal(int2bin(1, 8), [1, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(int2bin(128, 8), [0, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(int2bin([[3], [4]], 3), [[[1, 1, 0]], [[0, 0, 1]]])
    assert int2bin(5, 3).dtype == np.float64
    assert int2bin(5, 3, dtype=np.uint8).dtype == np.uint8
    assert int2bin(2**63 - 1, 63).sum() == 63


@given(case=ints_with_bits())
def test_int2bin_bin2int_round_trip(case):
    values, bits = case
    b = int2bin(values, bits)
    assert b.shape == (len(values), bits)
    assert set(np.unique(b)) <= {0.0, 1.0}
    # Bit k has weight 2**k (exact, in Python ints).
    for v, row in zip(values, b.astype(int).tolist(), strict=True):
        assert sum(bit << k for k, bit in enumerate(row)) == v
    np.testing.assert_array_equal(bin2int(b), values)
    np.testing.assert_array_equal(bin2int(b.astype(bool)), values)
    np.testing.assert_array_equal(bin2int(b.astype(np.int8)), values)


@given(case=ints_with_bits(max_size=10), data=st.data())
def test_bin2int_rounds_probabilities_at_one_half(case, data):
    values, bits = case
    b = int2bin(values, bits)
    # Any probability on the right side of 0.5 reads as the bit it leans to.
    noise = data.draw(st.lists(st.floats(0.0, 0.499), min_size=b.size, max_size=b.size))
    noise = np.asarray(noise).reshape(b.shape)
    probs = np.where(b == 1, 1.0 - noise, noise)
    np.testing.assert_array_equal(bin2int(probs), values)


def test_bin2int_threshold_and_shapes():
    assert bin2int([0.5, 0.51]) == 2          # 0.5 reads as 0 (Keras's "> 0.5")
    assert bin2int([1, 0, 1]).shape == ()
    assert bin2int(np.ones((2, 3, 4))).shape == (2, 3)
    np.testing.assert_array_equal(bin2int(np.ones((2, 3, 4))), 15)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: int2bin(256, 8), ValueError, r"values must be in \[0, 2\*\*bits\).*256"),
    (lambda: int2bin([3, -1], 8), ValueError, r"values must be in .* got -1"),
    (lambda: int2bin(1.5), TypeError, "values must be integers, got dtype float64"),
    (lambda: int2bin(True), TypeError, "values must be integers"),
    (lambda: int2bin(1, 0), ValueError, "bits must be between 1 and 63.*got 0"),
    (lambda: int2bin(1, 64), ValueError, "bits must be between 1 and 63.*got 64"),
    (lambda: int2bin(1, 8.0), TypeError, "bits must be an int, got float"),
    (lambda: int2bin(1, 8, dtype=str), TypeError, "dtype must be an integer or float"),
    (lambda: bin2int([0, 2]), ValueError, r"bits must lie in \[0, 1\].*\[0, 2\]"),
    (lambda: bin2int([0.0, np.nan]), ValueError, "NaN or Inf"),
    (lambda: bin2int(1), ValueError, "at least 1 dimension"),
    (lambda: bin2int(["1", "0"]), TypeError, "numeric or boolean"),
    (lambda: bin2int(np.zeros((2, 64))), ValueError, r"bits.shape\[-1\].*got 64"),
])
def test_int2bin_bin2int_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- binary addition -------------------------------------------------------------------------

@given(n=st.integers(1, 30), bits=st.integers(2, 62), seed=seeds())
def test_binary_addition_sums_are_correct(n, bits, seed):
    x, y = binary_addition(n, bits, seed=seed)
    assert x.shape == (n, bits, 2) and y.shape == (n, bits, 1)
    assert x.dtype == y.dtype == np.float64
    assert set(np.unique(x)) <= {0.0, 1.0} and set(np.unique(y)) <= {0.0, 1.0}
    a, b, total = bin2int(x[..., 0]), bin2int(x[..., 1]), bin2int(y[..., 0])
    np.testing.assert_array_equal(total, a + b)
    # Operands use bits - 1 bits, so the top input bit is always 0.
    assert np.all(a < 2 ** (bits - 1)) and np.all(b < 2 ** (bits - 1))
    np.testing.assert_array_equal(x[:, -1, :], 0.0)
    # The same seed gives the integer operands.
    a2, b2 = binary_addition_operands(n, bits, seed=seed)
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)


def test_binary_addition_reference_setting_and_seeding():
    # R rnn trainr example: operands 0..127 as 8 bits, uniformly.
    a, b = binary_addition_operands(20_000, 8, seed=0)
    assert a.min() == 0 and a.max() == 127 and b.min() == 0 and b.max() == 127
    assert np.bincount(a, minlength=128).min() > 100   # every value drawn (expected 156)
    x, y = binary_addition(5, seed=3)
    x2, y2 = binary_addition(5, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert binary_addition(2, dtype=np.float32)[0].dtype == np.float32
    # Carries happen: some sums have a 1 bit where neither operand has one.
    xs, ys = binary_addition(200, seed=1)
    assert np.any((ys[..., 0] == 1) & (xs.sum(axis=2) == 0))


def test_encode_binary_addition_matches_hand_worked_example():
    # 3 + 1 = 4: bits LSB first.
    x, y = encode_binary_addition([3], [1], bits=4)
    np.testing.assert_array_equal(x[0], [[1, 1], [1, 0], [0, 0], [0, 0]])
    np.testing.assert_array_equal(y[0, :, 0], [0, 0, 1, 0])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: binary_addition(0), ValueError, "n_samples must be greater than zero"),
    (lambda: binary_addition(3, 1), ValueError, "bits must be at least 2"),
    (lambda: binary_addition(3, 64), ValueError, "bits must be between 1 and 63"),
    (lambda: binary_addition(3, dtype=np.int32), TypeError, "dtype"),
    (lambda: encode_binary_addition([200], [100], 8), ValueError, "a \\+ b must fit in bits=8"),
    (lambda: encode_binary_addition([1, 2], [1], 8), ValueError, "same shape"),
    (lambda: encode_binary_addition([-1], [1], 8), ValueError, "non-negative"),
    (lambda: encode_binary_addition([[1]], [[1]], 8), ValueError, "a must be 1-D"),
])
def test_binary_addition_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- copy task -------------------------------------------------------------------------------

@given(n=st.integers(1, 8), s=st.integers(1, 12), delay=st.integers(1, 30),
       a=st.integers(1, 10), seed=seeds())
def test_copy_task_layout(n, s, delay, a, seed):
    x, y = copy_task(n, s, delay, a, seed=seed)
    t_total = 2 * s + delay
    assert x.shape == (n, t_total, a + 2) and y.shape == (n, t_total)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x.sum(axis=2), 1.0)            # one-hot
    classes = x.argmax(axis=2)
    symbols = classes[:, :s]
    assert np.all((symbols >= 1) & (symbols <= a))
    np.testing.assert_array_equal(classes[:, s:s + delay - 1], COPY_BLANK)
    np.testing.assert_array_equal(classes[:, s + delay - 1], a + 1)   # delimiter
    np.testing.assert_array_equal(classes[:, s + delay:], COPY_BLANK)
    np.testing.assert_array_equal(y[:, :s + delay], COPY_BLANK)
    np.testing.assert_array_equal(y[:, s + delay:], symbols)      # copied back, in order
    assert y.max() <= a                                           # never the delimiter


def test_copy_task_statistics_baseline_and_seeding():
    x, y = copy_task(4000, 10, 100, 8, seed=0)
    symbols = y[:, -10:]
    counts = np.bincount(symbols.ravel(), minlength=9)[1:]
    np.testing.assert_allclose(counts / symbols.size, 1 / 8, atol=0.01)   # uniform on 1..8
    # Arjovsky et al. (2016): memoryless cross-entropy 10 log 8 / (T + 20).
    assert copy_task_baseline(10, 100, 8) == pytest.approx(10 * math.log(8) / 120)
    # It is what "blank, then uniform over the symbols" scores on the data.
    probs = np.zeros((x.shape[1], 10))
    probs[:110, COPY_BLANK] = 1.0
    probs[110:, 1:9] = 1 / 8
    nll = -np.log(probs[np.arange(x.shape[1]), y]).mean()
    assert nll == pytest.approx(copy_task_baseline(10, 100, 8))
    a, b = copy_task(3, seed=5), copy_task(3, seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert copy_task(2, 3, 4, dtype=np.float32)[0].dtype == np.float32


@pytest.mark.parametrize("call,exc,match", [
    (lambda: copy_task(0), ValueError, "n_samples must be greater than zero"),
    (lambda: copy_task(2, seq_len=0), ValueError, "seq_len must be greater than zero"),
    (lambda: copy_task(2, delay=0), ValueError, "delay must be greater than zero"),
    (lambda: copy_task(2, n_symbols=1.5), TypeError, "n_symbols must be an int"),
    (lambda: copy_task(2, dtype=np.int64), TypeError, "dtype"),
    (lambda: copy_task_baseline(10, 0), ValueError, "delay"),
])
def test_copy_task_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- package -------------------------------------------------------------------------------

def test_every_export_exists_and_is_documented():
    assert {"ADDING_BASELINE_MSE", "adding_problem"} <= set(minirnn.apps.data.__all__)
    for name in minirnn.apps.data.__all__:
        obj = getattr(minirnn.apps.data, name)
        if isinstance(obj, type):
            assert inspect.getdoc(obj), name
        elif callable(obj):
            assert "Returns\n" in inspect.getdoc(obj), name
