"""Word-vector files: read and write GloVe / word2vec text and binary, and ``WordVectors``.

Formats (``load_word_vectors(format="auto")`` decides from the first bytes, after gunzip
when the file starts with the gzip magic ``1f 8b``):

    word2vec binary   b"V D\\n" then V times:  word b" " <D little-endian float32> [b"\\n"]
    word2vec text     "V D\\n"  then V lines:  word v1 v2 ... vD
    GloVe text        no header;    lines:     word v1 v2 ... vD

A first line of exactly two integers ``V D`` is a word2vec header; the file is word2vec
text if the next line is a UTF-8 record of a word and D numbers and the file holds V lines
after the header, otherwise binary. Anything else is GloVe text. Pass ``format`` to
override the guess (a header-less file whose first line is two integers, say).

Malformed input policy (``on_error``): with ``"raise"`` (the default) the first bad record
raises ``DataError`` naming the file and the line (text) or byte offset (binary). With
``"skip"`` bad records are dropped, counted per reason in the returned report and logged
once as a warning; errors that make the rest of the file unreadable (a bad header, a binary
file cut mid-vector, an empty file) still raise. Bad records are: a wrong number of values,
a non-numeric value, NaN or Inf, bad UTF-8, a duplicate word (the first one is kept), and a
header count that does not match the records read.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error

__all__ = ["FORMATS", "LoadReport", "WordVectors", "load_word_vectors", "save_word_vectors"]

log = logging.getLogger(__name__)

FORMATS = ("auto", "glove", "word2vec", "word2vec-binary")
ON_ERROR = ("raise", "skip")
MAX_DIM = 100_000  # a header claiming more is corrupt, not a model
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, eq=False)
class WordVectors:
    """A vocabulary and its vectors: row ``i`` of ``vectors`` belongs to ``words[i]``.

    Args:
        words: the V distinct words, most frequent first by convention.
        vectors: (V, D) float32.

    Example:
        >>> wv = WordVectors(("a", "b"), np.eye(2, dtype=np.float32))
        >>> wv.index()["b"], wv.dim, len(wv)
        (1, 2, 2)
    """

    words: tuple[str, ...]
    vectors: np.ndarray

    def __post_init__(self):
        if not isinstance(self.words, tuple):
            object.__setattr__(self, "words", tuple(self.words))
        v = np.asarray(self.vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[0] != len(self.words):
            raise ConfigError(
                f"vectors must be (V, D) with V={len(self.words)} words; got {v.shape}"
            )
        object.__setattr__(self, "vectors", v)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        """The vector size D."""
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """A new dict word -> row."""
        return {w: i for i, w in enumerate(self.words)}


@dataclass(frozen=True)
class LoadReport:
    """What ``load_word_vectors`` read: format, counts, and skipped records per reason."""

    path: str
    format: str
    loaded: int
    dim: int
    skipped: dict[str, int] = field(default_factory=dict)
    first_skipped: tuple[str, ...] = ()  # up to 5 "line N: reason" messages


class _Reader:
    """Shared bookkeeping for the parsers: dedup, the on_error policy and the report."""

    def __init__(self, path: Path, on_error: str):
        self.path, self.on_error = path, on_error
        self.words: list[str] = []
        self.rows: list[np.ndarray] = []
        self.seen: set[str] = set()
        self.skipped: Counter[str] = Counter()
        self.first: list[str] = []

    def bad(self, where: str, reason: str, detail: str) -> None:
        msg = f"{self.path}: {where}: {detail}"
        if self.on_error == "raise":
            raise DataError(msg)
        self.skipped[reason] += 1
        if len(self.first) < 5:
            self.first.append(f"{where}: {detail}")

    def add(self, word: str, vec: np.ndarray, where: str) -> None:
        if not np.isfinite(vec).all():
            return self.bad(where, "non-finite", f"NaN or Inf in the vector of {word!r}")
        if word in self.seen:
            return self.bad(where, "duplicate", f"duplicate word {word!r}")
        self.seen.add(word)
        self.words.append(word)
        self.rows.append(vec)

    def result(self, fmt: str, dim: int) -> tuple[WordVectors, LoadReport]:
        if not self.words and dim <= 0:
            raise DataError(f"{self.path}: no word vectors found")
        vecs = np.stack(self.rows) if self.rows else np.zeros((0, dim), np.float32)
        wv = WordVectors(tuple(self.words), vecs.astype(np.float32, copy=False))
        rep = LoadReport(str(self.path), fmt, len(wv), dim, dict(self.skipped), tuple(self.first))
        if self.skipped:
            log.warning("%s: skipped %s malformed records: %s", self.path,
                        sum(self.skipped.values()), dict(self.skipped))
        return wv, rep


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataNotFoundError(f"no word-vector file at {path}")
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt gzip data: {e}") from e
    return raw


def _parse_header(line: bytes) -> tuple[int, int] | None:
    parts = line.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def _is_text_record(line: bytes, dim: int) -> bool:
    try:
        fields = line.decode("utf-8").rstrip("\r").rstrip(" ").split(" ")
        if len(fields) != dim + 1:
            return False
        [float(x) for x in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _detect(data: bytes) -> str:
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    header = _parse_header(first)
    if header is None:
        return "glove"
    count, dim = header
    # Text when the line after the header is a text record and the file is COUNT lines
    # of text; binary vectors are raw float32 bytes, which almost never look like that.
    nxt_end = data.find(b"\n", end + 1)
    nxt = data[end + 1 : nxt_end if nxt_end >= 0 else len(data)]
    if count == 0 or (_is_text_record(nxt, dim) and (
            data.rstrip(b"\n").count(b"\n") == count
            or not _binary_fits(data, end + 1, count, dim))):
        return "word2vec"
    return "word2vec-binary"


def _binary_fits(data: bytes, pos: int, count: int, dim: int) -> bool:
    """Whether COUNT binary records of size DIM end exactly at the end of ``data``."""
    n = len(data)
    for _ in range(count):
        while pos < n and data[pos] == 10:
            pos += 1
        space = data.find(b" ", pos, pos + 10_000)
        if space < 0 or space + 1 + 4 * dim > n:
            return False
        pos = space + 1 + 4 * dim
    return not data[pos:].strip(b"\n")


def _parse_text(data: bytes, r: _Reader, header: tuple[int, int] | None) -> int:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    start = 1 if header else 0
    dim = header[1] if header else -1
    for lineno in range(start + 1, len(lines) + 1):
        raw = lines[lineno - 1]
        where = f"line {lineno}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            r.bad(where, "bad-utf8", f"bad UTF-8 at byte {e.start} of the line")
            continue
        parts = text.rstrip("\r").rstrip(" ").split(" ")
        if len(parts) == 1 and not parts[0]:
            r.bad(where, "blank", "blank line")
            continue
        if dim < 0:  # GloVe: the first good line fixes D
            dim = len(parts) - 1
            if dim < 1:
                raise DataError(f"{r.path}: {where}: a word with no values: {text[:60]!r}")
        if len(parts) != dim + 1:
            r.bad(where, "wrong-dim", f"expected {dim} values, found {len(parts) - 1}")
            continue
        try:
            vec = np.array([float(x) for x in parts[1:]], dtype=np.float64)
        except ValueError:
            r.bad(where, "non-numeric", f"a value is not a number in {text[:60]!r}")
            continue
        with np.errstate(over="ignore"):
            r.add(parts[0], vec.astype(np.float32), where)
    return dim


def _parse_binary(data: bytes, r: _Reader, count: int, dim: int, pos: int) -> None:
    nbytes = 4 * dim
    n = len(data)
    for _ in range(count):
        while pos < n and data[pos : pos + 1] == b"\n":  # the C tool ends each vector with \n
            pos += 1
        if pos >= n:
            break  # fewer records than the header says: caught by the count check
        space = data.find(b" ", pos, pos + 10_000)
        if space < 0:
            raise DataError(f"{r.path}: byte {pos}: no word terminated by a space")
        start, pos = pos, space + 1
        if pos + nbytes > n:
            raise DataError(
                f"{r.path}: byte {start}: file ends inside the vector of record "
                f"{len(r.words) + sum(r.skipped.values()) + 1}"
            )
        vec = np.frombuffer(data, dtype="<f4", count=dim, offset=pos).astype(np.float32)
        pos += nbytes
        try:
            word = data[start:space].decode("utf-8")
        except UnicodeDecodeError:
            r.bad(f"byte {start}", "bad-utf8", "bad UTF-8 in a word")
            continue
        r.add(word, vec, f"byte {start}")
    if data[pos:].strip(b"\n"):
        r.bad(f"byte {pos}", "trailing", f"{n - pos} bytes after the last of {count} records")


def load_word_vectors(
    path: str | os.PathLike,
    format: str = "auto",
    on_error: str = "raise",
    *,
    return_report: bool = False,
) -> WordVectors | tuple[WordVectors, LoadReport]:
    """Read a GloVe text, word2vec text or word2vec binary file, plain or gzipped.

    See the module docstring for the formats, how ``"auto"`` detects them, and the
    malformed-record policy.

    Args:
        path: the vector file (``.gz`` or not: detected from the gzip magic bytes).
        format: "auto", "glove", "word2vec" (text with header) or "word2vec-binary".
        on_error: "raise" (DataError naming the line or byte offset) or "skip".
        return_report: also return a ``LoadReport`` with the skipped counts.

    Returns:
        ``WordVectors`` in file order, or ``(WordVectors, LoadReport)``.

    Example:
        >>> wv = load_word_vectors("glove.6B.50d.txt")  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise choice_error("format", format, FORMATS)
    if on_error not in ON_ERROR:
        raise choice_error("on_error", on_error, ON_ERROR)
    path = Path(path)
    data = _read_bytes(path)
    if not data.strip():
        raise DataError(f"{path}: the file is empty")
    fmt = _detect(data) if format == "auto" else format
    r = _Reader(path, on_error)
    if fmt == "glove":
        dim = _parse_text(data, r, None)
        return _finish(r, fmt, dim, None, return_report)
    end = data.find(b"\n")
    header = _parse_header(data[: end if end >= 0 else len(data)])
    if header is None:
        raise DataError(f"{path}: line 1: expected a word2vec header 'COUNT DIM', got "
                        f"{data[: min(60, end if end >= 0 else 60)]!r}")
    count, dim = header
    if not 0 < dim <= MAX_DIM:
        raise DataError(f"{path}: line 1: vector size {dim} is not in 1..{MAX_DIM}")
    if fmt == "word2vec":
        _parse_text(data, r, header)
    else:
        if end < 0 or count > len(data) // (4 * dim + 2) + 1:
            raise DataError(f"{path}: header says {count} vectors of size {dim}; the file "
                            f"holds {len(data)} bytes")
        _parse_binary(data, r, count, dim, end + 1)
    return _finish(r, fmt, dim, count, return_report)


