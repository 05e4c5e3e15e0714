"""Word2vec trainer: exact SGD steps, determinism, learning a planted structure, corpora."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest

from rnnlab import _w2v_kernels as K
from rnnlab.errors import ConfigError, DataError, DataNotFoundError
from rnnlab.word2vec import (
    Word2VecConfig,
    build_vocab,
    iter_corpus,
    keep_probabilities,
    tokenize,
    train_word2vec,
)


def _clusters(n_sentences=300, seed=0):
    """Sentences drawn from one of two disjoint 8-word clusters."""
    rng = np.random.default_rng(seed)
    a = [f"a{i}" for i in range(8)]
    b = [f"b{i}" for i in range(8)]
    return [list(rng.choice(a if s % 2 else b, size=12)) for s in range(n_sentences)], a, b


SMALL = Word2VecConfig(dim=16, window=3, negative=3, min_count=1, sample=0, epochs=3,
                       workers=1, batch_words=300, alpha=0.05)


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _kernel_args(V, D, rng):
    syn0 = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    syn1 = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    return syn0, syn1


@pytest.mark.parametrize("model", [0, 1])
def test_one_negative_sampling_step_matches_numpy(model):
    """Sentence [0, 1], window 1, one negative that is always word 2: word2vec.c's rule."""
    V, D, lr = 3, 4, 0.1
    syn0, syn1 = _kernel_args(V, D, np.random.default_rng(0))
    s0, s1 = syn0.astype(np.float64), syn1.astype(np.float64)
    tokens = np.array([0, 1], np.int32)
    tokens.flags.writeable = False  # as the trainer's memory map
    out = K.train_chunk(
        tokens, np.array([0, 2], np.int64), 0, 1,
        np.arange(V, dtype=np.int32), np.ones(V, np.float32), syn0, syn1,
        np.zeros(V, np.float32), np.zeros(V), np.zeros(V), np.full(V, 2, np.int64),
        np.zeros(V, np.uint8), np.zeros(V, np.uint8), model, K.LOSS_NEG, 1, 1, lr, lr, 0,
        100, np.uint64(7), np.empty(16, np.int64), np.empty((2, D), np.float32),
    )  # fmt: skip
    loss = 0.0
    for word, ctx in ((0, 1), (1, 0)):  # position 0 predicts from word 1 and vice versa
        h = s0[ctx].copy()  # CBOW's mean of one context word is that word
        neu1e = np.zeros(D)
        for target, label in ((word, 1.0), (2, 0.0)):
            f = h @ s1[target]
            loss += -math.log(_sigmoid(f) if label else 1 - _sigmoid(f))
            g = (label - _sigmoid(f)) * lr
            neu1e += g * s1[target]
            s1[target] += g * h
        s0[ctx] += neu1e
    np.testing.assert_allclose(syn0, s0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(syn1, s1, rtol=1e-5, atol=1e-6)
    assert out[1] == 2 and out[2] == 2
    assert out[0] == pytest.approx(loss, rel=1e-5)


def test_tabulated_sigmoid_and_softplus_are_exact_to_1e6():
    for f in np.concatenate([np.linspace(-40, 40, 20001), [0.0, 15.999, 16.0, -16.0, 1e30]]):
        s, l1p = K._softplus_parts(float(f))
        assert s == pytest.approx(1 / (1 + math.exp(-f)) if f > -700 else 0.0, abs=1e-6)
        assert l1p == pytest.approx(math.log1p(math.exp(-abs(f))), abs=1e-6)
    s, l1p = K._softplus_parts(math.nan)
    assert math.isnan(s) and math.isnan(l1p)  # a diverged run shows in its loss


def test_subsampling_probability_formula():
    counts = np.array([1000, 100, 10, 1])
    t = 0.01
    keep = keep_probabilities(counts, t)
    T = counts.sum()
    want = [min(1.0, (math.sqrt(c / (t * T)) + 1) * t * T / c) for c in counts]
    np.testing.assert_allclose(keep, want, rtol=1e-6)
    assert keep[0] < 1 and keep[-1] == 1
    np.testing.assert_array_equal(keep_probabilities(counts, 0), 1)
    # the trainer keeps about that share of each word
    docs = [["x"] * 50 + [f"r{i}" for i in range(50)] for _ in range(40)]
    vocab = build_vocab(docs, min_count=1)
    p = keep_probabilities(vocab.counts, 0.005)
    _, hist = train_word2vec(docs, Word2VecConfig(dim=4, min_count=1, sample=0.005, epochs=1,
                                                  workers=1, batch_words=500))
    expected = float((p * vocab.counts).sum())
    assert abs(hist[0]["kept_words"] - expected) < 4 * math.sqrt(expected)


def test_vocabulary_min_count_and_max_vocab():
    docs = [["b", "a", "c", "a", "b", "a", "d", "c", "e"]]
    v = build_vocab(docs, min_count=2)
    assert v.words == ("a", "b", "c")  # by count, ties by first appearance
    assert v.counts.tolist() == [3, 2, 2] and v.total_words == 9
    assert build_vocab(docs, min_count=1, max_vocab=2).words == ("a", "b")
    wv, _ = train_word2vec(docs * 5, Word2VecConfig(dim=4, min_count=10, max_vocab=2,
                                                     epochs=1, workers=1))
    assert wv.words == ("a", "b") and wv.vectors.shape == (2, 4)
    assert wv.vectors.dtype == np.float32
    with pytest.raises(DataError, match="min_count"):
        train_word2vec(docs, Word2VecConfig(min_count=100, workers=1))


def test_same_seed_same_vectors_and_deterministic_mode_ignores_workers():
    docs, _, _ = _clusters(120)
    runs = {}
    for workers, det in ((2, False), (2, False), (1, True), (2, True), (3, True)):
        cfg = Word2VecConfig(**{**SMALL.__dict__, "workers": workers, "deterministic": det,
                                "epochs": 2, "sample": 1e-2})
        wv, _ = train_word2vec(docs, cfg)
        runs.setdefault((workers, det), []).append(wv.vectors)
    np.testing.assert_array_equal(*runs[(2, False)])
    np.testing.assert_array_equal(runs[(1, True)][0], runs[(2, True)][0])
    np.testing.assert_array_equal(runs[(1, True)][0], runs[(3, True)][0])
    other, _ = train_word2vec(docs, Word2VecConfig(**{**SMALL.__dict__, "seed": 2, "epochs": 2}))
    assert not np.array_equal(other.vectors, runs[(1, True)][0])


@pytest.mark.parametrize(("model", "loss"), [("skipgram", "neg"), ("cbow", "neg"),
                                             ("skipgram", "nce"), ("cbow", "sampled-softmax")])
def test_loss_decreases_and_planted_clusters_are_learnt(model, loss):
    docs, a, b = _clusters()
    cfg = Word2VecConfig(**{**SMALL.__dict__, "model": model, "loss": loss, "workers": 2})
    wv, hist = train_word2vec(docs, cfg)
    losses = [h["loss"] for h in hist]
    assert losses[-1] < losses[0]
    assert all(h["pairs"] > 0 and h["words"] == 3600 for h in hist)
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    idx = wv.index()
    ia, ib = [idx[w] for w in a], [idx[w] for w in b]
    within = (unit[ia] @ unit[ia].T).mean() + (unit[ib] @ unit[ib].T).mean()
    between = 2 * (unit[ia] @ unit[ib].T).mean()
    assert within - between > 0.5


def test_progress_hook_reports_speed_and_decaying_lr():
    docs, _, _ = _clusters(100)
    seen = []
    train_word2vec(docs, Word2VecConfig(**{**SMALL.__dict__, "workers": 2}), seen.append)
    assert len(seen) >= 3
    assert all(p.words_per_sec > 0 and p.loss > 0 for p in seen)
    lrs = [p.lr for p in seen]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < SMALL.alpha
    assert seen[-1].words_done == seen[-1].total_words == 1200 * SMALL.epochs


def test_corpus_formats_stream_the_same_tokens(tmp_path):
    lines = ["The cat, sat.<br />On the mat!", "A dog; a CAT"]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    folder = tmp_path / "docs" / "pos"
    folder.mkdir(parents=True)
    for i, line in enumerate(lines):
        (folder / f"{i}_1.txt").write_text(line, encoding="utf-8")
    want = [tokenize(x) for x in lines]
    assert want[0] == ["the", "cat", "sat", "on", "the", "mat"]
    assert list(iter_corpus(tmp_path / "c.txt")) == want
    assert list(iter_corpus(str(tmp_path / "c.txt.gz"))) == want
    assert list(iter_corpus(tmp_path / "docs")) == want
    assert list(iter_corpus([tmp_path / "c.txt", tmp_path / "c.txt.gz"])) == want * 2
    assert list(iter_corpus(lines)) == want
    assert list(iter_corpus(iter(want))) == want
    wv, _ = train_word2vec(tmp_path / "c.txt.gz", Word2VecConfig(dim=4, min_count=2, workers=1,
                                                                 epochs=1))
    assert wv.words == ("the", "cat", "a")


def test_bad_config():
    with pytest.raises(ConfigError, match="'skipgramz'"):
        Word2VecConfig(model="skipgramz")
    with pytest.raises(ConfigError, match="loss"):
        Word2VecConfig(loss="hs")
    with pytest.raises(ConfigError, match="window"):
        Word2VecConfig(window=0)
    with pytest.raises(ConfigError, match="sample"):
        Word2VecConfig(sample=1.5)


def test_a_missing_path_is_an_error_never_text(tmp_path):
    real = tmp_path / "corpus.txt"
    real.write_text("a b c\n")
    with pytest.raises(DataNotFoundError, match=r"nope\.txt"):  # a mistyped name among real
        list(iter_corpus([str(real), "nope.txt"]))
    with pytest.raises(DataNotFoundError, match=r"nope\.txt"):  # one that reads as a file name
        list(iter_corpus(["nope.txt"]))
    with pytest.raises(DataNotFoundError, match="missing"):
        list(iter_corpus([real, tmp_path / "missing"]))
    assert list(iter_corpus([str(real)])) == [["a", "b", "c"]]
    assert list(iter_corpus(["hello world hello"])) == [["hello", "world", "hello"]]  # text
