"""Cross-validate text classifiers on the 25,000 labelled IMDB training reviews (issue 16).

The test split is never read. The labelled reviews are cut into 5 folds by one seeded
permutation (``FOLD_SEED``); every candidate is scored on the same folds, and the table
reports the mean accuracy and the spread of the per-fold differences against the
anchor, scikit-learn's TF-IDF (1-2 grams, sublinear tf) + logistic regression.

Tokenised reviews and hashed n-gram sets are cached under ``--cache`` (``/tmp``), so a
candidate costs only its fit. The word ids come from one tokenizer fitted on all 25,000
labelled reviews (``rnnlab train text`` fits it on the training part only: a word that
only the held-out fold has becomes a hashed n-gram no training text holds, weight 0).

    python bench/text_cv.py --cases tfidf nblr --folds 5
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from rnnlab.models.text_nbsvm import _lbfgs, nb_ratios
from rnnlab.models.text_ngrams import NgramRows, flatten_sequences, ngram_rows, row_dot

TARBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_train.tar.gz"
FOLD_SEED = 16


def labelled_texts(tarball: Path, cache: Path):
    path = cache / "texts.json"
    if path.is_file():
        data = json.loads(path.read_text())
        return data["texts"], np.asarray(data["labels"], np.int64)
    from rnnlab.data.imdb import load_imdb

    data = load_imdb(tarball, "train")
    texts, labels = list(data.texts), np.asarray(data.labels, np.int64)
    path.write_text(json.dumps({"texts": texts, "labels": labels.tolist()}))
    return texts, labels


def token_ids(texts, cache: Path, variant: str):
    path = cache / f"ids-{variant}.npz"
    if path.is_file():
        z = np.load(path)
        return z["ids"], z["offsets"]
    from rnnlab.tasks.text_data import make_tokenizer
    from rnnlab.tasks.text_ngram import ngram_tokenizer, prepare

    if variant == "punct":  # rnnlab's nblr: ! and ? are words
        seqs = ngram_tokenizer().fit_on_texts_to_sequences(prepare(texts))
    else:  # Keras' filters: punctuation dropped
        tok = make_tokenizer(None)
        seqs = tok.fit_on_texts_to_sequences(texts)
    ids, offsets = flatten_sequences(seqs)
    np.savez(path, ids=ids, offsets=offsets)
    return ids, offsets


def folds_of(n: int, k: int):
    order = np.random.default_rng(FOLD_SEED).permutation(n)
    return np.array_split(order, k)


def nbsvm_case(rows: NgramRows, y, folds, cs, betas, min_df, log, use=None):
    """Accuracy per (C, beta) per fold: {(c, beta): [acc...]}."""
    out: dict = {}
    for f, test in enumerate(folds[:use]):
        train = np.concatenate([g for i, g in enumerate(folds) if i != f])
        tr, te = rows.take(train), rows.take(test)
        df = np.bincount(tr.indices, minlength=rows.buckets)
        columns = np.flatnonzero(df >= min_df)
        column_of = np.full(rows.buckets, -1, np.int64)
        column_of[columns] = np.arange(len(columns))
        tr, te = tr.remap(column_of), te.remap(column_of)
        tr = NgramRows(tr.indptr, tr.indices, len(columns))
        te = NgramRows(te.indptr, te.indices, len(columns))
        r = nb_ratios(tr, y[train], 2)
        for c in cs:
            start = time.perf_counter()
            w, b = _lbfgs(tr, y[train], r, c, 300, 1e-5)
            secs = time.perf_counter() - start
            for beta in betas:
                wb = (1 - beta) * np.abs(w).mean() + beta * w
                z = row_dot(te.indptr, te.indices, r * wb)[:, 0] + b[0]
                acc = float(((z > 0) == y[test]).mean())
                out.setdefault((c, beta), []).append(acc)
                log(f"  fold {f} C={c} beta={beta}: {acc:.4f} ({secs:.0f} s fit, "
                    f"{len(columns)} columns)")
    return out


def tfidf_case(texts, y, folds, log, use=None):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    accs = []
    for f, test in enumerate(folds[:use]):
        train = np.concatenate([g for i, g in enumerate(folds) if i != f])
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        xtr = vec.fit_transform([texts[i] for i in train])
        xte = vec.transform([texts[i] for i in test])
        clf = LogisticRegression(C=4.0, max_iter=1000).fit(xtr, y[train])
        accs.append(float((clf.predict(xte) == y[test]).mean()))
        log(f"  fold {f} tfidf: {accs[-1]:.4f}")
    return {("tfidf",): accs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/rnnlab-textcv"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--use-folds", type=int, default=None,
                        help="score only the first N folds (expensive candidates)")
    parser.add_argument("--cases", nargs="+", default=["nbsvm"])
    parser.add_argument("--ngrams", type=int, nargs="+", default=[3])
    parser.add_argument("--buckets", type=int, default=1 << 23)
    parser.add_argument("--cs", type=float, nargs="+", default=[1.0])
    parser.add_argument("--betas", type=float, nargs="+", default=[1.0])
    parser.add_argument("--min-df", type=int, default=1)
    parser.add_argument("--variant", default="plain", choices=["plain", "punct"])
    parser.add_argument("--json", type=Path, help="append the results here (JSON lines)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    texts, y = labelled_texts(args.tarball, args.cache)
    folds = folds_of(len(texts), args.folds)
    results = {}
    for case in args.cases:
        if case == "tfidf":
            results.update(tfidf_case(texts, y, folds, log, args.use_folds))
            continue
        ids, offsets = token_ids(texts, args.cache, args.variant)
        for n in args.ngrams:
            start = time.perf_counter()
            rows = ngram_rows((ids, offsets), ngrams=n, buckets=args.buckets)
            log(f"hashed {n}-grams in {time.perf_counter() - start:.1f} s")
            res = nbsvm_case(rows, y, folds, args.cs, args.betas, args.min_df, log,
                             args.use_folds)
            for (c, beta), accs in res.items():
                results[(f"nbsvm{n}", args.variant, args.buckets, args.min_df, c, beta)] = accs
    for key, accs in results.items():
        log(f"{' '.join(map(str, key))}: mean {np.mean(accs):.4f} folds "
            f"{' '.join(f'{a:.4f}' for a in accs)}")
        if args.json:
            with args.json.open("a") as f:
                f.write(json.dumps({"case": list(key), "folds": accs}) + "\n")


if __name__ == "__main__":
    main()
