"""Recurrent cells: each computes ONE time step, ``output, new_state = cell(x_t, state)``.

A cell never loops over time; :mod:`rnnlab.nn.unroll` owns the loop (``static_rnn``,
``dynamic_rnn``). Parameter names, shapes and gate order are PyTorch's, so weights move
both ways between these cells and ``nn.RNNCell`` / ``nn.LSTMCell`` / ``nn.GRUCell`` (and
each layer of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``, see :func:`cells_from_torch`)::

    cell = rnnlab.LSTMCell(3, 5)
    cell.load_state_dict(torch.nn.LSTMCell(3, 5).state_dict())

Equations (x: input, h: previous output, c: previous cell state; gates stacked in
PyTorch's order in ``weight_ih``/``weight_hh``/``bias_ih``/``bias_hh``):

    BasicRNNCell   h' = act(W_ih x + b_ih + W_hh h + b_hh)

    LSTMCell       i = σ(W_ii x + b_ii + W_hi h + b_hi [+ w_ci ⊙ c])     gate order i, f, g, o
                   f = σ(W_if x + b_if + W_hf h + b_hf [+ w_cf ⊙ c])
                   g = tanh(W_ig x + b_ig + W_hg h + b_hg)
                   c' = clip(f ⊙ c + i ⊙ g)                   (cell_clip, optional)
                   o = σ(W_io x + b_io + W_ho h + b_ho [+ w_co ⊙ c'])
                   h' = o ⊙ tanh(c')  [then h' = clip(W_hr h')]   (num_proj, proj_clip)

    GRUCell        r = σ(W_ir x + b_ir + W_hr h + b_hr)              gate order r, z, n
                   z = σ(W_iz x + b_iz + W_hz h + b_hz)
                   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
                   h' = (1 - z) ⊙ n + z ⊙ h

The notebook writes the LSTM gates as ``σ(W x + W h) + b``, with the bias outside the
sigmoid; that is a typo (see docs/notebook-notes.md): the bias belongs inside, as above.
Peepholes follow TF1 (input and forget gates see c_{t-1}, the output gate sees c_t).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError, choice_error

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


@dataclass(frozen=True)
class FusedSpec:
    """How PyTorch's fused kernels can run a cell: mode, sizes and the weights per layer."""

    mode: str  # "RNN_TANH", "RNN_RELU", "LSTM" or "GRU"
    num_units: int
    proj_size: int  # 0 when there is no projection
    weights: tuple[tuple[Tensor, ...], ...]  # per layer: (w_ih, w_hh, b_ih, b_hh[, w_hr])
    stacked: bool = False  # True when the state is a tuple of per-layer states
    # LSTM only: per layer, the peephole weights and clips that PyTorch's kernels lack.
    # A spec that needs them runs on rnnlab's own LSTM sequence kernel, never on PyTorch's.
    lstm_options: tuple[dict, ...] | None = None
    uniform: bool = True  # all layers of one size, as PyTorch's multi-layer kernels need
    # Applied to the fused outputs (T, B, H) and inputs (T, B, F): wrappers' per-step maps.
    output_fn: Callable[[Tensor, Tensor], Tensor] | None = None

    @property
    def torch_fusable(self) -> bool:
        """PyTorch's own kernels can run it (layers of one size, no peepholes, no clipping)."""
        extras = ("weight_ci", "cell_clip", "proj_clip")
        return self.uniform and not any(o.get(k) is not None for o in self.lstm_options or ()
                                        for k in extras)


class RNNCellBase(nn.Module):
    """Shared interface of every cell: sizes, ``zero_state`` and input checks."""

    input_size: int
    num_units: int

    @property
    def state_size(self):
        """Size of the state: an int, or a tuple of ints for tuple states."""
        return self.num_units

    @property
    def output_size(self) -> int:
        """Size of the per-step output."""
        return self.num_units

    def zero_state(self, batch_size: int, dtype=None, device=None):
        """All-zero state for ``batch_size`` sequences, shaped like :attr:`state_size`."""
        ref = next(self.parameters())
        dtype = dtype or ref.dtype
        device = device or ref.device
        return _zeros_like_structure(self.state_size, batch_size, dtype, device)

    def fused_spec(self) -> FusedSpec | None:
        """The fused-kernel description of this cell, or None when it must be looped."""
        return None

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ShapeError(
                f"{type(self).__name__} expects inputs of shape (batch, {self.input_size}); "
                f"got {tuple(x.shape)}"
            )


