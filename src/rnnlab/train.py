"""A training loop that knows nothing about models: ``fit`` takes any ``nn.Module``.

The model returns outputs, ``loss_fn(outputs, targets)`` turns them into a loss, and
metrics are plain functions ``(outputs, targets) -> float``. A batch is
``(inputs, targets)``; ``inputs`` may be one tensor or a tuple of tensors (for example
``(tokens, lengths)``), which is unpacked into ``model(*inputs)``.

Reproducible and resumable: ``fit`` shuffles with its own ``torch.Generator`` seeded
from ``FitConfig.seed`` and reseeds torch's global RNG (dropout) at the start of a fresh
run, so two runs with one seed give identical metrics on CPU. A checkpoint records the
shuffling generator's state at the start of the current epoch and how many batches of
the epoch are done; ``resume=True`` redraws the same permutation, skips those batches
and restores every RNG, so a resumed run ends with the same metrics as an unbroken one.

Progress bars and printing are callbacks (``TqdmProgress``) that the CLI attaches;
``fit`` itself only logs.

Under a process group of two or more processes (torchrun, ``rnnlab ... --nproc N``; see
:mod:`rnnlab.distributed` and docs/distributed.md) ``fit`` is data-parallel: the model is
wrapped in ``DistributedDataParallel``, ``batch_size`` is the global batch, each rank
trains its slice of every global batch of the same permutation, metrics are summed over
ranks, and only rank 0 writes files and runs callbacks. With one process nothing changes.

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

import contextlib
import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from rnnlab import distributed
from rnnlab.checkpoint import NonFiniteError, fault_point, load_checkpoint, save_checkpoint
from rnnlab.config import option
from rnnlab.errors import CheckpointError, ConfigError, ShapeError, TrainingError, choice_error
from rnnlab.runs import RunDir
from rnnlab.runtime import resolve_device

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("none", "step", "cosine", "plateau")
CHECKPOINT_UNITS = ("epoch", "step")
_RESERVED = ("epoch", "step", "lr", "loss")
_ONE = distributed.Dist(rank=0, world_size=1, local_rank=0, backend="none")


@dataclass(frozen=True)
class FitConfig:
    """How to train: optimizer, schedule, batches, validation, stopping, checkpoints.

    Attributes:
        epochs: passes over the training data.
        batch_size: examples per optimizer step.
        optimizer: "adam", "rmsprop" or "sgd".
        lr: learning rate.
        momentum: for "sgd" and "rmsprop".
        weight_decay: L2 penalty added by the optimizer.
        schedule: "none", "step" (x gamma every step_size epochs), "cosine" (to min_lr over
            the epochs) or "plateau" (x gamma after schedule_patience epochs without
            improvement of the monitored value).
        step_size, gamma, schedule_patience, min_lr: the schedule's parameters.
        clip_grad_norm: clip the global gradient norm to this value; None does not clip.
        max_steps: stop after this many optimizer steps in total (a smoke test); None: no limit.
        val_split: fraction of the training data held out for validation, taken from its
            END, never shuffled in. 0 with no ``val_data``: no validation.
        eval_batch_size: batch size for validation; None: ``batch_size``.
        monitor: the row key that decides the best epoch ("val_loss", "val_accuracy",
            "loss", ...); None: "val_loss" when there is validation data, else no monitoring.
        patience: stop after this many epochs without improvement; None: never stop early.
        min_delta: the smallest change that counts as an improvement.
        restore_best: at the end of an early-stopped run, load the best epoch's weights.
        shuffle: reshuffle the training data every epoch.
        seed: seeds the shuffling generator and, for a fresh run, torch's global RNG.
        checkpoint_every: save ``last.safetensors`` every N units (only with a run folder).
        checkpoint_unit: "epoch" or "step".
        device: "auto", "cpu", "cuda" or "cuda:N".
        num_workers: DataLoader worker processes for ``Dataset`` inputs.
        plot: draw ``curves.png`` in the run folder at the end.
    """

    epochs: int = option(10, help="passes over the training data", resumable=True)
    batch_size: int = option(32, help="examples per optimizer step")
    optimizer: str = option("adam", choices=OPTIMIZERS, help="the optimizer")
    lr: float = option(1e-3, help="learning rate")
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = option("none", choices=SCHEDULES, help="learning-rate schedule")
    step_size: int = 10
    gamma: float = 0.1
    schedule_patience: int = 2
    min_lr: float = 0.0
    clip_grad_norm: float | None = option(None, metavar="X", help="clip the gradient norm to X")
    max_steps: int | None = option(None, resumable=True, cli=False,
                                   help="stop after N optimizer steps in all")
    val_split: float = 0.0
    eval_batch_size: int | None = None
    monitor: str | None = None
    patience: int | None = option(None, resumable=True,
                                  help="stop after N epochs without validation improvement")
    min_delta: float = 0.0
    restore_best: bool = True
    shuffle: bool = True
    seed: int = 0
    checkpoint_every: int = 1
    checkpoint_unit: str = "epoch"
    device: str = option("auto", resumable=True, cli=False, help="where to compute")
    num_workers: int = 0
    plot: bool = True

    def __post_init__(self):
        for name in ("epochs", "batch_size", "step_size", "checkpoint_every"):
            _check_int(name, getattr(self, name), 1)
        for name in ("max_steps", "eval_batch_size", "patience"):
            if getattr(self, name) is not None:
                _check_int(name, getattr(self, name), 1)
        _check_int("schedule_patience", self.schedule_patience, 0)
        _check_int("seed", self.seed, 0)
        _check_int("num_workers", self.num_workers, 0)
        if self.optimizer not in OPTIMIZERS:
            raise choice_error("optimizer", self.optimizer, OPTIMIZERS)
        if self.schedule not in SCHEDULES:
            raise choice_error("schedule", self.schedule, SCHEDULES)
        if self.checkpoint_unit not in CHECKPOINT_UNITS:
            raise choice_error("checkpoint_unit", self.checkpoint_unit, CHECKPOINT_UNITS)
        for name in ("lr", "momentum", "weight_decay", "min_lr", "min_delta"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name}={value!r} is not allowed; give a number >= 0")
        if self.lr <= 0:
            raise ConfigError(f"lr={self.lr!r} is not allowed; give a number > 0")
        if not 0 < self.gamma <= 1:
            raise ConfigError(f"gamma={self.gamma!r} is not allowed; give 0 < gamma <= 1")
        if not 0 <= self.val_split < 1:
            raise ConfigError(f"val_split={self.val_split!r} is not allowed; give 0 <= x < 1")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ConfigError(f"clip_grad_norm={self.clip_grad_norm!r} must be > 0 or None")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name}={value!r} is not allowed; give an integer >= {low}")


@dataclass
class History:
    """What ``fit`` returns: one row per epoch plus how training ended.

    ``history["val_loss"]`` gives one column as a list (None where a row lacks the key).
    """

    rows: list[dict] = field(default_factory=list)
    monitor: str | None = None
    best: float | None = None
    best_epoch: int | None = None
    step: int = 0
    stopped_early: bool = False

    def __getitem__(self, key: str) -> list:
        return [row.get(key) for row in self.rows]

    def summary(self) -> dict:
        """The content of ``metrics.json``."""
        return {
            "epochs": len(self.rows),
            "steps": self.step,
            "stopped_early": self.stopped_early,
            "monitor": self.monitor,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "final": self.rows[-1] if self.rows else {},
        }


# --------------------------------------------------------------------------- callbacks


class Callback:
    """Hooks ``fit`` calls as it goes; subclass and override the ones you need."""

    def on_fit_start(self, *, config: FitConfig, steps_per_epoch: int, epoch: int,
                     step: int) -> None:
        """Before the first batch; ``epoch``/``step`` are where a resumed run starts."""

    def on_epoch_start(self, epoch: int, *, num_batches: int, start_batch: int) -> None:
        """Before an epoch's first batch (``start_batch`` > 0 when resuming mid-epoch)."""

    def on_batch_end(self, step: int, loss: float, logs: Mapping[str, float]) -> None:
        """After each optimizer step; ``logs`` holds the epoch's running averages."""

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any]) -> None:
        """After validation, with the epoch's row (the one written to metrics.csv)."""

    def on_fit_end(self, history: History) -> None:
        """After the last epoch, early stop or ``max_steps``."""


