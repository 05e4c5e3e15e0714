"""The default text model, ``nblr``: tokenising for it, fitting it into a run, predicting.

``nblr`` (naive-Bayes logistic regression, :mod:`rnnlab.models.text_nbsvm`) reads every
word of every text: a tokenizer with no ``num_words`` cut and no ``maxlen``, that keeps
``!`` and ``?`` as words of their own (they carry sentiment), hashes the n-grams of each
text (words and bigrams by default; ``ngrams=3`` adds trigrams) and fits naive-Bayes
ratios and an L2 logistic regression exactly (L-BFGS), in one step: no epochs, no
learning rate. Its settings (``ngrams``, ``c``, ``ngram_buckets``, ``min_df``) were chosen
by 5-fold cross-validation on the IMDB training reviews (``bench/text_cv.py``,
``BENCHMARKS.md``). The run folder is the same as the other models': ``config.json``,
``metrics.csv``/``.json`` (one row), ``best``/``last`` checkpoints and ``tokenizer.json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from rnnlab.errors import ShapeError
from rnnlab.models.text_nbsvm import NgramLinear
from rnnlab.models.text_ngrams import NgramRows, flatten_sequences, ngram_rows
from rnnlab.tasks.scores import classification_report
from rnnlab.text import Tokenizer
from rnnlab.training import FitConfig, History

logger = logging.getLogger(__name__)

__all__ = ["NGRAM_KINDS", "NgramModelConfig", "NgramPredictor", "Scoring", "fit_ngram_run",
           "ngram_tokenizer", "prepare", "warn_unknown"]

NGRAM_KINDS = ("nblr",)
_PUNCT = "!?"  # kept as words of their own (``prepare``)
_FILTERS = '"#$%&()*+,-./:;<=>@[\\]^_`{|}~\t\n'  # Keras' filters without ! and ?


def ngram_tokenizer() -> Tokenizer:
    """Every word of the training texts (no ``num_words`` cut), ``<br />`` removed."""
    return Tokenizer(num_words=None, filters=_FILTERS, remove=("<br />",))


def prepare(texts: Sequence[str]) -> list[str]:
    """Texts with ``!`` and ``?`` spaced out, so that each becomes a token."""
    table = str.maketrans({c: f" {c} " for c in _PUNCT})
    return [t.translate(table) for t in texts]


@dataclass(frozen=True)
class NgramModelConfig:
    """What ``config.json`` records of an nblr model (its ``"model"`` entry).

    Attributes:
        kind: "nblr".
        ngrams: the longest n-gram.
        buckets: the hash space of the n-grams.
        columns: the n-grams (buckets) the training texts held, the model's width.
        num_classes: 2 gives one logit per text; more give one per class.
        c, min_df: the fit's settings (kept for the record).
    """

    kind: str = "nblr"
    ngrams: int = 2
    buckets: int = 1 << 23
    columns: int = 1
    num_classes: int = 2
    c: float = 1.0
    min_df: int = 1

    @property
    def num_outputs(self) -> int:
        return 1 if self.num_classes == 2 else self.num_classes


def loss_of(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Sigmoid cross-entropy of one logit, softmax cross-entropy of several."""
    if logits.dim() == 1:
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, y.float()).item()
    return torch.nn.functional.cross_entropy(logits, y).item()


def warn_unknown(lengths: np.ndarray) -> None:
    """Warn about texts that hold no word the model knows (``lengths``: tokens per text)."""
    empty = np.flatnonzero(np.asarray(lengths) == 0)
    if len(empty):
        shown = ", ".join(map(str, empty[:5].tolist())) + (", ..." if len(empty) > 5 else "")
        logger.warning("%d of %d texts hold no word the model knows (texts %s); the model's "
                       "bias alone decides their label", len(empty), len(lengths), shown)


