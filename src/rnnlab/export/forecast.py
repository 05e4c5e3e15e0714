"""Export forecasters: a horizon of forecasts in one call, intervals where the model has them.

Both graphs take raw histories in the series' own units and give forecasts in those units;
the preprocessing of each model happens inside the graph:

* :class:`WindowedGraph` (the windowed ``Forecaster``): the last ``window`` values of each
  history (``inputs[b, lengths[b] - window:lengths[b]]``), standardised by the run's
  scaler, taken relative to the last one when the run did (``window_norm="last"``); then
  the direct head when it covers the horizon, else the recursive forecast (each prediction
  fed back, the window re-read from a zero state), as ``forecast_horizon`` does. Output
  ``forecast`` (B, H).
* :class:`GlobalGraph` (an ensemble of ``GlobalForecaster``): each history's own scale
  (its in-sample seasonal-naive MAE) and last level, log values where every value is
  positive (``transform`` "auto"/"log"), the last ``window`` values; the ensemble-mean
  quantiles, moved towards the damped trend's forecast by the predictor's weight (the
  trend's grid search runs inside the graph, over each history's valid steps), the
  split-conformal corrections, mapped back. Outputs ``forecast`` (the median) and
  ``lo_L``/``hi_L`` (B, H) per interval level L, as ``GlobalPredictor.forecast``.

The graphs are built from model objects (:func:`windowed_graph`, :func:`global_graph`);
:func:`graph` is the small run-folder glue. Scaling is computed in float64 inside the graph
from float32 inputs, so series of large magnitude agree with eager rnnlab to float32
precision of their values, not to 1e-5 absolute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch._higher_order_ops.scan import scan

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.export.graph import BATCH, TIME, Graph
from rnnlab.models.forecaster import Forecaster
from rnnlab.models.global_forecaster import GlobalForecaster, right_align
from rnnlab.nn.scan import scan_rnn
from rnnlab.tasks.forecast_smoothing import _DAMPED_GRID
from rnnlab.training.runfolder import RunDir

__all__ = ["GlobalGraph", "WindowedGraph", "feed", "global_graph", "graph", "rows",
           "windowed_graph"]

TASK = "forecast"
_DYNAMIC = {"inputs": {0: BATCH, 1: TIME}, "lengths": {0: BATCH}}


def _last_window(y: Tensor, lengths: Tensor, window: int) -> Tensor:
    """(B, T), (B,) -> (B, window): each history's last ``window`` values (0 before its start)."""
    idx = lengths[:, None] - window + torch.arange(window, device=y.device)[None, :]
    values = y.gather(1, idx.clamp(0, y.shape[1] - 1))
    return torch.where(idx >= 0, values, 0.0)


