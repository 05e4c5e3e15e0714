"""A user's labelled texts: class folders, CSV and JSONL, with line-numbered errors."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.data.texts import read_texts
from rnnlab.errors import ConfigError, DataError, DataNotFoundError


def test_class_folders(tmp_path):
    for cls, name, text in [("pos", "a.txt", "fine"), ("neg", "b.txt", "bad"),
                            ("pos", "c.txt", "great")]:
        (tmp_path / cls).mkdir(exist_ok=True)
        (tmp_path / cls / name).write_text(text, encoding="utf-8")
    d = read_texts(tmp_path)
    assert d.classes == ("neg", "pos")
    assert d.texts == ["bad", "fine", "great"]
    np.testing.assert_array_equal(d.labels, [0, 1, 1])


def test_csv_crlf_quotes_bom_and_columns(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes('\ufeffid,review,sentiment\r\n1,"good, ""really""\r\nfilm",pos\r\n'
                  '2,bad,neg\r\n\r\n'.encode())
    d = read_texts(p, text_column="review", label_column="sentiment")
    assert d.texts == ['good, "really"\r\nfilm', "bad"]
    assert d.labels.tolist() == [1, 0] and d.classes == ("neg", "pos")
    assert d.sources[1].endswith(":4")


def test_jsonl_and_fixed_classes(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"text": "a", "label": 1}\r\n\n{"text": "b", "label": 0}\n')
    d = read_texts(p, classes=("0", "1"))
    assert d.texts == ["a", "b"] and d.labels.tolist() == [1, 0]
    unl = read_texts(p, labelled=False)
    assert unl.labels.tolist() == [-1, -1]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("t.csv", b"text,label\nok,a\n,b\n", "line 3: empty text"),
        ("t.csv", b"text,label\nok,a\nx\n", "line 3: 1 fields"),
        ("t.csv", b"txt,label\nok,a\n", "line 1: no column 'text'"),
        ("t.csv", b"text,label\nok,a\n\xff,b\n", "line 3: bad UTF-8"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n{"label": "y"}\n', "line 2: missing text"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n[1]\n', "line 2: expected a JSON object"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n{bad\n', "line 2: not JSON"),
        ("t.jsonl", b'{"text": "a", "label": "x"}\n{"text": 3, "label": "y"}\n', "line 2"),
    ],
)
def test_bad_rows_name_the_line(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DataError, match=match):
        read_texts(p)


def test_unknown_label_and_type(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("text,label\nx,maybe\n")
    with pytest.raises(DataError, match=r"t\.csv:2: label 'maybe'"):
        read_texts(p, classes=("neg", "pos"))
    q = tmp_path / "t.xlsx"
    q.write_text("x")
    with pytest.raises(ConfigError, match="xlsx"):
        read_texts(q)
    with pytest.raises(DataNotFoundError):
        read_texts(tmp_path / "none.csv")


def test_fasttext_lines(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"__label__pos I loved it\r\n\n__label__neg  so  dull \n__label__pos fine\n")
    d = read_texts(p)
    assert d.texts == ["I loved it", "so  dull", "fine"] and d.classes == ("neg", "pos")
    assert d.labels.tolist() == [1, 0, 1] and d.sources[1].endswith(":3")
    q = tmp_path / "ask.txt"
    q.write_text("__label__pos __label__neg both\nno prefix here\n")
    assert read_texts(q, labelled=False).texts == ["both", "no prefix here"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"__label__a ok\nno label here\n", "line 2: no label"),
        (b"__label__a ok\n__label__a __label__b two\n", "line 2: several labels"),
        (b"__label__a ok\n__label__ x\n", "line 2: empty label"),
        (b"__label__a ok\n__label__b \n", "line 2: empty text"),
        (b"__label__a ok\n__label__b \xff\n", "line 2: bad UTF-8"),
    ],
)
def test_fasttext_bad_lines_name_the_line(tmp_path, content, match):
    p = tmp_path / "t.txt"
    p.write_bytes(content)
    with pytest.raises(DataError, match=match):
        read_texts(p)