class Scoring:
    """Probabilities, labels and reports from ``self.logits(texts)`` and ``self.classes``."""

    classes: tuple[str, ...]

    def logits(self, texts) -> torch.Tensor:  # pragma: no cover - every subclass has one
        raise NotImplementedError

    def proba_of(self, logits: torch.Tensor) -> np.ndarray:
        """Class probabilities (N, C) from ``logits``."""
        if logits.dim() == 1:
            p = torch.sigmoid(logits)
            return torch.stack([1 - p, p], dim=1).numpy()
        return torch.softmax(logits, dim=-1).numpy()

    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities (N, C) for a list of texts."""
        if isinstance(texts, str):
            raise ShapeError("predict_proba takes a list of texts; wrap one text in a list")
        return self.proba_of(self.logits(list(texts)))

    def predict(self, texts) -> tuple[list[str], np.ndarray]:
        """``(labels, probability of that label)`` for a list of texts."""
        proba = self.predict_proba(texts)
        best = proba.argmax(1)
        return [self.classes[i] for i in best], proba[np.arange(len(best)), best]

    def score(self, texts, labels) -> dict:
        """The classification report of these labelled texts, with the mean loss.

        Args:
            texts: N strings.
            labels: (N,) class indices into ``classes``.

        Returns:
            ``classification_report``'s keys plus ``loss``.
        """
        logits = self.logits(list(texts))
        y = torch.as_tensor(np.asarray(labels, np.int64))
        loss = loss_of(logits, y) if len(y) else None
        report = classification_report(y.numpy(), self.proba_of(logits).argmax(1),
                                       self.classes)
        return {**report, "loss": loss}


@dataclass(frozen=True)
class NgramPredictor(Scoring):
    """A fitted nblr model with its tokenizer: what ``rnnlab.load_run`` returns for one."""

    model: NgramLinear
    tokenizer: Tokenizer
    config: NgramModelConfig
    classes: tuple[str, ...]

    def rows(self, texts) -> NgramRows:
        """The texts' hashed n-gram sets; warns about texts without one known word."""
        seqs = self.tokenizer.texts_to_sequences(prepare(texts))
        ids, offsets = flatten_sequences(seqs)
        warn_unknown(offsets[1:] - offsets[:-1])
        return ngram_rows((ids, offsets), ngrams=self.config.ngrams, buckets=self.config.buckets)

    def logits(self, texts) -> torch.Tensor:
        """(N,) logits for two classes, else (N, C)."""
        return self.model.logits(self.rows(list(texts)))


def fit_ngram_run(model_part, train_texts, y_train, val_texts, y_val, classes, fit: FitConfig,
                  *, tokenizer: Tokenizer | None = None, class_weight=None):
    """Tokenise, hash and fit an nblr model; returns ``(predictor, history, model entry)``.

    Args:
        model_part: the run's ``TextModel`` (``ngrams``, ``c``, ``ngram_buckets``, ``min_df``).
        train_texts, y_train: the training texts and their class indices.
        val_texts, y_val: the validation texts (scored once, after the fit).
        classes: the class names.
        fit: the run's ``FitConfig``; only ``max_steps`` (a cap on L-BFGS iterations) applies.
        tokenizer: a resumed run's tokenizer (read from the run, never refitted).
        class_weight: (C,) loss weights of the classes; None: all 1.

    Returns:
        The predictor, a one-row ``History`` and the ``NgramModelConfig`` as a dict.
    """
    start = time.perf_counter()
    y_train = np.asarray(y_train, np.int64)
    if tokenizer is None:
        tokenizer = ngram_tokenizer()
        tokenizer.fit_on_texts(prepare(train_texts))  # never the validation texts
    config = NgramModelConfig(ngrams=model_part.ngrams, buckets=model_part.ngram_buckets,
                              num_classes=len(classes), c=model_part.c,
                              min_df=model_part.min_df)
    probe = NgramPredictor(NgramLinear(1, config.num_outputs, config.buckets), tokenizer,
                           config, tuple(classes))
    rows = probe.rows(train_texts)
    model = NgramLinear.fit(rows, y_train, len(classes), c=config.c, min_df=config.min_df,
                            max_iter=fit.max_steps or 300, class_weight=class_weight)
    config = NgramModelConfig(**{**asdict(config), "columns": int(model.columns.numel())})
    predictor = NgramPredictor(model, tokenizer, config, tuple(classes))
    row = {"epoch": 1, "step": 1, "lr": 0.0}
    train_logits = model.logits(rows)
    yt = torch.from_numpy(y_train)
    row["loss"] = loss_of(train_logits, yt)
    row["accuracy"] = float((predictor.proba_of(train_logits).argmax(1) == y_train).mean())
    if len(val_texts):
        val = predictor.score(val_texts, y_val)
        row["val_loss"], row["val_accuracy"] = val["loss"], val["accuracy"]
    row["seconds"] = time.perf_counter() - start
    monitor = fit.monitor if fit.monitor in row else ("val_loss" if "val_loss" in row else None)
    history = History(rows=[row], monitor=monitor, best=row.get(monitor),
                      best_epoch=1 if monitor else None, step=1)
    logger.info("nblr: %d texts, %d n-grams, val accuracy %s in %.1f s", len(rows),
                config.columns, row.get("val_accuracy"), row["seconds"])
    return predictor, history, asdict(config)
