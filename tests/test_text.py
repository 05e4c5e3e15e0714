"""Tokenizer and pad_sequences against Keras' legacy semantics, written out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnlab.errors import ConfigError, DataError
from rnnlab.text import KERAS_FILTERS, Tokenizer, pad_sequences

CORPUS = ["The cat sat on the mat.", "The dog ate my homework!", "Cat, dog: cat?"]


def test_keras_default_filters():
    assert KERAS_FILTERS == '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def test_fit_counts_index_and_ties():
    tok = Tokenizer()
    tok.fit_on_texts(CORPUS)
    # counts in order of first appearance
    assert list(tok.word_counts.items()) == [
        ("the", 3), ("cat", 3), ("sat", 1), ("on", 1), ("mat", 1),
        ("dog", 2), ("ate", 1), ("my", 1), ("homework", 1),
    ]
    # by count, ties in order of first appearance ("the" before "cat")
    assert tok.word_index == {"the": 1, "cat": 2, "dog": 3, "sat": 4, "on": 5, "mat": 6,
                              "ate": 7, "my": 8, "homework": 9}
    assert tok.index_word[2] == "cat"
    assert tok.word_docs == {"the": 2, "cat": 2, "sat": 1, "on": 1, "mat": 1, "dog": 2,
                             "ate": 1, "my": 1, "homework": 1}
    assert tok.index_docs[1] == 2
    assert tok.document_count == 3
    assert tok.texts_to_sequences(["the cat ate a fish"]) == [[1, 2, 7]]


def test_num_words_keeps_num_words_minus_one():
    tok = Tokenizer(num_words=3)
    tok.fit_on_texts(CORPUS)
    assert len(tok.word_index) == 9  # word_index is not cut
    assert tok.texts_to_sequences(CORPUS) == [[1, 2, 1], [1], [2, 2]]
    assert tok.sequences_to_texts([[1, 2, 5]]) == ["the cat"]


def test_oov_token():
    tok = Tokenizer(num_words=4, oov_token="<unk>")
    tok.fit_on_texts(CORPUS)
    assert tok.word_index["<unk>"] == 1
    assert tok.word_index["the"] == 2 and tok.word_index["cat"] == 3
    assert tok.texts_to_sequences(["the dog and cat"]) == [[2, 1, 1, 3]]
    assert tok.sequences_to_texts([[2, 1, 9, 3]]) == ["the <unk> <unk> cat"]


def test_oov_token_that_also_occurs_keeps_keras_quirk():
    tok = Tokenizer(oov_token="x")
    tok.fit_on_texts(["a x x"])
    # Keras builds word_index with dict(zip(...)): the later rank of "x" wins
    assert tok.word_index == {"x": 2, "a": 3}
    assert tok.texts_to_sequences(["x a b"]) == [[2, 3, 2]]


def test_split_lower_filters_and_list_input():
    tok = Tokenizer(filters="", lower=False, split="|")
    tok.fit_on_texts(["A|b||A", ["A", "c"]])
    assert tok.word_counts == {"A": 3, "b": 1, "c": 1}
    assert tok.texts_to_sequences(["b|A|zz"]) == [[2, 1]]


def test_keras_split_does_not_cut_other_white_space():
    tok = Tokenizer()
    tok.fit_on_texts(["a\rb c\xa0d e"])  # \t and \n are filters; \r and \xa0 are not
    assert list(tok.word_counts) == ["a\rb", "c\xa0d", "e"]
    any_ws = Tokenizer(split=None)
    any_ws.fit_on_texts(["a\rb c\xa0d\x1ce"])
    assert list(any_ws.word_counts) == ["a", "b", "c", "d", "e"]


def test_char_level_keeps_spaces_and_punctuation():
    tok = Tokenizer(char_level=True)
    tok.fit_on_texts(["Ab a!"])
    assert tok.word_counts == {"a": 2, "b": 1, " ": 1, "!": 1}
    assert tok.word_index == {"a": 1, "b": 2, " ": 3, "!": 4}
    assert tok.texts_to_sequences(["ba?"]) == [[2, 1]]


def test_remove_extension():
    tok = Tokenizer(remove=("<br />",))
    tok.fit_on_texts(["good<br /><br />film"])
    assert list(tok.word_counts) == ["good", "film"]
    keras = Tokenizer()
    keras.fit_on_texts(["good<br /><br />film"])
    assert list(keras.word_counts) == ["good", "br", "film"]


def test_fit_twice_accumulates():
    tok = Tokenizer()
    tok.fit_on_texts(["b b a"])
    tok.fit_on_texts(["a a c"])
    assert tok.word_counts == {"b": 2, "a": 3, "c": 1}
    assert tok.word_index == {"a": 1, "b": 2, "c": 3}
    assert tok.word_docs == {"b": 1, "a": 2, "c": 1}
    assert tok.document_count == 2


def test_matrix_modes_exact_values():
    tok = Tokenizer(num_words=4)
    tok.fit_on_texts(CORPUS)  # the=1 cat=2 dog=3 (df 2 each), N=3
    texts = ["the the cat zebra", ""]
    np.testing.assert_array_equal(tok.texts_to_matrix(texts, "binary"),
                                  [[0, 1, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(tok.texts_to_matrix(texts, "count"),
                                  [[0, 2, 1, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(tok.texts_to_matrix(texts, "freq"),
                               [[0, 2 / 3, 1 / 3, 0], [0, 0, 0, 0]])
    idf = math.log(1 + 3 / (1 + 2))
    np.testing.assert_allclose(tok.texts_to_matrix(texts, "tfidf"),
                               [[0, (1 + math.log(2)) * idf, idf, 0], [0, 0, 0, 0]])
    # freq divides by the full sequence length, including indices >= num_words
    np.testing.assert_allclose(tok.sequences_to_matrix([[1, 7]], "freq"), [[0, 0.5, 0, 0]])
    with pytest.raises(ConfigError, match="tfidf2"):
        tok.texts_to_matrix(texts, "tfidf2")
    with pytest.raises(ConfigError):
        Tokenizer().texts_to_matrix(["a"])


def test_fit_on_texts_to_sequences_equals_two_calls():
    texts = [*CORPUS, "", "cat cat dog", "!!!"]
    for kw in ({}, {"num_words": 3}, {"num_words": 3, "oov_token": "?"}, {"char_level": True}):
        a, b = Tokenizer(**kw), Tokenizer(**kw)
        a.fit_on_texts(texts)
        assert b.fit_on_texts_to_sequences(texts) == a.texts_to_sequences(texts)
        assert a.to_json() == b.to_json()


def test_document_counts_across_chunks(monkeypatch):
    texts = ["a b a", "b c", "c c d", "a", "", "d a b"]
    whole = Tokenizer()
    whole.fit_on_texts(texts)
    monkeypatch.setattr("rnnlab.text._CHUNK", 2)
    chunked = Tokenizer()
    assert chunked.fit_on_texts_to_sequences(texts) == whole.texts_to_sequences(texts)
    assert chunked.word_docs == whole.word_docs == {"a": 3, "b": 3, "c": 2, "d": 2}
    assert chunked.word_counts == whole.word_counts == {"a": 4, "b": 3, "c": 3, "d": 2}
    assert chunked.word_index == whole.word_index


def test_gc_state_is_restored():
    import gc

    tok = Tokenizer()
    tok.fit_on_texts(["a"])
    assert gc.isenabled()
    gc.disable()
    try:
        tok.texts_to_sequences(["a"])
        assert not gc.isenabled()
    finally:
        gc.enable()


@given(st.lists(st.text(alphabet="ab c.\r\n\xa0é", max_size=12), max_size=6),
       st.sampled_from([" ", None]))
def test_matches_a_direct_reading_of_keras(texts, split):
    tok = Tokenizer(num_words=4, split=split)
    seqs = tok.fit_on_texts_to_sequences(texts)
    table = str.maketrans({c: " " for c in KERAS_FILTERS})
    words = [t.lower().translate(table) for t in texts]
    words = [[w for w in (t.split(" ") if split else t.split()) if w] for t in words]
    counts: dict[str, int] = {}
    for ws in words:
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    index = {w: i + 1 for i, (w, _) in enumerate(ranked)}
    assert tok.word_counts == counts and tok.word_index == index
    assert seqs == [[index[w] for w in ws if index[w] < 4] for ws in words]


def test_json_round_trip_and_keras_layout(tmp_path):
    tok = Tokenizer(num_words=5, oov_token="<oov>", remove=("<br />",))
    tok.fit_on_texts(CORPUS)
    path = tok.save(tmp_path / "tok.json")
    back = Tokenizer.load(path)
    for attr in ("num_words", "filters", "lower", "split", "char_level", "oov_token",
                 "document_count", "word_counts", "word_docs", "word_index", "index_word",
                 "index_docs", "remove"):
        assert getattr(back, attr) == getattr(tok, attr), attr
    assert back.texts_to_sequences(CORPUS) == tok.texts_to_sequences(CORPUS)
    keras_like = Tokenizer()
    cfg = __import__("json").loads(keras_like.to_json())
    assert cfg["class_name"] == "Tokenizer" and "remove" not in cfg["config"]
    assert isinstance(cfg["config"]["word_index"], str)  # Keras stores the dicts as JSON text


@pytest.mark.parametrize("bad", [b"\xff", b"{}", b"[1]", b'{"config": {"word_counts": 3}}'])
def test_load_rejects_garbage(tmp_path, bad):
    p = tmp_path / "t.json"
    p.write_bytes(bad)
    with pytest.raises(DataError):
        Tokenizer.load(p)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        Tokenizer(num_words=0)
    with pytest.raises(ConfigError):
        Tokenizer(split="")


def test_pad_sequences_keras_values():
    seqs = [[1, 2, 3, 4, 5], [6, 7], []]
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4),
                                  [[2, 3, 4, 5], [0, 0, 6, 7], [0, 0, 0, 0]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=4, padding="post", truncating="post"),
                                  [[1, 2, 3, 4], [6, 7, 0, 0], [0, 0, 0, 0]])
    out = pad_sequences(seqs, value=-1)
    assert out.dtype == np.int32 and out.shape == (3, 5)
    np.testing.assert_array_equal(out[1], [-1, -1, -1, 6, 7])
    assert pad_sequences([[1.5]], dtype="float32", maxlen=2).tolist() == [[0.0, 1.5]]
    assert pad_sequences([], maxlen=3).shape == (0, 3)


def test_pad_sequences_bad_choices():
    with pytest.raises(ConfigError, match="middle"):
        pad_sequences([[1]], padding="middle")
    with pytest.raises(ConfigError, match="'pre', 'post'"):
        pad_sequences([[1]], truncating="both")
    with pytest.raises(ConfigError):
        pad_sequences([[1]], maxlen=-1)
