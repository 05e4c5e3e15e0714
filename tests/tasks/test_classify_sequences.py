"""Your own sequences end to end: .ts, long CSV and .npz files, exact lengths, your labels."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

import rnnlab
from rnnlab import cli
from rnnlab.data.npz import write_npz
from rnnlab.data.synthetic_sequences import make_sequences
from rnnlab.data.ts import write_ts
from rnnlab.tasks.classify_data import Examples

LABELS = ["walk", "run", "jump"]
FAST = ["--units", "8", "--epochs", "3", "--batch-size", "16", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seq")
    train = make_sequences(90, num_classes=3, num_features=2, min_length=13, max_length=40,
                           seed=1, labels=LABELS)
    test = make_sequences(30, num_classes=3, num_features=2, min_length=13, max_length=40,
                          seed=2, labels=LABELS)
    write_ts(folder / "train.ts", train)
    write_ts(folder / "test.ts", test)
    return folder, train, test


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    folder, _, _ = files
    run = tmp_path_factory.mktemp("runs") / "ts"
    assert cli.main(["train", "classify", "--dataset", str(folder / "train.ts"), "--test",
                     str(folder / "test.ts"), "--out", str(run), *FAST]) == 0
    return run


def test_a_ts_run_scores_its_test_file_once_with_the_users_labels(files, trained, capsys):
    folder, _, test = files
    evaluation = json.loads((trained / "evaluation.json").read_text())
    assert evaluation["labels"] == LABELS and evaluation["examples"] == len(test)
    assert set(evaluation["per_class"]) == set(LABELS)
    assert cli.main(["evaluate", str(trained), "--dataset", str(folder / "test.ts"),
                     "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["accuracy"] == pytest.approx(evaluation["accuracy"])
    assert np.sum(again["confusion_matrix"]) == len(test)


def test_predict_gives_one_row_per_case_with_its_id(files, trained, capsys):
    folder, _, test = files
    assert cli.main(["predict", str(trained), str(folder / "test.ts"), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert len(rows) == len(test) and {r["label"] for r in rows} <= set(LABELS)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-5 for r in rows)
    assert [r["id"] for r in rows] == list(test.ids)


def test_padding_and_batch_mates_never_change_a_prediction(files, trained):
    _, _, test = files
    predictor = rnnlab.load_run(trained)
    examples = predictor.examples(test)
    alone = np.concatenate([predictor.proba(examples.take([i])) for i in range(6)])
    together = predictor.proba(examples.take(list(range(6))))
    np.testing.assert_allclose(together, alone, atol=1e-6)
    x = examples.x.clone()
    steps = torch.arange(x.shape[1])[None, :, None]
    x = torch.where(steps >= examples.lengths[:, None, None], torch.full_like(x, 1e4), x)
    poisoned = Examples(x, examples.lengths, examples.y, examples.labels, examples.ids)
    np.testing.assert_allclose(predictor.proba(poisoned), predictor.proba(examples),
                               atol=1e-6)


def test_the_scaler_is_fitted_on_the_training_part_only(files, trained):
    _, train, _ = files
    config = json.loads((trained / "config.json").read_text())
    scaler = json.loads((trained / "scaler.json").read_text())
    n = config["data"]["train_size"]
    assert n < len(train) and config["data"]["val_size"] == len(train) - n
    mean = np.asarray(scaler["mean"])
    everything = np.concatenate(train.sequences).mean(axis=0)
    assert not np.allclose(mean, everything, atol=1e-6)  # the validation part is left out


def _long_csv(path, data):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "t", "a", "b", "label"])
        for case, seq, y in zip(data.ids, data.sequences, data.y, strict=True):
            for t, (a, b) in enumerate(seq):
                w.writerow([case, t, a, b, data.labels[y]])


def test_long_csv_and_npz_train_with_class_weights(files, tmp_path):
    _, train, _ = files
    _long_csv(tmp_path / "train.csv", train)
    write_npz(tmp_path / "train.npz", train)
    for name in ("train.csv", "train.npz"):
        run = tmp_path / name.replace(".", "_")
        argv = ["train", "classify", "--dataset", str(tmp_path / name), "--out", str(run),
                "--class-weight", "balanced", "--max-steps", "2", *FAST]
        if name.endswith(".csv"):
            argv += ["--id-column", "id", "--time-column", "t"]
        assert cli.main(argv) == 0, name
        config = json.loads((run / "config.json").read_text())
        assert config["data"]["kind"] == "sequences" and len(config["data"]["class_weights"]) == 3


def test_a_malformed_file_is_one_line_and_creates_no_run(tmp_path, capsys):
    bad = tmp_path / "bad.ts"
    bad.write_text("@problemName x\n@classLabel true a b\n@data\n1,2,3:a\n1,2,oops:b\n")
    run = tmp_path / "run"
    assert cli.main(["train", "classify", "--dataset", str(bad), "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and "bad.ts" in err and err.count("\n") == 1
    assert not run.exists()
    assert cli.main(["train", "classify", "--dataset", str(tmp_path / "nope.ts"), "--out",
                     str(run)]) == 2
    assert "nope.ts" in capsys.readouterr().err and not run.exists()


def test_the_minirocket_member_is_saved_calibrated_and_kept_on_resume(trained):
    config = json.loads((trained / "config.json").read_text())
    member = config["model"]["rocket"]
    assert member["temperature"] > 0 and 0 <= member["loo_accuracy"] <= 1
    assert config["config"]["model"]["rocket"] == "auto"  # as given; resolved: on for files
    before = (trained / "rocket.safetensors").read_bytes()
    assert cli.main(["train", "classify", "--resume", "--out", str(trained), "--epochs", "4",
                     "--quiet"]) == 0
    assert (trained / "rocket.safetensors").read_bytes() == before


def test_rocket_off_trains_the_network_alone(files, tmp_path):
    folder, _, _ = files
    run = tmp_path / "alone"
    assert cli.main(["train", "classify", "--dataset", str(folder / "train.ts"), "--rocket",
                     "off", "--max-steps", "2", "--out", str(run), *FAST]) == 0
    assert not (run / "rocket.safetensors").exists()
    assert "rocket" not in json.loads((run / "config.json").read_text())["model"]
