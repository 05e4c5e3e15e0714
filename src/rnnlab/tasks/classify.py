"""Image classification, the notebook's way: read each image row by row with an RNN.

Wires a dataset (``mnist``, ``fashion-mnist``, the embedded ``digits``), a model
(``rnn``/``lstm``/``gru`` :class:`SequenceClassifier`, or the ``bnmlp``), :func:`rnnlab.train.fit`
and a run folder. Validation is the END of the training set (the last 5,000 images of
MNIST-sized sets, else the last 10%); the test split is only read by :func:`evaluate_run`.

    rnnlab train classify --dataset fashion-mnist --model rnn --units 100 --epochs 12 \\
        --batch-size 150 --lr 1e-3 --out runs/fmnist-rnn
    rnnlab evaluate runs/fmnist-rnn --split test --json
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.models.classifier import (
    BNMLP,
    BNMLPConfig,
    ClassifierConfig,
    SequenceClassifier,
    config_dict,
)
from rnnlab.runs import RunDir, load_weights, register_task
from rnnlab.train import Callback, FitConfig, History, accuracy, evaluate, fit

MODELS = ("rnn", "lstm", "gru", "bnmlp")


@dataclass(frozen=True)
class ClassifyConfig:
    """What to train: the data and the model (``FitConfig`` says how).

    Attributes:
        dataset: "digits" (embedded, offline), "mnist" or "fashion-mnist".
        data_dir: folder with the dataset's IDX files (else the standard places).
        download: fetch missing files from the canonical URLs (SHA-256 checked).
        model: "rnn", "lstm", "gru" or "bnmlp".
        units, layers, bidirectional, dropout: the recurrent model's shape.
        init, activation: "auto" picks the best measured start: an IRNN (relu, identity
            recurrent matrix) for "rnn", Keras' initialisation (tanh) for "lstm"/"gru".
        val_size: validation images taken from the end of the training split; None:
            5,000 for sets of 20,000 or more, else 10%.
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
        if self.model not in MODELS:
            raise choice_error("model", self.model, MODELS)
        if self.init == "auto":  # the best measured start (models/classifier.py)
            object.__setattr__(self, "init", "irnn" if self.model == "rnn" else "keras")
        if self.activation == "auto":
            object.__setattr__(self, "activation", "relu" if self.init == "irnn" else "tanh")
        if self.val_size is not None and self.val_size < 1:
            raise ConfigError(f"val_size={self.val_size!r} must be a positive int or None")


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


def model_entry(config: ClassifyConfig, height: int, width: int, num_classes: int) -> dict:
    """The ``config.json`` entry describing the model for images of height x width."""
    if config.model == "bnmlp":
        cfg = BNMLPConfig(in_features=height * width, num_classes=num_classes)
    else:
        cfg = ClassifierConfig(input_size=width, num_classes=num_classes, cell=config.model,
                               num_units=config.units, num_layers=config.layers,
                               bidirectional=config.bidirectional, dropout=config.dropout,
                               init=config.init, activation=config.activation)
    return {"kind": config.model, "config": config_dict(cfg)}


