"""A recurrent forecaster: next-step regression over windows, and multi-step forecasts.

The notebook trains a relu ``BasicRNNCell(100)`` to map a window of 20 values to the same
window one step later, projecting each step's 100 outputs to one value. It shows the
projection two ways, and ``Forecaster`` offers both:

* ``projection="wrapper"``: ``OutputProjectionWrapper(cell, 1)``, the projection applied
  inside the loop at every step;
* ``projection="dense"``: one ``nn.Linear`` over the stacked outputs::

      outputs (B, T, H) -> view (B*T, H) -> Linear -> (B*T, O) -> view (B, T, O)

Given the same weights they compute the same function (a test checks it). ``dynamic_rnn``
already runs a wrapped fused cell by projecting after the fused kernel; the wrapper pays
for the loop only with ``backend="loop"`` or an unfusable cell.

An optional direct head (``horizon > 0``) reads the top layer's final state and predicts
the next ``horizon`` values at once. Without it, ``forecast_horizon`` feeds predictions
back, as the book's "creative" generation does (``generate``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.nn.cells import BasicRNNCell, GRUCell, LSTMCell, init_keras_
from rnnlab.nn.unroll import dynamic_rnn
from rnnlab.nn.wrappers import DropoutWrapper, MultiRNNCell, OutputProjectionWrapper

log = logging.getLogger(__name__)

CELLS = ("rnn", "lstm", "gru")
PROJECTIONS = ("dense", "wrapper")
INITS = ("torch", "keras")
BACKENDS = ("auto", "fused", "loop")


@dataclass(frozen=True)
class ForecasterConfig:
    """Architecture of a ``Forecaster``.

    Attributes:
        cell: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        num_units: units per layer. num_layers: stacked layers.
        activation: the rnn cell's ``"relu"`` (the notebook's) or ``"tanh"``; ignored by
            lstm and gru.
        dropout: drop probability on each layer's output but the last (0 = none).
        projection: ``"dense"`` or ``"wrapper"`` (see module doc).
        input_size: features per step. output_size: values predicted per step.
        horizon: steps of the direct multi-horizon head; 0 for none.
        init: ``"torch"`` (uniform) or ``"keras"`` (Glorot/orthogonal, zero bias, as TF1).
        backend: ``dynamic_rnn``'s backend: ``"auto"``, ``"fused"`` or ``"loop"``.
    """

    cell: str = "rnn"
    num_units: int = 100
    num_layers: int = 1
    activation: str = "relu"
    dropout: float = 0.0
    projection: str = "dense"
    input_size: int = 1
    output_size: int = 1
    horizon: int = 0
    init: str = "torch"
    backend: str = "auto"

    def __post_init__(self):
        for name, allowed in (("cell", CELLS), ("projection", PROJECTIONS), ("init", INITS),
                              ("backend", BACKENDS)):
            if getattr(self, name) not in allowed:
                raise choice_error(name, getattr(self, name), allowed)
        if self.cell == "rnn" and self.activation not in ("relu", "tanh"):
            raise choice_error("activation", self.activation, ("relu", "tanh"))
        for name in ("num_units", "num_layers", "input_size", "output_size"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}={v!r} must be a positive int")
        if not isinstance(self.horizon, int) or self.horizon < 0:
            raise ConfigError(f"horizon={self.horizon!r} must be an int >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout!r} must be in [0, 1)")

    def to_dict(self) -> dict:
        return asdict(self)


def _make_cell(config: ForecasterConfig, input_size: int):
    H = config.num_units
    if config.cell == "rnn":
        return BasicRNNCell(input_size, H, activation=config.activation)
    if config.cell == "lstm":
        return LSTMCell(input_size, H)
    return GRUCell(input_size, H)


class Forecaster(nn.Module):
    """Sequence-to-sequence next-step regression with an optional direct horizon head.

    Args:
        config: a ``ForecasterConfig``.

    Inputs ``x``: (B, T, input_size). ``forward`` returns the next-step predictions
    (B, T, output_size); with ``horizon > 0`` the head's (B, horizon, output_size) follow
    them along the time axis: (B, T + horizon, output_size).

    Example:
        >>> model = Forecaster(ForecasterConfig(num_units=8))
        >>> model(torch.zeros(4, 20, 1)).shape
        torch.Size([4, 20, 1])
    """

    def __init__(self, config: ForecasterConfig = ForecasterConfig()):
        super().__init__()
        self.config = config
        c = config
        cells = []
        for layer in range(c.num_layers):
            cell = _make_cell(c, c.input_size if layer == 0 else c.num_units)
            if c.dropout > 0 and layer < c.num_layers - 1:
                cell = DropoutWrapper(cell, output_keep_prob=1.0 - c.dropout)
            cells.append(cell)
        core = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
        if c.projection == "wrapper":
            self.cell = OutputProjectionWrapper(core, c.output_size)
            self.dense = None
        else:
            self.cell = core
            self.dense = nn.Linear(c.num_units, c.output_size)
        self.head = nn.Linear(c.num_units, c.horizon * c.output_size) if c.horizon else None
        if c.init == "keras":
            init_keras_(self)

    def project(self, outputs: Tensor) -> Tensor:
        """The per-step projection for ``projection="dense"`` (identity for the wrapper).

        Args:
            outputs: (B, T, H).

        Returns:
            (B, T, output_size).
        """
        if self.dense is None:
            return outputs
        B, T, H = outputs.shape
        y = self.dense(outputs.reshape(B * T, H))  # (B*T, O)
        return y.view(B, T, -1)  # (B, T, O)

    def forward(self, x: Tensor, state=None) -> Tensor:
        """Next-step predictions for every step of ``x``, then the horizon head's, if any.

        Args:
            x: (B, T, input_size).
            state: initial state of the cell, or None for zeros.

        Returns:
            (B, T, output_size); with a horizon head (B, T + horizon, output_size), the
            head's predictions appended after the T next-step ones (one tensor, so any
            trainer can handle it; ``split_outputs`` takes it apart).
        """
        y, state = self.run(x, state)
        if self.head is None:
            return y
        ahead = self.head(self.top_h(state)).view(x.shape[0], self.config.horizon, -1)
        return torch.cat([y, ahead], dim=1)  # (B, T + horizon, O)

    def split_outputs(self, y: Tensor) -> tuple[Tensor, Tensor | None]:
        """``forward``'s output -> (next-step (B, T, O), head's (B, horizon, O) or None)."""
        h = self.config.horizon
        return (y, None) if h == 0 else (y[:, :-h], y[:, -h:])

    def run(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        """Unroll over ``x``: ``(next-step predictions (B, T, O), final state)``."""
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise ShapeError(
                f"Forecaster expects inputs (B, T, {self.config.input_size}); got {tuple(x.shape)}"
            )
        outputs, state = dynamic_rnn(self.cell, x, initial_state=state,
                                     backend=self.config.backend)
        return self.project(outputs), state

    def top_h(self, state) -> Tensor:
        """The top layer's h (B, num_units) from the cell's state."""
        if self.config.num_layers > 1:
            state = state[-1]  # a stack's state is one state per layer, bottom first
        if self.config.cell == "lstm":
            state = state[0]  # (h, c)
        return state

    def step(self, x_t: Tensor, state=None) -> tuple[Tensor, object]:
        """One step: ``(prediction (B, output_size), new state)`` from ``x_t`` (B, input_size)."""
        out, state = self.cell(x_t, state)
        if self.dense is not None:
            out = self.dense(out)
        return out, state


# --------------------------------------------------------------------------- forecasting


def _as_windows(seed, model: Forecaster) -> Tensor:
    """(W,), (B, W) or (B, W, F) arrays or tensors -> (B, W, F) on the model's device."""
    p = next(model.parameters())
    x = torch.as_tensor(np.asarray(seed) if not isinstance(seed, Tensor) else seed)
    x = x.to(device=p.device, dtype=p.dtype)
    if x.dim() == 1:
        x = x[None, :, None]
    elif x.dim() == 2:
        x = x[..., None]
    if x.dim() != 3 or x.shape[-1] != model.config.input_size or x.shape[1] < 1:
        raise ShapeError(
            f"seed windows must be (W,), (B, W) or (B, W, {model.config.input_size}); "
            f"got {tuple(x.shape)}"
        )
    return x


