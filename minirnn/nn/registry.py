"""The one registry of names: layer and cell classes for model files, and the short names
(``"lstm"``, ``"adam"``) that configurations, the task API and the CLI use.

Model files name classes (``"LSTM"``, ``"LSTMCell"``); loading builds only classes found
here, so a file cannot make the loader call arbitrary code. minirnn's own layers and cells
(including :mod:`minirnn.nn.contrib`) are registered on first use; a model class defined
elsewhere (:class:`~minirnn.Sequential`, the text application's ``LanguageModel``) registers
itself where it is defined, and a user's class with :func:`register_layer` /
:func:`register_cell` (both usable as class decorators).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from minirnn.nn.cells.base import Cell
from minirnn.nn.layers.base import Layer
from minirnn.nn.layers.recurrent import GRU, LSTM, RNN, Recurrent
from minirnn.nn.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "OPTIMIZERS", "RECURRENT_LAYERS", "cell_class", "cell_classes", "default_lr", "layer_class",
    "layer_classes", "make_optimizer", "recurrent_layer_class", "register_cell",
    "register_layer",
]

#: Short names of the recurrent layers (``--cell lstm``), as PyTorch's ``mode`` strings.
RECURRENT_LAYERS: Mapping[str, type[Recurrent]] = MappingProxyType(
    {"gru": GRU, "lstm": LSTM, "rnn": RNN})
#: Short names of the optimizers (``--optimizer adam``).
OPTIMIZERS: Mapping[str, type[Optimizer]] = MappingProxyType(
    {"adagrad": Adagrad, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "sgd": SGD})

_LAYERS: dict[str, type[Layer]] = {}
_CELLS: dict[str, type[Cell]] = {}
# One lock for both: the built-ins are added once, on first use, and a thread must never see
# a half-filled registry (or have its own registration lost).
_LOCK = threading.RLock()
_builtins_added = False


def _choose(kind: str, name: Any, table: Mapping[str, Any]) -> Any:
    if not isinstance(name, str) or name not in table:
        raise ValueError(f"{kind} must be one of {sorted(table)}, got {name!r}")
    return table[name]


def recurrent_layer_class(name: str) -> type[Recurrent]:
    """The recurrent layer class of a short name (``"lstm"`` -> :class:`LSTM`)."""
    cls: type[Recurrent] = _choose("cell", name, RECURRENT_LAYERS)
    return cls


def make_optimizer(name: str, params: Any, lr: float | None = None) -> Optimizer:
    """An optimizer by short name; ``lr=None`` keeps the optimizer's own default (as in
    PyTorch and Keras)."""
    cls = _choose("optimizer", name, OPTIMIZERS)
    optimizer: Optimizer = cls(params) if lr is None else cls(params, lr=lr)
    return optimizer


def default_lr(name: str) -> float:
    """The default learning rate of the optimizer called ``name``."""
    cls = _choose("optimizer", name, OPTIMIZERS)
    return float(inspect.signature(cls).parameters["lr"].default)


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Allow the layer class ``cls`` in model files, by its class name; usable as a decorator.

    Parameters
    ----------
    cls : type
        A :class:`~minirnn.Layer` subclass implementing ``get_config`` (its constructor
        arguments as JSON values). It replaces a class registered under the same name.

    Returns
    -------
    type
        ``cls`` itself, so ``@register_layer`` leaves the class unchanged.

    Notes
    -----
    Register the class in the program that saves *and* in the one that loads:
    :func:`~minirnn.nn.io.save_model` refuses a model naming an unregistered class (before
    writing anything), and loading builds only registered classes.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer expects a Layer subclass, got {cls!r}")
    with _LOCK:
        _LAYERS[cls.__name__] = cls
    return cls


def register_cell(cls: type[Cell]) -> type[Cell]:
    """Allow the cell class ``cls`` in saved ``Recurrent`` layers, by its class name; usable
    as a decorator.

    Parameters
    ----------
    cls : type
        A :class:`~minirnn.Cell` subclass. It replaces a class registered under the same
        name (minirnn's own cells, including :mod:`minirnn.nn.contrib`, are registered
        already).

    Returns
    -------
    type
        ``cls`` itself, so ``@register_cell`` leaves the class unchanged.

    Notes
    -----
    A ``Recurrent(MyCell, ...)`` layer's file names ``"MyCell"``. Register the class in the
    program that saves *and* in the one that loads: :func:`~minirnn.nn.io.save_model`
    refuses a model whose cell class is not registered (before writing anything), and
    loading builds only registered classes.

    Examples
    --------
    >>> from minirnn import Cell
    >>> from minirnn.nn.registry import cell_class, register_cell
    >>> @register_cell
    ... class MyCell(Cell):
    ...     num_chunks, gate_names, state_names = 1, ("h",), ("h",)
    >>> cell_class("MyCell") is MyCell
    True
    """
    if not (isinstance(cls, type) and issubclass(cls, Cell)):
        raise TypeError(f"register_cell expects a Cell subclass, got {cls!r}")
    with _LOCK:
        _CELLS[cls.__name__] = cls
    return cls


def _add_builtins() -> None:
    """Add minirnn's own layers and cells once per process (thread-safe, idempotent).

    A user's registration may come first: it must not stop the built-ins from being added,
    and a built-in never replaces a user's class of the same name.
    """
    global _builtins_added
    if _builtins_added:
        return
    with _LOCK:
        if _builtins_added:
            return
        from minirnn.nn import cells, contrib, layers

        for name in layers.__all__:
            obj = getattr(layers, name)
            if isinstance(obj, type) and issubclass(obj, Layer) and obj not in (
                    Layer, layers.Activation):
                _LAYERS.setdefault(obj.__name__, obj)
        for module in (cells, contrib):
            for name in module.__all__:
                obj = getattr(module, name)
                if isinstance(obj, type) and issubclass(obj, Cell) and obj is not Cell:
                    _CELLS.setdefault(obj.__name__, obj)
        _builtins_added = True


def layer_classes() -> dict[str, type[Layer]]:
    """Every registered layer class by name (a copy)."""
    _add_builtins()
    with _LOCK:
        return dict(_LAYERS)


def cell_classes() -> dict[str, type[Cell]]:
    """Every registered cell class by name (a copy)."""
    _add_builtins()
    with _LOCK:
        return dict(_CELLS)


def layer_class(name: str) -> type[Layer] | None:
    """The registered layer class called ``name``, or None."""
    return layer_classes().get(name)


def cell_class(name: str) -> type[Cell] | None:
    """The registered cell class called ``name``, or None."""
    return cell_classes().get(name)
