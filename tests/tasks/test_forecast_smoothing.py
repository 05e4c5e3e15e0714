"""Damped trend and Theta, and the global model's validated combination with them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rnnlab.tasks import forecast_global as fg
from rnnlab.tasks.forecast_global import GlobalFitConfig, GlobalModelConfig, fit_global
from rnnlab.tasks.forecast_smoothing import _seasonal_indices, damped_trend, theta

TINY_MODEL = GlobalModelConfig(num_units=4, ensemble=1)
TINY_FIT = GlobalFitConfig(epochs=2, batch_size=64, min_steps=0)


def test_theta_by_hand_on_a_line():
    # SES on 0, 1, ..., 9 picks the largest alpha (0.95): level 8.947..., then half the
    # slope of 1 per step, from Hyndman & Billah's formula.
    y = np.arange(10.0)
    level = 0.0
    for v in y[1:]:
        level += 0.95 * (v - level)
    h = np.arange(1, 4)
    expected = level + 0.5 * (h - 1 + 1 / 0.95 - 0.05 ** 10 / 0.95)
    np.testing.assert_allclose(theta(y, 3), expected, rtol=1e-12)


def test_theta_of_a_constant_is_the_constant_and_short_histories_are_naive():
    np.testing.assert_allclose(theta(np.full(12, 4.0), 5), np.full(5, 4.0))
    np.testing.assert_allclose(theta(np.array([1.0, 3.0]), 2), [3.0, 3.0])


def test_a_seasonal_series_keeps_its_season_and_a_flat_one_gets_none():
    t = np.arange(48)
    pattern = 1 + 0.3 * np.sin(2 * np.pi * t / 12)
    y = 50 * pattern
    idx = _seasonal_indices(y, 12)
    assert idx is not None
    np.testing.assert_allclose(idx, pattern[:12] / pattern[:12].mean(), rtol=0.02)
    future = 50 * (1 + 0.3 * np.sin(2 * np.pi * np.arange(48, 60) / 12))
    np.testing.assert_allclose(theta(y, 12, 12), future, rtol=0.03)
    rng = np.random.default_rng(0)
    assert _seasonal_indices(10 + rng.normal(0, 1, 48), 12) is None


def test_damped_trend_by_hand():
    # One candidate of the grid by the recursion, and the grid's choice is the least SSE.
    y = np.array([3.0, 4.0, 6.0, 7.0, 9.0, 10.0, 12.0])
    best = None
    for a, b, phi in __import__("itertools").product((0.1, 0.3, 0.5, 0.7, 0.9),
                                                     (0.05, 0.1, 0.2), (0.8, 0.9, 0.98)):
        level, trend, sse = y[0], y[1] - y[0], 0.0
        for v in y[1:]:
            pred = level + phi * trend
            sse += (v - pred) ** 2
            level, trend = pred + a * (v - pred), phi * trend + a * b * (v - pred)
        f = level + np.cumsum(phi ** np.arange(1, 4)) * trend
        if best is None or sse < best[0]:
            best = (sse, f)
    np.testing.assert_allclose(damped_trend(y, 3), best[1], rtol=1e-12)
    np.testing.assert_allclose(damped_trend(np.full(9, 2.5), 4), np.full(4, 2.5))


def _trending_panel(seed=0):
    rng = np.random.default_rng(seed)
    return [10 + 0.5 * np.arange(30) + np.cumsum(rng.normal(0, 0.3, 30)) for _ in range(30)]


def test_the_combination_weight_is_the_held_out_windows_choice(monkeypatch):
    chosen = []
    real = fg._choose_weight
    monkeypatch.setattr(fg, "_choose_weight",
                        lambda *a: chosen.append(real(*a)) or chosen[-1])
    p = fit_global(_trending_panel(), horizon=3, season=1, model=TINY_MODEL,
                   fit_config=TINY_FIT)
    assert chosen and p.weight == chosen[0] and p.weight in fg.COMBINE_WEIGHTS
    # Two epochs of a 4-unit GRU cannot follow a trend; a damped trend can: validation
    # prefers it.
    assert p.weight < 1.0


def test_the_combined_forecast_moves_every_quantile_with_the_median():
    ys = _trending_panel(1)
    p = fit_global(ys, horizon=3, season=1, model=TINY_MODEL, fit_config=TINY_FIT)
    alone = dataclasses.replace(p, weight=1.0, corrections={})
    both = dataclasses.replace(p, corrections={})
    a, b = alone.forecast(ys), both.forecast(ys)
    partner = np.stack([damped_trend(np.log(y), 3) for y in ys])  # logged: all > 0
    w = p.weight
    np.testing.assert_allclose(np.log(b["mean"]), w * np.log(a["mean"]) + (1 - w) * partner,
                               atol=1e-9)
    shift = np.log(b["mean"]) - np.log(a["mean"])
    np.testing.assert_allclose(np.log(b["hi-80"]) - np.log(a["hi-80"]), shift, atol=1e-9)


def test_no_combine_keeps_the_rnn_alone(monkeypatch):
    monkeypatch.setattr(fg, "_choose_weight", lambda *a: pytest.fail("weight was chosen"))
    model = dataclasses.replace(TINY_MODEL, combine=False)
    p = fit_global(_trending_panel(2), horizon=3, season=1, model=model, fit_config=TINY_FIT)
    assert p.weight == 1.0
