"""Random convolutional kernel features (MiniRocket), read only up to each sequence's length.

Dempster, Petitjean & Webb 2020, "ROCKET: exceptionally fast and accurate time series
classification using random convolutional kernels"; Dempster, Schmidt & Webb 2021,
"MINIROCKET: A very fast (almost) deterministic transform for time series classification".

Every feature is one kernel of length 9 at one dilation with one bias, pooled over time
as a PPV (the proportion of positive values of ``conv - bias``). MiniRocket's recipe:

- 84 kernels: weight 2 at three of the nine taps, -1 at the other six (all C(9, 3) choices);
- dilations spread exponentially, ``floor(2 ** linspace(0, log2((L - 1) / 8), n))`` for a
  reference length L, the features shared out over them;
- per (dilation, kernel): a random subset of 1..min(F, 9) channels (the convolution sums
  over them: the multivariate version), and biases at low-discrepancy quantiles
  ``(i * golden ratio) % 1`` of the convolution of one random training sequence;
- "same" zero padding for half of the (dilation, kernel) pairs, the PPV over the positions
  the kernel covers without padding for the other half.

Lengths are exact. Each sequence is read only up to its length::

    steps        t=0 1 2 3 4 5 6
    seq a  len 7   x x x x x x x
    seq b  len 4   x x x x . . .    "." becomes 0 before the convolution: zero padding
                                     at the end, as if seq b were alone and 4 steps long
    PPV of seq b over t < 4 (padded kernels), or over 4d <= t < 4 - 4d (the others; all
    of t < 4 when that window is empty); length 0 gives 0 features.

The convolution runs in float64 on float32 inputs with integer weights, so every
product is exact and every sum is exact unless the values inside one receptive field
span more than about 2**24: a sequence's features are then bit-identical alone or in any
batch, and never depend on the padding values (NaN included).

:mod:`rnnlab.models.rocket_classifier` puts a ridge classifier on these features.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.nn.unroll import check_sequence_length

__all__ = ["KERNEL_LENGTH", "NUM_KERNELS", "RocketConfig", "RocketFeatures", "fit_dilations"]

KERNEL_LENGTH = 9
_TWOS = tuple(itertools.combinations(range(KERNEL_LENGTH), 3))  # the taps weighted 2
NUM_KERNELS = len(_TWOS)  # 84
_GOLDEN = (math.sqrt(5) + 1) / 2
_CHUNK_BYTES = 64 * 2**20  # working memory per chunk of sequences
PPV_OVER = ("length", "reference")
_SORT_ABOVE = 16  # count by sorting when a kernel has more biases at a dilation than this


@dataclass(frozen=True)
class RocketConfig:
    """Configuration of :class:`RocketFeatures`; what a run folder saves to rebuild it.

    Attributes:
        num_features: features asked for; ``84 * (num_features // 84)`` are made.
        max_dilations_per_kernel: at most this many dilations.
        reference_length: the L the dilations reach up to; 0 until ``fit``, which takes
            the longest training sequence.
        input_size: channels per step, F; 0 until ``fit``.
        seed: seeds the channel subsets and the sequences that set the biases.
        ppv_over: what a PPV's count of positive steps is divided by: "length" (the
            steps the kernel pooled in this sequence: a proportion) or "reference" (the
            steps it would pool in a sequence ``reference_length`` long, so that shorter
            sequences give smaller values, as zero padding to the longest does).
    """

    num_features: int = 10_000
    max_dilations_per_kernel: int = 32
    reference_length: int = 0
    input_size: int = 0
    seed: int = 0
    ppv_over: str = "length"

    def __post_init__(self):
        if self.num_features < NUM_KERNELS:
            raise ConfigError(f"num_features={self.num_features} must be at least "
                              f"{NUM_KERNELS} (one per kernel)")
        if self.max_dilations_per_kernel < 1:
            raise ConfigError(f"max_dilations_per_kernel={self.max_dilations_per_kernel} "
                              f"must be at least 1")
        if self.ppv_over not in PPV_OVER:
            raise choice_error("ppv_over", self.ppv_over, PPV_OVER)
        if self.reference_length < 0 or self.input_size < 0:
            raise ConfigError(f"reference_length={self.reference_length} and input_size="
                              f"{self.input_size} must be >= 0")


def fit_dilations(reference_length: int, num_features: int,
                  max_dilations_per_kernel: int) -> tuple[list[int], list[int]]:
    """The dilations and how many features (biases) each kernel gets at each.

    Args:
        reference_length: L, the sequence length the largest dilation spans (>= 1).
        num_features: total features asked for.
        max_dilations_per_kernel: at most this many distinct dilations.

    Returns:
        (dilations, features_per_dilation): increasing dilations and counts summing to
        ``num_features // 84``.

    Example:
        >>> fit_dilations(150, 10_000, 32)[0][:6]
        [1, 2, 3, 4, 5, 6]
    """
    per_kernel = num_features // NUM_KERNELS
    n = min(per_kernel, max_dilations_per_kernel)
    # Below 9 steps one dilation (1) is all there is: the kernel already spans the sequence.
    top = math.log2(max(reference_length - 1, 1) / (KERNEL_LENGTH - 1))
    raw = np.floor(2.0 ** np.linspace(0.0, max(top, 0.0), n)).astype(np.int64)
    dilations, counts = np.unique(raw, return_counts=True)
    counts = (counts * (per_kernel / n)).astype(np.int64)
    for i in range(per_kernel - int(counts.sum())):  # hand out what flooring dropped
        counts[i % len(counts)] += 1
    return [int(d) for d in dilations], [int(c) for c in counts]


def _quantiles(n: int) -> Tensor:
    return torch.tensor([(i * _GOLDEN) % 1 for i in range(1, n + 1)], dtype=torch.float64)


def _base_weights() -> Tensor:
    base = torch.full((NUM_KERNELS, KERNEL_LENGTH), -1.0, dtype=torch.float64)
    for k, taps in enumerate(_TWOS):
        base[k, list(taps)] = 2.0
    return base


_BASE = _base_weights()  # (84, 9): -1, and 2 at each kernel's three taps


def _kernel_weights(mask: Tensor) -> Tensor:
    """(84, F * 9) float64 weights of one dilation's kernels over their channel subsets."""
    w = mask.to(torch.float64)[:, :, None] * _BASE[:, None, :]  # (84, F, 9)
    return w.reshape(NUM_KERNELS, -1)


