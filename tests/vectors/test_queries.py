"""Neighbours, analogies and word-pair evaluation on hand-made vectors, and against gensim."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.embeddings import WordVectors
from rnnlab.errors import ConfigError, DataError
from rnnlab.vectors import (
    analogy,
    evaluate_analogies,
    evaluate_vectors,
    evaluate_word_pairs,
    most_similar,
    similarity,
    spearman,
)


def _royal() -> WordVectors:
    # axes: royalty, gender (male +), fruitiness, noise
    words = ("man", "woman", "king", "queen", "apple", "prince", "Man")
    vectors = np.array([
        [0.0, 1.0, 0.0, 0.1],
        [0.0, -1.0, 0.0, 0.1],
        [1.0, 1.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.8, 1.0, 0.1, 0.3],
        [0.0, 0.9, 0.0, 0.2],
    ], np.float32)  # fmt: skip
    return WordVectors(words, vectors)


def test_most_similar_and_similarity():
    wv = _royal()
    assert most_similar(wv, "king", topn=1)[0][0] == "prince"
    assert most_similar(wv, ["king", "woman"], ["man"], topn=1)[0][0] == "queen"
    # restrict_vocab: only the first words are candidates
    assert "prince" not in [w for w, _ in most_similar(wv, "king", restrict_vocab=5)]
    assert similarity(wv, "king", "king") == pytest.approx(1.0)
    assert similarity(wv, "man", "woman") == pytest.approx(-0.99 / 1.01, rel=1e-5)
    with pytest.raises(ConfigError, match="'duke'"):
        most_similar(wv, "duke")


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_analogy_methods(method):
    wv = _royal()
    assert analogy(wv, "man", "king", "woman", method=method)[0][0] == "queen"
    top = [w for w, _ in analogy(wv, "woman", "queen", "man", method=method, topn=3)]
    assert "king" in top and not {"woman", "queen", "man"} & set(top)


def test_3cosmul_formula():
    wv = _royal()
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    cos = (1 + unit @ unit.T) / 2
    a, b, c = 0, 2, 1
    want = cos[b] * cos[c] / (cos[a] + 1e-6)
    got = dict(analogy(wv, "man", "king", "woman", method="3cosmul", topn=4))
    for w, score in got.items():
        assert score == pytest.approx(want[wv.index()[w]], rel=1e-5)


def test_evaluate_analogies_sections_oov_and_restriction(tmp_path):
    wv = _royal()
    path = tmp_path / "q.txt"
    path.write_text(
        ": royal\nman king woman queen\nMAN KING WOMAN QUEEN\nwoman queen man apple\n"
        ": fruit\nman king woman duke\nman apple woman apple\nbad line\n",
        encoding="utf-8",
    )
    r = evaluate_analogies(wv, path, restrict_vocab=None)
    assert [s["section"] for s in r.sections] == ["royal", "fruit"]
    assert [(s["correct"], s["total"]) for s in r.sections] == [(2, 3), (0, 1)]
    assert (r.correct, r.total, r.oov, r.questions) == (2, 4, 1, 5)
    assert r.accuracy == 0.5
    # restricted to 4 words: the questions naming 'apple' are out
    r4 = evaluate_analogies(wv, path, restrict_vocab=4)
    assert (r4.correct, r4.total, r4.oov) == (2, 2, 3)
    assert evaluate_analogies(wv, path, restrict_vocab=None, case_insensitive=False).oov == 2
    (tmp_path / "bad.txt").write_text("man king woman queen\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 1"):
        evaluate_analogies(wv, tmp_path / "bad.txt")


def test_evaluate_word_pairs_comments_oov_and_spearman(tmp_path):
    wv = _royal()
    path = tmp_path / "ws.tsv"
    path.write_text(
        "# comment\nking\tqueen\t8.0\nman\twoman\t5.0\nking\tapple\t1.0\n"
        "king\tduke\t9.0\nnot a pair\n\nKing\tPrince\t9.5\n",
        encoding="utf-8",
    )
    r = evaluate_word_pairs(wv, path)
    assert (r.pairs, r.oov) == (4, 1)
    model = [similarity(wv, *p) for p in
             (("king", "queen"), ("man", "woman"), ("king", "apple"), ("king", "prince"))]
    assert r.spearman == pytest.approx(spearman([8.0, 5.0, 1.0, 9.5], model))
    assert evaluate_word_pairs(wv, path, restrict_vocab=2).oov == 4


def test_spearman_with_ties_matches_definition():
    x = [1, 2, 2, 3, 5]
    y = [2, 1, 4, 4, 9]
    rx, ry = [1, 2.5, 2.5, 4, 5], [2, 1, 3.5, 3.5, 5]
    assert spearman(x, y) == pytest.approx(np.corrcoef(rx, ry)[0, 1])


def test_equivalent_to_gensim_on_random_vectors(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    vecs = rng.normal(size=(300, 3)).astype(np.float32)  # 3-D: many analogies come out right
    wv = WordVectors(tuple(words), vecs)
    kv = gensim_models.KeyedVectors(3)
    kv.add_vectors(words, vecs)
    lines = [": a"]
    for _ in range(150):
        q = rng.choice(320, size=4, replace=False)  # some ids beyond the vocabulary: OOV
        lines.append(" ".join(f"w{i}" for i in q))
    lines.append(": b")
    for _ in range(100):
        a, b, c = rng.choice(250, size=3, replace=False)
        d = most_similar(wv, [f"w{b}", f"w{c}"], [f"w{a}"], topn=1)[0][0]
        lines.append(f"w{a} w{b} w{c} {d}")
    q = tmp_path / "q.txt"
    q.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for restrict in (200, 300):
        score, sections = kv.evaluate_word_analogies(str(q), restrict_vocab=restrict)
        ours = evaluate_analogies(wv, q, restrict_vocab=restrict)
        assert ours.accuracy == pytest.approx(score)
        assert [(s["correct"], s["total"]) for s in ours.sections] == [
            (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections[:-1]
        ]
    pairs = tmp_path / "p.tsv"
    rows = [f"w{rng.integers(320)}\tw{rng.integers(320)}\t{rng.random() * 10:.2f}"
            for _ in range(200)]
    pairs.write_text("# header\n" + "\n".join(rows) + "\n", encoding="utf-8")
    pearson, (rho, _), oov = kv.evaluate_word_pairs(str(pairs), restrict_vocab=250)
    ours = evaluate_word_pairs(wv, pairs, restrict_vocab=250)
    assert ours.spearman == pytest.approx(rho, abs=1e-6)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert 100 * ours.oov_ratio == pytest.approx(oov)
    for w in ("w3", "w17"):
        want = kv.most_similar(w, topn=5)
        got = most_similar(wv, w, topn=5)
        assert [g[0] for g in got] == [x[0] for x in want]
        np.testing.assert_allclose([g[1] for g in got], [x[1] for x in want], rtol=1e-5)


def test_evaluate_vectors_dict(tmp_path):
    wv = _royal()
    (tmp_path / "q.txt").write_text(": r\nman king woman queen\n", encoding="utf-8")
    (tmp_path / "p.tsv").write_text("king\tqueen\t8\nman\twoman\t5\nking\tapple\t1\n",
                                    encoding="utf-8")
    out = evaluate_vectors(wv, tmp_path / "q.txt", tmp_path / "p.tsv")
    assert out["analogy_accuracy"] == 1.0 and out["pairs_count"] == 3
    assert -1 <= out["pairs_spearman"] <= 1
    with pytest.raises(ConfigError):
        evaluate_vectors(wv)


def test_trained_vectors_round_trip_through_gensim(tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    from rnnlab.embeddings import save_word_vectors
    from rnnlab.word2vec import Word2VecConfig, train_word2vec

    docs = [["a", "b", "c", "d"][i % 3 :] * 3 for i in range(60)]
    wv, _ = train_word2vec(docs, Word2VecConfig(dim=6, min_count=1, epochs=1, workers=1))
    for binary in (False, True):
        path = save_word_vectors(tmp_path / f"v{binary}.bin", wv, binary=binary)
        kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert list(kv.index_to_key) == list(wv.words)
        np.testing.assert_allclose(kv.vectors, wv.vectors, rtol=1e-6)
        assert kv.most_similar("a", topn=2)[0][0] == most_similar(wv, "a", topn=1)[0][0]


def test_missing_word_names_its_spelling_in_another_case():
    wv = WordVectors(("paris", "france", "Paris", "rome", "London"),
                     np.eye(5, dtype=np.float32))
    with pytest.raises(ConfigError, match="'PARIS' is not in the vectors; 'paris' is"):
        most_similar(wv, "PARIS")
    with pytest.raises(ConfigError, match="'london' is not in the vectors; 'London' is"):
        analogy(wv, "paris", "france", "london")
    with pytest.raises(ConfigError, match="'Rome' is not in the vectors; 'rome' is"):
        similarity(wv, "Rome", "paris")
    with pytest.raises(ConfigError, match=r"'berlin' is not in the vectors \(5 words\)"):
        most_similar(wv, negative=["berlin"])
