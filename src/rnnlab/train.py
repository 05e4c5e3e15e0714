"""Moved to :mod:`rnnlab.training` (``fit`` is in :mod:`rnnlab.training.loop`); re-exported here."""

from rnnlab.training import (  # noqa: F401
    CHECKPOINT_UNITS,
    OPTIMIZERS,
    SCHEDULES,
    Callback,
    EpochLines,
    FitConfig,
    History,
    TqdmProgress,
    accuracy,
    evaluate,
    fit,
    make_optimizer,
)
from rnnlab.training.faults import point as fault_point  # noqa: F401
