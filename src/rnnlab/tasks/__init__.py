"""One module per job: each wires a dataset, a model, ``fit`` and a run folder.

``evaluate_run`` and ``predict_run`` dispatch on the run folder's ``"task"``.
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.errors import ConfigError


def _task(run_dir) -> str:
    from rnnlab.runs import RunDir

    return RunDir(run_dir).load_config().get("task", "")


def evaluate_run(run_dir: str | Path, **kwargs) -> dict:
    """Score a run folder's model on a split; the keywords depend on the task."""
    task = _task(run_dir)
    if task == "classify":
        from rnnlab.tasks.classify import evaluate_run as run
    elif task == "sentiment":
        from rnnlab.tasks.sentiment import evaluate_run as run
    else:
        raise ConfigError(f"rnnlab evaluate handles classify and sentiment runs; {run_dir} is "
                          f"a {task!r} run (use 'rnnlab forecast' for forecasting runs)")
    return run(run_dir, **kwargs)


def predict_run(run_dir: str | Path, **kwargs) -> list[dict]:
    """Predictions of a run folder's model, one dict per example."""
    task = _task(run_dir)
    if task == "classify":
        from rnnlab.tasks.classify import predict_files as run
    elif task == "sentiment":
        from rnnlab.tasks.sentiment import predict_texts as run
    else:
        raise ConfigError(f"rnnlab predict handles classify and sentiment runs; {run_dir} is "
                          f"a {task!r} run")
    return run(run_dir, **kwargs)
