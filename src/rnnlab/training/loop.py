"""The training loop: ``fit`` runs epochs of batches, measures them and calls callbacks.

``fit`` knows nothing about models: it takes any ``nn.Module``, which returns outputs;
``loss_fn(outputs, targets)`` turns them into a loss, and metrics are plain functions
``(outputs, targets) -> float``. What is not the loop is a component it calls: the
strategy (one process or data-parallel, :mod:`rnnlab.training.strategy`), the run
folder's writer (:mod:`rnnlab.training.checkpoints`), callbacks and fault points.

Reproducible and resumable: ``fit`` shuffles with its own ``torch.Generator`` seeded from
``FitConfig.seed`` and reseeds torch's global RNG (dropout) at the start of a fresh run,
so two runs with one seed give identical metrics on CPU; ``resume=True`` continues
exactly where ``last.safetensors`` left off.

Example:
    >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    >>> history = fit(model, (x, y), loss_fn=nn.functional.cross_entropy,
    ...               config=FitConfig(epochs=2, batch_size=16, val_split=0.25, device="cpu"),
    ...               metrics={"accuracy": accuracy})
    >>> sorted(history.rows[-1])
    ['accuracy', 'epoch', 'loss', 'lr', 'step', 'val_accuracy', 'val_loss']
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from rnnlab.errors import ConfigError, TrainingError
from rnnlab.training import faults
from rnnlab.training.callbacks import Callback
from rnnlab.training.checkpoints import Checkpoints
from rnnlab.training.config import FitConfig
from rnnlab.training.data import (
    as_dataset,
    batch_len,
    batches,
    forward,
    group_by_length,
    lengths_of,
    split_tail,
    to_device,
)
from rnnlab.training.metrics import accuracy, metric_fns  # noqa: F401 (accuracy: the doctest)
from rnnlab.training.optim import is_better, make_optimizer, make_scheduler, resolve_monitor
from rnnlab.training.runfolder import RunDir, claim_run
from rnnlab.training.runtime import resolve_device
from rnnlab.training.state import History
from rnnlab.training.strategy import SingleProcess, detect

logger = logging.getLogger(__name__)


def fit(
    model: nn.Module,
    train_data,
    *,
    loss_fn: Callable,
    config: FitConfig,
    val_data=None,
    metrics: Mapping[str, Callable] | Sequence[Callable] | None = None,
    callbacks: Iterable[Callback] = (),
    run_dir: str | Path | RunDir | None = None,
    resume: bool | None = None,
    run_config: Mapping[str, Any] | None = None,
    overwrite: bool | None = None,
    strategy: SingleProcess | None = None,
) -> History:
    """Train ``model`` on ``train_data``; optionally keep a run folder and resume from it.

    Args:
        model: any ``nn.Module``; it returns outputs, not a loss.
        train_data: a Dataset of ``(inputs, targets)`` or an ``(inputs, targets)`` pair;
            inputs may be a tuple of tensors (``((tokens, lengths), labels)``), (N, ...).
        loss_fn: ``(outputs, targets) -> scalar loss`` (mean over the batch).
        config: the ``FitConfig``.
        val_data: an explicit validation set (instead of ``config.val_split``).
        metrics: functions ``(outputs, targets) -> float`` by name, e.g. ``{"accuracy": accuracy}``;
            the training value is the epoch's average over its batches as trained (dropout
            on), as Keras reports it; ``val_<name>`` is measured in eval mode.
        callbacks: ``Callback`` objects (progress bars, custom evaluation); rank 0 only.
        run_dir: the run folder (config.json, metrics.csv/json, curves.png, checkpoints):
            a path, claimed here after every argument was checked, or a ``RunDir`` that
            :func:`~rnnlab.training.runfolder.claim_run` already claimed.
        resume: continue from ``run_dir/last.safetensors``; None: False for a path, the
            claim's for a claimed ``RunDir``.
        run_config: the caller's config (task, model, data) saved in config.json beside
            ``"fit"``, and in every checkpoint.
        overwrite: allow a fresh run in a folder that already holds one.
        strategy: ``SingleProcess()`` or ``DataParallel(group)``; None: the one the live
            process group calls for (:func:`rnnlab.training.strategy.detect`).

    Returns:
        The ``History`` (its rows are metrics.csv's without the wall ``seconds`` column,
        so that two runs with one seed give equal rows). After an early stop
        with ``restore_best`` the model holds the best epoch's weights.

    Raises:
        ConfigError: inconsistent arguments (unknown monitor, val_split with val_data, a
            run folder refused by its claim, ...); nothing is written then.
        TrainingError: the loss (or a weight) became NaN or Inf (names epoch and step; the
            last checkpoint is kept), or another process died or stayed silent.
    """
    strategy = strategy or detect()
    s = _prepare(model, train_data, val_data, loss_fn, config, metrics, run_dir, resume,
                 overwrite, run_config, strategy)
    model, optimizer, scheduler, fns, ckpt = s.model, s.optimizer, s.scheduler, s.fns, s.ckpt
    with strategy.guard(ckpt.kept):
        state, resumed = strategy.setup(lambda: _start(s, strategy))
        strategy.check_resumed(resumed, ckpt.run.last if ckpt.run else None)
        strategy.seed(config.seed, resumed=resumed, step=state.step)
        callbacks = tuple(callbacks) if strategy.is_main else ()  # rank 0 only
        n, steps_per_epoch = len(s.train), math.ceil(len(s.train) / config.batch_size)
        for cb in callbacks:
            cb.on_fit_start(config=config, steps_per_epoch=steps_per_epoch, epoch=state.epoch,
                            step=state.step)
        done = state.stopped_early or _out_of_steps(config, state.step)
        net, start_step = strategy.wrap(model, s.device), state.step
        while not done and state.epoch < config.epochs:
            epoch_start_rng = s.shuffle_gen.get_state()
            started = time.perf_counter() - state.seconds  # a resumed epoch keeps its time
            order = _epoch_order(s, config, n)
            for cb in callbacks:
                cb.on_epoch_start(state.epoch, num_batches=steps_per_epoch,
                                  start_batch=state.batch)
            net.train()
            for (inputs, targets), weight in strategy.batches(
                    s.train, order, config.batch_size, start=state.batch,
                    num_workers=config.num_workers, seed=config.seed + state.epoch):
                inputs, targets = to_device(inputs, s.device), to_device(targets, s.device)
                optimizer.zero_grad(set_to_none=True)
                outputs = forward(net, inputs)
                loss = loss_fn(outputs, targets)
                value, b, scores = strategy.reduce_step(loss, outputs, targets, fns, weight)
                if not math.isfinite(value):
                    raise TrainingError(f"loss is {value} at epoch {state.epoch + 1}, step "
                                        f"{state.step + 1}{strategy.where()}; training "
                                        f"stopped{ckpt.kept()}")
                (loss * weight if weight != 1.0 else loss).backward()
                if config.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                optimizer.step()
                state.add(b, value, scores)
                state.seconds = time.perf_counter() - started
                for cb in callbacks:
                    cb.on_batch_end(state.step, value, state.averages())
                faults.point("step", state.step)
                ckpt.after_step(state, epoch_start_rng)
                if _out_of_steps(config, state.step):
                    done = True
                    break

            row = {"epoch": state.epoch + 1, "step": state.step, **state.averages()}
            if s.val is not None:
                scores = strategy.evaluate(model, s.val, s.evaluate, ["loss", *fns])
                row.update({f"val_{k}": v for k, v in scores.items()})
            row["lr"] = optimizer.param_groups[0]["lr"]
            improved = _track_best(s, state, row, ckpt)
            _step_schedule(scheduler, config, row, s.monitor, quiet=state.step == start_step)
            row["seconds"] = round(time.perf_counter() - started, 3)
            state.next_epoch(row)
            done = done or state.stopped_early
            logger.debug("epoch %d: %s", row["epoch"], row)
            for cb in callbacks:
                cb.on_epoch_end(row["epoch"] - 1, row)
            if state.stopped_early and strategy.is_main:
                logger.info("early stop after epoch %d: %s has not improved for %d epochs",
                            row["epoch"], s.monitor, config.patience)
            ckpt.after_epoch(state, row, improved=improved,
                             last=done or state.epoch >= config.epochs)

    # The wall seconds stay in metrics.csv (and the callbacks' rows): two runs never share them.
    rows = [{k: v for k, v in row.items() if k != "seconds"} for row in state.rows]
    history = History(rows=rows, monitor=s.monitor, best=state.best,
                      best_epoch=state.best_epoch, step=state.step,
                      stopped_early=state.stopped_early)
    if state.stopped_early and config.restore_best and ckpt.best_weights is not None:
        model.load_state_dict(ckpt.best_weights)
    ckpt.finish(history, _plot if config.plot else None)
    for cb in callbacks:
        cb.on_fit_end(history)
    return history


def _epoch_order(s, config: FitConfig, n: int) -> torch.Tensor:
    """This epoch's example order: shuffled, and grouped by length when asked and known."""
    order = torch.randperm(n, generator=s.shuffle_gen) if config.shuffle else torch.arange(n)
    lengths = lengths_of(s.train) if config.group_by_length else None
    if lengths is not None:
        order = group_by_length(order, lengths, config.batch_size, generator=s.shuffle_gen)
    return order


