"""Backtests: origins, no look-ahead, baselines, metrics, intervals and the CLI's JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rnnlab import cli
from rnnlab.tasks import forecast_backtest as bt
from rnnlab.tasks.forecast_backtest import (
    BacktestConfig,
    BacktestDataConfig,
    BacktestSettings,
    run_backtest,
)
from rnnlab.tasks.forecast_baselines import GlobalLinearAR, drift, naive, seasonal_naive
from rnnlab.tasks.forecast_global import (
    GlobalFitConfig,
    GlobalModelConfig,
    fit_global,
    interval_levels,
    series_scale,
)
from rnnlab.tasks.forecast_metrics import score_windows

TINY_MODEL = GlobalModelConfig(num_units=4, ensemble=1)
TINY_FIT = GlobalFitConfig(epochs=2, batch_size=64, min_steps=0)
TINY_FLAGS = ["--units", "4", "--ensemble", "1", "--epochs", "2", "--min-steps", "0",
              "--device", "cpu"]


def _panel(path, lengths=(40, 30, 5), h=3):
    rng = np.random.default_rng(0)
    lines = ["id,month,sales"]
    for i, n in enumerate(lengths):
        for k in range(n):
            m = 5 * i + k
            v = 20 + i + 4 * np.sin(2 * np.pi * m / 12) + rng.normal(0, 0.3)
            lines.append(f"s{i},{2000 + m // 12}-{m % 12 + 1:02d}-01,{v:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(path, **backtest):
    return BacktestConfig(
        data=BacktestDataConfig(series=str(path), column="sales", time_column="month",
                                id_column="id"),
        backtest=BacktestSettings(**{"horizon": 3, **backtest}), model=TINY_MODEL,
        fit=TINY_FIT)


def test_baselines_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 7.0])
    assert naive(y, 2).tolist() == [7, 7]
    assert seasonal_naive(y, 5, 4).tolist() == [3, 4, 5, 7, 3]
    assert seasonal_naive(y[:2], 3, 4).tolist() == [2, 2, 2]  # shorter than a season
    assert drift(y, 2).tolist() == [8.2, 9.4]
    assert drift(y[:1], 2).tolist() == [1, 1]


def test_the_global_linear_ar_recovers_a_linear_recursion():
    rng = np.random.default_rng(0)
    ys = []
    for _ in range(5):  # y_t = 1.6 y_{t-1} - 0.8 y_{t-2} + c: linear in the lags
        y = list(rng.normal(size=2) + 10)
        for _ in range(60):
            y.append(1.6 * y[-1] - 0.8 * y[-2] + 2.0)
        ys.append(np.array(y))
    ar = GlobalLinearAR.fit([y[:-1] for y in ys], horizon=1, order=2, season=1)
    pred = ar.forecast([y[:-1] for y in ys])[:, 0]
    np.testing.assert_allclose(pred, [y[-1] for y in ys], rtol=1e-3)


def test_metrics_by_hand():
    y = [np.array([2.0, 4.0])]
    f = [{"mean": np.array([3.0, 3.0]), "lo-80": np.array([1.0, 3.5]),
          "hi-80": np.array([2.5, 5.0])}]
    m = score_windows(y, [2.0], f, {0.1: "lo-80", 0.5: "mean", 0.9: "hi-80"})
    assert m["mae"] == 1.0 and m["rmse"] == 1.0 and m["mase"] == 0.5
    assert m["smape"] == pytest.approx((200 / 5 + 200 / 7) / 2)
    assert m["coverage"] == {"80": 1.0}
    # y - q10 = (1, 0.5): 0.1 * d; y - q50 = (-1, 1): 0.5 |d|; y - q90 = (-0.5, -1): 0.1 |d|
    assert m["pinball"] == pytest.approx((0.075 + 0.5 + 0.075) / 3 / 2)
    assert interval_levels((0.05, 0.1, 0.5, 0.9, 0.95)) == {80: (0.1, 0.9), 90: (0.05, 0.95)}
    assert series_scale(np.array([1.0, 3.0, 2.0, 6.0]), 2) == 2.0  # |2-1|, |6-3|


def test_every_series_gets_a_forecast_at_every_origin_short_ones_included(tmp_path):
    result = run_backtest(_config(_panel(tmp_path / "p.csv"), windows=2, step=1))
    assert result.freq == "monthly" and result.season == 12
    got = [(f["id"], f["origin"]) for f in result.forecasts]
    # cuts n - 3 - 1 and n - 3: s0 (months 0..39) at 36, 37; s2 (5 values) at 1, 2
    assert got == [("s0", "2002-12-01"), ("s1", "2002-07-01"), ("s2", "2000-11-01"),
                   ("s0", "2003-01-01"), ("s1", "2002-08-01"), ("s2", "2000-12-01")]
    entry = result.forecasts[2]
    assert entry["time"] == ["2000-12-01", "2001-01-01", "2001-02-01"]
    assert set(entry["models"]) == {"rnnlab", "naive", "seasonal_naive", "drift", "linear_ar"}
    assert set(entry["models"]["rnnlab"]) == {"mean", "lo-80", "hi-80"}
    assert set(entry["models"]["naive"]) == {"mean"}
    assert set(result.metrics["rnnlab"]) == {"mae", "rmse", "smape", "mase", "coverage",
                                             "pinball"}


def test_values_after_an_origin_never_change_its_forecast(tmp_path):
    path = _panel(tmp_path / "p.csv", lengths=(40, 30))
    before = run_backtest(_config(path, windows=2))
    lines = path.read_text().splitlines()
    # s0's cuts are 34 and 37: its value 35 comes after origin 0, before origin 1
    head, value = lines[36].rsplit(",", 1)
    lines[36] = f"{head},{float(value) * 10:.3f}"
    path.write_text("\n".join(lines) + "\n")
    after = run_backtest(_config(path, windows=2))
    for a, b in zip(before.forecasts[:2], after.forecasts[:2], strict=True):  # origin 0
        assert a["models"] == b["models"]
    for a, b in zip(before.forecasts[2:], after.forecasts[2:], strict=True):  # origin 1
        assert a["models"]["rnnlab"] != b["models"]["rnnlab"]  # s1 too: one global model


def test_a_short_series_is_skipped_only_when_asked_with_a_warning(tmp_path, caplog):
    path = _panel(tmp_path / "p.csv")
    result = run_backtest(_config(path, windows=3, short="skip"))
    assert {f["id"] for f in result.forecasts} == {"s0", "s1"}
    assert "series 's2' skipped: 5 values" in caplog.text


def test_no_retrain_fits_once(tmp_path, monkeypatch):
    calls = []
    real = bt.fit_ensemble
    monkeypatch.setattr(bt, "fit_ensemble", lambda *a, **k: calls.append(1) or real(*a, **k))
    path = _panel(tmp_path / "p.csv", lengths=(40, 30, 6))
    run_backtest(_config(path, windows=3, step=1, retrain=False))
    assert len(calls) == 1
    run_backtest(_config(path, windows=3, step=1))
    assert len(calls) == 4


def test_split_conformal_intervals_cover_about_their_level():
    rng = np.random.default_rng(3)
    ys = [5 + np.cumsum(rng.normal(0, 1, 80)) for _ in range(60)]  # random walks
    p = fit_global([y[:-2] for y in ys], horizon=2, season=1, model=TINY_MODEL,
                   fit_config=dataclasses.replace(TINY_FIT, epochs=4))
    f = p.forecast([y[:-2] for y in ys])
    truth = np.stack([y[-2:] for y in ys])
    inside = (truth >= f["lo-80"]) & (truth <= f["hi-80"])
    assert 0.65 <= inside.mean() <= 0.95  # 120 values; deterministic under the seed
    assert set(p.corrections) == {80}


def test_a_panel_of_short_series_is_still_calibrated_at_every_step():
    rng = np.random.default_rng(4)
    ys = [5 + np.cumsum(rng.normal(0, 1, 8)) for _ in range(40)]  # 8 values, h = 6
    p = fit_global(ys, horizon=6, season=1, model=TINY_MODEL, fit_config=TINY_FIT)
    widen = p.corrections[80]
    assert widen.shape == (6,) and widen[5] == widen[4]  # held out: values 4..8, 5 steps
    assert len(set(widen[:5].tolist())) > 1  # each reached step has its own


def test_cli_json_is_one_compact_object_last_on_stdout(tmp_path, capsys):
    path = _panel(tmp_path / "p.csv")
    code = cli.main(["backtest", "--series", str(path), "--column", "sales", "--time-column",
                     "month", "--id-column", "id", "--horizon", "3", "--windows", "2",
                     "--step", "1", "--quantiles", "0.05,0.1,0.5,0.9,0.95", *TINY_FLAGS, "--quiet",
                     "--json", "--out", str(tmp_path / "bt")])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    data = json.loads(last)
    assert set(data["metrics"]["rnnlab"]["coverage"]) == {"80", "90"}
    assert len(data["forecasts"]) == 6
    assert {"lo-90", "hi-90", "lo-80", "hi-80", "mean"} == set(
        data["forecasts"][0]["models"]["rnnlab"])
    assert sorted(p.name for p in (tmp_path / "bt").iterdir()) == ["backtest.json",
                                                                   "backtest.png",
                                                                   "metrics.md",
                                                                   "report.html"]
    assert "| rnnlab |" in (tmp_path / "bt" / "metrics.md").read_text()


@pytest.mark.parametrize(("edit", "message"), [
    (lambda t: t.replace("s1,2000-07-01", "s1,2000-06-01", 1),
     r"row \d+ \(line \d+\) \(id 's1'\): time column 'month' repeats"),
    (lambda t: t.replace(",20.", ",abc", 1), "not a number"),
    (lambda t: t, r"\(series 's2'\): 5 values, too short"),
])
def test_bad_input_is_an_error_naming_the_row_and_nothing_is_written(tmp_path, capsys, edit,
                                                                     message):
    path = _panel(tmp_path / "p.csv")
    path.write_text(edit(path.read_text()))
    out = tmp_path / "bt"
    code = cli.main(["backtest", "--series", str(path), "--column", "sales", "--time-column",
                     "month", "--id-column", "id", "--horizon", "3", "--windows", "3",
                     *TINY_FLAGS, "--quiet", "--out", str(out)])
    assert code == 2
    assert len(__import__("re").findall(message, capsys.readouterr().err)) == 1
    assert not out.exists()


def test_a_small_panel_trains_for_at_least_min_steps():
    cfg = GlobalFitConfig(epochs=40, batch_size=100, min_steps=1000, patience=6)
    plain = cfg.for_windows(500)  # 5 steps an epoch -> 200 epochs, patience 6 * 5
    assert (plain.epochs, plain.patience, plain.lr) == (200, 30, cfg.lr)
    assert cfg.for_windows(100_000).epochs == 40  # a large panel keeps its epochs