class _EvalMode:
    def __init__(self, model: nn.Module):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()
        self.grad = torch.no_grad()
        self.grad.__enter__()

    def __exit__(self, *exc):
        self.grad.__exit__(*exc)
        self.model.train(self.was_training)


def _next_step(model: Forecaster, x: Tensor) -> Tensor:
    return model.split_outputs(model(x))[0]


def generate(model: Forecaster, seed_window, steps: int, *, stateful: bool = False) -> Tensor:
    """Forecast ``steps`` values by feeding each prediction back as the next input.

    The book's "creative" generation: start from a seed window, predict the next value,
    append it, and predict again from the last ``W`` values. By default each prediction
    re-reads a window of ``W`` values from a zero state, exactly as in training.
    ``stateful=True`` instead keeps the state and feeds one value per step (``W`` times
    cheaper, but the state then spans more steps than the model ever trained on).

    Args:
        model: a trained ``Forecaster`` with ``input_size == output_size``.
        seed_window: (W,), (B, W) or (B, W, F) values (array or tensor).
        steps: how many values to generate.

    Returns:
        (B, steps, F) predictions (no gradient), on the model's device.

    Example:
        >>> model = Forecaster(ForecasterConfig(num_units=8))
        >>> generate(model, np.zeros(20), 5).shape
        torch.Size([1, 5, 1])
    """
    c = model.config
    if c.input_size != c.output_size:
        raise ConfigError(
            f"generate feeds predictions back as inputs, so it needs input_size == output_size; "
            f"got {c.input_size} and {c.output_size}"
        )
    if not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps={steps!r} must be an int >= 0")
    x = _as_windows(seed_window, model)
    W = x.shape[1]
    preds = []
    with _EvalMode(model):
        if stateful:
            y, state = model.run(x)
            y_t = y[:, -1]  # (B, O)
            for _ in range(steps):
                preds.append(y_t)
                y_t, state = model.step(y_t, state)
        else:
            seq = x
            for _ in range(steps):
                y_t = _next_step(model, seq[:, -W:])[:, -1]  # (B, O)
                preds.append(y_t)
                seq = torch.cat([seq[:, 1:], y_t[:, None]], dim=1)
    if not preds:
        return x.new_zeros(x.shape[0], 0, c.output_size)
    return torch.stack(preds, dim=1)  # (B, steps, O)


