"""TensorBoard event files of a run (``rnnlab train ... --tensorboard``), as a fit callback.

Writes into ``RUN_DIR/tensorboard/``: the loss of every optimizer step (``step/loss``),
each epoch's row (``epoch/loss``, ``epoch/val_accuracy``, ...), the hyper-parameters with
the final metrics (TensorBoard's HPARAMS tab) and the learning-curve picture. Every
scalar is logged against the optimizer step, so the x axis is one for all of them.

A resumed run continues the steps: the writer starts with ``purge_step`` at the step the
checkpoint resumes from, so events a killed process logged past that checkpoint are
dropped by TensorBoard's reader and every step appears once.

``tensorboard`` stays an optional dependency (``pip install "rnnlab[tensorboard]"``): the
callback refuses to be built without it, before anything trains.

Example:
    >>> cb = TensorBoardCallback("runs/digits")                         # doctest: +SKIP
    >>> fit(model, data, loss_fn=loss, callbacks=[cb], run_dir="runs/digits")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError
from rnnlab.training.callbacks import Callback

logger = logging.getLogger(__name__)

FOLDER = "tensorboard"
MISSING = ("--tensorboard needs the tensorboard package: pip install \"rnnlab[tensorboard]\" "
           "(or pip install tensorboard)")


def check_available() -> None:
    """Raise one clear ConfigError when the ``tensorboard`` package is missing."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as e:
        raise ConfigError(MISSING) from e


def _hparams(config: Mapping[str, Any]) -> dict[str, Any]:
    """The composed config flattened to what TensorBoard shows (numbers, strings, bools)."""
    out = {}
    for part, values in (config.get("config") or {}).items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, bool | int | float | str):
                out[f"{part}.{key}"] = value
            elif value is None:
                out[f"{part}.{key}"] = "none"
            elif isinstance(value, list | tuple):
                out[f"{part}.{key}"] = ",".join(map(str, value)) or "none"
    return out


class TensorBoardCallback(Callback):
    """Scalars per step and per epoch, hyper-parameters and curves, for TensorBoard.

    Args:
        run_dir: the run folder; events go to ``run_dir/tensorboard``. Nothing is
            written before training starts (a refused command leaves no file).
        every: log the step loss every this many steps (1: each step).
    """

    def __init__(self, run_dir: str | os.PathLike, *, every: int = 1):
        check_available()
        self.run_dir = Path(run_dir)
        self.every = max(1, int(every))
        self.writer = None

    @property
    def log_dir(self) -> Path:
        """``RUN_DIR/tensorboard``, where the event files go."""
        return self.run_dir / FOLDER

    def close(self) -> None:
        """Close the writer (and its thread) if fit ended without ``on_fit_end``: an
        error or Ctrl-C inside fit; the events written so far stay."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_fit_start(self, *, config, steps_per_epoch, epoch, step):
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: a killed run may have logged steps past its last checkpoint; the
        # reader drops those, so the resumed steps appear once.
        self.writer = SummaryWriter(log_dir=str(self.log_dir),
                                    purge_step=step + 1 if step > 0 else None)

    def on_batch_end(self, step, loss, logs):
        if self.writer is not None and (step % self.every == 0 or step == 1):
            self.writer.add_scalar("step/loss", loss, step)

    def on_epoch_end(self, epoch, logs):
        if self.writer is None:
            return
        step = int(logs.get("step", epoch + 1))
        for key, value in logs.items():
            if key not in ("epoch", "step") and isinstance(value, int | float):
                self.writer.add_scalar(f"epoch/{key}", value, step)
        self.writer.flush()

    def on_fit_end(self, history):
        if self.writer is None:
            return
        try:
            self._hparams_and_curves(history)
        finally:
            self.writer.close()
            self.writer = None

    def _hparams_and_curves(self, history) -> None:
        config_path = self.run_dir / "config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        final = history.rows[-1] if history.rows else {}
        metrics = {f"final/{k}": float(v) for k, v in final.items()
                   if isinstance(v, int | float) and k not in ("epoch", "step")}
        if metrics:
            self.writer.add_hparams(_hparams(config), metrics, run_name=".",
                                    global_step=history.step)
        curves = self.run_dir / "curves.png"
        if curves.is_file():
            import numpy as np
            from PIL import Image

            with Image.open(curves) as picture:
                pixels = np.asarray(picture.convert("RGB"))
            self.writer.add_image("curves", pixels, history.step, dataformats="HWC")
