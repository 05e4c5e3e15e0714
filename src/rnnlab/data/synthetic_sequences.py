"""A seeded generator of variable-length, multichannel labelled sequences.

The class of a sequence is spread over its whole valid part, so a model has to read all
of it, and padding read as data misleads it::

    channel 0  ~~~~~~~~~~~~~~~~~~~~~~~~     noise around a small class-dependent level:
                                           only the mean over all T steps tells it apart
    channel 1  __/\\_______/\\____/\\____    class c has c + 1 bumps at random places
    channel 2+ random walks                distractors, the same for every class

Each channel then gets its own scale and offset (so standardisation matters). With one
channel the level and the bumps share it. Lengths are uniform in
``[min_length, max_length]`` and classes are balanced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnlab.data.sequence_set import SequenceSet
from rnnlab.errors import ConfigError

__all__ = ["make_sequences"]

_BUMP = np.array([0.5, 1.0, 0.5])


def _case(rng: np.random.Generator, c: int, num_classes: int, length: int, f: int,
          noise: float, level: float) -> np.ndarray:
    x = np.zeros((length, max(f, 2)))
    x[:, 0] = level * (c - (num_classes - 1) / 2) + noise * rng.standard_normal(length)
    # c + 1 bumps anywhere in the valid part, never overlapping (one step between them).
    slots = (length - 1) // 4
    starts = 4 * rng.choice(slots, size=c + 1, replace=False)
    for s in starts:
        x[s : s + 3, 1] += 3.0 * _BUMP
    x[:, 1] += 0.3 * noise * rng.standard_normal(length)
    if f > 2:
        walks = np.cumsum(rng.standard_normal((length, f - 2)), axis=0) * 0.3
        x = np.concatenate([x[:, :2], walks], axis=1)
    if f == 1:
        x = x[:, :1] + x[:, 1:2]
    return x


def make_sequences(
    n: int = 300,
    *,
    num_classes: int = 3,
    num_features: int = 3,
    min_length: int = 20,
    max_length: int = 100,
    noise: float = 1.0,
    level: float = 0.6,
    seed: int = 0,
    labels: Sequence[str] | None = None,
) -> SequenceSet:
    """Make ``n`` labelled sequences whose class depends on all of their valid steps.

    Args:
        n: how many sequences (N).
        num_classes: C >= 2.
        num_features: F >= 1 channels.
        min_length, max_length: the range of lengths T_i; ``min_length`` must leave room
            for the bumps (at least ``4 * num_classes + 1``).
        noise: the standard deviation of the noise on channels 0 and 1.
        level: the gap between the class levels of channel 0 (smaller is harder).
        seed: the random seed; the same arguments give the same set.
        labels: C label strings (default ``class0``, ``class1``, ...).

    Returns:
        A ``SequenceSet`` with channels ``ch0..ch{F-1}`` and ids ``"0".."N-1"``.

    Example:
        >>> data = make_sequences(60, num_classes=2, seed=1)
        >>> len(data), data.num_features, data.labels
        (60, 3, ('class0', 'class1'))
    """
    if n < 1 or num_classes < 2 or num_features < 1:
        raise ConfigError(f"n={n!r} must be >= 1, num_classes={num_classes!r} >= 2 and "
                          f"num_features={num_features!r} >= 1")
    if min_length < 4 * num_classes + 1 or max_length < min_length:
        raise ConfigError(f"min_length={min_length!r} must be >= 4 * num_classes + 1 = "
                          f"{4 * num_classes + 1} and max_length={max_length!r} >= min_length")
    if not noise >= 0 or not level >= 0:
        raise ConfigError(f"noise={noise!r} and level={level!r} must be >= 0")
    names = (tuple(f"class{c}" for c in range(num_classes)) if labels is None
             else tuple(str(s) for s in labels))
    if len(names) != num_classes or len(set(names)) != num_classes:
        raise ConfigError(f"labels={labels!r} must be {num_classes} distinct strings")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 14]))
    y = rng.permutation(np.arange(n) % num_classes)
    lengths = rng.integers(min_length, max_length + 1, size=n)
    k = np.arange(num_features)
    scale, shift = 10.0 ** (k % 3 - 1), 3.0 * (k + 1)  # channels on different scales
    seqs = tuple(
        (_case(rng, int(c), num_classes, int(t), num_features, noise, level) * scale
         + shift).astype(np.float32)
        for c, t in zip(y, lengths, strict=True)
    )
    return SequenceSet(seqs, y, names, tuple(f"ch{c}" for c in range(num_features)),
                       tuple(str(i) for i in range(n)))
