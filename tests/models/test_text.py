"""Text classifiers: the notebook's flatten models, recurrent and bag-of-embeddings models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.text import TextClassifier, TextModelConfig, align_left, nb_log_count_ratios


def test_align_left_keeps_order_and_counts():
    tokens = torch.tensor([[0, 0, 5, 7, 9], [4, 3, 0, 0, 0], [0, 0, 0, 0, 0]])
    aligned, lengths = align_left(tokens)
    assert aligned.tolist() == [[5, 7, 9, 0, 0], [4, 3, 0, 0, 0], [0, 0, 0, 0, 0]]
    assert lengths.tolist() == [3, 2, 0]


def test_flatten_model_is_embedding_flatten_dense():
    model = TextClassifier(TextModelConfig(kind="flatten", vocab_size=20, embedding_dim=3,
                                           maxlen=4))
    tokens = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    expected = model.head(model.embedding.weight[tokens].reshape(2, 12)).squeeze(-1)
    assert_close(model(tokens), expected)
    assert sum(p.numel() for p in model.parameters()) == 20 * 3 + 12 + 1
    with pytest.raises(ShapeError, match="maxlen=4"):
        model(torch.zeros(2, 5, dtype=torch.long))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_models_ignore_padding_wherever_it_is(kind):
    model = TextClassifier(TextModelConfig(kind=kind, vocab_size=30, embedding_dim=4, hidden=5,
                                           bidirectional=kind == "gru")).eval()
    pre = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    post = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    assert_close(model(pre), model(post))
    assert_close(model(pre)[:1], model(torch.tensor([[3, 4, 5]])))


def test_bag_is_mean_of_word_and_bigram_vectors():
    model = TextClassifier(TextModelConfig(kind="bag", vocab_size=10, embedding_dim=3,
                                           bigram_buckets=7))
    tokens = torch.tensor([[0, 2, 3, 4]])
    E = model.embedding.weight
    b23 = 10 + (2 * 1_000_003 + 3) % 7
    b34 = 10 + (3 * 1_000_003 + 4) % 7
    mean = (E[2] + E[3] + E[4] + E[b23] + E[b34]) / 5
    assert_close(model(tokens), model.head(mean).reshape(1))


def test_pretrained_frozen_embedding():
    matrix = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    model = TextClassifier(TextModelConfig(kind="glove-flatten", vocab_size=6, embedding_dim=4,
                                           maxlen=3, freeze_embedding=True), matrix)
    assert torch.equal(model.embedding.weight, torch.from_numpy(matrix))
    model(torch.tensor([[1, 2, 3]])).sum().backward()
    assert model.embedding.weight.grad is None
    with pytest.raises(ShapeError, match=r"\(6, 5\)"):
        TextClassifier(TextModelConfig(vocab_size=6, embedding_dim=5), matrix)


def test_multiclass_outputs_and_bad_config():
    model = TextClassifier(TextModelConfig(kind="bag", vocab_size=10, num_classes=4))
    assert model(torch.tensor([[1, 2]])).shape == (1, 4)
    with pytest.raises(ConfigError, match="'cnn'"):
        TextModelConfig(kind="cnn")


def test_features_distinct_keeps_each_feature_once_per_row():
    model = TextClassifier(TextModelConfig(kind="nbsvm", vocab_size=10, bigram_buckets=5))
    tokens = torch.tensor([[0, 3, 4, 3, 4, 3], [1, 1, 1, 2, 0, 0]])
    all_ids = model.features(tokens)
    distinct = model.features(tokens, distinct=True)
    for row_all, row_distinct in zip(all_ids.tolist(), distinct.tolist(), strict=True):
        kept = [i for i in row_distinct if i]
        assert sorted(kept) == sorted(set(row_all) - {0})  # each real feature exactly once


def _ratios_by_hand(docs, labels, rows, positive, alpha):
    p, q = np.zeros(rows), np.zeros(rows)
    for doc, label in zip(docs, labels, strict=True):
        for f in set(doc) - {0}:
            (p if label == positive else q)[f] += 1
    p[1:] += alpha
    q[1:] += alpha
    r = np.log((p[1:] / p[1:].sum()) / (q[1:] / q[1:].sum()))
    return np.concatenate([[0.0], r])


@pytest.mark.parametrize("num_classes", [2, 3])
def test_nb_log_count_ratios_match_the_definition(num_classes):
    rng = np.random.default_rng(num_classes)
    docs = [sorted(set(rng.integers(0, 9, size=5).tolist())) for _ in range(30)]
    width = max(len(d) for d in docs)
    features = torch.tensor([d + [0] * (width - len(d)) for d in docs])
    labels = torch.from_numpy(rng.integers(0, num_classes, size=30))
    ratios = nb_log_count_ratios(features, labels, 9, num_classes, alpha=0.5)
    columns = [1] if num_classes == 2 else range(num_classes)
    assert ratios.shape == (9, len(columns))
    for j, c in enumerate(columns):
        expected = _ratios_by_hand(docs, labels.tolist(), 9, c, 0.5)
        assert_close(ratios[:, j].double(), torch.from_numpy(expected), atol=1e-6, rtol=1e-6)


def test_nbsvm_logit_is_bias_plus_ratio_weighted_distinct_features():
    model = TextClassifier(TextModelConfig(kind="nbsvm", vocab_size=8, bigram_buckets=3))
    tokens = torch.tensor([[0, 2, 5, 2, 5], [1, 1, 6, 7, 3]])
    model.set_nb_ratios(tokens, torch.tensor([1, 0]))
    with torch.no_grad():
        model.embedding.weight.normal_()
        model.embedding.weight[0] = 0
        model.bias.fill_(0.25)
    w, r = model.embedding.weight[:, 0], model.nb_ratio[:, 0]
    for row, logit in zip(model.features(tokens).tolist(), model(tokens), strict=True):
        expected = 0.25 + sum(w[f] * r[f] for f in set(row) - {0})
        assert_close(logit, expected)


def test_nbsvm_learns_a_planted_word_and_rejects_other_kinds():
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(rng.integers(3, 20, size=(200, 6)))
    labels = torch.from_numpy(rng.integers(0, 2, size=200))
    tokens[:, 2] = torch.where(labels == 1, 1, 2)  # word 1: positive, word 2: negative
    model = TextClassifier(TextModelConfig(kind="nbsvm", vocab_size=20, bigram_buckets=11))
    model.set_nb_ratios(tokens, labels)
    assert model.nb_ratio[1, 0] > 2 and model.nb_ratio[2, 0] < -2
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(20):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(tokens),
                                                                    labels.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ((model(tokens) > 0).long() == labels).all()
    with pytest.raises(ConfigError, match="nbsvm"):
        TextClassifier(TextModelConfig(kind="bag")).set_nb_ratios(tokens, labels)
