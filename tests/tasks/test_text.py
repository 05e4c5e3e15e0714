"""The text task on the task contract: the run-folder rule, evaluate's splits, .txt inputs."""

from __future__ import annotations

import csv
import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pytest

import rnnlab
from rnnlab import cli
from rnnlab.config import from_dict, to_dict
from rnnlab.errors import ConfigError, DataNotFoundError
from rnnlab.runs import RunDir
from rnnlab.tasks.base import get_task
from rnnlab.tasks.text import TextTask
from rnnlab.tasks.text_config import TextConfig, TextData, TextModel
from rnnlab.tasks.text_data import load_texts, split_indices

GOOD = ["great", "wonderful", "superb", "loved", "brilliant"]
BAD = ["awful", "boring", "terrible", "hated", "dreadful"]
FILLER = ["the", "movie", "plot", "actor", "scene", "it", "was", "and"]
REPORT = {"accuracy", "loss", "examples", "labels", "per_class", "confusion_matrix", "split",
          "weights"}


def _rows(seed: int, n: int = 60, good=GOOD, bad=BAD):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        pos = i % 2 == 0
        words = rng.choices(FILLER, k=5) + rng.choices(good if pos else bad, k=2)
        rng.shuffle(words)
        rows.append((" ".join(words), "pos" if pos else "neg"))
    return rows


def _write_csv(path: Path, rows) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def _train(csv_path, run, *extra) -> int:
    return cli.main(["train", "text", "--input", str(csv_path), "--model", "bag", "--maxlen",
                     "10", "--num-words", "40", "--embedding-dim", "4", "--epochs", "2",
                     "--lr", "0.05", "--optimizer", "adam", "--out", str(run), "--quiet",
                     "--device", "cpu", *extra])


