"""rnnlab's RocketClassifier (MiniRocket features, exact lengths) beside aeon's MiniRocket.

Same splits, same 10,000-feature budget, one thread each: train on the training split,
score the test split once. A peer comparison, not tuning: ``--select`` compares recipe
variants by stratified 3-fold cross-validation inside the training splits only.

    python bench/rocket.py                            # the table, bundled + generated sets
    python bench/rocket.py --datasets GunPoint --seeds 3
    python bench/rocket.py --select                   # variants by CV inside train

Datasets: aeon's bundled equal-length UEA/UCR sets (as bench/sequences.py; aeon's
variable-length sets are left alone, acceptance uses them) and bench/sequences.py's
generated variable-length sets, zero-padded to the longest for aeon (rnnlab reads each
sequence only up to its length). Needs ``aeon``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sequences import GENERATED, UEA, folds, load, minirocket

from rnnlab.data.sequence_set import SequenceSet
from rnnlab.models.rocket_classifier import RocketClassifier, RocketClassifierConfig

VARIANTS = {  # --select: name -> (standardise channels first, config overrides)
    "raw-5k": (False, {"num_features": 5_000, "ppv_over": "length"}),
    "raw-median-length": (False, {"reference_length": "median", "ppv_over": "length"}),
    "raw-length-feature": (False, {"length_feature": True, "ppv_over": "length"}),
    "raw-ppv-over-length": (False, {"ppv_over": "length"}),
    "raw-ppv-over-reference": (False, {"ppv_over": "reference"}),
    "standardised-ppv-over-length": (True, {"ppv_over": "length"}),
    "standardised-ppv-over-reference": (True, {"ppv_over": "reference"}),
}


def _tensors(data: SequenceSet):
    x, lengths = data.padded()  # (N, T, F), zero past each length
    return torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(lengths).long()


def _standardise(train: torch.Tensor, train_len, *others):
    """Per-channel mean and std over the training split's valid steps (as classify does)."""
    valid = torch.arange(train.shape[1])[None, :] < train_len[:, None]
    steps = train[valid]  # (steps, F)
    mean, std = steps.mean(0), steps.std(0).clamp(min=1e-8)
    return [(x - mean) / std for x in (train, *others)]


def rocket(train: SequenceSet, test: SequenceSet, seed: int, *, standardise=False,
           **overrides) -> dict:
    """Fit rnnlab's RocketClassifier on ``train`` and score ``test`` once."""
    torch.set_num_threads(1)  # aeon's fit resets it to every core, measured 10x slower here
    x, lengths = _tensors(train)
    x_test, len_test = _tensors(test)
    if standardise:
        x, x_test = _standardise(x, lengths, x_test)
    if overrides.get("reference_length") == "median":  # dilations up to the median length
        overrides = {**overrides, "reference_length": int(np.median(train.lengths))}
    start = time.perf_counter()
    model = RocketClassifier(RocketClassifierConfig(seed=seed, **overrides))
    model.fit_closed_form(x, lengths, torch.from_numpy(train.y))
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model(x_test, len_test).argmax(-1).numpy()
    return {"accuracy": float(np.mean(predicted == test.y)), "seconds": seconds,
            "predict_seconds": time.perf_counter() - start,
            "loo": model.ridge.loo_accuracy, "alpha": float(model.ridge.alpha)}


def compare(names: list[str], seeds: int) -> None:
    """The test-split table: accuracy and fit time of each, mean over seeds.

    "raw" feeds RocketClassifier what MiniRocket gets; "classify" standardises the
    channels on the training split first, as ``rnnlab train classify`` does.
    """
    print("| dataset | N train/test | T | F | MiniRocket acc | rnnlab raw acc | "
          "rnnlab classify acc | MiniRocket fit s | rnnlab fit s | rnnlab predict s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    means = []
    for name in names:
        train, test = load(name)
        runs = [[minirocket(train, test, seed) for seed in range(seeds)],
                [rocket(train, test, seed) for seed in range(seeds)],
                [rocket(train, test, seed, standardise=True) for seed in range(seeds)]]
        acc = [np.mean([r["accuracy"] for r in rs]) for rs in runs]
        means.append(acc)
        secs = [np.mean([r["seconds"] for r in rs]) for rs in runs]
        predict = np.mean([r["predict_seconds"] for r in runs[2]])
        t = f"{train.lengths.min()}-{train.lengths.max()}"
        print(f"| {name} | {len(train)}/{len(test)} | {t} | {train.num_features} | "
              f"{acc[0]:.3f} | {acc[1]:.3f} | {acc[2]:.3f} | {secs[0]:.2f} | {secs[2]:.2f} | "
              f"{predict:.2f} |", flush=True)
    m = np.mean(means, axis=0)
    print(f"| mean | | | | {m[0]:.3f} | {m[1]:.3f} | {m[2]:.3f} | | | |")


def select(names: list[str], k: int) -> None:
    """Mean k-fold CV accuracy of each variant, inside the training splits only."""
    print("| dataset | " + " | ".join(VARIANTS) + " |")
    print("|---|" + "---|" * len(VARIANTS))
    for name in names:
        train, _ = load(name)  # the test split is never loaded into a score
        row = []
        for standardise, overrides in VARIANTS.values():
            scores = []
            for i, held in enumerate(folds(train.y, k)):
                rest = np.setdiff1d(np.arange(len(train)), held)
                scores.append(rocket(train.subset(rest), train.subset(held), seed=i,
                                     standardise=standardise, **overrides)["accuracy"])
            row.append(f"{np.mean(scores):.3f}")
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=[*UEA, *GENERATED])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--select", action="store_true", help="variants by CV in train")
    parser.add_argument("--folds", type=int, default=3)
    args = parser.parse_args()
    if args.select:
        select(args.datasets, args.folds)
    else:
        compare(args.datasets, args.seeds)


if __name__ == "__main__":
    main()
