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

from collections.abc import Callable
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
    """One part of :func:`check_layer`'s report.

    A part that could not run is ``skipped`` (with the reason in ``detail``) and counts
    as not passed: a report passes only if every part ran and held.
    """

    name: str
    passed: bool
    detail: str = ""
    skipped: bool = False

    @property
    def status(self) -> str:
        """``"ok"``, ``"FAIL"`` or ``"SKIP"``."""
        return "SKIP" if self.skipped else "ok" if self.passed else "FAIL"


@dataclass
class ContractReport:
    """What :func:`check_layer` found; ``passed`` only if every part ran and passed (a
    skipped part fails the report)."""

    subject: str
    checks: list[ContractCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed and not c.skipped for c in self.checks)

    @property
    def skipped(self) -> list[ContractCheck]:
        """The parts that did not run."""
        return [c for c in self.checks if c.skipped]

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        if self.skipped:
            verdict += (f" ({len(self.skipped)} part(s) skipped: "
                        f"{', '.join(c.name for c in self.skipped)})")
        lines = [f"check_layer {self.subject}: {verdict}"]
        for c in self.checks:
            lines.append(f"  {c.status:<4} {c.name:<38} {c.detail}")
        return "\n".join(lines)


class ContractError(AssertionError):
    """Raised by :func:`check_layer` when a check fails; ``report`` has the details."""

    def __init__(self, report: ContractReport) -> None:
        super().__init__(str(report))
        self.report = report


class _PartSkippedError(Exception):
    """A contract part that cannot run; the message says why."""


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


def _batch_first(layer: Any) -> bool:
    first = getattr(layer, "layers", None)
    if first:
        return _batch_first(first[0])
    return bool(getattr(layer, "batch_first", True))


def _input_shape(layer: Any, batch: int, time: int) -> tuple[int, ...]:
    """A 3-D input shape for ``layer`` in its own layout ((T, N, D) if not batch first)."""
    first = getattr(layer, "layers", None)
    if first:
        return _input_shape(first[0], batch, time)
    features = 4
    if hasattr(layer, "input_size"):
        features = int(layer.input_size)
    elif hasattr(layer, "in_features"):
        features = int(layer.in_features)
    return (batch, time, features) if _batch_first(layer) else (time, batch, features)


def _batch_time(layer: Any, shape: tuple[int, ...]) -> tuple[int, int]:
    """(N, T) of a 3-D input shape of ``layer``."""
    return (shape[0], shape[1]) if _batch_first(layer) else (shape[1], shape[0])


def _valid_steps(layer: Any, shape: tuple[int, ...], lengths: np.ndarray) -> np.ndarray:
    """Bool mask of the valid (not padded) positions of an input of ``shape`` laid out as
    ``layer``'s, with a last axis of 1 (broadcasts over features)."""
    _, t = _batch_time(layer, shape)
    valid = np.arange(t)[None, :] < lengths[:, None]  # (N, T)
    return (valid if _batch_first(layer) else valid.T)[..., None]


def _first_cell(layer: Any) -> Any:
    cells = getattr(layer, "cells", None)
    return cells[0][0] if cells else None


def _takes_lengths(layer: Any, x: np.ndarray) -> bool:
    return bool(getattr(layer, "accepts_lengths", False)) and x.ndim == 3


def _fixed_lengths(n: int, t: int) -> np.ndarray:
    """Lengths of a fixed case: the first sequence full, the others shorter (1, 2, ...)."""
    if n == 1:
        return np.array([max(t - 1, 1)])
    return np.array([t] + [1 + (i % max(t - 1, 1)) for i in range(n - 1)])


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


_FIXED_GRADIENTS = "gradient check (float64, fixed cases)"
_DRAWN_GRADIENTS = "gradient check (hypothesis, float64)"


def _record_parts(record: Callable[[str, Any], bool], skip: Callable[[str, str], None],
                  parts: dict[str, Callable[[], Any]]) -> None:
    """Run the contract's parts in order; the drawn gradient check only after the fixed one
    passed (a wrong cell fails fast instead of being traced case by case)."""
    passed: dict[str, bool] = {}
    for name, part in parts.items():
        if name == _DRAWN_GRADIENTS and not passed.get(_FIXED_GRADIENTS, False):
            skip(name, f"the {_FIXED_GRADIENTS} failed")
            continue
        passed[name] = record(name, part)


