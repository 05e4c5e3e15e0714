"""The traceable recurrence: ``scan_rnn``, the unroller that exporters can follow.

``dynamic_rnn``'s backends are made for training speed: rnnlab's kernels sort the batch by
length and stop at each sequence's end, PyTorch's fused kernels take packed sequences, and
the loop runs ``int(lengths.max())`` steps. Each of these reads the lengths as Python
numbers, so a tracer (``torch.export``, the ONNX exporter, ``torch.compile`` without graph
breaks) would freeze them, and the time length T with them. ``scan_rnn`` computes the same
function (TF1's contract) with only tensor operations over a symbolic T: one ``scan`` (the
higher-order operator behind ``torch.export``'s loops; an ONNX ``Scan``/``Loop``) over the
steps, every step masked::

    valid (T, B)    t=0 1 2 3          at each step t, for every sequence b:
    seq a  len 4      1 1 1 1            state_b = new state  if valid[t, b] else old state
    seq b  len 2      1 1 . .            output_b = new output if valid[t, b] else 0
    seq c  len 0      . . . .          so length 0 keeps the initial state, outputs all 0

Every step computes all B sequences (no per-length savings), which is what a graph with
dynamic B and T can express. For the plain cells (tanh/relu ``BasicRNNCell``, ``GRUCell``,
``LSTMCell`` with peepholes, clipping and projection) the input projection ``W_ih x + b_ih``
of all steps is one matrix product before the scan, as in the kernels; a ``MultiRNNCell`` is
run layer by layer (the same function: layer l at step t reads layer l-1 at step t), the
wrappers' per-step maps are applied to all steps at once, and any other cell is stepped as
it is. This module is the export path only; ``dynamic_rnn`` (training) never calls it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor
from torch._higher_order_ops.scan import scan
from torch.utils._pytree import tree_map

from rnnlab.nn.cells import ACTIVATIONS, BasicRNNCell, GRUCell, LSTMCell, RNNCellBase
from rnnlab.nn.unroll import reverse_sequence
from rnnlab.nn.wrappers import (
    DropoutWrapper,
    MultiRNNCell,
    OutputProjectionWrapper,
    ResidualWrapper,
)

__all__ = ["bidirectional_scan_rnn", "scan_rnn", "step_mask"]

# Running a scan eagerly compiles its body, and the compiler's first import of
# torch.utils.mkldnn warns (torch.jit.script_method is deprecated) in the user's
# output; importing it here, with that warning silenced, keeps every later call quiet.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import torch.utils.mkldnn



def step_mask(lengths: Tensor | None, batch_size, max_time, device=None) -> Tensor:
    """(T, B, 1) bool: step t of sequence b is within its length (all True without lengths).

    Args:
        lengths: (B,) int64 lengths in [0, T], or None.
        batch_size, max_time: B and T (ints or symbolic sizes).
        device: where the mask lives.

    Returns:
        (T, B, 1) bool.
    """
    t = torch.arange(max_time, device=device)[:, None]  # (T, 1)
    if lengths is None:
        return (t >= 0).expand(max_time, batch_size)[..., None]
    return (t < lengths.to(device)[None, :])[..., None]


def scan_rnn(cell: RNNCellBase, inputs: Tensor, sequence_length: Tensor | None = None,
             initial_state=None):
    """Unroll ``cell`` over (B, T, F) with only traceable tensor operations (export path).

    Same function and contract as :func:`rnnlab.nn.unroll.dynamic_rnn` (batch-major): zero
    outputs past each length, each final state from its last valid step, length 0 allowed.
    The lengths are not checked (a traced graph cannot raise): give integers in [0, T].

    Args:
        cell: any rnnlab cell (in eval mode for a ``DropoutWrapper`` to be the identity).
        inputs: (B, T, input_size); B and T may be symbolic.
        sequence_length: (B,) int64 lengths in [0, T], or None for all T.
        initial_state: the cell's state for B sequences; zeros when None.

    Returns:
        ``(outputs, state)``: outputs (B, T, output_size), state shaped as the cell's.

    Example:
        >>> cell = rnnlab.nn.LSTMCell(3, 5, use_peepholes=True, num_proj=2)
        >>> out, (h, c) = scan_rnn(cell, torch.zeros(4, 6, 3), torch.tensor([6, 2, 0, 1]))
        >>> out.shape, h.shape, c.shape
        (torch.Size([4, 6, 2]), torch.Size([4, 2]), torch.Size([4, 5]))
    """
    B, T = inputs.shape[0], inputs.shape[1]
    x = inputs.transpose(0, 1)  # (T, B, F)
    valid = step_mask(sequence_length, B, T, inputs.device)  # (T, B, 1)
    if initial_state is None:
        initial_state = cell.zero_state(B, inputs.dtype, inputs.device)
    outputs, state = _run(cell, x, valid, initial_state)
    return outputs.transpose(0, 1), state  # (B, T, O)


def bidirectional_scan_rnn(cell_fw: RNNCellBase, cell_bw: RNNCellBase, inputs: Tensor,
                           sequence_length: Tensor | None = None):
    """:func:`~rnnlab.nn.unroll.bidirectional_dynamic_rnn`'s function, traceable.

    The backward cell reads each sequence reversed within its own length; its outputs are
    reversed back, so position t of both outputs refers to input step t.

    Args:
        cell_fw, cell_bw: the two cells.
        inputs: (B, T, input_size).
        sequence_length: (B,) int64 lengths in [0, T], or None.

    Returns:
        ``((out_fw, out_bw), (state_fw, state_bw))``, outputs (B, T, O) each.
    """
    out_fw, state_fw = scan_rnn(cell_fw, inputs, sequence_length)
    reversed_inputs = reverse_sequence(inputs, sequence_length, 1)
    out_bw, state_bw = scan_rnn(cell_bw, reversed_inputs, sequence_length)
    return (out_fw, reverse_sequence(out_bw, sequence_length, 1)), (state_fw, state_bw)


def _run(cell: RNNCellBase, x: Tensor, valid: Tensor, state):
    """(T, B, F) -> ((T, B, O) outputs zero at invalid steps, final state)."""
    if isinstance(cell, MultiRNNCell):
        finals = []
        for sub, s in zip(cell.cells, state, strict=True):
            x, s = _run(sub, x, valid, s)
            finals.append(s)
        return x, tuple(finals)
    if isinstance(cell, DropoutWrapper) and not cell.training:
        return _run(cell.cell, x, valid, state)
    if isinstance(cell, OutputProjectionWrapper | ResidualWrapper):
        outputs, state = _run(cell.cell, x, valid, state)
        # A per-step map of zeros need not be zero (a bias): zero those steps again.
        return torch.where(valid, cell._map(outputs, x), 0.0), state
    step = _hoisted_step(cell)
    if step is not None:
        xp = F.linear(x, cell.weight_ih, cell.bias_ih)  # (T, B, G): every step at once
        return _scan(step, xp, valid, state)
    return _scan(lambda x_t, s: cell(x_t, s), x, valid, state)


def _scan(step: Callable, x: Tensor, valid: Tensor, state):
    """Scan ``step(x_t, state) -> (output, state)`` over (T, B, .) with masking."""

    def combine(carry, xs):
        x_t, v = xs  # (B, G), (B, 1)
        out, new = step(x_t, carry)
        kept = tree_map(lambda n, o: torch.where(v, n, o), new, carry)
        return kept, torch.where(v, out, 0.0)

    final, outputs = scan(combine, state, (x, valid))
    return outputs, final


def _hoisted_step(cell: RNNCellBase) -> Callable | None:
    """The cell's step from a pre-projected input ``W_ih x + b_ih``, or None (step as is)."""
    if isinstance(cell, BasicRNNCell) and cell.activation_name in ACTIVATIONS:
        return cell.projected_step  # a named activation: a user's callable may not trace
    if isinstance(cell, GRUCell | LSTMCell):
        return cell.projected_step
    return None
