"""Unrolling against PyTorch's nn.RNN/nn.LSTM/nn.GRU on packed sequences, on both backends.

Every comparison runs in float64 with copied weights; the fused path is always checked
against PyTorch's modules and against the loop, never only against itself.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.testing import assert_close

import rnnlab
from rnnlab.errors import ConfigError, ShapeError
from rnnlab.nn import fused

TOL = {"atol": 1e-10, "rtol": 1e-10}
KINDS = ["tanh", "relu", "lstm", "lstm_proj", "gru"]


def _torch_module(kind, F, H, layers, bidirectional=False):
    common = {"num_layers": layers, "bidirectional": bidirectional}
    if kind in ("tanh", "relu"):
        return nn.RNN(F, H, nonlinearity=kind, **common).double()
    if kind == "lstm":
        return nn.LSTM(F, H, **common).double()
    if kind == "lstm_proj":
        return nn.LSTM(F, H, proj_size=max(1, H // 2), **common).double()
    return nn.GRU(F, H, **common).double()


def _reference(module, x, lengths):
    """PyTorch on packed sequences: outputs (T, B, D*H) zero-padded, final states."""
    T, B = x.shape[:2]
    if lengths is None:
        return module(x)
    nonempty = lengths > 0
    packed = pack_padded_sequence(x[:, nonempty], lengths[nonempty], enforce_sorted=False)
    out, hx = module(packed)
    out, _ = pad_packed_sequence(out, total_length=T)
    full = x.new_zeros(T, B, out.shape[-1])
    full[:, nonempty] = out
    return full, hx


def _stack_state(kind, state, layers):
    """rnnlab cell state -> PyTorch's (L, B, H) hx for comparison."""
    per_layer = state if layers > 1 else (state,)
    if kind.startswith("lstm"):
        return (torch.stack([h for h, _ in per_layer]), torch.stack([c for _, c in per_layer]))
    return torch.stack(list(per_layer))


def _flat(state):
    return [state] if isinstance(state, torch.Tensor) else [t for s in state for t in _flat(s)]


def _check(kind, B, T, F, H, layers, lengths, backend, time_major=True):
    torch.manual_seed(B * 100 + T)
    module = _torch_module(kind, F, H, layers)
    cell = rnnlab.cells_from_torch(module)
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    if lengths is not None and not lengths.any():  # nothing to pack: all zeros, initial state
        out, state = rnnlab.dynamic_rnn(cell, x, lengths, time_major=True, backend=backend)
        assert not out.any() and all(not h.any() for h in _flat(state))
        return
    ref_out, ref_hx = _reference(module, x, lengths)
    inputs = x if time_major else x.transpose(0, 1)
    out, state = rnnlab.dynamic_rnn(cell, inputs, sequence_length=lengths,
                                    time_major=time_major, backend=backend)
    out = out if time_major else out.transpose(0, 1)
    hx = _stack_state(kind, state, layers)
    # Sequences of length 0 are not in the packed reference: their state is the initial one.
    if lengths is not None and (lengths == 0).any():
        empty = lengths == 0
        for h in (hx if isinstance(hx, tuple) else (hx,)):
            assert torch.all(h[:, empty] == 0)
        keep = ~empty
        hx = tuple(h[:, keep] for h in hx) if isinstance(hx, tuple) else hx[:, keep]
    assert_close(out, ref_out, **TOL)
    assert_close(hx, ref_hx, **TOL)

    # Gradients: the same loss through both, with respect to inputs and every weight.
    weights = torch.randn_like(out)
    loss = (out * weights).sum() + sum(h.sum() for h in (hx if isinstance(hx, tuple) else [hx]))
    ref_loss = (ref_out * weights).sum() + sum(
        h.sum() for h in (ref_hx if isinstance(ref_hx, tuple) else [ref_hx]))
    params = list(cell.parameters())
    grads = torch.autograd.grad(loss, [x, *params])
    ref_grads = torch.autograd.grad(ref_loss, [x, *module.parameters()])
    assert all(g is not None for g in grads)
    for g, r in zip(grads, ref_grads, strict=True):
        assert_close(g, r, **TOL)


