"""Word2vec: skip-gram and CBOW with negative sampling, NCE or sampled softmax.

References:
    Mikolov, T., Chen, K., Corrado, G. and Dean, J. (2013). Efficient estimation of word
    representations in vector space. ICLR workshop.
    Mikolov, T., Sutskever, I., Chen, K., Corrado, G. and Dean, J. (2013). Distributed
    representations of words and phrases and their compositionality. NIPS.
    Gutmann, M. and Hyvarinen, A. (2010). Noise-contrastive estimation. AISTATS.
    Jean, S. et al. (2015). On using very large target vocabulary for NMT (sampled softmax).

The update rules are word2vec.c's (and gensim's): for skip-gram each context word's input
vector predicts the centre word; CBOW averages the context and adds the whole gradient to
every context word; the window is shrunk at random per position; frequent words are dropped
with probability 1 - (sqrt(f / t) + 1) t / f (f the word's share of the retained corpus,
t = ``sample``); the learning rate falls linearly from ``alpha`` to ``min_alpha`` over all
raw words of all epochs::

    sentence   the  cat  sat  on  the  mat        window=2, reduced to b=1 at "sat"
                    [cat] sat [on]                 pairs (cat -> sat), (on -> sat)

Streaming. The corpus text is read once: that pass tokenises it, counts words and writes
provisional ids (order of first appearance) to a temporary int32 file; the vocabulary is then
a remap from provisional to final ids, and the epochs read the memory-mapped file. So only
the id stream (4 bytes a token, on disk) and the vocabulary must fit, not the text.

Speed: numba rather than a C extension. The hot loop (dot products and axpys of length D over
shuffled rows) is compiled with ``@njit(nogil=True, fastmath=True, cache=True)``: LLVM
vectorises it as well as gensim's BLAS calls without their call overhead, the GIL is released
so plain Python threads run in parallel, and nothing needs a compiler at install time (a C
extension would need one on every user's machine and a build matrix of wheels). The cost is
numba's first-call compile (a few seconds, then cached on disk); only two kernels with one
signature each are compiled.

Determinism. gensim's threads update shared matrices without locks (Hogwild), so the result
depends on thread timing. Here the corpus is cut into chunks of ``batch_words`` raw words at
sentence boundaries; a chunk's random stream is seeded by (seed, epoch, chunk index). Chunks
are trained in rounds over S "shards"::

    round r:  shard 0: chunks rSF+0, rSF+S, ...   (F = 4 chunks a shard, in order)
              shard 1: chunks rSF+1, rSF+S+1, ...
              ...               then per row: base += sum_s (copy_s - base)

Every shard starts the round from the same parameters and trains its own copy; at the end
of the round the updates are summed into the shared matrices row by row, in shard order,
over the rows the shards touched (``merge_rows``), and the copies are resynchronised. The
result is thus a function of (seed, S) alone, whatever thread ran which chunk: a thread that
finishes its own shards takes the next chunk of a shard no thread is running (one thread
per shard at a time), which keeps both cores busy on a shared machine. By default
S = min(workers, 2), so the same seed and workers give the same vectors (one worker is plain
sequential SGD, with no copies). With ``deterministic=True``, S = ``deterministic_shards``
(2) whatever the number of workers, so 1, 2 or 8 workers give identical vectors, at the
cost of S copies of the matrices (and, with fewer workers than shards, no extra speed).
Summing the shards' updates is what Hogwild does too, minus its races; the price is
staleness: a shard does not see the others' updates of the current round (S x F x
``batch_words`` words). Frequent words' rows get S updates computed from the same stale row,
which is fine for S = 2 but overshoots for S = 4 (the loss diverged on a 16-word corpus), so
S is at most 2 for now (more than 2 workers add no speed yet; a damped merge would fix
it): deterministic mode uses S = 2 shards, with 1 worker one after the other. (Averaging
the updates instead was stable but cost 0.04 analogy accuracy on aclImdb.)

The reported loss is the mean over all (input, target) pairs of an epoch of the true loss:
-log sigma(s_true) - sum log sigma(-s_noise) for negative sampling and NCE, the sampled
softmax cross-entropy for sampled softmax.
"""