class TqdmProgress(Callback):
    """A progress bar per epoch with ETA and the live loss and metrics.

    Args:
        quiet: never show a bar.
        file: where to draw (default stderr); no bar when it is not a terminal.
    """

    def __init__(self, *, quiet: bool = False, file=None):
        self.file = file if file is not None else sys.stderr
        isatty = getattr(self.file, "isatty", lambda: False)
        self.disable = quiet or not isatty()
        self.epochs = 0
        self.bar = None

    def on_fit_start(self, *, config, steps_per_epoch, epoch, step):
        self.epochs = config.epochs

    def on_epoch_start(self, epoch, *, num_batches, start_batch):
        from tqdm import tqdm

        self.bar = tqdm(total=num_batches, initial=start_batch, desc=f"epoch {epoch + 1}/"
                        f"{self.epochs}", unit="batch", file=self.file, disable=self.disable,
                        dynamic_ncols=True, leave=True)

    def on_batch_end(self, step, loss, logs):
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()}, refresh=False)

    def on_epoch_end(self, epoch, logs):
        if self.bar is not None:
            shown = {k: f"{v:.4f}" for k, v in logs.items()
                     if isinstance(v, float) and k != "lr"}
            self.bar.set_postfix(shown)
            self.bar.close()
            self.bar = None

    def on_fit_end(self, history):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max class equals the target.

    Args:
        outputs: (B, C) scores or logits.
        targets: (B,) class indices.
    """
    return (outputs.argmax(dim=-1) == targets).float().mean().item()


# --------------------------------------------------------------------------- data


class _TensorPairs(Dataset):
    """``(inputs, targets)`` tensors, indexed a whole batch at a time (no per-item collate)."""

    def __init__(self, inputs, targets):
        parts = list(inputs) if isinstance(inputs, tuple | list) else [inputs]
        for t in [*parts, targets]:
            if not isinstance(t, torch.Tensor):
                raise ConfigError(f"training data must hold tensors, got {type(t).__name__}")
        n = len(targets)
        for i, t in enumerate(parts):
            if t.dim() == 0 or len(t) != n:
                raise ShapeError(f"inputs[{i}] has shape {tuple(t.shape)} but the targets "
                                 f"have {n} rows; every tensor needs the same first dimension")
        self.inputs, self.targets, self.n = inputs, targets, n

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        if isinstance(self.inputs, tuple | list):
            return tuple(t[idx] for t in self.inputs), self.targets[idx]
        return self.inputs[idx], self.targets[idx]

    def rows(self, start: int, stop: int) -> _TensorPairs:
        inputs = (tuple(t[start:stop] for t in self.inputs)
                  if isinstance(self.inputs, tuple | list) else self.inputs[start:stop])
        return _TensorPairs(inputs, self.targets[start:stop])


def _as_dataset(data, name: str) -> Dataset:
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        return _TensorPairs(*data.tensors)
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        return _TensorPairs(*data)
    raise ConfigError(f"{name} must be a torch Dataset or an (inputs, targets) pair of tensors, "
                      f"got {type(data).__name__}")


def _split(data: Dataset, fraction: float) -> tuple[Dataset, Dataset]:
    """The last ``fraction`` of the rows become validation (in order, never shuffled)."""
    n = len(data)
    n_val = int(n * fraction)
    if n_val == 0 or n_val == n:
        raise ConfigError(f"val_split={fraction} of {n} examples leaves {n_val} for validation "
                          f"and {n - n_val} for training; both need at least one")
    if isinstance(data, _TensorPairs):
        return data.rows(0, n - n_val), data.rows(n - n_val, n)
    return Subset(data, range(n - n_val)), Subset(data, range(n - n_val, n))


def _batches(data: Dataset, order: torch.Tensor, batch_size: int, *, start: int = 0,
             num_workers: int = 0, seed: int = 0) -> Iterator:
    chunks = list(order.split(batch_size))[start:]
    return _load(data, chunks, num_workers=num_workers, seed=seed)


def _load(data: Dataset, chunks: list[torch.Tensor], *, num_workers: int = 0,
          seed: int = 0) -> Iterator:
    """One batch per chunk of example indices."""
    if isinstance(data, _TensorPairs) and num_workers == 0:
        return (data[idx] for idx in chunks)
    if isinstance(data, _TensorPairs):
        return iter(DataLoader(data, sampler=chunks, batch_size=None, num_workers=num_workers,
                               generator=torch.Generator().manual_seed(seed)))
    # The loader draws its workers' base seed from this generator, not from torch's global
    # RNG, so creating it never shifts the dropout stream (that would break exact resume).
    return iter(DataLoader(data, batch_sampler=[c.tolist() for c in chunks],
                           num_workers=num_workers,
                           generator=torch.Generator().manual_seed(seed)))


def _to(x, device: torch.device):
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, tuple | list):
        return type(x)(_to(v, device) for v in x)
    return x


def _forward(model: nn.Module, inputs):
    return model(*inputs) if isinstance(inputs, tuple | list) else model(inputs)


def _batch_len(targets) -> int:
    return len(targets[0]) if isinstance(targets, tuple | list) else len(targets)


def _metric_fns(metrics) -> dict[str, Callable]:
    if metrics is None:
        return {}
    fns = dict(metrics) if isinstance(metrics, Mapping) else {f.__name__: f for f in metrics}
    for name in fns:
        if name in _RESERVED or name.startswith("val_"):
            raise ConfigError(f"metric name {name!r} is reserved; rename it")
    return fns


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
    """
    data = _as_dataset(data, "data")
    fns = _metric_fns(metrics)
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    device = torch.device(device)
    was_training = model.training
    model.eval()
    sums = dict.fromkeys(([*(["loss"] if loss_fn else []), *fns]), 0.0)
    count = 0
    try:
        for inputs, targets in _batches(data, torch.arange(len(data)), batch_size):
            inputs, targets = _to(inputs, device), _to(targets, device)
            outputs = _forward(model, inputs)
            n = _batch_len(targets)
            if loss_fn is not None:
                sums["loss"] += float(loss_fn(outputs, targets)) * n
            for name, fn in fns.items():
                sums[name] += float(fn(outputs, targets)) * n
            count += n
    finally:
        model.train(was_training)
    return {k: v / max(count, 1) for k, v in sums.items()}


