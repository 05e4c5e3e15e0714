"""Using word vectors: nearest neighbours, analogies and word-pair similarity.

References:
    Mikolov, T., Chen, K., Corrado, G. and Dean, J. (2013). Efficient estimation of word
    representations in vector space (3CosAdd and the questions-words.txt test set).
    Levy, O. and Goldberg, Y. (2014). Linguistic regularities in sparse and explicit word
    representations. CoNLL (3CosMul).
    Finkelstein, L. et al. (2002). Placing search in context (WordSim353).

The evaluations follow gensim's ``KeyedVectors.evaluate_word_analogies`` and
``evaluate_word_pairs`` exactly: only the ``restrict_vocab`` most frequent words (the first
rows) are considered; a question with a word outside them is skipped and counted as OOV;
case-insensitive matching maps an upper-cased word to its most frequent spelling; the
answer is the best-scoring restricted word other than the three question words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.embeddings import WordVectors
from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error

__all__ = [
    "AnalogyResult",
    "PairsResult",
    "analogy",
    "evaluate_analogies",
    "evaluate_vectors",
    "evaluate_word_pairs",
    "most_similar",
    "similarity",
    "spearman",
]

log = logging.getLogger(__name__)
METHODS = ("3cosadd", "3cosmul")


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def _lookup(wv: WordVectors, index: dict[str, int], word: str) -> int:
    try:
        return index[word]
    except KeyError:
        raise ConfigError(f"word {word!r} is not in the vocabulary of {len(index)} words") from None


def _top(scores: np.ndarray, topn: int, exclude) -> list[int]:
    """Indices of the topn largest scores, best first, skipping exclude."""
    k = min(len(scores), topn + len(exclude))
    best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    best = best[np.lexsort((best, -scores[best]))]
    return [int(i) for i in best if int(i) not in exclude][:topn]


def similarity(wv: WordVectors, a: str, b: str) -> float:
    """Cosine similarity of two words."""
    index = wv.index()
    u, v = _unit(wv.vectors[[_lookup(wv, index, a), _lookup(wv, index, b)]])
    return float(u @ v)


def most_similar(
    wv: WordVectors,
    positive=(),
    negative=(),
    topn: int = 10,
    restrict_vocab: int | None = None,
) -> list[tuple[str, float]]:
    """Words nearest (by cosine) to the mean of the positive minus the negative words.

    As gensim: each word's unit vector is weighted +1 or -1, the mean is normalised, the
    query words are excluded, and only the first ``restrict_vocab`` words are candidates.

    Args:
        wv: WordVectors (V, D).
        positive: words (or (D,) vectors) that add.
        negative: words (or vectors) that subtract.
        topn: number of neighbours.
        restrict_vocab: consider only the first (most frequent) words.

    Returns:
        [(word, cosine)] best first.

    Example:
        >>> most_similar(wv, ["king", "woman"], ["man"], topn=1)  # doctest: +SKIP
        [('queen', 0.71)]
    """
    if isinstance(positive, str):
        positive = [positive]
    if isinstance(negative, str):
        negative = [negative]
    index = wv.index()
    unit = _unit(wv.vectors)
    terms, exclude = [], set()
    for words, sign in ((positive, 1.0), (negative, -1.0)):
        for w in words:
            if isinstance(w, str):
                i = _lookup(wv, index, w)
                exclude.add(i)
                terms.append(sign * unit[i])
            else:
                terms.append(sign * np.asarray(w, np.float32))
    if not terms:
        raise ConfigError("most_similar needs at least one positive or negative word")
    mean = _unit(np.mean(terms, axis=0))
    limit = len(unit) if restrict_vocab is None else restrict_vocab
    scores = unit[:limit] @ mean
    return [(wv.words[i], float(scores[i])) for i in _top(scores, topn, exclude)]


def _analogy_scores(unit: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, method: str):
    """Scores (Q, R) of every candidate for questions a:b :: c:? (indices (Q,))."""
    if method == "3cosadd":
        query = _unit(unit[b] + unit[c] - unit[a])  # gensim's mean of +b, +c, -a, normalised
        return query @ unit.T
    # 3CosMul (Levy & Goldberg): cosines shifted to [0, 1], as gensim's most_similar_cosmul
    cos = [(1 + unit[x] @ unit.T) / 2 for x in (a, b, c)]
    return cos[1] * cos[2] / (cos[0] + 1e-6)


def analogy(
    wv: WordVectors, a: str, b: str, c: str, method: str = "3cosadd", topn: int = 1
) -> list[tuple[str, float]]:
    """Solve "a is to b as c is to ?" (``king``: a=man, b=king, c=woman gives queen).

    Args:
        wv: WordVectors.
        a, b, c: the question words.
        method: "3cosadd" (b - a + c) or "3cosmul" (Levy & Goldberg 2014).
        topn: answers to return.

    Returns:
        [(word, score)] best first, the question words excluded.

    Example:
        >>> analogy(wv, "man", "king", "woman")  # doctest: +SKIP
        [('queen', 0.71)]
    """
    if method not in METHODS:
        raise choice_error("method", method, METHODS)
    index = wv.index()
    ids = [np.array([_lookup(wv, index, w)]) for w in (a, b, c)]
    scores = _analogy_scores(_unit(wv.vectors), *ids, method)[0]
    exclude = {int(i[0]) for i in ids}
    return [(wv.words[i], float(scores[i])) for i in _top(scores, topn, exclude)]


@dataclass
class AnalogyResult:
    """Accuracy of an analogy test, per section and in total (gensim's numbers)."""

    accuracy: float
    correct: int
    total: int
    oov: int
    questions: int
    sections: list[dict] = field(default_factory=list)  # section, correct, total, accuracy

    @property
    def oov_ratio(self) -> float:
        return self.oov / max(self.questions, 1)


def _ok_vocab(wv: WordVectors, restrict_vocab: int | None, case_insensitive: bool):
    keys = wv.words[: len(wv.words) if restrict_vocab is None else restrict_vocab]
    norm = str.upper if case_insensitive else str
    # reversed, so the most frequent spelling wins when cases collide (as gensim)
    return {norm(k): i for i, k in reversed(list(enumerate(keys)))}, norm


def _read_lines(path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"evaluation file {str(path)!r} does not exist")
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def evaluate_analogies(
    wv: WordVectors,
    path,
    restrict_vocab: int | None = 30000,
    case_insensitive: bool = True,
    method: str = "3cosadd",
    batch: int = 512,
) -> AnalogyResult:
    """Accuracy on a questions-words.txt file (``: section`` headers, then ``a b c d`` lines).

    Args:
        wv: WordVectors sorted by decreasing frequency.
        path: the questions file.
        restrict_vocab: only the first words are answers and allowed in questions.
        case_insensitive: compare upper-cased words, as gensim.
        method: "3cosadd" (gensim's) or "3cosmul".
        batch: questions scored at once (memory: batch x restrict_vocab floats).

    Returns:
        AnalogyResult; accuracy = correct / questions answered (OOV ones skipped).
    """
    if method not in METHODS:
        raise choice_error("method", method, METHODS)
    ok, norm = _ok_vocab(wv, restrict_vocab, case_insensitive)
    unit = _unit(wv.vectors[: len(wv.words) if restrict_vocab is None else restrict_vocab])
    sections: list[dict] = []
    questions: list[tuple[int, int, int, int, int]] = []  # a, b, c, expected, section
    quads = oov = 0
    for line_no, line in enumerate(_read_lines(path)):
        if line.startswith(": "):
            sections.append({"section": line[2:].strip(), "correct": 0, "total": 0})
            continue
        if not sections:
            raise DataError(f"{path}: line {line_no + 1}: question before any ': section' header")
        parts = [norm(w) for w in line.split()]
        if len(parts) != 4:
            log.info("skipping invalid line %d of %s", line_no + 1, path)
            continue
        quads += 1
        if any(p not in ok for p in parts):
            oov += 1
            continue
        questions.append((*(ok[p] for p in parts), len(sections) - 1))
    q = np.asarray(questions, np.int64).reshape(-1, 5)
    for lo in range(0, len(q), batch):
        part = q[lo : lo + batch]
        scores = _analogy_scores(unit, part[:, 0], part[:, 1], part[:, 2], method)
        for row, (a, b, c, expected, sec) in zip(scores, part, strict=True):
            ignore = {norm(wv.words[a]), norm(wv.words[b]), norm(wv.words[c])}
            predicted = None
            # gensim takes the top 5 besides the query words and skips answers whose
            # normalised spelling is a question word
            for i in _top(row, 5, {int(a), int(b), int(c)}):
                predicted = norm(wv.words[i])
                if predicted in ok and predicted not in ignore:
                    break
            sections[sec]["total"] += 1
            sections[sec]["correct"] += int(predicted == norm(wv.words[expected]))
    for s in sections:
        s["accuracy"] = s["correct"] / s["total"] if s["total"] else 0.0
    correct = sum(s["correct"] for s in sections)
    total = sum(s["total"] for s in sections)
    return AnalogyResult(correct / total if total else 0.0, correct, total, oov, quads, sections)


@dataclass
class PairsResult:
    """Correlation of model similarities with human judgements."""

    spearman: float
    pearson: float
    pairs: int
    oov: int

    @property
    def oov_ratio(self) -> float:
        return self.oov / max(self.pairs + self.oov, 1)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), as scipy.stats.rankdata."""
    order = np.argsort(x, kind="stable")
    sx = x[order]
    ranks = np.empty(len(x))
    starts = np.flatnonzero(np.r_[True, sx[1:] != sx[:-1]])
    ends = np.r_[starts[1:], len(x)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + e + 1) / 2
    return ranks


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def spearman(x, y) -> float:
    """Spearman's rank correlation (Pearson of average ranks)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    return _pearson(_ranks(x), _ranks(y))


