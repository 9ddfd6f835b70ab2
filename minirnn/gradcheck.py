"""Numerical gradient checks (real home: minirnn/check/gradcheck.py).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.check.gradcheck import (
    GradcheckError,
    GradcheckReport,
    GradientComparison,
    gradcheck,
    numerical_gradient,
)

__all__ = [
    "GradcheckError",
    "GradcheckReport",
    "GradientComparison",
    "gradcheck",
    "numerical_gradient",
]