# --------------------------------------------------------------------------- optimisation


def make_optimizer(model: nn.Module, config: FitConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, over the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable parameters")
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum,
                                   weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def _make_scheduler(optimizer, config: FitConfig, mode: str):
    s = torch.optim.lr_scheduler
    if config.schedule == "step":
        return s.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        return s.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.min_lr)
    if config.schedule == "plateau":
        return s.ReduceLROnPlateau(optimizer, mode=mode, factor=config.gamma,
                                   patience=config.schedule_patience, min_lr=config.min_lr)
    return None


def _monitor(config: FitConfig, fns: Mapping, has_val: bool) -> tuple[str | None, str]:
    allowed = ["loss", *fns] + (["val_loss", *(f"val_{k}" for k in fns)] if has_val else [])
    monitor = config.monitor or ("val_loss" if has_val else None)
    if monitor is None and (config.patience is not None or config.schedule == "plateau"):
        monitor = "loss"
    if monitor is not None and monitor not in allowed:
        raise choice_error("monitor", monitor, allowed)
    mode = "min" if monitor is None or monitor.endswith("loss") else "max"
    return monitor, mode


# --------------------------------------------------------------------------- fit


@dataclass
class _State:
    """Everything about the loop's position that a checkpoint must carry to resume exactly."""

    step: int = 0
    epoch: int = 0  # the epoch in progress, 0-based
    batch: int = 0  # batches of that epoch already done
    sums: dict = field(default_factory=dict)  # running sums over the epoch, x batch size
    count: int = 0
    rows: list = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False


