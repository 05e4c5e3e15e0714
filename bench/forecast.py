"""Forecasting benchmark: the notebook's RNN in plain PyTorch against rnnlab, on held-out data.

Measures, in one run on the CPU:

1. Synthetic series, 1500 iterations of batch 50, window 20, scored on the fixed held-out
   set (``HELDOUT_SIZE`` uniform windows from ``HELDOUT_SEED``):
   (a) a plain PyTorch reproduction of the notebook (``nn.RNN`` relu 100 + ``nn.Linear``,
       Adam 1e-3), trained with the notebook's sampler and with the uniform one;
   (b) rnnlab with the notebook's settings and with rnnlab's defaults.
   Two metrics: ``next-step`` is the notebook's (next-step MSE over all 20 window
   positions), ``forecast`` is the MSE of the value after each full window (horizon 1),
   the one beside which the baselines are reported.
2. The time of one training step with the projection inside the loop (wrapper, looped),
   the wrapper on the fused kernel, and one dense layer over the stacked outputs.
3. A real series: Mauna Loa weekly CO2 (public domain) from the statsmodels wheel, against
   every baseline.

Usage:
    python bench/forecast.py [--co2 PATH/co2.csv] [--iterations 1500] [--seeds 0] [--stack]

Without ``--co2`` the CSV is looked up inside an installed statsmodels (not imported);
``pip download --no-deps statsmodels`` and unzipping ``statsmodels/datasets/co2/co2.csv``
works as well. Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rnnlab.baselines import baseline_predictions, errors
from rnnlab.data.series import (
    heldout_segments,
    next_batch,
    prepare_series,
    read_series,
    sample_segments,
    time_series,
    training_rng,
)
from rnnlab.errors import TrainingError
from rnnlab.models.forecaster import Forecaster, ForecasterConfig, predict_next_step
from rnnlab.plots_forecast import plot_compare, save_figure
from rnnlab.tasks.forecast import ForecastConfig, evaluate_forecast, train_forecast


class NotebookRNN(nn.Module):
    """The notebook's model in plain PyTorch: relu RNN(100) and a per-step Linear."""

    def __init__(self, units: int = 100):
        super().__init__()
        self.rnn = nn.RNN(1, units, nonlinearity="relu", batch_first=True)
        self.out = nn.Linear(units, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[0])


def train_plain(sampler: str, iterations: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = NotebookRNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = training_rng(seed)
    for _ in range(iterations):
        X, y = next_batch(50, 20, rng, sampler=sampler)
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(torch.from_numpy(X)), torch.from_numpy(y))
        loss.backward()
        opt.step()
    return model


def score(model: nn.Module, seg: np.ndarray) -> tuple[float, float]:
    """(next-step MSE over all 20 positions, MSE of the value after the window)."""
    with torch.no_grad():
        x = torch.as_tensor(seg[:, :20, None], dtype=torch.float32)
        y = model(x)[..., 0].double().numpy()
    return float(np.mean((y - seg[:, 1:]) ** 2)), float(np.mean((y[:, -1] - seg[:, 20]) ** 2))


def step0_floor(n: int = 2_000_000, bins: int = 8000) -> float:
    """Bayes floor of predicting x(t+0.1) from x(t) alone, t uniform over [0, 28]."""
    t = np.random.default_rng(1).uniform(0, 28, n)
    x0, x1 = time_series(t), time_series(t + 0.1)
    idx = np.digitize(x0, np.linspace(x0.min(), x0.max(), bins))
    s, s2, c = np.bincount(idx, x1), np.bincount(idx, x1 * x1), np.bincount(idx)
    m = c > 1
    return float(((s2[m] - s[m] ** 2 / c[m])).sum() / c.sum())


def time_projection(reps: int = 100) -> dict[str, float]:
    """Milliseconds per forward+backward, batch 50, window 20, relu RNN(100)."""
    x = torch.randn(50, 20, 1)
    out = {}
    for name, kw in (("wrapper, projection in the loop", dict(projection="wrapper",
                                                              backend="loop")),
                     ("wrapper, fused kernel", dict(projection="wrapper")),
                     ("dense over (B*T, H)", dict(projection="dense"))):
        model = Forecaster(ForecasterConfig(**kw))
        for _ in range(5):
            model(x).sum().backward()
        t0 = time.perf_counter()
        for _ in range(reps):
            model(x).sum().backward()
        out[name] = (time.perf_counter() - t0) / reps * 1e3
    return out


