"""Unrolling cells over time: ``static_rnn``, ``dynamic_rnn`` and the bidirectional forms.

All unrollers share one contract, TF1's: with ``sequence_length``, a sequence's outputs
past its length are zero and its final state is the state at its last valid step
(length 0: zero outputs, the initial state). This is also what PyTorch's packed
sequences give, so results match ``nn.RNN``/``nn.LSTM``/``nn.GRU`` on packed input.

``dynamic_rnn`` has three backends that compute the same function:

* ``"loop"`` steps the cell in Python, one step at a time. Any cell works.
* ``"fused"`` hands the cell's own parameters to PyTorch's fused RNN kernels (the
  ones behind ``nn.LSTM``). Only cells those kernels implement qualify: tanh/relu
  BasicRNNCell, LSTMCell without peepholes or clipping, GRUCell, stacks of one kind,
  optionally wrapped in OutputProjectionWrapper / ResidualWrapper, or a DropoutWrapper
  in eval mode (:mod:`rnnlab.nn.fused`).
* ``"kernel"`` runs the same cells, and LSTMs of every variant (peepholes, clipping,
  projection), on rnnlab's own sequence kernels (:mod:`rnnlab.nn.lstm_kernel`,
  :mod:`rnnlab.nn.rnn_kernel`): one autograd node per layer with a hand-written
  backward, which works only on each sequence's valid steps.

``"auto"`` (the default) picks, on the CPU, rnnlab's kernels for lengths, for RNNs and GRUs
(faster than PyTorch's there even without lengths) and for LSTMs with peepholes or
clipping, and PyTorch's kernels for a plain LSTM without lengths; on CUDA, PyTorch's (cuDNN
takes packed sequences natively); the loop for everything else.
:func:`resolve_backend` says which one a call runs.

Why not PyTorch's packed sequences on the CPU? They are exact but slow there (measured
2x to 75x slower than unpacked, growing with T; see BENCHMARKS.md). rnnlab's kernels
instead sort the batch by length once, so at step t only the first n_t sequences are
computed, each a contiguous slice, and each sequence's final state is taken when it ends::

    length        t=0 1 2 3 4       rows computed at step t: n_t = 4 4 3 2 1
    seq a  5      x x x x x
    seq b  4      x x x x .         padding is never read, no work is spent on it
    seq c  3      x x x . .
    seq d  2      x x . . .
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.nn.cells import FusedSpec, RNNCellBase
from rnnlab.nn.fused import (
    from_fused_hx,
    fused_call,
    fused_packed,
    map_state,
    to_fused_hx,
)
from rnnlab.nn.lstm_kernel import lstm_sequence
from rnnlab.nn.rnn_kernel import rnn_sequence
from rnnlab.nn.wrappers import begin_sequence

BACKENDS = ("auto", "fused", "kernel", "loop")
# What "auto" resolves to; resolve_backend() and dynamic_rnn() agree by construction.
RESOLVED_BACKENDS = ("fused", "kernel", "loop")


def static_rnn(
    cell: RNNCellBase,
    inputs: Sequence[Tensor],
    initial_state=None,
    sequence_length=None,
):
    """Unroll ``cell`` over a Python list of step inputs, one graph node per step.

    This is the notebook's ``static_rnn``: the loop is written out in Python, so the
    computation graph holds one copy of the cell per step (memory grows with T).

    Args:
        cell: any rnnlab cell.
        inputs: list of T tensors, each (B, input_size).
        initial_state: the cell's state for B sequences; zeros when None.
        sequence_length: (B,) integer lengths in [0, T], or None for all T.

    Returns:
        ``(outputs, state)``: a list of T tensors (B, output_size), and the final state.

    Example:
        >>> cell = rnnlab.BasicRNNCell(3, 5)
        >>> x0, x1 = torch.zeros(4, 3), torch.ones(4, 3)
        >>> (y0, y1), state = static_rnn(cell, [x0, x1])
    """
    if isinstance(inputs, Tensor) or len(inputs) == 0:
        raise ShapeError("static_rnn expects a non-empty list of (batch, input_size) tensors; "
                         f"got {type(inputs).__name__}")
    first = inputs[0]
    for t, x in enumerate(inputs):
        if x.dim() != 2 or x.shape != first.shape:
            raise ShapeError(f"static_rnn: inputs[{t}] has shape {tuple(x.shape)}; every step "
                             f"must be (batch, input_size) = {tuple(first.shape)}")
    _check_features(cell, first.shape[-1])
    B, T = first.shape[0], len(inputs)
    lengths = check_sequence_length(sequence_length, B, T, first.device)
    state = _initial_state(cell, initial_state, B, first)
    outputs, state = _loop(cell, inputs, state, lengths)
    return outputs, state


def dynamic_rnn(
    cell: RNNCellBase,
    inputs: Tensor,
    sequence_length=None,
    initial_state=None,
    time_major: bool = False,
    backend: str = "auto",
):
    """Unroll ``cell`` over a (B, T, F) tensor, fused when possible, else in a loop.

    Args:
        cell: any rnnlab cell.
        inputs: (B, T, input_size), or (T, B, input_size) when ``time_major``.
        sequence_length: (B,) integer lengths in [0, T], or None for all T.
        initial_state: the cell's state for B sequences; zeros when None.
        time_major: inputs and outputs are (T, B, ...) instead of (B, T, ...).
        backend: ``"auto"``, ``"fused"`` (raises ConfigError if the cell cannot run
            fused), ``"kernel"`` or ``"loop"``; :func:`resolve_backend` says which one
            ``"auto"`` picks.

    Returns:
        ``(outputs, state)``: outputs (B, T, output_size) (time-major if asked), zero past
        each sequence's length; state is the cell's state at each sequence's last step.

    Example:
        >>> cell = rnnlab.GRUCell(3, 5)
        >>> outputs, state = dynamic_rnn(cell, torch.zeros(4, 2, 3),
        ...                              sequence_length=torch.tensor([2, 1, 2, 0]))
        >>> outputs.shape, state.shape
        (torch.Size([4, 2, 5]), torch.Size([4, 5]))
    """
    if backend not in BACKENDS:
        raise choice_error("backend", backend, BACKENDS)
    if not isinstance(inputs, Tensor) or inputs.dim() != 3:
        shape = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
        layout = "(T, B, F)" if time_major else "(B, T, F)"
        raise ShapeError(f"dynamic_rnn expects inputs of shape {layout}; got {shape}")
    _check_features(cell, inputs.shape[-1])
    x = inputs if time_major else inputs.transpose(0, 1)  # (T, B, F)
    T, B = x.shape[0], x.shape[1]
    lengths = check_sequence_length(sequence_length, B, T, x.device)
    state = _initial_state(cell, initial_state, B, x)

    spec, resolved = _resolve(cell, backend, lengths is not None, x.is_cuda)
    if resolved == "loop":
        steps, state = _loop(cell, x.unbind(0), state, lengths)
        outputs = torch.stack(steps, 0)  # (T, B, O)
    elif resolved == "kernel":
        outputs, state = _kernel(spec, x, state, lengths)
        outputs = _apply_output_fn(spec, outputs, x, lengths)
    elif lengths is None:
        # PyTorch's kernels read the caller's layout directly, exactly as nn.LSTM calls them.
        hx = to_fused_hx(spec, state)
        outputs, hx = fused_call(spec, inputs, hx, cell.training, batch_first=not time_major)
        return _apply_output_fn(spec, outputs, inputs, None), from_fused_hx(spec, hx)
    else:
        outputs, hx = fused_packed(spec, x, to_fused_hx(spec, state), lengths, cell.training)
        outputs, state = _apply_output_fn(spec, outputs, x, lengths), from_fused_hx(spec, hx)
    return (outputs if time_major else outputs.transpose(0, 1)), state


# Measured by bench/unroll.py (BENCHMARKS.md): on the CPU, without lengths, rnnlab's own
# sequence kernels run tanh/relu RNNs and GRUs at 0.66x-0.88x of PyTorch's fused kernels at
# every size tried; the LSTM kernel is slower at T=28 (1.18x), so LSTMs stay on PyTorch's.
KERNEL_FASTER_ON_CPU = ("RNN_TANH", "RNN_RELU", "GRU")


def resolve_backend(cell: RNNCellBase, backend: str = "auto", sequence_length=None,
                    device=None) -> str:
    """Which backend :func:`dynamic_rnn` runs for these arguments: "fused", "kernel" or "loop".

    Args:
        cell: any rnnlab cell.
        backend: as passed to :func:`dynamic_rnn`.
        sequence_length: None, or anything that is not None (only whether lengths are
            given matters).
        device: the inputs' device; None means the CPU.

    Returns:
        The backend a call with these arguments runs (``"auto"`` resolved).

    Raises:
        ConfigError: ``backend`` is unknown, or names a backend the cell cannot run on.

    Example:
        >>> cell = rnnlab.LSTMCell(3, 5)
        >>> resolve_backend(cell), resolve_backend(cell, sequence_length=[2, 1])
        ('fused', 'kernel')
    """
    if backend not in BACKENDS:
        raise choice_error("backend", backend, BACKENDS)
    is_cuda = device is not None and torch.device(device).type == "cuda"
    return _resolve(cell, backend, sequence_length is not None, is_cuda)[1]


def _resolve(cell: RNNCellBase, backend: str, has_lengths: bool, is_cuda: bool):
    """``(spec, name)``: the cell's fused spec (None for the loop) and the backend to run."""
    spec = cell.fused_spec() if backend != "loop" else None
    if backend == "fused" and (spec is None or not spec.torch_fusable):
        raise ConfigError(
            f"backend='fused' cannot run {type(cell).__name__}: PyTorch's fused kernels need a "
            "tanh/relu BasicRNNCell, an LSTMCell without peepholes or clipping, a GRUCell, or "
            "a stack of one of these; use backend='auto', 'kernel' (LSTM) or 'loop'"
        )
    if backend == "kernel" and spec is None:
        raise ConfigError(f"backend='kernel' runs tanh/relu BasicRNNCell, GRUCell, LSTMCell "
                          f"and stacks of one of them; got {type(cell).__name__}; use "
                          "backend='auto' or 'loop'")
    if spec is None:
        return None, "loop"
    if backend == "kernel" or (backend == "auto" and (
            not spec.torch_fusable or (not is_cuda and (
                has_lengths or spec.mode in KERNEL_FASTER_ON_CPU)))):
        return spec, "kernel"
    return spec, "fused"


