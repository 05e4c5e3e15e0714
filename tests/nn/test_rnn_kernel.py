"""The hand-written RNN/GRU layer kernel against the cells stepped in a loop, nn.RNN/nn.GRU
on packed sequences, and gradcheck."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.nn import lengths
from rnnlab.nn.cells import BasicRNNCell, GRUCell
from rnnlab.nn.rnn_kernel import MODES, rnn_sequence


def make_cell(mode: str, input_size: int, num_units: int):
    """A float64 cell with every parameter random (relu sees both signs)."""
    if mode == "gru":
        cell = GRUCell(input_size, num_units)
    else:
        cell = BasicRNNCell(input_size, num_units, activation=mode)
    cell = cell.double()
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-1.0, 1.0)
    return cell


def weights(cell) -> list:
    return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]


def reference(cell, x, h0, lengths):
    """Step the cell by hand: outputs zero past each length, state frozen there."""
    T, B = x.shape[:2]
    lengths = torch.full((B,), T) if lengths is None else lengths
    h, outputs = h0, []
    for t in range(T):
        out, h_new = cell(x[t], h)
        valid = (t < lengths)[:, None]  # (B, 1)
        outputs.append(torch.where(valid, out, torch.zeros_like(out)))
        h = torch.where(valid, h_new, h)
    return torch.stack(outputs), h


def random_inputs(cell, T: int, B: int):
    x = (1.5 * torch.randn(T, B, cell.input_size, dtype=torch.float64)).requires_grad_()
    h0 = torch.randn(B, cell.num_units, dtype=torch.float64, requires_grad=True)
    return x, h0


def grads(results, inputs, scales):
    loss = sum((r * w).sum() for r, w in zip(results, scales, strict=True))
    found = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(found, inputs, strict=True)]


def assert_close_all(got, want):
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)


def assert_matches_reference(mode, cell, T, B, lengths):
    x, h0 = random_inputs(cell, T, B)
    got = rnn_sequence(x, h0, lengths, *weights(cell), mode)
    want = reference(cell, x, h0, lengths)
    assert_close_all(got, want)
    inputs = [x, h0, *weights(cell)]
    scales = [torch.randn_like(w) for w in want]
    assert_close_all(grads(got, inputs, scales), grads(want, inputs, scales))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lengths", [None, [6, 0, 3, 6, 1, 3]], ids=["full", "ragged"])
def test_forward_and_gradients_match_the_cell_loop(mode, lengths):
    cell = make_cell(mode, 4, 5)
    lengths = None if lengths is None else torch.tensor(lengths)
    assert_matches_reference(mode, cell, T=6, B=6, lengths=lengths)


@pytest.mark.parametrize("chunk_rows", [1, 9])
@pytest.mark.parametrize("mode", MODES)
def test_backward_in_chunks_of_steps(monkeypatch, chunk_rows, mode):
    # Small chunks (one step each, or a few ragged steps) must give the same gradients.
    monkeypatch.setattr(lengths, "CHUNK_ROWS", chunk_rows)
    cell = make_cell(mode, 4, 5)
    assert_matches_reference(mode, cell, T=7, B=5, lengths=torch.tensor([7, 0, 3, 7, 1]))
    assert_matches_reference(mode, cell, T=7, B=5, lengths=None)


def test_relu_cuts_gradients():
    # Without this the relu checks could pass with relu never at zero.
    cell = make_cell("relu", 4, 5)
    x, h0 = random_inputs(cell, 6, 6)
    with torch.no_grad():
        out, _ = rnn_sequence(x, h0, None, *weights(cell), "relu")
    assert (out == 0).any() and (out > 0).any()


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(mode):
    cell = make_cell(mode, 3, 4)
    x, h0 = random_inputs(cell, 4, 4)
    lengths = torch.tensor([4, 0, 2, 1])

    def fn(x, h0, *w):
        return rnn_sequence(x, h0, lengths, *w, mode)

    assert torch.autograd.gradcheck(fn, (x, h0, *weights(cell)))


TORCH_RNNS = {
    "tanh": lambda F, H, L: nn.RNN(F, H, num_layers=L, nonlinearity="tanh"),
    "relu": lambda F, H, L: nn.RNN(F, H, num_layers=L, nonlinearity="relu"),
    "gru": lambda F, H, L: nn.GRU(F, H, num_layers=L),
}


def load_layer(cell, module, layer: int) -> None:
    cell.load_state_dict({k.removesuffix(f"_l{layer}"): v
                          for k, v in module.state_dict().items() if k.endswith(f"_l{layer}")})


@pytest.mark.parametrize("mode", MODES)
def test_matches_torch_on_packed_sequences(mode):
    T, B, F, H = 7, 5, 3, 4
    module = TORCH_RNNS[mode](F, H, 1).double()
    cell = make_cell(mode, F, H)
    load_layer(cell, module, 0)
    x, h0 = random_inputs(cell, T, B)
    lengths = torch.tensor([7, 1, 4, 7, 2])  # pack_padded_sequence rejects length 0

    got = rnn_sequence(x, h0, lengths, *weights(cell), mode)
    out, h_n = module(pack_padded_sequence(x, lengths, enforce_sorted=False), h0[None])
    out, _ = pad_packed_sequence(out, total_length=T)
    want = (out, h_n[0])
    assert_close_all(got, want)
    scales = [torch.randn_like(w) for w in want]
    got_grads = grads(got, [x, h0, *cell.parameters()], scales)
    want_grads = grads(want, [x, h0, *module.parameters()], scales)
    assert_close_all(got_grads, want_grads)


@pytest.mark.parametrize("mode", MODES)
def test_two_layer_stack_matches_torch(mode):
    T, B, F, H = 6, 4, 3, 5
    module = TORCH_RNNS[mode](F, H, 2).double()
    cells = [make_cell(mode, F, H), make_cell(mode, H, H)]
    for layer, cell in enumerate(cells):
        load_layer(cell, module, layer)
    x = torch.randn(T, B, F, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([6, 2, 5, 1])
    y, states = x, []
    for cell in cells:
        y, h = rnn_sequence(y, x.new_zeros(B, H), lengths, *weights(cell), mode)
        states.append(h)
    out, h_n = module(pack_padded_sequence(x, lengths, enforce_sorted=False))
    out, _ = pad_packed_sequence(out, total_length=T)
    assert_close_all((y, torch.stack(states)), (out, h_n))
    (gx,) = torch.autograd.grad((y * y).sum() + states[1].sum(), x)
    (wx,) = torch.autograd.grad((out * out).sum() + h_n[1].sum(), x)
    torch.testing.assert_close(gx, wx, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_only_final_state_used_and_backward_twice(mode):
    cell = make_cell(mode, 3, 4)
    x, h0 = random_inputs(cell, 5, 3)
    lengths = torch.tensor([5, 2, 0])
    _, h = rnn_sequence(x, h0, lengths, *weights(cell), mode)
    _, want_h = reference(cell, x, h0, lengths)
    inputs = [x, h0, *cell.parameters()]
    want = torch.autograd.grad(want_h.sum(), inputs)
    first = torch.autograd.grad(h.sum(), inputs, retain_graph=True)
    second = torch.autograd.grad(h.sum(), inputs)  # saved buffers were not overwritten
    assert_close_all(first, want)
    assert_close_all(second, want)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("lengths", [None, [5, 2, 0, 4]], ids=["full", "ragged"])
def test_broadcast_output_gradient(mode, lengths):
    # out.sum() hands backward an expanded (non-contiguous) gradient: the per-step path.
    cell = make_cell(mode, 3, 4)
    x, h0 = random_inputs(cell, 5, 4)
    lengths = None if lengths is None else torch.tensor(lengths)
    inputs = [x, h0, *cell.parameters()]
    out, h = rnn_sequence(x, h0, lengths, *weights(cell), mode)
    want_out, want_h = reference(cell, x, h0, lengths)
    got = torch.autograd.grad(out.sum() + h.sum(), inputs)
    assert_close_all(got, torch.autograd.grad(want_out.sum() + want_h.sum(), inputs))


@pytest.mark.parametrize("mode", MODES)
def test_no_grad_inputs_and_float32(mode):
    cell = make_cell(mode, 3, 4)
    x, h0 = random_inputs(cell, 5, 3)
    lengths = torch.tensor([3, 5, 1])
    want = reference(cell, x, h0, lengths)
    cell32 = cell.float()
    got = rnn_sequence(x.detach().float(), h0.detach().float(), lengths, *weights(cell32), mode)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        torch.testing.assert_close(g.double(), w, atol=1e-5, rtol=1e-5)
    got[0].sum().backward()  # only the weights need a gradient here
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in cell32.parameters())


def test_batch_first_views_and_broadcast_state():
    # dynamic_rnn hands over x.transpose(0, 1) of a (B, T, F) batch and may expand states.
    cell = make_cell("gru", 3, 4)
    x_bt = torch.randn(3, 5, 3, dtype=torch.float64, requires_grad=True)  # (B, T, F)
    h0 = torch.randn(1, 4, dtype=torch.float64).expand(3, 4)
    lengths = torch.tensor([5, 2, 4])
    got = rnn_sequence(x_bt.transpose(0, 1), h0, lengths, *weights(cell), "gru")
    want = reference(cell, x_bt.transpose(0, 1), h0, lengths)
    assert_close_all(got, want)
    (g,) = torch.autograd.grad(got[0].sum(), x_bt)
    (w,) = torch.autograd.grad(want[0].sum(), x_bt)
    torch.testing.assert_close(g, w, atol=1e-10, rtol=1e-10)


def test_bad_arguments_raise():
    cell = make_cell("gru", 3, 4)
    x, h0 = random_inputs(cell, 2, 3)
    with pytest.raises(ShapeError, match=r"h0 \(3, 4\)"):
        rnn_sequence(x, h0[:2], None, *weights(cell), "gru")
    with pytest.raises(ShapeError, match=r"x of shape \(T, B, F\); got \(3, 3\)"):
        rnn_sequence(x[0], h0, None, *weights(cell), "gru")
    with pytest.raises(ShapeError, match=r"weight_ih \(4, 3\)"):
        rnn_sequence(x, h0, None, *weights(cell), "tanh")
    with pytest.raises(ConfigError, match="mode='lstm'"):
        rnn_sequence(x, h0, None, *weights(cell), "lstm")


@pytest.mark.parametrize("mode", MODES)
def test_all_lengths_zero_give_the_initial_state(mode):
    cell = make_cell(mode, 3, 4)
    x, h0 = random_inputs(cell, 3, 2)
    out, h = rnn_sequence(x, h0, torch.tensor([0, 0]), *weights(cell), mode)
    assert out.shape == (3, 2, 4) and not out.any()
    torch.testing.assert_close(h, h0)


@settings(max_examples=10)
@given(
    T=st.integers(1, 5),
    B=st.integers(1, 5),
    mode=st.sampled_from(MODES),
    data=st.data(),
)
def test_random_shapes_and_lengths(T, B, mode, data):
    torch.manual_seed(T * 31 + B)
    lengths = data.draw(st.none() | st.lists(st.integers(0, T), min_size=B, max_size=B))
    cell = make_cell(mode, data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    lengths = None if lengths is None else torch.tensor(lengths, dtype=torch.int64)
    assert_matches_reference(mode, cell, T, B, lengths)
