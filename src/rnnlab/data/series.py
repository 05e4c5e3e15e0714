"""Time series for forecasting: the notebook's synthetic series and a user's own series.

Two sources feed the forecaster:

* the notebook's synthetic series ``t*sin(t)/3 + 2*sin(5t)`` over ``t`` in [0, 30] at a
  resolution of 0.1, sampled as random windows (``next_batch``), plus a fixed held-out set
  of ``HELDOUT_SIZE`` windows (``heldout_segments``);
* a user's own series read from CSV (or Parquet when pyarrow or pandas is installed), split
  chronologically into train/validation/test parts and cut into windows (``read_series``,
  ``prepare_series``).

A window is a *segment* of ``window + horizon`` consecutive values::

    segment:   v0 v1 v2 ... v[W-1] | v[W] ... v[W+H-1]
    inputs:    <------ W ------->
    next-step:    <------ W ------->            (inputs shifted by one: the notebook's target)
    horizon:                         <--- H --->

The notebook's sampler draws the window start with ``randn * (t_max - t_min - n_steps *
resolution)``: a normal with a standard deviation of 28 (for 20 steps), so about two thirds
of its windows start below ``t_min`` or past ``t_max - n_steps * resolution`` and the model
trains mostly on stretches of the series (|t| up to ~80) it is never tested on. A uniform
start over ``[t_min, t_max - n_steps * resolution]`` was meant; that is ``sampler="uniform"``,
the default. ``sampler="notebook"`` keeps the original.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error
from rnnlab.runs import write_json_atomic

log = logging.getLogger(__name__)

T_MIN, T_MAX, RESOLUTION = 0.0, 30.0, 0.1

HELDOUT_SEED = 403_2024
"""Seed of the fixed held-out windows. Training streams come from ``training_rng(seed)``,
which seeds ``SeedSequence([seed, 0])``; the held-out set uses ``SeedSequence([HELDOUT_SEED,
1])``, an entropy no training stream can have, whatever seed training is given."""
HELDOUT_SIZE = 1000

SAMPLERS = ("uniform", "notebook")
MISSING_POLICIES = ("error", "drop", "interpolate")
_MISSING_TOKENS = frozenset({"", "na", "nan", "n/a", "null", "none"})


# --------------------------------------------------------------------------- synthetic


def time_series(t: np.ndarray) -> np.ndarray:
    """The notebook's series ``t*sin(t)/3 + 2*sin(5t)``, element-wise."""
    t = np.asarray(t, dtype=np.float64)
    return t * np.sin(t) / 3 + 2 * np.sin(t * 5)


@dataclass(frozen=True)
class SyntheticSeriesConfig:
    """Where the synthetic series lives: ``t`` in [t_min, t_max] every ``resolution``."""

    t_min: float = T_MIN
    t_max: float = T_MAX
    resolution: float = RESOLUTION

    def __post_init__(self):
        if not self.resolution > 0:
            raise ConfigError(f"resolution={self.resolution!r} must be > 0")
        if not self.t_max > self.t_min:
            raise ConfigError(f"t_max={self.t_max!r} must be greater than t_min={self.t_min!r}")

    def grid(self) -> np.ndarray:
        """The notebook's plotting grid ``linspace(t_min, t_max, (t_max - t_min) / res)``."""
        n = round((self.t_max - self.t_min) / self.resolution)
        return np.linspace(self.t_min, self.t_max, n)

    def max_steps(self) -> int:
        """The most steps a segment may span and still fit inside [t_min, t_max]."""
        return math.floor((self.t_max - self.t_min) / self.resolution + 1e-9)


