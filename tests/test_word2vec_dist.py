"""Word2vec on several processes: one process is train_word2vec, two are its 2-shard mode.

References: ``train_word2vec(workers=1)`` for one process (bit-identical), and
``train_word2vec`` with ``workers=2`` or ``deterministic=True`` (2 shards) for two gloo
processes on loopback (bit-identical: the same float32 additions in the same order).
Quality on a planted structure (10 topics of 10 words, 20 filler words): precision@5 of
same-topic neighbours, measured 1.0 for one process and 1.0 for two.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlab import distributed
from rnnlab import word2vec_dist as w2v_dist
from rnnlab.embeddings import save_word_vectors
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, TrainingError
from rnnlab.word2vec import Word2VecConfig, train_word2vec
from rnnlab.word2vec.kernels import apply_capped as _apply_capped
from rnnlab.word2vec.kernels import apply_deltas as _apply_deltas
from rnnlab.word2vec.kernels import pack_deltas as _pack_deltas
from rnnlab.word2vec_dist import train_word2vec_distributed, train_word2vec_in_job

SRC = Path(__file__).resolve().parents[1] / "src"
CFG = Word2VecConfig(dim=32, window=4, negative=5, min_count=1, sample=1e-3, epochs=3,
                     workers=1, batch_words=500, alpha=0.025)

# Kills itself (SIGKILL) on rank 1 at the third sync point, then runs the launched main.
KILL_WORKER = '''
import os
import signal
import sys

import rnnlab.word2vec_dist as w2v

calls = []
merge = w2v._Merger.__call__


def dying_merge(self, *args):
    calls.append(1)
    if len(calls) == 3 and os.environ["RANK"] == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    return merge(self, *args)


w2v._Merger.__call__ = dying_merge
sys.exit(w2v.main())
'''


def _planted(path: Path, n: int = 1500, seed: int = 0) -> list[list[str]]:
    """Sentences mostly from one of 10 ten-word topics, 30% filler words; returns topics."""
    rng = np.random.default_rng(seed)
    topics = [[f"t{t}w{i}" for i in range(10)] for t in range(10)]
    filler = [f"f{i}" for i in range(20)]
    lines = []
    for _ in range(n):
        topic = topics[rng.integers(10)]
        lines.append(" ".join(topic[rng.integers(10)] if rng.random() < 0.7
                              else filler[rng.integers(20)] for _ in range(rng.integers(8, 16))))
    path.write_text("\n".join(lines) + "\n")
    return topics


def _precision_at_5(wv, topics) -> float:
    unit = wv.vectors / np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    idx = wv.index()
    hits = []
    for topic in topics:
        rows = {idx[w] for w in topic}
        for w in topic:
            scores = unit @ unit[idx[w]]
            scores[idx[w]] = -np.inf
            hits.extend(j in rows for j in np.argsort(-scores)[:5])
    return float(np.mean(hits))


def _job(tmp_path: Path) -> dict:
    """What train_word2vec_distributed hands its launched processes."""
    corpus = tmp_path / "corpus.txt"
    _planted(corpus)
    return {"corpus": [str(corpus)], "config": CFG.__dict__, "out": str(tmp_path / "v.txt"),
            "binary": False, "bar": False, "history": str(tmp_path / "history.json")}


def _env(tmp_path: Path, **extra) -> dict[str, str]:
    (tmp_path / "w2v_kill_worker.py").write_text(KILL_WORKER)
    path = os.pathsep.join([str(tmp_path), str(SRC), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path, **extra}


@pytest.mark.parametrize(("model", "loss"), [("skipgram", "neg"), ("cbow", "nce")])
def test_one_process_is_train_word2vec_bit_for_bit(tmp_path, model, loss):
    corpus = tmp_path / "corpus.txt"
    _planted(corpus, n=300)
    cfg = Word2VecConfig(**{**CFG.__dict__, "model": model, "loss": loss})
    ref, ref_history = train_word2vec([corpus], cfg)
    wv, history = train_word2vec_in_job([corpus], cfg)  # the sharded loop, with W = 1
    assert wv.words == ref.words
    np.testing.assert_array_equal(wv.vectors, ref.vectors)
    for got, want in zip(history, ref_history, strict=True):
        assert got["loss"] == want["loss"] and got["pairs"] == want["pairs"]
        assert got["processes"] == 1

    save_word_vectors(tmp_path / "ref.txt", ref)
    train_word2vec_distributed([corpus], cfg, tmp_path / "one.txt", nproc=1)
    assert (tmp_path / "one.txt").read_bytes() == (tmp_path / "ref.txt").read_bytes()


def test_merge_sums_deltas_in_rank_order_and_caps_rows_many_ranks_moved():
    rng = np.random.default_rng(0)
    V, Dm, W = 6, 3, 3
    base = rng.normal(size=(V, Dm)).astype(np.float32)
    moved = [base.copy() for _ in range(W)]
    rows = np.array([0, 2, 4])
    touchers = np.array([1, 0, 3, 0, 2, 0], np.int32)  # ranks that moved each row
    for r, n in zip(rows, touchers[rows], strict=True):
        for s in range(n):
            moved[s][r] += rng.normal(size=Dm).astype(np.float32)
    deltas = np.zeros((W, rows.size * Dm), np.float32)
    for s in range(W):
        _pack_deltas(moved[s], base, rows, deltas[s].reshape(rows.size, Dm))
    np.testing.assert_array_equal(deltas[1, :Dm], 0)  # an untouched row's delta is exact 0

    p, b = base.copy(), base.copy()  # two ranks: (base + d0) + d1, in float32
    _apply_deltas(p, b, rows, deltas[:2], 0)
    want = base.copy()
    want[rows] = (base[rows] + (moved[0][rows] - base[rows])) + (moved[1][rows] - base[rows])
    np.testing.assert_array_equal(p, want)
    np.testing.assert_array_equal(b, want)

    p, b = base.copy(), base.copy()  # three ranks: the row all three moved goes 2/3 of the sum
    _apply_capped(p, b, rows, deltas, 0, touchers, 2)
    total = sum(m - base for m in moved)
    scale = np.where(touchers > 2, 2 / np.maximum(touchers, 1), 1.0)[:, None]
    np.testing.assert_allclose(p, base + total * scale, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(p, b)


def test_a_process_that_reads_other_files_stops_every_rank(tmp_path, monkeypatch):
    class OtherCorpusOnRank1:  # what rank 0 sees when rank 1's vocabulary differs
        rank, world = 0, 2

        def __init__(self, group):
            pass

        def all_gather(self, x, out=None):
            return [x, x + 1]

    monkeypatch.setattr(w2v_dist, "_Comm", OtherCorpusOnRank1)
    monkeypatch.setattr(distributed, "current",
                        lambda: distributed.Dist(rank=0, world_size=2, local_rank=0,
                                                 backend="gloo"))
    with pytest.raises(DataError, match="process 1 of 2 read a different corpus"):
        train_word2vec_in_job([["a", "b", "c"]] * 20, Word2VecConfig(min_count=1, workers=1))


def test_progress_reports_global_words_and_decaying_lr(tmp_path):
    corpus = tmp_path / "corpus.txt"
    _planted(corpus, n=300)
    seen = []
    train_word2vec_in_job([corpus], CFG, seen.append)
    assert [p.words_done for p in seen] == sorted(p.words_done for p in seen)
    assert seen[-1].words_done == seen[-1].total_words
    assert seen[0].lr > seen[-1].lr >= CFG.min_alpha


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="workers=2"):
        train_word2vec_in_job([["a", "b"]] * 5, Word2VecConfig(min_count=1, workers=2))
    with pytest.raises(ConfigError, match="deterministic_shards=2"):
        train_word2vec_in_job([["a", "b"]] * 5,
                              Word2VecConfig(min_count=1, workers=1, deterministic=True))
    with pytest.raises(ConfigError, match="nproc=0"):
        train_word2vec_distributed(["x"], CFG, tmp_path / "v.txt", nproc=0)
    with pytest.raises(DataNotFoundError, match=r"missing\.txt"):
        train_word2vec_distributed([tmp_path / "missing.txt"], CFG, tmp_path / "v.txt", nproc=2)
    with pytest.raises(ConfigError, match="paths"):
        train_word2vec_distributed([["a", "b"]], CFG, tmp_path / "v.txt", nproc=2)


@pytest.mark.timeout(60)
def test_two_processes_are_deterministic_and_learn_as_well_as_one(tmp_path):
    corpus = tmp_path / "corpus.txt"
    topics = _planted(corpus)
    runs = []
    for name in ("a.bin", "b.bin"):
        wv, history = train_word2vec_distributed([corpus], CFG, tmp_path / name, nproc=2,
                                                 binary=True, timeout_s=30)
        runs.append((wv, history))
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()
    (two, history), _ = runs
    assert all(row["processes"] == 2 for row in history)

    # the one-process trainer's 2-shard schedule, exactly: 2 threads, or deterministic mode
    for settings in ({"workers": 2}, {"deterministic": True}):
        sharded, sharded_history = train_word2vec([corpus],
                                                  Word2VecConfig(**{**CFG.__dict__, **settings}))
        np.testing.assert_array_equal(two.vectors, sharded.vectors)
        assert [r["loss"] for r in history] == [r["loss"] for r in sharded_history]

    one, one_history = train_word2vec([corpus], CFG)
    assert not np.array_equal(one.vectors, two.vectors)  # local SGD, not the same SGD path
    assert _precision_at_5(one, topics) >= 0.95
    assert _precision_at_5(two, topics) >= 0.95
    assert history[-1]["loss"] == pytest.approx(one_history[-1]["loss"], rel=0.05)


@pytest.mark.timeout(60)
def test_nce_biases_merge_as_in_the_two_shard_trainer(tmp_path):
    """NCE's output biases are shared too (the 2-shard threads once left them unmerged)."""
    corpus = tmp_path / "corpus.txt"
    _planted(corpus)
    cfg = Word2VecConfig(**{**CFG.__dict__, "loss": "nce"})
    two, _ = train_word2vec_distributed([corpus], cfg, tmp_path / "v.bin", nproc=2,
                                        binary=True, timeout_s=30)
    sharded, _ = train_word2vec([corpus], Word2VecConfig(**{**cfg.__dict__, "workers": 2}))
    np.testing.assert_array_equal(two.vectors, sharded.vectors)


