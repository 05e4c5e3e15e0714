"""A user's own labelled texts: class folders, CSV, JSONL or fastText's text format.

Accepted layouts::

    DIR/<class>/*.txt                 one file per text, the folder name is the label
    FILE.csv  (header row)            text_column and label_column name two columns
    FILE.jsonl                        one JSON object per line with those two keys
    FILE.txt                          one text per line, fastText's ``__label__X text``

In a ``.txt`` file each non-blank line is one text. Labelled, every line starts with
fastText's label prefix (``__label__pos I loved it``); a line with several labels
(``__label__a __label__b ...``) is refused with a ``DataError`` naming the line, since the
classifiers here give one label per text. Unlabelled (``predict``), a prefix is stripped
when present, so the same file can be scored.

Labels are strings, mapped to ids 0..C-1 in sorted order (``classes``). Files must be
UTF-8 (a BOM is allowed); CRLF line ends are fine. A bad row (bad UTF-8, a missing column
or key, an empty text or label, a line that is not a JSON object) raises ``DataError``
naming the file and line. With ``labelled=False`` the label column is not read (for
``predict``), and ``labels`` is all -1.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError, DataNotFoundError

__all__ = ["LabelledTexts", "read_texts"]

MAX_TEXT_BYTES = 10 << 20


@dataclass(frozen=True, eq=False)
class LabelledTexts:
    """N texts with integer labels and the class names they stand for.

    Args:
        texts: N strings.
        labels: (N,) int64 ids into ``classes`` (-1 when read unlabelled).
        classes: the sorted class names.
        sources: N "file:line" (or file path) strings for error messages and predictions.
    """

    texts: list[str]
    labels: np.ndarray
    classes: tuple[str, ...]
    sources: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def _decode(raw: bytes, path: Path) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}: line {line}: bad UTF-8 at byte {e.start}") from e
    return text


def _finish(texts, raw_labels, sources, labelled: bool, classes) -> LabelledTexts:
    if not texts:
        raise DataError("no texts found")
    if not labelled:
        return LabelledTexts(texts, np.full(len(texts), -1, np.int64), tuple(classes or ()),
                             sources)
    names = tuple(sorted(set(raw_labels))) if classes is None else tuple(classes)
    ids = {c: i for i, c in enumerate(names)}
    out = np.empty(len(raw_labels), np.int64)
    for k, (lab, src) in enumerate(zip(raw_labels, sources, strict=True)):
        if lab not in ids:
            raise DataError(f"{src}: label {lab!r} is not one of the classes {list(names)}")
        out[k] = ids[lab]
    return LabelledTexts(texts, out, names, sources)


def _read_folder(root: Path, labelled: bool, classes) -> LabelledTexts:
    texts, labels, sources = [], [], []
    folders = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not folders:
        raise DataNotFoundError(f"{root} has no class subfolders (expected {root}/<class>/*.txt)")
    for d in folders:
        for f in sorted(d.iterdir()):
            if not f.is_file() or f.name.startswith(".") or f.is_symlink():
                continue
            if f.stat().st_size > MAX_TEXT_BYTES:
                raise DataError(f"{f}: larger than {MAX_TEXT_BYTES} bytes")
            text = _decode(f.read_bytes(), f)
            if not text.strip():
                raise DataError(f"{f}: empty text")
            texts.append(text)
            labels.append(d.name)
            sources.append(str(f))
    return _finish(texts, labels, sources, labelled, classes)


def _check_text(value, where: str, what: str) -> str:
    if value is None:
        raise DataError(f"{where}: missing {what}")
    if not isinstance(value, str):
        if what.startswith("label") and isinstance(value, int | float | bool):
            value = str(value)
        else:
            raise DataError(f"{where}: {what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{where}: empty {what}")
    return value


def _read_csv(path: Path, text_col: str, label_col: str, labelled: bool, delimiter: str):
    old_limit = csv.field_size_limit(MAX_TEXT_BYTES)  # the default 128 kB is too small
    try:
        return _parse_csv(path, text_col, label_col, labelled, delimiter)
    finally:
        csv.field_size_limit(old_limit)


def _parse_csv(path: Path, text_col: str, label_col: str, labelled: bool, delimiter: str):
    data = _decode(path.read_bytes(), path)
    reader = csv.reader(io.StringIO(data, newline=""), delimiter=delimiter, strict=True)
    texts, labels, sources = [], [], []
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: empty file") from None
    except csv.Error as e:
        raise DataError(f"{path}: line 1: {e}") from e
    cols = {name.strip(): i for i, name in enumerate(header)}
    need = [text_col] + ([label_col] if labelled else [])
    for c in need:
        if c not in cols:
            raise DataError(f"{path}: line 1: no column {c!r}; the header has {header}")
    ti, li = cols[text_col], cols.get(label_col)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(f"{path}: line {reader.line_num}: {e}") from e
        where = f"{path}: line {reader.line_num}"
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            raise DataError(f"{where}: {len(row)} fields, the header has {len(header)}")
        texts.append(_check_text(row[ti], where, "text"))
        labels.append(_check_text(row[li], where, "label") if labelled else "")
        sources.append(where.split(": ", 1)[0] + f":{reader.line_num}")
    return texts, labels, sources


def _read_jsonl(path: Path, text_col: str, label_col: str, labelled: bool):
    data = _decode(path.read_bytes(), path)
    texts, labels, sources = [], [], []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}: not JSON: {e.msg} at column {e.colno}") from e
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        texts.append(_check_text(obj.get(text_col), where, f"text key {text_col!r}"))
        labels.append(_check_text(obj.get(label_col), where, f"label key {label_col!r}")
                      if labelled else "")
        sources.append(f"{path}:{n}")
    return texts, labels, sources


LABEL_PREFIX = "__label__"


def _split_label(line: str, where: str) -> tuple[str, str]:
    """``("pos", "I loved it")`` from ``"__label__pos I loved it"``."""
    head, _, rest = line.lstrip().partition(" ")
    label = head[len(LABEL_PREFIX):]
    if not label:
        raise DataError(f"{where}: empty label in {head!r}")
    if rest.lstrip().startswith(LABEL_PREFIX):
        more = rest.lstrip().partition(" ")[0]
        raise DataError(f"{where}: several labels ({head!r}, {more!r}); give one label "
                        "per line")
    return label, rest.strip()


def _strip_labels(line: str) -> str:
    """The text of a line without any leading ``__label__X`` words."""
    words = line.strip()
    while words.startswith(LABEL_PREFIX):
        words = words.partition(" ")[2].lstrip()
    return words


def _read_lines(path: Path, labelled: bool):
    data = _decode(path.read_bytes(), path)
    texts, labels, sources = [], [], []
    for n, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}: line {n}"
        if labelled:
            if not line.lstrip().startswith(LABEL_PREFIX):
                raise DataError(f"{where}: no label; each line of a labelled .txt file "
                                f"starts with fastText's prefix: '{LABEL_PREFIX}pos some text'")
            label, text = _split_label(line, where)
        else:
            label, text = "", _strip_labels(line)
        if not text:
            raise DataError(f"{where}: empty text")
        texts.append(text)
        labels.append(label)
        sources.append(f"{path}:{n}")
    return texts, labels, sources


def texts_from_lines(raw: bytes, where: str = "<stdin>") -> list[str]:
    """One text per line of ``raw`` (standard input), ``__label__X`` prefixes stripped.

    Every line is a text, blank ones included, so that the n-th answer is the n-th line's.

    Args:
        raw: UTF-8 bytes.
        where: the name used in errors ("<stdin>: line 3: bad UTF-8 ...").

    Returns:
        The texts, in order.

    Example:
        >>> texts_from_lines(b"__label__pos loved it\nboring\n")
        ['loved it', 'boring']
    """
    data = _decode(raw, Path(where))
    # "\n" only: a review may hold "\r" or U+2028, which str.splitlines would cut at
    lines = [line.removesuffix("\r") for line in data.removesuffix("\n").split("\n")]
    if not data:
        raise DataError(f"{where}: no texts (empty input); give one text per line")
    return [_strip_labels(line) for line in lines]


def read_texts(
    path: str | os.PathLike,
    *,
    text_column: str = "text",
    label_column: str = "label",
    labelled: bool = True,
    classes: tuple[str, ...] | None = None,
    delimiter: str = ",",
) -> LabelledTexts:
    """Read labelled (or unlabelled) texts from class folders, a CSV or a JSONL file.

    Args:
        path: a folder of class subfolders, or a ``.csv``/``.tsv``/``.jsonl``/``.json``
            file, or a ``.txt`` file of one text per line (``__label__X text``, see above).
        text_column: the CSV column or JSON key holding the text.
        label_column: the column or key holding the label.
        labelled: read labels (False for texts to predict).
        classes: fix the class names and their order (e.g. those a model was trained
            with); a label outside them is an error. Default: the sorted labels found.
        delimiter: the CSV delimiter (``\\t`` is used for ``.tsv``).

    Returns:
        ``LabelledTexts``.

    Example:
        >>> data = read_texts("reviews.csv", text_column="review", label_column="sentiment")
        ... # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"no texts at {path}")
    if path.is_dir():
        return _read_folder(path, labelled, classes)
    if path.stat().st_size > 4 << 30:
        raise DataError(f"{path}: over 4 GiB; split it")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        found = _read_csv(path, text_column, label_column, labelled,
                          "\t" if suffix == ".tsv" else delimiter)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        found = _read_jsonl(path, text_column, label_column, labelled)
    elif suffix == ".txt":
        found = _read_lines(path, labelled)
    else:
        raise ConfigError(f"{path}: unknown text file type {suffix!r}; use .csv, .tsv, "
                          ".jsonl or .txt (one text per line)")
    texts, labels, sources = found
    if not texts:
        raise DataError(f"{path}: no rows")
    return _finish(texts, labels, sources, labelled, classes)
