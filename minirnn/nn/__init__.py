"""minirnn.nn: the framework (parameters, layers, cells, kernels, losses, optimizers, the
model and its files); it imports nothing of the other layers.

:class:`~minirnn.nn.model.Sequential` registers itself for model files where it is defined,
so it is imported with the package: whatever part of ``minirnn.nn`` a program uses,
:func:`minirnn.nn.io.load_model` reads the Sequential files models are saved as (the package
root ``minirnn`` imports nothing until a name is used, so ``minirnn --help`` stays light).
"""

from minirnn.nn import model as _model  # noqa: F401  (registers Sequential)
