"""Word vectors: file formats, built-in sets, embedding matrices, queries and evaluations.

* :mod:`~rnnlab.vectors.formats`: ``WordVectors``; GloVe / word2vec text and binary files.
* :mod:`~rnnlab.vectors.pretrained`: ``load_pretrained("glove-6b-50d")`` or a file path.
* :mod:`~rnnlab.vectors.matrix`: an embedding matrix for a tokenizer's vocabulary.
* :mod:`~rnnlab.vectors.queries`: similarity, nearest neighbours, analogies.
* :mod:`~rnnlab.vectors.evaluation`: analogy accuracy and word-pair correlation.

Everything the former modules ``rnnlab.vectors`` and ``rnnlab.embeddings`` exported is
importable from here.

Example:
    >>> wv = load_pretrained("glove-6b-50d")  # doctest: +SKIP
    >>> most_similar(wv, "paris", topn=1)  # doctest: +SKIP
    [('france', 0.80)]
"""

from rnnlab.vectors.evaluation import (
    AnalogyResult,
    PairsResult,
    evaluate_analogies,
    evaluate_vectors,
    evaluate_word_pairs,
    read_word_pairs,
    spearman,
)
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
from rnnlab.vectors.queries import METHODS, analogy, most_similar, similarity

__all__ = [
    "BUILTIN_VECTORS",
    "FORMATS",
    "INITS",
    "MAX_DIM",
    "METHODS",
    "ON_ERROR",
    "AnalogyResult",
    "CoverageReport",
    "LoadReport",
    "PairsResult",
    "WordVectors",
    "analogy",
    "build_embedding_matrix",
    "embedding_layer",
    "evaluate_analogies",
    "evaluate_vectors",
    "evaluate_word_pairs",
    "load_pretrained",
    "load_word_vectors",
    "most_similar",
    "read_word_pairs",
    "save_word_vectors",
    "similarity",
    "spearman",
]
