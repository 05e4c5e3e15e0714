"""MiniRocket features and a leave-one-out ridge: a sequence classifier fitted in closed form.

The ROCKET / MiniRocket classifier (Dempster et al. 2020, 2021):
:class:`~rnnlab.models.rocket.RocketFeatures` (random kernel PPVs read only up to each
sequence's length), then :class:`~rnnlab.models.ridge.RidgeClassifierCV` (alpha by
leave-one-out error). No gradient steps: ``fit_closed_form`` is the whole training.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from rnnlab.models.ridge import RidgeClassifierCV
from rnnlab.models.rocket import RocketFeatures

__all__ = ["RocketClassifier", "RocketClassifierConfig"]


@dataclass(frozen=True)
class RocketClassifierConfig:
    """Configuration of a :class:`RocketClassifier` (``config.json``'s model entry).

    Attributes:
        input_size: channels F; 0 until ``fit_closed_form``.
        num_classes: C; 0 until ``fit_closed_form``.
        num_features, max_dilations_per_kernel, reference_length, seed, ppv_over: as
            :class:`RocketConfig` (``reference_length`` is set by the fit).
        length_feature: give the ridge one more feature, length / reference_length
            (a sequence's length is part of the sequence, never padding).

    Defaults chosen by ``bench/rocket.py --select`` (3-fold CV inside the training splits;
    standardised channels): ``ppv_over="reference"`` 0.812 / 0.695 against "length"
    0.804 / 0.689 on the generated sets gen-3x3 / gen-4x2-long, equal on ArrowHead and
    BasicMotions (where every length is the reference); ``length_feature`` changed
    nothing (0.684 / 0.618 either way, raw channels); 5,000 features or dilations up to
    the median length did worse.
    """

    input_size: int = 0
    num_classes: int = 0
    num_features: int = 10_000
    max_dilations_per_kernel: int = 32
    reference_length: int = 0
    seed: int = 0
    ppv_over: str = "reference"
    length_feature: bool = False


class RocketClassifier(nn.Module):
    """MiniRocket features and a ridge classifier, fitted in closed form; lengths exact.

    Used like :class:`~rnnlab.models.classifier.SequenceClassifier` to predict
    (``model(inputs, lengths)`` gives logits), but trained by :meth:`fit_closed_form`,
    not by gradient steps. The logits are ridge decision values: their softmax is not a
    calibrated probability (see :meth:`RidgeClassifierCV.predict_proba`).

    Feed it channels standardised on the training data (the classify task's scaler does):
    a kernel sums its channels, so one channel on a larger scale would drown the others
    (``bench/rocket.py --select``: +0.07 to +0.12 cross-validated accuracy inside the
    training splits of the generated multichannel sets).

    Args:
        config: the sizes; leave ``input_size`` and ``num_classes`` 0 to take them from
            the training data, or give a fitted run's saved config to ``load_state_dict``.

    Example:
        >>> x = torch.randn(30, 40, 2); y = (x[:, :, 0].mean(1) > 0).long()
        >>> model = RocketClassifier(RocketClassifierConfig(num_features=840))
        >>> model = model.fit_closed_form(x, torch.full((30,), 40), y)
        >>> model(x[:2], torch.tensor([40, 12])).shape
        torch.Size([2, 2])
    """

    def __init__(self, config: RocketClassifierConfig = RocketClassifierConfig()):
        super().__init__()
        self._build(config)

    def _build(self, config: RocketClassifierConfig) -> None:
        self.config = config
        self.features = self._rocket(config.input_size)
        extra = int(config.length_feature) if self.features.fitted else 0
        self.ridge = RidgeClassifierCV(self.features.num_features + extra, config.num_classes)

    def _rocket(self, input_size: int) -> RocketFeatures:
        c = self.config
        return RocketFeatures(c.num_features, max_dilations_per_kernel=c.max_dilations_per_kernel,
                              reference_length=c.reference_length, input_size=input_size,
                              seed=c.seed, ppv_over=c.ppv_over)

    def _ridge_inputs(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        features = self.features.transform(x, lengths)  # (B, D) on the CPU
        if not self.config.length_feature:
            return features
        steps = torch.full((len(x),), x.shape[1]) if lengths is None else lengths.cpu()
        share = steps.to(torch.float32) / self.features.config.reference_length
        return torch.cat([features, share[:, None]], dim=1)  # (B, D + 1)

    def fit_closed_form(self, x: Tensor, lengths: Tensor | None, y: Tensor,
                        sample_weight: Tensor | None = None) -> RocketClassifier:
        """Fit the features' biases, then the ridge (alpha by leave-one-out), on training data.

        Args:
            x: (N, T, F) training sequences, padded past their lengths (padding unread).
            lengths: (N,) integer lengths, or None for all T.
            y: (N,) integer classes in [0, C).
            sample_weight: (N,) positive weights (``balanced`` class weights), or None.

        Returns:
            self; ``self.config`` then holds every size needed to rebuild it, and
            ``self.ridge.loo_accuracy`` its leave-one-out accuracy on the training data.
        """
        c = self.config
        num_classes = c.num_classes or int(torch.as_tensor(y).max()) + 1
        self.features = self._rocket(0).fit(x, lengths)
        self.ridge = RidgeClassifierCV(num_classes=num_classes).fit(
            self._ridge_inputs(x, lengths), y, sample_weight)
        fc = self.features.config
        self.config = replace(c, input_size=fc.input_size, num_classes=num_classes,
                              reference_length=fc.reference_length)
        return self

    def forward(self, inputs: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Logits of each sequence, read up to its length.

        Args:
            inputs: (B, T, F) sequences; values past each length are never read.
            lengths: (B,) integer lengths in [0, T], or None for all T.

        Returns:
            (B, C) float32 ridge decision values, on the inputs' device.
        """
        features = self._ridge_inputs(inputs, lengths)
        logits = self.ridge.decision_function(features.to(self.ridge.coef.device))
        return logits.to(device=inputs.device, dtype=torch.float32)
