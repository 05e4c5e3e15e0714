"""What a run's report needs that ``fit`` does not write: ``run.json`` and ``review.json``.

``fit`` owns config.json, metrics.csv/json, curves.png and the checkpoints; the task layer
adds two small files around it, read by :mod:`rnnlab.report`:

* ``run.json`` (written by :func:`rnnlab.tasks.runner.claimed`, after the claim): how the
  run went -- ``status`` (running, finished, interrupted, failed), the commands that
  trained it, wall seconds and peak memory per session, with their sum.
* ``review.json`` (written by the classifier tasks at the end of training): the data
  summary (sizes, label counts, lengths) and the validation part scored by the trained
  model -- the classification report and a few misclassified examples with their input
  (a text as text, a small image as its pixels, a sequence as its first channel).

Example:
    >>> rows = misclassified(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([1, 1]), ["a", "b"])
    >>> rows[0]["true"], rows[0]["predicted"], round(rows[0]["probability"], 2)
    ('b', 'a', 0.9)
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rnnlab.tasks.scores import classification_report
from rnnlab.training.runfolder import RunDir

logger = logging.getLogger(__name__)

RUN_JSON = "run.json"
REVIEW = "review.json"
STATUSES = ("running", "finished", "interrupted", "failed")
#: The model card's first line: ``--overwrite`` removes a README.md only if rnnlab wrote it.
CARD_MARKER = "<!-- the model card of an rnnlab run; rnnlab rewrites this file -->"
#: Misclassified examples kept for the report (the most confident mistakes first).
MISTAKES = 8
#: An image is kept as pixels only up to this many (a 28x28 image is 784).
MAX_PIXELS = 28 * 28
#: Characters of a text kept for the report.
MAX_TEXT = 400


# --------------------------------------------------------------------------- run.json


def peak_memory_mb() -> dict[str, float]:
    """This process's peak resident memory (and CUDA's peak allocation, when used), in MB."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    out = {"peak_rss_mb": round(rss / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / (1 << 20), 1)
    return out