def evaluate_word_pairs(
    wv: WordVectors,
    path,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    delimiter: str = "\t",
) -> PairsResult:
    """Spearman correlation on a WordSim353/SimLex-style file (``word1<TAB>word2<TAB>score``).

    Lines starting with ``#`` are comments; malformed lines are skipped; pairs with a word
    outside the first ``restrict_vocab`` words are counted as OOV (gensim's semantics).

    Args:
        wv: WordVectors.
        path: the pairs file.
        restrict_vocab: words considered.
        case_insensitive: compare upper-cased words.
        delimiter: field separator.

    Returns:
        PairsResult(spearman, pearson, pairs, oov).
    """
    ok, norm = _ok_vocab(wv, restrict_vocab, case_insensitive)
    unit = _unit(wv.vectors)
    gold, model = [], []
    oov = 0
    for line_no, line in enumerate(_read_lines(path)):
        if not line or line.startswith("#"):
            continue
        try:
            a, b, sim = (norm(p) for p in line.split(delimiter))
            score = float(sim)
        except ValueError:
            log.info("skipping invalid line %d of %s", line_no + 1, path)
            continue
        if a not in ok or b not in ok:
            oov += 1
            continue
        gold.append(score)
        model.append(float(unit[ok[a]] @ unit[ok[b]]))
    if not gold:
        raise DataError(f"{path}: no word pair with both words in the vocabulary")
    g, m = np.asarray(gold), np.asarray(model)
    return PairsResult(spearman(g, m), _pearson(g, m), len(gold), oov)


