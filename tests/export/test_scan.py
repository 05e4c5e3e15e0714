"""scan_rnn (the export path) against dynamic_rnn, eagerly and through both exporters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnlab.nn import (
    BasicRNNCell,
    DropoutWrapper,
    GRUCell,
    LSTMCell,
    MultiRNNCell,
    OutputProjectionWrapper,
    ResidualWrapper,
    bidirectional_dynamic_rnn,
    dynamic_rnn,
)
from rnnlab.nn.scan import bidirectional_scan_rnn, scan_rnn

F = 3


def _cells():
    return {
        "rnn-tanh": BasicRNNCell(F, 5),
        "rnn-relu": BasicRNNCell(F, 5, activation="relu"),
        "rnn-callable": BasicRNNCell(F, 5, activation=torch.sin),
        "gru": GRUCell(F, 5),
        "lstm": LSTMCell(F, 5),
        "lstm-peep-clip-proj": LSTMCell(F, 6, use_peepholes=True, cell_clip=0.3, num_proj=4,
                                        proj_clip=0.2),
        "stack": MultiRNNCell([DropoutWrapper(LSTMCell(F, 4, use_peepholes=True),
                                              output_keep_prob=0.5),
                               LSTMCell(4, 5, cell_clip=0.5)]),
        "wrapped": OutputProjectionWrapper(ResidualWrapper(GRUCell(F, F)), 2),
    }


def _batch(B, T, lengths):
    x = torch.randn(B, T, F) * 2
    lengths = torch.tensor(lengths, dtype=torch.int64)
    valid = torch.arange(T)[None, :] < lengths[:, None]
    # Padding holds huge values: a graph that read it would show.
    return torch.where(valid[..., None], x, torch.full_like(x, 1e4)), lengths


BATCHES = [(4, 9, [9, 0, 3, 1]), (1, 1, [1]), (1, 6, [0]), (3, 13, [13, 13, 5])]


def _flat(state):
    return [state] if isinstance(state, torch.Tensor) else [t for s in state for t in _flat(s)]


@pytest.mark.parametrize("name", list(_cells()))
def test_scan_rnn_is_dynamic_rnn(name):
    cell = _cells()[name].eval()
    for B, T, lengths in BATCHES:
        x, lengths = _batch(B, T, lengths)
        with torch.no_grad():
            want, want_state = dynamic_rnn(cell, x, sequence_length=lengths)
            got, got_state = scan_rnn(cell, x, lengths)
            full, full_state = scan_rnn(cell, x[:, :, :])  # no lengths: all T
            ref_full, ref_full_state = dynamic_rnn(cell, x)
        torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
        for a, b in zip(_flat(got_state), _flat(want_state), strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        torch.testing.assert_close(full, ref_full, atol=1e-5, rtol=1e-5)
        for a, b in zip(_flat(full_state), _flat(ref_full_state), strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_bidirectional_scan_rnn_is_bidirectional_dynamic_rnn():
    fw, bw = GRUCell(F, 4), LSTMCell(F, 3, num_proj=2)
    x, lengths = _batch(4, 8, [8, 0, 2, 5])
    with torch.no_grad():
        (a_fw, a_bw), (s_fw, s_bw) = bidirectional_scan_rnn(fw, bw, x, lengths)
        (b_fw, b_bw), (r_fw, r_bw) = bidirectional_dynamic_rnn(fw, bw, x, lengths)
    torch.testing.assert_close(a_fw, b_fw, atol=1e-6, rtol=0)
    torch.testing.assert_close(a_bw, b_bw, atol=1e-6, rtol=0)
    torch.testing.assert_close(s_fw, r_fw, atol=1e-6, rtol=0)
    for a, b in zip(s_bw, r_bw, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


class _Unroll(nn.Module):
    """outputs and the flattened final state, as an exported graph returns them."""

    def __init__(self, cell):
        super().__init__()
        self.cell = cell

    def forward(self, inputs, lengths):
        outputs, state = scan_rnn(self.cell, inputs, lengths)
        return (outputs, *_flat(state))


EXPORTED = ["lstm-peep-clip-proj", "stack", "gru", "rnn-relu"]
DYNAMIC = {"inputs": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}


@pytest.fixture(scope="module")
def exported():
    """Each cell of EXPORTED exported once, to torch.export and to ONNX (onnxruntime)."""
    ort = pytest.importorskip("onnxruntime")
    from rnnlab.export.onnx import onnx_bytes
    from rnnlab.export.torch_export import export_program

    out = {}
    for name in EXPORTED:
        torch.manual_seed(1)
        model = _Unroll(_cells()[name]).eval()
        example = _batch(2, 5, [5, 3])
        inputs = {"inputs": example[0], "lengths": example[1]}
        names = ("outputs", "s0", "s1", "s2", "s3")[:1 + len(_flat(model.cell.zero_state(1)))]
        program = export_program(model, inputs, DYNAMIC)
        blob = onnx_bytes(model, inputs, names, DYNAMIC)
        out[name] = model, program, ort.InferenceSession(blob)
    return out


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_unroll_matches_eager_on_unseen_shapes(exported, name):
    model, program, session = exported[name]
    for B, T, lengths in BATCHES:
        x, lengths = _batch(B, T, lengths)
        with torch.no_grad():
            want = [t.numpy() for t in model(x, lengths)]
            ref, ref_state = dynamic_rnn(model.cell, x, sequence_length=lengths)
            traced = [t.numpy() for t in program.module()(x, lengths)]
        onnx = session.run(None, {"inputs": x.numpy(), "lengths": lengths.numpy()})
        for ours, eager, runtime, rnnlab_ in zip(traced, want, onnx,
                                                 [ref, *_flat(ref_state)], strict=True):
            assert np.abs(ours - rnnlab_.numpy()).max() <= 1e-5
            assert np.abs(runtime - rnnlab_.numpy()).max() <= 1e-5
            assert np.abs(eager - rnnlab_.numpy()).max() <= 1e-5


def test_a_saved_program_takes_one_sequence(exported, tmp_path):
    model, program, _ = exported["gru"]
    torch.export.save(program, str(tmp_path / "gru.pt2"))
    loaded = torch.export.load(str(tmp_path / "gru.pt2")).module()
    x, lengths = _batch(1, 4, [3])
    with torch.no_grad():
        want = model(x, lengths)
        got = loaded(x, lengths)
    for a, b in zip(got, want, strict=True):
        assert torch.abs(a - b).max() <= 1e-5
