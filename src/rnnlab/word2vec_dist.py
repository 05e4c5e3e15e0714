"""Word2vec on several processes (torch.distributed, gloo): shards of chunks, merged deltas.

The one-process trainer (:mod:`rnnlab.word2vec`) cuts the corpus into chunks of
``batch_words`` raw words and, in deterministic mode, trains them in rounds over S shard
copies whose updates are summed into the shared matrices at the end of each round. Here the
shards are W processes (one thread each)::

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
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from numba import njit

from rnnlab import _w2v_kernels as K
from rnnlab import distributed as rdist
from rnnlab.embeddings import WordVectors, load_word_vectors, save_word_vectors
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, TrainingError
from rnnlab.word2vec import (
    LOSSES,
    MAX_SENTENCE,
    MODELS,
    S_PER_ROUND_FACTOR,
    Word2VecConfig,
    Word2VecProgress,
    _chunk_seed,
    _chunks,
    _epoch_row,
    _IdStream,
    _initial_state,
    _learning_rate,
    _vocabulary,
    train_word2vec,
)

__all__ = ["train_word2vec_distributed", "train_word2vec_in_job"]

log = logging.getLogger(__name__)

# A row moves by at most this many ranks' deltas per sync (see _Merger): summing more
# overshoots on frequent words (4 processes diverged on 5,000 IMDB reviews: loss 95.5).
MAX_SUMMED = 2


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


@njit(nogil=True, cache=True)
def _pack_deltas(params, bases, rows, out):  # pragma: no cover - compiled
    """out[i] = params[rows[i]] - bases[rows[i]]; params, bases (V, D), out (n, D)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(params.shape[1]):
            out[i, k] = params[r, k] - bases[r, k]


@njit(nogil=True, cache=True)
def _apply_deltas(params, bases, rows, deltas, lo):  # pragma: no cover - compiled
    """params[r] = bases[r] = bases[r] + deltas[0] + deltas[1] + ..., in rank order.

    deltas: (W, N) float32, the ranks' packed deltas; this matrix's start at column lo.
    """
    D = params.shape[1]
    for i in range(rows.shape[0]):
        r = rows[i]
        at = lo + i * D
        for s in range(deltas.shape[0]):  # rank by rank, so the inner loop vectorises
            for k in range(D):
                bases[r, k] += deltas[s, at + k]
        for k in range(D):
            params[r, k] = bases[r, k]


@njit(nogil=True, cache=True)
def _apply_capped(params, bases, rows, deltas, lo, touchers, cap):  # pragma: no cover
    """As ``_apply_deltas``, but a row touched by n > cap ranks moves by sum x cap / n."""
    D = params.shape[1]
    acc = np.empty(D, np.float32)
    for i in range(rows.shape[0]):
        r = rows[i]
        at = lo + i * D
        acc[:] = 0.0
        for s in range(deltas.shape[0]):
            for k in range(D):
                acc[k] += deltas[s, at + k]
        n = touchers[r]
        scale = np.float32(1.0) if n <= cap else np.float32(cap / n)
        for k in range(D):
            bases[r, k] += acc[k] * scale
            params[r, k] = bases[r, k]


