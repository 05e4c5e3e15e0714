"""Text classification: IMDB sentiment (the notebook's second half) or a user's own texts.

Wires the texts (``aclImdb`` from a folder or tarball, or a user's folder/CSV/JSONL), a
Keras-style :class:`~rnnlab.text.Tokenizer` fitted on the training part only,
``pad_sequences``, optional pre-trained vectors (GloVe or word2vec files), a
:class:`~rnnlab.models.text.TextClassifier`, :func:`rnnlab.train.fit` and a run folder.

Validation is a fixed 10% of the labelled training texts, drawn with a seed of its own
(``SPLIT_SEED``) so every model is compared on the same reviews; ``train_size`` then keeps
the first N of the rest (the notebook's 200-review experiment).

    rnnlab train sentiment --tarball aclImdb_v1.tar.gz --model flatten --maxlen 50 \\
        --num-words 10000 --epochs 10 --out runs/imdb-flatten
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.distributed import is_main_process
from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.text import KINDS, TextClassifier, TextModelConfig
from rnnlab.runs import RunDir, load_weights, register_task
from rnnlab.text import Tokenizer, pad_sequences
from rnnlab.train import Callback, FitConfig, History, evaluate, fit

logger = logging.getLogger(__name__)

SPLIT_SEED = 20131  # fixed: the validation reviews never depend on --seed
TOKENIZER = "tokenizer.json"
COVERAGE = "coverage.json"


@dataclass(frozen=True)
class SentimentConfig:
    """What to train: the texts, their encoding and the model (``FitConfig`` says how).

    Attributes:
        data_dir: a folder holding ``aclImdb/`` (or being it).
        tarball: ``aclImdb_v1.tar.gz`` (read directly, never extracted to disk).
        input: a user's own labelled texts: a folder with one subfolder per class, or a
            CSV / JSONL file with ``text_column`` and ``label_column``.
        download: fetch aclImdb_v1.tar.gz (SHA-256 checked) when no source is given.
        model: "flatten", "glove-flatten", "rnn", "lstm", "gru", "bag" or "nbsvm".
        maxlen: tokens kept per text (Keras' default: the LAST maxlen words).
        num_words: vocabulary size (the num_words - 1 most frequent words, 0 = padding).
        embedding: "none" (learnt from scratch), "glove-6b-50d", or a vector file path.
        embedding_dim: width of a learnt embedding (ignored with pre-trained vectors).
        freeze: keep pre-trained vectors fixed.
        train_size: keep only the first N training texts (after the validation split).
        val_fraction: share of the labelled texts held out for validation.
        hidden, bidirectional, dropout, bigram_buckets: the model's shape.
    """

    data_dir: str | None = None
    tarball: str | None = None
    input: str | None = None
    text_column: str = "text"
    label_column: str = "label"
    download: bool = False
    model: str = "flatten"
    maxlen: int = 50
    num_words: int = 10000
    embedding: str = "none"
    embedding_dim: int = 8
    freeze: bool = False
    train_size: int | None = None
    val_fraction: float = 0.1
    hidden: int = 32
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    bigram_buckets: int = 0

    def __post_init__(self):
        sources = [s for s in (self.data_dir, self.tarball, self.input) if s]
        if len(sources) > 1:
            raise ConfigError("give one of data_dir, tarball or input, not several")
        if self.model not in KINDS:
            from rnnlab.errors import choice_error

            raise choice_error("model", self.model, KINDS)
        if self.model == "nbsvm" and self.embedding != "none":
            raise ConfigError(f"the nbsvm model learns one weight per word; it takes no "
                              f"pre-trained vectors (got embedding={self.embedding!r})")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction={self.val_fraction!r} must be in (0, 1)")
        if self.train_size is not None and self.train_size < 1:
            raise ConfigError(f"train_size={self.train_size!r} must be a positive int")
        if self.num_words < 2:
            raise ConfigError(f"num_words={self.num_words!r} must be at least 2")


def load_texts(config: SentimentConfig, split: str = "train"):
    """Labelled texts of a split: ``(texts, labels int64, classes)``.

    With neither ``data_dir``, ``tarball`` nor ``input``, aclImdb is looked for in
    rnnlab's data folder (``$RNNLAB_DATA``, else the user cache), where ``download``
    puts it.
    """
    if config.input:
        from rnnlab.data.texts import read_texts

        data = read_texts(config.input, text_column=config.text_column,
                          label_column=config.label_column)
        return list(data.texts), np.asarray(data.labels, np.int64), list(data.classes)
    from rnnlab.data.download import cache_dir
    from rnnlab.data.imdb import download_imdb, load_imdb

    root = config.tarball or config.data_dir
    if root is None:
        root = download_imdb() if config.download else cache_dir()
    data = load_imdb(root, split)
    return list(data.texts), np.asarray(data.labels, np.int64), ["neg", "pos"]


def split_indices(n: int, val_fraction: float, train_size: int | None):
    """Fixed, seeded train/validation indices over n labelled texts."""
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


def encode(tokenizer: Tokenizer, texts, maxlen: int) -> torch.Tensor:
    """Texts -> (N, maxlen) int64 token ids, Keras' pre-padding and pre-truncating."""
    return torch.from_numpy(pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=maxlen,
                                          dtype="int64"))


