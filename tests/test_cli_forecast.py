"""`rnnlab train forecast` and `rnnlab forecast` end to end, in-process and tiny."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

from rnnlab import cli

SMALL = ["--units", "4", "--batch-size", "10", "--device", "cpu", "--quiet"]


def _csv(path, n=100, scale=1.0, extra=False):
    rng = np.random.default_rng(1)
    lines = ["day,sales,price" if extra else "day,sales"]
    for d in range(n):
        v = scale * (50 + 3 * np.sin(d / 2) + rng.normal(0, 0.3))
        lines.append(f"{d},{v:.4f}" + (",1.5" if extra else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def _hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def _number(text, name):
    return float(re.search(rf"{name}=([-0-9.e+]+)", text).group(1))


@pytest.fixture(scope="module")
def sine(tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "sine"
    code = cli.main(["train", "forecast", "--iterations", "30", *SMALL, "--out", str(run)])
    assert code == 0
    return run


def test_train_forecast_prints_what_evaluation_json_holds(sine, capsys):
    # The module fixture trained it; train a twin here to see the output.
    out_dir = sine.parent / "twin"
    assert cli.main(["train", "forecast", "--iterations", "30", *SMALL,
                     "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    ev = json.loads((out_dir / "evaluation.json").read_text())
    assert _number(out, "held-out mse") == pytest.approx(ev["mse"], abs=1e-5)
    assert _number(out, "next-step mse") == pytest.approx(ev["next_step_mse"], abs=1e-5)
    assert "trained 1 epoch(s), 30 steps" in out
    assert "training's loss and val_loss are the same error" in out


def test_forecast_json_is_one_object_on_the_last_line(sine, capsys):
    ev = json.loads((sine / "evaluation.json").read_text())
    assert cli.main(["forecast", str(sine), "--json", "--device", "cpu"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    scores = json.loads(last)
    assert scores["mse"] == pytest.approx(ev["mse"], rel=1e-9)
    assert scores["next_step_mse"] == pytest.approx(ev["next_step_mse"], rel=1e-9)
    assert cli.main(["forecast", str(sine), "--steps", "3", "--json", "--device", "cpu"]) == 0
    three = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert three["steps"] == 3
    assert three["next_step_mse"] == pytest.approx(ev["next_step_mse"], rel=1e-9)


def test_forecast_text_output_and_a_plot_in_a_new_folder(sine, tmp_path, capsys):
    plot = tmp_path / "no" / "dir" / "x.png"
    assert cli.main(["forecast", str(sine), "--plot", str(plot), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    ev = json.loads((sine / "evaluation.json").read_text())
    assert _number(out, "held-out mse") == pytest.approx(ev["mse"], abs=1e-5)
    assert plot.stat().st_size > 0


def test_train_on_a_csv_by_epochs_without_column_then_resume(tmp_path, capsys):
    csv = _csv(tmp_path / "s.csv")
    run = tmp_path / "run"
    args = ["train", "forecast", "--series", str(csv), "--time-column", "day",
            "--window", "6", *SMALL, "--out", str(run)]
    assert cli.main([*args, "--epochs", "1"]) == 0
    capsys.readouterr()
    saved = json.loads((run / "config.json").read_text())
    assert saved["config"]["data"]["column"] == "sales" and saved["fit"]["epochs"] == 1
    scaler = (run / "scaler.json").read_bytes()
    assert cli.main([*args, "--epochs", "2", "--resume"]) == 0
    out = capsys.readouterr().out
    assert "trained 2 epoch(s)" in out and (run / "scaler.json").read_bytes() == scaler
    ev = json.loads((run / "evaluation.json").read_text())
    assert _number(out, "held-out mse") == pytest.approx(ev["mse"], abs=1e-5)
    assert "multiply them by std^2" in out  # a file's loss is on scaled values


def test_a_refused_train_leaves_every_byte_of_the_run(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "forecast", "--column", "sales", "--time-column", "day", "--window", "6",
            *SMALL, "--epochs", "1", "--out", str(run)]
    assert cli.main([*base, "--series", str(_csv(tmp_path / "a.csv"))]) == 0
    before = _hashes(run)
    capsys.readouterr()
    other = str(_csv(tmp_path / "b.csv", scale=4.0))
    assert cli.main([*base, "--series", other]) == 2
    err = capsys.readouterr().err
    assert "already holds a run" in err and "Traceback" not in err
    assert cli.main([*base, "--series", other, "--resume", "--overwrite"]) == 2
    assert _hashes(run) == before


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "3"], "epochs=3 applies to a series file"),
    (["--series", "S.csv", "--iterations", "3"], "iterations=3 applies to the synthetic"),
    (["--series", "X.csv", "--time-column", "day"], "2 numeric columns ('sales', 'price')"),
])
def test_config_errors_are_one_line(tmp_path, capsys, argv, message):
    _csv(tmp_path / "S.csv")
    _csv(tmp_path / "X.csv", extra=True)
    argv = [a.replace("S.csv", str(tmp_path / "S.csv")).replace("X.csv", str(tmp_path / "X.csv"))
            for a in argv]
    assert cli.main(["train", "forecast", *argv, *SMALL, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_forecast_on_another_tasks_run_names_it(tmp_path, capsys):
    run = tmp_path / "digits"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task": "classify", "model": {"kind": "rnn"}}))
    assert cli.main(["forecast", str(run)]) == 2
    err = capsys.readouterr().err
    assert "'classify' run" in err and "rnnlab evaluate" in err and "Traceback" not in err


def test_missing_help_lists_its_choices(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "forecast", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    described = text.split("--missing {error,drop,interpolate}")[-1].split(" --")[0]
    for choice in ("error", "drop", "interpolate"):
        assert choice in described
