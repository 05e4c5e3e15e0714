"""A ridge classifier whose penalty is chosen by exact leave-one-out error, in closed form.

The classifier ROCKET and MiniRocket are paired with (Dempster et al. 2020, 2021), as
scikit-learn's ``RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))`` computes it:
features standardised on the training set, one ridge regression per class onto targets
+1 (the class) / -1 (the others), an unpenalised intercept, and the alpha whose
leave-one-out squared error, summed over every example and class, is least (the first
such alpha on ties). The leave-one-out residuals come from one eigendecomposition for
all alphas (Rifkin & Lippert 2007, "Notes on regularized least squares"):

    X = standardised, centred features (N, D);  K = X X^T = Q diag(s) Q^T  (N <= D)
    H(alpha) = 1 1^T / N + Q diag(s / (s + alpha)) Q^T        the hat matrix
    loo_i = (y_i - (H y)_i) / (1 - H_ii)

(with sample weights w: X and y scaled by sqrt(w), 1 1^T / N by sqrt(w) sqrt(w)^T / sum w;
for N > D the same from X^T X). Computed in float64 with torch; no scikit-learn needed.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError

__all__ = ["DEFAULT_ALPHAS", "RidgeClassifierCV"]

DEFAULT_ALPHAS = tuple(float(a) for a in torch.logspace(-3, 3, 10, dtype=torch.float64))


class RidgeClassifierCV(nn.Module):
    """One-vs-rest ridge classification with alpha chosen by leave-one-out error.

    Args:
        num_features: D (0 = taken from the data by ``fit``).
        num_classes: C (0 = ``max(y) + 1`` at ``fit``).
        alphas: the penalties to choose from (all > 0).

    Attributes (buffers, saved by ``state_dict``):
        mean, scale: (D,) the standardisation (scale 1 where a feature is constant).
        coef: (C, D) float64 weights on the standardised features; intercept: (C,).
        alpha: () the chosen penalty.
        loo_accuracy: the (weighted) leave-one-out accuracy at that alpha, after ``fit``
            (NaN before; not saved): a validation score that costs no held-out split.

    Example:
        >>> x = torch.randn(40, 5); y = (x[:, 0] > 0).long()
        >>> ridge = RidgeClassifierCV().fit(x, y)
        >>> float((ridge.predict(x) == y).float().mean()) > 0.9
        True
    """

    def __init__(self, num_features: int = 0, num_classes: int = 0,
                 alphas: tuple[float, ...] = DEFAULT_ALPHAS):
        super().__init__()
        if not alphas or any(not a > 0 for a in alphas):
            raise ConfigError(f"alphas={tuple(alphas)!r} must be a non-empty list of "
                              f"positive penalties")
        self.alphas = tuple(float(a) for a in alphas)
        self.loo_accuracy = math.nan
        self._allocate(num_features, num_classes)

    def _allocate(self, D: int, C: int) -> None:
        f64 = torch.float64
        self.register_buffer("mean", torch.zeros(D, dtype=f64))
        self.register_buffer("scale", torch.ones(D, dtype=f64))
        # Parameters (never trained) so that ``next(model.parameters())`` finds a device.
        self.coef = nn.Parameter(torch.zeros(C, D, dtype=f64), requires_grad=False)
        self.intercept = nn.Parameter(torch.zeros(C, dtype=f64), requires_grad=False)
        self.register_buffer("alpha", torch.tensor(math.nan, dtype=f64))

    @property
    def num_classes(self) -> int:
        """C, the number of decision values per example."""
        return self.coef.shape[0]

    @torch.no_grad()
    def fit(self, features: Tensor, y: Tensor, sample_weight: Tensor | None = None,
            num_classes: int = 0) -> RidgeClassifierCV:
        """Standardise, choose alpha by leave-one-out error, and solve.

        Args:
            features: (N, D) training features.
            y: (N,) integer classes in [0, C).
            sample_weight: (N,) positive weights (e.g. inverse class frequency), or None.
            num_classes: C; 0 = ``num_classes`` given at construction, else ``max(y) + 1``.

        Returns:
            self, fitted. Costs O(N^2 D) time and O(N^2 + N D) memory for N <= D.
        """
        x, y, w = _check_fit(features, y, sample_weight)
        N, D = x.shape
        C = num_classes or self.num_classes or int(y.max()) + 1
        if int(y.max()) >= C:
            raise ConfigError(f"y holds class {int(y.max())} but num_classes={C}")
        self._allocate(D, C)
        wsum = w.sum()
        # As StandardScaler then a weighted ridge: an unweighted scale, the intercept's
        # (weighted) centring.
        std = x.std(0, correction=0)
        self.mean = (w[:, None] * x).sum(0) / wsum
        self.scale = torch.where(std > 0, std, torch.ones_like(std))
        sw = w.sqrt()
        xs = (x - self.mean) / self.scale * sw[:, None]  # (N, D), orthogonal to sw
        targets = torch.full((N, C), -1.0, dtype=torch.float64)
        targets[torch.arange(N), y] = 1.0
        ys = targets * sw[:, None]  # (N, C)
        offset = sw[:, None] * (sw @ ys)[None, :] / wsum  # the intercept's part of H y
        basis, s, solve = _decompose(xs)
        proj = basis.T @ ys  # (r, C)
        best = None
        for alpha in self.alphas:
            shrink = s / (s + alpha)
            fitted = offset + basis @ (shrink[:, None] * proj)
            leverage = w / wsum + (basis ** 2) @ shrink
            loo = (ys - fitted) / (1 - leverage)[:, None]
            score = float((loo ** 2).mean())
            if best is None or score < best[0]:
                decisions = targets - loo / sw[:, None]  # each example's, fitted without it
                hits = decisions.argmax(-1) == y
                best = (score, alpha, float((w * hits).sum() / wsum), decisions)
        self.alpha = torch.tensor(best[1], dtype=torch.float64)
        self.loo_accuracy = best[2]
        self.loo_decisions = best[3]  # (N, C), for calibrating; not saved
        self.coef.data = solve(best[1], ys).T.contiguous()  # (C, D)
        # The features are centred, so the intercept is the (weighted) mean target.
        self.intercept.data = (w[:, None] * targets).sum(0) / wsum
        return self

    @torch.no_grad()
    def decision_function(self, features: Tensor) -> Tensor:
        """Ridge decision values, one per class.

        Args:
            features: (B, D).

        Returns:
            (B, C) float64; the predicted class is the argmax.
        """
        if features.dim() != 2 or features.shape[1] != self.coef.shape[1]:
            raise ShapeError(f"features must be (B, {self.coef.shape[1]}); got "
                             f"{tuple(features.shape)}")
        x = (features.to(torch.float64) - self.mean) / self.scale
        return x @ self.coef.T + self.intercept

    def forward(self, features: Tensor) -> Tensor:
        """Same as :meth:`decision_function`."""
        return self.decision_function(features)

    def predict(self, features: Tensor) -> Tensor:
        """(B,) int64 predicted classes."""
        return self.decision_function(features).argmax(-1)

    def predict_proba(self, features: Tensor) -> Tensor:
        """Softmax of the decision values: (B, C) scores that sum to 1.

        These are not calibrated probabilities: ridge decision values are regression
        outputs fitted to +1/-1, so the softmax orders the classes as ``predict`` does
        but its values say little about how often a prediction is right.
        """
        return torch.softmax(self.decision_function(features), dim=-1)


def _decompose(xs: Tensor):
    """A basis of X's column space with squared singular values, and the ridge solver.

    Returns:
        (basis (N, r) orthonormal, s (r,), solve(alpha, ys) -> (D, C) coefficients).
    """
    N, D = xs.shape
    if N <= D:
        s, q = torch.linalg.eigh(xs @ xs.T)  # (N,), (N, N)
        s = s.clamp(min=0)

        def solve(alpha: float, ys: Tensor) -> Tensor:
            return xs.T @ (q @ ((q.T @ ys) / (s + alpha)[:, None]))
        return q, s, solve
    s, v = torch.linalg.eigh(xs.T @ xs)  # (D,), (D, D)
    s = s.clamp(min=0)
    keep = s > s.max() * 1e-12 if len(s) else s > 0
    u = (xs @ v[:, keep]) / s[keep].sqrt()  # (N, r) orthonormal where s > 0

    def solve(alpha: float, ys: Tensor) -> Tensor:
        return v @ ((v.T @ (xs.T @ ys)) / (s + alpha)[:, None])
    return u, s[keep], solve


def _check_fit(features: Tensor, y: Tensor, sample_weight: Tensor | None):
    if features.dim() != 2:
        raise ShapeError(f"features must be (N, D); got shape {tuple(features.shape)}")
    N = features.shape[0]
    y = torch.as_tensor(y)
    if y.shape != (N,) or y.dtype.is_floating_point:
        raise ShapeError(f"y must be ({N},) integer classes; got shape {tuple(y.shape)} "
                         f"dtype {y.dtype}")
    if N < 2:
        raise ConfigError(f"RidgeClassifierCV needs at least 2 examples; got {N}")
    if int(y.min()) < 0:
        raise ConfigError(f"y holds class {int(y.min())}; classes are 0, 1, ...")
    if sample_weight is None:
        w = torch.ones(N, dtype=torch.float64)
    else:
        w = torch.as_tensor(sample_weight, dtype=torch.float64)
        if w.shape != (N,) or not bool((w > 0).all()):
            raise ConfigError(f"sample_weight must be ({N},) positive weights; got shape "
                              f"{tuple(w.shape)}")
    return features.detach().cpu().to(torch.float64), y.cpu().long(), w
