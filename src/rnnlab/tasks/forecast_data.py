"""The forecasting job's data: windows per split part, the loss, and the trained predictor.

``load_data(config)`` turns a :class:`~rnnlab.tasks.forecast_config.ForecastTaskConfig`
into segments of ``window + horizon`` scaled values per part; ``tensors`` makes the
model's inputs and targets from them (relative to each window's last input when
``window_norm`` says so); :class:`LoadedForecast` is a trained model with its scaler, the
object ``load_run`` gives back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from rnnlab.data.series import (
    StandardScaler,
    heldout_segments,
    prepare_series,
    read_series,
    sample_segments,
    split_sizes,
    training_rng,
)
from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import Forecaster, forecast_horizon, predict_next_step
from rnnlab.tasks.forecast_config import DEFAULT_ITERATIONS, ForecastTaskConfig

VAL_WINDOWS = 1000
AR_TRAIN_WINDOWS = 20_000
SPLITS = ("train", "val", "test")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForecastData:
    """Segments of ``window + horizon`` (scaled) values per part, and the scaler.

    Attributes:
        train, val, test: (N, W + H) float64 segments of each part.
        ar_train: the windows the linear baseline is fitted on (the training part; fresh
            training-stream windows when synthetic).
        scaler: the scaler the segments were scaled with.
        column: the value column read (None for the synthetic series).
        times: for each part, the (W + H,) times of its last segment (the one the plots
            draw), or None without a time column. dates: whether those times are dates.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    ar_train: np.ndarray
    scaler: StandardScaler
    column: str | None = None
    times: dict | None = None
    dates: bool = False

    def part(self, split: str) -> np.ndarray:
        """The segments of ``split`` ("train", "val" or "test")."""
        if split not in SPLITS:
            raise ConfigError(f"split={split!r} is not allowed; choose one of: "
                              + ", ".join(map(repr, SPLITS)))
        return getattr(self, split)


def load_data(config: ForecastTaskConfig, horizon: int | None = None, *,
              scaler: StandardScaler | None = None) -> ForecastData:
    """Build the segments for ``config``.

    Args:
        config: the forecasting config (resolved or not).
        horizon: values after each window (default ``config.data.horizon``).
        scaler: scale a file's values with this one (a trained run's) instead of fitting
            one on the training part.

    Returns:
        A ``ForecastData``.
    """
    d = config.data
    H = d.horizon if horizon is None else horizon
    L = d.window + H
    if d.is_synthetic:
        seed = config.fit.seed
        n = (d.iterations or DEFAULT_ITERATIONS) * config.fit.batch_size
        train = sample_segments(n, L, training_rng(seed), d.sampler)
        val_rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
        val = sample_segments(VAL_WINDOWS, L, val_rng, "uniform")
        ar_rng = np.random.default_rng(np.random.SeedSequence([seed, 3]))
        ar = sample_segments(AR_TRAIN_WINDOWS, L, ar_rng, "uniform")
        return ForecastData(train, val, heldout_segments(L), ar, StandardScaler())
    series = read_series(d.series, d.column, time_column=d.time_column,
                         id_column=d.id_column, missing=d.missing)
    ds = prepare_series(series, window=d.window, horizon=H, val_fraction=d.val_fraction,
                        test_fraction=d.test_fraction, scaler=scaler)
    last = series[-1]
    times = None
    if last.times is not None:
        n_train, n_val, _ = split_sizes(last.values.size, d.val_fraction, d.test_fraction)
        bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val),
                  "test": (n_train + n_val, last.values.size)}
        times = {part: last.times[a:b][-L:] for part, (a, b) in bounds.items() if b - a >= L}
    return ForecastData(ds.train.segments, ds.val.segments, ds.test.segments,
                        ds.train.segments, ds.scaler, column=last.column, times=times,
                        dates=last.dates)


def relative_to_last(segments: np.ndarray, window: int) -> np.ndarray:
    """Subtract each window's last input from the whole segment (inputs and targets)."""
    return segments - segments[:, window - 1 : window]