def _hashes(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def csv_run(tmp_path):
    data = _write_csv(tmp_path / "texts.csv", _rows(0))
    run = tmp_path / "run"
    assert _train(data, run) == 0
    return data, run


def test_task_is_registered_as_text_with_the_sentiment_alias(csv_run):
    assert get_task("text") is get_task("sentiment")
    assert isinstance(get_task("text"), TextTask)
    saved = json.loads((csv_run[1] / "config.json").read_text())
    assert saved["task"] == "text" and saved["version"] == 2
    config = from_dict(TextConfig, saved["config"])
    assert config.data.input == str(csv_run[0]) and config.model.model == "bag"
    assert config.fit.epochs == 2 and config.fit.optimizer == "adam"
    assert saved["data"]["classes"] == ["neg", "pos"]
    assert (saved["data"]["train_size"], saved["data"]["val_size"]) == (54, 6)
    assert to_dict(TextConfig())["fit"]["optimizer"] == "rmsprop"


def test_a_refused_train_changes_no_byte_of_the_run(csv_run, tmp_path, capsys):
    run = csv_run[1]
    other = _write_csv(tmp_path / "other.csv", _rows(5, good=["fine"], bad=["poor"]))
    before = _hashes(run)
    for command in ("text", "sentiment"):
        code = cli.main(["train", command, "--input", str(other), "--model", "gru",
                         "--num-words", "20", "--out", str(run), "--quiet"])
        assert code == 2
    assert "already holds a run" in capsys.readouterr().err
    assert _hashes(run) == before


def test_resume_reads_the_tokenizer_from_the_run(csv_run):
    data, run = csv_run
    tokenizer = (run / "tokenizer.json").read_bytes()
    # Same number of texts and labels, other words: a refitted tokenizer would differ.
    _write_csv(data, _rows(1, good=["fine", "nice"], bad=["poor", "weak"]))
    assert _train(data, run, "--epochs", "3", "--resume") == 0
    assert (run / "tokenizer.json").read_bytes() == tokenizer
    assert len(RunDir(run).read_metrics()) == 3


def test_resume_needs_a_run_and_refuses_overwrite_with_it(tmp_path, csv_run):
    data, run = csv_run
    with pytest.raises(ConfigError, match="no run to resume"):
        rnnlab.tasks.sentiment.train_sentiment(
            rnnlab.tasks.sentiment.SentimentConfig(input=str(data)), TextConfig().fit,
            run_dir=tmp_path / "empty", resume=True)
    assert not (tmp_path / "empty").exists()
    assert _train(data, run, "--resume", "--overwrite") == 2


def test_evaluate_a_run_of_own_texts_scores_its_validation_part(csv_run, capsys):
    data, run = csv_run
    capsys.readouterr()
    assert cli.main(["evaluate", str(run), "--json", "--quiet", "--device", "cpu"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) >= REPORT and scores["split"] == "val" and scores["weights"] == "best"
    # The reference: the same validation texts drawn by hand, scored by the predictor.
    texts, labels, _ = load_texts(TextData(input=str(data)))
    _, val = split_indices(len(texts), 0.1, None)
    predicted, _ = rnnlab.load_run(run).predict([texts[i] for i in val])
    truth = [("neg", "pos")[labels[i]] for i in val]
    assert scores["examples"] == len(val) == 6
    pairs = list(zip(predicted, truth, strict=True))
    assert scores["accuracy"] == pytest.approx(np.mean([p == t for p, t in pairs]))
    matrix = [[sum(t == a and p == b for p, t in pairs) for b in ("neg", "pos")]
              for a in ("neg", "pos")]
    assert scores["confusion_matrix"] == matrix and scores["labels"] == ["neg", "pos"]
    assert scores["per_class"]["pos"]["support"] == truth.count("pos")


@pytest.mark.parametrize(("split", "examples"), [("train", 54), ("val", 6), (None, 60)])
def test_evaluate_splits_and_a_given_file(csv_run, split, examples):
    data, run = csv_run
    task = TextTask()
    given = {} if split else {"input": str(data)}
    scores = task.evaluate(RunDir(run), data=given, split=split)
    assert scores["examples"] == examples and scores["split"] == (split or "all")
    assert sum(map(sum, scores["confusion_matrix"])) == examples


def test_evaluate_an_imdb_run_defaults_to_its_test_split(tmp_path):
    for split, n in (("train", 30), ("test", 10)):
        for label, rows in (("pos", _rows(7, n=2 * n)[::2]), ("neg", _rows(7, n=2 * n)[1::2])):
            folder = tmp_path / "aclImdb" / split / label
            folder.mkdir(parents=True)
            for i, (text, _) in enumerate(rows):
                (folder / f"{i}_{8 if label == 'pos' else 2}.txt").write_text(text)
    run = tmp_path / "imdb"
    assert cli.main(["train", "text", "--data-dir", str(tmp_path), "--model", "bag",
                     "--epochs", "1", "--out", str(run), "--quiet"]) == 0
    task, folder = TextTask(), RunDir(run)
    assert task.evaluate(folder)["split"] == "test"
    assert task.evaluate(folder)["examples"] == 20
    assert task.evaluate(folder, split="val")["examples"] == 6
    assert task.evaluate(folder, split="train")["examples"] == 54
    with pytest.raises(DataNotFoundError, match="download=True"):
        task.evaluate(folder, data={"data_dir": str(tmp_path / "nowhere")})


def test_evaluate_test_split_of_own_texts_says_what_to_do(csv_run):
    with pytest.raises(ConfigError, match="split='val'"):
        TextTask().evaluate(RunDir(csv_run[1]), split="test")
    with pytest.raises(ConfigError, match="split"):
        TextTask().evaluate(RunDir(csv_run[1]), split="validation")


def test_evaluate_weights_selects_the_checkpoint(csv_run, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(csv_run[1], run)
    (run / "last.safetensors").unlink()
    assert TextTask().evaluate(RunDir(run), weights="best")["weights"] == "best"
    with pytest.raises(DataNotFoundError, match="checkpoint"):
        TextTask().evaluate(RunDir(run), weights="last")


def test_predict_rows_have_the_users_labels(csv_run, tmp_path):
    run = csv_run[1]
    lines = tmp_path / "new.txt"
    lines.write_text("__label__pos superb brilliant loved\nawful boring dreadful\n")
    rows = TextTask().predict(RunDir(run), inputs={"text": ["great wonderful movie"],
                                                   "input": str(lines)})
    proba = rnnlab.load_run(run).predict_proba(["great wonderful movie", "superb brilliant loved",
                                                "awful boring dreadful"])
    assert [r["index"] for r in rows] == [0, 1, 2] and rows[1]["source"] == f"{lines}:1"
    for row, p in zip(rows, proba, strict=True):
        assert set(row["probabilities"]) == {"neg", "pos"}
        assert row["probabilities"]["pos"] == pytest.approx(p[1])
        assert row["label"] == ("neg", "pos")[int(p.argmax())]
    with pytest.raises(ConfigError, match="not files"):
        TextTask().predict(RunDir(run), inputs={"files": ["x.png"]})
    with pytest.raises(ConfigError, match="unknown"):
        TextTask().predict(RunDir(run), inputs={"txt": ["a"]})


def test_train_and_predict_on_fasttext_lines(tmp_path, capsys):
    path = tmp_path / "train.txt"
    path.write_text("".join(f"__label__{lab} {text}\n" for text, lab in _rows(2, n=80)))
    run = tmp_path / "ft"
    assert cli.main(["train", "text", "--input", str(path), "--model", "bag", "--maxlen", "10",
                     "--num-words", "40", "--epochs", "15", "--lr", "0.05", "--optimizer",
                     "adam", "--out", str(run), "--quiet"]) == 0
    ask = tmp_path / "ask.txt"
    ask.write_text("__label__pos superb loved brilliant\nboring hated awful\n")
    capsys.readouterr()
    assert cli.main(["predict", str(run), "--input", str(ask), "--json", "--quiet"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert cli.main(["evaluate", str(run), "--dataset", str(path), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["examples"] == 80


def test_a_single_label_is_named(tmp_path, capsys):
    data = _write_csv(tmp_path / "one.csv", [(t, "pos") for t, _ in _rows(3)])
    assert _train(data, tmp_path / "run") == 2
    assert "only the label 'pos'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_no_source_and_no_cache_says_which_settings_to_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("RNNLAB_DATA", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"input=PATH.*download=True"):
        load_texts(TextData())


def test_parts_check_their_fields():
    with pytest.raises(ConfigError, match="not several"):
        TextData(input="a.csv", tarball="b.tar.gz")
    with pytest.raises(ConfigError, match="num_words=1"):
        TextModel(num_words=1)
    with pytest.raises(ConfigError, match="unknown"):
        from_dict(TextConfig, {"model": {"units": 3}})


def test_every_flag_of_the_old_parser_is_a_config_field():
    import argparse
    import dataclasses

    from rnnlab.config import flag_of

    parser = cli.build_parser()
    train = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    jobs = next(a for a in train.choices["train"]._actions
                if isinstance(a, argparse._SubParsersAction))
    text = jobs.choices["text"]
    assert jobs.choices["sentiment"] is text
    common = {"--seed", "--device", "--threads", "--quiet", "--debug", "--out", "--resume",
              "--overwrite", "--nproc", "--dist-timeout", "--help"}
    old = {o for a in text._actions for o in a.option_strings if o.startswith("--")} - common
    flags = {}
    for part in (TextData, TextModel, type(TextConfig().fit)):
        for f in dataclasses.fields(part):
            flag = flag_of(part, f.name)
            assert flag not in flags, f"{flag} is declared twice"
            flags[flag] = f.name
    assert old <= set(flags), old - set(flags)
    assert (flags["--units"], flags["--layers"], flags["--bigrams"]) == (
        "hidden", "num_layers", "bigram_buckets")


# --------------------------------------------------------------------------- 0.1.0 runs

FIXTURE = Path(__file__).parent.parent / "fixtures" / "v1" / "sentiment"


@pytest.fixture
def v1(tmp_path, monkeypatch):
    """A copy of the runs rnnlab 0.1.0 wrote; they name their texts relatively."""
    import shutil

    shutil.copytree(FIXTURE, tmp_path / "v1")
    monkeypatch.chdir(tmp_path / "v1")
    return json.loads((tmp_path / "v1" / "expected.json").read_text())


@pytest.mark.parametrize("model", ["bag", "gru"])
def test_v1_runs_migrate_evaluate_and_predict(v1, model, capsys):
    saved = RunDir(model).load_config()
    assert "version" not in saved and saved["task"] == "sentiment"
    config = TextTask().config_from_saved(saved)
    assert config.data.input == "texts.csv" and config.model.model == model
    assert config.fit.epochs == 1 and config.fit.optimizer == "rmsprop"
    rows = TextTask().predict(RunDir(model), inputs={"text": v1["texts"]})
    for row, old in zip(rows, v1[model]["predict"], strict=True):
        assert row["label"] == old["label"]
        assert row["probability"] == pytest.approx(old["probability"], abs=1e-6)
    whole = TextTask().evaluate(RunDir(model), data={"input": "texts.csv"})
    old = v1[model]["evaluate_whole_file"]
    assert whole["examples"] == old["examples"] == 40
    assert whole["loss"] == pytest.approx(old["loss"], abs=1e-5)
    assert whole["accuracy"] == pytest.approx(old["accuracy"], abs=1e-6)
    capsys.readouterr()
    assert cli.main(["evaluate", model, "--json", "--quiet"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["split"] == "val" and scores["examples"] == saved["data"]["val_size"]


@pytest.mark.parametrize("model", ["bag", "gru"])
def test_v1_runs_resume(v1, model):
    tokenizer = Path(model, "tokenizer.json").read_bytes()
    # Flags not typed take the run's values (the parser's --model flatten is not used).
    assert cli.main(["train", "sentiment", "--out", model, "--resume",
                     "--epochs", "2", "--quiet", "--device", "cpu"]) == 0
    rows = RunDir(model).read_metrics()
    assert [r["epoch"] for r in rows] == [1, 2]
    assert Path(model, "tokenizer.json").read_bytes() == tokenizer
    assert isinstance(rnnlab.load_run(model), rnnlab.tasks.sentiment.TextPredictor)
