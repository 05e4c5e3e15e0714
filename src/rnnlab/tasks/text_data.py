"""The texts of a text-classification run: reading them, the fixed split, the encoding.

Validation is a fixed share (``val_fraction``) of the labelled training texts, drawn with
a seed of its own (``SPLIT_SEED``) so every model is compared on the same texts and
``rnnlab evaluate`` can draw the same validation part again from the saved settings;
``train_size`` then keeps the first N of the rest (the notebook's 200-review experiment).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import ConfigError, DataError, DataNotFoundError
from rnnlab.text import Tokenizer, pad_sequences

logger = logging.getLogger(__name__)

__all__ = ["SPLIT_SEED", "class_weights", "encode", "load_texts", "make_tokenizer",
           "split_indices", "warn_small_classes"]

MIN_PER_CLASS = 10  # fewer training texts of a class than this: a warning

SPLIT_SEED = 20131  # fixed: the validation texts never depend on --seed
IMDB_CLASSES = ("neg", "pos")
IMDB_TARBALL = "aclImdb_v1.tar.gz"
_COLUMN_FILES = (".csv", ".tsv", ".jsonl", ".json", ".ndjson")  # files with a label column


def _imdb_root(source) -> str | Path:
    """Where aclImdb is: the given folder or tarball, else rnnlab's data folder."""
    from rnnlab.data.download import cache_dir
    from rnnlab.data.imdb import download_imdb

    root = source.tarball or source.data_dir
    if root is not None:
        return root
    if source.download:
        return download_imdb()
    cache = cache_dir()
    if (cache / "aclImdb").is_dir() or (cache / "train").is_dir():
        return cache
    if (cache / IMDB_TARBALL).is_file():  # what an earlier download=True left there
        return cache / IMDB_TARBALL
    raise DataNotFoundError(
        f"no texts given and no aclImdb in {cache}: pass input=PATH (your own labelled "
        "texts), data_dir=DIR or tarball=FILE (aclImdb), or download=True to fetch aclImdb")


def load_texts(source, split: str = "train", *, classes: Sequence[str] | None = None):
    """Labelled texts of a split: ``(texts, labels int64, classes)``.

    Args:
        source: a ``TextData`` (or anything with its source fields: ``data_dir``,
            ``tarball``, ``input``, ``text_column``, ``label_column``, ``download``).
        split: "train" or "test" (aclImdb's own splits; a user's file has only "train",
            the whole file).
        classes: fix the class names and their order (a trained run's); default: the
            sorted labels found (aclImdb: neg, pos).

    With neither ``data_dir``, ``tarball`` nor ``input``, aclImdb is looked for in
    rnnlab's data folder (``$RNNLAB_DATA``, else the user cache), where ``download``
    puts it.

    Example:
        >>> texts, labels, classes = load_texts(TextData(input="reviews.csv"))  # doctest: +SKIP
        >>> classes                                                            # doctest: +SKIP
        ['neg', 'pos']
    """
    if source.input:
        from rnnlab.data.texts import read_texts

        if split != "train":
            raise ConfigError(f"input={source.input!r} has no {split!r} split; a file of "
                              "your own texts is split into train and val only")
        data = read_texts(source.input, text_column=source.text_column,
                          label_column=source.label_column,
                          classes=None if classes is None else tuple(classes))
        return list(data.texts), np.asarray(data.labels, np.int64), list(data.classes)
    from rnnlab.data.imdb import load_imdb

    data = load_imdb(_imdb_root(source), split)
    if classes is not None and tuple(classes) != IMDB_CLASSES:
        raise DataError(f"aclImdb's labels are {list(IMDB_CLASSES)}; the run was trained on "
                        f"{list(classes)}")
    return list(data.texts), np.asarray(data.labels, np.int64), list(IMDB_CLASSES)


def check_classes(classes: Sequence[str], source) -> None:
    """Refuse data with fewer than two labels (a classifier needs two or more)."""
    if len(classes) < 2:
        found = f"only the label {classes[0]!r}" if classes else "no labels"
        column = (f" in label_column={source.label_column!r}"
                  if Path(source.input).suffix.lower() in _COLUMN_FILES else "")
        raise DataError(f"input={source.input!r} has {found}{column}; a classifier needs "
                        "texts of at least two labels")


def class_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Scikit-learn's "balanced" weights, ``n / (C * count)``, from the training labels."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return len(y) / (num_classes * np.maximum(counts, 1.0))


def warn_small_classes(y: np.ndarray, classes: Sequence[str]) -> None:
    """Warn about classes with fewer than ``MIN_PER_CLASS`` training texts."""
    counts = np.bincount(y, minlength=len(classes))
    few = {c: int(n) for c, n in zip(classes, counts, strict=True) if n < MIN_PER_CLASS}
    if few:
        logger.warning("few training texts for %s (fewer than %d each): the model cannot learn "
                       "much about these classes; add texts or merge classes",
                       ", ".join(f"{c!r}: {n}" for c, n in few.items()), MIN_PER_CLASS)


def split_indices(n: int, val_fraction: float, train_size: int | None):
    """Fixed, seeded train/validation indices over n labelled texts.

    Returns:
        ``(train indices, validation indices)``, int arrays.
    """
    order = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_val = max(1, round(n * val_fraction))
    if n_val >= n:
        raise ConfigError(f"{n} labelled texts are too few for a validation split")
    train, val = order[:-n_val], order[-n_val:]
    if train_size is not None:
        if train_size > len(train):
            raise ConfigError(f"train_size={train_size} but only {len(train)} training texts "
                              "remain after the validation split")
        train = train[:train_size]
    return train, val


def make_tokenizer(num_words: int) -> Tokenizer:
    """The notebook's tokenizer, plus removal of the ``<br />`` tags IMDB reviews carry."""
    return Tokenizer(num_words=num_words, remove=("<br />",))


def encode(tokenizer: Tokenizer, texts, maxlen: int) -> torch.Tensor:
    """Texts -> (N, maxlen) int64 token ids, Keras' pre-padding and pre-truncating."""
    return torch.from_numpy(pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=maxlen,
                                          dtype="int64"))
