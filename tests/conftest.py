"""Shared test setup: a fast Hypothesis profile for CI, a thorough one on demand.

Select with ``HYPOTHESIS_PROFILE=thorough pytest``; CI uses ``ci`` (the default).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Two cores: one intra-op thread per test keeps the suite predictable under load.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
