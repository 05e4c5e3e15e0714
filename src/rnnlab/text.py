"""Text to integer sequences: the Keras legacy ``Tokenizer`` and ``pad_sequences``.

The semantics are those of ``keras.preprocessing.text.Tokenizer`` (keras-preprocessing
1.1), which Keras 3 dropped and the notebook relies on:

- a text is lower-cased (``lower``), every character of ``filters`` becomes ``split``, and
  the text is cut on ``split``; empty pieces are dropped. With ``char_level`` each
  character (after lower-casing, no filtering) is a token. A text may also be a list of
  tokens, used as is (lower-cased).
- ``fit_on_texts`` counts tokens (``word_counts``, in order of first appearance) and
  documents (``word_docs``); ``word_index`` ranks words by count, ties in order of first
  appearance, from 1 (0 is reserved for padding). With ``oov_token`` that token is rank 1.
- ``num_words`` does not shrink ``word_index``: it only makes ``texts_to_sequences`` and the
  matrices keep indices ``< num_words``, i.e. the ``num_words - 1`` most frequent words;
  the others are dropped, or become the ``oov_token``'s index.

Speed: no Python code runs per word, and no Python object is made per token but the
output lists' references. Texts go through in chunks of up to ``_CHUNK`` texts, joined
into one UTF-8 buffer with the byte 0xFF (never in UTF-8) after each text; only texts
outside ASCII are lower-cased one by one (``str.lower``), the rest of ``_tokens``' steps
run once per chunk (``bytes.lower``, ``bytes.replace`` for ``remove``, one
``bytes.translate`` that lower-cases ASCII and maps the filters to ``split``). A numba
kernel (``rnnlab._text_kernels``) then cuts the buffer into words (and on Unicode white
space when ``split`` is None) and interns each word's bytes in a hash table, counting
words and documents (``word_docs`` thus costs nothing extra), or looks the words up in a
table of the word index. Token lists, ``char_level`` and filters or ``split`` outside
ASCII are cut in Python (``_tokens``) and handed to the same kernel as a buffer of tokens
with their limits marked::

    scan mode:  b"the cat sat\\xffa dog\\xff"          (delimiters cut, 0xFF ends a text)
    list mode:  b"\\xfethe\\xfecat\\xff\\xfe\\xff\\xff"  (0xFE starts a token, even an empty one)

The sequences' ints are the word index's own int objects (through an object array), as
with lists built from a dict. ``fit_on_texts_to_sequences`` tokenizes only once. The first
call in a process loads the compiled kernel from numba's disk cache (about 0.5 s; a few
seconds to compile it the very first time).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby, islice
from pathlib import Path

import numpy as np

from rnnlab._text_kernels import (
    ENC,
    LIST_DELIM,
    MODE_COUNT,
    MODE_IDS,
    MODE_LOOKUP,
    Interner,
    Lookup,
    cyclic_gc_paused,
    scan_delim,
    to_lists,
)
from rnnlab.errors import ConfigError, DataError, choice_error

__all__ = ["KERAS_FILTERS", "MATRIX_MODES", "Tokenizer", "pad_sequences"]

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")
_ASCII_WS = b" \t\n\r\x0b\x0c"  # what bytes.split() cuts on
# what str.split() also cuts on: \x1c-\x1f go into the byte table, the rest is replaced
_UNICODE_WS = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_CHUNK = 2000  # texts per chunk handed to the kernel
_CHUNK_BYTES = 1 << 23  # ... or fewer, once their bytes reach this


class Tokenizer:
    """Turn texts into sequences of word indices, exactly as Keras' legacy Tokenizer.

    Args:
        num_words: keep the ``num_words - 1`` most frequent words when indexing (None: all).
        filters: characters replaced by ``split`` before cutting (Keras' default).
        lower: lower-case texts first.
        split: the separator to cut texts on; None cuts on any run of white space, as
            ``str.split()`` (an rnnlab extension; the filters then become spaces).
        char_level: every character is a token.
        oov_token: if given, index 1, and replaces out-of-vocabulary words when indexing.
        document_count: start value of the count of fitted texts.
        remove: substrings replaced by ``split`` before filtering, e.g. ``("<br />",)`` for
            IMDB reviews (an rnnlab extension; empty by default, as in Keras).

    Example:
        >>> tok = Tokenizer(num_words=3)
        >>> tok.fit_on_texts(["the cat", "the dog"])
        >>> tok.word_index, tok.texts_to_sequences(["the dog cat"])
        ({'the': 1, 'cat': 2, 'dog': 3}, [[1, 2]])
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = KERAS_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        document_count: int = 0,
        remove: Sequence[str] = (),
    ):
        if num_words is not None and (isinstance(num_words, bool) or int(num_words) < 1):
            raise ConfigError(f"num_words={num_words!r} must be None or an integer >= 1")
        if split is not None and (not isinstance(split, str) or not split):
            raise ConfigError(f"split={split!r} must be a non-empty string or None")
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters or ""
        self.lower = bool(lower)
        self.split = split
        self.char_level = bool(char_level)
        self.oov_token = oov_token
        self.document_count = int(document_count)
        self.remove = tuple(remove)
        if not all(isinstance(r, str) for r in self.remove):
            raise ConfigError(f"remove={remove!r} must be a sequence of strings")
        self.word_counts: dict[str, int] = {}
        self.word_docs: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: dict[int, int] = {}
        self._lookup_cache: Lookup | None = None
        self._setup()

    # ------------------------------------------------------------------ tokenizing

    def _setup(self) -> None:
        split = " " if self.split is None else self.split
        sep = split.encode("utf-8", ENC)
        fast = len(sep) == 1 and self.filters.isascii() and split.isascii()
        self._sep = sep
        self._str_table = str.maketrans({c: split for c in self.filters})
        if fast:
            frm = self.filters.encode()
            if self.split is None:
                frm += b"\x1c\x1d\x1e\x1f"
            self._byte_table = bytes.maketrans(frm, sep * len(frm))
            # other ASCII white space that survives filtering must not cut words
            self._other_ws = [bytes([b]) for b in _ASCII_WS if bytes([b]) != sep
                              and chr(b) not in self.filters]
            # the scan mode's table: lower-case ASCII, then filter (the chunk is bytes)
            low = bytes(range(256)).lower() if self.lower else bytes(range(256))
            self._scan_table = low.translate(self._byte_table)
            self._scan_delim = scan_delim(_ASCII_WS if self.split is None else sep,
                                          self.split is None)
            self._remove_bytes = [r.encode("utf-8", ENC) for r in self.remove]
        else:
            self._byte_table = None
        # bytes.replace of "" would differ from str.replace
        self._scan = fast and not self.char_level and all(self.remove)

    def _tokens(self, text) -> list[bytes]:
        """The tokens of one text as UTF-8 bytes, empty ones dropped."""
        if not isinstance(text, str):
            if not isinstance(text, list | tuple):
                raise ConfigError(f"a text must be a str or a list of str tokens, got "
                                  f"{type(text).__name__}")
            return [(w.lower() if self.lower else w).encode("utf-8", ENC) for w in text]
        if self.lower:
            text = text.lower()
        for s in self.remove:
            text = text.replace(s, self.split or " ")
        if self.char_level:
            return [c.encode("utf-8", ENC) for c in text]
        if self.split is None:
            if self._byte_table is None:
                return [w.encode("utf-8", ENC) for w in text.translate(self._str_table).split()]
            if not text.isascii():
                text = _UNICODE_WS.sub(" ", text)
            return text.encode("utf-8", ENC).translate(self._byte_table).split()
        if self._byte_table is None:
            return [w.encode("utf-8", ENC) for w in text.translate(self._str_table)
                    .split(self.split) if w]
        b = text.encode("utf-8", ENC).translate(self._byte_table)
        if self._sep == b" " and not any(ws in b for ws in self._other_ws):
            return b.split()  # same pieces as split(b" ") minus the empty ones, but faster
        return [w for w in b.split(self._sep) if w]

    def _chunks(self, texts: Iterable) -> Iterator[tuple[bool, bytes, int]]:
        """(list mode, buffer, number of texts) per chunk of texts, buffers as the kernel reads."""
        it = iter(texts)
        while batch := list(islice(it, _CHUNK)):
            yield from self._batch(batch)

    def _batch(self, batch: list) -> Iterator[tuple[bool, bytes, int]]:
        if not (self._scan and all(isinstance(t, str) for t in batch)):
            for scan, run in groupby(batch, lambda t: self._scan and isinstance(t, str)):
                yield from (self._batch if scan else self._list_batch)(list(run))
        elif len(batch) > 1 and sum(map(len, batch)) > _CHUNK_BYTES:
            half = len(batch) // 2
            yield from self._batch(batch[:half])
            yield from self._batch(batch[half:])
        else:
            yield False, self._scan_buffer(batch), len(batch)

    def _scan_buffer(self, batch: list[str]) -> bytes:
        """The texts as one buffer for the scan mode: ``_tokens`` up to the cutting.

        ``str.lower`` only for texts outside ASCII: ASCII letters are lower-cased for
        all texts at once, by ``bytes.lower`` or the translation table. Unicode white space
        is left to the kernel.
        """
        if self.lower:
            parts = [t.encode("utf-8", ENC) if t.isascii() else t.lower().encode("utf-8", ENC)
                     for t in batch]
        else:
            parts = [t.encode("utf-8", ENC) for t in batch]
        parts.append(b"")  # so that every text ends with 0xFF
        buf = b"\xff".join(parts)
        if self._remove_bytes:
            if self.lower:
                buf = buf.lower()  # removal sees lower-cased texts
            for r in self._remove_bytes:
                buf = buf.replace(r, self._sep)
        return buf.translate(self._scan_table)

    def _list_batch(self, batch: list) -> Iterator[tuple[bool, bytes, int]]:
        parts = [b"\xfe" + b"\xfe".join(toks) if toks else b""
                 for toks in map(self._tokens, batch)]
        parts.append(b"")
        yield True, b"\xff".join(parts), len(batch)

    def _delim(self, lists: bool) -> np.ndarray:
        return LIST_DELIM if lists else self._scan_delim

    # ------------------------------------------------------------------ fitting

    def _fit(self, texts: Iterable, keep: bool = False):
        """Count tokens; return the words by provisional id and (keep) each chunk's ids."""
        inter = Interner()
        chunks = []
        mode = MODE_IDS if keep else MODE_COUNT
        for lists, buf, n in self._chunks(texts):
            ids, ends = inter.feed(buf, n, lists, self._delim(lists), mode)
            if keep:
                chunks.append((ids.copy(), ends))  # a copy: out is sized for the worst case
        self.document_count += inter.n_docs
        words = inter.words()
        nw = len(words)
        wc, wd = self.word_counts, self.word_docs
        for w, c, d in zip(words, inter.counts[:nw].tolist(), inter.docs[:nw].tolist(),
                           strict=True):
            wc[w] = wc.get(w, 0) + c
            wd[w] = wd.get(w, 0) + d
        self._rebuild_index()
        return words, chunks

    def _rebuild_index(self) -> None:
        # Keras: stable sort by count, descending; the oov token first (and, if it also
        # occurs in the texts, its later rank wins in word_index, as in Keras)
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)
        vocab = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in ranked]
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1), strict=True))
        self.index_word = {i: w for w, i in self.word_index.items()}
        self.index_docs = {self.word_index[w]: c for w, c in self.word_docs.items()}
        self._lookup_cache = None

    def fit_on_texts(self, texts: Iterable[str | Sequence[str]]) -> None:
        """Update the counts and the word index with ``texts`` (strings or token lists)."""
        self._fit(texts)

    def fit_on_texts_to_sequences(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        """``fit_on_texts(texts)`` then ``texts_to_sequences(texts)``, tokenizing once.

        It keeps 4 bytes per token until the end (the output lists take 8).

        Returns:
            The same list of sequences the two calls return.
        """
        words, chunks = self._fit(texts, keep=True)
        lk = self._lookup()
        at = dict(zip(lk.table.words(), lk.values.tolist(), strict=True))
        # provisional word id -> place in lk.ints (-1: dropped)
        remap = np.array([at.get(w, lk.oov) for w in words], np.int32)
        out: list[list[int]] = []
        chunks.reverse()
        with cyclic_gc_paused():
            while chunks:
                ids, ends = chunks.pop()
                vals = remap[ids]
                keep = vals >= 0
                if not keep.all():
                    ends = np.concatenate([[0], np.cumsum(keep)])[ends]
                    vals = vals[keep]
                out += to_lists(lk.ints, vals, ends)
        return out

    # ------------------------------------------------------------------ indexing

    def _oov_index(self) -> int | None:
        return None if self.oov_token is None else self.word_index.get(self.oov_token)

    def _lookup(self) -> Lookup:
        """The word index as the kernel reads it, cached per vocabulary and settings."""
        key = (id(self.word_index), len(self.word_index), self.num_words, self.oov_token)
        if self._lookup_cache is None or self._lookup_cache.key != key:
            self._lookup_cache = Lookup(key, self.word_index, self.num_words,
                                         self._oov_index())
        return self._lookup_cache

    def texts_to_sequences(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        """Each text as the list of its words' indices (see the module docstring).

        Returns:
            A list with one list of ints per text.
        """
        lk = self._lookup()
        out: list[list[int]] = []
        with cyclic_gc_paused():
            for lists, buf, n in self._chunks(texts):
                vals, ends = lk.table.feed(buf, n, lists, self._delim(lists), MODE_LOOKUP,
                                           lk.values, lk.oov)
                out += to_lists(lk.ints, vals, ends)
        return out

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """Map indices back to words joined by spaces (Keras' rules for num_words and oov)."""
        n, oov = self.num_words, self._oov_index()
        out = []
        for seq in sequences:
            words = []
            for i in seq:
                w = self.index_word.get(int(i))
                if w is not None:
                    if n and i >= n:
                        if oov is not None:
                            words.append(self.index_word[oov])
                    else:
                        words.append(w)
                elif oov is not None:
                    words.append(self.index_word[oov])
            out.append(" ".join(words))
        return out

    def texts_to_matrix(self, texts: Iterable[str], mode: str = "binary") -> np.ndarray:
        """(N, num_words) float64 bag-of-words matrix: "binary", "count", "tfidf" or "freq"."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Sequence[Sequence[int]], mode: str = "binary"):
        """Keras' matrix of index sequences.

        tfidf is Keras' formula ``(1 + log(c)) * log(1 + N / (1 + df))`` with ``c`` the count
        in the text, ``N`` the ``document_count`` and ``df`` the word's document count; freq
        is ``c / len(sequence)``.

        Returns:
            (len(sequences), num_words) float64.
        """
        if mode not in MATRIX_MODES:
            raise choice_error("mode", mode, MATRIX_MODES)
        n = self.num_words
        if not n:
            if not self.word_index:
                raise ConfigError("set num_words or fit the tokenizer before making a matrix")
            n = len(self.word_index) + 1
        if mode == "tfidf" and not self.document_count:
            raise ConfigError("fit the tokenizer on some texts before using mode='tfidf'")
        x = np.zeros((len(sequences), n))
        for row, seq in enumerate(sequences):
            if not len(seq):
                continue
            c = Counter(j for j in seq if j < n)
            if not c:
                continue
            cols = np.fromiter(c.keys(), np.int64, len(c))
            vals = np.fromiter(c.values(), np.float64, len(c))
            if mode == "count":
                x[row, cols] = vals
            elif mode == "freq":
                x[row, cols] = vals / len(seq)
            elif mode == "binary":
                x[row, cols] = 1.0
            else:
                df = np.fromiter((self.index_docs.get(j, 0) for j in c), np.float64, len(c))
                x[row, cols] = (1.0 + np.log(vals)) * np.log(1.0 + self.document_count
                                                            / (1.0 + df))
        return x

    # ------------------------------------------------------------------ JSON

    def get_config(self) -> dict:
        """Keras' ``get_config``: the settings and the fitted dicts as JSON strings."""
        cfg = {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }
        if self.remove:
            cfg["remove"] = list(self.remove)  # only then: Keras would reject the key
        return cfg

    def to_json(self, **kwargs) -> str:
        """The tokenizer as JSON in Keras' ``tokenizer_to_json`` layout."""
        return json.dumps({"class_name": "Tokenizer", "config": self.get_config()}, **kwargs)

    @classmethod
    def from_json(cls, text: str) -> Tokenizer:
        """Rebuild a tokenizer from ``to_json`` output (or Keras' ``tokenizer.to_json()``)."""
        try:
            cfg = dict(json.loads(text)["config"])
            loaded = {k: json.loads(cfg.pop(k)) for k in
                      ("word_counts", "word_docs", "index_docs", "index_word", "word_index")}
            tok = cls(**cfg)
            tok.word_counts = {str(k): int(v) for k, v in loaded["word_counts"].items()}
            tok.word_docs = {str(k): int(v) for k, v in loaded["word_docs"].items()}
            tok.word_index = {str(k): int(v) for k, v in loaded["word_index"].items()}
            tok.index_word = {int(k): str(v) for k, v in loaded["index_word"].items()}
            tok.index_docs = {int(k): int(v) for k, v in loaded["index_docs"].items()}
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            if isinstance(e, ConfigError):
                raise DataError(f"tokenizer JSON has a bad setting: {e}") from e
            raise DataError(f"not a tokenizer JSON document: {type(e).__name__}: {e}") from e
        return tok

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``to_json()`` to ``path`` atomically."""
        from rnnlab._fs import atomic_write_bytes

        return atomic_write_bytes(path, self.to_json().encode("utf-8", ENC))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by ``save`` (or Keras' ``to_json``)."""
        try:
            text = Path(path).read_bytes().decode("utf-8", ENC)
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: bad UTF-8 at byte {e.start}") from e
        try:
            return cls.from_json(text)
        except DataError as e:
            raise DataError(f"{path}: {e}") from e


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    dtype="int32",
    padding: str = "pre",
    truncating: str = "pre",
    value=0,
) -> np.ndarray:
    """Pad (or cut) sequences to one length, as Keras' ``pad_sequences``.

    ::

        maxlen=4, [5, 6]           padding="pre"  -> [0, 0, 5, 6]   "post" -> [5, 6, 0, 0]
        maxlen=4, [1, 2, 3, 4, 5]  truncating="pre" -> [2, 3, 4, 5] "post" -> [1, 2, 3, 4]

    Args:
        sequences: N sequences of numbers.
        maxlen: output length T; default the longest sequence.
        dtype: numpy dtype of the result.
        padding: "pre" or "post": where the padding goes.
        truncating: "pre" or "post": which end of a long sequence is dropped.
        value: the padding value.

    Returns:
        (N, T) array.
    """
    if padding not in ("pre", "post"):
        raise choice_error("padding", padding, ("pre", "post"))
    if truncating not in ("pre", "post"):
        raise choice_error("truncating", truncating, ("pre", "post"))
    lengths = [len(s) for s in sequences]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    elif isinstance(maxlen, bool) or int(maxlen) < 0:
        raise ConfigError(f"maxlen={maxlen!r} must be None or an integer >= 0")
    maxlen = int(maxlen)
    out = np.full((len(lengths), maxlen), value, dtype=dtype)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        a = np.asarray(s, dtype=dtype)
        if a.ndim != 1:
            raise ConfigError(f"sequence {i} is not one-dimensional: shape {a.shape}")
        if padding == "post":
            out[i, : len(a)] = a
        else:
            out[i, maxlen - len(a):] = a
    return out
