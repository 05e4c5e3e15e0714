"""The forecasting job: data, ``Forecaster``, ``fit`` and the run folder, wired together.

``train_forecast(ForecastConfig(...), run_dir=...)`` trains on either

* the notebook's synthetic series, by iterations: each iteration a fresh batch of windows
  (``iterations=1500, batch_size=50, window=20``, the notebook's), drawn up front from
  ``training_rng(seed)`` so a run is reproducible and resumable; or
* a user's series (CSV/Parquet), by epochs over the chronological training part, with the
  validation part monitored and the scaler fitted on training rows only.

``evaluate_forecast(RUN_DIR)`` scores the trained model on held-out windows (the fixed
``HELDOUT_SIZE`` synthetic windows, or the test part of the user's series) beside the
baselines, in the series' own units, and draws the notebook's plots into the folder.

Metrics. ``mse``/``mae`` score the forecast of the ``steps`` values *after* each full
window. ``next_step_mse`` is the notebook's training metric: next-step error averaged over
all W positions of the window, including the first, where the model has seen one value.
On the synthetic series that first position alone has a Bayes floor of about 0.60 (many
points of the curve share a value and differ in slope), so no model that reads each window
from a zero state gets ``next_step_mse`` below about 0.03 at W=20; see docs/forecasting.md.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from rnnlab.baselines import baseline_predictions, errors
from rnnlab.data.series import (
    RESOLUTION,
    SAMPLERS,
    StandardScaler,
    heldout_segments,
    prepare_series,
    read_series,
    sample_segments,
    time_series,
    training_rng,
)
from rnnlab.distributed import is_main_process
from rnnlab.errors import ConfigError, choice_error
from rnnlab.models.forecaster import (
    Forecaster,
    ForecasterConfig,
    forecast_horizon,
    predict_next_step,
)
from rnnlab.plots_forecast import (
    plot_forecast,
    plot_prediction,
    plot_series_with_window,
    save_figure,
)
from rnnlab.runs import RunDir, load_weights, register_task
from rnnlab.runtime import resolve_device
from rnnlab.train import Callback, FitConfig, History, fit

log = logging.getLogger(__name__)

TASK = "forecast"
SCALER = "scaler.json"
EVALUATION = "evaluation.json"
SYNTHETIC = "synthetic"
DEFAULT_ITERATIONS = 1500
DEFAULT_EPOCHS = 20
VAL_WINDOWS = 1000
AR_TRAIN_WINDOWS = 20_000
NOTEBOOK_T_START = 12.2
WINDOW_NORMS = ("auto", "none", "last")


@dataclass(frozen=True)
class ForecastConfig:
    """Everything a forecasting run needs; saved in the run folder's ``config.json``.

    Attributes:
        series: ``"synthetic"`` (the notebook's) or a path to a CSV/Parquet file.
        column, time_column, id_column, missing: how to read the file (``read_series``).
        window: input steps W. horizon: values forecast after each window, H.
        period: season length for the seasonal naive baseline (None: not reported).
        val_fraction, test_fraction: chronological split of a file's series.
        sampler: the synthetic window sampler, ``"uniform"`` or ``"notebook"``.
        window_norm: ``"last"`` subtracts each window's last input from the window and its
            targets (the model learns changes, so a trending series whose test part lies
            above everything seen in training still forecasts well), ``"none"`` keeps
            levels, ``"auto"`` is "last" for a file and "none" for the synthetic series
            (the notebook's setting).
        model, units, layers, activation, dropout, projection, init: the ``Forecaster``.
        direct_head: add a head that predicts all H values from the last state.
        iterations: batches for the synthetic series (default 1500).
        epochs: passes over a file's training windows (default 20).
        batch_size, lr, clip_grad_norm, schedule, patience: training (``FitConfig``).
        seed: data sampling, initialisation and shuffling. device: "auto", "cpu", "cuda".
        max_steps: stop after this many optimizer steps (a smoke test).

    The defaults are the notebook's: a relu RNN of 100 units, Adam at 1e-3, batch 50,
    window 20, 1500 iterations. They reach a held-out forecast MSE of about 6e-4 on the
    synthetic series (docs/forecasting.md has the measurements and the alternatives).
    """

    series: str = SYNTHETIC
    column: str | None = None
    time_column: str | None = None
    id_column: str | None = None
    missing: str = "error"
    window: int = 20
    horizon: int = 1
    period: int | None = None
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    sampler: str = "uniform"
    window_norm: str = "auto"
    model: str = "rnn"
    units: int = 100
    layers: int = 1
    activation: str = "relu"
    dropout: float = 0.0
    projection: str = "dense"
    init: str = "torch"
    direct_head: bool = False
    iterations: int | None = None
    epochs: int | None = None
    batch_size: int = 50
    lr: float = 1e-3
    clip_grad_norm: float | None = None
    schedule: str = "none"
    patience: int | None = None
    seed: int = 0
    device: str = "auto"
    max_steps: int | None = None

    def __post_init__(self):
        if self.sampler not in SAMPLERS:
            raise choice_error("sampler", self.sampler, SAMPLERS)
        if self.window_norm not in WINDOW_NORMS:
            raise choice_error("window_norm", self.window_norm, WINDOW_NORMS)
        if self.is_synthetic:
            if self.epochs is not None:
                raise ConfigError(
                    f"epochs={self.epochs!r} applies to a series file; the synthetic series "
                    "trains by iterations (each a fresh batch)"
                )
            if self.iterations is not None and self.iterations < 1:
                raise ConfigError(f"iterations={self.iterations!r} must be >= 1")
        else:
            if self.iterations is not None:
                raise ConfigError(
                    f"iterations={self.iterations!r} applies to the synthetic series; train "
                    "a series file by epochs"
                )
            if self.column is None:
                raise ConfigError(f"series={self.series!r} is a file: name its value column")
        if self.period is not None and not 1 <= self.period <= self.window:
            raise ConfigError(f"period={self.period!r} must be in [1, window={self.window}]")
        if self.window < 1 or self.horizon < 1:
            raise ConfigError(
                f"window={self.window!r} and horizon={self.horizon!r} must both be >= 1"
            )
        self.model_config()  # validates the model's fields now, not after loading data
        self.fit_config()

    @property
    def is_synthetic(self) -> bool:
        return self.series == SYNTHETIC

    @property
    def relative(self) -> bool:
        """Whether windows are taken relative to their last input (see ``window_norm``)."""
        if self.window_norm == "auto":
            return not self.is_synthetic
        return self.window_norm == "last"

    def model_config(self) -> ForecasterConfig:
        return ForecasterConfig(
            cell=self.model, num_units=self.units, num_layers=self.layers,
            activation=self.activation, dropout=self.dropout, projection=self.projection,
            horizon=self.horizon if self.direct_head else 0, init=self.init,
        )

    def fit_config(self) -> FitConfig:
        common = dict(batch_size=self.batch_size, lr=self.lr, seed=self.seed,
                      clip_grad_norm=self.clip_grad_norm, device=self.device,
                      max_steps=self.max_steps, schedule=self.schedule,
                      patience=self.patience)
        if self.is_synthetic:
            # One epoch over iterations x batch_size fresh windows = the notebook's loop.
            return FitConfig(epochs=1, shuffle=False, checkpoint_unit="step",
                             checkpoint_every=500, **common)
        return FitConfig(epochs=self.epochs or DEFAULT_EPOCHS, **common)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ForecastConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown forecast settings {unknown}; known: {sorted(known)}")
        return cls(**d)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class ForecastData:
    """Segments of ``window + horizon`` (scaled) values per part, and the scaler.

    ``train``/``val``/``test``: (N, W + H) float64. ``ar_train``: the windows the linear
    baseline is fitted on (the training part; fresh training-stream windows when synthetic).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    ar_train: np.ndarray
    scaler: StandardScaler


def load_data(config: ForecastConfig, horizon: int | None = None) -> ForecastData:
    """Build the segments for ``config`` (``horizon`` overrides ``config.horizon``)."""
    H = config.horizon if horizon is None else horizon
    L = config.window + H
    if config.is_synthetic:
        rng = training_rng(config.seed)
        n = (config.iterations or DEFAULT_ITERATIONS) * config.batch_size
        train = sample_segments(n, L, rng, config.sampler)
        val_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2]))
        val = sample_segments(VAL_WINDOWS, L, val_rng, "uniform")
        ar_rng = np.random.default_rng(np.random.SeedSequence([config.seed, 3]))
        ar = sample_segments(AR_TRAIN_WINDOWS, L, ar_rng, "uniform")
        return ForecastData(train, val, heldout_segments(L), ar, StandardScaler())
    series = read_series(config.series, config.column, time_column=config.time_column,
                         id_column=config.id_column, missing=config.missing)
    ds = prepare_series(series, window=config.window, horizon=H,
                        val_fraction=config.val_fraction, test_fraction=config.test_fraction)
    return ForecastData(ds.train.segments, ds.val.segments, ds.test.segments,
                        ds.train.segments, ds.scaler)


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


