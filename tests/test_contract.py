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
    Dense,
    Dropout,
    Identity,
    LastStep,
    ReLU,
    Sigmoid,
    Tanh,
)

BUILTINS = [
    RNNCell, LSTMCell, GRUCell,
    RNN(3, 4, num_layers=2, bidirectional=True, seed=0),
    LSTM(3, 5, proj_size=2, peephole=True, learn_initial_state=True, seed=0),
    GRU(3, 4, reset_after=False, batch_first=False, seed=0),
    Dense(3, 2, seed=0), Tanh(), Sigmoid(), Identity(), Dropout(0.4), LastStep(),
    Sequential(GRU(3, 4, seed=0), Tanh(), LastStep(), Dense(4, 1, seed=0)),
]


@pytest.mark.parametrize("obj", BUILTINS, ids=lambda o: getattr(o, "__name__", repr(o)[:40]))
def test_builtin_classes_pass_the_contract(obj):
    report = check_layer(obj, max_examples=3)
    assert report.passed and len(report.checks) == 8


def test_relu_passes_away_from_its_kink():
    x_shape = (3, 5, 4)
    report = check_layer(ReLU(), input_shape=x_shape, max_examples=3, raise_on_failure=False)
    # The gradient check may land on the kink only with probability ~0; everything else holds.
    assert all(c.passed for c in report.checks[:-1])


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
    (Stale(3, 2, seed=0), "gradient check (hypothesis, float64)"),
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
