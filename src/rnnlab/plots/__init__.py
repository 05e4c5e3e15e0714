"""Figures rnnlab draws: learning curves (:mod:`~rnnlab.plots.curves`) and the notebook's
time-series plots (:mod:`~rnnlab.plots.forecast`).

Everything the former module ``rnnlab.plots`` exported is importable from here; the
forecast plots are imported from :mod:`rnnlab.plots.forecast` (so that importing this
package stays free of Matplotlib until a figure is drawn).
"""

from rnnlab.plots.curves import (
    COLORS,
    TRAINING_COLOR,
    VALIDATION_COLOR,
    X_AXES,
    learning_curves_figure,
    new_figure,
    plot_learning_curves,
    save_figure,
)

__all__ = [
    "COLORS",
    "TRAINING_COLOR",
    "VALIDATION_COLOR",
    "X_AXES",
    "learning_curves_figure",
    "new_figure",
    "plot_learning_curves",
    "save_figure",
]
