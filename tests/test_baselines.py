"""Baselines against hand-computed values and a closed-form linear recurrence."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.baselines import (
    LinearAR,
    baseline_predictions,
    errors,
    evaluate_baselines,
    persistence,
    seasonal_naive,
)
from rnnlab.errors import ConfigError, ShapeError


def test_persistence_repeats_last_value():
    x = np.array([[1.0, 2.0, 3.0], [5.0, 4.0, -1.0]])
    np.testing.assert_array_equal(persistence(x, 2), [[3, 3], [-1, -1]])


def test_seasonal_naive_takes_value_one_period_back_and_cycles():
    x = np.array([[0.0, 1, 2, 3, 4, 5]])
    # period 3: the last season is [3, 4, 5]; predictions cycle through it.
    np.testing.assert_array_equal(seasonal_naive(x, 5, 3), [[3, 4, 5, 3, 4]])
    np.testing.assert_array_equal(seasonal_naive(x, 2, 1), persistence(x, 2))
    with pytest.raises(ConfigError, match="period=7"):
        seasonal_naive(x, 1, 7)


def test_linear_ar_recovers_an_exact_linear_recurrence():
    # x[t] = 1.5 x[t-1] - 0.7 x[t-2] + 0.3: a stable AR(2) with an intercept.
    x = [1.0, 2.0]
    for _ in range(200):
        x.append(1.5 * x[-1] - 0.7 * x[-2] + 0.3)
    x = np.array(x)
    segs = np.lib.stride_tricks.sliding_window_view(x, 5)
    ar = LinearAR.fit(segs[:, :4], segs[:, 4:], order=2)
    np.testing.assert_allclose(ar.coef[:, 0], [-0.7, 1.5, 0.3], atol=1e-8)
    assert ar.order == 2 and ar.horizon == 1
    np.testing.assert_allclose(ar.predict(segs[:, :4]), segs[:, 4:], atol=1e-8)


def test_linear_ar_direct_multi_step_matches_lstsq_reference():
    rng = np.random.default_rng(0)
    xi, yi = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    ar = LinearAR.fit(xi, yi)
    design = np.hstack([xi, np.ones((50, 1))])
    ref = np.linalg.lstsq(design, yi, rcond=None)[0]
    np.testing.assert_allclose(ar.coef, ref)


def test_errors_and_shapes():
    assert errors(np.array([[1.0, 3.0]]), np.array([[0.0, 0.0]])) == {"mse": 5.0, "mae": 2.0}
    with pytest.raises(ShapeError):
        errors(np.zeros((2, 1)), np.zeros((1, 2)))
    with pytest.raises(ShapeError):
        persistence(np.zeros(3), 1)
    with pytest.raises(ConfigError, match="order=9"):
        LinearAR.fit(np.zeros((4, 3)), np.zeros((4, 1)), order=9)


def test_evaluate_baselines_reports_every_baseline_on_the_same_windows():
    t = np.arange(300.0)
    x = np.sin(2 * np.pi * t / 12) + 0.01 * t
    segs = np.lib.stride_tricks.sliding_window_view(x, 16)
    tr, te = segs[:200], segs[200:]
    r = evaluate_baselines(tr[:, :12], tr[:, 12:], te[:, :12], te[:, 12:], period=12)
    assert set(r) == {"persistence", "seasonal_naive", "linear_ar"}
    preds = baseline_predictions(tr[:, :12], tr[:, 12:], te[:, :12], 4, period=12)
    for name, p in preds.items():
        assert r[name] == errors(p, te[:, 12:])
    # A pure season plus a trend: seasonal naive is off only by the trend (0.01 * 12).
    assert r["seasonal_naive"]["mae"] == pytest.approx(0.12)
    assert r["linear_ar"]["mse"] < 1e-12 < r["persistence"]["mse"]