# --------------------------------------------------------------------------- setup


@dataclass
class _Setup:
    """What ``fit`` builds before its first batch."""

    model: nn.Module
    train: Dataset
    val: Dataset | None
    fns: dict
    monitor: str | None
    mode: str
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: Any
    shuffle_gen: torch.Generator
    ckpt: Checkpoints
    evaluate: Callable[[nn.Module, Dataset], dict]
    run_dir: Any
    resume: bool
    overwrite: bool


def _prepare(model, train_data, val_data, loss_fn, config, metrics, run_dir, resume,
             overwrite, run_config, strategy) -> _Setup:
    """Check every argument and build what the loop needs; writes nothing."""
    if not isinstance(config, FitConfig):
        raise ConfigError(f"config must be a FitConfig, got {type(config).__name__}")
    device = strategy.device(resolve_device(config.device))
    strategy.check_batch(config.batch_size)
    fns = metric_fns(metrics)
    train = as_dataset(train_data, "train_data")
    if val_data is not None and config.val_split > 0:
        raise ConfigError("give val_data or config.val_split, not both")
    val = as_dataset(val_data, "val_data") if val_data is not None else None
    if config.val_split > 0:
        train, val = split_tail(train, config.val_split)
    if len(train) == 0:
        raise ConfigError("train_data is empty")
    monitor, mode = resolve_monitor(config, fns, val is not None)
    resume, overwrite = _run_flags(run_dir, resume, overwrite)
    model.to(device)
    model = strategy.prepare(model, device)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, mode)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    saved_config = {**dict(run_config or {}), "fit": asdict(config)}
    described = strategy.describe(config.batch_size)
    if described is not None:
        saved_config["distributed"] = described
    claimed = run_dir if isinstance(run_dir, RunDir) and run_dir.claimed else None
    ckpt = Checkpoints(claimed, strategy, model=model, optimizer=optimizer, scheduler=scheduler,
                       shuffle_gen=shuffle_gen, config=config, saved_config=saved_config,
                       monitor=monitor)
    eval_bs = config.eval_batch_size or config.batch_size

    def evaluate_part(net, data):
        return evaluate(net, data, loss_fn=loss_fn, metrics=fns, batch_size=eval_bs,
                        device=device)

    return _Setup(model, train, val, fns, monitor, mode, device, optimizer, scheduler,
                  shuffle_gen, ckpt, evaluate_part, run_dir, resume, overwrite)


