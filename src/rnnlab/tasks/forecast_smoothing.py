"""Exponential smoothing: the statistical partners the global model is combined with.

Combinations of simple statistical forecasts with a learnt model won M4 (Smyl 2020;
Montero-Manso et al. 2020). rnnlab's forecast is such a combination, chosen by
validation: the RNN's quantiles shifted towards a partner's point forecast by a weight
the held-out windows pick (``tasks/forecast_global.py``). Two partners live here:

* :func:`damped_trend`, the partner: Holt's linear method with a damped trend (Gardner
  & McKenzie 1985), the ETS(A,Ad,N) point forecast, with its smoothing parameters picked
  from a small grid by the in-sample one-step squared error::

      ŷ(n + h) = ℓ(n) + (φ + φ² + ... + φ^h) b(n)

* :func:`theta`, Hyndman & Billah's (2003) form of the standard Theta method (M3's
  winner): simple exponential smoothing with a drift of half the least-squares slope,
  ``ŷ(n + h) = ℓ(n) + b / 2 · (h − 1 + 1/α − (1 − α)^n / α)``.

For a seasonal series that passes the usual 90% autocorrelation test at lag m, Theta
applies a classical multiplicative decomposition before and undoes it after. The damped
trend has no season (the RNN's skip learns seasons): with the same decomposition the
validation backtests chose a worse combination on the monthly panel (MASE 0.544 against
0.479 without; docs/forecasting.md).
"""

from __future__ import annotations

import numpy as np

_ALPHAS = np.linspace(0.05, 0.95, 19)
# (alpha, beta, phi): level and trend smoothing, damping; 45 candidates.
_DAMPED_GRID = np.array([(a, b, p) for a in (0.1, 0.3, 0.5, 0.7, 0.9)
                         for b in (0.05, 0.1, 0.2) for p in (0.8, 0.9, 0.98)])


def _ses(y: np.ndarray) -> tuple[float, float]:
    """(n,) values -> (the last smoothed level, alpha), alpha by one-step SSE."""
    level = np.full(_ALPHAS.shape, y[0])
    sse = np.zeros_like(_ALPHAS)
    for v in y[1:]:
        e = v - level
        sse += e * e
        level = level + _ALPHAS * e
    k = int(np.argmin(sse))
    return float(level[k]), float(_ALPHAS[k])


def _seasonal_indices(y: np.ndarray, season: int) -> np.ndarray | None:
    """Multiplicative seasonal indices (season,) when the series is seasonal, else None."""
    n = y.size
    if season <= 1 or n < 2 * season or not (y > 0).all():
        return None
    d = y - y.mean()
    denom = float(d @ d)
    if denom == 0:
        return None
    r = np.array([float(d[k:] @ d[:-k]) / denom for k in range(1, season + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / n)
    if abs(r[-1]) <= limit:
        return None
    kernel = np.r_[0.5, np.ones(season - 1), 0.5] / season if season % 2 == 0 else (
        np.ones(season) / season)
    trend = np.convolve(y, kernel, mode="valid")  # centred moving average
    offset = (kernel.size - 1) // 2
    ratios = y[offset: offset + trend.size] / trend
    phase = (np.arange(trend.size) + offset) % season
    idx = np.array([ratios[phase == p].mean() for p in range(season)])
    return idx / idx.mean()


def theta(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The standard Theta forecast of one history.

    Args:
        y: (n,) values, n >= 1 (one value: the naive forecast).
        horizon: H values ahead.
        season: the season length (1: none).

    Returns:
        (H,) forecasts.

    Example:
        >>> np.round(theta(np.arange(10.0), 3), 2).tolist()
        [9.47, 9.97, 10.47]
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    if n < 3:
        return np.repeat(y[-1], horizon)
    idx = _seasonal_indices(y, season)
    z = y if idx is None else y / idx[np.arange(n) % season]
    t = np.arange(n, dtype=np.float64)
    slope = float(np.polyfit(t, z, 1)[0])
    level, a = _ses(z)
    h = np.arange(1, horizon + 1)
    out = level + slope / 2 * (h - 1 + 1 / a - (1 - a) ** n / a)
    if idx is not None:
        out = out * idx[(n + h - 1) % season]
    return out


def damped_trend(y: np.ndarray, horizon: int, season: int = 1) -> np.ndarray:
    """The damped-trend (ETS(A,Ad,N)) forecast of one history.

    Args:
        y: (n,) values, n >= 1 (fewer than 3: the naive forecast).
        horizon: H values ahead.
        season: unused (the partners share one signature; see the module docstring).

    Returns:
        (H,) forecasts.

    Example:
        >>> np.round(damped_trend(np.arange(10.0), 3), 2).tolist()
        [9.91, 10.8, 11.68]
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    if n < 3:
        return np.repeat(y[-1], horizon)
    a, b, phi = _DAMPED_GRID.T
    level = np.full(a.shape, y[0])
    trend = np.full(a.shape, y[1] - y[0])
    sse = np.zeros_like(a)
    for v in y[1:]:
        pred = level + phi * trend
        e = v - pred
        sse += e * e
        level = pred + a * e
        trend = phi * trend + a * b * e
    k = int(np.argmin(sse))
    damp = np.cumsum(phi[k] ** np.arange(1, horizon + 1))
    return level[k] + damp * trend[k]


#: The partners by name (``GlobalModelConfig.partner``).
PARTNERS = {"damped": damped_trend, "theta": theta}
