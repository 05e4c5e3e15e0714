"""The optimizer, the learning-rate schedule and the monitored value that ``FitConfig`` names."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from rnnlab.errors import ConfigError, choice_error
from rnnlab.training.config import FitConfig


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


def make_scheduler(optimizer: torch.optim.Optimizer, config: FitConfig, mode: str):
    """The epoch-wise schedule ``config.schedule`` names; None for "none"."""
    s = torch.optim.lr_scheduler
    if config.schedule == "step":
        return s.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.schedule == "cosine":
        return s.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.min_lr)
    if config.schedule == "plateau":
        return s.ReduceLROnPlateau(optimizer, mode=mode, factor=config.gamma,
                                   patience=config.schedule_patience, min_lr=config.min_lr)
    return None


def resolve_monitor(config: FitConfig, fns: Mapping, has_val: bool) -> tuple[str | None, str]:
    """The row key that decides the best epoch, and "min" or "max".

    Raises:
        ConfigError: ``config.monitor`` names no key the rows will have.
    """
    allowed = ["loss", *fns] + (["val_loss", *(f"val_{k}" for k in fns)] if has_val else [])
    monitor = config.monitor or ("val_loss" if has_val else None)
    if monitor is None and (config.patience is not None or config.schedule == "plateau"):
        monitor = "loss"
    if monitor is not None and monitor not in allowed:
        raise choice_error("monitor", monitor, allowed)
    mode = "min" if monitor is None or monitor.endswith("loss") else "max"
    return monitor, mode


def is_better(value: float, best: float | None, mode: str, min_delta: float) -> bool:
    """Whether ``value`` improves on ``best`` by more than ``min_delta``."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta
