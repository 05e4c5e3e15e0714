"""Run folders through the CLI: refused commands change nothing, resume remembers."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rnnlab import cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "v1"
TINY = ["--dataset", "digits", "--model", "gru", "--units", "4", "--batch-size", "64",
        "--max-steps", "2", "--epochs", "1", "--quiet", "--threads", "1"]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "digits"
    assert cli.main(["train", "classify", *TINY, "--out", str(run)]) == 0
    return run


@pytest.fixture
def run(trained, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


@pytest.mark.parametrize("extra", [
    [],                                  # an existing run, neither --resume nor --overwrite
    ["--epochs", "-3"],                  # a bad value
    ["--resume", "--overwrite"],         # contradictory
    ["--resume", "--units", "16"],       # a setting a run cannot change
])
def test_a_refused_training_leaves_every_byte_of_the_run(run, extra, capsys):
    before = _digest(run)
    assert cli.main(["train", "classify", *TINY, "--out", str(run), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and err.count("\n") == 1
    assert _digest(run) == before


def test_errors_name_the_flags_not_the_python_arguments(run, capsys):
    assert cli.main(["train", "classify", *TINY, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and "resume=" not in err
    assert cli.main(["train", "classify", *TINY, "--epochs", "0", "--out",
                     str(run.parent / "new")]) == 2
    assert "--epochs=0" in capsys.readouterr().err
    assert not (run.parent / "new").exists()  # a refused command creates nothing


def test_resume_takes_the_saved_settings_and_names_a_conflict(run, capsys):
    assert cli.main(["train", "classify", "--resume", "--out", str(run), "--epochs", "2",
                     "--max-steps", "4", "--quiet"]) == 0  # --model gru --units 4: saved
    config = json.loads((run / "config.json").read_text())
    assert config["config"]["model"]["units"] == 4 and config["fit"]["epochs"] == 2
    capsys.readouterr()
    assert cli.main(["train", "classify", "--resume", "--out", str(run), "--units", "8"]) == 2
    err = capsys.readouterr().err
    assert "--units=8" in err and "--units=4" in err


def test_resume_needs_a_run(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["train", "classify", *TINY, "--resume", "--out", str(empty)]) == 2
    assert "no run to resume" in capsys.readouterr().err
    assert list(empty.iterdir()) == []


def test_evaluate_reports_per_class_scores_and_which_weights(run, capsys):
    assert cli.main(["evaluate", str(run), "--json", "--weights", "last"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    scores = json.loads(out[-1])
    labels = [str(i) for i in range(10)]
    assert scores["labels"] == labels and scores["weights"] == "last"
    assert scores["split"] == "test" and set(scores["per_class"]) == set(labels)
    matrix = scores["confusion_matrix"]
    assert sum(map(sum, matrix)) == scores["examples"]
    assert abs(sum(matrix[i][i] for i in range(10)) / scores["examples"]
               - scores["accuracy"]) < 1e-9


def test_version_and_subcommand_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("rnnlab 0.")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "classify", "--bogus"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "usage: rnnlab train classify" in err
    assert "--bogus" in err


def test_a_run_written_by_0_1_0_evaluates_predicts_and_resumes(tmp_path, capsys):
    run = tmp_path / "old"
    shutil.copytree(FIXTURES / "classify", run)
    assert cli.main(["evaluate", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] > 0
    assert cli.main(["train", "classify", "--resume", "--out", str(run), "--epochs", "2",
                     "--max-steps", "4", "--quiet"]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["version"] == 2 and config["config"]["model"]["model"] == "gru"
    assert config["config"]["model"]["units"] == 4


def test_ctrl_c_says_how_to_resume(monkeypatch, tmp_path, capsys):
    import rnnlab.tasks as tasks

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tasks, "train_run", interrupted)
    run = tmp_path / "run"
    assert cli.main(["train", "classify", *TINY, "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert f"rnnlab train classify --resume --out {run}" in err


def test_config_json_holds_values_as_given(tmp_path):
    run = tmp_path / "run"
    assert cli.main(["train", "classify", *TINY, "--lr", "0.1", "--dropout", "0.1",
                     "--out", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["fit"]["lr"] == 0.1 and config["config"]["model"]["dropout"] == 0.1
    assert config["fit"]["val_split"] == 0.0  # validation is given, not a fudged fraction
    assert config["config"]["fit"] == config["fit"]  # one value per setting


def test_mistakes_on_a_run_are_one_line_in_the_clis_words(run, capsys):
    assert cli.main(["predict", str(run), str(run / "nope.png")]) == 2
    assert "nope.png does not exist" in capsys.readouterr().err
    assert cli.main(["evaluate", str(run), "--series", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error: --series='x.csv' is not a setting of classify runs")
    assert cli.main(["forecast", str(run)]) == 2
    assert "'classify' run" in capsys.readouterr().err


def test_overwrite_leaves_nothing_of_another_tasks_run(run):
    (run / "tokenizer.json").write_text("{}")  # what a text run leaves
    (run / "scaler.json").write_text("{}")
    assert cli.main(["train", "classify", *TINY, "--out", str(run), "--overwrite"]) == 0
    assert not (run / "tokenizer.json").exists() and not (run / "scaler.json").exists()


def test_an_unexpected_failure_is_one_line_without_debug(monkeypatch, run, capsys):
    import rnnlab.tasks as tasks

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(tasks, "evaluate_run", broken)
    assert cli.main(["evaluate", str(run)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: a bug" in err
    with pytest.raises(ZeroDivisionError):
        cli.main(["evaluate", str(run), "--debug"])