from __future__ import annotations

import gzip
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab import _w2v_kernels as K
from rnnlab.embeddings import WordVectors
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, TrainingError, choice_error
from rnnlab.text import KERAS_FILTERS

__all__ = [
    "Vocabulary",
    "Word2VecConfig",
    "Word2VecProgress",
    "build_vocab",
    "iter_corpus",
    "keep_probabilities",
    "tokenize",
    "train_word2vec",
]

log = logging.getLogger(__name__)

MODELS = ("skipgram", "cbow")
LOSSES = ("neg", "nce", "sampled-softmax")
MAX_SENTENCE = 10_000  # longer documents are cut, as gensim does
# A round gives each shard this many chunks (chunk r*S*F + j*S + s to shard s, j < F), so
# threads meet at a barrier once per S*F chunks; fixed, as the results depend on it.
S_PER_ROUND_FACTOR = 4
_FILTERS = re.compile("[" + re.escape(KERAS_FILTERS) + "]")


def tokenize(text: str) -> list[str]:
    """Lower-case, drop Keras' default punctuation filters and ``<br />``, split on spaces.

    Example:
        >>> tokenize("A <br />great, great film!")
        ['a', 'great', 'great', 'film']
    """
    return _FILTERS.sub(" ", text.lower().replace("<br />", " ")).split()


@dataclass(frozen=True)
class Word2VecConfig:
    """Settings of a word2vec run (defaults as gensim's, except epochs and workers).

    Attributes:
        model: "skipgram" or "cbow".
        loss: "neg" (negative sampling), "nce" or "sampled-softmax".
        dim: vector size D.
        window: largest distance between centre and context word.
        negative: noise words per pair (the k of NCE and sampled softmax too).
        min_count: drop words seen fewer times.
        max_vocab: keep only the most frequent words (None: all).
        sample: subsampling threshold t (0 disables).
        epochs: passes over the corpus.
        alpha, min_alpha: learning rate at the start and at the end.
        workers: threads.
        seed: seeds initial vectors, subsampling, windows and noise.
        deterministic: same vectors whatever ``workers`` (uses ``deterministic_shards``).
        deterministic_shards: S in deterministic mode.
        batch_words: raw words per chunk (the unit of work and of randomness).
        noise_power: exponent of the unigram noise distribution.
        tmp_dir: folder for the temporary id file (None: the system's).
    """

    model: str = "skipgram"
    loss: str = "neg"
    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    max_vocab: int | None = None
    sample: float = 1e-3
    epochs: int = 5
    alpha: float = 0.025
    min_alpha: float = 0.0001
    workers: int = 2
    seed: int = 1
    deterministic: bool = False
    deterministic_shards: int = 2
    batch_words: int = 10_000
    noise_power: float = 0.75
    tmp_dir: str | None = None

    def __post_init__(self):
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)
        if self.loss not in LOSSES:
            raise choice_error("loss", self.loss, LOSSES)
        for name in ("dim", "window", "negative", "min_count", "epochs", "workers",
                     "deterministic_shards", "batch_words"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"max_vocab must be >= 1 or None, got {self.max_vocab!r}")
        if not 0 <= self.sample < 1:
            raise ConfigError(f"sample must be in [0, 1), got {self.sample!r}")
        if not 0 < self.min_alpha <= self.alpha:
            raise ConfigError(
                f"need 0 < min_alpha <= alpha, got alpha={self.alpha!r}, "
                f"min_alpha={self.min_alpha!r}"
            )

    @property
    def shards(self) -> int:
        """S, the number of independent shard copies per round (see the module docstring)."""
        return self.deterministic_shards if self.deterministic else min(self.workers, 2)


@dataclass(frozen=True)
class Vocabulary:
    """Words sorted by decreasing count (ties by first appearance).

    Attributes:
        words: the kept words; their index is the word id.
        counts: (V,) int64 count of each kept word.
        total_words: raw tokens of the corpus, before min_count and subsampling.
        num_sentences: sentences (documents, cut at 10,000 tokens).
    """

    words: tuple[str, ...]
    counts: np.ndarray
    total_words: int
    num_sentences: int


