"""minirnn: recurrent networks in numpy, with hand-written BPTT and checked gradients.

The abstractions live in their own modules and are re-exported here:
:class:`Parameter`, :class:`Layer`, :class:`Cell`, :class:`Optimizer`,
:class:`Loss`, plus :class:`Sequential` and :class:`Solver`, and :func:`load`
(``minirnn.load(path)`` reads a file written by ``model.save(path)``), and
:func:`no_grad` (inference without caches).

The code lives in the layers of docs/architecture.md (``nn`` <- ``train`` <- ``check`` <-
``apps`` <- ``cli``); this package root and the public modules beside it (``minirnn.layers``,
``minirnn.cells``, ...) only re-export.
"""

# Model classes defined outside minirnn.nn.layers register themselves for minirnn.load when
# imported: the text application's language model and the encoder-decoder.
import minirnn.apps.language_model
import minirnn.nn.seq2seq  # noqa: F401
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