def training_rng(seed: int) -> np.random.Generator:
    """The random stream training draws its windows from (never the held-out stream)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0]))


def segment_starts(
    n: int,
    length: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> np.ndarray:
    """Draw ``n`` start times for segments of ``length`` points.

    Args:
        n: how many starts.
        length: points per segment (``n_steps + 1`` for the notebook's windows).
        generator: a ``numpy.random.Generator``.
        sampler: ``"uniform"`` over ``[t_min, t_max - (length-1)*resolution]`` or
            ``"notebook"`` (``randn * (t_max - t_min - (length-1)*resolution)``, see module doc).
        config: the series' time range.

    Returns:
        (n, 1) float64 start times.
    """
    if sampler not in SAMPLERS:
        raise choice_error("sampler", sampler, SAMPLERS)
    if length < 2 or length - 1 > config.max_steps():
        raise ConfigError(
            f"a segment of {length} points does not fit in t=[{config.t_min}, {config.t_max}] "
            f"at resolution {config.resolution}; allowed 2..{config.max_steps() + 1}"
        )
    span = config.t_max - config.t_min - (length - 1) * config.resolution
    if sampler == "notebook":
        return generator.standard_normal((n, 1)) * span
    return config.t_min + generator.random((n, 1)) * span


def sample_segments(
    batch_size: int,
    length: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> np.ndarray:
    """Draw ``batch_size`` segments of ``length`` consecutive values of the series.

    Returns:
        (batch_size, length) float64 values.
    """
    t0 = segment_starts(batch_size, length, generator, sampler, config)
    ts = t0 + np.arange(length) * config.resolution  # (B, length)
    return time_series(ts)


def next_batch(
    batch_size: int,
    n_steps: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``next_batch``: random windows and the same windows one step later.

    Args:
        batch_size: windows per batch (B).
        n_steps: steps per window (T).
        generator: a ``numpy.random.Generator``; see ``training_rng``.
        sampler: ``"uniform"`` (default) or ``"notebook"``; see the module doc.
        config: the series' time range.

    Returns:
        ``(X, y)``, each (B, T, 1) float32; ``y[:, t] `` is the value after ``X[:, t]``.

    Example:
        >>> X, y = next_batch(50, 20, training_rng(0))
        >>> X.shape, bool((X[:, 1:] == y[:, :-1]).all())
        ((50, 20, 1), True)
    """
    seg = sample_segments(batch_size, n_steps + 1, generator, sampler, config)
    seg = seg.astype(np.float32)[..., None]  # (B, T+1, 1)
    return seg[:, :-1], seg[:, 1:]


def heldout_segments(
    length: int = 21,
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
    size: int = HELDOUT_SIZE,
) -> np.ndarray:
    """The fixed held-out segments: ``size`` uniform windows from ``HELDOUT_SEED``.

    The uniform draws are the same for every ``length``; only the span they scale to changes.

    Returns:
        (size, length) float64 values.
    """
    rng = np.random.default_rng(np.random.SeedSequence([HELDOUT_SEED, 1]))
    return sample_segments(size, length, rng, "uniform", config)


# --------------------------------------------------------------------------- user series


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
    """

    values: np.ndarray
    times: np.ndarray | None
    id: str | None
    rows: np.ndarray
    column: str | None = None
    dates: bool = False

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

    groups: dict[str | None, list[tuple[int, int, float, float]]] = {}
    for r, (row, line) in enumerate(zip(rows, lines, strict=True), start=1):
        where = _where(path, r, line)
        value = _parse_value(row[vi], column, where)
        t = math.nan if ti is None else _parse_time(row[ti], time_column, where)
        key = None if ii is None else str(row[ii]).strip()
        groups.setdefault(key, []).append((r, line, value, t))

    out = []
    for key, items in groups.items():
        r_idx = np.array([it[0] for it in items])
        line_of = {it[0]: it[1] for it in items}
        values = np.array([it[2] for it in items], dtype=np.float64)
        times = None if ti is None else np.array([it[3] for it in items], dtype=np.float64)
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
            values, times, r_idx = _fill_missing(values, times, r_idx, missing)
            log.info("%s%s: %s %d missing values", path, label, missing, int(nan.sum()))
        out.append(Series(values=values, times=times, id=key, rows=r_idx, column=column,
                          dates=dates))
    return out


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
    return values[keep], None if times is None else times[keep], rows[keep]


# --------------------------------------------------------------------------- scaling


@dataclass(frozen=True)
class StandardScaler:
    """Standard scaling ``(x - mean) / std``, fitted on the training part only."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> StandardScaler:
        """Fit on ``values`` (any shape); a constant series gets ``std=1``."""
        values = np.asarray(values, dtype=np.float64)
        std = float(values.std())
        return cls(mean=float(values.mean()), std=std if std > 0 else 1.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - self.mean) / self.std

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"kind": "standard", "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> StandardScaler:
        if d.get("kind") != "standard" or not {"mean", "std"} <= d.keys():
            raise DataError(f"not a standard scaler: {d!r}")
        return cls(mean=float(d["mean"]), std=float(d["std"]))

    def save(self, path: str | os.PathLike) -> None:
        """Write the scaler as JSON, atomically."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> StandardScaler:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d)


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Windows:
    """Windows of one split part: each a segment of ``window + horizon`` values.

    Attributes:
        segments: (N, window + horizon) float64 (scaled) values.
        window: input steps W. horizon: values to predict after the inputs, H.
    """

    segments: np.ndarray
    window: int
    horizon: int

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def inputs(self) -> np.ndarray:
        """(N, W) the values the model sees."""
        return self.segments[:, : self.window]

    @property
    def next_step(self) -> np.ndarray:
        """(N, W) the notebook's target: each input's next value."""
        return self.segments[:, 1 : self.window + 1]

    @property
    def targets(self) -> np.ndarray:
        """(N, H) the ``horizon`` values after the inputs."""
        return self.segments[:, self.window :]


@dataclass(frozen=True)
class SplitSeries:
    """One series cut chronologically into (scaled) train, validation and test parts."""

    id: str | None
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class SeriesDataset:
    """A user's series ready for training: windows per part and the fitted scaler."""

    train: Windows
    val: Windows
    test: Windows
    scaler: StandardScaler
    series: tuple[SplitSeries, ...]


def make_windows(values: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """All segments of ``window + horizon`` consecutive values, stride 1.

    Returns:
        (max(0, N - window - horizon + 1), window + horizon) array (a copy).
    """
    length = window + horizon
    if values.size < length:
        return np.empty((0, length), dtype=np.float64)
    return np.lib.stride_tricks.sliding_window_view(values, length).copy()


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Rows in the train, validation and test parts of a series of ``n`` rows."""
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    return n - n_val - n_test, n_val, n_test


def prepare_series(
    series: Sequence[Series],
    *,
    window: int,
    horizon: int = 1,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    scale: bool = True,
    scaler: StandardScaler | None = None,
) -> SeriesDataset:
    """Split each series chronologically, fit the scaler on train, and cut windows.

    Each series is split on its own: the first rows train, the next validate, the last
    test. Windows are cut inside each part, so no window straddles a boundary and none
    mixes two series::

        rows:  |------ train ------|--- val ---|--- test ---|
        windows never cross a "|"

    Args:
        series: from ``read_series``.
        window: input steps W (>= 1). horizon: values to predict after them, H (>= 1).
        val_fraction, test_fraction: shares of each series' rows, in [0, 1), summing < 1.
        scale: fit a ``StandardScaler`` on the pooled training values (else identity).
        scaler: use this scaler instead of fitting one (a trained run's ``scaler.json``).

    Returns:
        A ``SeriesDataset``; its windows hold scaled values.

    Raises:
        DataError: a series shorter than one window, or a part too short to hold one.
    """
    if window < 1 or horizon < 1:
        raise ConfigError(f"window={window!r} and horizon={horizon!r} must both be >= 1")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ConfigError(f"{name}={f!r} must be in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training rows"
        )
    if not series:
        raise DataError("no series to prepare")
    length = window + horizon
    parts = []
    for s in series:
        if s.values.size < length:
            raise DataError(
                f"{s.name} has {s.values.size} values; one window needs window + horizon = {length}"
            )
        n_train, n_val, _ = split_sizes(s.values.size, val_fraction, test_fraction)
        if n_train < length:
            raise DataError(
                f"{s.name}: its training part has {n_train} of {s.values.size} rows, fewer "
                f"than one window (window + horizon = {length}); lower val/test fractions or "
                "the window"
            )
        parts.append(
            (
                s.id,
                s.values[:n_train],
                s.values[n_train : n_train + n_val],
                s.values[n_train + n_val :],
            )
        )
    if scaler is None:
        scaler = (StandardScaler.fit(np.concatenate([p[1] for p in parts])) if scale
                  else StandardScaler())
    split = tuple(
        SplitSeries(
            id=i, train=scaler.transform(a), val=scaler.transform(b), test=scaler.transform(c)
        )
        for i, a, b, c in parts
    )

    def windows(part: str, fraction: float) -> Windows:
        segs = [make_windows(getattr(s, part), window, horizon) for s in split]
        w = Windows(np.concatenate(segs), window, horizon)
        if fraction > 0 and len(w) == 0:
            raise DataError(
                f"the {part} parts hold no window of window + horizon = {length} rows; use a "
                f"larger {part} fraction, a smaller window, or a longer series"
            )
        return w

    return SeriesDataset(
        train=windows("train", 1.0),
        val=windows("val", val_fraction),
        test=windows("test", test_fraction),
        scaler=scaler,
        series=split,
    )
