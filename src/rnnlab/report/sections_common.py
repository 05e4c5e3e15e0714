"""The sections every run's report has: overview, final metrics, curves, data, settings, time.

Each function takes a :class:`~rnnlab.report.run.RunInfo` and returns an HTML fragment
("" when the run has nothing to show for it). The final metrics are printed with 4
decimals and tagged ``data-metric="NAME"`` so a test can read them back.
"""

from __future__ import annotations

import json
import shlex

from rnnlab.report import run as runinfo
from rnnlab.report.card import licences, reproduce_command
from rnnlab.report.html import cards, esc, figure, img, num, seconds, section, table
from rnnlab.report.run import RunInfo
from rnnlab.report.svg import Series, bar_chart, line_chart

#: Columns of metrics.csv that are not curves.
NOT_CURVES = ("epoch", "step", "seconds", "lr")


def overview(info: RunInfo) -> str:
    """Status, task, data, model, key metric, epochs and wall time as cards."""
    key, value = runinfo.key_metric(info)
    status = runinfo.status(info)
    klass = {"finished": "good", "failed": "bad", "interrupted": "bad"}.get(status, "")
    items = [("task", info.kind), ("data", runinfo.dataset(info)),
             ("model", runinfo.model(info)), (key, value),
             ("epochs", runinfo.epochs(info)), ("time", seconds(runinfo.seconds(info)))]
    head = (f'<p>Status: <strong class="{klass}" data-status="{esc(status)}">{esc(status)}'
            f'</strong> &middot; folder <code>{esc(info.path)}</code></p>')
    return head + cards(items)


def final_metrics(info: RunInfo) -> str:
    """The final epoch's row (metrics.json), best epoch and how training ended."""
    final = {k: v for k, v in info.final.items()
             if isinstance(v, int | float) and k not in ("epoch", "step", "seconds")}
    if not final:
        return ""
    body = cards(final.items(), key_attr="data-metric")
    s = info.summary
    facts = []
    if s.get("monitor") and s.get("best") is not None:
        facts.append(f"best {esc(s['monitor'])} = {num(s['best'])} at epoch "
                     f"{esc(s.get('best_epoch'))}")
    if s.get("steps") is not None:
        facts.append(f"{esc(s['steps'])} optimizer steps")
    if s.get("stopped_early"):
        facts.append("stopped early (patience)")
    if facts:
        body += f'<p class="muted">{"; ".join(facts)}.</p>'
    return section("Final metrics", body, ident="metrics")


def curves(info: RunInfo) -> str:
    """Loss and each metric per epoch (training and validation overlaid), as SVG."""
    rows = info.rows
    if len(rows) < 2:  # one row is a dot: fit's (or the task's) picture says more
        picture = img(info.file("curves.png"), "training curves")
        return section("Training curves", picture and f'<div class="half">{picture}</div>',
                       ident="curves")
    x = [r.get("epoch") for r in rows]
    names = [k for k in rows[0] if k not in NOT_CURVES and not k.startswith("val_")]
    charts = []
    for name in names:
        series = [Series(name, x, [r.get(name) for r in rows])]
        if f"val_{name}" in rows[0]:
            series.append(Series(f"val_{name}", x, [r.get(f"val_{name}") for r in rows],
                                 dashed=True))
        charts.append(figure(line_chart(series, x_label="epoch", title=name)))
    if "lr" in rows[0] and len({r.get("lr") for r in rows}) > 1:
        charts.append(figure(line_chart([Series("lr", x, [r.get("lr") for r in rows])],
                                        x_label="epoch", title="learning rate")))
    return section("Training curves", f'<div class="grid">{"".join(charts)}</div>',
                   ident="curves")