def find_co2(path: str | None) -> Path | None:
    if path:
        return Path(path)
    spec = importlib.util.find_spec("statsmodels")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "co2" / "co2.csv"
    return p if p.exists() else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1500)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--co2", help="path to statsmodels' co2.csv")
    ap.add_argument("--co2-epochs", type=int, default=20)
    ap.add_argument("--out", default="runs/bench-forecast", help="run folders go here")
    ap.add_argument("--stack", action="store_true",
                    help="also train a 3-layer stack and draw it against one layer")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    seg = heldout_segments(21)
    ar_rng = np.random.default_rng(np.random.SeedSequence([0, 3]))
    ar = sample_segments(20_000, 21, ar_rng, "uniform")
    base = {k: errors(v, seg[:, 20:])["mse"]
            for k, v in baseline_predictions(ar[:, :20], ar[:, 20:], seg[:, :20], 1).items()}
    floor = step0_floor()
    print(f"held-out: {len(seg)} windows; step-0 Bayes floor {floor:.3f} "
          f"(so next-step MSE over 20 positions >= {floor / 20:.3f})")
    print("baselines (forecast MSE): " + ", ".join(f"{k} {v:.2e}" for k, v in base.items()))
    print()
    print("| model | sampler | next-step MSE (20 positions) | forecast MSE (after window) | "
          "train s |")
    print("|---|---|---|---|---|")
    rows = []
    for seed in args.seeds:
        for sampler in ("notebook", "uniform"):
            t0 = time.perf_counter()
            m = train_plain(sampler, args.iterations, seed)
            dt = time.perf_counter() - t0
            rows.append(("plain PyTorch nn.RNN relu 100, Adam 1e-3", sampler, *score(m, seg), dt))
        models = {}
        for label, cfg in (
            ("rnnlab defaults (the notebook's: relu RNN 100, Adam 1e-3)",
             ForecastConfig(iterations=args.iterations, seed=seed, device="cpu")),
            ("rnnlab, lr 3e-3 + clip 1.0",
             ForecastConfig(iterations=args.iterations, lr=3e-3, clip_grad_norm=1.0,
                            seed=seed, device="cpu")),
            ("rnnlab gru 100",
             ForecastConfig(iterations=args.iterations, model="gru", seed=seed,
                            device="cpu")),
        ):
            t0 = time.perf_counter()
            res = train_forecast(cfg)
            dt = time.perf_counter() - t0
            models.setdefault(1, res.model)  # the defaults: one layer
            nxt = predict_next_step(res.model, seg[:, :20])
            rows.append((label, cfg.sampler, float(np.mean((nxt - seg[:, 1:]) ** 2)),
                         float(np.mean((nxt[:, -1] - seg[:, 20]) ** 2)), dt))
        if args.stack:
            t0 = time.perf_counter()
            try:
                res = train_forecast(ForecastConfig(iterations=args.iterations, layers=3,
                                                    seed=seed, device="cpu"))
            except TrainingError as e:
                print(f"3-layer stack diverged: {e}")
                args.stack = False
            else:
                dt = time.perf_counter() - t0
                nxt = predict_next_step(res.model, seg[:, :20])
                models[3] = res.model
                rows.append(("rnnlab 3 x relu RNN 100", "uniform",
                             float(np.mean((nxt - seg[:, 1:]) ** 2)),
                             float(np.mean((nxt[:, -1] - seg[:, 20]) ** 2)), dt))
        for r in rows:
            print(f"| {r[0]} (seed {seed}) | {r[1]} | {r[2]:.4f} | {r[3]:.5f} | {r[4]:.1f} |")
        rows.clear()
        if args.stack:
            t = 12.2 + np.arange(21) * 0.1
            inst = time_series(t)[None, :20]
            preds = {name: predict_next_step(models[k], inst)[0]
                     for name, k in (("single RNN", 1), ("three RNNs", 3))}
            Path(args.out).mkdir(parents=True, exist_ok=True)
            save_figure(plot_compare(t[1:], time_series(t[1:]), preds), Path(args.out) /
                        f"compare-seed{seed}.png")
    print()
    print("| projection (relu RNN 100, B=50, T=20) | ms per forward+backward |")
    print("|---|---|")
    for k, v in time_projection().items():
        print(f"| {k} | {v:.2f} |")

    co2 = find_co2(args.co2)
    print()
    if co2 is None:
        print("co2.csv not found: pass --co2 (see the module doc); real-series part skipped")
        return 0
    s = read_series(co2, "co2", missing="interpolate")  # weekly: interpolate by position
    print(f"Mauna Loa weekly CO2, {s[0].values.size} weeks (gaps interpolated), window 64, "
          "horizon 4, period 52, 70/15/15 chronological split")
    print()
    print("| model | test MSE (ppm^2) | MAE (ppm) | persistence | seasonal naive | linear AR | "
          "beats persistence |")
    print("|---|---|---|---|---|---|---|")
    for model in ("rnn", "gru", "lstm"):
        cfg = ForecastConfig(series=str(co2), column="co2", missing="interpolate",
                             window=64, horizon=4, period=52, model=model, units=64,
                             epochs=args.co2_epochs, batch_size=32, device="cpu",
                             activation="tanh")
        run = Path(args.out) / f"co2-{model}"
        train_forecast(cfg, run_dir=run, overwrite=True, evaluate=False)
        ev = evaluate_forecast(run)
        b = ev["baselines"]
        print(f"| {model} 64 | {ev['mse']:.3f} | {ev['mae']:.3f} | "
              f"{b['persistence']['mse']:.3f} | {b['seasonal_naive']['mse']:.3f} | "
              f"{b['linear_ar']['mse']:.3f} | {ev['beats_persistence']} |")
    ds = prepare_series(s, window=64, horizon=4)
    print(f"\n(test windows: {len(ds.test)}; plots in {args.out}/co2-*/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