class WindowedGraph(nn.Module):
    """A windowed ``Forecaster``'s H-step forecast of raw histories, traceable.

    Args:
        model: the trained ``Forecaster`` (input and output size 1).
        window: W, the values each forecast reads.
        horizon: H, the values forecast.
        mean, std: the run's standard scaler.
        relative: windows were taken relative to their last value in training.
        method: "auto" (direct when the head covers the horizon), "direct" or "recursive"
            (a run's ``multistep.json`` choice; "direct" beyond the head is recursive).
    """

    def __init__(self, model: Forecaster, window: int, horizon: int, mean: float = 0.0,
                 std: float = 1.0, relative: bool = False, method: str = "auto"):
        super().__init__()
        if model.config.input_size != 1 or model.config.output_size != 1:
            raise ConfigError("only univariate forecasters (input_size=output_size=1) export")
        self.model = model.eval()
        self.window, self.horizon = int(window), int(horizon)
        self.mean, self.std, self.relative = float(mean), float(std), bool(relative)
        self.direct = model.config.horizon >= self.horizon and method != "recursive"

    def _next_step(self, x: Tensor) -> Tensor:
        """(B, W, 1) -> (B, 1): the prediction after the last step, from a zero state."""
        outputs, _ = scan_rnn(self.model.cell, x)
        return self.model.project(outputs)[:, -1]

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, 1) raw histories, (B,) lengths -> (B, H) forecasts in the same units."""
        y = _last_window(inputs[..., 0].to(torch.float64), lengths, self.window)  # (B, W)
        x = (y - self.mean) / self.std
        offset = x[:, -1:] if self.relative else torch.zeros_like(x[:, -1:])
        seq = (x - offset).to(torch.float32)[..., None]  # (B, W, 1)
        if self.direct:
            _, state = scan_rnn(self.model.cell, seq)
            ahead = self.model.head(self.model.top_h(state))  # (B, horizon * 1)
            scaled = ahead[:, :self.horizon]
        else:
            steps = []
            for _ in range(self.horizon):
                y_t = self._next_step(seq)  # (B, 1)
                steps.append(y_t)
                seq = torch.cat([seq[:, 1:], y_t[:, None]], dim=1)
            scaled = torch.cat(steps, dim=1)  # (B, H)
        out = (scaled.to(torch.float64) + offset) * self.std + self.mean
        return out.to(torch.float32)


def windowed_graph(model: Forecaster, *, window: int, horizon: int, mean: float = 0.0,
                   std: float = 1.0, relative: bool = False, method: str = "auto") -> Graph:
    """A :class:`Graph` of a windowed ``Forecaster``: (inputs, lengths) -> forecast (B, H).

    Args:
        model: the trained ``Forecaster``. window: W. horizon: H values per call.
        mean, std: the run's scaler. relative: ``window_norm="last"`` in training.
        method: how H steps are forecast, as ``LoadedForecast.method``.

    Returns:
        The ``Graph`` (outputs ``("forecast",)``).

    Example:
        >>> from rnnlab.models.forecaster import ForecasterConfig
        >>> g = windowed_graph(Forecaster(ForecasterConfig(num_units=4)), window=20, horizon=3)
        >>> g.outputs
        ('forecast',)
    """
    module = WindowedGraph(model, window, horizon, mean, std, relative, method)
    example = {"inputs": torch.randn(2, window + 2, 1), "lengths": torch.tensor([window + 2,
                                                                                 window])}
    metadata = {"task": TASK, "model": "windowed", "window": window, "horizon": horizon,
                "scaler": {"kind": "standard", "mean": mean, "std": std},
                "relative": relative, "method": "direct" if module.direct else "recursive",
                "levels": []}
    return Graph(module, example, ("forecast",), _DYNAMIC, metadata)


def _quantiles(model: GlobalForecaster, x: Tensor, lengths: Tensor) -> Tensor:
    """``GlobalForecaster.forward`` over scan_rnn: (B, W, 1), (B,) -> (B, H, Q)."""
    c = model.config
    _, state = scan_rnn(model.cell, x, lengths)
    if c.num_layers > 1:
        state = state[-1]
    h = state[0] if c.cell == "lstm" else state  # (B, U)
    y = model.head(h)  # (B, H * Q)
    if model.skip is not None:
        y = y + model.skip(right_align(x[..., 0], lengths)[:, -c.skip:])
    y = y.view(x.shape[0], c.horizon, len(c.quantiles))
    return torch.sort(y, dim=-1).values


class GlobalGraph(nn.Module):
    """A ``GlobalPredictor``'s forecast and intervals of raw histories, traceable.

    Args:
        models: the ensemble (one or more ``GlobalForecaster``).
        window, season: as the predictor's.
        quantiles: the output levels, with 0.5 among them.
        intervals: ``{L: (lo index, hi index, (H,) correction)}`` per interval level.
        log: read positive histories as logs (the predictor's transform is not "none").
        weight: the RNN's share of the median, the rest the damped trend's (1: RNN alone).
    """

    def __init__(self, models: Sequence[GlobalForecaster], window: int, season: int,
                 quantiles: Sequence[float], intervals: Mapping[int, tuple], log: bool,
                 weight: float = 1.0):
        super().__init__()
        self.models = nn.ModuleList(models).eval()
        self.window, self.season, self.log = int(window), int(season), bool(log)
        self.weight = float(weight)
        self.median = list(quantiles).index(0.5)
        self.levels = sorted(intervals)
        self.pairs = [(intervals[L][0], intervals[L][1]) for L in self.levels]
        for L in self.levels:
            self.register_buffer(f"correction_{L}",
                                 torch.as_tensor(np.asarray(intervals[L][2]), dtype=torch.float64))

    def forward(self, inputs: Tensor, lengths: Tensor):
        """(B, T, 1), (B,) -> ``(forecast, lo_L, hi_L, ...)``, each (B, H) float32."""
        T = inputs.shape[1]
        lengths = torch.clamp(lengths, 1, T)
        y = inputs[..., 0].to(torch.float64)  # (B, T)
        valid = torch.arange(T, device=y.device)[None, :] < lengths[:, None]
        logged = torch.zeros_like(lengths, dtype=torch.bool)
        if self.log:
            # Every valid value positive; the padding is left out by `| ~valid`.
            logged = ((y > 0) | ~valid).all(dim=1)
            y = torch.where(logged[:, None] & valid, torch.log(torch.where(valid & (y > 0), y,
                                                                             1.0)), y)
        scale = _series_scale(y, lengths, self.season)  # (B,)
        level = y.gather(1, (lengths - 1)[:, None])[:, 0]  # (B,)
        x = (_last_window(y, lengths, self.window) - level[:, None]) / scale[:, None]
        n = torch.clamp(lengths, max=self.window)
        # The window is right-aligned above; the model reads it left-aligned, zeros after.
        x = _left_align(x, n).to(torch.float32)[..., None]  # (B, W, 1)
        q = torch.stack([_quantiles(m, x, n).to(torch.float64) for m in self.models])
        q = torch.sort(q.mean(dim=0), dim=-1).values  # (B, H, Q)
        s, lev = scale[:, None], level[:, None]
        if self.weight != 1.0:  # GlobalPredictor.combined: every quantile moves with it
            partner = (damped_trend(y, lengths, q.shape[1]) - lev) / s
            q = q + ((1 - self.weight) * (partner - q[..., self.median]))[..., None]
        outs = [q[..., self.median] * s + lev]
        for L, (lo_i, hi_i) in zip(self.levels, self.pairs, strict=True):
            c = getattr(self, f"correction_{L}")[None, :]
            lo, hi = q[..., lo_i] - c, q[..., hi_i] + c
            outs += [torch.minimum(lo, hi) * s + lev, torch.maximum(lo, hi) * s + lev]
        if self.log:
            outs = [torch.where(logged[:, None], torch.exp(o), o) for o in outs]
        return tuple(o.to(torch.float32) for o in outs)


def damped_trend(y: Tensor, lengths: Tensor, horizon: int) -> Tensor:
    """``forecast_smoothing.damped_trend`` of each valid prefix, traceable.

    Args:
        y: (B, T) float64 values, valid first. lengths: (B,) in [1, T]. horizon: H.

    Returns:
        (B, H) float64: each history's forecast, the grid search over its own steps (the
        naive forecast for fewer than 3 values), in the same order of operations as numpy.
    """
    grid = torch.as_tensor(_DAMPED_GRID, dtype=y.dtype, device=y.device)  # (G, 3)
    # Copies, not views: scan refuses a body that closes over aliased tensors.
    a, b, phi = (grid[:, i].contiguous() for i in range(3))
    T = y.shape[1]
    first = y[:, :1]
    second = y.gather(1, torch.clamp(torch.ones_like(lengths), max=T - 1)[:, None])
    zeros = torch.zeros_like(first * a)  # (B, G)
    state = (first + zeros, (second - first) + zeros, zeros.clone())
    t = torch.arange(T, device=y.device)
    valid = ((t[:, None] >= 1) & (t[:, None] < lengths[None, :]))[..., None]  # (T, B, 1)

    def step(carry, xs):
        level, trend, sse = carry
        v, ok = xs  # (B,), (B, 1)
        pred = level + phi * trend
        e = v[:, None] - pred
        new = (pred + a * e, phi * trend + a * b * e, sse + e * e)
        kept = tuple(torch.where(ok, n, o) for n, o in zip(new, carry, strict=True))
        return kept, torch.where(ok, e, 0.0)  # an output the scan needs; unused

    (level, trend, sse), _ = scan(step, state, (y.transpose(0, 1), valid))
    k = torch.argmin(sse, dim=1, keepdim=True)  # (B, 1): the first least, as numpy's
    h = torch.arange(1, horizon + 1, device=y.device, dtype=y.dtype)[None, :]
    damp = torch.cumsum(phi[k[:, 0]][:, None] ** h, dim=1)  # (B, H)
    out = level.gather(1, k) + damp * trend.gather(1, k)
    last = y.gather(1, (lengths - 1)[:, None])
    return torch.where((lengths < 3)[:, None], last, out)


def _left_align(x: Tensor, n: Tensor) -> Tensor:
    """(B, W) right-aligned values with n (B,) valid -> left-aligned, zeros after."""
    W = x.shape[1]
    idx = torch.arange(W, device=x.device)[None, :] + (W - n)[:, None]  # (B, W)
    values = x.gather(1, idx.clamp(max=W - 1))
    return torch.where(idx < W, values, 0.0)


def _series_scale(y: Tensor, lengths: Tensor, season: int) -> Tensor:
    """``forecast_global.series_scale`` of each valid prefix: (B, T), (B,) -> (B,)."""
    T = y.shape[1]
    t = torch.arange(T, device=y.device)[None, :]
    valid = t < lengths[:, None]
    scale = torch.where(valid, y.abs(), 0.0).sum(1) / lengths  # the fallback: mean |y|
    scale = torch.where(scale > 0, scale, 1.0)
    # Lag 1 first, then the season's lag overrides it where defined: series_scale tries the
    # season first and falls back to lag 1, which is the same choice.
    for m in (1, season) if season != 1 else (1,):
        diff = (y - torch.roll(y, m, dims=1)).abs()
        used = valid & (t >= m)
        d = torch.where(used, diff, 0.0).sum(1) / (lengths - m).clamp(min=1)
        scale = torch.where((lengths > m) & (d > 0), d, scale)
    return scale


def _check_exportable(predictor) -> None:
    """Refuse what the global graph does not compute (yet), rather than export it wrong."""
    if getattr(predictor, "weight", 1.0) != 1.0 and getattr(predictor, "partner",
                                                             "damped") != "damped":
        raise ConfigError(f"this global model is combined with {predictor.partner!r} "
                          f"(weight={predictor.weight}), which the exported graph does not "
                          "compute; train it with partner='damped' or combine=False")
    for m in predictor.models:
        c = m.config
        if c.input_size != 1 or getattr(c, "future_size", 0) or getattr(c, "id_dim", 0):
            raise ConfigError("a global model with covariates or an id embedding cannot be "
                              f"exported yet (input_size={c.input_size}, future_size="
                              f"{getattr(c, 'future_size', 0)}, id_dim="
                              f"{getattr(c, 'id_dim', 0)})")


class EnsembleGraph(nn.Module):
    """The mean of several ``GlobalGraph`` outputs, output by output (a
    ``PredictorEnsemble``: each member combined and calibrated on its own)."""

    def __init__(self, members: Sequence[GlobalGraph]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, inputs: Tensor, lengths: Tensor):
        """(B, T, 1), (B,) -> the members' ``(forecast, lo_L, hi_L, ...)``, averaged."""
        outs = [g(inputs, lengths) for g in self.members]
        return tuple(torch.stack(o).to(torch.float64).mean(dim=0).to(torch.float32)
                     for o in zip(*outs, strict=True))


