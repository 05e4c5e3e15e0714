"""``rnnlab runs list|compare``, run statuses, the model card and ``rnnlab report``."""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
from pathlib import Path

import pytest

from rnnlab import cli
from rnnlab.report import list_runs, read_run, reproduce_command
from rnnlab.training import faults

DIGITS = ["--dataset", "digits", "--model", "gru", "--units", "4", "--batch-size", "64",
          "--epochs", "3", "--quiet", "--threads", "1", "--device", "cpu"]  # conftest's run
STEPS_PER_EPOCH = 22  # 1350 digits in batches of 64


def train(*argv: str) -> int:
    return cli.main(["train", *argv])


class Stop(Exception):
    """Something going wrong inside training (not the user's input)."""


def _raise_at(step: int, error: type[BaseException]):
    def hook(point: str, at: int) -> None:
        if point == "step" and at == step:
            raise error("stopped by the test")

    return hook


@pytest.fixture(scope="module")
def runs(root, classify_run) -> Path:
    """Under runs/: finished (4 and 8 units), interrupted (Ctrl-C) and failed (a bug)."""
    wide = root / "sweep" / "wide"
    assert train("classify", *DIGITS, "--units", "8", "--out", str(wide)) == 0
    for name, error, code in (("stopped", KeyboardInterrupt, 130), ("broken", Stop, 1)):
        faults.install(_raise_at(STEPS_PER_EPOCH + 3, error))  # after epoch 1's checkpoint
        try:
            assert train("classify", *DIGITS, "--out", str(root / name)) == code
        finally:
            faults.uninstall()
    return root


def _status(run: Path) -> str:
    return json.loads((run / "run.json").read_text())["status"]


def test_statuses_finished_interrupted_failed(runs):
    assert _status(runs / "digits") == "finished"
    assert _status(runs / "sweep" / "wide") == "finished"
    assert _status(runs / "stopped") == "interrupted"
    assert _status(runs / "broken") == "failed"
    log = json.loads((runs / "digits" / "run.json").read_text())
    assert log["command"][:3] == ["rnnlab", "train", "classify"]
    assert log["seconds"] > 0 and log["peak_rss_mb"] > 0
    assert (runs / "stopped" / "report.html").is_file()  # a stopped run has its report too


def test_a_refused_command_writes_no_status(runs, tmp_path):
    run = tmp_path / "copy"
    shutil.copytree(runs / "digits", run)
    before = hashlib.sha256((run / "run.json").read_bytes()).hexdigest()
    assert train("classify", *DIGITS, "--out", str(run)) == 2  # neither resume nor overwrite
    assert hashlib.sha256((run / "run.json").read_bytes()).hexdigest() == before
    assert train("classify", *DIGITS, "--epochs", "0", "--out", str(tmp_path / "new")) == 2
    assert not (tmp_path / "new").exists()


def test_a_resume_the_task_refuses_changes_nothing(runs, tmp_path, monkeypatch):
    from rnnlab.errors import ConfigError
    from rnnlab.tasks.classify import ClassifyTask

    run = tmp_path / "copy"
    shutil.copytree(runs / "digits", run)
    files = ("run.json", "report.html", "README.md")
    before = {n: hashlib.sha256((run / n).read_bytes()).hexdigest() for n in files}

    def refuse(self, config, run, **kw):  # a check inside the task (text's same split)
        raise ConfigError("split differs from the run's")

    monkeypatch.setattr(ClassifyTask, "train", refuse)
    assert train("classify", "--resume", "--out", str(run), "--quiet") == 2
    assert {n: hashlib.sha256((run / n).read_bytes()).hexdigest() for n in files} == before


def test_a_resumed_run_adds_a_session_and_ends_finished(runs, tmp_path):
    run = tmp_path / "stopped"
    shutil.copytree(runs / "stopped", run)
    assert train("classify", "--resume", "--out", str(run), "--quiet") == 0
    log = json.loads((run / "run.json").read_text())
    assert log["status"] == "finished"
    assert [s["status"] for s in log["sessions"]] == ["interrupted", "finished"]
    assert [s["resumed"] for s in log["sessions"]] == [False, True]
    assert log["seconds"] == pytest.approx(sum(s["seconds"] for s in log["sessions"]), abs=2e-3)


