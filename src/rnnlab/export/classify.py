"""Export a classify run: the sequence classifier (and its MiniRocket member) as one graph.

The graph computes what ``rnnlab predict RUN`` computes, given the preprocessed inputs::

    inputs (B, T, F) float32, lengths (B,) int64
      --[SequenceClassifier: front end, scan_rnn layers, pooling, head]--> network logits
      --[MiniRocket member, if the run has one: w * softmax(network) + (1 - w) *
         softmax(ridge / temperature), as SequencePredictor mixes them]--> probabilities
      --> logits (B, C): log of the probabilities with a member, the network's logits without

so ``softmax(logits)`` is always the probabilities ``rnnlab predict`` prints. Images are
``H`` steps of ``W`` pixels scaled to [0, 1] (``feed`` divides the uint8 values by 255) with
every length ``H``; a sequence file's sequences are standardised by the run's scaler
(``metadata["scaler"]``) and padded. The batch-norm MLP is out of scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.export.graph import BATCH, TIME, Graph
from rnnlab.export.rocket import TracedRocket
from rnnlab.models.classifier import SequenceClassifier
from rnnlab.models.masked import valid_mask
from rnnlab.nn.scan import bidirectional_scan_rnn, scan_rnn
from rnnlab.tasks.classify import ClassifyData, read_image_files
from rnnlab.tasks.classify_model import SequencePredictor, load_predictor
from rnnlab.tasks.scores import prediction_rows
from rnnlab.training.runfolder import RunDir

__all__ = ["ClassifierGraph", "feed", "graph", "rows"]

TASK = "classify"


class ClassifierGraph(nn.Module):
    """``SequenceClassifier.forward`` (with lengths), traceable, and the optional member.

    Args:
        model: the trained classifier (eval mode; its modules are shared, not copied).
        rocket: the MiniRocket member, or None.
        temperature: the member's calibrating temperature.
        weight: the network's share of the mixed probabilities.
    """

    def __init__(self, model: SequenceClassifier, rocket: TracedRocket | None = None,
                 temperature: float = 1.0, weight: float = 1.0):
        super().__init__()
        self.model = model.eval()
        self.rocket = rocket
        self.temperature = float(temperature)
        self.weight = float(weight)

    def network(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """The classifier's logits (B, C) of (B, T, F) inputs read up to their lengths."""
        m = self.model
        B, T = inputs.shape[0], inputs.shape[1]
        mask = valid_mask(lengths, B, T, inputs.device)  # (B, T)
        x = torch.where(mask[..., None], inputs, 0.0)
        if m.front is not None:
            x = m.front(x, mask)  # (B, T, C)
        x, final = m.recurrent(x, lengths, unroll=scan_rnn,
                               unroll_bidirectional=bidirectional_scan_rnn)
        features = final if m.pool is None else m.pool(x, mask)  # (B, D)
        return m.head(features)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, F) float32, (B,) int64 -> logits (B, C) float32."""
        T = inputs.shape[1]
        lengths = torch.clamp(lengths, 0, T)  # a graph cannot refuse; feed() checks
        logits = self.network(inputs, lengths)
        if self.rocket is None:
            return logits
        network = torch.softmax(logits, dim=-1).to(torch.float64)
        decisions = self.rocket(inputs, lengths).to(torch.float64)
        ridge = torch.softmax(decisions / self.temperature, dim=-1)
        mixed = self.weight * network + (1 - self.weight) * ridge  # (B, C)
        return torch.log(mixed).to(torch.float32)


def graph(run: RunDir, *, weights: str = "best", **options) -> Graph:
    """The classify run's predictor as a :class:`Graph` (inputs, lengths -> logits).

    Args:
        run: a classify run folder.
        weights: "best" or "last".
        options: none are taken (an unknown option raises ConfigError).

    Returns:
        The graph, its metadata holding the task, the input kind, the class names, the
        image shape or the channel names, the scaler and the data settings to read files.

    Example:
        >>> g = graph(RunDir("runs/gestures"))                          # doctest: +SKIP
        >>> g.outputs
        ('logits',)
    """
    if options:
        raise ConfigError(f"classify exports take no options; got {sorted(options)}")
    config = run.load_config()
    if config["model"]["kind"] == "bnmlp":
        raise ConfigError("model='bnmlp' (the batch-norm MLP) cannot be exported; export a "
                          "recurrent classifier (model rnn, lstm or gru)")
    predictor = load_predictor(run, weights=weights)
    data = config["data"]
    rocket, temperature, weight = None, 1.0, 1.0
    metadata: dict[str, Any] = {"task": TASK, "kind": data.get("kind", "images"),
                                "classes": list(predictor.classes), "weights": weights}
    if isinstance(predictor, SequencePredictor):
        if predictor.rocket is not None:
            rocket = TracedRocket(predictor.rocket)
            temperature, weight = predictor.temperature, predictor.weight
        metadata.update(feature_names=list(predictor.feature_names),
                        scaler=predictor.scaler.to_dict(),
                        data={k: data.get(k, v) for k, v in asdict(ClassifyData()).items()})
        features = len(predictor.feature_names)
    else:
        metadata.update(height=predictor.height, width=predictor.width)
        features = predictor.width
    module = ClassifierGraph(predictor.model, rocket, temperature, weight).eval()
    example = {"inputs": torch.randn(2, 5, features), "lengths": torch.tensor([5, 3])}
    return Graph(module, example, ("logits",),
                 {"inputs": {0: BATCH, 1: TIME}, "lengths": {0: BATCH}}, metadata)


def _examples(inputs: Mapping[str, Any], metadata: Mapping):
    """``(x (N, T, F) float32, lengths (N,) int64, keys)`` from ``rnnlab predict``'s inputs."""
    if metadata["kind"] == "images":
        return _images(inputs, metadata)
    return _sequences(inputs, metadata)


