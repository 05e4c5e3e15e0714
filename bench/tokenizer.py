"""Tokenizer speed: rnnlab's Tokenizer against the plain-Python baseline, same texts, same output.

Loads the 75,000 train reviews (pos, neg, unsup) of the aclImdb tarball once, then times
fitting a 10,000-word vocabulary and indexing every review, both with the baseline of
``shared/bench/imdb_tokenize.py`` (``fit_vocab`` + ``to_seqs``) and with
``rnnlab.text.Tokenizer`` set up to tokenize exactly as the baseline does (lower-case,
Keras' filters, ``<br />`` removed, cut on any white space). It checks that both give the
same sequences, and prints a table of the best of ``--repeats`` runs (CPU seconds of this
process, which other jobs on a shared machine disturb less than wall time; wall time too).
The first run's CPU seconds are shown apart: rnnlab's first call in a process also loads
its compiled numba kernel from the on-disk cache (or compiles it, a few seconds, the very
first time).

    python bench/tokenizer.py [--tarball ../shared/data/aclImdb_train.tar.gz] [--repeats 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from rnnlab.data.imdb import read_imdb_tarball
from rnnlab.text import Tokenizer

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"


def _baseline(path: Path):
    spec = importlib.util.spec_from_file_location("imdb_tokenize", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _time(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - w0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tarball", type=Path, default=SHARED / "data" / "aclImdb_train.tar.gz")
    ap.add_argument("--baseline", type=Path, default=SHARED / "bench" / "imdb_tokenize.py")
    ap.add_argument("--num-words", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)

    base = _baseline(args.baseline)
    t0 = time.perf_counter()
    texts = read_imdb_tarball(args.tarball, "train", labels=("neg", "pos", "unsup")).texts
    print(f"loaded {len(texts)} reviews from {args.tarball} in {time.perf_counter() - t0:.1f} s")

    def new_tok():
        return Tokenizer(args.num_words, split=None, remove=("<br />",))

    def baseline():
        index = base.fit_vocab(texts, args.num_words)
        return base.to_seqs(texts, index)

    def two_calls():
        tok = new_tok()
        tok.fit_on_texts(texts)
        return tok.texts_to_sequences(texts)

    def one_pass():
        return new_tok().fit_on_texts_to_sequences(texts)

    best: dict[str, tuple[float, float]] = {}
    first: dict[str, float] = {}
    ref = None
    for _ in range(args.repeats):
        for name, fn in (("baseline fit_vocab+to_seqs", baseline),
                         ("rnnlab fit_on_texts+texts_to_sequences", two_calls),
                         ("rnnlab fit_on_texts_to_sequences", one_pass)):
            out, cpu, wall = _time(fn)
            if ref is None:
                ref = out
            elif out != ref:
                print(f"MISMATCH: {name} gives other sequences than the baseline")
                return 1
            first.setdefault(name, cpu)
            c, w = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(c, cpu), min(w, wall))
            del out
    b_cpu = best["baseline fit_vocab+to_seqs"][0]
    print(f"\n{'':40s} {'CPU s':>7s} {'wall s':>7s} {'ratio (CPU)':>12s} {'1st run CPU s':>14s}")
    for name, (cpu, wall) in best.items():
        print(f"{name:40s} {cpu:7.2f} {wall:7.2f} {cpu / b_cpu:12.2f} {first[name]:14.2f}")
    print(f"\nsame sequences: yes ({sum(map(len, ref))} tokens kept); best of {args.repeats}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
