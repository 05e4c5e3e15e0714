"""torch.compile of dynamic_rnn (graph breaks allowed) and of scan_rnn (one graph), aot_eager."""

from __future__ import annotations

import warnings

import pytest
import torch

from rnnlab.nn import GRUCell, LSTMCell, dynamic_rnn
from rnnlab.nn.scan import scan_rnn


def _compiled(fn, **kwargs):
    torch._dynamo.reset()
    return torch.compile(fn, backend="aot_eager", **kwargs)


def _check(fn, compiled, cell, x, lengths):
    with warnings.catch_warnings():  # dynamo's own deprecation notes are not ours
        warnings.simplefilter("ignore")
        got = compiled(x, lengths)
        got.square().sum().backward()
    grads = [p.grad.clone() for p in cell.parameters()]
    cell.zero_grad()
    want = fn(x, lengths)
    want.square().sum().backward()
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)
    for g, p in zip(grads, cell.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell_kind,lengths", [("gru", None), ("gru", [5, 0, 2]),
                                               ("lstm-peepholes", [3, 5, 1])])
def test_torch_compile_of_dynamic_rnn(cell_kind, lengths):
    cell = GRUCell(3, 4) if cell_kind == "gru" else LSTMCell(3, 4, use_peepholes=True,
                                                            cell_clip=0.5)
    lengths = None if lengths is None else torch.tensor(lengths)

    def fn(x, lengths):
        return dynamic_rnn(cell, x, sequence_length=lengths)[0]

    _check(fn, _compiled(fn), cell, torch.randn(3, 5, 3), lengths)


# Dynamo reads .grad of the scan's traced tensors (a warning, not an error, of its own).
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor:UserWarning")
def test_torch_compile_of_scan_rnn_is_one_graph():
    cell = LSTMCell(3, 4, num_proj=2)

    def fn(x, lengths):
        return scan_rnn(cell, x, lengths)[0]

    _check(fn, _compiled(fn, fullgraph=True), cell, torch.randn(4, 6, 3),
           torch.tensor([6, 0, 3, 1]))
