"""Callbacks: hooks ``fit`` calls as it goes, and the progress displays the CLI attaches.

Progress is the caller's choice, not the loop's: ``fit`` only logs (at DEBUG) and calls
its callbacks. :class:`TqdmProgress` is what a command line wants: on a terminal a bar per
epoch, closed before the epoch's line is written so that a line never splits a bar;
elsewhere (a pipe, a log file) one plain line per epoch (:class:`EpochLines`), no bars.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from rnnlab.training.config import FitConfig


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

    def on_fit_end(self, history) -> None:
        """After the last epoch, early stop or ``max_steps``; ``history`` is the ``History``."""


class StepLog(Callback):
    """Keeps the training loss every ``every`` steps: a curve for runs of one long epoch.

    Attributes:
        rows: ``[{"step": s, "loss": value}, ...]``, in the order trained.
    """

    def __init__(self, every: int = 10):
        self.every, self.rows = max(1, int(every)), []

    def on_batch_end(self, step: int, loss: float, logs: Mapping[str, float]) -> None:
        if step % self.every == 0 or step == 1:
            self.rows.append({"step": step, "loss": loss})


def epoch_line(logs: Mapping[str, Any], epochs: int | None = None) -> str:
    """One epoch's row as a line: ``epoch 3/10: loss=0.4123 val_loss=0.4410 lr=0.001 (2.1 s)``."""
    total = f"/{epochs}" if epochs else ""
    shown = " ".join(f"{k}={v:.4g}" for k, v in logs.items()
                     if isinstance(v, float) and k != "seconds")
    seconds = logs.get("seconds")
    took = f" ({seconds:.1f} s)" if isinstance(seconds, float) else ""
    return f"epoch {logs.get('epoch', '?')}{total}: {shown}{took}"


def _isatty(file) -> bool:
    return bool(getattr(file, "isatty", lambda: False)())


class EpochLines(Callback):
    """One plain line per epoch (for a pipe or a log file): no bars, no carriage returns.

    Args:
        file: where to write (default: standard error at the time of writing).
    """

    def __init__(self, *, file=None):
        self.file = file
        self.epochs = None

    def on_fit_start(self, *, config, steps_per_epoch, epoch, step):
        self.epochs = config.epochs

    def on_epoch_end(self, epoch, logs):
        file = self.file if self.file is not None else sys.stderr
        file.write(epoch_line(logs, self.epochs) + "\n")
        file.flush()


class TqdmProgress(Callback):
    """A progress bar per epoch with ETA and the live loss and metrics, then the epoch's line.

    On a terminal the bar is closed before the epoch's line is written (``tqdm.write``),
    so a line never splits a bar. Off a terminal there are no bars: with the default
    ``file`` (standard error, as the CLI uses it) one plain line per epoch instead
    (:class:`EpochLines`); with a ``file`` given, nothing.

    Args:
        quiet: never show anything.
        file: where to draw; None: standard error.
    """

    def __init__(self, *, quiet: bool = False, file=None):
        self.file = file if file is not None else sys.stderr
        self.disable = quiet or not _isatty(self.file)
        self.lines = EpochLines(file=file) if self.disable and not quiet and file is None \
            else None
        self.epochs = 0
        self.bar = None

    def on_fit_start(self, *, config, steps_per_epoch, epoch, step):
        self.epochs = config.epochs
        if self.lines is not None:
            self.lines.on_fit_start(config=config, steps_per_epoch=steps_per_epoch,
                                    epoch=epoch, step=step)

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
        if self.lines is not None:
            self.lines.on_epoch_end(epoch, logs)
        if self.bar is None:
            return
        from tqdm import tqdm

        shown = {k: f"{v:.4f}" for k, v in logs.items()
                 if isinstance(v, float) and k not in ("lr", "seconds")}
        self.bar.set_postfix(shown, refresh=False)
        self.bar.close()
        self.bar = None
        if not self.disable:
            tqdm.write(epoch_line(logs, self.epochs), file=self.file)

    def on_fit_end(self, history):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
