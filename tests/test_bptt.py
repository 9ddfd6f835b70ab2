"""The fused sequence kernels against the generic per-step loop, on the same weights (no torch)."""

import numpy as np
import pytest

from minirnn.nn.cells import GRUCell, LSTMCell, RNNCell
from minirnn.nn.kernels import chunks, split
from minirnn.nn.kernels.select import AUTO_COMPILED, compiled_available
from minirnn.nn.layers import LSTM, bptt

#: Every cell configuration that has a fused kernel.
CELLS = {
    "lstm": lambda **kw: LSTMCell(3, 5, **kw),
    "rnn_tanh": lambda **kw: RNNCell(3, 5, **kw),
    "rnn_relu": lambda **kw: RNNCell(3, 5, nonlinearity="relu", **kw),
    "gru": lambda **kw: GRUCell(3, 5, **kw),
}

# kernel="auto" runs the compiled LSTM kernel where numba is installed and AUTO_COMPILED has it.
AUTO_LSTM = ("compiled:lstm" if "lstm" in AUTO_COMPILED and compiled_available()[0]
             else "lstm")


def _run(cell, x, state0, reverse, rec_mask, dys, dfinal, fused):
    cell.zero_grad()
    ys, final, cache = bptt.forward(cell, x, state0, reverse, None, rec_mask, fused=fused)
    assert (cache[0] == "steps") != fused
    if fused and split.batch_parts(x.shape[1], 1) > 1:
        assert len(cache[7]) == split.batch_parts(x.shape[1], 1)  # the batch was split
    record = np.empty_like(ys)
    dx, dstate0 = bptt.backward(cell, dys, dfinal, cache, record)
    grads = {n: p.grad.copy() for n, p in cell.named_parameters()}
    return ys, final, dx, dstate0, grads, record


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("chunk_rows", [256, 8, 1])
@pytest.mark.parametrize("parts", [1, 2, 3])
def test_fused_and_generic_paths_agree(name, reverse, bias, dropout, chunk_rows, parts,
                                       activation_form, monkeypatch):
    # chunk_rows 8 and 1: the kernel works in chunks of 2 and 1 steps (of 7), the last
    # chunk shorter; 256: one chunk. parts: the batch of 4 split over 2 or 3 threads.
    monkeypatch.setattr(chunks, "CHUNK_ROWS", chunk_rows)
    monkeypatch.setattr(split, "batch_parts", lambda batch, macs: parts)
    cell = CELLS[name](bias=bias, rng=1)
    assert bptt.kernel_name(cell) is not None
    rng = np.random.default_rng(2)
    T, N = 7, 4
    x = rng.standard_normal((T, N, 3))
    state0 = tuple(rng.standard_normal((N, k)) for k in cell.state_sizes)
    rec_mask = (rng.random((N, 5)) < 0.7) / 0.7 if dropout else None
    dys = rng.standard_normal((T, N, 5))
    dfinal = tuple(rng.standard_normal((N, k)) for k in cell.state_sizes)
    fused = _run(cell, x, state0, reverse, rec_mask, dys, dfinal, True)
    generic = _run(cell, x, state0, reverse, rec_mask, dys, dfinal, False)
    # Inference (keep=False: reused gate blocks, no cache) computes the same outputs.
    ys, final, cache = bptt.forward(cell, x, state0, reverse, None, rec_mask, keep=False)
    assert cache is None
    np.testing.assert_allclose(ys, generic[0], rtol=1e-10, atol=1e-12)
    for u, v in zip(final, generic[1], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)
    for what, a, b in zip(("outputs", "final", "dx", "dstate0", "", "hidden grads"),
                          fused, generic, strict=True):
        if isinstance(a, dict):
            for k in a:
                np.testing.assert_allclose(a[k], b[k], rtol=1e-10, atol=1e-12, err_msg=k)
        elif isinstance(a, tuple):
            for u, v in zip(a, b, strict=True):
                np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12, err_msg=what)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=what)