def _member_graph(predictor) -> GlobalGraph:
    from rnnlab.tasks.forecast_global import interval_levels

    _check_exportable(predictor)
    q = list(predictor.quantiles)
    intervals = {L: (q.index(lo), q.index(hi), predictor.corrections.get(
        L, np.zeros(predictor.horizon))) for L, (lo, hi) in interval_levels(q).items()}
    return GlobalGraph(predictor.models, predictor.window, predictor.season, q, intervals,
                       predictor.transform != "none", getattr(predictor, "weight", 1.0))


def global_graph(predictor, *, horizon: int | None = None) -> Graph:
    """A :class:`Graph` of a global forecaster: (inputs, lengths) -> forecast, lo_L, hi_L.

    Args:
        predictor: a ``GlobalPredictor`` or a ``PredictorEnsemble`` of them.
        horizon: must be None or the predictor's horizon (its heads are fixed).
    """
    if horizon not in (None, predictor.horizon):
        raise ConfigError(f"horizon={horizon} is not allowed: this global model forecasts "
                          f"horizon={predictor.horizon} values at once")
    members = [_member_graph(p) for p in getattr(predictor, "members", [predictor])]
    module = members[0] if len(members) == 1 else EnsembleGraph(members)
    W = predictor.window
    example = {"inputs": torch.rand(2, W + 3, 1) + 1, "lengths": torch.tensor([W + 3, 2])}
    levels = members[0].levels
    outputs = ("forecast", *(f"{side}_{L}" for L in levels for side in ("lo", "hi")))
    metadata = {"task": TASK, "model": "global", "window": W, "horizon": predictor.horizon,
                "season": predictor.season, "quantiles": list(predictor.quantiles),
                "levels": levels, "transform": predictor.transform,
                "weight": [g.weight for g in members] if len(members) > 1 else members[0].weight}
    return Graph(module, example, outputs, _DYNAMIC, metadata)


