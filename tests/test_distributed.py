"""Data-parallel fit: 2 gloo processes on loopback against 1 process, kills, hangs, resume.

Equivalence tolerance: with no dropout, DDP's averaged gradients equal one process's up to
float summation order, so weights and every metric must agree within ATOL = 1e-5
(measured: about 3e-8 after 15 Adam steps).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnlab import distributed
from rnnlab.checkpoint import load_checkpoint
from rnnlab.distributed import Dist, detect_env, launch_local, resolve_timeout
from rnnlab.errors import CheckpointError, ConfigError, TrainingError
from rnnlab.train import Callback, FitConfig, accuracy, fit

ATOL = 1e-5
SRC = Path(__file__).resolve().parents[1] / "src"

# Runs in every worker process (as `python -m dist_worker JOB`) and, for the one-process
# reference, in this one. 49 rows: 12 validation, 37 training, so with batch 8 the last
# global batch has 5 rows, split 3/2 between the ranks (weights 1.2 and 0.8).
WORKER_SRC = '''
import json
import os
import signal
import sys
import time

import torch
from torch import nn

from rnnlab import distributed
from rnnlab.training import faults
from rnnlab.train import FitConfig, accuracy, fit


def make_data(n=49):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 0.5).long()
    return x, y


def train(run_dir, resume=False, callbacks=(), **overrides):
    settings = dict(epochs=3, batch_size=8, val_split=0.25, device="cpu", seed=7, plot=False,
                    checkpoint_unit="step", checkpoint_every=2, lr=1e-2)
    settings.update(overrides)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))  # no dropout
    history = fit(model, make_data(), loss_fn=nn.functional.cross_entropy,
                  config=FitConfig(**settings), metrics={"accuracy": accuracy},
                  run_dir=run_dir, resume=resume, callbacks=callbacks,
                  run_config={"task": "dist-test"})
    return model, history


def _stop_at(step, stamp):
    def hook(point, at):
        if point == "step" and at == step:
            with open(stamp, "w") as f:
                f.write(str(time.time()))
            os.kill(os.getpid(), signal.SIGSTOP)  # alive but silent: sockets stay open
    return hook


def main():
    job = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    if rank == job.get("fault_rank"):
        if "fault" in job:
            faults.install(faults.kill_at(job["fault"]))
        if "stop_at" in job:
            faults.install(_stop_at(job["stop_at"], job["report"] + ".stopped"))
    # Line the processes up after their slow imports, so that a short timeout bounds only
    # the failure under test, never a late start on a loaded machine.
    ready, world = job["report"] + ".ready", int(os.environ["WORLD_SIZE"])
    open(f"{ready}.{rank}", "w").close()
    deadline = time.time() + 60
    while not all(os.path.exists(f"{ready}.{r}") for r in range(world)):
        if time.time() > deadline:
            raise SystemExit("the other processes never started")
        time.sleep(0.02)
    try:
        with distributed.distributed_session(device="cpu", timeout_s=job.get("timeout")):
            for run in job["runs"]:
                train(run["dir"], resume=run.get("resume", False))
    except Exception as e:
        with open(f"{job['report']}.{rank}", "w") as f:
            f.write(json.dumps({"time": time.time(), "error": f"{type(e).__name__}: {e}"}))
        raise


if __name__ == "__main__":
    main()
'''
_NS: dict = {}
exec(WORKER_SRC, _NS)
train = _NS["train"]


def _worker_env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "dist_worker.py").write_text(WORKER_SRC)
    path = os.pathsep.join([str(tmp_path), str(SRC), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path}


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _assert_close_runs(run_dir: Path, model: nn.Module, history) -> None:
    weights = load_checkpoint(run_dir / "last.safetensors").model_state
    for name, value in model.state_dict().items():
        torch.testing.assert_close(weights[name], value, atol=ATOL, rtol=0)
    rows = _rows(run_dir)
    assert len(rows) == len(history.rows)
    for got, want in zip(rows, history.rows, strict=True):
        assert got.keys() - {"seconds"} == want.keys()  # the CSV also has the wall time
        for key in want:
            assert got[key] == pytest.approx(want[key], abs=ATOL), key


# --------------------------------------------------------------------------- in-process units


@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"},
     (1, 2, 1, 2)),
    ({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2",
      "MASTER_ADDR": "h", "MASTER_PORT": "1"}, (3, 4, 1, 2)),
])
def test_detect_env_reads_torchrun_variables(env, expected):
    got = detect_env(env)
    assert (got if got is None else
            (got.rank, got.world_size, got.local_rank, got.local_world_size)) == expected


@pytest.mark.parametrize("env, bad", [
    ({"WORLD_SIZE": "2"}, "RANK, MASTER_ADDR, MASTER_PORT"),
    ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK=2"),
    ({"RANK": "x", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "RANK='x'"),
])
def test_detect_env_rejects_partial_or_bad_variables(env, bad):
    with pytest.raises(ConfigError, match=bad):
        detect_env(env)


def test_timeout_comes_from_argument_then_environment_then_default():
    assert resolve_timeout(7, {"RNNLAB_DIST_TIMEOUT": "9"}) == 7
    assert resolve_timeout(None, {"RNNLAB_DIST_TIMEOUT": "9.5"}) == 9.5
    assert resolve_timeout(None, {}) == distributed.DEFAULT_TIMEOUT_S
    for bad in (0, -1, "soon", float("inf")):
        with pytest.raises(ConfigError, match="seconds > 0"):
            resolve_timeout(bad, {})


@pytest.mark.parametrize("world", [2, 3, 4])
@pytest.mark.parametrize("size", [1, 2, 5, 8, 9])
def test_shards_cover_a_batch_once_and_weights_restore_the_global_mean(world, size):
    rows = torch.randperm(50)[:size]
    x = torch.randn(50, dtype=torch.float64)
    pieces, averaged = [], 0.0
    for rank in range(world):
        piece, weight = Dist(rank, world, rank, "gloo").shard(rows)
        if weight:
            pieces.append(piece)
        averaged += weight * x[piece].mean().item() / world  # what DDP's average does
    assert sorted(torch.cat(pieces).tolist()) == sorted(rows.tolist())
    assert averaged == pytest.approx(x[rows].mean().item(), abs=1e-12)


def test_global_batch_must_divide_among_processes():
    with pytest.raises(ConfigError, match=r"batch_size=150 is the global batch.*148 or 152"):
        Dist(0, 4, 0, "gloo").per_rank_batch(150)
    assert Dist(0, 3, 0, "gloo").per_rank_batch(150) == 50


def test_outside_a_launcher_there_is_no_group(monkeypatch):
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.init_distributed() is None
    assert distributed.current() is None
    assert distributed.is_main_process()


@pytest.mark.timeout(30)
def test_failed_rendezvous_is_a_clear_error_within_the_timeout(monkeypatch):
    port = distributed.free_port()
    for key, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0",
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(key, value)
    start = time.monotonic()
    with pytest.raises(TrainingError, match=r"process 0 of 2 could not join the job at "
                                            rf"127\.0\.0\.1:{port} \(gloo\) within 1\.5 s"):
        distributed.init_distributed(timeout_s=1.5, device="cpu")
    assert time.monotonic() - start < 10
    assert distributed.current() is None


def test_a_group_of_one_process_trains_bit_identically(tmp_path, monkeypatch):
    model, history = train(tmp_path / "plain")
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
                       "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(distributed.free_port())}.items():
        monkeypatch.setenv(key, value)
    with distributed.distributed_session(device="cpu", timeout_s=30) as group:
        assert group is None and torch.distributed.is_initialized()
        grouped, grouped_history = train(tmp_path / "grouped")
    assert not torch.distributed.is_initialized()
    assert grouped_history.rows == history.rows
    assert all(torch.equal(v, grouped.state_dict()[k]) for k, v in model.state_dict().items())
    assert (tmp_path / "plain" / "config.json").read_text() == \
        (tmp_path / "grouped" / "config.json").read_text()


def test_run_training_trains_here_outside_a_launcher(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.run_training(lambda: "trained", nproc=1) == "trained"
    with pytest.raises(ConfigError, match="nproc=0 is not allowed"):
        distributed.run_training(lambda: None, nproc=0)


# A stand-in for the other process: fit's collectives are all sums of a few numbers, so a
# peer that sends the same numbers (or chosen ones) exercises rank logic in one process.
@dataclass(frozen=True)
class FakeGroup(Dist):
    peer: Callable | None = None  # this rank's values -> the other rank's

    def all_sum(self, values):
        mine = [float(v) for v in values]
        other = self.peer(mine) if self.peer is not None else mine
        return [a + b for a, b in zip(mine, other, strict=True)]

    def wrap(self, model, device):
        return model


class _Crash(Exception):
    pass


class CrashAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_batch_end(self, step, loss, logs):
        if step == self.step:
            raise _Crash(step)


class Count(Callback):
    def __init__(self):
        self.calls = 0

    def on_batch_end(self, step, loss, logs):
        self.calls += 1


def test_only_rank_zero_writes_files_and_runs_callbacks(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "current", lambda: FakeGroup(1, 2, 1, "gloo"))
    counter = Count()
    x, y = _NS["make_data"]()
    history = fit(nn.Linear(4, 3), (x, y), loss_fn=nn.functional.cross_entropy,
                  config=FitConfig(epochs=2, batch_size=8, val_split=0.25, device="cpu"),
                  metrics={"accuracy": accuracy}, run_dir=tmp_path / "run",
                  callbacks=(counter,))
    assert not (tmp_path / "run").exists()
    assert counter.calls == 0
    assert [row["step"] for row in history.rows] == [5, 10]


def test_rank_zero_records_the_global_batch(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(distributed, "current", lambda: FakeGroup(0, 2, 0, "gloo"))
    x, y = _NS["make_data"]()
    with caplog.at_level("INFO", logger="rnnlab.training"):
        fit(nn.Linear(4, 3), (x, y), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=1, batch_size=8, device="cpu", plot=False),
            run_dir=tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())["distributed"]
    assert saved == {"world_size": 2, "backend": "gloo", "global_batch_size": 8,
                     "per_process_batch_size": 4}
    assert "global batch 8 = 4 per process" in caplog.text
    with pytest.raises(ConfigError, match="batch_size=7 is the global batch"):
        fit(nn.Linear(4, 3), (x, y), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=1, batch_size=7, device="cpu"))


def test_nan_on_another_rank_stops_this_one(tmp_path, monkeypatch):
    calls = []

    def peer(values):  # the per-step sum is (loss, accuracy, n, nonfinite)
        calls.append(len(values))
        if len(values) == 4 and calls.count(4) == 3:
            return [0.0, 0.0, values[2], 1.0]
        return values

    monkeypatch.setattr(distributed, "current", lambda: FakeGroup(0, 2, 0, "gloo", peer))
    x, y = _NS["make_data"]()
    with pytest.raises(TrainingError, match="loss is nan at epoch 1, step 3 \\(on at least one "
                                            "of 2 processes\\)"):
        fit(nn.Linear(4, 3), (x, y), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=1, batch_size=8, device="cpu"),
            metrics={"accuracy": accuracy}, run_dir=tmp_path)


def test_resume_needs_every_rank_to_see_the_checkpoint(tmp_path, monkeypatch):
    train(tmp_path, max_steps=2)
    others_see_nothing = FakeGroup(0, 2, 0, "gloo", lambda v: [0.0] * len(v))
    monkeypatch.setattr(distributed, "current", lambda: others_see_nothing)
    with pytest.raises(CheckpointError, match=r"only 1 of 2 processes found .*shared filesystem"):
        train(tmp_path, resume=True)


# --------------------------------------------------------------------------- real processes


@pytest.mark.timeout(120)
def test_two_processes_match_one_and_resume_across_process_counts(tmp_path):
    ref_model, ref_history = train(tmp_path / "one")
    half = tmp_path / "resumed"
    with pytest.raises(_Crash):  # one process stops mid-epoch 2; two processes finish it
        train(half, callbacks=(CrashAt(7),))
    assert load_checkpoint(half / "last.safetensors").step == 6
    job = {"runs": [{"dir": str(tmp_path / "two")}, {"dir": str(half), "resume": True}],
           "report": str(tmp_path / "report")}
    launch_local(2, [json.dumps(job)], module="dist_worker", env=_worker_env(tmp_path),
                 timeout_s=60, threads=1)

    _assert_close_runs(tmp_path / "two", ref_model, ref_history)
    _assert_close_runs(half, ref_model, ref_history)
    config = json.loads((tmp_path / "two" / "config.json").read_text())
    assert config["distributed"]["per_process_batch_size"] == 4
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [
        "best.safetensors", "config.json", "last.safetensors", "metrics.csv", "metrics.json"]


@pytest.mark.timeout(120)
def test_killed_worker_ends_the_job_and_the_checkpoint_resumes_on_one_process(tmp_path):
    run = tmp_path / "run"
    job = {"runs": [{"dir": str(run)}], "report": str(tmp_path / "report"),
           "fault": "step:5", "fault_rank": 1}
    start = time.monotonic()
    with pytest.raises(TrainingError, match="process 1 of 2 was killed by SIGKILL"):
        launch_local(2, [json.dumps(job)], module="dist_worker", env=_worker_env(tmp_path),
                     timeout_s=20, threads=1)
    assert time.monotonic() - start < 60
    assert load_checkpoint(run / "last.safetensors").step == 4  # saved every 2 steps

    train(run, resume=True)  # the same job, now on one process
    ref_model, ref_history = train(tmp_path / "ref")
    _assert_close_runs(run, ref_model, ref_history)


@pytest.mark.timeout(120)
def test_silent_peer_stops_the_others_within_the_timeout(tmp_path):
    """No launcher to clean up: rank 0 must notice by itself that rank 1 went quiet."""
    timeout = 4.0
    run, report = tmp_path / "run", tmp_path / "report"
    job = {"runs": [{"dir": str(run)}], "report": str(report), "stop_at": 3, "fault_rank": 1,
           "timeout": timeout}
    env = {**os.environ, **_worker_env(tmp_path), "OMP_NUM_THREADS": "1",
           "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(distributed.free_port())}
    procs = [subprocess.Popen([sys.executable, "-m", "dist_worker", json.dumps(job)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for r in range(2)]
    try:
        assert procs[0].wait(timeout=90) != 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
    stopped = float((tmp_path / "report.stopped").read_text())
    failure = json.loads((tmp_path / "report.0").read_text())
    assert failure["error"].startswith("TrainingError: process 0 of 2 lost contact")
    assert "last checkpoint" in failure["error"]
    assert failure["time"] - stopped < timeout + 10
    assert load_checkpoint(run / "last.safetensors").step == 2


# Counts this process's threads (Linux) around a data-parallel fit; the gloo threads of the
# group must all be gone once the session ends, or one of them can outlive Python and abort
# the process at exit (SIGABRT, "terminate called without an active exception").
THREADS_SRC = '''
import json, os, sys
import torch
from torch import nn
from rnnlab import distributed
from rnnlab.train import FitConfig, fit

torch.set_num_threads(1)
torch.zeros(1).sum()
before = len(os.listdir("/proc/self/task"))
with distributed.distributed_session(device="cpu", timeout_s=60):
    x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    fit(nn.Linear(4, 3), (x, y), loss_fn=nn.functional.cross_entropy,
        config=FitConfig(epochs=1, batch_size=8, device="cpu", plot=False))
after = len(os.listdir("/proc/self/task"))
with open(sys.argv[1] + "." + os.environ["RANK"], "w") as f:
    json.dump([before, after], f)
'''


@pytest.mark.timeout(120)
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc")
def test_the_group_threads_are_gone_when_the_session_ends(tmp_path):
    (tmp_path / "dist_threads.py").write_text(THREADS_SRC)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), str(SRC),
                                          os.environ.get("PYTHONPATH", "")])}
    report = tmp_path / "threads"
    launch_local(2, [str(report)], module="dist_threads", env=env, timeout_s=60, threads=1)
    for rank in range(2):
        before, after = json.loads((tmp_path / f"threads.{rank}").read_text())
        assert after == before, f"rank {rank}: {after - before} thread(s) left after shutdown"


def _cli_has_nproc() -> bool:
    import inspect

    import rnnlab.cli

    return "--nproc" in inspect.getsource(rnnlab.cli)


@pytest.mark.timeout(120)
@pytest.mark.skipif(not _cli_has_nproc(), reason="the CLI has no --nproc flag yet")
def test_cli_trains_on_two_local_processes(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-m", "rnnlab", "train", "classify", "--dataset", "digits",
         "--model", "gru", "--units", "8", "--epochs", "1", "--batch-size", "32",
         "--max-steps", "4", "--device", "cpu", "--quiet", "--nproc", "2",
         "--dist-timeout", "60", "--out", str(run)],
        env=env, capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("run folder:") == 1  # printed by rank 0 only
    assert json.loads((run / "config.json").read_text())["distributed"]["world_size"] == 2
    assert load_checkpoint(run / "last.safetensors").step == 4


@pytest.mark.parametrize("rank, shown", [(0, 1), (1, 0)])
def test_a_warning_is_shown_by_rank_zero_only(monkeypatch, rank, shown):
    import warnings

    monkeypatch.setattr(distributed, "current", lambda: FakeGroup(rank, 2, rank, "gloo"))
    x, y = _NS["make_data"]()

    def loss_fn(outputs, targets):
        warnings.warn("the same on every rank", UserWarning, stacklevel=1)
        return nn.functional.cross_entropy(outputs, targets)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        fit(nn.Linear(4, 3), (x, y), loss_fn=loss_fn,
            config=FitConfig(epochs=2, batch_size=8, val_split=0.25, device="cpu"))
    assert len(seen) == shown
