"""The notebook's time-series plots, as Matplotlib figures (Agg, no pyplot state).

* ``plot_series_with_window``: the series with one training window, and that window's
  instance and target (the notebook's first figure);
* ``plot_prediction``: instance, target and prediction ("Testing the model");
* ``plot_compare``: several models' predictions against the target ("Compare single RNN and
  multiple RNN");
* ``plot_forecast``: a multi-step forecast against the truth, beside the baselines.

Every function returns a ``matplotlib.figure.Figure``; ``save_figure`` (from
``rnnlab.plots``) writes one atomically. Nothing touches ``matplotlib.pyplot``, so these
are safe in threads and tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.data.series import SyntheticSeriesConfig, time_series
from rnnlab.plots import COLORS, save_figure

__all__ = ["COLORS", "plot_compare", "plot_forecast", "plot_prediction",
           "plot_series_with_window", "save_figure"]


def _figure(figsize) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def plot_series_with_window(
    t_start: float = 12.2,
    n_steps: int = 20,
    config: SyntheticSeriesConfig | None = None,
) -> Figure:
    """The synthetic series with one training window, then that window up close.

    Args:
        t_start: where the window starts (the notebook's 12.2). n_steps: its steps.
        config: the series' time range (the notebook's by default).

    Returns:
        A Figure with two axes, as the notebook's first plot.

    Example:
        >>> save_figure(plot_series_with_window(), "series.png")  # doctest: +SKIP
    """
    config = config or SyntheticSeriesConfig()
    t = config.grid()
    t_inst = np.linspace(t_start, t_start + config.resolution * (n_steps + 1), n_steps + 1)
    fig = _figure((6, 10))
    top, bottom = fig.subplots(2, 1)
    top.set_title("A time series (generated)", fontsize=14)
    top.plot(t, time_series(t), label=r"$t . \sin(t) / 3 + 2 . \sin(5t)$", c=COLORS[0])
    top.plot(t_inst[:-1], time_series(t_inst[:-1]), "-", c=COLORS[3], linewidth=2,
             label="A training instance")
    top.legend(loc="lower left", fontsize=14)
    top.axis([config.t_min, config.t_max, -17, 13])
    top.set_xlabel("Time")
    top.set_ylabel("Value")
    bottom.set_title("A training instance", fontsize=14)
    bottom.plot(t_inst[:-1], time_series(t_inst[:-1]), "o", c=COLORS[3], markersize=10,
                label="instance")
    bottom.plot(t_inst[1:], time_series(t_inst[1:]), "^", c=COLORS[0], markersize=6,
                label="target")
    bottom.legend(loc="upper left")
    bottom.set_xlabel("Time")
    fig.tight_layout()
    return fig


def plot_prediction(
    t: np.ndarray,
    instance: np.ndarray,
    target: np.ndarray,
    prediction: np.ndarray,
    *,
    title: str = "Testing the model",
    label: str = "prediction",
) -> Figure:
    """A window, its next-step target and a model's next-step prediction.

    Args:
        t: (T + 1,) times: the instance is at ``t[:-1]``, target and prediction at ``t[1:]``.
        instance, target, prediction: (T,) values.
        title, label: the plot's title and the prediction's legend label.

    Returns:
        A Figure.
    """
    t = np.asarray(t)
    fig = _figure((8, 8 / 1.4))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t[:-1], instance, "o", c=COLORS[0], markersize=8, label="instance")
    ax.plot(t[1:], target, "^", c=COLORS[3], markersize=6, label="target")
    ax.plot(t[1:], prediction, ".", c=COLORS[2], markersize=8, label=label)
    ax.legend(loc="upper left")
    ax.set_xlabel("Time")
    return fig


def plot_compare(
    t: np.ndarray,
    target: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    *,
    title: str = "Compare single RNN and multiple RNN",
) -> Figure:
    """Several models' predictions of the same target, e.g. one layer against a stack.

    Args:
        t: (T,) times of the target. target: (T,) values.
        predictions: legend label -> (T,) predictions, drawn in order.

    Returns:
        A Figure.
    """
    fig = _figure((12, 7))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t, target, ".", c=COLORS[1], markersize=6, label="target")
    markers = ("^", "o", "s", "d")
    colors = (COLORS[0], COLORS[3], COLORS[2])
    for i, (name, pred) in enumerate(predictions.items()):
        ax.plot(t, pred, markers[i % 4], c=colors[i % 3], markersize=5, label=name)
    ax.legend(loc="upper left")
    ax.set_xlabel("Time")
    return fig


def plot_forecast(
    history: np.ndarray,
    truth: np.ndarray,
    forecast: np.ndarray,
    baselines: Mapping[str, np.ndarray] | None = None,
    *,
    t: np.ndarray | None = None,
    title: str = "Multi-step forecast",
    label: str = "model",
) -> Figure:
    """A forecast of ``H`` steps after a window of history, against the truth and baselines.

    Args:
        history: (W,) the values the forecast starts from.
        truth: (H,) what came next. forecast: (H,) the model's forecast.
        baselines: name -> (H,) baseline forecasts (dashed).
        t: (W + H,) times; positions 0.. when None.
        title, label: the plot's title and the model's legend label.

    Returns:
        A Figure.
    """
    history, truth = np.asarray(history), np.asarray(truth)
    W, H = history.size, truth.size
    t = np.arange(W + H) if t is None else np.asarray(t)
    fig = _figure((9, 5))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t[:W], history, "-o", c=COLORS[1], markersize=3, label="history")
    ax.plot(t[W:], truth, "-^", c=COLORS[3], markersize=5, label="truth")
    ax.plot(t[W:], forecast, "-.", c=COLORS[0], linewidth=2, markersize=8, label=label)
    styles = ("--", ":", "-.")
    for i, (name, pred) in enumerate((baselines or {}).items()):
        ax.plot(t[W:], pred, styles[i % 3], c=COLORS[2], linewidth=1.5, label=name)
    ax.axvline(t[W - 1], c="0.7", linewidth=1)
    ax.legend(loc="best")
    ax.set_xlabel("Time")
    ax.set_ylabel("Value")
    return fig
