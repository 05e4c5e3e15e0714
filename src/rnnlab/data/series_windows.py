"""A user's series made ready for training: chronological split, scaling, windows.

A window is a *segment* of ``window + horizon`` consecutive values::

    segment:   v0 v1 v2 ... v[W-1] | v[W] ... v[W+H-1]
    inputs:    <------ W ------->
    next-step:    <------ W ------->            (inputs shifted by one: the notebook's target)
    horizon:                         <--- H --->

``prepare_series`` splits each series into train/validation/test parts, fits a
``StandardScaler`` on the training part only (or takes a trained run's), and cuts windows
inside each part.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rnnlab._fs import write_json_atomic
from rnnlab.errors import ConfigError, DataError

if TYPE_CHECKING:
    from rnnlab.data.series import Series


@dataclass(frozen=True)
class StandardScaler:
    """Standard scaling ``(x - mean) / std``, fitted on the training part only."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def fit(cls, values: np.ndarray) -> StandardScaler:
        """Fit on ``values`` (any shape); a constant series gets ``std=1``."""
        values = np.asarray(values, dtype=np.float64)
        std = float(values.std())
        return cls(mean=float(values.mean()), std=std if std > 0 else 1.0)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - self.mean) / self.std

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"kind": "standard", "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> StandardScaler:
        if d.get("kind") != "standard" or not {"mean", "std"} <= d.keys():
            raise DataError(f"not a standard scaler: {d!r}")
        return cls(mean=float(d["mean"]), std=float(d["std"]))

    def save(self, path: str | os.PathLike) -> None:
        """Write the scaler as JSON, atomically."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> StandardScaler:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(d)


@dataclass(frozen=True)
class Windows:
    """Windows of one split part: each a segment of ``window + horizon`` values.

    Attributes:
        segments: (N, window + horizon) float64 (scaled) values.
        window: input steps W. horizon: values to predict after the inputs, H.
    """

    segments: np.ndarray
    window: int
    horizon: int

    def __len__(self) -> int:
        return len(self.segments)

    @property
    def inputs(self) -> np.ndarray:
        """(N, W) the values the model sees."""
        return self.segments[:, : self.window]

    @property
    def next_step(self) -> np.ndarray:
        """(N, W) the notebook's target: each input's next value."""
        return self.segments[:, 1 : self.window + 1]

    @property
    def targets(self) -> np.ndarray:
        """(N, H) the ``horizon`` values after the inputs."""
        return self.segments[:, self.window :]


@dataclass(frozen=True)
class SplitSeries:
    """One series cut chronologically into (scaled) train, validation and test parts."""

    id: str | None
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


@dataclass(frozen=True)
class SeriesDataset:
    """A user's series ready for training: windows per part and the fitted scaler."""

    train: Windows
    val: Windows
    test: Windows
    scaler: StandardScaler
    series: tuple[SplitSeries, ...]


def make_windows(values: np.ndarray, window: int, horizon: int) -> np.ndarray:
    """All segments of ``window + horizon`` consecutive values, stride 1.

    Returns:
        (max(0, N - window - horizon + 1), window + horizon) array (a copy).
    """
    length = window + horizon
    if values.size < length:
        return np.empty((0, length), dtype=np.float64)
    return np.lib.stride_tricks.sliding_window_view(values, length).copy()


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """Rows in the train, validation and test parts of a series of ``n`` rows."""
    n_test = round(n * test_fraction)
    n_val = round(n * val_fraction)
    return n - n_val - n_test, n_val, n_test


def prepare_series(
    series: Sequence[Series],
    *,
    window: int,
    horizon: int = 1,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    scale: bool = True,
    scaler: StandardScaler | None = None,
) -> SeriesDataset:
    """Split each series chronologically, fit the scaler on train, and cut windows.

    Each series is split on its own: the first rows train, the next validate, the last
    test. Windows are cut inside each part, so no window straddles a boundary and none
    mixes two series::

        rows:  |------ train ------|--- val ---|--- test ---|
        windows never cross a "|"

    Args:
        series: from ``read_series``.
        window: input steps W (>= 1). horizon: values to predict after them, H (>= 1).
        val_fraction, test_fraction: shares of each series' rows, in [0, 1), summing < 1.
        scale: fit a ``StandardScaler`` on the pooled training values (else identity).
        scaler: use this scaler instead of fitting one (a trained run's ``scaler.json``).

    Returns:
        A ``SeriesDataset``; its windows hold scaled values.

    Raises:
        DataError: a series shorter than one window, or a part too short to hold one.
    """
    if window < 1 or horizon < 1:
        raise ConfigError(f"window={window!r} and horizon={horizon!r} must both be >= 1")
    for name, f in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= f < 1:
            raise ConfigError(f"{name}={f!r} must be in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves no training rows"
        )
    if not series:
        raise DataError("no series to prepare")
    length = window + horizon
    parts = []
    for s in series:
        if s.values.size < length:
            raise DataError(
                f"{s.name} has {s.values.size} values; one window needs window + horizon = {length}"
            )
        n_train, n_val, _ = split_sizes(s.values.size, val_fraction, test_fraction)
        if n_train < length:
            raise DataError(
                f"{s.name}: its training part has {n_train} of {s.values.size} rows, fewer "
                f"than one window (window + horizon = {length}); lower val/test fractions or "
                "the window"
            )
        parts.append(
            (
                s.id,
                s.values[:n_train],
                s.values[n_train : n_train + n_val],
                s.values[n_train + n_val :],
            )
        )
    if scaler is None:
        scaler = (StandardScaler.fit(np.concatenate([p[1] for p in parts])) if scale
                  else StandardScaler())
    split = tuple(
        SplitSeries(
            id=i, train=scaler.transform(a), val=scaler.transform(b), test=scaler.transform(c)
        )
        for i, a, b, c in parts
    )

    def windows(part: str, fraction: float) -> Windows:
        segs = [make_windows(getattr(s, part), window, horizon) for s in split]
        w = Windows(np.concatenate(segs), window, horizon)
        if fraction > 0 and len(w) == 0:
            raise DataError(
                f"the {part} parts hold no window of window + horizon = {length} rows; use a "
                f"larger {part} fraction, a smaller window, or a longer series"
            )
        return w

    return SeriesDataset(
        train=windows("train", 1.0),
        val=windows("val", val_fraction),
        test=windows("test", test_fraction),
        scaler=scaler,
        series=split,
    )
