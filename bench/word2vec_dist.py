"""Word2vec on 1 and 2 processes beside 2 threads in one process, same corpus and settings.

Words/s = corpus tokens x epochs / wall time including start-up and vocabulary. The runs
alternate (1 process, 2 processes, 2 threads, then again in reverse order) so that load
from other jobs falls on all of them. 2 processes and 2 threads give the same vectors (the
same 2-shard schedule; docs/distributed.md), so their losses are equal.

    python bench/word2vec_dist.py [--limit-docs 10000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from word2vec import DEFAULT_DATA, write_corpus

from rnnlab.word2vec import Word2VecConfig, train_word2vec
from rnnlab.word2vec_dist import train_word2vec_distributed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-docs", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        write_corpus(args.data, corpus, args.limit_docs)
        runs = [("processes", 1), ("processes", 2), ("threads", 2)]
        print(f"{'run':<14} {'wall s':>7} {'words/s':>9} {'train s':>8} {'sync s':>7} "
              f"{'loss':>7}")
        for kind, n in runs + runs[::-1]:
            cfg = Word2VecConfig(epochs=args.epochs, workers=n if kind == "threads" else 1)
            start = time.perf_counter()
            if kind == "threads":
                _, history = train_word2vec([corpus], cfg)
            else:
                _, history = train_word2vec_distributed([corpus], cfg, Path(tmp) / "v.bin",
                                                        nproc=n, binary=True)
            wall = time.perf_counter() - start
            words = sum(row["words"] for row in history)
            train = sum(row["seconds"] for row in history)
            sync = sum(row.get("sync_seconds", 0.0) for row in history)
            print(f"{n} {kind:<12} {wall:>7.1f} {words / wall:>9,.0f} {train:>8.1f} "
                  f"{sync:>7.1f} {history[-1]['loss']:>7.4f}", flush=True)


if __name__ == "__main__":
    main()
