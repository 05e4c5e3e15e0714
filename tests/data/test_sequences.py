"""Long CSV/Parquet and .npz sequences, the read_sequences dispatcher, SequenceSet, synthetic."""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import pytest

from rnnlab.data.long import read_long
from rnnlab.data.npz import read_npz, write_npz
from rnnlab.data.sequence_set import SequenceSet, sort_labels
from rnnlab.data.sequences import read_sequences
from rnnlab.data.synthetic_sequences import make_sequences
from rnnlab.data.ts import write_ts
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

LONG = """id,t,ax,note,ay,label
b,1,2.0,x,20,run
a,0,1.0,y,10,walk
b,0,1.5,z,15,run
a,2,3.0,w,30,walk
a,1,2.0,v,20,walk
"""


def _file(tmp_path, text: str, name: str = "steps.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _values(data):
    return [s.tolist() for s in data.sequences]


# --------------------------------------------------------------------------- long tables


def test_long_csv_groups_by_id_sorts_by_time_and_picks_numeric_features(tmp_path):
    data = read_sequences(_file(tmp_path, LONG), id_column="id", time_column="t")
    assert data.ids == ("b", "a")  # order of first appearance
    assert data.feature_names == ("ax", "ay")  # "note" is not numeric; t is the time
    assert _values(data) == [[[1.5, 15], [2, 20]], [[1, 10], [2, 20], [3, 30]]]
    assert data.labels == ("run", "walk") and data.y.tolist() == [0, 1]


def test_long_csv_without_time_keeps_file_order_and_takes_named_features(tmp_path):
    path = _file(tmp_path, LONG)
    data = read_long(path, feature_columns="ay, ax")  # id_column defaults to "id"
    assert data.feature_names == ("ay", "ax")
    assert _values(data)[1] == [[10, 1], [30, 3], [20, 2]]
    assert read_long(path, feature_columns=["t"]).feature_names == ("t",)


def test_long_label_must_be_constant_within_an_id(tmp_path):
    path = _file(tmp_path, LONG.replace("a,1,2.0,v,20,walk", "a,1,2.0,v,20,run"))
    with pytest.raises(DataError, match=r"line 6: id 'a' has label 'run' in column 'label', "
                                        r"but 'walk' on line 3"):
        read_long(path)


def test_long_repeated_time_within_an_id_is_an_error(tmp_path):
    path = _file(tmp_path, LONG.replace("a,1,2.0", "a,2,2.0"))
    with pytest.raises(DataError, match=r"line 6: id 'a' repeats time 2.0 \(also at line 5\)"):
        read_long(path, time_column="t")


def test_long_iso_dates_order_the_steps(tmp_path):
    text = ("id,when,v,label\nk,2024-01-03,3,a\nk,2024-01-01T00:00,1,a\nk,2024-01-02,2,a\n")
    data = read_long(_file(tmp_path, text), time_column="when")
    assert _values(data) == [[[1], [2], [3]]]


@pytest.mark.parametrize(
    ("missing", "expected"),
    [("drop", [[1], [4]]), ("zero", [[1], [0], [0], [4]]), ("interpolate", [[1], [2], [3], [4]])],
)
def test_long_missing_value_policies(tmp_path, missing, expected):
    text = "id,v,label\nq,1,a\nq,,a\nq,NA,a\nq,4,a\nq,?,a\n"
    assert _values(read_long(_file(tmp_path, text), missing=missing)) == [expected]


def test_long_missing_error_names_the_line_and_the_id(tmp_path):
    text = "id,v,w,label\nq,1,1,a\nr,1,1,b\nr,2,,b\nr,3,3,b\n"
    with pytest.raises(DataError, match=r"steps.csv: id 'r': missing value at line 4 \(step 1"
                                        r", 0-based\), channel 'w'"):
        read_long(_file(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "match"),
    [
        ("id,v,label\nq,1,a\nq,abc,a\n", {"feature_columns": "v"}, DataError,
         r"line 3: column 'v' holds 'abc', not a number"),
        ("id,v,label\nq,1,a\nq,2\n", {}, DataError, r"line 3: 2 fields, the header has 3"),
        ("id,v,label\nq,1,a\n,2,a\n", {}, DataError, r"line 3: column 'id' is empty"),
        ("id,v,label\nq,1,\n", {}, DataError, r"line 2: column 'label' is empty"),
        ("id,v,label\nq,,a\nq,,a\n", {"feature_columns": "v"}, DataError, "the case is empty"),
        ("id,note,label\nq,x,a\n", {}, DataError, "no numeric column"),
        ("id,v,label\n", {}, DataError, "no rows after the header"),
        ("", {}, DataError, "the file is empty"),
        ("id,v,v,label\nq,1,2,a\n", {}, DataError, "names column 'v' twice"),
        ("id,v,label\nq,1,a\n", {"id_column": "case"}, ConfigError,
         r"id_column='case' is not a column of .*available: 'id', 'v', 'label'"),
        ("id,v,label\nq,1,a\n", {"label_column": "y"}, ConfigError, "label_column='y'"),
        ("id,v,label\nq,1,a\n", {"feature_columns": "v,w"}, ConfigError, "feature_columns='w'"),
        ("id,v,label\nq,1,a\n", {"feature_columns": "v,id"}, ConfigError, "is the id, time"),
        ("id,t,v,label\nq,x,1,a\n", {"time_column": "t"}, DataError,
         "neither a number nor an ISO date"),
        ("id,v,label\nq,inf,a\n", {}, DataError, "must be finite"),
        ('id,v,label\nq,"1,a\n', {}, DataError, "line"),
    ],
)
def test_long_bad_tables(tmp_path, text, kwargs, error, match):
    with pytest.raises(error, match=match):
        read_long(_file(tmp_path, text), **kwargs)


def test_long_without_labels_and_with_a_given_label_order(tmp_path):
    path = _file(tmp_path, LONG)
    assert read_long(path, label_column=None).y.tolist() == [-1, -1]
    assert read_long(path, labels=["walk", "run"]).y.tolist() == [1, 0]
    with pytest.raises(DataError, match="'run' is not one of the labels"):
        read_long(path, labels=["walk"])


def test_tsv_and_bad_utf8(tmp_path):
    data = read_sequences(_file(tmp_path, LONG.replace(",", "\t"), "s.tsv"), time_column="t")
    assert data.lengths.tolist() == [2, 3]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,v,label\nq,1,\xe9\n")
    with pytest.raises(DataError, match="line 2: not UTF-8"):
        read_long(bad)


def test_parquet_reads_the_same_as_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({
        "id": [7, 7, 8, 7], "t": [2.0, 0.0, 0.0, 1.0], "ax": [3.0, 1.0, None, 2.0],
        "note": ["x", "y", "z", "w"], "label": ["run", "run", "walk", "run"],
        "ay": pa.array([30, 10, 5, 20], pa.int32()),
    })
    pq.write_table(table, tmp_path / "s.parquet")
    data = read_sequences(tmp_path / "s.parquet", time_column="t", missing="zero")
    assert data.ids == ("7", "8") and data.feature_names == ("ax", "ay")
    assert _values(data) == [[[1, 10], [2, 20], [3, 30]], [[0, 5]]]
    assert data.labels == ("run", "walk")
    with pytest.raises(DataError, match=r"s.parquet: id '8': missing value at row 3"):
        read_sequences(tmp_path / "s.parquet", time_column="t")


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    path = tmp_path / "s.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigError, match=r"needs pyarrow.*pip install pyarrow"):
        read_sequences(path)


def test_a_broken_parquet_file_is_a_data_error(tmp_path):
    pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "s.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_sequences(path)


# --------------------------------------------------------------------------- npz


def test_npz_reads_only_the_valid_steps(tmp_path):
    x = np.full((3, 4, 2), 99.0)  # the padding must never show up
    x[0, :2] = [[1, 2], [3, 4]]
    x[1, :4] = [[5, 6], [7, 8], [9, 10], [11, 12]]
    x[2, :1] = [[13, 14]]
    x[2, 1:] = np.nan
    np.savez(tmp_path / "d.npz", x=x, lengths=np.array([2, 4, 1]), y=np.array([2, 0, 2]))
    data = read_sequences(tmp_path / "d.npz")
    assert _values(data) == [[[1, 2], [3, 4]], [[5, 6], [7, 8], [9, 10], [11, 12]], [[13, 14]]]
    assert data.labels == ("0", "2") and data.y.tolist() == [1, 0, 1]
    assert data.feature_names == ("dim_0", "dim_1")


def test_npz_trailing_nan_shortens_and_label_names_map_ids(tmp_path):
    x = np.array([[1.0, 2.0, np.nan], [4.0, np.nan, 6.0]])  # (N, T): one channel
    np.savez(tmp_path / "d.npz", x=x, y=np.array([1, 0]), labels=np.array(["cat", "dog"]),
             feature_names=np.array(["v"]))
    data = read_npz(tmp_path / "d.npz", missing="interpolate")
    assert _values(data) == [[[1], [2]], [[4], [5], [6]]]
    assert data.labels == ("cat", "dog") and data.y.tolist() == [1, 0]
    assert data.feature_names == ("v",)
    with pytest.raises(DataError, match=r"case 1: missing value at step 1"):
        read_npz(tmp_path / "d.npz")


def test_npz_string_labels_and_no_labels(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.ones((2, 3, 1)), y=np.array(["b", "a"]))
    assert read_npz(tmp_path / "s.npz").labels == ("a", "b")
    np.savez(tmp_path / "u.npz", x=np.ones((2, 3, 1)))
    assert read_npz(tmp_path / "u.npz").y.tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"x": np.ones((2, 3, 1)), "lengths": np.array([0, 3])}, r"case 0: lengths\[0\] = 0"),
        ({"x": np.ones((2, 3, 1)), "lengths": np.array([3, 4])}, r"whole number in 1..3"),
        ({"x": np.ones((2, 3, 1)), "lengths": np.array([1.5, 3])}, r"lengths\[0\] = 1.5"),
        ({"x": np.ones((2, 3, 1)), "lengths": np.array([1, 2, 3])}, r"must be \(2,\)"),
        ({"x": np.ones((2, 3, 1)), "y": np.array([0.5, 1.0])}, "does not regress"),
        ({"x": np.ones((2, 3, 1)), "y": np.array([0, 1, 1])}, r"shape \(2,\)"),
        ({"x": np.ones((2, 3, 1)), "y": np.array([0, 2]), "labels": np.array(["a", "b"])},
         r"case 1: y\[1\] = 2 is not an id"),
        ({"x": np.ones((2, 3, 1)), "y": np.array(["a", "c"]), "labels": np.array(["a", "b"])},
         "'c' is not one of the declared labels"),
        ({"x": np.ones(3)}, r"shape \(N, T, F\)"),
        ({"x": np.array([["a"]])}, r"shape \(N, T, F\)"),
        ({"y": np.ones(3)}, "no 'x' array"),
        ({"x": np.ones((1, 2, 1)), "extra": np.ones(1)}, r"unknown arrays \['extra'\]"),
        ({"x": np.ones((1, 2, 2)), "feature_names": np.array(["a"])}, "feature_names"),
        ({"x": np.full((1, 2, 1), np.inf)}, "must be finite"),
        ({"x": np.full((1, 2, 1), np.nan)}, "the case is empty"),
    ],
)
def test_npz_bad_files(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=match):
        read_npz(tmp_path / "bad.npz")


