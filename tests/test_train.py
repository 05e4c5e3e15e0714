"""fit: against a hand-written loop, reproducibility, exact resume, kill -9, NaN, early stopping."""

from __future__ import annotations

import io
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

import rnnlab
import rnnlab.training
from rnnlab.checkpoint import load_checkpoint
from rnnlab.errors import ConfigError, ShapeError, TrainingError
from rnnlab.runs import RunDir
from rnnlab.train import Callback, FitConfig, TqdmProgress, accuracy, evaluate, fit

# The tiny job every kill/resume test runs; the kill test also runs it in a child process.
TRAIN_SRC = '''
import torch
from torch import nn
from rnnlab.train import FitConfig, accuracy, fit


def make_data(n=48):
    g = torch.Generator().manual_seed(123)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 0.5).long()
    return x, y


def make_model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))


def train(run_dir, unit, resume=False, callbacks=(), overwrite=False, **overrides):
    torch.set_num_threads(1)
    model = make_model()
    settings = dict(epochs=3, batch_size=8, val_split=0.25, device="cpu", schedule="step",
                    step_size=1, gamma=0.5, patience=5, checkpoint_unit=unit,
                    checkpoint_every=2 if unit == "step" else 1, seed=7, plot=False)
    settings.update(overrides)
    history = fit(model, make_data(), loss_fn=nn.functional.cross_entropy,
                  config=FitConfig(**settings), metrics={"accuracy": accuracy},
                  run_dir=run_dir, resume=resume, callbacks=callbacks, overwrite=overwrite,
                  run_config={"task": "kill-test"})
    return model, history
'''
_NS: dict = {}
exec(TRAIN_SRC, _NS)
train, make_data, make_model = _NS["train"], _NS["make_data"], _NS["make_model"]


