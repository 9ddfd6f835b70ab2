"""Numerical gradient checks of any :class:`Layer`, :class:`Cell` or :class:`Loss`.

The analytic gradients that ``backward`` produces are compared with central
differences in float64. The scalar that is differentiated is ``sum(out * g)``
for a fixed random upstream gradient ``g`` (so every output element matters
with a different weight), plus the same for final states where a layer has them.

Typical use on a class you just wrote::

    from minirnn.check.gradcheck import gradcheck
    report = gradcheck(MyLayer(3, 4).astype(np.float64), x)   # raises if wrong
    print(report)

A model of several inputs (a tuple or dict, as the Solver feeds it) or a layer whose
``forward`` takes several arrays (attention: ``forward(query, key, value)``)::

    gradcheck(model, inputs=(src, src_lengths, tgt_in, tgt_lengths))   # ids: not checked
    gradcheck(attention, inputs=(query, key, value))     # outputs (context, weights)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minirnn.nn.cells.base import Cell
from minirnn.nn.layers.base import Layer
from minirnn.nn.losses.base import Loss

__all__ = ["GradcheckError", "GradcheckReport", "GradientComparison", "forward_inputs",
           "gradcheck", "input_gradients", "numerical_gradient", "spreads_inputs"]

#: Default bound on the relative error (see :class:`GradientComparison`).
DEFAULT_TOLERANCE = 1e-7


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one."""

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class GradientComparison:
    """Analytic vs numerical gradient of one array.

    ``relative_error = max|a - n| / max(max|a|, max|n|, floor)``: the worst
    element's error measured against the gradient's scale. ``floor`` is the
    smallest scale that central differences can resolve to the tolerance (their
    rounding noise, about ``u * sum|terms of f| / eps``, divided by the
    tolerance): a gradient that is exactly 0 analytically and 1e-14 numerically
    is rounding noise, not a bug.
    """

    name: str
    analytic: np.ndarray
    numerical: np.ndarray
    relative_error: float
    worst_index: tuple[int, ...]

    @property
    def max_abs_error(self) -> float:
        return float(np.max(np.abs(self.analytic - self.numerical), initial=0.0))

    def line(self, tolerance: float) -> str:
        status = "ok" if self.relative_error <= tolerance else "FAIL"
        text = f"  {self.name:<24} rel err {self.relative_error:9.2e}  {status}"
        if status == "FAIL" and self.analytic.size:
            idx = self.worst_index
            text += (f"  (worst at {idx}: analytic {self.analytic[idx]:.10g}, "
                     f"numerical {self.numerical[idx]:.10g})")
        return text


@dataclass
class GradcheckReport:
    """All comparisons of one check; ``passed`` if every relative error <= tolerance."""

    subject: str
    tolerance: float
    comparisons: list[GradientComparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.relative_error <= self.tolerance for c in self.comparisons)

    @property
    def max_relative_error(self) -> float:
        return max((c.relative_error for c in self.comparisons), default=0.0)

    def __getitem__(self, name: str) -> GradientComparison:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    def __str__(self) -> str:
        head = (f"gradcheck {self.subject}: {'passed' if self.passed else 'FAILED'} "
                f"(max rel err {self.max_relative_error:.2e}, tolerance {self.tolerance:.0e})")
        return "\n".join([head] + [c.line(self.tolerance) for c in self.comparisons])


