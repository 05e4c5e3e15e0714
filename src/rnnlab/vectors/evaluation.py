"""Scoring word vectors: analogy accuracy and word-pair correlation with human judgements.

References:
    Mikolov, T., Chen, K., Corrado, G. and Dean, J. (2013). Efficient estimation of word
    representations in vector space (the questions-words.txt analogy test set).
    Finkelstein, L. et al. (2002). Placing search in context (WordSim353).
    Hill, F., Reichart, R. and Korhonen, A. (2015). SimLex-999. Computational Linguistics.

The evaluations follow gensim's ``KeyedVectors.evaluate_word_analogies`` and
``evaluate_word_pairs`` exactly: only the ``restrict_vocab`` most frequent words (the first
rows) are considered; a question with a word outside them is skipped and counted as OOV;
case-insensitive matching maps an upper-cased word to its most frequent spelling; the
answer is the best-scoring restricted word other than the three question words.

Two departures, both where gensim would report a number that means nothing: a file with
no question or pair left to score raises ``DataError`` instead of giving accuracy 0.0, and
word-pair files may separate their fields by tabs (gensim's only choice), commas or
spaces, with an optional header line::

    # comments start with '#'
    word1<TAB>word2<TAB>score       wordsim353.tsv (gensim's copy)
    Word 1,Word 2,Human (mean)      WordSim353's combined.csv: a header, then commas
    sun sunlight 50.000000          MEN: spaces
    word1<TAB>word2<TAB>POS<TAB>SimLex999<TAB>...
                                    SimLex-999.txt: the header names the score column
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError, DataNotFoundError, choice_error
from rnnlab.vectors.formats import WordVectors
from rnnlab.vectors.queries import METHODS, analogy_scores, top_indices, unit_rows

__all__ = [
    "AnalogyResult",
    "PairsResult",
    "evaluate_analogies",
    "evaluate_vectors",
    "evaluate_word_pairs",
    "read_word_pairs",
    "spearman",
]

log = logging.getLogger(__name__)
# Header names of a pairs file's score column (the first match after the two words).
_SCORE_COLUMN = re.compile(r"simlex|score|sim|mean|human|rating|gold|relat", re.IGNORECASE)
_PAIRS_FORMAT = ("one pair per line: 'word1 word2 score', separated by tabs, commas or "
                 "spaces (a header line and '#' comments allowed)")


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

    Raises:
        DataError: a question comes before any section header, or no question is left to
            answer (none in the file, or every one has a word outside the vocabulary).
    """
    if method not in METHODS:
        raise choice_error("method", method, METHODS)
    ok, norm = _ok_vocab(wv, restrict_vocab, case_insensitive)
    unit = unit_rows(wv.vectors[: len(wv.words) if restrict_vocab is None else restrict_vocab])
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
    if not questions:
        raise DataError(_no_questions(path, quads, restrict_vocab, case_insensitive))
    q = np.asarray(questions, np.int64).reshape(-1, 5)
    for lo in range(0, len(q), batch):
        part = q[lo : lo + batch]
        scores = analogy_scores(unit, part[:, 0], part[:, 1], part[:, 2], method)
        for row, (a, b, c, expected, sec) in zip(scores, part, strict=True):
            ignore = {norm(wv.words[a]), norm(wv.words[b]), norm(wv.words[c])}
            predicted = None
            # gensim takes the top 5 besides the query words and skips answers whose
            # normalised spelling is a question word
            for i in top_indices(row, 5, {int(a), int(b), int(c)}):
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


def _no_questions(path, quads: int, restrict_vocab: int | None, case_insensitive: bool) -> str:
    if quads == 0:
        return (f"{path}: no analogy question found; expected ': section' header lines, "
                "each followed by questions of four words 'a b c d'")
    vocab = "all the words" if restrict_vocab is None else f"the first {restrict_vocab} words"
    case = "ignoring case" if case_insensitive else "matching case"
    return (f"{path}: none of its {quads} questions can be scored: each has a word outside "
            f"{vocab} of the vectors ({case}); the accuracy would mean nothing")


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


