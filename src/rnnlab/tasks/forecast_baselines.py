"""The baselines every backtest reports beside the model, one forecast per history.

* ``naive``: the last value, repeated;
* ``seasonal_naive``: the value one season earlier, ``y[n - m + (h mod m)]`` (the naive
  forecast for a history shorter than a season, or without one);
* ``drift``: the line through the first and last values, extended (Hyndman &
  Athanasopoulos, *Forecasting: Principles and Practice*, 5.2);
* ``linear_ar``: a least-squares linear autoregression, one global fit over every
  series' windows in the model's normalisation (each window relative to its last value,
  divided by its series' scale), one column per step ahead (a direct multi-step
  forecast), with a small ridge so a short panel stays solvable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.tasks.forecast_global import make_examples, series_scale

BASELINES = ("naive", "seasonal_naive", "drift", "linear_ar")
_RIDGE = 1e-3


def naive(y: np.ndarray, horizon: int) -> np.ndarray:
    """(n,) history -> (H,) the last value, repeated."""
    return np.repeat(float(y[-1]), horizon)


def seasonal_naive(y: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(n,) history -> (H,) the value one season earlier (naive when n < season)."""
    if season <= 1 or len(y) < season:
        return naive(y, horizon)
    return np.asarray(y, dtype=np.float64)[len(y) - season + np.arange(horizon) % season]


def drift(y: np.ndarray, horizon: int) -> np.ndarray:
    """(n,) history -> (H,) the last value plus h times the mean change (naive for n = 1)."""
    if len(y) < 2:
        return naive(y, horizon)
    slope = (y[-1] - y[0]) / (len(y) - 1)
    return y[-1] + slope * np.arange(1, horizon + 1)


class GlobalLinearAR:
    """One ridge-regularised linear AR over many normalised series (see the module doc).

    Example:
        >>> ys = [np.arange(20.0), np.arange(30.0) * 2]
        >>> ar = GlobalLinearAR.fit(ys, horizon=2, order=3, season=1)
        >>> np.round(ar.forecast(ys)[0], 3).tolist()
        [20.0, 21.0]
    """

    def __init__(self, coef: np.ndarray, order: int, horizon: int, season: int):
        self.coef, self.order, self.horizon, self.season = coef, order, horizon, season

    @classmethod
    def fit(cls, histories: Sequence[np.ndarray], *, horizon: int, order: int,
            season: int) -> GlobalLinearAR:
        """Fit on every window of every history (targets past a history's end left out)."""
        scales = [series_scale(y, season) for y in histories]
        x, lens, t, _, _ = make_examples(histories, scales, [range(1, len(y)) for y in
                                                             histories], order, horizon)
        X = _design(x, lens)
        coef = np.zeros((X.shape[1], horizon))
        for h in range(horizon):
            keep = t[:, h, 1] > 0
            A, b = X[keep], t[keep, h, 0].astype(np.float64)
            if len(A) == 0:
                continue  # no history reaches h steps: stay with the naive forecast (0)
            lam = _RIDGE * len(A)
            coef[:, h] = np.linalg.solve(A.T @ A + lam * np.eye(A.shape[1]), A.T @ b)
        return cls(coef, order, horizon, season)

    def forecast(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """(S,) histories -> (S, H) forecasts in each series' units."""
        scales = np.array([series_scale(y, self.season) for y in histories])
        x, lens, _, _, level = make_examples(histories, scales, [[len(y)] for y in histories],
                                             self.order, self.horizon)
        return (_design(x, lens) @ self.coef) * scales[:, None] + level[:, None]


def _design(x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Left-aligned (N, L, 1) inputs -> (N, L + 1) right-aligned lags and an intercept."""
    N, L, _ = x.shape
    idx = np.arange(L)[None, :] - (L - lengths)[:, None]  # (N, L)
    lags = np.where(idx >= 0, np.take_along_axis(x[..., 0], np.maximum(idx, 0), 1), 0.0)
    return np.concatenate([lags, np.ones((N, 1))], axis=1).astype(np.float64)


def baseline_forecasts(histories: Sequence[np.ndarray], horizon: int, season: int,
                       order: int, ar: GlobalLinearAR | None = None) -> dict[str, np.ndarray]:
    """``{name: (S, H)}`` for every baseline (``ar``: an already fitted linear AR)."""
    ar = ar or GlobalLinearAR.fit(histories, horizon=horizon, order=order, season=season)
    return {
        "naive": np.stack([naive(y, horizon) for y in histories]),
        "seasonal_naive": np.stack([seasonal_naive(y, horizon, season) for y in histories]),
        "drift": np.stack([drift(y, horizon) for y in histories]),
        "linear_ar": ar.forecast(histories),
    }
