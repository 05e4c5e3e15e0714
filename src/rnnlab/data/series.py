"""Time series for forecasting: a user's own series from CSV or Parquet (and, re-exported
here, the notebook's synthetic series and the windows both are cut into).

* ``read_series`` reads one or several univariate series from a file (``rnnlab.data.series``);
* ``rnnlab.data.synthetic_series``: the notebook's series ``t*sin(t)/3 + 2*sin(5t)``, its
  samplers and the fixed held-out windows;
* ``rnnlab.data.series_windows``: the chronological split, the scaler and the windows
  (``prepare_series``).

Every name of the three stays importable from ``rnnlab.data.series``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rnnlab.data.series_windows import (  # noqa: F401  (re-exported)
    SeriesDataset,
    SplitSeries,
    StandardScaler,
    Windows,
    make_windows,
    prepare_series,
    split_sizes,
)
from rnnlab.data.synthetic_series import (  # noqa: F401  (re-exported)
    HELDOUT_SEED,
    HELDOUT_SIZE,
    RESOLUTION,
    SAMPLERS,
    T_MAX,
    T_MIN,
    SyntheticSeriesConfig,
    heldout_segments,
    next_batch,
    sample_segments,
    segment_starts,
    time_series,
    training_rng,
)
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error

log = logging.getLogger(__name__)

MISSING_POLICIES = ("error", "drop", "interpolate")
_MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})


@dataclass(frozen=True)
class Series:
    """One univariate series read from a file, in time order.

    Attributes:
        values: (N,) float64 values.
        times: (N,) float64 times (numbers as read; dates as POSIX seconds) or None.
        id: the value of the id column for this series, or None for a single series.
        rows: (N,) the 1-based data row each value came from (the header is not a row).
        column: the name of the value column.
        dates: whether ``times`` came from dates (POSIX seconds) rather than numbers.
        labels: (N,) the time cells as the file writes them (str), or None.
    """

    values: np.ndarray
    times: np.ndarray | None
    id: str | None
    rows: np.ndarray
    column: str | None = None
    dates: bool = False
    labels: np.ndarray | None = None

    @property
    def name(self) -> str:
        return "series" if self.id is None else f"series {self.id!r}"


def _read_columns(path: Path, delimiter: str) -> tuple[list[str], list[list[object]], list[int]]:
    """Read a CSV or Parquet file into (header, rows, file line of each row)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(path)
    try:
        return _read_csv(path, delimiter)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason}, bytes "
                        f"{e.object[e.start:e.start + 4]!r}); save the file as UTF-8") from None


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[object]], list[int]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: the file is empty; expected a header line") from None
        except csv.Error as e:
            raise DataError(f"{path}, line {reader.line_num}: {e}") from None
        header = [h.strip() for h in header]
        rows, lines = [], []
        try:
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue  # blank lines carry no row
                if len(row) != len(header):
                    raise DataError(
                        f"{path}, line {reader.line_num}: {len(row)} fields, the header has "
                        f"{len(header)}"
                    )
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as e:
            raise DataError(f"{path}, line {reader.line_num}: {e}") from None
    return header, rows, lines


def _read_parquet(path: Path) -> tuple[list[str], list[list[object]], list[int]]:
    try:
        import pyarrow.parquet as pq  # optional: only to read Parquet
    except ImportError:
        pq = None
    if pq is not None:
        table = pq.read_table(path).to_pydict()
    else:
        try:
            import pandas as pd  # optional fallback
        except ImportError:
            raise ConfigError(
                f"{path}: reading Parquet needs pyarrow or pandas, and neither is installed; "
                "`pip install pyarrow`, or save the series as CSV"
            ) from None
        table = pd.read_parquet(path).to_dict(orient="list")
    header = [str(k) for k in table]
    columns = list(table.values())
    n = len(columns[0]) if columns else 0
    rows = [[c[i] for c in columns] for i in range(n)]
    return header, rows, [i + 1 for i in range(n)]


def _where(path: Path, row: int, line: int) -> str:
    return f"{path}, row {row} (line {line})" if line != row else f"{path}, row {row}"


