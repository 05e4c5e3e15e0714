"""Learning curves: the notebook's style, no pyplot state, atomic files."""

from __future__ import annotations

import sys

import pytest

from rnnlab.errors import ConfigError
from rnnlab.plots import COLORS, learning_curves_figure, plot_learning_curves

ROWS = [{"epoch": e, "step": 10 * e, "loss": 1 / e, "accuracy": 1 - 1 / (e + 1),
         "val_loss": 1.2 / e, "val_accuracy": 0.9 - 1 / (e + 2), "lr": 0.01}
        for e in range(1, 6)]


def test_one_panel_per_quantity_training_dots_validation_line():
    fig = learning_curves_figure(ROWS)
    loss_ax, acc_ax = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["Training and validation loss",
                                                   "Training and validation accuracy"]
    (train, val) = loss_ax.get_lines()
    assert (train.get_marker(), train.get_linestyle(), train.get_color()) == ("o", "None",
                                                                             COLORS[0])
    assert (val.get_linestyle(), val.get_color()) == ("-", COLORS[3])
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(val.get_ydata()) == [r["val_loss"] for r in ROWS]
    train, val = acc_ax.get_lines()
    assert (train.get_color(), val.get_color()) == (COLORS[3], COLORS[0])  # the notebook's pairs


def test_writes_a_png_and_leaves_no_pyplot_state(tmp_path):
    path = plot_learning_curves(ROWS, tmp_path / "curves.png", title="run")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png"]
    if "matplotlib.pyplot" in sys.modules:
        assert sys.modules["matplotlib.pyplot"].get_fignums() == []


def test_training_only_rows_and_missing_values():
    fig = learning_curves_figure([{"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": None}])
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_ydata()) == [0.5]


def test_no_rows_or_no_numbers_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="at least one row"):
        plot_learning_curves([], tmp_path / "c.png")
    with pytest.raises(ConfigError, match="no numeric columns"):
        plot_learning_curves([{"epoch": 1, "lr": 0.1}], tmp_path / "c.png")
    assert not list(tmp_path.iterdir())
