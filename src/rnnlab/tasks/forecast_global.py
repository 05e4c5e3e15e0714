"""One global model over many series: examples, training, split-conformal intervals.

``fit_global(histories, ...)`` trains a :class:`~rnnlab.models.global_forecaster.
GlobalForecaster` on every series' training part at once and returns a
:class:`GlobalPredictor` that forecasts each series from its own history.

* **Scaling per series, fitted on the training part only**: each series is divided by
  its in-sample seasonal-naive mean absolute error (the denominator of MASE, so the
  pinball loss is in MASE's units), and each window is taken relative to its last value::

      x = (y[t-L:t] - y[t-1]) / scale      target = (y[t:t+H] - y[t-1]) / scale

* **Every history counts**: a window ends at every position of the training part; one
  shorter than ``window`` is a shorter sequence; targets past the end are masked.
* **Validation and calibration**: each series' last ``val_windows`` whole-horizon
  origins and the H - 1 partial ones after them (its last H + V - 1 values) are held
  out; the model trains on what comes before, stops on their pinball loss, and their
  errors calibrate the intervals by split-conformal quantile regression (Romano et al.
  2019): per level L, the scores ``max(lo - y, y - hi)`` of every step ahead, each
  divided by its step's mean interval width, are pooled, and each step's interval is
  widened (or narrowed) by its width times their ``ceil((n + 1) L) / n`` empirical
  quantile. When every series is too short to hold out H values, each holds out what
  follows its first ``MIN_TRAIN_END`` values, and a step no window reaches takes the
  last reached one's.
* **Refit**: then, by default, the model is trained again on all of the training part for
  the number of epochs validation chose; the widening grows by what the refit narrowed
  the interval on the held-out windows, so the refit keeps the calibrated width.
* An **ensemble** of a few such predictors, one per seed, averages their forecasts
  (``rnnlab.tasks.forecast_ensemble``; Smyl 2020 ensembled too).
* **Combined with exponential smoothing**: the median is moved towards a damped-trend
  forecast (``tasks/forecast_smoothing.py``) by the weight in ``COMBINE_WEIGHTS`` that the
  held-out windows' absolute error prefers, and every quantile moves with it; the
  intervals are calibrated after the move, so their coverage is the combination's. A
  panel too short to hold out whole horizons keeps the RNN alone. ``partner="theta"``
  combines with the Theta method instead.
* **Log values** by default for each series whose training values are all positive
  (growth is then a level shift, as in Smyl's models); quantiles map back through
  ``exp`` exactly, so the intervals keep their calibration.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.config import option
from rnnlab.errors import ConfigError, choice_error
from rnnlab.models.global_forecaster import (
    CELLS,
    GlobalForecaster,
    GlobalForecasterConfig,
    QuantileLoss,
)
from rnnlab.tasks.forecast_covariates import Covariates
from rnnlab.tasks.forecast_smoothing import PARTNERS
from rnnlab.training import FitConfig, fit

log = logging.getLogger(__name__)

TRANSFORMS = ("auto", "none", "log")
#: The fewest values before a held-out origin (the series still trains on 2 windows).
MIN_TRAIN_END = 3
#: Aim for about this many held-out windows over the panel (split-conformal needs some).
CALIBRATION_TARGET = 200
#: A step's interval narrower than this share of the widest step's has no width to
#: scale the pooled conformal scores by (it is calibrated on its own scores).
WIDTH_FLOOR = 0.01
#: The RNN's share of the combined median that validation chooses from (1: the RNN alone).
COMBINE_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def _floats(values) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"quantiles={values!r} must be numbers in (0, 1)") from None


@dataclass(frozen=True)
class GlobalOptions:
    """What the global model adds to a recurrent network: quantiles, ensemble, validation,
    calibration, the combination and the transform (shared by ``rnnlab backtest`` and
    ``rnnlab train forecast``'s global model)."""

    quantiles: tuple = option((0.1, 0.5, 0.9), metavar="Q,Q,...",
                              help="quantile levels; each pair (q, 1 - q) gives an interval")
    ensemble: int = option(3, help="global models trained with seeds seed..seed+N-1, "
                                   "each validated and calibrated on its own, averaged")
    val_windows: int | None = option(None, auto=f"about {CALIBRATION_TARGET} over the "
                                     "panel, at most a quarter of each series",
                                     help="held-out whole-horizon origins per series "
                                          "(stopping, calibration)")
    refit: bool = option(True, help="train again on all the data for the epochs validation "
                                    "chose (--no-refit: keep the validated model)")
    linear_skip: bool = option(True, help="a linear map of the lags beside the RNN "
                               "(--no-linear-skip: the RNN alone)")
    transform: str = option("auto", choices=TRANSFORMS,
                            help="model log values (quantiles map back exactly)",
                            auto="log for each series whose training values are all "
                                 "positive")
    conformal: bool = option(True, help="calibrate the intervals on the held-out windows")
    combine: bool = option(True, help="move the forecast towards --partner's by the weight "
                                      "the held-out windows choose (--no-combine: the RNN "
                                      "alone)")
    partner: str = option("damped", choices=tuple(PARTNERS), help="the statistical forecast "
                          "combined with the RNN's: damped trend (ETS A,Ad,N) or Theta")
    id_embedding: int = option(0, metavar="N", help="learn an N-dimensional embedding of "
                                                    "each series' id (0: none)")

    def __post_init__(self):
        object.__setattr__(self, "quantiles", _floats(self.quantiles))
        if self.transform not in TRANSFORMS:
            raise choice_error("transform", self.transform, TRANSFORMS)
        if self.partner not in PARTNERS:
            raise choice_error("partner", self.partner, tuple(PARTNERS))
        GlobalForecasterConfig(quantiles=self.quantiles)
        if self.val_windows is not None and (isinstance(self.val_windows, bool) or not
                                             isinstance(self.val_windows, int)
                                             or self.val_windows < 1):
            raise ConfigError(f"val_windows={self.val_windows!r} must be an int >= 1 (or "
                              "None: auto)")
        if isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int) or (
                self.ensemble < 1):
            raise ConfigError(f"ensemble={self.ensemble!r} must be an int >= 1")
        if isinstance(self.id_embedding, bool) or not isinstance(self.id_embedding, int) or (
                self.id_embedding < 0):
            raise ConfigError(f"id_embedding={self.id_embedding!r} must be an int >= 0")

    def options(self) -> dict:
        """These fields as keywords (for ``GlobalModelConfig(**options, cell=...)``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(GlobalOptions)}

    def quantile_levels(self) -> tuple[float, ...]:
        """``quantiles`` with the median added (the point forecast) when missing."""
        return tuple(sorted(set(self.quantiles) | {0.5}))


@dataclass(frozen=True)
class GlobalModelConfig(GlobalOptions):
    """The global forecaster and how it is fitted and calibrated (the ``model`` part)."""

    cell: str = option("gru", flag="--model", choices=CELLS, help="the recurrent cell")
    num_units: int = option(32, flag="--units", help="units per layer")
    num_layers: int = option(1, flag="--layers", help="stacked recurrent layers")
    window: int | None = option(None, help="most history values a forecast reads",
                                auto="max(3 * horizon, 2 * season + horizon), at least 12")

    def __post_init__(self):
        super().__post_init__()
        GlobalForecasterConfig(cell=self.cell, num_units=self.num_units,
                               num_layers=self.num_layers, quantiles=self.quantiles)
        if self.window is not None and (isinstance(self.window, bool) or not isinstance(
                self.window, int) or self.window < 1):
            raise ConfigError(f"window={self.window!r} must be an int >= 1 (or None: auto)")

    def window_for(self, horizon: int, season: int) -> int:
        """The resolved ``window``."""
        if self.window is not None:
            return self.window
        return auto_window(horizon, season)


def auto_window(horizon: int, season: int) -> int:
    """The global model's default window: ``max(12, 3 H, 2 season + H)``."""
    return max(12, 3 * horizon, 2 * season + horizon)


