"""Classification of sequences: built-in images read row by row, or your own sequence files.

``--dataset`` names a built-in image set (``digits``, embedded; ``mnist``;
``fashion-mnist``), each image read as a sequence of rows, or a file of labelled
variable-length, multichannel sequences (``.ts`` as sktime/aeon write it, a long CSV or
Parquet table, ``.npz``). Lengths go through ``dynamic_rnn(..., sequence_length=...)``, so
padding is never read, in training and in prediction.

    rnnlab train classify --dataset fashion-mnist --model rnn --units 100 --epochs 12 \\
        --batch-size 150 --lr 1e-3 --out runs/fmnist-rnn
    rnnlab train classify --dataset Gestures_TRAIN.ts --test Gestures_TEST.ts --out runs/g
    rnnlab evaluate runs/g --dataset Gestures_TEST.ts --json
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.config import option
from rnnlab.data.sequence_set import MISSING_POLICIES
from rnnlab.errors import ConfigError, DataNotFoundError, choice_error
from rnnlab.models.classifier import ClassifierConfig, config_dict
from rnnlab.tasks.base import Task, TrainResult, register, saved_config
from rnnlab.tasks.classify_data import (
    SCALER,
    Examples,
    class_weights,
    image_examples,
    is_image_dataset,
    read_file,
    to_examples,
    validation_split,
)
from rnnlab.tasks.classify_model import (
    EVALUATION,
    ROCKET,
    ImagePredictor,
    SequencePredictor,
    build_model,
    fit_rocket,
    load_predictor,
    score,
)
from rnnlab.tasks.review import review_examples
from rnnlab.tasks.scores import prediction_rows
from rnnlab.training import Callback, FitConfig, History, accuracy, fit
from rnnlab.training.runfolder import RunDir

MODELS = ("auto", "rnn", "lstm", "gru", "bnmlp")
POOLINGS = ("auto", "last", "mean", "max", "attention")
SPLITS = ("train", "val", "test")

__all__ = ["ClassifyConfig", "ClassifyData", "ClassifyModel", "ClassifyTask",
           "ClassifyTaskConfig", "ImagePredictor", "SequencePredictor", "evaluate_run",
           "load_images", "predict_files", "train_classify"]


@dataclass(frozen=True)
class ClassifyData:
    """Which examples to read, how, and how many validate."""

    dataset: str = option("digits", metavar="{digits,mnist,fashion-mnist,FILE}",
                          help="a built-in image set (digits is embedded, offline) or a "
                               "sequence file: .ts, long .csv/.parquet, .npz")
    data_dir: str | None = option(None, metavar="DIR",
                                  help="images: folder holding the dataset's IDX files")
    download: bool = option(False, help="images: download missing files (SHA-256 checked)")
    val_size: int | None = option(None, metavar="N", auto="5000 for 20000+ examples, else 10%",
                                  help="validation examples: the end of an image training "
                                       "split, a stratified draw from a file")
    test: str | None = option(None, metavar="FILE", help="a test file scored once at the "
                              "end into evaluation.json, never used to choose anything")
    id_column: str | None = option(None, help="long tables: the sequence id column "
                                   "(default there: id)")
    time_column: str | None = option(None, help="long tables: steps are sorted by it")
    feature_columns: tuple[str, ...] = option((), metavar="A,B",
                                              help="long tables: the channels "
                                                   "(none: every other numeric column)")
    label_column: str = option("label", help="long tables: the class column")
    missing: str = option("error", choices=MISSING_POLICIES,
                          help="a value missing inside a sequence: error, drop the step, "
                               "interpolate, or zero")

    def __post_init__(self):
        object.__setattr__(self, "feature_columns", tuple(self.feature_columns))
        if self.val_size is not None and (isinstance(self.val_size, bool) or self.val_size < 1):
            raise ConfigError(f"val_size={self.val_size!r} must be a positive int or None")
        if self.missing not in MISSING_POLICIES:
            raise choice_error("missing", self.missing, MISSING_POLICIES)

    @property
    def images(self) -> bool:
        return is_image_dataset(self.dataset)


@dataclass(frozen=True)
class ClassifyModel:
    """The network: a recurrent classifier (with pooling and a front end) or the BN-MLP."""

    model: str = option("auto", choices=MODELS, auto="rnn for images, gru for files",
                        help="the network")
    units: int = option(100, help="units per layer and direction")
    layers: int = option(1, help="recurrent layers")
    bidirectional: bool = option(False, help="read each sequence both ways")
    dropout: float = option(0.0, help="dropout between layers and before the classifier")
    init: str = option("auto", choices=("auto", "keras", "torch", "irnn"),
                       auto="irnn for rnn, keras for lstm/gru", help="initial weights")
    activation: str = option("auto", choices=("auto", "tanh", "relu"),
                             auto="relu with irnn, else tanh", help="rnn activation")
    pooling: str = option("auto", choices=POOLINGS, auto="last for images, max for files",
                          help="how the outputs over valid steps become one vector")
    conv_channels: int = option(0, help="channels of a convolution over time before the "
                                "recurrent layers (0: none)")
    conv_kernel: int = option(3, help="the convolution's width in steps")
    class_weight: str = option("none", choices=("none", "balanced"),
                               help="weigh the loss by inverse class frequency")
    rocket: str = option("auto", choices=("auto", "on", "off"), auto="on for sequence files",
                         help="beside the network, MiniRocket features read up to each "
                              "length with a ridge classifier; probabilities averaged")
    rocket_weight: float = option(0.5, help="MiniRocket's share of the averaged "
                                  "probabilities (the network has the rest)")

    def __post_init__(self):
        for name, allowed in (("model", MODELS), ("pooling", POOLINGS)):
            if getattr(self, name) not in allowed:
                raise choice_error(name, getattr(self, name), allowed)
        if not 0.0 <= self.rocket_weight <= 1.0:
            raise ConfigError(f"rocket_weight={self.rocket_weight!r} must be in [0, 1]")

    def resolved(self, images: bool = True) -> ClassifyModel:
        """The model with every "auto" replaced by the best measured choice."""
        model = self.model if self.model != "auto" else ("rnn" if images else "gru")
        init = self.init if self.init != "auto" else ("irnn" if model == "rnn" else "keras")
        act = self.activation if self.activation != "auto" else (
            "relu" if init == "irnn" else "tanh")
        pooling = self.pooling if self.pooling != "auto" else ("last" if images else "max")
        rocket = self.rocket if self.rocket != "auto" else ("off" if images else "on")
        return replace(self, model=model, init=init, activation=act, pooling=pooling,
                       rocket=rocket)


def _image_fit() -> FitConfig:
    return FitConfig(epochs=12, batch_size=150, lr=1e-3, seed=42)


# For a sequence file: chosen by 3-fold cross-validation inside the training splits of
# UEA/UCR and generated sets (`python bench/sequences.py --select`, BENCHMARKS.md).
SEQUENCE_FIT = FitConfig(epochs=300, batch_size=32, lr=3e-3, seed=42, patience=50,
                         clip_grad_norm=1.0, schedule="cosine", group_by_length=True)
SEQUENCE_MODEL = {"model": "gru", "units": 64, "bidirectional": True, "pooling": "max",
                  "conv_channels": 32, "conv_kernel": 9}


@dataclass(frozen=True)
class ClassifyTaskConfig:
    """A classify run: the examples, the network and how to train it."""

    data: ClassifyData = field(default_factory=ClassifyData)
    model: ClassifyModel = field(default_factory=ClassifyModel)
    fit: FitConfig = field(default_factory=_image_fit)


@dataclass(frozen=True)
class ClassifyConfig:
    """The data and model of an image classify run in one flat object (``train_classify``'s).

    ``init`` and ``activation`` "auto" resolve here to the best measured start: an IRNN
    (relu, identity recurrent matrix) for "rnn", Keras' initialisation (tanh) else.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    model: str = "rnn"
    units: int = 100
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    init: str = "auto"
    activation: str = "auto"
    val_size: int | None = None

    def __post_init__(self):
        resolved = ClassifyModel(self.model, init=self.init,
                                 activation=self.activation).resolved()
        object.__setattr__(self, "init", resolved.init)
        object.__setattr__(self, "activation", resolved.activation)
        ClassifyData(self.dataset, self.data_dir, self.download, self.val_size)

    def task_config(self, fit_config: FitConfig) -> ClassifyTaskConfig:
        """The composed config of the same run."""
        return ClassifyTaskConfig(
            data=ClassifyData(self.dataset, self.data_dir, self.download, self.val_size),
            model=ClassifyModel(self.model, self.units, self.layers, self.bidirectional,
                                self.dropout, self.init, self.activation),
            fit=fit_config)


def model_entry(model: ClassifyModel, examples: Examples) -> dict:
    """The ``config.json`` entry that rebuilds the network for these examples."""
    _, steps, features = examples.x.shape
    if model.model == "bnmlp":
        if examples.lengths is not None:
            raise ConfigError("model='bnmlp' reads fixed-size images; sequence files take "
                              "rnn, lstm or gru")
        return {"kind": "bnmlp", "config": {"in_features": steps * features,
                                            "num_classes": len(examples.labels)}}
    cfg = ClassifierConfig(input_size=features, num_classes=len(examples.labels),
                           cell=model.model, num_units=model.units, num_layers=model.layers,
                           bidirectional=model.bidirectional, dropout=model.dropout,
                           init=model.init, activation=model.activation,
                           pooling=model.pooling, conv_channels=model.conv_channels,
                           conv_kernel=model.conv_kernel)
    return {"kind": model.model, "config": config_dict(cfg)}


@register
class ClassifyTask(Task):
    """Sequences (built-in images row by row, or a user's files) into classes."""

    name = "classify"
    help = "classify sequences: images read row by row, or your own .ts/.csv/.npz files"
    description = ("Classify sequences with a recurrent network that reads only their valid "
                   "steps: a built-in image set (each image a sequence of rows) or your own "
                   "labelled sequences of any lengths and channels. The defaults shown are "
                   "the images'; with a sequence file they are --model gru --units 64 "
                   "--bidirectional --pooling max --conv-channels 32 --conv-kernel 9 "
                   "--epochs 300 --patience 50 --batch-size 32 --lr 3e-3 --schedule cosine "
                   "--clip-grad-norm 1 (chosen by cross-validation, BENCHMARKS.md).")
    config_type = ClassifyTaskConfig
    artefacts = (SCALER, EVALUATION, ROCKET)

    def default_config(self, overrides=None) -> ClassifyTaskConfig:
        dataset = ((overrides or {}).get("data") or {}).get("dataset", "digits")
        if is_image_dataset(dataset):
            return ClassifyTaskConfig()
        return ClassifyTaskConfig(model=ClassifyModel(**SEQUENCE_MODEL), fit=SEQUENCE_FIT)

    def train(self, config: ClassifyTaskConfig, run: RunDir, *, resume: bool = False,
              callbacks: Iterable[Callback] = ()) -> TrainResult:
        from rnnlab.training.distributed import is_main_process

        data, model_cfg = config.data, config.model.resolved(config.data.images)
        examples, scaler, train_idx, val_idx = _training_examples(data, run if resume else None)
        torch.manual_seed(config.fit.seed)  # the initial weights repeat with the seed
        entry = model_entry(model_cfg, examples)
        model = build_model(entry)
        weight = (class_weights(examples.y[train_idx], len(examples.labels))
                  if model_cfg.class_weight == "balanced" else None)
        facts = {**asdict(data), "classes": list(examples.labels),
                 "height": examples.x.shape[1], "width": examples.x.shape[2],
                 "train_size": len(train_idx), "val_size": len(val_idx),
                 "kind": "images" if data.images else "sequences",
                 "feature_names": list(examples.features),
                 "class_weights": None if weight is None else weight.tolist()}
        if scaler is not None and is_main_process() and not resume:
            run.create()
            scaler.save(run.file(SCALER))
        train, val = examples.take(train_idx), examples.take(val_idx)
        if model_cfg.rocket == "on" and resume and run.file(ROCKET).exists():
            entry["rocket"] = run.load_config()["model"]["rocket"]  # the run's own, as fitted
        elif model_cfg.rocket == "on":
            entry["rocket"] = fit_rocket(train, weight, config.fit.seed,
                                         run if is_main_process() else None)
            entry["rocket"]["weight"] = 1.0 - model_cfg.rocket_weight  # the network's share
        history = fit(model, (train.inputs(), train.y), loss_fn=_loss(weight),
                      config=config.fit, val_data=(val.inputs(), val.y),
                      metrics={"accuracy": accuracy}, callbacks=callbacks, run_dir=run,
                      run_config=saved_config(self, config, data=facts, model=entry))
        if data.test and is_main_process():
            run.save_json(EVALUATION, self.evaluate(run, data={"dataset": data.test}))
        if is_main_process():  # what the report shows beside fit's files
            review_examples(run, self.load(run), examples, train_idx, val_idx,
                            images=data.images)
        return TrainResult(model, history)

    def load(self, run: RunDir, *, device: Any = "cpu", weights: str = "best"):
        return load_predictor(run, device=device, weights=weights)

    def evaluate(self, run: RunDir, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
        saved = run.load_config()["data"]
        settings = _data_settings(saved, data or {})
        predictor = self.load(run, device=device, weights=weights)
        if split is not None and split not in SPLITS:
            raise choice_error("split", split, SPLITS)
        examples, split = _evaluation_examples(settings, saved, predictor, split,
                                               given="dataset" in (data or {}))
        return score(predictor, examples, device) | {
            "dataset": settings.dataset, "split": split, "weights": weights}

    def predict(self, run: RunDir, *, inputs: Mapping[str, Any], device: Any = "cpu",
                weights: str = "best") -> list[dict]:
        predictor = self.load(run, device=device, weights=weights)
        if isinstance(predictor, SequencePredictor):
            return _predict_sequences(run, predictor, inputs)
        return _predict_images(predictor, inputs)

    def migrate(self, saved: dict) -> dict:
        data, fit_config = saved["data"], dict(saved["fit"])
        if fit_config.get("val_split"):  # 0.1.0 passed val_size through a fraction
            fit_config["val_split"] = 0.0
        return {"data": {k: data.get(k, v) for k, v in asdict(ClassifyData()).items()},
                "model": {k: data.get(k, v) for k, v in asdict(ClassifyModel()).items()},
                "fit": fit_config}


def _loss(weight: torch.Tensor | None):
    if weight is None:
        return nn.functional.cross_entropy

    def weighted(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets, weight=weight.to(outputs.device))

    return weighted


def _training_examples(data: ClassifyData, resumed: RunDir | None):
    """``(examples, scaler or None, train indices, val indices)`` for a training run."""
    if data.images:
        examples = image_examples(data.dataset, "train", data.data_dir, data.download)
        train_idx, val_idx = validation_split(examples.y.numpy(), data.val_size, ordered=True)
        return examples, None, train_idx, val_idx
    from rnnlab.data.standardize import ChannelScaler

    sequences = read_file(data.dataset, data)
    train_idx, val_idx = validation_split(sequences.y, data.val_size, ordered=False)
    if resumed is not None:  # the run's own scaler, never refitted
        scaler = ChannelScaler.load(resumed.file(SCALER))
    else:
        scaler = ChannelScaler.fit(sequences.subset(train_idx))
    return to_examples(sequences, scaler), scaler, train_idx, val_idx


def _data_settings(saved: Mapping[str, Any], typed: Mapping[str, Any]) -> ClassifyData:
    known = {k: saved.get(k, v) for k, v in asdict(ClassifyData()).items()}
    return ClassifyData(**{**known, **typed})


def _evaluation_examples(settings: ClassifyData, saved, predictor, split, *, given: bool):
    """The examples to score and the split's name."""
    if settings.images:
        split = split or "test"
        examples = image_examples(settings.dataset, "test" if split == "test" else "train",
                               settings.data_dir, settings.download)
        if split != "test" and settings.dataset == saved["dataset"]:
            train_idx, val_idx = validation_split(examples.y.numpy(), saved["val_size"],
                                                  ordered=True)
            examples = examples.take(train_idx if split == "train" else val_idx)
        return examples, split
    if given:  # a file named on the command line is scored whole
        return predictor.examples(read_file(settings.dataset, settings,
                                            labels=predictor.classes)), "file"
    split = split or ("test" if saved.get("test") else "val")
    if split == "test":
        if not saved.get("test"):
            raise ConfigError("this run was trained without test=FILE; give dataset=FILE to "
                              "score a file, or split='val'")
        return predictor.examples(read_file(saved["test"], settings,
                                            labels=predictor.classes)), split
    sequences = read_file(saved["dataset"], settings, labels=predictor.classes)
    train_idx, val_idx = validation_split(sequences.y, saved["val_size"], ordered=False)
    return predictor.examples(sequences.subset(train_idx if split == "train" else val_idx)), split


def _predict_sequences(run: RunDir, predictor: SequencePredictor, inputs) -> list[dict]:
    saved = run.load_config()["data"]
    paths = [*(inputs.get("files") or ()), *([inputs["data"]["dataset"]]
                                              if (inputs.get("data") or {}).get("dataset")
                                              else [])]
    if not paths:
        raise ConfigError("give a sequence file to predict (dataset=FILE)")
    rows = []
    for path in paths:
        settings = _data_settings(saved, {"dataset": str(path)})
        sequences = read_file(str(path), settings, labels=predictor.classes, labelled=False)
        examples = predictor.examples(sequences)
        keys = [{"file": str(path), "id": i} for i in examples.ids]
        rows += prediction_rows(predictor.proba(examples), predictor.classes, keys)
    return rows


def _predict_images(predictor: ImagePredictor, inputs) -> list[dict]:
    rows = []
    for path, images in read_image_files(inputs, (predictor.height, predictor.width)):
        keys = [{"file": str(path), "index": i} for i in range(len(images))]
        rows += prediction_rows(predictor.predict_proba(images), predictor.classes, keys)
    return rows


def read_image_files(inputs: Mapping[str, Any], shape: tuple[int, int]
                     ) -> list[tuple[Path, np.ndarray]]:
    """The IDX or PNG files ``rnnlab predict`` names, each with its images.

    Args:
        inputs: the predict flags (``{"files": [...]}``).
        shape: (H, W) a PNG is read at.

    Returns:
        ``[(path, images (N, H, W) or one (H, W) image)]``, every file checked first.
    """
    from rnnlab.data.idx import read_idx
    from rnnlab.data.images import images_from_png

    files = [Path(f) for f in inputs.get("files") or ()]
    if not files:
        raise ConfigError("give at least one IDX or PNG file to predict")
    for path in files:
        if not path.is_file():
            raise DataNotFoundError(f"{path} does not exist (give IDX or PNG image files)")
    return [(path, images_from_png([path], shape) if path.suffix.lower() == ".png"
             else read_idx(path)) for path in files]


def load_images(dataset: str, split: str, data_dir=None, download=False):
    """Images as float32 (N, H, W) in [0, 1], labels int64 (N,) and the class names."""
    examples = image_examples(dataset, split, data_dir, download)
    return examples.x, examples.y, list(examples.labels)


def train_classify(config: ClassifyConfig, fit_config: FitConfig, *, run_dir: str | Path,
                   callbacks: tuple[Callback, ...] = (), resume: bool = False,
                   overwrite: bool = False) -> tuple[nn.Module, History]:
    """Train an image classifier into ``run_dir``; returns the model and its history.

    Example:
        >>> model, history = train_classify(ClassifyConfig(dataset="digits", model="gru"),
        ...                                 FitConfig(epochs=2, batch_size=64),
        ...                                 run_dir="runs/digits")        # doctest: +SKIP
    """
    from rnnlab.tasks.runner import train_run

    result = train_run(ClassifyTask.name, config.task_config(fit_config), run_dir,
                       resume=resume, overwrite=overwrite, callbacks=callbacks)
    return result.model, result.history


def evaluate_run(run_dir: str | Path, *, dataset: str | None = None, split: str = "test",
                 data_dir: str | None = None, device="cpu") -> dict:
    """Loss, accuracy and per-class scores of a trained run on a split (test by default)."""
    data = {k: v for k, v in (("dataset", dataset), ("data_dir", data_dir)) if v is not None}
    return ClassifyTask().evaluate(RunDir(run_dir), data=data, split=split, device=device)


def predict_files(run_dir: str | Path, *, files=(), device="cpu") -> list[dict]:
    """Predict the class of every image in IDX files or PNG files, one row per image."""
    return ClassifyTask().predict(RunDir(run_dir), inputs={"files": files}, device=device)

