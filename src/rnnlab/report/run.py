"""One finished (or stopped) run, read from its folder: what every report section draws from.

A run folder (``rnnlab train``) holds fit's files (config.json, metrics.csv/json,
curves.png, checkpoints), the task layer's ``run.json`` (status, command, time, memory) and
``review.json`` (data summary, validation scores), and task files (evaluation.json, plots).
A backtest folder (``rnnlab backtest --out``) holds backtest.json; a word2vec vector file
is a run of its own. :func:`read_run` reads whichever it is into one :class:`RunInfo`,
leaving out what is missing, so a report can be made of any of them, old runs included.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.errors import DataError, DataNotFoundError
from rnnlab.tasks.review import process_start
from rnnlab.training.runfolder import RunDir

#: Vector-file suffixes a word2vec job writes (``rnnlab word2vec --out``).
VECTOR_SUFFIXES = (".txt", ".bin", ".vec", ".gz")


@dataclass
class RunInfo:
    """What a report knows of one run.

    Attributes:
        path: the run folder (or vector file).
        kind: the task ("classify", "text", "forecast"), "backtest" or "word2vec".
        config: config.json ({} for a backtest or a vector file).
        rows: metrics.csv's rows (numbers as numbers).
        summary: metrics.json.
        log: run.json (status, command, seconds, peak memory).
        review: review.json (data summary and validation scores).
        evaluation: evaluation.json (a forecast's scores, a classify run's test file).
        evaluations: evaluations.json (what ``rnnlab evaluate`` added, by key).
        backtest: backtest.json.
    """

    path: Path
    kind: str
    config: dict = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    log: dict = field(default_factory=dict)
    review: dict = field(default_factory=dict)
    evaluation: dict = field(default_factory=dict)
    evaluations: dict = field(default_factory=dict)
    backtest: dict = field(default_factory=dict)

    def file(self, name: str) -> Path:
        """A file of the run folder (or beside the vector file)."""
        return (self.path if self.path.is_dir() else self.path.parent) / name

    @property
    def task_config(self) -> dict:
        """The composed config's parts (``{"data": ..., "model": ..., "fit": ...}``)."""
        return self.config.get("config") or {}

    @property
    def final(self) -> dict:
        """The last epoch's row (metrics.json's ``final``, else metrics.csv's last row)."""
        return self.summary.get("final") or (self.rows[-1] if self.rows else {})


def _json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path} cannot be read as JSON: {e}") from e
    return value if isinstance(value, dict) else {}


def read_metrics(path: Path) -> list[dict]:
    """metrics.csv as a list of dicts, numbers as ints or floats."""
    return RunDir(path.parent).read_metrics() if path.is_file() else []


def is_run(path: str | os.PathLike) -> bool:
    """Whether ``path`` is something :func:`read_run` reads (run, backtest, vector file)."""
    p = Path(path)
    if p.is_dir():
        return (p / "config.json").is_file() or (p / "backtest.json").is_file()
    return p.is_file() and p.name.endswith(VECTOR_SUFFIXES) and _looks_like_vectors(p)


def _looks_like_vectors(path: Path) -> bool:
    """A word2vec file starts with "WORDS DIM" (text, binary and gzip alike)."""
    import gzip

    try:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as f:
            head = f.readline(64).split()
    except OSError:
        return False
    return len(head) == 2 and all(h.isdigit() for h in head)


def read_run(path: str | os.PathLike) -> RunInfo:
    """Read a run folder, a backtest folder or a vector file.

    Args:
        path: the folder (or the vector file ``rnnlab word2vec --out`` wrote).

    Returns:
        A :class:`RunInfo`.

    Raises:
        DataNotFoundError: ``path`` is none of those.

    Example:
        >>> read_run("runs/digits").kind                                # doctest: +SKIP
        'classify'
    """
    p = Path(path)
    if p.is_file() and is_run(p):
        return RunInfo(path=p, kind="word2vec")
    if not p.is_dir():
        raise DataNotFoundError(f"{p} does not exist: give a run folder (rnnlab train --out), "
                                "a backtest folder or a word2vec vector file")
    if (p / "config.json").is_file():
        config = _json(p / "config.json")
        kind = str(config.get("task") or "run")
        if kind == "sentiment":  # written by rnnlab 0.1.0
            kind = "text"
    elif (p / "backtest.json").is_file():
        config, kind = {}, "backtest"
    else:
        raise DataNotFoundError(f"{p} is not a run folder: it has no config.json (nor the "
                                "backtest.json of rnnlab backtest --out)")
    return RunInfo(path=p, kind=kind, config=config, rows=read_metrics(p / "metrics.csv"),
                   summary=_json(p / "metrics.json"), log=_json(p / "run.json"),
                   review=_json(p / "review.json"), evaluation=_json(p / "evaluation.json"),
                   evaluations=_json(p / "evaluations.json"),
                   backtest=_json(p / "backtest.json"))