@dataclass(frozen=True)
class GlobalFitConfig(FitConfig):
    """``FitConfig`` with the global model's defaults, its main fields on the command line.

    The defaults were chosen by validation (docs/forecasting.md); ``epochs`` is the most
    each member trains, ``patience`` stops it on the held-out windows' pinball loss.
    """

    epochs: int = option(40, help="most passes over the windows per model (more on a "
                                  "small panel: see --min-steps)")
    batch_size: int = option(128, help="windows per optimizer step")
    lr: float = option(3e-3, help="Adam's learning rate")
    patience: int | None = option(6, help="stop after N epochs without improvement on the "
                                          "held-out windows")
    clip_grad_norm: float | None = option(1.0, help="clip the gradient norm (none: do not)")
    max_steps: int | None = option(None, help="stop each fit after N optimizer steps (a "
                                              "quick check)")
    plot: bool = False
    tensorboard: bool = option(False, cli=False)  # one fit per origin and member: none
    min_steps: int = option(1500, help="train for at least this many optimizer steps: a "
                                       "small panel gets more epochs (and patience)")

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.min_steps, bool) or not isinstance(self.min_steps, int) or (
                self.min_steps < 0):
            raise ConfigError(f"min_steps={self.min_steps!r} must be an int >= 0")

    def for_windows(self, n: int) -> FitConfig:
        """The plain ``FitConfig`` for ``n`` training windows: epochs (and patience)
        raised so that training makes at least ``min_steps`` steps."""
        per_epoch = max(1, math.ceil(n / self.batch_size))
        epochs = max(self.epochs, math.ceil(self.min_steps / per_epoch))
        patience = self.patience
        if patience is not None and epochs > self.epochs:
            patience = math.ceil(patience * epochs / self.epochs)
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(FitConfig)}
        return FitConfig(**{**fields, "epochs": epochs, "patience": patience})


