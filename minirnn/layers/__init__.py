"""Layers: the :class:`Layer` contract and every built-in layer."""

from minirnn.layers.activations import (
    Activation,
    Gompertz,
    Identity,
    Logistic,
    ReLU,
    Sigmoid,
    Tanh,
)
from minirnn.layers.base import Layer
from minirnn.layers.dense import Dense
from minirnn.layers.dropout import Dropout
from minirnn.layers.embedding import Embedding
from minirnn.layers.pooling import SequencePooling
from minirnn.layers.recurrent import GRU, LSTM, RNN, Recurrent
from minirnn.layers.sequence import LastStep

__all__ = [
    "GRU", "LSTM", "RNN", "Activation", "Dense", "Dropout", "Embedding", "Gompertz", "Identity",
    "LastStep", "Layer", "Logistic", "ReLU", "Recurrent", "SequencePooling", "Sigmoid", "Tanh",
]