def fit(
    model: nn.Module,
    train_data,
    *,
    loss_fn: Callable,
    config: FitConfig,
    val_data=None,
    metrics: Mapping[str, Callable] | Sequence[Callable] | None = None,
    callbacks: Iterable[Callback] = (),
    run_dir: str | Path | None = None,
    resume: bool = False,
    run_config: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> History:
    """Train ``model`` on ``train_data``; optionally keep a run folder and resume from it.

    Args:
        model: any ``nn.Module``; it returns outputs, not a loss.
        train_data: a Dataset of ``(inputs, targets)`` or an ``(inputs, targets)`` pair;
            inputs may be a tuple of tensors (``((tokens, lengths), labels)``).
        loss_fn: ``(outputs, targets) -> scalar loss`` (mean over the batch).
        config: the ``FitConfig``.
        val_data: an explicit validation set (instead of ``config.val_split``).
        metrics: functions ``(outputs, targets) -> float`` by name, e.g. ``{"accuracy": accuracy}``;
            the training value is the epoch's average over its batches as trained (dropout
            on), as Keras reports it; ``val_<name>`` is measured in eval mode.
        callbacks: ``Callback`` objects (progress bars, custom evaluation).
        run_dir: the run folder (config.json, metrics.csv/json, curves.png, checkpoints).
        resume: continue from ``run_dir/last.safetensors`` (from scratch if there is none).
        run_config: the caller's config (task, model, data) saved in config.json beside
            ``"fit"``, and in every checkpoint.
        overwrite: allow a fresh run in a folder that already holds a checkpoint.

    Under a process group of 2+ processes every rank calls ``fit`` with the same arguments;
    ``config.batch_size`` is then the global batch (it must divide by the world size) and
    ``eval_batch_size`` a per-process one; callbacks run on rank 0 only.

    Returns:
        The ``History``. After an early stop with ``restore_best`` the model holds the best
        epoch's weights.

    Raises:
        TrainingError: the loss (or a weight) became NaN or Inf; names epoch and step. The
            last checkpoint is left as it was.
        ConfigError: inconsistent arguments (unknown monitor, val_split with val_data, ...).
        TrainingError: under a process group, another process died or stayed silent past
            the timeout (the last checkpoint is kept).
    """
    if not isinstance(config, FitConfig):
        raise ConfigError(f"config must be a FitConfig, got {type(config).__name__}")
    # Under a process group of 2+ (torchrun, --nproc) this is data-parallel; with one
    # process it is None and everything below runs exactly as it always has.
    group = distributed.current()
    main = group is None or group.is_main
    device = resolve_device(config.device)
    if group is not None:
        device = group.device(device)
        group.per_rank_batch(config.batch_size)  # the global batch must split evenly
    fns = _metric_fns(metrics)
    train = _as_dataset(train_data, "train_data")
    if val_data is not None and config.val_split > 0:
        raise ConfigError("give val_data or config.val_split, not both")
    val = _as_dataset(val_data, "val_data") if val_data is not None else None
    if config.val_split > 0:
        train, val = _split(train, config.val_split)
    if len(train) == 0:
        raise ConfigError("train_data is empty")
    monitor, mode = _monitor(config, fns, val is not None)

    model.to(device)
    if group is not None and device.type == "cuda":
        # Batch norm normalises over the global batch, as one process would. CUDA only:
        # PyTorch's SyncBatchNorm has no CPU path (docs/distributed.md).
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    optimizer = make_optimizer(model, config)
    scheduler = _make_scheduler(optimizer, config, mode)
    shuffle_gen = torch.Generator().manual_seed(config.seed)
    saved_config = {**dict(run_config or {}), "fit": asdict(config)}
    if group is not None:
        saved_config["distributed"] = group.describe(config.batch_size)
        if main:
            logger.info("data-parallel over %d processes (%s): global batch %d = %d per "
                        "process", group.world_size, group.backend, config.batch_size,
                        group.per_rank_batch(config.batch_size))
    state, best_weights, resumed = _State(), None, False
    run = RunDir(run_dir) if run_dir is not None else None
    if run is not None and main:
        run.create()  # only rank 0 ever creates or writes files
    if run is None and resume:
        raise ConfigError("resume=True needs a run_dir to resume from")
    setup_error = None
    try:
        if run is not None:
            if main:
                run.clean_temp_files()
            if resume and run.last.exists():
                state, best_weights = _resume(run, model, optimizer, scheduler, shuffle_gen,
                                              device, config, monitor, write=main)
                resumed = True
                if main:  # settings that may change on resume (epochs, ...) are recorded
                    run.save_config(saved_config)
            else:
                if run.last.exists() and not overwrite:
                    raise ConfigError(f"{run.path} already holds a run ({run.last.name}); pass "
                                      "resume=True to continue it, overwrite=True, or a new "
                                      "folder")
                if resume and main:
                    logger.warning("no checkpoint in %s; starting from scratch", run.path)
                if main:
                    for stale in (run.best, run.last, run.metrics_csv, run.metrics_json):
                        stale.unlink(missing_ok=True)
                    run.save_config(saved_config)
    except Exception as e:
        if group is None:
            raise
        setup_error = e
    if group is not None:
        with _peer_errors(group, run):
            _agree_on_setup(group, setup_error, resumed, run)
    if not resumed:
        # A fresh run: dropout masks repeat with the seed (and differ between ranks).
        torch.manual_seed(config.seed if group is None else config.seed + 1_000_003 * group.rank)
    elif group is not None and group.rank > 0:
        # Every rank restored rank 0's RNG; the others need their own dropout stream.
        torch.manual_seed(config.seed + 1_000_003 * group.rank + state.step)

    def save_last(epoch_start_rng: torch.Tensor) -> None:
        tensors = {"shuffle_rng": epoch_start_rng}
        if best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in best_weights.items()})
        extra = {"state": asdict(state), "monitor": monitor,
                 "scheduler": scheduler.state_dict() if scheduler is not None else None}
        _save(run.last, model, optimizer, state, saved_config, extra=extra, tensors=tensors)

    n = len(train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    eval_bs = config.eval_batch_size or config.batch_size
    if not main:
        callbacks = ()  # progress bars and custom hooks run on rank 0 only
    for cb in callbacks:
        cb.on_fit_start(config=config, steps_per_epoch=steps_per_epoch, epoch=state.epoch,
                        step=state.step)
    done = state.stopped_early or (config.max_steps is not None
                                   and state.step >= config.max_steps)
    with _peer_errors(group, run):
        net = model if group is None else group.wrap(model, device)
        while not done and state.epoch < config.epochs:
            epoch_start_rng = shuffle_gen.get_state()
            order = torch.randperm(n, generator=shuffle_gen) if config.shuffle \
                else torch.arange(n)
            for cb in callbacks:
                cb.on_epoch_start(state.epoch, num_batches=steps_per_epoch,
                                  start_batch=state.batch)
            net.train()
            if group is None:
                batches = _batches(train, order, config.batch_size, start=state.batch,
                                   num_workers=config.num_workers,
                                   seed=config.seed + state.epoch)
                weights = None
            else:
                # Each rank its own slice of every global batch of the shared permutation.
                plan = [group.shard(c) for c in order.split(config.batch_size)][state.batch:]
                batches = _load(train, [rows for rows, _ in plan],
                                num_workers=config.num_workers, seed=config.seed + state.epoch)
                weights = [w for _, w in plan]
            for i, (inputs, targets) in enumerate(batches):
                inputs, targets = _to(inputs, device), _to(targets, device)
                optimizer.zero_grad(set_to_none=True)
                outputs = _forward(net, inputs)
                loss = loss_fn(outputs, targets)
                if weights is None:
                    value, b, step_scores = loss.item(), _batch_len(targets), None
                else:
                    value, b, step_scores = _reduce_step(group, loss, outputs, targets, fns,
                                                         weights[i])
                    if weights[i] != 1.0:
                        loss = loss * weights[i]
                if not math.isfinite(value):
                    kept = f"; the last checkpoint {run.last} is kept" \
                        if run and run.last.exists() else ""
                    where = "" if group is None else \
                        f" (on at least one of {group.world_size} processes)"
                    raise TrainingError(f"loss is {value} at epoch {state.epoch + 1}, step "
                                        f"{state.step + 1}{where}; training stopped{kept}")
                loss.backward()
                if config.clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                optimizer.step()
                state.step += 1
                state.batch += 1
                state.count += b
                state.sums["loss"] = state.sums.get("loss", 0.0) + value * b
                outputs = outputs.detach()
                for name, fn in fns.items():
                    score = float(fn(outputs, targets)) if step_scores is None \
                        else step_scores[name]
                    state.sums[name] = state.sums.get(name, 0.0) + score * b
                if callbacks:
                    logs = {k: v / state.count for k, v in state.sums.items()}
                    for cb in callbacks:
                        cb.on_batch_end(state.step, value, logs)
                fault_point("step", state.step)
                if run and config.checkpoint_unit == "step" and \
                        state.step % config.checkpoint_every == 0:
                    _write(group, save_last, epoch_start_rng)
                if config.max_steps is not None and state.step >= config.max_steps:
                    done = True
                    break

            # ---- end of epoch (or of a run cut short by max_steps)
            row = {"epoch": state.epoch + 1, "step": state.step}
            row.update({k: v / max(state.count, 1) for k, v in state.sums.items()})
            if val is not None:
                if group is None:
                    scores = evaluate(model, val, loss_fn=loss_fn, metrics=fns,
                                      batch_size=eval_bs, device=device)
                else:
                    scores = _evaluate_shard(group, model, val, loss_fn, fns, eval_bs, device)
                row.update({f"val_{k}": v for k, v in scores.items()})
            row["lr"] = optimizer.param_groups[0]["lr"]
            improved = False
            if monitor is not None:
                value = row[monitor]
                improved = state.best is None or (value < state.best - config.min_delta
                                                  if mode == "min"
                                                  else value > state.best + config.min_delta)
                if improved:
                    state.best, state.best_epoch = value, row["epoch"]
                    state.best_step = state.step
                    state.bad_epochs = 0
                    best_weights = {k: v.detach().to("cpu", copy=True)
                                    for k, v in model.state_dict().items()}
                else:
                    state.bad_epochs += 1
                if config.patience is not None and state.bad_epochs >= config.patience:
                    state.stopped_early = done = True
                    if main:
                        logger.info("early stop after epoch %d: %s has not improved for %d "
                                    "epochs", row["epoch"], monitor, config.patience)
            if scheduler is not None:
                with warnings.catch_warnings():
                    # A run resumed at an epoch's last batch steps the schedule before this
                    # process has called optimizer.step(); torch warns, wrongly here.
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler")
                    if config.schedule == "plateau":
                        scheduler.step(row[monitor])
                    else:
                        scheduler.step()
            state.rows.append(row)
            state.epoch += 1
            state.batch, state.sums, state.count = 0, {}, 0
            if main:
                logger.info("epoch %d: %s", row["epoch"], ", ".join(
                    f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)))
            for cb in callbacks:
                cb.on_epoch_end(row["epoch"] - 1, row)
            if run is not None:
                last_epoch = done or state.epoch >= config.epochs
                save = last_epoch or (config.checkpoint_unit == "epoch"
                                      and state.epoch % config.checkpoint_every == 0)
                _write(group, _end_epoch, run, row, improved, save, model, state,
                       saved_config, monitor, save_last, shuffle_gen)

    history = History(rows=state.rows, monitor=monitor, best=state.best,
                      best_epoch=state.best_epoch, step=state.step,
                      stopped_early=state.stopped_early)
    if state.stopped_early and config.restore_best and best_weights is not None:
        model.load_state_dict(best_weights)
    if run is not None and main:
        run.save_metrics(history.summary())
        if config.plot:
            _plot(state.rows, run.curves)
    for cb in callbacks:
        cb.on_fit_end(history)
    return history