class _Merger:
    """Sums the ranks' deltas into the shared matrices at each sync point.

    ``base + delta_0 + ... + delta_{W-1}`` on every row some rank touched, in rank order:
    for W <= 2 the same float32 additions, in the same order, as
    ``_w2v_kernels.merge_rows`` does for W in-process shards (an untouched row's delta is
    exactly 0), so the result is bit-identical to the one-process deterministic mode; for
    W > 2 a row touched by n > 2 ranks moves by the sum x 2 / n. Every rank computes the
    same bits. Buffers are allocated once (fresh ones cost more in page faults than the
    copies), and packing and applying are one compiled pass each (numpy's
    take/subtract/add/put took 3x longer).
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
            _pack_deltas(p, b, r, self.delta[lo : lo + n].reshape(r.size, p.shape[1]))
            starts.append(lo)
            lo += n
        self.comm.all_gather(self.delta[:lo], list(self.gathered[:, :lo]))
        deltas = self.gathered.numpy()
        for (p, b, r, t), start in zip(parts, starts, strict=True):
            if W <= MAX_SUMMED:
                _apply_deltas(p, b, r, deltas, start)
            else:
                _apply_capped(p, b, r, deltas, start, t, MAX_SUMMED)


def _train(stream, vocab, remap, cfg: Word2VecConfig, comm: _Comm | None, progress):
    V, Dm = len(vocab.words), cfg.dim
    rank, W = (comm.rank, comm.world) if comm else (0, 1)
    syn0, syn1, bias, keep, alias_p, alias_i, logkq = _initial_state(vocab, cfg)

    chunks = _chunks(stream.offsets, cfg.batch_words)
    n_chunks = len(chunks)
    if comm:
        prints = comm.all_gather(_fingerprint(vocab, n_chunks))
        bad = [r for r, p in enumerate(prints) if not np.array_equal(p, prints[0])]
        if bad:
            raise DataError(f"process {bad[0]} of {W} read a different corpus than process 0 "
                            "(vocabulary or sentence counts differ); every process must see "
                            "the same files")
    merge = _Merger(comm, (syn0, syn1, bias)) if comm else None
    per_round = W * S_PER_ROUND_FACTOR
    rounds = math.ceil(n_chunks / per_round)
    total_run = max(stream.num_tokens * cfg.epochs, 1)
    touched0, touched1 = np.zeros(V, np.uint8), np.zeros(V, np.uint8)
    results = np.zeros((n_chunks, 3))  # loss, pairs, kept words of the current epoch
    model, loss_kind = MODELS.index(cfg.model), LOSSES.index(cfg.loss)
    buf, work = np.empty(MAX_SENTENCE, np.int64), np.empty((2, Dm), np.float32)
    history: list[dict] = []
    t0 = time.perf_counter()
    comm_s = 0.0
    for epoch in range(cfg.epochs):
        t_epoch = time.perf_counter()
        for r in range(rounds):
            first, last = r * per_round, min((r + 1) * per_round, n_chunks)
            for c in range(first + rank, last, W):
                lo, hi, before = chunks[c]
                results[c] = K.train_chunk(
                    stream.tokens, stream.offsets, lo, hi, remap, keep, syn0, syn1, bias,
                    logkq, alias_p, alias_i, touched0, touched1, model, loss_kind, cfg.window,
                    cfg.negative, cfg.alpha, cfg.min_alpha, epoch * stream.num_tokens + before,
                    total_run, _chunk_seed(cfg.seed, epoch, c), buf, work,
                )  # fmt: skip
            if comm:
                t_comm = time.perf_counter()
                merge(touched0, touched1)
                block = np.zeros((last - first, 3))
                block[rank::W] = results[first + rank : last : W]
                results[first:last] = comm.all_reduce(block)  # one contributor per row: exact
                comm_s += time.perf_counter() - t_comm
            loss, pairs = results[:last, 0].sum(), results[:last, 1].sum()
            if not math.isfinite(loss):  # every rank sees the same sums and stops here
                raise TrainingError(f"word2vec loss became {loss} in epoch {epoch + 1}; "
                                    "lower alpha")
            done = epoch * stream.num_tokens + int(stream.offsets[chunks[last - 1][1]])
            if progress is not None and rank == 0:
                progress(Word2VecProgress(epoch + 1, done, total_run,
                                          done / max(time.perf_counter() - t0, 1e-9),
                                          _learning_rate(cfg, done, total_run),
                                          float(loss / max(pairs, 1))))
        seconds = time.perf_counter() - t_epoch
        totals = results.sum(0)
        history.append({**_epoch_row(epoch, totals, stream.num_tokens, seconds),
                        "processes": W, "sync_seconds": comm_s})
        comm_s = 0.0
        log.info("epoch %d: loss %.4f over %d pairs, %.0f words/s on %d process(es)",
                 epoch + 1, history[-1]["loss"], totals[1], history[-1]["words_per_sec"], W)
    return syn0, history


def train_word2vec_in_job(
    corpus,
    config: Word2VecConfig,
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word vectors as one process of the current torch.distributed job (or alone).

    Every process of the job calls this with the same corpus and config; each trains its
    shard of the chunks and all return the same vectors. Without a process group of two or
    more processes this is ``train_word2vec(corpus, config)`` with ``workers=1``, bit for bit.

    Args:
        corpus: what ``rnnlab.word2vec.iter_corpus`` accepts; every process reads all of it.
        config: a Word2VecConfig with ``workers=1`` (processes replace threads).
        progress: called on rank 0 after each round with a Word2VecProgress.

    Returns:
        (WordVectors, history) as ``train_word2vec``; history rows also hold ``processes``
        and ``sync_seconds`` (time in the collectives during the epoch).

    Raises:
        ConfigError: ``workers`` is not 1, or deterministic mode asks for another number of
            shards than there are processes.
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
    if cfg.workers != 1:
        raise ConfigError(f"workers={cfg.workers} is not allowed with several processes; give "
                          "workers=1 (each process trains with one thread; use more processes)")
    if cfg.deterministic and cfg.deterministic_shards != W:
        raise ConfigError(
            f"deterministic_shards={cfg.deterministic_shards} cannot be kept on {W} "
            f"process(es): here the processes are the shards; use deterministic=False "
            f"(the result is fixed by the seed and the number of processes)")
    comm = _Comm(group) if group else None
    with tempfile.TemporaryDirectory(prefix="rnnlab-w2v-", dir=cfg.tmp_dir) as folder:
        stream = _IdStream(corpus, folder)
        vocab, remap = _vocabulary(stream, cfg)
        syn0, history = _train(stream, vocab, remap, cfg, comm, progress)
        del stream.tokens  # close the memory map before the folder goes
    return WordVectors(words=vocab.words, vectors=syn0), history


def _paths(corpus) -> list[str]:
    """The corpus as absolute paths, which the launched processes can open."""
    items = [corpus] if isinstance(corpus, str | os.PathLike) else list(corpus)
    if not items or not all(isinstance(p, str | os.PathLike) for p in items):
        raise ConfigError("several local processes need the corpus as file or folder paths "
                          f"(each process reads them), got {type(corpus).__name__}")
    for p in items:
        if not os.path.exists(p):
            raise DataNotFoundError(f"corpus path {str(p)!r} does not exist")
    return [os.path.abspath(p) for p in items]


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
    """Train word2vec on ``nproc`` local processes (or under torchrun) and write ``out``.

    * Under a launcher (torchrun, ``WORLD_SIZE`` set): join the job (gloo), train this
      process's shard, rank 0 writes ``out``; ``nproc`` is ignored.
    * ``nproc > 1`` otherwise: start ``nproc`` processes on 127.0.0.1
      (:func:`rnnlab.distributed.launch_local`), wait, read ``out`` back.
    * ``nproc == 1``: ``train_word2vec`` here, with its ``workers`` threads.

    Args:
        corpus: file or folder paths (any ``iter_corpus`` input when nothing is launched).
        config: a Word2VecConfig; ``workers=1`` unless nproc is 1 outside a launcher.
        out: the vector file (word2vec text, or binary with ``binary=True``; ``.gz`` gzips).
        nproc: local processes to start.
        binary: word2vec binary format.
        timeout_s: rendezvous and collective timeout (None: ``RNNLAB_DIST_TIMEOUT`` or 300).
        progress: a Word2VecProgress hook on rank 0 when training here; when processes are
            launched it cannot cross to them, and any hook means rank 0 draws a tqdm bar.

    Returns:
        (WordVectors, history) on every process, and in the launching one.

    Raises:
        TrainingError: a process died, the rendezvous failed or a peer went silent.

    Example:
        >>> cfg = Word2VecConfig(dim=50, min_count=2, workers=1)
        >>> wv, hist = train_word2vec_distributed(["corpus.txt"], cfg, "vec.txt",
        ...                                       nproc=2)  # doctest: +SKIP
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ConfigError(f"nproc={nproc!r} is not allowed; give an integer >= 1")
    if nproc > 1 and rdist.detect_env() is None:
        with tempfile.TemporaryDirectory(prefix="rnnlab-w2v-job-") as folder:
            job = {"corpus": _paths(corpus), "config": dataclasses.asdict(config),
                   "out": os.path.abspath(out), "binary": binary, "bar": progress is not None,
                   "history": os.path.join(folder, "history.json"),
                   "log_level": logging.getLogger("rnnlab").getEffectiveLevel()}
            rdist.launch_local(nproc, [json.dumps(job)], module="rnnlab.word2vec_dist",
                               timeout_s=timeout_s, threads=1)
            history = json.loads(Path(job["history"]).read_text())
        return load_word_vectors(out, format="word2vec-binary" if binary else "word2vec"), history
    if rdist.detect_env() is None and not dist.is_initialized():
        wv, history = train_word2vec(corpus, config, progress)  # one process, its threads
        save_word_vectors(out, wv, binary=binary)
        return wv, history
    owned = not dist.is_initialized()
    if owned:
        rdist.init_distributed(timeout_s=timeout_s, device="cpu")
    try:
        wv, history = train_word2vec_in_job(corpus, config, progress)
        _write(wv, out, binary)
    finally:
        if owned:
            rdist.shutdown()
    return wv, history