def test_npz_never_unpickles(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.array([np.ones((2, 1)), np.ones((3, 1))], dtype=object))
    with pytest.raises(DataError, match="object"):
        read_npz(tmp_path / "obj.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        read_npz(tmp_path / "junk.npz")
    with zipfile.ZipFile(tmp_path / "bad_member.npz", "w") as z:
        z.writestr("x.npy", b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        read_npz(tmp_path / "bad_member.npz")


def test_npz_that_unpacks_too_large_is_refused(tmp_path, monkeypatch):
    import rnnlab.data.npz as npz

    np.savez_compressed(tmp_path / "big.npz", x=np.zeros((10, 100, 1)))
    monkeypatch.setattr(npz, "MAX_NPZ_BYTES", 1000)
    with pytest.raises(DataError, match=r"unpacks to \d+ bytes, over the 1000 allowed"):
        read_npz(tmp_path / "big.npz")


def test_write_npz_round_trips(tmp_path):
    data = make_sequences(20, num_classes=4, num_features=2, seed=3)
    again = read_npz(write_npz(tmp_path / "w.npz", data))
    assert again.labels == data.labels and again.feature_names == data.feature_names
    np.testing.assert_array_equal(again.y, data.y)
    for a, b in zip(data.sequences, again.sequences, strict=True):
        np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------------------- dispatch


def test_read_sequences_dispatches_on_the_suffix_and_formats_agree(tmp_path):
    data = make_sequences(12, num_classes=2, num_features=2, min_length=9, max_length=15,
                          seed=5)
    rows = ["id,step,f0,f1,label"]
    for i, s in zip(data.ids, data.sequences, strict=True):
        rows += [f"case{i},{t},{v[0]!r},{v[1]!r},{data.labels[data.y[int(i)]]}"
                 for t, v in enumerate(s.astype(np.float64).tolist())]
    csv_path = _file(tmp_path, "\n".join(rows) + "\n", "d.CSV")
    sets = [
        read_sequences(write_ts(tmp_path / "d.ts", data)),
        read_sequences(write_npz(tmp_path / "d.npz", data)),
        read_sequences(csv_path, time_column="step"),
    ]
    for got in sets:
        assert got.labels == data.labels and got.y.tolist() == data.y.tolist()
        for a, b in zip(data.sequences, got.sequences, strict=True):
            np.testing.assert_array_equal(a, b)


def test_read_sequences_refuses_what_does_not_apply(tmp_path):
    with pytest.raises(DataNotFoundError):
        read_sequences(tmp_path / "none.ts")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(ConfigError, match=r"unknown sequence file type '\.json'"):
        read_sequences(tmp_path / "d.json")
    path = write_ts(tmp_path / "d.ts", [np.zeros((2, 1))], ["a"])
    with pytest.raises(ConfigError, match="id_column='id' applies to a CSV or Parquet"):
        read_sequences(path, id_column="id")
    with pytest.raises(ConfigError, match="missing='nope'"):
        read_sequences(path, missing="nope")


# --------------------------------------------------------------------------- SequenceSet


def _set():
    seqs = [np.arange(6, dtype=np.float32).reshape(3, 2), np.ones((1, 2), np.float32)]
    return SequenceSet(seqs, [1, 0], ("a", "b"), ("u", "v"), ("p", "q"))


def test_padded_and_subset():
    s = _set()
    x, lengths = s.padded(value=-1)
    assert x.shape == (2, 3, 2) and x.dtype == np.float32 and lengths.dtype == np.int64
    assert lengths.tolist() == [3, 1] and x[1, 1:].tolist() == [[-1, -1], [-1, -1]]
    assert s.padded(max_length=5)[0].shape == (2, 5, 2)
    with pytest.raises(ConfigError, match="max_length=2"):
        s.padded(max_length=2)
    sub = s.subset([1])
    assert sub.ids == ("q",) and sub.y.tolist() == [0] and sub.labels == ("a", "b")
    assert s.subset(np.array([True, False])).ids == ("p",)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": [0]}, "2 sequences but 1 labels"),
        ({"y": [0, 2]}, "outside"),
        ({"sequences": [np.ones((2, 2)), np.ones((1, 2), np.float32)]}, "float64"),
        ({"sequences": [np.ones((0, 2), np.float32)] * 2}, r"T >= 1"),
        ({"feature_names": ("u",)}, "F=1"),
        ({"sequences": [np.full((1, 2), np.nan, np.float32)] * 2}, "NaN or inf"),
    ],
)
def test_sequence_set_checks_its_invariants(kwargs, match):
    s = _set()
    args = {"sequences": s.sequences, "y": s.y, "labels": s.labels,
            "feature_names": s.feature_names, "ids": s.ids} | kwargs
    with pytest.raises(ConfigError, match=match):
        SequenceSet(**args)


