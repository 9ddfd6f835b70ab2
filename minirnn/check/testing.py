"""Hypothesis strategies for shapes, sequences and seeds (needs the ``test`` extra).

Use them to test a layer or cell of your own the way minirnn tests its own::

    from hypothesis import given
    from minirnn.check.testing import recurrent_shapes, arrays_for
    from minirnn.check.gradcheck import gradcheck

    @given(shape=recurrent_shapes(), data=st.data())
    def test_my_cell(shape, data):
        x = data.draw(arrays_for((shape.batch, shape.time, shape.features)))
        gradcheck(Recurrent(MyCell, shape.features, shape.hidden), x)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "minirnn.check.testing needs hypothesis: pip install 'minirnn[test]'"
    ) from exc

__all__ = [
    "ContractCheck", "ContractError", "ContractReport", "RecurrentShape", "arrays_for",
    "check_fused_kernel", "check_layer", "check_recurrence", "recurrent_shapes", "seeds",
    "sequence_batches",
]


@dataclass(frozen=True)
class RecurrentShape:
    """Sizes of one recurrent test case: N (batch), T (time), D (features), H (hidden)."""

    batch: int
    time: int
    features: int
    hidden: int


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``numpy.random.default_rng``."""
    return st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def recurrent_shapes(
    draw: Any,
    max_batch: int = 4,
    max_time: int = 5,
    max_features: int = 5,
    max_hidden: int = 5,
) -> RecurrentShape:
    """Small (N, T, D, H); T = 1 included. Small sides keep gradient checks fast."""
    return RecurrentShape(
        batch=draw(st.integers(1, max_batch)),
        time=draw(st.integers(1, max_time)),
        features=draw(st.integers(1, max_features)),
        hidden=draw(st.integers(1, max_hidden)),
    )


def arrays_for(
    shape: tuple[int, ...], dtype: Any = np.float64, bound: float = 2.0
) -> st.SearchStrategy[np.ndarray]:
    """Finite arrays with elements in [-bound, bound] (bounded so tanh/sigmoid do not saturate)."""
    return hnp.arrays(
        np.dtype(dtype), shape,
        elements=st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=64
                           if np.dtype(dtype) == np.float64 else 32),
    )


@st.composite
def sequence_batches(
    draw: Any,
    shape: RecurrentShape | None = None,
    dtype: Any = np.float64,
    batch_first: bool = True,
    bound: float = 2.0,
) -> np.ndarray:
    """A batch of sequences, (N, T, D) (or (T, N, D) with ``batch_first=False``)."""
    s = shape if shape is not None else draw(recurrent_shapes())
    dims = (s.batch, s.time, s.features) if batch_first else (s.time, s.batch, s.features)
    return draw(arrays_for(dims, dtype, bound))


# ------------------------------------------------------------------ contract kit
@dataclass
class ContractCheck:
    """One item of :func:`check_layer`'s report."""

    name: str
    passed: bool
    detail: str = ""


