"""MiniRocket features and their ridge as one traceable module: the classify ensemble's member.

:class:`~rnnlab.models.rocket.RocketFeatures` computes its features in chunks sorted by
length, each cut to its own longest sequence, and counts positive values by sorting when a
kernel has many biases: fast, but driven by Python numbers read from the lengths. This
module computes the same features with tensor operations over a symbolic T: the same
float64 convolution of the zero-padded sequences (so every product and sum is exact, as
there), the same pooling windows per length, and ``conv > bias`` counted by comparison.
Positions past a length are zero in both, so cutting a chunk to its longest sequence (as
``transform`` does) changes nothing; a length of 0 gives 0 features in both.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.models.rocket import KERNEL_LENGTH, NUM_KERNELS, _kernel_weights
from rnnlab.models.rocket_classifier import RocketClassifier

__all__ = ["TracedRocket"]


class TracedRocket(nn.Module):
    """A fitted :class:`RocketClassifier`'s decision values, traceable with dynamic B and T.

    Args:
        rocket: the fitted classifier (its buffers are copied, not shared).

    ``forward(inputs (B, T, F) float32, lengths (B,) int64) -> (B, C) float32`` decision
    values, equal to ``rocket(inputs, lengths)``.
    """

    def __init__(self, rocket: RocketClassifier):
        super().__init__()
        features = rocket.features
        self.dilations = list(features.dilations)
        self.per_dilation = list(features.features_per_dilation)
        self.ppv_over = features.config.ppv_over
        self.reference_length = features.config.reference_length
        self.length_feature = rocket.config.length_feature
        mask = features.channel_mask.cpu()
        for j in range(len(self.dilations)):
            rows = slice(j * NUM_KERNELS, (j + 1) * NUM_KERNELS)
            self.register_buffer(f"weights_{j}", _kernel_weights(mask[rows]))  # (84, F*9)
        self.register_buffer("biases", features.biases.detach().cpu().clone())
        ridge = rocket.ridge
        self.register_buffer("mean", ridge.mean.detach().cpu().clone())
        self.register_buffer("scale", ridge.scale.detach().cpu().clone())
        self.register_buffer("coef_t", ridge.coef.detach().cpu().T.contiguous().clone())
        self.register_buffer("intercept", ridge.intercept.detach().cpu().clone())

    def features(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, F), (B,) -> (B, D) float32 PPVs, as ``RocketFeatures.transform``."""
        T = inputs.shape[1]
        t = torch.arange(T, device=inputs.device)[None, :]  # (1, T)
        lengths = lengths[:, None]  # (B, 1)
        inside = t < lengths  # (B, T)
        x = torch.where(inside[..., None], inputs.to(torch.float32), 0.0)
        seqs = x.to(torch.float64).transpose(1, 2)  # (B, F, T)
        parts, start = [], 0
        for j, (d, nf) in enumerate(zip(self.dilations, self.per_dilation, strict=True)):
            conv = _convolve(seqs, getattr(self, f"weights_{j}"), d, T)  # (B, 84, T)
            edge = (KERNEL_LENGTH // 2) * d
            inner = (t >= edge) & (t < lengths - edge)
            inner = inner | (lengths <= 2 * edge)  # an empty inner window falls back to all
            padded = (torch.arange(NUM_KERNELS, device=inputs.device) + j) % 2 == 0  # (84,)
            valid = inside[:, None, :] & (padded[None, :, None] | inner[:, None, :])
            conv = conv.masked_fill(~valid, -torch.inf)
            biases = self.biases[start:start + nf * NUM_KERNELS].view(NUM_KERNELS, nf)
            above = conv[:, :, None, :] > biases[None, :, :, None]  # (B, 84, nf, T)
            positive = above.to(torch.float32).sum(-1)  # (B, 84, nf), exact below 2**24
            if self.ppv_over == "length":
                count = valid.sum(-1).clamp(min=1)  # (B, 84)
            else:
                ref = self.reference_length
                inner_steps = ref - 2 * edge if ref > 2 * edge else ref
                count = torch.where(padded, ref, inner_steps)[None, :]  # (1, 84)
            parts.append((positive / count[:, :, None]).flatten(1))  # (B, 84 * nf)
            start += nf * NUM_KERNELS
        return torch.cat(parts, dim=1).to(torch.float32)

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """Ridge decision values (B, C) float32, as ``RocketClassifier.forward``."""
        features = self.features(inputs, lengths)
        if self.length_feature:
            share = lengths.to(torch.float32) / self.reference_length
            features = torch.cat([features, share[:, None]], dim=1)
        x = (features.to(torch.float64) - self.mean) / self.scale
        return (x @ self.coef_t + self.intercept).to(torch.float32)


def _convolve(x: Tensor, weights: Tensor, dilation: int, T) -> Tensor:
    """``rnnlab.models.rocket._convolve`` with a symbolic T: (B, F, T) -> (B, 84, T)."""
    B, C = x.shape[0], x.shape[1]
    pad = (KERNEL_LENGTH // 2) * dilation
    xp = F.pad(x, (pad, pad))
    taps = torch.stack([xp[:, :, i * dilation:i * dilation + T]
                        for i in range(KERNEL_LENGTH)], dim=2)  # (B, F, 9, T)
    return torch.matmul(weights, taps.reshape(B, C * KERNEL_LENGTH, T))  # (B, 84, T)
