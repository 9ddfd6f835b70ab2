"""The adding problem generator follows Le, Jaitly & Hinton (2015)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minirnn.apps.data import adding_problem
from minirnn.check.testing import seeds


@given(n=st.integers(1, 50), t=st.integers(2, 60), seed=seeds())
def test_adding_problem_definition(n, t, seed):
    x, y = adding_problem(n, t, seed=seed)
    assert x.shape == (n, t, 2) and y.shape == (n, 1)
    values, mask = x[..., 0], x[..., 1]
    assert np.all((values >= 0) & (values < 1))
    assert set(np.unique(mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(mask.sum(axis=1), 2.0)
    np.testing.assert_allclose(y[:, 0], (values * mask).sum(axis=1))


def test_adding_problem_statistics_and_seeding():
    x, y = adding_problem(100_000, 10, seed=0)
    # Always predicting 1 has MSE Var(u1 + u2) = 1/6.
    assert np.mean((y - 1.0) ** 2) == pytest.approx(1 / 6, rel=0.02)
    # Both markers appear at every position with equal probability 2/T.
    np.testing.assert_allclose(x[..., 1].mean(axis=0), 0.2, atol=0.01)
    a, b = adding_problem(5, 7, seed=3), adding_problem(5, 7, seed=3)
    np.testing.assert_array_equal(a[0], b[0])
    assert adding_problem(4, 3, dtype=np.float32)[0].dtype == np.float32


@pytest.mark.parametrize("args,match", [((0, 5), "n_samples"),
                                        ((3, 1), "seq_len must be at least 2"),
                                        ((3, 2.0), "seq_len must be an int")])
def test_adding_problem_bad_arguments(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        adding_problem(*args)
