"""Run folders and ``load_run``: how to get a trained model back from its folder.

The folder itself (``RunDir``, its JSON and CSV helpers, ``claim_run``) lives in
:mod:`rnnlab.training.runfolder` and is re-exported here. A task module registers how to
rebuild its model from the folder, and ``load_run(RUN_DIR)`` dispatches on
``config.json``'s ``"task"`` key::

    @register_task("classify")
    def _load(run: RunDir, config: dict, device: torch.device):
        model = SequenceClassifier(**config["model"])
        load_weights(run, model, device=device)
        return model
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from rnnlab._fs import atomic_write_bytes  # noqa: F401
from rnnlab.errors import ConfigError, DataNotFoundError
from rnnlab.training.runfolder import (  # noqa: F401
    BEST,
    CONFIG,
    CURVES,
    LAST,
    METRICS_CSV,
    METRICS_JSON,
    RunDir,
    _json_safe,
    _number,
    claim_run,
    read_json,
    write_json_atomic,
)

# --------------------------------------------------------------------------- load_run

TaskLoader = Callable[[RunDir, dict, Any], Any]
_TASK_LOADERS: dict[str, TaskLoader] = {}


def register_task(name: str) -> Callable[[TaskLoader], TaskLoader]:
    """Decorator: register how to rebuild a task's trained model from its run folder.

    The loader is called as ``loader(run: RunDir, config: dict, device: torch.device)``
    and returns whatever ``load_run`` should hand back (a model, or a predictor that
    bundles the model with its vocabulary or scaler).
    """

    def register(loader: TaskLoader) -> TaskLoader:
        _TASK_LOADERS[name] = loader
        return loader

    return register


def registered_tasks() -> list[str]:
    """The task names ``load_run`` can rebuild now (tasks register when imported)."""
    return sorted(_TASK_LOADERS)


def load_weights(run: RunDir | str | os.PathLike, model, *, which: str = "best", device="cpu"):
    """Load a run's trained weights into ``model`` and put it in eval mode.

    Args:
        run: the run folder.
        model: an ``nn.Module`` built with the run's config.
        which: ``"best"`` (falls back to ``"last"`` when no best checkpoint exists) or ``"last"``.
        device: where to put the model.

    Returns:
        The loaded ``Checkpoint`` (its ``config`` and ``extra`` included).
    """
    from rnnlab.training.checkpoint_file import load_checkpoint

    run = run if isinstance(run, RunDir) else RunDir(run)
    if which not in ("best", "last"):
        raise ConfigError(f"which={which!r} is not allowed; choose one of: 'best', 'last'")
    path = run.best if which == "best" and run.best.exists() else run.last
    if not path.exists():
        raise DataNotFoundError(f"{run.path} has no checkpoint ({BEST} or {LAST})")
    model.to(device)
    ckpt = load_checkpoint(path, model, map_location=device)
    model.eval()
    return ckpt


def load_run(run_dir: str | os.PathLike, build_model: Callable[[dict], Any] | None = None, *,
             device="cpu"):
    """Give back the trained model of a run folder, ready to predict.

    Args:
        run_dir: the folder a training command wrote.
        build_model: optional ``config -> nn.Module``; without it the loader registered for
            ``config["task"]`` is used (``rnnlab.tasks.<task>`` is imported to register it).
        device: where to put the model (a name or ``torch.device``).

    Returns:
        With ``build_model``: the model with its best (else last) weights, in eval mode.
        Without: whatever the task's loader returns.

    Example:
        >>> model = load_run("runs/mnist-rnn")          # doctest: +SKIP
        >>> model(images.view(-1, 28, 28)).argmax(-1)   # doctest: +SKIP
    """
    from rnnlab.training.runtime import resolve_device

    run = RunDir(run_dir)
    config = run.load_config()
    device = resolve_device(device)
    if build_model is not None:
        model = build_model(config)
        load_weights(run, model, device=device)
        return model
    task = config.get("task")
    if not isinstance(task, str):
        raise ConfigError(
            f"{run.config} has no \"task\" key, so rnnlab cannot tell how to rebuild the "
            "model; pass build_model=..."
        )
    from rnnlab.tasks.base import get_task  # the one task registry (tasks/base.py)

    try:
        return get_task(task).load(run, device=device)
    except ConfigError:
        pass
    if task not in _TASK_LOADERS and task.isidentifier():
        module = f"rnnlab.tasks.{task}"
        try:
            importlib.import_module(module)  # a task module registers its loader on import
        except ModuleNotFoundError as e:
            if e.name not in (module, "rnnlab.tasks"):
                raise
    if task not in _TASK_LOADERS:
        raise ConfigError(
            f"task={task!r} (from {run.config}) has no registered loader; "
            f"known tasks: {', '.join(registered_tasks()) or 'none'}"
        )
    return _TASK_LOADERS[task](run, config, device)
