"""The UEA/UCR archive's ``.ts`` format, as sktime and aeon write it.

A file is a header of ``@key value`` lines, then ``@data``, then one case per line::

    # comments and blank lines are allowed anywhere
    @problemName Gestures
    @timeStamps false
    @missing true
    @univariate false
    @dimensions 2
    @equalLength false
    @classLabel true walk run
    @data
    0.1,0.2,0.3:1.0,1.1,?:walk       dimensions split by ":", values by ",", ? is missing
    0.5,0.4:2.0,2.1:run              the label is the last field

Keys are case-insensitive and every one but ``@data`` may be absent: what is absent is
taken from the data (the number of dimensions from the first case; a label is there when
every case has one more field than it has dimensions and that field is a single token,
which is what aeon assumes when ``@classLabel`` is missing). Whatever the header does say
must hold: ``@dimensions``, ``@univariate true``, ``@equalLength true`` and
``@seriesLength`` (checked on the lengths as written, before trailing missing values are
cut) are checked against every case, and labels against ``@classLabel``'s list. A label
that matches a declared one only up to case (aeon lowercases both) takes the declared
spelling. ``@timeStamps true`` and ``@targetLabel true`` (regression) are refused;
unknown keys are ignored, as sktime and aeon do (``@dimension``, aeon's writer's spelling,
counts as ``@dimensions``).

rnnlab needs the dimensions of one case to have the same length: a case whose dimensions
differ is refused, unless the difference is only trailing missing values (which shorten
a case whatever ``missing`` says; see ``rnnlab.data.sequence_set.clean_case``). The text
``NaN`` is read as missing too, as aeon does.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnnlab._fs import atomic_write_bytes
from rnnlab.data.sequence_set import (
    SequenceSet,
    check_missing_policy,
    clean_case,
    label_ids,
    read_utf8,
    sort_labels,
)
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

__all__ = ["TsHeader", "read_ts", "write_ts"]

log = logging.getLogger(__name__)

MAX_TS_BYTES = 4 << 30
_BOOLEANS = {"true": True, "false": False}
_BOOL_KEYS = {"timestamps": "timestamps", "missing": "missing", "univariate": "univariate",
              "equallength": "equal_length", "targetlabel": "target_label"}
# aeon's writer spells it "@dimension".
_INT_KEYS = {"dimensions": "dimensions", "dimension": "dimensions",
             "serieslength": "series_length"}


@dataclass(frozen=True)
class TsHeader:
    """What a ``.ts`` header declares; None where the key is absent."""

    problem_name: str | None = None
    timestamps: bool | None = None
    missing: bool | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    equal_length: bool | None = None
    series_length: int | None = None
    class_label: bool | None = None
    class_labels: tuple[str, ...] | None = None
    target_label: bool | None = None


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _header_line(header: TsHeader, tokens: list[str], where: str) -> TsHeader:
    """Fold one ``@key value...`` line into ``header``."""
    key, values = tokens[0][1:].lower(), tokens[1:]
    if key in _BOOL_KEYS:
        if len(values) != 1 or values[0].lower() not in _BOOLEANS:
            raise DataError(f"{where}: {tokens[0]} expects true or false, got "
                            f"{' '.join(values)!r}")
        field, value = _BOOL_KEYS[key], _BOOLEANS[values[0].lower()]
    elif key in _INT_KEYS:
        if len(values) != 1 or not values[0].isdigit() or int(values[0]) < 1:
            raise DataError(f"{where}: {tokens[0]} expects a whole number >= 1, got "
                            f"{' '.join(values)!r}")
        field, value = _INT_KEYS[key], int(values[0])
    elif key == "problemname":
        if not values:
            raise DataError(f"{where}: @problemName expects a name")
        field, value = "problem_name", " ".join(values)
    elif key == "classlabel":
        return _class_label_line(header, tokens, where)
    else:
        log.debug("%s: ignoring unknown header key %s", where, tokens[0])
        return header
    old = getattr(header, field)
    if old is not None and old != value:
        raise DataError(f"{where}: {tokens[0]} {values[0]} contradicts an earlier "
                        f"{tokens[0]} line ({old})")
    return replace(header, **{field: value})


def _class_label_line(header: TsHeader, tokens: list[str], where: str) -> TsHeader:
    if len(tokens) < 2 or tokens[1].lower() not in _BOOLEANS:
        raise DataError(f"{where}: @classLabel expects true (followed by the labels) or false")
    if header.class_label is not None:
        raise DataError(f"{where}: a second @classLabel line")
    if not _BOOLEANS[tokens[1].lower()]:
        return replace(header, class_label=False)
    declared = tuple(tokens[2:])
    if not declared:
        raise DataError(f"{where}: @classLabel true must list the labels, "
                        "e.g. '@classLabel true walk run'")
    if len(set(declared)) != len(declared):
        dup = next(s for s in declared if declared.count(s) > 1)
        raise DataError(f"{where}: @classLabel lists {dup!r} twice")
    return replace(header, class_label=True, class_labels=declared)


def _split_file(path: Path) -> tuple[TsHeader, list[tuple[int, str]]]:
    """Read the header and return it with the data lines as (line number, text)."""
    if path.stat().st_size > MAX_TS_BYTES:
        raise DataError(f"{path}: over {MAX_TS_BYTES >> 30} GiB; split it")
    text = read_utf8(path)
    header, cases, in_data = TsHeader(), [], False
    for n, line in enumerate(text.split("\n"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}: line {n}"
        if in_data:
            if line.startswith("@"):
                raise DataError(f"{where}: header line {_short(line)!r} after @data; "
                                "the header must come before @data")
            cases.append((n, line))
        elif line.startswith("@"):
            tokens = line.split()
            if tokens[0].lower() == "@data":
                if len(tokens) > 1:
                    raise DataError(f"{where}: @data takes no value, got {_short(line)!r}")
                in_data = True
            else:
                header = _header_line(header, tokens, where)
        else:
            raise DataError(f"{where}: expected a '@key value' header line or @data, got "
                            f"{_short(line)!r}; the cases start after an @data line")
    if not in_data:
        raise DataError(f"{path}: no @data line; a .ts file lists its cases after @data")
    if not cases:
        raise DataError(f"{path}: no cases after @data")
    return header, cases


def _has_labels(header: TsHeader, cases: list[tuple[int, str]], path: Path) -> bool:
    if header.timestamps:
        raise DataError(f"{path}: @timeStamps true is not supported; rnnlab reads evenly "
                        "spaced steps, so write the values without their time stamps")
    if header.target_label:
        raise DataError(f"{path}: @targetLabel true marks a regression problem; rnnlab "
                        "classifies sequences, so the last field must be a class label")
    if header.class_label is not None:
        return header.class_label
    fields = [line.split(":") for _, line in cases]
    if header.dimensions is not None:
        found = not all(len(f) == header.dimensions for f in fields)
    else:
        found = all(len(f) >= 2 and "," not in f[-1] for f in fields)
    log.info("%s: no @classLabel line; %s", path,
             "the last field of each case is read as its label" if found else "no labels")
    return found


def _parse_values(text: str, where: str) -> np.ndarray:
    """One dimension's comma-separated values as float64, NaN where missing."""
    text = text.strip()
    if not text:
        return np.empty(0, np.float64)
    parts = text.split(",")
    try:  # float() takes surrounding spaces and "NaN", as aeon's reader does
        return np.fromiter(map(float, parts), dtype=np.float64, count=len(parts))
    except ValueError:
        pass
    try:
        return np.fromiter((math.nan if p.strip() == "?" else float(p) for p in parts),
                           dtype=np.float64, count=len(parts))
    except ValueError:
        pass
    for k, p in enumerate(parts):
        p = p.strip()
        if not p:
            raise DataError(f"{where}: value {k} is empty (two commas in a row, or a comma at "
                            "the end); write ? for a missing value")
        if p != "?":
            try:
                float(p)
            except ValueError:
                raise DataError(f"{where}: value {k} is {_short(p, 30)!r}, not a number "
                                "(write ? for a missing value)") from None
    raise DataError(f"{where}: could not read the values {_short(text)!r}")  # not reached


