"""``rnnlab word2vec`` and ``rnnlab vectors``, in-process, on a small generated corpus."""

from __future__ import annotations

import json
import random

import pytest

from rnnlab import cli
from rnnlab.embeddings import load_word_vectors


def test_word2vec_then_vectors_commands(tmp_path, capsys):
    rng = random.Random(0)
    animals, tools = ["cat", "dog", "cow", "pig"], ["saw", "drill", "hammer", "wrench"]
    lines = [" ".join(rng.choices(group, k=8)) for _ in range(300)
             for group in (animals, tools)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines))
    out = tmp_path / "vectors.bin"
    assert cli.main(["word2vec", str(corpus), "--out", str(out), "--binary", "--dim", "16",
                     "--min-count", "1", "--epochs", "3", "--workers", "1", "--quiet"]) == 0
    wv = load_word_vectors(out)
    assert set(wv.words) == set(animals + tools) and wv.dim == 16
    capsys.readouterr()

    assert cli.main(["vectors", "neighbours", str(out), "cat", "--topn", "3"]) == 0
    neighbours = [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()]
    assert set(neighbours) <= set(animals)  # the planted clusters are learnt

    assert cli.main(["vectors", "analogy", str(out), "cat", "dog", "saw", "--topn", "1"]) == 0
    answer = capsys.readouterr().out.split("\t")[0]
    assert answer in set(animals + tools) - {"cat", "dog", "saw"}  # never a question word

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("cat\tdog\t9\ncat\tsaw\t1\ndrill\tsaw\t8\ncow\thammer\t2\n")
    assert cli.main(["vectors", "evaluate", str(out), "--pairs", str(pairs), "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["pairs_spearman"] > 0.5


def test_vectors_evaluate_needs_a_file(tmp_path, capsys):
    path = tmp_path / "v.txt"
    path.write_text("2 2\na 1 0\nb 0 1\n")
    assert cli.main(["vectors", "evaluate", str(path)]) == 2
    assert "--analogies" in capsys.readouterr().err


@pytest.mark.timeout(90)
def test_word2vec_on_two_processes_writes_the_two_shard_vectors(tmp_path, capsys):
    rng = random.Random(1)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(rng.choices("abcdefgh", k=10)) for _ in range(200)))
    out, ref = tmp_path / "two.bin", tmp_path / "ref.bin"
    common = ["--binary", "--dim", "8", "--min-count", "1", "--epochs", "2", "--quiet"]
    assert cli.main(["word2vec", str(corpus), "--out", str(out), "--nproc", "2",
                     "--dist-timeout", "30", *common]) == 0
    assert "8 words x 8 dims" in capsys.readouterr().out
    assert cli.main(["word2vec", str(corpus), "--out", str(ref), "--workers", "2",
                     *common]) == 0
    assert out.read_bytes() == ref.read_bytes()  # 2 processes = the 2-shard threads


def test_word2vec_refuses_zero_processes(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n" * 10)
    assert cli.main(["word2vec", str(corpus), "--out", str(tmp_path / "v.txt"),
                     "--nproc", "0"]) == 2
    assert "nproc=0" in capsys.readouterr().err
    assert not (tmp_path / "v.txt").exists()


def _corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 20)
    return corpus


SMALL = ["--dim", "4", "--min-count", "1", "--epochs", "1", "--workers", "1", "--quiet"]


def _one_error_line(capsys, *needles):
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("rnnlab: error: ") and "\n" not in err, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    for needle in needles:
        assert needle in err
    return err


def test_word2vec_refuses_a_corpus_argument_that_is_no_file(tmp_path, capsys):
    out = tmp_path / "v.txt"
    assert cli.main(["word2vec", "hello world hello", "--out", str(out), *SMALL]) == 2
    _one_error_line(capsys, "'hello world hello'", "does not exist")
    assert not out.exists()


def test_word2vec_refuses_a_mistyped_path_among_real_ones(tmp_path, capsys):
    out = tmp_path / "v.txt"
    nope = tmp_path / "nope.txt"
    assert cli.main(["word2vec", str(_corpus(tmp_path)), str(nope), "--out", str(out),
                     *SMALL]) == 2
    _one_error_line(capsys, str(nope))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt"]


def test_word2vec_creates_the_folders_of_out(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    corpus = _corpus(tmp_path)
    assert cli.main(["word2vec", str(corpus), "--out", "nodir/sub/v.txt", *SMALL]) == 0
    assert "-> nodir/sub/v.txt" in capsys.readouterr().out
    wv = load_word_vectors(tmp_path / "nodir" / "sub" / "v.txt")
    assert set(wv.words) == {"the", "cat", "sat", "on", "mat", "dog", "log"}


def test_word2vec_fails_before_training_when_out_cannot_be_written(tmp_path, capsys,
                                                                   monkeypatch):
    from rnnlab.tasks import word2vec as task

    trained = []
    monkeypatch.setattr(task, "train_word2vec", lambda *a, **k: trained.append(1))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = blocker / "sub" / "v.txt"  # its parent would have to be made inside a file
    assert cli.main(["word2vec", str(_corpus(tmp_path)), "--out", str(out), *SMALL]) == 2
    _one_error_line(capsys, str(out), "cannot be written")
    assert trained == [] and blocker.read_text() == "not a folder"


def test_word2vec_refuses_an_existing_out_without_overwrite(tmp_path, capsys):
    import hashlib

    corpus, out = _corpus(tmp_path), tmp_path / "v.txt"
    out.write_text("1 2\nprecious 0.5 0.5\n")
    before = hashlib.sha256(out.read_bytes()).hexdigest()
    listing = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["word2vec", str(corpus), "--out", str(out), *SMALL]) == 2
    _one_error_line(capsys, str(out), "overwrite")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no probe left behind

    assert cli.main(["word2vec", str(corpus), "--out", str(out), "--overwrite", *SMALL]) == 0
    assert "7 words x 4 dims" in capsys.readouterr().out
    assert load_word_vectors(out).words[0] == "the"  # replaced by the new vectors