def test_kernel_hook_follows_the_step_math():
    class SameMath(LSTMCell):
        """Changes nothing of the math: keeps the kernel."""

    class NewStep(LSTMCell):
        def step(self, xp, hp, state):
            return super().step(xp, hp, state)

    class NewRecurrence(GRUCell):
        def hidden_input_grad(self, dhp):
            return super().hidden_input_grad(dhp)

    class OwnKernel(NewStep):
        fused_kernel = "lstm"

    assert bptt.kernel_name(SameMath(2, 3)) == "lstm"
    assert bptt.kernel_name(NewStep(2, 3)) is None
    assert bptt.kernel_name(NewRecurrence(2, 3)) is None
    assert bptt.kernel_name(OwnKernel(2, 3)) == "lstm"
    assert bptt.kernel_name(LSTMCell(2, 3, peephole=True)) is None
    assert bptt.kernel_name(LSTMCell(2, 3, proj_size=2)) is None
    assert bptt.kernel_name(GRUCell(2, 3)) == "gru"
    assert bptt.kernel_name(GRUCell(2, 3, reset_after=False)) is None
    assert bptt.kernel_name(RNNCell(2, 3)) == "rnn"  # kept for memory


def test_recurrent_dropout_stays_on_the_fused_path():
    layer = LSTM(3, 4, recurrent_dropout=0.3, seed=0)
    layer.forward(np.ones((2, 5, 3)), training=True)
    assert layer._cache[0][0][0] == AUTO_LSTM
    layer = LSTM(3, 4, seed=0)
    layer.forward(np.ones((2, 5, 3)), lengths=np.array([5, 3]))
    assert layer._cache[0][0][0] == "steps"  # variable lengths use the generic loop


def test_no_grad_forward_keeps_no_cache_and_gives_the_same_outputs():
    import minirnn
    from minirnn.nn.layers import GRU

    for layer in (LSTM(3, 4, num_layers=2, bidirectional=True, seed=0), GRU(3, 4, seed=0)):
        x = np.random.default_rng(0).standard_normal((2, 5, 3))
        y = layer.forward(x)
        final = layer.final_state
        with minirnn.no_grad():
            y2 = layer.forward(x)
        np.testing.assert_array_equal(y, y2)
        for a, b in zip(final, layer.final_state, strict=True):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(RuntimeError, match="no_grad"):
            layer.backward(np.ones_like(y))
        layer.forward(x)
        layer.backward(np.ones_like(y))  # outside the block caches are back


@pytest.mark.parametrize("name", ["lstm", "gru"])
@pytest.mark.parametrize("parts", [1, 2])
def test_a_held_cache_is_never_overwritten_and_a_released_one_is_reused(name, parts,
                                                                        monkeypatch):
    """The kernels reuse the arrays of a released cache (no fresh multi-megabyte
    allocation per step) but never those of a cache somebody still holds."""
    monkeypatch.setattr(split, "batch_parts", lambda batch, macs: parts)
    cell = CELLS[name](rng=1)
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, 6, 4, 3))
    dys = rng.standard_normal((6, 4, 5))
    zeros = tuple(np.zeros((4, 5)) for _ in cell.state_sizes)

    def grads_of(cache):
        cell.zero_grad()
        dx, _ = bptt.backward(cell, dys, None, cache)
        return dx, [p.grad.copy() for p in cell.parameters()]

    def gates(cache):
        return cache[6][0] if parts == 1 else cache[6][0][0]

    _, _, fresh = bptt.forward(cell, x1, zeros, False)
    expected = grads_of(fresh)
    bptt.release(fresh)
    _, _, held = bptt.forward(cell, x1, zeros, False)
    _, _, other = bptt.forward(cell, x2, zeros, False)  # must not write into `held`
    assert not np.shares_memory(gates(held), gates(other))
    del other  # dropped without release: its arrays are not reused, nor is `held`'s
    _, _, third = bptt.forward(cell, x2, zeros, False)
    assert not np.shares_memory(gates(held), gates(third))
    got = grads_of(held)  # a backward does not release either
    _, _, fourth = bptt.forward(cell, x2, zeros, False)
    assert not np.shares_memory(gates(held), gates(fourth))
    np.testing.assert_array_equal(got[0], expected[0])
    for a, b in zip(got[1], expected[1], strict=True):
        np.testing.assert_array_equal(a, b)
    address = gates(held).ctypes.data
    bptt.release(held)
    bptt.release(held)  # (a second release changes nothing)
    _, _, again = bptt.forward(cell, x2, zeros, False)
    assert gates(again).ctypes.data == address
    _, _, after = bptt.forward(cell, x2, zeros, False)  # `again` is held: not reused
    assert not np.shares_memory(gates(again), gates(after))