def forecast_horizon(
    model: Forecaster,
    inputs,
    steps: int,
    *,
    method: str = "auto",
    batch_size: int = 1024,
) -> np.ndarray:
    """Forecast ``steps`` values after each window of held-out data.

    Args:
        model: a ``Forecaster`` (input and output size 1).
        inputs: (N, W) windows (numpy or tensor).
        steps: H, values to forecast after each window.
        method: ``"direct"`` (the horizon head; needs ``horizon >= steps``), ``"recursive"``
            (``generate``), or ``"auto"``: direct when the head covers ``steps``.
        batch_size: windows per forward pass.

    Returns:
        (N, steps) float64 predictions.
    """
    if method not in ("auto", "direct", "recursive"):
        raise choice_error("method", method, ("auto", "direct", "recursive"))
    h = model.config.horizon
    if method == "direct" and h < steps:
        raise ConfigError(f"method='direct' needs a horizon head of >= {steps} steps; "
                          f"this model's horizon is {h}")
    direct = method == "direct" or (method == "auto" and h >= steps)
    inputs = np.asarray(inputs.cpu() if isinstance(inputs, Tensor) else inputs)
    if inputs.ndim != 2:
        raise ShapeError(f"inputs must be (N, W); got shape {inputs.shape}")
    out = []
    for i in range(0, len(inputs), batch_size):
        x = _as_windows(inputs[i : i + batch_size], model)
        if direct:
            with _EvalMode(model):
                _, ahead = model.split_outputs(model(x))
            y = ahead[:, :steps]
        else:
            y = generate(model, x, steps)
        out.append(y[..., 0].double().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, steps))


def predict_next_step(model: Forecaster, inputs, *, batch_size: int = 1024) -> np.ndarray:
    """The model's next-step predictions over windows (the notebook's evaluation).

    Args:
        inputs: (N, W) windows.

    Returns:
        (N, W) float64: entry ``[n, t]`` predicts the value after ``inputs[n, t]``.
    """
    inputs = np.asarray(inputs.cpu() if isinstance(inputs, Tensor) else inputs)
    out = []
    with _EvalMode(model):
        for i in range(0, len(inputs), batch_size):
            y = _next_step(model, _as_windows(inputs[i : i + batch_size], model))
            out.append(y[..., 0].double().cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, inputs.shape[1]))
