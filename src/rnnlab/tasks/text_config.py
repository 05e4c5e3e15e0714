"""The settings of a text-classification run: which texts, which model, how to fit.

:class:`TextConfig` is composed of three parts, each a frozen dataclass whose fields carry
their command-line flag (``rnnlab train text --help``)::

    TextConfig(data=TextData(input="reviews.csv"), model=TextModel(model="gru", hidden=64),
               fit=FitConfig(epochs=10, batch_size=32, lr=1e-3, optimizer="rmsprop"))

:func:`migrate_v1` turns the flat ``config.json`` that rnnlab 0.1.0 wrote for a
``sentiment`` run into this shape, so old run folders still evaluate, predict and resume.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from rnnlab.config import option
from rnnlab.errors import ConfigError, choice_error
from rnnlab.models.text import KINDS
from rnnlab.training import FitConfig

__all__ = ["MODELS", "TextConfig", "TextData", "TextModel", "migrate_v1"]

MODELS = ("nblr", *KINDS)  # nblr (rnnlab.tasks.text_ngram) is the default
# nblr's settings, chosen by 5-fold cross-validation on the IMDB training reviews
# (bench/text_cv.py; BENCHMARKS.md, issue 16): the cheapest within 0.003 of the best.
DEFAULT_NGRAMS, DEFAULT_C, DEFAULT_MIN_DF = 2, 0.3, 2
CLASS_WEIGHTS = ("none", "balanced")

SOURCES = ("data_dir", "tarball", "input")


@dataclass(frozen=True)
class TextData:
    """Which labelled texts to read, and how much of them validates.

    Attributes:
        data_dir: a folder holding ``aclImdb/`` (or being it).
        tarball: ``aclImdb_v1.tar.gz``, read directly, never extracted to disk.
        input: a user's own labelled texts: a folder with one subfolder per class, a
            CSV / JSONL file with ``text_column`` and ``label_column``, or a ``.txt`` file
            of fastText lines (``__label__pos some text``).
        text_column, label_column: the CSV columns (JSON keys) of the text and its label.
        download: fetch aclImdb_v1.tar.gz (SHA-256 checked) when no source is given.
        train_size: keep only the first N training texts (after the validation split).
        val_fraction: share of the labelled texts held out for validation (a fixed,
            seeded draw: every model of the same data is validated on the same texts).
    """

    data_dir: str | None = option(None, metavar="DIR", help="folder holding aclImdb/")
    tarball: str | None = option(None, metavar="FILE",
                                 help="aclImdb_v1.tar.gz (read without extracting)")
    input: str | None = option(None, metavar="PATH",
                               help="your texts: a folder per class, or a CSV/JSONL file, or "
                                    "a text file of '__label__X text' lines")
    text_column: str = option("text", help="CSV column / JSON key of the text")
    label_column: str = option("label", help="CSV column / JSON key of the label")
    download: bool = option(False, help="fetch aclImdb_v1.tar.gz when no source is given")
    train_size: int | None = option(None, metavar="N",
                                    help="train on only the first N training texts")
    val_fraction: float = option(0.1, help="share of the labelled texts held out for "
                                           "validation")

    def __post_init__(self):
        given = [name for name in SOURCES if getattr(self, name)]
        if len(given) > 1:
            raise ConfigError(f"give one of data_dir, tarball or input, not several "
                              f"(got {', '.join(f'{n}={getattr(self, n)!r}' for n in given)})")
        if isinstance(self.val_fraction, bool) or not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction={self.val_fraction!r} must be in (0, 1)")
        if self.train_size is not None and (isinstance(self.train_size, bool)
                                            or not isinstance(self.train_size, int)
                                            or self.train_size < 1):
            raise ConfigError(f"train_size={self.train_size!r} must be a positive int")

    @property
    def is_imdb(self) -> bool:
        """Whether the texts are aclImdb (which has a test split) rather than a user's."""
        return not self.input