def evaluate_vectors(
    wv: WordVectors,
    analogies=None,
    pairs=None,
    restrict_vocab: int | None = 30000,
    method: str = "3cosadd",
) -> dict:
    """Run the analogy and/or word-pair evaluations; a JSON-ready dict (for the CLI).

    Args:
        wv: WordVectors.
        analogies: a questions-words.txt-format file, or None.
        pairs: a WordSim353/SimLex-format file, or None.
        restrict_vocab: analogy vocabulary restriction (pairs use gensim's 300,000).
        method: analogy method.

    Returns:
        {"analogy_accuracy", "analogy_correct", "analogy_total", "analogy_oov",
        "analogy_sections", "pairs_spearman", "pairs_pearson", "pairs_count", "pairs_oov"}
        for the files given.
    """
    if analogies is None and pairs is None:
        raise ConfigError("give an analogies file, a word-pairs file, or both")
    out: dict = {}
    if analogies is not None:
        a = evaluate_analogies(wv, analogies, restrict_vocab=restrict_vocab, method=method)
        out.update(analogy_accuracy=a.accuracy, analogy_correct=a.correct,
                   analogy_total=a.total, analogy_oov=a.oov, analogy_sections=a.sections)
    if pairs is not None:
        p = evaluate_word_pairs(wv, pairs)
        out.update(pairs_spearman=p.spearman, pairs_pearson=p.pearson, pairs_count=p.pairs,
                   pairs_oov=p.oov)
    return out