def _run_flags(run_dir, resume: bool | None, overwrite: bool | None) -> tuple[bool, bool]:
    """``resume`` and ``overwrite`` for this run folder (a claimed one has its own)."""
    if run_dir is None:
        if resume:
            raise ConfigError("resume=True needs a run_dir to resume from")
        return False, bool(overwrite)
    if isinstance(run_dir, RunDir) and run_dir.claimed:
        claimed = run_dir.claimed == "resume"
        if resume is not None and resume != claimed:
            raise ConfigError(f"{run_dir.path} was claimed with resume={claimed}; "
                              f"fit(resume={resume}) contradicts it")
        return claimed, False
    return bool(resume), bool(overwrite)


def _start(s: _Setup, strategy):
    """Claim a run folder given as a path (a claimed ``RunDir`` is used as it is), then
    start the run fresh or from its checkpoint: ``(state, resumed)``."""
    if s.run_dir is not None and s.ckpt.run is None:
        s.ckpt.run = claim_run(s.run_dir, resume=s.resume, overwrite=s.overwrite,
                               main=strategy.is_main)
    return s.ckpt.start(s.device)


def _out_of_steps(config: FitConfig, step: int) -> bool:
    return config.max_steps is not None and step >= config.max_steps


def _track_best(s: _Setup, state, row: dict, ckpt: Checkpoints) -> bool:
    """Update the best epoch and the patience count; True when this epoch improved."""
    if s.monitor is None:
        return False
    config = ckpt.config
    improved = is_better(row[s.monitor], state.best, s.mode, config.min_delta)
    if improved:
        state.best, state.best_epoch, state.best_step = row[s.monitor], row["epoch"], state.step
        state.bad_epochs = 0
        ckpt.keep_best(state)
    else:
        state.bad_epochs += 1
    if config.patience is not None and state.bad_epochs >= config.patience:
        state.stopped_early = True
    return improved


