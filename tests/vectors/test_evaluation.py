"""Evaluation files as people have them: pair files in three separators, empty analogies."""

from __future__ import annotations

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.vectors import (
    WordVectors,
    evaluate_analogies,
    evaluate_word_pairs,
    read_word_pairs,
    similarity,
    spearman,
)

PAIRS = [("king", "queen", 8.0), ("man", "woman", 5.0), ("king", "apple", 1.0),
         ("prince", "king", 9.5)]


def _royal() -> WordVectors:
    words = ("man", "woman", "king", "queen", "apple", "prince")
    vectors = np.array([
        [0.0, 1.0, 0.0, 0.1],
        [0.0, -1.0, 0.0, 0.1],
        [1.0, 1.0, 0.0, 0.0],
        [1.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.8, 1.0, 0.1, 0.3],
    ], np.float32)  # fmt: skip
    return WordVectors(words, vectors)


def _rows(sep: str) -> str:
    return "".join(f"{a}{sep}{b}{sep}{s}\n" for a, b, s in PAIRS)


@pytest.mark.parametrize("text", [
    _rows("\t"),  # gensim's wordsim353.tsv
    "# WordSim353\n" + _rows("\t"),
    "Word 1,Word 2,Human (mean)\n" + _rows(","),  # WordSim353's combined.csv
    _rows(","),
    _rows(" "),  # MEN
    "word1 word2 score\n" + _rows("   "),
], ids=["tab", "tab-comment", "csv-header", "csv", "space", "space-header"])
def test_pair_files_with_any_separator_give_the_same_result(tmp_path, text):
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    assert read_word_pairs(path) == PAIRS
    r = evaluate_word_pairs(_royal(), path)
    want = spearman([s for *_, s in PAIRS], [similarity(_royal(), a, b) for a, b, _ in PAIRS])
    assert (r.pairs, r.oov) == (4, 0)
    assert r.spearman == pytest.approx(want)


def test_simlex_header_names_the_score_column(tmp_path):
    path = tmp_path / "SimLex-999.txt"
    rows = [f"{a}\t{b}\tN\t{s}\t4.5\t4.6\t2\t0.1\t1\t0.4\n" for a, b, s in PAIRS]
    path.write_text("word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)"
                    "\tSimAssoc333\tSD(SimLex)\n" + "".join(rows), encoding="utf-8")
    assert read_word_pairs(path) == PAIRS


@pytest.mark.parametrize("text, line", [
    ("king;queen;8.0\nman;woman;5.0\n", 1),
    ("# only a comment\nking queen\nman woman\n", 2),
    ("word1\tword2\tscore\nking\tqueen\thigh\n", 2),
])
def test_pair_file_in_no_known_format_says_which_it_wants(tmp_path, text, line):
    path = tmp_path / "pairs.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=rf"pairs.txt: line {line}: .*'word1 word2 score', "
                                        r"separated by tabs, commas or spaces"):
        evaluate_word_pairs(_royal(), path)


def test_empty_pair_file_says_which_format_it_wants(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("# nothing here\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no data lines: expected one pair per line"):
        evaluate_word_pairs(_royal(), path)


def test_analogy_file_without_questions_is_an_error_not_accuracy_zero(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": capitals\n: family\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"q\.txt: no analogy question found"):
        evaluate_analogies(_royal(), path)


def test_analogy_file_with_every_word_unknown_is_an_error(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": capitals\nathens greece baghdad iraq\nbern switzerland oslo norway\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"none of its 2 questions can be scored.*first 30000"):
        evaluate_analogies(_royal(), path)
    with pytest.raises(DataError, match=r"none of its 2 questions.*all the words"):
        evaluate_analogies(_royal(), path, restrict_vocab=None)


def test_one_answerable_question_still_scores(tmp_path):
    path = tmp_path / "q.txt"
    path.write_text(": mixed\nathens greece baghdad iraq\nman king woman queen\n",
                    encoding="utf-8")
    r = evaluate_analogies(_royal(), path)
    assert (r.accuracy, r.total, r.oov) == (1.0, 1, 1)
