"""How ``fit`` spreads work over processes: ``SingleProcess`` or ``DataParallel``.

``fit`` calls the same methods on either and never asks which it has. Everything that
differs between one process and a torch.distributed group lives here: which device a
rank uses, how the batches of a permutation are sharded, the all-reduce of each step's
sums, validation shards, agreement on setup errors, wrapping the model in
``DistributedDataParallel``, and the one decision of who writes files (``is_main``).

Under a group of 2+ processes (torchrun, ``rnnlab ... --nproc N``; see
:mod:`rnnlab.training.distributed` and docs/distributed.md) ``FitConfig.batch_size`` is
the GLOBAL batch; each rank trains its slice of every global batch of the same seeded
permutation, step sums are added over ranks so every rank sees the same epoch row,
validation is split into contiguous slices, and only rank 0 writes and runs callbacks.

Example:
    >>> strategy = detect()          # SingleProcess outside a launcher
    >>> strategy.is_main, strategy.world_size
    (True, 1)
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from rnnlab.errors import CheckpointError, TrainingError
from rnnlab.training import distributed
from rnnlab.training.data import TensorPairs, batch_len, batches, load_batches

logger = logging.getLogger(__name__)
T = TypeVar("T")


class SingleProcess:
    """Train in this process only: the plain loop, nothing shared, this process writes."""

    is_main = True
    rank = 0
    world_size = 1

    def device(self, requested: torch.device) -> torch.device:
        """The compute device for ``requested``."""
        return requested

    def check_batch(self, batch_size: int) -> None:
        """Raise ConfigError when ``batch_size`` cannot be used (any size can here)."""

    def prepare(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model to optimise (layers converted for several processes, if needed)."""
        return model

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The module the batches run through."""
        return model

    def describe(self, batch_size: int) -> dict | None:
        """What config.json records about the processes; None for one process."""
        return None

    def seed(self, seed: int, *, resumed: bool, step: int) -> None:
        """Seed torch's RNG (dropout) for a fresh run; a resumed run restored its own."""
        if not resumed:
            torch.manual_seed(seed)

    def batches(self, data: Dataset, order: torch.Tensor, batch_size: int, *, start: int,
                num_workers: int, seed: int) -> Iterator[tuple[Any, float]]:
        """``(batch, loss weight)`` for each batch of ``order`` from batch ``start``."""
        for batch in batches(data, order, batch_size, start=start, num_workers=num_workers,
                             seed=seed):
            yield batch, 1.0

    def reduce_step(self, loss: torch.Tensor, outputs: torch.Tensor, targets,
                    fns: Mapping[str, Callable], weight: float) -> tuple[float, int, dict]:
        """The step's mean loss, its examples and metric values (over all processes)."""
        outputs = outputs.detach()
        return (loss.item(), batch_len(targets),
                {name: float(fn(outputs, targets)) for name, fn in fns.items()})

    def evaluate(self, model: nn.Module, data: Dataset, evaluate: Callable[..., dict],
                 keys: Sequence[str]) -> dict[str, float]:
        """``evaluate(model, data)`` over the whole validation set."""
        return evaluate(model, data)

    def setup(self, fn: Callable[[], T]) -> T:
        """Run the setup ``fn`` (claim, resume); with one process errors simply raise."""
        return fn()

    def check_resumed(self, resumed: bool, checkpoint: Path | None) -> None:
        """Raise when some processes resumed and others did not (never with one)."""

    def write(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a file-writing step where files are written (here: always)."""
        fn(*args)

    @contextlib.contextmanager
    def guard(self, kept: Callable[[], str]) -> Iterator[None]:
        """Turn a lost peer into a TrainingError (nothing to lose with one process)."""
        yield

    def where(self) -> str:
        """Appended to a NaN message: on which processes the loss went bad."""
        return ""


class DataParallel(SingleProcess):
    """Data parallelism over a torch.distributed group of two or more processes.

    Args:
        group: the live group (:func:`rnnlab.training.distributed.current`).
    """

    def __init__(self, group: distributed.Dist):
        self.group = group

    is_main = property(lambda self: self.group.is_main)
    rank = property(lambda self: self.group.rank)
    world_size = property(lambda self: self.group.world_size)

    def device(self, requested):
        return self.group.device(requested)

    def check_batch(self, batch_size):
        self.group.per_rank_batch(batch_size)  # the global batch must split evenly

    def prepare(self, model, device):
        if device.type == "cuda":
            # Batch norm normalises over the global batch, as one process would. CUDA only:
            # PyTorch's SyncBatchNorm has no CPU path (docs/distributed.md).
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return model

    def wrap(self, model, device):
        return self.group.wrap(model, device)

    def describe(self, batch_size):
        if self.is_main:
            logger.info("data-parallel over %d processes (%s): global batch %d = %d per "
                        "process", self.world_size, self.group.backend, batch_size,
                        self.group.per_rank_batch(batch_size))
        return self.group.describe(batch_size)

    def seed(self, seed, *, resumed, step):
        if not resumed:  # dropout masks repeat with the seed and differ between ranks
            torch.manual_seed(seed + 1_000_003 * self.rank)
        elif self.rank > 0:
            # Every rank restored rank 0's RNG; the others need their own dropout stream.
            torch.manual_seed(seed + 1_000_003 * self.rank + step)

    def batches(self, data, order, batch_size, *, start, num_workers, seed):
        # Each rank its own slice of every global batch of the shared permutation.
        plan = [self.group.shard(c) for c in order.split(batch_size)][start:]
        loaded = load_batches(data, [rows for rows, _ in plan], num_workers=num_workers,
                              seed=seed)
        yield from zip(loaded, [w for _, w in plan], strict=True)

    def reduce_step(self, loss, outputs, targets, fns, weight):
        """One collective: the global batch's mean loss (NaN when any rank's was not
        finite), its example count and metrics."""
        value = loss.item()
        n = batch_len(targets) if weight else 0
        bad = not math.isfinite(value)
        detached = outputs.detach()
        local = [0.0 if bad else value * n]
        local += [float(fn(detached, targets)) * n if n else 0.0 for fn in fns.values()]
        total = self.group.all_sum([*local, float(n), float(bad)])
        count = round(total[-2])
        scores = {name: total[1 + i] / count for i, name in enumerate(fns)}
        return (math.nan if total[-1] else total[0] / count), count, scores

    def evaluate(self, model, data, evaluate, keys):
        """Validation split into contiguous slices, one per rank, averaged over all rows."""
        start, stop = self.group.val_range(len(data))
        part = {}
        if stop > start:
            piece = data.rows(start, stop) if isinstance(data, TensorPairs) \
                else Subset(data, range(start, stop))
            part = evaluate(model, piece)
        total = self.group.all_sum([part.get(k, 0.0) * (stop - start) for k in keys]
                                   + [stop - start])
        return {k: total[i] / total[-1] for i, k in enumerate(keys)}

    def setup(self, fn):
        error, result = None, None
        try:
            result = fn()
        except Exception as e:  # the others must learn of it, not wait for a timeout
            error = e
        failed = self.group.all_sum([error is not None])[0]
        if error is not None:
            raise error
        if failed:
            raise TrainingError(f"{int(failed)} other process(es) failed while setting up the "
                                "run; see their message. Training stopped.")
        return result

    def check_resumed(self, resumed, checkpoint):
        resuming = self.group.all_sum([resumed])[0]
        if resuming not in (0, self.world_size):
            raise CheckpointError(f"only {int(resuming)} of {self.world_size} processes found "
                                  f"{checkpoint} to resume from; every process must see the "
                                  "run folder (a shared filesystem)")

    def write(self, fn, *args):
        """Rank 0 writes; every rank learns whether it failed (a NaN weight refused by the
        checkpoint, a full disk), so that all stop together."""
        error = None
        if self.is_main:
            try:
                fn(*args)
            except Exception as e:
                error = e
        if not self.group.all_ok(error is None):
            raise error or TrainingError("process 0 could not write the run folder; see its "
                                         "message. Training stopped.")

    @contextlib.contextmanager
    def guard(self, kept):
        """Also: a Python warning is shown once per job, by rank 0, not once per process
        (every rank runs the same code and would warn the same)."""
        try:
            with warnings.catch_warnings():
                if not self.is_main:
                    warnings.simplefilter("ignore")
                yield
        except Exception as e:
            if not distributed.is_comm_error(e):
                raise
            raise distributed.peer_error(self.group, e, kept()) from e

    def where(self):
        return f" (on at least one of {self.world_size} processes)"


def detect() -> SingleProcess:
    """``DataParallel`` under a process group of 2+ processes, else ``SingleProcess``."""
    group = distributed.current()
    return SingleProcess() if group is None else DataParallel(group)
