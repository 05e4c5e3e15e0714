"""Export a run folder, and predict with an exported file as with the run folder.

Each task has an exporter module with three functions (the protocol in
:mod:`rnnlab.export.graph`): ``graph(run, weights=, **options) -> Graph``,
``feed(inputs, metadata) -> arrays`` and ``rows(outputs, metadata, inputs) -> rows``. This
module picks it by the task's name (``metadata["task"]``) and does the rest::

    export_run("runs/g", "g.onnx")                       # rnnlab export runs/g --out g.onnx
    predict_file("g.onnx", inputs={"files": ["x.ts"]})   # rnnlab predict g.onnx x.ts

``predict_file`` runs an ``.onnx`` file with onnxruntime (the ``onnx`` extra) and a ``.pt2``
file with ``torch.export.load``; its rows are those ``rnnlab predict RUN`` gives.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from rnnlab.errors import ConfigError, DataNotFoundError, MissingDependencyError, choice_error

__all__ = ["EXPORTERS", "FORMATS", "export_run", "exporter", "is_exported", "onnx_session",
           "open_file", "predict_file", "run_file"]

log = logging.getLogger(__name__)

#: Task name -> the module that exports its runs.
EXPORTERS = {"classify": "rnnlab.export.classify", "text": "rnnlab.export.text",
             "forecast": "rnnlab.export.forecast"}
#: Format -> the file suffix it writes.
FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}
#: Examples per call of an exported graph (bounds the memory of the big ones).
CALL_BATCH = 256
#: At most this many time steps per call, summed over its examples: a MiniRocket member
#: holds (B, 84, features, T) comparisons at once, so long sequences go fewer at a time.
CALL_STEPS = 2**15


def exporter(task: str) -> ModuleType:
    """The exporter module of ``task`` ("classify", "text" or "forecast").

    Raises:
        ConfigError: the task has no exporter (word2vec: its vectors are portable files).
    """
    if task not in EXPORTERS:
        raise ConfigError(f"{task} runs cannot be exported; exportable tasks: "
                          f"{', '.join(EXPORTERS)}")
    return importlib.import_module(EXPORTERS[task])


def export_run(run_dir: str | Path, out: str | Path | None = None, *, format: str = "onnx",
               weights: str = "best", **options) -> Path:
    """Export a run folder's model to ``out`` (and its metadata to ``out + ".json"``).

    Args:
        run_dir: a run folder of an exportable task.
        out: the file to write; default ``RUN_DIR/model.onnx`` (or ``model.pt2``).
        format: "onnx" or "torch-export".
        weights: "best" or "last".
        options: the task exporter's options (forecast: ``horizon=H``).

    Returns:
        The written file.

    Example:
        >>> export_run("runs/gestures", "gestures.onnx")                # doctest: +SKIP
    """
    from rnnlab.tasks.runner import task_of_run

    if format not in FORMATS:
        raise choice_error("format", format, FORMATS)
    task, run = task_of_run(run_dir)
    path = Path(out) if out is not None else run.file("model" + FORMATS[format])
    if path.suffix.lower() != FORMATS[format]:  # predict reads a file by its suffix
        raise ConfigError(f"out={str(path)!r} must end in {FORMATS[format]} for "
                          f"format={format!r}")
    if path.is_dir():
        raise ConfigError(f"out={str(path)!r} is a folder; name the file to write")
    graph = exporter(task.name).graph(run, weights=weights, **options)  # the slow part
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "onnx":
        from rnnlab.export.onnx import write_onnx

        return write_onnx(graph, path)
    from rnnlab.export.torch_export import write_program

    return write_program(graph, path)


def is_exported(path: str | Path) -> bool:
    """Whether ``path`` names an exported file (``.onnx`` or ``.pt2``), not a run folder."""
    return Path(path).suffix.lower() in FORMATS.values() and not Path(path).is_dir()


def onnx_session(path: str | Path):
    """An onnxruntime session of ``path`` on the CPU.

    Raises:
        MissingDependencyError: onnxruntime is not installed.
    """
    try:
        import onnxruntime
    except ImportError as err:
        raise MissingDependencyError("running an .onnx file needs onnxruntime: pip install "
                                     f"'rnnlab[onnx]' ({err})") from err
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's
    return onnxruntime.InferenceSession(str(path), options,
                                        providers=["CPUExecutionProvider"])


def open_file(path: str | Path):
    """``(call, metadata)`` of an exported file: ``call(arrays by name) -> [outputs]``.

    An ``.onnx`` file runs on onnxruntime, a ``.pt2`` file as its ``torch.export`` program.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path} does not exist (export a run with rnnlab export)")
    if path.suffix.lower() == ".onnx":
        from rnnlab.export.onnx import read_metadata

        metadata = read_metadata(path)
        session = onnx_session(path)
        names = [o.name for o in session.get_outputs()]
        return (lambda batch: session.run(names, dict(batch))), metadata
    import torch

    from rnnlab.export.torch_export import load_program

    program, metadata = load_program(path)

    def call(batch):
        with torch.no_grad():
            out = program(*(torch.from_numpy(a) for a in batch.values()))
        return [t.numpy() for t in (out if isinstance(out, tuple | list) else (out,))]

    return call, metadata


def run_file(path: str | Path, arrays: Mapping[str, np.ndarray], *, batch_size: int = CALL_BATCH,
             opened=None) -> tuple[dict[str, np.ndarray], dict]:
    """Run an exported file on named input arrays, in batches along the first axis.

    Args:
        path: an ``.onnx`` or ``.pt2`` file written by :func:`export_run`.
        arrays: the graph's inputs by name, e.g. ``{"inputs": (N, T, F), "lengths": (N,)}``.
        batch_size: most examples per call (fewer when the sequences are long:
            ``CALL_STEPS``).
        opened: what :func:`open_file` gave for ``path``, to open it only once.

    Returns:
        ``(outputs by name, each (N, ...), the file's metadata)``.
    """
    call, metadata = opened or open_file(path)
    names = metadata["outputs"]
    n = len(next(iter(arrays.values())))
    T = max((v.shape[1] for v in arrays.values() if np.ndim(v) >= 2), default=1)
    batch_size = max(1, min(batch_size, CALL_STEPS // max(1, T)))
    parts = [call({k: np.ascontiguousarray(v[i:i + batch_size]) for k, v in arrays.items()})
             for i in range(0, n, batch_size)]
    outputs = {name: np.concatenate([p[j] for p in parts]) if parts else np.zeros((0,))
               for j, name in enumerate(names)}
    return outputs, metadata


def predict_file(path: str | Path, *, inputs: Mapping[str, Any]) -> list[dict]:
    """``rnnlab predict FILE`` for an exported file: the rows the run folder would give.

    Args:
        path: an ``.onnx`` or ``.pt2`` file written by :func:`export_run`.
        inputs: as ``Task.predict`` takes them (``files``, ``text``, ``data``, ...).

    Returns:
        One dict per example.
    """
    from rnnlab.tasks.base import get_task

    opened = open_file(path)
    metadata = opened[1]
    task = metadata.get("task")
    module = exporter(task)
    if inputs.get("data"):  # the data flags in the task's own names, as predict_run does
        aliases = get_task(task).data_aliases
        inputs = {**inputs, "data": {aliases.get(k, k): v for k, v in inputs["data"].items()}}
    arrays = module.feed(inputs, metadata)
    outputs, _ = run_file(path, arrays, opened=opened)
    return module.rows(outputs, metadata, inputs)
