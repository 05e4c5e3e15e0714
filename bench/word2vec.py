"""Benchmark rnnlab's word2vec against gensim on aclImdb (train + unsup reviews).

Both trainers get the same tokenised corpus (lower-case, punctuation stripped, as
/work/shared/bench/imdb_tokenize.py) in memory, the same settings, and each runs in a fresh
subprocess so that its peak memory (ru_maxrss) is its own. Words/s = corpus tokens x epochs
/ wall time of vocabulary building plus training. Both sets of vectors are scored by
rnnlab.vectors (gensim's semantics): analogy accuracy on the top 30,000 words (by count,
ties in order of first appearance, the same words for both) of
questions-words.txt and Spearman on WordSim353, both files shipped with gensim.

    python bench/word2vec.py --limit-docs 10000          # quick
    python bench/word2vec.py                             # the full 75,000 reviews, 5 epochs
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "aclImdb_train.tar.gz"


def gensim_test_file(name: str) -> Path:
    import gensim

    return Path(gensim.__file__).parent / "test" / "test_data" / name


def write_corpus(archive: Path, out: Path, limit: int | None) -> int:
    """Tokenise train/{neg,pos,unsup} reviews (sorted by name) to one line per review."""
    sys.path.insert(0, str(ROOT / "src"))
    from rnnlab.word2vec import tokenize

    with tarfile.open(archive, "r:gz") as tar:
        texts = {}
        for m in tar:
            parts = m.name.split("/")
            if m.isfile() and m.name.endswith(".txt") and len(parts) >= 3 and parts[-3] == "train" \
                    and parts[-2] in ("neg", "pos", "unsup"):
                texts[m.name] = tar.extractfile(m).read().decode("utf-8", "replace")
    names = sorted(texts)
    if limit:
        names = names[:limit]
    tokens = 0
    with open(out, "w", encoding="utf-8") as fh:
        for n in names:
            words = tokenize(texts[n])
            tokens += len(words)
            fh.write(" ".join(words) + "\n")
    return tokens


def child(args) -> None:
    """Train one model on the tokenised corpus and print a JSON line of results."""
    sys.path.insert(0, str(ROOT / "src"))
    with open(args.corpus, encoding="utf-8") as fh:
        docs = [line.split() for line in fh]
    tokens = sum(map(len, docs))
    settings = dict(dim=args.dim, window=args.window, negative=args.negative,
                    min_count=args.min_count, sample=args.sample, epochs=args.epochs,
                    workers=args.workers, seed=args.seed)
    start = time.perf_counter()
    if args.child == "gensim":
        from gensim.models import Word2Vec

        from rnnlab.embeddings import WordVectors

        m = Word2Vec(docs, vector_size=args.dim, window=args.window, negative=args.negative,
                     min_count=args.min_count, sample=args.sample, epochs=args.epochs,
                     workers=args.workers, seed=args.seed, sg=int(args.model == "skipgram"),
                     hs=0)
        seconds = time.perf_counter() - start
        # gensim breaks count ties in no fixed order; put its words in rnnlab's order (count,
        # then first appearance) so "the top 30,000 words" are the same words for both
        first: dict[str, int] = {}
        for doc in docs:
            for word in doc:
                first.setdefault(word, len(first))
        words = m.wv.index_to_key
        order = sorted(range(len(words)),
                       key=lambda i: (-m.wv.get_vecattr(words[i], "count"), first[words[i]]))
        wv = WordVectors(words=tuple(words[i] for i in order), vectors=m.wv.vectors[order])
        loss = None
    else:
        from rnnlab.word2vec import Word2VecConfig, train_word2vec

        cfg = Word2VecConfig(model=args.model, deterministic=args.deterministic, **settings)
        wv, history = train_word2vec(docs, cfg)
        seconds = time.perf_counter() - start
        loss = [round(h["loss"], 4) for h in history]
    from rnnlab.vectors import evaluate_analogies, evaluate_word_pairs

    acc = evaluate_analogies(wv, gensim_test_file("questions-words.txt"), restrict_vocab=30000)
    ws = evaluate_word_pairs(wv, gensim_test_file("wordsim353.tsv"))
    print(json.dumps({
        "trainer": args.child, "tokens": tokens, "seconds": seconds,
        "words_per_sec": tokens * args.epochs / seconds, "vocab": len(wv.words),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "analogy": acc.accuracy, "analogy_questions": acc.total, "wordsim353": ws.spearman,
        "loss": loss,
    }))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--limit-docs", type=int, default=None)
    p.add_argument("--model", choices=["skipgram", "cbow"], default="skipgram")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--trainers", default="gensim,rnnlab")
    p.add_argument("--child", choices=["gensim", "rnnlab"], help=argparse.SUPPRESS)
    p.add_argument("--corpus", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        t = time.perf_counter()
        tokens = write_corpus(args.data, corpus, args.limit_docs)
        print(f"corpus: {tokens:,} tokens, tokenised in {time.perf_counter() - t:.0f}s", flush=True)
        passthrough = [f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
                       if v is not None and k not in ("trainers", "child", "corpus", "data",
                                                      "limit_docs", "deterministic")]
        passthrough += ["--deterministic"] if args.deterministic else []
        results = {}
        for name in args.trainers.split(","):
            out = subprocess.run(
                [sys.executable, __file__, *passthrough, "--child", name, "--corpus", str(corpus)],
                capture_output=True, text=True,
            )
            if out.returncode:
                sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
            results[name] = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps(results[name]), flush=True)
    print(f"\nload average: {os.getloadavg()}")
    head = ("trainer", "words/s", "seconds", "peak MiB", "analogy", "ws353")
    print("{:8} {:>10} {:>8} {:>9} {:>8} {:>7}".format(*head))
    for name, r in results.items():
        print(f"{name:8} {r['words_per_sec']:10,.0f} {r['seconds']:8.1f} {r['peak_mib']:9.0f} "
              f"{r['analogy']:8.3f} {r['wordsim353']:7.3f}")
    if {"gensim", "rnnlab"} <= results.keys():
        g, r = results["gensim"], results["rnnlab"]
        print(f"ratio rnnlab/gensim words/s: {r['words_per_sec'] / g['words_per_sec']:.2f}; "
              f"analogy {r['analogy'] - g['analogy']:+.3f}; "
              f"wordsim353 {r['wordsim353'] - g['wordsim353']:+.3f}")


if __name__ == "__main__":
    main()
