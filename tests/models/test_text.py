"""Text classifiers: the notebook's flatten models, recurrent and bag-of-embeddings models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.text import TextClassifier, TextModelConfig, align_left


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