def _end_epoch(run: RunDir, row, improved, save, model, state, saved_config, monitor,
               save_last, shuffle_gen) -> None:
    """The files an epoch's end writes: its metrics row, the best and last checkpoints."""
    run.append_metrics(row)
    if improved:
        _save(run.best, model, None, state, saved_config, rng=False,
              extra={"monitor": monitor, "best": state.best})
    if save:
        save_last(shuffle_gen.get_state())


# --------------------------------------------------------------------------- several processes


def _write(group, fn: Callable, *args) -> None:
    """Run a file-writing step; under a group only rank 0 writes and all ranks learn if it
    failed (a NaN weight refused by the checkpoint), so that every rank stops together."""
    if group is None:
        fn(*args)
        return
    error = None
    if group.is_main:
        try:
            fn(*args)
        except Exception as e:  # a full disk too: the others must not wait for a timeout
            error = e
    if not group.all_ok(error is None):
        raise error or TrainingError("process 0 could not write the run folder; see its "
                                     "message. Training stopped.")


def _agree_on_setup(group, error, resumed: bool, run) -> None:
    failed, resuming = group.all_sum([error is not None, resumed])
    if error is not None:
        raise error
    if failed:
        raise TrainingError(f"{int(failed)} other process(es) failed while setting up the "
                            "run; see their message. Training stopped.")
    if resuming not in (0, group.world_size):
        raise CheckpointError(f"only {int(resuming)} of {group.world_size} processes found "
                              f"{run.last} to resume from; every process must see the run "
                              "folder (a shared filesystem)")


