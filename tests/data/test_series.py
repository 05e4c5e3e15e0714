"""The synthetic series, its samplers, and reading/splitting a user's series."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from rnnlab.data.series import (
    HELDOUT_SEED,
    HELDOUT_SIZE,
    Series,
    StandardScaler,
    SyntheticSeriesConfig,
    heldout_segments,
    make_windows,
    next_batch,
    prepare_series,
    read_series,
    segment_starts,
    time_series,
    training_rng,
)
from rnnlab.errors import ConfigError, DataError, DataNotFoundError


def _notebook_time_series(t):
    return t * np.sin(t) / 3 + 2 * np.sin(t * 5)


def test_time_series_is_the_notebooks():
    t = np.linspace(0, 30, 300)
    np.testing.assert_array_equal(time_series(t), _notebook_time_series(t))


def test_next_batch_notebook_sampler_matches_the_notebook_code():
    batch_size, n_steps, t_min, t_max, resolution = 7, 20, 0, 30, 0.1
    rng = np.random.default_rng(3)
    X, y = next_batch(batch_size, n_steps, rng, sampler="notebook")
    # The notebook's next_batch, with np.random.randn replaced by the same generator.
    ref_rng = np.random.default_rng(3)
    t0 = ref_rng.standard_normal((batch_size, 1)) * (t_max - t_min - n_steps * resolution)
    Ts = t0 + np.arange(0.0, n_steps + 1) * resolution
    ys = _notebook_time_series(Ts)
    np.testing.assert_allclose(X, ys[:, :-1].reshape(-1, n_steps, 1), rtol=1e-6)
    np.testing.assert_allclose(y, ys[:, 1:].reshape(-1, n_steps, 1), rtol=1e-6)
    assert X.dtype == np.float32 and X.shape == (7, 20, 1)


def test_uniform_sampler_stays_inside_the_series_and_the_notebook_one_does_not():
    length = 21
    cfg = SyntheticSeriesConfig()
    uni = segment_starts(20_000, length, np.random.default_rng(0), "uniform", cfg)
    assert uni.min() >= 0 and uni.max() <= 30 - 20 * 0.1
    # Uniform: mean of the span's midpoint.
    assert uni.mean() == pytest.approx(14.0, abs=0.2)
    nb = segment_starts(20_000, length, np.random.default_rng(0), "notebook", cfg)
    outside = np.mean((nb < 0) | (nb > 28))
    assert outside == pytest.approx(1 - 0.3413, abs=0.02)  # P(not 0 < Z < 1)


def test_sampler_and_length_errors():
    with pytest.raises(ConfigError, match="'gaussian'"):
        next_batch(2, 5, training_rng(0), sampler="gaussian")
    with pytest.raises(ConfigError, match="does not fit"):
        next_batch(2, 400, training_rng(0))


def test_heldout_is_fixed_and_not_a_training_stream():
    a, b = heldout_segments(21), heldout_segments(21)
    assert a.shape == (HELDOUT_SIZE, 21)
    np.testing.assert_array_equal(a, b)
    X, _ = next_batch(HELDOUT_SIZE, 20, training_rng(0))
    assert not np.allclose(X[:, :, 0], a[:, :20].astype(np.float32))
    # Each row is the series at consecutive times 0.1 apart, starting inside [0, 28].
    rng = np.random.default_rng(np.random.SeedSequence([HELDOUT_SEED, 1]))
    t0 = rng.random((HELDOUT_SIZE, 1)) * 28.0
    np.testing.assert_allclose(a, _notebook_time_series(t0 + np.arange(21) * 0.1))
    # Longer segments reuse the same draws, scaled to their shorter span.
    b = heldout_segments(31)
    np.testing.assert_allclose(b[:, 0], _notebook_time_series(t0[:, 0] / 28.0 * 27.0))


# --------------------------------------------------------------------- user series


def _write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_read_single_series_with_time_column(tmp_path):
    p = _write(tmp_path, "date,value\n2020-01-01,1.5\n2020-01-02,2\n2020-01-03,-3e0\n")
    [s] = read_series(p, "value", time_column="date")
    np.testing.assert_array_equal(s.values, [1.5, 2.0, -3.0])
    assert s.id is None and s.times is not None and np.all(np.diff(s.times) == 86400)
    np.testing.assert_array_equal(s.rows, [1, 2, 3])


def test_read_several_series_by_id_in_order_of_appearance(tmp_path):
    p = _write(tmp_path, "id,t,y\nb,1,10\na,1,1\nb,2,20\na,2,2\na,3,3\n")
    sa, sb = None, None
    out = read_series(p, "y", time_column="t", id_column="id")
    assert [s.id for s in out] == ["b", "a"]
    sb, sa = out
    np.testing.assert_array_equal(sa.values, [1, 2, 3])
    np.testing.assert_array_equal(sb.values, [10, 20])


def test_unknown_column_lists_available(tmp_path):
    p = _write(tmp_path, "date,value\n1,2\n")
    with pytest.raises(ConfigError, match=r"'valu' .*available: 'date', 'value'"):
        read_series(p, "valu")
    with pytest.raises(ConfigError, match="time column 'when'"):
        read_series(p, "value", time_column="when")


def test_the_only_numeric_column_needs_no_name_and_several_are_listed(tmp_path):
    p = _write(tmp_path, "date,value,note\n2020-01-01,1,a\n2020-01-02,NA,b\n2020-01-03,3,c\n")
    [s] = read_series(p, time_column="date", missing="drop")
    assert s.column == "value" and s.dates
    np.testing.assert_array_equal(s.values, [1.0, 3.0])
    [n] = read_series(_write(tmp_path, "t,v\n1,5\n2,6\n", "n.csv"), "v", time_column="t")
    assert n.column == "v" and not n.dates
    many = _write(tmp_path, "t,a,b\n1,2,3\n2,3,4\n", "many.csv")
    with pytest.raises(ConfigError, match=r"3 numeric columns \('t', 'a', 'b'\)"):
        read_series(many)
    with pytest.raises(ConfigError, match=r"2 numeric columns \('a', 'b'\); name"):
        read_series(many, time_column="t")
    with pytest.raises(ConfigError, match=r"no numeric column .*columns: 'x', 'y'"):
        read_series(_write(tmp_path, "x,y\nu,v\n", "text.csv"))


def test_non_numeric_value_names_column_and_row(tmp_path):
    p = _write(tmp_path, "value\n1\n2\nabc\n")
    with pytest.raises(DataError, match=r"row 3 \(line 4\): column 'value' holds 'abc'"):
        read_series(p, "value")


def test_unsorted_time_names_first_bad_row(tmp_path):
    p = _write(tmp_path, "t,value\n1,1\n2,2\n5,3\n4,4\n3,5\n")
    with pytest.raises(DataError, match=r"row 4 \(line 5\).*goes back.*after row 3"):
        read_series(p, "value", time_column="t")
    p = _write(tmp_path, "t,value\n1,1\n1,2\n")
    with pytest.raises(DataError, match=r"row 2.*repeats"):
        read_series(p, "value", time_column="t")


def test_missing_values_policies(tmp_path):
    p = _write(tmp_path, "t,value\n0,\n1,1\n2,NA\n4,5\n5,6\n6,nan\n")
    with pytest.raises(DataError, match=r"row 1 \(line 2\).*missing.*3 missing"):
        read_series(p, "value")
    [d] = read_series(p, "value", missing="drop")
    np.testing.assert_array_equal(d.values, [1, 5, 6])
    np.testing.assert_array_equal(d.rows, [2, 4, 5])
    # Interpolation by time: t=2 lies a quarter of the way from t=1 (1) to t=4 (5)...
    [i] = read_series(p, "value", time_column="t", missing="interpolate")
    np.testing.assert_allclose(i.values, [1, 1 + 4 / 3, 5, 6])
    # ...and by position without a time column; the ends are dropped.
    [j] = read_series(p, "value", missing="interpolate")
    np.testing.assert_allclose(j.values, [1, 3, 5, 6])
    with pytest.raises(ConfigError, match="'fill'"):
        read_series(p, "value", missing="fill")


def test_bad_files(tmp_path):
    with pytest.raises(DataNotFoundError):
        read_series(tmp_path / "nope.csv", "v")
    with pytest.raises(DataError, match="empty"):
        read_series(_write(tmp_path, ""), "v")
    with pytest.raises(DataError, match="no data rows"):
        read_series(_write(tmp_path, "v\n"), "v")
    with pytest.raises(DataError, match="line 3: 2 fields"):
        read_series(_write(tmp_path, "v\n1\n2,3\n"), "v")
    with pytest.raises(DataError, match="'inf'"):
        read_series(_write(tmp_path, "v\n1\ninf\n"), "v")


def test_parquet_without_a_reader_is_a_clear_error(tmp_path, monkeypatch):
    # None in sys.modules makes the import fail as if the package were not installed.
    for name in ("pyarrow", "pyarrow.parquet", "pandas"):
        monkeypatch.setitem(sys.modules, name, None)
    p = tmp_path / "s.parquet"
    p.write_bytes(b"PAR1")
    with pytest.raises(ConfigError, match="pyarrow or pandas"):
        read_series(p, "v")


def test_parquet_reads_like_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": ["a", "a", "b"], "t": [1.0, 2.0, 1.0], "v": [1.0, None, 3.0]})
    p = tmp_path / "s.parquet"
    pq.write_table(table, p)
    with pytest.raises(DataError, match=r"row 2 \(id 'a'\): column 'v' is missing"):
        read_series(p, "v", time_column="t", id_column="id")
    a, b = read_series(p, "v", time_column="t", id_column="id", missing="drop")
    np.testing.assert_array_equal(a.values, [1.0])
    np.testing.assert_array_equal(b.values, [3.0])


# --------------------------------------------------------------------- split and windows


def test_make_windows_is_all_segments():
    w = make_windows(np.arange(6.0), 3, 1)
    np.testing.assert_array_equal(w, [[0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5]])
    assert make_windows(np.arange(3.0), 3, 1).shape == (0, 4)


def _series(values, id=None):
    v = np.asarray(values, dtype=np.float64)
    return Series(values=v, times=None, id=id, rows=np.arange(1, v.size + 1))


def test_split_is_chronological_and_windows_never_straddle():
    s = _series(np.arange(100.0))
    ds = prepare_series([s], window=5, horizon=2, val_fraction=0.2, test_fraction=0.2, scale=False)
    assert ds.scaler == StandardScaler()
    tr, va, te = (ds.train.segments, ds.val.segments, ds.test.segments)
    assert tr.min() == 0 and tr.max() == 59 and len(tr) == 60 - 7 + 1
    assert va.min() == 60 and va.max() == 79 and len(va) == 20 - 7 + 1
    assert te.min() == 80 and te.max() == 99
    # Never shuffled: every segment is consecutive values.
    for segs in (tr, va, te):
        assert np.all(np.diff(segs, axis=1) == 1)
    np.testing.assert_array_equal(ds.train.inputs[0], [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(ds.train.targets[0], [5, 6])
    np.testing.assert_array_equal(ds.train.next_step[0], [1, 2, 3, 4, 5])


def test_scaler_fitted_on_training_part_only(tmp_path):
    s = _series(np.r_[np.zeros(70), np.full(30, 1000.0)])
    ds = prepare_series([s], window=3, val_fraction=0.15, test_fraction=0.15)
    assert ds.scaler.mean == 0.0 and ds.scaler.std == 1.0  # constant training part
    s = _series(np.arange(100.0))
    ds = prepare_series([s], window=3)
    train_raw = np.arange(70.0)
    assert ds.scaler.mean == pytest.approx(train_raw.mean())
    assert ds.scaler.std == pytest.approx(train_raw.std())
    np.testing.assert_allclose(ds.scaler.inverse_transform(ds.series[0].test), np.arange(85, 100))
    path = tmp_path / "scaler.json"
    ds.scaler.save(path)
    assert json.loads(path.read_text())["kind"] == "standard"
    assert StandardScaler.load(path) == ds.scaler
    path.write_text("{")
    with pytest.raises(DataError):
        StandardScaler.load(path)


def test_several_series_split_each_and_never_mix():
    a, b = _series(np.arange(40.0), "a"), _series(1000 + np.arange(60.0), "b")
    ds = prepare_series([a, b], window=4, horizon=1, scale=False)
    for segs in (ds.train.segments, ds.val.segments, ds.test.segments):
        assert np.all(np.diff(segs, axis=1) == 1)
    assert {s.id for s in ds.series} == {"a", "b"}
    assert ds.series[1].test[0] == 1000 + 51


def test_too_short_series_errors():
    with pytest.raises(DataError, match=r"series 'x' has 5 values; one window needs .* 8"):
        prepare_series([_series(np.arange(5.0), "x")], window=6, horizon=2)
    with pytest.raises(DataError, match="training part has 6 of 10"):
        prepare_series([_series(np.arange(10.0))], window=6, horizon=2)
    with pytest.raises(DataError, match="val parts hold no window"):
        prepare_series([_series(np.arange(20.0))], window=6, horizon=2)
    with pytest.raises(ConfigError, match="leaves no training"):
        prepare_series([_series(np.arange(20.0))], window=2, val_fraction=0.5, test_fraction=0.5)
