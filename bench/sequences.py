"""Your own sequences: rnnlab's classify defaults beside aeon's MiniRocket, same splits.

Datasets: aeon's bundled equal-length UEA/UCR sets (ArrowHead, BasicMotions, GunPoint,
ItalyPowerDemand, OSULeaf) and variable-length sets made by
``rnnlab.data.synthetic_sequences.make_sequences``. aeon's variable-length sets
(JapaneseVowels, PickupGestureWiimoteZ, ...) are left alone: acceptance uses such sets.
MiniRocket needs equal lengths, so variable-length sets are zero-padded to the longest
for it (rnnlab reads only each sequence's valid steps).

    python bench/sequences.py                       # defaults vs MiniRocket, test splits
    python bench/sequences.py --select              # choose defaults: 3-fold CV on train
    python bench/sequences.py --speed               # epoch time with and without lengths

``--select`` never reads a test split: each candidate is scored by stratified 3-fold
cross-validation inside the training split. Needs the ``bench`` extra plus ``aeon``.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnlab.data.sequence_set import SequenceSet
from rnnlab.data.synthetic_sequences import make_sequences
from rnnlab.data.ts import write_ts

UEA = ("ArrowHead", "BasicMotions", "GunPoint", "ItalyPowerDemand", "OSULeaf")
GENERATED = {  # name: make_sequences arguments (train and test differ by seed)
    "gen-3x3": dict(n=240, num_classes=3, num_features=3, min_length=20, max_length=120),
    "gen-4x2-long": dict(n=200, num_classes=4, num_features=2, min_length=30,
                         max_length=300, level=0.4),
}
LONG = {"epochs": 300, "patience": 50}
CONV = {"conv_channels": 32, "conv_kernel": 9}
CANDIDATES = {  # --select: name -> classify overrides (model part, fit part)
    # Round 1 (BENCHMARKS.md): networks alone; the conv + max-pooling GRU won.
    "gru64-bi-mean": ({"model": "gru", "units": 64, "bidirectional": True,
                       "pooling": "mean", "rocket": "off"}, {}),
    "gru64-bi-mean-conv-long": ({"model": "gru", "units": 64, "bidirectional": True,
                                 "pooling": "mean", "rocket": "off", **CONV}, LONG),
    "gru64-bi-max-conv-long": ({"rocket": "off"}, {}),  # the defaults, network alone
    "lstm64-bi-mean-conv-long": ({"model": "lstm", "units": 64, "bidirectional": True,
                                  "pooling": "mean", "rocket": "off", **CONV}, LONG),
    # Round 2: the same network with the MiniRocket member, probabilities averaged evenly
    # (the defaults). Round 3 chose the mix by log-likelihood on the validation part
    # (reverted: 0.923 against 0.940). Round 4: MiniRocket's share 0.75.
    "defaults (+ minirocket)": ({}, {}),
    "minirocket share 0.75": ({"rocket_weight": 0.75}, {}),
}
ROUND_2 = ("gru64-bi-max-conv-long", "defaults (+ minirocket)")
ROUND_3 = ("defaults (+ minirocket)",)
ROUND_4 = ("minirocket share 0.75",)


def _from_aeon(name: str, split: str) -> SequenceSet:
    from aeon.datasets import load_classification

    x, y = load_classification(name, split=split)  # (N, C, T), labels as strings
    labels = sorted(set(map(str, y)), key=lambda s: (not s.lstrip("-").isdigit(), s))
    index = {lab: i for i, lab in enumerate(labels)}
    seqs = [np.ascontiguousarray(case.T, dtype=np.float32) for case in x]
    return SequenceSet(seqs, [index[str(v)] for v in y], labels,
                       [f"dim_{i}" for i in range(x.shape[1])], range(len(seqs)))


def load(name: str) -> tuple[SequenceSet, SequenceSet]:
    """(train, test) of a bundled UEA/UCR set or a generated one."""
    if name in GENERATED:
        args = GENERATED[name]
        return make_sequences(seed=1, **args), make_sequences(seed=2, **args)
    return _from_aeon(name, "train"), _from_aeon(name, "test")


def _padded(data: SequenceSet) -> np.ndarray:
    x, _ = data.padded()  # (N, T, F), zero past each length
    return np.ascontiguousarray(x.transpose(0, 2, 1), dtype=np.float64)  # aeon: (N, C, T)


def minirocket(train: SequenceSet, test: SequenceSet, seed: int) -> dict:
    from aeon.classification.convolution_based import MiniRocketClassifier

    t = max(train.lengths.max(), test.lengths.max())
    x_train, x_test = _padded(train), _padded(test)
    x_train = np.pad(x_train, ((0, 0), (0, 0), (0, t - x_train.shape[2])))
    x_test = np.pad(x_test, ((0, 0), (0, 0), (0, t - x_test.shape[2])))
    start = time.perf_counter()
    clf = MiniRocketClassifier(random_state=seed, n_jobs=1).fit(x_train, train.y)
    seconds = time.perf_counter() - start
    return {"accuracy": float(np.mean(clf.predict(x_test) == test.y)), "seconds": seconds}


def rnnlab_run(train: SequenceSet, test: SequenceSet, folder: Path, *, model=None, fit=None,
               seed: int = 42) -> dict:
    """Train with classify's defaults (plus overrides) and score ``test`` once."""
    from rnnlab.tasks.runner import train_run

    write_ts(folder / "train.ts", train)
    write_ts(folder / "test.ts", test)
    overrides = {"data": {"dataset": str(folder / "train.ts"),
                          "test": str(folder / "test.ts")},
                 "model": dict(model or {}), "fit": {"seed": seed, **(fit or {})}}
    start = time.perf_counter()
    result = train_run("classify", None, folder / "run", overrides=overrides)
    seconds = time.perf_counter() - start
    evaluation = json.loads((folder / "run" / "evaluation.json").read_text())
    return {"accuracy": evaluation["accuracy"], "seconds": seconds,
            "epochs": len(result.history.rows)}


