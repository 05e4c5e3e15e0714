"""Variable-length, multichannel labelled sequences: the container every reader returns.

A ``SequenceSet`` holds N sequences, each a (T_i, F) float32 array of its valid steps only;
padding exists only in the copy ``padded()`` makes, and ``lengths`` says where it starts::

    case 0:  x x x x x x      length 6
    case 1:  x x x . . .      length 3   ("." is padding, never a value of the case)
    case 2:  x x x x x .      length 5

This module also holds the rules all formats share: the missing-value policies
(``clean_case``) and how label strings become class ids (``label_ids``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, DataError, choice_error

__all__ = [
    "MISSING_POLICIES",
    "SequenceSet",
    "check_missing_policy",
    "clean_case",
    "label_ids",
    "read_utf8",
    "sort_labels",
]

log = logging.getLogger(__name__)

MISSING_POLICIES = ("error", "drop", "interpolate", "zero")


@dataclass(frozen=True, eq=False)
class SequenceSet:
    """N labelled sequences of different lengths with F channels each.

    Attributes:
        sequences: N float32 arrays, each (T_i, F) with T_i >= 1, all finite.
        y: (N,) int64 class ids into ``labels``; -1 where the file had no label.
        labels: the class names (the user's own strings), in class-id order.
        feature_names: F channel names.
        ids: N case names for messages and predictions (a row id, or the case index).
        source: the file the set was read from ("" when made in memory).
    """

    sequences: tuple[np.ndarray, ...]
    y: np.ndarray
    labels: tuple[str, ...]
    feature_names: tuple[str, ...]
    ids: tuple[str, ...]
    source: str = ""

    def __post_init__(self):
        seqs = tuple(self.sequences)
        object.__setattr__(self, "sequences", seqs)
        object.__setattr__(self, "y", np.asarray(self.y, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "labels", tuple(self.labels))
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        object.__setattr__(self, "ids", tuple(str(i) for i in self.ids))
        n, f = len(seqs), len(self.feature_names)
        if len(self.y) != n or len(self.ids) != n:
            raise ConfigError(f"{n} sequences but {len(self.y)} labels and {len(self.ids)} ids")
        for i, s in enumerate(seqs):
            if s.dtype != np.float32 or s.ndim != 2 or s.shape[1] != f or s.shape[0] < 1:
                raise ConfigError(
                    f"sequence {i} is {s.dtype} {s.shape}; expected float32 (T >= 1, F={f})"
                )
            if not np.isfinite(s).all():
                raise ConfigError(f"sequence {i} holds NaN or inf; clean it with clean_case")
        if n and (self.y.min() < -1 or self.y.max() >= len(self.labels)):
            raise ConfigError(f"y holds ids outside 0..{len(self.labels) - 1} (or -1)")

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_features(self) -> int:
        """F, the channels per step."""
        return len(self.feature_names)

    @property
    def lengths(self) -> np.ndarray:
        """(N,) int64 valid steps of each sequence."""
        return np.array([s.shape[0] for s in self.sequences], dtype=np.int64)

    @property
    def labelled(self) -> bool:
        """True when every sequence has a label."""
        return bool(len(self.y)) and bool((self.y >= 0).all())

    def padded(self, max_length: int | None = None, value: float = 0.0):
        """Stack the sequences into one zero-padded array.

        Args:
            max_length: T of the result (default: the longest sequence); longer
                sequences are refused rather than cut.
            value: what fills the steps past each length.

        Returns:
            ``(x, lengths)``: x (N, T, F) float32, lengths (N,) int64.

        Example:
            >>> s = SequenceSet([np.ones((2, 1), np.float32), np.ones((3, 1), np.float32)],
            ...                 [0, 1], ("a", "b"), ("v",), ("0", "1"))
            >>> x, n = s.padded()
            >>> x[:, :, 0].tolist(), n.tolist()
            ([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]], [2, 3])
        """
        lengths = self.lengths
        t = int(lengths.max(initial=0)) if max_length is None else int(max_length)
        if lengths.size and lengths.max() > t:
            raise ConfigError(f"max_length={t} is shorter than the longest sequence "
                              f"({int(lengths.max())} steps)")
        x = np.full((len(self), t, self.num_features), value, dtype=np.float32)
        for i, s in enumerate(self.sequences):
            x[i, : s.shape[0]] = s
        return x, lengths

    def subset(self, index: Sequence[int] | np.ndarray) -> SequenceSet:
        """The sequences at ``index`` (ints or a boolean mask), with the same labels."""
        idx = np.arange(len(self))[np.asarray(index)]
        return SequenceSet(
            sequences=tuple(self.sequences[i] for i in idx),
            y=self.y[idx],
            labels=self.labels,
            feature_names=self.feature_names,
            ids=tuple(self.ids[i] for i in idx),
            source=self.source,
        )

    def with_sequences(self, sequences: Sequence[np.ndarray]) -> SequenceSet:
        """The same set with new per-case arrays (e.g. standardised ones)."""
        return SequenceSet(tuple(sequences), self.y, self.labels, self.feature_names,
                           self.ids, self.source)


def read_utf8(path) -> str:
    """A text file's content (a BOM dropped); a byte that is not UTF-8 names its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}: line {line}: not UTF-8 (byte {e.start}); "
                        "save the file as UTF-8") from None


def check_missing_policy(missing: str) -> None:
    """Raise ConfigError unless ``missing`` is one of ``MISSING_POLICIES``."""
    if missing not in MISSING_POLICIES:
        raise choice_error("missing", missing, MISSING_POLICIES)


