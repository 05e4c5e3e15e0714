"""Frequencies from ISO dates, gaps under each missing-value policy, rolling origins."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rnnlab.data.frequency import find_gaps, infer_frequency, parse_frequency, season_of
from rnnlab.data.series_panel import check_origins, read_panel, rolling_origins
from rnnlab.errors import ConfigError, DataError


def _stamps(dates):
    return np.array([dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC).timestamp()
                     for d in dates])


def _months(start_year, n, every=1, day=1):
    out = []
    for k in range(n):
        m = k * every
        out.append(f"{start_year + m // 12:04d}-{m % 12 + 1:02d}-{day:02d}")
    return out


@pytest.mark.parametrize(("dates", "name", "season"), [
    (_months(2000, 30), "monthly", 12),
    (_months(2000, 12, every=3), "quarterly", 4),
    ([f"{y}-01-01" for y in range(1990, 2000)], "yearly", 1),
    (["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"], "monthly", 12),  # month ends
    ([f"2024-03-{d:02d}" for d in range(1, 20)], "daily", 7),
    ([f"2024-01-{d:02d}" for d in (1, 8, 15, 22, 29)], "weekly", 52),
    ([f"2024-01-01T{h:02d}:00:00" for h in range(10)], "hourly", 24),
])
def test_calendar_frequencies_are_read_from_dates_whose_day_gaps_vary(dates, name, season):
    f = infer_frequency(_stamps(dates), dates=True)
    assert (f.name, f.season) == (name, season)
    assert find_gaps(_stamps(dates), f).size == 0


def test_numeric_times_have_no_season_and_a_given_period_wins():
    f = infer_frequency(np.arange(1990.0, 2000.0), dates=False)
    assert (f.name, f.season, f.step) == ("numeric", 1, 1.0)
    assert season_of(f, None) == 1 and season_of(f, 5) == 5
    assert infer_frequency(_stamps(["2020-01-01", "2020-01-04", "2020-02-17"]), True) is None


def test_parse_frequency_takes_names_and_aliases_and_refuses_others():
    assert parse_frequency("M").name == parse_frequency("MS").name == "monthly"
    assert parse_frequency("quarterly").season == 4 and parse_frequency("A").season == 1
    with pytest.raises(ConfigError, match="fortnightly"):
        parse_frequency("fortnightly")


def test_rolling_origins_are_statsforecast_cross_validation_cutoffs():
    # statsforecast: cutoffs at n - h - step * (n_windows - 1 - k); training y[:cut].
    assert rolling_origins(10, horizon=2, windows=3, step=1) == [6, 7, 8]
    assert rolling_origins(24, horizon=6, windows=2) == [12, 18]  # step defaults to h
    assert rolling_origins(5, horizon=1) == [4]
    with pytest.raises(ConfigError, match="windows=0"):
        rolling_origins(5, horizon=1, windows=0)


def _write(path, rows, header="id,ds,y"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_a_gap_in_time_names_the_series_and_row_or_is_filled_when_asked(tmp_path):
    rows = [f"a,{d},{i}" for i, d in enumerate(_months(2000, 6))]
    gap = [f"b,{d},{i}" for i, d in enumerate(_months(2000, 6)) if i != 3]
    path = _write(tmp_path / "gap.csv", rows + gap)
    with pytest.raises(DataError, match=r"row 10 \(series 'b'\).*skip 1 time"):
        read_panel(path, "y", time_column="ds", id_column="id")
    filled = read_panel(path, "y", time_column="ds", id_column="id", missing="interpolate")
    b = filled.series[1]
    assert b.values.tolist() == [0, 1, 2, 3, 4, 5]  # 3 = between 2 and the 4th value (4)
    assert list(b.labels) == _months(2000, 6) and b.rows[3] == 0
    joined = read_panel(path, "y", time_column="ds", id_column="id", missing="drop")
    assert joined.series[1].values.size == 5
    assert filled.freq.name == "monthly" and filled.season == 12


@pytest.mark.parametrize(("row", "message"), [
    ("a,2000-03-01,x", r"row 3.*'y' holds 'x', not a number"),
    ("a,2000-02-01,5", r"row 3.*repeats"),
    ("a,1999-12-01,5", r"row 3.*goes back"),
])
def test_bad_rows_are_named(tmp_path, row, message):
    path = _write(tmp_path / "bad.csv", ["a,2000-01-01,1", "a,2000-02-01,2", row])
    with pytest.raises(DataError, match=message):
        read_panel(path, "y", time_column="ds", id_column="id")


def test_a_horizon_longer_than_a_series_names_it(tmp_path):
    rows = [f"long,{d},{i}" for i, d in enumerate(_months(2000, 30))]
    rows += [f"short,{d},{i}" for i, d in enumerate(_months(2000, 4))]
    panel = read_panel(_write(tmp_path / "p.csv", rows), "y", time_column="ds",
                       id_column="id")
    assert [len(c) for c in check_origins(panel, 3, 1, None)] == [1, 1]
    with pytest.raises(DataError, match=r"row 34 \(series 'short'\): 4 values, too short "
                                        r"for horizon=4"):
        check_origins(panel, 4, 1, None)
