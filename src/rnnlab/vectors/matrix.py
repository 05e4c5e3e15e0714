"""Embedding matrices from pre-trained vectors: row ``i`` holds the vector of word ``i``.

Keras' recipe: given a tokenizer's ``word_index`` (word -> index >= 1, 0 is padding) and
``WordVectors``, :func:`build_embedding_matrix` copies each known word's vector into its
row and reports the coverage; :func:`embedding_layer` wraps the matrix in ``nn.Embedding``::

    word_index  {"the": 1, "movie": 2, "zzyzx": 3}      matrix row 0  zeros (padding)
    vectors     the, movie (no zzyzx)           ->      row 1, 2      copied
                                                        row 3         drawn from ``init``
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, choice_error
from rnnlab.vectors.formats import WordVectors

__all__ = ["INITS", "CoverageReport", "build_embedding_matrix", "embedding_layer"]

log = logging.getLogger(__name__)

INITS = ("normal", "uniform", "zeros")
@dataclass(frozen=True)
class CoverageReport:
    """How much of a vocabulary the pre-trained vectors cover.

    ``token_coverage`` weights each word by its count (None without counts);
    ``top_missing`` lists the most frequent words without a vector (by index order when
    no counts are given).
    """

    vocab_size: int
    found: int
    token_coverage: float | None
    top_missing: tuple[str, ...]

    @property
    def word_coverage(self) -> float:
        return self.found / self.vocab_size if self.vocab_size else 0.0


def build_embedding_matrix(
    word_index: dict[str, int],
    wv: WordVectors,
    num_words: int | None = None,
    *,
    init: str = "normal",
    seed: int = 0,
    word_counts: dict[str, int] | None = None,
    lowercase_fallback: bool = False,
    top_missing: int = 20,
) -> tuple[np.ndarray, CoverageReport]:
    """Fill row ``i`` with the vector of the word whose index is ``i`` (Keras' recipe).

    Row 0 is padding and stays zero. Rows of words without a vector are drawn from
    ``init``: "normal" uses N(mean, std) of the pre-trained matrix per dimension (so they
    look like the found ones), "uniform" U(-a, a) with ``a`` the found vectors' std times
    sqrt(3), "zeros" leaves them zero (the notebook's choice). Words with index
    ``>= num_words`` are left out.

    Args:
        word_index: word -> index >= 1 (``Tokenizer.word_index``).
        wv: the pre-trained vectors.
        num_words: rows of the matrix; default ``max(word_index.values()) + 1``.
        init: "normal", "uniform" or "zeros" for missing rows.
        seed: seed of the generator for missing rows.
        word_counts: word -> count, for the token-weighted coverage.
        lowercase_fallback: also try ``word.lower()`` when the word itself is missing.
        top_missing: how many missing words to list.

    Returns:
        ``(matrix, report)``: (num_words, D) float32 and a ``CoverageReport``.

    Example:
        >>> m, rep = build_embedding_matrix(tok.word_index, wv, 10000)  # doctest: +SKIP
    """
    if init not in INITS:
        raise choice_error("init", init, INITS)
    if num_words is None:
        num_words = max(word_index.values(), default=0) + 1
    if num_words < 1:
        raise ConfigError(f"num_words={num_words} must be >= 1")
    index = wv.index()
    D = wv.dim
    rng = np.random.default_rng(seed)
    if init == "zeros" or len(wv) == 0:
        matrix = np.zeros((num_words, D), np.float32)
    elif init == "normal":
        mu, sd = wv.vectors.mean(0), wv.vectors.std(0)
        matrix = rng.normal(mu, sd, size=(num_words, D)).astype(np.float32)
    else:
        a = float(wv.vectors.std()) * math.sqrt(3.0)
        matrix = rng.uniform(-a, a, size=(num_words, D)).astype(np.float32)
    matrix[0] = 0.0
    found = 0
    missing: list[tuple[str, int]] = []
    in_vocab = [(w, i) for w, i in word_index.items() if 0 < i < num_words]
    total = hit = 0
    for w, i in in_vocab:
        row = index.get(w)
        if row is None and lowercase_fallback:
            row = index.get(w.lower())
        c = word_counts.get(w, 0) if word_counts is not None else 0
        total += c
        if row is None:
            missing.append((w, i))
            continue
        matrix[i] = wv.vectors[row]
        found += 1
        hit += c
    if word_counts is not None:
        missing.sort(key=lambda wi: (-word_counts.get(wi[0], 0), wi[1]))
    else:
        missing.sort(key=lambda wi: wi[1])
    report = CoverageReport(
        vocab_size=len(in_vocab),
        found=found,
        token_coverage=(hit / total if total else None) if word_counts is not None else None,
        top_missing=tuple(w for w, _ in missing[:top_missing]),
    )
    log.info("embedding matrix: %d of %d words found", found, len(in_vocab))
    return matrix, report


def embedding_layer(matrix: np.ndarray, freeze: bool = True):
    """An ``nn.Embedding`` initialised from ``matrix`` with ``padding_idx=0``.

    Args:
        matrix: (num_words, D) array or tensor.
        freeze: keep the weights fixed (``requires_grad=False``).

    Returns:
        ``torch.nn.Embedding`` of shape (num_words, D).
    """
    import torch

    weight = torch.as_tensor(np.asarray(matrix, dtype=np.float32))
    if weight.ndim != 2:
        raise ConfigError(f"matrix must be (num_words, D); got shape {tuple(weight.shape)}")
    return torch.nn.Embedding.from_pretrained(weight.clone(), freeze=freeze, padding_idx=0)
