"""The compiled (numba) kernels against the numpy fused kernels, and the ``"compiled"``
switch with and without numba (issue 31). No timing here: benchmarks/ measures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

import minirnn
from minirnn.layers import GRU, LSTM, RNN
from minirnn.nn.kernels import chunks, compiled, compiled_lstm, gru, lstm, rnn, run, select, split
from minirnn.nn.kernels.pool import workspace

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def _close(a: np.ndarray, b: np.ndarray, dt: type) -> None:
    np.testing.assert_allclose(a, b, rtol=TOL[dt], atol=TOL[dt])


def _run(kernel_pair: tuple, cell: object, x: np.ndarray, s0: tuple, reverse: bool,
         mask: np.ndarray | None, dys: np.ndarray, dfinal: tuple, part: int) -> list:
    """Forward (training) and backward of one kernel: outputs, final state, every gradient
    (weights, biases, dx, dL/dh of every step, dL/d(state0))."""
    fwd, bwd = kernel_pair
    ys, final, saved = fwd(cell, x, s0, reverse, mask, True, workspace(cell, part))
    grads = tuple(np.zeros_like(p.data) for p in
                  (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh))
    dx = np.empty_like(x)
    hidden = np.empty_like(ys)
    d0 = bwd(cell, dys, dfinal, x, s0, reverse, mask, ys, saved, hidden, dx,
             workspace(cell, part), grads)
    y_inf, final_inf, _ = fwd(cell, x, s0, reverse, mask, False, workspace(cell, part))
    np.testing.assert_array_equal(y_inf, ys)  # inference computes the same numbers
    return [ys.copy(), *final, *final_inf, *grads, dx, hidden, *d0]


#: (layer class, its options, the numpy kernel, the compiled kernel's name)
CELLS = {
    "lstm": (LSTM, {}, (lstm.forward, lstm.backward), "lstm"),
    "gru": (GRU, {}, (gru.forward, gru.backward), "gru"),
    "rnn-tanh": (RNN, {}, (rnn.forward, rnn.backward), "rnn"),
    "rnn-relu": (RNN, {"nonlinearity": "relu"}, (rnn.forward, rnn.backward), "rnn"),
}


@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dropout", [False, True])
@pytest.mark.parametrize("chunk_rows", [1, 16, 256])
def test_compiled_kernel_matches_numpy_kernel(cell_name: str, dt: type, reverse: bool,
                                              dropout: bool, chunk_rows: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernel against kernel: outputs, final states (training and inference), every
    gradient, dL/dh of every step and dL/d(state0), for chunks of 1, 4 and all 9 steps."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", chunk_rows)
    cls, options, numpy_kernel, name = CELLS[cell_name]
    T, N, D, H = 9, 4, 3, 6
    cell = cls(D, H, seed=1, dtype=dt, **options).cells[0][0]
    states = len(cell.state_sizes)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((T, N, D)).astype(dt) * 2
    s0 = tuple(rng.standard_normal((N, H)).astype(dt) for _ in range(states))
    mask = ((rng.random((N, H)) < 0.7) / 0.7).astype(dt) if dropout else None
    dys = rng.standard_normal((T, N, H)).astype(dt)
    dfinal = tuple(rng.standard_normal((N, H)).astype(dt) for _ in range(states))
    ref = _run(numpy_kernel, cell, x, s0, reverse, mask, dys, dfinal, 7)
    got = _run(compiled.COMPILED_KERNELS[name], cell, x, s0, reverse, mask, dys, dfinal, 8)
    assert len(ref) == len(got)
    for a, b in zip(ref, got, strict=True):
        _close(b, a, dt)


@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("parts", [1, 3])
def test_compiled_kernel_batch_split_leaves_the_inputs_alone(
        cell_name: str, parts: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the registry's call (run.forward / run.backward), the batch of 4 split over
    3 threads (slices of 1, 1 and 2 rows: a state slice of one row transposed is
    contiguous, and must still be copied, not updated in place): the numpy kernel's
    numbers, and x, the initial state and dy unchanged."""
    monkeypatch.setattr(split, "batch_parts", lambda batch, macs: parts)
    cls, options, _, name = CELLS[cell_name]
    cell = cls(3, 5, seed=1, **options).cells[0][0]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((6, 4, 3))
    s0 = tuple(rng.standard_normal((4, 5)) for _ in cell.state_sizes)
    dys = rng.standard_normal((6, 4, 5))
    inputs = [a.copy() for a in (x, *s0, dys)]
    results = []
    for kernel in (name, run.COMPILED_PREFIX + name):
        cell.zero_grad()
        ys, final, cache = run.forward(kernel, cell, x, s0, False, None, True)
        assert cache is not None and (cache[7] is None) == (parts == 1)
        dx, d0 = run.backward(cell, dys, None, cache, None, False)
        results.append([ys, *final, dx, *d0, *(p.grad.copy() for p in cell.parameters())])
        for a, b in zip(inputs, (x, *s0, dys), strict=True):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(*results, strict=True):
        _close(b, a, np.float64)


