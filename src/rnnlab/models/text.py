"""Text classifiers over padded token ids: the notebook's two models, RNNs and a bag of embeddings.

Every model takes token ids (B, L), 0 being padding, and returns logits: (B,) for two
classes (the notebook's ``Dense(1, activation="sigmoid")``, trained with a sigmoid
cross-entropy) or (B, C) for more.

    kind            architecture
    flatten         Embedding(V, d) -> Flatten -> Dense(1)                   (notebook)
    glove-flatten   Embedding(V, d, GloVe) -> Flatten -> Dense(32, relu) -> Dense(1)  (notebook)
    rnn|lstm|gru    Embedding -> recurrent layers with sequence lengths -> Dense(1)
    bag             mean of word (and hashed bigram) embeddings -> Dense(1)   (fastText)
    nbsvm           logistic regression on the set of words (and hashed bigrams) a text
                    holds, each scaled by its naive-Bayes log-count ratio     (NBSVM)

The flatten models read position by position, so they need a fixed ``maxlen``. The
recurrent, bag and nbsvm models read only the real tokens, wherever the padding is.

``nbsvm`` is Wang and Manning's NBSVM ("Baselines and Bigrams", ACL 2012) trained with a
logistic loss, as is usual since: its ratios ``r`` come from the training texts
(:func:`nb_log_count_ratios`, set with :meth:`TextClassifier.set_nb_ratios` before training)
and stay fixed; the weights ``w`` start at 0 and are learnt, so a text's logit is
``b + sum over its distinct features f of w[f] * r[f]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError, ShapeError, choice_error
from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier

KINDS = ("flatten", "glove-flatten", "rnn", "lstm", "gru", "bag", "nbsvm")
_FEATURE_KINDS = ("bag", "nbsvm")  # the kinds that read words plus hashed bigrams
_BIGRAM_PRIME = 1_000_003  # mixes the two word ids of a bigram before bucketing


@dataclass(frozen=True)
class TextModelConfig:
    """Configuration of a text classifier (see the module docstring for the kinds).

    Attributes:
        kind: one of "flatten", "glove-flatten", "rnn", "lstm", "gru", "bag", "nbsvm".
        vocab_size: rows of the embedding (the tokenizer's num_words), index 0 = padding.
        embedding_dim: width of each word vector.
        maxlen: tokens per example (the flatten models' input width).
        num_classes: 2 gives one logit per example; more give one per class.
        hidden: Dense units of glove-flatten; recurrent units of rnn/lstm/gru.
        num_layers, bidirectional: recurrent layers and directions.
        dropout: dropout before the output layer (and between recurrent layers).
        bigram_buckets: for "bag" and "nbsvm": hashed bigram features (0 = unigrams only).
        freeze_embedding: keep the embedding fixed (pre-trained vectors).
    """

    kind: str = "flatten"
    vocab_size: int = 10000
    embedding_dim: int = 8
    maxlen: int = 50
    num_classes: int = 2
    hidden: int = 32
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    bigram_buckets: int = 0
    freeze_embedding: bool = False

    def __post_init__(self):
        if self.kind not in KINDS:
            raise choice_error("kind", self.kind, KINDS)
        for name in ("vocab_size", "embedding_dim", "maxlen", "hidden", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r} must be a positive int")
        if self.num_classes < 2:
            raise ConfigError(f"num_classes={self.num_classes!r} must be at least 2")
        if self.bigram_buckets < 0:
            raise ConfigError(f"bigram_buckets={self.bigram_buckets!r} must be >= 0")

    @property
    def num_outputs(self) -> int:
        """1 for binary problems (sigmoid), else the number of classes (softmax)."""
        return 1 if self.num_classes == 2 else self.num_classes


def align_left(tokens: Tensor) -> tuple[Tensor, Tensor]:
    """Move each row's non-zero tokens to the front, in order, and count them.

    Keras pads at the front by default ("pre"); ``dynamic_rnn``'s lengths count from the
    front. A stable sort on "is padding" turns either layout into the other::

        [0 0 5 7 9] -> [5 7 9 0 0], length 3

    Args:
        tokens: (B, L) int64, 0 = padding.

    Returns:
        ``(aligned (B, L), lengths (B,))``.
    """
    order = torch.argsort((tokens == 0).to(torch.int8), dim=1, stable=True)
    return tokens.gather(1, order), (tokens != 0).sum(1)


class TextClassifier(nn.Module):
    """One of the text models of the module docstring, chosen by ``config.kind``.

    Args:
        config: a :class:`TextModelConfig`.
        embedding_matrix: optional (vocab_size, embedding_dim) pre-trained vectors.

    Example:
        >>> model = TextClassifier(TextModelConfig(kind="gru", vocab_size=100))
        >>> model(torch.tensor([[0, 0, 5, 7], [3, 2, 9, 1]])).shape
        torch.Size([2])
    """

    def __init__(self, config: TextModelConfig, embedding_matrix: np.ndarray | None = None):
        super().__init__()
        self.config = config
        rows = config.vocab_size + (config.bigram_buckets if config.kind in _FEATURE_KINDS
                                    else 0)
        out = config.num_outputs
        if config.kind == "nbsvm":
            # One learnt weight per feature and class (the ratios scale them), starting at 0.
            self.embedding = nn.Embedding(rows, out, padding_idx=0)
            nn.init.zeros_(self.embedding.weight)
            self.register_buffer("nb_ratio", torch.zeros(rows, out))
            self.bias = nn.Parameter(torch.zeros(out))
            return
        self.embedding = nn.Embedding(rows, config.embedding_dim, padding_idx=0)
        # Keras' Embedding starts at U(-0.05, 0.05); PyTorch's N(0, 1) is far too large for
        # the flatten models, whose Dense layer sees maxlen * dim inputs.
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        with torch.no_grad():
            self.embedding.weight[0].zero_()
            if embedding_matrix is not None:
                matrix = torch.as_tensor(np.asarray(embedding_matrix), dtype=torch.float32)
                if matrix.shape != (config.vocab_size, config.embedding_dim):
                    raise ShapeError(
                        f"embedding_matrix has shape {tuple(matrix.shape)}; the model needs "
                        f"({config.vocab_size}, {config.embedding_dim})")
                self.embedding.weight[: config.vocab_size].copy_(matrix)
        self.embedding.weight.requires_grad_(not config.freeze_embedding)
        self.dropout = nn.Dropout(config.dropout)
        if config.kind == "flatten":
            self.head = nn.Linear(config.maxlen * config.embedding_dim, out)
        elif config.kind == "glove-flatten":
            self.head = nn.Sequential(
                nn.Linear(config.maxlen * config.embedding_dim, config.hidden), nn.ReLU(),
                nn.Linear(config.hidden, out))
        elif config.kind == "bag":
            self.head = nn.Linear(config.embedding_dim, out)
        else:
            self.rnn = SequenceClassifier(ClassifierConfig(
                input_size=config.embedding_dim, num_classes=out, cell=config.kind,
                num_units=config.hidden, num_layers=config.num_layers,
                bidirectional=config.bidirectional, dropout=config.dropout))

    def forward(self, tokens: Tensor) -> Tensor:
        """Logits: (B,) for two classes, else (B, num_classes).

        Args:
            tokens: (B, L) int64 token ids, 0 = padding (pre or post).
        """
        if tokens.dim() != 2:
            raise ShapeError(f"expected token ids of shape (batch, length); got "
                             f"{tuple(tokens.shape)}")
        kind = self.config.kind
        if kind in ("flatten", "glove-flatten"):
            if tokens.shape[1] != self.config.maxlen:
                raise ShapeError(f"the {kind} model reads exactly maxlen={self.config.maxlen} "
                                 f"tokens per example; got {tokens.shape[1]}")
            logits = self.head(self.dropout(self.embedding(tokens).flatten(1)))
        elif kind == "bag":
            logits = self.head(self.dropout(self._bag(tokens)))
        elif kind == "nbsvm":
            ids = self.features(tokens, distinct=True)
            logits = (self.embedding(ids) * self.nb_ratio[ids]).sum(1) + self.bias
        else:
            aligned, lengths = align_left(tokens)
            logits = self.rnn(self.embedding(aligned), lengths)
        return logits.squeeze(-1) if self.config.num_outputs == 1 else logits

    def features(self, tokens: Tensor, *, distinct: bool = False) -> Tensor:
        """Feature ids of the bag and nbsvm kinds: the words, then the hashed bigrams.

        Args:
            tokens: (B, L) token ids, 0 = padding.
            distinct: keep each feature once per row (the others become 0 = padding).

        Returns:
            (B, L) ids, or (B, 2L - 1) with bigrams; bigram ids start at ``vocab_size``.
        """
        ids = tokens
        if self.config.bigram_buckets:
            left, right = tokens[:, :-1], tokens[:, 1:]
            bucket = (left * _BIGRAM_PRIME + right) % self.config.bigram_buckets
            bigrams = torch.where((left != 0) & (right != 0),
                                  bucket + self.config.vocab_size, torch.zeros_like(bucket))
            ids = torch.cat([tokens, bigrams], dim=1)
        if distinct:
            ids = ids.sort(dim=1).values
            repeated = torch.zeros_like(ids, dtype=torch.bool)
            repeated[:, 1:] = ids[:, 1:] == ids[:, :-1]
            ids = ids.masked_fill(repeated, 0)
        return ids

    def _bag(self, tokens: Tensor) -> Tensor:
        """Mean of the word vectors (and hashed bigram vectors) of the real tokens."""
        ids = self.features(tokens)
        vectors = self.embedding(ids)  # padding rows are zero
        count = (ids != 0).sum(1, keepdim=True).clamp(min=1)
        return vectors.sum(1) / count

    @torch.no_grad()
    def set_nb_ratios(self, tokens: Tensor, labels: Tensor, *, alpha: float = 1.0,
                      batch_size: int = 1024) -> None:
        """Set the nbsvm model's ratios from its training texts (see the module docstring).

        Args:
            tokens: (N, L) token ids of the training texts, 0 = padding.
            labels: (N,) class indices.
            alpha: the smoothing count added to every feature.
            batch_size: texts featurised at a time (bounds the memory used).
        """
        if self.config.kind != "nbsvm":
            raise ConfigError(f"set_nb_ratios is for the 'nbsvm' kind, not {self.config.kind!r}")
        rows, classes = self.nb_ratio.shape[0], self.config.num_classes
        # counted batch by batch: all texts' features at once would take N x 2L int64s
        counts = sum(_class_counts(self.features(tokens[i:i + batch_size], distinct=True),
                                   labels[i:i + batch_size], rows, classes)
                     for i in range(0, len(tokens), batch_size))
        self.nb_ratio.copy_(_ratios_from_counts(counts, alpha).to(self.nb_ratio))


def nb_log_count_ratios(features: Tensor, labels: Tensor, num_features: int,
                        num_classes: int = 2, *, alpha: float = 1.0) -> Tensor:
    """Naive-Bayes log-count ratios of binary features, one column per class.

    For two classes the single column is ``log((p / |p|_1) / (q / |q|_1))`` with ``p`` and
    ``q`` the smoothed counts of texts holding each feature among the positive and the
    negative texts (Wang and Manning, 2012). For more classes, column c is that ratio for
    class c against the rest.

    Args:
        features: (N, K) feature ids, each at most once per row; 0 = padding, never counted.
        labels: (N,) class indices in [0, num_classes).
        num_features: rows of the result.
        num_classes: 2 gives one column; more give one per class.
        alpha: the smoothing count added to every feature.

    Returns:
        (num_features, 1 or num_classes) float32 ratios; row 0 is 0.

    Example:
        >>> nb_log_count_ratios(torch.tensor([[1, 2], [1, 0]]), torch.tensor([1, 0]), 3)[1:]
        tensor([[-0.2877],
                [ 0.4055]])
    """
    if features.shape[0] != labels.shape[0]:
        raise ShapeError(f"features has {features.shape[0]} rows but labels has "
                         f"{labels.shape[0]}")
    return _ratios_from_counts(_class_counts(features, labels, num_features, num_classes),
                               alpha)


def _class_counts(features: Tensor, labels: Tensor, num_features: int,
                  num_classes: int) -> Tensor:
    """(num_classes, num_features) float64: how many texts of each class hold each feature."""
    labels = labels.long()
    return torch.stack([torch.bincount(features[labels == c].flatten(), minlength=num_features)
                        for c in range(num_classes)]).double()


def _ratios_from_counts(counts: Tensor, alpha: float) -> Tensor:
    """:func:`nb_log_count_ratios` from per-class counts (C, F): class c against the rest."""
    total = counts.sum(0)
    columns = [1] if counts.shape[0] == 2 else range(counts.shape[0])
    ratios = []
    for c in columns:
        p, q = counts[c] + alpha, total - counts[c] + alpha
        p[0] = q[0] = 0.0  # padding is no feature
        ratio = torch.log((p / p.sum()) / (q / q.sum()))
        ratio[0] = 0.0
        ratios.append(ratio.float())
    return torch.stack(ratios, dim=1)
