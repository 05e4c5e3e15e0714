"""Time the default text command and prediction (issue 16): train, then predict 25,000 reviews.

Trains ``TextConfig(data=TextData(tarball=...))`` with every other setting at its default
(what ``rnnlab train text --tarball FILE --out RUN`` runs), on the aclImdb train tarball,
through ``TextTask.train`` into a fresh run folder; then times ``TextTask.predict`` (model
loading included) on the 25,000 labelled training reviews, and ``rnnlab predict RUN
--input -`` on 10,000 of them piped in, one per line. The test split is never read.

    python bench/text_default.py --out /tmp/imdb-default
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_train.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    parser.add_argument("--out", type=Path, default=Path("/tmp/rnnlab-imdb-default"))
    args = parser.parse_args()
    start = time.perf_counter()
    from rnnlab.data.imdb import load_imdb
    from rnnlab.runs import RunDir
    from rnnlab.tasks.text import TextTask
    from rnnlab.tasks.text_config import TextConfig, TextData

    task, run = TextTask(), RunDir(args.out)
    result = task.train(TextConfig(data=TextData(tarball=str(args.tarball))), run)
    train_s = time.perf_counter() - start
    row = result.history.rows[-1]
    print(f"train: {train_s:.1f} s wall (fit {row['seconds']:.1f} s), val accuracy "
          f"{row['val_accuracy']:.4f}", flush=True)

    texts = list(load_imdb(args.tarball, "train").texts)
    start = time.perf_counter()
    rows = task.predict(run, inputs={"text": texts})
    predict_s = time.perf_counter() - start
    print(f"predict {len(rows)} reviews: {predict_s:.1f} s (model loading included)", flush=True)

    lines = "\n".join(t.replace("\n", " ") for t in texts[:10_000]).encode() + b"\n"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "rnnlab", "predict", str(run.path), "--input",
                          "-", "--json", "--quiet"], input=lines, capture_output=True, env=env,
                         check=True).stdout
    pipe_s = time.perf_counter() - start
    answers = out.decode().splitlines()
    print(f"rnnlab predict --input - on 10,000 piped lines: {pipe_s:.1f} s wall, "
          f"{len(answers)} answers; first: {json.loads(answers[0])['label']}", flush=True)
    size = sum(p.stat().st_size for p in run.path.iterdir()) / 2**20
    print(f"run folder: {size:.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
