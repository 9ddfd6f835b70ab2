"""Layers: recurrent, dense, dropout, activations, pooling, embedding
(real home: minirnn/nn/layers/).

The public path of these names; the layered package holds the code
(docs/architecture.md).
"""
from minirnn.nn.layers import (
    GRU,
    LSTM,
    RNN,
    Activation,
    Dense,
    Dropout,
    Embedding,
    Gompertz,
    Identity,
    LastStep,
    Layer,
    Logistic,
    Recurrent,
    ReLU,
    SequencePooling,
    Sigmoid,
    Tanh,
)

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Embedding",
    "GRU",
    "Gompertz",
    "Identity",
    "LSTM",
    "LastStep",
    "Layer",
    "Logistic",
    "RNN",
    "ReLU",
    "Recurrent",
    "SequencePooling",
    "Sigmoid",
    "Tanh",
]