@contextlib.contextmanager
def _peer_errors(group, run):
    """Turn a failed collective (a peer died or went silent) into a TrainingError."""
    if group is None:
        yield
        return
    try:
        yield
    except Exception as e:
        if not distributed.is_comm_error(e):
            raise
        kept = f"; the last checkpoint {run.last} is kept" if run and run.last.exists() else ""
        raise distributed.peer_error(group, e, kept) from e


def _reduce_step(group, loss, outputs, targets, fns, weight: float):
    """The global batch's mean loss, example count and metrics, in one collective.

    Returns:
        ``(loss, examples, {metric: value})``; the loss is NaN when any rank's was not finite.
    """
    value = loss.item()
    n = _batch_len(targets) if weight else 0
    bad = not math.isfinite(value)
    detached = outputs.detach()
    local = [0.0 if bad else value * n]
    local += [float(fn(detached, targets)) * n if n else 0.0 for fn in fns.values()]
    total = group.all_sum([*local, float(n), float(bad)])
    count = round(total[-2])
    scores = {name: total[1 + i] / count for i, name in enumerate(fns)}
    return (math.nan if total[-1] else total[0] / count), count, scores


def _evaluate_shard(group, model, val, loss_fn, fns, batch_size, device) -> dict[str, float]:
    """Validation split into contiguous slices, one per rank, averaged over all examples."""
    start, stop = group.val_range(len(val))
    part = {}
    if stop > start:
        piece = val.rows(start, stop) if isinstance(val, _TensorPairs) \
            else Subset(val, range(start, stop))
        part = evaluate(model, piece, loss_fn=loss_fn, metrics=fns, batch_size=batch_size,
                        device=device)
    keys = ["loss", *fns]
    total = group.all_sum([part.get(k, 0.0) * (stop - start) for k in keys] + [stop - start])
    return {k: total[i] / total[-1] for i, k in enumerate(keys)}


