"""Scoring a trained forecaster beside the baselines, and the run's plots.

Metrics, in the series' own units, on held-out windows (the fixed ``HELDOUT_SIZE``
synthetic windows, or the test part of the user's series):

* ``mse``/``mae`` score the forecast of the ``steps`` values *after* each full window;
  the baselines are scored on exactly these values.
* ``next_step_mse`` is the notebook's training metric: next-step error averaged over all W
  positions of the window, including the first, where the model has seen one value. It is
  scored on the run's own windows (``window + horizon`` values), whatever ``steps`` is, so
  it is the same number at training time and from ``rnnlab forecast --steps N``. Training's
  ``loss``/``val_loss`` are this error on the training and validation windows, of scaled
  values (divided by the scaler's ``std`` squared), plus the direct head's error if any.

On the synthetic series the first position alone has a Bayes floor of about 0.60 (many
points of the curve share a value and differ in slope), so no model that reads each window
from a zero state gets ``next_step_mse`` below about 0.03 at W=20; see docs/forecasting.md.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from rnnlab.baselines import baseline_predictions, errors
from rnnlab.data.series import RESOLUTION, time_series
from rnnlab.errors import ConfigError, DataError
from rnnlab.plots.forecast import plot_forecast, plot_prediction, plot_series_with_window
from rnnlab.tasks.forecast_data import ForecastData, LoadedForecast, load_data

log = logging.getLogger(__name__)

NOTEBOOK_T_START = 12.2
_PLOT_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def evaluate_loaded(loaded: LoadedForecast, *, steps: int | None = None,
                    split: str = "test") -> tuple[dict, ForecastData]:
    """Score ``loaded`` on the windows of ``split`` beside every baseline.

    Forecasts of more values than the direct head covers (or without one) feed
    predictions back (``generate``).

    Args:
        loaded: the trained model with its config and scaler.
        steps: values to forecast after each window (default: the run's horizon).
        split: "test" (the held-out windows), "val" or "train".

    Returns:
        ``({"mse", "mae", "steps", "windows", "split", "next_step_mse",
        "next_step_windows" (the run's own windows of window + horizon values), "baselines":
        {name: {"mse", "mae"}}, "beats": {name: bool}, "beats_persistence": bool,
        "scaler": {...}}, the data scored)``.
    """
    cfg, scaler = loaded.config, loaded.scaler
    horizon = cfg.data.horizon
    steps = horizon if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps={steps!r} must be an int >= 1")
    data = load_data(cfg, horizon=steps, scaler=scaler)
    own = data if steps == horizon else load_data(cfg, scaler=scaler)
    segs, own_segs = data.part(split), own.part(split)
    if len(segs) == 0:
        raise DataError(f"the {split} part holds no window of window + steps = "
                        f"{cfg.data.window + steps} values; use fewer steps or another split")
    W = cfg.data.window
    pred = scaler.inverse_transform(loaded.ahead(segs[:, :W], steps))
    raw = scaler.inverse_transform(segs)
    raw_ar = scaler.inverse_transform(data.ar_train)
    base = baseline_predictions(raw_ar[:, :W], raw_ar[:, W:], raw[:, :W], steps,
                                period=cfg.data.period)
    raw_own = scaler.inverse_transform(own_segs)
    next_pred = scaler.inverse_transform(loaded.next_step(own_segs[:, :W]))
    result = {
        **errors(pred, raw[:, W:]),
        "steps": steps,
        "windows": len(segs),
        "split": split,
        "next_step_mse": errors(next_pred, raw_own[:, 1 : W + 1])["mse"],
        "next_step_windows": len(own_segs),
        "baselines": {name: errors(p, raw[:, W:]) for name, p in base.items()},
        "scaler": scaler.to_dict(),
    }
    result["beats"] = {name: result["mse"] < b["mse"] for name, b in result["baselines"].items()}
    result["beats_persistence"] = result["beats"]["persistence"]
    return result, data


def figures(loaded: LoadedForecast, data: ForecastData, steps: int, *, split: str = "test",
            every: bool = True) -> dict:
    """The run's plots, drawn on one window: the notebook's instance at t=12.2 for the
    synthetic series, the most recent window of ``split`` for a file's series (on the
    time column's values when the file has one).

    Returns:
        ``{"forecast.png": Figure}``, plus ``"prediction.png"`` (and ``"series.png"`` for
        the synthetic series) with ``every``.
    """
    cfg, scaler = loaded.config, loaded.scaler
    W = cfg.data.window
    xlabel = None
    if cfg.is_synthetic:
        t = NOTEBOOK_T_START + np.arange(W + steps) * RESOLUTION
        seg = time_series(t)
    else:
        seg = scaler.inverse_transform(data.part(split)[-1])
        t = (data.times or {}).get(split)
        if t is None:
            t = np.arange(W + steps)
        else:
            xlabel = cfg.data.time_column
            if data.dates:  # POSIX seconds -> dates, so the axis reads as calendar time
                t = np.round(t * 1000).astype("int64").astype("datetime64[ms]")
    x = scaler.transform(seg[None, :W])
    pred = scaler.inverse_transform(loaded.ahead(x, steps))[0]
    nxt = scaler.inverse_transform(loaded.next_step(x))[0]
    raw_ar = scaler.inverse_transform(data.ar_train)
    base = baseline_predictions(raw_ar[:, :W], raw_ar[:, W:], seg[None, :W], steps,
                                period=cfg.data.period)
    figs = {"forecast.png": plot_forecast(
        seg[:W], seg[W:], pred, {k: v[0] for k, v in base.items()}, t=t,
        title=f"{steps}-step forecast against the truth", label=cfg.model.cell)}
    if every:
        figs["prediction.png"] = plot_prediction(t[: W + 1], seg[:W], seg[1 : W + 1], nxt)
    if every and cfg.is_synthetic:
        figs["series.png"] = plot_series_with_window(NOTEBOOK_T_START, W)
    if xlabel:
        for fig in figs.values():
            for ax in fig.axes:
                ax.set_xlabel(xlabel)
            if data.dates:
                fig.autofmt_xdate()  # slanted dates do not run into each other
    return figs


def plot_path(plot: str | os.PathLike) -> Path:
    """``plot`` checked and its folder created, before any work is done.

    Raises:
        ConfigError: a format Matplotlib cannot write, or a folder that cannot be made.
    """
    path = Path(plot)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in _PLOT_FORMATS:
        raise ConfigError(f"plot={str(plot)!r}: give a file name ending in one of "
                          + ", ".join("." + f for f in _PLOT_FORMATS[:4]))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"plot={str(plot)!r}: cannot create its folder "
                          f"{str(path.parent)!r} ({e.strerror or e})") from None
    if path.is_dir():
        raise ConfigError(f"plot={str(plot)!r} is a folder; give a file name")
    return path
