"""Device choice, seeding and threads."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.runtime import resolve_device, seed_everything, set_threads


def test_cpu_and_auto():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    want = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == want


def test_auto_without_a_gpu_is_cpu_and_cuda_without_a_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match=f"device='{name}'.*CUDA is not available"):
            resolve_device(name)


def test_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ConfigError, match=r"cuda:3.*1 CUDA device"):
        resolve_device("cuda:3")


@pytest.mark.parametrize("bad", ["gpu", "CPU", "cpu:0", "cuda:x", "", 3])
def test_unknown_devices_are_quoted(bad):
    with pytest.raises(ConfigError, match=r"not allowed; choose one of: 'auto', 'cpu', 'cuda'"):
        resolve_device(bad)


def test_seed_everything_repeats_every_generator():
    seed_everything(42)
    a = (torch.rand(3), np.random.rand(3), random.random())
    seed_everything(42)
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="seed="):
            seed_everything(bad)


def test_set_threads():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and set_threads(None) == 1
    finally:
        torch.set_num_threads(before)
    for bad in (0, -2, 1.0):
        with pytest.raises(ConfigError, match="threads="):
            set_threads(bad)


def test_auto_device_choice_is_a_debug_detail(caplog):
    with caplog.at_level("INFO", logger="rnnlab"):
        resolve_device("auto")
    assert "device auto" not in caplog.text
    with caplog.at_level("DEBUG", logger="rnnlab"):
        resolve_device("auto")
    assert "device auto ->" in caplog.text
