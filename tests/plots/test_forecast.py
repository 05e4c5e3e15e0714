"""The notebook's forecasting plots: figures with the right data, no pyplot state."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from rnnlab.data.series import time_series
from rnnlab.errors import ConfigError
from rnnlab.plots_forecast import (
    COLORS,
    SERIES_COLORS,
    plot_compare,
    plot_forecast,
    plot_prediction,
    plot_series_with_window,
    save_figure,
    time_axis,
)


def _lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_series_with_window_draws_the_notebooks_instance():
    fig = plot_series_with_window()
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    top, bottom = fig.axes
    inst = _lines(top)["A training instance"]
    t = np.linspace(12.2, 12.2 + 0.1 * 21, 21)[:-1]
    np.testing.assert_allclose(inst.get_xdata(), t)
    np.testing.assert_allclose(inst.get_ydata(), time_series(t))
    assert to_hex(inst.get_color()) == COLORS[3]
    assert set(_lines(bottom)) == {"instance", "target"}


def test_prediction_compare_and_forecast(tmp_path):
    t = np.arange(6) * 0.1
    fig = plot_prediction(t, np.arange(5.0), np.arange(1.0, 6), np.arange(1.0, 6) + 0.1)
    lines = _lines(fig.axes[0])
    np.testing.assert_allclose(lines["prediction"].get_xdata(), t[1:])
    fig = plot_compare(t[1:], np.zeros(5), {"single RNN": np.ones(5), "three RNNs": np.ones(5)})
    assert set(_lines(fig.axes[0])) == {"target", "single RNN", "three RNNs"}
    fig = plot_forecast(np.arange(4.0), np.array([4.0, 5.0]), np.array([4.1, 5.2]),
                        {"persistence": np.array([3.0, 3.0])})
    lines = _lines(fig.axes[0])
    np.testing.assert_allclose(lines["persistence"].get_xdata(), [4, 5])
    np.testing.assert_allclose(lines["model"].get_ydata(), [4.1, 5.2])
    out = save_figure(fig, tmp_path / "f.png")
    assert out.read_bytes()[:4] == b"\x89PNG"
    # No pyplot: nothing registered a global figure manager.
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules[
        "matplotlib.pyplot"].get_fignums()


def _forecast(**kwargs):
    baselines = {"persistence": np.array([3.0, 3.0]), "mean": np.array([1.5, 1.5]),
                 "seasonal": np.array([2.0, 1.0])}
    return plot_forecast(np.arange(4.0), np.array([4.0, 5.0]), np.array([4.1, 5.2]),
                         baselines, **kwargs)


def test_every_axis_has_a_y_label():
    t = np.arange(6) * 0.1
    figs = [plot_series_with_window(), _forecast(),
            plot_prediction(t, np.arange(5.0), np.arange(1.0, 6), np.arange(1.0, 6)),
            plot_compare(t[1:], np.zeros(5), {"a": np.ones(5)})]
    for fig in figs:
        for ax in fig.axes:
            assert ax.get_ylabel() == "Value"


def test_baselines_differ_by_line_style_beneath_the_truth():
    lines = _lines(_forecast().axes[0])
    base = [lines[n] for n in ("persistence", "mean", "seasonal")]
    styles = [line.get_linestyle() for line in base]
    assert len(set(styles)) == 3 and "-" not in styles  # none solid like the model
    assert lines["model"].get_linestyle() == "-"
    truth = lines["truth"]
    assert all(truth.get_zorder() > line.get_zorder() for line in base)
    assert truth.get_zorder() > lines["model"].get_zorder()


def test_one_colour_per_kind_of_series_in_every_figure():
    t = np.arange(6) * 0.1
    top, bottom = plot_series_with_window().axes
    pred = plot_prediction(t, np.arange(5.0), np.arange(1.0, 6), np.arange(1.0, 6)).axes[0]
    fc = _forecast().axes[0]
    colour = {k: to_hex(v) for k, v in SERIES_COLORS.items()}
    for line in (_lines(top)["A training instance"], _lines(bottom)["instance"],
                 _lines(pred)["instance"], _lines(fc)["history"]):
        assert to_hex(line.get_color()) == colour["input"]
    for line in (_lines(bottom)["target"], _lines(pred)["target"], _lines(fc)["truth"]):
        assert to_hex(line.get_color()) == colour["target"]
    assert to_hex(_lines(pred)["prediction"].get_color()) == colour["prediction"]
    assert to_hex(_lines(fc)["model"].get_color()) == colour["prediction"]


def test_forecast_plots_take_a_time_column():
    dates = np.arange("2024-01-01", "2024-01-07", dtype="datetime64[D]")
    for t in (dates, [str(d) for d in dates]):
        ax = _forecast(t=t).axes[0]
        lines = _lines(ax)
        assert lines["truth"].get_xdata().dtype.kind == "M"
        np.testing.assert_array_equal(lines["truth"].get_xdata(), dates[4:])
        assert ax.get_xlabel() == "Date"
    stamps = ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"]
    np.testing.assert_array_equal(time_axis(stamps), np.array(stamps, dtype="datetime64[m]"))
    ax = plot_prediction(stamps, [1.0, 2.0], [2.0, 3.0], [2.1, 3.1]).axes[0]
    assert _lines(ax)["target"].get_xdata().dtype.kind == "M"
    assert time_axis([1, 2]).dtype.kind == "i"


def test_bad_times_are_refused_with_the_value():
    with pytest.raises(ConfigError, match="'next tuesday' is neither a number nor a date"):
        _forecast(t=["2024-01-01"] * 5 + ["next tuesday"])
    with pytest.raises(ConfigError, match=r"W \+ H = 6 times"):
        _forecast(t=np.arange(5))
