"""The global forecaster's held-out origins, pooled conformal widening and the refit's
kept width."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from rnnlab.tasks import forecast_global as fg
from rnnlab.tasks.forecast_global import (
    Examples,
    GlobalFitConfig,
    GlobalModelConfig,
    GlobalPredictor,
    fit_global,
)

Q = (0.1, 0.5, 0.9)


class _Fixed(nn.Module):
    """A "model" whose quantiles are given: (N, H, Q) whatever the inputs."""

    def __init__(self, q: np.ndarray):
        super().__init__()
        self.q = torch.as_tensor(q, dtype=torch.float64)

    def forward(self, x, lengths, future=None, ids=None):
        return self.q


def _examples(y: np.ndarray, seen: np.ndarray) -> Examples:
    N, H = y.shape
    targets = np.stack([y * seen, seen.astype(float)], axis=-1).astype(np.float32)
    return Examples(np.zeros((N, 2, 1), np.float32), np.full(N, 2), targets,
                    np.zeros(N, int), np.zeros(N), np.zeros((N, H, 0), np.float32))


def _predictor(q: np.ndarray, corrections=None) -> GlobalPredictor:
    return GlobalPredictor([_Fixed(q)], 2, q.shape[1], 1, Q, corrections or {})


def test_every_origin_after_the_cut_is_held_out_partial_horizons_too():
    ends, whole = fg._held_out_ends([20, 12, 8, 5], horizon=4, asked=3)
    assert whole
    assert ends[0] == list(range(14, 20))  # 3 whole horizons (14, 15, 16), then 17..19
    assert ends[1] == list(range(6, 12))
    assert ends[2] == list(range(3, 8))  # MIN_TRAIN_END values stay to train on
    assert ends[3] == []  # too short to hold out a whole horizon: trains on everything
    ends, whole = fg._held_out_ends([8, 8, 3], horizon=6, asked=None)
    assert not whole and ends == [list(range(3, 8)), list(range(3, 8)), []]


def test_pooled_widening_matches_a_hand_computed_conformal_quantile():
    rng = np.random.default_rng(0)
    N, H = 30, 4
    mid = rng.normal(0, 1, (N, H))
    half = np.array([0.5, 1.0, 1.5, 2.0])[None, :] * np.ones((N, 1))
    q = np.stack([mid - half, mid, mid + half], axis=-1)  # (N, H, 3)
    y = mid + rng.normal(0, 1, (N, H)) * np.arange(1, H + 1)
    seen = np.ones((N, H), bool)
    seen[N // 2:, 3] = False  # half the windows do not reach the last step
    widen = fg._calibrate(_predictor(q), _examples(y, seen))[80]
    # Reference: each score over its step's mean width (here 2 * half), one quantile.
    spread = 2 * half[0]
    r = sorted((max(q[i, h, 0] - y[i, h], y[i, h] - q[i, h, 2]) / spread[h])
               for i in range(N) for h in range(H) if seen[i, h])
    # np.quantile(..., k / n, method="higher") is the (k + 1)-th smallest of n (index
    # ceil(k (n - 1) / n) = k): one order statistic above the textbook k-th, conservative.
    c = r[min(len(r) - 1, math.ceil((len(r) + 1) * 0.8))]
    np.testing.assert_allclose(widen, c * spread, rtol=1e-5)
    lo, hi = q[..., 0] - widen, q[..., 2] + widen
    inside = ((y >= lo - 1e-6) & (y <= hi + 1e-6))[seen]
    assert inside.mean() >= 0.8  # the held-out values themselves are covered


def test_a_step_no_window_reaches_takes_the_last_reached_widening():
    q = np.stack([-np.ones((5, 3)), np.zeros((5, 3)), np.ones((5, 3))], axis=-1)
    y = np.linspace(-3, 3, 15).reshape(5, 3)
    seen = np.ones((5, 3), bool)
    seen[:, 2] = False
    widen = fg._calibrate(_predictor(q), _examples(y, seen))[80]
    assert widen[2] == widen[1]


def test_the_refit_keeps_the_calibrated_mean_width():
    rng = np.random.default_rng(1)
    N, H = 20, 3
    mid = rng.normal(0, 1, (N, H))
    wide = np.stack([mid - 2, mid, mid + 2], axis=-1)
    narrow = np.stack([mid - 1.5, mid, mid + 1.5 + 0.1 * rng.random((N, H))], axis=-1)
    seen = np.ones((N, H), bool)
    seen[:, 2] = False
    val = _examples(mid, seen)
    p = _predictor(wide, {80: np.array([0.3, 0.4, 0.4])})
    widen = fg._keep_width(p, [_Fixed(narrow)], val)[80]
    width_before = (wide[..., 2] - wide[..., 0]) + 2 * p.corrections[80]  # (N, H)
    width_after = (narrow[..., 2] - narrow[..., 0]) + 2 * widen
    np.testing.assert_allclose(width_after[:, :2].mean(0), width_before[:, :2].mean(0))
    assert widen[2] == widen[1]


def test_fit_global_widens_the_refit_by_the_width_it_lost(monkeypatch):
    rng = np.random.default_rng(2)
    ys = [5 + np.cumsum(rng.normal(0, 1, 40)) for _ in range(8)]
    seen = {}
    real = fg._keep_width

    def spy(p, refit, val):
        seen["calibrated"] = p.corrections[80].copy()
        out = real(p, refit, val)
        seen["kept"] = out[80]
        return out

    monkeypatch.setattr(fg, "_keep_width", spy)
    p = fit_global(ys, horizon=3, season=1, model=GlobalModelConfig(num_units=4),
                   fit_config=GlobalFitConfig(epochs=6, patience=None, min_steps=0))
    assert len(p.models) == 1 and p.epochs == [6]
    np.testing.assert_array_equal(p.corrections[80], seen["kept"])
    assert not np.allclose(seen["kept"], seen["calibrated"])


def test_a_step_without_width_is_calibrated_on_its_own_scores():
    from rnnlab.tasks.forecast_global import _conformal

    # A panel of 8-value series: the later steps' heads never saw a target, so their
    # intervals have no width; they take their own scores' quantile, the rest the pool.
    rng = np.random.default_rng(0)
    n, H = 40, 4
    lo = np.zeros((n, H))
    hi = np.concatenate([np.ones((n, 2)), np.zeros((n, 2))], axis=1)
    y = rng.normal(0.5, 1.0, (n, H))
    scores = np.maximum(lo - y, y - hi)
    ratios = scores[:, :2].ravel()  # width 1: the pooled ratios are the scores
    want = [_conformal(ratios, 80)] * 2 + [_conformal(scores[:, h], 80) for h in (2, 3)]
    q = np.stack([lo, (lo + hi) / 2, hi], axis=-1)
    got = fg._calibrate(_predictor(q), _examples(y, np.ones((n, H), bool)))[80]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.all(np.isfinite(got)) and got.max() < 10