def clean_case(
    values: np.ndarray,
    missing: str,
    where: str,
    feature_names: Sequence[str],
    steps: Sequence[str] | None = None,
) -> np.ndarray:
    """Apply the missing-value rules to one case; NaN marks a missing value.

    Trailing steps where every channel is missing always shorten the case (files pad
    shorter cases that way). Missing values left inside the case follow ``missing``:

    * ``"error"``: DataError naming the case, the step and the channel;
    * ``"drop"``: remove every step where any channel is missing;
    * ``"interpolate"``: linear in the step index within each channel; before the first
      or after the last valid value, the nearest valid value;
    * ``"zero"``: 0 (in the file's units, before any standardisation).

    Args:
        values: (T, F) float64, NaN where missing; infinities are refused.
        missing: one of ``MISSING_POLICIES``.
        where: "file: case ..." for messages.
        feature_names: F channel names for messages.
        steps: T names of the steps for messages (e.g. "line 7"); default "step t".

    Returns:
        (T', F) float32 with 1 <= T' <= T, all finite.

    Raises:
        DataError: an infinite value, a missing value under ``"error"``, a channel with
        no value to interpolate from, or a case left empty.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ConfigError(f"{where}: expected (T, F) values, got shape {values.shape}")
    if np.isinf(values).any():
        t, c = np.argwhere(np.isinf(values))[0]
        raise DataError(f"{where}: {_step(t, steps)}, channel {feature_names[c]!r} is "
                        f"{values[t, c]}; values must be finite")
    nan = np.isnan(values)
    valid_steps = np.flatnonzero(~nan.all(axis=1))
    if valid_steps.size == 0:
        raise DataError(f"{where}: the case is empty (no values, or only missing ones); "
                        "every case needs at least one step")
    end = int(valid_steps[-1]) + 1
    values, nan = values[:end], nan[:end]
    if nan.any():
        if missing == "error":
            t, c = np.argwhere(nan)[0]
            raise DataError(
                f"{where}: missing value at {_step(t, steps)}, channel {feature_names[c]!r} "
                f"({int(nan.sum())} missing in the case); pass missing='drop', 'interpolate' "
                "or 'zero' to accept gaps"
            )
        values = _fill(values, nan, missing, where, feature_names)
    if values.shape[0] == 0:
        raise DataError(f"{where}: no step is left after missing='drop' removed the steps "
                        "with a missing value")
    return values.astype(np.float32)


def _step(t: int, steps: Sequence[str] | None) -> str:
    return f"step {t} (0-based)" if steps is None else f"{steps[t]} (step {t}, 0-based)"


def _fill(values, nan, missing, where, feature_names) -> np.ndarray:
    if missing == "drop":
        return values[~nan.any(axis=1)]
    if missing == "zero":
        return np.where(nan, 0.0, values)
    out = values.copy()
    steps = np.arange(values.shape[0], dtype=np.float64)
    for c in np.flatnonzero(nan.any(axis=0)):
        ok = ~nan[:, c]
        if not ok.any():
            raise DataError(f"{where}: channel {feature_names[c]!r} has no value to "
                            "interpolate from; use missing='zero' or 'drop'")
        # np.interp holds the end values flat outside the known points: nearest valid.
        out[~ok, c] = np.interp(steps[~ok], steps[ok], values[ok, c])
    return out


def _numeric_key(label: str):
    try:
        v = float(label)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def sort_labels(found) -> tuple[str, ...]:
    """Sort label strings: by value when all are numbers ("2" < "10"), else as text."""
    found = sorted(set(found))
    keys = [_numeric_key(s) for s in found]
    if found and all(k is not None for k in keys):
        return tuple(s for _, s in sorted(zip(keys, found, strict=True)))
    return tuple(found)


def label_ids(
    raw: Sequence[str | None],
    where: Sequence[str],
    *,
    labels: Sequence[str] | None = None,
    declared: Sequence[str] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Map label strings to class ids.

    The class order is ``labels`` when given (a trained model's), else ``declared``
    (a file's own list, as ``@classLabel``), else ``sort_labels`` of those found.

    Args:
        raw: N label strings, or None for an unlabelled case (id -1).
        where: N "file: case ..." strings for messages.
        labels: the order to use; a label outside it is an error.
        declared: the labels the file itself declares; one outside them is an error.

    Returns:
        ``(y, order)``: y (N,) int64, order the label tuple.
    """
    if declared is not None:
        allowed = set(declared)
        for lab, w in zip(raw, where, strict=True):
            if lab is not None and lab not in allowed:
                raise DataError(f"{w}: label {lab!r} is not one of the declared labels "
                                f"{list(declared)}")
    if labels is not None:
        order = tuple(str(s) for s in labels)
        if len(set(order)) != len(order):
            raise ConfigError(f"labels={list(order)!r} repeats a label")
    elif declared is not None:
        order = tuple(declared)
    else:
        order = sort_labels(lab for lab in raw if lab is not None)
    ids = {s: i for i, s in enumerate(order)}
    y = np.full(len(raw), -1, dtype=np.int64)
    for k, (lab, w) in enumerate(zip(raw, where, strict=True)):
        if lab is None:
            continue
        if lab not in ids:
            raise DataError(f"{w}: label {lab!r} is not one of the labels {list(order)}")
        y[k] = ids[lab]
    return y, order