def graph(run: RunDir, *, weights: str = "best", horizon: int | None = None,
          **options) -> Graph:
    """The forecast run's model as a :class:`Graph` (the run-folder glue).

    Args:
        run: a forecast run folder.
        weights: "best" or "last".
        horizon: H values forecast in one call (default: the run's horizon).

    Returns:
        :func:`windowed_graph` or :func:`global_graph` of what the forecast task loads.
    """
    from rnnlab.tasks.base import get_task

    if options:
        raise ConfigError(f"forecast exports take horizon=H only; got {sorted(options)}")
    if horizon is not None and (isinstance(horizon, bool) or not isinstance(horizon, int)
                                or horizon < 1):
        raise ConfigError(f"horizon={horizon!r} must be a positive int")
    loaded = get_task(TASK).load(run, weights=weights)
    if hasattr(loaded, "models"):  # a GlobalPredictor
        return global_graph(loaded, horizon=horizon)
    config = loaded.config
    return windowed_graph(loaded.model, window=config.data.window,
                          horizon=horizon or config.data.horizon, mean=loaded.scaler.mean,
                          std=loaded.scaler.std, relative=config.relative,
                          method=getattr(loaded, "method", "auto"))


def feed(inputs: Mapping[str, Any], metadata: Mapping) -> dict[str, np.ndarray]:
    """Histories -> the graph's inputs.

    Args:
        inputs: ``{"histories": [1-D values, ...]}``, each series' values in time order.
        metadata: the exported file's metadata.

    Returns:
        ``{"inputs": (N, T, 1) float32 left-aligned, "lengths": (N,) int64}``.
    """
    histories = [np.asarray(h, dtype=np.float64).ravel() for h in inputs.get("histories") or ()]
    if not histories:
        raise ConfigError("give the histories to forecast (histories=[values, ...])")
    least = metadata["window"] if metadata["model"] == "windowed" else 1
    for i, h in enumerate(histories):
        if h.size < least:
            raise ShapeError(f"histories[{i}] has {h.size} values; the model reads at least "
                             f"{least}")
    T = max(h.size for h in histories)
    x = np.zeros((len(histories), T, 1), np.float32)
    for i, h in enumerate(histories):
        x[i, :h.size, 0] = h
    return {"inputs": x, "lengths": np.array([h.size for h in histories], np.int64)}


def rows(outputs: Mapping[str, np.ndarray], metadata: Mapping, inputs) -> list[dict]:
    """One row per series: ``{"series": i, "forecast": [H], "lo_L": [H], "hi_L": [H]}``."""
    names = ["forecast", *(f"{side}_{L}" for L in metadata.get("levels", ())
                           for side in ("lo", "hi"))]
    n = len(outputs["forecast"])
    return [{"series": i, **{k: [float(v) for v in outputs[k][i]] for k in names}}
            for i in range(n)]