@pytest.mark.timeout(60)
def test_killed_worker_ends_the_launched_job_with_a_clear_error(tmp_path):
    job = _job(tmp_path)
    start = time.monotonic()
    with pytest.raises(TrainingError, match="process 1 of 2 was killed by SIGKILL"):
        distributed.launch_local(2, [json.dumps(job)], module="w2v_kill_worker",
                                 env=_env(tmp_path), timeout_s=20, threads=1)
    assert time.monotonic() - start < 40
    assert not (tmp_path / "v.txt").exists()


@pytest.mark.timeout(60)
def test_rank_zero_stops_by_itself_when_its_peer_dies(tmp_path):
    """No launcher to clean up (as under torchrun on another machine): rank 0 must notice."""
    job = _job(tmp_path)
    env = {**os.environ, **_env(tmp_path), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(distributed.free_port()), "RNNLAB_DIST_TIMEOUT": "20"}
    procs = [subprocess.Popen([sys.executable, "-m", "w2v_kill_worker", json.dumps(job)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.DEVNULL, text=True,
                              stderr=subprocess.PIPE if r == 0 else subprocess.DEVNULL)
             for r in range(2)]
    try:
        _, err = procs[0].communicate(timeout=50)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        procs[0].stderr.close()
    assert procs[0].returncode != 0
    assert procs[1].returncode == -signal.SIGKILL
    assert "TrainingError: process 0 of 2 lost contact with the others" in err
    assert "no vectors were written" in err
    assert not (tmp_path / "v.txt").exists()