@dataclass
class ContractReport:
    """What :func:`check_layer` found; ``passed`` if every check passed (skips count as passed)."""

    subject: str
    checks: list[ContractCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def __str__(self) -> str:
        lines = [f"check_layer {self.subject}: {'passed' if self.passed else 'FAILED'}"]
        for c in self.checks:
            status = "ok  " if c.passed else "FAIL"
            lines.append(f"  {status} {c.name:<34} {c.detail}")
        return "\n".join(lines)


class ContractError(AssertionError):
    """Raised by :func:`check_layer` when a check fails; ``report`` has the details."""

    def __init__(self, report: ContractReport) -> None:
        super().__init__(str(report))
        self.report = report


def _instantiate(obj: Any) -> Any:
    from minirnn.nn.cells.base import Cell
    from minirnn.nn.layers.base import Layer
    from minirnn.nn.layers.recurrent import Recurrent

    if isinstance(obj, type) and issubclass(obj, Cell):
        return Recurrent(obj, 3, 4, num_layers=2, bidirectional=True, seed=0)
    if isinstance(obj, type) and issubclass(obj, Layer):
        make: Any = obj
        try:
            return make()
        except TypeError:
            return make(3, 4)
    if isinstance(obj, Layer):
        return obj
    raise TypeError(f"check_layer expects a Layer or Cell (class or instance), got {obj!r}")


def _input_shape(layer: Any, batch: int, time: int) -> tuple[int, ...]:
    first = getattr(layer, "layers", None)
    if first:
        return _input_shape(first[0], batch, time)
    if hasattr(layer, "input_size"):
        return (batch, time, int(layer.input_size))
    if hasattr(layer, "in_features"):
        return (batch, time, int(layer.in_features))
    return (batch, time, 4)


def _first_cell(layer: Any) -> Any:
    cells = getattr(layer, "cells", None)
    return cells[0][0] if cells else None


def check_recurrence(cell: Any, *, seed: int = 0, batch: int = 2, eps: float = 1e-6) -> float:
    """Check a float64 cell's recurrence methods against central differences.

    With ``L = sum(g * project_hidden(h))`` for random h (N, output_size) and g (N, R),
    ``hidden_input_grad(g)`` must be dL/dh and ``project_hidden_backward(g, h)`` must add
    dL/dθ to every parameter's grad (0 for parameters the projection does not use).
    Returns the largest absolute error; raises AssertionError past ~1e-6 of the scale.
    """
    rng = np.random.default_rng(seed)
    h = rng.uniform(-1, 1, (batch, cell.output_size))
    hp = cell.project_hidden(h)
    assert hp.ndim == 2 and hp.shape[0] == batch, f"project_hidden gave shape {hp.shape}"
    g = rng.standard_normal(hp.shape)

    def loss() -> float:
        return float(np.sum(g * cell.project_hidden(h)))

    def numeric(arr: np.ndarray) -> np.ndarray:
        out = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            old = arr[i]
            try:
                arr[i] = old + eps
                up = loss()
                arr[i] = old - eps
                down = loss()
            finally:
                arr[i] = old
            out[i] = (up - down) / (2 * eps)
        return out

    worst = 0.0
    dh = cell.hidden_input_grad(g)
    assert dh.shape == h.shape, f"hidden_input_grad gave {dh.shape}, h is {h.shape}"
    pairs = [("hidden_input_grad", dh, numeric(h))]
    cell.zero_grad()
    cell.project_hidden_backward(g, h)
    pairs += [(f"project_hidden_backward -> {name}.grad", p.grad.copy(), numeric(p.data))
              for name, p in cell.named_parameters()]
    cell.zero_grad()
    for what, got, want in pairs:
        err = float(np.max(np.abs(got - want), initial=0.0))
        scale = 1.0 + float(np.max(np.abs(want), initial=0.0))
        assert err <= 1e-6 * scale, f"{what}: max abs error {err:.2e}"
        worst = max(worst, err)
    return worst


def check_fused_kernel(cell: Any, *, seed: int = 0) -> float:
    """Run a float64 cell's fused kernel and the generic loop on the same data; compare.

    Outputs, final state, dx, dL/d(state0) and every parameter gradient must agree to
    1e-10 (relative). Returns the largest absolute difference.
    """
    from minirnn.nn.layers import bptt

    rng = np.random.default_rng(seed)
    T, N = 4, 3
    x = rng.standard_normal((T, N, cell.input_size))
    state0 = tuple(rng.standard_normal((N, k)) for k in cell.state_sizes)
    dys = rng.standard_normal((T, N, cell.output_size))
    results = []
    for fused in (True, False):
        cell.zero_grad()
        ys, final, cache = bptt.forward(cell, x, state0, False, fused=fused)
        assert cache is not None
        dx, d0 = bptt.backward(cell, dys, None, cache)
        results.append([ys, *final, dx, *d0, *(p.grad.copy() for p in cell.parameters())])
    cell.zero_grad()
    worst = 0.0
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        worst = max(worst, float(np.max(np.abs(a - b))))
    return worst


def check_layer(
    obj: Any,
    *,
    input_shape: tuple[int, ...] | None = None,
    seed: int = 0,
    max_examples: int = 10,
    raise_on_failure: bool = True,
) -> ContractReport:
    """Run minirnn's layer contract on a layer or cell you wrote; one readable report.

    Parameters
    ----------
    obj : Layer or Cell, class or instance
        A Cell (class) is checked inside a 2-layer bidirectional
        :class:`~minirnn.layers.Recurrent`; a Layer class is built with
        ``cls()`` or ``cls(3, 4)``.
    input_shape : tuple, optional
        Shape of a test input; by default (N, T, D) from ``input_size`` or
        ``in_features``.
    seed : int
    max_examples : int
        Hypothesis examples of the gradient check (batch and time drawn).
    raise_on_failure : bool
        Raise :class:`ContractError` with the report when a check fails.

    Returns
    -------
    ContractReport
        Checks: output shape and dtype; parameter and gradient names, shapes
        and dtypes; inputs not mutated; forward twice then backward
        differentiates the second call; gradients accumulate and reset;
        ``state_dict`` round trip (returns copies); model file round trip (if
        the layer has ``get_config``); hypothesis-driven gradient check in float64;
        for a recurrent layer, the cell's recurrence (:func:`check_recurrence`) and,
        if it has a fused kernel, kernel against generic loop (:func:`check_fused_kernel`).
    """
    import copy

    from hypothesis import given, settings

    from minirnn.check.gradcheck import gradcheck
    from minirnn.nn.io import ModelFileError, build_layer

    layer = _instantiate(obj)
    rng = np.random.default_rng(seed)
    checks: list[ContractCheck] = []

    def record(name: str, fn: Any) -> None:
        try:
            detail = fn()
            checks.append(ContractCheck(name, True, detail or ""))
        except Exception as exc:  # a failing check is reported, not raised
            checks.append(ContractCheck(name, False, f"{type(exc).__name__}: {exc}"))

    shape = input_shape or _input_shape(layer, 3, 5)
    x = rng.uniform(-2, 2, shape).astype(layer.dtype)

    def shapes() -> str:
        y = layer.forward(x)
        assert isinstance(y, np.ndarray), f"forward returned {type(y).__name__}"
        assert y.dtype == layer.dtype, f"output dtype {y.dtype} != layer dtype {layer.dtype}"
        assert y.shape[0] == x.shape[0], f"batch axis {x.shape[0]} became {y.shape[0]}"
        assert np.isfinite(y).all(), "output not finite"
        dx = layer.backward(np.ones_like(y))
        assert dx.shape == x.shape, f"dx shape {dx.shape} != input shape {x.shape}"
        return f"{x.shape} -> {y.shape}"

    def parameters() -> str:
        named = list(layer.named_parameters())
        names = [n for n, _ in named]
        assert len(set(names)) == len(names), f"duplicate names {names}"
        for name, p in named:
            assert p.grad.shape == p.data.shape, f"{name}: grad {p.grad.shape} vs {p.data.shape}"
            assert p.grad.dtype == p.data.dtype, f"{name}: grad dtype {p.grad.dtype}"
        sd = layer.state_dict()
        assert list(sd) == names, f"state_dict keys {list(sd)} != parameter names {names}"
        return f"{len(names)} parameters"

    def not_mutated() -> str:
        x0 = x.copy()
        y = layer.forward(x)
        g = rng.standard_normal(y.shape).astype(layer.dtype)
        g0 = g.copy()
        layer.backward(g)
        assert np.array_equal(x, x0), "forward/backward changed the input"
        assert np.array_equal(g, g0), "backward changed dy"
        return ""

    def twice() -> str:
        x2 = rng.uniform(-2, 2, shape).astype(layer.dtype)
        y = layer.forward(x)
        g = rng.standard_normal(y.shape).astype(layer.dtype)
        layer.zero_grad()
        dx_ref = layer.backward(g)
        ref = [p.grad.copy() for p in layer.parameters()]
        layer.zero_grad()
        layer.forward(x2)
        layer.forward(x)
        dx = layer.backward(g)
        assert np.allclose(dx, dx_ref, rtol=1e-6, atol=1e-9), "dx depends on an earlier forward"
        for p, r in zip(layer.parameters(), ref, strict=True):
            assert np.allclose(p.grad, r, rtol=1e-6, atol=1e-9), f"{p.name} grad differs"
        return ""

    def accumulate() -> str:
        if not layer.parameters():
            return "no parameters"
        y = layer.forward(x)
        g = rng.standard_normal(y.shape).astype(layer.dtype)
        layer.zero_grad()
        layer.forward(x)
        layer.backward(g)
        once = [p.grad.copy() for p in layer.parameters()]
        layer.forward(x)
        layer.backward(g)
        for p, o in zip(layer.parameters(), once, strict=True):
            assert np.allclose(p.grad, 2 * o, rtol=1e-6, atol=1e-9), \
                f"{p.name}: backward must add into grad (+=)"
        layer.zero_grad()
        assert all(not p.grad.any() for p in layer.parameters()), "zero_grad left values"
        return ""

    def round_trip() -> str:
        y = layer.forward(x)
        sd = layer.state_dict()
        for v in sd.values():
            v += 1.0  # must be a copy
        assert np.array_equal(layer.forward(x), y), "state_dict returned views, not copies"
        other = copy.deepcopy(layer)
        for p in other.parameters():
            p.data += 0.5
        other.load_state_dict(layer.state_dict())
        assert np.array_equal(other.forward(x), y), "load_state_dict did not restore outputs"
        return ""

    def file_round_trip() -> str:
        try:
            config = layer.get_config()
        except NotImplementedError:
            return "skipped: no get_config()"
        try:
            rebuilt = build_layer({"class": type(layer).__name__, "config": config})
        except ModelFileError as exc:
            return f"skipped: {exc}"
        rebuilt.load_state_dict(layer.state_dict())
        assert np.array_equal(rebuilt.forward(x), layer.forward(x)), "rebuilt layer differs"
        return "get_config -> rebuild -> same outputs"

    def gradients() -> str:
        double = copy.deepcopy(layer).astype(np.float64)
        worst = [0.0]

        @settings(max_examples=max_examples, deadline=None, database=None)
        @given(batch=st.integers(1, 3), time=st.integers(1, 4), data_seed=seeds())
        def run(batch: int, time: int, data_seed: int) -> None:
            s = input_shape or _input_shape(double, batch, time)
            xs = np.random.default_rng(data_seed).uniform(-2, 2, s)
            report = gradcheck(double, xs, seed=data_seed % 2**31)
            worst[0] = max(worst[0], report.max_relative_error)

        run()
        return f"max rel err {worst[0]:.2e} over {max_examples} drawn cases"

    def recurrence() -> str:
        """For a recurrent layer: the cell's recurrence, and fused kernel = generic loop."""
        from minirnn.nn.layers import bptt

        cell = _first_cell(layer)
        if cell is None:
            return ""
        double_cell = copy.deepcopy(cell).astype(np.float64)
        detail = f"; recurrence max abs err {check_recurrence(double_cell, seed=seed):.1e}"
        if bptt.kernel_name(cell) is not None:
            worst = check_fused_kernel(double_cell, seed=seed)
            detail += f"; kernel {bptt.kernel_name(cell)!r} = generic loop (max diff {worst:.1e})"
        return detail

    record("forward/backward shapes and dtype", shapes)
    record("parameter and gradient names/shapes", parameters)
    record("inputs not mutated", not_mutated)
    record("forward twice then backward", twice)
    record("gradients accumulate and reset", accumulate)
    record("state_dict round trip", round_trip)
    record("model file round trip", file_round_trip)
    record("gradient check (hypothesis, float64)", lambda: gradients() + recurrence())
    report = ContractReport(repr(layer).splitlines()[0], checks)
    if raise_on_failure and not report.passed:
        raise ContractError(report)
    return report
