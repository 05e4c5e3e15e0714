"""Layers over padded batches that never read the padding: pooling and a convolution.

A batch of sequences of different lengths is one (B, T, F) tensor plus a (B, T) mask of
valid steps. Each layer here computes, for every sequence, exactly what it would compute
on that sequence alone, cut to its own length: what lies past a length (any values, NaN
included) never reaches a result, and neither do the other sequences of the batch::

    mask          t=0 1 2 3 4
    seq a  5      1 1 1 1 1
    seq b  3      1 1 1 . .       "." is padding: replaced by 0 before a convolution
    seq c  0      . . . . .       reads it, and every output there is set to 0

Pooling over no steps (length 0) gives the 0 vector, never NaN: the mean divides by
max(length, 1), the max of nothing is 0, attention over nothing gives 0.

The attention pooling is the additive kind with a learnt query, as in Raffel & Ellis 2015
("Feed-forward networks with attention can solve some long-term memory problems"): a
score per step from ``Linear(D, 1)``, a softmax over the valid steps, the weighted sum.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnlab.errors import choice_error

POOLINGS = ("mean", "max", "attention")


def valid_mask(lengths: Tensor | None, batch_size: int, max_time: int, device=None) -> Tensor:
    """Which steps of a padded batch are valid.

    Args:
        lengths: (B,) integer lengths in [0, T] (already checked), or None for all T.
        batch_size: B.
        max_time: T.
        device: where the mask lives (that of ``lengths`` when None).

    Returns:
        (B, T) bool: ``mask[b, t]`` is ``t < lengths[b]``.

    Example:
        >>> valid_mask(torch.tensor([2, 0]), 2, 3).int().tolist()
        [[1, 1, 0], [0, 0, 0]]
    """
    if lengths is None:
        return torch.ones(batch_size, max_time, dtype=torch.bool, device=device)
    lengths = lengths.to(device or lengths.device)
    return torch.arange(max_time, device=lengths.device)[None, :] < lengths[:, None]


class SequencePooling(nn.Module):
    """One vector per sequence from its per-step outputs, over its valid steps only.

    Args:
        how: "mean", "max" or "attention".
        features: D, the size of each step's output (needed by "attention").

    Example:
        >>> pool = SequencePooling("mean", 2)
        >>> pool(torch.ones(2, 3, 2), valid_mask(torch.tensor([3, 0]), 2, 3)).tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """

    def __init__(self, how: str, features: int):
        super().__init__()
        if how not in POOLINGS:
            raise choice_error("pooling", how, POOLINGS)
        self.how = how
        self.score = nn.Linear(features, 1) if how == "attention" else None

    def forward(self, outputs: Tensor, mask: Tensor) -> Tensor:
        """Pool the valid steps of each sequence.

        Args:
            outputs: (B, T, D) per-step outputs; values at invalid steps are never used.
            mask: (B, T) bool, True at valid steps.

        Returns:
            (B, D): the pooled vectors; 0 for a sequence with no valid step.
        """
        valid = mask[..., None]  # (B, T, 1)
        # torch.where, not multiplication by the mask: 0 * NaN would still be NaN.
        x = torch.where(valid, outputs, outputs.new_zeros(()))
        if self.how == "mean":
            count = mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)  # (B, 1)
            return x.sum(1) / count
        lowest = torch.finfo(x.dtype).min
        if self.how == "max":
            top = torch.where(valid, x, x.new_full((), lowest)).amax(1)  # (B, D)
            return torch.where(mask.any(1, keepdim=True), top, top.new_zeros(()))
        scores = self.score(x).squeeze(-1)  # (B, T)
        # A finite floor instead of -inf: a row with no valid step then gets a uniform
        # softmax (not NaN), which the mask below turns into all-zero weights.
        scores = scores.masked_fill(~mask, lowest)
        weights = torch.softmax(scores, dim=1).masked_fill(~mask, 0.0)  # (B, T)
        return torch.einsum("bt,btd->bd", weights, x)

    def extra_repr(self) -> str:
        return repr(self.how)


class ConvFrontEnd(nn.Module):
    """A 1-D convolution over time with "same" padding and ReLU, exact per sequence length.

    Steps at or past a sequence's length are set to 0 before the convolution (so a kernel
    that reaches past the end reads zeros, as it would on the sequence alone) and the
    outputs there are set to 0 after it. The kernel is centred: k // 2 steps ahead and
    (k - 1) // 2 behind, so the output keeps T steps.

    Args:
        in_channels: F, features per input step.
        out_channels: C, features per output step.
        kernel_size: k >= 1, steps each output reads.

    Example:
        >>> conv = ConvFrontEnd(3, 8, kernel_size=5)
        >>> conv(torch.zeros(2, 7, 3), valid_mask(torch.tensor([7, 4]), 2, 7)).shape
        torch.Size([2, 7, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.pad = ((kernel_size - 1) // 2, kernel_size // 2)

    def forward(self, inputs: Tensor, mask: Tensor) -> Tensor:
        """Convolve each sequence over its valid steps.

        Args:
            inputs: (B, T, F).
            mask: (B, T) bool, True at valid steps.

        Returns:
            (B, T, C), ReLU'd, 0 at invalid steps.
        """
        valid = mask[..., None]  # (B, T, 1)
        x = torch.where(valid, inputs, inputs.new_zeros(()))
        x = F.pad(x.transpose(1, 2), self.pad)  # (B, F, T + k - 1)
        y = torch.relu(self.conv(x)).transpose(1, 2)  # (B, T, C)
        return torch.where(valid, y, y.new_zeros(()))
