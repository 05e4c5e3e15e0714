"""Asking word vectors: cosine similarity, nearest neighbours and analogies.

References:
    Mikolov, T., Chen, K., Corrado, G. and Dean, J. (2013). Efficient estimation of word
    representations in vector space (3CosAdd).
    Levy, O. and Goldberg, Y. (2014). Linguistic regularities in sparse and explicit word
    representations. CoNLL (3CosMul).

Scores follow gensim's ``KeyedVectors.most_similar`` and ``most_similar_cosmul``: unit
vectors, the query words excluded from the answers, ties broken by row (frequency) order.
A word missing from the vectors raises ``ConfigError``, and says so when the word is
there in another case (``'Paris' is not in the vectors; 'paris' is``).
"""

from __future__ import annotations

import numpy as np

from rnnlab.errors import ConfigError, choice_error
from rnnlab.vectors.formats import WordVectors

__all__ = ["METHODS", "analogy", "most_similar", "similarity"]

METHODS = ("3cosadd", "3cosmul")


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (zero rows stay zero), float32."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)


def _lookup(wv: WordVectors, index: dict[str, int], word: str) -> int:
    try:
        return index[word]
    except KeyError:
        raise ConfigError(_missing_word(wv, word)) from None


def _missing_word(wv: WordVectors, word: str) -> str:
    """Why ``word`` cannot be looked up, naming its spelling in another case if any."""
    folded = word.casefold()
    # Rows run most frequent first, so the first match is the spelling a user most likely meant.
    other = next((w for w in wv.words if w.casefold() == folded), None)
    if other is not None:
        return f"{word!r} is not in the vectors; {other!r} is"
    return f"word {word!r} is not in the vectors ({len(wv)} words)"


def top_indices(scores: np.ndarray, topn: int, exclude) -> list[int]:
    """Indices of the topn largest scores, best first, skipping exclude."""
    k = min(len(scores), topn + len(exclude))
    best = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    best = best[np.lexsort((best, -scores[best]))]
    return [int(i) for i in best if int(i) not in exclude][:topn]


def similarity(wv: WordVectors, a: str, b: str) -> float:
    """Cosine similarity of two words."""
    index = wv.index()
    u, v = unit_rows(wv.vectors[[_lookup(wv, index, a), _lookup(wv, index, b)]])
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
    unit = unit_rows(wv.vectors)
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
    mean = unit_rows(np.mean(terms, axis=0))
    limit = len(unit) if restrict_vocab is None else restrict_vocab
    scores = unit[:limit] @ mean
    return [(wv.words[i], float(scores[i])) for i in top_indices(scores, topn, exclude)]


def analogy_scores(unit: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray, method: str):
    """Scores (Q, R) of every candidate for questions a:b :: c:? (indices (Q,))."""
    if method == "3cosadd":
        query = unit_rows(unit[b] + unit[c] - unit[a])  # gensim's mean of +b, +c, -a, normalised
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
    scores = analogy_scores(unit_rows(wv.vectors), *ids, method)[0]
    exclude = {int(i[0]) for i in ids}
    return [(wv.words[i], float(scores[i])) for i in top_indices(scores, topn, exclude)]
