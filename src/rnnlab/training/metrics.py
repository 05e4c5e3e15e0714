"""Metrics: plain functions ``(outputs, targets) -> float``, and how ``fit`` names them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

from rnnlab.errors import ConfigError

RESERVED = ("epoch", "step", "lr", "loss", "seconds")

Metric = Callable[[torch.Tensor, torch.Tensor], float]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose arg-max class equals the target.

    Args:
        outputs: (B, C) scores or logits.
        targets: (B,) class indices.

    Example:
        >>> accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]))
        0.5
    """
    return (outputs.argmax(dim=-1) == targets).float().mean().item()


def metric_fns(metrics: Mapping[str, Metric] | Sequence[Metric] | None) -> dict[str, Metric]:
    """The metrics by name (a list is named by each function's ``__name__``).

    Raises:
        ConfigError: a name that a row already uses ("loss", "lr", "val_...", ...).
    """
    if metrics is None:
        return {}
    fns = dict(metrics) if isinstance(metrics, Mapping) else {f.__name__: f for f in metrics}
    for name in fns:
        if name in RESERVED or name.startswith("val_"):
            raise ConfigError(f"metric name {name!r} is reserved; rename it")
    return fns