@dataclass(frozen=True)
class Word2VecProgress:
    """What the progress hook receives after each round of chunks."""

    epoch: int
    words_done: int
    total_words: int
    words_per_sec: float
    lr: float
    loss: float  # mean loss over the pairs of the epoch so far


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_corpus(corpus) -> Iterator[list[str]]:
    """Yield the token lists of a corpus, streamed.

    Args:
        corpus: a text file (one sentence or document per line, optionally .gz), a folder
            (every ``*.txt`` below it, sorted, one document each, as aclImdb), a list of
            such paths, or an in-memory iterable of strings or of token lists.

    Returns:
        An iterator of token lists (``tokenize`` applied to text).
    """
    if isinstance(corpus, str | os.PathLike):
        items = [corpus]
    elif isinstance(corpus, list | tuple) and corpus and all(map(_is_path, corpus)):
        items = list(corpus)
    else:
        for doc in corpus:
            yield tokenize(doc) if isinstance(doc, str) else list(doc)
        return
    for item in items:
        path = Path(item)
        if path.is_dir():
            for f in sorted(path.rglob("*.txt")):
                yield tokenize(f.read_text(encoding="utf-8", errors="replace"))
        elif path.is_file():
            with _open_text(path) as fh:
                for line in fh:
                    yield tokenize(line)
        else:
            raise DataNotFoundError(f"corpus path {str(path)!r} does not exist")


def _is_path(item) -> bool:
    """A path-like, or a short one-line string naming an existing file or folder."""
    if isinstance(item, os.PathLike):
        return True
    return isinstance(item, str) and len(item) < 4096 and "\n" not in item and (
        os.path.exists(item)
    )


class _IdStream:
    """Provisional-id file of a corpus: one pass tokenises, counts and writes ids."""

    def __init__(self, corpus, folder: str):
        self.path = os.path.join(folder, "ids.int32")
        index: dict[str, int] = {}
        setdefault = index.setdefault
        offsets = [0]
        n = 0
        with open(self.path, "wb") as fh:
            block: list[int] = []
            for tokens in iter_corpus(corpus):
                for lo in range(0, len(tokens), MAX_SENTENCE):
                    piece = tokens[lo : lo + MAX_SENTENCE]
                    block.extend([setdefault(w, len(index)) for w in piece])
                    n += len(piece)
                    offsets.append(n)
                if len(block) > 1 << 20:
                    np.asarray(block, np.int32).tofile(fh)
                    block = []
            np.asarray(block, np.int32).tofile(fh)
        self.words = list(index)
        self.offsets = np.asarray(offsets, np.int64)
        self.num_tokens = n
        # read-only either way, so the kernel is compiled for one array type
        self.tokens = np.memmap(self.path, np.int32, "r") if n else np.zeros(1, np.int32)
        self.tokens.flags.writeable = False
        self.counts = np.bincount(self.tokens[:n], minlength=len(self.words)).astype(np.int64)


def _vocab_from_counts(words, counts, total, num_sentences, min_count, max_vocab):
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    if max_vocab is not None:
        order = order[:max_vocab]
    vocab = Vocabulary(tuple(words[i] for i in order), counts[order], total, num_sentences)
    return vocab, order