@pytest.mark.parametrize("backend", ["fused", "kernel", "loop"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers", [1, 2])
def test_dynamic_rnn_matches_pytorch_with_lengths(kind, layers, backend):
    lengths = torch.tensor([6, 2, 0, 6, 3, 1, 2])
    _check(kind, B=7, T=6, F=3, H=4, layers=layers, lengths=lengths, backend=backend)


@pytest.mark.parametrize("backend", ["auto", "loop"])
@pytest.mark.parametrize("kind", KINDS)
def test_dynamic_rnn_matches_pytorch_without_lengths(kind, backend):
    _check(kind, B=3, T=5, F=2, H=3, layers=1, lengths=None, backend=backend, time_major=False)


@given(
    kind=st.sampled_from(KINDS),
    B=st.integers(1, 6),
    T=st.integers(1, 7),
    layers=st.integers(1, 2),
    backend=st.sampled_from(["auto", "fused", "kernel", "loop"]),
    data=st.data(),
)
def test_dynamic_rnn_random_shapes_and_lengths(kind, B, T, layers, backend, data):
    lengths = torch.tensor(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    _check(kind, B, T, F=2, H=3, layers=layers, lengths=lengths, backend=backend)


@pytest.mark.parametrize("kind", ["lstm", "gru", "tanh"])
@pytest.mark.parametrize("layers", [1, 2])
def test_stack_bidirectional_matches_pytorch_bidirectional(kind, layers):
    module = _torch_module(kind, 3, 4, layers, bidirectional=True)
    cells_fw, cells_bw = rnnlab.cells_from_torch(module)
    T, B = 5, 4
    x = torch.randn(T, B, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 3, 1, 4])
    ref_out, ref_hx = _reference(module, x, lengths)
    out, states_fw, states_bw = rnnlab.stack_bidirectional_dynamic_rnn(
        cells_fw, cells_bw, x, sequence_length=lengths, time_major=True)
    assert_close(out, ref_out, **TOL)
    # PyTorch orders final states layer by layer, forward then backward.
    pieces = [s for pair in zip(states_fw, states_bw, strict=True) for s in pair]
    if kind == "lstm":
        assert_close(torch.stack([h for h, _ in pieces]), ref_hx[0], **TOL)
        assert_close(torch.stack([c for _, c in pieces]), ref_hx[1], **TOL)
    else:
        assert_close(torch.stack(pieces), ref_hx, **TOL)


def test_bidirectional_backward_reads_each_sequence_reversed_within_its_length():
    cell = rnnlab.BasicRNNCell(1, 1, activation=lambda z: z).double()
    with torch.no_grad():  # h' = x + h: a running sum, so outputs reveal the reading order
        cell.weight_ih.fill_(1), cell.weight_hh.fill_(1), cell.bias_ih.zero_(), cell.bias_hh.zero_()
    x = torch.tensor([[1.0, 2.0, 3.0, 0.0]], dtype=torch.float64)[..., None]  # (1, 4, 1)
    (fw, bw), (s_fw, s_bw) = rnnlab.bidirectional_dynamic_rnn(
        cell, cell, x, sequence_length=torch.tensor([3]))
    assert fw[0, :, 0].tolist() == [1, 3, 6, 0]
    assert bw[0, :, 0].tolist() == [6, 5, 3, 0]
    assert s_fw.item() == 6 and s_bw.item() == 6


@pytest.mark.parametrize("lengths", [None, torch.tensor([2, 1, 2, 2])])
def test_static_dynamic_and_manual_stepping_agree(lengths):
    """The notebook's check: three ways of unrolling give the same outputs and states."""
    cell = rnnlab.LSTMCell(3, 5, use_peepholes=True).double()
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    outs_static, s_static = rnnlab.static_rnn(cell, list(x.unbind(1)), sequence_length=lengths)
    outs_dyn, s_dyn = rnnlab.dynamic_rnn(cell, x, sequence_length=lengths)
    state, manual = cell.zero_state(4), []
    for t in range(2):
        out, new = cell(x[:, t], state)
        if lengths is not None:
            valid = (t < lengths)[:, None]
            out = out * valid
            new = tuple(torch.where(valid, n, o) for n, o in zip(new, state, strict=True))
        manual.append(out)
        state = new
    assert_close(torch.stack(outs_static, 1), outs_dyn, **TOL)
    assert_close(torch.stack(manual, 1), outs_dyn, **TOL)
    assert_close(s_static, s_dyn, **TOL)
    assert_close(state, s_dyn, **TOL)


def test_padded_step_is_zero_and_state_is_last_valid_output():
    cell = rnnlab.BasicRNNCell(3, 5).double()
    x = torch.tensor([[[0, 1, 2], [9, 8, 7]], [[3, 4, 5], [0, 0, 0]]], dtype=torch.float64)
    for backend in ("fused", "loop"):
        out, state = rnnlab.dynamic_rnn(cell, x, sequence_length=[2, 1], backend=backend)
        assert torch.all(out[1, 1] == 0)
        assert_close(state[1], out[1, 0], **TOL)
        assert_close(state[0], out[0, 1], **TOL)


@pytest.mark.parametrize("make", [
    lambda: rnnlab.OutputProjectionWrapper(rnnlab.BasicRNNCell(3, 6, "relu"), 2),
    lambda: rnnlab.OutputProjectionWrapper(
        rnnlab.MultiRNNCell([rnnlab.GRUCell(3, 4), rnnlab.GRUCell(4, 4)]), 1),
    lambda: rnnlab.ResidualWrapper(rnnlab.LSTMCell(3, 3)),
    lambda: rnnlab.DropoutWrapper(rnnlab.GRUCell(3, 4), output_keep_prob=0.5).eval(),
    lambda: rnnlab.OutputProjectionWrapper(rnnlab.MultiRNNCell([
        rnnlab.LSTMCell(3, 4, use_peepholes=True, cell_clip=0.5),
        rnnlab.LSTMCell(4, 4, use_peepholes=True, num_proj=2, proj_clip=0.3)]), 2),
])
def test_wrapped_cells_fused_equals_loop(make):
    cell = make().double()
    assert cell.fused_spec() is not None
    x = torch.randn(5, 4, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 0, 2, 3, 1])
    out_f, s_f = rnnlab.dynamic_rnn(cell, x, sequence_length=lengths, backend="auto")
    out_l, s_l = rnnlab.dynamic_rnn(cell, x, sequence_length=lengths, backend="loop")
    assert_close(out_f, out_l, **TOL)
    assert_close(s_f, s_l, **TOL)
    g_f = torch.autograd.grad(out_f.sum(), [x, *cell.parameters()])
    g_l = torch.autograd.grad(out_l.sum(), [x, *cell.parameters()])
    assert_close(g_f, g_l, **TOL)


@pytest.mark.parametrize("kind", ["lstm", "gru", "relu"])
def test_packed_strategy_used_on_cuda_is_exact(kind):
    """PyTorch's exact path for lengths (packed; cuDNN's on the GPU) against the loop."""
    module = _torch_module(kind, 3, 4, 2)
    cell = rnnlab.cells_from_torch(module)
    x = torch.randn(5, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 0, 3, 1, 5, 2])
    spec = cell.fused_spec()
    hx = fused.to_fused_hx(spec, cell.zero_state(6, torch.float64))
    out, final = fused.fused_packed(spec, x, hx, lengths, False)
    ref_out, ref_state = rnnlab.dynamic_rnn(cell, x, lengths, time_major=True, backend="loop")
    assert_close(out, ref_out, **TOL)
    assert_close(fused.from_fused_hx(spec, final), ref_state, **TOL)


