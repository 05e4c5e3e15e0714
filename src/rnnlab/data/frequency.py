"""The sampling frequency of a series, inferred from its time column, and its season.

Calendar frequencies are read from the dates' calendar fields, not from their gaps in
seconds: months have 28 to 31 days and years 365 or 366, so monthly, quarterly and yearly
series are recognised when every step moves the month (or the year) by the same amount.
Fixed frequencies (daily, weekly, hourly, minutely) are recognised from a constant gap.

===========  =======  ======  ==========================================
name         alias    season  a step is
===========  =======  ======  ==========================================
yearly       Y        1       one calendar year
quarterly    Q        4       three calendar months
monthly      M        12      one calendar month
weekly       W        52      7 days
daily        D        7       1 day
hourly       H        24      1 hour
minutely     T        60      1 minute
===========  =======  ======  ==========================================

Numeric time columns (``1990, 1991, ...`` or ``1, 2, 3``) have a step (the most common
gap) and no calendar: their season is 1 unless ``period`` is given.

A gap (a step larger than the frequency's) is reported by :func:`find_gaps`; the
missing-value policy of the caller decides what to do with it, never a silent insertion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, choice_error

#: name -> (alias, season length, months per step (calendar) or seconds per step).
_CALENDAR = {"yearly": ("Y", 1, 12), "quarterly": ("Q", 4, 3), "monthly": ("M", 12, 1)}
_FIXED = {"weekly": ("W", 52, 7 * 86400), "daily": ("D", 7, 86400),
          "hourly": ("H", 24, 3600), "minutely": ("T", 60, 60)}
FREQUENCIES = (*_CALENDAR, *_FIXED)
_ALIASES = {**{a: n for n, (a, _, _) in {**_CALENDAR, **_FIXED}.items()},
            "A": "yearly", "YS": "yearly", "YE": "yearly", "QS": "quarterly",
            "QE": "quarterly", "MS": "monthly", "ME": "monthly", "MIN": "minutely"}


@dataclass(frozen=True)
class Frequency:
    """A series' sampling frequency.

    Attributes:
        name: one of ``FREQUENCIES``, or ``"numeric"`` (a numeric time column) or
            ``"none"`` (no time column).
        season: the season length the seasonal naive and MASE use (1: none).
        step: months per step (calendar), seconds per step (fixed), the numeric step, or 1.
    """

    name: str
    season: int
    step: float = 1.0

    @property
    def calendar(self) -> bool:
        return self.name in _CALENDAR


def parse_frequency(text: str) -> Frequency:
    """``"monthly"``, ``"M"``, ``"MS"``, ``"Q"``... -> the ``Frequency``.

    Example:
        >>> parse_frequency("Q").season, parse_frequency("monthly").name
        (4, 'monthly')
    """
    key = str(text).strip()
    name = key.lower() if key.lower() in FREQUENCIES else _ALIASES.get(key.upper())
    if name is None:
        raise choice_error("freq", text, (*FREQUENCIES, *sorted(set(_ALIASES))))
    if name in _CALENDAR:
        _, season, months = _CALENDAR[name]
        return Frequency(name, season, float(months))
    _, season, seconds = _FIXED[name]
    return Frequency(name, season, float(seconds))


def _months(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """POSIX seconds -> (months since 1970, seconds into the month)."""
    stamps = np.round(times).astype("int64").astype("datetime64[s]")
    months = stamps.astype("datetime64[M]")
    into = (stamps - months.astype("datetime64[s]")).astype(np.int64)
    return months.astype(np.int64), into


def infer_frequency(times: np.ndarray | None, dates: bool) -> Frequency | None:
    """The frequency of one series' times, or None when no regular one fits.

    Args:
        times: (N,) increasing times (POSIX seconds for dates), or None.
        dates: whether ``times`` came from dates.

    Returns:
        A ``Frequency`` (``"none"`` without times; ``"numeric"`` for numbers), or None
        when the gaps fit no frequency (irregular times).

    Example:
        >>> import datetime as dt
        >>> t = [dt.datetime(2020, m, 1, tzinfo=dt.UTC).timestamp() for m in (1, 2, 3, 4)]
        >>> infer_frequency(np.array(t), dates=True).name
        'monthly'
    """
    if times is None:
        return Frequency("none", 1)
    times = np.asarray(times, dtype=np.float64)
    if times.size < 2:
        return Frequency("numeric" if not dates else "none", 1)
    if not dates:
        step = float(np.min(np.diff(times)))
        return Frequency("numeric", 1, step)
    months, into = _months(times)
    dm = np.diff(months)
    if (np.all(into == into[0]) or _month_ends(times)) and dm.min() > 0:
        for name in ("monthly", "quarterly", "yearly"):
            _, season, k = _CALENDAR[name]
            if dm.min() == k and np.all(dm % k == 0):
                return Frequency(name, season, float(k))
    gaps = np.diff(times)
    for name in ("minutely", "hourly", "daily", "weekly"):
        _, season, seconds = _FIXED[name]
        if np.isclose(gaps.min(), seconds) and np.allclose(gaps / seconds,
                                                           np.round(gaps / seconds)):
            return Frequency(name, season, float(seconds))
    return None


def _month_ends(times: np.ndarray) -> bool:
    """Whether every date is the last day of its month (pandas' "ME" dates)."""
    stamps = np.round(times).astype("int64").astype("datetime64[s]").astype("datetime64[D]")
    return bool(np.all((stamps + 1).astype("datetime64[M]") != stamps.astype("datetime64[M]")))


def steps_between(times: np.ndarray, freq: Frequency) -> np.ndarray:
    """(N,) times -> (N-1,) gaps in steps of ``freq`` (1 everywhere for a regular series)."""
    times = np.asarray(times, dtype=np.float64)
    if freq.name == "none":
        return np.ones(max(times.size - 1, 0))
    if freq.calendar:
        months, _ = _months(times)
        return np.diff(months) / freq.step
    return np.diff(times) / freq.step


def find_gaps(times: np.ndarray | None, freq: Frequency) -> np.ndarray:
    """Indices i where times[i] - times[i-1] is more than one step of ``freq``.

    Raises:
        ConfigError: a gap that is not a whole number of steps (the times fit another
            frequency than ``freq``).
    """
    if times is None or len(times) < 2 or freq.name == "none":
        return np.zeros(0, dtype=np.int64)
    gaps = steps_between(times, freq)
    if not np.allclose(gaps, np.round(gaps)) or np.any(np.round(gaps) < 1):
        bad = int(np.flatnonzero(~np.isclose(gaps, np.round(gaps)) | (np.round(gaps) < 1))[0])
        raise ConfigError(f"freq={freq.name!r} does not fit the times: the step before "
                          f"value {bad + 2} is {gaps[bad]:g} steps of it")
    return np.flatnonzero(np.round(gaps) > 1) + 1


def season_of(freq: Frequency | None, period: int | None) -> int:
    """The season length: ``period`` when given, else the frequency's (1 when unknown)."""
    if period is not None:
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise ConfigError(f"period={period!r} must be an int >= 1")
        return period
    return 1 if freq is None else freq.season


def next_stamps(times: np.ndarray, freq: Frequency | None, steps: int) -> np.ndarray:
    """(steps,) the times after a series' last one, in its units (POSIX seconds for dates).

    Args:
        times: (N,) the series' times, N >= 1. freq: its frequency (None: the times' last
            gap). steps: H.
    """
    times = np.asarray(times, dtype=np.float64)
    ahead = np.arange(1, steps + 1)
    if freq is not None and freq.calendar:
        months, into = _months(times[-1:])
        starts = (months[0] + int(freq.step) * ahead).astype("datetime64[M]")
        if times.size > 1 and _month_ends(times):  # month ends stay month ends
            stamps = (starts + 1).astype("datetime64[D]").astype("datetime64[s]") - 86400
        else:
            stamps = starts.astype("datetime64[s]") + int(into[0])
        return stamps.astype(np.int64).astype(np.float64)
    if freq is not None and freq.name != "none":
        step = freq.step
    else:
        step = float(times[-1] - times[-2]) if times.size > 1 else 1.0
    return times[-1] + step * ahead


def next_times(times: np.ndarray, dates: bool, freq: Frequency | None, steps: int
               ) -> list[str]:
    """The ``steps`` times after a series' last one, as a forecast's table writes them.

    Args:
        times: (N,) the series' times (POSIX seconds for dates), N >= 1.
        dates: whether ``times`` are dates. freq: the series' frequency (None: the
            times' last gap). steps: H.

    Returns:
        H labels: ISO dates (``"2024-01-01"``, with the time of day when it is not
        midnight), or numbers (``"2014"``) for a numeric time column.

    Example:
        >>> import datetime as dt
        >>> t = [dt.datetime(2020, m, 31 if m == 1 else 29, tzinfo=dt.UTC).timestamp()
        ...      for m in (1, 2)]
        >>> next_times(np.array(t), True, parse_frequency("M"), 2)
        ['2020-03-31', '2020-04-30']
    """
    out = next_stamps(times, freq if dates or freq is None or not freq.calendar else None,
                      steps)
    return _iso(out) if dates else [f"{v:g}" for v in out]


def _iso(seconds: np.ndarray) -> list[str]:
    stamps = np.round(seconds).astype("int64").astype("datetime64[s]")
    days = stamps.astype("datetime64[D]")
    if np.all(stamps == days.astype("datetime64[s]")):
        return [str(d) for d in days]
    return [str(s) for s in stamps]
