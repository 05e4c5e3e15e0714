"""Convert PyTorch's multi-layer ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` into rnnlab cells.

Layer l of ``nn.LSTM`` keeps its weights as ``weight_ih_l{l}`` (``..._reverse`` for the
backward direction); an rnnlab cell calls the same tensor ``weight_ih``. The conversion
copies each layer into a cell, so the cells compute exactly what the module computes::

    lstm = torch.nn.LSTM(8, 16, num_layers=2)
    stack = rnnlab.cells_from_torch(lstm)          # MultiRNNCell of two LSTMCells
    outputs, state = rnnlab.dynamic_rnn(stack, x, time_major=True)
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import BasicRNNCell, GRUCell, LSTMCell, RNNCellBase
from rnnlab.nn.wrappers import DropoutWrapper, MultiRNNCell


def _layer_state(module: nn.RNNBase, layer: int, suffix: str) -> dict[str, torch.Tensor]:
    state = {}
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"):
        key = f"{name}_l{layer}{suffix}"
        if hasattr(module, key):
            state[name] = getattr(module, key).detach().clone()
    return state


def _make_cell(module: nn.RNNBase, input_size: int) -> RNNCellBase:
    H = module.hidden_size
    if isinstance(module, nn.LSTM):
        return LSTMCell(input_size, H, num_proj=module.proj_size or None)
    if isinstance(module, nn.GRU):
        return GRUCell(input_size, H)
    if isinstance(module, nn.RNN):
        return BasicRNNCell(input_size, H, activation=module.nonlinearity)
    raise ConfigError(f"cells_from_torch converts nn.RNN, nn.LSTM or nn.GRU; got "
                      f"{type(module).__name__}")


def cells_from_torch(module: nn.RNNBase):
    """Copy a PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` into rnnlab cells.

    Args:
        module: the PyTorch module (any number of layers, either direction, LSTM
            projection). A module built with ``bias=False`` becomes cells whose biases are
            zero (and trainable). Inter-layer ``dropout`` becomes an output
            DropoutWrapper on every layer but the top, which is where PyTorch applies it.

    Returns:
        Unidirectional: the cell (one layer) or a :class:`MultiRNNCell` (several), for
        :func:`rnnlab.dynamic_rnn`. Bidirectional: ``(cells_fw, cells_bw)``, two lists
        of cells for :func:`rnnlab.stack_bidirectional_dynamic_rnn`.

    Example:
        >>> gru = torch.nn.GRU(3, 5)
        >>> cell = cells_from_torch(gru)
        >>> torch.equal(cell.weight_hh, gru.weight_hh_l0)
        True
    """
    if not isinstance(module, nn.RNN | nn.LSTM | nn.GRU):
        raise ConfigError(f"cells_from_torch converts nn.RNN, nn.LSTM or nn.GRU; got "
                          f"{type(module).__name__}")
    directions = ["", "_reverse"] if module.bidirectional else [""]
    out_size = module.proj_size or module.hidden_size
    stacks: list[list[RNNCellBase]] = []
    for suffix in directions:
        cells: list[RNNCellBase] = []
        for layer in range(module.num_layers):
            input_size = module.input_size if layer == 0 else out_size * len(directions)
            cell = _make_cell(module, input_size).to(
                device=module.weight_ih_l0.device, dtype=module.weight_ih_l0.dtype)
            state = _layer_state(module, layer, suffix)
            if not module.bias:
                state["bias_ih"] = torch.zeros_like(cell.bias_ih)
                state["bias_hh"] = torch.zeros_like(cell.bias_hh)
            cell.load_state_dict(state)
            if module.dropout and layer < module.num_layers - 1:
                cell = DropoutWrapper(cell, output_keep_prob=1.0 - module.dropout)
            cells.append(cell)
        stacks.append(cells)
    if module.bidirectional:
        return stacks[0], stacks[1]
    cells = stacks[0]
    return cells[0] if len(cells) == 1 else MultiRNNCell(cells)
