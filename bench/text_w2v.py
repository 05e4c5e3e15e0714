"""Does rnnlab's own word2vec on the unlabelled reviews add to nblr? (issue 16, a candidate).

Word vectors are trained by ``rnnlab.word2vec.train_word2vec`` on the 75,000 train +
unsup reviews (no labels are read for them), once, and cached under ``--cache``. Each
review becomes the mean of its words' vectors; a logistic regression on those (scikit-
learn, C=1, standardised) is scored alone and blended with nblr's logit,
``z = z_nblr + a * z_w2v``, on the same 5 folds as ``bench/text_cv.py``. The blend weight
``a`` is reported for a grid; choosing it on the same folds is optimistic by a little (one
parameter), which the table says.

    python bench/text_w2v.py --epochs 2 --use-folds 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from text_cv import TARBALL, folds_of, labelled_texts, token_ids

from rnnlab.models.text_nbsvm import NgramLinear
from rnnlab.models.text_ngrams import ngram_rows


def unsup_texts(tarball: Path, cache: Path) -> list[str]:
    path = cache / "unsup.json"
    if path.is_file():
        return json.loads(path.read_text())
    from rnnlab.data.imdb import load_imdb

    texts = list(load_imdb(tarball, "train", labels=("unsup",)).texts)
    path.write_text(json.dumps(texts))
    return texts


def vectors(texts, cache: Path, epochs: int, dim: int):
    path = cache / f"w2v-e{epochs}-d{dim}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return list(z["words"]), z["vectors"], float(z["seconds"])
    from rnnlab.word2vec import Word2VecConfig, train_word2vec

    start = time.perf_counter()
    wv, _ = train_word2vec(texts, Word2VecConfig(dim=dim, epochs=epochs, workers=2))
    seconds = time.perf_counter() - start
    np.savez(path, words=np.array(wv.words), vectors=wv.vectors, seconds=seconds)
    return list(wv.words), wv.vectors, seconds


def doc_means(texts, words, vecs) -> np.ndarray:
    from rnnlab.word2vec.vocab import tokenize

    index = {w: i for i, w in enumerate(words)}
    out = np.zeros((len(texts), vecs.shape[1]), np.float32)
    for k, text in enumerate(texts):
        ids = [index[t] for t in tokenize(text) if t in index]
        if ids:
            out[k] = vecs[ids].mean(0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rnnlab-textcv"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--use-folds", type=int, default=None)
    parser.add_argument("--c", type=float, default=0.3, help="nblr's C")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    args.cache.mkdir(parents=True, exist_ok=True)
    texts, y = labelled_texts(args.tarball, args.cache)
    words, vecs, w2v_s = vectors(texts + unsup_texts(args.tarball, args.cache), args.cache,
                                 args.epochs, args.dim)
    print(f"word2vec: {len(words)} words, {w2v_s:.0f} s", flush=True)
    feats = doc_means(texts, words, vecs)
    rows = ngram_rows(token_ids(texts, args.cache, "punct"), ngrams=3, buckets=1 << 23)
    folds = folds_of(len(texts), args.folds)
    blends = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
    results: dict = {"w2v alone": []}
    for f, test in enumerate(folds[:args.use_folds]):
        train = np.concatenate([g for i, g in enumerate(folds) if i != f])
        scaler = StandardScaler().fit(feats[train])
        lr = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(feats[train]),
                                                          y[train])
        z_w2v = lr.decision_function(scaler.transform(feats[test]))
        nb = NgramLinear.fit(rows.take(train), y[train], 2, c=args.c, min_df=2)
        z_nb = nb.logits(rows.take(test)).numpy().astype(np.float64)
        results["w2v alone"].append(float(((z_w2v > 0) == y[test]).mean()))
        for a in blends:
            acc = float(((z_nb + a * z_w2v > 0) == y[test]).mean())
            results.setdefault(f"nblr + {a} w2v", []).append(acc)
        print(f"fold {f}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in results.items()),
              flush=True)
    for key, accs in results.items():
        print(f"{key}: mean {np.mean(accs):.4f} folds {' '.join(f'{a:.4f}' for a in accs)}")
        if args.json:
            with args.json.open("a") as fh:
                fh.write(json.dumps({"case": [key, f"w2v e{args.epochs} d{args.dim}"],
                                     "folds": accs}) + "\n")


if __name__ == "__main__":
    main()