def build_vocab(corpus, min_count: int = 5, max_vocab: int | None = None) -> Vocabulary:
    """Count the words of a corpus (one streamed pass) and keep the frequent ones.

    Args:
        corpus: anything ``iter_corpus`` accepts.
        min_count: drop words seen fewer times.
        max_vocab: then keep at most this many, the most frequent.

    Returns:
        A Vocabulary.

    Example:
        >>> build_vocab([["a", "b", "a"]], min_count=2).words
        ('a',)
    """
    index: dict[str, int] = {}
    counts: list[int] = []
    total = sentences = 0
    for tokens in iter_corpus(corpus):
        for w in tokens:
            i = index.setdefault(w, len(index))
            if i == len(counts):
                counts.append(0)
            counts[i] += 1
        total += len(tokens)
        sentences += max(1, math.ceil(len(tokens) / MAX_SENTENCE))
    vocab, _ = _vocab_from_counts(
        list(index), np.asarray(counts, np.int64), total, sentences, min_count, max_vocab
    )
    return vocab


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec.c/gensim subsampling).

    keep = (sqrt(c / (t T)) + 1) (t T) / c, capped at 1, with T the retained corpus size.

    Args:
        counts: (V,) word counts in the vocabulary.
        sample: threshold t; 0 keeps everything.

    Returns:
        (V,) float32.
    """
    counts = np.asarray(counts, np.float64)
    if sample <= 0:
        return np.ones(len(counts), np.float32)
    threshold = sample * counts.sum()
    keep = (np.sqrt(counts / threshold) + 1) * threshold / counts
    return np.minimum(keep, 1.0).astype(np.float32)


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


def _chunks(offsets: np.ndarray, batch_words: int) -> list[tuple[int, int, int]]:
    """Cut sentences into chunks of about batch_words raw words: (s_lo, s_hi, words before)."""
    out, lo = [], 0
    n = len(offsets) - 1
    while lo < n:
        hi = int(np.searchsorted(offsets, offsets[lo] + batch_words, side="left"))
        hi = min(max(hi, lo + 1), n)
        out.append((lo, hi, int(offsets[lo])))
        lo = hi
    return out


def train_word2vec(
    corpus,
    config: Word2VecConfig = Word2VecConfig(),
    progress: Callable[[Word2VecProgress], None] | None = None,
) -> tuple[WordVectors, list[dict]]:
    """Train word vectors on a streamed corpus.

    Args:
        corpus: a text file, a folder of .txt files, a list of those, or an iterable of
            strings or token lists (see ``iter_corpus``); read once, streamed.
        config: a Word2VecConfig.
        progress: called after each round with a Word2VecProgress (words/s, lr, loss).

    Returns:
        (WordVectors of the input vectors, sorted by decreasing count; history), history
        holding one dict per epoch: epoch, loss (true mean over pairs), pairs, words,
        kept_words, seconds, words_per_sec.

    Example:
        >>> cfg = Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)
        >>> wv, history = train_word2vec([["a", "b", "c"]] * 20, cfg)
        >>> wv.vectors.shape
        (3, 8)
    """
    cfg = config
    with tempfile.TemporaryDirectory(prefix="rnnlab-w2v-", dir=cfg.tmp_dir) as folder:
        stream = _IdStream(corpus, folder)
        vocab, remap = _vocabulary(stream, cfg)
        syn0, history = _train(stream, vocab, remap, cfg, progress)
        del stream.tokens  # close the memory map before the folder goes
    return WordVectors(words=vocab.words, vectors=syn0), history


def _vocabulary(stream: _IdStream, cfg: Word2VecConfig) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary of a streamed corpus and its remap (provisional id -> vocabulary id,
    -1 for words below min_count or past max_vocab)."""
    vocab, order = _vocab_from_counts(
        stream.words, stream.counts, stream.num_tokens, len(stream.offsets) - 1,
        cfg.min_count, cfg.max_vocab,
    )  # fmt: skip
    if not vocab.words:
        raise DataError(
            f"no word occurs min_count={cfg.min_count} times in the corpus "
            f"({stream.num_tokens} tokens)"
        )
    log.info("vocabulary: %d words of %d distinct, %d tokens",
             len(vocab.words), len(stream.words), stream.num_tokens)
    remap = np.full(max(len(stream.words), 1), -1, np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return vocab, remap


def _learning_rate(cfg: Word2VecConfig, done: int, total: int) -> float:
    """The linearly decayed rate after ``done`` of ``total`` raw words (as the kernel's)."""
    return max(cfg.min_alpha, cfg.alpha - (cfg.alpha - cfg.min_alpha) * done / total)


def _epoch_row(epoch: int, totals: np.ndarray, words: int, seconds: float) -> dict:
    """One history row from an epoch's summed (loss, pairs, kept words)."""
    return {
        "epoch": epoch + 1, "loss": float(totals[0] / max(totals[1], 1)),
        "pairs": int(totals[1]), "words": words, "kept_words": int(totals[2]),
        "seconds": seconds, "words_per_sec": words / max(seconds, 1e-9),
    }  # fmt: skip


class _RoundSchedule:
    """Hands out a round's chunks: each shard's in order, one thread per shard at a time.

    A thread whose own shards are done takes over another shard's pending chunk instead of
    idling at the barrier (threads get descheduled on a shared machine); which thread runs a
    chunk never changes the result.
    """

    def __init__(self, shards: int, workers: int):
        self.S, self.W = shards, workers
        self.cond = threading.Condition()
        self.pending: list[list[int]] = [[] for _ in range(shards)]
        self.busy = [False] * shards
        self.aborted = False

    def start(self, r: int, n_chunks: int) -> None:
        first, S = r * S_PER_ROUND_FACTOR * self.S, self.S
        with self.cond:
            self.pending = [
                [c for c in range(first + s, first + S * S_PER_ROUND_FACTOR, S) if c < n_chunks]
                for s in range(S)
            ]

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
            raise threading.BrokenBarrierError

    def release(self, s: int) -> None:
        with self.cond:
            self.busy[s] = False
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


def _initial_state(vocab: Vocabulary, cfg: Word2VecConfig) -> tuple[np.ndarray, ...]:
    """(syn0, syn1, bias, keep, alias_p, alias_i, logkq): the start of every trainer.

    Input vectors start uniform in [-0.5/D, 0.5/D) as word2vec.c's, output vectors and
    biases at zero; keep is the subsampling probability and the rest the noise tables.
    """
    V, D = len(vocab.words), cfg.dim
    rng = np.random.default_rng(cfg.seed)
    syn0 = ((rng.random((V, D), dtype=np.float32) - 0.5) / D).astype(np.float32)
    syn1 = np.zeros((V, D), np.float32)
    bias = np.zeros(V, np.float32)
    keep = keep_probabilities(vocab.counts, cfg.sample)
    noise = vocab.counts.astype(np.float64) ** cfg.noise_power
    noise /= noise.sum()
    alias_p, alias_i = _alias_table(noise)
    return syn0, syn1, bias, keep, alias_p, alias_i, np.log(cfg.negative * noise)


def _train(stream, vocab, remap, cfg, progress):
    V, D = len(vocab.words), cfg.dim
    syn0, syn1, bias, keep, alias_p, alias_i, logkq = _initial_state(vocab, cfg)

    S, W = cfg.shards, cfg.workers
    chunks = _chunks(stream.offsets, cfg.batch_words)
    n_chunks = len(chunks)
    per_round = S * S_PER_ROUND_FACTOR
    rounds = math.ceil(n_chunks / per_round)
    total_run = max(stream.num_tokens * cfg.epochs, 1)
    if S > 1:  # shard copies of the parameters and of the touched-row flags
        copies = [np.repeat(m[None], S, axis=0) for m in (syn0, syn1, bias.reshape(V, 1))]
        shard_params = [(copies[0][s], copies[1][s], copies[2][s].reshape(V)) for s in range(S)]
    else:
        copies = []
        shard_params = [(syn0, syn1, bias)]
    touched = [np.zeros((S, V), np.uint8) for _ in range(3)]
    results = np.zeros((n_chunks, 3))  # loss, pairs, kept words of the current epoch
    model = MODELS.index(cfg.model)
    loss_kind = LOSSES.index(cfg.loss)
    scratch = [(np.empty(MAX_SENTENCE, np.int64), np.empty((2, D), np.float32)) for _ in range(S)]

    def run_chunk(epoch: int, c: int, s: int) -> None:
        lo, hi, before = chunks[c]
        p0, p1, b = shard_params[s]
        buf, work = scratch[s]
        results[c] = K.train_chunk(
            stream.tokens, stream.offsets, lo, hi, remap, keep, p0, p1, b, logkq,
            alias_p, alias_i, touched[0][s], touched[1][s], model, loss_kind, cfg.window,
            cfg.negative, cfg.alpha, cfg.min_alpha, epoch * stream.num_tokens + before,
            total_run, _chunk_seed(cfg.seed, epoch, c), buf, work,
        )  # fmt: skip

    history: list[dict] = []
    state = {"epoch": 0, "round": 0, "t_epoch": time.perf_counter(), "t0": time.perf_counter()}

    def end_of_round() -> None:  # runs in one thread while the others wait
        epoch, r = state["epoch"], state["round"]
        last = min((r + 1) * per_round, n_chunks)
        words = int(stream.offsets[chunks[last - 1][1]])
        done = epoch * stream.num_tokens + words
        loss, pairs = results[:last, 0].sum(), results[:last, 1].sum()
        if not math.isfinite(loss):
            raise TrainingError(f"word2vec loss became {loss} in epoch {epoch + 1}; lower alpha")
        if progress is not None:
            elapsed = time.perf_counter() - state["t0"]
            progress(Word2VecProgress(epoch + 1, done, total_run, done / max(elapsed, 1e-9),
                                      _learning_rate(cfg, done, total_run),
                                      float(loss / max(pairs, 1))))
        if last == n_chunks:
            seconds = time.perf_counter() - state["t_epoch"]
            totals = results.sum(0)
            history.append(_epoch_row(epoch, totals, stream.num_tokens, seconds))
            log.info("epoch %d: loss %.4f over %d pairs, %.0f words/s", epoch + 1,
                     history[-1]["loss"], totals[1], history[-1]["words_per_sec"])
            state["t_epoch"] = time.perf_counter()

    if S == 1 and W == 1:
        for epoch in range(cfg.epochs):
            state["epoch"] = epoch
            for r in range(rounds):
                state["round"] = r
                for c in range(r * per_round, min((r + 1) * per_round, n_chunks)):
                    run_chunk(epoch, c, 0)
                end_of_round()
        return syn0, history

    errors: list[BaseException] = []
    barrier = threading.Barrier(W)
    bases = (syn0, syn1, bias.reshape(V, 1))
    row_cuts = np.linspace(0, V, W + 1).astype(np.int64)
    sched = _RoundSchedule(S, W)

    def worker(w: int) -> None:
        try:
            for epoch in range(cfg.epochs):
                for r in range(rounds):
                    if w == 0:
                        sched.start(r, n_chunks)
                    barrier.wait()
                    while (job := sched.take(w)) is not None:
                        run_chunk(epoch, job[1], job[0])
                        sched.release(job[0])
                    if barrier.wait() == 0:  # exactly one thread does the bookkeeping
                        state["epoch"], state["round"] = epoch, r
                        end_of_round()
                    if S > 1:
                        lo, hi = row_cuts[w], row_cuts[w + 1]
                        # an output row's bias moves exactly when the row does
                        touched[2][:, lo:hi] = touched[1][:, lo:hi]
                        for base, copy, t in zip(bases, copies, touched, strict=True):
                            K.merge_rows(base, copy, t, lo, hi)
                    barrier.wait()
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)
            sched.abort()
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(W)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return syn0, history



class TqdmWord2VecProgress:
    """A progress bar for :func:`train_word2vec`: words done, words/s and the current lr.

    Pass it as ``progress=``; the CLI attaches it (the library itself only logs). No bar
    when ``quiet`` or when stderr is not a terminal.
    """

    def __init__(self, *, quiet: bool = False, file=None):
        import sys

        self.file = file if file is not None else sys.stderr
        self.disable = quiet or not getattr(self.file, "isatty", lambda: False)()
        self.bar = None

    def __call__(self, p: Word2VecProgress) -> None:
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=p.total_words, unit="word", unit_scale=True, file=self.file,
                            disable=self.disable, dynamic_ncols=True, desc="word2vec")
        self.bar.update(p.words_done - self.bar.n)
        self.bar.set_postfix({"epoch": p.epoch, "words/s": f"{p.words_per_sec:,.0f}",
                              "lr": f"{p.lr:.5f}", "loss": f"{p.loss:.4f}"}, refresh=False)
        if p.words_done >= p.total_words:
            self.bar.close()
