"""The hand-written LSTM layer kernel against LSTMCell stepped in a loop, nn.LSTM and gradcheck."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.errors import ShapeError
from rnnlab.nn import lengths
from rnnlab.nn.cells import LSTMCell
from rnnlab.nn.lstm_kernel import lstm_sequence

VARIANTS = {
    "plain": {},
    "peepholes": {"use_peepholes": True},
    "cell_clip": {"cell_clip": 0.4},
    "proj": {"num_proj": 3},
    "proj_clip": {"num_proj": 3, "proj_clip": 0.3},
    "peep_clip": {"use_peepholes": True, "cell_clip": 0.4},
    "all": {"use_peepholes": True, "cell_clip": 0.4, "num_proj": 3, "proj_clip": 0.3},
}


def make_cell(input_size: int, num_units: int, **kwargs) -> LSTMCell:
    """A float64 cell with every parameter random and large enough to make clips bite."""
    cell = LSTMCell(input_size, num_units, **kwargs).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-1.0, 1.0)
    return cell


def kernel_args(cell: LSTMCell) -> dict:
    return {
        "weight_ih": cell.weight_ih, "weight_hh": cell.weight_hh,
        "bias_ih": cell.bias_ih, "bias_hh": cell.bias_hh,
        "weight_hr": getattr(cell, "weight_hr", None),
        "weight_ci": getattr(cell, "weight_ci", None),
        "weight_cf": getattr(cell, "weight_cf", None),
        "weight_co": getattr(cell, "weight_co", None),
        "cell_clip": cell.cell_clip, "proj_clip": cell.proj_clip,
    }


def reference(cell: LSTMCell, x, h0, c0, lengths):
    """Step the cell by hand: outputs zero past each length, state frozen there."""
    T, B = x.shape[:2]
    lengths = torch.full((B,), T) if lengths is None else lengths
    h, c, outputs = h0, c0, []
    for t in range(T):
        out, (h_new, c_new) = cell(x[t], (h, c))
        valid = (t < lengths)[:, None]  # (B, 1)
        outputs.append(torch.where(valid, out, torch.zeros_like(out)))
        h = torch.where(valid, h_new, h)
        c = torch.where(valid, c_new, c)
    return torch.stack(outputs), h, c


def random_inputs(cell: LSTMCell, T: int, B: int, scale: float = 1.5):
    x = (scale * torch.randn(T, B, cell.input_size, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(B, cell.output_size, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(B, cell.num_units, dtype=torch.float64, requires_grad=True)
    return x, h0, c0


def grads(results, inputs, weights):
    loss = sum((r * w).sum() for r, w in zip(results, weights, strict=True))
    found = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(found, inputs, strict=True)]


def assert_matches_reference(cell, T, B, lengths):
    x, h0, c0 = random_inputs(cell, T, B)
    got = lstm_sequence(x, h0, c0, lengths, **kernel_args(cell))
    want = reference(cell, x, h0, c0, lengths)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)
    inputs = [x, h0, c0, *cell.parameters()]
    weights = [torch.randn_like(w) for w in want]
    for g, w in zip(grads(got, inputs, weights), grads(want, inputs, weights), strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("lengths", [None, [6, 0, 3, 6, 1, 3]], ids=["full", "ragged"])
def test_forward_and_gradients_match_the_cell_loop(variant, lengths):
    cell = make_cell(4, 5, **VARIANTS[variant])
    lengths = None if lengths is None else torch.tensor(lengths)
    assert_matches_reference(cell, T=6, B=6, lengths=lengths)


@pytest.mark.parametrize("chunk_rows", [1, 9])
@pytest.mark.parametrize("variant", ["plain", "all"])
def test_backward_in_chunks_of_steps(monkeypatch, chunk_rows, variant):
    # The backward pass walks the steps in chunks of about CHUNK_ROWS rows; small chunks
    # (one step each, or a few steps with ragged blocks) must give the same gradients.
    monkeypatch.setattr(lengths, "CHUNK_ROWS", chunk_rows)
    cell = make_cell(4, 5, **VARIANTS[variant])
    assert_matches_reference(cell, T=7, B=5, lengths=torch.tensor([7, 0, 3, 7, 1]))
    assert_matches_reference(cell, T=7, B=5, lengths=None)


def test_clips_do_bite():
    # Without this the clip variants above would pass while never clipping anything.
    cell = make_cell(4, 5, **VARIANTS["all"])
    x, h0, c0 = random_inputs(cell, 6, 6)
    with torch.no_grad():
        out, _, c = lstm_sequence(x, h0, c0, None, **kernel_args(cell))
    assert (out.abs() == 0.3).any() and (out.abs() < 0.3).any()
    assert (c.abs() == 0.4).any() and (c.abs() < 0.4).any()


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck(variant):
    cell = make_cell(3, 4, **VARIANTS[variant])
    x, h0, c0 = random_inputs(cell, 4, 4)
    lengths = torch.tensor([4, 0, 2, 1])
    args = kernel_args(cell)
    names = [n for n, v in args.items() if isinstance(v, torch.Tensor)]

    def fn(x, h0, c0, *weights):
        given = dict(zip(names, weights, strict=True))
        return lstm_sequence(x, h0, c0, lengths, **{**args, **given})

    assert torch.autograd.gradcheck(fn, (x, h0, c0, *[args[n] for n in names]))


@pytest.mark.parametrize("proj_size", [0, 2])
def test_matches_nn_lstm_on_packed_sequences(proj_size):
    T, B, F, H = 7, 5, 3, 4
    lstm = nn.LSTM(F, H, proj_size=proj_size).double()
    cell = make_cell(F, H, num_proj=proj_size or None)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    x, h0, c0 = random_inputs(cell, T, B)
    lengths = torch.tensor([7, 1, 4, 7, 2])  # pack_padded_sequence rejects length 0

    got = lstm_sequence(x, h0, c0, lengths, **kernel_args(cell))
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed, (h0[None], c0[None]))
    out, _ = pad_packed_sequence(out, total_length=T)
    want = (out, h_n[0], c_n[0])
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)
    weights = [torch.randn_like(w) for w in want]
    got_grads = grads(got, [x, h0, c0, *cell.parameters()], weights)
    want_grads = grads(want, [x, h0, c0, *lstm.parameters()], weights)
    for g, w in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)


def test_two_layer_stack_matches_nn_lstm():
    T, B, F, H = 6, 4, 3, 5
    lstm = nn.LSTM(F, H, num_layers=2).double()
    cells = [make_cell(F, H), make_cell(H, H)]
    for layer, cell in enumerate(cells):
        cell.load_state_dict({k.removesuffix(f"_l{layer}"): v
                              for k, v in lstm.state_dict().items() if k.endswith(f"_l{layer}")})
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 5, 1])
    zeros = x.new_zeros(B, H)
    y, states = x, []
    for cell in cells:
        y, h, c = lstm_sequence(y, zeros, zeros, lengths, **kernel_args(cell))
        states.append((h, c))
    out, (h_n, c_n) = lstm(pack_padded_sequence(x, lengths, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, total_length=T)
    torch.testing.assert_close(y, out, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(torch.stack([h for h, _ in states]), h_n, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(torch.stack([c for _, c in states]), c_n, atol=1e-10, rtol=1e-10)
    (gx,) = torch.autograd.grad((y * y).sum() + states[1][1].sum(), x)
    (wx,) = torch.autograd.grad((out * out).sum() + c_n[1].sum(), x)
    torch.testing.assert_close(gx, wx, atol=1e-10, rtol=1e-10)


def test_only_final_state_used_and_backward_twice():
    cell = make_cell(3, 4, **VARIANTS["all"])
    x, h0, c0 = random_inputs(cell, 5, 3)
    lengths = torch.tensor([5, 2, 0])
    _, h, _ = lstm_sequence(x, h0, c0, lengths, **kernel_args(cell))
    _, want_h, _ = reference(cell, x, h0, c0, lengths)
    inputs = [x, h0, c0, *cell.parameters()]
    want = torch.autograd.grad(want_h.sum(), inputs)
    first = torch.autograd.grad(h.sum(), inputs, retain_graph=True)
    second = torch.autograd.grad(h.sum(), inputs)  # saved buffers were not overwritten
    for g1, g2, w in zip(first, second, want, strict=True):
        torch.testing.assert_close(g1, w, atol=1e-10, rtol=1e-10)
        torch.testing.assert_close(g2, w, atol=1e-10, rtol=1e-10)


def test_no_grad_inputs_and_float32():
    cell = make_cell(3, 4, use_peepholes=True, cell_clip=0.4)
    x, h0, c0 = random_inputs(cell, 5, 3)
    lengths = torch.tensor([3, 5, 1])
    want = reference(cell, x, h0, c0, lengths)
    cell32 = cell.float()
    x32, h32, c32 = x.detach().float(), h0.detach().float(), c0.detach().float()
    got = lstm_sequence(x32, h32, c32, lengths, **kernel_args(cell32))
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), w, atol=1e-5, rtol=1e-5)
    got[0].sum().backward()  # only the weights need a gradient here
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in cell32.parameters())


def test_batch_first_views_and_broadcast_state():
    # dynamic_rnn hands over x.transpose(0, 1) of a (B, T, F) batch and may expand states.
    cell = make_cell(3, 4, use_peepholes=True)
    x_bt = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)  # (B, T, F)
    h0 = torch.randn(1, 4, dtype=torch.float64).expand(3, 4)
    c0 = torch.zeros(3, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    got = lstm_sequence(x_bt.transpose(0, 1), h0, c0, lengths, **kernel_args(cell))
    want = reference(cell, x_bt.transpose(0, 1), h0, c0, lengths)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)
    (g,) = torch.autograd.grad(got[0].sum(), x_bt)
    (w,) = torch.autograd.grad(want[0].sum(), x_bt)
    torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)


def test_bad_shapes_raise_shape_error():
    cell = make_cell(3, 4)
    x, h0, c0 = random_inputs(cell, 2, 3)
    with pytest.raises(ShapeError, match=r"h0 \(3, 4\)"):
        lstm_sequence(x, h0[:2], c0, None, **kernel_args(cell))
    with pytest.raises(ShapeError, match=r"x of shape \(T, B, F\); got \(3, 3\)"):
        lstm_sequence(x[0], h0, c0, None, **kernel_args(cell))


def test_all_lengths_zero_give_the_initial_state():
    cell = make_cell(3, 4)
    x, h0, c0 = random_inputs(cell, 3, 2)
    out, h, c = lstm_sequence(x, h0, c0, torch.tensor([0, 0]), **kernel_args(cell))
    assert out.shape == (3, 2, 4) and not out.any()
    torch.testing.assert_close(h, h0)
    torch.testing.assert_close(c, c0)


@settings(max_examples=8)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 5),
    variant=st.sampled_from(sorted(VARIANTS)),
    data=st.data(),
)
def test_random_shapes_and_lengths(T, B, variant, data):
    torch.manual_seed(T * 31 + B)
    lengths = data.draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B))
    cell = make_cell(data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)),
                     **VARIANTS[variant])
    lengths = None if lengths is None else torch.tensor(lengths, dtype=torch.int64)
    assert_matches_reference(cell, T, B, lengths)