def process_start(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux's /proc), or None.

    With the pid it names one process for good: a pid the system gave again to another
    process has another start.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    try:  # field 22; the name (field 2) may hold spaces, so count after its ")"
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


class RunLog:
    """``run.json`` of one run folder: one session per command that trained into it.

    Args:
        run: the claimed run folder (nothing is written where it is not writable).
        command: the command line as typed (``["rnnlab", "train", ...]``), or None.
    """

    def __init__(self, run: RunDir, command: Sequence[str] | None = None):
        self.run = run
        self.started = time.perf_counter()
        previous = {}
        if run.claimed == "resume" and run.file(RUN_JSON).exists():
            try:
                previous = run.load_json(RUN_JSON)
            except (OSError, ValueError):  # a damaged log must not stop a resume
                previous = {}
        self.sessions = list(previous.get("sessions", [])) if isinstance(previous, dict) else []
        if self.sessions and self.sessions[-1].get("status") == "running":
            # the process that wrote it is gone (killed): that session was interrupted
            self.sessions[-1] = {**self.sessions[-1], "status": "interrupted"}
        self.session = {"command": None if command is None else [str(c) for c in command],
                        "resumed": run.claimed == "resume", "pid": os.getpid(),
                        "pid_started": process_start(os.getpid()),
                        "host": platform.node(),
                        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}

    def write(self, status: str) -> None:
        """Record ``status`` for this session (seconds and memory so far) in ``run.json``."""
        assert status in STATUSES, status
        if not self.run.writable or not self.run.path.is_dir():
            return
        session = {**self.session, "status": status,
                   "seconds": round(time.perf_counter() - self.started, 3), **peak_memory_mb()}
        sessions = [*self.sessions, session]
        try:
            import torch

            versions = {"torch": torch.__version__}
        except ImportError:  # pragma: no cover - torch is a dependency
            versions = {}
        from rnnlab import __version__

        self.run.save_json(RUN_JSON, {
            "status": status, "seconds": round(sum(s["seconds"] for s in sessions), 3),
            "peak_rss_mb": max(s.get("peak_rss_mb", 0.0) for s in sessions),
            "command": next((s["command"] for s in sessions if s["command"]), None),
            "sessions": sessions,
            "versions": {"rnnlab": __version__, "python": platform.python_version(),
                         **versions}})


# --------------------------------------------------------------------------- review.json


def label_counts(y: np.ndarray, labels: Sequence[str]) -> dict[str, int]:
    """How many examples of each label, in label order (``y``: class indices, (N,))."""
    counts = np.bincount(np.asarray(y, np.int64), minlength=len(labels))
    return {str(label): int(c) for label, c in zip(labels, counts, strict=False)}


def length_histogram(lengths: np.ndarray, bins: int = 20) -> dict:
    """``{"min", "max", "mean", "edges", "counts"}`` of sequence lengths (N,)."""
    lengths = np.asarray(lengths, np.int64)
    if lengths.size == 0:
        return {"min": 0, "max": 0, "mean": 0.0, "edges": [], "counts": []}
    lo, hi = int(lengths.min()), int(lengths.max())
    counts, edges = np.histogram(lengths, bins=max(1, min(bins, hi - lo + 1)))
    return {"min": lo, "max": hi, "mean": float(lengths.mean()),
            "edges": [float(e) for e in edges], "counts": counts.tolist()}


def misclassified(proba: np.ndarray, y: np.ndarray, labels: Sequence[str], *,
                  show: Callable[[int], Any] | None = None, limit: int = MISTAKES) -> list[dict]:
    """The most confident mistakes: ``[{"index", "true", "predicted", "probability",
    "input"}]``.

    Args:
        proba: class probabilities (N, C).
        y: true class indices (N,).
        labels: the label of each class.
        show: ``index -> what to show of that example`` (a text, pixels); None: nothing.
        limit: how many to keep.
    """
    proba, y = np.asarray(proba), np.asarray(y, np.int64)
    if not len(y):
        return []
    predicted = proba.argmax(1)
    wrong = np.flatnonzero(predicted != y)
    wrong = wrong[np.argsort(-proba[wrong, predicted[wrong]], kind="stable")][:limit]
    return [{"index": int(i), "true": str(labels[y[i]]), "predicted": str(labels[predicted[i]]),
             "probability": float(proba[i, predicted[i]]),
             **({"input": show(int(i))} if show is not None else {})} for i in wrong]


def image_pixels(x) -> list[list[float]] | None:
    """A small image (H, W) in [0, 1] as rows of 2-decimal values; None when too large."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or x.size > MAX_PIXELS:
        return None
    return np.round(x, 2).tolist()


def sequence_trace(x, length: int | None, points: int = 96) -> list[float]:
    """The first channel of a sequence (T, F) up to its length, at most ``points`` values."""
    x = np.asarray(x, np.float32)
    steps = x[: length if length is not None else len(x), 0]
    if len(steps) > points:
        steps = steps[np.linspace(0, len(steps) - 1, points).round().astype(int)]
    return np.round(steps, 3).tolist()


def write_review(run: RunDir, *, proba: np.ndarray, y: np.ndarray, labels: Sequence[str],
                 data: dict, show: Callable[[int], Any] | None = None,
                 split: str = "val") -> None:
    """Score the validation part and save ``review.json`` (never fails the run).

    Args:
        run: the run folder.
        proba: the trained model's class probabilities on the split (N, C).
        y: the split's true class indices (N,).
        labels: the class labels.
        data: the data summary (sizes, ``label_counts``, ``lengths``...).
        show: ``index -> what to show`` of a misclassified example.
        split: the split's name.
    """
    try:
        pred = np.asarray(proba).argmax(1) if len(y) else np.zeros(0, np.int64)
        run.save_json(REVIEW, {"split": split, "data": data,
                               "report": classification_report(y, pred, labels),
                               "misclassified": misclassified(proba, y, labels, show=show)})
    except (OSError, ValueError, IndexError) as e:  # a report's input must not fail training
        logger.warning("could not write %s: %s", run.file(REVIEW), e)


def review_examples(run: RunDir, predictor: Any, examples: Any, train_idx, val_idx, *,
                    images: bool) -> None:
    """``review.json`` of a classify run: sizes, label counts, lengths and the val part.

    Args:
        run: the run folder.
        predictor: the trained ``ImagePredictor``/``SequencePredictor`` (``proba(examples)``).
        examples: the training file's ``Examples`` (x (N, T, F), lengths, y, labels).
        train_idx, val_idx: the split.
        images: whether the examples are images (shown as pixels) or sequences.
    """
    y = examples.y.numpy()
    lengths = (examples.lengths.numpy() if examples.lengths is not None
               else np.full(len(y), examples.x.shape[1]))
    val = examples.take(val_idx)
    data = {"kind": "images" if images else "sequences", "train_size": len(train_idx),
            "val_size": len(val_idx), "steps": int(examples.x.shape[1]),
            "features": int(examples.x.shape[2]),
            "label_counts": {"train": label_counts(y[train_idx], examples.labels),
                             "val": label_counts(y[val_idx], examples.labels)}}
    if not images:
        data["lengths"] = length_histogram(lengths[train_idx])

    def show(i: int):
        if images:
            return {"pixels": image_pixels(val.x[i])}
        n = None if val.lengths is None else int(val.lengths[i])
        return {"trace": sequence_trace(val.x[i], n), "id": str(val.ids[i])}

    try:
        proba = predictor.proba(val) if len(val) else np.zeros((0, len(examples.labels)))
    except Exception as e:  # the run is trained; its review must not fail it
        logger.warning("could not score the val part for %s: %s", run.file(REVIEW), e)
        return
    write_review(run, proba=proba, y=val.y.numpy(), labels=examples.labels, data=data,
                 show=show)


def review_texts(run: RunDir, predictor: Any, texts: Sequence[str], labels: np.ndarray,
                 train_idx, val_idx, classes: Sequence[str], tokenizer: Any = None) -> None:
    """``review.json`` of a text run: sizes, label counts, lengths in words, the val part.

    Args:
        run: the run folder.
        predictor: the trained predictor (``predict_proba(texts)``).
        texts: every training text; ``labels`` their class indices (N,).
        train_idx, val_idx: the split.
        classes: the class labels.
        tokenizer: the run's tokenizer, for the vocabulary coverage of the val texts.
    """
    train_texts = [texts[i] for i in train_idx]
    val_texts = [texts[i] for i in val_idx]
    words = np.array([len(t.split()) for t in train_texts], np.int64)
    data = {"kind": "texts", "train_size": len(train_idx), "val_size": len(val_idx),
            "label_counts": {"train": label_counts(labels[train_idx], classes),
                             "val": label_counts(labels[val_idx], classes)},
            "lengths": length_histogram(words), "length_unit": "words"}
    if tokenizer is not None and val_texts:
        data["coverage"] = _coverage(tokenizer, val_texts)
    try:
        proba = (predictor.predict_proba(val_texts) if val_texts
                 else np.zeros((0, len(classes))))
    except Exception as e:  # the run is trained; its review must not fail it
        logger.warning("could not score the val part for %s: %s", run.file(REVIEW), e)
        return
    write_review(run, proba=proba, y=labels[val_idx], labels=classes, data=data,
                 show=lambda i: {"text": val_texts[i][:MAX_TEXT]})


def _coverage(tokenizer: Any, texts: Sequence[str]) -> dict:
    """Share of the val texts' tokens that the run's tokenizer keeps (``num_words``)."""
    counter = type(tokenizer)(filters=tokenizer.filters, lower=tokenizer.lower,
                              split=tokenizer.split, char_level=tokenizer.char_level,
                              remove=tokenizer.remove)
    counter.fit_on_texts(texts)  # the same tokenization, every word counted
    total = int(sum(counter.word_counts.values()))
    oov = tokenizer.word_index.get(tokenizer.oov_token) if tokenizer.oov_token else None
    known = sum(sum(1 for i in seq if i != oov) for seq in tokenizer.texts_to_sequences(texts))
    return {"tokens": total, "known": int(known),
            "share": float(known / total) if total else 0.0,
            "vocabulary": len(tokenizer.word_index), "num_words": tokenizer.num_words}
