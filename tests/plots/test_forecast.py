"""The notebook's forecasting plots: figures with the right data, no pyplot state."""

from __future__ import annotations

import sys

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from rnnlab.data.series import time_series
from rnnlab.plots_forecast import (
    COLORS,
    plot_compare,
    plot_forecast,
    plot_prediction,
    plot_series_with_window,
    save_figure,
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