def test_gradcheck_through_every_backend_with_lengths():
    for cell in (rnnlab.GRUCell(2, 2).double(), rnnlab.LSTMCell(2, 2).double()):
        x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
        for backend in ("fused", "kernel", "loop"):
            def f(x, backend=backend, cell=cell):
                out, _ = rnnlab.dynamic_rnn(cell, x, sequence_length=[4, 2, 0],
                                            backend=backend)
                return out
            assert torch.autograd.gradcheck(f, (x,))


def test_initial_state_is_used_and_kept_for_empty_sequences():
    cell = rnnlab.LSTMCell(2, 3).double()
    h0, c0 = (torch.randn(2, 3, dtype=torch.float64) for _ in range(2))
    x = torch.randn(2, 4, 2, dtype=torch.float64)
    for backend in ("fused", "loop"):
        _, (h, c) = rnnlab.dynamic_rnn(cell, x, [0, 4], (h0, c0), backend=backend)
        assert torch.equal(h[0], h0[0]) and torch.equal(c[0], c0[0])
        _, (h_ref, _) = rnnlab.dynamic_rnn(cell, x[1:], None, (h0[1:], c0[1:]), backend="loop")
        assert_close(h[1:], h_ref, **TOL)


@pytest.mark.parametrize("bad, error, pattern", [
    ([3, 5], ConfigError, r"sequence_length\[1\]=5 .*\[0, 4\]"),
    ([-1, 2], ConfigError, r"sequence_length\[0\]=-1"),
    ([1.5, 2.0], ConfigError, "integers"),
    ([1, 2, 3], ShapeError, r"\(2,\)"),
])
def test_bad_lengths_raise_value_errors_naming_the_value(bad, error, pattern):
    cell = rnnlab.GRUCell(3, 4)
    with pytest.raises(error, match=pattern) as info:
        rnnlab.dynamic_rnn(cell, torch.zeros(2, 4, 3), sequence_length=bad)
    assert isinstance(info.value, ValueError)
    with pytest.raises(error, match=pattern):
        rnnlab.static_rnn(cell, list(torch.zeros(4, 2, 3)), sequence_length=bad)


