"""AntisymmetricRNN (Chang et al. 2019): an Euler step of a stable ODE.

The recurrent matrix is built from the weights once per sequence (:meth:`Cell.prepare`),
not at every step: the example of the per-sequence hook in docs/custom-cells.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirnn.nn._math import tanh
from minirnn.nn.cells.base import Cell, State

__all__ = ["AntisymmetricRNNCell"]


class AntisymmetricRNNCell(Cell):
    """``h_t = h_{t-1} + eps * tanh(x_t V^T + b + h_{t-1} A^T)``, ``A = W - W^T - gamma I``.

    Parameters
    ----------
    input_size, hidden_size, bias
        See :class:`minirnn.Cell`; ``weight_ih`` is V (H, D), ``bias_ih`` is b (H,).
    eps : float
        The Euler step size, > 0 (the paper's epsilon; 0.01 by default).
    gamma : float
        Diffusion, >= 0: ``-gamma I`` moves the eigenvalues of the antisymmetric
        ``W - W^T`` (on the imaginary axis) into the left half plane (0.01 by default).
    **kwargs
        dtype, rng and initializers (see :class:`minirnn.Cell`).

    Notes
    -----
    ``weight_hh`` is W (H, H); there is no ``bias_hh`` (it would duplicate ``b``). The
    matrix ``A`` is :attr:`prepared` once per sequence; the steps' gradients with respect
    to it are summed (``add_prepared_grad``) and mapped to W once per backward:
    ``dW = dA - dA^T`` (:meth:`prepare_backward`).
    """

    num_chunks = 1
    gate_names = ("h",)
    state_names = ("h",)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 eps: float = 0.01, gamma: float = 0.01, **kwargs: Any) -> None:
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not (
                np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps must be a finite float > 0, got {eps!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (
                np.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be a finite float >= 0, got {gamma!r}")
        self.eps = float(eps)
        self.gamma = float(gamma)
        super().__init__(input_size, hidden_size, bias, **kwargs)

    def create_recurrent_parameters(self) -> None:
        H = self.hidden_size
        self.weight_hh = self.add_parameter("weight_hh", (H, H))

    def prepare(self) -> np.ndarray:
        """``A = W - W^T - gamma I`` (H, H), once per sequence."""
        W = self.weight_hh.data
        A = W - W.T
        A[np.diag_indices_from(A)] -= self.gamma
        return A

    def prepare_backward(self, dprepared: np.ndarray) -> None:
        self.weight_hh.grad += dprepared - dprepared.T

    def project_hidden(self, h: np.ndarray) -> np.ndarray:
        return h @ self.prepared.T

    def project_hidden_backward(self, dhp: np.ndarray, h: np.ndarray) -> None:
        self.add_prepared_grad(dhp.T @ h)

    def hidden_input_grad(self, dhp: np.ndarray) -> np.ndarray:
        return dhp @ self.prepared

    def step(self, xp: np.ndarray, hp: np.ndarray, state: State) -> tuple[State, Any]:
        z = np.add(xp, hp, out=xp)
        tanh(z, out=z)
        h = state[0] + self.eps * z
        return (h,), z

    def step_backward(self, dstate: State, cache: Any) -> tuple[Any, Any, tuple[Any, ...]]:
        dh = dstate[0]
        dz = (self.eps * dh) * (1.0 - cache * cache)
        return dz, dz, (dh,)  # x and h enter through one sum; h_{t-1} also directly

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", eps={self.eps}, gamma={self.gamma})"