def check_layer(
    obj: Any,
    *,
    input_shape: tuple[int, ...] | None = None,
    inputs: Callable[[np.random.Generator, int], Any] | None = None,
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
        Shape of a test input; by default (N, T, D) (or (T, N, D) for a layer that is
        not batch first) with D from ``input_size`` or ``in_features``.
    inputs : callable ``(rng, n) -> tuple or dict``, optional
        For a layer or model of several inputs: a factory of test inputs for a batch of
        ``n`` samples drawn with the numpy Generator ``rng`` (vary lengths and padding
        with it), every member with first axis N. They are passed as
        :func:`~minirnn.check.gradcheck.gradcheck`'s ``inputs=`` are: spread when
        ``forward`` takes several positional arrays (an attention layer; a dict as
        keywords, so masks can be members), else as the one structured ``x`` (a model
        the Solver trains). Floating members are cast to the layer's dtype (float64 for
        the gradient checks); integer and bool members (ids, lengths, masks) are kept.
        See Notes for the parts that change.
    seed : int
        Seeds the test data and the hypothesis search (the report is reproducible).
    max_examples : int
        Hypothesis examples of the gradient check (batch, time and lengths drawn).
    raise_on_failure : bool
        Raise :class:`ContractError` with the report when a part fails or is skipped.

    Returns
    -------
    ContractReport
        Parts: output shape and dtype; parameter and gradient names, shapes and dtypes;
        inputs not mutated; forward twice then backward differentiates the second call;
        gradients accumulate and reset; ``state_dict`` round trip (returns copies);
        model file round trip (``save_model`` then ``load_model``: needs ``get_config``
        and registered classes); variable lengths (for layers taking ``lengths=``:
        padded steps change nothing, each sequence gives what it gives alone, no gradient
        reaches padding); a float64 gradient check on fixed cases (with and without
        lengths), then on ``max_examples`` hypothesis-drawn cases; and for a recurrent
        layer the cell's recurrence (:func:`check_recurrence`) and, if it has a fused
        kernel, kernel against generic loop (:func:`check_fused_kernel`).

    Notes
    -----
    With ``inputs=``, every part runs on the factory's inputs: shapes and dtypes (each
    floating input gets a gradient of its shape, every output keeps the batch axis N),
    names, no member mutated, forward twice, accumulation, state dicts, the file round
    trip; "variable lengths" becomes "each sample as alone" (every sample, sliced out of
    the batch with its lengths and masks, gives its row of the batch's outputs: padding
    of the others does not leak into it); the gradient checks run on 2 fixed cases
    (N = 2 and 3) and then ``max_examples`` drawn ones (N in 1..3, the factory's rng
    seeded by hypothesis); the cell part checks the layer's first cell if it has one.

    A part that cannot run (e.g. the gradient search after the fixed cases failed, or
    variable lengths with a one-step ``input_shape``) is reported as skipped, with the
    reason, and fails the report. The run is bounded: a wrong gradient fails at the first
    fixed case (one gradient check), and the hypothesis search runs at most
    ``max_examples`` gradient checks, without shrinking or hypothesis's explain phase
    (which would trace whole gradient checks).
    """
    import copy
    import os
    import tempfile

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from minirnn.check import gradcheck as gradcheck_module
    from minirnn.nn._validation import check_positive_int
    from minirnn.nn.io import load_model, save_model

    check_positive_int(max_examples, "max_examples")
    if inputs is not None and not callable(inputs):
        raise TypeError(f"inputs must be a function (rng, n) -> tuple or dict of arrays, got "
                        f"{type(inputs).__name__}")
    if inputs is not None and input_shape is not None:
        raise TypeError("give input_shape (one input) or inputs (several), not both")
    layer = _instantiate(obj)
    rng = np.random.default_rng(seed)
    checks: list[ContractCheck] = []

    def record(name: str, fn: Any) -> bool:
        try:
            detail = fn()
            checks.append(ContractCheck(name, True, detail or ""))
            return True
        except _PartSkippedError as why:
            checks.append(ContractCheck(name, False, f"skipped: {why}", skipped=True))
        except Exception as exc:  # a failing check is reported, not raised
            notes = " ".join(getattr(exc, "__notes__", []))
            checks.append(ContractCheck(name, False, f"{type(exc).__name__}: {exc}"
                                        + (f" [{notes}]" if notes else "")))
        return False

    def skip(name: str, why: str) -> None:
        checks.append(ContractCheck(name, False, f"skipped: {why}", skipped=True))

    if inputs is not None:
        _multi_input_parts(layer, inputs, rng, seed, max_examples, record, skip)
        report = ContractReport(repr(layer).splitlines()[0], checks)
        if raise_on_failure and not report.passed:
            raise ContractError(report)
        return report

    shape = input_shape or _input_shape(layer, 3, 5)
    x = rng.uniform(-2, 2, shape).astype(layer.dtype)
    with_lengths = _takes_lengths(layer, x)

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
            return "no parameters (nothing to accumulate)"
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
        # The real path: save_model refuses (before writing) a layer without get_config or
        # with an unregistered class, and says how to register it.
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.npz")
            save_model(path, layer)
            rebuilt = load_model(path)
        assert type(rebuilt) is type(layer), f"loaded a {type(rebuilt).__name__}"
        assert np.array_equal(rebuilt.forward(x), layer.forward(x)), "loaded layer differs"
        return "save_model -> load_model -> same outputs"

    tol = 1e-12 if layer.dtype == np.float64 else 1e-5

    def final_states(model: Any) -> list[np.ndarray]:
        return [np.asarray(s) for s in getattr(model, "final_state", None) or ()]

    def variable_lengths() -> str:
        if not with_lengths:
            return f"not applicable: {type(layer).__name__} takes no lengths"
        n, t = _batch_time(layer, x.shape)
        if t < 2:
            raise _PartSkippedError(f"input_shape {x.shape} has one time step; padding "
                                    "needs T >= 2")
        lengths = _fixed_lengths(n, t)
        valid = _valid_steps(layer, x.shape, lengths)
        y = layer.forward(x, lengths=lengths)
        states = final_states(layer)
        per_step = y.ndim == 3 and y.shape[:2] == x.shape[:2]
        y_valid = np.broadcast_to(valid, y.shape) if per_step else np.ones(y.shape, bool)
        noise = np.where(valid, x, rng.uniform(-2, 2, x.shape).astype(layer.dtype))
        y2 = layer.forward(noise, lengths=lengths)
        np.testing.assert_allclose(y2[y_valid], y[y_valid], rtol=tol, atol=tol,
                                   err_msg="values at padded steps changed the output")
        for a, b in zip(final_states(layer), states, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol,
                                       err_msg="values at padded steps changed a final state")
        bf = _batch_first(layer)
        for i, length in enumerate(lengths):
            alone = x[i:i + 1, :length] if bf else x[:length, i:i + 1]
            yi = layer.forward(alone, lengths=np.array([length]))
            whole = y[i:i + 1, :length] if bf else y[:length, i:i + 1]
            want = whole if per_step else y[i:i + 1]
            np.testing.assert_allclose(
                yi, want, rtol=1e3 * tol, atol=1e3 * tol,
                err_msg=f"sequence {i} (length {length}) alone gives other outputs than in "
                        "the padded batch")
            for k, (a, b) in enumerate(zip(final_states(layer), states, strict=True)):
                np.testing.assert_allclose(
                    a, b[:, i:i + 1] if b.ndim == 3 else b[i:i + 1], rtol=1e3 * tol,
                    atol=1e3 * tol, err_msg=f"sequence {i} alone: final state {k} differs")
        layer.forward(x, lengths=lengths)
        dy = rng.standard_normal(y.shape).astype(layer.dtype) * y_valid
        dx = layer.backward(dy)
        assert not dx[~np.broadcast_to(valid, dx.shape)].any(), \
            "gradient reaches padded input steps"
        return f"lengths {lengths.tolist()}: padding ignored, each sequence as alone"

    double: list[Any] = []

    def float64_copy() -> Any:
        if not double:
            double.append(copy.deepcopy(layer).astype(np.float64))
        return double[0]

    worst = [0.0]

    def run_gradcheck(model: Any, xs: np.ndarray, lengths: np.ndarray | None,
                      case_seed: int) -> None:
        kwargs = {"lengths": lengths} if lengths is not None else None
        report = gradcheck_module.gradcheck(model, xs, seed=case_seed, forward_kwargs=kwargs)
        worst[0] = max(worst[0], report.max_relative_error)

    def fixed_gradients() -> str:
        model = float64_copy()
        small = input_shape or _input_shape(model, 2, 3)
        xs = np.random.default_rng(seed).uniform(-2, 2, small)
        run_gradcheck(model, xs, None, seed)
        cases = "1 case"
        if with_lengths:
            n, t = _batch_time(model, small)
            lengths = _fixed_lengths(n, t)
            run_gradcheck(model, xs, lengths, seed + 1)
            cases = f"2 cases (without and with lengths {lengths.tolist()})"
        return f"max rel err {worst[0]:.2e} over {cases}"

    def drawn_gradients() -> str:
        model = float64_copy()
        count, worst[0] = [0], 0.0

        @hypothesis_seed(seed)
        @settings(max_examples=max_examples, deadline=None, database=None,
                  phases=(Phase.generate,), suppress_health_check=list(HealthCheck),
                  print_blob=False)
        @given(batch=st.integers(1, 3), time=st.integers(1, 4), data_seed=seeds(),
               use_lengths=st.booleans(), data=st.data())
        def run(batch: int, time: int, data_seed: int, use_lengths: bool,
                data: Any) -> None:
            s = input_shape or _input_shape(model, batch, time)
            xs = np.random.default_rng(data_seed).uniform(-2, 2, s)
            lengths = None
            if use_lengths and with_lengths:
                n, t = _batch_time(model, s)
                lengths = np.array(data.draw(st.lists(st.integers(1, t), min_size=n,
                                                      max_size=n), label="lengths"))
            count[0] += 1
            run_gradcheck(model, xs, lengths, data_seed % 2**31)

        run()
        return f"max rel err {worst[0]:.2e} over {count[0]} drawn cases"

    def recurrence() -> str:
        """For a recurrent layer: the cell's recurrence, and fused kernel = generic loop."""
        from minirnn.nn.layers import bptt

        cell = _first_cell(layer)
        if cell is None:
            return f"not applicable: {type(layer).__name__} has no cell"
        double_cell = copy.deepcopy(cell).astype(np.float64)
        detail = f"recurrence max abs err {check_recurrence(double_cell, seed=seed):.1e}"
        if bptt.kernel_name(cell) is not None:
            worst_kernel = check_fused_kernel(double_cell, seed=seed)
            detail += (f"; kernel {bptt.kernel_name(cell)!r} = generic loop (max diff "
                       f"{worst_kernel:.1e})")
        return detail

    _record_parts(record, skip, {
        "forward/backward shapes and dtype": shapes,
        "parameter and gradient names/shapes": parameters,
        "inputs not mutated": not_mutated,
        "forward twice then backward": twice,
        "gradients accumulate and reset": accumulate,
        "state_dict round trip": round_trip,
        "model file round trip": file_round_trip,
        "variable lengths": variable_lengths,
        _FIXED_GRADIENTS: fixed_gradients,
        _DRAWN_GRADIENTS: drawn_gradients,
        "cell recurrence and fused kernel": recurrence,
    })
    report = ContractReport(repr(layer).splitlines()[0], checks)
    if raise_on_failure and not report.passed:
        raise ContractError(report)
    return report


