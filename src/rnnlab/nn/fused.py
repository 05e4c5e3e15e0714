"""The ``"fused"`` backend of :func:`rnnlab.nn.unroll.dynamic_rnn`: PyTorch's own RNN kernels.

These are the exact kernels ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` call (oneDNN on the CPU,
cuDNN on CUDA), fed the parameters of rnnlab's cells as described by a cell's
:class:`~rnnlab.nn.cells.FusedSpec`. Only cells those kernels implement qualify: tanh/relu
BasicRNNCell, LSTMCell without peepholes or clipping, GRUCell, stacks of one kind.

Two ways in: :func:`fused_call` runs whole sequences (no lengths), :func:`fused_packed`
runs exact lengths through packed sequences (cuDNN's native way; slow on the CPU, where
:mod:`rnnlab.nn.lstm_kernel` and :mod:`rnnlab.nn.rnn_kernel` take over). On CUDA the first
call makes the parameters views into one buffer (:func:`compact_for_cudnn`), as
``nn.LSTM.flatten_parameters`` does, so that cuDNN does not copy them on every call.

States cross the boundary as the kernels' ``hx``, one (L, B, H) tensor per state tensor::

    cell state (stack of L layers)      hx
    ((h_0, c_0), ..., (h_L-1, c_L-1))   (stack(h), stack(c))   LSTM
    (h_0, ..., h_L-1)                   stack(h)               RNN, GRU
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab.nn.cells import FusedSpec

KERNELS = {"RNN_TANH": torch._VF.rnn_tanh, "RNN_RELU": torch._VF.rnn_relu,
           "GRU": torch._VF.gru, "LSTM": torch._VF.lstm}


def map_state(fn, *trees):
    """Apply ``fn`` leaf-wise over equally structured (nested tuple) states."""
    if isinstance(trees[0], Tensor):
        return fn(*trees)
    return tuple(map_state(fn, *leaves) for leaves in zip(*trees, strict=True))


def compact_for_cudnn(spec: FusedSpec, flat: list[Tensor]) -> None:
    """Make the weights views into one buffer, as ``nn.RNN.flatten_parameters`` does.

    cuDNN needs all of a call's weights in one buffer; weights allocated one by one are
    copied into one on every call (0.15-0.45 ms per call measured on an H200). Rebinding
    the parameters' storage once (again after each move to another device) avoids that.
    Weights that are not plain, distinct CUDA tensors of one dtype are left alone.

    Args:
        spec: the cell's fused description.
        flat: its weights, layer by layer, in the kernels' order.
    """
    first = flat[0]
    if not first.is_cuda:
        return
    storage = first.untyped_storage().data_ptr()
    if all(w.untyped_storage().data_ptr() == storage for w in flat):
        return  # already one buffer (or one tensor)
    if (len({w.data_ptr() for w in flat}) != len(flat)
            or any(not w.is_cuda or w.dtype != first.dtype for w in flat)
            or not torch.backends.cudnn.is_acceptable(first)
            or not torch._use_cudnn_rnn_flatten_weight()):
        return
    from torch.backends.cudnn import rnn as cudnn_rnn

    with torch.no_grad(), torch.cuda.device_of(first):
        torch._cudnn_rnn_flatten_weight(
            flat, len(spec.weights[0]), spec.weights[0][0].shape[1],
            cudnn_rnn.get_cudnn_mode(spec.mode), spec.num_units, spec.proj_size,
            len(spec.weights), False, False)


def fused_call(spec: FusedSpec, x: Tensor, hx, train: bool, batch_first: bool = False):
    """One call of PyTorch's fused kernel over whole sequences.

    Args:
        spec: the cell's fused description.
        x: (T, B, F), or (B, T, F) when ``batch_first``.
        hx: (L, B, H), or a pair of them for an LSTM (see :func:`to_fused_hx`).
        train: the cell's training flag (dropout between layers is 0 here).
        batch_first: x and the outputs are (B, T, ...).

    Returns:
        ``(outputs, hx)``: outputs in x's layout, and the final hx.
    """
    # These are the exact kernels nn.RNN/nn.LSTM/nn.GRU.forward call, fed our parameters.
    flat = [w for layer in spec.weights for w in layer]
    compact_for_cudnn(spec, flat)
    args = (flat, True, len(spec.weights), 0.0, train, False, batch_first)
    with warnings.catch_warnings():
        # cuDNN warns that separately allocated weights get compacted per call; expected.
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        if spec.mode == "LSTM":
            out, h, c = KERNELS["LSTM"](x, hx, *args)
            return out, (h, c)
        out, h = KERNELS[spec.mode](x, hx, *args)
        return out, h


def to_fused_hx(spec: FusedSpec, state):
    """Cell state -> the kernel's hx: (L, B, H) per tensor."""
    layers = state if spec.stacked else (state,)
    if spec.mode == "LSTM":
        return (torch.stack([h for h, _ in layers]), torch.stack([c for _, c in layers]))
    return torch.stack(list(layers))


def from_fused_hx(spec: FusedSpec, hx):
    """The kernel's hx -> cell state (inverse of :func:`to_fused_hx`)."""
    if spec.mode == "LSTM":
        layers = tuple(zip(hx[0].unbind(0), hx[1].unbind(0), strict=True))
    else:
        layers = tuple(hx.unbind(0))
    return layers if spec.stacked else layers[0]


def fused_packed(spec: FusedSpec, x: Tensor, hx, lengths: Tensor, train: bool):
    """Exact lengths on PyTorch's kernels via packed sequences (cuDNN's native way).

    Args:
        spec: the cell's fused description.
        x: (T, B, F) time-major inputs.
        hx: the initial hx (see :func:`to_fused_hx`).
        lengths: (B,) int64 lengths in [0, T]; length-0 sequences never enter the kernel.
        train: the cell's training flag.

    Returns:
        ``(outputs, hx)``: outputs (T, B, H) zero past each length, and the hx at each
        sequence's last valid step (the initial one for length 0).
    """
    T, B = x.shape[0], x.shape[1]
    nonempty = (lengths > 0).nonzero().flatten()
    if nonempty.numel() == 0:
        return x.new_zeros(T, B, spec.proj_size or spec.num_units), hx
    packed = pack_padded_sequence(x.index_select(1, nonempty), lengths[nonempty].cpu(),
                                  enforce_sorted=False)
    flat = [w for layer in spec.weights for w in layer]
    compact_for_cudnn(spec, flat)
    order = packed.sorted_indices
    sub_hx = map_state(lambda h: h.index_select(1, nonempty).index_select(1, order), hx)
    args = (packed.data, packed.batch_sizes, sub_hx, flat, True, len(spec.weights), 0.0, train,
            False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
        if spec.mode == "LSTM":
            data, h, c = torch._VF.lstm(*args)
            sub_final = (h, c)
        else:
            data, sub_final = KERNELS[spec.mode](*args)
    sub_out, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        total_length=T)
    outputs = x.new_zeros(T, B, sub_out.shape[-1]).index_copy(1, nonempty, sub_out)
    final = map_state(
        lambda h, s: h.index_copy(1, nonempty, s.index_select(1, packed.unsorted_indices)),
        hx, sub_final)
    return outputs, final
