"""Temperature scaling: turn decision values into probabilities that mean what they say.

A ridge classifier's decision values order the classes but are regression outputs fitted to
+1/-1, not log-probabilities. ``fit_temperature`` finds the T for which
``softmax(decisions / T)`` best predicts held-out labels (Guo et al. 2017, "On Calibration
of Modern Neural Networks"); with leave-one-out decisions no data is held out for it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def nll(decisions: Tensor, y: Tensor, temperature: float) -> float:
    """Mean negative log-likelihood of ``y`` under ``softmax(decisions / temperature)``."""
    logp = torch.log_softmax(decisions.double() / temperature, dim=-1)
    return float(-logp[torch.arange(len(y)), y].mean())


def fit_temperature(decisions: Tensor, y: Tensor, low: float = 1e-3, high: float = 1e2,
                    steps: int = 60) -> float:
    """The temperature minimising the NLL, by golden-section search on log T.

    Args:
        decisions: (N, C) decision values, each computed without its own example.
        y: (N,) the true classes.
        low, high: the range searched.
        steps: search iterations (60 narrow the range by a factor of 3e12).

    Returns:
        T > 0.

    Example:
        >>> d = torch.tensor([[2.0, -2.0], [-2.0, 2.0], [2.0, -2.0]])
        >>> fit_temperature(d, torch.tensor([0, 1, 1])) > 1  # one mistake: be less sure
        True
    """
    y = torch.as_tensor(y, dtype=torch.long)
    a, b = math.log(low), math.log(high)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(decisions, y, math.exp(c)), nll(decisions, y, math.exp(d))
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(decisions, y, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(decisions, y, math.exp(d))
    return math.exp((a + b) / 2)
