"""The run folder: what a training run leaves on disk, claimed before anything is written.

One folder per run::

    RUN_DIR/
    ├── config.json         everything needed to rebuild the model ("task" names the job)
    ├── metrics.csv         one row per epoch (with its wall ``seconds``), appended as it goes
    ├── metrics.json        the final row, the best epoch and how training ended
    ├── curves.png          learning curves (rnnlab.plots)
    ├── last.safetensors    the latest checkpoint: model, optimizer, RNG, position
    ├── best.safetensors    the weights with the best monitored metric (when monitoring)
    └── ...                 task artefacts (tokenizer.json, scaler.json), via RunDir.file

Every file is written atomically (temp file in the same folder, fsync, ``os.replace``,
folder fsync), so a crash leaves either the old file or the new one, never half of one.

A job first *claims* its folder (:func:`claim_run`): the folder is created, or checked
against ``resume``/``overwrite``, before anything is written, so a refused command
leaves every byte of an existing run as it was. Only the process that writes (rank 0 of
a data-parallel job) gets a writable ``RunDir``; on the others every write is a no-op.

Example:
    >>> run = claim_run("runs/x", resume=False, overwrite=False)   # doctest: +SKIP
    >>> run.save_json("tokenizer.json", {"words": []})             # doctest: +SKIP
    >>> fit(model, data, loss_fn=loss, config=FitConfig(), run_dir=run)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlab._fs import _json_safe, atomic_write_bytes, read_json, write_json_atomic
from rnnlab.errors import ConfigError, DataError, DataNotFoundError

logger = logging.getLogger(__name__)

CONFIG = "config.json"
METRICS_CSV = "metrics.csv"
METRICS_JSON = "metrics.json"
CURVES = "curves.png"
LAST = "last.safetensors"
BEST = "best.safetensors"



# --------------------------------------------------------------------------- the folder


@dataclass(frozen=True)
class RunDir:
    """The files of one run folder, by name, with helpers that write them safely.

    Args:
        path: the run folder (created by ``create`` or :func:`claim_run`; nothing is
            written on construction).
        claimed: None for a plain handle; "fresh" or "resume" once :func:`claim_run`
            checked the folder for that kind of run.
        writable: False on processes that must not write (ranks other than 0): every
            ``save_*``/``append_*``/``write_*`` method then does nothing.

    Example:
        >>> run = RunDir("runs/mnist-rnn").create()
        >>> run.save_config({"task": "classify", "model": {"units": 100}})
    """

    path: Path
    claimed: str | None = field(default=None, compare=False)
    writable: bool = field(default=True, compare=False)

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

    def run_files(self) -> list[Path]:
        """The files of a run that are in the folder now (config, metrics, curves, checkpoints)."""
        names = (CONFIG, METRICS_CSV, METRICS_JSON, CURVES, LAST, BEST)
        return [self.path / n for n in names if (self.path / n).exists()]

    def save_config(self, config: Mapping[str, Any]) -> Path:
        """Write ``config.json`` atomically."""
        if not self.writable:
            return self.config
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
        if not self.writable:
            return self.file(name)
        return write_json_atomic(self.file(name), obj)

    def load_json(self, name: str) -> Any:
        """Read a task artefact written by ``save_json``."""
        return read_json(self.file(name))

    def append_metrics(self, row: Mapping[str, Any]) -> None:
        """Append one epoch's row to ``metrics.csv`` (header first if new), flushed and fsynced.

        Raises:
            ConfigError: the row's columns differ from the file's header.
        """
        if not self.writable:
            return
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
        if not self.writable:
            return
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
        if not self.writable:
            return self.metrics_json
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




# --------------------------------------------------------------------------- claim


def claim_run(run_dir: str | os.PathLike | RunDir, *, resume: bool, overwrite: bool,
              main: bool | None = None) -> RunDir:
    """Claim a run folder for a fresh run or a resumed one, before anything is written.

    Checks first and writes only once every check passed: a refused claim changes nothing
    in the folder. A fresh claim with ``overwrite=True`` removes the previous run's files
    (config, metrics, curves, checkpoints); task artefacts are left for the task to
    replace. Stale temp files of a killed process are removed.

    Args:
        run_dir: the folder (created with its parents when missing).
        resume: continue the run whose ``last.safetensors`` is in the folder.
        overwrite: start over in a folder that already holds a run.
        main: whether this process writes; None asks the training strategy (rank 0 of a
            data-parallel job writes, the other ranks get a read-only ``RunDir`` and do
            not check: rank 0 checks for the job).

    Returns:
        A ``RunDir`` with ``claimed`` set to "fresh" or "resume".

    Raises:
        ConfigError: ``resume`` and ``overwrite`` together; ``resume`` on a folder with no
            checkpoint; a fresh run in a folder that holds a run without ``overwrite``.

    Example:
        >>> run = claim_run("runs/x", resume=False, overwrite=False)  # doctest: +SKIP
        >>> run.claimed                                                # doctest: +SKIP
        'fresh'
    """
    path = Path(run_dir.path if isinstance(run_dir, RunDir) else run_dir)
    if main is None:
        from rnnlab.training.strategy import detect

        main = detect().is_main
    if not main:
        if resume and overwrite:
            check_claim(path, resume=resume, overwrite=overwrite)
        return RunDir(path, claimed="resume" if resume else "fresh", writable=False)
    check_claim(path, resume=resume, overwrite=overwrite)
    run = RunDir(path, claimed="resume" if resume else "fresh", writable=True)
    path.mkdir(parents=True, exist_ok=True)
    run.clean_temp_files()
    if not resume:
        for stale in run.run_files():
            stale.unlink()
    return run



def check_claim(run_dir: str | os.PathLike | RunDir, *, resume: bool, overwrite: bool
                ) -> RunDir:
    """The checks of :func:`claim_run`, writing nothing: refuse a folder that does not fit.

    Raises:
        ConfigError: ``resume`` and ``overwrite`` together; ``resume`` on a folder with no
            checkpoint; a fresh run in a folder that holds a run without ``overwrite``.
    """
    path = Path(run_dir.path if isinstance(run_dir, RunDir) else run_dir)
    if resume and overwrite:
        raise ConfigError(f"resume=True and overwrite=True contradict each other for {path}: "
                          "resume continues the run there, overwrite starts it over; pass one")
    run = RunDir(path)
    if resume and not run.last.exists():
        if run.exists():
            raise ConfigError(f"{path} has no {LAST} to resume from (the run stopped before "
                              "its first checkpoint); pass overwrite=True to start it over")
        raise ConfigError(f"{path} holds no run to resume; drop resume=True to start one there")
    if not resume and run.exists() and not overwrite:
        raise ConfigError(f"{path} already holds a run; pass resume=True to continue it or "
                          "overwrite=True to start over")
    return run


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