def _step_schedule(scheduler, config: FitConfig, row: dict, monitor, *, quiet: bool) -> None:
    """Step the schedule once per epoch (plateau: on the monitored value)."""
    if scheduler is None:
        return
    args = (row[monitor],) if config.schedule == "plateau" else ()
    if not quiet:
        scheduler.step(*args)
        return
    with warnings.catch_warnings():
        # Resumed at an epoch's last batch, this process steps the schedule before any
        # optimizer.step(); torch warns, wrongly here. Only then: catch_warnings resets
        # Python's once-per-place registry, so entered every epoch it would repeat every
        # warning of the loop once per epoch.
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler")
        scheduler.step(*args)


def _plot(rows, path) -> None:
    from rnnlab.plots import plot_learning_curves

    try:
        plot_learning_curves(rows, path)
    except (OSError, ValueError, RuntimeError) as e:  # a missing picture must not fail a run
        logger.warning("could not draw %s: %s", path, e)


# --------------------------------------------------------------------------- evaluate


@torch.no_grad()
def evaluate(model: nn.Module, data, *, loss_fn: Callable | None = None,
             metrics: Mapping[str, Callable] | Sequence[Callable] | None = None,
             batch_size: int = 256, device: str | torch.device | None = None) -> dict[str, float]:
    """Average loss and metrics of ``model`` over ``data``, in eval mode, without gradients.

    Args:
        model: any module; called as ``model(inputs)`` or ``model(*inputs)``.
        data: a Dataset of ``(inputs, targets)`` or an ``(inputs, targets)`` pair of tensors.
        loss_fn: ``(outputs, targets) -> loss``; None leaves "loss" out.
        metrics: functions ``(outputs, targets) -> float``, by name or as a list.
        batch_size: examples per forward pass.
        device: where batches go; None: the device of the model's first parameter.

    Returns:
        ``{"loss": ..., "<metric>": ...}``, each averaged over examples.

    Example:
        >>> model = nn.Linear(4, 3)
        >>> sorted(evaluate(model, (torch.randn(8, 4), torch.randint(0, 3, (8,))),
        ...                 loss_fn=nn.functional.cross_entropy, metrics=[accuracy]))
        ['accuracy', 'loss']
    """
    data = as_dataset(data, "data")
    fns = metric_fns(metrics)
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(([*(["loss"] if loss_fn else []), *fns]), 0.0)
    count = 0
    try:
        for inputs, targets in batches(data, torch.arange(len(data)), batch_size):
            inputs, targets = to_device(inputs, device), to_device(targets, device)
            outputs = forward(model, inputs)
            n = batch_len(targets)
            if loss_fn is not None:
                sums["loss"] += float(loss_fn(outputs, targets)) * n
            for name, fn in fns.items():
                sums[name] += float(fn(outputs, targets)) * n
            count += n
    finally:
        model.train(was_training)
    return {k: v / max(count, 1) for k, v in sums.items()}
