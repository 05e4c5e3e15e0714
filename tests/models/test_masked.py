"""Pooling over valid steps and the length-exact convolution, against hand values and conv1d."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from rnnlab.errors import ConfigError
from rnnlab.models.masked import ConvFrontEnd, SequencePooling, valid_mask

STEPS = torch.tensor([[[1.0, -2.0], [3.0, 4.0], [5.0, 6.0]],
                      [[-1.0, 0.5], [7.0, 8.0], [9.0, 9.0]],
                      [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]], dtype=torch.float64)
LENGTHS = torch.tensor([2, 1, 0])


def test_valid_mask():
    assert valid_mask(LENGTHS, 3, 3).int().tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert valid_mask(None, 2, 2).all()


@pytest.mark.parametrize(("how", "expected"), [
    ("mean", [[2.0, 1.0], [-1.0, 0.5], [0.0, 0.0]]),
    ("max", [[3.0, 4.0], [-1.0, 0.5], [0.0, 0.0]]),
])
def test_mean_and_max_by_hand(how, expected):
    mask = valid_mask(LENGTHS, 3, 3)
    pooled = SequencePooling(how, 2)(STEPS, mask)
    assert pooled.tolist() == expected
    poisoned = STEPS.masked_fill(~mask[..., None], float("nan"))
    assert SequencePooling(how, 2)(poisoned, mask).tolist() == expected


def test_attention_by_hand():
    pool = SequencePooling("attention", 2).double()
    with torch.no_grad():
        pool.score.weight.copy_(torch.tensor([[0.5, -1.0]]))
        pool.score.bias.fill_(0.25)
    mask = valid_mask(LENGTHS, 3, 3)
    poisoned = STEPS.masked_fill(~mask[..., None], 1e30)
    s0, s1 = 0.5 * 1 + 2.0 + 0.25, 0.5 * 3 - 4.0 + 0.25  # scores of sequence 0's steps
    w0 = math.exp(s0) / (math.exp(s0) + math.exp(s1))
    expected = torch.tensor([[w0 * 1 + (1 - w0) * 3, w0 * -2 + (1 - w0) * 4],
                             [-1.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    assert_close(pool(poisoned, mask), expected, atol=1e-12, rtol=0)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_conv_front_end_is_conv1d_same_on_each_sequence_alone(kernel):
    torch.manual_seed(kernel)
    conv = ConvFrontEnd(3, 4, kernel).double()
    lengths = torch.tensor([6, 4, 1, 0])
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    mask = valid_mask(lengths, 4, 6)
    x = x.masked_fill(~mask[..., None], float("nan"))
    out = conv(x, mask)
    assert torch.all(out[~mask] == 0)
    for b, length in enumerate(lengths.tolist()):
        if length == 0:
            continue
        alone = F.conv1d(x[b, :length].T[None], conv.conv.weight, conv.conv.bias,
                         padding="same")
        assert_close(out[b, :length], torch.relu(alone)[0].T, atol=1e-12, rtol=0)


def test_unknown_pooling_is_refused_by_name():
    with pytest.raises(ConfigError, match="pooling='sum'"):
        SequencePooling("sum", 2)