def train_classify(config: ClassifyConfig, fit_config: FitConfig, *, run_dir: str | Path,
                   callbacks: tuple[Callback, ...] = (), resume: bool = False,
                   overwrite: bool = False) -> tuple[nn.Module, History]:
    """Train an image classifier into ``run_dir``; returns the model and its history.

    Example:
        >>> model, history = train_classify(ClassifyConfig(dataset="digits", model="gru"),
        ...                                 FitConfig(epochs=2, batch_size=64),
        ...                                 run_dir="runs/digits")        # doctest: +SKIP
    """
    x, y, classes = load_images(config.dataset, "train", config.data_dir, config.download)
    n, height, width = x.shape
    val_size = config.val_size or (5000 if n >= 20000 else max(1, n // 10))
    if val_size >= n:
        raise ConfigError(f"val_size={val_size} leaves no training images out of {n}")
    fit_config = _with_val_split(fit_config, val_size / n)
    torch.manual_seed(fit_config.seed)  # the model's initial weights repeat with the seed
    entry = model_entry(config, height, width, len(classes))
    model = build_model(entry)
    run_config = {"task": "classify", "data": {**asdict(config), "height": height,
                                               "width": width, "classes": classes,
                                               "train_size": n - val_size,
                                               "val_size": val_size},
                  "model": entry}
    history = fit(model, (x, y), loss_fn=nn.functional.cross_entropy, config=fit_config,
                  metrics={"accuracy": accuracy}, callbacks=callbacks, run_dir=run_dir,
                  resume=resume, run_config=run_config, overwrite=overwrite)
    return model, history


def _with_val_split(fit_config: FitConfig, fraction: float) -> FitConfig:
    from dataclasses import replace

    # FitConfig.val_split takes int(n * fraction) rows; nudge up so rounding keeps val_size.
    return replace(fit_config, val_split=min(fraction + 1e-9, 0.999))


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

    @torch.no_grad()
    def predict_proba(self, images) -> np.ndarray:
        """Class probabilities (N, C) for uint8 images (N, height, width), 0-255."""
        x = torch.as_tensor(np.asarray(images)).float().div(255.0)
        if x.dim() == 2:
            x = x[None]
        if tuple(x.shape[1:]) != (self.height, self.width):
            raise ShapeError(f"the model reads {self.height}x{self.width} images; got "
                             f"{tuple(x.shape[1:])}")
        device = next(self.model.parameters()).device
        return torch.softmax(self.model(x.to(device)), dim=-1).cpu().numpy()

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """``(classes (N,), probability of that class (N,))`` for uint8 images."""
        proba = self.predict_proba(images)
        best = proba.argmax(axis=1)
        return best, proba[np.arange(len(best)), best]


@register_task("classify")
def _load(run: RunDir, config: dict, device) -> ImagePredictor:
    model = build_model(config["model"])
    load_weights(run, model, device=device)
    data = config["data"]
    return ImagePredictor(model, data["height"], data["width"], tuple(data["classes"]))


def evaluate_run(run_dir: str | Path, *, dataset: str | None = None, split: str = "test",
                 data_dir: str | None = None, device="cpu") -> dict:
    """Loss and accuracy of a trained run on a split (the test split by default).

    Returns:
        ``{"accuracy": ..., "loss": ..., "examples": N, "dataset": ..., "split": ...}``.
    """
    from rnnlab.runs import load_run
    from rnnlab.runtime import resolve_device

    device = resolve_device(device)
    predictor = load_run(run_dir, device=device)
    data = RunDir(run_dir).load_config()["data"]
    dataset = dataset or data["dataset"]
    x, y, _ = load_images(dataset, split, data_dir or data.get("data_dir"), False)
    if tuple(x.shape[1:]) != (predictor.height, predictor.width):
        raise ShapeError(f"{dataset} images are {tuple(x.shape[1:])}; the run was trained on "
                         f"{predictor.height}x{predictor.width}")
    scores = evaluate(predictor.model, (x, y), loss_fn=nn.functional.cross_entropy,
                      metrics={"accuracy": accuracy}, device=device)
    return {**scores, "examples": len(y), "dataset": dataset, "split": split}


def predict_files(run_dir: str | Path, *, files=(), device="cpu", **_) -> list[dict]:
    """Predict the class of every image in IDX files or PNG files.

    Returns:
        One dict per image: ``{"file", "index", "label", "class", "probability"}``.
    """
    from rnnlab.data.idx import read_idx
    from rnnlab.data.images import images_from_png
    from rnnlab.runs import load_run

    if not files:
        raise ConfigError("give at least one IDX or PNG file to predict")
    predictor = load_run(run_dir, device=device)
    rows = []
    for path in map(Path, files):
        if path.suffix.lower() == ".png":
            images = images_from_png([path], (predictor.height, predictor.width))
        else:
            images = read_idx(path)
        labels, probs = predictor.predict(images)
        rows += [{"file": str(path), "index": i, "label": int(lab),
                  "class": predictor.classes[lab], "probability": float(p)}
                 for i, (lab, p) in enumerate(zip(labels, probs, strict=True))]
    return rows
