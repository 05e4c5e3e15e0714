"""The forecasting job: ``ForecastTask`` wires series, ``Forecaster``, ``fit`` and the run folder.

It trains on either

* the notebook's synthetic series, by iterations: each iteration a fresh batch of windows
  (``iterations=1500, batch_size=50, window=20``, the notebook's), drawn up front from
  ``training_rng(seed)`` so a run is reproducible and resumable; or
* a user's series (CSV/Parquet), by epochs over the chronological training part, with the
  validation part monitored and the scaler fitted on training rows only (and read back
  from ``scaler.json`` on resume, never refitted);
* a file with several series (``id_column``): by default one global quantile model over
  all of them, trained, saved and scored by ``rnnlab.tasks.forecast_panel``.

Then it scores the model on held-out windows beside the baselines and draws the plots
(``rnnlab.tasks.forecast_eval``). The config is composed from parts
(``rnnlab.tasks.forecast_config``)::

    task = ForecastTask()
    config = ForecastTaskConfig(data=ForecastDataConfig(series="sales.csv", window=28))
    task.train(config, RunDir("runs/sales"))          # the run folder already claimed
    task.evaluate(RunDir("runs/sales"))["mse"]

``train_forecast``/``evaluate_forecast`` and the flat ``ForecastConfig(...)`` are 0.1.0's
entry points, kept as thin wrappers.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from rnnlab.config import from_dict, option_of, to_dict
from rnnlab.data.series import StandardScaler
from rnnlab.errors import ConfigError
from rnnlab.models.forecaster import Forecaster, ForecasterConfig
from rnnlab.plots.forecast import save_figure
from rnnlab.tasks import forecast_panel as panel_files
from rnnlab.tasks.base import Task, TrainResult, register, saved_config
from rnnlab.tasks.forecast_config import (  # noqa: F401  (re-exported: 0.1.0's names)
    DEFAULT_EPOCHS,
    DEFAULT_ITERATIONS,
    SYNTHETIC,
    WINDOW_NORMS,
    ForecastConfig,
    ForecastDataConfig,
    ForecastFitConfig,
    ForecastModelConfig,
    ForecastTaskConfig,
    from_flat,
)
from rnnlab.tasks.forecast_data import (  # noqa: F401  (re-exported)
    AR_TRAIN_WINDOWS,
    VAL_WINDOWS,
    ForecastData,
    ForecastLoss,
    LoadedForecast,
    load_data,
    relative_to_last,
    tensors,
)
from rnnlab.tasks.forecast_ensemble import PredictorEnsemble
from rnnlab.tasks.forecast_eval import NOTEBOOK_T_START, evaluate_loaded, figures, plot_path
from rnnlab.training import Callback, History, fit
from rnnlab.training.callbacks import StepLog
from rnnlab.training.distributed import is_main_process
from rnnlab.training.runfolder import CURVES, RunDir, load_weights
from rnnlab.training.runtime import resolve_device

log = logging.getLogger(__name__)

TASK = "forecast"
SCALER = "scaler.json"
EVALUATION = "evaluation.json"
MULTISTEP = "multistep.json"  # recursive or direct: what validation chose (a direct head)
PLOTS = ("forecast.png", "prediction.png", "series.png")
# Fit settings that may change on resume, until FitConfig's fields say so themselves.
_RESUMABLE_FIT = ("epochs", "max_steps", "device", "num_workers", "plot", "patience")

__all__ = ["EVALUATION", "NOTEBOOK_T_START", "SCALER", "TASK", "ForecastConfig",
           "ForecastData", "ForecastDataConfig", "ForecastFitConfig", "ForecastLoss",
           "ForecastModelConfig", "ForecastTask", "ForecastTaskConfig", "LoadedForecast",
           "TrainedForecast", "evaluate_forecast", "load_data", "load_forecast",
           "train_forecast"]


@register
class ForecastTask(Task):
    """Forecasting a series: the notebook's synthetic one or a user's CSV/Parquet file."""

    name = TASK
    help = "forecast a time series (the notebook's, or your own CSV/Parquet)"
    description = ("Train a sequence-to-sequence forecaster on windows of a series, or one "
                   "global quantile model over the series of a file (--id-column); score "
                   "it on held-out values beside the baselines.")
    config_type = ForecastTaskConfig
    artefacts = (SCALER, EVALUATION, MULTISTEP, *PLOTS, *panel_files.FILES)

    def default_config(self, overrides: Mapping[str, Mapping[str, Any]] | None = None
                       ) -> ForecastTaskConfig:
        """The windowed model's defaults, or the global model's when ``overrides`` name a
        file with several series (``--id-column``) or ``--global-model``."""
        return panel_files.default_config(overrides or {}) or ForecastTaskConfig()

    def refuse_resume(self, saved: Mapping[str, Any]) -> str | None:
        """A global-model run trains several models and calibrates them: no checkpoint."""
        panel = (saved.get("config") or {}).get("panel") or {}
        if saved.get("task") == TASK and panel.get("global_model"):
            return ("it holds a global-model forecast, which trains in one go; train it "
                    "again with --overwrite")
        return None

    def train(self, config: ForecastTaskConfig, run: RunDir | None, *, resume: bool = False,
              callbacks: Iterable[Callback] = (), evaluate: bool = True) -> TrainResult:
        """Train into ``run`` (claimed by the caller; None: in memory only).

        Args:
            config: the composed config; its auto fields are resolved here, and the
                resolved config is what ``config.json`` saves.
            run: the run folder, already claimed (checked against resume/overwrite).
            resume: continue ``run``'s checkpoint; ``scaler.json`` is read, not rewritten.
            callbacks: ``rnnlab.train`` callbacks (progress bars).
            evaluate: score the model and draw the plots into ``run`` at the end.

        Returns:
            ``TrainResult`` with extras ``config`` (resolved), ``scaler`` and
            ``evaluation`` (the scores, or None).
        """
        config = config.resolved()
        if self._is_global(config, resume):
            if resume:
                raise ConfigError(f"{getattr(run, 'path', run)} cannot be resumed: the "
                                  "global model trains in one go; train it again with "
                                  "--overwrite")
            config = _with_global(config, True)
            return panel_files.train_global(self, config, run, callbacks=callbacks,
                                            evaluate=evaluate)
        scaler = None
        if run is not None and resume and run.last.exists():
            config = self._check_resume(run, config)
            if run.file(SCALER).exists():
                scaler = StandardScaler.from_dict(run.load_json(SCALER))
        data = load_data(config, scaler=scaler)  # reads and checks everything; writes nothing
        if data.column != config.data.column:  # the file's only numeric column, found
            config = dataclasses.replace(
                config, data=dataclasses.replace(config.data, column=data.column))
        torch.manual_seed(config.fit.seed)  # initial weights repeat with the seed
        arch = config.model_config()
        model = Forecaster(arch)
        main = is_main_process()  # under data-parallel training only rank 0 writes files
        if run is not None and main:
            run.create()
            if scaler is None:  # a fresh run: nothing of an earlier one may stay
                for name in self.artefacts:
                    run.file(name).unlink(missing_ok=True)
                run.save_json(SCALER, data.scaler.to_dict())
        windows = {"train": len(data.train), "val": len(data.val), "test": len(data.test)}
        steps = StepLog(every=max(1, (config.data.iterations or 0) // 100))
        history = fit(
            model, tensors(data.train, config), loss_fn=ForecastLoss(arch.horizon),
            config=config.fit.plain(),
            val_data=tensors(data.val, config) if len(data.val) else None,
            callbacks=(*callbacks, steps), run_dir=run,  # claimed by the caller
            run_config=saved_config(self, config, data={"windows": windows},
                                    model=arch.to_dict()))
        if run is not None and main and config.data.is_synthetic and config.fit.plot:
            _plot_by_step(run, steps.rows, history)
        if run is not None and main and arch.horizon and len(data.val):
            loaded = self._load(run, run.load_config(), config.fit.device)
            run.save_json(MULTISTEP, loaded.choose_method(data.val))
        scores = None
        if run is not None and evaluate and main:
            scores = evaluate_forecast(run.path, device=config.fit.device)
        return TrainResult(model=model, history=history,
                           extras={"config": config, "scaler": data.scaler,
                                   "evaluation": scores})

    def load(self, run: RunDir, *, device: Any = "cpu", weights: str = "best"
             ) -> LoadedForecast | PredictorEnsemble:
        """The trained model with its config and scaler (``weights``: "best" or "last"),
        or a global run's ``PredictorEnsemble`` (one set of weights)."""
        run = RunDir(getattr(run, "path", run))
        saved = run.load_config()
        if self._saved_global(saved, run):
            return panel_files.load_predictor(run, resolve_device(device))
        return self._load(run, saved, resolve_device(device), weights)

    def evaluate(self, run: RunDir, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
        """Scores on ``split`` (default "test"; "val" where the data has no test part).

        ``data``: data-part fields that replace the saved ones (``{"series": "new.csv"}``
        scores another file with the run's scaler).
        """
        run = RunDir(getattr(run, "path", run))
        saved = run.load_config()
        if self._saved_global(saved, run):
            config = self.config_from_saved(saved, where=str(run.config))
            if data:
                config = dataclasses.replace(config, data=dataclasses.replace(config.data,
                                                                              **data))
            return {**panel_files.evaluate_run(run, config, split=split, device=device),
                    "weights": weights}
        loaded = self.load(run, device=device, weights=weights)
        if data:
            changes = dict(data)
            if changes.get("series", loaded.config.data.series) != SYNTHETIC:
                changes.setdefault("iterations", None)
            cfg = loaded.config
            loaded = dataclasses.replace(loaded, config=dataclasses.replace(
                cfg, data=dataclasses.replace(cfg.data, **changes)))
        d = loaded.config.data
        split = split or ("test" if d.is_synthetic or d.test_fraction > 0 else "val")
        result, _ = evaluate_loaded(loaded, split=split)
        return {**result, "weights": weights}

    def predict(self, run: RunDir, *, inputs: Mapping[str, Any], device: Any = "cpu",
                weights: str = "best") -> list[dict]:
        raise ConfigError(f"rnnlab predict does not handle forecast runs; use "
                          f"`rnnlab forecast {getattr(run, 'path', run)}` (--steps, --plot)")

    def backtest(self, config, *, progress=None, callbacks: Iterable[Callback] = ()):
        """Rolling-origin backtest of the global model and the baselines on a panel.

        Args:
            config: a ``rnnlab.tasks.forecast_backtest.BacktestConfig``.
            progress: ``progress(done, total)`` after each origin.
            callbacks: ``rnnlab.train`` callbacks for every fit.

        Returns:
            A ``BacktestResult`` (``.metrics``, ``.forecasts``, ``.to_json()``).
        """
        from rnnlab.tasks.forecast_backtest import run_backtest

        return run_backtest(config, progress=progress, callbacks=callbacks)

    def migrate(self, saved: dict) -> dict:
        """0.1.0's ``{"task", "forecast": {flat settings}, "model", "fit"}`` -> the config."""
        flat = saved.get("forecast")
        if not isinstance(flat, dict):
            raise ConfigError("a version-1 forecast config.json needs its \"forecast\" "
                              f"settings; found keys {sorted(saved)}")
        return to_dict(from_flat(flat, where="settings in config.json's \"forecast\""))

    # ------------------------------------------------------------------ helpers

    def _is_global(self, config: ForecastTaskConfig, resume: bool) -> bool:
        """``panel.global_model``, or for "auto": whether the file holds several series
        (a resumed run from before the global model was windowed)."""
        if config.panel.global_model is not None:
            return config.panel.global_model
        return not resume and panel_files.several_series(config.data)

    def _saved_global(self, saved: dict, run: RunDir) -> bool:
        check_task(saved, run)
        panel = (saved.get("config") or {}).get("panel") or {}
        return bool(panel.get("global_model"))

    def _load(self, run: RunDir, saved: dict, device, weights: str = "best") -> LoadedForecast:
        check_task(saved, run)
        config = self.config_from_saved(saved, where=str(run.config))
        arch = (from_dict(ForecasterConfig, saved["model"], where=f"{run.config}'s model")
                if isinstance(saved.get("model"), dict) else config.model_config())
        model = Forecaster(arch)
        load_weights(run, model, which=weights, device=device)
        scaler = (StandardScaler.from_dict(run.load_json(SCALER)) if run.file(SCALER).exists()
                  else StandardScaler())
        method = (run.load_json(MULTISTEP)["method"] if run.file(MULTISTEP).exists()
                  else "auto")
        return LoadedForecast(model, config, scaler, method)

    def _check_resume(self, run: RunDir, config: ForecastTaskConfig) -> ForecastTaskConfig:
        """``config`` against the run's saved one: one line per setting that may not change."""
        saved = self.config_from_saved(run.load_config(), where=str(run.config)).resolved()
        if config.data.column is None:  # auto: the column the run found
            config = dataclasses.replace(
                config, data=dataclasses.replace(config.data, column=saved.data.column))
        conflicts = []
        for part in ("data", "model", "fit", "panel"):
            mine, theirs = getattr(config, part), getattr(saved, part)
            for f in dataclasses.fields(mine):
                old, new = getattr(theirs, f.name), getattr(mine, f.name)
                if old == new or option_of(f).resumable or (part == "fit"
                                                            and f.name in _RESUMABLE_FIT):
                    continue
                conflicts.append(f"{f.name}: the run has {old!r}, given {new!r}")
        if conflicts:
            raise ConfigError(f"{run.path} was trained with other settings, which resume "
                              f"cannot change: {'; '.join(conflicts)}")
        return config


_TASK = ForecastTask()


def _with_global(config: ForecastTaskConfig, value: bool) -> ForecastTaskConfig:
    return dataclasses.replace(config, panel=dataclasses.replace(config.panel,
                                                                 global_model=value))


def check_task(saved: Mapping[str, Any], run: RunDir) -> None:
    """ConfigError naming the task and the command to use when ``run`` is not a forecast."""
    task = saved.get("task")
    if task == TASK:
        return
    if isinstance(task, str) and task:
        raise ConfigError(f"{run.path} holds a {task!r} run, not a forecasting run; use "
                          f"`rnnlab evaluate {run.path}` or `rnnlab predict {run.path}`")
    raise ConfigError(f"{run.config} names no task, so it is not a forecasting run")


# --------------------------------------------------------------------------- 0.1.0's API


@dataclass
class TrainedForecast:
    """What ``train_forecast`` returns: the model, its history, the scaler and config."""

    model: Forecaster
    history: History
    scaler: StandardScaler
    config: ForecastTaskConfig
    evaluation: dict | None = None


def train_forecast(
    config: ForecastTaskConfig,
    callbacks: Iterable[Callback] = (),
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    evaluate: bool = True,
) -> TrainedForecast:
    """Train a forecaster as ``config`` says, into ``run_dir`` when given.

    Args:
        config: a ``ForecastTaskConfig`` (``ForecastConfig(...)`` builds one).
        callbacks: ``rnnlab.train`` callbacks (progress bars).
        run_dir: the run folder (config.json, checkpoints, scaler.json, evaluation.json,
            plots); None trains in memory only.
        resume: continue the run in ``run_dir``. overwrite: replace a finished run there.
            A folder holding a run with neither is refused before anything is written.
        evaluate: with a run folder, score the model on held-out data and draw the plots
            once training ends.

    Returns:
        A ``TrainedForecast``.

    Example:
        >>> cfg = ForecastConfig(iterations=100, units=20)
        >>> result = train_forecast(cfg, run_dir="runs/sine")   # doctest: +SKIP
        >>> evaluate_forecast("runs/sine")["mse"]               # doctest: +SKIP
    """
    if run_dir is None:
        result = _TASK.train(config, None, resume=resume, callbacks=callbacks,
                             evaluate=evaluate)
    else:
        from rnnlab.tasks.runner import claimed

        with claimed(run_dir, resume=resume, overwrite=overwrite) as run:
            result = _TASK.train(config, run, resume=resume, callbacks=callbacks,
                                 evaluate=evaluate)
    extras = result.extras
    return TrainedForecast(model=result.model, history=result.history,
                           scaler=extras["scaler"], config=extras["config"],
                           evaluation=extras["evaluation"])


def _plot_by_step(run: RunDir, rows: list[dict], history) -> None:
    """The synthetic series trains one long epoch: draw its curve by step, not as one dot."""
    if not rows or rows[0]["step"] != 1:  # a resumed run logged only its last part
        return
    from rnnlab.plots.curves import plot_learning_curves

    last = history.rows[-1] if history.rows else {}
    end = {"step": history.step, **{k: v for k, v in last.items() if k.startswith("val_")}}
    plot_learning_curves([*rows, end], run.file(CURVES), x="step")


def load_forecast(run: RunDir, config: dict, device) -> LoadedForecast:
    """Rebuild a forecasting run's model (best, else last weights), config and scaler."""
    return _TASK._load(run, config, device)


def evaluate_forecast(
    run_dir: str | os.PathLike,
    steps: int | None = None,
    *,
    plot: str | os.PathLike | None = None,
    write: bool = True,
    device: str = "cpu",
) -> dict:
    """Score a trained run on held-out windows, beside every baseline.

    Args:
        run_dir: a folder written by ``train_forecast`` (or by 0.1.0).
        steps: values to forecast after each window (default: the run's horizon).
        plot: also write the multi-step forecast plot to this path (its folder is made).
        write: save ``evaluation.json`` and the plots (forecast.png, prediction.png, and
            series.png for the synthetic series) into the run folder.
        device: where to run the model.

    Returns:
        ``{"mse", "mae", "steps", "windows", "split", "next_step_mse", "baselines":
        {name: {"mse", "mae"}}, "beats_persistence": bool, "beats": {name: bool},
        "scaler"}`` (see ``rnnlab.tasks.forecast_eval``).
    """
    run = RunDir(run_dir)
    saved = run.load_config()
    check_task(saved, run)
    path = None if plot is None else plot_path(plot)  # a bad path fails before any work
    if _TASK._saved_global(saved, run):
        config = _TASK.config_from_saved(saved, where=str(run.config))
        return panel_files.forecast_run(run, config, steps=steps, plot=path, write=write,
                                        device=resolve_device(device))
    loaded = _TASK._load(run, saved, resolve_device(device))
    result, data = evaluate_loaded(loaded, steps=steps)
    if not result["beats_persistence"]:
        log.warning("%s: the model does not beat persistence (MSE %.4g vs %.4g)", run.path,
                    result["mse"], result["baselines"]["persistence"]["mse"])
    if write or path is not None:
        figs = figures(loaded, data, result["steps"], every=write)
    if write:
        for name, fig in figs.items():
            save_figure(fig, run.file(name))
        run.save_json(EVALUATION, result)
    if path is not None:
        save_figure(figs["forecast.png"], path)
    return result
