"""A trained classify run ready to predict: the network with its preprocessing.

``load_predictor(run)`` gives an :class:`ImagePredictor` (uint8 images in, like the
training images) or a :class:`SequencePredictor` (a file's sequences in, standardised with
the run's ``scaler.json``, read only up to each length). ``score`` is what ``evaluate``
reports for either.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlab.errors import ShapeError
from rnnlab.models.classifier import BNMLP, BNMLPConfig, ClassifierConfig, SequenceClassifier
from rnnlab.tasks.classify_data import SCALER, Examples, to_examples
from rnnlab.tasks.scores import classification_report
from rnnlab.training.runfolder import RunDir, load_weights

EVALUATION = "evaluation.json"
ROCKET = "rocket.safetensors"
BATCH = 512


def build_model(model: dict) -> nn.Module:
    """Rebuild a model from its ``config.json`` entry ``{"kind": ..., "config": {...}}``."""
    if model["kind"] == "bnmlp":
        return BNMLP(BNMLPConfig(**model["config"]))
    return SequenceClassifier(ClassifierConfig(**model["config"]))


@torch.no_grad()
def _proba(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor | None) -> np.ndarray:
    device = next(model.parameters()).device
    chunks = []
    for i in range(0, len(x), BATCH):
        if lengths is None:
            logits = model(x[i:i + BATCH].to(device))
        else:
            part = lengths[i:i + BATCH]
            steps = max(int(part.max()), 1)  # columns past every length are never read
            logits = model(x[i:i + BATCH, :steps].to(device), part.to(device))
        chunks.append(torch.softmax(logits, dim=-1).cpu())
    return torch.cat(chunks).numpy() if chunks else np.zeros((0, 0), np.float32)


@dataclass(frozen=True)
class ImagePredictor:
    """A trained image classifier: what ``rnnlab.load_run`` returns for image runs.

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
        x = torch.as_tensor(np.asarray(images)).float().div(255.0)
        return self.proba(Examples(x[None] if x.dim() == 2 else x, None,
                                   torch.zeros(len(x), dtype=torch.long), self.classes, ()))

    def proba(self, examples: Examples) -> np.ndarray:
        """Class probabilities (N, C) of examples read like the training images."""
        if tuple(examples.x.shape[1:]) != (self.height, self.width):
            raise ShapeError(f"the model reads {self.height}x{self.width} images; got "
                             f"{tuple(examples.x.shape[1:])}")
        return _proba(self.model, examples.x, None)

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """``(classes (N,), probability of that class (N,))`` for uint8 images."""
        proba = self.predict_proba(images)
        best = proba.argmax(axis=1)
        return best, proba[np.arange(len(best)), best]


@dataclass(frozen=True)
class SequencePredictor:
    """A trained sequence classifier with its channel scaler and label names.

    Attributes:
        model: the network, in eval mode.
        scaler: the per-channel standardisation fitted on the training part.
        classes: the user's label strings, by class id.
        feature_names: the channels it reads, in order.
    """

    model: nn.Module
    scaler: Any
    classes: tuple[str, ...]
    feature_names: tuple[str, ...]
    rocket: nn.Module | None = None
    temperature: float = 1.0
    weight: float = 0.5  # the network's share of the mixture; the rest is MiniRocket's

    def examples(self, sequences) -> Examples:
        """A ``SequenceSet`` standardised and padded as in training."""
        if sequences.num_features != len(self.feature_names):
            raise ShapeError(f"the model reads {len(self.feature_names)} channels "
                             f"({', '.join(self.feature_names)}); the file has "
                             f"{sequences.num_features}")
        return to_examples(sequences, self.scaler)

    def proba(self, examples: Examples) -> np.ndarray:
        """Class probabilities (N, C); each example is read only up to its length.

        With a MiniRocket member, a mixture of the network's probabilities and the
        ridge's (calibrated by temperature on its leave-one-out decisions), weighted by
        ``weight`` (``--rocket-weight``; an even mix by default, chosen by CV).
        """
        network, ridge = self.members(examples)
        return network if ridge is None else self.weight * network + (1 - self.weight) * ridge

    def members(self, examples: Examples) -> tuple[np.ndarray, np.ndarray | None]:
        """The network's probabilities (N, C) and MiniRocket's (or None)."""
        proba = _proba(self.model, examples.x, examples.lengths)
        if self.rocket is None:
            return proba, None
        with torch.no_grad():
            decisions = torch.cat([self.rocket(examples.x[i:i + BATCH],
                                               examples.lengths[i:i + BATCH])
                                   for i in range(0, len(examples.x), BATCH)])
        return proba, torch.softmax(decisions.double() / self.temperature, dim=-1).numpy()

    def predict_proba(self, sequences) -> np.ndarray:
        """Class probabilities (N, C) for a ``SequenceSet`` in the file's own units."""
        return self.proba(self.examples(sequences))