def test_the_layer_releases_its_caches_and_final_states_are_never_pool_arrays():
    """A recurrent layer owns its caches: the next forward reuses their arrays. What it
    hands out (outputs, final states, also at N = 1 where c.T is contiguous) is its own."""
    layer = LSTM(3, 5, seed=0)
    x = np.random.default_rng(0).standard_normal((1, 4, 3))
    layer.forward(x)
    address = layer._cache[0][0][6][0].ctypes.data
    c_n = layer.c_n.copy()
    kept = layer.final_state
    layer.forward(2 * x)
    assert layer._cache[0][0][6][0].ctypes.data == address  # reused
    np.testing.assert_array_equal(kept[1], c_n)  # not overwritten by the second forward


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 2, 3), (9, 2, 1, 1)])
@pytest.mark.parametrize("reverse", [False, True])
def test_kernels_at_edge_sizes(name, shape, reverse, monkeypatch):
    """One step, one sample, one unit, one input, and many one-step chunks."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 2)
    T, N, D, H = shape
    cell = {"lstm": LSTMCell, "gru": GRUCell, "rnn_tanh": RNNCell}.get(name, RNNCell)(
        D, H, rng=4, **({"nonlinearity": "relu"} if name == "rnn_relu" else {}))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((T, N, D))
    state0 = tuple(rng.standard_normal((N, k)) for k in cell.state_sizes)
    dys = rng.standard_normal((T, N, H))
    dfinal = tuple(rng.standard_normal((N, k)) for k in cell.state_sizes)
    fused = _run(cell, x, state0, reverse, None, dys, dfinal, True)
    generic = _run(cell, x, state0, reverse, None, dys, dfinal, False)
    np.testing.assert_allclose(fused[0], generic[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fused[2], generic[2], rtol=1e-10, atol=1e-12)
    for k in fused[4]:
        np.testing.assert_allclose(fused[4][k], generic[4][k], rtol=1e-10, atol=1e-12, err_msg=k)
    for u, v in zip(fused[3], generic[3], strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CELLS))
def test_kernels_in_float32_match_the_generic_loop(name, activation_form):
    cell = CELLS[name](rng=6)
    for p in cell.parameters():
        p.data = p.data.astype(np.float32)
        p.grad = np.zeros_like(p.data)
    rng = np.random.default_rng(7)
    T, N = 12, 3
    x = rng.standard_normal((T, N, 3)).astype(np.float32)
    state0 = tuple(rng.standard_normal((N, k)).astype(np.float32) for k in cell.state_sizes)
    dys = rng.standard_normal((T, N, 5)).astype(np.float32)
    fused = _run(cell, x, state0, False, None, dys, None, True)
    generic = _run(cell, x, state0, False, None, dys, None, False)
    assert fused[0].dtype == fused[2].dtype == np.float32  # no silent upcast
    np.testing.assert_allclose(fused[0], generic[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fused[2], generic[2], rtol=1e-4, atol=1e-5)
    for k in fused[4]:
        assert fused[4][k].dtype == np.float32
        np.testing.assert_allclose(fused[4][k], generic[4][k], rtol=1e-4, atol=1e-5, err_msg=k)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_a_split_batch_gives_the_unsplit_layer_results(cls, monkeypatch):
    """Two stacked bidirectional layers, batch-first (dx written through a strided view),
    float32: the batch split over two threads computes what one thread computes."""
    import minirnn.nn.layers as layers

    def run(parts):
        monkeypatch.setattr(split, "batch_parts", lambda batch, macs: parts)
        layer = getattr(layers, cls)(6, 8, num_layers=2, bidirectional=True, seed=4,
                                     dtype=np.float32)
        x = np.random.default_rng(5).standard_normal((9, 11, 6)).astype(np.float32)
        y = layer.forward(x)
        dx = layer.backward(np.cos(y))
        return [y, dx, *layer.final_state, *(p.grad for p in layer.parameters())]

    for got, want in zip(run(2), run(1), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_split_parts_are_awaited_and_their_errors_raised():
    import threading
    import time

    finished = threading.Event()

    def part(k):
        if k == 1:
            time.sleep(0.2)
            finished.set()
            raise ValueError("in part 1")
        raise KeyError("in part 0")

    with pytest.raises(KeyError):  # the caller's own error; part 1 has ended by then
        split.run_parts(part, [(0,), (1,)])
    assert finished.is_set()

    def fails_in_part_1(k):
        if k == 1:
            raise ValueError("in part 1")
        return k

    with pytest.raises(ValueError, match="in part 1"):  # a worker's error reaches the caller
        split.run_parts(fails_in_part_1, [(0,), (1,)])


# ------------------------------------------------------------------ the public switch
LAYER_CASES = {
    "lstm": lambda kernel: LSTM(3, 5, num_layers=2, bidirectional=True, seed=8,
                                recurrent_dropout=0.3, kernel=kernel),
    "gru": lambda kernel: __import__("minirnn.nn.layers", fromlist=["GRU"]).GRU(
        3, 5, num_layers=2, bidirectional=True, seed=8, recurrent_dropout=0.3, kernel=kernel),
    "rnn_relu": lambda kernel: __import__("minirnn.nn.layers", fromlist=["RNN"]).RNN(
        3, 5, nonlinearity="relu", num_layers=2, seed=8, kernel=kernel),
    "rnn_nobias": lambda kernel: __import__("minirnn.nn.layers", fromlist=["RNN"]).RNN(
        3, 5, bias=False, bidirectional=True, seed=8, batch_first=False, kernel=kernel),
}


def _layer_run(layer, x, training):
    layer.zero_grad()
    y = layer.forward(x, training=training)
    dy = np.cos(3 * y)
    dfinal = tuple(np.sin(s) for s in layer.final_state)
    dx = layer.backward(dy, dfinal)
    kind = layer._cache[0][0][0]
    return kind, [y, dx, *layer.final_state, *layer.initial_state_grad,
                  *(p.grad.copy() for p in layer.parameters())]


@pytest.mark.parametrize("name", sorted(LAYER_CASES))
@pytest.mark.parametrize("training", [False, True])
def test_kernel_fused_and_reference_layers_agree(name, training):
    """kernel="fused" and kernel="reference" on the same weights and dropout masks: the
    same outputs, states and gradients (float64, to ~1e-12), on the paths they name."""
    x = np.random.default_rng(9).standard_normal((4, 7, 3))
    fused, reference = LAYER_CASES[name]("fused"), LAYER_CASES[name]("reference")
    kind_f, got = _layer_run(fused, x, training)
    kind_r, want = _layer_run(reference, x, training)
    assert kind_f == name.split("_")[0] and kind_r == "steps"
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_use_kernel_switches_auto_layers_and_keeps_explicit_ones():
    from minirnn.nn.kernels import use_kernel

    x = np.random.default_rng(10).standard_normal((2, 5, 3))
    auto, fused = LSTM(3, 4, seed=0), LSTM(3, 4, seed=0, kernel="fused")
    y_auto = auto.forward(x)
    assert auto._cache[0][0][0] == AUTO_LSTM
    with use_kernel("reference"):
        y_ref = auto.forward(x)
        assert auto._cache[0][0][0] == "steps"
        fused.forward(x)
        assert fused._cache[0][0][0] == "lstm"  # an explicit choice wins
    np.testing.assert_allclose(y_auto, y_ref, rtol=1e-12, atol=1e-14)
    auto.forward(x)
    assert auto._cache[0][0][0] == AUTO_LSTM  # restored on exit
