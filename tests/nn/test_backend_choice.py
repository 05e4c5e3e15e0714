"""resolve_backend says which backend dynamic_rnn runs; the old module paths still work."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch.nn import functional as F

import rnnlab
from rnnlab.errors import ConfigError
from rnnlab.nn import unroll
from rnnlab.nn.unroll import resolve_backend

CASES = [  # (cell, backend, with lengths, expected)
    (lambda: rnnlab.BasicRNNCell(3, 4), "auto", False, "kernel"),  # faster on the CPU
    (lambda: rnnlab.GRUCell(3, 4), "auto", False, "kernel"),
    (lambda: rnnlab.LSTMCell(3, 4), "auto", False, "fused"),
    (lambda: rnnlab.BasicRNNCell(3, 4), "auto", True, "kernel"),
    (lambda: rnnlab.BasicRNNCell(3, 4), "fused", True, "fused"),
    (lambda: rnnlab.BasicRNNCell(3, 4), "loop", False, "loop"),
    (lambda: rnnlab.GRUCell(3, 4), "kernel", False, "kernel"),
    (lambda: rnnlab.LSTMCell(3, 4, use_peepholes=True), "auto", False, "kernel"),
    (lambda: rnnlab.BasicRNNCell(3, 4, activation=F.softsign), "auto", True, "loop"),
    (lambda: rnnlab.DropoutWrapper(rnnlab.GRUCell(3, 4), output_keep_prob=0.5), "auto",
     False, "loop"),  # dropout in training mode cannot be fused
]


@pytest.mark.parametrize(("make", "backend", "with_lengths", "expected"), CASES)
def test_resolve_backend_names_what_dynamic_rnn_runs(monkeypatch, make, backend,
                                                     with_lengths, expected):
    ran = []
    for name, label in [("_loop", "loop"), ("_kernel", "kernel"), ("fused_call", "fused"),
                        ("fused_packed", "fused")]:
        real = getattr(unroll, name)
        monkeypatch.setattr(unroll, name,
                            lambda *a, real=real, label=label, **k: ran.append(label)
                            or real(*a, **k))
    cell = make()
    lengths = torch.tensor([2, 1]) if with_lengths else None
    assert resolve_backend(cell, backend, lengths) == expected
    rnnlab.dynamic_rnn(cell, torch.randn(2, 2, 3), lengths, backend=backend)
    assert ran == [expected]


def test_resolve_backend_refuses_what_dynamic_rnn_refuses():
    with pytest.raises(ConfigError, match="backend='fused' cannot run LSTMCell"):
        resolve_backend(rnnlab.LSTMCell(3, 4, cell_clip=1.0), "fused")
    with pytest.raises(ConfigError, match="backend='gpu'"):
        resolve_backend(rnnlab.GRUCell(3, 4), "gpu")


def test_lengths_on_cuda_take_the_fused_packed_path():
    # Decided without running anything on CUDA: cuDNN takes packed sequences natively.
    assert resolve_backend(rnnlab.GRUCell(3, 4), "auto", [2, 1], device="cuda") == "fused"
    assert resolve_backend(rnnlab.GRUCell(3, 4), "auto", [2, 1], device="cpu") == "kernel"


@pytest.mark.parametrize(("old", "new"), [
    ("rnnlab.cells", "rnnlab.nn.cells"), ("rnnlab.wrappers", "rnnlab.nn.wrappers"),
    ("rnnlab.rnn", "rnnlab.nn.unroll"), ("rnnlab._lstm_kernel", "rnnlab.nn.lstm_kernel"),
    ("rnnlab._rnn_kernel", "rnnlab.nn.rnn_kernel"), ("rnnlab.convert", "rnnlab.nn.convert"),
    ("rnnlab.losses", "rnnlab.nn.losses"),
])
def test_old_module_paths_are_the_new_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_public_names_and_backends_stay():
    from rnnlab.rnn import BACKENDS, dynamic_rnn, static_rnn

    assert BACKENDS == ("auto", "fused", "kernel", "loop")
    assert dynamic_rnn is rnnlab.dynamic_rnn is rnnlab.nn.dynamic_rnn
    assert static_rnn is rnnlab.nn.static_rnn
    for name in rnnlab.nn.__all__:
        assert getattr(rnnlab.nn, name) is not None
