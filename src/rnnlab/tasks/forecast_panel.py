"""The forecast task on a panel: one global model over every series of a file, in a run folder.

``rnnlab train forecast --series panel.csv --column y --time-column ds --id-column id
--horizon 6`` trains the global model of ``rnnlab.tasks.forecast_global`` (the default for
a file with several series; ``--no-global-model`` trains the windowed model, pooled). The
last ``horizon`` values of every series long enough are its test part (``--test-fraction
0``: none): the model trains on what comes before, and the test origin is scored beside
the baselines as a one-origin backtest. The model reads any history, so ``rnnlab forecast
RUN`` forecasts the H values after each series' end from the whole series, without
training again. The run folder::

    config.json          the resolved config (panel.global_model = true)
    global.safetensors   the ensemble's weights (member k's network j under "k.j.")
    global.json          the rest of each member: architecture, window, horizon, season,
                         quantiles, interval corrections, combination weight, transform
    metrics.csv/.json    the first member's training curve (held-out pinball loss)
    evaluation.json      the test origin scored: backtest.json's shape
    forecast.png         history, truth, forecast and band of the first series
    forecast.csv         (rnnlab forecast RUN) the next H values of every series
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import safetensors.torch

from rnnlab._fs import atomic_write_bytes
from rnnlab.data.frequency import next_stamps, next_times
from rnnlab.data.series import read_series
from rnnlab.data.series_panel import Panel, read_panel
from rnnlab.errors import ConfigError
from rnnlab.models.global_forecaster import GlobalForecaster, GlobalForecasterConfig
from rnnlab.tasks.base import TrainResult, saved_config
from rnnlab.tasks.forecast_backtest import (
    BacktestDataConfig,
    BacktestResult,
    backtest_result,
    forecast_windows,
    panel_covariates,
)
from rnnlab.tasks.forecast_baselines import GlobalLinearAR
from rnnlab.tasks.forecast_config import SYNTHETIC, ForecastTaskConfig, global_defaults
from rnnlab.tasks.forecast_covariates import Covariates, season_phase
from rnnlab.tasks.forecast_ensemble import PredictorEnsemble, fit_ensemble
from rnnlab.tasks.forecast_global import GlobalPredictor, interval_levels
from rnnlab.training import Callback
from rnnlab.training.distributed import is_main_process
from rnnlab.training.runfolder import RunDir

log = logging.getLogger(__name__)

WEIGHTS = "global.safetensors"
PREDICTOR = "global.json"
EVALUATION = "evaluation.json"
FORECASTS = "forecast.csv"
PLOT = "forecast.png"
FILES = (WEIGHTS, PREDICTOR, FORECASTS)


def several_series(data) -> bool:
    """Whether the data part's file holds more than one series (reads its id column)."""
    if data.is_synthetic or not data.id_column:
        return False
    series = read_series(data.series, data.column, time_column=data.time_column,
                         id_column=data.id_column, missing=data.missing)
    return len(series) > 1


def default_config(overrides: Mapping[str, Mapping[str, Any]]) -> ForecastTaskConfig | None:
    """The global model's defaults when what the user typed names a panel (else None).

    Args:
        overrides: ``{part: {field: value}}`` as typed.

    Returns:
        ``global_defaults`` for the typed horizon and the file's season, or None: the
        windowed model's defaults apply.
    """
    data, panel = dict(overrides.get("data", {})), dict(overrides.get("panel", {}))
    wanted = panel.get("global_model")
    if wanted is False or data.get("series", SYNTHETIC) == SYNTHETIC:
        return None
    if wanted is None and not data.get("id_column"):
        return None
    read = read_panel(data["series"], data.get("column"), time_column=data.get("time_column"),
                      id_column=data.get("id_column"), missing=data.get("missing", "error"),
                      freq=panel.get("freq"), period=data.get("period"))
    if wanted is None and len(read) < 2:
        return None
    data.setdefault("horizon", 1)
    return global_defaults(season=read.season, **data)


def backtest_data(config: ForecastTaskConfig) -> BacktestDataConfig:
    """The data and panel parts as the backtest's data part (how the panel is read; it
    checks the covariate columns against the value, time and id columns)."""
    d, p = config.data, config.panel
    return BacktestDataConfig(
        series=d.series, column=d.column, time_column=d.time_column, id_column=d.id_column,
        missing=d.missing, freq=p.freq, period=d.period, past_covariates=p.past_covariates,
        future_covariates=p.future_covariates, calendar=p.calendar)


def read(config: ForecastTaskConfig) -> tuple[Panel, Covariates | None]:
    """The panel the config names and its covariates (raw, aligned with each series)."""
    d = backtest_data(config)
    panel = read_panel(d.series, d.column, time_column=d.time_column, id_column=d.id_column,
                       missing=d.missing, freq=d.freq, period=d.period)
    return panel, panel_covariates(panel, d)


