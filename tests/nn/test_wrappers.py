"""Wrappers: stacking, projection, residual and dropout (TF1 semantics)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

import rnnlab
from rnnlab.errors import ConfigError


def _identity_rnn(size: int) -> rnnlab.BasicRNNCell:
    """A cell whose output is its input: h' = x. Dropout masks show through it unchanged."""
    cell = rnnlab.BasicRNNCell(size, size, activation=lambda z: z)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.eye(size))
        cell.weight_hh.zero_(), cell.bias_ih.zero_(), cell.bias_hh.zero_()
    return cell


def test_multi_rnn_cell_stacks_layers_and_checks_sizes():
    a, b = rnnlab.GRUCell(3, 4), rnnlab.GRUCell(4, 2)
    stack = rnnlab.MultiRNNCell([a, b])
    x = torch.randn(5, 3)
    out, (s1, _s2) = stack(x)
    h1, _ = a(x)
    h2, _ = b(h1)
    assert_close(out, h2)
    assert_close(s1, h1)
    assert stack.state_size == (4, 2) and stack.output_size == 2
    with pytest.raises(ConfigError, match=r"input_size=5 .* output_size=4"):
        rnnlab.MultiRNNCell([a, rnnlab.GRUCell(5, 4)])
    # A stack of different kinds is valid, but only loops.
    mixed = rnnlab.MultiRNNCell([rnnlab.GRUCell(3, 4), rnnlab.LSTMCell(4, 4)])
    assert mixed.fused_spec() is None


def test_output_projection_wrapper_equals_dense_over_stacked_outputs():
    """The notebook's two ways to get one value per step compute the same function."""
    inner = rnnlab.BasicRNNCell(1, 8, activation="relu").double()
    wrapped = rnnlab.OutputProjectionWrapper(inner, 1).double()
    x = torch.randn(4, 20, 1, dtype=torch.float64)
    out, _ = rnnlab.dynamic_rnn(wrapped, x, backend="loop")
    rnn_out, _ = rnnlab.dynamic_rnn(inner, x)
    dense = wrapped.projection(rnn_out.reshape(-1, 8)).reshape(4, 20, 1)  # (B*T, H) -> (B, T, 1)
    assert_close(out, dense, atol=1e-12, rtol=0)


def test_residual_wrapper_adds_input():
    inner = rnnlab.GRUCell(3, 3)
    x = torch.randn(2, 3)
    out, state = rnnlab.ResidualWrapper(inner)(x)
    ref, ref_state = inner(x)
    assert_close(out, x + ref)
    assert_close(state, ref_state)
    with pytest.raises(ConfigError, match="input_size == output_size"):
        rnnlab.ResidualWrapper(rnnlab.GRUCell(3, 4))


def test_dropout_keep_one_or_eval_is_identity():
    inner = rnnlab.LSTMCell(3, 4)
    x = torch.randn(5, 6, 3)
    ref, _ = rnnlab.dynamic_rnn(inner, x)
    full = rnnlab.DropoutWrapper(inner)
    assert_close(rnnlab.dynamic_rnn(full, x)[0], ref)
    dropped = rnnlab.DropoutWrapper(inner, 0.5, 0.5, 0.5).eval()
    assert_close(rnnlab.dynamic_rnn(dropped, x)[0], ref)


@pytest.mark.parametrize("variational", [False, True])
def test_input_dropout_masks_scaling_and_variational_reuse(variational):
    cell = rnnlab.DropoutWrapper(_identity_rnn(64), input_keep_prob=0.25,
                                 variational_recurrent=variational)
    x = torch.ones(8, 10, 64)
    out, _ = rnnlab.dynamic_rnn(cell, x, backend="loop")
    values = set(out.unique().tolist())
    assert values <= {0.0, 4.0}  # kept units are scaled by 1 / keep_prob
    kept = (out > 0).float().mean().item()
    assert 0.15 < kept < 0.35
    same_over_time = bool(torch.all(out == out[:, :1]))
    assert same_over_time == variational
    # A new call is a new sequence: new masks.
    out2, _ = rnnlab.dynamic_rnn(cell, x, backend="loop")
    assert not torch.equal(out, out2)


def test_state_dropout_leaves_lstm_memory_alone():
    inner = rnnlab.LSTMCell(3, 16)
    cell = rnnlab.DropoutWrapper(inner, state_keep_prob=0.5)
    x = torch.randn(4, 3)
    state = inner.zero_state(4)
    out, (h, c) = cell(x, state)
    ref_out, (ref_h, ref_c) = inner(x, state)
    assert torch.equal(c, ref_c)  # memory untouched
    assert torch.equal(out, ref_out)  # output dropout off
    assert torch.all((h == 0) | torch.isclose(h, 2 * ref_h))
    assert (h == 0).any()


def test_cells_from_torch_bias_false_and_dropout():
    lstm = nn.LSTM(3, 4, num_layers=2, bias=False, dropout=0.3)
    stack = rnnlab.cells_from_torch(lstm)
    assert isinstance(stack.cells[0], rnnlab.DropoutWrapper)
    assert stack.cells[0].output_keep_prob == pytest.approx(0.7)
    assert torch.all(stack.cells[1].bias_ih == 0)
    lstm.eval(), stack.eval()
    x = torch.randn(5, 2, 3)
    assert_close(rnnlab.dynamic_rnn(stack, x, time_major=True)[0], lstm(x)[0])
    with pytest.raises(ConfigError, match="Linear"):
        rnnlab.cells_from_torch(nn.Linear(2, 2))