def data_summary(info: RunInfo) -> str:
    """Sizes, label counts, the lengths histogram and vocabulary coverage."""
    data = dict(info.config.get("data") or {})
    data.update(info.review.get("data") or {})
    parts = []
    sizes = [(k.replace("_", " "), data[k]) for k in
             ("train_size", "val_size", "examples", "steps", "features") if k in data]
    windows = data.get("windows")
    if isinstance(windows, dict):
        sizes += [(f"{k} windows", v) for k, v in windows.items()]
    if sizes:
        parts.append(cards(sizes))
    counts = data.get("label_counts")
    if counts:
        labels = list(next(iter(counts.values())))
        rows = [[label, *[counts[s].get(label, 0) for s in counts]] for label in labels]
        parts.append("<h3>Label counts</h3>" + table(["label", *counts], rows))
    lengths = data.get("lengths")
    if lengths and lengths.get("counts"):
        unit = data.get("length_unit", "steps")
        parts.append(f"<h3>Lengths ({esc(unit)})</h3><p class=\"muted\">min "
                     f"{lengths['min']}, mean {lengths['mean']:.1f}, max {lengths['max']}"
                     '</p><div class="half">' + figure(bar_chart(
                         lengths["edges"], lengths["counts"], x_label=f"length in {unit}",
                         integer=True))
                     + "</div>")
    coverage = data.get("coverage")
    if coverage:
        parts.append(f"<h3>Vocabulary coverage</h3><p>{coverage['share'] * 100:.1f}% of the "
                     f"validation texts' {coverage['tokens']} tokens are in the kept "
                     f"vocabulary (num_words {esc(coverage.get('num_words') or 'all')}; "
                     f"{coverage['vocabulary']} words seen in training).</p>")
    embedding = _json_file(info, "coverage.json")
    if embedding:
        rows = [[k, v] for k, v in embedding.items() if isinstance(v, int | float)]
        parts.append("<h3>Pre-trained vectors</h3>" + table(["", "value"], rows))
    parts.append("<h3>Licence</h3><ul>" + "".join(f"<li>{esc(line)}</li>"
                                                  for line in licences(info)) + "</ul>")
    return section("Data", "".join(parts), ident="data")


def _json_file(info: RunInfo, name: str) -> dict:
    path = info.file(name)
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def settings(info: RunInfo) -> str:
    """The command that reproduces the run, the command as typed, and the whole config."""
    parts = []
    command = reproduce_command(info)
    if command:
        parts.append(f"<h3>Reproduce</h3><pre>{esc(command)}</pre>")
    sessions = info.log.get("sessions") or []
    typed = [s["command"] for s in sessions if s.get("command")]
    if typed:
        parts.append("<h3>Commands as typed</h3><pre>" + "\n".join(
            esc(shlex.join(c)) for c in typed) + "</pre>")
    if info.task_config:
        rows = [[part, key, _show(value)] for part, values in info.task_config.items()
                if isinstance(values, dict) for key, value in values.items()]
        parts.append(f"<details><summary>The whole config ({len(rows)} settings)</summary>"
                     + table(["part", "setting", "value"], rows, numeric=False)
                     + "</details>")
    return section("Command and settings", "".join(parts), ident="settings")


def _show(value) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def _mb(value) -> str:
    return "-" if value is None else f"{float(value):,.0f}"


def timing(info: RunInfo) -> str:
    """Wall time and peak memory per session (each command that trained into the run)."""
    sessions = info.log.get("sessions") or []
    rows = [[i + 1, "resume" if s.get("resumed") else "start", s.get("status", "-"),
             seconds(s.get("seconds")), _mb(s.get("peak_rss_mb")), _mb(s.get("peak_cuda_mb"))]
            for i, s in enumerate(sessions)]
    per_epoch = [r["seconds"] for r in info.rows if isinstance(r.get("seconds"), int | float)]
    body = ""
    if rows:
        body += table(["session", "kind", "status", "time", "peak RSS MB", "peak CUDA MB"],
                      rows, numeric=False)
    if per_epoch:
        body += (f'<p class="muted">{len(per_epoch)} epoch(s): {sum(per_epoch):.1f} s in '
                 f"epochs, {sum(per_epoch) / len(per_epoch):.2f} s per epoch on average.</p>")
    versions = info.log.get("versions") or {}
    if versions:
        body += '<p class="muted">' + ", ".join(f"{esc(k)} {esc(v)}"
                                                for k, v in versions.items()) + "</p>"
    return section("Time and memory", body, ident="time")