def load_predictor(run: RunDir, *, device: Any = "cpu", weights: str = "best"):
    """The run's predictor with its ``weights`` ("best" or "last") on ``device``."""
    config = run.load_config()
    model = build_model(config["model"])
    load_weights(run, model, which=weights, device=device)
    data = config["data"]
    if data.get("kind", "images") == "images":
        return ImagePredictor(model, data["height"], data["width"], tuple(data["classes"]))
    from rnnlab.data.standardize import ChannelScaler

    scaler = ChannelScaler.load(run.file(SCALER))
    entry = config["model"].get("rocket")
    rocket, temperature = _load_rocket(run, entry)
    return SequencePredictor(model, scaler, tuple(data["classes"]),
                             tuple(data.get("feature_names") or scaler_names(scaler)),
                             rocket, temperature, float((entry or {}).get("weight", 0.5)))


def fit_rocket(train: Examples, weight: torch.Tensor | None, seed: int, run: RunDir | None
               ) -> dict:
    """Fit the MiniRocket member on the training part; save it in ``run`` (rank 0).

    Returns:
        Its ``config.json`` entry: the features' config and the calibrating temperature.
    """
    import safetensors.torch

    from rnnlab.models.calibration import fit_temperature
    from rnnlab.models.rocket_classifier import RocketClassifier, RocketClassifierConfig

    sample_weight = None if weight is None else weight[train.y].double()
    rocket = RocketClassifier(RocketClassifierConfig(seed=seed)).fit_closed_form(
        train.x, train.lengths, train.y, sample_weight)
    temperature = fit_temperature(rocket.ridge.loo_decisions, train.y)
    if run is not None:
        from rnnlab._fs import atomic_write_bytes

        atomic_write_bytes(run.file(ROCKET), safetensors.torch.save(
            {k: v.contiguous() for k, v in rocket.state_dict().items()}))
    return {"config": asdict(rocket.config), "temperature": temperature,
            "loo_accuracy": rocket.ridge.loo_accuracy}


def _load_rocket(run: RunDir, entry: dict | None):
    if not entry:
        return None, 1.0
    import safetensors.torch

    from rnnlab.models.rocket_classifier import RocketClassifier, RocketClassifierConfig

    rocket = RocketClassifier(RocketClassifierConfig(**entry["config"]))
    rocket.load_state_dict(safetensors.torch.load(run.file(ROCKET).read_bytes()))
    return rocket.eval(), float(entry["temperature"])


def scaler_names(scaler) -> tuple[str, ...]:
    return tuple(f"channel_{i}" for i in range(scaler.num_features))


def score(predictor, examples: Examples, device) -> dict:
    """Loss (cross-entropy of the predicted probabilities), accuracy, per-class scores and
    the confusion matrix on labelled examples."""
    proba = predictor.proba(examples)
    y = examples.y.numpy()
    report = classification_report(y, proba.argmax(1), predictor.classes)
    picked = proba[np.arange(len(y)), y] if len(y) else np.ones(1)
    return {**report, "loss": float(-np.log(np.clip(picked, 1e-12, None)).mean())}
