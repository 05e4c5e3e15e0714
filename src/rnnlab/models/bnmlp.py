"""The notebook's batch-norm MLP (300-100-10, ELU), with its ``bn2`` bug fixed.

The notebook's "Batch Normalization" network assigns the second batch norm to ``bn1`` and
then reads ``bn2``; :class:`BNMLP` is the network it meant (see docs/notebook-notes.md).
TensorFlow's batch-norm momentum weighs the OLD running statistics, PyTorch's the NEW
batch, so the config speaks TensorFlow and the layers get ``1 - momentum``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError


@dataclass(frozen=True)
class BNMLPConfig:
    """Configuration of a :class:`BNMLP`.

    Attributes:
        in_features: inputs per example (784 for flattened 28x28 images).
        hidden: sizes of the hidden layers (the notebook's 300 and 100).
        num_classes: number of classes.
        momentum: TensorFlow's batch-norm momentum, the weight of the OLD running
            statistics (the notebook's 0.9). PyTorch's ``momentum`` is the weight of the
            NEW batch, so the layers get ``1 - momentum``.
        eps: batch-norm epsilon (TensorFlow's default 0.001).
    """

    in_features: int = 784
    hidden: tuple[int, ...] = (300, 100)
    num_classes: int = 10
    momentum: float = 0.9
    eps: float = 1e-3

    def __post_init__(self):
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum={self.momentum!r} must be in [0, 1) (TF convention)")
        object.__setattr__(self, "hidden", tuple(self.hidden))


class BNMLP(nn.Module):
    """The notebook's batch-norm MLP: (dense, BN, ELU) per hidden layer, then dense, BN.

    The notebook assigns the second batch norm to ``bn1`` and then reads ``bn2``; this is
    the network it meant.

    Args:
        config: a :class:`BNMLPConfig`.

    Example:
        >>> model = BNMLP(BNMLPConfig())
        >>> model(torch.zeros(4, 28, 28)).shape
        torch.Size([4, 10])
    """

    def __init__(self, config: BNMLPConfig):
        super().__init__()
        self.config = config
        torch_momentum = 1.0 - config.momentum
        layers: list[nn.Module] = []
        size = config.in_features
        for width in config.hidden:
            layers += [nn.Linear(size, width),
                       nn.BatchNorm1d(width, eps=config.eps, momentum=torch_momentum), nn.ELU()]
            size = width
        layers += [nn.Linear(size, config.num_classes),
                   nn.BatchNorm1d(config.num_classes, eps=config.eps, momentum=torch_momentum)]
        self.net = nn.Sequential(*layers)

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class logits.

        Args:
            inputs: (B, ...) flattened to (B, in_features).
            lengths: ignored; accepted so that every classifier takes ``(inputs, lengths)``.

        Returns:
            logits: (B, num_classes).
        """
        x = inputs.flatten(1)
        if x.shape[1] != self.config.in_features:
            raise ShapeError(f"BNMLP expects {self.config.in_features} features per example; "
                             f"got {tuple(inputs.shape)}")
        return self.net(x)
