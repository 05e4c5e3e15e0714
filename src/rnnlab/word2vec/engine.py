"""The word2vec round engine: chunks, rounds, the results table, NaN check, progress, history.

Both trainers run this one loop; they differ only in the merge, the object that trains a
round's chunks and folds their updates together (:class:`Merge`): threads over in-process
shard copies (:mod:`rnnlab.word2vec.threads`) or processes over torch.distributed
(:mod:`rnnlab.word2vec.processes`).

Determinism. gensim's threads update shared matrices without locks (Hogwild), so the result
depends on thread timing. Here the corpus is cut into chunks of ``batch_words`` raw words at
sentence boundaries; a chunk's random stream is seeded by (seed, epoch, chunk index). Chunks
are trained in rounds over S "shards"::

    round r:  shard 0: chunks rSF+0, rSF+S, ...   (F = 4 chunks a shard, in order)
              shard 1: chunks rSF+1, rSF+S+1, ...
              ...               then per row: base += sum_s (copy_s - base)

Every shard starts the round from the same parameters and trains its own copy; at the end
of the round the updates are summed into the shared matrices row by row, in shard order,
over the rows the shards touched, and the copies are resynchronised. The result is thus a
function of (seed, S) alone, whatever thread or process ran which chunk; S shards on
threads and S processes give the same bits. Summing the shards' updates is what Hogwild
does too, minus its races; the price is staleness: a shard does not see the others'
updates of the current round (S x F x ``batch_words`` words). Frequent words' rows get S
updates computed from the same stale row, which is fine for S = 2 but overshoots for S = 4
(the loss diverged on a 16-word corpus), so the threads use S <= 2 and the processes cap a
row's move when more than 2 ranks touched it. (Averaging the updates instead was stable
but cost 0.04 analogy accuracy on aclImdb.)

Learning rate: from the global position of each chunk in the run (epoch x corpus words +
the words before the chunk), whoever trains it.

The reported loss is the mean over all (input, target) pairs of an epoch of the true loss:
-log sigma(s_true) - sum log sigma(-s_noise) for negative sampling and NCE, the sampled
softmax cross-entropy for sampled softmax.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from rnnlab.errors import TrainingError
from rnnlab.word2vec import kernels as K
from rnnlab.word2vec.config import LOSSES, MODELS, Word2VecConfig
from rnnlab.word2vec.vocab import MAX_SENTENCE, IdStream, Vocabulary, keep_probabilities

__all__ = ["S_PER_ROUND_FACTOR", "Merge", "Rounds", "Shard", "Word2VecProgress", "run_rounds"]

log = logging.getLogger(__name__)

# A round gives each shard this many chunks (chunk r*S*F + j*S + s to shard s, j < F), so
# shards meet once per S*F chunks; fixed, as the results depend on it.
S_PER_ROUND_FACTOR = 4


@dataclass(frozen=True)
class Word2VecProgress:
    """What the progress hook receives after each round of chunks."""

    epoch: int
    words_done: int
    total_words: int
    words_per_sec: float
    lr: float
    loss: float  # mean loss over the pairs of the epoch so far


@dataclass
class Shard:
    """One copy of the parameters that chunks train, with its touched-row flags and scratch.

    Attributes:
        syn0, syn1: (V, D) float32 input and output vectors; bias: (V,) output biases.
        touched0, touched1: (V,) uint8, set on each row of syn0 / syn1 a chunk moves.
        buf: (MAX_SENTENCE,) int64 and work: (2, D) float32 kernel scratch.
    """

    syn0: np.ndarray
    syn1: np.ndarray
    bias: np.ndarray
    touched0: np.ndarray
    touched1: np.ndarray
    buf: np.ndarray
    work: np.ndarray


def _alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for O(1) draws: (threshold (V,) float64, alias (V,) int64)."""
    V = len(probs)
    scaled = probs * V
    prob = np.ones(V)
    alias = np.arange(V, dtype=np.int64)
    small = [i for i in range(V) if scaled[i] < 1.0]
    large = [i for i in range(V) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return prob, alias


def _chunk_seed(seed: int, epoch: int, chunk: int) -> np.uint64:
    # distinct, well-mixed start states per (seed, epoch, chunk)
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xD1B54A32D192ED03 + chunk * 0x8CB92BA72F3D8DD7)
    return np.uint64(x & 0xFFFFFFFFFFFFFFFF)


