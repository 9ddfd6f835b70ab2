"""The :class:`Layer` contract: forward, backward, named parameters, state dicts."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from minirnn.nn.parameter import Parameter, ParameterOwner

__all__ = ["Layer", "grad_enabled", "no_grad"]

_grad_mode = threading.local()


@contextmanager
def no_grad() -> Iterator[None]:
    """Inference: forward passes inside the block store nothing for backward (as
    ``torch.no_grad``). Faster and lighter for prediction; ``backward`` after such a
    forward raises. Per thread; blocks nest.
    """
    before = getattr(_grad_mode, "disabled", False)
    _grad_mode.disabled = True
    try:
        yield
    finally:
        _grad_mode.disabled = before


def grad_enabled() -> bool:
    """False inside :func:`no_grad` (layers then keep no caches)."""
    return not getattr(_grad_mode, "disabled", False)


class Layer(ParameterOwner, ABC):
    """Base class of every layer and model.

    A subclass declares its parameters with :meth:`add_parameter` (and any
    sub-layers with :meth:`add_layer`), then writes :meth:`forward` and
    :meth:`backward`. Everything else -- optimizers, the Solver, save/load and
    :func:`minirnn.check.gradcheck` -- works through :meth:`named_parameters` and
    :meth:`state_dict` and needs nothing more.

    ``forward`` caches what ``backward`` needs (and nothing more); calling
    ``forward`` twice and then ``backward`` differentiates the second call.
    ``backward`` *adds* into each ``Parameter.grad``; call :meth:`zero_grad`
    between steps.
    """

    #: Whether ``forward`` takes ``lengths=`` (per-sequence valid steps); Sequential passes
    #: them only to such layers.
    accepts_lengths: bool = False

    def __init__(self) -> None:
        self._init_parameters()
        self._layers: dict[str, Layer] = {}

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Compute the output for input ``x`` and cache what backward needs."""

    @abstractmethod
    def backward(self, dy: np.ndarray) -> np.ndarray:
        """Given dL/dy for the last forward, accumulate parameter grads and return dL/dx."""

    def __call__(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        return self.forward(x, training=training)

    # ------------------------------------------------------------- registration
    def add_parameter(self, name: str, data: np.ndarray) -> Parameter:
        """Register ``data`` as a trainable parameter called ``name`` and return it."""
        self._check_new_name(name)
        return self.register_parameter(name, Parameter(data, name))

    def add_layer(self, name: str, layer: Layer) -> Layer:
        """Register a sub-layer whose parameters are reported as ``name.<param>``."""
        if not isinstance(layer, Layer):
            raise TypeError(f"add_layer expects a Layer, got {type(layer).__name__}")
        self._check_new_name(name)
        self._layers[name] = layer
        return layer

    def _children(self) -> dict[str, ParameterOwner]:
        return dict(self._layers)

    @property
    def dtype(self) -> np.dtype:
        """The floating dtype of the parameters (float64 for a layer without any)."""
        params = self.parameters()
        return params[0].dtype if params else np.dtype(np.float64)

    def astype(self, dtype: Any) -> Layer:
        """Convert every parameter to ``dtype`` (float32 or float64); returns ``self``."""
        self._on_dtype_change(self._convert_parameters(dtype))
        return self

    def _on_dtype_change(self, dtype: np.dtype) -> None:
        """Hook for layers that keep dtype-dependent state besides parameters."""
        for layer in self._layers.values():
            layer._on_dtype_change(dtype)

    # --------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, np.ndarray]:
        """Return a plain ``{qualified_name: copy of value}`` dict."""
        return {name: param.data.copy() for name, param in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Load values by name. Everything is checked before anything is written.

        Raises
        ------
        KeyError
            If a name is missing or unexpected.
        ValueError
            If a shape differs.
        """
        own = dict(self.named_parameters())
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(
                f"state dict does not match {type(self).__name__}: "
                f"missing {missing}, unexpected {unexpected}"
            )
        converted = {}
        for name, param in own.items():
            value = np.asarray(state[name])
            if value.shape != param.shape:
                raise ValueError(
                    f"state dict entry {name!r}: expected shape {param.shape}, got {value.shape}"
                )
            if not np.issubdtype(value.dtype, np.floating):
                raise TypeError(
                    f"state dict entry {name!r}: expected a floating array, got {value.dtype}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"state dict entry {name!r} contains NaN or Inf")
            converted[name] = value
        for name, param in own.items():
            param.data[...] = converted[name]

    def named_layers(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """Yield ``(qualified_name, layer)`` for every sub-layer, depth first."""
        for name, layer in self._layers.items():
            yield prefix + name, layer
            yield from layer.named_layers(prefix + name + ".")

    # ------------------------------------------------------ training protocol
    #: True for layers that carry a state from batch to batch (recurrent layers): they have
    #: ``stateful``, ``carried_state`` and ``reset_states()``, which stateful training and
    #: truncated BPTT drive.
    carries_state: bool = False

    def state_carriers(self) -> list[Any]:
        """This layer and its sub-layers that carry a state between batches."""
        layers = [self] + [layer for _, layer in self.named_layers()]
        return [layer for layer in layers if layer.carries_state]

    def named_generators(self, prefix: str = "") -> dict[str, np.random.Generator]:
        """Random generators that training draws from (dropout masks), by layer name.

        A layer that draws random numbers while training keeps its generator in ``_rng``;
        checkpoints save and restore these so a resumed run draws the same masks.
        """
        layers = [(prefix.rstrip(".") or "model", self)] + [
            (f"{prefix or 'model.'}{name}", layer) for name, layer in self.named_layers()]
        return {name: rng for name, layer in layers
                if isinstance(rng := getattr(layer, "_rng", None), np.random.Generator)}

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON values, so a model file can rebuild the layer.

        Built-in layers implement it; a custom layer that should be saved with
        :func:`minirnn.nn.io.save_model` implements it too and is registered with
        :func:`minirnn.nn.io.register_layer`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not implement get_config(); implement it (returning "
            "its constructor arguments) to save this layer in a model file"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
