"""The run folder: atomic files, metrics.csv, artefacts and load_run's task registry."""

from __future__ import annotations

import errno
import json
import math

import pytest
import torch
from torch import nn

from rnnlab import runs
from rnnlab.checkpoint import save_checkpoint
from rnnlab.errors import ConfigError, DataError, DataNotFoundError
from rnnlab.runs import (
    RunDir,
    atomic_write_bytes,
    load_run,
    load_weights,
    read_json,
    register_task,
    write_json_atomic,
)


def test_atomic_write_replaces_and_calls_the_stages_in_order(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    stages = []
    atomic_write_bytes(path, b"new contents", hook=stages.append)
    assert path.read_bytes() == b"new contents"
    assert stages == ["before_write", "mid_write", "before_replace", "after_replace"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("stage", ["before_write", "mid_write", "before_replace"])
def test_a_failure_before_the_rename_keeps_the_old_file(tmp_path, stage):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def hook(s):
        if s == stage:
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=r"could not write .*f\.bin: No space left") as info:
        atomic_write_bytes(path, b"new", hook=hook)
    assert info.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [path]


def test_missing_folder_names_the_path(tmp_path):
    with pytest.raises(OSError, match="nope"):
        atomic_write_bytes(tmp_path / "nope" / "f.bin", b"x")


def test_json_write_and_read(tmp_path):
    path = write_json_atomic(tmp_path / "a.json", {"x": [1, 2.5], "nan": math.nan,
                                                   "inf": -math.inf})
    assert read_json(path) == {"x": [1, 2.5], "nan": None, "inf": None}
    with pytest.raises(ConfigError, match=r"a\.json"):
        write_json_atomic(path, {"x": object()})
    (tmp_path / "bad.json").write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(DataError, match=r"bad\.json: invalid JSON at line 3"):
        read_json(tmp_path / "bad.json")
    (tmp_path / "bin.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(DataError, match="byte offset 7"):
        read_json(tmp_path / "bin.json")
    with pytest.raises(DataNotFoundError):
        read_json(tmp_path / "none.json")


def test_metrics_csv_append_rewrite_and_read(tmp_path):
    run = RunDir(tmp_path / "run").create()
    rows = [{"epoch": 1, "loss": 0.1 + 0.2, "val_loss": 1 / 3},
            {"epoch": 2, "loss": 2.5e-17, "val_loss": math.nan}]
    for row in rows:
        run.append_metrics(row)
    assert run.metrics_csv.read_text().splitlines()[0] == "epoch,loss,val_loss"
    back = run.read_metrics()
    assert back[0] == rows[0] and back[1]["loss"] == 2.5e-17 and back[1]["val_loss"] is None
    with pytest.raises(ConfigError, match="columns"):
        run.append_metrics({"epoch": 3, "loss": 1.0})
    run.write_metrics(rows[:1])
    assert run.read_metrics() == rows[:1]
    run.write_metrics([])
    assert run.read_metrics() == []


def test_artefacts_config_and_temp_cleanup(tmp_path):
    run = RunDir(tmp_path / "run").create()
    assert not run.exists()
    run.save_config({"task": "t", "model": {"units": 3}})
    assert run.exists() and run.load_config()["model"] == {"units": 3}
    run.save_json("vocabulary.json", ["<pad>", "a"])
    assert run.load_json("vocabulary.json") == ["<pad>", "a"]
    for bad in ("../x.json", "/abs.json", "a/b.json", ""):
        with pytest.raises(ConfigError, match="plain file name"):
            run.file(bad)
    (run.path / ".last.safetensors.abc.tmp").write_bytes(b"partial")
    assert [p.name for p in run.clean_temp_files()] == [".last.safetensors.abc.tmp"]
    with pytest.raises(DataNotFoundError, match="not a run folder"):
        RunDir(tmp_path / "empty").load_config()


def _model():
    torch.manual_seed(0)
    return nn.Linear(3, 2)


def test_load_run_with_build_model_and_with_a_registered_task(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.save_config({"task": "toy_regression", "in": 3, "out": 2})
    trained = _model()
    with torch.no_grad():
        trained.weight += 1
    save_checkpoint(run.last, trained, step=1, epoch=1, config={})
    model = load_run(run.path, lambda c: nn.Linear(c["in"], c["out"]))
    assert torch.equal(model.weight, trained.weight) and not model.training

    @register_task("toy_regression")
    def _load(run_, config, device):
        m = nn.Linear(config["in"], config["out"])
        load_weights(run_, m, device=device)
        return {"model": m, "scale": run_.load_json("scaler.json")}

    run.save_json("scaler.json", {"mean": 1.5})
    try:
        got = load_run(run.path)
        assert torch.equal(got["model"].weight, trained.weight) and got["scale"]["mean"] == 1.5
        # best.safetensors wins over last.safetensors when both exist.
        save_checkpoint(run.best, _model(), step=1, epoch=1, config={})
        assert torch.equal(load_run(run.path)["model"].weight, _model().weight)
    finally:
        runs._TASK_LOADERS.pop("toy_regression")


def test_load_run_errors(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.save_config({"model": {}})
    with pytest.raises(ConfigError, match='no "task" key'):
        load_run(run.path)
    run.save_config({"task": "no_such_task_xyz"})
    with pytest.raises(ConfigError, match=r"task='no_such_task_xyz'.*no registered loader"):
        load_run(run.path)
    with pytest.raises(DataNotFoundError, match="no checkpoint"):
        load_run(run.path, lambda c: _model())
    with pytest.raises(DataNotFoundError, match="not a run folder"):
        load_run(tmp_path / "missing")
    assert json.loads(run.config.read_text()) == {"task": "no_such_task_xyz"}