def default_global_fit() -> GlobalFitConfig:
    """Training settings of the global model (chosen by validation, docs/forecasting.md)."""
    return GlobalFitConfig()


def interval_levels(quantiles: Sequence[float]) -> dict[int, tuple[float, float]]:
    """``{80: (0.1, 0.9)}``: each symmetric pair of quantile levels as an interval level."""
    out = {}
    for q in quantiles:
        partner = round(1 - q, 10)
        if q < 0.5 and any(math.isclose(partner, p) for p in quantiles):
            out[round(100 * (1 - 2 * q))] = (q, partner)
    return dict(sorted(out.items()))


def series_scale(y: np.ndarray, season: int) -> float:
    """The in-sample seasonal-naive MAE of ``y`` (season 1 when it is too short), > 0."""
    y = np.asarray(y, dtype=np.float64)
    for m in (season, 1):
        if y.size > m:
            d = np.abs(y[m:] - y[:-m]).mean()
            if d > 0:
                return float(d)
    spread = float(np.abs(y).mean()) if y.size else 0.0
    return spread if spread > 0 else 1.0


def make_examples(histories: Sequence[np.ndarray], scales: Sequence[float], ends,
                  window: int, horizon: int, limits: Sequence[int] | None = None):
    """Normalised examples of the histories ending at the given positions.

    Args:
        histories: per series, its values. scales: per series, its scale.
        ends: per series, the positions t (1 <= t) where an input ends (y[:t] is seen).
        window: most values read. horizon: H.
        limits: per series, values a target may use (y[t:min(t+H, limit)]), default all.

    Returns:
        ``(x (N, L, 1), lengths (N,), targets (N, H, 2), series (N,), level (N,))`` as
        numpy arrays, x left-aligned and zero-padded, targets (value, observed).
    """
    xs, lens, ts, who, lev = [], [], [], [], []
    for i, (y, ends_i) in enumerate(zip(histories, ends, strict=True)):
        limit = len(y) if limits is None else limits[i]
        for t in ends_i:
            a = max(0, t - window)
            level, s = y[t - 1], scales[i]
            x = np.zeros(window)
            x[: t - a] = (y[a:t] - level) / s
            tgt = np.zeros((horizon, 2))
            b = min(t + horizon, limit)
            if b > t:
                tgt[: b - t, 0] = (y[t:b] - level) / s
                tgt[: b - t, 1] = 1.0
            xs.append(x), lens.append(t - a), ts.append(tgt), who.append(i), lev.append(level)
    n = len(xs)
    return (np.asarray(xs, dtype=np.float32).reshape(n, window, 1), np.asarray(lens),
            np.asarray(ts, dtype=np.float32).reshape(n, horizon, 2), np.asarray(who),
            np.asarray(lev))


