"""The notebook's synthetic series ``t*sin(t)/3 + 2*sin(5t)``, its window samplers and the
fixed held-out windows.

The series lives on ``t`` in [0, 30] at a resolution of 0.1. Training draws random windows
(``next_batch``, ``sample_segments``) from ``training_rng(seed)``; evaluation uses a fixed
set of ``HELDOUT_SIZE`` windows (``heldout_segments``) from a seed no training stream has.

The notebook's sampler draws the window start with ``randn * (t_max - t_min - n_steps *
resolution)``: a normal with a standard deviation of 28 (for 20 steps), so about two thirds
of its windows start below ``t_min`` or past ``t_max - n_steps * resolution`` and the model
trains mostly on stretches of the series (|t| up to ~80) it is never tested on. A uniform
start over ``[t_min, t_max - n_steps * resolution]`` was meant; that is ``sampler="uniform"``,
the default. ``sampler="notebook"`` keeps the original.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError, choice_error

T_MIN, T_MAX, RESOLUTION = 0.0, 30.0, 0.1

HELDOUT_SEED = 403_2024
"""Seed of the fixed held-out windows. Training streams come from ``training_rng(seed)``,
which seeds ``SeedSequence([seed, 0])``; the held-out set uses ``SeedSequence([HELDOUT_SEED,
1])``, an entropy no training stream can have, whatever seed training is given."""
HELDOUT_SIZE = 1000

SAMPLERS = ("uniform", "notebook")


def time_series(t: np.ndarray) -> np.ndarray:
    """The notebook's series ``t*sin(t)/3 + 2*sin(5t)``, element-wise."""
    t = np.asarray(t, dtype=np.float64)
    return t * np.sin(t) / 3 + 2 * np.sin(t * 5)


@dataclass(frozen=True)
class SyntheticSeriesConfig:
    """Where the synthetic series lives: ``t`` in [t_min, t_max] every ``resolution``."""

    t_min: float = T_MIN
    t_max: float = T_MAX
    resolution: float = RESOLUTION

    def __post_init__(self):
        if not self.resolution > 0:
            raise ConfigError(f"resolution={self.resolution!r} must be > 0")
        if not self.t_max > self.t_min:
            raise ConfigError(f"t_max={self.t_max!r} must be greater than t_min={self.t_min!r}")

    def grid(self) -> np.ndarray:
        """The notebook's plotting grid ``linspace(t_min, t_max, (t_max - t_min) / res)``."""
        n = round((self.t_max - self.t_min) / self.resolution)
        return np.linspace(self.t_min, self.t_max, n)

    def max_steps(self) -> int:
        """The most steps a segment may span and still fit inside [t_min, t_max]."""
        return math.floor((self.t_max - self.t_min) / self.resolution + 1e-9)


def training_rng(seed: int) -> np.random.Generator:
    """The random stream training draws its windows from (never the held-out stream)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 0]))


def segment_starts(
    n: int,
    length: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> np.ndarray:
    """Draw ``n`` start times for segments of ``length`` points.

    Args:
        n: how many starts.
        length: points per segment (``n_steps + 1`` for the notebook's windows).
        generator: a ``numpy.random.Generator``.
        sampler: ``"uniform"`` over ``[t_min, t_max - (length-1)*resolution]`` or
            ``"notebook"`` (``randn * (t_max - t_min - (length-1)*resolution)``, see module doc).
        config: the series' time range.

    Returns:
        (n, 1) float64 start times.
    """
    if sampler not in SAMPLERS:
        raise choice_error("sampler", sampler, SAMPLERS)
    if length < 2 or length - 1 > config.max_steps():
        raise ConfigError(
            f"a segment of {length} points does not fit in t=[{config.t_min}, {config.t_max}] "
            f"at resolution {config.resolution}; allowed 2..{config.max_steps() + 1}"
        )
    span = config.t_max - config.t_min - (length - 1) * config.resolution
    if sampler == "notebook":
        return generator.standard_normal((n, 1)) * span
    return config.t_min + generator.random((n, 1)) * span


def sample_segments(
    batch_size: int,
    length: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> np.ndarray:
    """Draw ``batch_size`` segments of ``length`` consecutive values of the series.

    Returns:
        (batch_size, length) float64 values.
    """
    t0 = segment_starts(batch_size, length, generator, sampler, config)
    ts = t0 + np.arange(length) * config.resolution  # (B, length)
    return time_series(ts)


def next_batch(
    batch_size: int,
    n_steps: int,
    generator: np.random.Generator,
    sampler: str = "uniform",
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """The notebook's ``next_batch``: random windows and the same windows one step later.

    Args:
        batch_size: windows per batch (B).
        n_steps: steps per window (T).
        generator: a ``numpy.random.Generator``; see ``training_rng``.
        sampler: ``"uniform"`` (default) or ``"notebook"``; see the module doc.
        config: the series' time range.

    Returns:
        ``(X, y)``, each (B, T, 1) float32; ``y[:, t] `` is the value after ``X[:, t]``.

    Example:
        >>> X, y = next_batch(50, 20, training_rng(0))
        >>> X.shape, bool((X[:, 1:] == y[:, :-1]).all())
        ((50, 20, 1), True)
    """
    seg = sample_segments(batch_size, n_steps + 1, generator, sampler, config)
    seg = seg.astype(np.float32)[..., None]  # (B, T+1, 1)
    return seg[:, :-1], seg[:, 1:]


def heldout_segments(
    length: int = 21,
    config: SyntheticSeriesConfig = SyntheticSeriesConfig(),
    size: int = HELDOUT_SIZE,
) -> np.ndarray:
    """The fixed held-out segments: ``size`` uniform windows from ``HELDOUT_SEED``.

    The uniform draws are the same for every ``length``; only the span they scale to changes.

    Returns:
        (size, length) float64 values.
    """
    rng = np.random.default_rng(np.random.SeedSequence([HELDOUT_SEED, 1]))
    return sample_segments(size, length, rng, "uniform", config)
