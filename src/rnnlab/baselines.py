"""Forecasting baselines that every model result is reported beside.

All work on the same windows as the model: ``inputs`` (N, W) are the values seen, and each
baseline returns (N, H) predictions of the ``H`` values that follow.

* persistence: the last seen value, repeated (the "naive" forecast);
* seasonal naive: the value one ``period`` earlier, ``y[t] = x[t - period]``;
* linear autoregressive: ``y = [x_{W-p}, ..., x_{W-1}, 1] @ coef``, one least-squares fit
  (``numpy.linalg.lstsq``) on the training windows for all H outputs at once (a direct,
  not recursive, multi-step forecast).

A model that does not beat persistence has learned nothing useful; ``evaluate_baselines``
makes that comparison cheap to report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, ShapeError


def _check_inputs(inputs: np.ndarray, horizon: int) -> np.ndarray:
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2 or inputs.shape[1] < 1:
        raise ShapeError(f"inputs must be (N, W) with W >= 1, got shape {inputs.shape}")
    if horizon < 1:
        raise ConfigError(f"horizon={horizon!r} must be >= 1")
    return inputs


def persistence(inputs: np.ndarray, horizon: int = 1) -> np.ndarray:
    """Repeat each window's last value.

    Args:
        inputs: (N, W) windows. horizon: H.

    Returns:
        (N, H) predictions.
    """
    inputs = _check_inputs(inputs, horizon)
    return np.repeat(inputs[:, -1:], horizon, axis=1)


def seasonal_naive(inputs: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """Predict each value as the one ``period`` steps earlier (from the window, cycled).

    Args:
        inputs: (N, W) windows, W >= period. horizon: H. period: season length in steps.

    Returns:
        (N, H) predictions: ``pred[:, h] = inputs[:, W - period + (h % period)]``.
    """
    inputs = _check_inputs(inputs, horizon)
    W = inputs.shape[1]
    if not 1 <= period <= W:
        raise ConfigError(f"period={period!r} must be in [1, window={W}]")
    idx = W - period + (np.arange(horizon) % period)
    return inputs[:, idx]


@dataclass(frozen=True)
class LinearAR:
    """A linear autoregressive forecaster: ``pred = [last order inputs, 1] @ coef``.

    Attributes:
        coef: (order + 1, H) weights, the last row the intercept.
    """

    coef: np.ndarray

    @property
    def order(self) -> int:
        return self.coef.shape[0] - 1

    @property
    def horizon(self) -> int:
        return self.coef.shape[1]

    @classmethod
    def fit(cls, inputs: np.ndarray, targets: np.ndarray, order: int | None = None) -> LinearAR:
        """Least-squares fit on training windows.

        Args:
            inputs: (N, W) training windows. targets: (N, H) the values after each.
            order: how many of the last inputs to use (default all W).

        Returns:
            The fitted ``LinearAR``.

        Example:
            >>> x = np.arange(30.0).reshape(10, 3); ar = LinearAR.fit(x, x[:, -1:] + 1)
            >>> float(ar.predict(np.array([[7.0, 8.0, 9.0]]))[0, 0])  # doctest: +ELLIPSIS
            10.0...
        """
        targets = np.asarray(targets, dtype=np.float64)
        inputs = _check_inputs(inputs, 1)
        if targets.ndim != 2 or len(targets) != len(inputs):
            raise ShapeError(
                f"targets must be (N, H) with N={len(inputs)}, got shape {targets.shape}"
            )
        order = inputs.shape[1] if order is None else order
        if not 1 <= order <= inputs.shape[1]:
            raise ConfigError(f"order={order!r} must be in [1, window={inputs.shape[1]}]")
        coef, *_ = np.linalg.lstsq(_design(inputs, order), targets, rcond=None)
        return cls(coef=coef)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """(N, W) windows -> (N, H) predictions."""
        inputs = _check_inputs(inputs, 1)
        if inputs.shape[1] < self.order:
            raise ShapeError(f"windows of {inputs.shape[1]} steps; this model needs {self.order}")
        return _design(inputs, self.order) @ self.coef


def _design(inputs: np.ndarray, order: int) -> np.ndarray:
    lags = inputs[:, -order:]  # (N, order)
    return np.concatenate([lags, np.ones((len(inputs), 1))], axis=1)  # (N, order + 1)


def errors(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean squared and mean absolute error over all elements."""
    pred, target = np.asarray(pred, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ShapeError(f"predictions {pred.shape} and targets {target.shape} differ in shape")
    diff = pred - target
    return {"mse": float(np.mean(diff**2)), "mae": float(np.mean(np.abs(diff)))}


def baseline_predictions(
    train_inputs: np.ndarray,
    train_targets: np.ndarray,
    inputs: np.ndarray,
    horizon: int,
    *,
    period: int | None = None,
    order: int | None = None,
) -> dict[str, np.ndarray]:
    """Every baseline's (N, H) predictions for ``inputs``.

    Args:
        train_inputs: (M, W) and train_targets: (M, H) windows to fit the linear model on.
        inputs: (N, W) windows to predict. horizon: H.
        period: season length for the seasonal naive forecast (omitted when None).
        order: lags of the linear model (default W).

    Returns:
        ``{"persistence": ..., "seasonal_naive": ... (if period), "linear_ar": ...}``.
    """
    train_targets = np.asarray(train_targets)
    if train_targets.ndim != 2 or train_targets.shape[1] != horizon:
        raise ShapeError(f"train_targets must be (M, {horizon}), got {train_targets.shape}")
    preds = {"persistence": persistence(inputs, horizon)}
    if period is not None:
        preds["seasonal_naive"] = seasonal_naive(inputs, horizon, period)
    preds["linear_ar"] = LinearAR.fit(train_inputs, train_targets, order).predict(inputs)
    return preds


def evaluate_baselines(
    train_inputs: np.ndarray,
    train_targets: np.ndarray,
    inputs: np.ndarray,
    targets: np.ndarray,
    *,
    period: int | None = None,
    order: int | None = None,
) -> dict[str, dict[str, float]]:
    """MSE and MAE of every baseline on the same windows.

    Args:
        train_inputs: (M, W), train_targets: (M, H): the training windows (linear model fit).
        inputs: (N, W), targets: (N, H): the windows to score.
        period: season length for seasonal naive (omitted when None). order: AR lags.

    Returns:
        ``{"persistence": {"mse", "mae"}, "seasonal_naive": {...}, "linear_ar": {...}}``.

    Example:
        >>> x = np.sin(np.arange(40.0) / 3); segs = np.lib.stride_tricks.sliding_window_view(x, 6)
        >>> r = evaluate_baselines(segs[:, :5], segs[:, 5:], segs[:, :5], segs[:, 5:])
        >>> r["linear_ar"]["mse"] < r["persistence"]["mse"]
        True
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2:
        raise ShapeError(f"targets must be (N, H), got shape {targets.shape}")
    preds = baseline_predictions(
        train_inputs, train_targets, inputs, targets.shape[1], period=period, order=order
    )
    return {name: errors(p, targets) for name, p in preds.items()}
