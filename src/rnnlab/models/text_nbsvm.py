"""NBSVM on hashed n-grams: naive-Bayes ratios and an L2 logistic regression, fitted exactly.

Wang and Manning's NBSVM ("Baselines and Bigrams", ACL 2012) scales each binary n-gram
feature by its naive-Bayes log-count ratio ``r`` and fits a linear classifier on the
scaled features; Mesnil et al. (2015) report 0.9187 on IMDB with trigrams. Here the
classifier is an L2-regularised logistic regression (as is usual since), minimised to
convergence by L-BFGS rather than by epochs of SGD, so its only settings are the n-gram
order, the hash space and ``C`` (sklearn's meaning: the loss is summed over the texts,
the penalty is ``|w|^2 / 2``), all chosen by cross-validation (``bench/text_cv.py``:
words and bigrams scored as well as trigrams there, at a third of the size).
Wang and Manning's interpolation ``beta`` (``w <- (1 - beta) mean|w| + beta w``) is
offered too.

Two classes give one logit (``b + sum_f r_f w_f`` over the text's distinct n-grams);
C > 2 classes give C logits, class c's ratios contrasting it with the rest (one-vs-rest
naive Bayes) and a softmax over them (one multinomial fit).

    >>> rows = ngram_rows(seqs, ngrams=3, buckets=1 << 22)               # doctest: +SKIP
    >>> model = NgramLinear.fit(rows, labels, num_classes=2, c=1.0)      # doctest: +SKIP
    >>> model.logits(rows).shape                                        # doctest: +SKIP
    torch.Size([25000])
"""

from __future__ import annotations

import logging
import math

import numpy as np
import torch
from torch import nn

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.text_ngrams import NgramRows, column_sums, row_dot

logger = logging.getLogger(__name__)

__all__ = ["NgramLinear", "nb_ratios"]


def _one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    out = np.zeros((len(y), num_classes), np.float64)
    out[np.arange(len(y)), y] = 1.0
    return out


def nb_ratios(rows: NgramRows, y: np.ndarray, num_classes: int, alpha: float = 1.0):
    """Naive-Bayes log-count ratios of binary features: (D, 1) for 2 classes, else (D, C).

    Args:
        rows: N texts' feature sets (columns 0 .. rows.buckets - 1).
        y: (N,) class indices.
        num_classes: C.
        alpha: the smoothing count added to every feature.

    Returns:
        ``log((p / |p|_1) / (q / |q|_1))`` with ``p`` the smoothed counts of class 1 (or of
        class c) and ``q`` those of class 0 (or of the other classes).
    """
    counts = column_sums(rows.indptr, rows.indices, _one_hot(y, num_classes), rows.buckets)
    if num_classes == 2:
        p, q = counts[:, 1:] + alpha, counts[:, :1] + alpha
    else:
        p, q = counts + alpha, counts.sum(1, keepdims=True) - counts + alpha
    return np.log(p / p.sum(0)) - np.log(q / q.sum(0))


def _loss_and_grad(rows: NgramRows, y: np.ndarray, ratios: np.ndarray, w: np.ndarray,
                   b: np.ndarray, c: float, weight: np.ndarray | None = None):
    """The objective ``C * sum(weight * loss) + |w|^2 / 2`` and its gradients in w and b."""
    z = row_dot(rows.indptr, rows.indices, ratios * w) + b
    if z.shape[1] == 1:
        s = 2.0 * y[:, None] - 1.0  # +1 / -1
        m = -s * z
        losses = np.logaddexp(0.0, m)[:, 0]
        g = -s / (1.0 + np.exp(-m))  # d loss / d z
    else:
        top = z.max(1, keepdims=True)
        e = np.exp(z - top)
        total = e.sum(1, keepdims=True)
        losses = np.log(total[:, 0]) + top[:, 0] - z[np.arange(len(y)), y]
        g = e / total
        g[np.arange(len(y)), y] -= 1.0
    if weight is not None:
        losses, g = losses * weight, g * weight[:, None]
    loss = losses.sum()
    grad_w = c * ratios * column_sums(rows.indptr, rows.indices, g, rows.buckets) + w
    return c * loss + 0.5 * float((w * w).sum()), grad_w, c * g.sum(0)


