"""The lengths contract of the sequence classifier, for every pooling and front end.

A sequence's logits in a padded batch equal its logits run alone at its own length; the
padding values never matter; length 0 classifies the 0 vector; gradients are exact.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call
from torch.testing import assert_close

from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier

POOLINGS = ("last", "mean", "max", "attention")
FRONTS = {"none": {}, "conv3": dict(conv_channels=4, conv_kernel=3),
          "conv4": dict(conv_channels=3, conv_kernel=4)}
CASES = list(itertools.product(("rnn", "lstm", "gru"), (False, True), POOLINGS, FRONTS))
LENGTHS = torch.tensor([7, 3, 1, 5, 2])


def _model(cell, bidirectional, pooling, front, seed=0, **extra):
    torch.manual_seed(seed)
    cfg = ClassifierConfig(input_size=3, num_classes=4, cell=cell, num_units=5, num_layers=2,
                           bidirectional=bidirectional, pooling=pooling, **FRONTS[front],
                           **extra)
    # irnn/keras starts zero the biases; "torch" makes every parameter non-trivial.
    return SequenceClassifier(cfg).double().eval()


def _ids(case):
    cell, bi, pooling, front = case
    return f"{cell}-{'bi' if bi else 'uni'}-{pooling}-{front}"


def _padded(lengths, T=7, fill=0.0, seed=1, features=3):
    torch.manual_seed(seed)
    x = torch.randn(len(lengths), T, features, dtype=torch.float64)
    past = torch.arange(T)[None, :] >= lengths[:, None]
    x[past] = fill
    return x


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_batched_logits_equal_each_sequence_alone(case):
    model = _model(*case, init="torch")
    x = _padded(LENGTHS)
    batched = model(x, LENGTHS)
    for b, length in enumerate(LENGTHS.tolist()):
        alone = model(x[b : b + 1, :length])
        assert_close(batched[b : b + 1], alone, atol=1e-10, rtol=0, msg=f"sequence {b}")
        # Alone again, but padded further with other values: still the same.
        longer = torch.cat([x[b : b + 1, :length], torch.full((1, 4, 3), 3.0).double()], 1)
        assert_close(model(longer, torch.tensor([length])), alone, atol=1e-10, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_padding_values_never_change_a_logit_nor_get_a_gradient(case):
    model = _model(*case, init="torch")
    reference = model(_padded(LENGTHS), LENGTHS)
    for fill in (1e6, -1e30, float("nan")):
        x = _padded(LENGTHS, fill=fill).requires_grad_()
        logits = model(x, LENGTHS)
        assert_close(logits, reference, atol=1e-12, rtol=0, msg=f"padding {fill}")
        if fill == 1e6:
            logits.sum().backward()
            past = torch.arange(7)[None, :] >= LENGTHS[:, None]
            assert torch.all(x.grad[past] == 0) and x.grad[~past].abs().sum() > 0


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_length_zero_classifies_the_zero_vector(case):
    model = _model(*case, init="torch")
    lengths = torch.tensor([0, 4, 0])
    x = _padded(lengths, T=4, fill=float("nan")).requires_grad_()
    logits = model(x, lengths)
    empty = model.head(torch.zeros(model.head.in_features, dtype=torch.float64))
    assert torch.isfinite(logits).all()
    assert_close(logits[0], empty, atol=1e-12, rtol=0)
    assert_close(logits[2], empty, atol=1e-12, rtol=0)
    logits.sum().backward()
    for name, p in model.named_parameters():
        assert torch.isfinite(p.grad).all(), name
    assert torch.isfinite(x.grad).all() and torch.all(x.grad[[0, 2]] == 0)


@pytest.mark.parametrize(("pooling", "cell", "bidirectional", "front"), [
    ("mean", "gru", True, "none"),
    ("mean", "lstm", False, "conv3"),
    ("attention", "lstm", True, "none"),
    ("attention", "gru", False, "conv4"),
    ("max", "rnn", True, "conv3"),
])
def test_gradcheck_inputs_and_parameters(pooling, cell, bidirectional, front):
    torch.manual_seed(0)
    cfg = ClassifierConfig(input_size=2, num_classes=2, cell=cell, num_units=3,
                           bidirectional=bidirectional, pooling=pooling, init="torch",
                           **FRONTS[front])
    model = SequenceClassifier(cfg).double()
    names = [name for name, _ in model.named_parameters()]
    params = [p.detach().clone().requires_grad_() for p in model.parameters()]
    lengths = torch.tensor([4, 2, 0])
    x = _padded(lengths, T=4, features=2).requires_grad_()

    def logits(x, *params):
        return functional_call(model, dict(zip(names, params, strict=True)), (x, lengths))

    assert gradcheck(logits, (x, *params), eps=1e-6, atol=1e-6)


def test_attention_weights_are_a_softmax_over_the_valid_steps():
    model = _model("gru", False, "attention", "none", init="torch")
    with torch.no_grad():
        model.pool.score.weight.zero_()
        model.pool.score.bias.fill_(2.0)
    # Constant scores: attention is the mean over valid steps, not over all T.
    mean = _model("gru", False, "mean", "none", init="torch")
    x = _padded(LENGTHS)
    assert_close(model(x, LENGTHS), mean(x, LENGTHS), atol=1e-12, rtol=0)


def test_pooling_changes_the_function_and_the_front_end_its_input_size():
    x = _padded(LENGTHS)
    outs = {p: _model("lstm", True, p, "none", init="torch")(x, LENGTHS) for p in POOLINGS}
    for a, b in itertools.combinations(POOLINGS, 2):
        assert not torch.allclose(outs[a], outs[b]), (a, b)
    model = _model("gru", True, "max", "conv3")
    assert model.cells_fw[0].input_size == 4 and model.front.conv.kernel_size == (3,)
