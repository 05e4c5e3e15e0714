"""``FitConfig``: how ``fit`` trains, as one frozen dataclass whose fields carry their flags.

Fields declared with :func:`rnnlab.config.option` appear on the command line (the CLI is
generated from this metadata); ``resumable=True`` marks values that may change when a run
is resumed (more epochs, another patience) without changing what was trained so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rnnlab.config import option
from rnnlab.errors import ConfigError, choice_error

OPTIMIZERS = ("adam", "rmsprop", "sgd")
SCHEDULES = ("none", "step", "cosine", "plateau")
CHECKPOINT_UNITS = ("epoch", "step")


@dataclass(frozen=True)
class FitConfig:
    """How to train: optimizer, schedule, batches, validation, stopping, checkpoints.

    Attributes:
        epochs: passes over the training data.
        batch_size: examples per optimizer step (the global batch over all processes).
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
        tensorboard: TensorBoard event files in ``RUN_DIR/tensorboard``; read by the task
            runner (``rnnlab.tasks.train_run``), which attaches
            :class:`~rnnlab.training.tensorboard.TensorBoardCallback`: ``fit`` ignores it.
    """

    epochs: int = option(10, help="passes over the training data", resumable=True)
    batch_size: int = option(32, help="examples per optimizer step (the global batch over "
                                      "all processes)")
    optimizer: str = option("adam", choices=OPTIMIZERS, help="the optimizer")
    lr: float = option(1e-3, help="learning rate")
    momentum: float = option(0.0, cli=False)
    weight_decay: float = option(0.0, cli=False)
    schedule: str = option("none", choices=SCHEDULES, help="learning-rate schedule")
    step_size: int = option(10, cli=False)
    gamma: float = option(0.1, cli=False)
    schedule_patience: int = option(2, cli=False)
    min_lr: float = option(0.0, cli=False)
    clip_grad_norm: float | None = option(None, metavar="X",
                                          help="clip the global gradient norm to X")
    max_steps: int | None = option(None, metavar="N", resumable=True,
                                   help="stop after N optimizer steps in total")
    val_split: float = option(0.0, cli=False)
    eval_batch_size: int | None = option(None, cli=False, resumable=True)
    monitor: str | None = option(None, cli=False)
    patience: int | None = option(None, metavar="N", resumable=True,
                                  help="stop after N epochs without validation improvement")
    min_delta: float = option(0.0, cli=False)
    restore_best: bool = option(True, cli=False)
    shuffle: bool = option(True, cli=False)
    group_by_length: bool = option(False, help="batches of similar lengths (inputs "
                                   "given with their lengths): fewer steps per batch")
    seed: int = option(0, cli=False)
    checkpoint_every: int = option(1, cli=False, resumable=True)
    checkpoint_unit: str = option("epoch", choices=CHECKPOINT_UNITS, cli=False, resumable=True)
    device: str = option("auto", cli=False, resumable=True)
    num_workers: int = option(0, cli=False, resumable=True)
    plot: bool = option(True, cli=False, resumable=True)
    tensorboard: bool = option(False, resumable=True,
                               help="also write TensorBoard event files into "
                                    "RUN_DIR/tensorboard (pip install \"rnnlab[tensorboard]\")")

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
