"""The run folder: what a training run leaves on disk, and how to get the model back.

One folder per run::

    RUN_DIR/
    ├── config.json         everything needed to rebuild the model ("task" names the job)
    ├── metrics.csv         one row per epoch, appended and flushed as training goes
    ├── metrics.json        the final row, the best epoch and how training ended
    ├── curves.png          learning curves (rnnlab.plots)
    ├── last.safetensors    the latest checkpoint: model, optimizer, RNG, position
    ├── best.safetensors    the weights with the best monitored metric (when monitoring)
    └── ...                 task artefacts (vocabulary.json, scaler.json), via RunDir.file

Every file is written atomically (temp file in the same folder, fsync, ``os.replace``,
folder fsync), so a crash leaves either the old file or the new one, never half of one.

A task module registers how to rebuild its model from the folder, and
``load_run(RUN_DIR)`` dispatches on ``config.json``'s ``"task"`` key::

    @register_task("classify")
    def _load(run: RunDir, config: dict, device: torch.device):
        model = SequenceClassifier(**config["model"])
        load_weights(run, model, device=device)
        return model
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

logger = logging.getLogger(__name__)

CONFIG = "config.json"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
CURVES = "curves.png"
LAST = "last.safetensors"
BEST = "best.safetensors"


# --------------------------------------------------------------------------- atomic files



def _json_safe(obj: Any) -> Any:
    """Replace NaN and Inf (which strict JSON cannot hold) by None, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    return obj


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically; NaN and Inf become ``null``.

    Raises:
        ConfigError: ``obj`` holds something JSON cannot represent (the message names it).
    """
    try:
        text = json.dumps(_json_safe(obj), indent=2, allow_nan=False) + "\n"
    except TypeError as e:
        raise ConfigError(f"cannot write {path} as JSON: {e}") from e
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file, with errors that name the file and the line.

    Raises:
        DataNotFoundError: the file does not exist.
        DataError: the file is not valid UTF-8 JSON.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{path} does not exist") from e
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 at byte offset {e.start}") from e
    except json.JSONDecodeError as e:
        raise DataError(
            f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
        ) from e


# --------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class RunDir:
    """The files of one run folder, by name, with helpers that write them safely.

    Args:
        path: the run folder (created by ``create``; nothing is written on construction).

    Example:
        >>> run = RunDir("runs/mnist-rnn").create()
        >>> run.save_config({"task": "classify", "model": {"units": 100}})
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    config = property(lambda self: self.path / CONFIG)
    metrics_csv = property(lambda self: self.path / METRICS_CSV)
    metrics_json = property(lambda self: self.path / METRICS_JSON)
    curves = property(lambda self: self.path / CURVES)
    last = property(lambda self: self.path / LAST)
    best = property(lambda self: self.path / BEST)

    def file(self, name: str) -> Path:
        """The path of a task artefact (``"vocabulary.json"``) inside the folder."""
        if not name or Path(name).name != name or name in (".", ".."):
            raise ConfigError(f"artefact name {name!r} must be a plain file name")
        return self.path / name

    def create(self) -> RunDir:
        """Create the folder (and its parents) if needed; returns self."""
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def exists(self) -> bool:
        """Whether the folder holds a run (a config.json or a checkpoint)."""
        return self.config.exists() or self.last.exists()

    def save_config(self, config: Mapping[str, Any]) -> Path:
        """Write ``config.json`` atomically."""
        return write_json_atomic(self.config, dict(config))

    def load_config(self) -> dict:
        """Read ``config.json``; a missing file says the folder is not a run."""
        if not self.config.exists():
            raise DataNotFoundError(
                f"{self.path} is not a run folder: it has no {CONFIG} (train into it first)"
            )
        config = read_json(self.config)
        if not isinstance(config, dict):
            raise DataError(f"{self.config}: expected a JSON object, found {type(config).__name__}")
        return config

    def save_json(self, name: str, obj: Any) -> Path:
        """Write a task artefact as JSON (vocabulary, scaler) atomically."""
        return write_json_atomic(self.file(name), obj)

    def load_json(self, name: str) -> Any:
        """Read a task artefact written by ``save_json``."""
        return read_json(self.file(name))

    def append_metrics(self, row: Mapping[str, Any]) -> None:
        """Append one epoch's row to ``metrics.csv`` (header first if new), flushed and fsynced.

        Raises:
            ConfigError: the row's columns differ from the file's header.
        """
        row = _json_safe(dict(row))
        path = self.metrics_csv
        header = None
        if path.exists() and path.stat().st_size > 0:
            with open(path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
        if header is not None and header != list(row):
            raise ConfigError(
                f"{path} has columns {header}, the new row has {list(row)}; "
                "use a new run folder or resume the same training"
            )
        with open(path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if header is None:
                writer.writeheader()
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def write_metrics(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace ``metrics.csv`` with exactly these rows (used on resume), atomically."""
        rows = [_json_safe(dict(r)) for r in rows]
        if not rows:
            with contextlib.suppress(FileNotFoundError):
                self.metrics_csv.unlink()
            return
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.metrics_csv, buf.getvalue().encode("utf-8"))

    def read_metrics(self) -> list[dict]:
        """Read ``metrics.csv`` back as a list of dicts, numbers as floats (ints for counters)."""
        if not self.metrics_csv.exists():
            return []
        with open(self.metrics_csv, newline="", encoding="utf-8") as f:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]

    def save_metrics(self, summary: Mapping[str, Any]) -> Path:
        """Write the final ``metrics.json`` atomically."""
        return write_json_atomic(self.metrics_json, dict(summary))

    def clean_temp_files(self) -> list[Path]:
        """Remove temp files a killed process left behind (``.NAME.*.tmp``); returns them."""
        removed = []
        if self.path.is_dir():
            for p in self.path.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p)
        if removed:
            logger.info("removed %d stale temp file(s) in %s", len(removed), self.path)
        return removed


def _number(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


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
    from rnnlab.checkpoint import load_checkpoint

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
    from rnnlab.runtime import resolve_device

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
