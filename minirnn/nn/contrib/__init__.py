"""Research cells written against the public :class:`~minirnn.Cell` contract, one file each.

They are the worked examples of docs/custom-cells.md: :class:`IndRNNCell` (an elementwise
recurrence), :class:`MGUCell` (a recurrence through a gate), :class:`LayerNormLSTMCell`
(a normalised recurrence) and :class:`AntisymmetricRNNCell` (a recurrent matrix built once
per sequence by :meth:`~minirnn.Cell.prepare`). Use them with
:class:`minirnn.layers.Recurrent`.
"""

from minirnn.nn.contrib.antisymmetric import AntisymmetricRNNCell
from minirnn.nn.contrib.indrnn import IndRNNCell
from minirnn.nn.contrib.ln_lstm import LayerNormLSTMCell
from minirnn.nn.contrib.mgu import MGUCell

__all__ = ["AntisymmetricRNNCell", "IndRNNCell", "LayerNormLSTMCell", "MGUCell"]
