"""Learning curves: the notebook's style, no pyplot state, atomic files."""

from __future__ import annotations

import sys

import pytest

from rnnlab.errors import ConfigError
from rnnlab.plots import (
    COLORS,
    TRAINING_COLOR,
    VALIDATION_COLOR,
    learning_curves_figure,
    plot_learning_curves,
)

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
    # One colour per split on every panel (issue 13); the notebook swapped them per panel.
    assert (train.get_color(), val.get_color()) == (COLORS[0], COLORS[3])


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


def test_every_panel_has_a_y_label_and_each_split_one_colour():
    rows = [{**r, "f1": 0.5, "val_f1": 0.4} for r in ROWS]
    fig = learning_curves_figure(rows)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy", "f1"]
    for ax in fig.axes:
        train, val = ax.get_lines()
        assert train.get_label().startswith("training") and train.get_color() == TRAINING_COLOR
        assert val.get_label().startswith("validation") and val.get_color() == VALIDATION_COLOR
    assert TRAINING_COLOR != VALIDATION_COLOR


def test_rows_of_one_long_epoch_are_drawn_by_step():
    # A run trained by iterations: one epoch of many steps, one row per few steps.
    rows = [{"epoch": 1, "step": s, "loss": 1 / s} for s in range(10, 1001, 10)]
    fig = learning_curves_figure(rows)
    (ax,) = fig.axes
    (line,) = ax.get_lines()
    assert ax.get_xlabel() == "step"
    assert list(line.get_xdata()) == list(range(10, 1001, 10))
    assert list(line.get_ydata()) == [1 / s for s in range(10, 1001, 10)]


def test_step_rows_without_epochs_and_a_forced_axis():
    rows = [{"step": 1, "loss": 0.9}, {"step": 2, "loss": 0.7},
            {"step": 2, "val_loss": 0.8, "epoch": 1}]
    fig = learning_curves_figure(rows)
    train, val = fig.axes[0].get_lines()
    assert fig.axes[0].get_xlabel() == "step"
    assert (list(train.get_xdata()), list(val.get_xdata())) == ([1, 2], [2])
    by_epoch = learning_curves_figure(ROWS, x="step")
    assert list(by_epoch.axes[0].get_lines()[0].get_xdata()) == [10, 20, 30, 40, 50]
    with pytest.raises(ConfigError, match="x='time'"):
        learning_curves_figure(ROWS, x="time")
