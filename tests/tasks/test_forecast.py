"""The forecasting job end to end on tiny settings: synthetic and a CSV series."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.baselines import persistence
from rnnlab.errors import ConfigError
from rnnlab.runs import load_run
from rnnlab.tasks.forecast import (
    ForecastConfig,
    ForecastLoss,
    LoadedForecast,
    evaluate_forecast,
    load_data,
    train_forecast,
)

TINY = dict(units=8, batch_size=10, device="cpu")


def test_synthetic_run_folder_evaluation_and_reload(tmp_path):
    run = tmp_path / "run"
    cfg = ForecastConfig(iterations=15, **TINY)
    result = train_forecast(cfg, run_dir=run, evaluate=False)
    assert result.history.step == 15
    assert not (run / "evaluation.json").exists()
    evaluate_forecast(run)
    for name in ("config.json", "scaler.json", "evaluation.json", "forecast.png",
                 "prediction.png", "series.png", "last.safetensors"):
        assert (run / name).exists(), name
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["windows"] == 1000 and ev["steps"] == 1
    assert set(ev["baselines"]) == {"persistence", "linear_ar"}
    assert ev["beats_persistence"] == (ev["mse"] < ev["baselines"]["persistence"]["mse"])
    # The synthetic series obeys a linear recurrence: least squares predicts it exactly.
    assert ev["baselines"]["linear_ar"]["mse"] < 1e-12

    loaded = load_run(run)
    assert isinstance(loaded, LoadedForecast) and loaded.config == cfg
    seg = load_data(cfg).test  # the fixed held-out windows
    pred = loaded.forecast(seg[:, :20], 1)
    err = float(np.mean((pred - seg[:, 20:]) ** 2))
    assert err == pytest.approx(ev["mse"], rel=1e-5)
    # Multi-step: 3 values fed back, plot to a chosen path.
    ev3 = evaluate_forecast(run, steps=3, plot=tmp_path / "f.png", write=False)
    assert ev3["steps"] == 3 and (tmp_path / "f.png").stat().st_size > 0
    p = persistence(load_data(cfg, horizon=3).test[:, :20], 3)
    truth = load_data(cfg, horizon=3).test[:, 20:]
    assert ev3["baselines"]["persistence"]["mse"] == pytest.approx(np.mean((p - truth) ** 2))


def test_same_seed_same_run(tmp_path):
    cfg = ForecastConfig(iterations=5, **TINY)
    a = train_forecast(cfg)
    b = train_forecast(cfg)
    assert a.history.rows == b.history.rows
    for pa, pb in zip(a.model.parameters(), b.model.parameters(), strict=True):
        assert torch.equal(pa, pb)


def _write_csv(path, n=160, ids=("a", "b")):
    rng = np.random.default_rng(0)
    lines = ["id,day,sales"]
    for k, sid in enumerate(ids):
        for d in range(n):
            v = 100 + 10 * k + 5 * np.sin(2 * np.pi * d / 7) + rng.normal(0, 0.5)
            lines.append(f"{sid},{d},{v:.4f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_series_by_epochs_with_seasonal_baseline(tmp_path):
    csv = _write_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    cfg = ForecastConfig(series=str(csv), column="sales", time_column="day", id_column="id",
                         window=14, horizon=2, period=7, epochs=2, direct_head=True, **TINY)
    res = train_forecast(cfg, run_dir=run)
    assert len(res.history.rows) == 2 and "val_loss" in res.history.rows[-1]
    # Scaler fitted on the training parts only (first 70% of each series), saved as JSON.
    scaler = json.loads((run / "scaler.json").read_text())
    raw = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=2).reshape(2, 160)
    assert scaler["mean"] == pytest.approx(raw[:, :112].mean())
    ev = evaluate_forecast(run)
    assert set(ev["baselines"]) == {"persistence", "seasonal_naive", "linear_ar"}
    # In the series' units: seasonal naive from the raw test windows of both series.
    tests = [raw[i, 136:] for i in range(2)]
    segs = np.concatenate([np.lib.stride_tricks.sliding_window_view(t, 16) for t in tests])
    sn = segs[:, 14 - 7 : 14 - 7 + 2]
    assert ev["baselines"]["seasonal_naive"]["mse"] == pytest.approx(
        np.mean((sn - segs[:, 14:]) ** 2), rel=1e-6)
    assert ev["windows"] == len(segs)
    # Forecasting past the direct head's 2 steps feeds predictions back.
    assert evaluate_forecast(run, steps=4, write=False)["steps"] == 4


def test_forecast_loss_with_and_without_head():
    seg = torch.arange(8.0).view(1, 8, 1)  # W = 5, H = 3
    targets = seg[:, 1:]
    nxt = seg[:, 1:6].clone()
    assert ForecastLoss()(nxt, targets).item() == 0.0
    assert ForecastLoss()(nxt + 2, targets).item() == 4.0
    ahead = seg[:, 5:8] + 1.0
    out = torch.cat([nxt, ahead], dim=1)  # (1, 5 + 3, 1)
    assert ForecastLoss(head=3)(out, targets).item() == pytest.approx(1.0)


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="epochs=3 applies to a series file"):
        ForecastConfig(epochs=3)
    with pytest.raises(ConfigError, match="iterations=3 applies to the synthetic"):
        ForecastConfig(series="x.csv", column="v", iterations=3)
    with pytest.raises(ConfigError, match="name its value column"):
        ForecastConfig(series="x.csv")
    with pytest.raises(ConfigError, match="'cnn'"):
        ForecastConfig(model="cnn")
    with pytest.raises(ConfigError, match="'gauss'"):
        ForecastConfig(sampler="gauss")
    with pytest.raises(ConfigError, match="unknown forecast settings"):
        ForecastConfig.from_dict({"units": 3, "colour": "red"})
    csv = _write_csv(tmp_path / "s.csv", n=30, ids=("a",))
    with pytest.raises(ConfigError, match="available: 'id', 'day', 'sales'"):
        train_forecast(ForecastConfig(series=str(csv), column="sale", **TINY))


def test_window_norm_last_forecasts_changes_and_adds_the_last_value_back():
    from rnnlab.data.series import StandardScaler
    from rnnlab.models.forecaster import Forecaster, forecast_horizon

    cfg = ForecastConfig(series="s.csv", column="v", window=6, **TINY)
    assert cfg.relative and not ForecastConfig(**TINY).relative
    assert ForecastConfig(window_norm="last", **TINY).relative
    model = Forecaster(cfg.model_config()).double()
    loaded = LoadedForecast(model, cfg, StandardScaler(mean=10.0, std=2.0))
    x = np.random.default_rng(0).normal(size=(3, 6))
    ref = forecast_horizon(model, x - x[:, -1:], 2) + x[:, -1:]
    np.testing.assert_allclose(loaded.ahead(x, 2), ref)
    # A level shift of the history shifts the forecast by the same amount.
    hist = 10 + 2 * x
    np.testing.assert_allclose(loaded.forecast(hist + 100, 2), loaded.forecast(hist, 2) + 100)
    with pytest.raises(ConfigError, match="'mean'"):
        ForecastConfig(window_norm="mean")


def test_validation_chooses_recursive_or_direct_and_the_run_keeps_the_choice(tmp_path):
    from rnnlab.models.forecaster import forecast_horizon
    from rnnlab.tasks.forecast import ForecastTask
    from rnnlab.tasks.forecast_data import load_data
    from rnnlab.training.runfolder import RunDir

    csv = _write_csv(tmp_path / "sales.csv")
    run = tmp_path / "run"
    cfg = ForecastConfig(series=str(csv), column="sales", time_column="day", id_column="id",
                         window=14, horizon=2, period=7, epochs=2, direct_head=True, **TINY)
    train_forecast(cfg, run_dir=run)
    saved = json.loads((run / "multistep.json").read_text())
    loaded = ForecastTask().load(RunDir(run))
    assert loaded.method == saved["method"] == min(saved["val_mae"], key=saved["val_mae"].get)
    val = load_data(loaded.config, scaler=loaded.scaler).val
    x = val[:, :14] - (val[:, 13:14] if loaded.config.relative else 0.0)
    for method, mae in saved["val_mae"].items():
        pred = forecast_horizon(loaded.model, x, 2, method=method)
        pred = pred + (val[:, 13:14] if loaded.config.relative else 0.0)
        assert np.abs(pred - val[:, 14:]).mean() == pytest.approx(mae, rel=1e-9)
    chosen = forecast_horizon(loaded.model, x, 2, method=saved["method"])
    np.testing.assert_allclose(loaded.ahead(val[:, :14], 2),
                               chosen + (val[:, 13:14] if loaded.config.relative else 0.0))
