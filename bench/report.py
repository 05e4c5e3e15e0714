"""How long ``rnnlab report`` takes, and how large the file is, for runs of 100 epochs.

Trains small real runs of 100 epochs (the digits classifier, a forecaster on a
seasonal CSV series), then times ``rnnlab.report.write_report`` on each (best of
``--repeats``) and reports the file's size. The issue's targets: under 2 s and 2 MB.

    PYTHONPATH=src .venv/bin/python bench/report.py
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _series_csv(path: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(400)
    y = 10 + np.sin(2 * np.pi * t / 12) * 3 + rng.normal(0, 0.3, t.size)
    path.write_text("t,y\n" + "".join(f"{i},{v:.4f}\n" for i, v in zip(t, y, strict=True)))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    from rnnlab import cli
    from rnnlab.report import write_report

    common = ["--epochs", str(args.epochs), "--patience", "1000", "--quiet", "--threads", "1"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runs = {
            "classify (digits, GRU 8)": (root / "digits", [
                "train", "classify", "--dataset", "digits", "--model", "gru", "--units", "8",
                "--batch-size", "256"]),
            "forecast (CSV, RNN 8)": (root / "series", [
                "train", "forecast", "--series", str(_series_csv(root / "s.csv")), "--column",
                "y", "--time-column", "t", "--units", "8", "--window", "24", "--horizon",
                "6"]),
        }
        print(f"| run | epochs | first report s | best of {args.repeats} s | size KB |")
        print("|---|---|---|---|---|")
        for name, (run, command) in runs.items():
            with contextlib.redirect_stdout(io.StringIO()):
                code = cli.main([*command, *common, "--out", str(run)])
            if code != 0:
                raise SystemExit(f"{name}: training failed")
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                path = write_report(run, root / "report.html")
                times.append(time.perf_counter() - start)
            print(f"| {name} | {args.epochs} | {times[0]:.3f} | {min(times):.3f} | "
                  f"{path.stat().st_size / 1e3:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    sys.exit(main())
