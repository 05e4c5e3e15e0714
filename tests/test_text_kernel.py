"""The compiled tokenizing path of rnnlab.text against a plain reading of Keras' rules.

``Tokenizer`` cuts and counts words in a numba kernel over chunks of texts joined into one
buffer; these tests compare it with a direct str-based reading of Keras' legacy Tokenizer
on texts full of the awkward cases: non-ASCII white space and its near misses, characters
that lower-case to ASCII, lone surrogates, token lists, tiny chunks and a growing table.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rnnlab.text as text_mod
from rnnlab._text_kernels import Interner
from rnnlab.text import KERAS_FILTERS, Tokenizer

# non-ASCII white space str.split() cuts on, and characters sharing their first UTF-8 bytes
UNICODE_WS = "\x85\xa0\u1680\u2000\u2005\u200a\u2028\u2029\u202f\u205f\u3000"
NEAR_MISSES = "\xa1\xc2\xe9\u1681\u200b\u2010\u202a\u2060\u3001"
ALPHABET = ("aAbB .,!<>/" + "\t\n\r\x0b\x0c\x1c\x1f" + UNICODE_WS + NEAR_MISSES
            + "\u0130\u212a\udc80\xff")  # İ and the Kelvin sign lower-case to ASCII


def reference(texts, num_words=None, filters=KERAS_FILTERS, lower=True, split=" ",
              char_level=False, oov_token=None, remove=()):
    """Keras' fit_on_texts + texts_to_sequences on str, written out plainly."""
    table = str.maketrans({c: split or " " for c in filters})
    docs = []
    for t in texts:
        if not isinstance(t, str):
            docs.append([w.lower() if lower else w for w in t])
            continue
        if lower:
            t = t.lower()
        for r in remove:
            t = t.replace(r, split or " ")
        if char_level:
            docs.append(list(t))
            continue
        t = t.translate(table)
        docs.append(t.split() if split is None else [w for w in t.split(split) if w])
    counts: dict[str, int] = {}
    dfs: dict[str, int] = {}
    for ws in docs:
        for w in ws:
            counts[w] = counts.get(w, 0) + 1
        for w in dict.fromkeys(ws):
            dfs[w] = dfs.get(w, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)
    vocab = ([] if oov_token is None else [oov_token]) + [w for w, _ in ranked]
    index = dict(zip(vocab, range(1, len(vocab) + 1), strict=True))
    oov = index.get(oov_token) if oov_token is not None else None
    seqs = []
    for ws in docs:
        seq = []
        for w in ws:
            i = index.get(w)
            if i is not None and num_words and i >= num_words:
                i = None
            if i is None:
                i = oov
            if i is not None:
                seq.append(i)
        seqs.append(seq)
    return counts, dfs, index, seqs


def check(texts, **kw):
    counts, dfs, index, seqs = reference(texts, **kw)
    tok = Tokenizer(**kw)
    assert tok.fit_on_texts_to_sequences(iter(texts)) == seqs  # an iterator: one pass
    assert list(tok.word_counts.items()) == list(counts.items())
    assert tok.word_docs == dfs and tok.word_index == index
    assert tok.document_count == len(texts)
    assert tok.texts_to_sequences(texts) == seqs
    two = Tokenizer(**kw)
    two.fit_on_texts(texts)
    assert two.to_json() == tok.to_json()


texts_st = st.lists(st.one_of(st.text(alphabet=ALPHABET, max_size=16),
                              st.lists(st.text(alphabet="aAé \xa0", max_size=3), max_size=3)),
                    max_size=8)


@given(texts_st, st.sampled_from([" ", None, "b", "  ", "\xa0"]), st.booleans(),
       st.sampled_from([(), ("<b/>",), ("A",), ("a\xa0",), ("",)]),
       st.sampled_from([KERAS_FILTERS, "", "aé"]))
def test_matches_reference(texts, split, lower, remove, filters):
    check(texts, split=split, lower=lower, remove=remove, filters=filters, num_words=4)


@given(texts_st, st.sampled_from([None, "a", "?"]), st.sampled_from([None, 1, 3]),
       st.booleans())