def numerical_gradient(
    f: Callable[[], float], array: np.ndarray, eps: float = 1e-5, order: int = 4
) -> np.ndarray:
    """Central-difference gradient of ``f()`` with respect to ``array`` (perturbed in place).

    Parameters
    ----------
    f : callable returning float
        Reads ``array`` each time it is called.
    array : ndarray, float64
        Each element is perturbed by +-eps (and +-2 eps for ``order=4``) and
        restored in a ``finally`` block, so an exception leaves it unchanged.
    eps : float
    order : {2, 4}
        2: ``(f(x+h) - f(x-h)) / 2h``; 4: the five-point stencil
        ``(-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / 12h``, whose truncation
        error is O(h^4) and so leaves only rounding error at h = 1e-5..1e-4.

    Returns
    -------
    ndarray, shape of ``array``
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    grad = np.zeros(array.shape, dtype=np.float64)
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise ValueError("numerical_gradient needs a contiguous array it can perturb in place")
    out = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        try:
            def at(delta: float, i: int = i, original: Any = original) -> float:
                flat[i] = original + delta
                return float(f())
            if order == 2:
                out[i] = (at(eps) - at(-eps)) / (2 * eps)
            else:
                out[i] = (-at(2 * eps) + 8 * at(eps) - 8 * at(-eps) + at(-2 * eps)) / (12 * eps)
        finally:
            flat[i] = original
    return grad


def _compare(
    name: str, analytic: np.ndarray, numerical: np.ndarray, floor: float = 0.0
) -> GradientComparison:
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numerical.shape:
        raise GradcheckError(GradcheckReport(
            f"(shape mismatch for {name}: analytic {analytic.shape} vs expected "
            f"{numerical.shape})", 0.0))
    diff = np.abs(analytic - numerical)
    scale = max(float(np.max(np.abs(analytic), initial=0.0)),
                float(np.max(np.abs(numerical), initial=0.0)), floor)
    if diff.size == 0:
        return GradientComparison(name, analytic, numerical, 0.0, ())
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    worst_index = tuple(int(i) for i in worst)
    if not np.isfinite(diff).all():
        rel = float("inf")
    else:
        rel = 0.0 if scale == 0.0 else float(diff[worst_index] / scale)
    return GradientComparison(name, analytic, numerical, rel, worst_index)


def _require_float64(name: str, *arrays: np.ndarray) -> None:
    for a in arrays:
        if a.dtype != np.float64:
            raise TypeError(
                f"gradcheck runs in float64 but {name} has dtype {a.dtype}; "
                "convert with .astype(np.float64)"
            )


def gradcheck(
    obj: Layer | Cell | Loss,
    *args: Any,
    inputs: Sequence[Any] | Mapping[str, Any] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    eps: float = 1e-5,
    order: int = 4,
    seed: int = 0,
    raise_on_failure: bool = True,
    check_parameters: bool = True,
    forward_kwargs: dict[str, Any] | None = None,
) -> GradcheckReport:
    """Compare ``obj``'s backward with central differences.

    Parameters
    ----------
    obj : Layer, Cell or Loss, in float64
        * Layer: ``args = (x,)``; recurrent layers (anything with
          ``final_state`` and ``initial_state_grad``) also take an initial
          state ``args = (x, state0)``; with ``state0`` omitted a random one
          is drawn so that its gradient is checked too.
        * Cell: ``args = (x, state)`` for one step; ``state`` drawn if omitted.
        * Loss: ``args = (pred, target)`` or ``(pred, target, mask)``.
    *args : ndarray
        The inputs, as above.
    inputs : tuple, list or dict of ndarray (or None members), optional
        A layer of several inputs (instead of ``args``). If its ``forward`` takes
        several required positional arguments (an attention layer's ``forward(query,
        key, value, ...)``) they are spread (``forward(*inputs)``, a dict as keywords);
        otherwise the structure is ``forward``'s one argument ``x`` (a model the Solver
        trains on ``fit((a, b, ...), y)``). Every floating member is checked and must be
        float64; integer and bool members (token ids, lengths, masks) are passed
        through unchecked. ``forward`` returns one array or a tuple of arrays (e.g.
        ``(context, weights)``: each gets its own random upstream gradient and
        ``backward`` receives them in order, ``None`` for a ``None`` output);
        ``backward`` returns one gradient per member, a tuple in the inputs' order or
        a dict with their keys (``None`` or anything for an integer member; ``None``
        for a floating member means zero, and is checked as such).
    tolerance : float
        Largest accepted relative error (see :class:`GradientComparison`).
    eps, order
        See :func:`numerical_gradient`.
    seed : int
        Seeds the upstream gradient and any drawn state.
    raise_on_failure : bool
        Raise :class:`GradcheckError` (an ``AssertionError``) with the report.
    check_parameters : bool
        Also check every parameter (``Layer``/``Cell``).
    forward_kwargs : dict, optional
        Extra keyword arguments of a layer's ``forward`` (e.g. ``{"lengths": ...}``).
        Anything random in training mode must be made deterministic first.

    Returns
    -------
    GradcheckReport

    Notes
    -----
    The inputs are copied; parameters are perturbed in place and restored, and
    their ``grad`` is restored to its value before the check.
    """
    rng = np.random.default_rng(seed)
    if forward_kwargs and not isinstance(obj, Layer):
        raise TypeError("forward_kwargs apply to layers only")
    if inputs is not None:
        if args:
            raise TypeError("give the inputs either positionally or as inputs=, not both")
        if not isinstance(obj, Layer):
            raise TypeError(f"inputs= is for a layer of several inputs, got "
                            f"{type(obj).__name__}")
        if not isinstance(inputs, (tuple, list, dict)) or not inputs:
            raise TypeError(f"inputs must be a non-empty tuple, list or dict of arrays, got "
                            f"{type(inputs).__name__}")
        subject, f, magnitude, analytic, arrays = _setup_multi(obj, inputs, rng,
                                                               forward_kwargs or {})
    elif isinstance(obj, Loss):
        subject, f, magnitude, analytic, arrays = _setup_loss(obj, args)
    elif isinstance(obj, Cell):
        subject, f, magnitude, analytic, arrays = _setup_cell(obj, args, rng)
    elif isinstance(obj, Layer):
        subject, f, magnitude, analytic, arrays = _setup_layer(obj, args, rng,
                                                               forward_kwargs or {})
    else:
        raise TypeError(f"gradcheck expects a Layer, Cell or Loss, got {type(obj).__name__}")
    params = list(_parameters(obj)) if check_parameters else []
    for pname, p in params:
        _require_float64(f"parameter {pname!r}", p.data)
    saved_grads = [p.grad.copy() for _, p in params]
    try:
        for _, p in params:
            p.zero_grad()
        grads = analytic()
        # Rounding noise of one numerical derivative, with a safety factor of ~10.
        noise = 16 * np.finfo(np.float64).eps * max(magnitude(), 1e-300) / eps
        floor = float(noise / tolerance)
        report = GradcheckReport(subject, tolerance)
        for name, array in arrays:
            report.comparisons.append(_compare(
                name, grads[name], numerical_gradient(f, array, eps, order), floor))
        for pname, p in params:
            analytic_grad = p.grad.copy()
            report.comparisons.append(_compare(
                pname, analytic_grad, numerical_gradient(f, p.data, eps, order), floor))
    finally:
        for (_, p), g in zip(params, saved_grads, strict=True):
            p.grad[...] = g
    if raise_on_failure and not report.passed:
        raise GradcheckError(report)
    return report


def _parameters(obj: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, (Layer, Cell)):
        yield from obj.named_parameters()


# (subject, f, magnitude: sum of |terms| of f, analytic grads, arrays to perturb)
_Setup = tuple[str, Callable[[], float], Callable[[], float],
               Callable[[], dict[str, np.ndarray]], list[tuple[str, np.ndarray]]]


def _setup_loss(loss: Loss, inputs: tuple[Any, ...]) -> _Setup:
    if len(inputs) not in (2, 3):
        raise TypeError("gradcheck(loss, pred, target[, mask]) takes 2 or 3 inputs")
    pred = np.array(inputs[0], copy=True)
    target = np.array(inputs[1], copy=True)
    mask = None if len(inputs) == 2 else np.array(inputs[2], copy=True)
    _require_float64("pred", pred)

    def f() -> float:
        return loss.forward(pred, target, mask)

    def analytic() -> dict[str, np.ndarray]:
        loss.forward(pred, target, mask)
        return {"pred": loss.backward()}

    def magnitude() -> float:
        return abs(f())

    return type(loss).__name__, f, magnitude, analytic, [("pred", pred)]


def _setup_cell(cell: Cell, inputs: tuple[Any, ...], rng: np.random.Generator) -> _Setup:
    if len(inputs) not in (1, 2):
        raise TypeError("gradcheck(cell, x[, state]) takes 1 or 2 inputs")
    x = np.array(inputs[0], copy=True)
    _require_float64("x", x)
    n = x.shape[0]
    if len(inputs) == 2 and inputs[1] is not None:
        given = inputs[1]
        state = tuple(np.array(s, copy=True) for s in
                      ((given,) if isinstance(given, np.ndarray) else given))
    else:
        state = tuple(rng.standard_normal((n, size)) for size in cell.state_sizes)
    upstream = tuple(rng.standard_normal((n, size)) for size in cell.state_sizes)

    def f() -> float:
        new_state = cell.forward(x, state)
        return float(sum(np.sum(s * g) for s, g in zip(new_state, upstream, strict=True)))

    def magnitude() -> float:
        new_state = cell.forward(x, state)
        return float(sum(np.sum(np.abs(s * g)) for s, g in zip(new_state, upstream,
                                                                 strict=True)))

    def analytic() -> dict[str, np.ndarray]:
        cell.forward(x, state)
        dx, dstate = cell.backward(upstream)
        grads = {"x": dx}
        grads.update({f"state.{k}": d for k, d in zip(cell.state_names, dstate, strict=True)})
        return grads

    arrays = [("x", x)] + [(f"state.{k}", s) for k, s in zip(cell.state_names, state, strict=True)]
    return repr(cell), f, magnitude, analytic, arrays


def _setup_layer(
    layer: Layer, inputs: tuple[Any, ...], rng: np.random.Generator, kwargs: dict[str, Any]
) -> _Setup:
    if len(inputs) not in (1, 2):
        raise TypeError("gradcheck(layer, x[, initial_state]) takes 1 or 2 inputs")
    x = np.array(inputs[0], copy=True)
    _require_float64("x", x)
    recurrent = hasattr(layer, "final_state") and hasattr(layer, "initial_state_grad")
    if not recurrent:
        if len(inputs) == 2:
            raise TypeError(f"{type(layer).__name__} takes no initial state (several inputs: "
                            "gradcheck(layer, inputs=(a, b, ...)))")
        y0 = layer.forward(x, **kwargs)
        g = rng.standard_normal(y0.shape)

        def f() -> float:
            return float(np.sum(layer.forward(x, **kwargs) * g))

        def analytic() -> dict[str, np.ndarray]:
            layer.forward(x, **kwargs)
            return {"x": layer.backward(g)}

        def magnitude() -> float:
            return float(np.sum(np.abs(layer.forward(x, **kwargs) * g)))

        return repr(layer), f, magnitude, analytic, [("x", x)]

    def fwd(x: np.ndarray, state: Any = None) -> np.ndarray:
        return layer.forward(x, state, **kwargs)  # type: ignore[call-arg]

    bwd: Any = layer.backward
    names: tuple[str, ...] = layer.state_names  # type: ignore[attr-defined]
    state: tuple[np.ndarray, ...] | None
    if len(inputs) == 2 and inputs[1] is not None:
        given = inputs[1]
        state = tuple(np.array(s, copy=True) for s in
                      ((given,) if isinstance(given, np.ndarray) else given))
    elif getattr(layer, "initial_state_params", ()):
        state = None  # the layer's learned initial state, checked as a parameter
    else:
        fwd(x)
        state = tuple(rng.standard_normal(s.shape) for s in layer.final_state)  # type: ignore[attr-defined]
    y0 = fwd(x, state)
    g = rng.standard_normal(y0.shape)
    g_final = tuple(rng.standard_normal(s.shape) for s in layer.final_state)  # type: ignore[attr-defined]

    def f_rec(absolute: bool = False) -> float:
        y = fwd(x, state)
        terms = [y * g] + [s * gs for s, gs in
                           zip(layer.final_state, g_final, strict=True)]  # type: ignore[attr-defined]
        return float(sum(np.sum(np.abs(t) if absolute else t) for t in terms))

    def analytic_rec() -> dict[str, np.ndarray]:
        fwd(x, state)
        grads = {"x": bwd(g, g_final)}
        for k, d in zip(names, layer.initial_state_grad, strict=True):  # type: ignore[attr-defined]
            grads[f"initial_state.{k}"] = d
        return grads

    arrays = [("x", x)]
    if state is not None:
        arrays += [(f"initial_state.{k}", s) for k, s in zip(names, state, strict=True)]
    return repr(layer), f_rec, lambda: f_rec(absolute=True), analytic_rec, arrays


def spreads_inputs(layer: Layer) -> bool:
    """Whether ``layer.forward`` takes several inputs as separate positional arguments
    (at least two required ones, or ``*args``: an attention layer's ``forward(query, key,
    value, ...)``) rather than one structured ``x`` (a tuple or dict, as the Solver passes).
    """
    required = 0
    for p in inspect.signature(layer.forward).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return True
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            required += 1
    return required >= 2


def _is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def forward_inputs(layer: Layer, inputs: Sequence[Any] | Mapping[str, Any],
                   **kwargs: Any) -> Any:
    """``layer.forward`` on several inputs, the way it takes them.

    Spread (``forward(*inputs)``, a dict as keywords) when :func:`spreads_inputs`, else
    one structured argument (``forward(tuple(inputs))`` or ``forward(dict)``).
    """
    spread = spreads_inputs(layer)
    if isinstance(inputs, Mapping):
        struct = dict(inputs)
        return layer.forward(**struct, **kwargs) if spread else layer.forward(
            struct, **kwargs)  # type: ignore[arg-type]
    if spread:
        return layer.forward(*inputs, **kwargs)
    return layer.forward(tuple(inputs), **kwargs)  # type: ignore[arg-type]


def input_gradients(layer: Layer, result: Any,
                    inputs: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
    """``backward``'s result as one entry per input member (in the inputs' order).

    ``result`` is a dict (by the inputs' keys) or a tuple in the inputs' order; a tuple
    may stop before trailing non-floating members (masks passed as keywords) and may
    end with ``None`` entries (an attention layer's ``d_value`` when ``value`` was
    omitted). A single array is the gradient of a single member.
    """
    keys: list[Any] = list(inputs) if isinstance(inputs, Mapping) else list(range(len(inputs)))
    members = [inputs[k] for k in keys] if isinstance(inputs, Mapping) else list(inputs)
    name = type(layer).__name__
    if isinstance(result, Mapping):
        return [result.get(k) for k in keys]
    if isinstance(result, (tuple, list)):
        grads = list(result[:len(members)])
        if any(r is not None for r in result[len(members):]) or any(
                _is_float(a) for a in members[len(grads):]):
            raise TypeError(f"{name}.backward returned {len(result)} gradients for "
                            f"{len(members)} inputs")
        return grads + [None] * (len(members) - len(grads))
    if len(members) == 1:
        return [result]
    raise TypeError(f"{name}.backward must return one gradient per input (a tuple or "
                    f"dict), got {type(result).__name__}")


def _setup_multi(layer: Layer, inputs: Sequence[Any] | Mapping[str, Any],
                 rng: np.random.Generator, kwargs: dict[str, Any]) -> _Setup:
    """A layer of several inputs: every floating member is perturbed, the rest passed."""
    spread = spreads_inputs(layer)
    keys: list[Any] = list(inputs) if isinstance(inputs, Mapping) else list(range(len(inputs)))
    given = [inputs[k] for k in keys] if isinstance(inputs, Mapping) else list(inputs)
    members = [np.array(a, copy=True, order="C") if isinstance(a, np.ndarray) else a
               for a in given]  # C order: perturbed in place through a flat view
    struct: Any = (dict(zip(keys, members, strict=True)) if isinstance(inputs, Mapping)
                   else tuple(members))  # the same arrays, perturbed in place
    if spread and not isinstance(inputs, Mapping):
        names = [n for n, p in inspect.signature(layer.forward).parameters.items()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        labels = [names[i] if i < len(names) else f"x[{i}]" for i in keys]
    else:
        labels = [str(k) if spread else f"x[{k!r}]" for k in keys]
    for label, a in zip(labels, members, strict=True):
        if _is_float(a):
            _require_float64(label, a)

    def outputs() -> list[Any]:
        out = forward_inputs(layer, struct, **kwargs)
        return list(out) if isinstance(out, (tuple, list)) else [out]

    first = outputs()
    if not any(_is_float(o) for o in first):
        raise TypeError(f"{type(layer).__name__}.forward returned no floating array")
    upstream = [rng.standard_normal(o.shape) if _is_float(o) else None for o in first]

    def terms(absolute: bool = False) -> float:
        total = 0.0
        for o, g in zip(outputs(), upstream, strict=True):
            if g is not None:
                total += float(np.sum(np.abs(o * g)) if absolute else np.sum(o * g))
        return total

    def analytic() -> dict[str, np.ndarray]:
        forward_inputs(layer, struct, **kwargs)
        backward: Any = layer.backward
        result = backward(*upstream) if len(upstream) > 1 else backward(upstream[0])
        grads = input_gradients(layer, result, struct)
        return {label: np.zeros_like(a) if g is None else g
                for label, a, g in zip(labels, members, grads, strict=True) if _is_float(a)}

    arrays = [(label, a) for label, a in zip(labels, members, strict=True) if _is_float(a)]
    return repr(layer), terms, lambda: terms(absolute=True), analytic, arrays


# --------------------------------------------------------------------------- targets
def _layer_input(layer: Any, rng: np.random.Generator) -> np.ndarray:
    first = getattr(layer, "layers", None)
    if first:
        return _layer_input(first[0], rng)
    if hasattr(layer, "input_size"):
        return rng.uniform(-2, 2, (3, 5, int(layer.input_size)))
    if hasattr(layer, "in_features"):
        return rng.uniform(-2, 2, (3, 4, int(layer.in_features)))
    return rng.uniform(-2, 2, (3, 5, 4))


def gradcheck_target(
    obj: Any, *, seed: int = 0, tolerance: float = DEFAULT_TOLERANCE
) -> list[tuple[str, GradcheckReport]]:
    """Gradient-check a class or instance the way ``minirnn gradcheck`` does.

    Parameters
    ----------
    obj : Cell subclass, Layer subclass, Loss subclass, an instance of one, or a
        zero-argument function returning an instance.
        A Cell class is checked alone (one step, ``cls(3, 4)``) and inside a
        2-layer bidirectional :class:`~minirnn.layers.Recurrent` with
        variable lengths. A Layer class is built with ``cls()`` or
        ``cls(3, 4)``. Everything is converted to float64.

    Returns
    -------
    list of (label, GradcheckReport)
    """
    from minirnn.nn.layers.recurrent import Recurrent
    from minirnn.nn.losses.classification import CrossEntropy

    rng = np.random.default_rng(seed)
    if isinstance(obj, type) and issubclass(obj, Cell):
        cell = obj(3, 4, rng=seed)
        layer = Recurrent(obj, 3, 4, num_layers=2, bidirectional=True, seed=seed)
        x = rng.uniform(-2, 2, (3, 5, 3))
        lengths = np.array([5, 2, 4])
        return [
            (" (one step)", gradcheck(cell, rng.uniform(-2, 2, (3, 3)), seed=seed,
                                      tolerance=tolerance, raise_on_failure=False)),
            (" (in Recurrent: 2 layers, bidirectional, lengths)",
             gradcheck(layer, x, seed=seed, tolerance=tolerance, raise_on_failure=False,
                       forward_kwargs={"lengths": lengths})),
        ]
    if isinstance(obj, type) and issubclass(obj, (Layer, Loss)):
        make: Any = obj
        try:
            instance = make()
        except TypeError:
            instance = make(3, 4)
        obj = instance
    elif callable(obj) and not isinstance(obj, (Layer, Cell, Loss)):
        obj = obj()
    if isinstance(obj, Cell):
        obj.astype(np.float64)
        return [("", gradcheck(obj, rng.uniform(-2, 2, (3, obj.input_size)), seed=seed,
                               tolerance=tolerance, raise_on_failure=False))]
    if isinstance(obj, Loss):
        pred = rng.uniform(-2, 2, (4, 5, 3))
        if isinstance(obj, CrossEntropy):
            target: np.ndarray = rng.integers(0, 3, (4, 5))
        else:
            target = rng.uniform(0, 1, pred.shape)
        return [("", gradcheck(obj, pred, target, rng.random((4, 5)) < 0.8, seed=seed,
                               tolerance=tolerance, raise_on_failure=False))]
    if isinstance(obj, Layer):
        obj.astype(np.float64)
        return [("", gradcheck(obj, _layer_input(obj, rng), seed=seed, tolerance=tolerance,
                               raise_on_failure=False))]
    raise TypeError(f"cannot gradient-check {obj!r}: expected a Cell, Layer or Loss "
                    "(class or instance) or a function returning one")


def builtin_gradcheck_targets() -> list[tuple[str, Any]]:
    """Every built-in cell, layer and loss, as (name, class or factory)."""
    from minirnn.nn import cells, layers, losses
    from minirnn.nn.model import Sequential

    def seq() -> Layer:
        return Sequential(layers.LSTM(3, 4, seed=0), layers.Tanh(), layers.LastStep(),
                          layers.Dense(4, 2, seed=0))

    def factory(make: Any) -> Any:
        return make

    return [
        ("RNNCell", cells.RNNCell),
        ("LSTMCell", cells.LSTMCell),
        ("GRUCell", cells.GRUCell),
        ("LSTMCell(proj_size=2)", factory(lambda: cells.LSTMCell(3, 4, proj_size=2, rng=0))),
        ("LSTMCell(peephole=True)", factory(lambda: cells.LSTMCell(3, 4, peephole=True, rng=0))),
        ("GRUCell(reset_after=False)",
         factory(lambda: cells.GRUCell(3, 4, reset_after=False, rng=0))),
        ("RNN(relu, 2 layers)", factory(lambda: layers.RNN(3, 4, num_layers=2,
                                                           nonlinearity="relu", seed=1))),
        ("LSTM(proj, peephole, bidirectional)",
         factory(lambda: layers.LSTM(3, 5, proj_size=2, peephole=True, bidirectional=True,
                                     seed=0))),
        ("GRU(reset_after=False, learned h0)",
         factory(lambda: layers.GRU(3, 4, reset_after=False, learn_initial_state=True,
                                    seed=0))),
        ("Dense", factory(lambda: layers.Dense(3, 4, seed=0))),
        ("Tanh", layers.Tanh), ("Sigmoid", layers.Sigmoid), ("LastStep", layers.LastStep),
        ("Sequential(LSTM, Tanh, LastStep, Dense)", seq),
        ("MSE", losses.MSE), ("L1", losses.L1), ("Huber", losses.Huber),
        ("BCEWithLogits", losses.BCEWithLogits), ("CrossEntropy", losses.CrossEntropy),
    ]
