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

Speed: each text is lower-cased, UTF-8 encoded and filtered with one ``bytes.translate``;
words are counted and looked up as bytes through C-level ``map``/``filter`` over dicts, so
no Python code runs per word. ``fit_on_texts_to_sequences`` tokenizes only once.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import count, repeat
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError, choice_error

__all__ = ["KERAS_FILTERS", "MATRIX_MODES", "Tokenizer", "pad_sequences"]

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")
_ASCII_WS = b" \t\n\r\x0b\x0c"  # what bytes.split() cuts on
# what str.split() also cuts on: \x1c-\x1f go into the byte table, the rest is replaced
_UNICODE_WS = re.compile("[\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_CHUNK = 1000  # texts per batch of document counting
_ENC = "surrogatepass"  # texts may hold lone surrogates; keep them round-trippable


@contextlib.contextmanager
def _cyclic_gc_paused():
    """Pause the cyclic garbage collector while building millions of small lists.

    The lists and ints made here hold no reference cycles, but each full collection
    would walk every one of them (about 15% of the time on IMDB); reference counting
    still frees memory as usual. The previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        self.word_counts: dict[str, int] = {}
        self.word_docs: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.index_docs: dict[int, int] = {}
        self._lookup_cache: tuple | None = None
        self._setup()

    # ------------------------------------------------------------------ tokenizing

    def _setup(self) -> None:
        split = " " if self.split is None else self.split
        sep = split.encode("utf-8", _ENC)
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
        else:
            self._byte_table = None

    def _tokens(self, text) -> list[bytes]:
        """The tokens of one text as UTF-8 bytes, empty ones dropped."""
        if not isinstance(text, str):
            if not isinstance(text, list | tuple):
                raise ConfigError(f"a text must be a str or a list of str tokens, got "
                                  f"{type(text).__name__}")
            return [(w.lower() if self.lower else w).encode("utf-8", _ENC) for w in text]
        if self.lower:
            text = text.lower()
        for s in self.remove:
            text = text.replace(s, self.split or " ")
        if self.char_level:
            return [c.encode("utf-8", _ENC) for c in text]
        if self.split is None:
            if self._byte_table is None:
                return [w.encode("utf-8", _ENC) for w in text.translate(self._str_table).split()]
            if not text.isascii():
                text = _UNICODE_WS.sub(" ", text)
            return text.encode("utf-8", _ENC).translate(self._byte_table).split()
        if self._byte_table is None:
            return [w.encode("utf-8", _ENC) for w in text.translate(self._str_table)
                    .split(self.split) if w]
        b = text.encode("utf-8", _ENC).translate(self._byte_table)
        if self._sep == b" " and not any(ws in b for ws in self._other_ws):
            return b.split()  # same pieces as split(b" ") minus the empty ones, but faster
        return [w for w in b.split(self._sep) if w]

    # ------------------------------------------------------------------ fitting

    def _fit(self, texts: Iterable, keep: bool = False) -> tuple[list[str], list[list[int]]]:
        """Count tokens; return the words by provisional id and (keep) each text's ids."""
        ids: defaultdict[bytes, int] = defaultdict(count().__next__)  # first appearance order
        get_id = ids.__getitem__
        counts = np.zeros(0, np.int64)
        docs = np.zeros(0, np.int64)
        buf: list[int] = []  # the provisional ids of up to _CHUNK texts, text after text
        lens: list[int] = []
        seqs: list[list[int]] = []
        n_texts = 0

        def flush():
            nonlocal counts, docs
            V, nb = len(ids), len(lens)
            a = np.fromiter(buf, np.int64, len(buf))
            # distinct (word, text) pairs by sorting packed keys; small chunks sort in cache
            keys = np.sort(a * nb + np.repeat(np.arange(nb, dtype=np.int64), lens))
            first = np.ones(len(keys), bool)
            first[1:] = keys[1:] != keys[:-1]
            counts = np.bincount(a, minlength=V) + np.pad(counts, (0, V - len(counts)))
            docs = np.bincount(keys[first] // max(nb, 1), minlength=V) + np.pad(
                docs, (0, V - len(docs)))
            buf.clear()
            lens.clear()

        with _cyclic_gc_paused():
            for text in texts:
                seq = list(map(get_id, self._tokens(text)))
                buf += seq  # list += list is a memcpy
                lens.append(len(seq))
                n_texts += 1
                if keep:
                    seqs.append(seq)
                if len(lens) == _CHUNK:
                    flush()
            flush()
        self.document_count += n_texts
        words = [w.decode("utf-8", _ENC) for w in ids]
        wc, wd = self.word_counts, self.word_docs
        for w, c, d in zip(words, counts.tolist(), docs.tolist(), strict=True):
            wc[w] = wc.get(w, 0) + c
            wd[w] = wd.get(w, 0) + d
        self._rebuild_index()
        return words, seqs

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

        Returns:
            The same list of sequences the two calls return.
        """
        words, seqs = self._fit(texts, keep=True)
        lk = self._lookup()[1]
        oov = self._oov_index()
        # provisional id -> final index (None: dropped); its ints are shared, not allocated
        remap = [lk.get(w.encode("utf-8", _ENC), oov) for w in words]
        get = remap.__getitem__
        with _cyclic_gc_paused():
            if oov is None:
                return [list(filter(None, map(get, s))) for s in seqs]
            return [list(map(get, s)) for s in seqs]

    # ------------------------------------------------------------------ indexing

    def _oov_index(self) -> int | None:
        return None if self.oov_token is None else self.word_index.get(self.oov_token)

    def _lookup(self) -> tuple:
        """(key, dict of token bytes -> index kept under num_words), cached per vocabulary."""
        key = (id(self.word_index), len(self.word_index), self.num_words, self.oov_token)
        if self._lookup_cache is None or self._lookup_cache[0] != key:
            n = self.num_words
            lk = {w.encode("utf-8", _ENC): i for w, i in self.word_index.items()
                  if n is None or i < n}
            # words past num_words are absent: they map to the oov index like unknown ones
            self._lookup_cache = (key, lk)
        return self._lookup_cache

    def texts_to_sequences(self, texts: Iterable[str | Sequence[str]]) -> list[list[int]]:
        """Each text as the list of its words' indices (see the module docstring).

        Returns:
            A list with one list of ints per text.
        """
        lk = self._lookup()[1]
        oov = self._oov_index()
        get = lk.get
        with _cyclic_gc_paused():
            if oov is None:
                return [list(filter(None, map(get, self._tokens(t)))) for t in texts]
            return [list(map(get, self._tokens(t), repeat(oov))) for t in texts]

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

        return atomic_write_bytes(path, self.to_json().encode("utf-8", _ENC))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by ``save`` (or Keras' ``to_json``)."""
        try:
            text = Path(path).read_bytes().decode("utf-8", _ENC)
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
