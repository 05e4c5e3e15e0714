"""Fashion-MNIST read row by row: rnnlab's classifier beside a plain PyTorch anchor.

Both train on the first 55,000 training images with Adam and batch 150, pick the epoch on
the last 5,000 (validation), and are scored once on the 10,000 test images. The anchor is
the notebook's model written in plain PyTorch (``nn.RNN`` + ``nn.Linear``, PyTorch's
default initialisation, Adam 1e-3); rnnlab's models use ``SETTINGS`` below, chosen on the
validation split alone by ``bench/classify_sweep.py``. Keras is timed too when installed.

    python bench/classify.py                          # RNN(100) and GRU(128), 12 epochs
    python bench/classify.py --models rnn --epochs 2  # quick look
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch
from torch import nn

from rnnlab.tasks.classify import ClassifyConfig, evaluate_run, load_images, train_classify
from rnnlab.train import Callback, FitConfig


class EpochTimer(Callback):
    """Wall time of each epoch (training and validation)."""

    def __init__(self):
        self.times, self._start = [], 0.0

    def on_epoch_start(self, epoch, *, num_batches, start_batch):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs):
        self.times.append(time.perf_counter() - self._start)


def plain_pytorch(x, y, x_test, y_test, epochs: int, seed: int) -> dict:
    """The notebook's model in plain PyTorch: the anchor of the comparison."""
    torch.manual_seed(seed)
    rnn, head = nn.RNN(28, 100, batch_first=True), nn.Linear(100, 10)
    params = [*rnn.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x_tr, y_tr, x_val, y_val = x[:-5000], y[:-5000], x[-5000:], y[-5000:]

    def accuracy(xs, ys):
        with torch.no_grad():
            _, h = rnn(xs)
            return (head(h[-1]).argmax(1) == ys).float().mean().item()

    best, best_state, times = -1.0, None, []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(x_tr)).split(150):
            _, h = rnn(x_tr[idx])
            loss = nn.functional.cross_entropy(head(h[-1]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        val = accuracy(x_val, y_val)
        times.append(time.perf_counter() - start)
        if val > best:  # the epoch is picked on validation
            best = val
            best_state = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p, saved in zip(params, best_state, strict=True):
            p.copy_(saved)
    return {"val_accuracy": best, "test_accuracy": accuracy(x_test, y_test),  # read once
            "seconds_per_epoch": float(np.median(times))}


def keras_rnn(x, y, x_test, y_test, epochs: int) -> dict | None:
    try:
        import keras
    except ImportError:
        return None
    model = keras.Sequential([keras.Input((28, 28)), keras.layers.SimpleRNN(100),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    start = time.perf_counter()
    hist = model.fit(x[:-5000].numpy(), y[:-5000].numpy(), batch_size=150, epochs=epochs,
                     validation_data=(x[-5000:].numpy(), y[-5000:].numpy()), verbose=0)
    seconds = (time.perf_counter() - start) / epochs
    test = model.evaluate(x_test.numpy(), y_test.numpy(), verbose=0)[1]
    return {"val_accuracy": max(hist.history["val_accuracy"]), "test_accuracy": test,
            "seconds_per_epoch": seconds}


# Chosen on validation only (bench/classify_sweep.py, 3 seeds each; BENCHMARKS.md): the RNN
# keeps the fixed Adam 1e-3 and batch 150 and adds a cosine decay and clipping.
SETTINGS = {
    "rnn": {"lr": 1e-3, "schedule": "cosine", "clip_grad_norm": 1.0},
    "gru": {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0},
    "lstm": {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0},
}


def rnnlab_run(model: str, units: int, epochs: int, seed: int, fit_kwargs: dict) -> dict:
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as run_dir:
        _, history = train_classify(
            ClassifyConfig(dataset="fashion-mnist", model=model, units=units),
            FitConfig(epochs=epochs, batch_size=150, seed=seed, device="cpu",
                      monitor="val_accuracy", plot=False, **fit_kwargs),
            run_dir=run_dir, callbacks=(timer,))
        test = evaluate_run(run_dir)  # best epoch's weights, test split read once
    return {"val_accuracy": history.best, "best_epoch": history.best_epoch,
            "test_accuracy": test["accuracy"], "seconds_per_epoch": float(np.median(timer.times))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["rnn", "gru"])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None, help="override SETTINGS' lr")
    parser.add_argument("--schedule", default=None, help="override SETTINGS' schedule")
    parser.add_argument("--clip", type=float, default=None, help="override SETTINGS' clipping")
    parser.add_argument("--no-anchor", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {"lr": args.lr, "schedule": args.schedule, "clip_grad_norm": args.clip}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    results = {}
    if not args.no_anchor:
        x, y, _ = load_images("fashion-mnist", "train")
        x_test, y_test, _ = load_images("fashion-mnist", "test")
        results["plain PyTorch RNN(100)"] = plain_pytorch(x, y, x_test, y_test, args.epochs,
                                                          args.seed)
        keras_result = keras_rnn(x, y, x_test, y_test, args.epochs)
        if keras_result:
            results["Keras SimpleRNN(100)"] = keras_result
    for model in args.models:
        units = 100 if model == "rnn" else 128
        settings = {**SETTINGS.get(model, {}), **overrides}
        results[f"rnnlab {model}({units})"] = {
            **rnnlab_run(model, units, args.epochs, args.seed, settings), "settings": settings}
    print(f"Fashion-MNIST, {args.epochs} epochs, batch 150, Adam, {args.threads} threads "
          "(rnnlab's settings: SETTINGS in bench/classify.py)")
    print(f"{'model':<24} {'val acc':>8} {'test acc':>9} {'s/epoch':>8}")
    for name, r in results.items():
        print(f"{name:<24} {r['val_accuracy']:>8.4f} {r['test_accuracy']:>9.4f} "
              f"{r['seconds_per_epoch']:>8.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
