"""The word2vec job: corpus and output checked before training, vectors written on rank 0."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.embeddings import load_word_vectors, save_word_vectors
from rnnlab.errors import ConfigError, DataError, DataNotFoundError
from rnnlab.tasks import word2vec as task
from rnnlab.tasks.word2vec import check_corpus, claim_output, run_word2vec, summary_line
from rnnlab.word2vec import Word2VecConfig, train_word2vec

CFG = Word2VecConfig(dim=8, min_count=1, epochs=2, batch_words=50)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 30)
    return path


def test_run_writes_what_the_thread_trainer_returns(tmp_path, corpus):
    """The reference: train_word2vec on the same config (2 threads when workers is None)."""
    wv, history = run_word2vec([corpus], CFG, tmp_path / "v.bin", binary=True)
    ref, ref_history = train_word2vec([corpus], Word2VecConfig(**{**CFG.__dict__,
                                                                 "workers": 2}))
    np.testing.assert_array_equal(wv.vectors, ref.vectors)
    assert [r["loss"] for r in history] == [r["loss"] for r in ref_history]
    save_word_vectors(tmp_path / "ref.bin", ref, binary=True)
    assert (tmp_path / "v.bin").read_bytes() == (tmp_path / "ref.bin").read_bytes()
    assert summary_line(wv, history, "v.bin").startswith("7 words x 8 dims -> v.bin; ")


def test_corpus_arguments_are_paths_that_exist(tmp_path, corpus):
    with pytest.raises(DataNotFoundError, match="'hello world hello' does not exist"):
        check_corpus(["hello world hello"])
    with pytest.raises(DataNotFoundError, match=r"nope\.txt"):
        check_corpus([corpus, tmp_path / "nope.txt"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match=r"no \.txt files"):
        check_corpus([tmp_path / "empty"])
    with pytest.raises(ConfigError, match="corpus"):
        check_corpus([])
    assert check_corpus([str(corpus), tmp_path]) == [corpus, tmp_path]


def test_nothing_is_trained_or_written_after_a_refusal(tmp_path, corpus, monkeypatch):
    monkeypatch.setattr(task, "train_word2vec", lambda *a, **k: pytest.fail("trained"))
    out = tmp_path / "v.txt"
    with pytest.raises(DataNotFoundError):
        run_word2vec(["hello world hello"], CFG, tmp_path / "new" / "v.txt")
    assert not (tmp_path / "new").exists()  # the corpus is checked before folders are made
    out.write_bytes(b"old")
    with pytest.raises(ConfigError, match=r"v\.txt.*overwrite=True"):
        run_word2vec([corpus], CFG, out)
    assert out.read_bytes() == b"old"
    with pytest.raises(ConfigError, match="is a folder"):
        run_word2vec([corpus], CFG, tmp_path)
    with pytest.raises(ConfigError, match="nproc=0"):
        run_word2vec([corpus], CFG, tmp_path / "w.txt", nproc=0)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot be written"):
        run_word2vec([corpus], CFG, tmp_path / "file" / "a" / "v.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "file", "v.txt"]


def test_out_folders_are_made_and_removed_again_when_training_fails(tmp_path, corpus):
    out = tmp_path / "a" / "b" / "v.txt"
    assert claim_output(out) == [tmp_path / "a", tmp_path / "a" / "b"]
    assert out.parent.is_dir() and list(out.parent.iterdir()) == []  # the probe is gone
    out.parent.rmdir()
    (tmp_path / "a").rmdir()
    with pytest.raises(DataError, match="min_count"):
        run_word2vec([corpus], Word2VecConfig(min_count=1000), out)
    assert not (tmp_path / "a").exists()


def test_overwrite_replaces_the_file(tmp_path, corpus):
    out = tmp_path / "v.txt"
    out.write_text("2 1\nx 1\ny 2\n")
    wv, _ = run_word2vec([corpus], CFG, out, overwrite=True)
    assert load_word_vectors(out).words == wv.words


@pytest.mark.timeout(90)
def test_two_processes_write_the_two_shard_vectors(tmp_path, corpus):
    """The reference: the 2-thread trainer, bit for bit; the launched processes write
    nothing but their temp folder, this process writes out."""
    out = tmp_path / "two" / "v.bin"
    wv, history = run_word2vec([corpus], CFG, out, binary=True, nproc=2, timeout_s=30)
    ref, _ = train_word2vec([corpus], Word2VecConfig(**{**CFG.__dict__, "workers": 2}))
    np.testing.assert_array_equal(wv.vectors, ref.vectors)
    np.testing.assert_array_equal(load_word_vectors(out).vectors, ref.vectors)
    assert all(row["processes"] == 2 for row in history)
    assert sorted(p.name for p in out.parent.iterdir()) == ["v.bin"]