def _finish(r: _Reader, fmt: str, dim: int, count: int | None, return_report: bool):
    if count is not None:
        got = len(r.words) + sum(r.skipped.values())
        if got != count:
            r.bad("header", "count-mismatch", f"header says {count} vectors, file holds {got}")
    wv, rep = r.result(fmt, dim)
    return (wv, rep) if return_report else wv


def save_word_vectors(path: str | os.PathLike, wv: WordVectors, binary: bool = False) -> Path:
    """Write word2vec text or binary as gensim's ``KeyedVectors.save_word2vec_format`` does.

    Header ``"V D\\n"``; text lines ``word v1 ... vD\\n`` with the shortest decimal that
    round-trips each float32; binary records ``word b" " <D float32 little-endian>`` with
    no separator (gensim's layout, which the C tool and gensim both read back). Written
    atomically; a ``.gz`` suffix gzips the output.

    Args:
        path: the output file.
        wv: the vectors; words must be non-empty and contain no space or newline.
        binary: binary instead of text.

    Returns:
        ``path`` as a ``Path``.
    """
    for w in wv.words:
        if not w or any(c in w for c in " \n\r\t"):
            raise ConfigError(f"word {w!r} cannot be written: it is empty or holds white space")
    if not np.isfinite(wv.vectors).all():
        raise ConfigError("word vectors hold NaN or Inf; refusing to write them")
    out = io.BytesIO()
    out.write(f"{len(wv)} {wv.dim}\n".encode())
    # str(np.float32) is the shortest decimal that reads back as the same float32
    vecs = wv.vectors.astype("<f4", copy=False)
    for w, v in zip(wv.words, vecs, strict=True):
        if binary:
            out.write(w.encode("utf-8") + b" " + v.tobytes())
        else:
            out.write(f"{w} {' '.join(map(str, v))}\n".encode())
    data = out.getvalue()
    path = Path(path)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    return atomic_write_bytes(path, data)
