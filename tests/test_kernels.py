"""The kernel switch (minirnn.nn.kernels.select) and the kernel modules' layout:
``kernel="auto" | "fused" | "reference"`` and ``use_kernel``."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import minirnn
from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.contrib import IndRNNCell
from minirnn.nn.io import build_layer, load_model, save_model
from minirnn.nn.kernels import KERNELS, compiled_available, kernel_name, unavailable, use_kernel
from minirnn.nn.kernels.select import AUTO_COMPILED
from minirnn.nn.layers import GRU, LSTM, RNN, Recurrent

#: What "auto" runs an LSTM with: its compiled kernel where numba is importable (the fast
#: extra), else the numpy kernel.
AUTO_LSTM = ("compiled:lstm" if "lstm" in AUTO_COMPILED and compiled_available()[0]
             else "lstm")


class StepOverride(GRUCell):
    def step(self, xp, hp, state):
        return super().step(xp, hp, state)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda k: Recurrent(IndRNNCell, 3, 4, kernel=k), "IndRNNCell names no fused kernel"),
    (lambda k: Recurrent(StepOverride, 3, 4, kernel=k),
     "StepOverride overrides step of GRUCell"),
    (lambda k: LSTM(3, 4, peephole=True, kernel=k), "peephole=True"),
    (lambda k: LSTM(3, 4, proj_size=2, kernel=k), "proj_size=2"),
    (lambda k: GRU(3, 4, reset_after=False, kernel=k), "reset_after=False"),
    (lambda k: Recurrent(LSTMCell, 3, 4, kernel=k, cell_kwargs={"input_bias": False}),
     "input_bias=False"),
])
def test_fused_without_a_kernel_fails_at_construction_saying_why(make, reason):
    with pytest.raises(ValueError, match=f"kernel='fused'.*{reason}"):
        make("fused")
    layer = make("auto")  # auto and reference run the reference loop instead
    layer.forward(np.ones((2, 3, 3)))
    assert layer._cache[0][0][0] == "steps"
    assert make("reference") is not None


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_fused_with_lengths_or_recorded_states_fails_at_forward_before_any_change(cls):
    layer = cls(3, 4, seed=0, kernel="fused", recurrent_dropout=0.5)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    y = layer.forward(x, training=True)
    cache, final, rng_state = layer._cache, layer.final_state, layer._rng.bit_generator.state
    with pytest.raises(ValueError, match="variable lengths"):
        layer.forward(x, lengths=np.array([5, 3]), training=True)
    layer.record_states = True
    with pytest.raises(ValueError, match="record_states"):
        layer.forward(x, training=True)
    assert layer._cache is cache and layer.final_state is final
    assert layer._rng.bit_generator.state == rng_state  # no dropout mask drawn
    layer.backward(np.ones_like(y))  # the earlier forward's cache is intact


def test_kernel_argument_is_checked_and_kept_in_the_config(tmp_path):
    for bad in ("cudnn", None, 1, True):
        with pytest.raises(ValueError,
                           match=r"kernel must be one of 'auto', 'fused', 'reference', got"):
            LSTM(3, 4, kernel=bad)
    with pytest.raises(ValueError, match="use_kernel's mode must be one of"), \
            use_kernel("fast"):
        pass
    layer = GRU(3, 4, seed=0)
    with pytest.raises(ValueError, match="kernel must be one of"):
        layer.kernel = "fast"  # checked when assigned too
    layer.kernel = "reference"
    assert layer.get_config()["kernel"] == "reference"
    assert Recurrent(IndRNNCell, 3, 4).get_config()["kernel"] == "auto"
    save_model(tmp_path / "gru.npz", layer)
    assert load_model(tmp_path / "gru.npz").kernel == "reference"
    # A model file written before the switch existed has no "kernel": it loads as "auto".
    config = layer.get_config()
    del config["kernel"]
    assert build_layer({"class": "GRU", "config": config}).kernel == "auto"


def test_use_kernel_is_exported_nests_restores_and_is_per_thread():
    assert minirnn.use_kernel is use_kernel
    layer = LSTM(3, 4, seed=0)
    x = np.ones((2, 3, 3))

    def path():
        layer.forward(x)
        return layer._cache[0][0][0]

    seen: list[str] = []
    with use_kernel("reference"):
        assert path() == "steps"
        with use_kernel("auto"):
            assert path() == AUTO_LSTM
        assert path() == "steps"
        other = threading.Thread(target=lambda: seen.append(path()))
        other.start()
        other.join()
        with pytest.raises(KeyError), use_kernel("fused"):
            raise KeyError("inside")
        assert path() == "steps"
    assert seen == [AUTO_LSTM]  # another thread does not see this thread's block
    assert path() == AUTO_LSTM
    with use_kernel("fused"), pytest.raises(ValueError, match="IndRNNCell"):
        Recurrent(IndRNNCell, 3, 4).forward(x)  # an auto layer under "fused" must have one


def test_kernel_name_and_reasons():
    assert sorted(KERNELS) == ["gru", "lstm", "rnn"]
    assert kernel_name(LSTMCell(2, 3)) == "lstm" and unavailable(LSTMCell(2, 3)) is None
    assert kernel_name(RNNCell(2, 3, nonlinearity="relu")) == "rnn"
    assert kernel_name(GRUCell(2, 3, bias=False)) == "gru"
    assert "reset_after=False" in unavailable(GRUCell(2, 3, reset_after=False))
    assert kernel_name(LSTMCell(2, 3, input_bias=False)) is None
    assert kernel_name(LSTMCell(2, 3, bias=False, input_bias=False)) == "lstm"


def test_no_kernel_module_imports_above_nn_and_bptt_keeps_only_the_reference_loop():
    import inspect

    from minirnn.nn.layers import bptt

    source = inspect.getsource(bptt)
    assert "getrefcount" not in source and "minirnn.train" not in source
    assert "_lstm_forward" not in source and "def _generic_forward" in source
