"""The task contract: one object per job (classify, text, forecast, ...), registered once.

A task owns its configuration, a frozen dataclass composed from parts (``data``, ``model``,
``fit``, each a frozen dataclass whose fields carry :func:`rnnlab.config.option` metadata),
and the operations every job offers::

    task = get_task("classify")
    config = task.default_config()                 # the best measured settings
    result = task.train(config, run, callbacks=()) # run: a RunDir already claimed
    predictor = task.load(run, device)             # the model with its preprocessing
    scores = task.evaluate(run, data={}, split=None, weights="best", device="cpu")
    rows = task.predict(run, inputs={...}, device="cpu")

The command line is generated from ``config_type`` (``rnnlab.cli``), and :func:`train_run`
is the one place that claims the run folder (before anything is written), merges the
saved settings on ``--resume`` and saves ``config.json``. Adding a job is one module that
subclasses :class:`Task` and decorates it with :func:`register`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from rnnlab.config import from_dict, option_of, to_dict
from rnnlab.errors import ConfigError

#: The format of ``config.json`` that this version writes; 0.1.0 wrote none (version 1).
CONFIG_VERSION = 2
#: Keys of ``config.json`` beside the task's own config.
ENVELOPE = ("version", "task", "config")


@dataclass(frozen=True)
class TrainResult:
    """What ``Task.train`` gives back: the model and fit's history (and task extras)."""

    model: Any
    history: Any
    extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)


class Task:
    """Base class of every job; subclasses set the class attributes and the operations.

    Attributes:
        name: the ``"task"`` key of ``config.json`` and the ``rnnlab train NAME`` command.
        aliases: more command names (``sentiment`` for ``text``).
        help: one line for ``rnnlab train --help``.
        description: the paragraph of ``rnnlab train NAME --help``.
        config_type: the composed config dataclass (fields ``data``, ``model``, ``fit``...).
        artefacts: files the task writes in a run folder beside fit's (removed on overwrite).
        data_aliases: another task's data field name -> this task's, for ``evaluate`` and
            ``predict``, whose data flags are shared by all tasks.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    help: ClassVar[str] = ""
    description: ClassVar[str] = ""
    config_type: ClassVar[type]
    artefacts: ClassVar[tuple[str, ...]] = ()
    #: data flags of other tasks that mean one of this task's (``evaluate --dataset F``).
    data_aliases: ClassVar[dict[str, str]] = {}

    def default_config(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Any:
        """The config a bare ``rnnlab train NAME`` uses.

        Args:
            overrides: what the user typed, ``{part: {field: value}}``, for tasks whose best
                defaults depend on the kind of data (the caller applies the overrides).
        """
        return self.config_type()

    def refuse_resume(self, saved: Mapping[str, Any]) -> str | None:
        """Why a run that saved ``saved`` (its config.json) cannot be resumed, or None."""
        return None

    def train(self, config: Any, run: Any, *, resume: bool = False,
              callbacks: Iterable[Any] = ()) -> TrainResult:
        """Train into ``run`` (a claimed ``RunDir``); ``resume`` continues its checkpoint."""
        raise NotImplementedError

    def load(self, run: Any, *, device: Any = "cpu", weights: str = "best") -> Any:
        """The trained model with its preprocessing, ready to predict."""
        raise NotImplementedError

    def evaluate(self, run: Any, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
        """Scores of the run's model on a split or on the data that ``data`` names."""
        raise ConfigError(f"rnnlab evaluate does not handle {self.name} runs")

    def predict(self, run: Any, *, inputs: Mapping[str, Any], device: Any = "cpu",
                weights: str = "best") -> list[dict]:
        """One dict per example for the inputs the CLI's predict flags name."""
        raise ConfigError(f"rnnlab predict does not handle {self.name} runs")

    def migrate(self, saved: dict) -> dict:
        """The task's config (as ``to_dict`` writes it) from a version-1 ``config.json``."""
        raise ConfigError(f"{self.name} runs written before config version "
                          f"{CONFIG_VERSION} cannot be read")

    # ------------------------------------------------------------------ config.json

    def config_from_saved(self, saved: Mapping[str, Any], *, where: str = "config.json"):
        """The task's config from a run folder's ``config.json`` (migrated when old)."""
        version = saved.get("version", 1)
        if version == 1:
            raw = self.migrate(dict(saved))
        elif version == CONFIG_VERSION:
            raw = saved.get("config")
        else:
            raise ConfigError(f"{where} has config version {version!r}; this rnnlab reads "
                              f"versions 1 to {CONFIG_VERSION}: upgrade rnnlab")
        return from_dict(self.config_type, raw, where=where)