def test_cuts(panel: Panel, horizon: int, test: bool) -> list[int]:
    """Per series, where its test part starts (its length when it has none).

    A series holds out its last ``horizon`` values when ``test`` and at least one value
    stays to train on; a shorter one trains on all of its values and is not scored.
    """
    cuts = []
    for s in panel.series:
        n = s.values.size
        cuts.append(n - horizon if test and n - horizon >= 1 else n)
    short = sum(c == s.values.size for c, s in zip(cuts, panel.series, strict=True))
    if test and short:
        log.warning("%s: %d series hold %d values or fewer: they train on all of them and "
                    "are not scored", panel.path, short, horizon)
    return cuts


class _FirstFit(Callback):
    """Keeps the first fit's ``History`` (the first member, validated on held-out windows)."""

    def __init__(self):
        self.history = None

    def on_fit_end(self, history) -> None:
        if self.history is None:
            self.history = history


def train_global(task, config: ForecastTaskConfig, run: RunDir | None, *,
                 callbacks: Iterable[Callback] = (), evaluate: bool = True) -> TrainResult:
    """Train the global model on every series' training part, save it, score the test origin.

    Args:
        task: the forecast task (for ``config.json``'s "task").
        config: the resolved config with ``panel.global_model`` True.
        run: the claimed run folder (None: in memory only).
        callbacks: ``fit`` callbacks for every member's fit.
        evaluate: score the test origin and draw the plot into ``run``.

    Returns:
        ``TrainResult`` (the first network, its history) with extras ``config``,
        ``predictor`` (the ``PredictorEnsemble``), ``scaler`` (None) and ``evaluation``.
    """
    model, fit_config = config.global_model_config(), config.global_fit_config()
    panel, covariates = read(config)  # reads and checks everything; writes nothing
    H = config.data.horizon
    cuts = test_cuts(panel, H, config.data.test_fraction > 0)
    histories = [s.values[:c] for s, c in zip(panel.series, cuts, strict=True)]
    first = _FirstFit()
    start = time.perf_counter()
    predictor = fit_ensemble(histories, horizon=H, season=panel.season, model=model,
                             fit_config=fit_config, callbacks=(*callbacks, first),
                             covariates=covariates)
    log.info("trained %d model(s) on %d series in %.1f s", len(predictor.models), len(panel),
             time.perf_counter() - start)
    scores = None
    if run is not None and is_main_process():
        run.create()
        for path in run.run_files():  # an earlier run's checkpoints, curves and files
            path.unlink()
        for name in task.artefacts:
            run.file(name).unlink(missing_ok=True)
        run.save_config(saved_config(task, config, data=_facts(panel, cuts),
                                     model=dataclasses.asdict(predictor.models[0].config)))
        save_predictor(predictor, run)
        if first.history is not None:
            run.write_metrics(first.history.rows)
            run.save_metrics(first.history.summary())
        if evaluate and any(c < s.values.size for c, s in zip(cuts, panel.series,
                                                               strict=True)):
            scores, result = evaluate_global(predictor, panel, covariates, cuts)
            write_evaluation(run, scores, result)
    return TrainResult(model=predictor.models[0], history=first.history,
                       extras={"config": config, "predictor": predictor, "scaler": None,
                               "evaluation": scores})


def _facts(panel: Panel, cuts: list[int]) -> dict:
    n = [s.values.size for s in panel.series]
    return {"series": len(panel), "season": panel.season,
            "freq": None if panel.freq is None else panel.freq.name,
            "values": int(sum(n)), "shortest": int(min(n)), "longest": int(max(n)),
            "test_series": int(sum(c < m for c, m in zip(cuts, n, strict=True)))}


# --------------------------------------------------------------------------- saving


def save_predictor(ensemble: PredictorEnsemble, run: RunDir) -> None:
    """Write ``global.safetensors`` (every member's weights) and ``global.json``."""
    tensors = {f"{k}.{j}.{name}": t.detach().cpu().contiguous()
               for k, p in enumerate(ensemble.members) for j, m in enumerate(p.models)
               for name, t in m.state_dict().items()}
    atomic_write_bytes(run.file(WEIGHTS), safetensors.torch.save(tensors))
    members = [{"models": len(p.models), "window": p.window, "horizon": p.horizon,
                "season": p.season, "quantiles": list(p.quantiles), "epochs": list(p.epochs),
                "corrections": {str(L): [float(v) for v in c]
                                for L, c in p.corrections.items()},
                "transform": p.transform, "weight": p.weight, "partner": p.partner}
               for p in ensemble.members]
    run.save_json(PREDICTOR, {"architecture": dataclasses.asdict(ensemble.models[0].config),
                              "members": members})


