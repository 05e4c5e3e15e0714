"""Per-channel standardisation of sequences, fitted on the training set only.

``ChannelScaler.fit`` pools the valid steps of every training sequence (padding never
enters, since a ``SequenceSet`` holds none) and keeps each channel's mean and standard
deviation; ``transform`` applies ``(x - mean) / std`` to any set with the same channels,
so validation, test and prediction data are scaled with the training statistics. The
scaler is plain data: ``to_dict``/``from_dict`` (or ``save``/``load``) keep it as JSON in
a run folder.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab._fs import atomic_write_bytes
from rnnlab.data.sequence_set import SequenceSet
from rnnlab.errors import ConfigError, DataError

__all__ = ["ChannelScaler"]

_KIND = "channel_standard"


@dataclass(frozen=True)
class ChannelScaler:
    """``(x - mean) / std`` per channel.

    Attributes:
        mean: F channel means.
        std: F channel standard deviations, all > 0 (a constant channel gets 1, so it
            scales to 0 rather than to inf or NaN).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self):
        mean = tuple(float(v) for v in self.mean)
        std = tuple(float(v) for v in self.std)
        if len(mean) != len(std) or not mean:
            raise ConfigError(f"mean has {len(mean)} channels and std {len(std)}; "
                              "they must match and be >= 1")
        if not all(math.isfinite(v) for v in mean) or not all(
                math.isfinite(v) and v > 0 for v in std):
            raise ConfigError(f"mean={mean} must be finite and std={std} finite and > 0")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def num_features(self) -> int:
        return len(self.mean)

    @classmethod
    def fit(cls, data: SequenceSet) -> ChannelScaler:
        """Fit on the valid steps of ``data`` (the training set), in float64.

        Example:
            >>> s = SequenceSet([np.array([[1.0, 5.0], [3.0, 5.0]], np.float32)], [-1], (),
            ...                 ("a", "b"), ("0",))
            >>> ChannelScaler.fit(s)
            ChannelScaler(mean=(2.0, 5.0), std=(1.0, 1.0))
        """
        if not isinstance(data, SequenceSet) or not len(data):
            raise ConfigError("ChannelScaler.fit needs a non-empty SequenceSet")
        steps = np.concatenate(data.sequences).astype(np.float64)  # (sum T_i, F)
        mean = steps.mean(axis=0)
        std = np.sqrt(((steps - mean) ** 2).mean(axis=0))
        # A channel is constant when its spread is rounding noise next to its size.
        tiny = std <= 1e-7 * np.maximum(np.abs(mean), 1e-30)
        std = np.where(tiny | (std == 0), 1.0, std)
        return cls(tuple(mean.tolist()), tuple(std.tolist()))

    def _check(self, f: int) -> None:
        if f != self.num_features:
            raise DataError(f"the data have {f} channels, but the scaler was fitted on "
                            f"{self.num_features}")

    def transform_array(self, x: np.ndarray) -> np.ndarray:
        """Scale an array whose last axis is the F channels; returns float32.

        Padding in a padded (N, T, F) array is scaled too: mask it afterwards, or
        transform the ``SequenceSet`` before padding it.
        """
        x = np.asarray(x)
        self._check(x.shape[-1])
        mean, std = np.array(self.mean), np.array(self.std)
        return ((x - mean) / std).astype(np.float32)

    def transform(self, data: SequenceSet) -> SequenceSet:
        """The same set with every sequence scaled."""
        self._check(data.num_features)
        return data.with_sequences([self.transform_array(s) for s in data.sequences])

    def inverse_array(self, x: np.ndarray) -> np.ndarray:
        """Undo ``transform_array``; returns float64."""
        x = np.asarray(x, dtype=np.float64)
        self._check(x.shape[-1])
        return x * np.array(self.std) + np.array(self.mean)

    def to_dict(self) -> dict:
        """JSON-ready ``{"kind", "mean", "std"}``."""
        return {"kind": _KIND, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> ChannelScaler:
        """Rebuild from ``to_dict``'s output; DataError for anything else."""
        if not isinstance(d, dict) or d.get("kind") != _KIND or set(d) != {"kind", "mean",
                                                                           "std"}:
            raise DataError(f"not a channel scaler (expected keys kind={_KIND!r}, mean, "
                            f"std): {str(d)[:200]}")
        try:
            return cls(tuple(d["mean"]), tuple(d["std"]))
        except (TypeError, ValueError) as e:
            raise DataError(f"a bad channel scaler: {e}") from None

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``to_dict()`` as JSON, atomically."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        return atomic_write_bytes(path, text.encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ChannelScaler:
        """Read a scaler that ``save`` wrote."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d)