def _parse_value(cell: object, column: str, where: str) -> float:
    """A numeric cell as float, NaN for a missing one; DataError for anything else."""
    if cell is None:
        return math.nan
    if isinstance(cell, (int, float, np.integer, np.floating)) and not isinstance(cell, bool):
        return float(cell)
    text = str(cell).strip()
    if text.lower() in _MISSING_TOKENS:
        return math.nan
    try:
        v = float(text)
    except ValueError:
        raise DataError(f"{where}: column {column!r} holds {text!r}, not a number") from None
    if math.isinf(v):
        raise DataError(f"{where}: column {column!r} holds {text!r}; values must be finite")
    return v


def _parse_time(cell: object, column: str, where: str) -> float:
    if isinstance(cell, datetime):
        stamp = cell if cell.tzinfo else cell.replace(tzinfo=UTC)
        return stamp.timestamp()
    if hasattr(cell, "to_pydatetime"):  # a pandas Timestamp from Parquet
        return _parse_time(cell.to_pydatetime(), column, where)
    text = "" if cell is None else str(cell).strip()
    if not text or text.lower() in _MISSING_TOKENS:
        raise DataError(f"{where}: time column {column!r} is empty; every row needs a time")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(
            f"{where}: time column {column!r} holds {text!r}, neither a number nor an ISO date"
        ) from None
    return _parse_time(stamp, column, where)


def _is_number(cell: object) -> bool:
    """Whether a cell reads as a number or as a missing value (not as text or a date)."""
    if cell is None or isinstance(cell, (int, float, np.integer, np.floating)):
        return not isinstance(cell, bool)
    text = str(cell).strip()
    if text.lower() in _MISSING_TOKENS:
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _value_column(header: list[str], rows: list[list[object]], skip: set[int],
                  path: Path) -> str:
    """The one numeric column outside ``skip`` (time and id columns), for ``column=None``."""
    numeric = [h for i, h in enumerate(header) if i not in skip
               and any(not _is_missing(r[i]) for r in rows) and all(_is_number(r[i]) for r in rows)]
    if len(numeric) == 1:
        return numeric[0]
    listed = ", ".join(repr(h) for h in (numeric or header))
    if numeric:
        raise ConfigError(f"column=None: {path} has {len(numeric)} numeric columns ({listed}); "
                          "name the value column")
    raise ConfigError(f"column=None: {path} has no numeric column besides the time and id "
                      f"columns (columns: {listed}); name the value column")


