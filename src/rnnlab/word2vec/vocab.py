"""Reading a word2vec corpus: tokens, the streamed id file and the vocabulary.

The corpus text is read once: that pass tokenises it, counts words and writes provisional
ids (order of first appearance) to a temporary int32 file (:class:`IdStream`); the
vocabulary is then a remap from provisional to final ids (:func:`vocabulary`), and the
epochs read the memory-mapped file. So only the id stream (4 bytes a token, on disk) and
the vocabulary must fit, not the text.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import DataError, DataNotFoundError
from rnnlab.text import KERAS_FILTERS
from rnnlab.word2vec.config import Word2VecConfig

__all__ = [
    "MAX_SENTENCE",
    "IdStream",
    "Vocabulary",
    "build_vocab",
    "corpus_paths",
    "iter_corpus",
    "keep_probabilities",
    "streamed",
    "tokenize",
    "vocabulary",
]

log = logging.getLogger(__name__)

MAX_SENTENCE = 10_000  # longer documents are cut, as gensim does
_FILTERS = re.compile("[" + re.escape(KERAS_FILTERS) + "]")
_FILE_SUFFIXES = (".txt", ".gz")
_WANTED = "give text files or folders of .txt files"


def tokenize(text: str) -> list[str]:
    """Lower-case, drop Keras' default punctuation filters and ``<br />``, split on spaces.

    Example:
        >>> tokenize("A <br />great, great film!")
        ['a', 'great', 'great', 'film']
    """
    return _FILTERS.sub(" ", text.lower().replace("<br />", " ")).split()


@dataclass(frozen=True)
class Vocabulary:
    """Words sorted by decreasing count (ties by first appearance).

    Attributes:
        words: the kept words; their index is the word id.
        counts: (V,) int64 count of each kept word.
        total_words: raw tokens of the corpus, before min_count and subsampling.
        num_sentences: sentences (documents, cut at 10,000 tokens).
    """

    words: tuple[str, ...]
    counts: np.ndarray
    total_words: int
    num_sentences: int


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _looks_like_path(item: str) -> bool:
    """A one-line string that names an existing path or reads as a file name."""
    if len(item) >= 4096 or "\n" in item:
        return False
    if os.path.exists(item):
        return True
    return not any(c.isspace() for c in item) and (
        "/" in item or os.sep in item or item.lower().endswith(_FILE_SUFFIXES))


def corpus_paths(corpus) -> list[Path] | None:
    """The corpus as file or folder paths, each checked to exist; None for in-memory text.

    A ``str`` or path-like is one path; a list or tuple of path-likes is paths. A list of
    strings is paths when any of them names an existing file or folder or reads as a file
    name (no white space, and a ``/`` or a ``.txt``/``.gz`` ending), so a mistyped name
    among real ones is an error, never text; otherwise the strings are the texts.

    Raises:
        DataNotFoundError: a path that is neither a file nor a folder; names every one.
    """
    if isinstance(corpus, str | os.PathLike):
        items = [corpus]
    elif isinstance(corpus, list | tuple) and corpus and all(
            isinstance(c, str | os.PathLike) for c in corpus) and any(
            isinstance(c, os.PathLike) or _looks_like_path(c) for c in corpus):
        items = list(corpus)
    else:
        return None
    paths = [Path(p) for p in items]
    missing = [str(p) for p in paths if not (p.is_file() or p.is_dir())]
    if len(missing) == 1:
        raise DataNotFoundError(f"corpus path {missing[0]!r} does not exist ({_WANTED})")
    if missing:
        raise DataNotFoundError(f"corpus paths {', '.join(map(repr, missing))} do not exist "
                                f"({_WANTED})")
    return paths


def iter_corpus(corpus) -> Iterator[list[str]]:
    """Yield the token lists of a corpus, streamed.

    Args:
        corpus: a text file (one sentence or document per line, optionally .gz), a folder
            (every ``*.txt`` below it, sorted, one document each, as aclImdb), a list of
            such paths, or an in-memory iterable of strings or of token lists. How a list of
            strings is told apart from a list of paths: see :func:`corpus_paths`.

    Returns:
        An iterator of token lists (``tokenize`` applied to text).

    Raises:
        DataNotFoundError: a path that does not exist (checked before anything is read).
    """
    paths = corpus_paths(corpus)
    if paths is None:
        for doc in corpus:
            yield tokenize(doc) if isinstance(doc, str) else list(doc)
        return
    for path in paths:
        if path.is_dir():
            for f in sorted(path.rglob("*.txt")):
                yield tokenize(f.read_text(encoding="utf-8", errors="replace"))
        else:
            with _open_text(path) as fh:
                for line in fh:
                    yield tokenize(line)


class IdStream:
    """Provisional-id file of a corpus: one pass tokenises, counts and writes ids.

    Attributes:
        words: the distinct words, in order of first appearance (their provisional ids).
        offsets: (sentences + 1,) int64 sentence boundaries into ``tokens``.
        tokens: (N,) read-only int32 memory map of the provisional ids.
        counts: (P,) int64 count of each provisional id.
        num_tokens: N.
    """

    def __init__(self, corpus, folder: str):
        self.path = os.path.join(folder, "ids.int32")
        index: dict[str, int] = {}
        setdefault = index.setdefault
        offsets = [0]
        n = 0
        with open(self.path, "wb") as fh:
            block: list[int] = []
            for tokens in iter_corpus(corpus):
                for lo in range(0, len(tokens), MAX_SENTENCE):
                    piece = tokens[lo : lo + MAX_SENTENCE]
                    block.extend([setdefault(w, len(index)) for w in piece])
                    n += len(piece)
                    offsets.append(n)
                if len(block) > 1 << 20:
                    np.asarray(block, np.int32).tofile(fh)
                    block = []
            np.asarray(block, np.int32).tofile(fh)
        self.words = list(index)
        self.offsets = np.asarray(offsets, np.int64)
        self.num_tokens = n
        # read-only either way, so the kernel is compiled for one array type
        self.tokens = np.memmap(self.path, np.int32, "r") if n else np.zeros(1, np.int32)
        self.tokens.flags.writeable = False
        self.counts = np.bincount(self.tokens[:n], minlength=len(self.words)).astype(np.int64)

    def close(self) -> None:
        """Drop the memory map (before its folder is removed)."""
        self.tokens = np.zeros(1, np.int32)


def _vocab_from_counts(words, counts, total, num_sentences, min_count, max_vocab):
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    if max_vocab is not None:
        order = order[:max_vocab]
    vocab = Vocabulary(tuple(words[i] for i in order), counts[order], total, num_sentences)
    return vocab, order


def vocabulary(stream: IdStream, config: Word2VecConfig) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary of a streamed corpus and its remap.

    Returns:
        (Vocabulary, remap), remap (P,) int32: provisional id -> vocabulary id, -1 for
        words below ``min_count`` or past ``max_vocab``.

    Raises:
        DataError: no word is frequent enough.
    """
    vocab, order = _vocab_from_counts(
        stream.words, stream.counts, stream.num_tokens, len(stream.offsets) - 1,
        config.min_count, config.max_vocab,
    )  # fmt: skip
    if not vocab.words:
        raise DataError(
            f"no word occurs min_count={config.min_count} times in the corpus "
            f"({stream.num_tokens} tokens)"
        )
    log.info("vocabulary: %d words of %d distinct, %d tokens",
             len(vocab.words), len(stream.words), stream.num_tokens)
    remap = np.full(max(len(stream.words), 1), -1, np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return vocab, remap


@contextlib.contextmanager
def streamed(corpus, config: Word2VecConfig) -> Iterator[tuple[IdStream, Vocabulary, np.ndarray]]:
    """Read ``corpus`` once into a temporary id file; yield (stream, vocabulary, remap).

    The file lives in a temporary folder under ``config.tmp_dir`` that goes at exit.

    Example:
        >>> with streamed([["a", "b", "a"]], Word2VecConfig(min_count=2)) as (s, vocab, _):
        ...     vocab.words
        ('a',)
    """
    with tempfile.TemporaryDirectory(prefix="rnnlab-w2v-", dir=config.tmp_dir) as folder:
        stream = IdStream(corpus, folder)
        try:
            vocab, remap = vocabulary(stream, config)
            yield stream, vocab, remap
        finally:
            stream.close()  # close the memory map before the folder goes


def build_vocab(corpus, min_count: int = 5, max_vocab: int | None = None) -> Vocabulary:
    """Count the words of a corpus (one streamed pass) and keep the frequent ones.

    Args:
        corpus: anything ``iter_corpus`` accepts.
        min_count: drop words seen fewer times.
        max_vocab: then keep at most this many, the most frequent.

    Returns:
        A Vocabulary.

    Example:
        >>> build_vocab([["a", "b", "a"]], min_count=2).words
        ('a',)
    """
    index: dict[str, int] = {}
    counts: list[int] = []
    total = sentences = 0
    for tokens in iter_corpus(corpus):
        for w in tokens:
            i = index.setdefault(w, len(index))
            if i == len(counts):
                counts.append(0)
            counts[i] += 1
        total += len(tokens)
        sentences += max(1, math.ceil(len(tokens) / MAX_SENTENCE))
    vocab, _ = _vocab_from_counts(
        list(index), np.asarray(counts, np.int64), total, sentences, min_count, max_vocab
    )
    return vocab


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec.c/gensim subsampling).

    keep = (sqrt(c / (t T)) + 1) (t T) / c, capped at 1, with T the retained corpus size.

    Args:
        counts: (V,) word counts in the vocabulary.
        sample: threshold t; 0 keeps everything.

    Returns:
        (V,) float32.
    """
    counts = np.asarray(counts, np.float64)
    if sample <= 0:
        return np.ones(len(counts), np.float32)
    threshold = sample * counts.sum()
    keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.minimum(keep, 1.0).astype(np.float32)