def _cut_chunks(offsets: np.ndarray, batch_words: int) -> list[tuple[int, int, int]]:
    """Cut sentences into chunks of about batch_words raw words: (s_lo, s_hi, words before)."""
    out, lo = [], 0
    n = len(offsets) - 1
    while lo < n:
        hi = int(np.searchsorted(offsets, offsets[lo] + batch_words, side="left"))
        hi = min(max(hi, lo + 1), n)
        out.append((lo, hi, int(offsets[lo])))
        lo = hi
    return out


class Rounds:
    """What every merge shares: the start parameters, the chunks, the kernel call.

    Input vectors start uniform in [-0.5/D, 0.5/D) as word2vec.c's, output vectors and
    biases at zero; ``keep`` is the subsampling probability, the rest the noise tables.

    Args:
        stream: the corpus' id stream.
        vocab, remap: from :func:`rnnlab.word2vec.vocab.vocabulary`.
        config: the run's settings.
        shards: S, the chunks of a round go to shard ``c mod S``.

    Attributes:
        syn0, syn1, bias: the shared parameters, (V, D), (V, D), (V,) float32.
        chunks: (first sentence, end sentence, words before) of each chunk.
        results: (chunks, 3) float64 loss sum, pairs, kept words of the current epoch.
    """

    def __init__(self, stream: IdStream, vocab: Vocabulary, remap: np.ndarray,
                 config: Word2VecConfig, shards: int):
        cfg = config
        V, D = len(vocab.words), cfg.dim
        rng = np.random.default_rng(cfg.seed)
        self.syn0 = ((rng.random((V, D), dtype=np.float32) - 0.5) / D).astype(np.float32)
        self.syn1 = np.zeros((V, D), np.float32)
        self.bias = np.zeros(V, np.float32)
        self.keep = keep_probabilities(vocab.counts, cfg.sample)
        noise = vocab.counts.astype(np.float64) ** cfg.noise_power
        noise /= noise.sum()
        self.alias_p, self.alias_i = _alias_table(noise)
        self.logkq = np.log(cfg.negative * noise)
        self.stream, self.vocab, self.remap, self.config = stream, vocab, remap, cfg
        self.chunks = _cut_chunks(stream.offsets, cfg.batch_words)
        self.shards = shards
        self.per_round = shards * S_PER_ROUND_FACTOR
        self.num_rounds = math.ceil(len(self.chunks) / self.per_round)
        self.total_run = max(stream.num_tokens * cfg.epochs, 1)
        self.results = np.zeros((len(self.chunks), 3))
        self._model, self._loss = MODELS.index(cfg.model), LOSSES.index(cfg.loss)

    def round_chunks(self, r: int) -> range:
        """The chunk indices of round ``r``."""
        return range(r * self.per_round, min((r + 1) * self.per_round, len(self.chunks)))

    def shard(self, syn0: np.ndarray, syn1: np.ndarray, bias: np.ndarray,
              touched0: np.ndarray | None = None, touched1: np.ndarray | None = None) -> Shard:
        """A Shard over these parameter arrays, with fresh flags (unless given) and scratch."""
        V = len(syn0)
        return Shard(syn0, syn1, bias,
                     np.zeros(V, np.uint8) if touched0 is None else touched0,
                     np.zeros(V, np.uint8) if touched1 is None else touched1,
                     np.empty(MAX_SENTENCE, np.int64), np.empty((2, self.config.dim), np.float32))

    def train_chunk(self, epoch: int, c: int, shard: Shard) -> None:
        """Train chunk ``c`` of ``epoch`` on ``shard`` in place; record it in ``results``."""
        lo, hi, before = self.chunks[c]
        cfg, s = self.config, self.stream
        self.results[c] = K.train_chunk(
            s.tokens, s.offsets, lo, hi, self.remap, self.keep, shard.syn0, shard.syn1,
            shard.bias, self.logkq, self.alias_p, self.alias_i, shard.touched0, shard.touched1,
            self._model, self._loss, cfg.window, cfg.negative, cfg.alpha, cfg.min_alpha,
            epoch * s.num_tokens + before, self.total_run, _chunk_seed(cfg.seed, epoch, c),
            shard.buf, shard.work,
        )  # fmt: skip

    def learning_rate(self, done: int) -> float:
        """The linearly decayed rate after ``done`` raw words of the run (as the kernel's)."""
        cfg = self.config
        return max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * done / self.total_run)


