"""Where the loop stands (``TrainState``, saved in every checkpoint) and what ``fit`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainState:
    """Everything about the loop's position that a checkpoint must carry to resume exactly.

    Attributes:
        step: optimizer steps taken in total.
        epoch: the epoch in progress, 0-based.
        batch: batches of that epoch already done.
        sums: running sums over the epoch of loss and metrics, each x batch size.
        count: examples seen in the epoch.
        rows: the finished epochs' rows.
        best, best_epoch, best_step: the best monitored value, and when it was reached.
        bad_epochs: epochs since the last improvement.
        stopped_early: patience ran out.
        seconds: wall seconds spent on the epoch in progress so far.
    """

    step: int = 0
    epoch: int = 0
    batch: int = 0
    sums: dict = field(default_factory=dict)
    count: int = 0
    rows: list = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    def add(self, n: int, loss: float, scores: dict[str, float]) -> None:
        """Count one optimizer step over ``n`` examples into the epoch's sums."""
        self.step += 1
        self.batch += 1
        self.count += n
        for name, value in {"loss": loss, **scores}.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * n

    def averages(self) -> dict[str, float]:
        """The epoch's running averages so far (loss and metrics)."""
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}

    def next_epoch(self, row: dict) -> None:
        """Close the epoch with its ``row`` and start the next one."""
        self.rows.append(row)
        self.epoch += 1
        self.batch, self.sums, self.count, self.seconds = 0, {}, 0, 0.0


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
