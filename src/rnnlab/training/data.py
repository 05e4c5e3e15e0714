"""Batches for ``fit``: ``(inputs, targets)`` data, validation splits and seeded batch order.

A batch is ``(inputs, targets)``; ``inputs`` may be one tensor or a tuple of tensors (for
example ``(tokens, lengths)``), which is unpacked into ``model(*inputs)``.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from rnnlab.errors import ConfigError, ShapeError


class TensorPairs(Dataset):
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

    def rows(self, start: int, stop: int) -> TensorPairs:
        inputs = (tuple(t[start:stop] for t in self.inputs)
                  if isinstance(self.inputs, tuple | list) else self.inputs[start:stop])
        return TensorPairs(inputs, self.targets[start:stop])


def as_dataset(data, name: str) -> Dataset:
    """``data`` as a Dataset: an ``(inputs, targets)`` pair becomes a ``TensorPairs``."""
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        return TensorPairs(*data.tensors)
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        return TensorPairs(*data)
    raise ConfigError(f"{name} must be a torch Dataset or an (inputs, targets) pair of tensors, "
                      f"got {type(data).__name__}")


def split_tail(data: Dataset, fraction: float) -> tuple[Dataset, Dataset]:
    """The last ``fraction`` of the rows become validation (in order, never shuffled)."""
    n = len(data)
    n_val = int(n * fraction)
    if n_val == 0 or n_val == n:
        raise ConfigError(f"val_split={fraction} of {n} examples leaves {n_val} for validation "
                          f"and {n - n_val} for training; both need at least one")
    if isinstance(data, TensorPairs):
        return data.rows(0, n - n_val), data.rows(n - n_val, n)
    return Subset(data, range(n - n_val)), Subset(data, range(n - n_val, n))


def lengths_of(data: Dataset) -> torch.Tensor | None:
    """The per-example lengths when the inputs are ``(x, lengths)`` tensors, else None."""
    inputs = getattr(data, "inputs", None)
    if isinstance(inputs, tuple | list) and len(inputs) >= 2:
        last = inputs[-1]
        if last.dim() == 1 and not last.is_floating_point():
            return last
    return None


def group_by_length(order: torch.Tensor, lengths: torch.Tensor, batch_size: int, *,
                    generator: torch.Generator, pool: int = 50) -> torch.Tensor:
    """``order`` rearranged so that each batch holds examples of similar lengths.

    The order is cut into pools of ``pool`` batches, each pool sorted by length and cut into
    batches, and the batches shuffled: a batch's sequences then end close together, so the
    kernels run fewer steps, and which examples share a batch still changes every epoch.

    Args:
        order: a permutation of the N examples (N,).
        lengths: (N,) each example's length.
        batch_size: examples per batch.
        generator: for the batches' order (the fit's shuffling generator).
        pool: batches per sorted pool.

    Returns:
        A permutation (N,) to cut into batches of ``batch_size``.
    """
    groups = []
    for chunk in order.split(batch_size * pool):
        ranked = chunk[torch.argsort(lengths[chunk], stable=True)]
        groups += list(ranked.split(batch_size))
    shuffled = torch.randperm(len(groups), generator=generator)
    return torch.cat([groups[i] for i in shuffled]) if groups else order


def batches(data: Dataset, order: torch.Tensor, batch_size: int, *, start: int = 0,
            num_workers: int = 0, seed: int = 0) -> Iterator:
    """The batches of ``order`` (example indices) in chunks of ``batch_size``, from ``start``."""
    chunks = list(order.split(batch_size))[start:]
    return load_batches(data, chunks, num_workers=num_workers, seed=seed)


def load_batches(data: Dataset, chunks: list[torch.Tensor], *, num_workers: int = 0,
                 seed: int = 0) -> Iterator:
    """One batch per chunk of example indices."""
    if isinstance(data, TensorPairs) and num_workers == 0:
        return (data[idx] for idx in chunks)
    if isinstance(data, TensorPairs):
        return iter(DataLoader(data, sampler=chunks, batch_size=None, num_workers=num_workers,
                               generator=torch.Generator().manual_seed(seed)))
    # The loader draws its workers' base seed from this generator, not from torch's global
    # RNG, so creating it never shifts the dropout stream (that would break exact resume).
    return iter(DataLoader(data, batch_sampler=[c.tolist() for c in chunks],
                           num_workers=num_workers,
                           generator=torch.Generator().manual_seed(seed)))


def to_device(x, device: torch.device):
    """Tensors (nested in tuples and lists) moved to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, tuple | list):
        return type(x)(to_device(v, device) for v in x)
    return x


def forward(model: nn.Module, inputs):
    """``model(*inputs)`` for a tuple of inputs, else ``model(inputs)``."""
    return model(*inputs) if isinstance(inputs, tuple | list) else model(inputs)


def batch_len(targets) -> int:
    """Examples in a batch (targets may be a tuple of tensors)."""
    return len(targets[0]) if isinstance(targets, tuple | list) else len(targets)