def _write(wv: WordVectors, out, binary: bool) -> None:
    """Rank 0 writes; every rank learns whether it worked, so a failed write fails all."""
    group = rdist.current()
    error = None
    if group is None or group.is_main:
        try:
            save_word_vectors(out, wv, binary=binary)
        except (OSError, ConfigError) as e:
            error = e
    if group is not None:
        try:
            ok = group.all_ok(error is None)
        except Exception as e:
            if rdist.is_comm_error(e):
                raise rdist.peer_error(group, e) from e
            raise
        if not ok and error is None:
            raise TrainingError(f"process 0 of {group.world_size} could not write {out}")
    if error is not None:
        raise error


def main(argv: Sequence[str] | None = None) -> int:
    """One launched process: ``python -m rnnlab.word2vec_dist JOB_JSON`` (internal)."""
    from rnnlab.word2vec import TqdmWord2VecProgress

    job = json.loads((sys.argv[1:] if argv is None else argv)[0])
    level = job.get("log_level", logging.INFO) if rdist.is_main_process() else logging.WARNING
    logging.basicConfig(level=level, format="%(message)s")
    config = Word2VecConfig(**job["config"])
    bar = TqdmWord2VecProgress(quiet=not job["bar"]) if job["bar"] else None
    _, history = train_word2vec_distributed(job["corpus"], config, job["out"],
                                            binary=job["binary"], progress=bar)
    if rdist.is_main_process():
        from rnnlab._fs import atomic_write_bytes

        atomic_write_bytes(job["history"], json.dumps(history).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
