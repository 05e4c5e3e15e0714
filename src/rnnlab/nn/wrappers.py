"""Cells made of cells: stacking, output projection, dropout and residual connections.

Each wrapper is itself a cell (one step, no loop over time), so wrappers compose and
every unroller in :mod:`rnnlab.nn.unroll` accepts them::

    cell = OutputProjectionWrapper(
        MultiRNNCell([BasicRNNCell(1, 100, "relu"), BasicRNNCell(100, 100, "relu")]),
        output_size=1,
    )
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.cells import FusedSpec, LSTMCell, RNNCellBase


class MultiRNNCell(RNNCellBase):
    """A stack of cells run in sequence at each step; layer l reads layer l-1's output.

    The state is the tuple of the cells' states, bottom layer first. A stack of cells of
    one fusable kind and size runs on PyTorch's multi-layer fused kernel.

    Args:
        cells: the layers, bottom first; each one's input_size must equal the previous
            one's output_size.

    Example:
        >>> from rnnlab.nn.cells import GRUCell
        >>> stack = MultiRNNCell([GRUCell(3, 8), GRUCell(8, 8)])
        >>> out, (s1, s2) = stack(torch.zeros(4, 3))
        >>> out.shape
        torch.Size([4, 8])
    """

    def __init__(self, cells: Sequence[RNNCellBase]):
        super().__init__()
        cells = list(cells)
        if not cells:
            raise ConfigError("MultiRNNCell needs at least one cell; got an empty list")
        for lower, upper in itertools.pairwise(cells):
            if upper.input_size != lower.output_size:
                raise ConfigError(
                    f"MultiRNNCell: a layer with input_size={upper.input_size} cannot read a "
                    f"layer whose output_size={lower.output_size}; they must be equal"
                )
        self.cells = nn.ModuleList(cells)
        self.input_size = cells[0].input_size
        self.num_units = cells[-1].num_units

    @property
    def state_size(self):
        return tuple(cell.state_size for cell in self.cells)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def zero_state(self, batch_size: int, dtype=None, device=None):
        return tuple(cell.zero_state(batch_size, dtype, device) for cell in self.cells)

    def forward(self, x: Tensor, state=None):
        """One step through every layer.

        Args:
            x: (B, input_size).
            state: tuple of the layers' states, or None for zeros.

        Returns:
            ``(output, new_state)``: the top layer's output and the tuple of new states.
        """
        if state is None:
            state = self.zero_state(x.shape[0], x.dtype, x.device)
        if len(state) != len(self.cells):
            raise ConfigError(
                f"MultiRNNCell has {len(self.cells)} layers but the state has {len(state)}"
            )
        new_states = []
        for cell, s in zip(self.cells, state, strict=True):
            x, s = cell(x, s)
            new_states.append(s)
        return x, tuple(new_states)

    def fused_spec(self) -> FusedSpec | None:
        specs = [cell.fused_spec() for cell in self.cells]
        if any(s is None or s.output_fn is not None for s in specs):
            return None
        first = specs[0]
        if any(s.mode != first.mode for s in specs):
            return None
        uniform = all((s.num_units, s.proj_size) == (first.num_units, first.proj_size)
                      for s in specs)
        if not uniform and first.mode != "LSTM":  # only rnnlab's LSTM kernel takes these
            return None
        weights = tuple(w for s in specs for w in s.weights)
        options = (tuple(o for s in specs for o in s.lstm_options)
                   if first.lstm_options is not None else None)
        return dataclasses.replace(first, weights=weights, stacked=True, lstm_options=options,
                                   uniform=uniform)


class _Wrapper(RNNCellBase):
    """A cell around a cell: same state, and outputs mapped step by step by ``_map``.

    Because the map is applied per step, it can also be applied once to the stacked
    outputs of a fused run, which is how wrapped cells keep PyTorch's fused kernels.
    """

    def __init__(self, cell: RNNCellBase):
        super().__init__()
        self.cell = cell
        self.input_size = cell.input_size
        self.num_units = cell.num_units

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def zero_state(self, batch_size: int, dtype=None, device=None):
        return self.cell.zero_state(batch_size, dtype, device)

    def _map(self, outputs: Tensor, inputs: Tensor) -> Tensor:
        return outputs

    def forward(self, x: Tensor, state=None):
        """One step of the wrapped cell, its output mapped: ``(map(output, x), state)``."""
        out, state = self.cell(x, state)
        return self._map(out, x), state

    def fused_spec(self) -> FusedSpec | None:
        spec = self.cell.fused_spec()
        if spec is None:
            return None
        inner = spec.output_fn

        def mapped(outputs: Tensor, inputs: Tensor) -> Tensor:
            if inner is not None:
                outputs = inner(outputs, inputs)
            return self._map(outputs, inputs)

        return dataclasses.replace(spec, output_fn=mapped)


class OutputProjectionWrapper(_Wrapper):
    """Adds a linear projection of the cell's output at each step (the state is untouched).

    This is the notebook's way to turn a 100-unit RNN into a 1-value forecaster without
    reshaping. Projecting every step inside the loop computes the same function as one
    ``nn.Linear`` over the stacked outputs (B*T, H); :func:`rnnlab.nn.unroll.dynamic_rnn`
    runs it that second, faster way when the inner cell is fused.

    Args:
        cell: the wrapped cell.
        output_size: size of the projected output.
    """

    def __init__(self, cell: RNNCellBase, output_size: int):
        super().__init__(cell)
        if not isinstance(output_size, int) or output_size <= 0:
            raise ConfigError(f"output_size={output_size!r} must be a positive int")
        self.projection = nn.Linear(cell.output_size, output_size)

    @property
    def output_size(self) -> int:
        return self.projection.out_features

    def _map(self, outputs: Tensor, inputs: Tensor) -> Tensor:
        return self.projection(outputs)


class ResidualWrapper(_Wrapper):
    """Adds the step's input to the cell's output: ``output = x + cell(x)``.

    Args:
        cell: the wrapped cell; its input_size must equal its output_size.
    """

    def __init__(self, cell: RNNCellBase):
        if cell.input_size != cell.output_size:
            raise ConfigError(
                f"ResidualWrapper needs input_size == output_size; got {cell.input_size} "
                f"and {cell.output_size}"
            )
        super().__init__(cell)

    def _map(self, outputs: Tensor, inputs: Tensor) -> Tensor:
        return inputs + outputs


class DropoutWrapper(_Wrapper):
    """Dropout on a cell's inputs, outputs and state, with TF1's semantics.

    Kept units are scaled by ``1 / keep_prob``. Dropout is active in training mode only
    (``module.train()``); in eval mode the wrapper is the identity and the cell may run
    fused. The state dropout leaves an LSTM's cell state c alone and drops only h, as
    TF1's default state filter does.

    With ``variational_recurrent=True`` (Gal & Ghahramani 2016) one mask per sequence
    is drawn for each of input, output and state and reused at every step. The
    unrollers start a new sequence (new masks) on each call; when stepping by hand,
    call :func:`begin_sequence` between sequences.

    Args:
        cell: the wrapped cell.
        input_keep_prob, output_keep_prob, state_keep_prob: probability of keeping
            each unit, in (0, 1].
        variational_recurrent: same masks at every step of a sequence.
    """

    def __init__(
        self,
        cell: RNNCellBase,
        input_keep_prob: float = 1.0,
        output_keep_prob: float = 1.0,
        state_keep_prob: float = 1.0,
        variational_recurrent: bool = False,
    ):
        super().__init__(cell)
        for name, p in (
            ("input_keep_prob", input_keep_prob),
            ("output_keep_prob", output_keep_prob),
            ("state_keep_prob", state_keep_prob),
        ):
            if not 0.0 < p <= 1.0:
                raise ConfigError(f"{name}={p!r} must be in (0, 1]")
        self.input_keep_prob = float(input_keep_prob)
        self.output_keep_prob = float(output_keep_prob)
        self.state_keep_prob = float(state_keep_prob)
        self.variational_recurrent = variational_recurrent
        self._masks: dict[str, object] = {}

    def begin_sequence(self) -> None:
        """Forget the variational masks, so the next step draws new ones."""
        self._masks = {}

    def _dropout(self, name: str, x: Tensor, keep: float) -> Tensor:
        if keep == 1.0 or not self.training:
            return x
        if not self.variational_recurrent:
            return x * (torch.rand_like(x) < keep).to(x.dtype) / keep
        mask = self._masks.get(name)
        if mask is None or mask.shape != x.shape:
            mask = (torch.rand_like(x) < keep).to(x.dtype) / keep
            self._masks[name] = mask
        return x * mask

    def forward(self, x: Tensor, state=None):
        """One step with dropout applied to the input, the output and the new state."""
        x = self._dropout("input", x, self.input_keep_prob)
        out, state = self.cell(x, state)
        out = self._dropout("output", out, self.output_keep_prob)
        state = _drop_state(self.cell, state, lambda s, key: self._dropout(
            f"state{key}", s, self.state_keep_prob))
        return out, state

    def fused_spec(self) -> FusedSpec | None:
        active = self.training and min(
            self.input_keep_prob, self.output_keep_prob, self.state_keep_prob) < 1.0
        return None if active else self.cell.fused_spec()


def _drop_state(cell: nn.Module, state, drop, key: str = ""):
    # TF1's default state filter: never drop an LSTM's memory c, only its output h.
    if isinstance(cell, LSTMCell):
        h, c = state
        return drop(h, key + ".h"), c
    if isinstance(cell, MultiRNNCell):
        return tuple(_drop_state(sub, s, drop, f"{key}.{i}")
                     for i, (sub, s) in enumerate(zip(cell.cells, state, strict=True)))
    inner = getattr(cell, "cell", None)
    if isinstance(inner, nn.Module):
        return _drop_state(inner, state, drop, key)
    return drop(state, key)


def begin_sequence(cell: nn.Module) -> None:
    """Start a new sequence: every DropoutWrapper inside ``cell`` draws new masks."""
    for module in cell.modules():
        if isinstance(module, DropoutWrapper):
            module.begin_sequence()
