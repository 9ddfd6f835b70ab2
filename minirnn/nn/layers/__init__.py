"""Layers: the :class:`Layer` contract and every built-in layer."""

from minirnn.nn.layers.activations import (
    Activation,
    Gompertz,
    Identity,
    Logistic,
    ReLU,
    Sigmoid,
    Tanh,
)
from minirnn.nn.layers.attention import (
    AdditiveAttention,
    DotAttention,
    GeneralAttention,
    MultiheadAttention,
    ScaledDotProductAttention,
)
from minirnn.nn.layers.base import Layer
from minirnn.nn.layers.dense import Dense
from minirnn.nn.layers.dropout import Dropout
from minirnn.nn.layers.embedding import Embedding
from minirnn.nn.layers.pooling import SequencePooling
from minirnn.nn.layers.recurrent import GRU, LSTM, RNN, Recurrent
from minirnn.nn.layers.sequence import LastStep

__all__ = [
    "AdditiveAttention", "DotAttention", "GeneralAttention", "MultiheadAttention",
    "ScaledDotProductAttention",
    "GRU", "LSTM", "RNN", "Activation", "Dense", "Dropout", "Embedding", "Gompertz", "Identity",
    "LastStep", "Layer", "Logistic", "ReLU", "Recurrent", "SequencePooling", "Sigmoid", "Tanh",
]
