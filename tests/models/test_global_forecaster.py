"""The global quantile forecaster: exact lengths, right alignment, the pinball loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.global_forecaster import (
    GlobalForecaster,
    GlobalForecasterConfig,
    QuantileLoss,
    right_align,
)


@pytest.mark.parametrize("cell", ["gru", "lstm", "rnn"])
@pytest.mark.parametrize("skip", [0, 6])
def test_a_short_history_in_a_batch_equals_running_it_alone(cell, skip):
    torch.manual_seed(0)
    model = GlobalForecaster(GlobalForecasterConfig(cell=cell, num_units=5, horizon=3,
                                                    skip=skip, num_layers=2))
    for p in model.parameters():  # the head starts at zero; give it weights
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(3, 6, 1, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    x[1, 2:] = 99.0  # padding past a length must not matter
    x[2, 4:] = -7.0
    model = model.double()
    batch = model(x, lengths)
    for b in range(3):
        n = int(lengths[b])
        alone = x[b : b + 1, :n]
        if skip:  # the skip reads a fixed number of lags: pad the lone one the same way
            alone = torch.cat([alone, torch.zeros(1, 6 - n, 1, dtype=torch.float64)], 1)
        expected = model(alone, torch.tensor([n]))
        torch.testing.assert_close(batch[b : b + 1], expected, rtol=1e-12, atol=1e-12)


def test_quantiles_never_cross_and_shapes_follow_the_config():
    model = GlobalForecaster(GlobalForecasterConfig(horizon=4, quantiles=(0.05, 0.5, 0.95)))
    torch.nn.init.normal_(model.head.weight)
    out = model(torch.randn(5, 7, 1), torch.tensor([7, 1, 3, 5, 2]))
    assert out.shape == (5, 4, 3)
    assert bool((out.diff(dim=-1) >= 0).all())


def test_right_align_moves_each_history_to_the_end():
    x = torch.tensor([[1.0, 2.0, 3.0, 0.0, 0.0], [4.0, 5.0, 6.0, 7.0, 8.0]])
    out = right_align(x, torch.tensor([3, 5]))
    assert out.tolist() == [[0, 0, 1, 2, 3], [4, 5, 6, 7, 8]]


def test_quantile_loss_is_the_pinball_loss_of_observed_targets():
    q = (0.1, 0.5, 0.9)
    out = torch.tensor([[[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]]])  # (1, 2, 3)
    targets = torch.tensor([[[1.5, 1.0], [123.0, 0.0]]])  # the second value is unobserved
    # y = 1.5 against 0, 1, 2: 0.1*1.5, 0.5*0.5, (0.9-1)*(-0.5) -> mean of three
    expected = (0.15 + 0.25 + 0.05) / 3
    assert QuantileLoss(q)(out, targets).item() == pytest.approx(expected)


def test_bad_quantiles_are_refused():
    for bad in ((0.9, 0.1), (0.0, 0.5), (0.5, 0.5)):
        with pytest.raises(ConfigError, match="quantiles"):
            GlobalForecasterConfig(quantiles=bad)
    assert np.isclose(GlobalForecasterConfig(quantiles=("0.2", "0.8")).quantiles[0], 0.2)
