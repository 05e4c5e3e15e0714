"""Sequences from a long table: CSV or Parquet, one row per time step.

::

    id,time,ax,ay,label          one row per step; the rows of one id form one sequence
    a,0,0.1,0.3,walk             (ids come out in order of first appearance)
    a,1,0.2,0.1,walk
    b,0,1.5,,run                 an empty cell (or NA, NaN, null) is a missing value
    b,1,1.4,0.9,run

``time_column`` (numbers or ISO dates) orders the rows of each sequence; without it file
order is step order. ``feature_columns`` default to every other column whose cells are
all numbers (or missing). The label must be the same on every row of one id. Parquet
needs pyarrow (an optional dependency); a CSV is read with the standard library.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rnnlab.data.sequence_set import (
    SequenceSet,
    check_missing_policy,
    clean_case,
    label_ids,
    read_utf8,
)
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

__all__ = ["read_long"]

log = logging.getLogger(__name__)

MAX_TABLE_BYTES = 4 << 30
_MISSING_TOKENS = frozenset({"", "?", "na", "nan", "n/a", "null", "none"})


class _Table:
    """Columns by name, each a list of cells (CSV: strings) or a float64 array (Parquet)."""

    def __init__(self, path: Path, names: list[str], columns: list, lines: list[int], unit: str):
        self.path, self.names, self.columns, self.lines = path, names, columns, lines
        self.unit = unit  # "line" for CSV, "row" for Parquet

    def __len__(self) -> int:
        return len(self.lines)

    def where(self, i: int) -> str:
        return f"{self.path}: {self.unit} {self.lines[i]}"

    def column(self, name: str, role: str):
        if name not in self.names:
            available = ", ".join(repr(h) for h in self.names)
            raise ConfigError(f"{role}={name!r} is not a column of {self.path}; "
                              f"available: {available}")
        return self.columns[self.names.index(name)]


def _read_csv(path: Path, delimiter: str) -> _Table:
    text = read_utf8(path)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, lines = [], []
    try:
        header = [h.strip() for h in next(reader)]
        for row in reader:
            if not any(row):
                continue  # blank lines carry no row
            if len(row) != len(header):
                raise DataError(f"{path}: line {reader.line_num}: {len(row)} fields, the "
                                f"header has {len(header)}")
            rows.append(row)
            lines.append(reader.line_num)
    except StopIteration:
        raise DataError(f"{path}: the file is empty; expected a header line") from None
    except csv.Error as e:
        raise DataError(f"{path}: line {reader.line_num}: {e}") from None
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise DataError(f"{path}: line 1: the header names column {dup!r} twice")
    columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in header]
    return _Table(path, header, columns, lines, "line")


def _read_parquet(path: Path) -> _Table:
    try:
        import pyarrow as pa  # optional: only to read Parquet
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(f"{path}: reading Parquet needs pyarrow, which is not installed; "
                          "`pip install pyarrow`, or save the table as CSV") from None
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file ({e})") from None
    columns = []
    for col in table.columns:
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            columns.append(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
        else:
            columns.append(col.to_pylist())
    return _Table(path, [str(n) for n in table.column_names], columns,
                  list(range(1, table.num_rows + 1)), "row")


def _is_missing(cell) -> bool:
    return cell is None or str(cell).strip().lower() in _MISSING_TOKENS


def _to_float(cells) -> np.ndarray | None:
    """A column as float64 with NaN where missing, or None when a cell is not a number."""
    if isinstance(cells, np.ndarray):
        return cells
    try:  # the common case, a column of plain numbers, at the speed of float()
        return np.fromiter(map(float, cells), dtype=np.float64, count=len(cells))
    except (ValueError, TypeError):
        pass
    try:
        return np.fromiter((math.nan if _is_missing(c) else float(c) for c in cells),
                           dtype=np.float64, count=len(cells))
    except (ValueError, TypeError):
        return None


def _bad_cell(cells, table: _Table, name: str) -> DataError:
    for i, c in enumerate(cells):
        if _is_missing(c):
            continue
        try:
            float(c)
        except (ValueError, TypeError):
            return DataError(f"{table.where(i)}: column {name!r} holds {str(c)[:40]!r}, not a "
                             "number")
    return DataError(f"{table.path}: column {name!r} could not be read as numbers")


def _text_cells(cells, table: _Table, name: str) -> list[str]:
    """A column as stripped strings; DataError for an empty cell."""
    out = []
    for i, c in enumerate(cells):
        if isinstance(c, float) and c.is_integer():
            c = int(c)  # a Parquet id or label stored as float: 3.0 means "3"
        text = "" if c is None or (isinstance(c, float) and math.isnan(c)) else str(c).strip()
        if not text:
            raise DataError(f"{table.where(i)}: column {name!r} is empty; every row needs one")
        out.append(text)
    return out


def _times(cells, table: _Table, name: str) -> np.ndarray:
    if isinstance(cells, np.ndarray):
        bad = np.flatnonzero(np.isnan(cells))
        if bad.size:
            raise DataError(f"{table.where(int(bad[0]))}: time column {name!r} is empty")
        return cells
    out = np.empty(len(cells))
    for i, c in enumerate(cells):
        if isinstance(c, datetime):
            out[i] = (c if c.tzinfo else c.replace(tzinfo=UTC)).timestamp()
            continue
        text = "" if c is None else str(c).strip()
        if not text:
            raise DataError(f"{table.where(i)}: time column {name!r} is empty")
        try:
            out[i] = float(text)
        except ValueError:
            try:
                stamp = datetime.fromisoformat(text)
            except ValueError:
                raise DataError(f"{table.where(i)}: time column {name!r} holds {text[:40]!r}, "
                                "neither a number nor an ISO date") from None
            out[i] = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return out


def _features(table: _Table, feature_columns, taken: set[str]) -> dict[str, np.ndarray]:
    """The feature columns by name, each parsed to float64 (NaN where missing)."""
    if feature_columns is not None:
        names = ([c.strip() for c in feature_columns.split(",")]
                 if isinstance(feature_columns, str) else [str(c) for c in feature_columns])
        if not names or len(set(names)) != len(names):
            raise ConfigError(f"feature_columns={feature_columns!r} must name distinct columns")
        out = {}
        for n in names:
            cells = table.column(n, "feature_columns")
            if n in taken:
                raise ConfigError(f"feature_columns names {n!r}, which is the id, time or "
                                  "label column")
            out[n] = _to_float(cells)
            if out[n] is None:
                raise _bad_cell(cells, table, n)
        return out
    out, skipped = {}, []
    for n, cells in zip(table.names, table.columns, strict=True):
        if n in taken:
            continue
        values = _to_float(cells)
        if values is None or np.isnan(values).all():
            skipped.append(n)
        else:
            out[n] = values
    if skipped:
        log.info("%s: not numeric, not used as features: %s", table.path, skipped)
    if not out:
        raise DataError(f"{table.path}: no numeric column besides {sorted(taken)}; "
                        "name the features with feature_columns")
    return out


def _group_rows(ids: list[str]) -> list[tuple[str, np.ndarray]]:
    """Row indexes per id, ids in order of first appearance, rows in file order."""
    uniq, first, inverse = np.unique(np.array(ids, dtype=object).astype(str),
                                     return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(uniq)))[:-1]
    groups = np.split(order, bounds)
    return [(str(uniq[g]), groups[g]) for g in np.argsort(first)]


def _sort_by_time(rows: np.ndarray, times: np.ndarray, table: _Table, key: str,
                  column: str) -> np.ndarray:
    """One id's rows in time order; DataError for a time that repeats."""
    rows = rows[np.argsort(times[rows], kind="stable")]
    same = np.flatnonzero(np.diff(times[rows]) == 0)
    if same.size:
        a, b = rows[same[0]], rows[same[0] + 1]
        raise DataError(f"{table.where(int(b))}: id {key!r} repeats time {float(times[b])!r} "
                        f"(also at {table.unit} {table.lines[a]}) in column {column!r}")
    return rows


