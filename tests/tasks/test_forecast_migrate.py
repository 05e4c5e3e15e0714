"""A run folder written by 0.1.0 (config.json version 1) still evaluates and resumes.

The fixture (tests/fixtures/v1/forecast, its README says how it was made) was killed
mid-epoch at step 510 of 600; its last checkpoint is at step 500. The numbers below are
what 0.1.0 printed for it, and for the same run resumed (equal to an unbroken run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rnnlab import cli
from rnnlab.config import from_dict
from rnnlab.runs import RunDir, load_run
from rnnlab.tasks.forecast import ForecastTask, ForecastTaskConfig, LoadedForecast
from rnnlab.training import claim_run

FIXTURE = Path(__file__).parents[1] / "fixtures" / "v1" / "forecast"
AT_STEP_500 = {"mse": 12.731264042011938, "next_step_mse": 10.784807633199188}
RESUMED = {"mse": 12.268471929295027, "next_step_mse": 10.333578632165214}
LAST_ROW = {"epoch": 1, "step": 600, "loss": 16.06321085413297,
            "val_loss": 10.752227912664413, "lr": 0.001}
ARGS = ["--iterations", "600", "--batch-size", "2", "--units", "4", "--device", "cpu",
        "--quiet"]


@pytest.fixture
def run(tmp_path):
    shutil.copytree(FIXTURE, tmp_path / "v1")
    return tmp_path / "v1"


def test_migrate_gives_the_settings_0_1_0_trained_with(run):
    saved = json.loads((run / "config.json").read_text())
    assert "version" not in saved
    config = from_dict(ForecastTaskConfig, ForecastTask().migrate(saved))
    assert config == ForecastTask().config_from_saved(saved)
    assert (config.data.iterations, config.model.num_units, config.fit.batch_size) == (600, 4, 2)
    plain = vars(config.fit.plain())  # exactly what fit ran with; settings added since
    assert {k: plain[k] for k in saved["fit"]} == saved["fit"]  # keep 0.1.0's behaviour
    assert plain["group_by_length"] is False


def test_forecast_and_load_run_read_a_version_1_run(run, capsys):
    assert cli.main(["forecast", str(run), "--json", "--device", "cpu"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # 0.1.0 ran this float32 RNN on PyTorch's kernel; rnnlab's CPU kernel (auto since
    # issue 14) sums in another order: the same numbers to float32 rounding.
    for key, value in AT_STEP_500.items():
        assert scores[key] == pytest.approx(value, rel=1e-6), key
    assert isinstance(load_run(run), LoadedForecast)
    ev = ForecastTask().evaluate(RunDir(run), weights="last")
    assert ev["mse"] == pytest.approx(AT_STEP_500["mse"], rel=1e-6)


def test_resume_from_the_cli_finishes_as_an_unbroken_run(run, capsys):
    scaler = (run / "scaler.json").read_bytes()
    assert cli.main(["train", "forecast", *ARGS, "--resume", "--out", str(run)]) == 0
    [row] = RunDir(run).read_metrics()
    assert {k: row[k] for k in LAST_ROW} == pytest.approx(LAST_ROW, rel=1e-6)  # float32 kernel
    ev = json.loads((run / "evaluation.json").read_text())
    for key, value in RESUMED.items():
        assert ev[key] == pytest.approx(value, rel=1e-6), key
    assert (run / "scaler.json").read_bytes() == scaler


def test_resume_through_the_task_with_the_migrated_config(run):
    task = ForecastTask()
    config = task.config_from_saved(json.loads((run / "config.json").read_text()))
    claimed = claim_run(run, resume=True, overwrite=False)  # tasks train into claimed folders
    result = task.train(config, claimed, resume=True, evaluate=False)
    row = result.history.rows[-1]
    assert {k: row[k] for k in LAST_ROW} == pytest.approx(LAST_ROW, rel=1e-6)