def relative_to_last(segments: np.ndarray, window: int) -> np.ndarray:
    """Subtract each window's last input from the whole segment (inputs and targets)."""
    return segments - segments[:, window - 1 : window]


def _tensors(segments: np.ndarray, config: ForecastConfig) -> tuple[torch.Tensor, torch.Tensor]:
    window = config.window
    if config.relative:
        segments = relative_to_last(segments, window)
    seg = torch.as_tensor(segments, dtype=torch.float32)[..., None]  # (N, W+H, 1)
    return seg[:, :window], seg[:, 1:]  # (N, W, 1), (N, W+H-1, 1)


# --------------------------------------------------------------------------- train


@dataclass
class TrainedForecast:
    """What ``train_forecast`` returns: the model, its training history and the scaler."""

    model: Forecaster
    history: History
    scaler: StandardScaler
    config: ForecastConfig


def train_forecast(
    config: ForecastConfig,
    callbacks: Iterable[Callback] = (),
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    evaluate: bool = True,
) -> TrainedForecast:
    """Train a forecaster as ``config`` says, into ``run_dir`` when given.

    Args:
        config: the ``ForecastConfig``.
        callbacks: ``rnnlab.train`` callbacks (progress bars).
        run_dir: the run folder (config.json, checkpoints, scaler.json, evaluation.json,
            plots); None trains in memory only.
        resume: continue the run in ``run_dir``. overwrite: replace a finished run there.
        evaluate: with a run folder, score the model on held-out data and draw the plots
            (``evaluate_forecast``) once training ends.

    Returns:
        A ``TrainedForecast``.

    Example:
        >>> cfg = ForecastConfig(iterations=100, units=20)
        >>> result = train_forecast(cfg, run_dir="runs/sine")   # doctest: +SKIP
        >>> evaluate_forecast("runs/sine")["mse"]               # doctest: +SKIP
    """
    data = load_data(config)
    torch.manual_seed(config.seed)  # initial weights repeat with the seed
    model = Forecaster(config.model_config())
    run_config = {"task": TASK, "forecast": config.to_dict(),
                  "model": config.model_config().to_dict()}
    main = is_main_process()  # under data-parallel training only rank 0 writes files
    if run_dir is not None and main:
        run = RunDir(run_dir).create()
        run.save_json(SCALER, data.scaler.to_dict())
    history = fit(
        model,
        _tensors(data.train, config),
        loss_fn=ForecastLoss(config.model_config().horizon),
        config=config.fit_config(),
        val_data=_tensors(data.val, config) if len(data.val) else None,
        callbacks=callbacks,
        run_dir=run_dir,
        resume=resume,
        run_config=run_config,
        overwrite=overwrite,
    )
    if run_dir is not None and evaluate and main:
        evaluate_forecast(run_dir, device=config.device)
    return TrainedForecast(model=model, history=history, scaler=data.scaler, config=config)