class NgramLinear(nn.Module):
    """The fitted model: effective weights ``r * w`` of the n-grams seen in training.

    Buffers (saved in the run's checkpoints): ``columns`` (D,) the hash buckets seen in
    the training texts, sorted; ``weight`` (D, K) the effective weights; ``bias`` (K,),
    with K = 1 for two classes, else C.

    Args:
        num_columns: D.
        num_outputs: K.
        buckets: the hash space the columns come from.
    """

    def __init__(self, num_columns: int, num_outputs: int, buckets: int):
        super().__init__()
        self.buckets = buckets
        self.register_buffer("columns", torch.zeros(num_columns, dtype=torch.int32))
        self.register_buffer("weight", torch.zeros(num_columns, num_outputs))
        self.register_buffer("bias", torch.zeros(num_outputs))
        self._table: tuple | None = None

    @classmethod
    def fit(cls, rows: NgramRows, y, num_classes: int, *, c: float = 1.0, beta: float = 1.0,
            min_df: int = 1, max_iter: int = 300, tol: float = 1e-5,
            class_weight: np.ndarray | None = None) -> NgramLinear:
        """Naive-Bayes ratios and an L2 logistic regression fitted on ``rows``.

        Args:
            rows: N training texts' feature sets (from ``ngram_rows``).
            y: (N,) class indices in [0, num_classes).
            num_classes: C >= 2.
            c: inverse regularisation strength (sklearn's ``C``).
            beta: Wang and Manning's interpolation; 1 keeps the fitted weights.
            min_df: drop n-grams found in fewer training texts.
            max_iter: L-BFGS iterations at most.
            tol: stop when the gradient's largest entry falls under this.
            class_weight: (C,) weights of each class's texts in the loss; None: all 1.

        Returns:
            The fitted model (in eval mode).
        """
        y = np.asarray(y, np.int64)
        if len(y) != len(rows):
            raise ShapeError(f"{len(rows)} texts but {len(y)} labels")
        for name, value in (("c", c), ("tol", tol)):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name}={value!r} must be a number > 0")
        if not 0.0 <= beta <= 1.0:
            raise ConfigError(f"beta={beta!r} must be in [0, 1]")
        df = np.bincount(rows.indices, minlength=rows.buckets)
        columns = np.flatnonzero(df >= min_df)
        column_of = np.full(rows.buckets, -1, np.int64)
        column_of[columns] = np.arange(len(columns))
        compact = rows.remap(column_of)
        compact = NgramRows(compact.indptr, compact.indices, len(columns))
        ratios = nb_ratios(compact, y, num_classes)
        weight = None if class_weight is None else np.asarray(class_weight, np.float64)[y]
        w, b = _lbfgs(compact, y, ratios, c, max_iter, tol, weight)
        if beta < 1.0:
            w = (1.0 - beta) * np.abs(w).mean(0, keepdims=True) + beta * w
        model = cls(len(columns), ratios.shape[1], rows.buckets)
        model.columns.copy_(torch.from_numpy(columns.astype(np.int32)))
        model.weight.copy_(torch.from_numpy(ratios * w))
        model.bias.copy_(torch.from_numpy(b))
        return model.eval()

    def _lookup(self):
        """A dense (buckets + 1, K) table of the weights, rebuilt when they change."""
        key = (self.weight.data_ptr(), self.weight._version, self.columns._version)
        if self._table is None or self._table[0] != key:
            table = np.zeros((self.buckets, self.weight.shape[1]), np.float32)
            table[self.columns.numpy()] = self.weight.numpy()
            self._table = (key, table)
        return self._table[1]

    @torch.no_grad()
    def logits(self, rows: NgramRows) -> torch.Tensor:
        """(N,) logits for two classes, else (N, C)."""
        if rows.buckets != self.buckets:
            raise ShapeError(f"features hashed into {rows.buckets} buckets; the model has "
                             f"{self.buckets}")
        z = row_dot(rows.indptr, rows.indices, self._lookup()) + self.bias.numpy()
        out = torch.from_numpy(z.astype(np.float32))
        return out[:, 0] if out.shape[1] == 1 else out

    def forward(self, rows: NgramRows) -> torch.Tensor:
        return self.logits(rows)


def _lbfgs(rows: NgramRows, y: np.ndarray, ratios: np.ndarray, c: float, max_iter: int,
           tol: float, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Minimise the objective with torch's L-BFGS (strong Wolfe line search) from w = 0."""
    k = ratios.shape[1]
    params = torch.zeros(ratios.size + k, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], lr=1.0, max_iter=max_iter, history_size=10,
                                  tolerance_grad=tol, tolerance_change=1e-12,
                                  line_search_fn="strong_wolfe")
    calls = [0]

    def closure():
        flat = params.detach().numpy()
        w, b = flat[:-k].reshape(ratios.shape), flat[-k:]
        loss, grad_w, grad_b = _loss_and_grad(rows, y, ratios, w, b, c, weight)
        params.grad = torch.from_numpy(np.concatenate([grad_w.ravel(), grad_b]))
        calls[0] += 1
        return torch.tensor(loss, dtype=torch.float64)

    optimizer.step(closure)
    flat = params.detach().numpy()
    logger.info("nbsvm: L-BFGS stopped after %d evaluations", calls[0])
    return flat[:-k].reshape(ratios.shape).copy(), flat[-k:].copy()
