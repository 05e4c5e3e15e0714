"""Word2vec on several processes (torch.distributed, gloo): shards of chunks, merged deltas.

The round engine (:mod:`rnnlab.word2vec.engine`) cuts the corpus into chunks of
``batch_words`` raw words and trains them in rounds over S shards whose updates are summed
into the shared matrices at the end of each round. Here the merge runs over W processes
(one thread each), each process one shard::

    chunks of the corpus:   c0 c1 c2 c3 c4 c5 c6 c7 | c8 c9 ...      (W = 2, 4 chunks a rank)
    round 0:  rank 0 trains c0 c2 c4 c6    rank 1 trains c1 c3 c5 c7   (each on its own copy)
              sync: base += delta_0 + delta_1, row by row, in rank order -> same matrices
    round 1:  rank 0 trains c8 c10 ...     rank 1 trains c9 c11 ...

* Sharding: chunk ``c`` (whole sentences, cut every ``batch_words`` raw words in corpus
  order) belongs to rank ``c mod W``; a rank trains only its chunks. Every rank reads and
  tokenises the whole corpus once (the vocabulary and the chunk boundaries come from it; a
  fingerprint of the vocabulary is compared across ranks, so different files on different
  machines fail at once) and trains from its memory-mapped id file.
* Sync points: every ``4 x batch_words`` raw words per rank (a round), so also at the end
  of every epoch: one all-gather of the touched-row flags, one all-gather of the touched
  rows' deltas (input vectors, output vectors, output biases), one all-reduce of the
  round's (loss, pairs, kept words). Every rank applies the deltas in rank order, so all
  ranks hold the same bits.
* Merge: ``base + delta_0 + delta_1 + ...`` (summed, as Hogwild and the in-process shards
  do; averaging learnt nothing in the first epochs of the small tests). A row touched by
  n > MAX_SUMMED = 2 ranks moves by ``sum x 2 / n``: summing 4 ranks' deltas of frequent
  words diverged (loss 95 against 2.7 on 5,000 IMDB reviews).
* Learning rate: from the global position of each chunk in the run (epoch x corpus words +
  the words before the chunk), as one process computes it, not from a rank's own progress.
* Nothing here writes the vector file: every process returns the vectors and the caller
  writes them on rank 0 (processes launched here hand theirs back through a temp folder).

How the result relates to one process (see docs/distributed.md): with one process it is
``train_word2vec`` with ``workers=1``, bit for bit; with 2 processes it is, bit for bit,
``train_word2vec`` with ``workers=2`` (or ``deterministic=True, deterministic_shards=2``),
for every loss: local SGD with summed deltas, as good as one process on enough data, not
the vectors of ``workers=1``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from rnnlab.config import from_dict
from rnnlab.errors import ConfigError, DataError
from rnnlab.training import distributed as rdist
from rnnlab.vectors import WordVectors, load_word_vectors, save_word_vectors
from rnnlab.word2vec import kernels as K
from rnnlab.word2vec.config import Word2VecConfig
from rnnlab.word2vec.engine import Rounds, Word2VecProgress, run_rounds
from rnnlab.word2vec.threads import train_word2vec
from rnnlab.word2vec.vocab import corpus_paths, streamed

__all__ = ["main", "train_word2vec_distributed", "train_word2vec_in_job",
           "train_word2vec_processes"]

log = logging.getLogger(__name__)

# A row moves by at most this many ranks' deltas per sync (see _Merger): summing more
# overshoots on frequent words (4 processes diverged on 5,000 IMDB reviews: loss 95.5).
MAX_SUMMED = 2
# what ``python -m`` runs in each launched process (rnnlab/word2vec/__main__.py: main)
_LAUNCHED_MODULE = "rnnlab.word2vec"


class _Comm:
    """The collectives of one job, turning a dead or silent peer into a TrainingError."""

    def __init__(self, group: rdist.Dist):
        self.rank, self.world = group.rank, group.world_size
        self.info = group
        # gloo even when the job runs NCCL for other work: the matrices live in host memory
        self.pg = None if group.backend == "gloo" else dist.new_group(backend="gloo")

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, group=self.pg, **kwargs)
        except Exception as e:
            if rdist.is_comm_error(e):
                raise rdist.peer_error(self.info, e, "; no vectors were written") from e
            raise

    def all_gather(self, x: np.ndarray, out: list[torch.Tensor] | None = None
                   ) -> list[np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(x))
        if out is None:
            out = [torch.empty_like(x) for _ in range(self.world)]
        self._call(dist.all_gather, out, x)
        return [t.numpy() for t in out]

    def all_reduce(self, x: np.ndarray, op=dist.ReduceOp.SUM) -> np.ndarray:
        t = torch.from_numpy(np.ascontiguousarray(x))
        self._call(dist.all_reduce, t, op=op)
        return t.numpy()


def _fingerprint(vocab, num_chunks: int) -> np.ndarray:
    h = hashlib.blake2b(digest_size=8)
    h.update("\n".join(vocab.words).encode())
    h.update(np.ascontiguousarray(vocab.counts, np.int64).tobytes())
    h.update(np.array([vocab.total_words, vocab.num_sentences, num_chunks], np.int64).tobytes())
    return np.frombuffer(h.digest(), np.int64).copy()


class _Merger:
    """Sums the ranks' deltas into the shared matrices at each sync point.

    ``base + delta_0 + ... + delta_{W-1}`` on every row some rank touched, in rank order:
    for W <= 2 the same float32 additions, in the same order, as ``kernels.merge_rows``
    does for W in-process shards (an untouched row's delta is exactly 0), so the result is
    bit-identical to the thread merge with 2 shards; for W > 2 a row touched by n > 2 ranks
    moves by the sum x 2 / n. Every rank computes the same bits. Buffers are allocated once
    (fresh ones cost more in page faults than the copies), and packing and applying are one
    compiled pass each (numpy's take/subtract/add/put took 3x longer).
    """

    def __init__(self, comm: _Comm, params: tuple[np.ndarray, ...]):
        self.comm = comm
        # (V, D) views of syn0, syn1 and the biases, and their values at the last sync
        self.params = tuple(p.reshape(len(p), -1) for p in params)
        self.bases = tuple(p.copy() for p in self.params)
        n = sum(p.size for p in params)
        self.delta = np.empty(n, np.float32)
        self.gathered = torch.empty(comm.world, n)

    def __call__(self, touched0: np.ndarray, touched1: np.ndarray) -> None:
        V, W = len(touched0), self.comm.world
        flags = self.comm.all_gather(np.concatenate([touched0, touched1]))
        touchers = np.sum(flags, axis=0, dtype=np.int32)  # (2V,) ranks that moved each row
        rows0, rows1 = np.flatnonzero(touchers[:V]), np.flatnonzero(touchers[V:])
        touched0[:] = 0
        touched1[:] = 0
        parts = list(zip(self.params, self.bases, (rows0, rows1, rows1),
                         (touchers[:V], touchers[V:], touchers[V:]), strict=True))
        starts, lo = [], 0
        for p, b, r, _ in parts:
            n = r.size * p.shape[1]
            K.pack_deltas(p, b, r, self.delta[lo : lo + n].reshape(r.size, p.shape[1]))
            starts.append(lo)
            lo += n
        self.comm.all_gather(self.delta[:lo], list(self.gathered[:, :lo]))
        deltas = self.gathered.numpy()
        for (p, b, r, t), start in zip(parts, starts, strict=True):
            if W <= MAX_SUMMED:
                K.apply_deltas(p, b, r, deltas, start)
            else:
                K.apply_capped(p, b, r, deltas, start, t, MAX_SUMMED)


class _ProcessMerge:
    """This rank trains chunks ``rank, rank + W, ...`` of a round; ``_Merger`` syncs."""

    def __init__(self, rounds: Rounds, comm: _Comm | None):
        self.rounds, self.comm = rounds, comm
        self.rank, self.W = (comm.rank, comm.world) if comm else (0, 1)
        self.shard = rounds.shard(rounds.syn0, rounds.syn1, rounds.bias)
        self.merge = _Merger(comm, (rounds.syn0, rounds.syn1, rounds.bias)) if comm else None
        self.sync_s = 0.0

    def train_round(self, epoch: int, chunks: range) -> None:
        for c in chunks[self.rank :: self.W]:
            self.rounds.train_chunk(epoch, c, self.shard)
        if self.comm is None:
            return
        t = time.perf_counter()
        self.merge(self.shard.touched0, self.shard.touched1)
        first, last = chunks.start, chunks.stop
        results = self.rounds.results
        block = np.zeros((last - first, 3))
        block[self.rank :: self.W] = results[first + self.rank : last : self.W]
        results[first:last] = self.comm.all_reduce(block)  # one contributor per row: exact
        self.sync_s += time.perf_counter() - t

    def epoch_extras(self) -> dict:
        extras = {"processes": self.W, "sync_seconds": self.sync_s}
        self.sync_s = 0.0
        return extras

    def close(self) -> None:
        pass


def train_word2vec_in_job(
    corpus,
    config: Word2VecConfig,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word vectors as one process of the current torch.distributed job (or alone).

    Every process of the job calls this with the same corpus and config; each trains its
    shard of the chunks and all return the same vectors. Without a process group of two or
    more processes this is ``train_word2vec(corpus, config)`` with ``workers=1``, bit for bit.
    Nothing is written: the caller saves the vectors, on rank 0.

    Args:
        corpus: what ``rnnlab.word2vec.iter_corpus`` accepts; every process reads all of it.
        config: a Word2VecConfig with ``workers`` 1 or None (processes replace threads).
        progress: called on rank 0 after each round with a Word2VecProgress.

    Returns:
        (WordVectors, history) as ``train_word2vec``; history rows also hold ``processes``
        and ``sync_seconds`` (time in the collectives during the epoch).

    Raises:
        ConfigError: ``workers`` is not 1, or deterministic mode asks for another number of
            shards than there are processes.
        DataError: another process read a different corpus.
        TrainingError: another process died or went silent past the timeout.

    Example:
        >>> cfg = Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)
        >>> wv, history = train_word2vec_in_job([["a", "b", "c"]] * 20, cfg)
        >>> wv.vectors.shape
        (3, 8)
    """
    group = rdist.current()
    W = group.world_size if group else 1
    cfg = config
    if cfg.workers not in (None, 1):
        raise ConfigError(f"workers={cfg.workers} is not allowed with several processes; give "
                          "workers=1 (each process trains with one thread; use more processes)")
    if cfg.deterministic and cfg.deterministic_shards != W:
        raise ConfigError(
            f"deterministic_shards={cfg.deterministic_shards} cannot be kept on {W} "
            f"process(es): here the processes are the shards; use deterministic=False "
            f"(the result is fixed by the seed and the number of processes)")
    comm = _Comm(group) if group else None
    with streamed(corpus, cfg) as (stream, vocab, remap):
        rounds = Rounds(stream, vocab, remap, cfg, W)
        if comm:
            prints = comm.all_gather(_fingerprint(vocab, len(rounds.chunks)))
            bad = [r for r, p in enumerate(prints) if not np.array_equal(p, prints[0])]
            if bad:
                raise DataError(f"process {bad[0]} of {W} read a different corpus than "
                                "process 0 (vocabulary or sentence counts differ); every "
                                "process must see the same files")
        on_main = progress if comm is None or comm.rank == 0 else None
        history = run_rounds(rounds, _ProcessMerge(rounds, comm), on_main)
    return WordVectors(words=vocab.words, vectors=rounds.syn0), history


def _paths(corpus) -> list[str]:
    """The corpus as absolute paths, which the launched processes can open."""
    paths = corpus_paths(corpus)
    if paths is None:
        raise ConfigError("several local processes need the corpus as file or folder paths "
                          f"(each process reads them), got {type(corpus).__name__}")
    return [os.path.abspath(p) for p in paths]


def _check_nproc(nproc) -> None:
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r} is not allowed; give an integer >= 1")


def train_word2vec_processes(
    corpus,
    config: Word2VecConfig,
    *,
    nproc: int = 1,
    timeout_s: float | None = None,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word2vec on ``nproc`` local processes, or as one process of a launched job.

    * Under a launcher (torchrun, ``WORLD_SIZE`` set): join the job (gloo) unless this
      process already has, train this process's shard, leave; ``nproc`` is ignored.
    * ``nproc > 1`` otherwise: start ``nproc`` processes on 127.0.0.1
      (:func:`rnnlab.training.distributed.launch_local`), wait, and read their vectors back.
    * ``nproc == 1`` otherwise: :func:`train_word2vec_in_job` alone (one thread).

    Nothing is written: the caller saves the vectors (on rank 0, see
    ``rnnlab.training.distributed.is_main_process``).

    Args:
        corpus: file or folder paths (any ``iter_corpus`` input when nothing is launched).
        config: a Word2VecConfig; ``workers`` 1 or None.
        nproc: local processes to start.
        timeout_s: rendezvous and collective timeout (None: ``RNNLAB_DIST_TIMEOUT`` or 300).
        progress: a Word2VecProgress hook on rank 0 when training here; when processes are
            launched it cannot cross to them, and any hook means rank 0 draws a tqdm bar.

    Returns:
        (WordVectors, history) on every process, and in the launching one.

    Raises:
        ConfigError: ``nproc`` is not an integer >= 1, or the corpus is not paths.
        DataNotFoundError: a corpus path that does not exist.
        TrainingError: a process died, the rendezvous failed or a peer went silent.

    Example:
        >>> cfg = Word2VecConfig(dim=50, min_count=2, workers=1)
        >>> wv, hist = train_word2vec_processes(["corpus.txt"], cfg,
        ...                                     nproc=2)  # doctest: +SKIP
    """
    _check_nproc(nproc)
    if nproc > 1 and rdist.detect_env() is None:
        return _launch(corpus, config, nproc, timeout_s, progress is not None)
    owned = rdist.detect_env() is not None and not dist.is_initialized()
    if owned:
        rdist.init_distributed(timeout_s=timeout_s, device="cpu")
    try:
        return train_word2vec_in_job(corpus, config, progress)
    finally:
        if owned:
            rdist.shutdown()


def _launch(corpus, config: Word2VecConfig, nproc: int, timeout_s: float | None,
            bar: bool) -> tuple[WordVectors, list[dict]]:
    """Start ``nproc`` processes running :func:`main`; their rank 0 leaves the result in a
    temp folder (binary vectors keep every float32 bit), which this reads back."""
    with tempfile.TemporaryDirectory(prefix="rnnlab-w2v-job-") as folder:
        job = {"corpus": _paths(corpus), "config": dataclasses.asdict(config),
               "out": os.path.join(folder, "vectors.bin"), "binary": True, "bar": bar,
               "history": os.path.join(folder, "history.json"),
               "log_level": logging.getLogger("rnnlab").getEffectiveLevel()}
        rdist.launch_local(nproc, [json.dumps(job)], module=_LAUNCHED_MODULE,
                           timeout_s=timeout_s, threads=1)
        history = json.loads(Path(job["history"]).read_text())
        return load_word_vectors(job["out"], format="word2vec-binary"), history


def train_word2vec_distributed(
    corpus,
    config: Word2VecConfig,
    out: str | os.PathLike,
    *,
    nproc: int = 1,
    binary: bool = False,
    timeout_s: float | None = None,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train as :func:`train_word2vec_processes` (threads when ``nproc == 1`` outside a
    launcher), then write ``out`` on rank 0: the 0.1 API, kept for scripts.

    New code calls ``rnnlab.tasks.word2vec.run_word2vec``, which also checks the corpus and
    ``out`` before training and refuses to replace a file unless told to.

    Args:
        out: the vector file (word2vec text, or binary with ``binary=True``; ``.gz`` gzips).
        binary: word2vec binary format.
        corpus, config, nproc, timeout_s, progress: as :func:`train_word2vec_processes`.

    Returns:
        (WordVectors, history) on every process, and in the launching one.
    """
    _check_nproc(nproc)
    if nproc == 1 and rdist.detect_env() is None and not dist.is_initialized():
        wv, history = train_word2vec(corpus, config, progress)  # one process, its threads
    else:
        wv, history = train_word2vec_processes(corpus, config, nproc=nproc,
                                               timeout_s=timeout_s, progress=progress)
    if rdist.is_main_process():
        save_word_vectors(out, wv, binary=binary)
    return wv, history


def main(argv: Sequence[str] | None = None) -> int:
    """One launched process: ``python -m rnnlab.word2vec JOB_JSON`` (internal).

    JOB_JSON holds corpus, config, out, binary, bar, history and log_level; rank 0 writes
    the vectors to ``out`` and the history to ``history`` once training is done.
    """
    from rnnlab._fs import atomic_write_bytes
    from rnnlab.word2vec.progress import TqdmWord2VecProgress

    job = json.loads((sys.argv[1:] if argv is None else argv)[0])
    main_rank = rdist.is_main_process()
    level = job.get("log_level", logging.INFO) if main_rank else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    config = from_dict(Word2VecConfig, job["config"], where="the word2vec job's config")
    bar = TqdmWord2VecProgress(quiet=not job["bar"]) if job["bar"] else None
    wv, history = train_word2vec_processes(job["corpus"], config, progress=bar)
    if main_rank:
        save_word_vectors(job["out"], wv, binary=job["binary"])
        atomic_write_bytes(job["history"], json.dumps(history).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
