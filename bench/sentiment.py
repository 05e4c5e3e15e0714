"""IMDB sentiment: rnnlab models on a fixed validation split, beside TF-IDF + logistic regression.

Every model trains on the 25,000 labelled reviews of the aclImdb train tarball minus the
fixed 10% validation split of ``rnnlab.tasks.sentiment`` (the test split is held back);
the number reported is the validation accuracy at the best epoch. The practitioner's
first try, TF-IDF (uni+bigrams) + logistic regression from scikit-learn, runs on the same
split when scikit-learn is installed. ``default`` is what ``rnnlab train text`` trains with
no ``--model`` (``nblr``, chosen by 5-fold cross-validation in ``bench/text_cv.py``, which
runs the same TF-IDF + LR anchor on the same folds).

    python bench/sentiment.py --cases notebook glove200 best default tfidf
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from rnnlab.tasks.sentiment import SentimentConfig, load_texts, split_indices, train_sentiment
from rnnlab.train import FitConfig

TARBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "aclImdb_train.tar.gz"

CASES = {
    # The notebook's first model: Embedding(10000, 8) + Flatten + Dense, maxlen 50, RMSprop.
    "notebook": (dict(model="flatten", maxlen=50, num_words=10000, embedding_dim=8),
                 dict(epochs=10, batch_size=32, optimizer="rmsprop", lr=1e-3)),
    # The notebook's second: frozen GloVe + Flatten + Dense(32) + Dense(1), 200 reviews.
    "glove200": (dict(model="glove-flatten", maxlen=100, num_words=10000,
                      embedding="glove-6b-50d", freeze=True, hidden=32, train_size=200),
                 dict(epochs=10, batch_size=32, optimizer="rmsprop", lr=1e-3)),
    # The same 200 reviews and frozen GloVe, averaged (a bag of vectors) instead of flattened.
    "glove200-bag": (dict(model="bag", maxlen=400, num_words=10000, embedding="glove-6b-50d",
                          freeze=True, train_size=200),
                     dict(epochs=40, batch_size=32, optimizer="adam", lr=1e-2)),
    # A bag of word and hashed-bigram embeddings (the fastText recipe).
    "fasttext": (dict(model="bag", maxlen=1000, num_words=50000, embedding_dim=16,
                      bigram_buckets=500_000),
                 dict(epochs=10, batch_size=256, optimizer="adam", lr=5e-3)),
    # rnnlab's best: NBSVM (naive-Bayes-scaled words and hashed bigrams, logistic loss).
    "best": (dict(model="nbsvm", maxlen=1000, num_words=50000, bigram_buckets=4_000_000),
             dict(epochs=4, batch_size=256, optimizer="adam", lr=1e-2)),
    # The default since issue 16: nblr (NB-scaled words + hashed bigrams, exact L2 LR).
    "default": (dict(model="nblr"), dict()),
}


def run_case(name: str, tarball: Path, seed: int) -> dict:
    data, fit = CASES[name]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        _, history = train_sentiment(
            SentimentConfig(tarball=str(tarball), **data),
            FitConfig(seed=seed, device="cpu", monitor="val_accuracy", plot=False, **fit),
            run_dir=run_dir)
    return {"val_accuracy": history.best, "best_epoch": history.best_epoch,
            "seconds": time.perf_counter() - start}


def tfidf_baseline(tarball: Path) -> dict | None:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    start = time.perf_counter()
    texts, labels, _ = load_texts(SentimentConfig(tarball=str(tarball)))
    train, val = split_indices(len(texts), 0.1, None)
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform([texts[i] for i in train])
    x_val = vectorizer.transform([texts[i] for i in val])
    clf = LogisticRegression(C=4.0, max_iter=1000).fit(x_train, labels[train])
    return {"val_accuracy": float((clf.predict(x_val) == labels[val]).mean()),
            "best_epoch": None, "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+",
                        default=["notebook", "glove200", "best", "default", "tfidf"])
    parser.add_argument("--tarball", type=Path, default=TARBALL)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name in args.cases:
        result = tfidf_baseline(args.tarball) if name == "tfidf" else run_case(
            name, args.tarball, args.seed)
        if result is None:
            print(f"{name}: skipped (scikit-learn is not installed)")
            continue
        results[name] = result
        print(f"{name:<10} val accuracy {result['val_accuracy']:.4f}  best epoch "
              f"{result['best_epoch']}  {result['seconds']:.0f} s", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
