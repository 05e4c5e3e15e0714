"""``--tensorboard``: event files read back with the tensorboard package, across a resume.

A run is interrupted inside epoch 2 (after epoch 1's checkpoint) and resumed; its
metrics.csv and its TensorBoard steps must equal those of the same run trained in one go:
every row and every step once, none lost.
"""

from __future__ import annotations

import json
import sys

import pytest

from rnnlab import cli
from rnnlab.training import faults

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (
    EventAccumulator,
)

DIGITS = ["--dataset", "digits", "--model", "gru", "--units", "4", "--batch-size", "64",
          "--epochs", "3", "--quiet", "--threads", "1", "--device", "cpu", "--tensorboard"]
STEPS = 66  # 3 epochs of 22 batches


def _train(*argv: str) -> int:
    return cli.main(["train", "classify", *DIGITS, *argv])


def _interrupt_at(step: int):
    def hook(point: str, at: int) -> None:
        if point == "step" and at == step:
            raise KeyboardInterrupt

    return hook


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    assert _train("--out", str(root / "whole")) == 0
    faults.install(_interrupt_at(30))  # epoch 2, after epoch 1's checkpoint
    try:
        assert _train("--out", str(root / "resumed")) == 130
    finally:
        faults.uninstall()
    assert cli.main(["train", "classify", "--resume", "--tensorboard", "--quiet",
                     "--out", str(root / "resumed")]) == 0
    return root / "whole", root / "resumed"


def _events(run):
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _csv_rows(run):
    lines = (run / "metrics.csv").read_text().splitlines()
    head = lines[0].split(",")
    return [{k: v for k, v in zip(head, line.split(","), strict=True) if k != "seconds"}
            for line in lines[1:]]


def test_metrics_csv_keeps_one_history_across_the_resume(runs):
    whole, resumed = runs
    rows = _csv_rows(resumed)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows == _csv_rows(whole)


def test_tensorboard_steps_continue_once_each(runs):
    whole, resumed = runs
    a, b = _events(whole), _events(resumed)
    steps = [e.step for e in b.Scalars("step/loss")]
    assert steps == list(range(1, STEPS + 1))  # steps 23..30, logged twice, appear once
    assert [e.value for e in b.Scalars("step/loss")] == pytest.approx(
        [e.value for e in a.Scalars("step/loss")], rel=1e-6)
    rows = _csv_rows(resumed)
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        events = b.Scalars(f"epoch/{name}")
        assert [e.step for e in events] == [22, 44, 66]
        assert [e.value for e in events] == pytest.approx([float(r[name]) for r in rows],
                                                          rel=1e-6)


def test_hparams_with_final_metrics_and_the_curves(runs):
    _, resumed = runs
    acc = _events(resumed)
    assert "curves" in acc.Tags()["images"]
    final = json.loads((resumed / "metrics.json").read_text())["final"]
    assert acc.Scalars("final/val_accuracy")[-1].value == pytest.approx(final["val_accuracy"])
    assert acc.PluginTagToContent("hparams")  # the HPARAMS tab's experiment and session


def test_missing_tensorboard_is_one_clear_line_and_nothing_written(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard fails
    assert _train("--out", str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "rnnlab[tensorboard]"' in err
    assert not (tmp_path / "run").exists()


def test_steps_a_killed_run_flushed_past_its_checkpoint_appear_once(tmp_path):
    """The first writer flushed steps 1..30 to disk, the checkpoint was at step 22: the
    resumed writer's purge_step drops 23..30 of the first file."""
    from types import SimpleNamespace

    from rnnlab.training.tensorboard import TensorBoardCallback

    first = TensorBoardCallback(tmp_path)
    first.on_fit_start(config=None, steps_per_epoch=22, epoch=0, step=0)
    for step in range(1, 31):
        first.on_batch_end(step, 100.0 + step, {})  # the killed run's values
    first.writer.close()  # on disk, as a process that flushed before it was killed
    second = TensorBoardCallback(tmp_path)
    second.on_fit_start(config=None, steps_per_epoch=22, epoch=1, step=22)
    for step in range(23, 41):
        second.on_batch_end(step, float(step), {})
    second.on_fit_end(SimpleNamespace(rows=[{"loss": 1.0}], step=40))
    scalars = _events(tmp_path).Scalars("step/loss")
    assert [e.step for e in scalars] == list(range(1, 41))
    assert [e.value for e in scalars] == [100.0 + s for s in range(1, 23)] + [
        float(s) for s in range(23, 41)]
