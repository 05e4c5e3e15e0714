"""The classify job end to end, in-process: train, evaluate, predict, load_run."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rnnlab
from rnnlab import cli
from rnnlab.data.idx import write_idx
from rnnlab.errors import ShapeError
from rnnlab.tasks.classify import ClassifyConfig, ImagePredictor, train_classify
from rnnlab.train import FitConfig


@pytest.fixture
def fake_mnist(tmp_path):
    """A tiny MNIST-format dataset (real IDX files): class = which row is bright."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "mnist"
    folder.mkdir()
    for split, n in (("train", 200), ("t10k", 50)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels * 2 + 3, :] = 255
        write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte.gz", labels)
    return folder


def test_train_evaluate_predict_on_idx_files(fake_mnist, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "classify", "--dataset", "mnist", "--data-dir", str(fake_mnist),
            "--model", "gru", "--units", "16", "--epochs", "6", "--batch-size", "16",
            "--lr", "0.01", "--val-size", "40", "--out", str(run), "--quiet", "--threads", "1"]
    assert cli.main(argv) == 0
    assert "run folder" in capsys.readouterr().out
    for name in ("config.json", "metrics.csv", "metrics.json", "last.safetensors", "curves.png"):
        assert (run / name).exists(), name
    config = json.loads((run / "config.json").read_text())
    assert config["task"] == "classify" and config["data"]["val_size"] == 40

    assert cli.main(["evaluate", str(run), "--json", "--quiet"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["examples"] == 50 and scores["accuracy"] > 0.5  # chance is 0.1

    test_images = fake_mnist / "t10k-images-idx3-ubyte.gz"
    assert cli.main(["predict", str(run), str(test_images), "--json", "--quiet"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 50 and all(0 <= r["probability"] <= 1 for r in rows)

    predictor = rnnlab.load_run(run)
    assert isinstance(predictor, ImagePredictor)
    labels, _ = predictor.predict(rnnlab.data.idx.read_idx(test_images))
    assert [r["label"] for r in rows] == [predictor.classes[i] for i in labels]
    with pytest.raises(ShapeError, match="28x28"):
        predictor.predict(np.zeros((1, 8, 8), np.uint8))


@pytest.mark.parametrize("model", ["rnn", "lstm", "bnmlp"])
def test_each_model_runs_a_few_steps_on_embedded_digits(model, tmp_path):
    _, history = train_classify(ClassifyConfig(dataset="digits", model=model, units=8),
                                FitConfig(epochs=1, batch_size=32, max_steps=3, device="cpu"),
                                run_dir=tmp_path / model)
    assert history.step == 3 and np.isfinite(history.rows[-1]["val_loss"])


def test_same_seed_same_metrics(tmp_path):
    def run(name):
        _, history = train_classify(ClassifyConfig(dataset="digits", model="rnn", units=8),
                                    FitConfig(epochs=2, batch_size=64, seed=5, device="cpu"),
                                    run_dir=tmp_path / name)
        return history.rows

    assert run("a") == run("b")


def test_predict_png(tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    assert cli.main(["train", "classify", "--model", "gru", "--units", "8", "--max-steps", "2",
                     "--out", str(run), "--quiet"]) == 0
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(tmp_path / "digit.png")
    capsys.readouterr()
    assert cli.main(["predict", str(run), str(tmp_path / "digit.png"), "--json"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["file"].endswith("digit.png") and row["label"] in [str(i) for i in range(10)]


def test_missing_dataset_is_one_clear_line(tmp_path, capsys):
    code = cli.main(["train", "classify", "--dataset", "mnist", "--data-dir",
                     str(tmp_path / "nothing"), "--out", str(tmp_path / "r"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("rnnlab: error:") and "train-images-idx3-ubyte" in err


def test_auto_start_is_irnn_for_rnn_and_keras_otherwise():
    assert (ClassifyConfig(model="rnn").init, ClassifyConfig(model="rnn").activation) == (
        "irnn", "relu")
    assert (ClassifyConfig(model="gru").init, ClassifyConfig(model="gru").activation) == (
        "keras", "tanh")
