"""One task object per job (``base.Task``), registered once; the run-folder operations.

Importing this package registers the built-in tasks. ``runner`` trains, loads, evaluates
and predicts any run folder by its ``config.json``'s ``"task"``.
"""

from __future__ import annotations

from rnnlab.tasks import classify, forecast, sentiment, text  # noqa: F401  (register)
from rnnlab.tasks.base import Task, all_tasks, get_task, register
from rnnlab.tasks.runner import evaluate_run, load_run, predict_run, train_run

__all__ = ["Task", "all_tasks", "evaluate_run", "get_task", "load_run", "predict_run",
           "register", "train_run"]
