"""Text classification: IMDB sentiment (the notebook's second half) or a user's own texts.

Wires the texts (``aclImdb`` from a folder or tarball, or a user's folder/CSV/JSONL/.txt),
a Keras-style :class:`~rnnlab.text.Tokenizer` fitted on the training part only,
``pad_sequences``, optional pre-trained vectors (GloVe or word2vec files), a
:class:`~rnnlab.models.text.TextClassifier`, :func:`rnnlab.train.fit` and a run folder.
The settings are :class:`~rnnlab.tasks.text_config.TextConfig`; the split and encoding
are in :mod:`rnnlab.tasks.text_data`.

    rnnlab train text --tarball aclImdb_v1.tar.gz --out runs/imdb            # nblr
    rnnlab train text --tarball aclImdb_v1.tar.gz --model flatten --maxlen 50 \\
        --num-words 10000 --epochs 10 --out runs/imdb-flatten

With no ``--model`` the classifier is ``nblr`` (:mod:`rnnlab.tasks.text_ngram`): NBSVM's
naive-Bayes-scaled words and hashed bigrams and an L2 logistic regression fitted exactly,
the best of the candidates cross-validated on the IMDB training reviews (BENCHMARKS.md,
issue 16). The named models keep the notebook's settings.

A run folder holds, beside fit's files, ``tokenizer.json`` (written once, when the run
starts; a resumed run reads it back, never refits it) and, with pre-trained vectors,
``coverage.json``. Runs written by rnnlab 0.1.0 (task ``"sentiment"``) load through
:meth:`TextTask.migrate`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from rnnlab.config import check_keys, from_dict
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error
from rnnlab.models.text import TextClassifier, TextModelConfig
from rnnlab.models.text_nbsvm import NgramLinear
from rnnlab.tasks.base import Task, TrainResult, register, saved_config
from rnnlab.tasks.review import review_texts
from rnnlab.tasks.scores import prediction_rows
from rnnlab.tasks.text_config import SOURCES, TextConfig, TextData, TextModel, migrate_v1
from rnnlab.tasks.text_data import (
    check_classes,
    class_weights,
    encode,
    load_texts,
    make_tokenizer,
    split_indices,
    warn_small_classes,
)
from rnnlab.tasks.text_ngram import (
    NGRAM_KINDS,
    NgramModelConfig,
    NgramPredictor,
    Scoring,
    fit_ngram_run,
    warn_unknown,
)
from rnnlab.text import Tokenizer, pad_sequences
from rnnlab.training import Callback, fit
from rnnlab.training.distributed import is_main_process
from rnnlab.training.runfolder import RunDir, load_weights

logger = logging.getLogger(__name__)

__all__ = ["TextPredictor", "TextTask", "binary_accuracy", "loss_for"]

TOKENIZER = "tokenizer.json"
COVERAGE = "coverage.json"
SPLITS = ("train", "val", "test")
PREDICT_INPUTS = ("text", "input", "files")


def binary_accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Accuracy of one logit per example (> 0 means class 1) or of class scores."""
    if outputs.dim() == 1:
        return ((outputs > 0).long() == targets.long()).float().mean().item()
    return (outputs.argmax(-1) == targets).float().mean().item()


def loss_for(num_outputs: int, weight: torch.Tensor | None = None):
    """Sigmoid cross-entropy for one logit, softmax cross-entropy for several.

    Args:
        num_outputs: 1 (two classes) or C.
        weight: (C,) per-class weights of the loss (``class_weight="balanced"``); None: 1.
    """
    if num_outputs == 1:
        if weight is None:
            return lambda out, y: nn.functional.binary_cross_entropy_with_logits(out, y.float())
        return lambda out, y: nn.functional.binary_cross_entropy_with_logits(
            out, y.float(), weight=weight.to(out.device)[y.long()])
    if weight is None:
        return nn.functional.cross_entropy
    return lambda out, y: nn.functional.cross_entropy(out, y, weight=weight.to(out.device))


@dataclass(frozen=True)
class TextPredictor(Scoring):
    """A trained text classifier with its tokenizer: what ``rnnlab.load_run`` returns."""

    model: TextClassifier
    tokenizer: Tokenizer
    maxlen: int
    classes: tuple[str, ...]

    @torch.no_grad()
    def logits(self, texts, batch_size: int = 512) -> torch.Tensor:
        """The model's logits for a list of texts, on the CPU: (N,) binary, else (N, C)."""
        seqs = self.tokenizer.texts_to_sequences(texts)
        warn_unknown(np.fromiter(map(len, seqs), np.int64, len(seqs)))
        x = torch.from_numpy(pad_sequences(seqs, maxlen=self.maxlen, dtype="int64"))
        device = next(self.model.parameters()).device
        chunks = [self.model(x[i:i + batch_size].to(device)).cpu()
                  for i in range(0, len(x), batch_size)]
        if not chunks:
            binary = self.model.config.num_outputs == 1
            return torch.zeros((0,) if binary else (0, len(self.classes)))
        return torch.cat(chunks)


