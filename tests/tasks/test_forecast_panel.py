"""`rnnlab train forecast` on a panel: the global model in a run folder, scored and exported."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.data.frequency import Frequency, next_times, parse_frequency
from rnnlab.tasks import load_run
from rnnlab.tasks.forecast_backtest import (
    BacktestConfig,
    BacktestDataConfig,
    BacktestSettings,
    run_backtest,
)
from rnnlab.tasks.forecast_ensemble import PredictorEnsemble
from rnnlab.tasks.forecast_global import GlobalFitConfig, GlobalModelConfig
from rnnlab.tasks.forecast_panel import load_predictor
from rnnlab.training.runfolder import RunDir

H = 3
#: Small enough for seconds; the same settings for the run and its reference backtest.
TINY = ["--units", "4", "--epochs", "2", "--min-steps", "0", "--batch-size", "64"]


def _panel(path, lengths=(30, 24, 40, 2), seed=0):
    """Monthly series with a season and a trend; the last one shorter than the horizon."""
    rng = np.random.default_rng(seed)
    lines = ["id,month,sales"]
    for i, n in enumerate(lengths):
        for k in range(n):
            v = 20 + i + 3 * np.sin(2 * np.pi * k / 12) + 0.1 * k + rng.normal(0, 0.3)
            lines.append(f"s{i},{2000 + k // 12}-{k % 12 + 1:02d}-01,{v:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _train(path, out, *extra):
    return cli.main(["train", "forecast", "--series", str(path), "--column", "sales",
                     "--time-column", "month", "--id-column", "id", "--horizon", str(H),
                     *TINY, "--quiet", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("panel")
    path = _panel(folder / "p.csv")
    assert _train(path, folder / "run") == 0
    return path, folder / "run"


def test_a_panel_trains_the_global_model_by_default(trained):
    _, run = trained
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["panel"]["global_model"] is True
    assert saved["config"]["model"]["cell"] == "gru"  # the global model's default cell
    assert saved["data"]["series"] == 4 and saved["data"]["test_series"] == 3
    for name in ("global.safetensors", "global.json", "evaluation.json", "forecast.png",
                 "metrics.csv", "report.html"):
        assert (run / name).is_file(), name
    assert not (run / "scaler.json").exists()  # the windowed model's file


def test_the_evaluation_is_the_one_origin_backtest(trained):
    path, run = trained
    ev = json.loads((run / "evaluation.json").read_text())
    reference = run_backtest(BacktestConfig(
        data=BacktestDataConfig(series=str(path), column="sales", time_column="month",
                                id_column="id"),
        backtest=BacktestSettings(horizon=H, windows=1, short="skip"),
        model=GlobalModelConfig(num_units=4),
        fit=GlobalFitConfig(epochs=2, min_steps=0, batch_size=64, seed=0)))
    # The backtest skips the short series; the run trains on it, so their models differ
    # in what they saw but not in how they are scored: the baselines agree exactly.
    assert ev["windows"] == 3 and len(ev["forecasts"]) == 3
    for name in ("naive", "seasonal_naive", "drift"):
        assert ev["metrics"][name]["mase"] == pytest.approx(
            reference.metrics[name]["mase"], rel=1e-12)
    truth = [e["y"] for e in ev["forecasts"]]
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=2)
    np.testing.assert_allclose(truth[0], values[30 - H:30])
    assert 0 <= ev["metrics"]["rnnlab"]["coverage"]["80"] <= 1


def test_evaluate_gives_the_saved_scores(trained, capsys):
    _, run = trained
    assert cli.main(["evaluate", str(run), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ev = json.loads((run / "evaluation.json").read_text())
    assert scores["metrics"] == ev["metrics"] and scores["split"] == "test"


def test_forecast_writes_the_next_values_of_every_series(trained, capsys, tmp_path):
    path, run = trained
    assert cli.main(["forecast", str(run), "--plot", str(tmp_path / "f.png")]) == 0
    out = capsys.readouterr().out
    assert "forecast.csv" in out and "| rnnlab |" in out
    rows = list(csv.DictReader((run / "forecast.csv").read_text().splitlines()))
    assert len(rows) == 4 * H and (tmp_path / "f.png").is_file()
    first = [r for r in rows if r["id"] == "s0"]
    assert [r["time"] for r in first] == ["2002-07-01", "2002-08-01", "2002-09-01"]
    short = [r for r in rows if r["id"] == "s3"]  # 2 values: forecast all the same
    assert len(short) == H and all(np.isfinite(float(r["mean"])) for r in short)
    # The rows are the loaded predictor's forecast from each whole series.
    predictor = load_run(run)
    assert isinstance(predictor, PredictorEnsemble)
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=2)
    series = np.split(values, np.cumsum([30, 24, 40])[:3])
    fc = predictor.forecast(series)
    np.testing.assert_allclose([float(r["mean"]) for r in first], fc["mean"][0], rtol=1e-8)
    lo = np.array([float(r["lo-80"]) for r in rows]).reshape(4, H)
    hi = np.array([float(r["hi-80"]) for r in rows]).reshape(4, H)
    assert (lo <= hi).all()
    np.testing.assert_allclose(lo, fc["lo-80"], rtol=1e-8)


def test_a_wrong_steps_is_one_error_line(trained, capsys):
    _, run = trained
    assert cli.main(["forecast", str(run), "--steps", "5"]) != 0
    err = capsys.readouterr().err
    assert "horizon=3" in err and "Traceback" not in err


def test_the_saved_predictor_round_trips(tmp_path):
    from rnnlab.tasks.forecast import ForecastTask
    from rnnlab.tasks.runner import claimed

    path = _panel(tmp_path / "p.csv", lengths=(20, 26))
    task = ForecastTask()
    overrides = {"data": {"series": str(path), "column": "sales", "time_column": "month",
                          "id_column": "id", "horizon": H},
                 "model": {"num_units": 4}, "fit": {"epochs": 2, "batch_size": 64},
                 "panel": {"min_steps": 0, "ensemble": 2}}
    from rnnlab.tasks.base import apply_overrides

    config = apply_overrides(task.default_config(overrides), overrides)
    with claimed(tmp_path / "run", resume=False, overwrite=False) as run:
        result = task.train(config, run)
    trained = result.extras["predictor"]
    loaded = load_predictor(RunDir(tmp_path / "run"))
    assert len(loaded.members) == 2
    assert [m.weight for m in loaded.members] == [m.weight for m in trained.members]
    for a, b in zip(loaded.members, trained.members, strict=True):
        assert a.corrections.keys() == b.corrections.keys()
        np.testing.assert_array_equal(a.corrections[80], b.corrections[80])
    ys = [np.linspace(10, 20, 15), np.linspace(5, 1, 9) + 10]
    a, b = trained.forecast(ys), loaded.forecast(ys)
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-12)


def test_the_exported_graph_forecasts_as_the_run(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    from rnnlab.export.runtime import export_run, onnx_session

    _, run = trained
    out = export_run(run, tmp_path / "g.onnx")
    predictor = load_run(run)
    ys = [np.linspace(10, 20, 15) + np.sin(np.arange(15)), np.linspace(25, 21, 9)]
    x = np.zeros((2, 15, 1), np.float32)
    x[0, :, 0], x[1, :9, 0] = ys[0], ys[1]
    got = onnx_session(out).run(None, {"inputs": x, "lengths": np.array([15, 9])})
    want = predictor.forecast([y.astype(np.float32).astype(np.float64) for y in ys])
    np.testing.assert_allclose(got[0], want["mean"], rtol=1e-4, atol=1e-4)


def test_one_series_and_no_global_model_keep_the_windowed_model(tmp_path):
    one = _panel(tmp_path / "one.csv", lengths=(150,))
    assert _train(one, tmp_path / "a", "--window", "12") == 0
    assert (tmp_path / "a" / "scaler.json").is_file()
    assert not (tmp_path / "a" / "global.json").exists()
    many = _panel(tmp_path / "many.csv", lengths=(150, 140))
    assert _train(many, tmp_path / "b", "--window", "12", "--no-global-model") == 0
    saved = json.loads((tmp_path / "b" / "config.json").read_text())
    assert saved["config"]["panel"]["global_model"] is False
    assert saved["config"]["model"]["cell"] == "rnn"  # the windowed defaults
    assert (tmp_path / "b" / "scaler.json").is_file()


def test_refused_commands_leave_the_run_alone(trained, tmp_path, capsys):
    path, run = trained
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert _train(path, run, "--resume") != 0
    assert "cannot be resumed" in capsys.readouterr().err
    after = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert after == before
    assert _train(path, tmp_path / "c", "--direct-head") != 0
    err = capsys.readouterr().err
    assert "--direct-head" in err and "windowed model" in err
    assert not (tmp_path / "c" / "config.json").exists()


def test_next_times_follow_the_frequency():
    def stamp(y, m, d):
        return dt.datetime(y, m, d, tzinfo=dt.UTC).timestamp()

    months = np.array([stamp(2020, 11, 1), stamp(2020, 12, 1)])
    assert next_times(months, True, parse_frequency("M"), 2) == ["2021-01-01", "2021-02-01"]
    ends = np.array([stamp(2021, 1, 31), stamp(2021, 2, 28)])
    assert next_times(ends, True, parse_frequency("M"), 2) == ["2021-03-31", "2021-04-30"]
    quarters = np.array([stamp(2020, 7, 1), stamp(2020, 10, 1)])
    assert next_times(quarters, True, parse_frequency("Q"), 1) == ["2021-01-01"]
    hours = np.array([stamp(2020, 1, 1), stamp(2020, 1, 1) + 3600])
    assert next_times(hours, True, parse_frequency("H"), 1) == ["2020-01-01T02:00:00"]
    years = np.array([2012.0, 2013.0])
    assert next_times(years, False, Frequency("numeric", 1, 1.0), 2) == ["2014", "2015"]


def test_the_calendar_runs_on_past_each_series_end(tmp_path):
    from rnnlab.data.series_panel import read_panel
    from rnnlab.tasks.forecast_backtest import panel_covariates
    from rnnlab.tasks.forecast_panel import calendar_ahead

    def covariates(path):
        panel = read_panel(path, "sales", time_column="month", id_column="id")
        d = BacktestDataConfig(series=str(path), column="sales", time_column="month",
                               id_column="id", calendar=True)
        return panel, panel_covariates(panel, d)

    short, cov = covariates(_panel(tmp_path / "short.csv", lengths=(20, 31)))
    _, whole = covariates(_panel(tmp_path / "long.csv", lengths=(20 + H, 31 + H)))
    ahead = calendar_ahead(short, cov, H)
    for got, want in zip(ahead.future, whole.future, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)


def test_forecast_with_the_calendar_and_refused_future_covariates(tmp_path, capsys):
    path = _panel(tmp_path / "p.csv", lengths=(30, 26))
    assert _train(path, tmp_path / "cal", "--calendar") == 0
    assert cli.main(["forecast", str(tmp_path / "cal"), "--quiet"]) == 0
    rows = list(csv.DictReader((tmp_path / "cal" / "forecast.csv").read_text().splitlines()))
    assert len(rows) == 2 * H and all(np.isfinite(float(r["mean"])) for r in rows)
    lines = path.read_text().splitlines()
    lines = [lines[0] + ",promo"] + [f"{line},{k % 2}" for k, line in enumerate(lines[1:])]
    promo = tmp_path / "promo.csv"
    promo.write_text("\n".join(lines) + "\n")
    assert _train(promo, tmp_path / "pr", "--future-covariates", "promo") == 0
    capsys.readouterr()
    assert cli.main(["forecast", str(tmp_path / "pr")]) != 0
    err = capsys.readouterr().err
    assert "future covariates" in err and "Traceback" not in err


def test_the_reproduce_command_trains_the_same_run(trained, tmp_path):
    import shlex

    from rnnlab.report import read_run, reproduce_command

    _, run = trained
    words = shlex.split(reproduce_command(read_run(run)))
    assert "--series" in words and "--id-column" in words
    words[words.index("--out") + 1] = str(tmp_path / "again")
    assert cli.main([*words[1:], "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "evaluation.json").read_text())
    assert again["metrics"] == json.loads((run / "evaluation.json").read_text())["metrics"]


def test_overwriting_a_windowed_run_leaves_none_of_its_files(tmp_path):
    path = _panel(tmp_path / "p.csv", lengths=(150, 140))
    run = tmp_path / "run"
    assert _train(path, run, "--window", "12", "--no-global-model") == 0
    assert (run / "last.safetensors").is_file() and (run / "scaler.json").is_file()
    assert _train(path, run, "--overwrite") == 0
    for name in ("last.safetensors", "best.safetensors", "scaler.json", "prediction.png"):
        assert not (run / name).exists(), name
    assert isinstance(load_run(run), PredictorEnsemble)


def test_auto_decides_by_the_number_of_series_in_python_too(tmp_path):
    from rnnlab.tasks.forecast import ForecastTask
    from rnnlab.tasks.forecast_config import (
        ForecastDataConfig,
        ForecastModelConfig,
        ForecastPanelConfig,
        ForecastTaskConfig,
    )

    path = _panel(tmp_path / "p.csv", lengths=(30, 26))
    config = ForecastTaskConfig(
        data=ForecastDataConfig(series=str(path), column="sales", time_column="month",
                                id_column="id", horizon=H),
        model=ForecastModelConfig(cell="gru", num_units=4),
        panel=ForecastPanelConfig(min_steps=0))
    assert config.panel.global_model is None
    result = ForecastTask().train(dataclasses.replace(
        config, fit=dataclasses.replace(config.fit, epochs=2)), None)
    assert result.extras["config"].panel.global_model is True
    assert isinstance(result.extras["predictor"], PredictorEnsemble)
    one = ForecastTaskConfig(data=ForecastDataConfig(series=str(path), column="sales"))
    assert ForecastTask()._is_global(one.resolved(), resume=False) is False


def test_the_report_of_a_run_whose_file_is_gone(tmp_path):
    from rnnlab.report import read_run, reproduce_command

    path = _panel(tmp_path / "p.csv", lengths=(30, 26))
    assert _train(path, tmp_path / "run", "--ensemble", "1") == 0
    path.unlink()
    assert reproduce_command(read_run(tmp_path / "run")) is None  # no command, no crash
    assert cli.main(["report", str(tmp_path / "run"), "--quiet"]) == 0
