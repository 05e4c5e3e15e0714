"""Learning curves, and the figure helpers every rnnlab plot uses, in the notebook's style.

Every function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas (no
pyplot global state, no window, safe in threads and on servers) and writes the file
atomically. The notebook's palette is ``COLORS``. A learning-curve figure has one panel
per quantity (loss, accuracy, ...); training values are dots in ``TRAINING_COLOR`` and
validation values a line in ``VALIDATION_COLOR`` on every panel, so a colour means the
same split throughout the figure.

Rows are indexed by epoch (``History.rows``, ``metrics.csv``) or by step: rows without an
``epoch``, or several rows of one epoch (a run trained by iterations is one long epoch),
are drawn against their ``step``::

    [{"epoch": 1, "loss": .9}, {"epoch": 2, "loss": .5}]        x axis: epoch
    [{"step": 10, "loss": .9}, {"step": 20, "loss": .5}, ...]   x axis: step
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError, choice_error

COLORS = ("#e66101", "#fdb863", "#b2abd2", "#5e3c99")
TRAINING_COLOR, VALIDATION_COLOR = COLORS[0], COLORS[3]
X_AXES = ("auto", "epoch", "step")
_NOT_CURVES = ("epoch", "step", "lr", "seconds")
# Above this many points a series is drawn with small dots, which still read as a curve.
_MANY_POINTS = 50


def new_figure(nrows: int = 1, ncols: int = 1, *, width: float = 8.0, height: float = 8 / 1.4):
    """A Figure with its own Agg canvas and a grid of axes (``fig, axes`` as a flat list)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    return fig, axes


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 100) -> Path:
    """Render ``fig`` to PNG (or the format of ``path``'s suffix) and write it atomically."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi)
    return atomic_write_bytes(path, buf.getvalue())


def plot_learning_curves(history_rows: Sequence[Mapping], path: str | os.PathLike, *,
                         title: str | None = None, x: str = "auto") -> Path:
    """Draw one panel per quantity (loss, accuracy, ...): training as dots, validation as a line.

    Args:
        history_rows: one mapping per epoch with "epoch" and values such as "loss",
            "val_loss", "accuracy", "val_accuracy" (``History.rows`` or metrics.csv rows);
            or one per step (or per few steps) with "step" and such values.
        path: the image file to write (PNG by default), atomically.
        title: an optional title above the panels.
        x: "epoch", "step", or "auto": by step when rows have steps and the epochs do not
            tell the rows apart (no epoch, or several rows of one epoch), else by epoch.

    Returns:
        ``path`` as a ``Path``.

    Example:
        >>> plot_learning_curves(history.rows, "runs/x/curves.png")  # doctest: +SKIP
    """
    return save_figure(learning_curves_figure(history_rows, title=title, x=x), path)


def learning_curves_figure(history_rows: Sequence[Mapping], *, title: str | None = None,
                           x: str = "auto"):
    """The Figure ``plot_learning_curves`` saves (for callers that add to it)."""
    if x not in X_AXES:
        raise choice_error("x", x, X_AXES)
    if not history_rows:
        raise ConfigError("plot_learning_curves needs at least one row of history")
    names: list[str] = []
    for row in history_rows:
        for key in row:
            base = key[4:] if key.startswith("val_") else key
            if base not in _NOT_CURVES and base not in names and _is_number(row[key]):
                names.append(base)
    if not names:
        raise ConfigError(f"no numeric columns to plot in {sorted(history_rows[0])}")
    axis = _x_axis(history_rows) if x == "auto" else x
    xs = [row.get("epoch", i + 1) if axis == "epoch" else row.get("step")
          for i, row in enumerate(history_rows)]
    fig, axes = new_figure(len(names), 1, height=3.4 * len(names))
    # Fixed spacing: constrained layout would cost more than all the drawing.
    fig.subplots_adjust(hspace=0.45, top=1 - 0.5 / (3.4 * len(names)),
                        bottom=0.5 / (3.4 * len(names)))
    for ax, name in zip(axes, names, strict=True):
        for key, style, colour, label in ((name, "o", TRAINING_COLOR, "training"),
                                          (f"val_{name}", "-", VALIDATION_COLOR, "validation")):
            points = [(at, r[key]) for at, r in zip(xs, history_rows, strict=True)
                      if _is_number(r.get(key)) and _is_number(at)]
            if points:
                px, py = zip(*points, strict=True)
                size = 6 if len(points) <= _MANY_POINTS else 2
                ax.plot(px, py, style, c=colour, markersize=size, label=f"{label} {name}")
        ax.set_title(f"Training and validation {name}")
        ax.set_xlabel(axis)
        ax.set_ylabel(name)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _x_axis(rows: Sequence[Mapping]) -> str:
    """"step" when the rows carry steps and their epochs do not tell them apart."""
    if not all(_is_number(r.get("step")) for r in rows):
        return "epoch"
    epochs = [r.get("epoch") for r in rows]
    if any(e is None for e in epochs) or len(set(epochs)) < len(epochs):
        return "step"
    return "epoch"


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
