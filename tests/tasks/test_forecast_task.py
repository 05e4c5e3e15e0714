"""ForecastTask on the task contract: composed config, run folder rules, evaluation."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from rnnlab.config import flag_of, from_dict, to_dict
from rnnlab.errors import ConfigError
from rnnlab.runs import RunDir
from rnnlab.tasks.base import get_task, parts
from rnnlab.tasks.forecast import (
    ForecastConfig,
    ForecastDataConfig,
    ForecastModelConfig,
    ForecastTask,
    ForecastTaskConfig,
    evaluate_forecast,
    train_forecast,
)
from rnnlab.tasks.forecast_config import default_fit
from rnnlab.tasks.forecast_eval import figures

TINY = dict(units=8, batch_size=10, device="cpu")

# Every flag of 0.1.0's `rnnlab train forecast` that names a config field.
FLAGS = ("--series", "--column", "--time-column", "--id-column", "--missing", "--window",
         "--horizon", "--period", "--sampler", "--window-norm", "--model", "--units",
         "--layers", "--activation", "--dropout", "--projection", "--direct-head",
         "--iterations", "--epochs", "--batch-size", "--lr", "--clip-grad-norm",
         "--schedule", "--patience")


def _csv(path, n=120, scale=1.0, dates=False):
    rng = np.random.default_rng(0)
    lines = ["day,sales"]
    for d in range(n):
        v = scale * (100 + 5 * np.sin(2 * np.pi * d / 7) + rng.normal(0, 0.5))
        day = f"2021-{1 + d // 28:02d}-{1 + d % 28:02d}" if dates else str(d)
        lines.append(f"{day},{v:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _file_config(csv, **fit):
    return ForecastTaskConfig(
        data=ForecastDataConfig(series=str(csv), time_column="day", window=7),
        model=ForecastModelConfig(num_units=4),
        fit=dataclasses.replace(default_fit(), device="cpu", **{"epochs": 1, **fit}))


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


# --------------------------------------------------------------------- the config


def test_the_task_is_registered_with_a_composed_config():
    task = get_task("forecast")
    assert isinstance(task, ForecastTask) and task.config_type is ForecastTaskConfig
    assert [name for name, _ in parts(ForecastTaskConfig)] == ["data", "model", "fit", "panel"]
    assert "scaler.json" in task.artefacts and "evaluation.json" in task.artefacts


def test_every_flag_of_0_1_0_is_a_field_and_no_flag_is_declared_twice():
    flags = {}
    for part, cls in parts(ForecastTaskConfig):
        for f in dataclasses.fields(cls):
            flag = flag_of(cls, f.name)
            assert flag not in flags, f"{flag} in {part} and {flags.get(flag)}"
            flags[flag] = part
    assert set(FLAGS) <= set(flags), set(FLAGS) - set(flags)
    assert flags["--units"] == "model" and flags["--iterations"] == "data"
    assert flags["--epochs"] == "fit"


def test_the_flat_constructor_builds_the_resolved_composed_config():
    cfg = ForecastConfig(iterations=15, units=8, layers=2, model="gru", lr=3e-3, seed=5)
    assert isinstance(cfg, ForecastTaskConfig)
    assert (cfg.model.cell, cfg.model.num_units, cfg.model.num_layers) == ("gru", 8, 2)
    assert (cfg.data.iterations, cfg.fit.epochs, cfg.fit.lr, cfg.fit.seed) == (15, 1, 3e-3, 5)
    assert (cfg.fit.shuffle, cfg.fit.checkpoint_unit, cfg.data.window_norm) == (
        False, "step", "none")
    assert (cfg.units, cfg.window, cfg.lr, cfg.sampler) == (8, 20, 3e-3, "uniform")  # 0.1.0's
    file_cfg = ForecastConfig(series="s.csv", column="v")
    assert (file_cfg.fit.epochs, file_cfg.fit.shuffle, file_cfg.data.iterations) == (
        20, True, None)
    assert file_cfg.data.window_norm == "last"


def test_auto_fields_resolve_per_kind_of_series_and_the_config_round_trips():
    default = ForecastTaskConfig()
    assert default.fit.epochs is None and default.data.iterations is None
    synthetic = default.resolved()
    assert (synthetic.data.iterations, synthetic.fit.epochs, synthetic.fit.batch_size) == (
        1500, 1, 50)
    on_file = dataclasses.replace(default, data=ForecastDataConfig(series="s.csv")).resolved()
    assert (on_file.fit.epochs, on_file.fit.checkpoint_unit, on_file.data.iterations) == (
        20, "epoch", None)
    assert synthetic.resolved() == synthetic
    assert from_dict(ForecastTaskConfig, json.loads(json.dumps(to_dict(synthetic)))) == synthetic


def test_iterations_and_epochs_keep_to_their_kind_of_series():
    with pytest.raises(ConfigError, match="epochs=3 applies to a series file"):
        ForecastTaskConfig(fit=dataclasses.replace(default_fit(), epochs=3))
    with pytest.raises(ConfigError, match="iterations=4 applies to the synthetic"):
        ForecastDataConfig(series="s.csv", iterations=4)
    with pytest.raises(ConfigError, match="unknown setting"):
        from_dict(ForecastTaskConfig, {"data": {"colour": "red"}})
    with pytest.raises(ConfigError, match="'cnn'"):
        ForecastModelConfig(cell="cnn")
    with pytest.raises(ConfigError, match="epochs=0"):
        dataclasses.replace(default_fit(), epochs=0)


def test_config_json_saves_each_value_once_as_used(tmp_path):
    run = tmp_path / "run"
    train_forecast(ForecastConfig(iterations=5, **TINY), run_dir=run, evaluate=False)
    saved = json.loads((run / "config.json").read_text())
    assert saved["version"] == 2 and saved["task"] == "forecast"
    assert saved["config"]["fit"] == saved["fit"]  # no "epochs: null" beside "epochs: 1"
    assert saved["config"]["data"]["iterations"] == 5
    assert "forecast" not in saved and saved["model"]["num_units"] == 8
    csv = _csv(tmp_path / "s.csv")
    train_forecast(_file_config(csv, epochs=None), run_dir=tmp_path / "f", evaluate=False)
    saved = json.loads((tmp_path / "f" / "config.json").read_text())
    assert saved["config"]["fit"] == saved["fit"] and saved["fit"]["epochs"] == 20


# --------------------------------------------------------------------- the run folder


def test_a_refused_train_changes_no_byte_of_the_run(tmp_path):
    run = tmp_path / "run"
    train_forecast(_file_config(_csv(tmp_path / "a.csv")), run_dir=run)
    before = _hashes(run)
    other = _file_config(_csv(tmp_path / "b.csv", scale=3.0))  # another scaler
    with pytest.raises(ConfigError, match="already holds a run"):
        train_forecast(other, run_dir=run)
    with pytest.raises(ConfigError, match="contradict"):
        train_forecast(other, run_dir=run, resume=True, overwrite=True)
    assert _hashes(run) == before


def test_resume_reads_the_scaler_from_the_run(tmp_path):
    csv = _csv(tmp_path / "s.csv")
    run = tmp_path / "run"
    first = train_forecast(_file_config(csv), run_dir=run, evaluate=False)
    scaler = (run / "scaler.json").read_bytes()
    _csv(csv, scale=2.0)  # the file changed since: a refit scaler would differ
    again = train_forecast(_file_config(csv, epochs=2), run_dir=run, resume=True)
    assert (run / "scaler.json").read_bytes() == scaler
    assert again.scaler == first.scaler and len(again.history.rows) == 2
    with pytest.raises(ConfigError, match=r"num_units: the run has 4, given 5"):
        cfg = _file_config(csv, epochs=3)
        cfg = dataclasses.replace(cfg, model=ForecastModelConfig(num_units=5))
        train_forecast(cfg, run_dir=run, resume=True)


def test_overwrite_removes_the_earlier_runs_artefacts(tmp_path):
    run = tmp_path / "run"
    train_forecast(ForecastConfig(iterations=3, **TINY), run_dir=run)
    assert (run / "series.png").exists()
    train_forecast(_file_config(_csv(tmp_path / "s.csv")), run_dir=run, overwrite=True,
                   evaluate=False)
    assert not (run / "series.png").exists() and not (run / "evaluation.json").exists()


# --------------------------------------------------------------------- data and evaluation


def test_a_file_with_one_numeric_column_needs_no_column(tmp_path):
    csv = _csv(tmp_path / "s.csv", dates=True)  # day holds dates: sales is the only number
    cfg = dataclasses.replace(_file_config(csv), data=ForecastDataConfig(series=str(csv),
                                                                         window=7))
    result = train_forecast(cfg, run_dir=tmp_path / "run", evaluate=False)
    assert result.config.data.column == "sales"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["config"]["data"]["column"] == "sales"
    numbers = _csv(tmp_path / "n.csv")  # day holds numbers: two numeric columns
    cfg = dataclasses.replace(cfg, data=ForecastDataConfig(series=str(numbers), window=7))
    with pytest.raises(ConfigError, match=r"2 numeric columns \('day', 'sales'\)"):
        train_forecast(cfg, run_dir=tmp_path / "run2")
    assert not (tmp_path / "run2").exists()


def test_next_step_mse_is_the_same_whatever_steps(tmp_path):
    run = tmp_path / "run"
    trained = train_forecast(ForecastConfig(iterations=5, **TINY), run_dir=run)
    at_training = json.loads((run / "evaluation.json").read_text())["next_step_mse"]
    assert trained.evaluation["next_step_mse"] == at_training
    for steps in (1, 4):
        ev = evaluate_forecast(run, steps=steps, write=False)
        assert ev["next_step_mse"] == pytest.approx(at_training, rel=1e-12)


def test_plots_use_the_time_column_on_the_x_axis(tmp_path):
    for dates in (False, True):
        csv = _csv(tmp_path / f"s{dates}.csv", dates=dates)
        run = tmp_path / f"run{dates}"
        cfg = dataclasses.replace(_file_config(csv), data=ForecastDataConfig(
            series=str(csv), column="sales", time_column="day", window=7))
        train_forecast(cfg, run_dir=run, evaluate=False)
        task = ForecastTask()
        loaded = task.load(RunDir(run))
        from rnnlab.tasks.forecast_data import load_data

        data = load_data(loaded.config, horizon=2, scaler=loaded.scaler)
        fig = figures(loaded, data, 2)["forecast.png"]
        x = np.concatenate([line.get_xdata() for line in fig.axes[0].lines[:2]])
        days = [row.split(",")[0] for row in csv.read_text().split()[1:]][-9:]
        if dates:
            assert x.dtype.kind == "M"
            assert [str(v)[:10] for v in x] == days
        else:
            np.testing.assert_array_equal(x, np.array(days, dtype=float))
        assert fig.axes[0].get_xlabel() == "day"


def test_evaluate_and_load_on_the_contract(tmp_path):
    run = tmp_path / "run"
    train_forecast(ForecastConfig(iterations=5, **TINY), run_dir=run)
    task = ForecastTask()
    ev = task.evaluate(RunDir(run))
    saved = json.loads((run / "evaluation.json").read_text())
    assert (ev["split"], ev["weights"]) == ("test", "best")
    assert ev["mse"] == pytest.approx(saved["mse"], rel=1e-12)
    assert task.evaluate(RunDir(run), split="val", weights="last")["windows"] == 1000
    with pytest.raises(ConfigError, match="rnnlab forecast"):
        task.predict(RunDir(run), inputs={})


def test_another_tasks_run_is_named_with_the_command_to_use(tmp_path):
    run = RunDir(tmp_path / "digits").create()
    run.save_config({"task": "classify", "data": {}, "model": {"kind": "rnn", "config": {}}})
    with pytest.raises(ConfigError, match=r"holds a 'classify' run.*rnnlab evaluate"):
        evaluate_forecast(run.path)


def test_a_plot_path_in_a_missing_folder_is_created(tmp_path):
    run = tmp_path / "run"
    train_forecast(ForecastConfig(iterations=3, **TINY), run_dir=run, evaluate=False)
    evaluate_forecast(run, plot=tmp_path / "no" / "dir" / "x.png", write=False)
    assert (tmp_path / "no" / "dir" / "x.png").stat().st_size > 0
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create its folder"):
        evaluate_forecast(run, plot=tmp_path / "file" / "x.png", write=False)
    with pytest.raises(ConfigError, match="ending in one of"):
        evaluate_forecast(run, plot=tmp_path / "x.nope", write=False)


def test_evaluate_scores_another_file_with_the_runs_scaler(tmp_path):
    run = tmp_path / "run"
    train_forecast(_file_config(_csv(tmp_path / "a.csv")), run_dir=run, evaluate=False)
    task = ForecastTask()
    own = task.evaluate(RunDir(run))
    longer = _csv(tmp_path / "b.csv", n=240)
    other = task.evaluate(RunDir(run), data={"series": str(longer)})
    assert other["windows"] > own["windows"]
    assert other["scaler"] == own["scaler"] == json.loads((run / "scaler.json").read_text())


def test_a_plain_fit_config_is_taken_as_the_fit_part():
    from rnnlab.train import FitConfig

    cfg = ForecastTaskConfig(data=ForecastDataConfig(series="s.csv"), fit=FitConfig(epochs=4))
    assert cfg.fit.epochs == 4 and cfg.resolved().fit.plain() == FitConfig(epochs=4)


def test_a_run_trained_by_iterations_plots_its_curve_by_step(tmp_path, monkeypatch):
    import rnnlab.plots.curves as curves
    from rnnlab import cli

    drawn = []
    real = curves.plot_learning_curves

    def spy(rows, path, **kwargs):
        drawn.append((list(rows), kwargs))
        return real(rows, path, **kwargs)

    monkeypatch.setattr(curves, "plot_learning_curves", spy)
    run = tmp_path / "sine"
    assert cli.main(["train", "forecast", "--iterations", "40", "--units", "4", "--out",
                     str(run), "--quiet"]) == 0
    rows, kwargs = drawn[-1]
    assert kwargs.get("x") == "step" and len(rows) > 10  # a curve, not one dot
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    assert (run / "curves.png").exists()