def make_tokenizer(num_words: int) -> Tokenizer:
    """The notebook's tokenizer, plus removal of the ``<br />`` tags IMDB reviews carry."""
    return Tokenizer(num_words=num_words, remove=("<br />",))


def binary_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Accuracy of one logit per example (> 0 means class 1) or of class scores."""
    if outputs.dim() == 1:
        return ((outputs > 0).long() == targets.long()).float().mean().item()
    return (outputs.argmax(-1) == targets).float().mean().item()


def loss_for(num_outputs: int):
    """Sigmoid cross-entropy for one logit, softmax cross-entropy for several."""
    if num_outputs == 1:
        return lambda out, y: nn.functional.binary_cross_entropy_with_logits(out, y.float())
    return nn.functional.cross_entropy


def _pretrained(config: SentimentConfig, tokenizer: Tokenizer, run: RunDir | None):
    if config.embedding == "none":
        return None, config.embedding_dim
    from rnnlab.embeddings import build_embedding_matrix, load_pretrained

    wv = load_pretrained(config.embedding)
    matrix, report = build_embedding_matrix(tokenizer.word_index, wv, config.num_words,
                                            word_counts=dict(tokenizer.word_counts))
    if run is not None:
        run.save_json(COVERAGE, asdict(report))
    logger.info("pre-trained vectors %s: %s", config.embedding, report)
    return matrix, matrix.shape[1]


def train_sentiment(config: SentimentConfig, fit_config: FitConfig, *, run_dir: str | Path,
                    callbacks: tuple[Callback, ...] = (), resume: bool = False,
                    overwrite: bool = False) -> tuple[nn.Module, History]:
    """Train a text classifier into ``run_dir``; returns the model and its history.

    Example:
        >>> train_sentiment(SentimentConfig(tarball="aclImdb_v1.tar.gz"),
        ...                 FitConfig(epochs=10, optimizer="rmsprop", batch_size=32),
        ...                 run_dir="runs/imdb")                          # doctest: +SKIP
    """
    texts, labels, classes = load_texts(config, "train")
    train_idx, val_idx = split_indices(len(texts), config.val_fraction, config.train_size)
    tokenizer = make_tokenizer(config.num_words)
    train_texts = [texts[i] for i in train_idx]
    tokenizer.fit_on_texts(train_texts)  # never the validation texts
    x_train = encode(tokenizer, train_texts, config.maxlen)
    x_val = encode(tokenizer, [texts[i] for i in val_idx], config.maxlen)
    y = torch.from_numpy(labels)
    main = is_main_process()  # under data-parallel training only rank 0 writes files
    run = RunDir(run_dir).create() if main else None
    matrix, dim = _pretrained(config, tokenizer, run)
    model_config = TextModelConfig(
        kind=config.model, vocab_size=config.num_words, embedding_dim=dim,
        maxlen=config.maxlen, num_classes=len(classes), hidden=config.hidden,
        num_layers=config.num_layers, bidirectional=config.bidirectional,
        dropout=config.dropout, bigram_buckets=config.bigram_buckets,
        freeze_embedding=config.freeze and matrix is not None)
    torch.manual_seed(fit_config.seed)
    model = TextClassifier(model_config, matrix)
    if config.model == "nbsvm":  # its fixed ratios come from the training texts only
        model.set_nb_ratios(x_train, y[train_idx])
    if main:
        tokenizer.save(run.file(TOKENIZER))
    run_config = {"task": "sentiment", "data": {**asdict(config), "classes": classes,
                                                "train_size": len(train_idx),
                                                "val_size": len(val_idx)},
                  "model": asdict(model_config)}
    history = fit(model, (x_train, y[train_idx]), loss_fn=loss_for(model_config.num_outputs),
                  config=replace(fit_config, val_split=0.0), val_data=(x_val, y[val_idx]),
                  metrics={"accuracy": binary_accuracy}, callbacks=callbacks, run_dir=run_dir,
                  resume=resume, run_config=run_config, overwrite=overwrite)
    return model, history


@dataclass(frozen=True)
class TextPredictor:
    """A trained text classifier with its tokenizer: what ``rnnlab.load_run`` returns."""

    model: TextClassifier
    tokenizer: Tokenizer
    maxlen: int
    classes: tuple[str, ...]

    @torch.no_grad()
    def predict_proba(self, texts) -> np.ndarray:
        """Class probabilities (N, C) for a list of texts."""
        if isinstance(texts, str):
            raise ShapeError("predict_proba takes a list of texts; wrap one text in a list")
        x = encode(self.tokenizer, texts, self.maxlen)
        device = next(self.model.parameters()).device
        logits = self.model(x.to(device))
        if logits.dim() == 1:
            p = torch.sigmoid(logits)
            return torch.stack([1 - p, p], dim=1).cpu().numpy()
        return torch.softmax(logits, dim=-1).cpu().numpy()

    def predict(self, texts) -> tuple[list[str], np.ndarray]:
        """``(labels, probability of that label)`` for a list of texts."""
        proba = self.predict_proba(texts)
        best = proba.argmax(1)
        return [self.classes[i] for i in best], proba[np.arange(len(best)), best]


@register_task("sentiment")
def _load(run: RunDir, config: dict, device) -> TextPredictor:
    model = TextClassifier(TextModelConfig(**config["model"]))
    load_weights(run, model, device=device)
    tokenizer = Tokenizer.load(run.file(TOKENIZER))
    return TextPredictor(model, tokenizer, config["model"]["maxlen"],
                         tuple(config["data"]["classes"]))


def evaluate_run(run_dir: str | Path, *, split: str = "test", data_dir: str | None = None,
                 dataset: str | None = None, device="cpu", **_) -> dict:
    """Loss and accuracy of a trained sentiment run on a split of aclImdb (or a user file).

    ``dataset`` may name a user's CSV/JSONL file or folder to score instead of aclImdb.
    """
    from rnnlab.runs import load_run
    from rnnlab.runtime import resolve_device

    device = resolve_device(device)
    predictor = load_run(run_dir, device=device)
    saved = RunDir(run_dir).load_config()["data"]
    if dataset:
        source = SentimentConfig(input=dataset, text_column=saved["text_column"],
                                 label_column=saved["label_column"])
    else:
        source = SentimentConfig(data_dir=data_dir or saved["data_dir"],
                                 tarball=None if data_dir else saved["tarball"])
    texts, labels, classes = load_texts(source, split)
    if list(classes) != list(predictor.classes):
        raise ConfigError(f"the data's classes {classes} differ from the run's "
                          f"{list(predictor.classes)}")
    x = encode(predictor.tokenizer, texts, predictor.maxlen)
    out = predictor.model.config.num_outputs
    scores = evaluate(predictor.model, (x, torch.from_numpy(labels)), loss_fn=loss_for(out),
                      metrics={"accuracy": binary_accuracy}, device=device)
    return {**scores, "examples": len(labels), "split": split}


def predict_texts(run_dir: str | Path, *, texts=(), input: str | None = None, device="cpu",
                  **_) -> list[dict]:
    """Predict the label of each text (given directly, or from a CSV/JSONL file)."""
    from rnnlab.runs import load_run
    from rnnlab.runtime import resolve_device

    texts = list(texts)
    saved = RunDir(run_dir).load_config()["data"]
    if input:
        from rnnlab.data.texts import read_texts

        texts += list(read_texts(input, text_column=saved["text_column"], labelled=False).texts)
    if not texts:
        raise ConfigError("give --text \"...\" or --input FILE with texts to predict")
    predictor = load_run(run_dir, device=resolve_device(device))
    labels, probs = predictor.predict(texts)
    return [{"index": i, "label": lab, "probability": float(p)}
            for i, (lab, p) in enumerate(zip(labels, probs, strict=True))]