# --------------------------------------------------------------------------- load


@dataclass
class LoadedForecast:
    """A trained forecaster with its config and scaler, as ``load_run`` returns it."""

    model: Forecaster
    config: ForecastConfig
    scaler: StandardScaler

    def forecast(self, history, steps: int) -> np.ndarray:
        """Forecast ``steps`` values after each window, in the series' own units.

        Args:
            history: (W,) or (N, W) values, at least ``config.window`` of them (the last
                W are used).
            steps: how many values to forecast.

        Returns:
            (N, steps) or (steps,) float64, as ``history`` was 2-D or 1-D.
        """
        h = np.asarray(history, dtype=np.float64)
        one = h.ndim == 1
        h = np.atleast_2d(h)
        W = self.config.window
        if h.ndim != 2 or h.shape[1] < W:
            raise ConfigError(f"history must hold at least window={W} values; got {h.shape}")
        x = self.scaler.transform(h[:, -W:])
        y = self.scaler.inverse_transform(self.ahead(x, steps))
        return y[0] if one else y

    def ahead(self, x: np.ndarray, steps: int) -> np.ndarray:
        """(N, W) scaled windows -> (N, steps) scaled forecasts (``window_norm`` undone)."""
        offset = x[:, -1:] if self.config.relative else 0.0
        return forecast_horizon(self.model, x - offset, steps) + offset

    def next_step(self, x: np.ndarray) -> np.ndarray:
        """(N, W) scaled windows -> (N, W) scaled next-step predictions."""
        offset = x[:, -1:] if self.config.relative else 0.0
        return predict_next_step(self.model, x - offset) + offset