def _pretrained(model: TextModel, tokenizer: Tokenizer):
    """``(matrix or None, width, coverage report or None)`` for the configured vectors."""
    if model.embedding == "none":
        return None, model.embedding_dim, None
    from rnnlab.vectors import build_embedding_matrix, load_pretrained

    wv = load_pretrained(model.embedding)
    matrix, report = build_embedding_matrix(tokenizer.word_index, wv, model.num_words,
                                            word_counts=dict(tokenizer.word_counts))
    logger.info("pre-trained vectors %s: %s", model.embedding, report)
    return matrix, matrix.shape[1], asdict(report)


def _check_same_split(facts: Mapping[str, Any], train_idx, val_idx, where: str) -> None:
    """Refuse data whose split differs from the run's (the texts changed since training)."""
    want = (facts.get("train_size"), facts.get("val_size"))
    if None not in want and want != (len(train_idx), len(val_idx)):
        raise DataError(f"{where} now gives {len(train_idx)} training and {len(val_idx)} "
                        f"validation texts; the run was trained with {want[0]} and {want[1]}, "
                        "so the data changed since training")


def _read_tokenizer(run: RunDir) -> Tokenizer:
    path = run.file(TOKENIZER)
    if not path.is_file():
        raise DataNotFoundError(f"{run.path} has no {TOKENIZER}; it is not a complete text run")
    return Tokenizer.load(path)


def _where(data: TextData) -> str:
    for name in SOURCES:
        if getattr(data, name):
            return f"{name}={getattr(data, name)!r}"
    return "aclImdb"


