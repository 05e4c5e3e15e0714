"""The operations on run folders, one place for all tasks: train, load, evaluate, predict.

:func:`train_run` is the only way a task trains into a folder: it builds the config
(defaults, or the saved run's on resume, plus the values the user typed), claims the folder
before anything is written, and hands the claimed folder to the task. ``evaluate_run``,
``predict_run`` and ``load_run`` read ``config.json``'s ``"task"`` and dispatch to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnlab._fs import atomic_write_bytes
from rnnlab.errors import ConfigError, RnnlabError
from rnnlab.tasks.base import (
    Task,
    TrainResult,
    apply_overrides,
    get_task,
    parts,
    resume_conflicts,
)
from rnnlab.training.runfolder import RunDir, check_claim

logger = logging.getLogger(__name__)

Overrides = Mapping[str, Mapping[str, Any]]


def resolve_config(task: Task, overrides: Overrides, run: RunDir | None = None) -> Any:
    """The config to train with: the task's defaults (or ``run``'s saved settings) + overrides.

    Raises:
        ConfigError: on resume, a typed value that differs from the run's and may not change
            (the message names the field and both values; the CLI names the flag).
    """
    if run is None:
        return apply_overrides(task.default_config(overrides), overrides)
    saved = task.config_from_saved(run.load_config(), where=str(run.config))
    for part, name, old, new in resume_conflicts(saved, overrides):
        raise ConfigError(f"{name}={new!r} differs from the run's {name}={old!r} "
                          f"({part} settings cannot change on resume=True; start a new run "
                          "folder to change them)")
    return apply_overrides(saved, overrides)


#: Files the task layer writes around fit's (run.json, review.json) and what is made of a
#: finished run (report, model card, TensorBoard events, `rnnlab export`'s default
#: files): removed on overwrite.
AROUND_FIT = ("run.json", "review.json", "evaluations.json", "report.html",
              "model.onnx", "model.onnx.json", "model.pt2", "model.pt2.json")
TENSORBOARD = "tensorboard"
CARD = "README.md"

FinishHook = Callable[[RunDir], None]
_FINISH_HOOKS: list[FinishHook] = []


def add_finish_hook(hook: FinishHook) -> None:
    """Call ``hook(run)`` once a run's training ended (any status), after ``run.json``.

    Upper layers register what they make of a run (``rnnlab.report`` the HTML report and
    the model card); a hook that fails is logged, never raised: training already ended.
    """
    if hook not in _FINISH_HOOKS:
        _FINISH_HOOKS.append(hook)


def _finished(run: RunDir) -> None:
    if not run.writable or not run.path.is_dir():
        return
    for hook in _FINISH_HOOKS:
        try:
            hook(run)
        except Exception as e:  # the run is trained; a report that fails must not undo it
            logger.warning("after training %s: %s failed: %s", run.path,
                           getattr(hook, "__name__", hook), e)


@contextlib.contextmanager
def claimed(run_dir: str | os.PathLike, *, resume: bool, overwrite: bool,
            command: Sequence[str] | None = None) -> Iterator[RunDir]:
    """The claimed run folder for the body; a folder this made is removed if it fails early.

    The claim (``rnnlab.training.claim_run``) creates the folder, or with ``overwrite``
    removes the previous run's files; every task's artefacts go too, so nothing stray of
    another job stays. If the body fails before the first checkpoint (bad data, say) in
    a folder that did not exist before, the folder is removed again: a failed command
    leaves nothing behind.

    After the claim (never for a refused command) ``run.json`` records the run's status:
    running, then finished, interrupted (Ctrl-C) or failed, with the ``command`` and the
    session's seconds and peak memory; the finish hooks (:func:`add_finish_hook`) run last.
    """
    from rnnlab.tasks.review import RunLog
    from rnnlab.training import claim_run

    check_claim(run_dir, resume=resume, overwrite=overwrite)
    existed = Path(run_dir).exists()
    run = claim_run(run_dir, resume=resume, overwrite=overwrite)
    if overwrite and run.writable:
        clear_artefacts(run)
    log = RunLog(run, command)
    before = _untouched(run)
    log.write("running")
    try:
        yield run
    except BaseException as e:
        if not existed and run.path.is_dir() and not run.last.exists():
            shutil.rmtree(run.path, ignore_errors=True)
        elif isinstance(e, RnnlabError) and _untouched(run)[1] == before[1]:
            before[0]()  # refused inside the task (a --resume conflict): nothing changes
        else:
            log.write("interrupted" if isinstance(e, KeyboardInterrupt) else "failed")
            _finished(run)
        raise
    log.write("finished")
    _finished(run)


def _untouched(run: RunDir) -> tuple[Callable[[], None], int | None]:
    """``(restore run.json as it is now, the last checkpoint's mtime)``: a command that
    trained nothing before its error leaves the folder as it found it."""
    path = run.file("run.json")
    old = path.read_bytes() if path.is_file() else None

    def restore() -> None:
        if not run.writable:
            return
        if old is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write_bytes(path, old)

    return restore, (run.last.stat().st_mtime_ns if run.last.exists() else None)


def clear_artefacts(run: RunDir) -> None:
    """Remove every task's artefacts from a folder that is being overwritten."""
    from rnnlab.tasks.base import all_tasks
    from rnnlab.tasks.review import CARD_MARKER

    for name in {a for t in all_tasks() for a in t.artefacts} | set(AROUND_FIT):
        run.file(name).unlink(missing_ok=True)
    card = run.file(CARD)
    if card.is_file() and card.read_text(errors="replace").startswith(CARD_MARKER):
        card.unlink()  # a README.md of the user's own stays
    shutil.rmtree(run.file(TENSORBOARD), ignore_errors=True)


def train_run(task_name: str, config: Any | None, run_dir: str | os.PathLike, *,
              overrides: Overrides | None = None, resume: bool = False,
              overwrite: bool = False, callbacks: Iterable[Any] = (),
              command: Sequence[str] | None = None) -> TrainResult:
    """Train a task into a run folder.

    Args:
        task_name: a registered task ("classify", "text", "forecast", ...).
        config: the task's full config; None builds it from defaults (or, with ``resume``,
            from the run's saved config) and ``overrides``.
        run_dir: the run folder.
        overrides: ``{part: {field: value}}`` typed by the user (the CLI's flags).
        resume: continue the run in ``run_dir`` with its saved settings.
        overwrite: start over in a folder that holds a run.
        callbacks: ``fit`` callbacks (progress bars).
        command: the command line that asked for the run, kept in ``run.json``.

    Returns:
        The task's ``TrainResult``.
    """
    task = get_task(task_name)
    if resume and RunDir(run_dir).config.is_file():
        reason = task.refuse_resume(RunDir(run_dir).load_config())
        if reason:
            raise ConfigError(f"{run_dir} cannot be resumed: {reason}")
    existing = check_claim(run_dir, resume=resume, overwrite=overwrite)  # before any write
    if resume:
        found = existing.load_config().get("task")
        if found not in (task.name, *task.aliases):
            raise ConfigError(f"{existing.path} holds a {found!r} run, not a {task.name!r} "
                              f"one; resume it with 'rnnlab train {found} --resume'")
    if config is None:
        config = resolve_config(task, overrides or {}, existing if resume else None)
    elif overrides:
        config = apply_overrides(config, overrides)
    board = _tensorboard(config, run_dir)  # a missing package: refused before the claim
    try:
        with claimed(run_dir, resume=resume, overwrite=overwrite, command=command) as run:
            return task.train(config, run, resume=resume, callbacks=(*callbacks, *board))
    finally:
        for callback in board:  # fit's end closes it; an error inside fit does not
            callback.close()


def _tensorboard(config: Any, run_dir: str | os.PathLike) -> tuple:
    """The TensorBoard callback when ``config.fit.tensorboard`` asks for one (else none)."""
    if not getattr(getattr(config, "fit", None), "tensorboard", False):
        return ()
    from rnnlab.training.tensorboard import TensorBoardCallback

    return (TensorBoardCallback(run_dir),)


def task_of_run(run_dir: str | os.PathLike) -> tuple[Task, RunDir]:
    """The task that wrote ``run_dir`` and the folder."""
    run = RunDir(run_dir)
    name = run.load_config().get("task")
    if not isinstance(name, str):
        raise ConfigError(f"{run.config} has no \"task\" key, so rnnlab cannot tell how to "
                          "rebuild the model; pass build_model=...")
    return get_task(name), run


def load_run(run_dir: str | os.PathLike, build_model: Callable[[dict], Any] | None = None, *,
             device: Any = "cpu", weights: str = "best"):
    """Give back the trained model of a run folder, ready to predict.

    Args:
        run_dir: the folder a training command wrote.
        build_model: optional ``config -> nn.Module``; without it the task named by
            ``config.json``'s ``"task"`` rebuilds the model with its preprocessing.
        device: where to put the model (a name or ``torch.device``).
        weights: "best" (falls back to "last" when no best checkpoint exists) or "last".

    Returns:
        With ``build_model``: the model with its weights, in eval mode. Without: what the
        task's ``load`` returns (a predictor bundling the model with its tokenizer or scaler).

    Example:
        >>> predictor = load_run("runs/digits")                         # doctest: +SKIP
        >>> predictor.predict(images)                                   # doctest: +SKIP
    """
    from rnnlab.training.runfolder import load_weights
    from rnnlab.training.runtime import resolve_device

    device = resolve_device(device)
    if build_model is not None:
        run = RunDir(run_dir)
        model = build_model(run.load_config())
        load_weights(run, model, which=weights, device=device)
        return model
    task, run = task_of_run(run_dir)
    return task.load(run, device=device, weights=weights)


def evaluate_run(run_dir: str | Path, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
    """Scores of a run's model (see each task's ``evaluate``)."""
    from rnnlab.training.runtime import resolve_device

    task, run = task_of_run(run_dir)
    return task.evaluate(run, data=_own_names(task, data), split=split, weights=weights,
                         device=resolve_device(device))


def _own_names(task: Task, data: Mapping[str, Any] | None) -> dict:
    """The data settings in the task's own field names; another task's are refused."""
    import dataclasses

    data = {task.data_aliases.get(k, k): v for k, v in (data or {}).items()}
    part = dict(parts(task.config_type)).get("data")
    known = {f.name for f in dataclasses.fields(part)} if part else set()
    for name in data:
        if name not in known:
            raise ConfigError(f"{name}={data[name]!r} is not a setting of {task.name} runs "
                              f"(their data settings: 'rnnlab train {task.name} --help')")
    return data


def predict_run(run_dir: str | Path, *, inputs: Mapping[str, Any], weights: str = "best",
                device: Any = "cpu") -> list[dict]:
    """One dict per example from a run's model (see each task's ``predict``)."""
    from rnnlab.training.runtime import resolve_device

    task, run = task_of_run(run_dir)
    if inputs.get("data"):
        inputs = {**inputs, "data": _own_names(task, inputs["data"])}
    return task.predict(run, inputs=inputs, weights=weights, device=resolve_device(device))
