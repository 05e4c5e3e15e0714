"""The engine: cells (one step), wrappers (cells of cells), unrollers (the loop over time).

Layout, lowest first: :mod:`~rnnlab.nn.cells` and :mod:`~rnnlab.nn.wrappers` compute one
step; :mod:`~rnnlab.nn.unroll` owns the loop and picks a backend per call: the Python loop,
PyTorch's fused kernels (:mod:`~rnnlab.nn.fused`) or rnnlab's sequence kernels
(:mod:`~rnnlab.nn.lstm_kernel`, :mod:`~rnnlab.nn.rnn_kernel`, which share the length
planning of :mod:`~rnnlab.nn.lengths`). :mod:`~rnnlab.nn.convert` turns ``nn.RNN`` /
``nn.LSTM`` / ``nn.GRU`` into cells, and :mod:`~rnnlab.nn.losses` holds the sampled losses
for large vocabularies. This package imports nothing of rnnlab above ``rnnlab.errors``.

Example:
    >>> cell = rnnlab.nn.LSTMCell(3, 5)
    >>> outputs, (h, c) = rnnlab.nn.dynamic_rnn(cell, torch.zeros(4, 2, 3))
"""

from rnnlab.nn.cells import BasicRNNCell, FusedSpec, GRUCell, LSTMCell, RNNCellBase, init_keras_
from rnnlab.nn.convert import cells_from_torch
from rnnlab.nn.losses import (
    CandidateSample,
    log_uniform_candidate_sampler,
    nce_loss,
    sampled_softmax_loss,
    uniform_candidate_sampler,
    unigram_candidate_sampler,
)
from rnnlab.nn.lstm_kernel import lstm_sequence
from rnnlab.nn.rnn_kernel import rnn_sequence
from rnnlab.nn.unroll import (
    BACKENDS,
    bidirectional_dynamic_rnn,
    check_sequence_length,
    dynamic_rnn,
    resolve_backend,
    reverse_sequence,
    stack_bidirectional_dynamic_rnn,
    static_rnn,
)
from rnnlab.nn.wrappers import (
    DropoutWrapper,
    MultiRNNCell,
    OutputProjectionWrapper,
    ResidualWrapper,
    begin_sequence,
)

__all__ = [
    "BACKENDS",
    "BasicRNNCell",
    "CandidateSample",
    "DropoutWrapper",
    "FusedSpec",
    "GRUCell",
    "LSTMCell",
    "MultiRNNCell",
    "OutputProjectionWrapper",
    "RNNCellBase",
    "ResidualWrapper",
    "begin_sequence",
    "bidirectional_dynamic_rnn",
    "cells_from_torch",
    "check_sequence_length",
    "dynamic_rnn",
    "init_keras_",
    "log_uniform_candidate_sampler",
    "lstm_sequence",
    "nce_loss",
    "resolve_backend",
    "reverse_sequence",
    "rnn_sequence",
    "sampled_softmax_loss",
    "stack_bidirectional_dynamic_rnn",
    "static_rnn",
    "uniform_candidate_sampler",
    "unigram_candidate_sampler",
]