# --------------------------------------------------------------------------- facts


def status(info: RunInfo) -> str:
    """finished, interrupted, failed (or running): run.json's, else guessed from the files.

    A run.json left at "running" by a process that is gone (killed) reads "interrupted".

    A run written before run.json existed is "finished" when metrics.json is there (fit
    writes it last), else "interrupted" (a checkpoint, no end).
    """
    found = info.log.get("status")
    if found == "running" and _gone(info.log):
        return "interrupted"  # killed (SIGKILL, power cut) before it could say so
    if found:
        return str(found)
    if info.kind in ("backtest", "word2vec") or info.summary:
        return "finished"
    return "interrupted"


def _gone(log: dict) -> bool:
    """Whether the process that wrote "running" is gone (only known on its own host)."""
    import platform

    session = (log.get("sessions") or [{}])[-1]
    pid = session.get("pid")
    if session.get("host") != platform.node() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    started = session.get("pid_started")
    # Alive, but is it the same process? A reused pid has another start time.
    return started is not None and process_start(pid) not in (None, started)


def dataset(info: RunInfo) -> str:
    """The data the run was trained on, in a few words."""
    data = info.task_config.get("data") or {}
    if info.kind == "classify":
        return Path(str(data.get("dataset", "?"))).name  # a file: its name, not its path
    if info.kind == "text":
        for name in ("input", "tarball", "data_dir"):
            if data.get(name):
                return f"{'IMDB ' if name != 'input' else ''}{Path(str(data[name])).name}"
        return "IMDB"
    if info.kind == "forecast":
        return Path(str(data.get("series", "?"))).name
    if info.kind == "backtest":
        return f"{info.backtest.get('series', '?')} series"
    if info.kind == "word2vec":
        return info.path.name
    return str(data.get("dataset", "?"))


def model(info: RunInfo) -> str:
    """The network, in a few words (``gru 64x1``)."""
    m = info.task_config.get("model") or {}
    if info.kind == "forecast":
        saved = info.config.get("model") or {}
        cell = saved.get("cell") or m.get("cell") or "rnn"
        units = saved.get("num_units") or m.get("num_units")
        return f"{cell} {units}" if units else str(cell)
    if info.kind == "backtest":
        return "global rnnlab"
    if info.kind == "word2vec":
        return "word2vec"
    kind = str(m.get("model", "?"))
    saved = info.config.get("model") or {}
    if saved.get("kind"):
        kind = str(saved["kind"])
    units = m.get("units") or m.get("hidden")
    layers = m.get("layers") or m.get("num_layers")
    if kind in ("nblr", "nbsvm", "bag") or not units:
        return kind
    return f"{kind} {units}x{layers or 1}"


def key_metric(info: RunInfo) -> tuple[str, float | None]:
    """The one number a run is judged by: val accuracy, val loss, MASE or a test MSE."""
    final = info.final
    for name in ("val_accuracy", "accuracy"):
        if isinstance(final.get(name), int | float):
            return name, float(final[name])
    if info.kind == "forecast" and isinstance(info.evaluation.get("mse"), int | float):
        return "test_mse", float(info.evaluation["mse"])
    mase = (info.evaluation.get("metrics") or {}).get("rnnlab", {}).get("mase")
    if info.kind == "forecast" and isinstance(mase, int | float):
        return "test_mase", float(mase)
    if info.kind == "backtest":
        mase = (info.backtest.get("metrics") or {}).get("rnnlab", {}).get("mase")
        return "mase", None if mase is None else float(mase)
    for name in ("val_loss", "loss"):
        if isinstance(final.get(name), int | float):
            return name, float(final[name])
    return "-", None


def seconds(info: RunInfo) -> float | None:
    """Wall seconds of training: run.json's sum over sessions, else metrics.csv's."""
    if isinstance(info.log.get("seconds"), int | float):
        return float(info.log["seconds"])
    if info.kind == "backtest":
        return info.backtest.get("seconds")
    total = [r["seconds"] for r in info.rows if isinstance(r.get("seconds"), int | float)]
    return float(sum(total)) if total else None


def epochs(info: RunInfo) -> int | None:
    """Epochs trained."""
    if info.summary.get("epochs") is not None:
        return int(info.summary["epochs"])
    return len(info.rows) or None
