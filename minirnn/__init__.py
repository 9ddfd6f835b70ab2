"""minirnn: recurrent networks in numpy, with hand-written BPTT and checked gradients.

The abstractions live in their own modules and are re-exported here:
:class:`Parameter`, :class:`Layer`, :class:`Cell`, :class:`Optimizer`,
:class:`Loss`, plus :class:`Sequential` and :class:`Solver`, and :func:`load`
(``minirnn.load(path)`` reads a file written by ``model.save(path)``), and
:func:`no_grad` (inference without caches).
"""

from minirnn.cells.base import Cell
from minirnn.io import load_model as load
from minirnn.layers.base import Layer, no_grad
from minirnn.losses.base import Loss
from minirnn.model import Sequential
from minirnn.optim.base import Optimizer
from minirnn.parameter import Parameter
from minirnn.solver import Solver, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "Cell", "Layer", "Loss", "Optimizer", "Parameter", "Sequential", "Solver",
    "TrainingDivergedError", "__version__", "load", "no_grad",
]