def test_bad_inputs_and_backends_are_refused():
    cell = rnnlab.LSTMCell(3, 4, use_peepholes=True)
    with pytest.raises(ShapeError, match=r"input_size=3 .* 5 features"):
        rnnlab.dynamic_rnn(cell, torch.zeros(2, 4, 5))
    with pytest.raises(ConfigError, match="backend='fused' cannot run LSTMCell"):
        rnnlab.dynamic_rnn(cell, torch.zeros(2, 4, 3), backend="fused")
    softsign = rnnlab.BasicRNNCell(3, 4, activation=torch.nn.functional.softsign)
    with pytest.raises(ConfigError, match="backend='kernel' runs tanh/relu"):
        rnnlab.dynamic_rnn(softsign, torch.zeros(2, 4, 3), backend="kernel")
    with pytest.raises(ConfigError, match="'cudnn'"):
        rnnlab.dynamic_rnn(cell, torch.zeros(2, 4, 3), backend="cudnn")
    with pytest.raises(ShapeError, match=r"initial_state\[1\] .* \(2, 4\)"):
        rnnlab.dynamic_rnn(cell, torch.zeros(2, 4, 3),
                           initial_state=(torch.zeros(2, 4), torch.zeros(3, 4)))


def test_cpu_weights_are_never_rebound_for_cudnn():
    cell = rnnlab.LSTMCell(3, 4)
    before = [p.untyped_storage().data_ptr() for p in cell.parameters()]
    rnnlab.dynamic_rnn(cell, torch.randn(2, 5, 3), backend="fused")
    assert [p.untyped_storage().data_ptr() for p in cell.parameters()] == before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_weights_become_one_buffer_and_still_match_torch():
    """On CUDA the fused path compacts the cells' weights once, as flatten_parameters does."""
    ref = torch.nn.GRU(3, 4, num_layers=2).cuda()
    stack = rnnlab.cells_from_torch(ref)
    x = torch.randn(6, 2, 3, device="cuda")
    out, _ = rnnlab.dynamic_rnn(stack, x, time_major=True)
    assert len({p.untyped_storage().data_ptr() for p in stack.parameters()}) == 1
    torch.testing.assert_close(out, ref(x)[0])
    out.sum().backward()
    assert all(p.grad is not None for p in stack.parameters())
