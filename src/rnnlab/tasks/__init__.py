"""One module per job: each wires a dataset, a model, ``fit`` and a run folder.

``evaluate_run`` and ``predict_run`` dispatch on the run folder's ``"task"``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rnnlab.errors import ConfigError


def _task(run_dir) -> str:
    from rnnlab.runs import RunDir

    return RunDir(run_dir).load_config().get("task", "")


# (module, function) per task and command; modules are imported only when used.
_HANDLERS = {
    "evaluate": {"classify": ("classify", "evaluate_run"),
                 "sentiment": ("sentiment", "evaluate_run"),
                 "text": ("sentiment", "evaluate_run")},
    "predict": {"classify": ("classify", "predict_files"),
                "sentiment": ("sentiment", "predict_texts"),
                "text": ("sentiment", "predict_texts")},
}


def _dispatch(command: str, run_dir, kwargs):
    task = _task(run_dir)
    if task not in _HANDLERS[command]:
        hint = " (use 'rnnlab forecast' for forecasting runs)" if task == "forecast" else ""
        raise ConfigError(f"rnnlab {command} handles classify and sentiment runs; {run_dir} "
                          f"is a {task!r} run{hint}")
    module, name = _HANDLERS[command][task]
    return getattr(importlib.import_module(f"rnnlab.tasks.{module}"), name)(run_dir, **kwargs)


def evaluate_run(run_dir: str | Path, **kwargs) -> dict:
    """Score a run folder's model on a split; the keywords depend on the task."""
    return _dispatch("evaluate", run_dir, kwargs)


def predict_run(run_dir: str | Path, **kwargs) -> list[dict]:
    """Predictions of a run folder's model, one dict per example."""
    return _dispatch("predict", run_dir, kwargs)
