"""Hypothesis strategies and the layer/cell contract kit (real home: minirnn/check/testing.py).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.check.testing import (
    ContractCheck,
    ContractError,
    ContractReport,
    RecurrentShape,
    arrays_for,
    check_fused_kernel,
    check_layer,
    check_recurrence,
    recurrent_shapes,
    seeds,
    sequence_batches,
)

__all__ = [
    "ContractCheck",
    "ContractError",
    "ContractReport",
    "RecurrentShape",
    "arrays_for",
    "check_fused_kernel",
    "check_layer",
    "check_recurrence",
    "recurrent_shapes",
    "seeds",
    "sequence_batches",
]
