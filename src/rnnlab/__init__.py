"""rnnlab: recurrent sequence models and word embeddings on PyTorch.

The engine (cells, unrolling) is re-exported here; see the README for a tour.
"""

from rnnlab import errors
from rnnlab import report as _report  # noqa: F401  (train_run then writes report and card)
from rnnlab.data.images import DATASETS, load_image_dataset
from rnnlab.models.classifier import BNMLP, BNMLPConfig, ClassifierConfig, SequenceClassifier
from rnnlab.models.text import TextClassifier, TextModelConfig
from rnnlab.nn.cells import BasicRNNCell, GRUCell, LSTMCell, RNNCellBase, init_keras_
from rnnlab.nn.convert import cells_from_torch
from rnnlab.nn.losses import nce_loss, sampled_softmax_loss
from rnnlab.nn.unroll import (
    bidirectional_dynamic_rnn,
    dynamic_rnn,
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
from rnnlab.tasks.base import register_task
from rnnlab.tasks.runner import load_run
from rnnlab.text import Tokenizer, pad_sequences
from rnnlab.training import Callback, FitConfig, History, TqdmProgress, accuracy, evaluate, fit
from rnnlab.training.checkpoint_file import Checkpoint, load_checkpoint, save_checkpoint
from rnnlab.training.runfolder import RunDir
from rnnlab.training.runtime import resolve_device, seed_everything
from rnnlab.vectors import (
    WordVectors,
    analogy,
    build_embedding_matrix,
    embedding_layer,
    evaluate_analogies,
    evaluate_word_pairs,
    load_pretrained,
    load_word_vectors,
    most_similar,
    save_word_vectors,
)
from rnnlab.word2vec import Word2VecConfig, train_word2vec

__version__ = "0.1.0"

__all__ = [
    "BNMLP",
    "DATASETS",
    "BNMLPConfig",
    "BasicRNNCell",
    "Callback",
    "Checkpoint",
    "ClassifierConfig",
    "DropoutWrapper",
    "FitConfig",
    "GRUCell",
    "History",
    "LSTMCell",
    "MultiRNNCell",
    "OutputProjectionWrapper",
    "RNNCellBase",
    "ResidualWrapper",
    "RunDir",
    "SequenceClassifier",
    "TextClassifier",
    "TextModelConfig",
    "Tokenizer",
    "TqdmProgress",
    "Word2VecConfig",
    "WordVectors",
    "__version__",
    "accuracy",
    "analogy",
    "begin_sequence",
    "bidirectional_dynamic_rnn",
    "build_embedding_matrix",
    "cells_from_torch",
    "dynamic_rnn",
    "embedding_layer",
    "errors",
    "evaluate",
    "evaluate_analogies",
    "evaluate_word_pairs",
    "fit",
    "init_keras_",
    "load_checkpoint",
    "load_image_dataset",
    "load_pretrained",
    "load_run",
    "load_word_vectors",
    "most_similar",
    "nce_loss",
    "pad_sequences",
    "register_task",
    "resolve_device",
    "reverse_sequence",
    "sampled_softmax_loss",
    "save_checkpoint",
    "save_word_vectors",
    "seed_everything",
    "stack_bidirectional_dynamic_rnn",
    "static_rnn",
    "train_word2vec",
]
