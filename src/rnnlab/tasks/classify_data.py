"""What the classify task reads: built-in images (rows as steps) or a user's sequence files.

Both kinds become :class:`Examples`: padded inputs (N, T, F), per-example lengths (None for
images, which are all full length), class ids and the label strings. A sequence file is
standardised per channel with a :class:`~rnnlab.data.standardize.ChannelScaler` fitted on
the training part only (valid steps only), saved in the run folder as ``scaler.json``.

Validation: the END of an image training split (as the notebook's MNIST), and for a
sequence file a stratified random part drawn with its own seed (files are often sorted by
class, so their end would hold one class only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlab.errors import ConfigError

IMAGE_DATASETS = ("digits", "mnist", "fashion-mnist")
SPLIT_SEED = 20141  # the validation part never depends on --seed
SCALER = "scaler.json"


@dataclass(frozen=True)
class Examples:
    """Inputs ready for the model.

    Attributes:
        x: (N, T, F) float32, zero past each length.
        lengths: (N,) int64 valid steps, or None when every example has T steps.
        y: (N,) int64 class ids (-1: unlabelled).
        labels: the class names, by id.
        ids: N names for predictions (file case ids, or indices).
        features: the F channel names (sequence files).
    """

    x: torch.Tensor
    lengths: torch.Tensor | None
    y: torch.Tensor
    labels: tuple[str, ...]
    ids: tuple[str, ...]
    features: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.y)

    def inputs(self):
        """What the model takes: ``x``, or ``(x, lengths)``."""
        return self.x if self.lengths is None else (self.x, self.lengths)

    def take(self, index) -> Examples:
        index = torch.as_tensor(index, dtype=torch.long)
        lengths = None if self.lengths is None else self.lengths[index]
        x = self.x[index]
        if lengths is not None and len(lengths):  # no all-padding columns
            x = x[:, : int(lengths.max())]
        return Examples(x, lengths, self.y[index], self.labels,
                        tuple(self.ids[i] for i in index.tolist()), self.features)


def is_image_dataset(dataset: str) -> bool:
    """Whether ``dataset`` names a built-in image set (else it is a file path)."""
    return dataset in IMAGE_DATASETS


def image_examples(dataset: str, split: str, data_dir=None, download=False) -> Examples:
    """A built-in image split, each image (H, W) read as H steps of W pixels in [0, 1]."""
    from rnnlab.data.images import DATASETS, load_image_dataset

    images, labels = load_image_dataset(dataset, split, data_dir=data_dir, download=download)
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    return Examples(x, None, y, tuple(DATASETS[dataset].classes),
                    tuple(str(i) for i in range(len(y))))


def read_file(path: str, data, *, labels=None, labelled: bool = True):
    """A sequence file as a ``SequenceSet``, read with the run's column settings."""
    from rnnlab.data.sequences import read_sequences

    if not Path(path).exists():
        from rnnlab.errors import DataNotFoundError

        raise DataNotFoundError(f"dataset={path!r} is neither a built-in dataset "
                                f"({', '.join(IMAGE_DATASETS)}) nor an existing file")
    return read_sequences(path, id_column=data.id_column, time_column=data.time_column,
                          feature_columns=list(data.feature_columns) or None,
                          label_column=data.label_column if labelled else None,
                          missing=data.missing, labels=labels)


def to_examples(sequences, scaler=None) -> Examples:
    """Pad a ``SequenceSet`` (standardised with ``scaler`` when given)."""
    if scaler is not None:
        sequences = scaler.transform(sequences)
    x, lengths = sequences.padded()
    return Examples(torch.from_numpy(x), torch.from_numpy(lengths).long(),
                    torch.from_numpy(sequences.y.copy()), tuple(sequences.labels),
                    tuple(sequences.ids), tuple(sequences.feature_names))


def validation_split(y: np.ndarray, val_size: int | None, *, ordered: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: the end of the data (``ordered``) or a stratified draw.

    ``val_size`` None: 5,000 for 20,000 examples or more, else 10% (at least 1).
    """
    n = len(y)
    size = val_size or (5000 if n >= 20000 else max(1, n // 10))
    if size >= n:
        raise ConfigError(f"val_size={size} leaves no training examples out of {n}")
    if ordered:
        return np.arange(n - size), np.arange(n - size, n)
    rng = np.random.default_rng(SPLIT_SEED)
    val = []
    for c in np.unique(y):  # each class gives its share, at least one where it can
        members = rng.permutation(np.flatnonzero(y == c))
        share = round(size * len(members) / n)
        val.extend(members[: min(max(share, 1), len(members) - 1)])
    val = np.sort(np.asarray(val, dtype=np.int64))
    train = np.setdiff1d(np.arange(n), val)
    return train, val


def class_weights(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Scikit-learn's "balanced" weights: n / (k * count), from the training labels."""
    counts = torch.bincount(y, minlength=num_classes).double()
    weights = len(y) / (num_classes * counts.clamp(min=1))
    return weights.float()
