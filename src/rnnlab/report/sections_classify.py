"""The classifier sections (classify and text runs): confusion matrix, per-class scores and
the most confident mistakes, from the validation part scored at the end of training
(``review.json``), a test file (``evaluation.json``) and what ``rnnlab evaluate`` added.
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.report.html import esc, num, section, table
from rnnlab.report.run import RunInfo
from rnnlab.report.svg import pixels_png, sparkline


def confusion_matrix(report: dict) -> str:
    """The matrix as a table, cells shaded by their share of the true class's row."""
    labels, matrix = report.get("labels") or [], report.get("confusion_matrix") or []
    if not labels or not matrix:
        return ""
    head = "".join(f"<th>{esc(label)}</th>" for label in labels)
    body = []
    for label, row in zip(labels, matrix, strict=False):
        total = max(sum(row), 1)
        cells = []
        for j, count in enumerate(row):
            share = count / total
            diagonal = labels[j] == label
            rgb = "31,111,235" if diagonal else "214,40,40"
            color = "#fff" if share > 0.55 else "inherit"
            cells.append(f'<td style="background:rgba({rgb},{share:.2f});color:{color}">'
                         f"{count}</td>")
        body.append(f"<tr><th>{esc(label)}</th>{''.join(cells)}</tr>")
    return ('<p class="muted">Rows: true label; columns: predicted.</p><div class="scroll">'
            f'<table class="cm"><thead><tr><th>true \\ pred</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def per_class(report: dict) -> str:
    """Precision, recall, F1 and support of each class."""
    rows = [[label, r["precision"], r["recall"], r["f1"], r["support"]]
            for label, r in (report.get("per_class") or {}).items()]
    if not rows:
        return ""
    return table(["label", "precision", "recall", "f1", "support"], rows)


def mistakes(review: dict) -> str:
    """The most confident misclassified examples, each with what it was."""
    items = review.get("misclassified") or []
    if not items:
        return ""
    out = []
    for m in items:
        shown = m.get("input") or {}
        if shown.get("text") is not None:
            what = f"<blockquote>{esc(shown['text'])}</blockquote>"
        elif shown.get("pixels"):
            what = f'<img src="{pixels_png(shown["pixels"])}" alt="example {m["index"]}">'
        elif shown.get("trace"):
            what = sparkline(shown["trace"])
        else:
            what = ""
        ident = f" ({esc(shown['id'])})" if shown.get("id") else ""
        out.append(f"<div>{what}<div>true <strong>{esc(m['true'])}</strong>, predicted "
                   f"<strong class=\"bad\">{esc(m['predicted'])}</strong> "
                   f"(p = {num(m['probability'])}); #{m['index']}{ident}</div></div>")
    return ("<h3>Most confident mistakes</h3>"
            f'<div class="mist">{"".join(out)}</div>')


def _scores(title: str, report: dict) -> str:
    head = []
    for key in ("accuracy", "loss", "examples"):
        if key in report:
            head.append(f"{key} <strong>{num(report[key])}</strong>")
    return (f"<h3>{esc(title)}</h3><p>{', '.join(head)}</p>" + confusion_matrix(report)
            + per_class(report))


def classifier_sections(info: RunInfo) -> str:
    """The validation part, the test file and every later evaluation of a classifier."""
    parts = []
    review = info.review
    if review.get("report"):
        split = review.get("split", "val")
        parts.append(_scores(f"{split} part, best weights, scored at the end of training",
                             review["report"]) + mistakes(review))
    if info.evaluation.get("confusion_matrix"):
        parts.append(_scores(f"test file {Path(str(info.evaluation.get('dataset', ''))).name}",
                             info.evaluation))
    for key, scores in info.evaluations.items():
        if isinstance(scores, dict) and scores.get("confusion_matrix"):
            parts.append(_scores(f"rnnlab evaluate: {key}", scores))
    return section("Classification", "".join(parts), ident="classes")