# ------------------------------------------------------------- several inputs
def _cast_inputs(x: Any, dtype: np.dtype) -> Any:
    """The inputs with floating members cast to ``dtype`` (copies), others as they are."""
    def cast(a: Any) -> Any:
        if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating):
            return a.astype(dtype, copy=True)
        return a
    if isinstance(x, dict):
        return {k: cast(a) for k, a in x.items()}
    if isinstance(x, (tuple, list)):
        return tuple(cast(a) for a in x)
    raise TypeError(f"the inputs factory must return a tuple or dict of arrays, got "
                    f"{type(x).__name__}")


def _input_items(x: Any) -> list[tuple[str, Any]]:
    if isinstance(x, dict):
        return [(f"x[{k!r}]", a) for k, a in x.items()]
    return [(f"x[{i}]", a) for i, a in enumerate(x)]


def _rows(x: Any, idx: slice) -> Any:
    """Rows ``idx`` (axis 0) of every array member."""
    def take(a: Any) -> Any:
        return a[idx] if isinstance(a, np.ndarray) else a
    if isinstance(x, dict):
        return {k: take(a) for k, a in x.items()}
    return tuple(take(a) for a in x)


def _float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _multi_input_parts(layer: Any, make: Callable[[np.random.Generator, int], Any],
                       rng: np.random.Generator, seed: int, max_examples: int,
                       record: Callable[[str, Any], bool],
                       skip: Callable[[str, str], None]) -> None:
    """The contract parts of :func:`check_layer` for a layer of several inputs."""
    import copy
    import os
    import tempfile

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed

    from minirnn.check import gradcheck as gc
    from minirnn.nn.io import load_model, save_model

    n = 3
    x = _cast_inputs(make(np.random.default_rng(seed), n), layer.dtype)
    name = type(layer).__name__

    def outputs(inputs: Any, training: bool = False) -> list[Any]:
        out = gc.forward_inputs(layer, inputs, training=training)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def backward(upstream: list[Any], inputs: Any) -> list[Any]:
        fn: Any = layer.backward
        result = fn(*upstream) if len(upstream) > 1 else fn(upstream[0])
        return gc.input_gradients(layer, result, inputs)

    def upstream_like(outs: list[Any]) -> list[Any]:
        return [rng.standard_normal(o.shape).astype(layer.dtype) if _float(o) else None
                for o in outs]

    def float_grads(grads: list[Any], inputs: Any) -> list[np.ndarray]:
        return [g for (_, a), g in zip(_input_items(inputs), grads, strict=True)
                if _float(a)]

    def shapes() -> str:
        outs = outputs(x)
        assert any(_float(o) for o in outs), f"{name}.forward returned no floating array"
        for i, o in enumerate(outs):
            if o is None:
                continue
            assert isinstance(o, np.ndarray), f"output {i} is a {type(o).__name__}"
            assert o.dtype == layer.dtype, f"output {i} dtype {o.dtype} != {layer.dtype}"
            assert o.shape[0] == n, f"output {i}: batch axis {n} became {o.shape[0]}"
            assert np.isfinite(o).all(), f"output {i} not finite"
        grads = backward([None if o is None else np.ones_like(o) for o in outs], x)
        for (label, a), g in zip(_input_items(x), grads, strict=True):
            if _float(a):
                assert isinstance(g, np.ndarray) and g.shape == a.shape, \
                    f"d{label}: {getattr(g, 'shape', g)} != input shape {a.shape}"
                assert g.dtype == layer.dtype, f"d{label} dtype {g.dtype}"
        ins = ", ".join(f"{label} {a.shape}" for label, a in _input_items(x)
                        if isinstance(a, np.ndarray))
        return f"{ins} -> {', '.join(str(o.shape) for o in outs if o is not None)}"

    def parameters() -> str:
        named = list(layer.named_parameters())
        names = [p_name for p_name, _ in named]
        assert len(set(names)) == len(names), f"duplicate names {names}"
        for p_name, p in named:
            assert p.grad.shape == p.data.shape, f"{p_name}: grad {p.grad.shape}"
            assert p.grad.dtype == p.data.dtype, f"{p_name}: grad dtype {p.grad.dtype}"
        assert list(layer.state_dict()) == names, "state_dict keys != parameter names"
        return f"{len(names)} parameters"

    def not_mutated() -> str:
        before = [(label, a.copy()) for label, a in _input_items(x)
                  if isinstance(a, np.ndarray)]
        outs = outputs(x)
        g = upstream_like(outs)
        g0 = [None if a is None else a.copy() for a in g]
        backward(g, x)
        now = dict(_input_items(x))
        for label, a in before:
            assert np.array_equal(now[label], a), f"forward/backward changed {label}"
        for a, b in zip(g, g0, strict=True):
            assert a is None or (b is not None and np.array_equal(a, b)), \
                "backward changed its upstream gradient"
        return ""

    def twice() -> str:
        x2 = _cast_inputs(make(np.random.default_rng(seed + 1), n), layer.dtype)
        g = upstream_like(outputs(x))
        layer.zero_grad()
        ref_dx = float_grads(backward(g, x), x)
        ref = [p.grad.copy() for p in layer.parameters()]
        layer.zero_grad()
        outputs(x2)
        outputs(x)
        dx = float_grads(backward(g, x), x)
        for a, b in zip(dx, ref_dx, strict=True):
            assert np.allclose(a, b, rtol=1e-6, atol=1e-9), \
                "an input gradient depends on an earlier forward"
        for p, r in zip(layer.parameters(), ref, strict=True):
            assert np.allclose(p.grad, r, rtol=1e-6, atol=1e-9), f"{p.name} grad differs"
        return ""

    def accumulate() -> str:
        if not layer.parameters():
            return "no parameters (nothing to accumulate)"
        g = upstream_like(outputs(x))
        layer.zero_grad()
        outputs(x)
        backward(g, x)
        once = [p.grad.copy() for p in layer.parameters()]
        outputs(x)
        backward(g, x)
        for p, o in zip(layer.parameters(), once, strict=True):
            assert np.allclose(p.grad, 2 * o, rtol=1e-6, atol=1e-9), \
                f"{p.name}: backward must add into grad (+=)"
        layer.zero_grad()
        assert all(not p.grad.any() for p in layer.parameters()), "zero_grad left values"
        return ""

    def same(a: list[Any], b: list[Any], what: str, tol: float = 0.0) -> None:
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            if u is None or v is None:
                assert u is None and v is None, f"{what}: output {i} is None on one side"
            else:
                np.testing.assert_allclose(u, v, rtol=tol, atol=tol,
                                           err_msg=f"{what}: output {i}")

    def round_trip() -> str:
        y = outputs(x)
        for v in layer.state_dict().values():
            v += 1.0  # must be a copy
        same(outputs(x), y, "state_dict returned views, not copies")
        other = copy.deepcopy(layer)
        for p in other.parameters():
            p.data += 0.5
        other.load_state_dict(layer.state_dict())
        out = gc.forward_inputs(other, x)
        same(list(out) if isinstance(out, (tuple, list)) else [out], y,
             "load_state_dict did not restore outputs")
        return ""

    def file_round_trip() -> str:
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.npz")
            save_model(path, layer)
            rebuilt = load_model(path)
        assert type(rebuilt) is type(layer), f"loaded a {type(rebuilt).__name__}"
        out = gc.forward_inputs(rebuilt, x)
        same(list(out) if isinstance(out, (tuple, list)) else [out], outputs(x),
             "loaded layer differs")
        return "save_model -> load_model -> same outputs"

    tol = 1e-12 if layer.dtype == np.float64 else 1e-5

    def alone() -> str:
        whole = outputs(x)
        for i in range(n):
            part = outputs(_rows(x, slice(i, i + 1)))
            same(part, [None if o is None else o[i:i + 1] for o in whole],
                 f"sample {i} alone gives other outputs than in the batch", 1e3 * tol)
        return f"{n} samples, each as in the batch"

    double: list[Any] = []

    def float64_copy() -> Any:
        if not double:
            double.append(copy.deepcopy(layer).astype(np.float64))
        return double[0]

    worst = [0.0]

    def run_gradcheck(model: Any, batch: int, data_seed: int) -> None:
        xs = _cast_inputs(make(np.random.default_rng(data_seed), batch), np.dtype(np.float64))
        report = gc.gradcheck(model, inputs=xs, seed=data_seed % 2**31)
        worst[0] = max(worst[0], report.max_relative_error)

    def fixed_gradients() -> str:
        model = float64_copy()
        run_gradcheck(model, 2, seed)
        run_gradcheck(model, 3, seed + 1)
        return f"max rel err {worst[0]:.2e} over 2 cases (N = 2, 3)"

    def drawn_gradients() -> str:
        model = float64_copy()
        count, worst[0] = [0], 0.0

        @hypothesis_seed(seed)
        @settings(max_examples=max_examples, deadline=None, database=None,
                  phases=(Phase.generate,), suppress_health_check=list(HealthCheck),
                  print_blob=False)
        @given(batch=st.integers(1, 3), data_seed=seeds())
        def run(batch: int, data_seed: int) -> None:
            count[0] += 1
            run_gradcheck(model, batch, data_seed)

        run()
        return f"max rel err {worst[0]:.2e} over {count[0]} drawn cases"

    def recurrence() -> str:
        from minirnn.nn.layers import bptt

        cells = [c for c in (_first_cell(la) for la in [layer, *(
            sub for _, sub in layer.named_layers())]) if c is not None]
        if not cells:
            return f"not applicable: {name} has no recurrent layer"
        double_cell = copy.deepcopy(cells[0]).astype(np.float64)
        detail = f"recurrence max abs err {check_recurrence(double_cell, seed=seed):.1e}"
        if bptt.kernel_name(cells[0]) is not None:
            detail += f"; kernel = generic loop (max diff " \
                      f"{check_fused_kernel(double_cell, seed=seed):.1e})"
        return detail

    _record_parts(record, skip, {
        "forward/backward shapes and dtype": shapes,
        "parameter and gradient names/shapes": parameters,
        "inputs not mutated": not_mutated,
        "forward twice then backward": twice,
        "gradients accumulate and reset": accumulate,
        "state_dict round trip": round_trip,
        "model file round trip": file_round_trip,
        "each sample as alone": alone,
        _FIXED_GRADIENTS: fixed_gradients,
        _DRAWN_GRADIENTS: drawn_gradients,
        "cell recurrence and fused kernel": recurrence,
    })