def _is_missing(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and math.isnan(cell):
        return True
    return str(cell).strip().lower() in _MISSING_TOKENS


def _is_date(cell: object) -> bool:
    """Whether a (valid) time cell is a date rather than a number."""
    if isinstance(cell, datetime) or hasattr(cell, "to_pydatetime"):
        return True
    try:
        float(str(cell).strip())
    except ValueError:
        return True
    return False


def _column_index(header: list[str], name: str, role: str, path: Path) -> int:
    if name not in header:
        available = ", ".join(repr(h) for h in header)
        raise ConfigError(f"{role} {name!r} is not a column of {path}; available: {available}")
    return header.index(name)


def read_series(
    path: str | os.PathLike,
    column: str | None = None,
    *,
    time_column: str | None = None,
    id_column: str | None = None,
    missing: str = "error",
    delimiter: str = ",",
) -> list[Series]:
    """Read one or several univariate series from a CSV (or Parquet) file.

    Args:
        path: the file; ``.parquet``/``.pq`` needs pyarrow or pandas, anything else is CSV
            with a header line.
        column: the column of values; None: the file's only numeric column besides the
            time and id columns (a ConfigError lists them when there are several).
        time_column: an optional column of times (numbers or ISO dates); within each series
            they must increase strictly, in file order.
        id_column: an optional column naming the series each row belongs to; series come out
            in order of first appearance.
        missing: what to do with a missing value (empty, ``NA``, ``NaN``, ``null``):
            ``"error"`` (default) raises naming the row, ``"drop"`` removes the row,
            ``"interpolate"`` fills it linearly from its neighbours (by time when a time
            column is given, else by position) and drops missing values at either end.
        delimiter: the CSV field separator.

    Returns:
        A list of ``Series``.

    Raises:
        DataNotFoundError: no such file. ConfigError: an unknown column (the message lists
        the available ones) or policy. DataError: a non-numeric value, a missing value under
        ``missing="error"``, unsorted times or an empty file; each names the row.

    Example:
        >>> [s] = read_series("sales.csv", "units", time_column="date")  # doctest: +SKIP
    """
    path = Path(path)
    if missing not in MISSING_POLICIES:
        raise choice_error("missing", missing, MISSING_POLICIES)
    if not path.is_file():
        raise DataNotFoundError(f"no series file at {path}")
    header, rows, lines = _read_columns(path, delimiter)
    ti = None if time_column is None else _column_index(header, time_column, "time column", path)
    ii = None if id_column is None else _column_index(header, id_column, "id column", path)
    if column is not None:
        vi = _column_index(header, column, "column", path)
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    if column is None:
        column = _value_column(header, rows, {ti, ii} - {None}, path)
        vi = header.index(column)
        log.info("%s: the value column is %r (the only numeric one)", path, column)
    dates = ti is not None and _is_date(rows[0][ti])

    groups: dict[str | None, list[tuple[int, int, float, float, str]]] = {}
    for r, (row, line) in enumerate(zip(rows, lines, strict=True), start=1):
        where = _where(path, r, line)
        value = _parse_value(row[vi], column, where)
        t = math.nan if ti is None else _parse_time(row[ti], time_column, where)
        key = None if ii is None else str(row[ii]).strip()
        label = "" if ti is None else _time_label(row[ti])
        groups.setdefault(key, []).append((r, line, value, t, label))

    out = []
    for key, items in groups.items():
        r_idx = np.array([it[0] for it in items])
        line_of = {it[0]: it[1] for it in items}
        values = np.array([it[2] for it in items], dtype=np.float64)
        times = None if ti is None else np.array([it[3] for it in items], dtype=np.float64)
        labels = None if ti is None else np.array([it[4] for it in items], dtype=object)
        label = "" if key is None else f" (id {key!r})"
        if times is not None:
            bad = np.flatnonzero(np.diff(times) <= 0)
            if bad.size:
                r = int(r_idx[bad[0] + 1])
                what = "repeats" if times[bad[0] + 1] == times[bad[0]] else "goes back"
                raise DataError(
                    f"{_where(path, r, line_of[r])}{label}: time column {time_column!r} {what} "
                    f"(after row {int(r_idx[bad[0]])}); the series must be sorted by time"
                )
        nan = np.isnan(values)
        if nan.any():
            if missing == "error":
                r = int(r_idx[np.flatnonzero(nan)[0]])
                raise DataError(
                    f"{_where(path, r, line_of[r])}{label}: column {column!r} is missing a "
                    f"value ({int(nan.sum())} missing in all); pass missing='drop' or "
                    "'interpolate' to accept gaps"
                )
            values, times, r_idx, keep = _fill_missing(values, times, r_idx, missing)
            labels = None if labels is None else labels[keep]
            log.info("%s%s: %s %d missing values", path, label, missing, int(nan.sum()))
        out.append(Series(values=values, times=times, id=key, rows=r_idx, column=column,
                          dates=dates, labels=labels))
    return out


def _time_label(cell: object) -> str:
    """A time cell as text, the way the file writes it (dates from Parquet in ISO)."""
    if hasattr(cell, "isoformat"):
        return cell.isoformat()
    return str(cell).strip()


def _fill_missing(values, times, rows, policy):
    nan = np.isnan(values)
    if policy == "interpolate" and (~nan).sum() >= 1:
        # Only gaps between two known values can be interpolated; the ends are dropped.
        known = np.flatnonzero(~nan)
        inside = np.zeros_like(nan)
        inside[known[0] : known[-1] + 1] = True
        x = times if times is not None else np.arange(values.size, dtype=np.float64)
        values = values.copy()
        values[nan] = np.interp(x[nan], x[~nan], values[~nan])
        keep = inside
    else:
        keep = ~nan
    return values[keep], None if times is None else times[keep], rows[keep], keep
