"""Word2vec in one process: the round engine with a thread merge over in-process shards.

S shards each train a copy of the parameters (S = min(workers, 2), or
``deterministic_shards`` in deterministic mode; one shard trains the shared matrices
themselves, with no copies); at the end of a round ``kernels.merge_rows`` sums the copies'
updates into the shared matrices, in shard order, with the rows cut among the threads. So
the same seed and workers give the same vectors; one worker is plain sequential SGD; with
``deterministic=True`` 1, 2 or 8 workers give identical vectors, at the cost of S copies of
the matrices (and, with fewer workers than shards, no extra speed). See
:mod:`rnnlab.word2vec.engine` for why S is at most 2 here.

Speed: the kernels are numba, compiled with ``nogil=True``, so plain Python threads run in
parallel. A thread that finishes its own shards takes the next chunk of a shard no thread is
running (one thread per shard at a time), which keeps both cores busy on a shared machine;
which thread ran a chunk never changes the result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from rnnlab.vectors import WordVectors
from rnnlab.word2vec import kernels as K
from rnnlab.word2vec.config import Word2VecConfig
from rnnlab.word2vec.engine import Rounds, Word2VecProgress, run_rounds
from rnnlab.word2vec.vocab import streamed

__all__ = ["train_word2vec"]

_DEFAULTS = Word2VecConfig()


class _Aborted(Exception):
    """Another thread failed; this one stops taking chunks."""


class _RoundSchedule:
    """Hands out a round's chunks: each shard's in order, one thread per shard at a time.

    A thread whose own shards are done takes over another shard's pending chunk instead of
    idling (threads get descheduled on a shared machine).
    """

    def __init__(self, shards: int, workers: int):
        self.S, self.W = shards, workers
        self.cond = threading.Condition()
        self.pending: list[list[int]] = [[] for _ in range(shards)]
        self.busy = [False] * shards
        self.aborted = False

    def start(self, chunks: range) -> None:
        with self.cond:
            self.pending = [list(chunks[s :: self.S]) for s in range(self.S)]

    def take(self, w: int) -> tuple[int, int] | None:
        order = [*range(w, self.S, self.W), *range(self.S)]
        with self.cond:
            while not self.aborted:
                if not any(self.pending):
                    return None
                for s in order:
                    if self.pending[s] and not self.busy[s]:
                        self.busy[s] = True
                        return s, self.pending[s].pop(0)
                self.cond.wait()  # a shard with work left is busy: wait to take its next chunk
            raise _Aborted

    def release(self, s: int) -> None:
        with self.cond:
            self.busy[s] = False
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


class _ThreadMerge:
    """S shard copies trained by W threads; a round's updates summed with ``merge_rows``."""

    def __init__(self, rounds: Rounds, workers: int):
        self.rounds, self.W = rounds, workers
        S, V = rounds.shards, len(rounds.syn0)
        self.bases = (rounds.syn0, rounds.syn1, rounds.bias.reshape(V, 1))
        if S > 1:  # shard copies of the parameters and of the touched-row flags
            self.copies = [np.repeat(m[None], S, axis=0) for m in self.bases]
            self.touched = [np.zeros((S, V), np.uint8) for _ in range(3)]
            self.shards = [rounds.shard(self.copies[0][s], self.copies[1][s],
                                        self.copies[2][s].reshape(V), self.touched[0][s],
                                        self.touched[1][s]) for s in range(S)]
        else:  # one shard trains the shared matrices: plain sequential SGD
            self.copies, self.touched = [], []
            self.shards = [rounds.shard(rounds.syn0, rounds.syn1, rounds.bias)]
        self.row_cuts = np.linspace(0, V, workers + 1).astype(np.int64)
        self.sched = _RoundSchedule(S, workers)
        self.pool = ThreadPoolExecutor(workers, "rnnlab-w2v") if workers > 1 and S > 1 else None

    def train_round(self, epoch: int, chunks: range) -> None:
        if self.pool is None:  # shard after shard in this thread (the result is the same)
            S = len(self.shards)
            for s in range(S):
                for c in chunks[s::S]:
                    self.rounds.train_chunk(epoch, c, self.shards[s])
            if self.copies:
                self._merge(0)
            return
        self.sched.start(chunks)
        self._on_all_threads(lambda w: self._train_shards(epoch, w))
        self._on_all_threads(self._merge)

    def _train_shards(self, epoch: int, w: int) -> None:
        while (job := self.sched.take(w)) is not None:
            s, c = job
            try:
                self.rounds.train_chunk(epoch, c, self.shards[s])
            finally:
                self.sched.release(s)

    def _merge(self, w: int) -> None:
        lo, hi = self.row_cuts[w], self.row_cuts[w + 1]
        # an output row's bias moves exactly when the row does
        self.touched[2][:, lo:hi] = self.touched[1][:, lo:hi]
        for base, copy, t in zip(self.bases, self.copies, self.touched, strict=True):
            K.merge_rows(base, copy, t, lo, hi)

    def _on_all_threads(self, fn: Callable[[int], None]) -> None:
        """Run ``fn(w)`` for every worker w at once; re-raise the first failure here."""
        futures = [self.pool.submit(self._guarded, fn, w) for w in range(self.W)]
        errors = [e for f in futures if (e := f.exception()) is not None]
        if errors:  # the thread that failed first, not one that stopped because of it
            raise next((e for e in errors if not isinstance(e, _Aborted)), errors[0])

    def _guarded(self, fn: Callable[[int], None], w: int) -> None:
        try:
            fn(w)
        except BaseException:
            self.sched.abort()  # the others stop waiting for this thread's shard
            raise

    def epoch_extras(self) -> dict:
        return {}

    def close(self) -> None:
        self.sched.abort()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def train_word2vec(
    corpus,
    config: Word2VecConfig = _DEFAULTS,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word vectors on a streamed corpus, in this process, on ``config.threads`` threads.

    Args:
        corpus: a text file, a folder of .txt files, a list of those, or an iterable of
            strings or token lists (see ``rnnlab.word2vec.iter_corpus``); read once, streamed.
        config: a Word2VecConfig (``workers=None``: 2 threads).
        progress: called after each round with a Word2VecProgress (words/s, lr, loss).

    Returns:
        (WordVectors of the input vectors, sorted by decreasing count; history), history
        holding one dict per epoch: epoch, loss (true mean over pairs), pairs, words,
        kept_words, seconds, words_per_sec. Nothing is written: the caller saves the vectors.

    Raises:
        DataNotFoundError: a corpus path that does not exist.
        DataError: no word occurs ``min_count`` times.
        TrainingError: the loss became NaN or Inf.

    Example:
        >>> cfg = Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)
        >>> wv, history = train_word2vec([["a", "b", "c"]] * 20, cfg)
        >>> wv.vectors.shape
        (3, 8)
    """
    with streamed(corpus, config) as (stream, vocab, remap):
        rounds = Rounds(stream, vocab, remap, config, config.shards)
        history = run_rounds(rounds, _ThreadMerge(rounds, config.threads), progress)
    return WordVectors(words=vocab.words, vectors=rounds.syn0), history

