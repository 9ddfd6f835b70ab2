"""Hypothesis-driven gradient checks of every cell, one step, in float64."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from minirnn.check.gradcheck import gradcheck
from minirnn.check.testing import recurrent_shapes, seeds
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell

TOL = 1e-7


def _inputs(shape, seed, cell):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (shape.batch, shape.features))
    state = tuple(rng.uniform(-1, 1, (shape.batch, shape.hidden)) for _ in cell.state_names)
    return x, state


@pytest.mark.parametrize("cell_class", [LSTMCell, GRUCell])
@given(shape=recurrent_shapes(), bias=st.booleans(), seed=seeds())
def test_gated_cell_gradients(cell_class, shape, bias, seed):
    cell = cell_class(shape.features, shape.hidden, bias=bias, rng=seed)
    x, state = _inputs(shape, seed, cell)
    report = gradcheck(cell, x, state, seed=seed, tolerance=TOL)
    assert report.max_relative_error <= TOL
    names = {c.name for c in report.comparisons}
    assert {"x", "state.h", "weight_ih", "weight_hh"} <= names
    assert ("bias_ih" in names) == bias


@given(shape=recurrent_shapes(), bias=st.booleans(), seed=seeds(),
       nonlinearity=st.sampled_from(["tanh", "relu"]))
def test_rnn_cell_gradients(shape, bias, seed, nonlinearity):
    cell = RNNCell(shape.features, shape.hidden, bias=bias, nonlinearity=nonlinearity, rng=seed)
    x, state = _inputs(shape, seed, cell)
    if nonlinearity == "relu":
        # Central differences are meaningless within eps of the kink at 0.
        pre = cell.project_input(x) + cell.project_hidden(state[0])
        assume(np.min(np.abs(pre)) > 1e-3)
    gradcheck(cell, x, state, seed=seed, tolerance=TOL)


@pytest.mark.parametrize("cell_class", [RNNCell, LSTMCell, GRUCell])
def test_cell_without_state_uses_zeros_and_is_checked(cell_class):
    cell = cell_class(3, 4, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 3))
    new = cell.forward(x)
    again = cell.forward(x, cell.initial_state(2))
    for a, b in zip(new, again, strict=True):
        np.testing.assert_array_equal(a, b)
    gradcheck(cell, x)
