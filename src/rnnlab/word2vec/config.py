"""The settings of a word2vec run: one frozen dataclass, its fields carrying their CLI flags."""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.config import option
from rnnlab.errors import ConfigError, choice_error

__all__ = ["DEFAULT_THREADS", "LOSSES", "MODELS", "Word2VecConfig"]

MODELS = ("skipgram", "cbow")
LOSSES = ("neg", "nce", "sampled-softmax")
# Threads when ``workers`` is left to resolve and one process trains (more add no speed
# while the shards are at most 2; see rnnlab.word2vec.engine).
DEFAULT_THREADS = 2


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
        workers: threads; None resolves to 2 threads in one process, 1 per process when
            several processes train (see :attr:`threads`).
        seed: seeds initial vectors, subsampling, windows and noise (the CLI's ``--seed``).
        deterministic: same vectors whatever ``workers`` (uses ``deterministic_shards``).
        deterministic_shards: S in deterministic mode.
        batch_words: raw words per chunk (the unit of work and of randomness).
        noise_power: exponent of the unigram noise distribution.
        tmp_dir: folder for the temporary id file (None: the system's).

    Example:
        >>> Word2VecConfig(dim=50, min_count=2).threads
        2
    """

    model: str = option("skipgram", choices=MODELS, help="skip-gram or CBOW")
    loss: str = option("neg", choices=LOSSES,
                       help="negative sampling, noise-contrastive estimation or sampled softmax")
    dim: int = option(100, help="vector size")
    window: int = option(5, help="largest distance between centre and context word")
    negative: int = option(5, help="negative/noise samples")
    min_count: int = option(5, help="drop words seen fewer times")
    max_vocab: int | None = option(None, help="keep only the most frequent words (None: all)")
    sample: float = option(1e-3, help="subsampling threshold")
    epochs: int = option(5, help="passes over the corpus")
    alpha: float = option(0.025, help="initial learning rate")
    min_alpha: float = option(0.0001, cli=False)
    workers: int | None = option(None, help="threads",
                                 auto="2; 1 per process with --nproc")
    # set from the CLI's common --seed, which every command has
    seed: int = option(1, cli=False)
    deterministic: bool = option(False,
                                 help="the same vectors whatever the number of workers")
    deterministic_shards: int = option(2, cli=False)
    batch_words: int = option(10_000, cli=False)
    noise_power: float = option(0.75, cli=False)
    tmp_dir: str | None = option(None, cli=False)

    def __post_init__(self):
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)
        if self.loss not in LOSSES:
            raise choice_error("loss", self.loss, LOSSES)
        for name in ("dim", "window", "negative", "min_count", "epochs",
                     "deterministic_shards", "batch_words"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be >= 1")
        if self.workers is not None and int(self.workers) < 1:
            raise ConfigError(f"workers={self.workers!r} must be >= 1 or None")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise ConfigError(f"max_vocab={self.max_vocab!r} must be >= 1 or None")
        if not 0 <= self.sample < 1:
            raise ConfigError(f"sample={self.sample!r} must be in [0, 1)")
        if not 0 < self.min_alpha <= self.alpha:
            raise ConfigError(
                f"need 0 < min_alpha <= alpha, got alpha={self.alpha!r}, "
                f"min_alpha={self.min_alpha!r}"
            )

    @property
    def threads(self) -> int:
        """Threads of a one-process run: ``workers``, or 2 when it is None."""
        return DEFAULT_THREADS if self.workers is None else self.workers

    @property
    def shards(self) -> int:
        """S, the shard copies per round of a one-process run (see rnnlab.word2vec.engine)."""
        return self.deterministic_shards if self.deterministic else min(self.threads, 2)
