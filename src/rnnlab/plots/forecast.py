"""The notebook's time-series plots, as Matplotlib figures (Agg, no pyplot state).

* ``plot_series_with_window``: the series with one training window, and that window's
  instance and target (the notebook's first figure);
* ``plot_prediction``: instance, target and prediction ("Testing the model");
* ``plot_compare``: several models' predictions against the target ("Compare single RNN and
  multiple RNN");
* ``plot_forecast``: a multi-step forecast against the truth, beside the baselines.

Every function returns a ``matplotlib.figure.Figure``; ``save_figure`` (from
:mod:`rnnlab.plots.curves`) writes one atomically. Nothing touches ``matplotlib.pyplot``,
so these are safe in threads and tests.

Each kind of series keeps one colour in every figure and panel (``SERIES_COLORS``): the
model's input (instance, history) purple, what it should predict (target, truth) orange,
its prediction lavender, baselines grey, each baseline in its own line style. The truth
is drawn above the baselines and the model. The x axis takes times as numbers, as
``datetime64`` or as date strings (``"2024-01-31"``, ``"2024-01-31T12:00"``), so a file's
time column can label it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.data.series import SyntheticSeriesConfig, time_series
from rnnlab.errors import ConfigError
from rnnlab.plots.curves import COLORS, save_figure

__all__ = ["COLORS", "SERIES_COLORS", "plot_backtest", "plot_compare", "plot_forecast",
           "plot_prediction",
           "plot_series_with_window", "save_figure", "time_axis"]

SERIES_COLORS = {
    "series": COLORS[1],  # the whole series, behind a window of it
    "input": COLORS[3],  # instance, history: what the model reads
    "target": COLORS[0],  # target, truth: what it should predict
    "prediction": COLORS[2],
    "baseline": "0.45",
}
# Further predictions in plot_compare, after SERIES_COLORS["prediction"].
_MORE_PREDICTIONS = (COLORS[3], "0.3", COLORS[1])
# Baselines differ by line style, none of them solid (the model's forecast is); past
# three, by a marker as well.
BASELINE_STYLES = ("--", ":", "-.")
_BASELINE_MARKERS = ("", "x", "+", "1")
_Z_BASELINE, _Z_MODEL, _Z_TRUTH = 2, 3, 4


def _figure(figsize) -> Figure:
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def time_axis(t) -> np.ndarray:
    """Times for the x axis: numbers and ``datetime64`` as given, date strings parsed.

    Args:
        t: (N,) numbers, ``datetime64`` values, ``datetime`` objects or ISO 8601 strings
            (``"2024-01-31"``, ``"2024-01-31 12:00"``).

    Returns:
        (N,) numbers or ``datetime64``, which Matplotlib draws as dates.

    Raises:
        ConfigError: a string is not a date; the message quotes it.
    """
    t = np.asarray(t)
    if t.dtype.kind in "iufcmM":
        return t
    try:
        return t.astype("datetime64")
    except (TypeError, ValueError):
        pass
    for value in t.ravel():  # find the one to quote
        try:
            np.datetime64(value)
        except (TypeError, ValueError):
            raise ConfigError(f"time value {str(value)!r} is neither a number nor a date like "
                              "'2024-01-31' or '2024-01-31 12:00'") from None
    raise ConfigError(f"times of dtype {t.dtype} cannot be drawn on an axis")


def _label_time(ax, t: np.ndarray) -> None:
    is_date = t.dtype.kind == "M"
    ax.set_xlabel("Date" if is_date else "Time")
    if is_date:  # dates are long: tilt them so that neighbours do not overlap
        ax.figure.autofmt_xdate(rotation=30)


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
    top.plot(t, time_series(t), label=r"$t . \sin(t) / 3 + 2 . \sin(5t)$",
             c=SERIES_COLORS["series"])
    top.plot(t_inst[:-1], time_series(t_inst[:-1]), "-", c=SERIES_COLORS["input"], linewidth=2,
             label="A training instance")
    top.legend(loc="lower left", fontsize=14)
    top.axis([config.t_min, config.t_max, -17, 13])
    top.set_xlabel("Time")
    top.set_ylabel("Value")
    bottom.set_title("A training instance", fontsize=14)
    bottom.plot(t_inst[:-1], time_series(t_inst[:-1]), "o", c=SERIES_COLORS["input"],
                markersize=10, label="instance")
    bottom.plot(t_inst[1:], time_series(t_inst[1:]), "^", c=SERIES_COLORS["target"],
                markersize=6, label="target")
    bottom.legend(loc="upper left")
    bottom.set_xlabel("Time")
    bottom.set_ylabel("Value")
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
        t: (T + 1,) times (numbers, datetime64 or date strings): the instance is at
            ``t[:-1]``, target and prediction at ``t[1:]``.
        instance, target, prediction: (T,) values.
        title, label: the plot's title and the prediction's legend label.

    Returns:
        A Figure.
    """
    t = time_axis(t)
    fig = _figure((8, 8 / 1.4))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t[:-1], instance, "o", c=SERIES_COLORS["input"], markersize=8, label="instance")
    ax.plot(t[1:], target, "^", c=SERIES_COLORS["target"], markersize=6, label="target",
            zorder=_Z_TRUTH)
    ax.plot(t[1:], prediction, ".", c=SERIES_COLORS["prediction"], markersize=8, label=label,
            zorder=_Z_MODEL)
    ax.legend(loc="upper left")
    _label_time(ax, t)
    ax.set_ylabel("Value")
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
        t: (T,) times of the target (numbers, datetime64 or date strings).
        target: (T,) values.
        predictions: legend label -> (T,) predictions, drawn in order.

    Returns:
        A Figure.
    """
    t = time_axis(t)
    fig = _figure((12, 7))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t, target, ".", c=SERIES_COLORS["target"], markersize=6, label="target",
            zorder=_Z_TRUTH)
    markers = ("^", "o", "s", "d")
    colors = (SERIES_COLORS["prediction"], *_MORE_PREDICTIONS)
    for i, (name, pred) in enumerate(predictions.items()):
        ax.plot(t, pred, markers[i % 4], c=colors[i % len(colors)], markersize=5, label=name,
                zorder=_Z_MODEL)
    ax.legend(loc="upper left")
    _label_time(ax, t)
    ax.set_ylabel("Value")
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
        baselines: name -> (H,) baseline forecasts, grey, each in its own line style
            (``BASELINE_STYLES``, then with markers), beneath the model and the truth.
        t: (W + H,) times: numbers, ``datetime64`` or date strings (a file's time
            column); positions 0.. when None.
        title, label: the plot's title and the model's legend label.

    Returns:
        A Figure.

    Example:
        >>> fig = plot_forecast(y[:20], y[20:25], pred, {"naive": p}, t=dates)  # doctest: +SKIP
    """
    history, truth = np.asarray(history), np.asarray(truth)
    W, H = history.size, truth.size
    t = np.arange(W + H) if t is None else time_axis(t)
    if t.shape != (W + H,):
        raise ConfigError(f"t must hold W + H = {W + H} times (history then truth); got "
                          f"shape {t.shape}")
    fig = _figure((9, 5))
    ax = fig.subplots()
    ax.set_title(title, fontsize=14)
    ax.plot(t[:W], history, "-o", c=SERIES_COLORS["input"], markersize=3, label="history")
    ax.plot(t[W:], truth, "-^", c=SERIES_COLORS["target"], markersize=5, label="truth",
            zorder=_Z_TRUTH)
    ax.plot(t[W:], forecast, "-", marker=".", c=SERIES_COLORS["prediction"], linewidth=2,
            markersize=8, label=label, zorder=_Z_MODEL)
    for i, (name, pred) in enumerate((baselines or {}).items()):
        n = len(BASELINE_STYLES)
        ax.plot(t[W:], pred, linestyle=BASELINE_STYLES[i % n],
                marker=_BASELINE_MARKERS[i // n % len(_BASELINE_MARKERS)],
                c=SERIES_COLORS["baseline"], linewidth=1.5, label=name, zorder=_Z_BASELINE)
    ax.axvline(t[W - 1], c="0.7", linewidth=1, zorder=1)
    ax.legend(loc="best")
    _label_time(ax, t)
    ax.set_ylabel("Value")
    return fig


def plot_backtest(result, *, max_series: int = 4, model: str = "rnnlab",
                  level: int | None = None) -> Figure:
    """A backtest's first few series: history, truth, and the model's forecast and band
    at every origin.

    Args:
        result: a ``BacktestResult`` (``panel.series`` and ``forecasts``).
        max_series: panels drawn, one per series, from the first.
        model: the forecast drawn. level: the band (default the widest interval).

    Returns:
        A ``Figure`` of up to ``max_series`` stacked axes.
    """
    series = result.panel.series[:max_series]
    fig = _figure((9, 2.4 * len(series) + 0.6))
    axes = fig.subplots(len(series), 1, squeeze=False)[:, 0]
    for ax, s in zip(axes, series, strict=True):
        sid = "series" if s.id is None else s.id
        entries = [f for f in result.forecasts if f["id"] == sid]
        t_all = time_axis(s.labels) if s.labels is not None else np.arange(1, s.values.size + 1)
        ax.plot(t_all, s.values, color=SERIES_COLORS["input"], lw=1, label="series")
        for j, f in enumerate(entries):
            m = f["models"][model]
            levels = sorted(int(k[3:]) for k in m if k.startswith("lo-"))
            t = time_axis(f["time"]) if s.labels is not None else np.asarray(f["time"])
            ax.plot(t, f["y"], color=SERIES_COLORS["target"], lw=1.5, zorder=_Z_TRUTH,
                    label="truth" if j == 0 else None)
            ax.plot(t, m["mean"], color=SERIES_COLORS["prediction"], lw=1.5, ls="--",
                    zorder=_Z_MODEL, label=model if j == 0 else None)
            if levels:
                L = level if level in levels else levels[-1]
                ax.fill_between(t, m[f"lo-{L}"], m[f"hi-{L}"], alpha=0.25,
                                color=SERIES_COLORS["prediction"],
                                label=f"{L}% interval" if j == 0 else None)
        ax.set_title(f"{sid}: {len(entries)} origin(s)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        if s.labels is not None and t_all.dtype.kind == "M":
            ax.tick_params(axis="x", labelrotation=30)  # each panel keeps its own dates
    fig.tight_layout()
    return fig
