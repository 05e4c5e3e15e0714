"""Each export test module starts with dynamo's caches empty.

Dynamo caches the traced body of every ``scan`` by its code, and checks the guards of
earlier traces (say T == 6, a fixed window) against a new export's symbolic T, which pins
it. rnnlab's writers reset the caches themselves (``rnnlab.export.onnx.fresh_trace``); this
covers tests that call the exporters directly.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