def _images(inputs, metadata):
    shape = (metadata["height"], metadata["width"])
    chunks, keys = [], []
    for path, images in read_image_files(inputs, shape):
        x = np.asarray(images)
        x = x[None] if x.ndim == 2 else x
        if tuple(x.shape[1:]) != shape:
            raise ShapeError(f"the model reads {shape[0]}x{shape[1]} images; got "
                             f"{tuple(x.shape[1:])}")
        chunks.append(x.astype(np.float32) / np.float32(255.0))  # as ImagePredictor scales
        keys += [{"file": str(path), "index": i} for i in range(len(x))]
    x = np.concatenate(chunks) if chunks else np.zeros((0, *shape), np.float32)
    return x, np.full(len(x), shape[0], np.int64), keys


def _sequences(inputs, metadata):
    from rnnlab.data.standardize import ChannelScaler
    from rnnlab.tasks.classify_data import read_file

    paths = [*(inputs.get("files") or ()), *([inputs["data"]["dataset"]]
                                              if (inputs.get("data") or {}).get("dataset")
                                              else [])]
    if not paths:
        raise ConfigError("give a sequence file to predict (dataset=FILE)")
    scaler = ChannelScaler.from_dict(metadata["scaler"])
    names = metadata["feature_names"]
    parts, keys = [], []
    for path in paths:
        settings = ClassifyData(**{**metadata["data"], "dataset": str(path)})
        sequences = read_file(str(path), settings, labels=tuple(metadata["classes"]),
                              labelled=False)
        if sequences.num_features != len(names):
            raise ShapeError(f"the model reads {len(names)} channels ({', '.join(names)}); "
                             f"the file has {sequences.num_features}")
        parts.append(scaler.transform(sequences).padded())
        keys += [{"file": str(path), "id": i} for i in sequences.ids]
    T = max(max(x.shape[1] for x, _ in parts), 1)
    x = np.concatenate([np.pad(x, ((0, 0), (0, T - x.shape[1]), (0, 0))) for x, _ in parts])
    return x.astype(np.float32), np.concatenate([n for _, n in parts]).astype(np.int64), keys


def feed(inputs: Mapping[str, Any], metadata: Mapping) -> dict[str, np.ndarray]:
    """The graph's inputs for ``rnnlab predict``'s inputs (files, or ``data.dataset``).

    Args:
        inputs: ``{"files": [...], "data": {"dataset": FILE}}`` as ``Task.predict`` takes.
        metadata: the exported file's metadata.

    Returns:
        ``{"inputs": (N, T, F) float32, "lengths": (N,) int64}``.
    """
    x, lengths, _ = _examples(inputs, metadata)
    return {"inputs": x, "lengths": lengths}


def rows(outputs: Mapping[str, np.ndarray], metadata: Mapping, inputs) -> list[dict]:
    """The rows ``rnnlab predict RUN`` prints, from the graph's ``logits``.

    Args:
        outputs: ``{"logits": (N, C)}``.
        metadata: the exported file's metadata.
        inputs: the same inputs given to :func:`feed` (they name each row).

    Returns:
        One dict per example, as ``ClassifyTask.predict``.
    """
    _, _, keys = _examples(inputs, metadata)
    logits = np.asarray(outputs["logits"], dtype=np.float64)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True)) if len(logits) else logits
    proba = proba / proba.sum(axis=1, keepdims=True) if len(logits) else proba
    return prediction_rows(proba, metadata["classes"], keys)