@dataclass(frozen=True)
class Examples:
    """``make_examples``' arrays with the covariates beside them (see ``examples``).

    Attributes:
        x: (N, L, 1 + P + F) inputs. lengths: (N,). targets: (N, H, 2). series: (N,)
        series index of each. level: (N,) last value. future: (N, H, F) covariates over
        the horizon.
    """

    x: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray
    series: np.ndarray
    level: np.ndarray
    future: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def inputs(self) -> tuple[torch.Tensor, ...]:
        """The model's inputs: ``(x, lengths, future, ids)``."""
        return (torch.as_tensor(self.x), torch.as_tensor(self.lengths, dtype=torch.int64),
                torch.as_tensor(self.future), torch.as_tensor(self.series, dtype=torch.int64))

    def data(self) -> tuple:
        """``(inputs, targets)`` for ``fit``."""
        return self.inputs(), torch.as_tensor(self.targets)


def examples(histories: Sequence[np.ndarray], scales: Sequence[float], ends, window: int,
             horizon: int, limits: Sequence[int] | None = None,
             covariates: Covariates | None = None) -> Examples:
    """``make_examples`` with each example's covariates as more input features.

    Args:
        histories, scales, ends, window, horizon, limits: as ``make_examples``.
        covariates: standardised ``Covariates`` aligned with ``histories`` (None: none).

    Returns:
        ``Examples``.
    """
    x, lens, t, who, level = make_examples(histories, scales, ends, window, horizon, limits)
    future = np.zeros((len(x), horizon, 0), dtype=np.float32)
    if covariates is not None and covariates.num_past + covariates.num_future:
        xc, future = covariates.examples(ends, window, horizon)
        x = np.concatenate([x, xc], axis=2)
    return Examples(x, lens, t, who, level, future)


