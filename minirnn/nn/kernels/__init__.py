"""The fused whole-sequence kernels of the built-in cells, and the switch that picks them.

A fused kernel computes exactly a built-in cell's step math over a whole sequence with
fewer numpy calls per step, a faster memory layout and only the BPTT minimum kept; the
readable per-step code stays in ``minirnn/nn/cells/`` and runs through the generic loop
of ``minirnn/nn/layers/bptt.py`` (the reference path). Modules:

- :mod:`~minirnn.nn.kernels.lstm`, :mod:`~minirnn.nn.kernels.gru`,
  :mod:`~minirnn.nn.kernels.rnn`: one kernel each (forward and backward);
- :mod:`~minirnn.nn.kernels.run`: the registry and one kernel call (batch split, work
  arrays, the cache);
- :mod:`~minirnn.nn.kernels.select`: ``kernel="auto" | "fused" | "reference" |
  "compiled"`` and :func:`use_kernel`;
- :mod:`~minirnn.nn.kernels.compiled`: the kernels with their step loops compiled by numba
  (the ``fast`` extra; ``"auto"`` runs them where numba is importable), one module each
  (:mod:`~minirnn.nn.kernels.compiled_lstm`, :mod:`~minirnn.nn.kernels.compiled_gru`,
  :mod:`~minirnn.nn.kernels.compiled_rnn`) over :mod:`~minirnn.nn.kernels.jit` (numba and
  the shared element-wise math); :func:`compiled_available` says whether they run here
  and why not; :mod:`~minirnn.nn.kernels.compiled_dtw` the classifier's DTW;
  :mod:`~minirnn.nn.kernels.compiled_beam` beam search's bookkeeping;
- :mod:`~minirnn.nn.kernels.chunks`, :mod:`~minirnn.nn.kernels.pool`,
  :mod:`~minirnn.nn.kernels.split`: chunks of steps, reusable work arrays, the batch split
  over threads.
"""

from minirnn.nn.kernels.run import KERNELS
from minirnn.nn.kernels.select import (
    MODES,
    compiled_available,
    kernel_name,
    unavailable,
    use_kernel,
)

__all__ = ["KERNELS", "MODES", "compiled_available", "kernel_name", "unavailable",
           "use_kernel"]
