"""Random bytes into the remaining parsers: only rnnlab's documented errors may escape."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnlab.data.series import read_series
from rnnlab.errors import RnnlabError
from rnnlab.runs import read_json
from rnnlab.text import Tokenizer

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])

csv_like = st.one_of(
    st.binary(max_size=300),
    st.lists(st.lists(st.sampled_from(["t", "value", "1", "2.5", "nan", "inf", "", "x", "-3",
                                       '"', "é", "\r"]), max_size=4), max_size=8).map(
        lambda rows: "\n".join(",".join(r) for r in rows).encode()),
)


@FUZZ
@given(blob=csv_like, time=st.booleans())
def test_series_csv_raises_only_rnnlab_errors(tmp_path_factory, blob, time):
    path = tmp_path_factory.mktemp("fuzz") / "series.csv"
    path.write_bytes(blob)
    try:
        series = read_series(path, "value", time_column="t" if time else None)
    except RnnlabError:
        return
    assert all(len(s.values) > 0 for s in series)


@FUZZ
@given(blob=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_run_json_raises_only_rnnlab_errors(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("fuzz") / "config.json"
    path.write_bytes(blob)
    try:
        value = read_json(path)
    except RnnlabError:
        return
    assert value == json.loads(blob.decode("utf-8"))


@given(text=st.text(max_size=200) | st.sampled_from(
    ['{"class_name": "Tokenizer", "config": {}}', "[]", "null", '{"config": {"num_words": -1}}']))
def test_tokenizer_json_raises_only_rnnlab_errors(text):
    try:
        tokenizer = Tokenizer.from_json(text)
    except RnnlabError:
        return
    assert Tokenizer.from_json(tokenizer.to_json()).get_config() == tokenizer.get_config()
