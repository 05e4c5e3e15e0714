"""Many series in one long file: a panel, with its frequency, season and rolling origins.

``read_panel`` reads a long CSV/Parquet file (one row per series and time) into a
:class:`Panel`: every series in time order with the rows they came from, the file's
frequency (inferred from the time column, or given) and the season length that follows
from it. A gap in a series' times is handled by the missing-value policy: ``"error"``
names the series and row, ``"interpolate"`` fills the missing steps linearly (and says
how many it filled), ``"drop"`` keeps the observed values one after the other.

``rolling_origins`` places backtest origins exactly as statsforecast's
``cross_validation(h, n_windows, step_size)``::

    n values:  |------------------------------------------------|
    origin k:  train on y[:cut_k]        | h values scored |
    cut_k = n - h - step * (windows - 1 - k),  k = 0 .. windows - 1
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rnnlab.data.frequency import Frequency, find_gaps, infer_frequency, parse_frequency, season_of
from rnnlab.data.series import Series, read_series
from rnnlab.errors import ConfigError, DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Panel:
    """The series of one file, with the file's frequency and season.

    Attributes:
        series: one ``Series`` per id, in order of first appearance.
        freq: the frequency (given or inferred); None when the times fit none.
        season: the season length (``period``, else the frequency's, else 1).
        path: the file read.
    """

    series: list[Series]
    freq: Frequency | None
    season: int
    path: str = ""

    def __len__(self) -> int:
        return len(self.series)

    def ids(self) -> list[str]:
        """Each series' id ("series" for a file without an id column)."""
        return ["series" if s.id is None else s.id for s in self.series]


def read_panel(path: str | os.PathLike, column: str | None = None, *,
               time_column: str | None = None, id_column: str | None = None,
               missing: str = "error", freq: str | None = None,
               period: int | None = None) -> Panel:
    """Read every series of a long file, check their times against one frequency.

    Args:
        path: a CSV or Parquet file, one row per (series, time).
        column: the value column (None: the only numeric one).
        time_column: the time column (numbers or ISO dates), sorted within each series.
        id_column: the column naming each row's series.
        missing: "error", "drop" or "interpolate" for missing values and gaps in time.
        freq: the frequency (``"monthly"``, ``"M"``, ``"Q"``, ``"D"``...); None infers it
            from the longest series' times.
        period: the season length; None: the frequency's (12 monthly, 4 quarterly,
            1 yearly, 7 daily, 1 for numeric times).

    Returns:
        A ``Panel``.

    Raises:
        DataError: a non-numeric value, unsorted or repeated times, or a gap under
            ``missing="error"``; each names the series and the row.

    Example:
        >>> panel = read_panel("m.csv", "y", time_column="ds", id_column="id")  # doctest: +SKIP
        >>> panel.freq.name, panel.season                                          # doctest: +SKIP
        ('monthly', 12)
    """
    series = read_series(path, column, time_column=time_column, id_column=id_column,
                         missing=missing)
    f = parse_frequency(freq) if freq is not None else None
    if f is None and time_column is not None:
        longest = max(series, key=lambda s: s.values.size)
        f = infer_frequency(longest.times, longest.dates)
        if f is None:
            log.warning("%s: the times of %s fit no regular frequency; pass freq", path,
                        longest.name)
        else:
            log.debug("%s: %s series (season %d)", path, f.name, f.season)
    if f is not None and time_column is not None:
        series = [_check_gaps(s, f, missing, Path(path)) for s in series]
    return Panel(series, f, season_of(f, period), str(path))


def read_covariates(panel: Panel, columns: Sequence[str], *, time_column: str | None = None,
                    id_column: str | None = None, missing: str = "error") -> list[np.ndarray]:
    """Other columns of the panel's file, aligned with each series' values.

    Args:
        panel: the panel ``read_panel`` read (its path is read again).
        columns: the covariate columns.
        time_column, id_column, missing: as given to ``read_panel``.

    Returns:
        Per series, an (n, len(columns)) float64 array. A value the file lacks at one of
        the series' times (a time the gap policy filled) is interpolated from its
        neighbours.

    Raises:
        DataError: a non-numeric or missing covariate value (under ``missing="error"``),
            naming the column and row.
    """
    out = [np.zeros((s.values.size, len(columns))) for s in panel.series]
    for j, col in enumerate(columns):
        found = {s.id: s for s in read_series(panel.path, col, time_column=time_column,
                                              id_column=id_column, missing=missing)}
        for s, arr in zip(panel.series, out, strict=True):
            c = found.get(s.id)
            by_row = {} if c is None else dict(zip(c.rows.tolist(), c.values.tolist(),
                                                   strict=True))
            have = np.array([r in by_row for r in s.rows.tolist()])
            if not have.any():
                raise DataError(f"{panel.path} ({s.name}): no value of the covariate "
                                f"{col!r}")
            pos = np.arange(s.values.size)
            known = np.array([by_row[r] for r in s.rows[have].tolist()], dtype=np.float64)
            arr[:, j] = np.interp(pos, pos[have], known)
    return out


def _check_gaps(s: Series, freq: Frequency, missing: str, path: Path) -> Series:
    try:
        gaps = find_gaps(s.times, freq)
    except ConfigError as e:
        raise DataError(f"{path} ({s.name}): {e}") from None
    if gaps.size == 0:
        return s
    i = int(gaps[0])
    if missing == "error":
        raise DataError(f"{path}, row {int(s.rows[i])} ({s.name}): the times skip "
                        f"{len(gaps)} time(s) of the {freq.name} frequency (first after row "
                        f"{int(s.rows[i - 1])}); pass missing='interpolate' to fill the "
                        "gaps or 'drop' to join the observed values")
    if missing == "drop":
        log.warning("%s (%s): %d gap(s) in time; their values are joined (missing='drop')",
                    path, s.name, len(gaps))
        return s
    return _interpolate_gaps(s, freq, path)


def _interpolate_gaps(s: Series, freq: Frequency, path: Path) -> Series:
    from rnnlab.data.frequency import steps_between

    pos = np.concatenate([[0], np.cumsum(np.round(steps_between(s.times, freq)))]).astype(int)
    full = np.arange(pos[-1] + 1)
    values = np.interp(full, pos, s.values)
    if freq.calendar:
        t0 = np.round(s.times[0]).astype("int64").astype("datetime64[s]")
        month0 = t0.astype("datetime64[M]")
        offset = t0 - month0.astype("datetime64[s]")
        months = month0 + (full * int(freq.step)).astype("timedelta64[M]")
        times = (months.astype("datetime64[s]") + offset).astype(np.int64).astype(np.float64)
    else:
        times = s.times[0] + full * freq.step
    rows = np.zeros(full.size, dtype=s.rows.dtype)
    rows[pos] = s.rows  # 0: a value that the file did not hold
    labels = None
    if s.labels is not None:
        stamps = np.round(times).astype("int64").astype("datetime64[s]")
        short = all(len(str(x)) == 10 for x in s.labels)  # dates without a time of day
        labels = np.array([str(t)[:10] if short else str(t) for t in stamps], dtype=object)
        if not s.dates:
            labels = np.array([f"{t:g}" for t in times], dtype=object)
        labels[pos] = s.labels
    log.info("%s (%s): interpolated %d missing time(s)", path, s.name, full.size - pos.size)
    return replace(s, values=values, times=times, rows=rows, labels=labels)


def rolling_origins(n: int, horizon: int, windows: int = 1, step: int | None = None
                    ) -> list[int]:
    """The training cut of each backtest origin of a series of ``n`` values.

    Args:
        n: the series' length. horizon: values scored after each origin.
        windows: how many origins. step: values between origins (default ``horizon``).

    Returns:
        ``[cut_0, ..., cut_{windows-1}]``: origin k trains on ``y[:cut_k]`` and scores
        ``y[cut_k : cut_k + horizon]`` (statsforecast's ``cross_validation``).

    Example:
        >>> rolling_origins(10, horizon=2, windows=3, step=1)
        [6, 7, 8]
    """
    step = horizon if step is None else step
    for name, v in (("horizon", horizon), ("windows", windows), ("step", step)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name}={v!r} must be an int >= 1")
    return [n - horizon - step * (windows - 1 - k) for k in range(windows)]


def check_origins(panel: Panel, horizon: int, windows: int, step: int | None) -> list[list[int]]:
    """Each series' cuts; DataError naming the series (and its last row) when too short.

    Every origin keeps at least one value to train on.
    """
    cuts = []
    for s in panel.series:
        c = rolling_origins(s.values.size, horizon, windows, step)
        if c[0] < 1:
            need = s.values.size - c[0] + 1
            raise DataError(
                f"{panel.path}, row {int(s.rows[-1])} ({s.name}): {s.values.size} values, "
                f"too short for horizon={horizon}, windows={windows}, step="
                f"{horizon if step is None else step} (it needs at least {need}); shorten "
                "the horizon or use fewer windows")
        cuts.append(c)
    return cuts