def _case_label(rows: np.ndarray, row_labels: list[str], table: _Table, key: str,
                column: str) -> str:
    """The one label of an id's rows; DataError naming the id when they disagree."""
    first = row_labels[rows[0]]
    for r in rows:
        if row_labels[r] != first:
            raise DataError(f"{table.where(int(r))}: id {key!r} has label {row_labels[r]!r} "
                            f"in column {column!r}, but {first!r} on {table.unit} "
                            f"{table.lines[rows[0]]}; a sequence has one label")
    return first


def read_long(
    path: str | os.PathLike,
    *,
    id_column: str | None = None,
    time_column: str | None = None,
    feature_columns: Sequence[str] | str | None = None,
    label_column: str | None = "label",
    missing: str = "error",
    labels: Sequence[str] | None = None,
    delimiter: str = ",",
) -> SequenceSet:
    """Read sequences from a long CSV or Parquet table, one row per time step.

    Args:
        path: a ``.csv``/``.tsv``/``.txt`` file with a header line, or ``.parquet``/``.pq``.
        id_column: the column naming the sequence of each row (default ``"id"``).
        time_column: an optional column (numbers or ISO dates) to sort each sequence by;
            a time repeated within one id is an error.
        feature_columns: the channels, as names or "A,B" (default: every other numeric
            column).
        label_column: the label column (its values constant within an id), or None to
            read no labels (y is -1).
        missing: ``"error"``, ``"drop"``, ``"interpolate"`` or ``"zero"``; see ``clean_case``.
        labels: the class order to use; default the labels found, sorted.
        delimiter: the CSV separator (a ``.tsv`` uses a tab).

    Returns:
        A ``SequenceSet`` whose ids are the id column's values.

    Raises:
        ConfigError: an unknown column (the message lists the available ones).
        DataError: a non-numeric feature, a label that changes within an id, a repeated
        time, a missing value under ``missing="error"``; each names the line (or row).

    Example:
        >>> data = read_long("steps.csv", id_column="id", time_column="t")  # doctest: +SKIP
    """
    check_missing_policy(missing)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"no table at {path}")
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise DataError(f"{path}: over {MAX_TABLE_BYTES >> 30} GiB; split it")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        table = _read_parquet(path)
    else:
        table = _read_csv(path, "\t" if suffix == ".tsv" else delimiter)
    if not len(table):
        raise DataError(f"{path}: no rows after the header")
    if id_column is None:
        id_column = "id"
    ids = _text_cells(table.column(id_column, "id_column"), table, id_column)
    taken = {id_column}
    times = None
    if time_column is not None:
        times = _times(table.column(time_column, "time_column"), table, time_column)
        taken.add(time_column)
    row_labels = None
    if label_column is not None:
        row_labels = _text_cells(table.column(label_column, "label_column"), table,
                                 label_column)
        taken.add(label_column)
    features = _features(table, feature_columns, taken)
    names = tuple(features)
    x = np.stack(list(features.values()), axis=1)  # (rows, F)
    seqs, raw, wheres, case_ids = [], [], [], []
    for key, rows in _group_rows(ids):
        where = f"{path}: id {key!r}"
        if times is not None:
            rows = _sort_by_time(rows, times, table, key, time_column)
        raw.append(None if row_labels is None
                   else _case_label(rows, row_labels, table, key, label_column))
        steps = [f"{table.unit} {table.lines[r]}" for r in rows]
        seqs.append(clean_case(x[rows], missing, where, names, steps))
        wheres.append(where)
        case_ids.append(key)
    y, order = label_ids(raw, wheres, labels=labels)
    return SequenceSet(tuple(seqs), y, order, names, tuple(case_ids), str(path))
