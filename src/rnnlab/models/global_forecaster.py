"""A global quantile forecaster: one recurrent encoder for every series of a panel.

Each example is the (normalised) history before an origin, of any length up to the
window; histories of different lengths share a batch through ``dynamic_rnn``'s
``sequence_length``, so a short series is a short sequence, not a padded one::

    x (B, T, F), left-aligned:   [v v v v v 0 0]   length 5
                                 [v v v v v v v]   length 7
    state at each length -> Linear -> (B, H * Q) -> view (B, H, Q) -> sorted along Q

The outputs are H values ahead at each of Q quantile levels, trained with the pinball
loss (:class:`QuantileLoss`), sorted so that the quantiles never cross. In the spirit of
Smyl's ES-RNN (M4's winner, 2020) the caller normalises each window by its series' own
scale and last level, so the model learns one shape across series of any size.

References: Koenker & Bassett 1978 (quantile regression); Smyl 2020, "A hybrid method of
exponential smoothing and recurrent neural networks for time series forecasting".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.nn.cells import BasicRNNCell, GRUCell, LSTMCell
from rnnlab.nn.unroll import dynamic_rnn
from rnnlab.nn.wrappers import MultiRNNCell

CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class GlobalForecasterConfig:
    """Architecture of a ``GlobalForecaster``.

    Attributes:
        cell: "rnn" (tanh), "lstm" or "gru". num_units: units per layer.
        num_layers: stacked layers. horizon: H values forecast at once.
        quantiles: the Q levels in (0, 1), increasing. input_size: features per step.
        skip: how many of the last values a linear layer maps to the outputs beside the
            RNN (0: none).
        future_size: covariates known over the horizon (F): their H values each join
            the head's input (0: none).
        num_series: series of the panel, for an id embedding (0: none).
        id_dim: the id embedding's size (0: none).
    """

    cell: str = "gru"
    num_units: int = 32
    num_layers: int = 1
    horizon: int = 1
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    input_size: int = 1
    skip: int = 0
    future_size: int = 0
    num_series: int = 0
    id_dim: int = 0

    def __post_init__(self):
        if self.cell not in CELLS:
            raise choice_error("cell", self.cell, CELLS)
        for name in ("num_units", "num_layers", "horizon", "input_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}={v!r} must be an int >= 1")
        for name in ("skip", "future_size", "num_series", "id_dim"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name}={v!r} must be an int >= 0")
        if self.id_dim and not self.num_series:
            raise ConfigError(f"id_dim={self.id_dim} needs num_series >= 1")
        q = tuple(float(x) for x in self.quantiles)
        if not q or any(not 0 < x < 1 for x in q) or list(q) != sorted(set(q)):
            raise ConfigError(f"quantiles={self.quantiles!r} must be increasing levels in "
                              "(0, 1)")
        object.__setattr__(self, "quantiles", q)

    def to_dict(self) -> dict:
        return asdict(self)


def _cell(kind: str, input_size: int, units: int):
    if kind == "lstm":
        return LSTMCell(input_size, units)
    if kind == "gru":
        return GRUCell(input_size, units)
    return BasicRNNCell(input_size, units, activation="tanh")


class GlobalForecaster(nn.Module):
    """Direct multi-horizon quantile forecasts from histories of any length.

    Args:
        config: a ``GlobalForecasterConfig``.

    ``forward(x, lengths)``: x (B, T, input_size) left-aligned histories, lengths (B,)
    in [1, T]; returns (B, H, Q) quantile forecasts, non-decreasing along Q.

    Example:
        >>> model = GlobalForecaster(GlobalForecasterConfig(horizon=3))
        >>> model(torch.zeros(2, 5, 1), torch.tensor([5, 2])).shape
        torch.Size([2, 3, 3])
    """

    def __init__(self, config: GlobalForecasterConfig = GlobalForecasterConfig()):
        super().__init__()
        self.config = c = config
        cells = [_cell(c.cell, c.input_size if i == 0 else c.num_units, c.num_units)
                 for i in range(c.num_layers)]
        self.cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
        self.ids = nn.Embedding(c.num_series, c.id_dim) if c.id_dim else None
        head_in = c.num_units + c.horizon * c.future_size + c.id_dim
        self.head = nn.Linear(head_in, c.horizon * len(c.quantiles))
        nn.init.zeros_(self.head.weight)  # starts as the naive forecast (0 = last level)
        nn.init.zeros_(self.head.bias)
        # A linear map of the last lags beside the RNN: the RNN learns what a linear
        # autoregression misses (seasonal shapes are linear in the lags).
        self.skip = nn.Linear(c.skip, c.horizon * len(c.quantiles)) if c.skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    def forward(self, x: Tensor, lengths: Tensor, future: Tensor | None = None,
                ids: Tensor | None = None) -> Tensor:
        """Quantile forecasts of a batch of histories.

        Args:
            x: (B, T, input_size) left-aligned histories: the value, then covariates.
            lengths: (B,) valid steps of each history.
            future: (B, H, future_size) covariates over the horizon (when configured).
            ids: (B,) int64 series indices (with an id embedding).

        Returns:
            (B, H, Q) quantiles, non-decreasing along Q.
        """
        if x.dim() != 3 or x.shape[-1] != self.config.input_size:
            raise ShapeError(f"GlobalForecaster expects x of shape (B, T, "
                             f"{self.config.input_size}); got {tuple(x.shape)}")
        _, state = dynamic_rnn(self.cell, x, sequence_length=lengths)
        if self.config.num_layers > 1:
            state = state[-1]  # the top layer's
        h = state[0] if self.config.cell == "lstm" else state  # (B, U)
        B, H, Q = x.shape[0], self.config.horizon, len(self.config.quantiles)
        parts = [h]
        if self.config.future_size:
            if future is None:
                raise ShapeError("this GlobalForecaster reads future covariates: pass "
                                 f"future of shape (B, {H}, {self.config.future_size})")
            parts.append(future.reshape(B, -1).to(h.dtype))
        if self.ids is not None:
            if ids is None:
                raise ShapeError("this GlobalForecaster has an id embedding: pass ids (B,)")
            parts.append(self.ids(ids))
        y = self.head(torch.cat(parts, dim=1) if len(parts) > 1 else h)  # (B, H * Q)
        if self.skip is not None:
            lags = right_align(x[..., 0], lengths)
            y = y + self.skip(lags[:, -self.config.skip:])
        y = y.view(B, H, Q)  # (B, H, Q)
        return torch.sort(y, dim=-1).values  # quantiles never cross


def right_align(x: Tensor, lengths: Tensor) -> Tensor:
    """(B, T) left-aligned values, (B,) lengths -> (B, T) right-aligned, zeros before.

    ``[a b c 0 0]`` with length 3 becomes ``[0 0 a b c]``.
    """
    _B, T = x.shape
    idx = torch.arange(T, device=x.device)[None, :] - (T - lengths.to(x.device))[:, None]
    out = x.gather(1, idx.clamp_min(0))  # (B, T)
    return out * (idx >= 0)


@dataclass(frozen=True)
class QuantileLoss:
    """Mean pinball loss over the observed targets.

    Args (of a call):
        outputs: (B, H, Q) quantile forecasts.
        targets: (B, H, 2): the values and a 0/1 mask of which are observed (a history
            near the end of a training part has fewer than H values after it).
    """

    quantiles: tuple[float, ...]

    def __call__(self, outputs: Tensor, targets: Tensor) -> Tensor:
        y, mask = targets[..., :1], targets[..., 1:]  # (B, H, 1) each
        q = torch.as_tensor(self.quantiles, dtype=outputs.dtype, device=outputs.device)
        e = y - outputs  # (B, H, Q)
        loss = torch.maximum(q * e, (q - 1) * e) * mask
        return loss.sum() / (mask.sum() * len(self.quantiles)).clamp_min(1.0)


def pinball(y: Tensor, pred: Tensor, q: float) -> Tensor:
    """The pinball loss of one quantile level, elementwise (``y``, ``pred`` broadcast)."""
    e = y - pred
    return torch.maximum(q * e, (q - 1) * e)
