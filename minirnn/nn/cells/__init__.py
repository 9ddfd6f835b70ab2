"""Recurrent cells: one step forward and backward each (see :class:`minirnn.Cell`)."""

from minirnn.nn.cells.base import Cell, State
from minirnn.nn.cells.gru import GRUCell
from minirnn.nn.cells.lstm import LSTMCell
from minirnn.nn.cells.rnn import RNNCell

__all__ = ["Cell", "GRUCell", "LSTMCell", "RNNCell", "State"]
