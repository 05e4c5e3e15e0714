"""Choose the classifier's settings on validation: a grid of runs, in parallel, no test set.

Each run trains on the first 55,000 Fashion-MNIST training images and records the validation
accuracy (the last 5,000) after every epoch; the test set is never read here (bench/classify.py
reads it once, for the chosen settings). Runs go to a pool of processes, on the GPU when there
is one (many small runs share it well) or on the CPU, and the results are written as JSON after
each run, so a run cut short by ``--deadline`` still leaves what finished.

    python bench/classify_sweep.py --device cuda --jobs 8 --out sweep.json
    python bench/classify_sweep.py --device cpu --jobs 2 --only gru-lr2e-3-cos
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time

# name: (ClassifyConfig fields, FitConfig fields). The RNN(100) rows keep the fixed
# setting (Adam 1e-3, batch 150); the GRU/LSTM(128) settings are free to choose.
RNN = {"model": "rnn", "units": 100}
GRU = {"model": "gru", "units": 128}
LSTM = {"model": "lstm", "units": 128}
GRID = {
    "rnn-irnn": (RNN, {}),
    "rnn-irnn-cos": (RNN, {"schedule": "cosine"}),
    "rnn-irnn-cos-clip1": (RNN, {"schedule": "cosine", "clip_grad_norm": 1.0}),
    "rnn-irnn-cos-s1": (RNN, {"schedule": "cosine", "seed": 1}),
    "rnn-irnn-drop0.1-cos": ({**RNN, "dropout": 0.1}, {"schedule": "cosine"}),
    "rnn-irnn-cos-clip1-s1": (RNN, {"schedule": "cosine", "clip_grad_norm": 1.0, "seed": 1}),
    "rnn-irnn-cos-clip1-s2": (RNN, {"schedule": "cosine", "clip_grad_norm": 1.0, "seed": 2}),
    "rnn-irnn-cos-clip0.5": (RNN, {"schedule": "cosine", "clip_grad_norm": 0.5}),
    "rnn-irnn-drop0.1-cos-clip1": ({**RNN, "dropout": 0.1},
                                   {"schedule": "cosine", "clip_grad_norm": 1.0}),
    "rnn-keras-tanh-cos": ({**RNN, "init": "keras", "activation": "tanh"},
                           {"schedule": "cosine"}),
    "gru-lr1e-3": (GRU, {}),
    "gru-lr2e-3-cos": (GRU, {"lr": 2e-3, "schedule": "cosine"}),
    "gru-lr2e-3-cos-s1": (GRU, {"lr": 2e-3, "schedule": "cosine", "seed": 1}),
    "gru-lr3e-3-cos": (GRU, {"lr": 3e-3, "schedule": "cosine"}),
    "gru-lr3e-3-cos-clip1": (GRU, {"lr": 3e-3, "schedule": "cosine", "clip_grad_norm": 1.0}),
    "gru-lr5e-3-cos-clip1": (GRU, {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0}),
    "gru-lr5e-3-cos-clip1-s1": (GRU, {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0,
                                      "seed": 1}),
    "gru-lr5e-3-cos-clip1-s2": (GRU, {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0,
                                      "seed": 2}),
    "gru-drop0.2-lr5e-3-cos-clip1": ({**GRU, "dropout": 0.2},
                                     {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0}),
    "gru-b64-lr2e-3-cos-s1": (GRU, {"batch_size": 64, "lr": 2e-3, "schedule": "cosine",
                                    "seed": 1}),
    "gru-b64-lr2e-3-cos": (GRU, {"batch_size": 64, "lr": 2e-3, "schedule": "cosine"}),
    "gru-drop0.2-lr3e-3-cos": ({**GRU, "dropout": 0.2}, {"lr": 3e-3, "schedule": "cosine"}),
    "gru-2layers-lr2e-3-cos": ({**GRU, "layers": 2}, {"lr": 2e-3, "schedule": "cosine"}),
    "lstm-lr2e-3-cos": (LSTM, {"lr": 2e-3, "schedule": "cosine"}),
    "lstm-lr3e-3-cos": (LSTM, {"lr": 3e-3, "schedule": "cosine"}),
    "lstm-lr5e-3-cos-clip1": (LSTM, {"lr": 5e-3, "schedule": "cosine", "clip_grad_norm": 1.0}),
}


def run_one(args: tuple) -> tuple[str, dict]:
    name, data_dir, device, epochs, threads = args
    import torch

    from rnnlab.tasks.classify import ClassifyConfig, train_classify
    from rnnlab.train import FitConfig

    torch.set_num_threads(threads)
    model_kw, fit_kw = GRID[name]
    fit_kw = {"epochs": epochs, "batch_size": 150, "lr": 1e-3, "seed": 0, **fit_kw}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        _, history = train_classify(
            ClassifyConfig(dataset="fashion-mnist", data_dir=data_dir, **model_kw),
            FitConfig(device=device, monitor="val_accuracy", plot=False, **fit_kw),
            run_dir=run_dir)
    return name, {"val_accuracy": history["val_accuracy"], "best": history.best,
                  "best_epoch": history.best_epoch, "seconds": time.perf_counter() - start,
                  "device": device, "model": model_kw, "fit": fit_kw}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--only", nargs="+", default=None, help="names from the grid")
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds after which unfinished runs are abandoned")
    parser.add_argument("--out", default="sweep.json")
    args = parser.parse_args()
    names = args.only or list(GRID)
    unknown = sorted(set(names) - set(GRID))
    if unknown:
        parser.error(f"unknown runs {unknown}; the grid has {sorted(GRID)}")
    start, results = time.perf_counter(), {}
    ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
    with ctx.Pool(args.jobs) as pool:
        work = [(n, args.data_dir, args.device, args.epochs, args.threads) for n in names]
        pending = pool.imap_unordered(run_one, work)
        for _ in names:
            remaining = None if args.deadline is None else args.deadline - (
                time.perf_counter() - start)
            try:
                name, result = pending.next(timeout=remaining)
            except mp.TimeoutError:
                print(f"deadline reached: {len(results)} of {len(names)} runs finished")
                break
            results[name] = result
            print(f"{name:<26} best val {result['best']:.4f} at epoch {result['best_epoch']} "
                  f"({result['seconds']:.0f} s)", flush=True)
            with open(args.out, "w") as f:
                json.dump(results, f, indent=1)
        pool.terminate()


if __name__ == "__main__":
    main()
