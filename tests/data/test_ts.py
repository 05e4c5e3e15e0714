"""The .ts reader and writer: header semantics, missing values, hostile files, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data.ts import read_ts, write_ts
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

HEADER = """# a comment before the header
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true walk run
@data
"""


def _file(tmp_path, text: str, name: str = "toy.ts", encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _values(data):
    return [s.tolist() for s in data.sequences]


def test_reads_a_multivariate_unequal_length_file(tmp_path):
    path = _file(tmp_path, HEADER + "1,2,3:4,5,6:run\n0.5,-1e2:7,8:walk\n")
    data = read_ts(path)
    assert _values(data) == [[[1, 4], [2, 5], [3, 6]], [[0.5, 7], [-100, 8]]]
    assert data.lengths.tolist() == [3, 2]
    assert data.labels == ("walk", "run")  # @classLabel's order, not sorted
    assert data.y.tolist() == [1, 0]
    assert data.feature_names == ("dim_0", "dim_1")
    assert data.ids == ("0", "1") and data.source == str(path)
    assert all(s.dtype == np.float32 for s in data.sequences)


def test_keys_are_case_insensitive_and_layout_is_forgiving(tmp_path):
    text = ("\ufeff@PROBLEMNAME  Toy\r\n@ClassLabel\tTRUE  a   b\r\n# comment\r\n"
            "@UNIVARIATE True\r\n\r\n@DATA\r\n  1 , 2,3 : a \r\n# a comment among cases\r\n"
            "\r\n4,5:b\r\n")
    data = read_ts(_file(tmp_path, text))
    assert _values(data) == [[[1], [2], [3]], [[4], [5]]]
    assert data.labels == ("a", "b") and data.y.tolist() == [0, 1]


def test_reads_what_aeons_writer_writes(tmp_path):
    # aeon 1.6's save_to_ts_file: "@timestamps", "@missing False", "@dimension" (singular).
    text = ("@problemName aun\n@timestamps false\n@missing False\n@univariate false\n"
            "@dimension 2\n@equalLength false\n@classLabel true a b c\n@data\n"
            "0.25,0.5:1.0,2.0:c\n3.0:4.0:a\n")
    data = read_ts(_file(tmp_path, text))
    assert _values(data) == [[[0.25, 1], [0.5, 2]], [[3, 4]]]
    assert data.labels == ("a", "b", "c") and data.y.tolist() == [2, 0]
    with pytest.raises(DataError, match="3 dimensions, but @dimensions says 2"):
        read_ts(_file(tmp_path, text.replace("3.0:4.0:a", "3.0:4.0:5.0:a")))


def test_absent_keys_are_inferred_from_the_data(tmp_path):
    data = read_ts(_file(tmp_path, "@data\n1,2:3,4:b\n5:6:a\n"))
    assert data.num_features == 2 and data.lengths.tolist() == [2, 1]
    assert data.labels == ("a", "b") and data.y.tolist() == [1, 0]  # sorted when undeclared


def test_no_label_is_inferred_when_the_last_field_is_a_series(tmp_path):
    data = read_ts(_file(tmp_path, "@data\n1,2:3,4\n5,6:7,8\n"))
    assert data.num_features == 2 and data.labels == () and data.y.tolist() == [-1, -1]
    assert not data.labelled


def test_dimensions_key_decides_whether_there_is_a_label(tmp_path):
    data = read_ts(_file(tmp_path, "@dimensions 2\n@data\n1:2\n3:4\n"))
    assert data.labels == () and _values(data) == [[[1, 2]], [[3, 4]]]
    data = read_ts(_file(tmp_path, "@dimensions 1\n@data\n1:2\n3:4\n"))
    assert data.labels == ("2", "4")


def test_class_label_false_reads_no_labels(tmp_path):
    data = read_ts(_file(tmp_path, "@classLabel false\n@data\n1,2\n3\n"))
    assert data.y.tolist() == [-1, -1] and data.lengths.tolist() == [2, 1]


def test_numeric_labels_sort_by_value(tmp_path):
    data = read_ts(_file(tmp_path, "@data\n1,2:10\n3,4:2\n5,6:1\n"))
    assert data.labels == ("1", "2", "10") and data.y.tolist() == [2, 1, 0]


def test_labels_argument_sets_the_order_and_refuses_others(tmp_path):
    path = _file(tmp_path, HEADER + "1:2:run\n3:4:walk\n")
    assert read_ts(path, labels=["run", "walk"]).y.tolist() == [0, 1]
    with pytest.raises(DataError, match=r"line 11 \(case 1\).*'walk' is not one of"):
        read_ts(path, labels=["run", "jump"])


def test_a_label_differing_only_in_case_takes_the_declared_spelling(tmp_path):
    data = read_ts(_file(tmp_path, "@classLabel true Walk Run\n@data\n1:walk\n2:RUN\n"))
    assert data.labels == ("Walk", "Run") and data.y.tolist() == [0, 1]


def test_trailing_missing_values_shorten_a_case_under_every_policy(tmp_path):
    path = _file(tmp_path, HEADER + "1,2,3,?,?:4,5,6,?,NaN:walk\n1,?:2,?:run\n")
    for missing in ("error", "drop", "interpolate", "zero"):
        data = read_ts(path, missing=missing)
        assert data.lengths.tolist() == [3, 1]
        assert _values(data)[0] == [[1, 4], [2, 5], [3, 6]]


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("drop", [[1, 10], [4, 40]]),
        ("zero", [[1, 10], [0, 20], [0, 30], [4, 40]]),
        ("interpolate", [[1, 10], [2, 20], [3, 30], [4, 40]]),
    ],
)
def test_missing_value_policies(tmp_path, missing, expected):
    path = _file(tmp_path, HEADER + "1,?,?,4:10,20,30,40:walk\n")
    assert _values(read_ts(path, missing=missing)) == [expected]


def test_interpolate_holds_the_nearest_value_at_the_edges(tmp_path):
    path = _file(tmp_path, HEADER + "?,2,?,6,7:1,2,3,4,?:walk\n")
    assert _values(read_ts(path, missing="interpolate")) == [
        [[2, 1], [2, 2], [4, 3], [6, 4], [7, 4]]
    ]


def test_missing_error_names_the_file_case_and_position(tmp_path):
    path = _file(tmp_path, HEADER + "1,2:3,4:walk\n1,2,3:4,?,6:run\n")
    with pytest.raises(DataError) as e:
        read_ts(path)
    msg = str(e.value)
    assert "toy.ts" in msg and "line 11 (case 1)" in msg and "step 1" in msg
    assert "'dim_1'" in msg and "missing='drop'" in msg


def test_a_channel_with_nothing_to_interpolate_from_is_an_error(tmp_path):
    path = _file(tmp_path, HEADER + "1,2:?,?:walk\n")
    with pytest.raises(DataError, match="'dim_1' has no value to interpolate"):
        read_ts(path, missing="interpolate")
    assert _values(read_ts(path, missing="zero")) == [[[1, 0], [2, 0]]]


def test_ragged_dimensions_are_refused_unless_trailing_missing_explains_them(tmp_path):
    with pytest.raises(DataError, match=r"line 10 \(case 0\).*\[3, 2\] values"):
        read_ts(_file(tmp_path, HEADER + "1,2,3:4,5:walk\n"))
    data = read_ts(_file(tmp_path, HEADER + "1,2,?:4,5:walk\n"))
    assert _values(data) == [[[1, 4], [2, 5]]]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("@dimensions 2\n@data\n1:2:3:a\n", r"line 3 \(case 0\): 3 dimensions, but @dimensions"),
        ("@seriesLength 3\n@data\n1,2,3,4:a\n", r"lengths \[4\], but @seriesLength says 3"),
        ("@equalLength true\n@data\n1,2:a\n1,2,3:b\n", r"line 4 \(case 1\).*@equalLength true"),
        ("@equalLength true\n@data\n1,2:1,2,?:a\n", r"\[2, 3\] differ.*@equalLength true"),
        ("@univariate true\n@data\n1:2:a\n", r"2 dimensions, but the header says @univariate"),
        ("@classLabel true a b\n@data\n1,2:c\n", r"line 3 \(case 0\): label 'c' is not one of the "
                                                r"declared labels \['a', 'b'\]"),
        ("@timeStamps true\n@data\n(0,1):a\n", "@timeStamps true is not supported"),
        ("@targetLabel true\n@data\n1,2:0.5\n", "regression"),
        ("@classLabel true\n@data\n1:a\n", r"line 1: @classLabel true must list the labels"),
        ("@classLabel maybe\n@data\n1:a\n", "expects true"),
        ("@classLabel true a b a\n@data\n1:a\n", "lists 'a' twice"),
        ("@univariate yes\n@data\n1:a\n", r"line 1: @univariate expects true or false"),
        ("@dimensions two\n@data\n1:a\n", "expects a whole number"),
        ("@dimensions 0\n@data\n1:a\n", "expects a whole number"),
        ("@univariate true\n@univariate false\n@data\n1:a\n", "contradicts an earlier"),
        ("@data true\n1:a\n", "@data takes no value"),
        ("@data\n1:a\n@classLabel true a\n", r"line 3: header line .* after @data"),
        ("1,2:a\n@data\n", r"line 1: expected a '@key value' header line"),
        ("@problemName x\n1,2:a\n", "line 2: expected"),
        ("@problemName x\n", "no @data line"),
        ("@data\n# only a comment\n", "no cases after @data"),
        ("", "no @data line"),
        ("@data\n1,x,3:a\n", r"dimension 0: value 1 is 'x', not a number"),
        ("@data\n1,,3:a\n", r"value 1 is empty"),
        ("@data\n1,2,:a\n", r"value 2 is empty"),
        ("@data\n1,inf:a\n", "must be finite"),
        ("@data\n?,?:a\n", r"line 2 \(case 0\): the case is empty"),
        ("@classLabel true a\n@data\n:a\n", r"case 0\): the case is empty"),
        ("@classLabel true a\n@data\n1,2\n", "expected the dimensions and then ':' and a label"),
        ("@classLabel true a\n@data\n1,2: \n", "empty label"),
        ("@data\n1:2:a\n1:b\n", r"line 3 \(case 1\): 1 dimensions, but the first case \(line 2\)"),
    ],
)
def test_malformed_files_name_the_line_and_what_was_expected(tmp_path, text, match):
    path = _file(tmp_path, text, name="bad.ts")
    with pytest.raises(DataError, match=match) as e:
        read_ts(path)
    assert "bad.ts" in str(e.value)


def test_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "bin.ts"
    path.write_bytes(b"@data\n1,2:a\n1,2:\xff\n")
    with pytest.raises(DataError, match="line 3: not UTF-8"):
        read_ts(path)


def test_bad_arguments(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"no \.ts file"):
        read_ts(tmp_path / "nope.ts")
    with pytest.raises(ConfigError, match="missing='skip'"):
        read_ts(_file(tmp_path, "@data\n1:a\n"), missing="skip")


def test_missing_false_with_missing_values_still_reads(tmp_path, caplog):
    data = read_ts(_file(tmp_path, "@missing false\n@data\n1,?,3:a\n"), missing="zero")
    assert _values(data) == [[[1], [0], [3]]]
    assert "@missing false" in caplog.text


# --------------------------------------------------------------------------- writing


def test_write_ts_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((t, 3)).astype(np.float32) for t in (5, 1, 9)]
    path = write_ts(tmp_path / "w.ts", seqs, ["b", "a", "b"], "Rand")
    data = read_ts(path)
    for a, b in zip(seqs, data.sequences, strict=True):
        np.testing.assert_array_equal(a, b)
    assert data.labels == ("a", "b") and data.y.tolist() == [1, 0, 1]
    text = path.read_text()
    assert "@equalLength false" in text and "@seriesLength" not in text
    assert "@classLabel true a b" in text and "@dimensions 3" in text


def test_write_ts_of_a_set_keeps_its_label_order_and_missing_values(tmp_path):
    path = write_ts(tmp_path / "w.ts", [np.array([1.0, np.nan, 3.0]), np.array([4.0, 5, 6])],
                    ["y", "x"], class_labels=["y", "x"])
    text = path.read_text()
    assert "1.0,?,3.0:y" in text and "@missing true" in text and "@seriesLength 3" in text
    data = read_ts(path, missing="interpolate")
    assert data.labels == ("y", "x") and _values(data)[0] == [[1], [2], [3]]
    again = read_ts(write_ts(tmp_path / "again.ts", data))
    assert again.labels == ("y", "x") and _values(again) == _values(data)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": ["a b"]}, "cannot be written"),
        ({"labels": ["a:b"]}, "cannot be written"),
        ({"labels": ["a", "b"]}, "1 sequences but 2 labels"),
        ({"labels": ["a"], "class_labels": ["b"]}, "not in class_labels"),
        ({"problem_name": "two words"}, "must be one word"),
    ],
)
def test_write_ts_refuses_what_the_format_cannot_hold(tmp_path, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        write_ts(tmp_path / "w.ts", [np.zeros((2, 1))], **kwargs)


def test_write_ts_refuses_bad_arrays(tmp_path):
    with pytest.raises(ConfigError, match="same channels"):
        write_ts(tmp_path / "w.ts", [np.zeros((2, 1)), np.zeros((2, 2))])
    with pytest.raises(ConfigError, match="infinite"):
        write_ts(tmp_path / "w.ts", [np.array([1.0, np.inf])])
    with pytest.raises(ConfigError, match="T >= 1"):
        write_ts(tmp_path / "w.ts", [np.zeros((0, 1))])


# --------------------------------------------------------------------------- round trips


def _reference_writer(path, cases, labels, keys, upper, pads):
    """An independent .ts writer: an optional subset of header keys, in any case, and
    ``pads[i][c]`` extra trailing ``?`` on dimension c of case i."""
    f = cases[0].shape[1]
    lengths = {c.shape[0] for c in cases}
    header = {
        "problemName": "Hyp",
        "timeStamps": "false",
        "missing": "true",
        "univariate": str(f == 1).lower(),
        "dimensions": str(f),
        "equalLength": str(len(lengths) == 1).lower(),
        "classLabel": "true " + " ".join(sorted(set(labels))),
    }
    if len(lengths) == 1:
        header["seriesLength"] = str(lengths.pop())
    lines = [f"@{k.upper() if upper else k} {v}" for k, v in header.items() if k in keys]
    lines.append("@data")
    for case, label, pad in zip(cases, labels, pads, strict=True):
        dims = [",".join(["?" if np.isnan(v) else repr(float(v)) for v in case[:, c]]
                         + ["?"] * pad[c]) for c in range(f)]
        lines.append(" : ".join(dims) + ":" + label)
    path.write_text("\n".join(lines) + "\n")


@st.composite
def _ragged_sets(draw):
    f = draw(st.integers(1, 3))
    n = draw(st.integers(1, 6))
    floats = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    cases, holes, pads = [], [], []
    for _ in range(n):
        t = draw(st.integers(1, 8))
        values = np.array(draw(st.lists(floats, min_size=t * f, max_size=t * f)),
                          dtype=np.float32).reshape(t, f)
        # Missing values anywhere but the last step, so no case is cut short.
        hole = np.array(draw(st.lists(st.booleans(), min_size=t * f, max_size=t * f)))
        hole = hole.reshape(t, f)
        hole[-1] = False
        cases.append(values)
        holes.append(hole)
        pads.append(draw(st.lists(st.integers(0, 2), min_size=f, max_size=f)))
    labels = draw(st.lists(st.sampled_from(["a", "B", "c1", "10", "2"]), min_size=n,
                           max_size=n))
    keys = draw(st.sets(st.sampled_from(["problemName", "timeStamps", "missing", "univariate",
                                         "dimensions", "equalLength", "seriesLength",
                                         "classLabel"])))
    if any(any(p) for p in pads):  # the written lengths then differ from the real ones
        keys -= {"equalLength", "seriesLength"}
    return cases, holes, labels, keys, draw(st.booleans()), pads


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_ragged_sets())
def test_random_ragged_sets_round_trip_through_an_independent_writer(tmp_path, drawn):
    cases, holes, labels, keys, upper, pads = drawn
    written = [np.where(h, np.nan, c) for c, h in zip(cases, holes, strict=True)]
    path = tmp_path / "hyp.ts"
    _reference_writer(path, written, labels, keys, upper, pads)
    data = read_ts(path, missing="zero")
    assert data.lengths.tolist() == [c.shape[0] for c in cases]
    for c, h, got in zip(cases, holes, data.sequences, strict=True):
        np.testing.assert_array_equal(got, np.where(h, 0, c).astype(np.float32))
    assert [data.labels[i] for i in data.y] == labels
    if "classLabel" in keys:
        assert data.labels == tuple(sorted(set(labels)))
    if any(h.any() for h in holes):
        with pytest.raises(DataError, match="missing value"):
            read_ts(path)


def test_agrees_with_aeons_reader(tmp_path):
    datasets = pytest.importorskip("aeon.datasets")
    rng = np.random.default_rng(1)
    for equal in (True, False):
        seqs = [rng.standard_normal((6 if equal else 3 + i, 2)) for i in range(5)]
        labels = ["a", "b", "a", "b", "b"]
        path = write_ts(tmp_path / f"aeon_{equal}.ts", seqs, labels, "AeonCheck")
        X, y = datasets.load_from_ts_file(str(path))
        ours = read_ts(path)
        assert list(y) == [ours.labels[i] for i in ours.y]
        for ref, got in zip(X, ours.sequences, strict=True):
            np.testing.assert_allclose(np.asarray(ref).T, got, rtol=1e-6)
