"""Old path of the word-vector files, built-in sets and embedding matrices, kept importable.

The code lives in :mod:`rnnlab.vectors` (:mod:`~rnnlab.vectors.formats`,
:mod:`~rnnlab.vectors.pretrained`, :mod:`~rnnlab.vectors.matrix`).
"""

from rnnlab.vectors.formats import (
    FORMATS,
    MAX_DIM,
    ON_ERROR,
    LoadReport,
    WordVectors,
    load_word_vectors,
    save_word_vectors,
)
from rnnlab.vectors.matrix import INITS, CoverageReport, build_embedding_matrix, embedding_layer
from rnnlab.vectors.pretrained import BUILTIN_VECTORS, load_pretrained

__all__ = [
    "BUILTIN_VECTORS",
    "FORMATS",
    "INITS",
    "MAX_DIM",
    "ON_ERROR",
    "CoverageReport",
    "LoadReport",
    "WordVectors",
    "build_embedding_matrix",
    "embedding_layer",
    "load_pretrained",
    "load_word_vectors",
    "save_word_vectors",
]
