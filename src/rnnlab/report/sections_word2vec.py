"""The word2vec section: a vector file's size, the nearest neighbours of its most frequent
words, and analogy / word-pair scores when test files are given.

``rnnlab word2vec`` writes one vector file and no run folder, so the report is made of the
file itself; word2vec writes its words most frequent first, so the first rows are the
frequent words.
"""

from __future__ import annotations

import os

from rnnlab.report.html import cards, esc, section, table
from rnnlab.report.run import RunInfo

#: Frequent words whose neighbours are shown.
WORDS = 12
NEIGHBOURS = 6


def word2vec_sections(info: RunInfo, *, analogies: str | os.PathLike | None = None,
                      pairs: str | os.PathLike | None = None) -> str:
    """Vocabulary, dimensions, neighbours of frequent words and optional scores.

    Args:
        info: the vector file's ``RunInfo``.
        analogies: a questions-words.txt-format file to score, or None.
        pairs: a WordSim353/SimLex-format file to score, or None.
    """
    from rnnlab.vectors import evaluate_vectors, load_word_vectors, most_similar

    wv = load_word_vectors(info.path)
    parts = [cards([("words", len(wv)), ("dimensions", wv.dim)])]
    frequent = [w for w in wv.words[: WORDS * 3] if any(c.isalpha() for c in w)][:WORDS]
    rows = []
    for word in frequent:
        near = most_similar(wv, word, topn=NEIGHBOURS)
        rows.append([word, ("html", ", ".join(f"{esc(w)} <span class=\"muted\">{s:.2f}</span>"
                                              for w, s in near))])
    if rows:
        parts.append("<h3>Nearest neighbours of the most frequent words (cosine)</h3>"
                     + table(["word", "neighbours"], rows, numeric=False, cls="wrap"))
    if analogies is not None or pairs is not None:
        scores = evaluate_vectors(wv, analogies, pairs)
        shown = [[k, v] for k, v in scores.items() if isinstance(v, int | float)]
        parts.append("<h3>Evaluation</h3>" + table(["score", "value"], shown))
        parts.append(f'<p class="muted">{esc(", ".join(str(p) for p in (analogies, pairs) if p))}'
                     f"</p>")
    return section("Word vectors", "".join(parts), ident="vectors")