def folds(y: np.ndarray, k: int, seed: int = 0) -> list[np.ndarray]:
    """Stratified fold indices (each class spread over the k folds)."""
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(k)]
    for c in np.unique(y):
        for i, j in enumerate(rng.permutation(np.flatnonzero(y == c))):
            parts[i % k].append(int(j))
    return [np.sort(np.asarray(p)) for p in parts]


def select(names: list[str], k: int, round_: int = 2) -> None:
    """Mean 3-fold CV accuracy per candidate per dataset, inside the training splits."""
    table: dict[str, dict[str, float]] = {}
    for name in names:
        train, _ = load(name)
        splits = folds(train.y, k)
        for cand, (model, fit) in CANDIDATES.items():
            if cand not in {1: CANDIDATES, 2: ROUND_2, 3: ROUND_3, 4: ROUND_4}[round_]:
                continue
            scores = []
            for i, held in enumerate(splits):
                rest = np.setdiff1d(np.arange(len(train)), held)
                with tempfile.TemporaryDirectory() as tmp:
                    scores.append(rnnlab_run(train.subset(rest), train.subset(held),
                                             Path(tmp), model=model, fit=fit, seed=i)
                                  ["accuracy"])
            table.setdefault(cand, {})[name] = float(np.mean(scores))
            print(f"{name:18s} {cand:22s} cv={np.mean(scores):.4f} "
                  f"(folds {', '.join(f'{s:.3f}' for s in scores)})", flush=True)
    print("\n| candidate | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for cand, row in table.items():
        values = [row[n] for n in names]
        print(f"| {cand} | " + " | ".join(f"{v:.3f}" for v in values)
              + f" | **{np.mean(values):.3f}** |")


def compare(names: list[str], seeds: int) -> None:
    print("| dataset | N train / test | lengths | MiniRocket acc (s) | rnnlab acc (s) | gap |")
    print("|---|---|---|---|---|---|")
    gaps = []
    for name in names:
        train, test = load(name)
        mr = [minirocket(train, test, s) for s in range(seeds)]
        ours = []
        for s in range(seeds):
            with tempfile.TemporaryDirectory() as tmp:
                ours.append(rnnlab_run(train, test, Path(tmp), seed=42 + s))
        a_mr = np.mean([m["accuracy"] for m in mr])
        a_us = np.mean([o["accuracy"] for o in ours])
        gaps.append(a_us - a_mr)
        lengths = f"{train.lengths.min()}-{train.lengths.max()}"
        print(f"| {name} | {len(train)} / {len(test)} | {lengths} | {a_mr:.3f} "
              f"({np.mean([m['seconds'] for m in mr]):.1f}) | {a_us:.3f} "
              f"({np.mean([o['seconds'] for o in ours]):.1f}) | {a_us - a_mr:+.3f} |",
              flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmean gap (rnnlab - MiniRocket): {np.mean(gaps):+.3f}; peak RSS {peak:.0f} MiB")


def speed(repeats: int, batch: int = 32, units: int = 64) -> None:
    """Seconds per epoch with exact lengths vs the same data padded to the longest."""
    import torch

    from rnnlab.models.classifier import ClassifierConfig, SequenceClassifier
    from rnnlab.train import FitConfig, fit

    data = make_sequences(512, num_classes=3, num_features=3, min_length=13, max_length=400,
                          seed=3)
    x, lengths = data.padded()
    x, lengths, y = torch.from_numpy(x), torch.from_numpy(lengths), torch.from_numpy(data.y)
    full = torch.full_like(lengths, x.shape[1])
    print(f"lengths mean {lengths.float().mean():.0f} of {x.shape[1]} steps; batch {batch}, "
          f"{units} units")
    for cell in ("gru", "lstm", "rnn"):
        times = {}
        for label, lens, grouped in (("lengths", lengths, False), ("grouped", lengths, True),
                                     ("padded", full, False)):
            best = []
            for _ in range(repeats):
                torch.manual_seed(0)
                model = SequenceClassifier(ClassifierConfig(input_size=3, num_classes=3,
                                                            cell=cell, num_units=units))
                start = time.perf_counter()
                fit(model, ((x, lens), y), loss_fn=torch.nn.functional.cross_entropy,
                    config=FitConfig(epochs=1, batch_size=batch, device="cpu", plot=False,
                                     group_by_length=grouped))
                best.append(time.perf_counter() - start)
            times[label] = min(best)
        print(f"{cell}: padded {times['padded']:.2f} s; lengths {times['lengths']:.2f} s "
              f"({times['lengths'] / times['padded']:.2f}x); lengths + batches grouped by "
              f"length {times['grouped']:.2f} s ({times['grouped'] / times['padded']:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join([*UEA, *GENERATED]))
    parser.add_argument("--select", action="store_true", help="3-fold CV of CANDIDATES")
    parser.add_argument("--round", type=int, default=2, help="--select: rounds 1 to 4")
    parser.add_argument("--speed", action="store_true", help="lengths vs padded epochs")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32, help="--speed: batch size")
    parser.add_argument("--units", type=int, default=64, help="--speed: units")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    names = [n for n in args.datasets.split(",") if n]
    if args.speed:
        speed(3, args.batch, args.units)
    elif args.select:
        select(names, 3, round_=args.round)
    else:
        compare(names, args.seeds)


if __name__ == "__main__":
    main()
