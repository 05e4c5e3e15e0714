"""Hashed n-gram sets of token-id sequences, and the sparse products a linear model needs.

A text becomes the SET of its hashed n-grams (n = 1 .. ``ngrams``): each n-gram of word
ids is mixed into a 64-bit hash (the order ``n`` included, so the bigram (a, b) and the
trigram (a, b, c) never share a hash by construction) and reduced modulo ``buckets``.
Features are binary (a text holds the n-gram or not), as in Wang and Manning's NBSVM, so a
batch is a CSR pattern only: ``indptr`` (N + 1,) and sorted, distinct ``indices`` per row,
with no value array. The kernels are numba, compiled once and cached on disk.

    >>> rows = ngram_rows([[5, 6, 7], [5]], ngrams=2, buckets=1 << 20)
    >>> rows.indptr.tolist()
    [0, 5, 6]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from rnnlab.errors import ConfigError

__all__ = ["NgramRows", "column_sums", "flatten_sequences", "ngram_rows", "row_dot"]

_MIX = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio multiplier (Fibonacci hashing)


@dataclass(frozen=True)
class NgramRows:
    """A binary CSR pattern: row i holds columns ``indices[indptr[i]:indptr[i + 1]]``."""

    indptr: np.ndarray  # (N + 1,) int64
    indices: np.ndarray  # (nnz,) int64, sorted and distinct within each row
    buckets: int

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: np.ndarray) -> NgramRows:
        """The rows ``rows`` (in that order) as a new pattern."""
        rows = np.asarray(rows, np.int64)
        lengths = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.zeros(len(rows) + 1, np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return NgramRows(indptr, _gather(self.indptr, self.indices, rows, indptr), self.buckets)

    def remap(self, column_of: np.ndarray) -> NgramRows:
        """Columns renumbered by ``column_of`` (a bucket -> column table; -1 drops one)."""
        indptr, indices = _remap(self.indptr, self.indices, column_of)
        return NgramRows(indptr, indices, int(column_of.max(initial=-1)) + 1)


def flatten_sequences(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids int64, offsets (N + 1,) int64)``: the sequences one after another."""
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    offsets = np.zeros(len(seqs) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    ids = np.fromiter((t for s in seqs for t in s), np.int64, int(offsets[-1]))
    return ids, offsets


def ngram_rows(seqs, *, ngrams: int, buckets: int) -> NgramRows:
    """The hashed 1..``ngrams``-gram set of each sequence of word ids.

    Args:
        seqs: N sequences of int word ids (or ``(ids, offsets)`` from
            :func:`flatten_sequences`).
        ngrams: the longest n-gram (1: words only).
        buckets: the hash space.

    Returns:
        An :class:`NgramRows` with N rows.
    """
    if isinstance(ngrams, bool) or not isinstance(ngrams, int) or not 1 <= ngrams <= 8:
        raise ConfigError(f"ngrams={ngrams!r} must be an int in [1, 8]")
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise ConfigError(f"buckets={buckets!r} must be a positive int")
    ids, offsets = seqs if isinstance(seqs, tuple) else flatten_sequences(seqs)
    indptr, indices = _hash_rows(np.ascontiguousarray(ids, np.int64),
                                 np.ascontiguousarray(offsets, np.int64), ngrams, buckets)
    return NgramRows(indptr, indices, buckets)


@njit(cache=True, nogil=True)
def _hash_rows(ids, offsets, ngrams, buckets):
    n_rows = len(offsets) - 1
    indptr = np.zeros(n_rows + 1, np.int64)
    out = np.empty(len(ids) * ngrams, np.int64)
    scratch = np.empty(0, np.int64)
    at = 0
    for i in range(n_rows):
        lo, hi = offsets[i], offsets[i + 1]
        length = hi - lo
        need = length * ngrams
        if len(scratch) < need:
            scratch = np.empty(max(need, 2 * len(scratch)), np.int64)
        k = 0
        for s in range(lo, hi):
            h = np.uint64(0)
            for n in range(ngrams):
                if s + n >= hi:
                    break
                h = (h ^ np.uint64(ids[s + n] + 1)) * _MIX + np.uint64(n + 1)
                h ^= h >> np.uint64(29)
                scratch[k] = np.int64(h % np.uint64(buckets))
                k += 1
        row = np.sort(scratch[:k])
        prev = -1
        for v in row:
            if v != prev:
                out[at] = v
                at += 1
                prev = v
        indptr[i + 1] = at
    return indptr, out[:at].copy()


@njit(cache=True, nogil=True)
def _gather(indptr, indices, rows, new_indptr):
    out = np.empty(new_indptr[-1], np.int64)
    for k in range(len(rows)):
        r = rows[k]
        out[new_indptr[k]:new_indptr[k + 1]] = indices[indptr[r]:indptr[r + 1]]
    return out


@njit(cache=True, nogil=True)
def _remap(indptr, indices, column_of):
    out = np.empty(len(indices), np.int64)
    new_indptr = np.zeros(len(indptr), np.int64)
    at = 0
    for i in range(len(indptr) - 1):
        for p in range(indptr[i], indptr[i + 1]):
            c = column_of[indices[p]]
            if c >= 0:
                out[at] = c
                at += 1
        new_indptr[i + 1] = at
    return new_indptr, out[:at].copy()


@njit(cache=True, nogil=True)
def row_dot(indptr, indices, weights):
    """(N, C) float64: each row's sum of ``weights[column]`` ((columns, C) float)."""
    n_rows, n_out = len(indptr) - 1, weights.shape[1]
    z = np.zeros((n_rows, n_out), np.float64)
    for i in range(n_rows):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for c in range(n_out):
                z[i, c] += weights[j, c]
    return z


@njit(cache=True, nogil=True)
def column_sums(indptr, indices, row_values, n_columns):
    """(n_columns, C) float64: for each column, the sum of ``row_values`` of its rows."""
    n_out = row_values.shape[1]
    g = np.zeros((n_columns, n_out), np.float64)
    for i in range(len(indptr) - 1):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            for c in range(n_out):
                g[j, c] += row_values[i, c]
    return g
