"""The default text model (nblr) in a run folder, and the predict command's stdin and --top-k."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import rnnlab
from rnnlab import cli
from rnnlab.config import from_dict
from rnnlab.data.texts import texts_from_lines
from rnnlab.errors import ConfigError, DataError
from rnnlab.runs import RunDir
from rnnlab.tasks.text import TextTask
from rnnlab.tasks.text_config import TextConfig, TextData, TextModel
from rnnlab.tasks.text_data import load_texts, split_indices

WORDS = {"pos": ["great", "wonderful", "superb", "loved"], "neg": ["awful", "boring", "hated"],
         "meh": ["okay", "average", "fine"]}
FILLER = ["the", "movie", "plot", "actor", "scene", "it", "was", "and"]
REPORT = {"accuracy", "loss", "examples", "labels", "per_class", "confusion_matrix", "split",
          "weights"}


def _csv(path: Path, n: int = 90, labels=("pos", "neg", "meh"), seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(n):
            label = labels[i % len(labels)]
            words = rng.choices(FILLER, k=5) + rng.choices(WORDS[label], k=2)
            rng.shuffle(words)
            writer.writerow([" ".join(words) + (" !" if label == "pos" else ""), label])
    return path


@pytest.fixture(scope="module")
def run3(tmp_path_factory):
    root = tmp_path_factory.mktemp("nblr")
    data = _csv(root / "texts.csv")
    run = RunDir(root / "run")
    result = TextTask().train(TextConfig(data=TextData(input=str(data))), run)
    return data, run, result


def test_the_default_model_is_nblr_and_the_named_models_keep_their_defaults():
    assert TextConfig().model.model == "nblr"
    named = TextModel(model="flatten")
    assert (named.maxlen, named.num_words, named.embedding_dim, named.bigram_buckets) == \
        (50, 10000, 8, 0)
    assert TextConfig().fit.optimizer == "rmsprop"  # the notebook's models' fit defaults
    with pytest.raises(ConfigError, match="c=0"):
        TextModel(c=0)
    with pytest.raises(ConfigError, match="ngrams=9"):
        TextModel(ngrams=9)
    with pytest.raises(ConfigError, match="class_weight"):
        TextModel(class_weight="inverse")
    with pytest.raises(ConfigError, match="nblr model learns one weight"):
        TextModel(embedding="glove-6b-50d")


def test_a_run_holds_fits_files_and_scores_its_validation_part(run3):
    data, run, result = run3
    names = {p.name for p in run.path.iterdir()}
    assert {"config.json", "best.safetensors", "last.safetensors", "metrics.csv",
            "metrics.json", "tokenizer.json"} <= names
    saved = run.load_config()
    assert saved["version"] == 2 and saved["task"] == "text"
    assert saved["model"]["kind"] == "nblr" and saved["model"]["num_classes"] == 3
    assert from_dict(TextConfig, saved["config"]).model.model == "nblr"
    assert saved["data"]["classes"] == ["meh", "neg", "pos"]
    scores = TextTask().evaluate(run)
    assert set(scores) >= REPORT and scores["split"] == "val"
    assert scores["labels"] == ["meh", "neg", "pos"] and scores["examples"] == 9
    assert scores["accuracy"] == result.history.rows[0]["val_accuracy"]
    # the reference: the validation texts drawn by hand, classified one by one
    texts, labels, classes = load_texts(TextData(input=str(data)))
    _, val = split_indices(len(texts), 0.1, None)
    predictor = rnnlab.load_run(run.path)
    one_by_one = [predictor.predict([texts[i]])[0][0] for i in val]
    truth = [classes[labels[i]] for i in val]
    assert scores["accuracy"] == pytest.approx(
        sum(p == t for p, t in zip(one_by_one, truth, strict=True)) / len(val))
    assert TextTask().evaluate(run, split="train")["accuracy"] > 0.9


def test_predict_rows_and_unknown_words_warn(run3, caplog):
    _, run, _ = run3
    with caplog.at_level(logging.WARNING):
        rows = TextTask().predict(run, inputs={"text": ["superb loved it !", "boring awful",
                                                        "zzzz qqqq"]})
    assert [r["label"] for r in rows[:2]] == ["pos", "neg"]
    assert set(rows[0]["probabilities"]) == {"meh", "neg", "pos"}
    assert sum(rows[2]["probabilities"].values()) == pytest.approx(1.0)
    assert "1 of 3 texts hold no word the model knows (texts 2)" in caplog.text


def test_resume_reads_the_tokenizer_and_refits_the_same_model(run3, tmp_path):
    data, run, _ = run3
    import shutil

    copy = RunDir(tmp_path / "copy")
    shutil.copytree(run.path, copy.path)
    before = (copy.path / "tokenizer.json").read_bytes()
    weights = load_file(copy.path / "best.safetensors")
    TextTask().train(TextConfig(data=TextData(input=str(data))), copy, resume=True)
    assert (copy.path / "tokenizer.json").read_bytes() == before
    again = load_file(copy.path / "best.safetensors")
    for name in ("model.weight", "model.bias", "model.columns"):  # deterministic
        assert torch.equal(again[name], weights[name])


def test_balanced_class_weights_and_few_examples_warn(tmp_path, caplog):
    data = _csv(tmp_path / "few.csv", n=16, labels=("pos", "neg"))
    run = RunDir(tmp_path / "run")
    config = TextConfig(data=TextData(input=str(data)),
                        model=TextModel(class_weight="balanced", model="nblr"))
    with caplog.at_level(logging.WARNING):
        TextTask().train(config, run)
    assert "few training texts" in caplog.text and "'neg': " in caplog.text
    saved = run.load_config()
    assert saved["data"]["class_weights"] == pytest.approx([1.0, 1.0], abs=0.2)


def test_a_named_model_takes_class_weights_too(tmp_path):
    data = _csv(tmp_path / "t.csv", n=40, labels=("pos", "neg"))
    run = RunDir(tmp_path / "bag")
    model = TextModel(model="bag", maxlen=10, num_words=40, embedding_dim=4,
                      class_weight="balanced")
    fit = TextConfig().fit.__class__(epochs=1, batch_size=8, plot=False)
    TextTask().train(TextConfig(data=TextData(input=str(data)), model=model, fit=fit), run)
    assert run.load_config()["data"]["class_weights"] is not None


def test_texts_from_lines_keeps_one_text_per_line_and_names_bad_bytes():
    assert texts_from_lines(b"__label__pos loved it\r\nboring\n\nodd\xe2\x80\xa8sep\n") == \
        ["loved it", "boring", "", "odd\u2028sep"]
    with pytest.raises(DataError, match="no texts"):
        texts_from_lines(b"")
    with pytest.raises(DataError, match=r"<stdin>: line 2: bad UTF-8"):
        texts_from_lines(b"fine\nbad \xff here\n")


def _stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_predict_reads_standard_input_once_with_top_k(run3, monkeypatch, capsys):
    _, run, _ = run3
    _stdin(monkeypatch, b"superb loved !\nboring hated\n")
    assert cli.main(["predict", str(run.path), "--input", "-", "--json", "--top-k", "2",
                     "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["label"] for r in rows] == ["pos", "neg"] and [r["index"] for r in rows] == [0, 1]
    assert rows[0]["top_k"][0]["label"] == "pos" and len(rows[0]["top_k"]) == 2
    assert rows[0]["top_k"][0]["probability"] == rows[0]["probability"]
    _stdin(monkeypatch, b"superb loved !\n")
    assert cli.main(["predict", str(run.path), "--input", "-", "--top-k", "3",
                     "--quiet"]) == 0
    header, first = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["index", "top_k"]
    assert first.split("\t")[1].startswith("pos ") and first.count("  ") == 2
    _stdin(monkeypatch, b"ok\n\xff\n")
    assert cli.main(["predict", str(run.path), "--input", "-", "--quiet"]) != 0
    assert "line 2: bad UTF-8" in capsys.readouterr().err