@dataclass(frozen=True)
class TextModel:
    """The encoding of the texts and the network that classifies them.

    Attributes:
        model: "nblr" (the default: NBSVM's naive-Bayes-scaled hashed n-grams, words and
            bigrams by default, and an L2 logistic regression fitted exactly,
            ``rnnlab.tasks.text_ngram``), or one of "flatten", "glove-flatten", "rnn",
            "lstm", "gru", "bag", "nbsvm" (``rnnlab.models.text`` describes each). nblr
            reads every word of every text and ignores ``maxlen``, ``num_words`` and the
            fit's optimizer settings (``max_steps`` caps its L-BFGS iterations).
        maxlen: tokens kept per text (Keras' default: the LAST maxlen words).
        num_words: vocabulary size (the num_words - 1 most frequent words, 0 = padding).
        embedding: "none" (learnt from scratch), "glove-6b-50d", or a vector file path.
        embedding_dim: width of a learnt embedding (ignored with pre-trained vectors).
        freeze: keep pre-trained vectors fixed.
        hidden: Dense units (glove-flatten) or recurrent units (rnn, lstm, gru).
        num_layers, bidirectional: recurrent layers and directions.
        dropout: dropout before the output layer (and between recurrent layers).
        bigram_buckets: bag and nbsvm models: hashed bigram buckets (0: unigrams only).
        ngrams, c, ngram_buckets, min_df: nblr's longest n-gram, inverse L2 strength
            (scikit-learn's C), hash space and the fewest training texts an n-gram must
            occur in to be a feature.
        class_weight: "balanced" weighs each class's texts by inverse frequency in the loss.
    """

    model: str = option("nblr", choices=MODELS, help="the classifier")
    maxlen: int = option(50, help="tokens per text")
    num_words: int = option(10000, help="vocabulary size")
    embedding: str = option("none", metavar="{none,glove-6b-50d,PATH}",
                            help="pre-trained vectors (none: learnt)")
    embedding_dim: int = option(8, help="width of a learnt embedding")
    freeze: bool = option(False, help="keep pre-trained vectors fixed")
    hidden: int = option(32, flag="--units",
                         help="dense units (glove-flatten) or recurrent units")
    num_layers: int = option(1, flag="--layers", help="recurrent layers")
    bidirectional: bool = option(False, help="read each text both ways (recurrent models)")
    dropout: float = option(0.0, help="dropout before the output layer")
    bigram_buckets: int = option(0, flag="--bigrams", metavar="BUCKETS",
                                 help="bag and nbsvm models: hashed bigram buckets "
                                      "(0: unigrams only)")
    ngrams: int = option(DEFAULT_NGRAMS, help="nblr: the longest n-gram (1: words only)")
    c: float = option(DEFAULT_C, help="nblr: inverse L2 strength (scikit-learn's C)")
    ngram_buckets: int = option(1 << 23, flag="--buckets",
                                help="nblr: hash space of the n-grams")
    min_df: int = option(DEFAULT_MIN_DF,
                         help="nblr: keep n-grams found in at least this many training texts")
    class_weight: str = option("none", choices=CLASS_WEIGHTS,
                               help="weigh the loss by inverse class frequency")

    def __post_init__(self):
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)
        if self.class_weight not in CLASS_WEIGHTS:
            raise choice_error("class_weight", self.class_weight, CLASS_WEIGHTS)
        self._check_ngrams()
        if self.model in ("nbsvm", "nblr") and self.embedding != "none":
            raise ConfigError(f"the {self.model} model learns one weight per word; it takes "
                              f"no pre-trained vectors (got embedding={self.embedding!r})")
        if isinstance(self.num_words, bool) or not isinstance(self.num_words, int) \
                or self.num_words < 2:
            raise ConfigError(f"num_words={self.num_words!r} must be at least 2")
        for name in ("maxlen", "embedding_dim", "hidden", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a positive int")
        if isinstance(self.bigram_buckets, bool) or not isinstance(self.bigram_buckets, int) \
                or self.bigram_buckets < 0:
            raise ConfigError(f"bigram_buckets={self.bigram_buckets!r} must be an int >= 0")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout={self.dropout!r} must be in [0, 1)")

    def _check_ngrams(self) -> None:
        for name, low, high in (("ngrams", 1, 8), ("ngram_buckets", 1, 1 << 28),
                                ("min_df", 1, None)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low \
                    or (high is not None and value > high):
                raise ConfigError(f"{name}={value!r} must be an int in [{low}, {high or 'inf'}]")
        if isinstance(self.c, bool) or not isinstance(self.c, int | float) \
                or not math.isfinite(self.c) or self.c <= 0:
            raise ConfigError(f"c={self.c!r} must be a number > 0")


def _fit_defaults() -> FitConfig:
    # The notebook's Keras settings (RMSprop, batches of 32, 10 epochs); --seed's default.
    return FitConfig(epochs=10, batch_size=32, lr=1e-3, optimizer="rmsprop", seed=42)


@dataclass(frozen=True)
class TextConfig:
    """A text-classification run: the texts, the model and how to fit it.

    Example:
        >>> config = TextConfig(data=TextData(input="reviews.csv"),
        ...                     model=TextModel(model="bag", bigram_buckets=100_000))
        >>> config.fit.optimizer
        'rmsprop'
    """

    data: TextData = field(default_factory=TextData)
    model: TextModel = field(default_factory=TextModel)
    fit: FitConfig = field(default_factory=_fit_defaults)


def migrate_v1(saved: dict) -> dict:
    """The composed config dict (as ``to_dict`` writes it) from a 0.1.0 ``config.json``.

    rnnlab 0.1.0 saved one flat ``data`` object (``SentimentConfig`` plus the derived
    ``classes``, ``val_size`` and ``train_size``, the last one the COUNT of training texts)
    beside ``model`` and ``fit``. The count reproduces the same split as the value typed,
    so it becomes ``train_size``.

    Args:
        saved: the old ``config.json`` (``{"task": "sentiment", "data", "model", "fit"}``).

    Returns:
        ``{"data": {...}, "model": {...}, "fit": {...}}`` for ``from_dict(TextConfig, ...)``.
    """
    try:
        flat, fit = saved["data"], dict(saved["fit"])
    except (KeyError, TypeError) as e:
        raise ConfigError(f"a version-1 text run's config.json needs 'data' and 'fit' "
                          f"objects; missing {e}") from None
    data = {k: flat.get(k, v) for k, v in asdict(TextData()).items()}
    model = {k: flat.get(k, v) for k, v in asdict(TextModel()).items()}
    known = set(asdict(FitConfig()))
    return {"data": data, "model": model, "fit": {k: v for k, v in fit.items() if k in known}}
