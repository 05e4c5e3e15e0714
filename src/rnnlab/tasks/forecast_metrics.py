"""Scores of forecasts against the truth, per model, over every series and origin.

Each scored window is one series at one origin: ``y`` (H,) the truth, a model's
``mean`` (H,) and, for models with intervals, ``lo-L``/``hi-L`` and quantiles.

* ``mae``, ``rmse``: over every scored value (in the series' units);
* ``smape``: ``200 |y - f| / (|y| + |f|)`` averaged over values (M4's, in percent; 0 where
  both are 0);
* ``mase``: per window, the MAE divided by the in-sample seasonal-naive MAE of that
  window's training part (season 1 without a period; 1 when the training part is
  shorter than a season), then averaged over windows (M4's);
* ``coverage``: ``{"L": share of values inside the L% interval}``;
* ``pinball``: the mean pinball loss over the quantile levels and values, each window
  divided by its MASE scale (scale-free, like MASE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Elementwise symmetric APE in percent (0 where ``y`` and ``f`` are both 0)."""
    den = np.abs(y) + np.abs(f)
    return np.where(den > 0, 200 * np.abs(y - f) / np.where(den > 0, den, 1.0), 0.0)


def score_windows(y: Sequence[np.ndarray], scales: Sequence[float],
                  forecasts: Sequence[Mapping[str, np.ndarray]],
                  quantiles: Mapping[float, str] | None = None) -> dict:
    """Scores of one model over the windows.

    Args:
        y: per window, the (H,) truth. scales: per window, its MASE denominator.
        forecasts: per window, ``{"mean": (H,), "lo-80": (H,), ...}``.
        quantiles: ``{level: key}`` of the forecasts' quantile columns for ``pinball``
            (e.g. ``{0.1: "lo-80", 0.5: "mean", 0.9: "hi-80"}``), None: no pinball.

    Returns:
        ``{"mae", "rmse", "smape", "mase"}``, plus ``"coverage": {"80": ...}`` where the
        forecasts have intervals and ``"pinball"`` with ``quantiles``.
    """
    Y = np.concatenate([np.asarray(v, dtype=np.float64) for v in y])
    F = np.concatenate([np.asarray(f["mean"], dtype=np.float64) for f in forecasts])
    e = Y - F
    mase = [np.abs(np.asarray(v) - np.asarray(f["mean"])).mean() / s
            for v, f, s in zip(y, forecasts, scales, strict=True)]
    out = {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean())),
           "smape": float(smape(Y, F).mean()), "mase": float(np.mean(mase))}
    levels = sorted(int(k[3:]) for k in forecasts[0] if k.startswith("lo-"))
    if levels:
        cov = {}
        for L in levels:
            lo = np.concatenate([f[f"lo-{L}"] for f in forecasts])
            hi = np.concatenate([f[f"hi-{L}"] for f in forecasts])
            cov[str(L)] = float(np.mean((lo <= Y) & (hi >= Y)))
        out["coverage"] = cov
    if quantiles:
        losses = []
        for v, f, s in zip(y, forecasts, scales, strict=True):
            for q, key in quantiles.items():
                d = np.asarray(v) - np.asarray(f[key])
                losses.append(np.maximum(q * d, (q - 1) * d).mean() / s)
        out["pinball"] = float(np.mean(losses))
    return out
