"""The 0.1.0 names of the text task (``rnnlab train sentiment``), kept as thin wrappers.

The job itself is :class:`rnnlab.tasks.text.TextTask` (task ``"text"``, alias
``"sentiment"``); this module keeps :class:`SentimentConfig` (the flat settings),
:func:`train_sentiment`, :func:`evaluate_run` and :func:`predict_texts` working.

    rnnlab train sentiment --tarball aclImdb_v1.tar.gz --model flatten --maxlen 50 \\
        --num-words 10000 --epochs 10 --out runs/imdb-flatten
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from rnnlab.tasks.text import (
    COVERAGE,
    TOKENIZER,
    TextPredictor,
    TextTask,
    binary_accuracy,
    loss_for,
)
from rnnlab.tasks.text_config import SOURCES, TextConfig, TextData, TextModel
from rnnlab.tasks.text_data import SPLIT_SEED, encode, load_texts, make_tokenizer, split_indices
from rnnlab.training import Callback, FitConfig, History
from rnnlab.training.runfolder import RunDir

logger = logging.getLogger(__name__)

__all__ = ["COVERAGE", "SPLIT_SEED", "TOKENIZER", "SentimentConfig", "TextPredictor",
           "binary_accuracy", "encode", "evaluate_run", "load_texts",
           "loss_for", "make_tokenizer", "predict_texts", "split_indices", "train_sentiment"]

_DATA = tuple(f.name for f in dataclasses.fields(TextData))
_MODEL = tuple(f.name for f in dataclasses.fields(TextModel))


@dataclass(frozen=True)
class SentimentConfig:
    """The data and model settings of a text run in one flat object (0.1.0's shape).

    Its fields are those of :class:`TextData` and :class:`TextModel`, with their checks;
    :meth:`task_config` gives the composed :class:`TextConfig`.
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
        self.task_config()  # the parts' checks

    def task_config(self, fit: FitConfig | None = None) -> TextConfig:
        """The composed config of the same run (``fit``: the task's defaults when None)."""
        parts = {"data": TextData(**{k: getattr(self, k) for k in _DATA}),
                 "model": TextModel(**{k: getattr(self, k) for k in _MODEL
                                      if hasattr(self, k)})}
        return TextConfig(**parts) if fit is None else TextConfig(**parts, fit=fit)


def _resumed(run: RunDir, given: TextConfig) -> TextConfig:
    """The run's saved data and model settings, with the given fit (and data source)."""
    saved = TextTask().config_from_saved(run.load_config(), where=str(run.config))
    data = saved.data
    if any(getattr(given.data, name) for name in SOURCES):  # the texts moved
        data = dataclasses.replace(data, **{n: getattr(given.data, n) for n in SOURCES})
    return dataclasses.replace(saved, data=data, fit=given.fit)


def train_sentiment(config: SentimentConfig, fit_config: FitConfig, *, run_dir: str | Path,
                    callbacks: tuple[Callback, ...] = (), resume: bool = False,
                    overwrite: bool = False) -> tuple[nn.Module, History]:
    """Train a text classifier into ``run_dir``; returns the model and its history.

    The folder is claimed first: a refused call (a run there, neither ``resume`` nor
    ``overwrite``) reads no texts and writes nothing. On resume the run's saved data and
    model settings are used (with ``fit_config``), and its tokenizer is read back.

    Example:
        >>> train_sentiment(SentimentConfig(tarball="aclImdb_v1.tar.gz"),
        ...                 FitConfig(epochs=10, optimizer="rmsprop", batch_size=32),
        ...                 run_dir="runs/imdb")                          # doctest: +SKIP
    """
    from rnnlab.tasks.runner import check_claim, claimed

    task_config = config.task_config(fit_config)
    if resume:
        task_config = _resumed(check_claim(run_dir, resume=True, overwrite=overwrite),
                               task_config)
    with claimed(run_dir, resume=resume, overwrite=overwrite) as run:
        result = TextTask().train(task_config, run, resume=resume, callbacks=callbacks)
    return result.model, result.history


def evaluate_run(run_dir: str | Path, *, split: str | None = "test", data_dir: str | None = None,
                 dataset: str | None = None, weights: str = "best", device="cpu") -> dict:
    """Scores of a trained text run (0.1.0's signature; see ``TextTask.evaluate``).

    ``dataset`` names a user's file or folder to score instead (all of it, unless a split
    other than "test" is asked); ``data_dir`` a folder holding aclImdb. ``split="test"``
    on a run of a user's texts, which have no test split, scores the run's validation part.
    """
    run = RunDir(run_dir)
    data = {k: v for k, v in (("input", dataset), ("data_dir", data_dir)) if v}
    if split == "test":
        saved = TextTask().config_from_saved(run.load_config(), where=str(run.config)).data
        if dataset or (not data_dir and not saved.is_imdb):
            split = None  # 0.1.0's CLI always sent "test"; the task picks the default
    return TextTask().evaluate(run, data=data, split=split, weights=weights, device=device)


def predict_texts(run_dir: str | Path, *, texts=(), input: str | None = None, files=(),
                  weights: str = "best", device="cpu") -> list[dict]:
    """Predict the label of each text (given directly, or from a file of texts)."""
    return TextTask().predict(RunDir(run_dir), inputs={"text": list(texts), "input": input,
                                                        "files": list(files)},
                              weights=weights, device=device)