def test_runs_list_one_line_per_run(runs, capsys):
    assert cli.main(["runs", "list", str(runs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    by_path = {line.split("  ")[0]: line for line in lines}
    assert set(by_path) == {"digits", "sweep/wide", "stopped", "broken"}
    final = json.loads((runs / "digits" / "metrics.json").read_text())["final"]
    cells = by_path["digits"].split("  ")
    assert cells[1:5] == ["classify", "digits", "gru 4x1",
                          f"val_accuracy={final['val_accuracy']:.4f}"]
    assert cells[5] == "3 ep" and cells[-1] == "finished"
    assert by_path["stopped"].endswith("interrupted") and by_path["broken"].endswith("failed")
    assert cli.main(["runs", "list", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["path"]: r["status"] for r in rows} == {
        "digits": "finished", "sweep/wide": "finished", "stopped": "interrupted",
        "broken": "failed"}
    assert cli.main(["runs", "list", str(runs / "nothing-here")]) == 2
    assert capsys.readouterr().err.startswith("rnnlab: error:")


def test_a_damaged_run_is_listed_as_unreadable_beside_the_others(runs, tmp_path, capsys):
    root = tmp_path / "runs"
    shutil.copytree(runs / "digits", root / "good")
    shutil.copytree(runs / "digits", root / "bad")
    (root / "bad" / "config.json").write_text("{not json")
    (root / "good" / "tensorboard" / "config.json").parent.mkdir()
    (root / "good" / "tensorboard" / "config.json").write_text("{}")  # inside a run: no run
    assert cli.main(["runs", "list", str(root), "--json"]) == 0
    rows = {r["path"]: r["status"] for r in json.loads(capsys.readouterr().out)}
    assert rows == {"bad": "unreadable", "good": "finished"}


def test_runs_compare_shows_the_differences_and_the_metrics(runs, tmp_path, capsys):
    a, b = runs / "digits", runs / "sweep" / "wide"
    page = tmp_path / "cmp.html"
    assert cli.main(["runs", "compare", str(a), str(b), "--json", "--html", str(page)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["differences"] == {"model.units": [4, 8]}
    finals = [json.loads((r / "metrics.json").read_text())["final"] for r in (a, b)]
    assert out["metrics"]["val_accuracy"] == [f["val_accuracy"] for f in finals]
    text = page.read_text()
    assert "<script" not in text and text.count("<polyline") >= 8  # 4 curves x 2 runs
    assert cli.main(["runs", "compare", str(a), str(b)]) == 0
    printed = capsys.readouterr().out
    assert "model.units" in printed and f"{finals[1]['val_accuracy']:.4f}" in printed
    assert cli.main(["runs", "compare", str(a)]) == 2


def test_the_model_card_names_the_licence_and_reproduces_the_run(runs, tmp_path):
    card = (runs / "digits" / "README.md").read_text()
    assert "CC BY 4.0" in card and "val_accuracy" in card
    command = reproduce_command(read_run(runs / "digits"))
    assert command in card
    words = shlex.split(command)
    assert words[:3] == ["rnnlab", "train", "classify"] and "--units" in words
    again = tmp_path / "again"
    words[words.index("--out") + 1] = str(again)
    assert cli.main([*words[1:], "--quiet", "--threads", "1"]) == 0

    def rows(run):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read_run(run).rows]

    assert rows(again) == rows(runs / "digits")  # the same run, trained again


def test_report_command_writes_where_asked(runs, tmp_path, capsys):
    out = tmp_path / "sub" / "digits.html"
    assert cli.main(["report", str(runs / "digits"), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"report": str(out)}
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert cli.main(["report", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_evaluate_keeps_its_scores_in_the_report(runs, tmp_path, capsys):
    run = tmp_path / "digits"
    shutil.copytree(runs / "digits", run)
    assert cli.main(["evaluate", str(run), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    kept = json.loads((run / "evaluations.json").read_text())
    assert list(kept.values()) == [scores]
    assert f"{scores['accuracy']:.4f}" in (run / "report.html").read_text()


def test_a_run_killed_while_running_reads_interrupted(runs, tmp_path):
    import os
    import subprocess
    import sys

    run = tmp_path / "killed"
    shutil.copytree(runs / "digits", run)
    log = json.loads((run / "run.json").read_text())
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    from rnnlab.tasks.review import process_start

    me, started = os.getpid(), process_start(os.getpid())
    cases = [(int(done.stdout), None, "interrupted"), (me, None, "running")]
    if started is not None:  # Linux: a pid given again to another process is told apart
        cases += [(me, started, "running"), (me, started + 1, "interrupted")]
    for pid, start, expected in cases:
        log["status"] = "running"
        log["sessions"][-1].update(pid=pid, pid_started=start)
        (run / "run.json").write_text(json.dumps(log))
        assert [r.status for r in list_runs(tmp_path)] == [expected]


def test_a_vector_files_report_scores_what_vectors_evaluate_scores(word2vec_file, tmp_path,
                                                                   capsys):
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("cat\tdog\t8.0\ncat\tmat\t2.0\nsat\tran\t6.5\nthe\ta\t9.0\nlog\tmat\t4.0\n")
    analogies = tmp_path / "questions.txt"
    analogies.write_text(": animals\ncat dog mat log\nsat ran on and\n")
    files = ["--pairs", str(pairs), "--analogies", str(analogies)]
    assert cli.main(["vectors", "evaluate", str(word2vec_file), *files, "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    out = tmp_path / "v.html"
    assert cli.main(["report", str(word2vec_file), *files, "--out", str(out)]) == 0
    page = out.read_text()
    for key in ("pairs_spearman", "analogy_accuracy"):
        assert f"<td>{key}</td><td class=\"n\">{scores[key]:.4f}</td>" in page
    assert "Nearest neighbours" in page


def test_overwrite_removes_what_was_made_of_the_previous_run(runs, tmp_path):
    run = tmp_path / "again"
    shutil.copytree(runs / "digits", run)
    (run / "evaluations.json").write_text("{}")
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "events.out.tfevents.1").write_bytes(b"old")
    assert train("classify", *DIGITS, "--max-steps", "2", "--overwrite", "--out", str(run)) == 0
    assert not (run / "evaluations.json").exists() and not (run / "tensorboard").exists()
    log = json.loads((run / "run.json").read_text())
    assert len(log["sessions"]) == 1 and log["status"] == "finished"
    assert {"report.html", "README.md", "review.json"} <= {p.name for p in run.iterdir()}
    # A README.md of the user's own survives --overwrite; the model card is rnnlab's.
    (run / "README.md").write_text("# my notes\n")
    assert train("classify", *DIGITS, "--max-steps", "2", "--overwrite", "--out", str(run)) == 0
    assert (run / "README.md").read_text() == "# my notes\n"
