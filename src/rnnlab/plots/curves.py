"""Figures rnnlab writes to disk, in the notebook's style.

Every function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas (no
pyplot global state, no window, safe in threads and on servers) and writes the file
atomically. The notebook's palette is ``COLORS``; training values are dots, validation
values a line.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError

COLORS = ("#e66101", "#fdb863", "#b2abd2", "#5e3c99")
_NOT_CURVES = ("epoch", "step", "lr")


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
                         title: str | None = None) -> Path:
    """Draw one panel per quantity (loss, accuracy, ...): training as dots, validation as a line.

    Args:
        history_rows: one mapping per epoch with "epoch" and values such as "loss",
            "val_loss", "accuracy", "val_accuracy" (``History.rows`` or metrics.csv rows).
        path: the image file to write (PNG by default), atomically.
        title: an optional title above the panels.

    Returns:
        ``path`` as a ``Path``.

    Example:
        >>> plot_learning_curves(history.rows, "runs/x/curves.png")  # doctest: +SKIP
    """
    return save_figure(learning_curves_figure(history_rows, title=title), path)


def learning_curves_figure(history_rows: Sequence[Mapping], *, title: str | None = None):
    """The Figure ``plot_learning_curves`` saves (for callers that add to it)."""
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
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history_rows)]
    fig, axes = new_figure(len(names), 1, height=3.4 * len(names))
    # Fixed spacing: constrained layout would cost more than all the drawing.
    fig.subplots_adjust(hspace=0.45, top=1 - 0.5 / (3.4 * len(names)),
                        bottom=0.5 / (3.4 * len(names)))
    for ax, name in zip(axes, names, strict=True):
        # The notebook's pairing: loss in orange dots, other metrics in purple dots.
        train_c, val_c = (COLORS[0], COLORS[3]) if "loss" in name else (COLORS[3], COLORS[0])
        for key, style, colour, label in ((name, "o", train_c, "training"),
                                          (f"val_{name}", "-", val_c, "validation")):
            points = [(e, r[key]) for e, r in zip(epochs, history_rows, strict=True)
                      if _is_number(r.get(key))]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, style, c=colour, label=f"{label} {name}")
        ax.set_title(f"Training and validation {name}")
        ax.set_xlabel("epoch")
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value