def _zeros_like_structure(size, batch_size, dtype, device):
    if isinstance(size, int):
        return torch.zeros(batch_size, size, dtype=dtype, device=device)
    return tuple(_zeros_like_structure(s, batch_size, dtype, device) for s in size)


def _uniform_(cell: nn.Module, hidden: int) -> None:
    # PyTorch's own initialisation of its RNN cells: U(-1/sqrt(H), 1/sqrt(H)) everywhere.
    bound = 1.0 / math.sqrt(hidden)
    for p in cell.parameters():
        nn.init.uniform_(p, -bound, bound)


class BasicRNNCell(RNNCellBase):
    """The basic (Elman) RNN cell: ``h' = activation(W_ih x + b_ih + W_hh h + b_hh)``.

    Args:
        input_size: features per time step.
        num_units: size of the state (and of the output).
        activation: ``"tanh"`` (default), ``"relu"``, or any callable on tensors. Only
            tanh and relu can run on PyTorch's fused kernels.

    Example:
        >>> cell = BasicRNNCell(3, 5)
        >>> out, state = cell(torch.zeros(4, 3), cell.zero_state(4))
        >>> out.shape
        torch.Size([4, 5])
    """

    def __init__(self, input_size: int, num_units: int, activation: str | Callable = "tanh"):
        super().__init__()
        if isinstance(activation, str):
            if activation not in ACTIVATIONS:
                raise choice_error("activation", activation, [*ACTIVATIONS, "<callable>"])
            self.activation_name = activation
            self.activation = ACTIVATIONS[activation]
        elif callable(activation):
            self.activation_name = None
            self.activation = activation
        else:
            raise choice_error("activation", activation, [*ACTIVATIONS, "<callable>"])
        self.input_size, self.num_units = _check_sizes(input_size, num_units)
        self.weight_ih = nn.Parameter(torch.empty(num_units, input_size))
        self.weight_hh = nn.Parameter(torch.empty(num_units, num_units))
        self.bias_ih = nn.Parameter(torch.empty(num_units))
        self.bias_hh = nn.Parameter(torch.empty(num_units))
        _uniform_(self, num_units)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step.

        Args:
            x: (B, input_size).
            state: (B, num_units), or None for zeros.

        Returns:
            ``(h, h)``: the new state is also the output, (B, num_units).
        """
        self._check_input(x)
        if state is None:
            state = self.zero_state(x.shape[0], x.dtype, x.device)
        return self.projected_step(nn.functional.linear(x, self.weight_ih, self.bias_ih), state)

    def projected_step(self, xp: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """``forward`` from the projected input ``xp = W_ih x + b_ih`` (B, num_units).

        Unrollers that project every step at once (``rnnlab.nn.scan``) share the step.
        """
        h = self.activation(xp + nn.functional.linear(state, self.weight_hh, self.bias_hh))
        return h, h

    def fused_spec(self) -> FusedSpec | None:
        if self.activation_name is None:
            return None
        mode = "RNN_TANH" if self.activation_name == "tanh" else "RNN_RELU"
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return FusedSpec(mode, self.num_units, 0, (params,))

    def extra_repr(self) -> str:
        act = self.activation_name or getattr(self.activation, "__name__", "callable")
        return f"{self.input_size}, {self.num_units}, activation={act}"


class LSTMCell(RNNCellBase):
    """Long short-term memory cell with optional peepholes, cell clipping and projection.

    The state is the tuple ``(h, c)`` with h: (B, num_proj or num_units) and
    c: (B, num_units); the output is h.

    Args:
        input_size: features per time step.
        num_units: size of the cell state c.
        use_peepholes: add diagonal peephole weights ``weight_ci``, ``weight_cf``,
            ``weight_co`` (TF1 semantics).
        cell_clip: if set, c is clipped to [-cell_clip, cell_clip] after each update.
        num_proj: if set, h is projected to this size by ``weight_hr`` (PyTorch's
            ``proj_size``), and ``weight_hh`` reads the projected h.
        proj_clip: if set (requires num_proj), the projection is clipped likewise.
        forget_bias: initial value of the forget gate's slice of ``bias_ih`` (its slice
            of ``bias_hh`` starts at zero), as Keras' ``unit_forget_bias``. It is an
            initial value, not a constant added at each step, so weights loaded from
            PyTorch or Keras behave exactly as in their source.

    Example:
        >>> cell = LSTMCell(3, 5, num_proj=2)
        >>> h, (h, c) = cell(torch.zeros(4, 3))
        >>> h.shape, c.shape
        (torch.Size([4, 2]), torch.Size([4, 5]))
    """

    def __init__(
        self,
        input_size: int,
        num_units: int,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        forget_bias: float = 1.0,
    ):
        super().__init__()
        self.input_size, self.num_units = _check_sizes(input_size, num_units)
        if num_proj is not None and (not isinstance(num_proj, int) or num_proj <= 0):
            raise ConfigError(f"num_proj={num_proj!r} must be a positive int or None")
        if proj_clip is not None and num_proj is None:
            raise ConfigError(f"proj_clip={proj_clip!r} needs num_proj to be set")
        for name, clip in (("cell_clip", cell_clip), ("proj_clip", proj_clip)):
            if clip is not None and not clip > 0:
                raise ConfigError(f"{name}={clip!r} must be a positive number or None")
        self.use_peepholes = use_peepholes
        self.cell_clip = cell_clip
        self.num_proj = num_proj
        self.proj_clip = proj_clip
        self.forget_bias = float(forget_bias)
        H, P = num_units, num_proj or num_units
        self.weight_ih = nn.Parameter(torch.empty(4 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * H, P))
        self.bias_ih = nn.Parameter(torch.empty(4 * H))
        self.bias_hh = nn.Parameter(torch.empty(4 * H))
        if num_proj is not None:
            self.weight_hr = nn.Parameter(torch.empty(P, H))
        if use_peepholes:
            self.weight_ci = nn.Parameter(torch.empty(H))
            self.weight_cf = nn.Parameter(torch.empty(H))
            self.weight_co = nn.Parameter(torch.empty(H))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's uniform initialisation, then the forget-gate bias (see ``forget_bias``)."""
        _uniform_(self, self.num_units)
        H = self.num_units
        with torch.no_grad():
            self.bias_ih[H : 2 * H].fill_(self.forget_bias)
            self.bias_hh[H : 2 * H].zero_()

    @property
    def state_size(self) -> tuple[int, int]:
        return (self.num_proj or self.num_units, self.num_units)

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor] | None = None):
        """One step.

        Args:
            x: (B, input_size).
            state: ``(h, c)`` with h: (B, output_size), c: (B, num_units); None for zeros.

        Returns:
            ``(h, (h, c))``.
        """
        self._check_input(x)
        if state is None:
            state = self.zero_state(x.shape[0], x.dtype, x.device)
        return self.projected_step(nn.functional.linear(x, self.weight_ih, self.bias_ih), state)

    def projected_step(self, xp: Tensor, state: tuple[Tensor, Tensor]):
        """``forward`` from the projected input ``xp = W_ih x + b_ih`` (B, 4 * num_units).

        Unrollers that project every step at once (``rnnlab.nn.scan``) share the step.
        """
        h, c = state
        gates = xp + nn.functional.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=1)  # each (B, H)
        if self.use_peepholes:
            i = i + self.weight_ci * c
            f = f + self.weight_cf * c
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if self.cell_clip is not None:
            c = c.clamp(-self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            o = o + self.weight_co * c
        h = torch.sigmoid(o) * torch.tanh(c)
        if self.num_proj is not None:
            h = nn.functional.linear(h, self.weight_hr)
            if self.proj_clip is not None:
                h = h.clamp(-self.proj_clip, self.proj_clip)
        return h, (h, c)

    def fused_spec(self) -> FusedSpec | None:
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if self.num_proj is not None:
            params = (*params, self.weight_hr)
        options = {"cell_clip": self.cell_clip, "proj_clip": self.proj_clip}
        if self.use_peepholes:
            options.update(weight_ci=self.weight_ci, weight_cf=self.weight_cf,
                           weight_co=self.weight_co)
        return FusedSpec("LSTM", self.num_units, self.num_proj or 0, (params,),
                         lstm_options=(options,))

    def extra_repr(self) -> str:
        extras = [f"{self.input_size}, {self.num_units}"]
        for name in ("use_peepholes", "cell_clip", "num_proj", "proj_clip"):
            if getattr(self, name):
                extras.append(f"{name}={getattr(self, name)}")
        return ", ".join(extras)


class GRUCell(RNNCellBase):
    """Gated recurrent unit with PyTorch's equations (reset gate applied after W_hn h).

    Args:
        input_size: features per time step.
        num_units: size of the state (and of the output).

    Example:
        >>> cell = GRUCell(3, 5)
        >>> cell.load_state_dict(torch.nn.GRUCell(3, 5).state_dict())
        <All keys matched successfully>
    """

    def __init__(self, input_size: int, num_units: int):
        super().__init__()
        self.input_size, self.num_units = _check_sizes(input_size, num_units)
        H = num_units
        self.weight_ih = nn.Parameter(torch.empty(3 * H, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * H, H))
        self.bias_ih = nn.Parameter(torch.empty(3 * H))
        self.bias_hh = nn.Parameter(torch.empty(3 * H))
        _uniform_(self, H)

    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """One step.

        Args:
            x: (B, input_size).
            state: (B, num_units), or None for zeros.

        Returns:
            ``(h, h)`` with h: (B, num_units).
        """
        self._check_input(x)
        if state is None:
            state = self.zero_state(x.shape[0], x.dtype, x.device)
        return self.projected_step(nn.functional.linear(x, self.weight_ih, self.bias_ih), state)

    def projected_step(self, xp: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """``forward`` from the projected input ``xp = W_ih x + b_ih`` (B, 3 * num_units).

        Unrollers that project every step at once (``rnnlab.nn.scan``) share the step.
        """
        xr, xz, xn = xp.chunk(3, dim=1)
        hr, hz, hn = nn.functional.linear(state, self.weight_hh, self.bias_hh).chunk(3, dim=1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * state
        return h, h

    def fused_spec(self) -> FusedSpec | None:
        params = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return FusedSpec("GRU", self.num_units, 0, (params,))

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.num_units}"


def _check_sizes(input_size, num_units) -> tuple[int, int]:
    for name, value in (("input_size", input_size), ("num_units", num_units)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name}={value!r} must be a positive int")
    return input_size, num_units


def init_keras_(module: nn.Module) -> nn.Module:
    """Re-initialise every rnnlab cell in ``module`` the way Keras does, in place.

    Keras starts recurrent layers with Glorot-uniform input weights, orthogonal recurrent
    weights and zero biases (LSTM: forget bias 1). On Fashion-MNIST read row by row this
    beats PyTorch's uniform start by about 2 points after 12 epochs, which is why the
    classifier uses it by default. Like Keras, the Glorot and orthogonal inits treat all
    gates of a weight as one matrix (Keras' kernel is (input, gates * units)).

    Returns:
        ``module``, for chaining.
    """
    for cell in module.modules():
        if not isinstance(cell, BasicRNNCell | LSTMCell | GRUCell):
            continue
        with torch.no_grad():
            nn.init.xavier_uniform_(cell.weight_ih)
            # Keras' recurrent kernel is (units, gates * units), orthogonal as a whole;
            # ours is its transpose, so draw Keras' shape and copy the transpose in.
            recurrent = torch.empty(cell.weight_hh.shape[1], cell.weight_hh.shape[0])
            nn.init.orthogonal_(recurrent)
            cell.weight_hh.copy_(recurrent.T)
            cell.bias_ih.zero_()
            cell.bias_hh.zero_()
            if isinstance(cell, LSTMCell):
                H = cell.num_units
                cell.bias_ih[H : 2 * H].fill_(cell.forget_bias)
                if cell.num_proj is not None:
                    nn.init.xavier_uniform_(cell.weight_hr)
                if cell.use_peepholes:
                    for w in (cell.weight_ci, cell.weight_cf, cell.weight_co):
                        w.zero_()
    return module