# --------------------------------------------------------------------------- registry

_TASKS: dict[str, Task] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: register one instance of a task under its name and aliases."""
    task = cls()
    for name in (cls.name, *cls.aliases):
        if name in _TASKS and type(_TASKS[name]) is not cls:
            raise ConfigError(f"task name {name!r} is registered twice")
        _TASKS[name] = task
    return cls


class LoaderTask(Task):
    """A job known only by how to rebuild its model (``rnnlab.register_task``)."""

    def __init__(self, name: str, loader: Callable[[Any, dict, Any], Any]):
        self.name = name
        self._loader = loader

    def load(self, run: Any, *, device: Any = "cpu", weights: str = "best") -> Any:
        return self._loader(run, run.load_config(), device)


def register_loader(name: str, loader: Callable[[Any, dict, Any], Any]) -> None:
    """Register ``loader(run, config, device)`` as the way to rebuild a custom job's model."""
    if name in _TASKS and not isinstance(_TASKS[name], LoaderTask):
        raise ConfigError(f"task name {name!r} is a built-in task; register yours under "
                          "another name")
    _TASKS[name] = LoaderTask(name, loader)


TaskLoader = Callable[[Any, dict, Any], Any]


def register_task(name: str) -> Callable[[TaskLoader], TaskLoader]:
    """Decorator: register how to rebuild a custom job's trained model from its run folder.

    The loader is called as ``loader(run: RunDir, config: dict, device: torch.device)``
    and ``load_run`` returns what it returns. It joins the one task registry, where the
    built-in tasks are.
    """

    def register(loader: TaskLoader) -> TaskLoader:
        register_loader(name, loader)
        return loader

    return register


def registered_tasks() -> list[str]:
    """The task names ``load_run`` can rebuild."""
    all_tasks()  # imports the built-in tasks, which registers them
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    """The registered task called ``name`` (or one of its aliases)."""
    from rnnlab import tasks  # noqa: F401  (importing the package registers the built-ins)

    if name not in _TASKS:
        raise ConfigError(f"task={name!r} has no registered loader (rnnlab.register_task); "
                          f"known tasks: {', '.join(sorted(_TASKS))}")
    return _TASKS[name]


def all_tasks() -> list[Task]:
    """Every registered task, once each, by name."""
    from rnnlab import tasks  # noqa: F401

    return sorted({id(t): t for t in _TASKS.values()}.values(), key=lambda t: t.name)


# --------------------------------------------------------------------------- configs


def parts(config_type: type) -> list[tuple[str, type]]:
    """The (name, dataclass type) of each part of a composed config, in order."""
    import typing

    hints = typing.get_type_hints(config_type)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(config_type)
            if dataclasses.is_dataclass(hints[f.name])]


def apply_overrides(config: Any, overrides: Mapping[str, Mapping[str, Any]]) -> Any:
    """``config`` with ``{part: {field: value}}`` replaced (constructors re-check values)."""
    changes = {}
    for part, values in overrides.items():
        if values:
            changes[part] = dataclasses.replace(getattr(config, part), **values)
    return dataclasses.replace(config, **changes) if changes else config


def resume_conflicts(saved: Any, overrides: Mapping[str, Mapping[str, Any]]
                     ) -> list[tuple[str, str, Any, Any]]:
    """The typed values that differ from the saved run and may not change on resume.

    Returns:
        ``(part, field, saved value, typed value)`` for each conflict.
    """
    conflicts = []
    for part, values in overrides.items():
        current = getattr(saved, part)
        by_name = {f.name: f for f in dataclasses.fields(current)}
        for name, value in values.items():
            old = getattr(current, name)
            if _same(old, value) or option_of(by_name[name]).resumable:
                continue
            conflicts.append((part, name, old, value))
    return conflicts


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return list(a) == list(b)
    return a == b


def saved_config(task: Task, config: Any, **extra: Any) -> dict:
    """The ``config.json`` content for a run of ``task`` (extra: derived data facts)."""
    return {"version": CONFIG_VERSION, "task": task.name, "config": to_dict(config), **extra}


TrainFn = Callable[..., TrainResult]