@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_compiled_layer_matches_fused(cell_name: str, dt: type, bias: bool) -> None:
    """Through the layer: two layers, both directions, batch first (a strided x), recurrent
    dropout (same seed: same masks), given initial states, with and without biases; the
    outputs, final states and every gradient (the initial states' too)."""
    cls, options, _, _ = CELLS[cell_name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 11, 4)).astype(dt)
    n_states = 2 if cls is LSTM else 1
    h0 = tuple(rng.standard_normal((4, 5, 7)).astype(dt) for _ in range(n_states))
    results = []
    for kernel in ("fused", "compiled"):
        layer = cls(4, 7, num_layers=2, bidirectional=True, batch_first=True, seed=4,
                    dtype=dt, recurrent_dropout=0.3, bias=bias, kernel=kernel, **options)
        y = layer.forward(x, h0, training=True)
        dx = layer.backward(np.cos(y))
        results.append([y, dx, *layer.final_state, *layer.initial_state_grad,
                        *(p.grad.copy() for _, p in layer.named_parameters())])
    for a, b in zip(*results, strict=True):
        _close(b, a, dt)


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_compiled_with_lengths_runs_the_reference_loop(cls: type) -> None:
    """Variable lengths (and recorded states) need the reference loop in every mode: the
    compiled mode gives the reference's numbers there, and the fused kernel's without."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 2))
    lengths = np.array([6, 2, 4])
    ref = cls(2, 5, seed=6, kernel="reference")
    layer = cls(2, 5, seed=6, kernel="compiled")
    np.testing.assert_allclose(layer.forward(x, lengths=lengths, training=True),
                               ref.forward(x, lengths=lengths, training=True),
                               rtol=1e-12, atol=1e-12)
    assert layer._cache[0][0][0] == "steps"
    np.testing.assert_allclose(layer.backward(np.sin(x[..., :1]).repeat(5, axis=2)),
                               ref.backward(np.sin(x[..., :1]).repeat(5, axis=2)),
                               rtol=1e-12, atol=1e-12)
    layer.forward(x, training=True)
    assert layer._cache[0][0][0] == "compiled:" + type(layer.cells[0][0]).fused_kernel


def test_compiled_runs_the_compiled_kernel_where_available() -> None:
    cell = LSTM(2, 3, seed=0).cells[0][0]
    assert select.choose(cell, "compiled") == "compiled:lstm"
    assert select.choose(cell, "fused") == "lstm"
    # "auto" runs the compiled kernels where numba is importable (select.AUTO_COMPILED).
    assert select.COMPILED_NAMES <= select.AUTO_COMPILED
    assert select.choose(cell, "auto") == "compiled:lstm"
    assert select.choose(GRU(2, 3, seed=0).cells[0][0], "auto") == "compiled:gru"
    assert select.choose(RNN(2, 3, seed=0).cells[0][0], "auto") == "compiled:rnn"
    assert select.choose(cell, "auto", lengths=True) is None
    assert select.choose(cell, "compiled", lengths=True) is None  # the reference loop
    assert select.choose(GRU(2, 3, seed=0).cells[0][0], "compiled") == "compiled:gru"
    assert select.choose(RNN(2, 3, seed=0).cells[0][0], "compiled") == "compiled:rnn"
    # A cell no kernel covers runs the reference loop.
    assert select.choose(GRU(2, 3, seed=0, reset_after=False).cells[0][0], "compiled") is None
    ok, line = select.compiled_available()
    assert ok and "numba" in line


@pytest.mark.parametrize("cls", [LSTM, GRU, RNN])
def test_compiled_and_auto_without_numba_fall_back(cls: type,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Numba absent (simulated): "compiled" and "auto" run the numpy kernel, with its
    numbers, silently, and the report says why."""
    x = np.random.default_rng(5).standard_normal((3, 6, 2))
    y_fused = cls(2, 5, seed=6, kernel="fused").forward(x)
    name = type(cls(2, 3).cells[0][0]).fused_kernel
    monkeypatch.setattr(compiled, "_REASON", "numba is not importable (simulated)")
    cell = cls(2, 3, seed=0).cells[0][0]
    assert select.choose(cell, "compiled") == name
    assert select.choose(cell, "auto") == name
    ok, line = select.compiled_available()
    assert not ok and "simulated" in line
    for layer in (cls(2, 5, seed=6, kernel="compiled"), cls(2, 5, seed=6)):
        np.testing.assert_array_equal(layer.forward(x), y_fused)
        assert layer._cache[0][0][0] == name
    with minirnn.use_kernel("compiled"):
        np.testing.assert_array_equal(cls(2, 5, seed=6).forward(x), y_fused)


def test_kernel_compiled_is_a_mode_and_saved() -> None:
    assert "compiled" in select.MODES
    layer = LSTM(2, 3, seed=0, kernel="compiled")
    assert layer.get_config()["kernel"] == "compiled"
    with pytest.raises(ValueError, match="'compiled'"):
        LSTM(2, 3, kernel="numba")


