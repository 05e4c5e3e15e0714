"""The sequence classifier and the batch-norm MLP against references."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.classifier import BNMLP, BNMLPConfig, ClassifierConfig, SequenceClassifier


def test_lstm_classifier_equals_nn_lstm_plus_linear():
    cfg = ClassifierConfig(input_size=6, num_classes=3, cell="lstm", num_units=5, num_layers=2,
                           init="torch")
    model = SequenceClassifier(cfg).double()
    ref = nn.LSTM(6, 5, num_layers=2, batch_first=True).double()
    with torch.no_grad():
        for layer, cell in enumerate(model.cells_fw):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ref, f"{name}_l{layer}").copy_(getattr(cell, name))
    x = torch.randn(4, 7, 6, dtype=torch.float64)
    _, (h, _) = ref(x)
    assert_close(model(x), model.head(h[-1]), atol=1e-12, rtol=0)


def test_bidirectional_classifier_with_lengths_equals_each_sequence_alone():
    cfg = ClassifierConfig(input_size=3, num_classes=2, cell="gru", num_units=4,
                           bidirectional=True, num_layers=2)
    model = SequenceClassifier(cfg).double().eval()
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    batched = model(x, lengths)
    for b in range(3):
        alone = model(x[b : b + 1, : lengths[b]])
        assert_close(batched[b : b + 1], alone, atol=1e-12, rtol=0)


def test_keras_init_is_default_and_orthogonal():
    model = SequenceClassifier(ClassifierConfig(num_units=8))
    w = model.cells_fw[0].weight_hh
    assert_close(w @ w.T, torch.eye(8), atol=1e-5, rtol=0)
    assert torch.all(model.head.bias == 0)


def test_bnmlp_structure_and_tf_momentum_mapping():
    model = BNMLP(BNMLPConfig(in_features=12, hidden=(7, 5), num_classes=3, momentum=0.9))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3  # after each hidden layer AND the logits: the notebook's intent
    assert all(bn.momentum == pytest.approx(0.1) and bn.eps == 1e-3 for bn in bns)
    x = torch.randn(16, 3, 4)
    model.train()
    model(x)
    first = model.net[0](x.flatten(1))
    # TF: running = 0.9 * running + 0.1 * batch, starting from 0
    assert_close(bns[0].running_mean, 0.1 * first.mean(0).detach(), atol=1e-6, rtol=1e-5)
    model.eval()
    assert model(x).shape == (16, 3)


def test_bad_configs_and_shapes():
    with pytest.raises(ConfigError, match="'transformer'"):
        ClassifierConfig(cell="transformer")
    with pytest.raises(ConfigError, match=r"dropout=1\.5"):
        ClassifierConfig(dropout=1.5)
    with pytest.raises(ShapeError, match=r"\(batch, steps, 28\)"):
        SequenceClassifier(ClassifierConfig())(torch.zeros(2, 28, 27))
    with pytest.raises(ShapeError, match="784"):
        BNMLP(BNMLPConfig())(torch.zeros(2, 10))


def test_irnn_start_is_relu_with_identity_recurrence():
    model = SequenceClassifier(ClassifierConfig(num_units=6, init="irnn", activation="relu"))
    cell = model.cells_fw[0]
    assert torch.equal(cell.weight_hh, torch.eye(6)) and cell.activation_name == "relu"
    assert torch.all(cell.bias_ih == 0)
    with pytest.raises(ConfigError, match="'irnn' is for the 'rnn' cell"):
        ClassifierConfig(cell="gru", init="irnn")


def test_bad_pooling_and_front_end_options_are_refused_by_name():
    with pytest.raises(ConfigError, match=r"pooling='sum'.*'last', 'mean', 'max', 'attention'"):
        ClassifierConfig(pooling="sum")
    with pytest.raises(ConfigError, match="conv_channels=-1"):
        ClassifierConfig(conv_channels=-1)
    with pytest.raises(ConfigError, match="conv_channels=True"):
        ClassifierConfig(conv_channels=True)
    with pytest.raises(ConfigError, match="conv_kernel=0"):
        ClassifierConfig(conv_channels=8, conv_kernel=0)
    with pytest.raises(ConfigError, match=r"sequence_length\[1\]=9"):
        SequenceClassifier(ClassifierConfig(pooling="mean"))(torch.zeros(2, 5, 28),
                                                             torch.tensor([5, 9]))


def test_bnmlp_still_importable_from_the_classifier_module():
    from rnnlab.models import bnmlp, classifier

    assert classifier.BNMLP is bnmlp.BNMLP and classifier.BNMLPConfig is bnmlp.BNMLPConfig