def load_predictor(run: RunDir, device: Any = "cpu") -> PredictorEnsemble:
    """The ``PredictorEnsemble`` a global run saved.

    Raises:
        ConfigError: the run folder lacks ``global.json`` or ``global.safetensors``.
    """
    for name in (PREDICTOR, WEIGHTS):
        if not run.file(name).is_file():
            raise ConfigError(f"{run.path} holds no {name}: it is not a finished global-"
                              "model forecast run (train it again with --overwrite)")
    meta = run.load_json(PREDICTOR)
    arch = meta["architecture"]
    config = GlobalForecasterConfig(**{**arch, "quantiles": tuple(arch["quantiles"])})
    weights = safetensors.torch.load_file(str(run.file(WEIGHTS)), device=str(device))
    members = []
    for k, m in enumerate(meta["members"]):
        models = []
        for j in range(int(m["models"])):
            prefix = f"{k}.{j}."
            net = GlobalForecaster(config).to(device)
            net.load_state_dict({n[len(prefix):]: t for n, t in weights.items()
                                 if n.startswith(prefix)})
            models.append(net.eval())
        members.append(GlobalPredictor(
            models, int(m["window"]), int(m["horizon"]), int(m["season"]),
            tuple(float(q) for q in m["quantiles"]),
            {int(L): np.asarray(c, dtype=np.float64) for L, c in m["corrections"].items()},
            [int(e) for e in m["epochs"]], m["transform"], float(m["weight"]),
            m["partner"]))
    return PredictorEnsemble(members)


# --------------------------------------------------------------------------- scoring


def evaluate_global(predictor: PredictorEnsemble, panel: Panel, covariates: Covariates | None,
                    cuts: list[int]) -> tuple[dict, BacktestResult]:
    """Score each series' test origin beside the baselines (a one-origin backtest).

    Returns:
        ``(scores, result)``: scores as ``BacktestResult.to_json()`` plus "split",
        "horizon" and "windows"; the ``BacktestResult`` (for the plot).
    """
    H, season = predictor.horizon, predictor.season
    histories = [s.values[:c] for s, c in zip(panel.series, cuts, strict=True)]
    keep = [c < s.values.size for c, s in zip(cuts, panel.series, strict=True)]
    if not any(keep):
        raise ConfigError(f"no series of {panel.path} holds more than horizon={H} values, "
                          "so none has a test part to score")
    start = time.perf_counter()
    ar = GlobalLinearAR.fit(histories, horizon=H, order=predictor.window, season=season)
    windows = forecast_windows(predictor, histories, cuts, H, season, predictor.window, ar,
                               covariates, keep=keep)
    levels = interval_levels(predictor.quantiles)
    result = backtest_result(panel, windows, H, season, levels, time.perf_counter() - start)
    scores = {**result.to_json(), "split": "test", "horizon": H, "windows": len(windows)}
    return scores, result


def write_evaluation(run: RunDir, scores: dict, result: BacktestResult) -> None:
    """``evaluation.json`` and ``forecast.png`` (the first series' test forecasts)."""
    from rnnlab.plots.forecast import plot_backtest, save_figure

    run.save_json(EVALUATION, scores)
    save_figure(plot_backtest(result), run.file(PLOT))


def summary(scores: Mapping[str, Any]) -> dict:
    """The scores without the per-series forecasts (what ``rnnlab evaluate`` prints)."""
    return {k: v for k, v in scores.items() if k != "forecasts"}


def future(predictor: PredictorEnsemble, panel: Panel, covariates: Covariates | None,
           steps: int | None = None) -> list[dict]:
    """The H values after each series' end, from its whole history.

    Args:
        predictor: the run's model. panel: the series. covariates: the run's covariates
            (future ones must run H values past each series' end).
        steps: None or the model's horizon (its heads are fixed).

    Returns:
        One row per series and step: ``{"id", "time", "step", "mean", "lo-L", "hi-L"}``.
    """
    H = predictor.horizon
    if steps not in (None, H):
        raise ConfigError(f"steps={steps} is not allowed: this global model forecasts "
                          f"horizon={H} values at once (train another with --horizon)")
    if covariates is not None and covariates.num_future:
        covariates = calendar_ahead(panel, covariates, H)
    fc = predictor.forecast([s.values for s in panel.series], covariates=covariates)
    keys = ["mean", *(f"{side}-{L}" for L in interval_levels(predictor.quantiles)
                      for side in ("lo", "hi"))]
    rows = []
    for i, s in enumerate(panel.series):
        n = s.values.size
        times = (list(range(n + 1, n + H + 1)) if s.times is None
                 else next_times(s.times, s.dates, panel.freq, H))
        for h in range(H):
            rows.append({"id": "series" if s.id is None else s.id, "time": times[h],
                         "step": h + 1, **{k: float(fc[k][i, h]) for k in keys}})
    return rows