def bidirectional_dynamic_rnn(
    cell_fw: RNNCellBase,
    cell_bw: RNNCellBase,
    inputs: Tensor,
    sequence_length=None,
    initial_state_fw=None,
    initial_state_bw=None,
    time_major: bool = False,
):
    """Run one cell forward and another backward over each sequence.

    The backward cell reads each sequence reversed within its own length (padding
    stays at the end), and its outputs are reversed back, so position t of both
    outputs refers to input step t.

    Args:
        cell_fw, cell_bw: the two cells; same input_size.
        inputs: (B, T, input_size), or (T, B, input_size) when ``time_major``.
        sequence_length: (B,) integer lengths in [0, T], or None.
        initial_state_fw, initial_state_bw: initial states, zeros when None.
        time_major: as in :func:`dynamic_rnn`.

    Returns:
        ``((out_fw, out_bw), (state_fw, state_bw))``, outputs shaped as in dynamic_rnn.
    """
    time_axis = 0 if time_major else 1
    out_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length, initial_state_fw, time_major)
    lengths = None if sequence_length is None else check_sequence_length(
        sequence_length, inputs.shape[1 - time_axis], inputs.shape[time_axis], inputs.device)
    reversed_inputs = reverse_sequence(inputs, lengths, time_axis)
    out_bw, state_bw = dynamic_rnn(cell_bw, reversed_inputs, lengths, initial_state_bw, time_major)
    return (out_fw, reverse_sequence(out_bw, lengths, time_axis)), (state_fw, state_bw)


