"""minirnn: recurrent networks in numpy, with hand-written BPTT and checked gradients.

The abstractions live in their own modules and are re-exported here:
:class:`Parameter`, :class:`Layer`, :class:`Cell`, :class:`Optimizer`,
:class:`Loss`, plus :class:`Sequential` and :class:`Solver`, and :func:`load`
(``minirnn.load(path)`` reads a file written by ``model.save(path)``), and
:func:`no_grad` (inference without caches).

The code lives in the layers of docs/architecture.md (``nn`` <- ``train`` <- ``check`` <-
``apps`` <- ``cli``); this package root and the public modules beside it (``minirnn.layers``,
``minirnn.cells``, ...) only re-export.

Start-up: every name here, and every public module beside it (``minirnn.layers``, ...), is
imported on first use (PEP 562), so ``import minirnn`` and ``minirnn --help`` stay fast and
``from minirnn import Solver`` loads only what a Solver needs (benchmarks/startup.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from minirnn.nn.cells.base import Cell
    from minirnn.nn.io import load_model as load
    from minirnn.nn.kernels.select import use_kernel
    from minirnn.nn.layers.base import Layer, no_grad
    from minirnn.nn.losses.base import Loss
    from minirnn.nn.model import Sequential
    from minirnn.nn.optim.base import Optimizer
    from minirnn.nn.parameter import Parameter
    from minirnn.nn.version import __version__
    from minirnn.train.solver import Solver, TrainingDivergedError

__all__ = [
    "Cell", "Layer", "Loss", "Optimizer", "Parameter", "Sequential", "Solver",
    "TrainingDivergedError", "__version__", "load", "no_grad", "use_kernel",
]

# Public name -> the module that defines it, imported when the name is first read.
_LAZY = {
    "Cell": "minirnn.nn.cells.base",
    "Layer": "minirnn.nn.layers.base",
    "Loss": "minirnn.nn.losses.base",
    "Optimizer": "minirnn.nn.optim.base",
    "Parameter": "minirnn.nn.parameter",
    "Sequential": "minirnn.nn.model",
    "Solver": "minirnn.train.solver",
    "TrainingDivergedError": "minirnn.train.solver",
    "no_grad": "minirnn.nn.layers.base",
    "use_kernel": "minirnn.nn.kernels.select",
    "__version__": "minirnn.nn.version",
}
# The public modules of this package (``minirnn.layers`` after a bare ``import minirnn``).
_SUBMODULES = frozenset({
    "apps", "callbacks", "cells", "check", "cli", "data", "estimators", "functional",
    "gradcheck", "layers", "losses", "nn", "optim", "testing", "train",
})
# Model classes defined outside minirnn.nn.layers register themselves for loading when their
# module is imported: the text application's language model and the encoder-decoder.
_MODEL_MODULES = ("minirnn.apps.language_model", "minirnn.nn.seq2seq")


def __getattr__(name: str) -> Any:
    """Import a public name (or module) of the package on first use (PEP 562)."""
    if name == "load":
        # minirnn.load is minirnn.nn.io.load_model; the modules whose model classes register
        # themselves for it are imported first, so their files load after ``import minirnn``.
        for module in _MODEL_MODULES:
            importlib.import_module(module)
        from minirnn.nn.io import load_model

        globals()["load"] = load_model
        return load_model
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later reads do not come here again
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names and modules, imported or not yet."""
    return sorted({*__all__, *_SUBMODULES})