def _convolve(x: Tensor, weights: Tensor, dilation: int) -> Tensor:
    """Zero-padded ("same") dilated convolution as one matmul over the shifted copies.

    Args:
        x: (N, F, T) float64, zero past each length.
        weights: (K, F * 9) or (N, K, F * 9) float64.
        dilation: d.

    Returns:
        (N, K, T): output t reads steps t - 4d, ..., t + 4d.
    """
    N, C, T = x.shape
    pad = (KERNEL_LENGTH // 2) * dilation
    xp = F.pad(x, (pad, pad))
    taps = torch.stack([xp[:, :, i * dilation:i * dilation + T] for i in range(KERNEL_LENGTH)],
                       dim=2)  # (N, F, 9, T)
    return torch.matmul(weights, taps.reshape(N, C * KERNEL_LENGTH, T))  # (N, K, T)


class RocketFeatures(nn.Module):
    """MiniRocket's random kernel features of variable-length, multichannel sequences.

    Args:
        num_features: about how many features (``84 * (num_features // 84)``).
        max_dilations_per_kernel: at most this many dilations.
        reference_length: the length the dilations reach; 0 = the longest training one.
        input_size: channels F; 0 = taken from the data by ``fit``.
        seed: seeds the random choices; the same seed and data give the same features.
        ppv_over: divide each PPV's count by the steps pooled ("length") or by those a
            sequence ``reference_length`` long would pool ("reference"); see RocketConfig.

    Example:
        >>> x = torch.randn(20, 50, 2)
        >>> rocket = RocketFeatures(num_features=840, seed=0).fit(x, torch.full((20,), 50))
        >>> rocket.transform(x[:3], torch.tensor([50, 30, 9])).shape
        torch.Size([3, 840])
    """

    def __init__(self, num_features: int = 10_000, *, max_dilations_per_kernel: int = 32,
                 reference_length: int = 0, input_size: int = 0, seed: int = 0,
                 ppv_over: str = "length"):
        super().__init__()
        self.config = RocketConfig(num_features, max_dilations_per_kernel, reference_length,
                                   input_size, seed, ppv_over)
        self._allocate()

    @classmethod
    def from_config(cls, config: RocketConfig | dict) -> RocketFeatures:
        """An unfitted module shaped for ``config``, ready for ``load_state_dict``."""
        config = RocketConfig(**config) if isinstance(config, dict) else config
        return cls(**asdict(config))

    def _allocate(self) -> None:
        c = self.config
        if c.reference_length and c.input_size:
            self.dilations, self.features_per_dilation = fit_dilations(
                c.reference_length, c.num_features, c.max_dilations_per_kernel)
        else:
            self.dilations, self.features_per_dilation = [], []
        pairs = len(self.dilations) * NUM_KERNELS
        # (dilation, kernel) pairs in order; channel_mask[p, f]: pair p reads channel f.
        self.register_buffer("channel_mask", torch.zeros(pairs, c.input_size, dtype=torch.bool))
        self.register_buffer("biases", torch.zeros(self.num_features, dtype=torch.float64))

    @property
    def num_features(self) -> int:
        """D, the number of features ``transform`` returns."""
        return NUM_KERNELS * sum(self.features_per_dilation)

    @property
    def fitted(self) -> bool:
        """Whether the biases have been fitted (or loaded)."""
        return self.num_features > 0

    def fit(self, x: Tensor, lengths: Tensor | None = None) -> RocketFeatures:
        """Choose the channel subsets and fit the biases on training sequences.

        Args:
            x: (N, T, F) training sequences, padded past their lengths (padding unread).
            lengths: (N,) integer lengths in [0, T], or None for all T.

        Returns:
            self, fitted; ``self.config`` now records ``reference_length`` and ``input_size``.

        Raises:
            ShapeError: x is not (N, T, F), or F differs from ``input_size``.
            ConfigError: no training sequence has a step.
        """
        x, lengths = self._check(x, lengths, fitting=True)
        usable = torch.nonzero(lengths > 0).flatten()
        if len(usable) == 0:
            raise ConfigError("RocketFeatures.fit needs a training sequence with at least "
                              "one step; every length is 0")
        c = self.config
        self.config = RocketConfig(c.num_features, c.max_dilations_per_kernel,
                                   c.reference_length or int(lengths.max()),
                                   x.shape[2], c.seed, c.ppv_over)
        self._allocate()
        rng = np.random.default_rng(self.config.seed)
        self._draw_channels(rng)
        picks = usable[torch.from_numpy(rng.integers(0, len(usable), len(self.channel_mask)))]
        self._fit_biases(x, lengths, picks)
        return self

    def _draw_channels(self, rng: np.random.Generator) -> None:
        channels = self.config.input_size
        top = math.log2(min(channels, KERNEL_LENGTH) + 1)
        counts = np.floor(2.0 ** rng.uniform(0.0, top, len(self.channel_mask))).astype(int)
        for p, count in enumerate(counts):
            self.channel_mask[p, rng.choice(channels, count, replace=False)] = True

    def _fit_biases(self, x: Tensor, lengths: Tensor, picks: Tensor) -> None:
        quantiles = _quantiles(self.num_features)
        start = 0
        for j, (d, nf) in enumerate(zip(self.dilations, self.features_per_dilation, strict=True)):
            rows = slice(j * NUM_KERNELS, (j + 1) * NUM_KERNELS)
            mine = picks[rows]  # one training sequence per kernel
            steps = int(lengths[mine].max())
            seqs = _zero_padding(x[mine, :steps], lengths[mine])  # (84, F, T)
            weights = _kernel_weights(self.channel_mask[rows])[:, None, :]  # (84, 1, F*9)
            conv = _convolve(seqs, weights, d)[:, 0]  # (84, T): kernel k on its sequence
            for k in range(NUM_KERNELS):
                q = quantiles[start:start + nf]
                self.biases[start:start + nf] = torch.quantile(conv[k, :lengths[mine[k]]], q)
                start += nf

    def _check(self, x: Tensor, lengths: Tensor | None, fitting: bool = False):
        if x.dim() != 3:
            raise ShapeError(f"x must be (N, T, F); got shape {tuple(x.shape)}")
        want = self.config.input_size
        if want and x.shape[2] != want:
            raise ShapeError(f"x has {x.shape[2]} channels per step but RocketFeatures has "
                             f"input_size={want}")
        if not fitting and not self.fitted:
            raise ConfigError("RocketFeatures is not fitted: call fit(x, lengths) or "
                              "load_state_dict first")
        x = x.detach().cpu()
        N, T, _ = x.shape
        if lengths is None:
            return x, torch.full((N,), T, dtype=torch.int64)
        return x, check_sequence_length(lengths, N, T, device="cpu")

    @torch.no_grad()
    def transform(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The features of each sequence, read up to its length.

        Args:
            x: (N, T, F) sequences; values past each length are never read.
            lengths: (N,) integer lengths in [0, T], or None for all T.

        Returns:
            (N, D) float32 PPVs in [0, 1], D = ``num_features``; all 0 for length 0.
        """
        x, lengths = self._check(x, lengths)
        N, T, C = x.shape
        out = torch.zeros(N, self.num_features, dtype=torch.float32)
        # Longest-first chunks keep each chunk's step count near its own longest sequence.
        order = torch.argsort(lengths, descending=True, stable=True)
        per_step = 8 * (C * KERNEL_LENGTH + NUM_KERNELS * (2 + max(self.features_per_dilation)))
        chunk = max(1, _CHUNK_BYTES // (per_step * max(T, 1)))
        mask, biases = self.channel_mask.cpu(), self.biases.cpu()  # the work is on the CPU
        weights = [_kernel_weights(mask[j * NUM_KERNELS:(j + 1) * NUM_KERNELS])
                   for j in range(len(self.dilations))]
        for i in range(0, N, chunk):
            idx = order[i:i + chunk]
            steps = int(lengths[idx].max())
            if steps > 0:
                out[idx] = self._features(x[idx, :steps], lengths[idx], weights, biases)
        return out

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Same as :meth:`transform`."""
        return self.transform(x, lengths)

    def _features(self, x: Tensor, lengths: Tensor, weights: list[Tensor],
                  biases: Tensor) -> Tensor:
        seqs = _zero_padding(x, lengths)  # (n, F, T) float64
        n, _, T = seqs.shape
        t = torch.arange(T)[None, :]
        parts = []
        start = 0
        for j, (d, nf) in enumerate(zip(self.dilations, self.features_per_dilation, strict=True)):
            conv = _convolve(seqs, weights[j], d)  # (n, 84, T)
            edge = (KERNEL_LENGTH // 2) * d
            inner = (t >= edge) & (t < lengths[:, None] - edge)  # (n, T)
            inner |= (lengths <= 2 * edge)[:, None]  # an empty inner window falls back to all
            inside = t < lengths[:, None]
            padded = (torch.arange(NUM_KERNELS) + j) % 2 == 0  # which kernels keep padding
            valid = inside[:, None, :] & (padded[None, :, None] | inner[:, None, :])
            conv = conv.masked_fill(~valid, -math.inf)  # (n, 84, T)
            positive = _count_above(conv, biases[start:start + nf * NUM_KERNELS])
            if self.config.ppv_over == "length":
                count = valid.sum(-1).clamp(min=1)  # (n, 84)
            else:
                ref = self.config.reference_length
                inner_steps = ref - 2 * edge if ref > 2 * edge else ref
                count = torch.where(padded, ref, inner_steps)[None, :]  # (1, 84)
            parts.append((positive / count[:, :, None]).reshape(n, NUM_KERNELS * nf))
            start += nf * NUM_KERNELS
        return torch.cat(parts, dim=1).to(torch.float32)

    def to_dict(self) -> dict:
        """The configuration as plain data (the tensors are in ``state_dict()``)."""
        return asdict(self.config)


def _count_above(conv: Tensor, biases: Tensor) -> Tensor:
    """How many steps of each kernel's output exceed each of its biases.

    Args:
        conv: (n, K, T) outputs, -inf where a step is not pooled.
        biases: (K * nf,) the biases, kernel by kernel.

    Returns:
        (n, K, nf) float32 counts of ``conv > bias``.
    """
    n, K, T = conv.shape
    biases = biases.view(K, -1)
    if biases.shape[1] > _SORT_ABOVE:  # many biases: sort once, binary-search each bias
        ordered = torch.sort(conv, dim=-1).values
        at = torch.searchsorted(ordered, biases.expand(n, K, -1).contiguous(), right=True)
        return (T - at).to(torch.float32)
    # Few: compare all; summing bytes as int32 is measured faster than a bool sum (int64).
    above = conv[:, :, None, :] > biases[None, :, :, None]  # (n, K, nf, T)
    return above.view(torch.uint8).sum(-1, dtype=torch.int32).to(torch.float32)


def _zero_padding(x: Tensor, lengths: Tensor) -> Tensor:
    """(N, T, F) -> (N, F, T) float64 with every step at or past its length set to 0."""
    valid = torch.arange(x.shape[1])[None, :, None] < lengths[:, None, None]
    x = torch.where(valid, x.to(torch.float32), torch.zeros((), dtype=torch.float32))
    return x.to(torch.float64).transpose(1, 2)