def stack_bidirectional_dynamic_rnn(
    cells_fw: Sequence[RNNCellBase],
    cells_bw: Sequence[RNNCellBase],
    inputs: Tensor,
    sequence_length=None,
    initial_states_fw=None,
    initial_states_bw=None,
    time_major: bool = False,
):
    """Stacked bidirectional RNN: each layer reads both directions of the layer below.

    This is ``nn.LSTM(num_layers=L, bidirectional=True)``'s wiring: layer l's input is
    the concatenation [forward, backward] of layer l-1's outputs.

    Args:
        cells_fw, cells_bw: L forward and L backward cells; layer l > 0 has input_size
            equal to the sum of layer l-1's two output sizes.
        inputs: (B, T, input_size), or (T, B, input_size) when ``time_major``.
        sequence_length: (B,) integer lengths in [0, T], or None.
        initial_states_fw, initial_states_bw: lists of L initial states, or None.
        time_major: as in :func:`dynamic_rnn`.

    Returns:
        ``(outputs, states_fw, states_bw)``: outputs (B, T, out_fw + out_bw) of the top
        layer, and tuples of each layer's final forward and backward states.
    """
    if len(cells_fw) != len(cells_bw) or not cells_fw:
        raise ConfigError(f"stack_bidirectional_dynamic_rnn needs as many forward as backward "
                          f"cells, at least one; got {len(cells_fw)} and {len(cells_bw)}")
    L = len(cells_fw)
    inits_fw = initial_states_fw or [None] * L
    inits_bw = initial_states_bw or [None] * L
    states_fw, states_bw = [], []
    x = inputs
    for layer in range(L):
        (out_fw, out_bw), (s_fw, s_bw) = bidirectional_dynamic_rnn(
            cells_fw[layer], cells_bw[layer], x, sequence_length,
            inits_fw[layer], inits_bw[layer], time_major)
        x = torch.cat([out_fw, out_bw], dim=-1)
        states_fw.append(s_fw)
        states_bw.append(s_bw)
    return x, tuple(states_fw), tuple(states_bw)


