"""rnnlab: recurrent sequence models and word embeddings on PyTorch.

The engine (cells, unrolling) is re-exported here; see the README for a tour.
"""

from rnnlab import errors
from rnnlab.cells import BasicRNNCell, GRUCell, LSTMCell, RNNCellBase, init_keras_
from rnnlab.convert import cells_from_torch
from rnnlab.rnn import (
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    reverse_sequence,
    stack_bidirectional_dynamic_rnn,
    static_rnn,
)
from rnnlab.wrappers import (
    DropoutWrapper,
    MultiRNNCell,
    OutputProjectionWrapper,
    ResidualWrapper,
    begin_sequence,
)

__version__ = "0.1.0"

__all__ = [
    "BasicRNNCell",
    "DropoutWrapper",
    "GRUCell",
    "LSTMCell",
    "MultiRNNCell",
    "OutputProjectionWrapper",
    "RNNCellBase",
    "ResidualWrapper",
    "__version__",
    "begin_sequence",
    "bidirectional_dynamic_rnn",
    "cells_from_torch",
    "dynamic_rnn",
    "errors",
    "init_keras_",
    "reverse_sequence",
    "stack_bidirectional_dynamic_rnn",
    "static_rnn",
]