@register
class TextTask(Task):
    """Labelled texts: aclImdb reviews or a user's own, one label per text.

    Example:
        >>> task, run = TextTask(), RunDir("runs/csvgru")                  # doctest: +SKIP
        >>> config = TextConfig(data=TextData(input="texts.csv"),
        ...                     model=TextModel(model="gru"))              # doctest: +SKIP
        >>> task.train(config, run)      # run claimed by the caller       # doctest: +SKIP
        >>> task.evaluate(run)["split"], task.predict(run, inputs={"text": ["I loved it"]})
        ... # doctest: +SKIP
    """

    name = "text"
    data_aliases: ClassVar[dict[str, str]] = {"dataset": "input"}  # evaluate --dataset F
    aliases = ("sentiment",)
    help = "classify texts: IMDB reviews or your own labelled texts"
    description = "Tokenize, pad and classify texts (the notebook's IMDB models)."
    config_type = TextConfig
    artefacts = (TOKENIZER, COVERAGE)

    def train(self, config: TextConfig, run: RunDir, *, resume: bool = False,
              callbacks: Iterable[Callback] = ()) -> TrainResult:
        """Train into the claimed ``run``; on resume the run's tokenizer and model are kept."""
        saved = run.load_config() if resume else None
        classes = saved["data"]["classes"] if resume else None
        texts, labels, classes = load_texts(config.data, "train", classes=classes)
        check_classes(classes, config.data)
        train_idx, val_idx = split_indices(len(texts), config.data.val_fraction,
                                           config.data.train_size)
        train_texts = [texts[i] for i in train_idx]
        warn_small_classes(labels[train_idx], classes)
        weight = (class_weights(labels[train_idx], len(classes))
                  if config.model.class_weight == "balanced" else None)
        facts = {"classes": list(classes), "train_size": len(train_idx),
                 "val_size": len(val_idx), "examples": len(texts),
                 "class_weights": None if weight is None else weight.tolist()}
        if resume:
            _check_same_split(saved["data"], train_idx, val_idx, _where(config.data))
        if config.model.model in NGRAM_KINDS:
            result = self._train_ngram(config, run, resume, train_texts, labels[train_idx],
                                       [texts[i] for i in val_idx], labels[val_idx], classes,
                                       weight, facts)
            self._review(run, texts, labels, train_idx, val_idx, classes)
            return result
        matrix = coverage = None
        if resume:
            tokenizer = _read_tokenizer(run)  # never refitted on resume
            model_config = from_dict(TextModelConfig, saved["model"], where=f"{run.config} model")
        else:
            tokenizer = make_tokenizer(config.model.num_words)
            tokenizer.fit_on_texts(train_texts)  # never the validation texts
            matrix, dim, coverage = _pretrained(config.model, tokenizer)
            m = config.model
            model_config = TextModelConfig(
                kind=m.model, vocab_size=m.num_words, embedding_dim=dim, maxlen=m.maxlen,
                num_classes=len(classes), hidden=m.hidden, num_layers=m.num_layers,
                bidirectional=m.bidirectional, dropout=m.dropout,
                bigram_buckets=m.bigram_buckets, freeze_embedding=m.freeze and matrix is not None)
        x_train = encode(tokenizer, train_texts, model_config.maxlen)
        x_val = encode(tokenizer, [texts[i] for i in val_idx], model_config.maxlen)
        y = torch.from_numpy(labels)
        torch.manual_seed(config.fit.seed)  # the initial weights repeat with the seed
        model = TextClassifier(model_config, matrix)
        if model_config.kind == "nbsvm" and not resume:  # the ratios of the training texts
            model.set_nb_ratios(x_train, y[train_idx])
        if is_main_process() and not resume:  # under data-parallel training only rank 0 writes
            run.create()
            for name in self.artefacts:  # an earlier run's coverage.json must not stay
                run.file(name).unlink(missing_ok=True)
            tokenizer.save(run.file(TOKENIZER))
            if coverage is not None:
                run.save_json(COVERAGE, coverage)
        loss_fn = loss_for(model_config.num_outputs,
                           None if weight is None else torch.from_numpy(weight).float())
        history = fit(model, (x_train, y[train_idx]), loss_fn=loss_fn,
                      config=config.fit, val_data=(x_val, y[val_idx]),
                      metrics={"accuracy": binary_accuracy}, callbacks=tuple(callbacks),
                      run_dir=run,  # claimed by the caller: fresh or resumed
                      run_config=saved_config(self, config, data=facts,
                                              model=asdict(model_config)))
        self._review(run, texts, labels, train_idx, val_idx, classes)
        return TrainResult(model, history)

    def _review(self, run: RunDir, texts, labels, train_idx, val_idx, classes) -> None:
        """``review.json`` for the report: data summary and the val part scored."""
        if is_main_process() and run.writable:
            predictor = self.load(run)
            review_texts(run, predictor, texts, labels, train_idx, val_idx, classes,
                         predictor.tokenizer)

    def _train_ngram(self, config: TextConfig, run: RunDir, resume: bool, train_texts,
                     y_train, val_texts, y_val, classes, weight, facts) -> TrainResult:
        """Fit nblr in one step and write the run's files (fit's layout, one row)."""
        from rnnlab.training.checkpoint_file import save_checkpoint

        tokenizer = _read_tokenizer(run) if resume else None  # never refitted on resume
        predictor, history, entry = fit_ngram_run(
            config.model, train_texts, y_train, val_texts, y_val, classes, config.fit,
            tokenizer=tokenizer, class_weight=weight)
        if is_main_process():
            run.create()
            if not resume:
                for name in self.artefacts:
                    run.file(name).unlink(missing_ok=True)
                predictor.tokenizer.save(run.file(TOKENIZER))
            saved = {**saved_config(self, config, data=facts, model=entry),
                     "fit": asdict(config.fit)}
            run.save_config(saved)
            for path in (run.best, run.last):
                save_checkpoint(path, predictor.model, step=1, epoch=1, config=saved,
                                rng=False)
            run.write_metrics(history.rows)
            run.save_metrics(history.summary())
        return TrainResult(predictor.model, history)

    def load(self, run: RunDir, *, device: Any = "cpu", weights: str = "best"):
        """The run's model (``weights``: "best" or "last") with its tokenizer."""
        config = run.load_config()
        if config.get("model", {}).get("kind") in NGRAM_KINDS:
            entry = from_dict(NgramModelConfig, config["model"], where=f"{run.config} model")
            model = NgramLinear(entry.columns, entry.num_outputs, entry.buckets)
            load_weights(run, model, which=weights, device="cpu")  # numba runs on the CPU
            return NgramPredictor(model, _read_tokenizer(run), entry,
                                  tuple(config["data"]["classes"]))
        model = TextClassifier(from_dict(TextModelConfig, config["model"],
                                         where=f"{run.config} model"))
        load_weights(run, model, which=weights, device=device)
        tokenizer = _read_tokenizer(run)
        return TextPredictor(model, tokenizer, model.config.maxlen,
                             tuple(config["data"]["classes"]))

    def evaluate(self, run: RunDir, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
        """Scores on a split of the run's texts, or on the texts that ``data`` names.

        Args:
            run: a text run folder.
            data: ``TextData`` fields to use instead of the saved ones (``{"input": F}``
                scores the whole file F; ``{"data_dir": D}`` reads aclImdb from D).
            split: "train", "val" or "test"; None: "test" where the data has one
                (aclImdb), else the run's own validation part, drawn again from the saved
                settings (a given ``input`` file: all of it).
            weights: "best" or "last" checkpoint.
            device: where to compute.

        Returns:
            ``accuracy, loss, examples, labels, per_class, confusion_matrix`` and ``split``
            ("train", "val", "test", or "all" for a whole given file), ``weights``, ``data``.

        Example:
            >>> TextTask().evaluate(RunDir("runs/csvgru"))["split"]      # doctest: +SKIP
            'val'
        """
        from rnnlab.training.runtime import resolve_device

        if split is not None and split not in SPLITS:
            raise choice_error("split", split, SPLITS)
        saved = run.load_config()
        config = self.config_from_saved(saved, where=str(run.config))
        source, split, own = _eval_source(config.data, data or {}, split)
        if split == "test" and not source.is_imdb:
            raise ConfigError(f"{_where(source)} has no test split: score split='val' (the "
                              "run's validation part) or 'train', or pass input=FILE to score "
                              "another file")
        predictor = self.load(run, device=resolve_device(device), weights=weights)
        texts, labels, _ = load_texts(source, "test" if split == "test" else "train",
                                      classes=predictor.classes)
        if split in ("train", "val"):
            train_idx, val_idx = split_indices(len(texts), source.val_fraction,
                                               source.train_size)
            if own:
                _check_same_split(saved["data"], train_idx, val_idx, _where(source))
            idx = train_idx if split == "train" else val_idx
            texts, labels = [texts[i] for i in idx], labels[idx]
        return {**predictor.score(texts, labels), "split": split, "weights": weights,
                "data": _where(source)}

    def predict(self, run: RunDir, *, inputs: Mapping[str, Any], device: Any = "cpu",
                weights: str = "best") -> list[dict]:
        """One row per text: ``{"index", "label", "probability", "probabilities"}``.

        Args:
            inputs: ``{"text": [...]}`` and/or ``{"input": PATH}`` (a CSV/JSONL file, a
                folder, or a ``.txt`` file of one text per line whose ``__label__X``
                prefixes are stripped); file rows add ``"source"`` ("file:line").
        """
        from rnnlab.training.runtime import resolve_device

        column = self.config_from_saved(run.load_config(), where=str(run.config)).data
        texts, keys = predict_texts(inputs, column.text_column)
        predictor = self.load(run, device=resolve_device(device), weights=weights)
        return prediction_rows(predictor.predict_proba(texts), predictor.classes, keys)

    def migrate(self, saved: dict) -> dict:
        """The ``TextConfig`` dict of a 0.1.0 ``sentiment`` run (see ``migrate_v1``)."""
        return migrate_v1(saved)


def predict_texts(inputs: Mapping[str, Any], text_column: str = "text"
                  ) -> tuple[list[str], list[dict]]:
    """The texts ``rnnlab predict`` classifies for its flags, and each row's keys.

    Args:
        inputs: ``{"text": [...]}`` and/or ``{"input": PATH}`` (see ``TextTask.predict``).
        text_column: the column of a CSV/JSONL ``input`` holding the texts.

    Returns:
        ``(texts, keys)``: keys ``{"index"}``, plus ``"source"`` ("file:line") for a file's.
    """
    from rnnlab.data.texts import read_texts

    check_keys(inputs, PREDICT_INPUTS, "predict inputs")
    if inputs.get("files"):
        raise ConfigError(f"a text run classifies texts, not files {list(inputs['files'])}; "
                          "give text=[...] or input=PATH")
    given = inputs.get("text") or []
    texts = [given] if isinstance(given, str) else list(given)
    keys = [{"index": i} for i in range(len(texts))]
    if inputs.get("input"):
        found = read_texts(inputs["input"], text_column=text_column, labelled=False)
        keys += [{"index": len(texts) + i, "source": src} for i, src in enumerate(found.sources)]
        texts += list(found.texts)
    if not texts:
        raise ConfigError('give text=["..."] or input=PATH with texts to predict')
    return texts, keys


def _eval_source(saved: TextData, typed: Mapping[str, Any], split: str | None):
    """``(data to read, split, whether it is the run's own data)`` for ``evaluate``."""
    check_keys(typed, [f for f in asdict(saved)], "evaluate data")
    typed = {k: v for k, v in typed.items() if v is not None}
    if any(typed.get(name) for name in SOURCES):  # another source replaces the run's
        base = {name: None for name in SOURCES} | {"download": False}
        source = TextData(**(asdict(saved) | base | typed))
        if split is None:
            split = "all" if source.input else "test"
        own = False
    else:
        source = TextData(**(asdict(saved) | typed))
        split = split or ("test" if source.is_imdb else "val")
        own = not typed.keys() & {"train_size", "val_fraction"}
    return source, split, own


