"""Cells against PyTorch's own cells (copied weights, float64) and written-out equations."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import rnnlab
from rnnlab.errors import ConfigError, ShapeError

TOL = {"atol": 1e-10, "rtol": 1e-10}


def _pair(kind: str, F: int = 3, H: int = 5):
    """An rnnlab cell and the PyTorch cell it must equal, same weights, float64."""
    if kind in ("tanh", "relu"):
        ref = nn.RNNCell(F, H, nonlinearity=kind)
        cell = rnnlab.BasicRNNCell(F, H, activation=kind)
    elif kind == "lstm":
        ref, cell = nn.LSTMCell(F, H), rnnlab.LSTMCell(F, H)
    else:
        ref, cell = nn.GRUCell(F, H), rnnlab.GRUCell(F, H)
    cell.load_state_dict(ref.state_dict())
    return cell.double(), ref.double()


@pytest.mark.parametrize("kind", ["tanh", "relu", "lstm", "gru"])
def test_cell_matches_pytorch_cell_values_and_gradients(kind):
    cell, ref = _pair(kind)
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    state = cell.zero_state(4)
    state = tuple(torch.randn_like(s) for s in state) if isinstance(state, tuple) else \
        torch.randn_like(state)
    out, new_state = cell(x, state)
    ref_state = ref(x, state)
    expected_out = ref_state[0] if kind == "lstm" else ref_state
    assert_close(out, expected_out, **TOL)
    if kind == "lstm":
        assert_close(new_state[1], ref_state[1], **TOL)
    # Gradients reach the cell's own parameters and equal PyTorch's.
    (out.sum() + (new_state[1].sum() if kind == "lstm" else 0)).backward()
    ref_loss = ref_state[0].sum() + ref_state[1].sum() if kind == "lstm" else ref_state.sum()
    grads = torch.autograd.grad(ref_loss, list(ref.parameters()))
    for (name, p), g in zip(cell.named_parameters(), grads, strict=True):
        assert p.grad is not None, name
        assert_close(p.grad, g, **TOL)


def test_lstm_projection_matches_nn_lstm_proj_size():
    ref = nn.LSTM(3, 6, proj_size=2).double()
    cell = rnnlab.LSTMCell(3, 6, num_proj=2).double()
    cell.load_state_dict({k[:-3]: v for k, v in ref.state_dict().items()})
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    ref_out, (_h, c) = ref(x)
    out, (_h1, c1) = cell(x[0])
    assert_close(out, ref_out[0], **TOL)
    assert_close(c1, c[0], **TOL)
    assert cell.state_size == (2, 6) and cell.output_size == 2


def _lstm_reference(cell: rnnlab.LSTMCell, x, h, c):
    """The LSTM equations written out, peepholes and clipping included (TF1 semantics)."""
    W_ih, W_hh, b = cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh
    z = x @ W_ih.T + h @ W_hh.T + b
    H = cell.num_units
    zi, zf, zg, zo = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    if cell.use_peepholes:
        zi, zf = zi + cell.weight_ci * c, zf + cell.weight_cf * c
    c_new = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    if cell.cell_clip:
        c_new = torch.clamp(c_new, -cell.cell_clip, cell.cell_clip)
    if cell.use_peepholes:
        zo = zo + cell.weight_co * c_new
    h_new = torch.sigmoid(zo) * torch.tanh(c_new)
    if cell.num_proj:
        h_new = h_new @ cell.weight_hr.T
        if cell.proj_clip:
            h_new = torch.clamp(h_new, -cell.proj_clip, cell.proj_clip)
    return h_new, c_new


LSTM_VARIANTS = [
    {"use_peepholes": True},
    {"cell_clip": 0.3},
    {"num_proj": 2, "proj_clip": 0.1},
    {"use_peepholes": True, "cell_clip": 0.5, "num_proj": 3, "proj_clip": 0.4},
]


@pytest.mark.parametrize("kwargs", LSTM_VARIANTS)
def test_lstm_variants_match_written_out_equations(kwargs):
    cell = rnnlab.LSTMCell(3, 5, **kwargs).double()
    with torch.no_grad():
        for p in cell.parameters():
            p.normal_()  # large weights, so the clips actually bite
    x = torch.randn(4, 3, dtype=torch.float64)
    h, c = (torch.randn(4, s, dtype=torch.float64) for s in cell.state_size)
    out, (_h1, c1) = cell(x, (h, c))
    h_ref, c_ref = _lstm_reference(cell, x, h, c)
    assert_close(out, h_ref, **TOL)
    assert_close(c1, c_ref, **TOL)
    if "cell_clip" in kwargs:
        assert c1.abs().max() <= kwargs["cell_clip"]


@pytest.mark.parametrize("make", [
    lambda: rnnlab.BasicRNNCell(2, 3),
    lambda: rnnlab.BasicRNNCell(2, 3, activation="relu"),
    lambda: rnnlab.BasicRNNCell(2, 3, activation=torch.nn.functional.softsign),
    lambda: rnnlab.GRUCell(2, 3),
    lambda: rnnlab.LSTMCell(2, 3),
    *[lambda kw=kw: rnnlab.LSTMCell(2, 3, **kw) for kw in LSTM_VARIANTS],
])
def test_gradcheck_every_cell(make):
    cell = make().double()
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    state = cell.zero_state(2)
    flat = list(state) if isinstance(state, tuple) else [state]
    flat = [torch.randn_like(s).requires_grad_() for s in flat]
    params = list(cell.parameters())

    def f(x, *args):
        states, weights = args[: len(flat)], args[len(flat):]
        st = tuple(states) if len(flat) > 1 else states[0]
        out, new = torch.func.functional_call(
            cell, dict(zip([n for n, _ in cell.named_parameters()], weights, strict=True)),
            (x, st))
        return (out, *(new if isinstance(new, tuple) else (new,)))

    assert torch.autograd.gradcheck(f, (x, *flat, *[p.detach().requires_grad_() for p in params]))


def test_forget_bias_initialises_bias_ih_slice_only():
    cell = rnnlab.LSTMCell(3, 4, forget_bias=2.5)
    assert torch.all(cell.bias_ih[4:8] == 2.5)
    assert torch.all(cell.bias_hh[4:8] == 0.0)
    # the other slices keep PyTorch's uniform start
    assert cell.bias_ih[:4].abs().max() <= 0.5


def test_init_keras_orthogonal_recurrent_and_zero_bias():
    cell = rnnlab.init_keras_(rnnlab.GRUCell(6, 4))
    w = cell.weight_hh.T  # Keras' (units, 3 * units) kernel
    assert_close(w @ w.T, torch.eye(4), atol=1e-5, rtol=0)
    assert torch.all(cell.bias_ih == 0) and torch.all(cell.bias_hh == 0)
    lstm = rnnlab.init_keras_(rnnlab.LSTMCell(3, 4))
    assert torch.all(lstm.bias_ih[4:8] == 1.0) and torch.all(lstm.bias_ih[:4] == 0)


def test_zero_state_structure():
    assert rnnlab.GRUCell(3, 4).zero_state(2).shape == (2, 4)
    h, c = rnnlab.LSTMCell(3, 4, num_proj=2).zero_state(5, dtype=torch.float64)
    assert h.shape == (5, 2) and c.shape == (5, 4) and h.dtype == torch.float64


def test_bad_arguments_raise_errors_quoting_the_value():
    with pytest.raises(ConfigError, match=r"'sigmoidz'.*'tanh', 'relu'"):
        rnnlab.BasicRNNCell(3, 4, activation="sigmoidz")
    with pytest.raises(ValueError, match="num_units=0"):
        rnnlab.GRUCell(3, 0)
    with pytest.raises(ConfigError, match="proj_clip"):
        rnnlab.LSTMCell(3, 4, proj_clip=1.0)
    with pytest.raises(ShapeError, match=r"\(batch, 3\).*\(2, 4\)"):
        rnnlab.GRUCell(3, 4)(torch.zeros(2, 4))
