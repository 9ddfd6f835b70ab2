"""Weight initializers. Each fills an existing array in place."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["uniform_hidden", "uniform_fan_in", "zeros"]


def uniform_hidden(array: np.ndarray, hidden_size: int, rng: np.random.Generator) -> None:
    """PyTorch's RNN default: U(-1/sqrt(H), 1/sqrt(H)) for weights and biases alike."""
    bound = 1.0 / math.sqrt(hidden_size)
    array[...] = rng.uniform(-bound, bound, size=array.shape)


def uniform_fan_in(array: np.ndarray, fan_in: int, rng: np.random.Generator) -> None:
    """PyTorch's Linear default (kaiming_uniform with a=sqrt(5)): U(-1/sqrt(fan_in), ...)."""
    bound = 1.0 / math.sqrt(fan_in)
    array[...] = rng.uniform(-bound, bound, size=array.shape)


def zeros(array: np.ndarray) -> None:
    """Fill with zeros."""
    array[...] = 0