def _untimed(rows: list[dict]) -> list[dict]:
    """Rows without their wall ``seconds``, which no two runs share."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _same_state(a: nn.Module | dict, b: nn.Module | dict) -> bool:
    a = a.state_dict() if isinstance(a, nn.Module) else a
    b = b.state_dict() if isinstance(b, nn.Module) else b
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _Crash(Exception):
    pass


class CrashAt(Callback):
    """Raise (a crash inside the process) at a given step or at the start of an epoch."""

    def __init__(self, step=None, epoch=None):
        self.step, self.epoch = step, epoch

    def on_batch_end(self, step, loss, logs):
        if step == self.step:
            raise _Crash(step)

    def on_epoch_start(self, epoch, *, num_batches, start_batch):
        if epoch == self.epoch:
            raise _Crash(epoch)


# --------------------------------------------------------------------------- reference


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_fit_equals_a_hand_written_loop(optimizer):
    x, y = make_data(40)
    config = FitConfig(epochs=2, batch_size=8, optimizer=optimizer, lr=0.05, momentum=0.9,
                       weight_decay=1e-3, clip_grad_norm=0.5, seed=3, device="cpu")
    model = make_model()
    history = fit(model, (x, y), loss_fn=nn.functional.cross_entropy, config=config)

    ref = make_model()
    opt = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}.get(optimizer)
    kwargs = dict(lr=0.05, weight_decay=1e-3)
    opt = (opt(ref.parameters(), momentum=0.9, **kwargs) if opt
           else torch.optim.Adam(ref.parameters(), **kwargs))
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    losses = []
    for _ in range(2):
        total = 0.0
        for idx in torch.randperm(40, generator=g).split(8):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(ref(x[idx]), y[idx])
            loss.backward()
            nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
            opt.step()
            total += loss.item() * len(idx)
        losses.append(total / 40)
    assert _same_state(model, ref)
    assert history["loss"] == losses
    assert history["step"] == [5, 10]


def test_two_runs_with_one_seed_are_identical_and_another_seed_differs():
    m1, h1 = train(None, "epoch")
    m2, h2 = train(None, "epoch")
    _, h3 = train(None, "epoch", seed=8)
    assert _untimed(h1.rows) == _untimed(h2.rows) and _same_state(m1, m2)
    assert _untimed(h1.rows) != _untimed(h3.rows)


def test_validation_split_is_the_end_of_the_data_unshuffled():
    x, y = make_data(40)
    model = make_model()
    h = fit(model, (x, y), loss_fn=nn.functional.cross_entropy, metrics=[accuracy],
            config=FitConfig(epochs=1, batch_size=8, val_split=0.25, device="cpu"))
    tail = evaluate(model, (x[30:], y[30:]), loss_fn=nn.functional.cross_entropy,
                    metrics=[accuracy])
    assert h.rows[-1]["val_loss"] == pytest.approx(tail["loss"], abs=1e-7)
    assert h.rows[-1]["val_accuracy"] == pytest.approx(tail["accuracy"])
    assert h.rows[-1]["step"] == 4  # 30 training rows in batches of 8


def test_explicit_validation_set_and_tuple_inputs_through_a_dataset():
    class Pairs(Dataset):  # items ((tokens, length), label), as a text task would give
        def __init__(self, n):
            g = torch.Generator().manual_seed(n)
            self.tokens = torch.randint(0, 10, (n, 6), generator=g)
            self.lengths = torch.randint(1, 7, (n,), generator=g)
            self.labels = (self.tokens[:, 0] > 4).long()

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, i):
            return (self.tokens[i], self.lengths[i]), self.labels[i]

    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.out = nn.Embedding(10, 8), nn.Linear(8, 2)

        def forward(self, tokens, lengths):
            mask = torch.arange(tokens.shape[1]) < lengths[:, None]  # (B, T)
            return self.out((self.emb(tokens) * mask[..., None]).sum(1) / lengths[:, None])

    torch.manual_seed(0)
    h = fit(Bag(), Pairs(30), val_data=Pairs(10), loss_fn=nn.functional.cross_entropy,
            metrics={"accuracy": accuracy},
            config=FitConfig(epochs=2, batch_size=8, device="cpu", lr=0.05))
    assert [r["epoch"] for r in h.rows] == [1, 2] and "val_accuracy" in h.rows[0]
    with pytest.raises(ConfigError, match="not both"):
        fit(Bag(), Pairs(30), val_data=Pairs(5), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=1, val_split=0.2, device="cpu"))


def test_schedules_set_the_learning_rate_per_epoch():
    x, y = make_data(16)
    run = lambda **kw: fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy,  # noqa: E731
                           config=FitConfig(batch_size=8, device="cpu", lr=0.1, **kw))
    assert run(epochs=5, schedule="step", step_size=2, gamma=0.5)["lr"] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025])
    cos = run(epochs=4, schedule="cosine", min_lr=0.0)["lr"]
    assert cos == pytest.approx([0.1 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])
    # A metric that never improves: plateau cuts the rate after schedule_patience epochs.
    h = fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy,
            metrics={"const": lambda o, t: 1.0},
            config=FitConfig(epochs=4, batch_size=8, device="cpu", lr=0.1, schedule="plateau",
                             schedule_patience=0, gamma=0.1, monitor="const"))
    assert h["lr"] == pytest.approx([0.1, 0.1, 0.01, 0.001])


def test_max_steps_stops_after_n_optimizer_steps():
    x, y = make_data(40)
    h = fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=50, batch_size=8, max_steps=7, device="cpu"))
    assert h.step == 7 and [r["step"] for r in h.rows] == [5, 7]


def test_early_stopping_restores_the_best_weights(tmp_path):
    x, y = make_data(40)
    script = iter([0.5, 0.7, 0.6, 0.65, 0.9])  # val score per epoch; best is epoch 2

    def score(outputs, targets):
        return next(script) if not torch.is_grad_enabled() else 0.0

    seen = {}

    class Snap(Callback):
        def on_epoch_end(self, epoch, logs):
            seen[epoch + 1] = {k: v.clone() for k, v in model.state_dict().items()}

    model = make_model()
    h = fit(model, (x, y), loss_fn=nn.functional.cross_entropy, metrics={"score": score},
            callbacks=[Snap()], run_dir=tmp_path / "run",
            config=FitConfig(epochs=10, batch_size=8, val_split=0.2, eval_batch_size=100,
                             monitor="val_score", patience=2, device="cpu"))
    assert (h.stopped_early, h.best_epoch, h.best, len(h.rows)) == (True, 2, 0.7, 4)
    assert _same_state(model, seen[2]) and not _same_state(model, seen[4])
    best = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert _same_state(best.model_state, seen[2])
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert summary["best_epoch"] == 2 and summary["stopped_early"] is True


# --------------------------------------------------------------------------- run folder


def test_run_folder_files(tmp_path):
    model, h = train(tmp_path / "run", "epoch", plot=True)
    run = RunDir(tmp_path / "run")
    config = run.load_config()
    assert config["task"] == "kill-test" and config["fit"]["seed"] == 7
    assert _untimed(run.read_metrics()) == h.rows  # floats survive the CSV exactly
    assert json.loads(run.metrics_json.read_text())["final"] == h.rows[-1]
    assert run.curves.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    last = load_checkpoint(run.last)
    assert last.step == h.step and last.config == config and _same_state(last.model_state, model)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(tmp_path / "run", "epoch")
    train(tmp_path / "run", "epoch", overwrite=True)


# --------------------------------------------------------------------------- resume


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = {}
    for unit in ("step", "epoch"):
        folder = tmp_path_factory.mktemp(f"ref-{unit}") / "run"
        model, history = train(folder, unit)
        out[unit] = (model, history, load_checkpoint(folder / "best.safetensors").model_state)
    return out


def _check_resumed(folder: Path, unit: str, reference) -> None:
    model, history = train(folder, unit, resume=True)
    ref_model, ref_history, ref_best = reference[unit]
    assert _untimed(history.rows) == _untimed(ref_history.rows)
    assert _same_state(model, ref_model)
    assert _untimed(RunDir(folder).read_metrics()) == _untimed(ref_history.rows)
    assert _same_state(load_checkpoint(folder / "best.safetensors").model_state, ref_best)
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("unit", "crash"), [
    ("step", CrashAt(step=7)),    # mid-epoch: last checkpoint at step 6 (epoch 2, batch 1)
    ("step", CrashAt(step=11)),   # last checkpoint at step 10: an epoch's final batch
    ("epoch", CrashAt(epoch=1)),  # at an epoch boundary
    ("epoch", CrashAt(epoch=2)),
])
def test_resume_after_a_crash_ends_like_an_unbroken_run(tmp_path, reference, unit, crash):
    with pytest.raises(_Crash):
        train(tmp_path / "run", unit, callbacks=[crash])
    _check_resumed(tmp_path / "run", unit, reference)


def test_resume_of_a_finished_run_changes_nothing(tmp_path, reference):
    train(tmp_path / "run", "step")
    _check_resumed(tmp_path / "run", "step", reference)


# Kill -9 at named points of a checkpoint write and at seeded random moments. One child
# process imports torch once and forks a child per scenario, so this costs one import.
_DRIVER = TRAIN_SRC + '''
import json, os, sys, traceback
train(None, "step")  # warm up once: the first optimizer step imports torch._dynamo (seconds)
results = []
for run_dir, unit, fault in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        from rnnlab.training import faults
        faults.install(faults.kill_at(fault))
        try:
            train(run_dir, unit)
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    results.append(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status))
print(json.dumps(results))
'''


def _scenarios() -> list[tuple[str, str]]:
    named = [("step", f"{p}:6") for p in ("before_write", "mid_write", "before_replace",
                                          "after_replace")]
    named += [("step", "step:7"), ("epoch", "mid_write:10"), ("epoch", "after_replace:10")]
    rng = random.Random(2026)
    stage = rng.choice(["before_write", "mid_write", "before_replace", "after_replace"])
    named.append(("step", f"{stage}:{rng.choice([2, 4, 8, 12, 14])}"))
    named.append(("epoch", f"step:{rng.randint(1, 14)}"))
    return named


@pytest.mark.slow  # ~10-20 s: one child process that imports torch, then forks per scenario
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork and SIGKILL")
def test_kill_9_at_any_point_leaves_a_loadable_checkpoint_and_resume_is_exact(tmp_path,
                                                                              reference):
    scenarios = _scenarios()
    jobs = [(str(tmp_path / f"run{i}"), unit, fault) for i, (unit, fault) in enumerate(scenarios)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(rnnlab.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(jobs)], env=env,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr
    statuses = json.loads(done.stdout.strip().splitlines()[-1])
    for (folder, unit, fault), status in zip(jobs, statuses, strict=True):
        assert status == 9, f"{fault}: child was not killed ({status}): {done.stderr}"
        folder = Path(folder)
        kill_step = int(fault.split(":")[1])
        if (folder / "last.safetensors").exists():  # the previous checkpoint always loads
            assert load_checkpoint(folder / "last.safetensors").step <= kill_step, fault
        _check_resumed(folder, unit, reference)


# --------------------------------------------------------------------------- NaN


def test_nan_loss_stops_with_the_step_and_keeps_the_last_finite_checkpoint(tmp_path):
    x, y = make_data(40)
    calls = {"n": 0}

    def loss_fn(outputs, targets):
        loss = nn.functional.cross_entropy(outputs, targets)
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] == 7:
                return loss * float("nan")
        return loss

    with pytest.raises(TrainingError, match=r"loss is nan at epoch 2, step 7.*kept"):
        fit(make_model(), (x, y), loss_fn=loss_fn, run_dir=tmp_path / "run",
            config=FitConfig(epochs=3, batch_size=8, device="cpu", checkpoint_unit="step",
                             checkpoint_every=2))
    last = load_checkpoint(tmp_path / "run" / "last.safetensors")
    assert last.step == 6
    tensors = [*last.model_state.values(), *last.tensors.values()]
    assert all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def test_a_weight_gone_nan_is_never_saved(tmp_path):
    x, y = make_data(40)
    model = make_model()

    class Poison(Callback):
        def on_batch_end(self, step, loss, logs):
            if step == 4:
                with torch.no_grad():
                    model[0].weight[0, 0] = float("inf")

    with pytest.raises(TrainingError, match=r"step 4.*not\s+overwritten"):
        fit(model, (x, y), loss_fn=nn.functional.cross_entropy, callbacks=[Poison()],
            run_dir=tmp_path / "run", config=FitConfig(epochs=3, batch_size=8, device="cpu",
                                                       checkpoint_unit="step",
                                                       checkpoint_every=2))
    assert load_checkpoint(tmp_path / "run" / "last.safetensors").step == 2


# --------------------------------------------------------------------------- callbacks, config


def test_callbacks_are_called_in_order_and_progress_bar_obeys_tty_and_quiet():
    events = []

    class Record(Callback):
        def on_fit_start(self, *, config, steps_per_epoch, epoch, step):
            events.append(("fit_start", steps_per_epoch))

        def on_epoch_start(self, epoch, *, num_batches, start_batch):
            events.append(("epoch_start", epoch))

        def on_batch_end(self, step, loss, logs):
            events.append(("batch", step))

        def on_epoch_end(self, epoch, logs):
            events.append(("epoch_end", epoch))

        def on_fit_end(self, history):
            events.append(("fit_end", history.step))

    class Tty(io.StringIO):
        def isatty(self):
            return True

    shown, piped, quiet = Tty(), io.StringIO(), Tty()
    x, y = make_data(16)
    fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy, metrics=[accuracy],
        callbacks=[Record(), TqdmProgress(file=shown), TqdmProgress(file=piped),
                   TqdmProgress(file=quiet, quiet=True)],
        config=FitConfig(epochs=2, batch_size=8, device="cpu"))
    assert events == [("fit_start", 2), ("epoch_start", 0), ("batch", 1), ("batch", 2),
                      ("epoch_end", 0), ("epoch_start", 1), ("batch", 3), ("batch", 4),
                      ("epoch_end", 1), ("fit_end", 4)]
    assert "epoch 2/2" in shown.getvalue() and "loss=" in shown.getvalue()
    assert piped.getvalue() == "" and quiet.getvalue() == ""


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"optimizer": "adamw"}, "optimizer='adamw' is not allowed; choose one of: 'adam'"),
    ({"schedule": "linear"}, "schedule='linear'"),
    ({"lr": 0}, "lr=0"),
    ({"val_split": 1.0}, "val_split=1.0"),
    ({"epochs": 0}, "epochs=0"),
    ({"checkpoint_unit": "batch"}, "checkpoint_unit='batch'"),
    ({"device": "tpu"}, "device='tpu'"),
])
def test_bad_config_values_are_quoted(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        fit(make_model(), make_data(16), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(**kwargs))


def test_bad_arguments():
    x, y = make_data(16)
    loss = nn.functional.cross_entropy
    with pytest.raises(ConfigError, match="monitor='val_accuracy'"):
        fit(make_model(), (x, y), loss_fn=loss, metrics=[accuracy],
            config=FitConfig(epochs=1, monitor="val_accuracy", device="cpu"))
    with pytest.raises(ShapeError, match="16 rows"):
        fit(make_model(), (x[:10], y), loss_fn=loss, config=FitConfig(device="cpu"))
    with pytest.raises(ConfigError, match="resume=True needs a run_dir"):
        fit(make_model(), (x, y), loss_fn=loss, config=FitConfig(device="cpu"), resume=True)
    with pytest.raises(ConfigError, match="leaves 0 for validation"):
        fit(make_model(), (x, y), loss_fn=loss, config=FitConfig(val_split=0.01, device="cpu"))


# --------------------------------------------------------------------------- issue 13 items


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_refused_fit_changes_no_byte_of_the_run_folder(tmp_path):
    folder = tmp_path / "run"
    train(folder, "step")
    (folder / ".last.safetensors.123.tmp").write_bytes(b"a killed write")  # left by a kill
    (folder / "tokenizer.json").write_text('{"words": []}')  # a task's artefact
    before = _folder_bytes(folder)
    with pytest.raises(ConfigError, match="already holds a run; pass resume=True"):
        train(folder, "step")
    with pytest.raises(ConfigError, match="contradict"):
        train(folder, "step", resume=True, overwrite=True)
    with pytest.raises(ConfigError, match="monitor="):  # a bad argument, with overwrite
        train(folder, "step", overwrite=True, monitor="nope")
    assert _folder_bytes(folder) == before


def test_resume_of_a_folder_without_a_run_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="holds no run to resume"):
        train(tmp_path / "none", "step", resume=True)
    assert not (tmp_path / "none").exists()


def test_fit_takes_a_claimed_run_folder_and_keeps_what_the_task_wrote(tmp_path):
    run = rnnlab.training.claim_run(tmp_path / "run", resume=False, overwrite=False)
    assert run.claimed == "fresh" and (tmp_path / "run").is_dir()
    run.save_json("tokenizer.json", {"words": ["a"]})
    _, history = train(run, "epoch")
    assert run.load_json("tokenizer.json") == {"words": ["a"]}
    assert run.load_config()["task"] == "kill-test"
    with pytest.raises(ConfigError, match="claimed with resume=False"):
        train(run, "epoch", resume=True)
    again = rnnlab.training.claim_run(tmp_path / "run", resume=True, overwrite=False)
    _, resumed = train(again, "epoch", resume=True)
    assert resumed.rows == history.rows


def test_each_epoch_records_its_wall_seconds_in_metrics_csv(tmp_path):
    _, history = train(tmp_path / "run", "epoch")
    with open(tmp_path / "run" / "metrics.csv", newline="") as f:
        header = f.readline().strip().split(",")
    assert header == ["epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy", "lr",
                      "seconds"]
    seconds = [row["seconds"] for row in RunDir(tmp_path / "run").read_metrics()]
    assert len(seconds) == 3 and all(isinstance(s, float) and s >= 0 for s in seconds)
    assert "seconds" not in history.rows[0]  # history rows repeat with the seed


def test_off_a_terminal_progress_is_one_plain_line_per_epoch():
    piped = io.StringIO()
    x, y = make_data(16)
    fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy, metrics=[accuracy],
        callbacks=[rnnlab.training.EpochLines(file=piped)],
        config=FitConfig(epochs=2, batch_size=8, device="cpu"))
    lines = piped.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "\r" not in piped.getvalue() and "loss=" in lines[0] and " s)" in lines[0]


def test_on_a_terminal_the_epoch_line_never_splits_a_bar():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    shown = Tty()
    x, y = make_data(24)
    fit(make_model(), (x, y), loss_fn=nn.functional.cross_entropy, metrics=[accuracy],
        callbacks=[TqdmProgress(file=shown)],
        config=FitConfig(epochs=2, batch_size=8, device="cpu"))
    lines = shown.getvalue().split("\n")
    epoch_lines = [i for i, line in enumerate(lines) if line.startswith("epoch 1/2: ")]
    assert len(epoch_lines) == 1, lines
    i = epoch_lines[0]
    assert "\r" not in lines[i] and "%|" not in lines[i]  # a whole line, not inside a bar
    assert "3/3" in lines[i - 1].split("\r")[-1]  # after the finished bar of epoch 1
    assert lines[i + 1].split("\r")[-1].startswith("epoch 2/2")  # then epoch 2's bar


def test_a_warning_inside_the_loop_is_shown_once_not_once_per_epoch():
    x, y = make_data(16)

    def loss_fn(outputs, targets):
        import warnings
        warnings.warn("a warning from the loss", UserWarning, stacklevel=1)
        return nn.functional.cross_entropy(outputs, targets)

    import warnings
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        fit(make_model(), (x, y), loss_fn=loss_fn, config=FitConfig(
            epochs=3, batch_size=8, device="cpu", schedule="step", step_size=1))
    assert [str(w.message) for w in seen] == ["a warning from the loss"]


def test_the_fault_hook_is_installed_by_the_test_not_read_from_the_environment(monkeypatch):
    from rnnlab.training import faults

    reached = []
    monkeypatch.setenv("RNNLAB_FAULT", "step:1")  # read by nothing any more
    faults.install(lambda point, step: reached.append((point, step)))
    try:
        fit(make_model(), make_data(16), loss_fn=nn.functional.cross_entropy,
            config=FitConfig(epochs=1, batch_size=8, device="cpu"))
    finally:
        faults.uninstall()
    assert reached == [("step", 1), ("step", 2)]
    with pytest.raises(ConfigError, match="fault spec 'nowhere'"):
        faults.kill_at("nowhere")