class _Shape:
    """The dimensions and length the cases must share, from the header or the first case."""

    def __init__(self, header: TsHeader, path: Path):
        self.header, self.path = header, path
        self.dims = header.dimensions
        self.length = header.series_length if header.equal_length is not False else None
        self.first_line: int | None = None

    def check(self, lengths: list[int], n: int, where: str) -> None:
        h, d = self.header, len(lengths)
        if self.first_line is None:
            self.first_line = n
            self.dims = d if self.dims is None else self.dims
        if d != self.dims:
            source = ("@dimensions says" if h.dimensions is not None
                      else f"the first case (line {self.first_line}) has")
            raise DataError(f"{where}: {d} dimensions, but {source} {self.dims}")
        if h.univariate and d != 1:
            raise DataError(f"{where}: {d} dimensions, but the header says @univariate true")
        if self.length is not None and any(n_ != self.length for n_ in lengths):
            source = ("@seriesLength says" if h.series_length is not None
                      else f"@equalLength true and the first case (line {self.first_line}) has")
            raise DataError(f"{where}: dimension lengths {lengths}, but {source} {self.length}")
        if h.equal_length and self.length is None:
            if len(set(lengths)) != 1:
                raise DataError(f"{where}: dimension lengths {lengths} differ, but the header "
                                "says @equalLength true")
            self.length = lengths[0]