class Merge(Protocol):
    """How a round's chunks are trained and their updates folded into ``Rounds.syn0`` etc."""

    def train_round(self, epoch: int, chunks: range) -> None:
        """Train ``chunks`` (one round) and merge; after it, ``results[chunks]`` are final
        and the shared parameters hold the merged round (the same bits on every process)."""

    def epoch_extras(self) -> dict:
        """More columns for the epoch's history row (and reset their counters)."""

    def close(self) -> None:
        """Release threads or buffers (also after an error)."""


def _epoch_row(epoch: int, totals: np.ndarray, words: int, seconds: float) -> dict:
    """One history row from an epoch's summed (loss, pairs, kept words)."""
    return {
        "epoch": epoch + 1, "loss": float(totals[0] / max(totals[1], 1)),
        "pairs": int(totals[1]), "words": words, "kept_words": int(totals[2]),
        "seconds": seconds, "words_per_sec": words / max(seconds, 1e-9),
    }  # fmt: skip


def run_rounds(rounds: Rounds, merge: Merge,
               progress: Callable[[Word2VecProgress], None] | None = None) -> list[dict]:
    """Train every epoch, round by round, through ``merge``; closes ``merge`` at the end.

    Args:
        rounds: the shared state (its parameters are trained in place).
        merge: the thread or process merge built on ``rounds``.
        progress: called after each round with a Word2VecProgress.

    Returns:
        The history: one dict per epoch: epoch, loss (true mean over pairs), pairs, words,
        kept_words, seconds, words_per_sec, and the merge's extras.

    Raises:
        TrainingError: the loss became NaN or Inf.
    """
    stream, results, total = rounds.stream, rounds.results, rounds.total_run
    history: list[dict] = []
    t0 = time.perf_counter()
    try:
        for epoch in range(rounds.config.epochs):
            t_epoch = time.perf_counter()
            for r in range(rounds.num_rounds):
                chunks = rounds.round_chunks(r)
                merge.train_round(epoch, chunks)
                loss, pairs = results[: chunks.stop, 0].sum(), results[: chunks.stop, 1].sum()
                if not math.isfinite(loss):  # every process sees the same sums and stops
                    raise TrainingError(f"word2vec loss became {loss} in epoch {epoch + 1}; "
                                        "lower alpha")
                done = epoch * stream.num_tokens + int(
                    stream.offsets[rounds.chunks[chunks.stop - 1][1]])
                if progress is not None:
                    progress(Word2VecProgress(epoch + 1, done, total,
                                              done / max(time.perf_counter() - t0, 1e-9),
                                              rounds.learning_rate(done),
                                              float(loss / max(pairs, 1))))
            totals = results.sum(0)
            seconds = time.perf_counter() - t_epoch
            history.append({**_epoch_row(epoch, totals, stream.num_tokens, seconds),
                            **merge.epoch_extras()})
            log.info("epoch %d: loss %.4f over %d pairs, %.0f words/s", epoch + 1,
                     history[-1]["loss"], totals[1], history[-1]["words_per_sec"])
    finally:
        merge.close()
    return history