def reverse_sequence(inputs: Tensor, lengths: Tensor | None, time_axis: int = 1) -> Tensor:
    """Reverse each sequence's first ``lengths[b]`` steps; steps past the length stay put.

    Args:
        inputs: a tensor with a batch axis and a time axis (``time_axis``, 0 or 1).
        lengths: (B,) int64 lengths, or None to flip the whole time axis.
        time_axis: 1 for (B, T, ...), 0 for (T, B, ...).

    Returns:
        A tensor of the same shape.
    """
    if lengths is None:
        return inputs.flip(time_axis)
    T = inputs.shape[time_axis]
    t = torch.arange(T, device=inputs.device)
    lengths = lengths.to(inputs.device)
    if time_axis == 1:
        idx = torch.where(t[None, :] < lengths[:, None], lengths[:, None] - 1 - t[None, :],
                          t[None, :])  # (B, T)
    else:
        idx = torch.where(t[:, None] < lengths[None, :], lengths[None, :] - 1 - t[:, None],
                          t[:, None])  # (T, B)
    idx = idx.reshape(*idx.shape, *([1] * (inputs.dim() - 2))).expand_as(inputs)
    return inputs.gather(time_axis, idx)


def check_sequence_length(sequence_length, batch_size: int, max_time: int, device=None):
    """Validate ``sequence_length`` and return it as an int64 tensor, or None.

    Raises:
        ConfigError: lengths are not integers, or fall outside [0, max_time].
        ShapeError: the vector does not hold one length per sequence.
    """
    if sequence_length is None:
        return None
    lengths = torch.as_tensor(sequence_length)
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise ConfigError(f"sequence_length must hold integers; got dtype {lengths.dtype} "
                          f"with values {lengths.tolist()}")
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ShapeError(f"sequence_length must have shape ({batch_size},), one length per "
                         f"sequence; got {tuple(lengths.shape)}")
    bad = (lengths < 0) | (lengths > max_time)
    if bad.any():
        b = int(bad.nonzero()[0, 0])
        raise ConfigError(f"sequence_length[{b}]={int(lengths[b])} is outside the allowed "
                          f"range [0, {max_time}] (T={max_time})")
    return lengths.to(device=device, dtype=torch.int64)


