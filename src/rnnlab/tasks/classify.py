"""Image classification, the notebook's way: read each image row by row with an RNN.

Wires a dataset (``mnist``, ``fashion-mnist``, the embedded ``digits``), a model
(``rnn``/``lstm``/``gru`` :class:`SequenceClassifier`, or the ``bnmlp``), :func:`rnnlab.train.fit`
and a run folder. Validation is the END of the training set (the last 5,000 images of
MNIST-sized sets, else the last 10%); the test split is only read by ``evaluate``.

    rnnlab train classify --dataset fashion-mnist --model rnn --units 100 --epochs 12 \\
        --batch-size 150 --lr 1e-3 --out runs/fmnist-rnn
    rnnlab evaluate runs/fmnist-rnn --split test --json
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.config import option
from rnnlab.errors import ConfigError, DataNotFoundError, ShapeError, choice_error
from rnnlab.models.classifier import (
    BNMLP,
    BNMLPConfig,
    ClassifierConfig,
    SequenceClassifier,
    config_dict,
)
from rnnlab.runs import RunDir, load_weights
from rnnlab.tasks.base import Task, TrainResult, register, saved_config
from rnnlab.tasks.scores import classification_report, prediction_rows
from rnnlab.train import Callback, FitConfig, History, evaluate, fit

MODELS = ("rnn", "lstm", "gru", "bnmlp")
IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ImageData:
    """Which images to read and how much of the training split validates."""

    dataset: str = option("digits", choices=IMAGE_DATASETS,
                          help="digits is embedded and works offline")
    data_dir: str | None = option(None, metavar="DIR",
                                  help="folder holding the dataset's IDX files")
    download: bool = option(False, help="download missing files (SHA-256 checked)")
    val_size: int | None = option(None, metavar="N", auto="5000 for 20000+ images, else 10%",
                                  help="validation images from the end of the training split")

    def __post_init__(self):
        if self.dataset not in IMAGE_DATASETS:
            raise choice_error("dataset", self.dataset, IMAGE_DATASETS)
        if self.val_size is not None and (isinstance(self.val_size, bool) or self.val_size < 1):
            raise ConfigError(f"val_size={self.val_size!r} must be a positive int or None")


@dataclass(frozen=True)
class ImageModel:
    """The network: a recurrent classifier over rows, or the batch-norm MLP."""

    model: str = option("rnn", choices=MODELS, help="the network")
    units: int = option(100, help="units per layer and direction")
    layers: int = option(1, help="recurrent layers")
    bidirectional: bool = option(False, help="read each image both ways")
    dropout: float = option(0.0, help="dropout between layers and before the classifier")
    init: str = option("auto", choices=("auto", "keras", "torch", "irnn"),
                       auto="irnn for rnn, keras for lstm/gru", help="initial weights")
    activation: str = option("auto", choices=("auto", "tanh", "relu"),
                             auto="relu with irnn, else tanh", help="rnn activation")

    def __post_init__(self):
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)

    def resolved(self) -> tuple[str, str]:
        """``(init, activation)`` with "auto" replaced by the best measured start."""
        init = self.init if self.init != "auto" else ("irnn" if self.model == "rnn" else "keras")
        act = self.activation if self.activation != "auto" else (
            "relu" if init == "irnn" else "tanh")
        return init, act


def _fit_defaults() -> FitConfig:
    return FitConfig(epochs=12, batch_size=150, lr=1e-3, seed=42)


@dataclass(frozen=True)
class ClassifyTaskConfig:
    """A classify run: the images, the network and how to train it."""

    data: ImageData = field(default_factory=ImageData)
    model: ImageModel = field(default_factory=ImageModel)
    fit: FitConfig = field(default_factory=_fit_defaults)


@dataclass(frozen=True)
class ClassifyConfig:
    """The data and model of a classify run in one flat object (``train_classify``'s).

    Attributes:
        dataset, data_dir, download, val_size: see :class:`ImageData`.
        model, units, layers, bidirectional, dropout: see :class:`ImageModel`.
        init, activation: "auto" is resolved here to the best measured start: an IRNN
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
        init, act = ImageModel(self.model, init=self.init, activation=self.activation).resolved()
        object.__setattr__(self, "init", init)
        object.__setattr__(self, "activation", act)
        ImageData(self.dataset, self.data_dir, self.download, self.val_size)

    def task_config(self, fit_config: FitConfig) -> ClassifyTaskConfig:
        """The composed config of the same run."""
        return ClassifyTaskConfig(
            data=ImageData(self.dataset, self.data_dir, self.download, self.val_size),
            model=ImageModel(self.model, self.units, self.layers, self.bidirectional,
                             self.dropout, self.init, self.activation),
            fit=fit_config)


def load_images(dataset: str, split: str, data_dir=None, download=False):
    """Images as float32 (N, H, W) in [0, 1] and labels int64 (N,), plus the class names."""
    from rnnlab.data.images import DATASETS, load_image_dataset

    images, labels = load_image_dataset(dataset, split, data_dir=data_dir, download=download)
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return x, y, list(DATASETS[dataset].classes)


def build_model(model: dict) -> nn.Module:
    """Rebuild a model from its ``config.json`` entry ``{"kind": ..., "config": {...}}``."""
    if model["kind"] == "bnmlp":
        return BNMLP(BNMLPConfig(**model["config"]))
    return SequenceClassifier(ClassifierConfig(**model["config"]))


def model_entry(config: ImageModel | ClassifyConfig, height: int, width: int,
                num_classes: int) -> dict:
    """The ``config.json`` entry describing the model for images of height x width."""
    if config.model == "bnmlp":
        cfg = BNMLPConfig(in_features=height * width, num_classes=num_classes)
    else:
        init, activation = ImageModel(config.model, init=config.init,
                                      activation=config.activation).resolved()
        cfg = ClassifierConfig(input_size=width, num_classes=num_classes, cell=config.model,
                               num_units=config.units, num_layers=config.layers,
                               bidirectional=config.bidirectional, dropout=config.dropout,
                               init=init, activation=activation)
    return {"kind": config.model, "config": config_dict(cfg)}


def _val_size(data: ImageData, n: int) -> int:
    val_size = data.val_size or (5000 if n >= 20000 else max(1, n // 10))
    if val_size >= n:
        raise ConfigError(f"val_size={val_size} leaves no training images out of {n}")
    return val_size


@dataclass(frozen=True)
class ImagePredictor:
    """A trained classifier with its preprocessing: what ``rnnlab.load_run`` returns.

    Attributes:
        model: the network, in eval mode.
        height, width: the image shape it reads.
        classes: class names, by index.
    """

    model: nn.Module
    height: int
    width: int
    classes: tuple[str, ...]

    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (N, C) for uint8 images (N, height, width), 0-255."""
        return self.proba(torch.as_tensor(np.asarray(images)).float().div(255.0))

    @torch.no_grad()
    def proba(self, x: torch.Tensor, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities (N, C) for float images (N, height, width) in [0, 1]."""
        if x.dim() == 2:
            x = x[None]
        if tuple(x.shape[1:]) != (self.height, self.width):
            raise ShapeError(f"the model reads {self.height}x{self.width} images; got "
                             f"{tuple(x.shape[1:])}")
        device = next(self.model.parameters()).device
        chunks = [torch.softmax(self.model(x[i:i + batch_size].to(device)), dim=-1).cpu()
                  for i in range(0, len(x), batch_size)]
        return torch.cat(chunks).numpy() if chunks else np.zeros((0, len(self.classes)))

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """``(classes (N,), probability of that class (N,))`` for uint8 images."""
        proba = self.predict_proba(images)
        best = proba.argmax(axis=1)
        return best, proba[np.arange(len(best)), best]


@register
class ClassifyTask(Task):
    """Images read row by row (MNIST, Fashion-MNIST, the embedded digits)."""

    name = "classify"
    help = "classify images read row by row (MNIST, Fashion-MNIST, digits)"
    description = "Read each image as a sequence of rows and classify it."
    config_type = ClassifyTaskConfig

    def train(self, config: ClassifyTaskConfig, run: RunDir, *, resume: bool = False,
              callbacks: Iterable[Callback] = ()) -> TrainResult:
        data = config.data
        x, y, classes = load_images(data.dataset, "train", data.data_dir, data.download)
        n, height, width = x.shape
        val_size = _val_size(data, n)
        torch.manual_seed(config.fit.seed)  # the model's initial weights repeat with the seed
        entry = model_entry(config.model, height, width, len(classes))
        model = build_model(entry)
        facts = {**asdict(data), "height": height, "width": width, "classes": classes,
                 "train_size": n - val_size, "val_size": val_size}
        history = fit(model, (x[:-val_size], y[:-val_size]), loss_fn=nn.functional.cross_entropy,
                      config=config.fit, val_data=(x[-val_size:], y[-val_size:]),
                      metrics={"accuracy": _accuracy}, callbacks=callbacks, run_dir=run.path,
                      resume=resume, overwrite=True,
                      run_config=saved_config(self, config, data=facts, model=entry))
        return TrainResult(model, history)

    def load(self, run: RunDir, *, device: Any = "cpu", weights: str = "best") -> ImagePredictor:
        config = run.load_config()
        model = build_model(config["model"])
        load_weights(run, model, which=weights, device=device)
        data = config["data"]
        return ImagePredictor(model, data["height"], data["width"], tuple(data["classes"]))

    def evaluate(self, run: RunDir, *, data: Mapping[str, Any] | None = None,
                 split: str | None = None, weights: str = "best", device: Any = "cpu") -> dict:
        saved = run.load_config()["data"]
        dataset = (data or {}).get("dataset", saved["dataset"])
        data_dir = (data or {}).get("data_dir", saved.get("data_dir"))
        split = split or "test"
        if split not in SPLITS:
            raise choice_error("split", split, SPLITS)
        predictor = self.load(run, device=device, weights=weights)
        x, y, _ = load_images(dataset, "test" if split == "test" else "train", data_dir,
                              (data or {}).get("download", False))
        if split != "test" and dataset == saved["dataset"]:
            cut = saved["train_size"]
            x, y = (x[:cut], y[:cut]) if split == "train" else (x[cut:], y[cut:])
        if tuple(x.shape[1:]) != (predictor.height, predictor.width):
            raise ShapeError(f"{dataset} images are {tuple(x.shape[1:])}; the run was trained "
                             f"on {predictor.height}x{predictor.width}")
        return _scores(predictor, x, y, device) | {"dataset": dataset, "split": split,
                                                   "weights": weights}

    def predict(self, run: RunDir, *, inputs: Mapping[str, Any], device: Any = "cpu",
                weights: str = "best") -> list[dict]:
        from rnnlab.data.idx import read_idx
        from rnnlab.data.images import images_from_png

        files = [Path(f) for f in inputs.get("files") or ()]
        if not files:
            raise ConfigError("give at least one IDX or PNG file to predict")
        for path in files:
            if not path.is_file():
                raise DataNotFoundError(f"{path} does not exist (give IDX or PNG image files)")
        predictor = self.load(run, device=device, weights=weights)
        rows = []
        for path in files:
            if path.suffix.lower() == ".png":
                images = images_from_png([path], (predictor.height, predictor.width))
            else:
                images = read_idx(path)
            keys = [{"file": str(path), "index": i} for i in range(len(images))]
            rows += prediction_rows(predictor.predict_proba(images), predictor.classes, keys)
        return rows

    def migrate(self, saved: dict) -> dict:
        data, fit_config = saved["data"], dict(saved["fit"])
        if fit_config.get("val_split"):  # 0.1.0 passed val_size through a fraction
            fit_config["val_split"] = 0.0
        return {"data": {k: data.get(k, v) for k, v in asdict(ImageData()).items()},
                "model": {k: data.get(k, v) for k, v in asdict(ImageModel()).items()},
                "fit": fit_config}


def _accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    from rnnlab.train import accuracy

    return accuracy(outputs, targets)


def _scores(predictor: ImagePredictor, x: torch.Tensor, y: torch.Tensor, device) -> dict:
    from rnnlab.runtime import resolve_device

    scores = evaluate(predictor.model, (x, y), loss_fn=nn.functional.cross_entropy,
                      metrics={"accuracy": _accuracy}, device=resolve_device(device))
    proba = predictor.proba(x)
    report = classification_report(y.numpy(), proba.argmax(1), predictor.classes)
    return {**report, "loss": scores["loss"], "accuracy": scores["accuracy"]}


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