def _case_values(dims: list[np.ndarray], where: str) -> np.ndarray:
    """Stack one case's dimensions into (T, D), refusing ragged ones."""
    lengths = [v.size for v in dims]
    longest = max(lengths)
    out = np.full((longest, len(dims)), np.nan)
    for c, v in enumerate(dims):
        out[: v.size, c] = v
    valid = np.flatnonzero(~np.isnan(out).all(axis=1))
    end = int(valid[-1]) + 1 if valid.size else 0
    if min(lengths) < end:
        raise DataError(f"{where}: its dimensions have {lengths} values; rnnlab needs the "
                        "dimensions of one case to have the same length (trailing missing "
                        "values aside)")
    return out


def _match_case(label: str, declared: tuple[str, ...] | None) -> str:
    if declared is None or label in declared:
        return label
    folded = [s for s in declared if s.casefold() == label.casefold()]
    return folded[0] if len(folded) == 1 else label


def read_ts(
    path: str | os.PathLike,
    *,
    missing: str = "error",
    labels: Sequence[str] | None = None,
) -> SequenceSet:
    """Read a ``.ts`` file (UEA/UCR archive, sktime, aeon) into a ``SequenceSet``.

    Args:
        path: the file.
        missing: ``"error"`` (default), ``"drop"``, ``"interpolate"`` or ``"zero"``: what
            to do with a ``?`` inside a case (see ``clean_case``); trailing ones always
            shorten the case.
        labels: the class order to use (e.g. a trained model's); default: the
            ``@classLabel`` list, else the labels found, sorted.

    Returns:
        A ``SequenceSet``: channels ``dim_0..dim_{D-1}``, ids the 0-based case numbers,
        y -1 for every case when the file has no labels.

    Raises:
        DataNotFoundError: no such file. DataError: a malformed file; the message names
        the line and what was expected.

    Example:
        >>> data = read_ts("JapaneseVowels_TRAIN.ts")  # doctest: +SKIP
        >>> data.num_features, data.labels[:3]  # doctest: +SKIP
        (12, ('1', '2', '3'))
    """
    check_missing_policy(missing)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no .ts file at {path}")
    header, cases = _split_file(path)
    has_labels = _has_labels(header, cases, path)
    shape = _Shape(header, path)
    values, raw_labels, wheres, any_missing = [], [], [], False
    for k, (n, line) in enumerate(cases):
        where = f"{path}: line {n} (case {k})"
        fields = line.split(":")
        if has_labels:
            if len(fields) < 2:
                raise DataError(f"{where}: expected the dimensions and then ':' and a label, "
                                f"got {_short(line)!r}")
            label = fields.pop().strip()
            if not label:
                raise DataError(f"{where}: empty label after the last ':'")
            raw_labels.append(_match_case(label, header.class_labels))
        else:
            raw_labels.append(None)
        dims = [_parse_values(f, f"{where}, dimension {c}") for c, f in enumerate(fields)]
        shape.check([v.size for v in dims], n, where)
        case = _case_values(dims, where)
        any_missing = any_missing or bool(np.isnan(case).any())
        values.append(case)
        wheres.append(where)
    if header.missing is False and any_missing:
        log.warning("%s: @missing false, yet some values are ? or NaN", path)
    names = tuple(f"dim_{c}" for c in range(shape.dims))
    seqs = tuple(clean_case(v, missing, w, names) for v, w in zip(values, wheres, strict=True))
    y, order = label_ids(raw_labels, wheres, labels=labels, declared=header.class_labels)
    return SequenceSet(seqs, y, order, names, tuple(str(k) for k in range(len(seqs))),
                       str(path))