def _check_features(cell: RNNCellBase, features: int) -> None:
    if features != cell.input_size:
        raise ShapeError(f"{type(cell).__name__} has input_size={cell.input_size} but the "
                         f"inputs have {features} features per step")


def _initial_state(cell: RNNCellBase, initial_state, batch_size: int, like: Tensor):
    zero = cell.zero_state(batch_size, like.dtype, like.device)
    begin_sequence(cell)
    if initial_state is None:
        return zero
    _check_state(zero, initial_state, "initial_state")
    return initial_state


def _check_state(expected, got, where: str) -> None:
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor) or got.shape != expected.shape:
            shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            raise ShapeError(f"{where} should be a tensor of shape {tuple(expected.shape)}; "
                             f"got {shape}")
        return
    if not isinstance(got, tuple | list) or len(got) != len(expected):
        raise ShapeError(f"{where} should be a tuple of {len(expected)} states; got "
                         f"{type(got).__name__}")
    for i, (e, g) in enumerate(zip(expected, got, strict=True)):
        _check_state(e, g, f"{where}[{i}]")


def _loop(cell: RNNCellBase, steps: Sequence[Tensor], state, lengths: Tensor | None):
    """Step ``cell`` through ``steps``, freezing each state and zeroing outputs past its length."""
    outputs = []
    if lengths is None:
        for x in steps:
            out, state = cell(x, state)
            outputs.append(out)
        return outputs, state
    # Steps past the longest sequence change nothing: skip them and pad with zeros.
    last = int(lengths.max()) if lengths.numel() else 0
    for t in range(last):
        valid = (t < lengths)[:, None]  # (B, 1)
        out, new_state = cell(steps[t], state)
        outputs.append(out.masked_fill(~valid, 0.0))
        state = map_state(lambda new, old, v=valid: torch.where(v, new, old), new_state, state)
    if len(outputs) < len(steps):
        x = steps[0]
        zeros = x.new_zeros(x.shape[0], cell.output_size)
        outputs.extend([zeros] * (len(steps) - len(outputs)))
    return outputs, state


def _apply_output_fn(spec: FusedSpec, outputs: Tensor, x: Tensor, lengths: Tensor | None):
    """The wrappers' per-step maps, then zeros past each length again."""
    if spec.output_fn is None:
        return outputs
    outputs = spec.output_fn(outputs, x)
    if lengths is not None:
        outputs = outputs.masked_fill(~_valid_mask(lengths, x.shape[0])[..., None], 0.0)
    return outputs


_KERNEL_MODES = {"RNN_TANH": "tanh", "RNN_RELU": "relu", "GRU": "gru"}


def _kernel(spec: FusedSpec, x: Tensor, state, lengths: Tensor | None):
    """rnnlab's sequence kernels, one call per layer; returns outputs and the cell state."""
    layers = state if spec.stacked else (state,)
    options = spec.lstm_options or (None,) * len(spec.weights)
    finals = []
    for s0, weights, extra in zip(layers, spec.weights, options, strict=True):
        if spec.mode == "LSTM":
            x, h, c = lstm_sequence(x, *s0, lengths, *weights[:4],
                                    weight_hr=weights[4] if len(weights) > 4 else None, **extra)
            finals.append((h, c))
        else:
            x, h = rnn_sequence(x, s0, lengths, *weights, mode=_KERNEL_MODES[spec.mode])
            finals.append(h)
    return x, (tuple(finals) if spec.stacked else finals[0])


def _valid_mask(lengths: Tensor, T: int) -> Tensor:
    """(T, B) bool: step t of sequence b is within its length."""
    return torch.arange(T, device=lengths.device)[:, None] < lengths[None, :]