def calendar_ahead(panel: Panel, covariates: Covariates, horizon: int) -> Covariates:
    """The covariates with ``--calendar``'s phase for the H steps after each series' end.

    Raises:
        ConfigError: the model reads other future covariates, which a file cannot hold
            past the end of its values.
    """
    if covariates.names[-2:] != ("season-sin", "season-cos") or covariates.num_future > 2:
        raise ConfigError("this model reads future covariates over the horizon, which the "
                          "file cannot hold past each series' end: rnnlab forecast cannot "
                          "forecast past it (rnnlab evaluate scores the last H values)")
    step = 1.0 if panel.freq is None else float(panel.freq.step)
    calendar = panel.freq is not None and panel.freq.calendar
    future = []
    for f, s in zip(covariates.future, panel.series, strict=True):
        n = s.values.size
        if s.times is None:
            ahead = season_phase(None, n + horizon, panel.season, calendar=False,
                                 step=step)[n:]
        else:
            ahead = season_phase(next_stamps(s.times, panel.freq, horizon), horizon,
                                 panel.season, calendar=calendar, step=step)
        future.append(np.concatenate([f[:n], ahead]))
    return Covariates(covariates.past, future, covariates.names)


def write_forecasts(path, rows: list[dict]) -> None:
    """``forecast.csv``: one row per series and step, atomically."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v)
                         for k, v in row.items()})
    atomic_write_bytes(path, out.getvalue().encode())


def future_plot(panel: Panel, rows: list[dict], max_series: int = 4):
    """History, forecast and band of the first series (``plot_backtest`` without truth)."""
    from rnnlab.plots.forecast import plot_backtest

    entries = {}
    for r in rows:
        e = entries.setdefault(r["id"], {"id": r["id"], "time": [], "y": [], "models": {}})
        e["time"].append(r["time"])
        e["y"].append(math.nan)
        m = e["models"].setdefault("rnnlab", {})
        for k, v in r.items():
            if k not in ("id", "time", "step"):
                m.setdefault(k, []).append(v)
    shown = dataclasses.replace(panel, series=panel.series[:max_series])
    result = BacktestResult({}, list(entries.values()), shown, panel.season, 0.0, None)
    return plot_backtest(result, max_series=max_series)


# --------------------------------------------------------------------------- run folders


def evaluate_run(run: RunDir, config: ForecastTaskConfig, *, split: str | None = None,
                 device: Any = "cpu") -> dict:
    """A global run's scores on its config's file (the data part may name another).

    Args:
        run: the run folder. config: its config, with the user's data changes.
        split: None or "test": each series' last H values (the global model has no
            other split: its validation windows were chosen inside training).
        device: where to run the model.

    Returns:
        ``summary`` of ``evaluate_global``'s scores.
    """
    if split not in (None, "test"):
        raise ConfigError(f"split={split!r} is not scored for a global model: it scores "
                          "each series' last horizon values (split='test')")
    predictor = load_predictor(run, device)
    panel, covariates = read(config)
    cuts = test_cuts(panel, predictor.horizon, True)
    scores, _ = evaluate_global(predictor, panel, covariates, cuts)
    return summary(scores)


def forecast_run(run: RunDir, config: ForecastTaskConfig, *, steps: int | None = None,
                 plot=None, write: bool = True, device: Any = "cpu") -> dict:
    """``rnnlab forecast RUN`` for a global run: the test origin scored, the future forecast.

    Args:
        run: the run folder. config: its config. steps: None or the horizon.
        plot: also draw the future forecast to this path.
        write: save evaluation.json, forecast.png and forecast.csv into the run.
        device: where to run the model.

    Returns:
        The test scores (``summary``; none when no series has a test part) with
        "forecast_file" (forecast.csv, when written) and "forecasts" (its rows).
    """
    predictor = load_predictor(run, device)
    panel, covariates = read(config)
    rows = future(predictor, panel, covariates, steps)  # a bad --steps fails first
    scores: dict = {"horizon": predictor.horizon, "series": len(panel)}
    cuts = test_cuts(panel, predictor.horizon, config.data.test_fraction > 0)
    if any(c < s.values.size for c, s in zip(cuts, panel.series, strict=True)):
        full, result = evaluate_global(predictor, panel, covariates, cuts)
        scores = summary(full)
        if write:
            write_evaluation(run, full, result)
    if write:
        write_forecasts(run.file(FORECASTS), rows)
        scores["forecast_file"] = str(run.file(FORECASTS))
    if plot is not None:
        from rnnlab.plots.forecast import save_figure

        save_figure(future_plot(panel, rows), plot)
    return {**scores, "forecasts": rows}