@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_compiled_empty_batch_and_saturation(cell_name: str, dt: type) -> None:
    """An empty batch, and pre-activations far beyond the exp's clamp (±80): the numpy
    kernel's numbers (the gates at their limits)."""
    cls, options, _, _ = CELLS[cell_name]
    layer = cls(2, 3, seed=0, kernel="compiled", dtype=dt, **options)
    assert layer.forward(np.zeros((0, 4, 2), dt)).shape == (0, 4, 3)
    x = np.full((3, 3, 2), 1e4, dt)
    x[1] = -1e4
    x[2, 1] = -1e4
    ref = cls(2, 3, seed=0, kernel="fused", dtype=dt, **options).forward(x)
    np.testing.assert_allclose(layer.forward(x), ref, rtol=TOL[dt], atol=TOL[dt])


@pytest.mark.parametrize(("T", "D", "window"), [(20, 1, 3), (31, 3, 30), (9, 2, 1),
                                                (17, 12, 5)])
def test_compiled_dtw_gives_the_numpy_distances(T: int, D: int, window: int) -> None:
    """Identical distances where numpy's sum over D is sequential (D < 8), 1e-12 above;
    more b sequences than a block, and enough cells for the thread split."""
    from minirnn.apps.classification.neighbors import dtw_distances
    from minirnn.nn.kernels import compiled_dtw

    rng = np.random.default_rng(T)
    a = rng.standard_normal((5, T, D))
    b = rng.standard_normal((compiled_dtw.BLOCK + 7, T, D))
    ref = dtw_distances(a, b, window, compiled_dtw=False)
    got = dtw_distances(a, b, window)
    if D < 8:
        np.testing.assert_array_equal(got, ref)
    else:
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    # Larger (the two larger cases take the threaded path: over 1e6 cell updates).
    big_a, big_b = np.tile(a, (8, 1, 1)), np.tile(b, (2, 1, 1))
    np.testing.assert_array_equal(compiled_dtw.dtw_distances(big_a, big_b, window),
                                  np.tile(got, (8, 2)))


def test_dtw_without_numba_runs_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    from minirnn.apps.classification.neighbors import dtw_distances
    from minirnn.nn.kernels import compiled_dtw

    def fail(*args: object) -> None:
        raise AssertionError("the compiled DTW ran without numba")

    monkeypatch.setattr(compiled, "_REASON", "numba is not importable (simulated)")
    monkeypatch.setattr(compiled_dtw, "dtw_distances", fail)
    a = np.random.default_rng(0).standard_normal((3, 10, 2))
    np.testing.assert_array_equal(dtw_distances(a, a, 2), dtw_distances(a, a, 2,
                                                                        compiled_dtw=False))


_CACHE_SCRIPT = """
from numba.core import caching

# The kernels' folder read-only, as in a system-wide install (the tests may run as root,
# for whom no folder is read-only): numba's locator of that folder finds it unwritable.
caching.InTreeCacheLocator.from_function = classmethod(lambda cls, func, path: None)
import numpy as np

from minirnn.layers import RNN
from minirnn.nn.kernels import compiled, compiled_rnn

RNN(2, 3, seed=0, kernel="compiled").forward(np.ones((1, 4, 2)))
stats = compiled_rnn._rnn_forward_loop.stats
print(compiled.cache_dir())
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


@pytest.mark.slow  # two fresh processes, one compiling: about 5-10 s
def test_compiled_code_is_cached_in_the_user_cache_folder_when_the_package_is_read_only(
        tmp_path: Path) -> None:
    """The first process compiles and writes the cache into the user's cache folder (set
    to tmp_path for the platforms' variables); the second one loads it, compiling
    nothing."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path),
           "LOCALAPPDATA": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    runs = [subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, check=True,
                           capture_output=True, text=True).stdout.split("\n")
            for _ in range(2)]
    for where, _, _ in runs:
        assert Path(where).is_relative_to(tmp_path), where
    assert any(Path(runs[0][0]).glob("*_rnn_forward_loop*.nbc"))
    assert runs[0][1] == "0 1"  # compiled
    assert runs[1][1] == "1 0"  # loaded from the cache


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_compiled_weight_packing_is_the_numpy_kernels_exactly(dt: type, bias: bool) -> None:
    """The compiled LSTM forward packs ``[W_hh | W_ih | b]`` in one compiled call: the same
    numbers, bit for bit, as the numpy kernel's :func:`lstm._weights` (exp form), with and
    without biases."""
    cell = LSTM(3, 5, dtype=np.dtype(dt), seed=4, bias=bias).cells[0][0]
    rng = np.random.default_rng(7)
    for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh):
        if p is not None:
            p.data[...] = rng.standard_normal(p.data.shape)
    ref = lstm._weights(cell, np.dtype(dt), 5, True)
    got = np.full_like(ref, np.nan)
    empty: np.ndarray = np.empty(0, dt)
    b_ih = empty if cell.bias_ih is None else cell.bias_ih.data
    b_hh = empty if cell.bias_hh is None else cell.bias_hh.data
    compiled_lstm._pack_weights(cell.weight_hh.data, cell.weight_ih.data, b_ih, b_hh, bias,
                                got)
    np.testing.assert_array_equal(got, ref)