def test_sort_labels():
    assert sort_labels(["10", "2", "1.5"]) == ("1.5", "2", "10")
    assert sort_labels(["b", "10", "a"]) == ("10", "a", "b")


# --------------------------------------------------------------------------- synthetic


def test_make_sequences_is_seeded_varied_and_balanced():
    a = make_sequences(90, num_classes=3, num_features=4, min_length=15, max_length=40, seed=7)
    b = make_sequences(90, num_classes=3, num_features=4, min_length=15, max_length=40, seed=7)
    c = make_sequences(90, num_classes=3, num_features=4, min_length=15, max_length=40, seed=8)
    assert all((p == q).all() for p, q in zip(a.sequences, b.sequences, strict=True))
    assert not all(p.shape == q.shape and (p == q).all()
                   for p, q in zip(a.sequences, c.sequences, strict=True))
    assert a.lengths.min() >= 15 and a.lengths.max() <= 40 and len(set(a.lengths)) > 10
    assert np.bincount(a.y).tolist() == [30, 30, 30]
    assert a.num_features == 4 and all(np.isfinite(s).all() for s in a.sequences)


def _centroid_accuracy(features, y):
    centroids = np.stack([features[y == c].mean(axis=0) for c in np.unique(y)])
    guess = np.argmin(((features[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    return float((guess == y).mean())


def test_the_class_is_spread_over_the_whole_valid_part():
    data = make_sequences(600, num_classes=3, num_features=2, min_length=30, max_length=60,
                          seed=0)
    y = data.y
    level = np.array([[s[:, 0].mean()] for s in data.sequences])
    bumps = np.array([[(s[:, 1] - np.median(s[:, 1])).sum()] for s in data.sequences])
    level_tail = np.array([[s[-5:, 0].mean()] for s in data.sequences])
    bumps_tail = np.array([[(s[-5:, 1] - np.median(s[:, 1])).sum()] for s in data.sequences])
    x, _ = data.padded()
    level_padded = x[:, :, :1].mean(axis=1)  # what a reader of the padding would average
    assert _centroid_accuracy(level, y) > 0.9 and _centroid_accuracy(bumps, y) > 0.8
    assert _centroid_accuracy(level_tail, y) < 0.75
    assert _centroid_accuracy(bumps_tail, y) < 0.45
    assert _centroid_accuracy(level_padded, y) < 0.45


def test_make_sequences_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="min_length=5"):
        make_sequences(10, num_classes=3, min_length=5)
    with pytest.raises(ConfigError, match="num_classes=1"):
        make_sequences(10, num_classes=1)
    with pytest.raises(ConfigError, match="labels="):
        make_sequences(10, num_classes=2, labels=["a", "a"])
    assert make_sequences(4, num_classes=2, num_features=1, labels=["x", "y"]).labels == ("x",
                                                                                         "y")