@dataclass
class GlobalPredictor:
    """Trained global models (an ensemble) with their window, scales and calibration.

    Attributes:
        models: the ensemble. window: values read. horizon: H. season: the season.
        quantiles: the output levels. corrections: ``{level: (H,) widening}`` in scaled
            units. history: each member's fit ``History`` (the last one trained).
    """

    models: list[GlobalForecaster]
    window: int
    horizon: int
    season: int
    quantiles: tuple[float, ...]
    corrections: dict[int, np.ndarray]
    epochs: list[int] = dataclasses.field(default_factory=list)
    transform: str = "none"
    weight: float = 1.0
    partner: str = "damped"

    def combined(self, ex: Examples, partner: np.ndarray | None) -> np.ndarray:
        """(N, H, Q) quantiles with the median moved to ``weight`` of the RNN's and the
        rest of ``partner`` (N, H) (scaled units); every quantile moves with it."""
        q = self.raw_quantiles(ex)
        if partner is None or self.weight == 1.0:
            return q
        med = q[..., self.quantiles.index(0.5)]
        return q + ((1 - self.weight) * (partner - med))[..., None]

    def logged(self, histories: Sequence[np.ndarray]) -> list[bool]:
        """Which histories the model reads as logs (all positive, under "auto"/"log")."""
        return [self.transform != "none" and bool((np.asarray(y) > 0).all())
                for y in histories]

    def raw_quantiles(self, ex: Examples) -> np.ndarray:
        """Normalised ``Examples`` -> (N, H, Q) ensemble-mean quantiles."""
        inputs = ex.inputs()
        outs = []
        with torch.no_grad():
            for m in self.models:
                m.eval()
                outs.append(m(*inputs).double().numpy())
        return np.sort(np.mean(outs, axis=0), axis=-1)

    def forecast(self, histories: Sequence[np.ndarray], scales: Sequence[float] | None = None,
                 covariates: Covariates | None = None) -> dict:
        """Forecast H values after the end of each history.

        Args:
            histories: per series, its values (at least one), in the order trained on
                when the model has an id embedding.
            scales: per series, its scale (default: fitted on the history itself; a
                series read as logs always fits its own, on the logs).
            covariates: the covariates the model was trained with, raw, past ones to at
                least each history's end, future ones H values past it.

        Returns:
            ``{"mean": (S, H), "quantiles": (S, H, Q), "lo-L"/"hi-L": (S, H) per level}``
            in the series' units; "mean" is the median.
        """
        logs = self.logged(histories)
        if any(logs):  # quantiles of log values are the logs of the quantiles: map back
            plain = dataclasses.replace(self, transform="none")
            # The scales of log values are fitted on them: the caller's are in raw units.
            out = plain.forecast([np.log(y) if g else y for y, g in zip(histories, logs,
                                                                          strict=True)],
                                 None, covariates)
            logged = np.asarray(logs)
            for v in out.values():  # only the logged rows: exp of raw values may overflow
                v[logged] = np.exp(v[logged])
            return out
        if scales is None:
            scales = [series_scale(y, self.season) for y in histories]
        ends = [[len(y)] for y in histories]
        lengths = [len(y) for y in histories]
        trained = self.models[0].config.num_series if self.models else 0
        if trained and len(histories) != trained:
            raise ConfigError(f"this model embeds the ids of {trained} series; got "
                              f"{len(histories)} histories (give them in the training order)")
        if covariates is not None:
            covariates.check_horizon(lengths, self.horizon,
                                     [f"series {i}" for i in range(len(histories))])
            covariates = covariates.cut(lengths, self.horizon).standardized(lengths)
        ex = examples(histories, scales, ends, self.window, self.horizon,
                      covariates=covariates)
        level = ex.level
        partner = None if self.weight == 1.0 else partner_forecasts(
            histories, scales, ends, self.horizon, self.season, self.partner)
        q = self.combined(ex, partner)  # (S, H, Q), scaled
        s = np.asarray(scales)[:, None, None]
        out = {"quantiles": q * s + level[:, None, None],
               "mean": q[..., self.quantiles.index(0.5)] * s[..., 0] + level[:, None]}
        for L, (lo_q, hi_q) in interval_levels(self.quantiles).items():
            c = self.corrections.get(L, np.zeros(self.horizon))[None, :]
            lo = q[..., self.quantiles.index(lo_q)] - c
            hi = q[..., self.quantiles.index(hi_q)] + c
            lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
            out[f"lo-{L}"] = lo * s[..., 0] + level[:, None]
            out[f"hi-{L}"] = hi * s[..., 0] + level[:, None]
        return out


def partner_forecasts(histories: Sequence[np.ndarray], scales: Sequence[float], ends,
                      horizon: int, season: int, partner: str = "damped") -> np.ndarray:
    """The partner's forecasts at the given ends, in ``make_examples``' order and units.

    Args:
        histories: per series, its values. scales: per series, its scale.
        ends: per series, the positions t a forecast starts from (y[:t] is seen).
        horizon: H. season: the season length. partner: a key of ``PARTNERS``.

    Returns:
        (N, H) float64: ``(forecast - y[t - 1]) / scale`` per end.
    """
    method = PARTNERS[partner]
    rows = [(method(y[:t], horizon, season) - y[t - 1]) / s
            for y, s, ends_i in zip(histories, scales, ends, strict=True) for t in ends_i]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), horizon)


