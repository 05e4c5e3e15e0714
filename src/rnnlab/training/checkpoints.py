"""Checkpoints and resume: the one component that writes a run folder while ``fit`` runs.

:class:`Checkpoints` starts a run (``config.json`` for a fresh one; for a resumed one it
loads ``last.safetensors`` into the model, optimizer, schedule and every RNG, and puts
``metrics.csv`` and ``best.safetensors`` back in step with it), then writes each epoch's
metrics row, ``best.safetensors`` when the monitored value improves, ``last.safetensors``
every ``checkpoint_every`` epochs or steps, and ``metrics.json`` and ``curves.png`` at
the end. Every checkpoint goes through one writer (:meth:`Checkpoints._save`), and every
write through the strategy, so only rank 0 writes and all ranks learn if it failed.

``last.safetensors`` records the shuffling generator's state at the start of the current
epoch and how many batches of it are done, so a resumed run redraws the same permutation,
skips those batches and ends with the same metrics as an unbroken one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from typing import Any

import torch
from torch import nn

from rnnlab.config import option_of
from rnnlab.errors import CheckpointError, TrainingError
from rnnlab.training.checkpoint_file import NonFiniteError, load_checkpoint, save_checkpoint
from rnnlab.training.config import FitConfig
from rnnlab.training.runfolder import RunDir
from rnnlab.training.state import History, TrainState

logger = logging.getLogger(__name__)

_RESUMABLE = tuple(f.name for f in fields(FitConfig) if option_of(f).resumable)


class Checkpoints:
    """The run folder's writer during ``fit``; with no folder every method only keeps state.

    Args:
        run: the claimed run folder, or None.
        strategy: decides who writes (``strategy.write``).
        model, optimizer, scheduler, shuffle_gen: what a checkpoint saves and restores.
        config: the ``FitConfig``; saved_config: what config.json and checkpoints carry.
        monitor: the row key that decides the best epoch (None: no best checkpoint).
    """

    def __init__(self, run: RunDir | None, strategy, *, model: nn.Module,
                 optimizer: torch.optim.Optimizer, scheduler, shuffle_gen: torch.Generator,
                 config: FitConfig, saved_config: Mapping[str, Any], monitor: str | None):
        self.run, self.strategy, self.model, self.optimizer = run, strategy, model, optimizer
        self.scheduler, self.shuffle_gen, self.config = scheduler, shuffle_gen, config
        self.saved_config, self.monitor = dict(saved_config), monitor
        self.best_weights: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ start

    def start(self, device: torch.device) -> tuple[TrainState, bool]:
        """A fresh state (config.json written) or the one ``last.safetensors`` holds.

        Returns:
            ``(state, resumed)``.
        """
        run = self.run
        if run is None or run.claimed != "resume" or not run.last.exists():
            if run is not None and run.claimed != "resume":
                run.save_config(self.saved_config)  # a no-op where this process does not write
            return TrainState(), False
        ckpt = load_checkpoint(run.last, self.model, self.optimizer, map_location=device)
        extra = ckpt.extra
        if "state" not in extra or "shuffle_rng" not in ckpt.tensors:
            raise CheckpointError(f"{run.last} was not written by rnnlab's fit; cannot resume")
        try:
            state = TrainState(**extra["state"])
        except TypeError as e:
            raise CheckpointError(f"{run.last} holds a training state this rnnlab cannot read: "
                                  f"{e}") from e
        self._warn_changed(ckpt.config.get("fit", {}))
        ckpt.restore_rng()
        self.shuffle_gen.set_state(ckpt.tensors["shuffle_rng"])
        if self.scheduler is not None and extra.get("scheduler") is not None:
            self.scheduler.load_state_dict(extra["scheduler"])
        self.best_weights = {k[5:]: v.cpu() for k, v in ckpt.tensors.items()
                             if k.startswith("best.")} or None
        for row in state.rows:  # rows of a run saved before epochs were timed
            row.setdefault("seconds", None)
        if not run.writable:  # the others only read; setup() agrees on errors, no collective
            return state, True
        run.save_config(self.saved_config)  # the settings that changed on resume (epochs...)
        # The CSV may hold rows the checkpoint does not know (killed after appending), and
        # best.safetensors may be newer or older than the checkpoint's best epoch.
        run.write_metrics(state.rows)
        if self.best_weights is not None and self.monitor is not None \
                and state.best_step is not None:
            self._repair_best(state, ckpt.config)
        logger.info("resumed %s at epoch %d, batch %d, step %d", run.path, state.epoch + 1,
                    state.batch, state.step)
        saved_world = ckpt.config.get("distributed", {}).get("world_size", 1)
        if saved_world != self.strategy.world_size:
            logger.info("the checkpoint was written by %d process(es), resuming with %d; "
                        "the global batch and sample order are unchanged", saved_world,
                        self.strategy.world_size)
        return state, True

    def _warn_changed(self, saved_fit: Mapping[str, Any]) -> None:
        changed = {k: (saved_fit.get(k), v) for k, v in asdict(self.config).items()
                   if k not in _RESUMABLE and saved_fit.get(k) != v}
        if changed and self.run.writable:
            logger.warning("resuming %s with changed settings %s; metrics will differ from an "
                           "unbroken run", self.run.path, changed)

    def _repair_best(self, state: TrainState, config: Mapping[str, Any]) -> None:
        """Make best.safetensors match the checkpoint's best epoch (a kill can split them)."""
        try:
            on_disk = load_checkpoint(self.run.best).step if self.run.best.exists() else None
        except CheckpointError:
            on_disk = None
        if on_disk != state.best_step:
            self._save("best", state, config=config, step=state.best_step,
                       epoch=state.best_epoch)

    # ------------------------------------------------------------------ as training goes

    def keep_best(self, state: TrainState) -> None:
        """The monitored value improved: remember these weights as the best."""
        self.best_weights = {k: v.detach().to("cpu", copy=True)
                             for k, v in self.model.state_dict().items()}

    def after_step(self, state: TrainState, epoch_start_rng: torch.Tensor) -> None:
        """Save ``last.safetensors`` when checkpointing by steps and one is due."""
        if self.run is not None and self.config.checkpoint_unit == "step" \
                and state.step % self.config.checkpoint_every == 0:
            self.strategy.write(self._save, "last", state, epoch_start_rng)

    def after_epoch(self, state: TrainState, row: Mapping[str, Any], *, improved: bool,
                    last: bool) -> None:
        """Append the row; save best (if ``improved``) and last (if due or ``last``)."""
        if self.run is None:
            return
        due = last or (self.config.checkpoint_unit == "epoch"
                       and state.epoch % self.config.checkpoint_every == 0)

        def write() -> None:
            self.run.append_metrics(row)
            if improved:
                self._save("best", state)
            if due:
                self._save("last", state, self.shuffle_gen.get_state())

        self.strategy.write(write)

    def finish(self, history: History, plot: Callable[[list, Any], None] | None) -> None:
        """Write ``metrics.json`` and draw ``curves.png`` (rank 0 only, no agreement)."""
        if self.run is not None and self.strategy.is_main:
            self.run.save_metrics(history.summary())
            if plot is not None:
                plot(history.rows, self.run.curves)

    def kept(self) -> str:
        """"; the last checkpoint PATH is kept" when there is one, for error messages."""
        if self.run is not None and self.run.last.exists():
            return f"; the last checkpoint {self.run.last} is kept"
        return ""

    # ------------------------------------------------------------------ the one writer

    def _save(self, kind: str, state: TrainState, epoch_start_rng: torch.Tensor | None = None,
              *, config: Mapping[str, Any] | None = None, step: int | None = None,
              epoch: int | None = None) -> None:
        """Write ``last`` (everything to resume) or ``best`` (the best weights) atomically."""
        path = self.run.last if kind == "last" else self.run.best
        step = state.step if step is None else step
        if kind == "last":
            tensors = {"shuffle_rng": epoch_start_rng}
            if self.best_weights is not None:
                tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
            extra = {"state": asdict(state), "monitor": self.monitor,
                     "scheduler": self.scheduler.state_dict() if self.scheduler else None}
            args = dict(model=self.model, optimizer=self.optimizer, tensors=tensors, rng=True)
        else:
            extra = {"monitor": self.monitor, "best": state.best}
            weights = self.model if config is None else self.best_weights
            args = dict(model=weights, optimizer=None, tensors=None, rng=False)
        try:
            save_checkpoint(path, args.pop("model"), args.pop("optimizer"), step=step,
                            epoch=state.epoch if epoch is None else epoch,
                            config=self.saved_config if config is None else config,
                            extra=extra, **args)
        except NonFiniteError as e:
            raise TrainingError(f"a weight became NaN or Inf by epoch {state.epoch + 1}, step "
                                f"{state.step}; training stopped and {path} was not "
                                f"overwritten ({e})") from e