@register_task(TASK)
def load_forecast(run: RunDir, config: dict, device) -> LoadedForecast:
    """Rebuild a forecasting run's model (best, else last weights), config and scaler."""
    model = Forecaster(ForecasterConfig(**config["model"]))
    load_weights(run, model, device=device)
    scaler = (StandardScaler.from_dict(run.load_json(SCALER)) if run.file(SCALER).exists()
              else StandardScaler())
    return LoadedForecast(model, ForecastConfig.from_dict(config["forecast"]), scaler)


# --------------------------------------------------------------------------- evaluate


def evaluate_forecast(
    run_dir: str | os.PathLike,
    steps: int | None = None,
    *,
    plot: str | os.PathLike | None = None,
    write: bool = True,
    device: str = "cpu",
) -> dict:
    """Score a trained run on held-out windows, beside every baseline.

    Held-out windows are the fixed synthetic set (``HELDOUT_SIZE`` uniform windows from
    ``HELDOUT_SEED``) or the test part of the user's series. Errors are in the series' own
    units. Forecasts of more values than the direct head covers (or without one) feed
    predictions back (``generate``).

    Args:
        run_dir: a folder written by ``train_forecast``.
        steps: values to forecast after each window (default: the run's horizon).
        plot: also write the multi-step forecast plot to this path.
        write: save ``evaluation.json`` and the plots (forecast.png, prediction.png, and
            series.png for the synthetic series) into the run folder.
        device: where to run the model.

    Returns:
        ``{"mse", "mae", "steps", "windows", "next_step_mse", "baselines": {name: {"mse",
        "mae"}}, "beats_persistence": bool, "beats": {name: bool}}``.
    """
    run = RunDir(run_dir)
    loaded = load_forecast(run, run.load_config(), resolve_device(device))
    cfg, scaler = loaded.config, loaded.scaler
    steps = cfg.horizon if steps is None else steps
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps={steps!r} must be an int >= 1")
    data = load_data(cfg, horizon=steps)
    W = cfg.window
    test = data.test
    pred = scaler.inverse_transform(loaded.ahead(test[:, :W], steps))
    truth = scaler.inverse_transform(test[:, W:])
    raw_test = scaler.inverse_transform(test)
    raw_ar = scaler.inverse_transform(data.ar_train)
    base = baseline_predictions(raw_ar[:, :W], raw_ar[:, W:], raw_test[:, :W], steps,
                                period=cfg.period)
    next_pred = scaler.inverse_transform(loaded.next_step(test[:, :W]))
    result = {
        **errors(pred, truth),
        "steps": steps,
        "windows": len(test),
        "next_step_mse": errors(next_pred, raw_test[:, 1 : W + 1])["mse"],
        "baselines": {name: errors(p, truth) for name, p in base.items()},
    }
    result["beats"] = {name: result["mse"] < b["mse"] for name, b in result["baselines"].items()}
    result["beats_persistence"] = result["beats"]["persistence"]
    if not result["beats_persistence"]:
        log.warning("%s: the model does not beat persistence (MSE %.4g vs %.4g)", run.path,
                    result["mse"], result["baselines"]["persistence"]["mse"])
    if write or plot is not None:
        figs = _figures(loaded, raw_test, raw_ar, steps, every=write)
    if write:
        for name, fig in figs.items():
            save_figure(fig, run.file(name))
        run.save_json(EVALUATION, result)
    if plot is not None:
        save_figure(figs["forecast.png"], Path(plot))
    return result


def _figures(loaded: LoadedForecast, raw_test, raw_ar, steps, every: bool = True) -> dict:
    """The run's plots, drawn on one window: the notebook's instance at t=12.2 for the
    synthetic series, the most recent test window of a file's series."""
    cfg, scaler = loaded.config, loaded.scaler
    W = cfg.window
    if cfg.is_synthetic:
        t = NOTEBOOK_T_START + np.arange(W + steps) * RESOLUTION
        seg = time_series(t)
    else:
        seg, t = raw_test[-1], np.arange(W + steps)
    x = scaler.transform(seg[None, :W])
    pred = scaler.inverse_transform(loaded.ahead(x, steps))[0]
    nxt = scaler.inverse_transform(loaded.next_step(x))[0]
    base = baseline_predictions(raw_ar[:, :W], raw_ar[:, W:], seg[None, :W], steps,
                                period=cfg.period)
    figs = {
        "forecast.png": plot_forecast(
            seg[:W], seg[W:], pred, {k: v[0] for k, v in base.items()}, t=t,
            title=f"{steps}-step forecast against the truth", label=cfg.model,
        ),
    }
    if every:
        figs["prediction.png"] = plot_prediction(t[: W + 1], seg[:W], seg[1 : W + 1], nxt)
    if every and cfg.is_synthetic:
        figs["series.png"] = plot_series_with_window(NOTEBOOK_T_START, W)
    return figs