def _choose_weight(p: GlobalPredictor, val: Examples, partner: np.ndarray) -> float:
    """The weight of ``COMBINE_WEIGHTS`` with the least held-out absolute error."""
    targets = val.targets
    med = p.raw_quantiles(val)[..., p.quantiles.index(0.5)]  # (N, H)
    y, seen = targets[..., 0].astype(np.float64), targets[..., 1] > 0
    errors = {w: float(np.abs(w * med + (1 - w) * partner - y)[seen].mean())
              for w in COMBINE_WEIGHTS}
    best = min(errors, key=errors.get)
    log.info("held-out MAE (scaled) by the RNN's weight: %s; chose %.2f",
             {w: round(e, 4) for w, e in errors.items()}, best)
    return best


def _val_windows(lengths: Sequence[int], horizon: int, asked: int | None) -> int:
    """Whole-horizon held-out origins per series: about ``CALIBRATION_TARGET`` over the
    panel, at most a quarter of the median series (0: every series is too short)."""
    eligible = [n for n in lengths if n - horizon >= MIN_TRAIN_END]
    if asked is not None:
        return asked
    if not eligible:
        return 0
    v = math.ceil(CALIBRATION_TARGET / len(eligible))
    return max(1, min(v, max(1, int(np.median(eligible)) // 4)))


def _held_out_ends(lengths: Sequence[int], horizon: int, asked: int | None
                   ) -> tuple[list[list[int]], bool]:
    """Per series, the held-out origins, and whether they include whole horizons.

    Every origin after a series' cut is held out: its V whole-horizon origins and the
    H - 1 after them, which see fewer than H values (masked)::

        y:  t t t t t t t | v v v v v      cut = n - H - V + 1; origins cut .. n - 1
                          ^ the first of the H + V - 1 held-out origins (V = 2, H = 4)

    The partial origins cost no training data and are the most recent (validation chose
    them: MASE lower on 5 of 7 panels, none higher). When every series is too short for a
    whole horizon, each holds out what follows its first ``MIN_TRAIN_END`` values.
    """
    V = _val_windows(lengths, horizon, asked)
    if V == 0:
        return [list(range(MIN_TRAIN_END, n)) for n in lengths], False
    firsts = [n - horizon - min(V - 1, n - horizon - MIN_TRAIN_END) for n in lengths]
    return [list(range(f, n)) if n - horizon >= MIN_TRAIN_END else []
            for f, n in zip(firsts, lengths, strict=True)], True


def fit_global(histories: Sequence[np.ndarray], *, horizon: int, season: int,
               model: GlobalModelConfig = GlobalModelConfig(),
               fit_config: FitConfig | None = None,
               callbacks: Iterable = (), covariates: Covariates | None = None
               ) -> GlobalPredictor:
    """Train one global model on ``histories`` and calibrate it (the ensemble of
    ``model.ensemble`` such models is ``forecast_ensemble.fit_ensemble``'s).

    Args:
        histories: per series, its training values (1-D, any length >= 1).
        horizon: H. season: the season length of the scale (1: none).
        model: the model part (``ensemble`` is read by ``fit_ensemble``, not here).
        fit_config: training settings (default ``default_global_fit()``); its seed
            seeds the network.
        callbacks: ``rnnlab.train`` callbacks for each fit (validated, then refit).
        covariates: raw covariates aligned with ``histories`` (past ones to each
            history's end at least; future ones may run on: they are cut here).

    Returns:
        A ``GlobalPredictor``.

    Example:
        >>> y = [np.sin(np.arange(60) / 3) + 2, np.cos(np.arange(40) / 3) + 2]
        >>> p = fit_global(y, horizon=4, season=1)          # doctest: +SKIP
        >>> p.forecast(y)["mean"].shape                     # doctest: +SKIP
        (2, 4)
    """
    fit_config = fit_config or default_global_fit()
    histories = [np.asarray(y, dtype=np.float64) for y in histories]
    if model.transform == "log" and not all(bool((y > 0).all()) for y in histories):
        raise ConfigError("transform='log' needs positive values; a series has one <= 0 "
                          "(use transform='auto': logs of the positive series only)")
    logs = GlobalPredictor([], 0, 0, 0, (), {}, transform=model.transform).logged(histories)
    histories = [np.log(y) if g else y for y, g in zip(histories, logs, strict=True)]
    lengths = [len(y) for y in histories]
    if covariates is not None:
        # Future values past a history's end are known only at its own forecast.
        covariates = covariates.cut(lengths, 0).standardized(lengths)
    W = model.window_for(horizon, season)
    Q = model.quantile_levels()
    scales = [series_scale(y, season) for y in histories]
    val_ends, whole = _held_out_ends(lengths, horizon, model.val_windows)
    cuts = [min(v) if v else n for v, n in zip(val_ends, lengths, strict=True)]
    train = examples(histories, scales, [range(1, c) for c in cuts], W, horizon,
                     limits=cuts, covariates=covariates)
    val = examples(histories, scales, val_ends, W, horizon, covariates=covariates)
    if len(val) == 0:
        log.warning("no series is long enough to hold out values after %d: no early "
                    "stopping, and the intervals are the model's quantiles, uncalibrated",
                    MIN_TRAIN_END)
    if len(train) == 0:
        raise ConfigError("the training parts hold too few values to train on; use a "
                          "shorter horizon or fewer windows")
    if isinstance(fit_config, GlobalFitConfig):
        fit_config = fit_config.for_windows(len(train))
    arch = GlobalForecasterConfig(
        cell=model.cell, num_units=model.num_units, num_layers=model.num_layers,
        horizon=horizon, quantiles=Q, skip=W if model.linear_skip else 0,
        input_size=train.x.shape[2], future_size=train.future.shape[2],
        num_series=len(histories) if model.id_embedding else 0, id_dim=model.id_embedding)
    net, epoch = _train(arch, train, val, fit_config, callbacks)
    predictor = GlobalPredictor([net], W, horizon, season, Q, {}, [epoch],
                                partner=model.partner)
    partner = None
    # The fallback windows (after MIN_TRAIN_END values) say little of a forecast from a
    # whole history: on a panel of short series they chose a worse weight (fertility20).
    if model.combine and whole and len(val):
        partner = partner_forecasts(histories, scales, val_ends, horizon, season,
                                    model.partner)
        predictor.weight = _choose_weight(predictor, val, partner)
    if model.conformal and len(val):
        predictor.corrections = _calibrate(predictor, val, partner)
    if model.refit and len(val):
        full = examples(histories, scales, [range(1, n) for n in lengths], W, horizon,
                        covariates=covariates)
        _refit(predictor, arch, full, val, fit_config, callbacks)
    predictor.transform = model.transform
    return predictor


def _refit(p: GlobalPredictor, arch: GlobalForecasterConfig, full: Examples,
           val: Examples, fit_config: FitConfig, callbacks: Iterable) -> None:
    """Train each member again on every window for the epochs validation chose; the
    widening then grows by what the refit narrowed the interval (``_keep_width``)."""
    refit_config = dataclasses.replace(fit_config, patience=None)
    models = [_train(arch, full, None, dataclasses.replace(
        refit_config, seed=fit_config.seed + k, epochs=max(1, e)), callbacks)[0]
        for k, e in enumerate(p.epochs)]
    if p.corrections:
        p.corrections = _keep_width(p, models, val)
    p.models = models


def _train(arch: GlobalForecasterConfig, train: Examples, val: Examples | None,
           fit_config: FitConfig, callbacks: Iterable) -> tuple[GlobalForecaster, int]:
    """One network (seeded by ``fit_config.seed``) and its best epoch (the last one
    without held-out windows)."""
    has_val = val is not None and len(val) > 0
    torch.manual_seed(fit_config.seed)
    net = GlobalForecaster(arch)
    hist = fit(net, train.data(), loss_fn=QuantileLoss(arch.quantiles),
               config=dataclasses.replace(fit_config, restore_best=has_val),
               val_data=val.data() if has_val else None, callbacks=callbacks)
    return net, int(hist.best_epoch if has_val and hist.best_epoch else len(hist.rows))


def _calibrate(p: GlobalPredictor, val: Examples, partner: np.ndarray | None = None
               ) -> dict[int, np.ndarray]:
    """Split-conformal widening per level and step ahead, from the held-out windows.

    The scores ``max(lo - y, y - hi)`` of every step are pooled, each divided by its
    step's spread (the interval's mean width there over the windows), so that one
    ``ceil((n + 1) L) / n`` quantile c of all n scores sets each step's widening
    ``c * spread_h``: less noisy than a quantile of each step's few, correlated windows.
    A step whose interval has (almost) no width, under ``WIDTH_FLOOR`` of the widest
    step's (its head never saw a target, on a panel of very short series), says
    nothing of the scale: it takes the quantile of its own scores,
    and is left out of the pool (dividing by its zero width once widened every step by
    1e9). A step that no held-out window reaches takes the last reached step's widening.
    """
    q = p.combined(val, partner)  # (N, H, Q)
    y = val.targets[..., 0].astype(np.float64)  # (N, H)
    seen = val.targets[..., 1] > 0  # (N, H): which steps each window observes
    reached = seen.any(axis=0)  # (H,)
    out = {}
    for L, (lo_q, hi_q) in interval_levels(p.quantiles).items():
        lo, hi = q[..., p.quantiles.index(lo_q)], q[..., p.quantiles.index(hi_q)]
        scores = np.maximum(lo - y, y - hi)  # (N, H): > 0 outside the interval
        spread = np.array([(hi - lo)[seen[:, h], h].mean() if reached[h] else 0.0
                           for h in range(p.horizon)])
        wide = reached & (spread > WIDTH_FLOOR * spread.max())
        widen = np.array([_conformal(scores[seen[:, h], h], L) if reached[h] else 0.0
                          for h in range(p.horizon)])
        if wide.any():
            ratios = (scores[:, wide] / spread[wide])[seen[:, wide]]
            widen[wide] = _conformal(ratios, L) * spread[wide]
        out[L] = _carry_forward(widen, reached)
    return out


def _conformal(scores: np.ndarray, level: int) -> float:
    """The ``ceil((n + 1) L) / n`` empirical quantile of n scores (L in percent)."""
    q = min(1.0, math.ceil((scores.size + 1) * level / 100) / scores.size)
    return float(np.quantile(scores, q, method="higher"))


def _carry_forward(widen: np.ndarray, reached: np.ndarray) -> np.ndarray:
    """(H,) widening with each step no window reached given the previous step's."""
    widen = np.array(widen, dtype=np.float64)
    for h in range(widen.size):
        if not reached[h]:
            widen[h] = widen[h - 1] if h else 0.0
    return widen


def _keep_width(p: GlobalPredictor, refit: list[GlobalForecaster], val: Examples
                ) -> dict[int, np.ndarray]:
    """The widening that gives the refit models the calibrated interval's mean width.

    The refit models train on the held-out windows too and forecast narrower intervals
    than the models the windows calibrated (without a refit the validation backtests'
    coverage was 0.86 on macro against 0.75 with it); per level and step, the widening
    grows by half the mean width lost on the held-out windows' inputs.
    """
    before = p.raw_quantiles(val)  # (N, H, Q)
    after = dataclasses.replace(p, models=refit).raw_quantiles(val)
    seen = val.targets[..., 1] > 0  # (N, H)
    reached = seen.any(axis=0)
    out = {}
    for L, (lo_q, hi_q) in interval_levels(p.quantiles).items():
        i, j = p.quantiles.index(lo_q), p.quantiles.index(hi_q)
        lost = ((before[..., j] - before[..., i]) - (after[..., j] - after[..., i])) / 2
        shift = np.array([lost[seen[:, h], h].mean() if reached[h] else 0.0
                          for h in range(p.horizon)])
        out[L] = _carry_forward(p.corrections[L] + shift, reached)
    return out
