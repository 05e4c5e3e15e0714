"""Sampled losses for large vocabularies: NCE and sampled softmax, with TF1's semantics.

References:
    Gutmann, M. and Hyvarinen, A. (2010). Noise-contrastive estimation: A new estimation
    principle for unnormalized statistical models. AISTATS.
    Mikolov, T., Sutskever, I., Chen, K., Corrado, G. and Dean, J. (2013). Distributed
    representations of words and phrases and their compositionality. NIPS.
    Jean, S., Cho, K., Memisevic, R. and Bengio, Y. (2015). On using very large target
    vocabulary for neural machine translation. ACL (sampled softmax).

Both losses score the true classes and ``num_sampled`` candidates drawn once per batch from
a proposal distribution Q, and subtract ``log(expected count)`` of each class from its logit
(TF's ``subtract_log_q``) so the estimate stays unbiased for a non-uniform Q::

    inputs (B, D) --matmul--> logits of [true classes (B, num_true) | sampled (num_sampled,)]
                              - log E[count]                       - log E[count]
    nce_loss:             sum of sigmoid cross-entropies, true labels 1/num_true, sampled 0
    sampled_softmax_loss: softmax cross-entropy over the num_true + num_sampled logits

The candidate samplers return ``(sampled, true_expected_count, sampled_expected_count)``
like ``tf.random.log_uniform_candidate_sampler``. With ``unique=True`` they draw until
``num_sampled`` distinct classes are found after ``num_tries`` draws, and a class of
probability p has expected count ``1 - (1 - p) ** num_tries`` (TF's formula).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from rnnlab.errors import ConfigError, ShapeError, choice_error

__all__ = [
    "CandidateSample",
    "log_uniform_candidate_sampler",
    "nce_loss",
    "sampled_softmax_loss",
    "uniform_candidate_sampler",
    "unigram_candidate_sampler",
]

# TF adds -FLT_MAX to the logit of an accidental hit; -inf would give NaN gradients.
_ACCIDENTAL_HIT = -torch.finfo(torch.float32).max
_SAMPLERS = ("log_uniform", "uniform")


class CandidateSample(NamedTuple):
    """What a candidate sampler returns (TF's triple).

    Attributes:
        sampled: (num_sampled,) int64 sampled class ids.
        true_expected_count: (B, num_true) float32 expected count of each true class.
        sampled_expected_count: (num_sampled,) float32 expected count of each sample.
    """

    sampled: Tensor
    true_expected_count: Tensor
    sampled_expected_count: Tensor


def _draw(probs: Tensor, n: int, generator: torch.Generator | None) -> Tensor:
    """Draw n classes with replacement by inverting the CDF of probs: (n,) int64."""
    cdf = torch.cumsum(probs.double(), 0)
    u = torch.rand(n, generator=generator, dtype=torch.float64) * cdf[-1]
    return torch.searchsorted(cdf, u, right=True).clamp_(max=probs.numel() - 1)


def _sample_candidates(
    probs: Tensor,
    true_classes: Tensor,
    num_true: int,
    num_sampled: int,
    unique: bool,
    generator: torch.Generator | None,
) -> CandidateSample:
    """Sample from a fixed distribution and compute TF's expected counts."""
    true_classes = torch.as_tensor(true_classes)
    if true_classes.dim() != 2 or true_classes.shape[1] != num_true:
        raise ShapeError(
            f"true_classes must be (batch, num_true={num_true}), got {tuple(true_classes.shape)}"
        )
    V = probs.numel()
    if num_sampled < 1:
        raise ConfigError(f"num_sampled must be >= 1, got {num_sampled}")
    if unique and num_sampled > int((probs > 0).sum()):
        raise ConfigError(
            f"num_sampled={num_sampled} unique candidates cannot be drawn from "
            f"{int((probs > 0).sum())} classes of non-zero probability"
        )
    if not unique:
        sampled = _draw(probs, num_sampled, generator)
        num_tries = num_sampled
    else:
        # TF draws one at a time until num_sampled distinct values; do the same in blocks
        # and count the draws up to the num_sampled-th first occurrence.
        drawn = torch.empty(0, dtype=torch.int64)
        block = max(2 * num_sampled, 16)
        while True:
            drawn = torch.cat([drawn, _draw(probs, block, generator)])
            values, inverse = torch.unique(drawn, return_inverse=True)
            if values.numel() >= num_sampled:
                break
            block *= 2
        first = torch.full((values.numel(),), drawn.numel(), dtype=torch.int64)
        first.scatter_reduce_(0, inverse, torch.arange(drawn.numel()), reduce="amin")
        first = torch.sort(first).values[:num_sampled]
        sampled = drawn[first]
        num_tries = int(first[-1]) + 1

    def expected(ids: Tensor) -> Tensor:
        p = probs.double()[ids.clamp(0, V - 1)]
        if num_tries == num_sampled:
            return (p * num_sampled).float()
        return (-torch.expm1(num_tries * torch.log1p(-p))).float()

    return CandidateSample(sampled, expected(true_classes.long().cpu()), expected(sampled))


def log_uniform_candidate_sampler(
    true_classes: Tensor,
    num_true: int,
    num_sampled: int,
    unique: bool,
    range_max: int,
    generator: torch.Generator | None = None,
) -> CandidateSample:
    """Sample classes from TF's log-uniform (Zipfian) distribution over [0, range_max).

    P(k) = (log(k + 2) - log(k + 1)) / log(range_max + 1), which suits classes sorted by
    decreasing frequency.

    Args:
        true_classes: (B, num_true) int64 target classes.
        num_true: number of targets per example.
        num_sampled: number of classes to sample.
        unique: sample without repetition (TF's default in the losses).
        range_max: number of classes.
        generator: optional torch.Generator for reproducible draws.

    Returns:
        CandidateSample(sampled (num_sampled,), true_expected_count (B, num_true),
        sampled_expected_count (num_sampled,)).

    Example:
        >>> s = log_uniform_candidate_sampler(torch.tensor([[3]]), 1, 4, True, 50)
        >>> s.sampled.shape, s.true_expected_count.shape
        (torch.Size([4]), torch.Size([1, 1]))
    """
    k = torch.arange(range_max, dtype=torch.float64)
    probs = (torch.log(k + 2) - torch.log(k + 1)) / math.log(range_max + 1)
    return _sample_candidates(probs, true_classes, num_true, num_sampled, unique, generator)


def uniform_candidate_sampler(
    true_classes: Tensor,
    num_true: int,
    num_sampled: int,
    unique: bool,
    range_max: int,
    generator: torch.Generator | None = None,
) -> CandidateSample:
    """Sample classes uniformly from [0, range_max); arguments as log_uniform_candidate_sampler."""
    probs = torch.full((range_max,), 1.0 / range_max, dtype=torch.float64)
    return _sample_candidates(probs, true_classes, num_true, num_sampled, unique, generator)


def unigram_candidate_sampler(
    true_classes: Tensor,
    num_true: int,
    num_sampled: int,
    unique: bool,
    unigrams,
    distortion: float = 0.75,
    generator: torch.Generator | None = None,
) -> CandidateSample:
    """Sample classes from counts raised to ``distortion`` (word2vec's unigram^0.75 noise).

    Args:
        true_classes: (B, num_true) int64 target classes.
        num_true: number of targets per example.
        num_sampled: number of classes to sample.
        unique: sample without repetition.
        unigrams: (V,) non-negative counts of each class.
        distortion: power applied to the counts (0.75 as word2vec; 1.0 the unigram itself).
        generator: optional torch.Generator.

    Returns:
        CandidateSample as log_uniform_candidate_sampler.
    """
    counts = torch.as_tensor(np.asarray(unigrams, dtype=np.float64))
    if counts.dim() != 1 or bool((counts < 0).any()) or float(counts.sum()) <= 0:
        raise ConfigError("unigrams must be a 1-D array of non-negative counts with a positive sum")
    probs = counts**distortion
    probs = probs / probs.sum()
    return _sample_candidates(probs, true_classes, num_true, num_sampled, unique, generator)


def _compute_sampled_logits(
    weights: Tensor,
    biases: Tensor,
    labels: Tensor,
    inputs: Tensor,
    num_sampled: int,
    num_classes: int,
    num_true: int,
    sampled_values,
    remove_accidental_hits: bool,
    sampler: str,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """TF1's ``_compute_sampled_logits``: logits (B, num_true + S) and their labels."""
    if weights.dim() != 2 or weights.shape[0] != num_classes:
        raise ShapeError(
            f"weights must be (num_classes={num_classes}, D), got {tuple(weights.shape)}"
        )
    if biases.shape != (num_classes,):
        raise ShapeError(f"biases must be ({num_classes},), got {tuple(biases.shape)}")
    labels = torch.as_tensor(labels).long()
    if labels.dim() == 1 and num_true == 1:
        labels = labels[:, None]
    B, D = inputs.shape
    if labels.shape != (B, num_true) or weights.shape[1] != D:
        raise ShapeError(
            f"labels must be (B={B}, num_true={num_true}) and weights (V, D={D}); "
            f"got labels {tuple(labels.shape)}, weights {tuple(weights.shape)}"
        )
    if sampled_values is None:
        if sampler not in _SAMPLERS:
            raise choice_error("sampler", sampler, _SAMPLERS)
        fn = uniform_candidate_sampler
        if sampler == "log_uniform":
            fn = log_uniform_candidate_sampler
        sampled_values = fn(labels, num_true, num_sampled, True, num_classes, generator)
    sampled, true_count, sampled_count = (torch.as_tensor(v).detach() for v in sampled_values)
    sampled = sampled.long().to(weights.device)
    if sampled.shape != (num_sampled,):
        raise ShapeError(f"sampled must be ({num_sampled},), got {tuple(sampled.shape)}")
    labels = labels.to(weights.device)

    true_w = weights[labels]  # (B, num_true, D)
    true_logits = (inputs[:, None, :] * true_w).sum(-1) + biases[labels]  # (B, num_true)
    sampled_logits = inputs @ weights[sampled].T + biases[sampled]  # (B, S)
    if remove_accidental_hits:
        hits = (labels[:, :, None] == sampled[None, None, :]).any(1)  # (B, S)
        sampled_logits = sampled_logits + hits.to(sampled_logits.dtype) * _ACCIDENTAL_HIT
    true_logits = true_logits - torch.log(true_count.to(true_logits))
    sampled_logits = sampled_logits - torch.log(sampled_count.to(sampled_logits))
    logits = torch.cat([true_logits, sampled_logits], 1)
    targets = torch.cat(
        [torch.full_like(true_logits, 1.0 / num_true), torch.zeros_like(sampled_logits)], 1
    )
    return logits, targets


def nce_loss(
    weights: Tensor,
    biases: Tensor,
    labels: Tensor,
    inputs: Tensor,
    num_sampled: int,
    num_classes: int,
    num_true: int = 1,
    sampled_values=None,
    remove_accidental_hits: bool = False,
    sampler: str = "log_uniform",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Noise-contrastive estimation loss, as ``tf.nn.nce_loss`` (TF1).

    Args:
        weights: (V, D) output embeddings.
        biases: (V,) output biases.
        labels: (B, num_true) int64 target classes.
        inputs: (B, D) input activations (e.g. the embedded centre words).
        num_sampled: number of noise classes, shared by the batch.
        num_classes: V.
        num_true: targets per example.
        sampled_values: optional CandidateSample (or triple) from a candidate sampler; by
            default ``sampler`` draws ``num_sampled`` unique classes.
        remove_accidental_hits: give sampled classes equal to a target a logit of -FLT_MAX.
        sampler: "log_uniform" (TF's default) or "uniform", used when sampled_values is None.
        generator: torch.Generator for the default sampler.

    Returns:
        (B,) per-example loss: sum of sigmoid cross-entropies over true and sampled logits.

    Example:
        >>> w, b = torch.randn(50, 8), torch.zeros(50)
        >>> nce_loss(w, b, torch.tensor([[1], [7]]), torch.randn(2, 8), 5, 50).shape
        torch.Size([2])
    """
    logits, targets = _compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true,
        sampled_values, remove_accidental_hits, sampler, generator,
    )  # fmt: skip
    losses = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, targets, reduction="none"
    )
    return losses.sum(1)


def sampled_softmax_loss(
    weights: Tensor,
    biases: Tensor,
    labels: Tensor,
    inputs: Tensor,
    num_sampled: int,
    num_classes: int,
    num_true: int = 1,
    sampled_values=None,
    remove_accidental_hits: bool = True,
    sampler: str = "log_uniform",
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sampled softmax loss, as ``tf.nn.sampled_softmax_loss`` (TF1).

    Args: as nce_loss, except that accidental hits are removed by default (as TF).

    Returns:
        (B,) per-example softmax cross-entropy over the true and sampled logits; as
        num_sampled approaches V it approaches the full softmax cross-entropy.

    Example:
        >>> w, b = torch.randn(50, 8), torch.zeros(50)
        >>> sampled_softmax_loss(w, b, torch.tensor([[1]]), torch.randn(1, 8), 5, 50).shape
        torch.Size([1])
    """
    logits, targets = _compute_sampled_logits(
        weights, biases, labels, inputs, num_sampled, num_classes, num_true,
        sampled_values, remove_accidental_hits, sampler, generator,
    )  # fmt: skip
    return -(targets * torch.log_softmax(logits, 1)).sum(1)
