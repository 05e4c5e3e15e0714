"""What every classifier task reports: accuracy, per-class scores and a confusion matrix.

``rnnlab evaluate --json`` prints :func:`classification_report` beside the loss, and
``rnnlab predict --json`` prints one :func:`prediction_rows` row per example, so image,
sequence and text classifiers answer in the same shape, with the user's own label strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def classification_report(y_true, y_pred, labels: Sequence[str]) -> dict:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        y_true: true class indices (N,).
        y_pred: predicted class indices (N,).
        labels: the label of each class index, in order.

    Returns:
        ``{"accuracy", "examples", "labels", "per_class": {label: {precision, recall, f1,
        support}}, "confusion_matrix"}``; rows of the matrix are true labels, columns the
        predicted ones, both in ``labels`` order. A class never predicted has precision 0.

    Example:
        >>> r = classification_report([0, 1, 1], [0, 1, 0], ["neg", "pos"])
        >>> r["confusion_matrix"], r["per_class"]["pos"]["recall"]
        ([[1, 0], [1, 1]], 0.5)
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    k = len(labels)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    per_class = {}
    for i, label in enumerate(labels):
        tp, support, predicted = matrix[i, i], matrix[i].sum(), matrix[:, i].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(label)] = {"precision": float(precision), "recall": float(recall),
                                 "f1": float(f1), "support": int(support)}
    n = len(y_true)
    return {"accuracy": float(np.trace(matrix) / n) if n else float("nan"), "examples": n,
            "labels": [str(label) for label in labels], "per_class": per_class,
            "confusion_matrix": matrix.tolist()}


def prediction_rows(proba: np.ndarray, labels: Sequence[str], keys: Sequence[dict]) -> list[dict]:
    """One row per example: its key (index or name), label, probability and all of them.

    Args:
        proba: class probabilities (N, C).
        labels: the label of each class, in order (C,).
        keys: per example, what identifies it (``{"index": 3}``, ``{"file": ..., "index": 0}``).

    Returns:
        ``[{**key, "label", "probability", "probabilities": {label: p}}, ...]``.
    """
    best = proba.argmax(axis=1)
    return [{**key, "label": str(labels[b]), "probability": float(p[b]),
             "probabilities": {str(lab): float(q) for lab, q in zip(labels, p, strict=True)}}
            for key, b, p in zip(keys, best, proba, strict=True)]