def test_num_words_oov_and_char_level(texts, oov_token, num_words, char_level):
    check(texts, oov_token=oov_token, num_words=num_words, char_level=char_level, split=None)


@pytest.mark.parametrize("chunk,chunk_bytes", [(1, 1 << 23), (3, 1 << 23), (1000, 40)])
def test_small_chunks_and_a_growing_table(monkeypatch, chunk, chunk_bytes):
    monkeypatch.setattr(text_mod, "_CHUNK", chunk)
    monkeypatch.setattr(text_mod, "_CHUNK_BYTES", chunk_bytes)
    # > 1024 distinct words (the first table size), a 20 kB word (> the first byte store)
    texts = [" ".join(f"w{i * 7 + j}" for j in range(i % 9)) for i in range(600)]
    texts[100] += " " + "x" * 20_000 + " w1"
    texts[200:203] = [["W1", "", "x"], "", "w1\u3000w2\xa0W3"]
    for kw in ({}, {"num_words": 50, "oov_token": "<?>"}, {"split": None},
               {"remove": ("w1",)}):
        check(texts, **kw)
    check([t.split(" ") for t in texts if isinstance(t, str)])  # the list mode grows too


def test_table_grows_on_an_empty_token():
    # the first table is full exactly when the empty token comes: the kernel must resume
    # on that token, not after it
    full = len(Interner().hashes)
    texts = [[f"w{i}" for i in range(full)], ["", "w0"], [""]]
    check(texts)
    check(texts, oov_token="?", num_words=full // 2)


def test_every_white_space_below_u3100_and_its_neighbours():
    # each character after ASCII up to U+30FF (all of str.split()'s white space and every
    # character sharing their first UTF-8 bytes), and lone surrogates, between two words
    chars = [chr(c) for c in range(0x80, 0x3100)] + ["\ud800", "\udcff", "\udfff"]
    check([f"x{c}y{c}" for c in chars], split=None, filters="")
    check([f"x{c}y{c}" for c in chars], split=" ")


def test_unicode_white_space_is_cut_only_when_split_is_none():
    texts = ["a\xa0b\u3000c\u2010d", "\u2028"]
    assert Tokenizer(split=None).fit_on_texts_to_sequences(texts) == [[1, 2, 3], []]
    tok = Tokenizer()
    tok.fit_on_texts(texts)
    assert list(tok.word_counts) == ["a\xa0b\u3000c\u2010d", "\u2028"]


def test_token_lists_keep_empty_tokens_as_keras():
    tok = Tokenizer()
    assert tok.fit_on_texts_to_sequences([["", "A"], "a b", ["b"]]) == [[3, 1], [1, 2], [2]]
    assert tok.word_counts == {"": 1, "a": 2, "b": 2}


def test_sequences_hold_plain_shared_ints():
    tok = Tokenizer()
    words = " ".join(f"w{i}" for i in range(300))  # indices past the small-int cache (256)
    seqs = tok.fit_on_texts_to_sequences([words]) + tok.texts_to_sequences(["w299 w299 w0"])
    assert seqs == [list(range(1, 301)), [300, 300, 1]]
    assert all(type(i) is int for s in seqs for i in s)
    # no int object per token: the very objects the word index holds
    assert seqs[0][299] is seqs[1][0] is seqs[1][1] is tok.word_index["w299"]


def test_empty_inputs():
    tok = Tokenizer()
    tok.fit_on_texts([])
    assert tok.word_index == {} and tok.document_count == 0
    assert tok.texts_to_sequences([]) == [] and tok.texts_to_sequences(["", "a"]) == [[], []]
    assert Tokenizer().fit_on_texts_to_sequences(["", "!!"]) == [[], []]


def test_bad_text_type_is_a_config_error():
    with pytest.raises(text_mod.ConfigError, match="int"):
        Tokenizer().fit_on_texts(["a", 3])


def test_remove_must_hold_strings():
    with pytest.raises(text_mod.ConfigError, match="remove"):
        Tokenizer(remove=[b"<br />"])