def tensors(segments: np.ndarray, config: ForecastTaskConfig
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, W + H) segments -> inputs (N, W, 1) and targets (N, W + H - 1, 1), float32."""
    window = config.data.window
    if config.relative:
        segments = relative_to_last(segments, window)
    seg = torch.as_tensor(segments, dtype=torch.float32)[..., None]  # (N, W+H, 1)
    return seg[:, :window], seg[:, 1:]  # (N, W, 1), (N, W+H-1, 1)


@dataclass(frozen=True)
class ForecastLoss:
    """MSE of the next-step predictions, plus the direct head's MSE when there is one.

    One target tensor serves both: ``targets[:, :W]`` is each input's next value and
    ``targets[:, W-1:]`` the H values after the window.

    Args (of a call):
        outputs: (B, W, 1), or (B, W + head, 1) from a model with a direct head of
            ``head`` steps (its predictions follow the W next-step ones).
        targets: (B, W + H - 1, 1): the segment without its first value.
    """

    head: int = 0

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        mse = torch.nn.functional.mse_loss
        if self.head == 0:
            return mse(outputs, targets[:, : outputs.shape[1]])
        W = outputs.shape[1] - self.head
        nxt, ahead = outputs[:, :W], outputs[:, W:]  # (B, W, 1), (B, head, 1)
        return mse(nxt, targets[:, :W]) + mse(ahead, targets[:, W - 1 : W - 1 + self.head])


@dataclass
class LoadedForecast:
    """A trained forecaster with its config and scaler, as ``load_run`` returns it.

    ``method`` is how a horizon is forecast: "recursive" (feeding predictions back),
    "direct" (the horizon head), or "auto" (direct when the head covers the steps); a
    run with a direct head saves the one its validation windows chose.
    """

    model: Forecaster
    config: ForecastTaskConfig
    scaler: StandardScaler
    method: str = "auto"

    def forecast(self, history, steps: int) -> np.ndarray:
        """Forecast ``steps`` values after each window, in the series' own units.

        Args:
            history: (W,) or (N, W) values, at least ``config.data.window`` of them (the
                last W are used).
            steps: how many values to forecast.

        Returns:
            (N, steps) or (steps,) float64, as ``history`` was 2-D or 1-D.

        Example:
            >>> f = rnnlab.load_run("runs/sales")        # doctest: +SKIP
            >>> f.forecast(last_28_values, steps=7)      # doctest: +SKIP
        """
        h = np.asarray(history, dtype=np.float64)
        one = h.ndim == 1
        h = np.atleast_2d(h)
        W = self.config.data.window
        if h.ndim != 2 or h.shape[1] < W:
            raise ConfigError(f"history must hold at least window={W} values; got {h.shape}")
        x = self.scaler.transform(h[:, -W:])
        y = self.scaler.inverse_transform(self.ahead(x, steps))
        return y[0] if one else y

    def ahead(self, x: np.ndarray, steps: int) -> np.ndarray:
        """(N, W) scaled windows -> (N, steps) scaled forecasts (``window_norm`` undone)."""
        offset = x[:, -1:] if self.config.relative else 0.0
        method = self.method if steps <= self.model.config.horizon else "recursive"
        return forecast_horizon(self.model, x - offset, steps, method=method) + offset

    def choose_method(self, segments: np.ndarray) -> dict:
        """Pick recursive or direct by the mean absolute error over ``segments``.

        Args:
            segments: (N, W + H) scaled validation windows (H = the head's horizon).

        Returns:
            ``{"method", "val_mae": {"recursive", "direct"}}``; ``self.method`` is set.
        """
        W, H = self.config.data.window, self.model.config.horizon
        mae = {}
        for method in ("recursive", "direct"):
            self.method = method
            mae[method] = float(np.abs(self.ahead(segments[:, :W], H) - segments[:, W:W + H])
                                .mean())
        self.method = min(mae, key=mae.get)
        log.info("multi-step forecasts: %s (validation MAE, scaled: %s)", self.method,
                 {k: round(v, 5) for k, v in mae.items()})
        return {"method": self.method, "val_mae": mae}


    def next_step(self, x: np.ndarray) -> np.ndarray:
        """(N, W) scaled windows -> (N, W) scaled next-step predictions."""
        offset = x[:, -1:] if self.config.relative else 0.0
        return predict_next_step(self.model, x - offset) + offset
