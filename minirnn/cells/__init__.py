"""Recurrent cells: one step forward and backward each (see :class:`minirnn.Cell`)."""

from minirnn.cells.base import Cell, State
from minirnn.cells.gru import GRUCell
from minirnn.cells.lstm import LSTMCell
from minirnn.cells.rnn import RNNCell

__all__ = ["Cell", "GRUCell", "LSTMCell", "RNNCell", "State"]
