"""Rolling-origin backtests of the global forecaster beside the baselines.

``run_backtest(config)`` places origins exactly as statsforecast's
``cross_validation(h, n_windows, step_size)`` (``rnnlab.data.series_panel.
rolling_origins``), trains the global model on every series' values before each origin
(once, before the first origin, with ``retrain=False``), forecasts the next ``horizon``
values of every series (short ones included), and scores the model and the baselines
(``naive``, ``seasonal_naive``, ``drift``, ``linear_ar``) on the same values::

    result = run_backtest(BacktestConfig(
        data=BacktestDataConfig(series="m.csv", column="y", time_column="ds",
                                id_column="id"),
        backtest=BacktestSettings(horizon=12, windows=3)))
    result.metrics["rnnlab"]["mase"], result.metrics["naive"]["mase"]

``result.to_json()`` is what ``rnnlab backtest --json`` prints; ``write_backtest`` saves
it (``backtest.json``), a metrics table (``metrics.md``) and a plot (``backtest.png``).
Nothing is written before every origin has been scored.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.config import option
from rnnlab.data.series import MISSING_POLICIES
from rnnlab.data.series_panel import (
    Panel,
    check_origins,
    read_covariates,
    read_panel,
    rolling_origins,
)
from rnnlab.errors import ConfigError, choice_error
from rnnlab.tasks.forecast_baselines import BASELINES, GlobalLinearAR, baseline_forecasts
from rnnlab.tasks.forecast_covariates import Covariates, covariate_columns, season_phase
from rnnlab.tasks.forecast_ensemble import fit_ensemble
from rnnlab.tasks.forecast_global import (
    GlobalFitConfig,
    GlobalModelConfig,
    default_global_fit,
    interval_levels,
    series_scale,
)
from rnnlab.tasks.forecast_metrics import score_windows

log = logging.getLogger(__name__)

MODEL = "rnnlab"
FILES = ("backtest.json", "metrics.md", "backtest.png")
SHORT_POLICIES = ("error", "skip")


@dataclass(frozen=True)
class BacktestDataConfig:
    """The panel to backtest: a long CSV/Parquet file (the ``data`` part)."""

    series: str = option("", metavar="PATH", help="a CSV/Parquet file, one row per "
                                                  "(series, time) (required)")
    column: str | None = option(None, help="the value column",
                                auto="the file's only numeric column")
    time_column: str | None = option(None, help="the time column (ISO dates or numbers)")
    id_column: str | None = option(None, help="the column naming each row's series")
    missing: str = option("error", choices=MISSING_POLICIES,
                          help="missing values and gaps in time: error, drop or interpolate")
    freq: str | None = option(None, help="the frequency (Y, Q, M, W, D, H, or yearly, ...)",
                              auto="inferred from the time column")
    period: int | None = option(None, help="the season length of the seasonal naive and "
                                "MASE", auto="the frequency's: 12 monthly, 4 quarterly, "
                                "1 yearly, 7 daily, 52 weekly, 24 hourly")
    past_covariates: tuple = option((), metavar="COL,COL", help="columns known up to each "
                                    "origin, read beside the values")
    future_covariates: tuple = option((), metavar="COL,COL", help="columns known over the "
                                      "horizon too (prices, promotions, holidays)")
    calendar: bool = option(False, help="the phase of the season (month of the year, "
                                        "quarter, weekday...) as a future covariate")

    def __post_init__(self):
        past, future = covariate_columns(self.past_covariates, self.future_covariates,
                                         (self.column, self.time_column, self.id_column))
        object.__setattr__(self, "past_covariates", past)
        object.__setattr__(self, "future_covariates", future)
        if self.missing not in MISSING_POLICIES:
            raise choice_error("missing", self.missing, MISSING_POLICIES)
        if self.period is not None and (isinstance(self.period, bool) or not isinstance(
                self.period, int) or self.period < 1):
            raise ConfigError(f"period={self.period!r} must be an int >= 1")


@dataclass(frozen=True)
class BacktestSettings:
    """Where the origins are and whether the model is trained again at each."""

    horizon: int = option(1, help="values forecast after each origin")
    windows: int = option(1, help="origins per series")
    step: int | None = option(None, help="values between origins", auto="the horizon")
    retrain: bool = option(True, help="train at every origin (--no-retrain: once, on the "
                                      "data before the first)")
    short: str = option("error", choices=SHORT_POLICIES,
                        help="a series too short for the origins: error, or skip it with "
                             "a warning that names it")

    def __post_init__(self):
        if self.short not in SHORT_POLICIES:
            raise choice_error("short", self.short, SHORT_POLICIES)
        for name in ("horizon", "windows", "step"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"{name}={v!r} must be an int >= 1")


@dataclass(frozen=True)
class BacktestConfig:
    """Everything a backtest needs: ``data``, ``backtest``, ``model`` and ``fit``."""

    data: BacktestDataConfig = dataclasses.field(default_factory=BacktestDataConfig)
    backtest: BacktestSettings = dataclasses.field(default_factory=BacktestSettings)
    model: GlobalModelConfig = dataclasses.field(default_factory=GlobalModelConfig)
    fit: GlobalFitConfig = dataclasses.field(default_factory=default_global_fit)


@dataclass
class BacktestResult:
    """A finished backtest.

    Attributes:
        metrics: ``{model: {"mae", "rmse", "smape", "mase", ["coverage", "pinball"]}}``.
        forecasts: one dict per (series, origin), in the issue's JSON shape.
        panel: the series read. season: the season used. seconds: wall time of the
            training and forecasting (reading excluded). freq: the frequency's name.
    """

    metrics: dict
    forecasts: list[dict]
    panel: Panel
    season: int
    seconds: float
    freq: str | None

    def to_json(self) -> dict:
        """``{"metrics", "forecasts", "freq", "season", "series", "seconds"}``."""
        return {"metrics": self.metrics, "forecasts": self.forecasts, "freq": self.freq,
                "season": self.season, "series": len(self.panel), "seconds": self.seconds}


def _time_label(s, i: int):
    if s.labels is not None:
        return str(s.labels[i])
    return i + 1 if s.times is None else float(s.times[i])


def run_backtest(config: BacktestConfig, *, progress: Callable[[int, int], None] | None = None,
                 callbacks: Iterable = ()) -> BacktestResult:
    """Backtest the global model and the baselines on ``config.data``'s panel.

    Args:
        config: the ``BacktestConfig``.
        progress: called as ``progress(done, total)`` after each origin.
        callbacks: ``rnnlab.train`` callbacks for every fit (progress bars).

    Returns:
        A ``BacktestResult``.

    Raises:
        DataError: bad values or times (naming the series and row), or a series too short
            for the horizon and windows.
    """
    d, b = config.data, config.backtest
    if not d.series:
        raise ConfigError("series='' : name the CSV/Parquet file to backtest")
    panel = read_panel(d.series, d.column, time_column=d.time_column, id_column=d.id_column,
                       missing=d.missing, freq=d.freq, period=d.period)
    H, season = b.horizon, panel.season
    if b.short == "skip":
        panel = _skip_short(panel, H, b.windows, b.step)
    cuts = check_origins(panel, H, b.windows, b.step)
    covariates = panel_covariates(panel, d)
    levels = interval_levels(config.model.quantile_levels())
    start = time.perf_counter()
    windows = []  # (series index, cut, {model: forecast dict})
    predictor = None
    order = config.model.window_for(H, season)
    for k in range(b.windows):
        hist = [s.values[: c[k]] for s, c in zip(panel.series, cuts, strict=True)]
        if predictor is None or b.retrain:
            fit_cfg = dataclasses.replace(config.fit, seed=config.fit.seed + 1000 * k)
            predictor = fit_ensemble(hist, horizon=H, season=season, model=config.model,
                                     fit_config=fit_cfg, callbacks=callbacks,
                                     covariates=covariates)
            ar = GlobalLinearAR.fit(hist, horizon=H, order=order, season=season)
        windows += forecast_windows(predictor, hist, [c[k] for c in cuts], H, season,
                                    order, ar, covariates)
        if progress is not None:
            progress(k + 1, b.windows)
    return backtest_result(panel, windows, H, season, levels,
                           time.perf_counter() - start)


def forecast_windows(predictor, histories, cuts, horizon: int, season: int, order: int,
                     ar: GlobalLinearAR, covariates: Covariates | None = None,
                     keep=None) -> list[tuple[int, int, dict]]:
    """The model's and the baselines' forecasts after each history, as backtest windows.

    Args:
        predictor: a ``PredictorEnsemble`` (or ``GlobalPredictor``).
        histories: per series, the values before its origin.
        cuts: per series, its origin (``len`` of its history).
        horizon: H. season: the season. order: the linear AR's window. ar: the fitted AR.
        covariates: the model's raw covariates. keep: per series, whether to score it
            (default all).

    Returns:
        ``[(series index, cut, {model: {"mean", "lo-L", "hi-L"}}), ...]``.
    """
    fc = predictor.forecast(histories, covariates=covariates)
    base = baseline_forecasts(histories, horizon, season, order, ar=ar)
    out = []
    for i in range(len(histories)):
        if keep is not None and not keep[i]:
            continue
        models = {MODEL: {key: fc[key][i] for key in fc if key != "quantiles"}}
        models.update({name: {"mean": base[name][i]} for name in BASELINES})
        out.append((i, cuts[i], models))
    return out


def backtest_result(panel: Panel, windows, horizon: int, season: int, levels,
                    seconds: float) -> BacktestResult:
    """Score ``forecast_windows``' windows against the panel's values."""
    metrics = _metrics(panel, windows, horizon, season, levels)
    forecasts = [_entry(panel.series[i], cut, horizon, models) for i, cut, models in windows]
    return BacktestResult(metrics, forecasts, panel, season, round(seconds, 3),
                          None if panel.freq is None else panel.freq.name)


def panel_covariates(panel: Panel, d: BacktestDataConfig) -> Covariates | None:
    """The panel's covariates (``--past-covariates``, ``--future-covariates``,
    ``--calendar``).

    Args:
        panel: the panel read. d: the data part naming the columns.

    Returns:
        ``Covariates`` aligned with ``panel.series`` (the calendar's sin and cos last among
        the future ones), or None when there are none.
    """
    past = list(d.past_covariates)
    future = list(d.future_covariates)
    if not (past or future or d.calendar):
        return None
    read = read_covariates(panel, past + future, time_column=d.time_column,
                           id_column=d.id_column, missing=d.missing)
    p = [a[:, : len(past)] for a in read]
    f = [a[:, len(past):] for a in read]
    names = (*past, *future)
    if d.calendar:
        if panel.season <= 1:
            log.warning("%s: calendar=True adds nothing: the season is 1 (pass period)",
                        panel.path)
        else:
            step = 1.0 if panel.freq is None else float(panel.freq.step)
            calendar = panel.freq is not None and panel.freq.calendar
            f = [np.concatenate([fa, season_phase(s.times, s.values.size, panel.season,
                                                  calendar=calendar, step=step)], axis=1)
                 for fa, s in zip(f, panel.series, strict=True)]
            names = (*names, "season-sin", "season-cos")
    return Covariates(p, f, names)


def _skip_short(panel: Panel, H: int, windows: int, step: int | None) -> Panel:
    keep = []
    for s in panel.series:
        if rolling_origins(s.values.size, H, windows, step)[0] >= 1:
            keep.append(s)
        else:
            log.warning("%s: %s skipped: %d values, too short for horizon=%d and %d "
                        "origin(s) (short='skip')", panel.path, s.name, s.values.size, H,
                        windows)
    if not keep:
        raise ConfigError(f"every series of {panel.path} is too short for horizon={H} and "
                          f"windows={windows}")
    return dataclasses.replace(panel, series=keep)


def _metrics(panel: Panel, windows, H: int, season: int, levels) -> dict:
    y = [panel.series[i].values[cut: cut + H] for i, cut, _ in windows]
    scales = [series_scale(panel.series[i].values[:cut], season) for i, cut, _ in windows]
    quantiles = {0.5: "mean"}
    for L, (lo, hi) in levels.items():
        quantiles.update({lo: f"lo-{L}", hi: f"hi-{L}"})
    out = {MODEL: score_windows(y, scales, [m[MODEL] for *_, m in windows], quantiles)}
    for name in BASELINES:
        out[name] = score_windows(y, scales, [m[name] for *_, m in windows])
    return out


def _entry(s, cut: int, H: int, models: dict) -> dict:
    return {"id": "series" if s.id is None else s.id, "origin": _time_label(s, cut - 1),
            "time": [_time_label(s, j) for j in range(cut, cut + H)],
            "y": [float(v) for v in s.values[cut: cut + H]],
            "models": {name: {k: [float(v) for v in arr] for k, arr in m.items()}
                       for name, m in models.items()}}


def metrics_table(metrics: dict) -> str:
    """A Markdown table: one row per model, columns mase, smape, mae, rmse, coverage."""
    levels = sorted({L for m in metrics.values() for L in m.get("coverage", {})}, key=int)
    head = ["model", "mase", "smape", "mae", "rmse", *[f"cover-{L}" for L in levels],
            "pinball"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in metrics.items():
        cells = [name] + [_fmt(m[k]) for k in ("mase", "smape", "mae", "rmse")]
        cells += [_fmt(m.get("coverage", {}).get(L)) for L in levels]
        cells.append(_fmt(m.get("pinball")))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.4g}"


def write_backtest(result: BacktestResult, out: str | os.PathLike, *,
                   plot_series: int = 4) -> list[Path]:
    """Save ``backtest.json``, ``metrics.md`` and ``backtest.png`` into ``out``.

    Returns:
        The paths written.
    """
    import json

    from rnnlab.plots.forecast import plot_backtest, save_figure

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in FILES]
    tmp = paths[0].with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result.to_json(), separators=(",", ":")))
    os.replace(tmp, paths[0])
    paths[1].write_text(metrics_table(result.metrics) + "\n")
    save_figure(plot_backtest(result, max_series=plot_series), paths[2])
    return paths
