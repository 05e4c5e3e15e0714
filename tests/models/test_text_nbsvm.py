"""Hashed n-gram sets and the exactly fitted NBSVM, against direct computations and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.text_nbsvm import NgramLinear, _loss_and_grad, nb_ratios
from rnnlab.models.text_ngrams import NgramRows, ngram_rows


def _dense(rows: NgramRows) -> np.ndarray:
    x = np.zeros((len(rows), rows.buckets))
    for i in range(len(rows)):
        x[i, rows.indices[rows.indptr[i]:rows.indptr[i + 1]]] = 1.0
    return x


def _toy(seed=0, n=120, classes=2, vocab=30):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    seqs = []
    for label in y:
        words = list(rng.integers(classes + 1, vocab, rng.integers(3, 12)))
        if rng.random() < 0.85:  # a cue word most texts of the class carry
            words.insert(int(rng.integers(0, len(words))), int(label) + 1)
        seqs.append(words)
    return seqs, y


def test_ngram_sets_are_the_distinct_ngrams_of_each_text():
    seqs = [[5, 6, 7, 5, 6], [5], [], [7, 7, 7]]
    rows = ngram_rows(seqs, ngrams=3, buckets=1 << 40)  # no collisions at this size
    got = [set(rows.indices[rows.indptr[i]:rows.indptr[i + 1]].tolist()) for i in range(4)]
    # distinct n-grams: 5,6,7 / 56,67,75 / 567,675,756 = 9; "5 6" occurs twice, counted once
    assert [len(g) for g in got] == [9, 1, 0, 3]
    assert got[1] < got[0]  # the same unigram hashes to the same bucket in every text
    for i in range(4):
        row = rows.indices[rows.indptr[i]:rows.indptr[i + 1]]
        assert (np.diff(row) > 0).all()  # sorted, distinct
    words_only = ngram_rows(seqs, ngrams=1, buckets=1 << 40)
    assert set(words_only.indices.tolist()) <= set(rows.indices.tolist())
    # 7, (7, 7) and (7, 7, 7) are three features: the order is part of the hash
    small = ngram_rows(seqs, ngrams=3, buckets=7)
    assert small.indices.max() < 7
    picked = rows.take(np.array([3, 0]))
    assert picked.indptr.tolist() == [0, 3, 12]
    with pytest.raises(ConfigError, match="ngrams"):
        ngram_rows(seqs, ngrams=0, buckets=8)
    with pytest.raises(ConfigError, match="buckets"):
        ngram_rows(seqs, ngrams=2, buckets=0)


def test_nb_ratios_match_the_formula():
    seqs, y = _toy(1)
    rows = ngram_rows(seqs, ngrams=2, buckets=64)
    x = _dense(rows)
    p, q = x[y == 1].sum(0) + 1.0, x[y == 0].sum(0) + 1.0
    want = np.log(p / p.sum()) - np.log(q / q.sum())
    np.testing.assert_allclose(nb_ratios(rows, y, 2)[:, 0], want, rtol=1e-12)
    seqs, y = _toy(2, classes=3)
    rows = ngram_rows(seqs, ngrams=1, buckets=40)
    x = _dense(rows)
    r = nb_ratios(rows, y, 3)
    for c in range(3):
        p, q = x[y == c].sum(0) + 1.0, x[y != c].sum(0) + 1.0
        np.testing.assert_allclose(r[:, c], np.log(p / p.sum()) - np.log(q / q.sum()))


@pytest.mark.parametrize("classes", [2, 3])
def test_gradient_matches_finite_differences(classes):
    seqs, y = _toy(3, n=40, classes=classes)
    rows = ngram_rows(seqs, ngrams=2, buckets=32)
    r = nb_ratios(rows, y, classes)
    rng = np.random.default_rng(0)
    w, b = rng.normal(size=r.shape), rng.normal(size=r.shape[1])
    weight = rng.uniform(0.5, 2.0, len(y))
    _, grad_w, grad_b = _loss_and_grad(rows, y, r, w, b, 0.7, weight)
    eps = 1e-6
    for idx in [(0, 0), (5, r.shape[1] - 1), (17, 0)]:
        wp, wm = w.copy(), w.copy()
        wp[idx] += eps
        wm[idx] -= eps
        num = (_loss_and_grad(rows, y, r, wp, b, 0.7, weight)[0]
               - _loss_and_grad(rows, y, r, wm, b, 0.7, weight)[0]) / (2 * eps)
        assert grad_w[idx] == pytest.approx(num, rel=1e-5, abs=1e-7)
    bp, bm = b.copy(), b.copy()
    bp[0] += eps
    bm[0] -= eps
    num = (_loss_and_grad(rows, y, r, w, bp, 0.7, weight)[0]
           - _loss_and_grad(rows, y, r, w, bm, 0.7, weight)[0]) / (2 * eps)
    assert grad_b[0] == pytest.approx(num, rel=1e-5)


def test_binary_fit_is_scikit_learns_logistic_regression_on_the_scaled_features():
    sklearn = pytest.importorskip("sklearn.linear_model")
    seqs, y = _toy(4, n=200)
    rows = ngram_rows(seqs, ngrams=2, buckets=50)
    model = NgramLinear.fit(rows, y, 2, c=0.5, tol=1e-9, max_iter=2000)
    r = nb_ratios(rows.remap(_identity_of(model, rows)), y, 2)[:, 0]
    x = _dense(rows)[:, model.columns.numpy()] * r
    ref = sklearn.LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(x, y)
    np.testing.assert_allclose(model.weight.numpy()[:, 0], ref.coef_[0] * r, atol=1e-4)
    assert model.bias.item() == pytest.approx(ref.intercept_[0], abs=1e-4)
    np.testing.assert_allclose(model.logits(rows).numpy(), ref.decision_function(x), atol=1e-3)


def _identity_of(model: NgramLinear, rows: NgramRows) -> np.ndarray:
    column_of = np.full(rows.buckets, -1, np.int64)
    column_of[model.columns.numpy()] = np.arange(model.columns.numel())
    return column_of


def test_multiclass_fit_learns_the_cues_and_min_df_and_class_weight_apply():
    seqs, y = _toy(5, n=300, classes=3)
    rows = ngram_rows(seqs, ngrams=2, buckets=1 << 12)
    model = NgramLinear.fit(rows, y, 3, c=1.0)
    z = model.logits(rows)
    assert z.shape == (300, 3)
    assert (z.numpy().argmax(1) == y).mean() > 0.85
    fewer = NgramLinear.fit(rows, y, 3, c=1.0, min_df=3)
    df = np.bincount(rows.indices, minlength=rows.buckets)
    assert fewer.columns.numel() == (df >= 3).sum() < model.columns.numel()
    heavy = NgramLinear.fit(rows, y, 3, c=1.0, class_weight=np.array([1.0, 1.0, 50.0]))
    assert (heavy.logits(rows).numpy().argmax(1) == 2).sum() > (z.numpy().argmax(1) == 2).sum()
    with pytest.raises(ShapeError):
        NgramLinear.fit(rows, y[:-1], 3)
    with pytest.raises(ConfigError, match="c="):
        NgramLinear.fit(rows, y, 3, c=0.0)
    with pytest.raises(ShapeError, match="buckets"):
        model.logits(ngram_rows(seqs, ngrams=2, buckets=8))