def _save(path, model, optimizer, state: _State, config, **kwargs) -> None:
    try:
        save_checkpoint(path, model, optimizer, step=state.step, epoch=state.epoch,
                        config=config, **kwargs)
    except NonFiniteError as e:
        raise TrainingError(f"a weight became NaN or Inf by epoch {state.epoch + 1}, step "
                            f"{state.step}; training stopped and {path} was not "
                            f"overwritten ({e})") from e


def _resume(run: RunDir, model, optimizer, scheduler, shuffle_gen, device, config, monitor,
            *, write: bool = True):
    """Load ``last.safetensors`` into model, optimizer, schedule and RNGs; return the state.

    ``write=False`` (ranks other than 0) only reads: no file is repaired or rewritten.
    """
    ckpt = load_checkpoint(run.last, model, optimizer, map_location=device)
    extra = ckpt.extra
    if "state" not in extra or "shuffle_rng" not in ckpt.tensors:
        raise CheckpointError(f"{run.last} was not written by rnnlab.train.fit; cannot resume")
    saved_fit = ckpt.config.get("fit", {})
    changed = {k: (saved_fit.get(k), v) for k, v in asdict(config).items()
               if k not in ("epochs", "max_steps", "device", "num_workers", "plot")
               and saved_fit.get(k) != v}
    if changed and write:
        logger.warning("resuming %s with changed settings %s; metrics will differ from an "
                       "unbroken run", run.path, changed)
    try:
        state = _State(**extra["state"])
    except TypeError as e:
        raise CheckpointError(f"{run.last} holds a training state this rnnlab cannot read: "
                              f"{e}") from e
    ckpt.restore_rng()
    shuffle_gen.set_state(ckpt.tensors["shuffle_rng"])
    if scheduler is not None and extra.get("scheduler") is not None:
        scheduler.load_state_dict(extra["scheduler"])
    best = {k[5:]: v.cpu() for k, v in ckpt.tensors.items() if k.startswith("best.")} or None
    if not write:
        return state, best
    # The CSV may hold rows the checkpoint does not know (killed after appending).
    run.write_metrics(state.rows)
    if best is not None and monitor is not None and state.best_step is not None:
        _repair_best(run, best, state, ckpt.config, monitor)
    logger.info("resumed %s at epoch %d, batch %d, step %d", run.path, state.epoch + 1,
                state.batch, state.step)
    saved_world = ckpt.config.get("distributed", {}).get("world_size", 1)
    world = (distributed.current() or _ONE).world_size
    if saved_world != world:
        logger.info("the checkpoint was written by %d process(es), resuming with %d; the "
                    "global batch and sample order are unchanged", saved_world, world)
    return state, best


def _repair_best(run: RunDir, best: dict, state: _State, config, monitor) -> None:
    """Make best.safetensors match the checkpoint's best epoch (a kill can split them)."""
    try:
        on_disk = load_checkpoint(run.best).step if run.best.exists() else None
    except CheckpointError:
        on_disk = None
    if on_disk != state.best_step:
        save_checkpoint(run.best, best, step=state.best_step, epoch=state.best_epoch,
                        config=config, extra={"monitor": monitor, "best": state.best},
                        rng=False)


def _plot(rows, path) -> None:
    from rnnlab.plots import plot_learning_curves

    try:
        plot_learning_curves(rows, path)
    except (OSError, ValueError, RuntimeError) as e:  # a missing picture must not fail a run
        logger.warning("could not draw %s: %s", path, e)
