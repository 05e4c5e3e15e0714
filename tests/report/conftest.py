"""Tiny runs of every task (one per module that asks) and one headless browser per module."""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnlab import cli

DIGITS = ["--dataset", "digits", "--model", "gru", "--units", "4", "--batch-size", "64",
          "--epochs", "3", "--quiet", "--threads", "1", "--device", "cpu"]
GOOD = ["great", "wonderful", "superb", "loved", "brilliant"]
BAD = ["awful", "boring", "terrible", "hated", "dreadful"]
FILLER = ["the", "movie", "plot", "actor", "scene", "it", "was", "and"]


def train(*argv: str) -> int:
    return cli.main(["train", *argv])


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def classify_run(root) -> Path:
    run = root / "digits"
    assert train("classify", *DIGITS, "--out", str(run)) == 0
    return run


@pytest.fixture(scope="module")
def sequences_run(root) -> Path:
    """A classify run on a .ts file of variable-length sequences, with a test file."""
    from rnnlab.data.synthetic_sequences import make_sequences
    from rnnlab.data.ts import write_ts

    labels = ["walk", "run", "jump"]
    for name, n, seed in (("train.ts", 90, 1), ("test.ts", 30, 2)):
        write_ts(root / name, make_sequences(n, num_classes=3, num_features=2, min_length=13,
                                             max_length=40, seed=seed, labels=labels))
    run = root / "sequences"
    assert train("classify", "--dataset", str(root / "train.ts"), "--test",
                 str(root / "test.ts"), "--units", "8", "--epochs", "3", "--batch-size", "16",
                 "--quiet", "--threads", "1", "--device", "cpu", "--out", str(run)) == 0
    return run


@pytest.fixture(scope="module")
def text_run(root) -> Path:
    rng = random.Random(0)
    data = root / "texts.csv"
    with open(data, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        for i in range(60):
            pos = i % 2 == 0
            words = rng.choices(FILLER, k=5) + rng.choices(GOOD if pos else BAD, k=2)
            rng.shuffle(words)
            writer.writerow([" ".join(words), "pos" if pos else "neg"])
    run = root / "text"
    assert train("text", "--input", str(data), "--model", "bag", "--maxlen", "10",
                 "--num-words", "40", "--embedding-dim", "4", "--epochs", "3", "--lr", "0.05",
                 "--optimizer", "adam", "--out", str(run), "--quiet", "--device", "cpu") == 0
    return run


@pytest.fixture(scope="module")
def forecast_run(root) -> Path:
    run = root / "forecast"
    assert train("forecast", "--iterations", "30", "--units", "4", "--out", str(run),
                 "--quiet", "--device", "cpu") == 0
    return run


@pytest.fixture(scope="module")
def backtest_run(root) -> Path:
    rng = np.random.default_rng(0)
    lines = ["id,month,sales"]
    for i, n in enumerate((40, 30, 25)):
        for k in range(n):
            m = 5 * i + k
            v = 20 + i + 4 * np.sin(2 * np.pi * m / 12) + rng.normal(0, 0.3)
            lines.append(f"s{i},{2000 + m // 12}-{m % 12 + 1:02d}-01,{v:.3f}")
    panel = root / "panel.csv"
    panel.write_text("\n".join(lines) + "\n")
    out = root / "bt"
    assert cli.main(["backtest", "--series", str(panel), "--column", "sales", "--time-column",
                     "month", "--id-column", "id", "--horizon", "3", "--windows", "2",
                     "--units", "4", "--ensemble", "1", "--epochs", "2", "--min-steps", "0",
                     "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def panel_run(root, backtest_run) -> Path:
    """``rnnlab train forecast`` on the backtest's panel: the global model's run folder."""
    out = root / "panel"
    assert cli.main(["train", "forecast", "--series", str(root / "panel.csv"), "--column",
                     "sales", "--time-column", "month", "--id-column", "id", "--horizon",
                     "3", "--units", "4", "--epochs", "2", "--min-steps", "0", "--device",
                     "cpu", "--quiet", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def word2vec_file(root) -> Path:
    rng = random.Random(1)
    corpus = root / "corpus.txt"
    words = ["the", "cat", "dog", "sat", "on", "mat", "log", "and", "a", "ran"]
    corpus.write_text("\n".join(" ".join(rng.choices(words, k=12)) for _ in range(300)))
    out = root / "vectors.txt"
    assert cli.main(["word2vec", str(corpus), "--out", str(out), "--dim", "16",
                     "--min-count", "1", "--quiet"]) == 0
    return out


def _chromium() -> tuple[str, str] | None:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(n)), None)
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium driven by selenium; skipped only where either cannot be found."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    found = _chromium()
    if found is None:
        pytest.skip("chromium and chromedriver are not installed (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()