def read_word_pairs(path, delimiter: str | None = None) -> list[tuple[str, str, float]]:
    """Read a WordSim353/SimLex-style file: two words and a score per line.

    The separator is found on the first line that is not blank or a ``#`` comment: a tab
    if it holds one, else a comma, else white space. That line is a header when its score
    is not a number; a header may name the score column (``SimLex999``, ``Human (mean)``,
    ``score``...), else the score is the third field. Later lines that do not hold two
    words and a number there are skipped, as gensim does, and logged.

    Args:
        path: the pairs file (UTF-8).
        delimiter: the field separator; None finds it as above.

    Returns:
        ``[(word1, word2, score)]`` in file order.

    Raises:
        DataNotFoundError: no such file.
        DataError: no line of the file is a pair; names the file, the first line that is
            not one, and the format wanted.
    """
    pairs: list[tuple[str, str, float]] = []
    column, split, first_bad = 2, None, None
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if split is None:
            split = _splitter(line if delimiter is None else delimiter)
            column, header = _header(split(line))
            if header:
                continue
        fields = split(line)
        try:
            a, b, score = fields[0], fields[1], float(fields[column])
        except (IndexError, ValueError):
            first_bad = first_bad or (line_no, line)
            log.info("skipping invalid line %d of %s", line_no, path)
            continue
        pairs.append((a, b, score))
    if not pairs:
        where = f"line {first_bad[0]}: {first_bad[1][:80]!r}" if first_bad else "no data lines"
        raise DataError(f"{path}: {where}: expected {_PAIRS_FORMAT}")
    return pairs


def _splitter(sample: str):
    """A function splitting a line into stripped fields, by the separator ``sample`` uses."""
    if "\t" in sample:
        sep = "\t"
    elif "," in sample:
        sep = ","
    else:
        return str.split
    return lambda line: [f.strip() for f in line.split(sep)]


def _header(fields: list[str]) -> tuple[int, bool]:
    """``(score column, is a header)`` from the first data line's fields."""
    try:
        float(fields[2])
        return 2, False
    except (IndexError, ValueError):
        pass
    names = [i for i, name in enumerate(fields[2:], start=2) if _SCORE_COLUMN.search(name)]
    # Three or more fields with no number where the score goes: a header. Fewer: a bad line.
    return (names[0] if names else 2), len(fields) >= 3


def evaluate_word_pairs(
    wv: WordVectors,
    path,
    restrict_vocab: int | None = 300000,
    case_insensitive: bool = True,
    delimiter: str | None = None,
) -> PairsResult:
    """Spearman correlation on a WordSim353/SimLex-style file (``word1<TAB>word2<TAB>score``).

    Tabs, commas or spaces separate the fields, and a header line may come first (see
    :func:`read_word_pairs`); lines starting with ``#`` are comments; malformed lines are
    skipped; pairs with a word outside the first ``restrict_vocab`` words are counted as
    OOV (gensim's semantics).

    Args:
        wv: WordVectors.
        path: the pairs file.
        restrict_vocab: words considered.
        case_insensitive: compare upper-cased words.
        delimiter: field separator; None (the default) finds it from the file.

    Returns:
        PairsResult(spearman, pearson, pairs, oov).

    Raises:
        DataError: no line is a pair (the message says which format is wanted), or no
            pair has both words in the vocabulary.

    Example:
        >>> evaluate_word_pairs(wv, "wordsim353.tsv").spearman  # doctest: +SKIP
        0.66
    """
    ok, norm = _ok_vocab(wv, restrict_vocab, case_insensitive)
    unit = unit_rows(wv.vectors)
    gold, model = [], []
    oov = 0
    for a, b, score in read_word_pairs(path, delimiter):
        a, b = norm(a), norm(b)
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