def _label_token(label: str) -> str:
    label = str(label)
    if not label or any(ch.isspace() or ch in ":,#@?" for ch in label):
        raise ConfigError(f"label {label!r} cannot be written to a .ts file; labels must be "
                          "non-empty with no spaces and none of : , # @ ?")
    return label


def _format_dimension(values: np.ndarray) -> str:
    # repr of the float64 value reads back exactly, float32 input included.
    return ",".join("?" if math.isnan(v) else repr(v) for v in values.tolist())


def write_ts(
    path: str | os.PathLike,
    sequences: Sequence[np.ndarray] | SequenceSet,
    labels: Sequence[str] | None = None,
    problem_name: str = "sequences",
    *,
    class_labels: Sequence[str] | None = None,
) -> Path:
    """Write sequences as a ``.ts`` file that ``read_ts``, sktime and aeon read.

    Args:
        path: the file to write (atomically).
        sequences: N arrays, each (T_i, F) or (T_i,) for one channel; NaN is written as
            ``?``. Or a ``SequenceSet``, whose labels are used when ``labels`` is None.
        labels: N label strings, or None to write no labels (``@classLabel false``).
        problem_name: the ``@problemName`` (no spaces).
        class_labels: the ``@classLabel`` list, in order (default: the labels, sorted).

    Returns:
        The path written.

    Example:
        >>> write_ts("toy.ts", [np.zeros((3, 2)), np.ones((5, 2))], ["a", "b"])  # doctest: +SKIP
    """
    if isinstance(sequences, SequenceSet):
        if labels is None and sequences.labelled:
            labels = [sequences.labels[i] for i in sequences.y]
            class_labels = sequences.labels if class_labels is None else class_labels
        sequences = sequences.sequences
    arrays = [np.asarray(s, dtype=np.float64) for s in sequences]
    arrays = [a[:, None] if a.ndim == 1 else a for a in arrays]
    if not arrays or any(a.ndim != 2 or a.shape[0] < 1 for a in arrays):
        raise ConfigError("sequences must be one or more arrays of shape (T, F) with T >= 1")
    f = arrays[0].shape[1]
    if f < 1 or any(a.shape[1] != f for a in arrays):
        raise ConfigError(f"every sequence needs the same channels; found "
                          f"{sorted({a.shape[1] for a in arrays})}")
    if any(np.isinf(a).any() for a in arrays):
        raise ConfigError("sequences hold an infinite value; .ts files hold finite values or ?")
    if not problem_name or any(ch.isspace() for ch in problem_name):
        raise ConfigError(f"problem_name={problem_name!r} must be one word")
    if labels is not None:
        labels = [_label_token(s) for s in labels]
        if len(labels) != len(arrays):
            raise ConfigError(f"{len(arrays)} sequences but {len(labels)} labels")
        order = [_label_token(s) for s in (class_labels or sort_labels(labels))]
        if missing := set(labels) - set(order):
            raise ConfigError(f"labels {sorted(missing)} are not in class_labels={order}")
    lengths = {a.shape[0] for a in arrays}
    lines = [f"@problemName {problem_name}", "@timeStamps false",
             f"@missing {str(any(np.isnan(a).any() for a in arrays)).lower()}",
             f"@univariate {str(f == 1).lower()}", f"@dimensions {f}",
             f"@equalLength {str(len(lengths) == 1).lower()}"]
    if len(lengths) == 1:
        lines.append(f"@seriesLength {lengths.pop()}")
    lines.append(f"@classLabel true {' '.join(order)}" if labels is not None
                 else "@classLabel false")
    lines.append("@data")
    for i, a in enumerate(arrays):
        fields = [_format_dimension(a[:, c]) for c in range(f)]
        if labels is not None:
            fields.append(labels[i])
        lines.append(":".join(fields))
    return atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))
